//! An unfinished upload read back from its journal: what to upload, and how far it got.

use std::path::PathBuf;

use super::clip_file::Layout;
use super::{CreatedClip, ThumbnailKind, UploadData};
use crate::journal::{FileIdentity, Journal, Record};
use crate::protocol::{InitialUploadRequest, MAX_BLOCK_SIZE, MAX_FILE_SIZE, MIN_BLOCK_SIZE};

/// An unfinished upload read back from its journal.
pub struct Resumed {
    pub journal: Journal,
    pub scid: String,
    pub data: UploadData,
    pub identity: Option<FileIdentity>,
    pub request: InitialUploadRequest,
    pub thumbnails: Vec<(ThumbnailKind, PathBuf)>,
    pub block_size: u32,
    pub created: Option<CreatedClip>,
    pub acked: Vec<u32>,
    pub committed: bool,
    pub thumbnails_sent: Vec<ThumbnailKind>,
    /// Initial calls whose answer was lost: each may have left a clip to remove.
    pub lost_creates: u32,
}

impl Resumed {
    /// Reads the records of one journal; `None` when they do not describe an upload.
    pub fn from_records(journal: Journal, records: Vec<Record>) -> Option<Resumed> {
        let mut records = records.into_iter();
        let Some(Record::Start { scid, path, file, size, block_size, request, thumbnails }) = records.next() else {
            return None;
        };
        let kind = ThumbnailKind::from_name;
        let mut resumed = Resumed {
            journal,
            scid,
            data: match path {
                Some(path) => UploadData::File { path, size },
                None => UploadData::Push { size },
            },
            identity: file,
            request: serde_json::from_value(request).ok()?,
            thumbnails: thumbnails.into_iter().filter_map(|(name, path)| Some((kind(&name)?, path))).collect(),
            block_size,
            created: None,
            acked: Vec::new(),
            committed: false,
            thumbnails_sent: Vec::new(),
            lost_creates: 0,
        };
        let block_sizes = MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE;
        if !block_sizes.contains(&block_size) || size == 0 || size > MAX_FILE_SIZE {
            return None;
        }
        let blocks = Layout::new(size, block_size).blocks;
        for record in records {
            match record {
                // A clip created again (the first one was gone) starts its progress afresh.
                Record::Created { response, upload_id } => {
                    resumed.created = Some(CreatedClip { response: serde_json::from_value(response).ok()?, upload_id });
                    resumed.acked.clear();
                    resumed.committed = false;
                    resumed.thumbnails_sent.clear();
                }
                Record::Acked { block, committed } if block < blocks => {
                    resumed.acked.push(block);
                    resumed.committed |= committed;
                }
                Record::Thumbnail { kind: name } => resumed.thumbnails_sent.extend(kind(&name)),
                Record::LostCreate => resumed.lost_creates += 1,
                Record::Start { .. } | Record::Acked { .. } => return None,
            }
        }
        resumed.acked.sort_unstable();
        resumed.acked.dedup();
        Some(resumed)
    }
}
