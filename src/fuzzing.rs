//! Entry points for the fuzz targets in `fuzz/` (and the corpus replay in `tests/fuzz_corpus.rs`):
//! each feeds outside data to the parser that meets it in production, and checks what must hold of
//! the result. Not part of the supported API.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::jobs::upload::{Resumed, UploadData};
use crate::journal::{self, Journal};
use crate::protocol::url_policy::{check_url, resolve_location, same_origin, UploadHosts, DEFAULT_UPLOAD_HOSTS};
use crate::protocol::{describe_error_body, ClipPage, GameClip, InitialUploadResponse};
use crate::transport::{parse_retry_after, MAX_RETRY_AFTER};

/// The service's JSON answers: the initial call's, a GameClip, a page of them, an error body.
pub fn service_json(data: &[u8]) {
    if let Ok(created) = serde_json::from_slice::<InitialUploadResponse>(data) {
        let upload_id = created.upload_id();
        let url = created.block_url(&upload_id, 7);
        assert!(url.ends_with("&blockNum=7"), "{url}");
    }
    if let Ok(clip) = GameClip::from_get_response(data) {
        assert!(!clip.game_clip_id.is_empty());
        // The normalised form callers get is itself readable, and reads back the same.
        let again = GameClip::from_get_response(clip.to_json().as_bytes()).expect("the normalised clip re-reads");
        assert_eq!(again, clip);
        let _ = clip.download_uri();
    }
    if let Ok(page) = ClipPage::from_wire(data) {
        let again = ClipPage::from_wire(page.to_json().as_bytes()).expect("the normalised page re-reads");
        assert_eq!(again, page);
    }
    let described = describe_error_body(data);
    assert!(described.len() <= data.len() * 6 + 64, "an error description is bounded by its body");
}

/// `Retry-After` values, in seconds or as an HTTP date.
pub fn retry_after(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    for now in [UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(1_800_000_000), SystemTime::now()] {
        if let Some(wait) = parse_retry_after(&value, now) {
            assert!(wait <= MAX_RETRY_AFTER, "{value:?} waits {wait:?}");
        }
    }
}

/// Upload URIs handed out by the service, redirect Locations resolved against them, and the
/// upload-host allow-list: lines of `data` are the upload URI, a Location, and an allow-list.
pub fn upload_uri(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let (uri, location, list) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let metadata = "https://gameclipsmetadata.xboxlive.com";
    let hosts = UploadHosts::new(metadata, list)
        .unwrap_or_else(|_| UploadHosts::new(metadata, DEFAULT_UPLOAD_HOSTS).expect("the default list parses"));
    let allowed = hosts.allows(uri);
    if check_url(uri, false).is_ok() {
        let response: InitialUploadResponse =
            serde_json::from_value(serde_json::json!({ "gameClipId": "c", "uploadUri": uri })).expect("two strings");
        let block = response.block_url(&response.upload_id(), 3);
        // A block's URL is as usable as its upload URI, and keeps its scheme and host, so the
        // allow-list's verdict holds for it.
        assert!(check_url(&block, false).is_ok(), "{uri:?} -> {block:?}");
        assert_eq!(hosts.allows(&block), allowed, "{uri:?} -> {block:?}");
        assert!(same_origin(&block, uri) || block.parse::<http::Uri>().is_err(), "{uri:?} -> {block:?}");
        if let Some(target) = resolve_location(uri, location) {
            let _ = hosts.allows(&target);
            let _ = check_url(&target, false);
        }
    }
}

/// A journal file: torn, corrupt or tampered, it is read without panicking, and what it yields (if
/// anything) is an upload the engine can take up. `data` is the file as is; then, split at newlines,
/// each piece is also given a valid checksum so the record parser sees it.
pub fn journal_file(data: &[u8]) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("gameclips-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        drop(Journal::create(&dir, "fuzz"));
        dir
    });
    let checksummed: Vec<u8> = data
        .split(|&b| b == b'\n')
        .flat_map(|json| {
            let mut line = json.to_vec();
            line.extend_from_slice(format!("\t{:016x}\n", journal::fnv1a(json)).as_bytes());
            line
        })
        .collect();
    for bytes in [data, &checksummed[..]] {
        let records = journal::parse(bytes);
        let journal = Journal::reopen(&dir.join(format!("fuzz.{}", journal::EXTENSION))).expect("the fuzz journal");
        if let Some(resumed) = Resumed::from_records(journal, records) {
            assert!((crate::protocol::MIN_BLOCK_SIZE..=crate::protocol::MAX_BLOCK_SIZE).contains(&resumed.block_size));
            let (UploadData::File { size, .. } | UploadData::Push { size }) = resumed.data;
            assert!(size > 0 && size <= crate::protocol::MAX_FILE_SIZE);
            let blocks = crate::jobs::upload::Layout::new(size, resumed.block_size).blocks;
            assert!(resumed.acked.iter().all(|&block| block < blocks));
        }
    }
}
