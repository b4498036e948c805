//! The requests of an upload: the initial call, the check after a restart, blocks and thumbnails, the
//! commit check when no 201 came, and the removal of what a lost answer left behind. Each is built from
//! the piece the upload handed out, sent, and what became of it handed back to [`Upload::settle`].

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Attempt, Engine};
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::upload::{BlockPiece, OpenedFile, Piece, ThumbnailPiece, Upload, UploadData};
use crate::jobs::Reply;
use crate::log::LogLevel;
use crate::pacing::host_health::Ticket;
use crate::protocol::url_policy::resolve_location;
use crate::protocol::{image_media_type, percent_encode, MAX_FILE_SIZE, MAX_THUMBNAIL_BYTES};
use crate::transport::{Body, Method, Outcome, Pacing, Purpose, Request};

/// Redirects followed for one request before giving up.
const MAX_REDIRECTS: usize = 5;

/// Reads a thumbnail image and names its media type.
fn read_thumbnail(thumbnail: &ThumbnailPiece) -> Result<(Vec<u8>, &'static str)> {
    let path = thumbnail.path.display();
    let io_error = |e: std::io::Error| {
        Error::new(ErrorKind::Io, format!("reading the {} thumbnail {path}: {e}", thumbnail.kind.name()))
    };
    let mut image = Vec::new();
    File::open(&thumbnail.path)
        .map_err(io_error)?
        .take(MAX_THUMBNAIL_BYTES + 1)
        .read_to_end(&mut image)
        .map_err(io_error)?;
    if image.len() as u64 > MAX_THUMBNAIL_BYTES {
        return Err(Error::invalid(format!("the thumbnail {path} is over {MAX_THUMBNAIL_BYTES} bytes")));
    }
    let media_type = image_media_type(&image)
        .ok_or_else(|| Error::invalid(format!("the thumbnail {path} is not a JPEG or PNG image")))?;
    Ok((image, media_type))
}

impl Engine {
    /// One piece of an upload, from request to decision.
    pub(super) fn run_upload(&self, upload: &Upload, piece: Piece, ticket: Option<Ticket>) {
        let (_in_flight, mark) = self.start_request();
        let body_sent = AtomicU64::new(0);
        let pacing = Pacing { deadline: ticket.as_ref().and_then(Ticket::deadline), body_sent: Some(&body_sent) };
        let attempt = self.send_piece(upload, &piece, pacing);
        match self.reply_to(attempt, mark, ticket, body_sent.load(Ordering::Relaxed)) {
            Some(reply) => upload.settle(piece, reply, Instant::now(), self.sinks()),
            None => upload.put_back(piece, self.sinks()),
        }
    }

    /// Sends the piece's request. Local failures (the clip file, a thumbnail image) come back as such,
    /// before any request. A block's request has the `pacing` its host's link gives it.
    fn send_piece(&self, upload: &Upload, piece: &Piece, pacing: Pacing<'_>) -> Attempt {
        let prepared = match piece {
            Piece::Create | Piece::CheckResumed => self.prepare_clip_file(upload),
            _ => Ok(()),
        };
        if let Err(error) = prepared {
            return Attempt::Unsent(Reply::Local(error));
        }
        if let Piece::Block(block) = piece {
            if !self.throttle(block.len) {
                return Attempt::PutBack;
            }
        }
        let Some(authorization) = self.current_authorization() else {
            return Attempt::Unsent(Reply::NoToken);
        };
        let ended = || upload.has_ended();
        Attempt::Sent(match piece {
            Piece::Block(block) => match block_body(block) {
                Ok(body) => {
                    let url = block.clip.response.block_url(&block.clip.upload_id, block.num);
                    self.send_upload(&url, &authorization, body, &ended, pacing)
                }
                Err(error) => return Attempt::Unsent(Reply::Local(error)),
            },
            Piece::Thumbnail(thumbnail) => match read_thumbnail(thumbnail) {
                Ok((image, media_type)) => {
                    let image = Body::Image(&image, media_type);
                    self.send_upload(&thumbnail.url, &authorization, image, &ended, Pacing::default())
                }
                Err(error) => return Attempt::Unsent(Reply::Local(error)),
            },
            _ => self.send_to_metadata_host(upload, piece, &authorization, &ended),
        })
    }

    /// The pieces that go to the metadata host: the initial call, the clip's checks, the orphan search.
    fn send_to_metadata_host(
        &self,
        upload: &Upload,
        piece: &Piece,
        authorization: &str,
        ended: &dyn Fn() -> bool,
    ) -> Outcome {
        let base = &self.config.metadata_base_url;
        let scid = &upload.scid;
        let request = |method, purpose, url: &str, body| {
            self.transport.send(Request {
                method,
                purpose,
                url,
                authorization: Some(authorization),
                body,
                stop: Some(ended),
                pacing: Pacing::default(),
            })
        };
        match piece {
            Piece::Create => {
                let body = self.initial_call_body(upload);
                let url = format!("{base}/users/me/scids/{scid}/clips");
                request(Method::Post, Purpose::CreateClip, &url, Body::Json(&body))
            }
            Piece::FindOrphans(page) => {
                let mut url = format!("{base}/users/me/scids/{scid}/clips?maxItems=100");
                if let Some(token) = page {
                    url.push_str(&format!("&continuationToken={}", percent_encode(token)));
                }
                self.get(&url, authorization, ended)
            }
            Piece::RemoveOrphan(clip_id) => {
                let url = format!("{base}/users/me/scids/{scid}/clips/{clip_id}");
                request(Method::Delete, Purpose::Other, &url, Body::Empty)
            }
            Piece::CheckResumed | Piece::ConfirmCommit => {
                let clip_id = upload.clip_id().expect("a created clip is checked");
                self.get(&format!("{base}/users/me/scids/{scid}/clips/{clip_id}"), authorization, ended)
            }
            Piece::Block(_) | Piece::Thumbnail(_) => unreachable!("sent to the upload host"),
        }
    }

