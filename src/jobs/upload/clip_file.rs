//! The clip file of a file-mode upload, and how any clip splits into blocks.

use std::fs::File;
use std::time::SystemTime;

use crate::error::{Error, ErrorKind, Result};
use crate::journal::{fnv1a, FileIdentity};
use crate::platform::file_io::read_exact_at;

/// How the file splits into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub file_size: u64,
    pub block_size: u32,
    pub blocks: u32,
}

impl Layout {
    pub fn new(file_size: u64, block_size: u32) -> Layout {
        Layout { file_size, block_size, blocks: file_size.div_ceil(u64::from(block_size)) as u32 }
    }

    pub fn offset(&self, block: u32) -> u64 {
        u64::from(block) * u64::from(self.block_size)
    }

    pub fn block_len(&self, block: u32) -> usize {
        (self.file_size - self.offset(block)).min(u64::from(self.block_size)) as usize
    }
}

/// The clip file, opened once by a worker; blocks are read from it with positioned reads.
pub struct OpenedFile {
    pub file: File,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl OpenedFile {
    pub fn open(path: &std::path::Path) -> Result<OpenedFile> {
        let io_error =
            |what: &str, e: std::io::Error| Error::new(ErrorKind::Io, format!("{what} {}: {e}", path.display()));
        let file = File::open(path).map_err(|e| io_error("cannot open", e))?;
        let meta = file.metadata().map_err(|e| io_error("cannot stat", e))?;
        if !meta.is_file() {
            return Err(Error::new(ErrorKind::Io, format!("{} is not a regular file", path.display())));
        }
        Ok(OpenedFile { size: meta.len(), modified: meta.modified().ok(), file })
    }

    /// A clip must not change while it uploads: the blocks already sent would not match the rest.
    pub fn check_unchanged(&self) -> Result<()> {
        let meta =
            self.file.metadata().map_err(|e| Error::new(ErrorKind::Io, format!("cannot stat the clip file: {e}")))?;
        if meta.len() != self.size || meta.modified().ok() != self.modified {
            return Err(Error::new(
                ErrorKind::Io,
                format!("the clip file changed during the upload (size {} -> {})", self.size, meta.len()),
            ));
        }
        Ok(())
    }

    /// How the file looks, for the journal: size, modification time and the fingerprints of its first
    /// and last block (a resumed upload checks it still is the file it began with).
    pub fn identity(&self, block_size: u32) -> Result<FileIdentity> {
        let layout = Layout::new(self.size, block_size);
        let fingerprint = |block: u32| -> Result<u64> {
            let mut buffer = vec![0u8; layout.block_len(block)];
            read_exact_at(&self.file, &mut buffer, layout.offset(block))
                .map_err(|e| Error::new(ErrorKind::Io, format!("reading the clip file: {e}")))?;
            Ok(fnv1a(&buffer))
        };
        let modified_ns = self
            .modified
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Ok(FileIdentity {
            size: self.size,
            modified_ns,
            first_block: fingerprint(0)?,
            last_block: fingerprint(layout.blocks - 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_file_and_only_the_last_is_short() {
        let layout = Layout::new(5 * 1024 + 1, 1024);
        assert_eq!(layout.blocks, 6);
        assert_eq!((layout.offset(5), layout.block_len(5)), (5 * 1024, 1));
        assert_eq!(layout.block_len(4), 1024);
        let exact = Layout::new(4096, 1024);
        assert_eq!((exact.blocks, exact.block_len(3)), (4, 1024));
        let total: u64 = (0..layout.blocks).map(|b| layout.block_len(b) as u64).sum();
        assert_eq!(total, layout.file_size);
    }
}
