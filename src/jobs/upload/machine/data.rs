//! Where the upload's bytes come from: the blocks the game pushes, or the clip file a worker opened
//! (which gives a new file-mode upload its layout).

use std::sync::Arc;

use super::UploadMachine;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::status::End;
use crate::jobs::upload::blocks::BlockSet;
use crate::jobs::upload::clip_file::{Layout, OpenedFile};
use crate::jobs::upload::push_budget::PushedBlock;

impl UploadMachine {
    /// Push mode: whether block `num` of `len` bytes may be pushed now.
    pub fn check_pushable(&self, num: u32, len: usize) -> Result<()> {
        self.check_running()?;
        self.blocks.as_ref().expect("push uploads know their layout from the start").check_pushable(num, len)
    }

    fn check_running(&self) -> Result<()> {
        match self.life.end {
            None => Ok(()),
            Some(End::Completed) => Err(Error::new(ErrorKind::WrongState, "the upload has completed")),
            Some(End::Failed) => Err(Error::new(ErrorKind::WrongState, "the upload has failed")),
            Some(End::Cancelled) => Err(Error::new(ErrorKind::WrongState, "the upload was cancelled")),
        }
    }

    /// Push mode: a copy of block `num` that passed [`UploadMachine::check_pushable`], unless the upload
    /// ended or the same block was pushed meanwhile.
    pub fn push(&mut self, num: u32, block: Arc<PushedBlock>) -> Result<()> {
        self.check_running()?;
        self.blocks.as_mut().expect("push uploads know their layout from the start").push(num, block)
    }

    /// Blocks the library does not hold and the service has not acknowledged.
    pub fn missing_blocks(&self) -> Vec<u32> {
        self.blocks.as_ref().map(BlockSet::missing).unwrap_or_default()
    }

    /// The layout, once known (push mode: from the start; file mode: once the file was opened).
    pub fn layout(&self) -> Option<Layout> {
        self.blocks.as_ref().map(BlockSet::layout)
    }

    /// The block size this upload splits its clip with.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    pub fn opened_file(&self) -> Option<Arc<OpenedFile>> {
        self.file.clone()
    }

    /// The clip file, opened by a worker (file mode). A new upload takes its layout from it; a resumed
    /// one already has its layout (the engine checked the file is the one it began with).
    pub fn file_opened(&mut self, file: OpenedFile) {
        if self.blocks.is_none() {
            self.blocks = Some(BlockSet::new(Layout::new(file.size, self.block_size), false));
        }
        self.file = Some(Arc::new(file));
    }
}
