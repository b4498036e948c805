//! The resume journal: one append-only file per upload in `journal_dir`, so that a new client on the
//! same directory after a crash, kill or restart picks unfinished uploads up where they stopped.
//!
//! Each line is one JSON record and its FNV-1a checksum: `{...}\t<16 hex digits>\n`. A torn write (the
//! process died mid-line) leaves a last line whose checksum fails; reading stops there, so earlier
//! records are never lost or misread. Records: `start` (what to upload), `created` (what the service
//! handed out), `acked` (a block the service took), `thumbnail` (an image it took), `lostCreate` (an
//! initial call whose answer was lost: a clip it may have made is to be removed). The file is
//! removed when the upload ends. The Authorization value is never written. Files are owner-only.
//!
//! Writes happen on worker threads (never on the game thread). Lines reach the OS at once, which is
//! what survives a killed process; `sync` (after `created`, and on pause) makes them survive a power
//! cut too.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::platform::permissions::make_private;

pub const EXTENSION: &str = "journal";

/// FNV-1a, 64 bits: the line checksum and the clip file's fingerprint (change detection, not security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// How a file-mode clip looked when its upload began; checked before resuming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0: unknown).
    pub modified_ns: u64,
    /// Fingerprints of the first and the last block.
    pub first_block: u64,
    pub last_block: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub enum Record {
    /// Written before the initial call. `request` is the InitialUploadRequest body.
    Start {
        scid: String,
        /// File mode: the path; push mode: none.
        path: Option<PathBuf>,
        file: Option<FileIdentity>,
        size: u64,
        block_size: u32,
        request: serde_json::Value,
        thumbnails: Vec<(String, PathBuf)>,
    },
    Created {
        response: serde_json::Value,
        upload_id: String,
    },
    Acked {
        block: u32,
        committed: bool,
    },
    Thumbnail {
        kind: String,
    },
    /// An initial call whose answer was lost: it may have made a clip, which the upload removes once
    /// its bytes are in. Journaled before the call is made again, so that a crash in between still
    /// has the next client remove it.
    LostCreate,
}

/// One upload's journal file, open for appending.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

fn encode(record: &Record) -> Vec<u8> {
    let json = serde_json::to_string(record).expect("records serialize");
    format!("{json}\t{:016x}\n", fnv1a(json.as_bytes())).into_bytes()
}

impl Journal {
    /// A new journal file for an upload.
    pub fn create(dir: &Path, name: &str) -> io::Result<Journal> {
        let path = dir.join(format!("{name}.{EXTENSION}"));
        let file = OpenOptions::new().create_new(true).append(true).open(&path)?;
        make_private(&path)?;
        Ok(Journal { path, file: Mutex::new(file) })
    }

    /// Opens an existing journal to go on appending to it.
    pub fn reopen(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Journal { path: path.to_path_buf(), file: Mutex::new(file) })
    }

    /// Appends one record in one write.
    pub fn append(&self, record: &Record) -> io::Result<()> {
        self.file.lock().write_all(&encode(record))
    }

    /// Makes what was appended durable on disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.lock().sync_data()
    }

    /// The upload ended: nothing to resume.
    pub fn remove(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The intact records of a journal file, up to the first torn or corrupt line.
pub fn read(path: &Path) -> io::Result<Vec<Record>> {
    Ok(parse(&std::fs::read(path)?))
}

/// The intact records of a journal file's bytes, up to the first torn or corrupt line.
pub fn parse(bytes: &[u8]) -> Vec<Record> {
    let mut records = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let Some(line) = line.strip_suffix(b"\n") else { break }; // torn: no end of line
        let Some(tab) = line.iter().rposition(|&b| b == b'\t') else { break };
        let (json, checksum) = (&line[..tab], &line[tab + 1..]);
        let intact = std::str::from_utf8(checksum)
            .ok()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .is_some_and(|sum| sum == fnv1a(json));
        match serde_json::from_slice(json) {
            Ok(record) if intact => records.push(record),
            _ => break,
        }
    }
    records
}

/// The journal files in `dir`.
pub fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == EXTENSION))
        .collect();
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_or_corrupt_tail_keeps_every_earlier_record() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "u1").unwrap();
        let records = [
            Record::Created { response: serde_json::json!({"gameClipId": "c"}), upload_id: "u".into() },
            Record::Acked { block: 3, committed: false },
            Record::Acked { block: 0, committed: true },
        ];
        for record in &records {
            journal.append(record).unwrap();
        }
        assert_eq!(read(journal.path()).unwrap(), records);
        let whole = std::fs::read(journal.path()).unwrap();
        // Every possible torn write of one more record keeps the three before it.
        let extra = encode(&Record::Acked { block: 9, committed: false });
        for cut in 0..extra.len() {
            let mut torn = whole.clone();
            torn.extend_from_slice(&extra[..cut]);
            std::fs::write(journal.path(), &torn).unwrap();
            assert_eq!(read(journal.path()).unwrap(), records, "cut at {cut}");
        }
        // A flipped byte in the last line drops that line only.
        let mut flipped = whole.clone();
        let at = whole.len() - 30;
        flipped[at] ^= 0x20;
        std::fs::write(journal.path(), &flipped).unwrap();
        assert_eq!(read(journal.path()).unwrap(), records[..2]);
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "u3").unwrap();
        let start = Record::Start {
            scid: "s".into(),
            path: Some("/clips/a.mp4".into()),
            file: Some(FileIdentity {
                size: 9,
                modified_ns: 1_763_800_000_123_456_789,
                first_block: 1,
                last_block: u64::MAX,
            }),
            size: 9,
            block_size: 1024,
            request: serde_json::json!({"type": "Achievement"}),
            thumbnails: vec![("large".into(), "/t.png".into())],
        };
        let records = [start, Record::Thumbnail { kind: "large".into() }];
        for record in &records {
            journal.append(record).unwrap();
        }
        assert_eq!(read(journal.path()).unwrap(), records);
    }

    #[cfg(unix)]
    #[test]
    fn journal_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "u2").unwrap();
        let mode = std::fs::metadata(journal.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
