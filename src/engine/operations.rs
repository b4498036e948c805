//! The requests of clip operations: one call to the metadata host, or a download (the clip, then its
//! file, streamed to `destination.part` and resumed with a Range request after a failed attempt).

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Attempt, Engine};
use crate::error::{Error, ErrorKind};
use crate::jobs::operation::{Operation, OperationKind, Step};
use crate::jobs::Reply;
use crate::pacing::host_health::Ticket;
use crate::protocol::url_policy::same_origin;
use crate::protocol::GameClipUri;
use crate::transport::{Body, Outcome, Pacing, Purpose, Request};
use std::time::Instant;

/// Why a download attempt stopped short.
enum Setback {
    /// The request failed: the retry policy decides.
    Outcome(Outcome),
    /// Writing the file failed: final.
    Disk(Error),
}

/// Where a download is written until it is complete.
fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

impl Engine {
    /// One step of an operation, from request to decision.
    pub(super) fn run_operation(&self, operation: &Operation, step: Step, ticket: Option<Ticket>) {
        let (_in_flight, mark) = self.start_request();
        let attempt = match self.current_authorization() {
            None => Attempt::Unsent(Reply::NoToken),
            Some(authorization) => self.send_step(operation, &step, &authorization),
        };
        match self.reply_to(attempt, mark, ticket, 0) {
            Some(reply) => operation.settle(step, reply, Instant::now(), self.sinks()),
            None => operation.put_back(self.sinks()),
        }
        // A download that ended other than complete (failed, cancelled) leaves no partial file.
        if let (OperationKind::Download { destination, .. }, false) = (&operation.kind, operation.is_running()) {
            let _ = fs::remove_file(partial_path(destination));
        }
    }

    /// Sends the step's request (a download: fetches the file).
    fn send_step(&self, operation: &Operation, step: &Step, authorization: &str) -> Attempt {
        let base = &self.config.metadata_base_url;
        let ended = || !operation.is_running();
        Attempt::Sent(match (&operation.kind, step) {
            (OperationKind::Call { method, path, body, .. }, _) => {
                let url = format!("{base}{path}");
                let body = body.as_deref().map_or(Body::Empty, Body::Json);
                let authorization = Some(authorization);
                self.transport.send(Request {
                    method: *method,
                    purpose: Purpose::Other,
                    url: &url,
                    authorization,
                    body,
                    stop: Some(&ended),
                    pacing: Pacing::default(),
                })
            }
            (OperationKind::Download { clip_path, destination }, Step::FindSource) => {
                // Only attempts of this operation resume a partial file: one left by another download to
                // the same path (stopped by a shutdown, say) holds other bytes.
                let _ = fs::remove_file(partial_path(destination));
                self.get(&format!("{base}{clip_path}"), authorization, &ended)
            }
            (OperationKind::Download { destination, .. }, Step::Fetch(source)) => {
                let part = partial_path(destination);
                match self.fetch(operation, authorization, source, &part) {
                    Ok(true) => match fs::rename(&part, destination) {
                        Ok(()) => Outcome::status(200),
                        Err(e) => {
                            let message = format!("cannot move the download to {}: {e}", destination.display());
                            return Attempt::Unsent(Reply::Local(Error::new(ErrorKind::Io, message)));
                        }
                    },
                    Ok(false) => return Attempt::PutBack,
                    Err(Setback::Disk(error)) => return Attempt::Unsent(Reply::Local(error)),
                    Err(Setback::Outcome(outcome)) => outcome,
                }
            }
            (OperationKind::Download { .. }, Step::Call) => unreachable!("a download has no call step"),
        })
    }

    /// One attempt at the file: appends to `part` from where it ends. `Ok(false)`: abandoned
    /// (cancelled or stopping).
    fn fetch(
        &self,
        operation: &Operation,
        authorization: &str,
        source: &GameClipUri,
        part: &Path,
    ) -> std::result::Result<bool, Setback> {
        let disk =
            |e: std::io::Error| Setback::Disk(Error::new(ErrorKind::Io, format!("writing {}: {e}", part.display())));
        let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(part).map_err(disk)?;
        let have = file.metadata().map_err(disk)?.len();
        if have > 0 && have == source.file_size {
            return Ok(true); // an earlier attempt wrote it all; only the rename was missing
        }
        // The clip's download URI may be a storage host: the token goes only to the metadata host.
        // It is fetched as handed out (no redirects followed).
        let authorization = same_origin(&source.uri, &self.config.metadata_base_url).then_some(authorization);
        let streaming = self.transport.download(&source.uri, authorization, have).map_err(Setback::Outcome)?;
        if streaming.starts_at != have && streaming.starts_at != 0 {
            let message = format!("asked for bytes from {have} on, the server sent from {}", streaming.starts_at);
            return Err(Setback::Outcome(Outcome::Transport { reached_service: true, message }));
        }
        file.set_len(streaming.starts_at).map_err(disk)?;
        file.seek(SeekFrom::Start(streaming.starts_at)).map_err(disk)?;
        let total = streaming.total.unwrap_or(source.file_size);
        let mut written = streaming.starts_at;
        let mut reader = streaming.body;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            if !operation.is_running() || self.is_stopping() {
                return Ok(false);
            }
            let read = reader.read(&mut buffer).map_err(|e| {
                Setback::Outcome(Outcome::Transport {
                    reached_service: true,
                    message: format!("reading the clip: {e}"),
                })
            })?;
            if read == 0 {
                break;
            }
            file.write_all(&buffer[..read]).map_err(disk)?;
            written += read as u64;
            operation.download_progress(written, total, self.sinks());
        }
        if total != 0 && written != total {
            let message = format!("the download ended at {written} of {total} bytes");
            return Err(Setback::Outcome(Outcome::Transport { reached_service: true, message }));
        }
        file.sync_all().map_err(disk)?;
        Ok(true)
    }
}
