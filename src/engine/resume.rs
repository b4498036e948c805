//! Everything the engine writes to or reads from the resume journal (the format is `journal.rs`):
//! starting an upload's journal before its initial call, the records `settle` returns, syncing on
//! pause, removing the journals of ended uploads, and resuming a journal dir's unfinished uploads.

use std::path::Path;
use std::sync::Arc;

use super::{Engine, Job};
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{self, fnv1a, FileIdentity, Journal, Record};
use crate::log::LogLevel;
use crate::platform::file_io::read_exact_at;
use crate::upload::{Layout, OpenedFile, Resumed, Settled, Upload, UploadData};

impl Engine {
    /// What `settle` asked for, done with the upload's lock let go.
    pub(super) fn apply(&self, upload: &Upload, settled: Settled) {
        if let Some((level, message)) = settled.log {
            self.log.log(level, || message);
        }
        if let Some(record) = settled.more.record {
            self.record(upload, &record);
        }
    }

    /// Appends a record. `Created` is made durable at once: without it a restart would create the clip
    /// a second time. A journal that cannot be written costs the ability to resume, not the upload.
    fn record(&self, upload: &Upload, record: &Record) {
        let Some(journal) = upload.journal() else { return };
        let durable = matches!(record, Record::Created { .. });
        let written = journal.append(record).and_then(|()| if durable { journal.sync() } else { Ok(()) });
        if let Err(e) = written {
            self.log.log(LogLevel::Warn, || {
                format!("upload {:#x}: the journal cannot be written ({e}); it will not resume", upload.handle)
            });
            upload.set_journal(None);
        }
    }

    /// How a clip file looks: size, modification time and the fingerprints of its first and last block.
    pub(super) fn file_identity(&self, file: &OpenedFile, block_size: u32) -> Result<FileIdentity> {
        let layout = Layout::new(file.size, block_size);
        let fingerprint = |block: u32| -> Result<u64> {
            let mut buffer = vec![0u8; layout.block_len(block)];
            read_exact_at(&file.file, &mut buffer, layout.offset(block))
                .map_err(|e| Error::new(ErrorKind::Io, format!("reading the clip file: {e}")))?;
            Ok(fnv1a(&buffer))
        };
        let modified_ns = file
            .modified
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ok(FileIdentity {
            size: file.size,
            modified_ns,
            first_block: fingerprint(0)?,
            last_block: fingerprint(layout.blocks - 1)?,
        })
    }

    /// A new upload's journal: what to upload, written before the initial call. Without a journal
    /// dir, or if it cannot be written (logged), the upload goes on without resume.
    pub(super) fn start_journal(&self, upload: &Upload) {
        let Some(dir) = &self.config.journal_dir else { return };
        let layout = upload.layout().expect("a push upload, or an opened file, has a layout");
        let started = (|| -> Result<Journal> {
            let (path, identity) = match (&upload.data, upload.opened_file()) {
                (UploadData::File { path, .. }, Some(file)) => {
                    (Some(path.clone()), Some(self.file_identity(&file, layout.block_size)?))
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
                self.apply(upload, settled);
            }
            self.schedule(job);
            handles.push(handle);
        }
        Ok(handles)
    }
}