    /// The initial call's body: the request with the layout's size and block count.
    fn initial_call_body(&self, upload: &Upload) -> Vec<u8> {
        let layout = upload.layout().expect("a push upload, or an opened file, has a layout");
        let mut request = upload.request.clone();
        request.file_size = layout.file_size as u32;
        request.expected_blocks = layout.blocks;
        request.to_wire()
    }

    /// File mode: opens the clip file the first time (a new upload takes its layout from it; a resumed
    /// one checks it is the file it began with). Then a new upload's journal is started.
    fn prepare_clip_file(&self, upload: &Upload) -> Result<()> {
        if let (UploadData::File { path, size }, None) = (&upload.data, upload.opened_file()) {
            let file = open_clip_file(path, *size)?;
            if let Some(expected) = upload.expected_identity() {
                if &file.identity(upload.block_size())? != expected {
                    let message = format!(
                        "{} changed since the upload began (size, time or content): not resumed",
                        path.display()
                    );
                    return Err(Error::new(ErrorKind::Io, message));
                }
            }
            upload.file_opened(file);
        }
        if upload.journal().is_none() {
            self.start_journal(upload);
        }
        Ok(())
    }

    /// A block or thumbnail PUT to a URL checked where it entered (the service's answer, the journal).
    /// Redirects (301, 302, 307, 308) are followed with the body sent again, each Location checked as it
    /// enters: an allowed upload host over https (see [`crate::protocol::url_policy::UploadHosts::check`]), as
    /// the Authorization value goes nowhere else; anything else is refused with a message naming it.
    fn send_upload(
        &self,
        url: &str,
        authorization: &str,
        body: Body,
        stop: &dyn Fn() -> bool,
        pacing: Pacing<'_>,
    ) -> Outcome {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let put = Request {
                method: Method::Put,
                purpose: Purpose::Other,
                url: &url,
                authorization: Some(authorization),
                body,
                stop: Some(stop),
                pacing,
            };
            match self.transport.send(put) {
                Outcome::Answered { status: status @ (301 | 302 | 307 | 308), location: Some(location), .. } => {
                    let Some(target) = resolve_location(&url, &location) else {
                        let message = format!("HTTP {status} to an unusable Location {location:?}");
                        return Outcome::Transport { reached_service: true, message };
                    };
                    if let Err(error) = self.config.upload_hosts.check(&target, self.config.allow_insecure_http) {
                        let message = format!("HTTP {status} redirect not followed: {}", error.message);
                        return Outcome::Refused { kind: ErrorKind::Http, message };
                    }
                    self.log.log(LogLevel::Debug, || format!("HTTP {status}: following the redirect"));
                    url = target;
                }
                other => return other,
            }
        }
        let message = format!("more than {MAX_REDIRECTS} redirects");
        Outcome::Transport { reached_service: true, message }
    }

    /// Waits out the bandwidth limit in short slices, so a stop is never held up by it. Whether the
    /// request may start now: false when the client is stopping or paused (a pause while waiting
    /// included); the caller puts its work back, and the bytes charged are given back.
    fn throttle(&self, bytes: usize) -> bool {
        let deadline = Instant::now() + self.bandwidth.charge(bytes);
        loop {
            if self.is_stopping() || self.is_paused() {
                self.bandwidth.refund(bytes);
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }
}

/// A block's body: the pushed copy, or (file mode) the file's bytes streamed into the transport, with
/// no block-sized copy, once the file is checked unchanged.
fn block_body(block: &BlockPiece) -> Result<Body<'_>> {
    match (&block.data, &block.file) {
        (Some(pushed), _) => Ok(Body::Octets(pushed.bytes())),
        (None, Some(file)) => {
            file.check_unchanged()?;
            Ok(Body::FileRange { file: &file.file, offset: block.offset, len: block.len as u64 })
        }
        (None, None) => Err(Error::new(ErrorKind::Internal, "a block without data")),
    }
}

/// Opens a clip file and checks its size (against `size` when given).
fn open_clip_file(path: &Path, size: u64) -> Result<OpenedFile> {
    let file = OpenedFile::open(path)?;
    if size != 0 && file.size != size {
        return Err(Error::invalid(format!("file_size is {size} but {} is {} bytes", path.display(), file.size)));
    }
    if file.size == 0 || file.size >= MAX_FILE_SIZE {
        return Err(Error::invalid(format!(
            "{} is {} bytes; a clip must be 1 byte to 4 GiB - 1",
            path.display(),
            file.size
        )));
    }
    Ok(file)
}
