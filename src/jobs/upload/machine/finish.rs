//! After the last block: the upload completes once the service holds the clip, asking it when no 201
//! came, and once what lost answers of this client left behind is found and removed.

use std::time::Instant;

use super::{Phase, SearchEnd, Step, ThumbnailState, UploadMachine};
use crate::error::{Error, ErrorKind};
use crate::jobs::events::EventKind;
use crate::jobs::status::{End, RESULT_OK};
use crate::jobs::upload::blocks::BlockSet;
use crate::log::LogLevel;
use crate::protocol::{ClipPage, GameClip};

/// Pages of the user's clips read when looking for orphans: 100 clips each.
const MAX_ORPHAN_PAGES: u32 = 100;

/// How often a clip whose blocks were all acknowledged without a 201 is looked at before the upload
/// fails: the service may still be joining the blocks.
const MAX_COMMIT_CHECKS: u32 = 8;

impl UploadMachine {
    /// Whether the next request would look for what lost answers left, and needs leave for it first
    /// (no sibling's initial call in flight: see `creates`).
    pub fn wants_to_search(&self) -> bool {
        self.phase == Phase::Ready(Step::FindOrphans) && !self.searching
    }

    /// Leave to look was given: the look starts from the first page.
    pub fn search_began(&mut self) {
        self.searching = true;
        self.orphans.clear();
        self.next_page = None;
        self.pages_read = 0;
    }

    /// Every block was acknowledged without a 201: the service shows whether it holds the clip.
    pub(super) fn commit_checked(&mut self, clip: &GameClip, status: u16, now: Instant) {
        if !clip.state.eq_ignore_ascii_case("PendingUpload") {
            self.committed = true;
            self.finish_if_done();
            let message =
                format!("upload {:#x}: no 201 came, and the service shows the clip {}", self.handle, clip.state);
            return self.log(LogLevel::Info, message);
        }
        self.commit_checks += 1;
        if self.commit_checks >= MAX_COMMIT_CHECKS {
            let message = format!(
                "the service acknowledged every block but still shows the clip PendingUpload after {} checks",
                self.commit_checks
            );
            return self.failed(Error::http(ErrorKind::Http, status, message));
        }
        self.phase = Phase::Ready(Step::ConfirmCommit);
        let after = self.jitter.backoff(self.commit_checks, self.config.max_retry_delay);
        self.life.retry_later(after, &Error::new(ErrorKind::Http, "the service is still joining the blocks"), now);
    }

    /// One page of the user's clips, looked through for what lost answers left.
    pub(super) fn orphans_listed(&mut self, page: &ClipPage, orphans_in: &dyn Fn(&ClipPage) -> Vec<String>) {
        self.orphans.extend(orphans_in(page));
        self.pages_read += 1;
        // Every page of the user's clips, not the first only (a service that pages forever is read no
        // further than the limit).
        self.next_page = page.continuation_token.clone().filter(|_| self.pages_read < MAX_ORPHAN_PAGES);
        if self.next_page.is_some() {
            self.phase = Phase::Ready(Step::FindOrphans);
            return;
        }
        if self.orphans.is_empty() {
            return self.orphans_settled();
        }
        self.phase = Phase::Ready(Step::RemoveOrphans);
        let message = format!(
            "upload {:#x}: removing {} clip(s) that lost answers left behind: {}",
            self.handle,
            self.orphans.len(),
            self.orphans.join(", ")
        );
        self.log(LogLevel::Info, message);
    }

    /// Once every block and thumbnail is in: completes the upload when the service said it holds the
    /// clip; otherwise asks it (a service may acknowledge every block with 200 and never 201).
    pub(super) fn finish_if_done(&mut self) {
        let complete = self.blocks.as_ref().is_some_and(BlockSet::is_complete);
        if !complete || self.thumbnails.iter().any(|t| t.state != ThumbnailState::Sent) {
            return;
        }
        if !self.committed {
            self.phase = Phase::Ready(Step::ConfirmCommit);
        } else if self.lost_creates > 0 {
            // A lost answer of this client may have left a clip like this one behind.
            self.phase = Phase::Ready(Step::FindOrphans);
        } else {
            self.complete();
        }
    }

    pub(super) fn complete(&mut self) {
        if self.end(End::Completed, None) {
            self.emit(EventKind::Completed, RESULT_OK);
            self.log(LogLevel::Info, format!("upload {:#x} completed", self.handle));
        }
    }

    pub(super) fn orphan_removed(&mut self) {
        if self.orphans.is_empty() {
            self.orphans_settled();
        } else {
            self.phase = Phase::Ready(Step::RemoveOrphans);
        }
    }

    /// The look for what lost answers left is over: the upload completes.
    pub(super) fn orphans_settled(&mut self) {
        self.end_search(SearchEnd::Settled);
        self.lost_creates = 0;
        self.complete();
    }

    /// The leave to look is given back (the ledger hears of it through `search_ended`).
    pub(super) fn end_search(&mut self, end: SearchEnd) {
        if std::mem::take(&mut self.searching) {
            self.out.own.search_ended.get_or_insert(end);
        }
    }
}
