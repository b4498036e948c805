//! What the engine does with the journal dir (the format is [`crate::journal`]; an upload writes its
//! own records as it settles): starting an upload's journal before its initial call, syncing on
//! pause, removing the journals of ended uploads, and resuming a journal dir's unfinished uploads.

use std::path::Path;
use std::sync::Arc;

use super::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::upload::{Resumed, Upload, UploadData};
use crate::jobs::{Job, Wrapped};
use crate::journal::{self, Journal, Record};
use crate::log::LogLevel;

impl Engine {
    /// A new upload's journal: what to upload, written before the initial call. Without a journal
    /// dir, or if it cannot be written (logged), the upload goes on without resume.
    pub(super) fn start_journal(&self, upload: &Upload) {
        let Some(dir) = &self.config.journal_dir else { return };
        let layout = upload.layout().expect("a push upload, or an opened file, has a layout");
        let started = (|| -> Result<Journal> {
            let (path, identity) = match (&upload.data, upload.opened_file()) {
                (UploadData::File { path, .. }, Some(file)) => {
                    (Some(path.clone()), Some(file.identity(layout.block_size)?))
                }
                _ => (None, None),
            };
            let record = Record::Start {
                scid: upload.scid.clone(),
                path,
                file: identity,
                size: layout.file_size,
                block_size: layout.block_size,
                request: serde_json::to_value(&upload.request).expect("the request serializes"),
                thumbnails: upload
                    .thumbnail_paths()
                    .into_iter()
                    .map(|(kind, path)| (kind.name().to_string(), path))
                    .collect(),
            };
            let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("the journal in {}: {e}", dir.display()));
            let journal = Journal::create(dir, &uuid::Uuid::new_v4().simple().to_string()).map_err(io)?;
            journal.append(&record).and_then(|()| journal.sync()).map_err(io)?;
            Ok(journal)
        })();
        match started {
            Ok(journal) => upload.set_journal(Some(journal)),
            Err(error) => self.log.log(LogLevel::Warn, || {
                format!(
                    "upload {:#x}: not journaled, so it cannot resume after a restart: {}",
                    upload.handle, error.message
                )
            }),
        }
    }

    /// Makes every journal durable (on pause: the game may be suspended and never come back).
    pub(super) fn sync_journals(&self) {
        for job in self.handles.values() {
            if let Some(journal) = job.upload().and_then(|upload| upload.journal()) {
                let _ = journal.sync();
            }
        }
    }

    /// Removes the journals of uploads that ended.
    pub fn remove_ended_journals(&self, jobs: &[Job]) {
        for upload in jobs.iter().filter_map(Job::upload) {
            if let (true, Some(journal)) = (upload.has_ended(), upload.journal()) {
                if let Err(e) = journal.remove() {
                    self.log.log(LogLevel::Warn, || format!("cannot remove {}: {e}", journal.path().display()));
                }
            }
        }
    }

    /// Reads the journals in `dir` and schedules every unfinished upload they describe. (The journal
    /// files are small: reading them is the one disk access `Client::new` makes; the clip files
    /// themselves are checked by workers.) Files that describe no upload are removed.
    pub fn resume_from(&self, dir: &Path) -> Result<Vec<u64>> {
        let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("journal_dir {}: {e}", dir.display()));
        let mut handles = Vec::new();
        for path in journal::files(dir).map_err(io)? {
            let resumed = journal::read(&path)
                .and_then(|records| Ok((records, Journal::reopen(&path)?)))
                .ok()
                .and_then(|(records, journal)| Resumed::from_records(journal, records));
            let Some(resumed) = resumed else {
                self.log.log(LogLevel::Warn, || format!("{} describes no upload; removed", path.display()));
                let _ = std::fs::remove_file(&path);
                continue;
            };
            let config = self.config.clone();
            let mut settled = None;
            let (handle, job) = self
                .handles
                .insert_with(|handle| {
                    let (upload, asks) = Upload::resume(handle, resumed, config, self.creates.clone());
                    settled = Some(asks);
                    Job::Upload(Arc::new(upload))
                })
                .ok_or_else(|| Error::new(ErrorKind::Internal, "too many handles in use"))?;
            self.log.log(LogLevel::Info, || format!("upload {handle:#x} resumed from {}", path.display()));
            if let (Some(upload), Some(settled)) = (job.upload(), settled) {
                upload.apply(settled, self.sinks());
            }
            self.schedule(job);
            handles.push(handle);
        }
        Ok(handles)
    }
}
