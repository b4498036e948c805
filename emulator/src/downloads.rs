//! What the service serves as files: a clip's bytes (with `Range`) and its thumbnails.

// Handlers answer early with `Err(response)`, as in `api`.
#![allow(clippy::result_large_err)]

use std::fs::File;
use std::io::Read;

use bytes::Bytes;
use hyper::header::{HeaderValue, ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};

use crate::body::ResponseBody;
use crate::render::clip_state;
use crate::response::{error, not_found, HttpResponse};
use crate::shared::Shared;

/// Download chunks streamed from disk.
const DOWNLOAD_CHUNK: usize = 256 * 1024;

pub fn get_thumbnail(shared: &Shared, clip_id: &str, kind: &str) -> Result<HttpResponse, HttpResponse> {
    let thumbnail = shared
        .store
        .thumbnails(clip_id)
        .into_iter()
        .find(|t| t.kind == kind)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such thumbnail"))?;
    let image = std::fs::read(shared.store.thumbnail_path(clip_id, kind)).map_err(|_| not_found())?;
    let mut response = Response::new(ResponseBody::whole(image));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&thumbnail.content_type).unwrap_or(HeaderValue::from_static("image/jpeg")),
    );
    Ok(response)
}

/// The byte range a `Range` header asks for within `size` bytes: `None` for the whole file, `Err` when
/// it cannot be satisfied (one range of the `bytes` unit is supported; anything else is refused too,
/// so a client's mistake shows instead of silently getting the whole file).
fn requested_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(header) = header else { return Ok(None) };
    let spec = header.trim().strip_prefix("bytes=").ok_or(())?;
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().map_err(|_| ())?;
            if suffix == 0 {
                return Err(());
            }
            (size.saturating_sub(suffix), size.checked_sub(1).ok_or(())?)
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.checked_sub(1).ok_or(())?),
        (start, end) => {
            (start.parse().map_err(|_| ())?, end.parse::<u64>().map_err(|_| ())?.min(size.saturating_sub(1)))
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// GameClipUri downloads: capability URIs, so no Authorization is needed; only Published clips, and
/// never flagged ones.
pub fn download(shared: &Shared, parts: &Parts, clip_id: &str) -> Result<HttpResponse, HttpResponse> {
    let clip = shared.store.clip(clip_id).ok_or_else(not_found)?;
    if clip_state(shared, &clip) != "Published" || shared.store.social(clip_id).flagged {
        return Err(error(StatusCode::NOT_FOUND, "no published clip with this id"));
    }
    let size = clip.meta.file_size;
    let range_header = parts.headers.get(RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match requested_range(range_header, size) {
        Ok(None) => (StatusCode::OK, 0, size - 1),
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Err(()) => {
            let mut response = error(StatusCode::RANGE_NOT_SATISFIABLE, "the requested range is not satisfiable");
            response
                .headers_mut()
                .insert(CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii header"));
            return Err(response);
        }
    };
    let mut file = File::open(shared.store.blob_path(clip_id)).map_err(|_| not_found())?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start))
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let len = end - start + 1;
    let (sender, chunks) = tokio::sync::mpsc::channel(4);
    // The handler runs on the blocking pool, inside the runtime: the reader gets a blocking thread of its own.
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        let mut buf = vec![0u8; DOWNLOAD_CHUNK];
        while left > 0 {
            let want = (left as usize).min(buf.len());
            let chunk = file.read_exact(&mut buf[..want]).map(|()| Bytes::copy_from_slice(&buf[..want]));
            let failed = chunk.is_err();
            if sender.blocking_send(chunk).is_err() || failed {
                return; // the client went away, or the file could not be read
            }
            left -= want as u64;
        }
    });
    let mut response = Response::new(ResponseBody::Streamed { chunks, len: Some(len) });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{end}/{size}");
        headers.insert(CONTENT_RANGE, HeaderValue::from_str(&range).expect("ascii header"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_and_bad_ones_refused() {
        assert_eq!(requested_range(None, 100), Ok(None));
        assert_eq!(requested_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(requested_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(requested_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(requested_range(Some("bytes=50-500"), 100), Ok(Some((50, 99))));
        for bad in ["bytes=100-", "bytes=9-3", "bytes=-0", "items=0-1", "bytes=a-b", "bytes=0-1,5-6"] {
            assert_eq!(requested_range(Some(bad), 100), Err(()), "{bad}");
        }
    }
}
