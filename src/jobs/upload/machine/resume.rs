//! An upload read back from its journal: the clip the journal names is taken up if the URL policy
//! still allows its URIs, and the service then shows how far it got (or that it is gone).

use std::sync::Arc;

use super::{check_handed_out, Phase, Step, ThumbnailState, UploadMachine};
use crate::config::Config;
use crate::jobs::upload::blocks::BlockSet;
use crate::jobs::upload::clip_file::Layout;
use crate::jobs::upload::resumed::Resumed;
use crate::jobs::upload::{CreatedClip, Settled};
use crate::journal::Record;
use crate::log::LogLevel;
use crate::protocol::GameClip;

impl UploadMachine {
    /// As far as a journal says an upload had got. It keeps the block size it began with. A clip whose
    /// URIs the policy refuses now (the title narrowed its upload hosts, the file was altered) is not
    /// used: the upload creates its clip again, and the one the journal named is removed once it is in.
    pub fn resumed(
        handle: u64,
        is_push: bool,
        size: u64,
        resumed: &mut Resumed,
        config: Arc<Config>,
    ) -> (Self, Settled) {
        let thumbnails = resumed.thumbnails.clone();
        let mut machine = UploadMachine::new(handle, is_push, size, thumbnails, config);
        machine.block_size = resumed.block_size;
        let layout = Layout::new(size, resumed.block_size);
        machine.blocks = Some(BlockSet::new(layout, is_push));
        if let Some(created) = resumed.created.take() {
            match check_handed_out(&created.response, &machine.config) {
                Ok(()) => machine.adopt(created, layout, resumed),
                Err(why) => {
                    resumed.lost_creates += 1;
                    machine.out.own.journal = Some(Record::LostCreate);
                    let id = &created.response.game_clip_id;
                    let message = format!(
                        "upload {handle:#x}: the journal's clip {id} has {why}; creating the clip again (that one is \
                         removed once this upload is in)"
                    );
                    machine.log(LogLevel::Warn, message);
                }
            }
        }
        machine.lost_creates = resumed.lost_creates;
        let settled = machine.drain();
        (machine, settled)
    }

    /// Takes up the clip a journal names, with the blocks and thumbnails it says went.
    fn adopt(&mut self, created: CreatedClip, layout: Layout, resumed: &Resumed) {
        self.blocks = Some(BlockSet::resumed(layout, self.is_push, &resumed.acked));
        self.committed = resumed.committed;
        for thumbnail in &mut self.thumbnails {
            thumbnail.url = thumbnail.kind.handed_out_uri(&created.response);
            if resumed.thumbnails_sent.contains(&thumbnail.kind) {
                thumbnail.state = ThumbnailState::Sent;
            }
        }
        self.clip = Some(Arc::new(created));
        self.phase = Phase::Ready(Step::CheckResumed);
    }

    /// A resumed upload's clip as the service shows it: still taking blocks, or already whole.
    pub(super) fn resumed_clip_checked(&mut self, clip: &GameClip) {
        self.phase = Phase::Uploading;
        if clip.state.eq_ignore_ascii_case("PendingUpload") {
            // Blocks journaled as acknowledged may be all of them, with the 201 lost in a crash.
            return self.finish_if_done();
        }
        if let Some(layout) = self.layout() {
            self.blocks = Some(BlockSet::complete(layout));
        }
        self.committed = true;
        self.finish_if_done();
        let message =
            format!("upload {:#x}: the service already has clip {} ({})", self.handle, clip.game_clip_id, clip.state);
        self.log(LogLevel::Info, message);
    }

    /// A resumed upload's clip is gone (expired, deleted): it is created again from the start.
    pub(super) fn clip_gone(&mut self) {
        self.phase = Phase::Ready(Step::Create);
        self.clip = None;
        self.committed = false;
        if let Some(layout) = self.layout() {
            self.blocks = Some(BlockSet::new(layout, self.is_push));
        }
        for thumbnail in &mut self.thumbnails {
            thumbnail.state = ThumbnailState::Ready;
            thumbnail.url = None;
        }
    }
}
