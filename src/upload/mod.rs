//! One upload's state machine. The engine asks it for the next [`Piece`] of work ([`Upload::next_piece`]),
//! sends the request that piece names, and hands the verdict back ([`Upload::settle`]). Everything an
//! answer means (a 401, a retry, an ambiguous create, a premature 201, a clip gone after a restart) is
//! decided here, under the upload's lock, with no I/O; what the engine must do afterwards (a log line,
//! a journal record) comes back as [`Settled`]. Transient failures never end an upload by count (see
//! `retry::Persistence`); only a final answer, `cancel` or the title's `give_up_after_ms` does.
//!
//! ```text
//!   begin_upload                                   resumed from the journal, clip created before
//!        │                                                         │
//!        ▼       next_piece                                        ▼        next_piece
//!   Ready(Create) ─────────► Awaiting(Create)          Ready(CheckResumed) ─────────► Awaiting(CheckResumed)
//!        ▲                    │         │                                               │      │      │
//!        └── answer lost ─────┘         └── 2xx: CLIP_CREATED ──┐         PendingUpload │      │      │ 404/410:
//!            (create again; a clip                              ▼                       │      │      │ Gone
//!             it may have left is                           Uploading ◄─────────────────┘      │      │
//!             looked for at the end)                 blocks and thumbnails,                     │      │
//!                                                    each: Ready → InFlight → Acked             │      │
//!                                                               │ all in                        │      │
//!                                  no 201 seen: Ready(ConfirmCommit) ── PendingUpload: again    │      │
//!                                                               │ 201 seen, or past PendingUpload      │
//!                          an answer was lost: Ready(FindOrphans) → RemoveOrphans (each DELETE)│      │
//!                                                               ▼                               │      │
//!                                                           Completed ◄──── already committed ──┘      │
//!   Ready(Create) ◄──────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Over every state: a transient failure puts the piece back and the upload waits out a back-off
//! (RETRYING); a 401, or no token yet, puts it back and parks the upload until `set_authorization`
//! (NEEDS_AUTH); a final failure ends it (FAILED); `cancel` ends it (CANCELLED). Once it has ended,
//! outcomes of requests still in flight change nothing.

mod blocks;
mod clip_file;
pub mod creates;
mod push_budget;
mod resumed;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind, EventQueue};
use crate::journal::{FileIdentity, Journal, Record};
use crate::lifecycle::{Gate, Lifecycle, NextTask};
use crate::log::LogLevel;
use crate::protocol::{ClipPage, GameClip, InitialUploadRequest, InitialUploadResponse};
use crate::retry::{backoff, Idempotency, Persistence, Verdict};
use crate::status::{End, Published, UploadState, UploadStatus, RESULT_OK, RESULT_PENDING};
use crate::status_board::StatusBoard;
use crate::url_policy::{check_url, not_an_upload_host};

use blocks::BlockSet;
pub use clip_file::{Layout, OpenedFile};
use creates::{siblings_key, CreateLedger, CreateOutcome, Search};
pub use push_budget::{CopyRefused, PushBudget, PushedBlock};
pub use resumed::Resumed;

/// Where an upload's bytes come from.
#[derive(Debug, Clone)]
pub enum UploadData {
    /// The library reads the file itself. `size` 0: take it from the file; otherwise it must match.
    File { path: PathBuf, size: u64 },
    /// The game pushes blocks with `push_block`.
    Push { size: u64 },
}

/// The two thumbnail images a clip may carry (`ThumbnailSource::Upload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbnailKind {
    Large,
    Small,
}

impl ThumbnailKind {
    pub fn name(self) -> &'static str {
        match self {
            ThumbnailKind::Large => "large",
            ThumbnailKind::Small => "small",
        }
    }

    pub fn from_name(name: &str) -> Option<ThumbnailKind> {
        [ThumbnailKind::Large, ThumbnailKind::Small].into_iter().find(|kind| kind.name() == name)
    }

    /// Where the initial call said this image goes.
    fn handed_out_uri(self, response: &InitialUploadResponse) -> Option<String> {
        match self {
            ThumbnailKind::Large => response.large_thumbnail_uri.clone(),
            ThumbnailKind::Small => response.small_thumbnail_uri.clone(),
        }
    }
}

/// What the initial call returned.
pub struct CreatedClip {
    pub response: InitialUploadResponse,
    pub upload_id: String,
}

/// One request's worth of an upload: handed to the engine by [`Upload::next_piece`], handed back to
/// [`Upload::settle`] with the verdict on its request.
pub enum Piece {
    /// The initial call.
    Create,
    /// A resumed upload: the clip file checked (file mode), and how far the service got.
    CheckResumed,
    /// Every block acknowledged but no 201 seen: does the service hold the clip?
    ConfirmCommit,
    /// After an initial call whose answer was lost: a page of the user's clips (the first, or the one
    /// a continuation token names), to find what it left behind.
    FindOrphans(Option<String>),
    /// Removes one clip an earlier initial call of this client left behind.
    RemoveOrphan(String),
    Block(BlockPiece),
    Thumbnail(ThumbnailPiece),
}

pub struct BlockPiece {
    pub num: u32,
    pub offset: u64,
    pub len: usize,
    pub clip: Arc<CreatedClip>,
    /// Push mode: the copy. File mode: `None`, read from `file`.
    pub data: Option<Arc<PushedBlock>>,
    pub file: Option<Arc<OpenedFile>>,
}

pub struct ThumbnailPiece {
    pub kind: ThumbnailKind,
    pub path: PathBuf,
    pub url: String,
}

impl Piece {
    /// For messages: "sending block 3 failed: ...".
    pub fn what(&self) -> String {
        match self {
            Piece::Create => "creating the clip".into(),
            Piece::CheckResumed => "checking the resumed clip".into(),
            Piece::ConfirmCommit => "asking whether the service holds the clip".into(),
            Piece::FindOrphans(_) => "looking for clips a lost answer left behind".into(),
            Piece::RemoveOrphan(id) => format!("removing clip {id}, left behind by a lost answer"),
            Piece::Block(block) => format!("sending block {}", block.num),
            Piece::Thumbnail(thumbnail) => format!("sending the {} thumbnail", thumbnail.kind.name()),
        }
    }

    /// Only the initial call acts twice if sent twice; every other piece may be repeated.
    pub fn idempotency(&self) -> Idempotency {
        match self {
            Piece::Create => Idempotency::NotIdempotent,
            _ => Idempotency::Idempotent,
        }
    }
}

/// Pages of the user's clips read when looking for orphans: 100 clips each.
const MAX_ORPHAN_PAGES: u32 = 100;

/// The requests that come before any block, and after the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Create,
    CheckResumed,
    ConfirmCommit,
    FindOrphans,
    RemoveOrphans,
}

/// How often a clip whose blocks were all acknowledged without a 201 is looked at before the upload
/// fails: the service may still be joining the blocks.
const MAX_COMMIT_CHECKS: u32 = 8;

/// Where a running upload is (how it ended is the lifecycle's `end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The step's request is to be sent.
    Ready(Step),
    /// The step's request is in flight.
    Awaiting(Step),
    /// Blocks and thumbnails go out; it completes when all are in and the service confirmed the clip.
    Uploading,
}

/// What the engine does once `settle` has decided, after the upload's lock is let go (the game's log
/// function is never called under a lock).
#[derive(Debug, Default)]
pub struct Settled {
    pub log: Option<(LogLevel, String)>,
    /// Progress for the journal.
    pub record: Option<Record>,
}

impl Settled {
    fn log(level: LogLevel, message: String) -> Settled {
        Settled { log: Some((level, message)), record: None }
    }

    fn record(record: Record) -> Settled {
        Settled { log: None, record: Some(record) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThumbnailState {
    Ready,
    InFlight,
    Sent,
}

struct PendingThumbnail {
    kind: ThumbnailKind,
    path: PathBuf,
    /// Known once the initial call answered.
    url: Option<String>,
    state: ThumbnailState,
}

struct Inner {
    life: Lifecycle,
    phase: Phase,
    /// `None` only in file mode before the file was opened (its size gives the layout).
    blocks: Option<BlockSet>,
    file: Option<Arc<OpenedFile>>,
    clip: Option<Arc<CreatedClip>>,
    /// The service said 201 (or showed the clip past PendingUpload): it has the whole clip.
    committed: bool,
    /// Times the service still showed PendingUpload after every block was acknowledged.
    commit_checks: u32,
    thumbnails: Vec<PendingThumbnail>,
    /// This upload's initial calls whose answer was lost: each may have left a clip.
    lost_creates: u32,
    /// The look for what lost answers left, while under way.
    search: Option<Search>,
    /// Clips a lost answer left behind, found and still to be removed.
    orphans: Vec<String>,
    /// The look for them: the next page of the user's clips, and how many pages were read.
    next_page: Option<String>,
    pages_read: u32,
    /// Bytes of blocks sent that no accepted block carried.
    wasted: u64,
}

impl Inner {
    fn published(&self) -> Published {
        let working = match self.phase {
            Phase::Ready(Step::Create | Step::CheckResumed) | Phase::Awaiting(Step::Create | Step::CheckResumed) => {
                UploadState::Creating
            }
            Phase::Ready(_) | Phase::Awaiting(_) => UploadState::Uploading,
            Phase::Uploading
                if self.blocks.as_ref().map_or(true, BlockSet::is_idle)
                    && self.thumbnails.iter().all(|t| t.state == ThumbnailState::Sent) =>
            {
                UploadState::WaitingForData
            }
            Phase::Uploading => UploadState::Uploading,
        };
        let layout = self.blocks.as_ref().map(BlockSet::layout);
        let progress = UploadStatus {
            state: working,
            result: RESULT_PENDING,
            http_status: 0,
            bytes_total: layout.map_or(0, |l| l.file_size),
            bytes_acked: self.blocks.as_ref().map_or(0, BlockSet::bytes_acked),
            blocks_total: layout.map_or(0, |l| l.blocks),
            blocks_acked: self.blocks.as_ref().map_or(0, BlockSet::acked),
            retries: 0,
            retry_in_ms: 0,
            bytes_wasted: self.wasted,
        };
        self.life.published(working, progress)
    }

    /// Puts a piece that was in flight back to be sent again.
    fn requeue(&mut self, piece: &Piece) {
        match piece {
            Piece::Block(block) => {
                if let Some(blocks) = &mut self.blocks {
                    blocks.put_back(block.num);
                }
            }
            Piece::Thumbnail(thumbnail) => {
                for pending in self.thumbnails.iter_mut().filter(|t| t.kind == thumbnail.kind) {
                    if pending.state == ThumbnailState::InFlight {
                        pending.state = ThumbnailState::Ready;
                    }
                }
            }
            Piece::RemoveOrphan(id) => {
                self.orphans.push(id.clone());
                self.phase = Phase::Ready(Step::RemoveOrphans);
            }
            Piece::FindOrphans(_) => {
                // The look starts over from the first page.
                self.search = None;
                self.phase = Phase::Ready(Step::FindOrphans);
            }
            Piece::Create | Piece::CheckResumed | Piece::ConfirmCommit => {
                if let Phase::Awaiting(step) = self.phase {
                    self.phase = Phase::Ready(step);
                }
            }
        }
    }

    /// Ends the upload; false when it had ended already. Copies are dropped (giving their push budget
    /// back) and the file is closed.
    fn end(&mut self, end: End, error: Option<Error>) -> bool {
        if !self.life.finish(end, error) {
            return false;
        }
        self.search = None;
        if let Some(blocks) = &mut self.blocks {
            blocks.discard();
        }
        self.file = None;
        true
    }

    fn layout(&self) -> Layout {
        self.blocks.as_ref().expect("past the initial call, an upload has its layout").layout()
    }
}

/// The upload's state behind its lock, and the status published from it each time a change is let go,
/// for `status` to read without taking the lock.
struct Guarded {
    inner: Mutex<Inner>,
    board: StatusBoard,
}

impl Guarded {
    fn new(inner: Inner) -> Guarded {
        let guarded = Guarded { inner: Mutex::new(inner), board: StatusBoard::default() };
        drop(guarded.lock());
        guarded
    }

    /// For a change: the status is published when the guard goes.
    fn lock(&self) -> Changing<'_> {
        Changing { guard: self.inner.lock(), board: &self.board }
    }

    /// For reading only: nothing is published.
    fn read(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }
}

struct Changing<'a> {
    guard: MutexGuard<'a, Inner>,
    board: &'a StatusBoard,
}

impl std::ops::Deref for Changing<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for Changing<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.board.publish(&self.guard.published());
    }
}

pub struct Upload {
    pub handle: u64,
    pub scid: String,
    pub data: UploadData,
    /// The initial call's body; `file_size` and `expected_blocks` are filled in from the layout.
    pub request: InitialUploadRequest,
    config: Arc<Config>,
    creates: Arc<CreateLedger>,
    /// Which uploads' initial calls make clips that look alike (see [`creates`]).
    siblings_key: String,
    block_size: u32,
    /// Resumed file mode: how the file looked when the upload began.
    expected_identity: Option<FileIdentity>,
    released: AtomicBool,
    /// Written by the engine only; `None`: not journaled (no journal dir, or it could not be written).
    journal: Mutex<Option<Arc<Journal>>>,
    inner: Guarded,
}

impl Upload {
    pub fn new(
        handle: u64,
        scid: String,
        data: UploadData,
        request: InitialUploadRequest,
        thumbnails: Vec<(ThumbnailKind, PathBuf)>,
        config: Arc<Config>,
        creates: Arc<CreateLedger>,
    ) -> Upload {
        let block_size = config.block_size;
        let blocks = match data {
            UploadData::Push { size } => Some(BlockSet::new(Layout::new(size, block_size), true)),
            UploadData::File { .. } => None,
        };
        let thumbnails = thumbnails
            .into_iter()
            .map(|(kind, path)| PendingThumbnail { kind, path, url: None, state: ThumbnailState::Ready })
            .collect();
        Upload {
            handle,
            siblings_key: siblings_key(&scid, &request),
            scid,
            data,
            request,
            config,
            creates,
            block_size,
            expected_identity: None,
            released: AtomicBool::new(false),
            journal: Mutex::new(None),
            inner: Guarded::new(Inner {
                life: Lifecycle::default(),
                phase: Phase::Ready(Step::Create),
                blocks,
                file: None,
                clip: None,
                committed: false,
                commit_checks: 0,
                thumbnails,
                lost_creates: 0,
                search: None,
                orphans: Vec::new(),
                next_page: None,
                pages_read: 0,
                wasted: 0,
            }),
        }
    }

    /// An upload read back from its journal, as far as it had got.
    pub fn resume(handle: u64, resumed: Resumed, config: Arc<Config>, creates: Arc<CreateLedger>) -> Upload {
        let thumbnails = resumed.thumbnails.clone();
        let mut upload = Upload::new(handle, resumed.scid, resumed.data, resumed.request, thumbnails, config, creates);
        // It keeps the block size it began with; its blocks are laid out below with it.
        upload.block_size = resumed.block_size;
        upload.expected_identity = resumed.identity;
        *upload.journal.get_mut() = Some(Arc::new(resumed.journal));
        {
            let mut inner = upload.inner.lock();
            let inner = &mut *inner;
            inner.lost_creates = resumed.lost_creates;
            upload.creates.lost_before(&upload.siblings_key, resumed.lost_creates);
            let (UploadData::File { size, .. } | UploadData::Push { size }) = upload.data;
            let layout = Layout::new(size, resumed.block_size);
            inner.blocks = Some(BlockSet::new(layout, upload.is_push()));
            if let Some(created) = resumed.created {
                inner.blocks = Some(BlockSet::resumed(layout, upload.is_push(), &resumed.acked));
                inner.committed = resumed.committed;
                for thumbnail in &mut inner.thumbnails {
                    thumbnail.url = thumbnail.kind.handed_out_uri(&created.response);
                    if resumed.thumbnails_sent.contains(&thumbnail.kind) {
                        thumbnail.state = ThumbnailState::Sent;
                    }
                }
                upload.creates.own_clip(&created.response.game_clip_id);
                inner.clip = Some(Arc::new(created));
                inner.phase = Phase::Ready(Step::CheckResumed);
            }
        }
        upload
    }

    pub fn is_push(&self) -> bool {
        matches!(self.data, UploadData::Push { .. })
    }

    /// Consecutive failures so far: the attempt number of the next request.
    pub fn attempt(&self) -> u32 {
        self.inner.read().life.consecutive_failures
    }

    /// The next request to send, if any may go now.
    pub fn next_piece(&self, now: Instant) -> NextTask<Piece> {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        match inner.life.gate(now) {
            Gate::Open => {}
            Gate::Wait(at) => return NextTask::Wait(at),
            Gate::Ended => return NextTask::Finished,
        }
        match inner.phase {
            Phase::Ready(Step::FindOrphans) => {
                if inner.search.is_none() {
                    // While a sibling's initial call is in flight, its clip could pass for an orphan.
                    let Some(search) = self.creates.begin_search(&self.siblings_key) else {
                        return NextTask::Wait(None);
                    };
                    inner.search = Some(search);
                    inner.orphans.clear();
                    inner.next_page = None;
                    inner.pages_read = 0;
                }
                inner.phase = Phase::Awaiting(Step::FindOrphans);
                NextTask::Run(Piece::FindOrphans(inner.next_page.clone()))
            }
            Phase::Ready(Step::RemoveOrphans) => {
                let Some(id) = inner.orphans.pop() else { return NextTask::Wait(None) };
                inner.phase = Phase::Awaiting(Step::RemoveOrphans);
                NextTask::Run(Piece::RemoveOrphan(id))
            }
            Phase::Ready(step) => {
                inner.phase = Phase::Awaiting(step);
                NextTask::Run(match step {
                    Step::Create => {
                        self.creates.create_sent(&self.siblings_key);
                        Piece::Create
                    }
                    Step::CheckResumed => Piece::CheckResumed,
                    Step::ConfirmCommit => Piece::ConfirmCommit,
                    Step::FindOrphans | Step::RemoveOrphans => unreachable!("handled above"),
                })
            }
            Phase::Awaiting(_) => NextTask::Wait(None),
            Phase::Uploading => {
                // Thumbnails first: they are small, and the clip is not complete without them.
                let ready = inner.thumbnails.iter_mut().find(|t| t.state == ThumbnailState::Ready && t.url.is_some());
                if let Some(thumbnail) = ready {
                    thumbnail.state = ThumbnailState::InFlight;
                    let url = thumbnail.url.clone().expect("found with a URL");
                    return NextTask::Run(Piece::Thumbnail(ThumbnailPiece {
                        kind: thumbnail.kind,
                        path: thumbnail.path.clone(),
                        url,
                    }));
                }
                let (Some(blocks), Some(clip)) = (&mut inner.blocks, &inner.clip) else { return NextTask::Wait(None) };
                let Some(taken) = blocks.take_ready() else { return NextTask::Wait(None) };
                let layout = blocks.layout();
                NextTask::Run(Piece::Block(BlockPiece {
                    num: taken.num,
                    offset: layout.offset(taken.num),
                    len: layout.block_len(taken.num),
                    clip: clip.clone(),
                    data: taken.data,
                    file: inner.file.clone(),
                }))
            }
        }
    }

    /// A piece taken for sending that was not sent (the client paused, its host is held): back in the
    /// queue, no retry counted.
    pub fn put_back(&self, piece: Piece) {
        self.abandon(piece, false);
    }

    /// A piece whose request was abandoned (suspend, offline) before a usable answer: back in the
    /// queue, no retry counted. `may_have_acted`: an initial call that may have made a clip (it is
    /// looked for once the upload is in, like any answer lost).
    pub fn abandon(&self, piece: Piece, may_have_acted: bool) {
        let mut inner = self.inner.lock();
        if matches!(piece, Piece::Create) {
            let outcome = if may_have_acted { CreateOutcome::Unknown } else { CreateOutcome::MadeNone };
            self.creates.create_settled(&self.siblings_key, outcome);
            inner.lost_creates += u32::from(may_have_acted);
        }
        inner.requeue(&piece);
    }

    /// Where `piece`'s request goes (the scheduler asks its host's leave).
    pub fn url_of(&self, piece: &Piece, metadata_base_url: &str) -> String {
        match piece {
            Piece::Block(block) => block.clip.response.upload_uri.clone(),
            Piece::Thumbnail(thumbnail) => thumbnail.url.clone(),
            _ => metadata_base_url.to_string(),
        }
    }

    /// How persistent this upload is through transient failures.
    pub fn persistence(&self) -> Persistence {
        Persistence::UntilFinal { max_delay: self.config.max_retry_delay }
    }

    /// Decides what the verdict on `piece`'s request means for the upload.
    pub fn settle(&self, piece: Piece, verdict: Verdict, events: &EventQueue) -> Settled {
        if matches!(piece, Piece::Create) {
            self.creates.create_settled(&self.siblings_key, create_outcome(&verdict));
        }
        let mut inner = self.inner.lock();
        if !inner.life.is_running() {
            return Settled::default();
        }
        let handle = self.handle;
        match verdict {
            Verdict::Success { status, body } => self.succeeded(&mut inner, piece, status, &body, events),
            Verdict::Retry { after, error } => {
                inner.requeue(&piece);
                self.retry_later(&mut inner, after, error, "retrying", events)
            }
            Verdict::NeedsAuth { status } => {
                inner.requeue(&piece);
                if inner.life.wait_for_auth(status) {
                    self.emit(events, &inner, EventKind::NeedsAuth, RESULT_PENDING);
                }
                Settled::default()
            }
            Verdict::Ambiguous { error } if matches!(piece, Piece::Create) => {
                // The service may have made a clip, but its upload URI was in the lost answer: create
                // again; what the lost call left is removed once this upload is in (see `creates`).
                inner.phase = Phase::Ready(Step::Create);
                inner.lost_creates += 1;
                let after = backoff(inner.life.consecutive_failures, self.config.max_retry_delay);
                let doing = "creating again; a clip it may have left is removed later";
                // Journaled before the call goes again: a crash in between still leaves it to remove.
                Settled {
                    record: Some(Record::LostCreate),
                    ..self.retry_later(&mut inner, after, error, doing, events)
                }
            }
            // Tidying up after a lost answer never fails a clip the service holds.
            Verdict::Ambiguous { error } | Verdict::Fail(error)
                if matches!(piece, Piece::FindOrphans(_) | Piece::RemoveOrphan(_)) =>
            {
                let gone = error.http_status == 404 || error.http_status == 410;
                if let (Piece::RemoveOrphan(_), true) = (&piece, gone) {
                    return self.orphan_removed(&mut inner, events);
                }
                inner.orphans.clear();
                self.orphans_settled(&mut inner, events);
                Settled::log(LogLevel::Warn, format!("upload {handle:#x}: {}; left as it is", error.message))
            }
            Verdict::Fail(error) if matches!(piece, Piece::CheckResumed) && matches!(error.http_status, 404 | 410) => {
                self.clip_gone(&mut inner);
                let message =
                    format!("upload {handle:#x}: the clip is gone ({}); creating it again", error.http_status);
                Settled::log(LogLevel::Info, message)
            }
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.failed(&mut inner, error, events),
        }
    }

    /// Waits out `after` (RETRYING, with `error` as the reason), unless the title's `give_up_after_ms`
    /// has passed without progress.
    fn retry_later(
        &self,
        inner: &mut Inner,
        after: Duration,
        error: Error,
        doing: &str,
        events: &EventQueue,
    ) -> Settled {
        inner.life.retry_later(after, &error);
        let failing_for = inner.life.failing_for(Instant::now());
        if let Some(limit) = self.config.give_up_after.filter(|&limit| failing_for >= limit) {
            let message = format!(
                "no progress for {} s (give_up_after_ms {}); the last failure: {}",
                failing_for.as_secs(),
                limit.as_millis(),
                error.message
            );
            return self.failed(inner, Error { message, ..error }, events);
        }
        let message = format!("upload {:#x}: {}; {doing} in {} ms", self.handle, error.message, after.as_millis());
        Settled::log(LogLevel::Debug, message)
    }

    fn succeeded(&self, inner: &mut Inner, piece: Piece, status: u16, body: &[u8], events: &EventQueue) -> Settled {
        let handle = self.handle;
        match piece {
            Piece::Create => match self.parse_created(body) {
                Ok(clip) => self.created(inner, clip, events),
                Err(error) => self.failed(inner, error, events),
            },
            Piece::ConfirmCommit => match GameClip::from_get_response(body) {
                Ok(clip) if clip.state.eq_ignore_ascii_case("PendingUpload") => {
                    inner.commit_checks += 1;
                    if inner.commit_checks >= MAX_COMMIT_CHECKS {
                        let message = format!(
                            "the service acknowledged every block but still shows the clip PendingUpload after {} checks",
                            inner.commit_checks
                        );
                        return self.failed(inner, Error::http(ErrorKind::Http, status, message), events);
                    }
                    inner.phase = Phase::Ready(Step::ConfirmCommit);
                    let after = backoff(inner.commit_checks, self.config.max_retry_delay);
                    inner
                        .life
                        .retry_later(after, &Error::new(ErrorKind::Http, "the service is still joining the blocks"));
                    Settled::default()
                }
                Ok(clip) => {
                    inner.committed = true;
                    self.finish_if_done(inner, events);
                    let message =
                        format!("upload {handle:#x}: no 201 came, and the service shows the clip {}", clip.state);
                    Settled::log(LogLevel::Info, message)
                }
                Err(error) => self.failed(inner, error, events),
            },
            Piece::FindOrphans(_) => match ClipPage::from_wire(body) {
                Ok(page) => {
                    inner.orphans.extend(self.creates.orphans_in(&self.request, &page));
                    inner.pages_read += 1;
                    // Every page of the user's clips, not the first only (a service that pages forever
                    // is read no further than the limit).
                    inner.next_page = page.continuation_token.filter(|_| inner.pages_read < MAX_ORPHAN_PAGES);
                    if inner.next_page.is_some() {
                        inner.phase = Phase::Ready(Step::FindOrphans);
                        return Settled::default();
                    }
                    if inner.orphans.is_empty() {
                        self.orphans_settled(inner, events);
                        return Settled::default();
                    }
                    inner.phase = Phase::Ready(Step::RemoveOrphans);
                    let message = format!(
                        "upload {handle:#x}: removing {} clip(s) that lost answers left behind: {}",
                        inner.orphans.len(),
                        inner.orphans.join(", ")
                    );
                    Settled::log(LogLevel::Info, message)
                }
                Err(error) => self.failed(inner, error, events),
            },
            Piece::RemoveOrphan(_) => self.orphan_removed(inner, events),
            Piece::CheckResumed => match GameClip::from_get_response(body) {
                Ok(clip) if clip.state.eq_ignore_ascii_case("PendingUpload") => {
                    inner.phase = Phase::Uploading;
                    // Blocks journaled as acknowledged may be all of them, with the 201 lost in a crash.
                    self.finish_if_done(inner, events);
                    Settled::default()
                }
                Ok(clip) => {
                    inner.phase = Phase::Uploading;
                    inner.blocks = Some(BlockSet::complete(inner.layout()));
                    inner.committed = true;
                    self.finish_if_done(inner, events);
                    let message = format!(
                        "upload {handle:#x}: the service already has clip {} ({})",
                        clip.game_clip_id, clip.state
                    );
                    Settled::log(LogLevel::Info, message)
                }
                Err(error) => self.failed(inner, error, events),
            },
            Piece::Block(block) => {
                let Some(blocks) = &mut inner.blocks else { return Settled::default() };
                // A 201 while blocks are still unsent cannot be the service committing the clip as we
                // send it; trusting it would drop those blocks. It acknowledges this block only.
                let committed = status == 201 && !blocks.has_unsent();
                if !blocks.ack(block.num) {
                    return Settled::default();
                }
                inner.committed |= committed;
                inner.life.progressed(status);
                self.emit(events, inner, EventKind::Progress, RESULT_PENDING);
                self.finish_if_done(inner, events);
                Settled::record(Record::Acked { block: block.num, committed })
            }
            Piece::Thumbnail(thumbnail) => {
                for pending in inner.thumbnails.iter_mut().filter(|t| t.kind == thumbnail.kind) {
                    pending.state = ThumbnailState::Sent;
                }
                inner.life.progressed(status);
                self.finish_if_done(inner, events);
                Settled::record(Record::Thumbnail { kind: thumbnail.kind.name().into() })
            }
        }
    }

    /// The initial call's answer, its URIs checked: well-formed, and where the token may go.
    fn parse_created(&self, body: &[u8]) -> Result<CreatedClip> {
        let response: InitialUploadResponse = serde_json::from_slice(body).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service's answer to the initial call is not usable: {e}"))
        })?;
        let uris = [
            ("uploadUri", Some(&response.upload_uri)),
            ("largeThumbnailUri", response.large_thumbnail_uri.as_ref()),
            ("smallThumbnailUri", response.small_thumbnail_uri.as_ref()),
        ];
        for (name, uri) in uris {
            let Some(uri) = uri else { continue };
            let unusable = |why: String| {
                Error::http(ErrorKind::Http, 200, format!("the service handed out an unusable {name}: {why}"))
            };
            check_url(uri, self.config.allow_insecure_http).map_err(|e| unusable(e.message))?;
            if !self.config.upload_hosts.allows(uri) {
                return Err(unusable(not_an_upload_host(uri)));
            }
        }
        let upload_id = response.upload_id();
        Ok(CreatedClip { response, upload_id })
    }

    /// The initial call succeeded: blocks may go. Journaled durably (see the engine): without it a
    /// restart would create the clip a second time.
    fn created(&self, inner: &mut Inner, clip: CreatedClip, events: &EventQueue) -> Settled {
        for thumbnail in &mut inner.thumbnails {
            thumbnail.url = thumbnail.kind.handed_out_uri(&clip.response);
        }
        let record = Record::Created {
            response: serde_json::to_value(&clip.response).expect("the response serializes"),
            upload_id: clip.upload_id.clone(),
        };
        let id = clip.response.game_clip_id.clone();
        inner.phase = Phase::Uploading;
        inner.commit_checks = 0;
        inner.clip = Some(Arc::new(clip));
        inner.life.progressed(200);
        self.emit(events, inner, EventKind::ClipCreated, RESULT_PENDING);
        if let Some(thumbnail) = inner.thumbnails.iter().find(|t| t.url.is_none()) {
            let message =
                format!("the service handed out no {}ThumbnailUri for the thumbnail upload", thumbnail.kind.name());
            return self.failed(inner, Error::http(ErrorKind::Http, 200, message), events);
        }
        Settled {
            log: Some((LogLevel::Info, format!("upload {:#x}: clip {id} created", self.handle))),
            record: Some(record),
        }
    }

    /// A resumed upload's clip is gone (expired, deleted): it is created again from the start.
    fn clip_gone(&self, inner: &mut Inner) {
        inner.phase = Phase::Ready(Step::Create);
        inner.clip = None;
        inner.committed = false;
        inner.blocks = Some(BlockSet::new(inner.layout(), self.is_push()));
        for thumbnail in &mut inner.thumbnails {
            thumbnail.state = ThumbnailState::Ready;
            thumbnail.url = None;
        }
    }

    /// Once every block and thumbnail is in: completes the upload when the service said it holds the
    /// clip; otherwise asks it (a service may acknowledge every block with 200 and never 201).
    fn finish_if_done(&self, inner: &mut Inner, events: &EventQueue) {
        let complete = inner.blocks.as_ref().is_some_and(BlockSet::is_complete);
        if !complete || inner.thumbnails.iter().any(|t| t.state != ThumbnailState::Sent) {
            return;
        }
        if !inner.committed {
            inner.phase = Phase::Ready(Step::ConfirmCommit);
        } else if inner.lost_creates > 0 {
            // A lost answer of this client may have left a clip like this one behind.
            inner.phase = Phase::Ready(Step::FindOrphans);
        } else {
            self.complete(inner, events);
        }
    }

    fn complete(&self, inner: &mut Inner, events: &EventQueue) {
        if inner.end(End::Completed, None) {
            self.emit(events, inner, EventKind::Completed, RESULT_OK);
        }
    }

    fn orphan_removed(&self, inner: &mut Inner, events: &EventQueue) -> Settled {
        if inner.orphans.is_empty() {
            self.orphans_settled(inner, events);
        } else {
            inner.phase = Phase::Ready(Step::RemoveOrphans);
        }
        Settled::default()
    }

    /// The look for what lost answers left is over: the upload completes.
    fn orphans_settled(&self, inner: &mut Inner, events: &EventQueue) {
        if let Some(search) = inner.search.take() {
            search.settled();
        }
        inner.lost_creates = 0;
        self.complete(inner, events);
    }

    fn failed(&self, inner: &mut Inner, error: Error, events: &EventQueue) -> Settled {
        let message = format!("upload {:#x} failed: {}", self.handle, error.message);
        let code = error.code();
        if !inner.end(End::Failed, Some(error)) {
            return Settled::default();
        }
        self.emit(events, inner, EventKind::Failed, code);
        Settled::log(LogLevel::Warn, message)
    }

    /// Ends the upload with `error` (a panicking task, say) unless it has ended already.
    pub fn fail(&self, error: Error, events: &EventQueue) {
        let mut inner = self.inner.lock();
        self.failed(&mut inner, error, events);
    }

    pub fn cancel(&self, events: &EventQueue) -> Result<()> {
        let mut inner = self.inner.lock();
        if !inner.end(End::Cancelled, Some(Error::new(ErrorKind::Cancelled, "the upload was cancelled"))) {
            return Err(Error::new(ErrorKind::WrongState, "the upload has already finished"));
        }
        self.emit(events, &inner, EventKind::Cancelled, ErrorKind::Cancelled.code());
        Ok(())
    }

    pub fn auth_renewed(&self) {
        self.inner.lock().life.waiting_for_auth = false;
    }

    /// The back-off being waited out ends now.
    pub fn retry_now(&self) {
        self.inner.lock().life.retry_now();
    }

    fn emit(&self, events: &EventQueue, inner: &Inner, kind: EventKind, result: i32) {
        if self.released.load(Ordering::Acquire) {
            return;
        }
        let layout = inner.blocks.as_ref().map(BlockSet::layout);
        events.push(Event {
            kind,
            handle: self.handle,
            result,
            http_status: inner.life.http_status,
            bytes_done: inner.blocks.as_ref().map_or(0, BlockSet::bytes_acked),
            bytes_total: layout.map_or(0, |l| l.file_size),
        });
    }

    /// After `release`, the game hears nothing more of this upload; it still runs to its end.
    /// Counts bytes of a block's body that went out in a request the service did not accept.
    pub fn wasted(&self, bytes: u64) {
        if bytes > 0 {
            self.inner.lock().wasted += bytes;
        }
    }

    pub fn mark_released(&self) {
        self.released.store(true, Ordering::Release);
    }

    /// Copies one pushed block. Checks under the lock, copies outside it (a 2 MiB copy must not hold up
    /// the workers), then checks again: a push of the same block, or a cancel, may have come meanwhile.
    pub fn push_block(&self, num: u32, bytes: &[u8], budget: &Arc<PushBudget>) -> Result<()> {
        if !self.is_push() {
            return Err(Error::new(
                ErrorKind::WrongState,
                "this upload reads its file itself (file mode); it takes no pushed blocks",
            ));
        }
        let pushable = |inner: &Inner| -> Result<()> {
            match inner.life.end {
                None => {}
                Some(End::Completed) => return Err(Error::new(ErrorKind::WrongState, "the upload has completed")),
                Some(End::Failed) => return Err(Error::new(ErrorKind::WrongState, "the upload has failed")),
                Some(End::Cancelled) => return Err(Error::new(ErrorKind::WrongState, "the upload was cancelled")),
            }
            inner
                .blocks
                .as_ref()
                .expect("push uploads know their layout from the start")
                .check_pushable(num, bytes.len())
        };
        pushable(&self.inner.read())?;
        let block = PushedBlock::copy_of(bytes, budget).map_err(|refused| match refused {
            CopyRefused::OverBudget => Error::new(
                ErrorKind::WouldBlock,
                format!("max_buffered_bytes ({}) is in use by blocks not yet sent; push again later", budget.max()),
            ),
            CopyRefused::OutOfMemory => Error::new(
                ErrorKind::OutOfMemory,
                format!("no memory for a copy of block {num} ({} bytes); nothing was kept", bytes.len()),
            ),
        })?;
        let mut inner = self.inner.lock();
        pushable(&inner)?;
        inner.blocks.as_mut().expect("checked above").push(num, Arc::new(block))
    }

    /// Blocks the library does not hold and the service has not acknowledged.
    pub fn missing_blocks(&self) -> Vec<u32> {
        self.inner.read().blocks.as_ref().map(BlockSet::missing).unwrap_or_default()
    }

    /// Without the upload's lock: the status as published at its last change.
    pub fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        self.inner.board.read().status(paused, now)
    }

    pub fn clip_id(&self) -> Option<String> {
        self.inner.read().clip.as_ref().map(|clip| clip.response.game_clip_id.clone())
    }

    pub fn error(&self) -> Option<Error> {
        self.inner.read().life.error.clone()
    }

    pub fn has_ended(&self) -> bool {
        !self.inner.read().life.is_running()
    }

    /// The layout, once known (push mode: from the start; file mode: once the file was opened).
    pub fn layout(&self) -> Option<Layout> {
        self.inner.read().blocks.as_ref().map(BlockSet::layout)
    }

    /// The block size this upload splits its clip with.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    pub fn opened_file(&self) -> Option<Arc<OpenedFile>> {
        self.inner.read().file.clone()
    }

    /// The clip file, opened by a worker (file mode). A new upload takes its layout from it; a resumed
    /// one already has its layout (the engine checked the file is the one it began with).
    pub fn file_opened(&self, file: OpenedFile) {
        let mut inner = self.inner.lock();
        if inner.blocks.is_none() {
            inner.blocks = Some(BlockSet::new(Layout::new(file.size, self.block_size), false));
        }
        inner.file = Some(Arc::new(file));
    }

    /// Resumed file mode: how the file must still look.
    pub fn expected_identity(&self) -> Option<&FileIdentity> {
        self.expected_identity.as_ref()
    }

    /// The thumbnail images the upload sends (for its journal).
    pub fn thumbnail_paths(&self) -> Vec<(ThumbnailKind, PathBuf)> {
        self.inner.read().thumbnails.iter().map(|t| (t.kind, t.path.clone())).collect()
    }

    pub fn journal(&self) -> Option<Arc<Journal>> {
        self.journal.lock().clone()
    }

    /// `None`: no longer journaled (a write failed: the upload goes on, without resume).
    pub fn set_journal(&self, journal: Option<Journal>) {
        *self.journal.lock() = journal.map(Arc::new);
    }
}

/// What an initial call's verdict says about the clip it may have made.
fn create_outcome(verdict: &Verdict) -> CreateOutcome {
    match verdict {
        Verdict::Success { body, .. } => match serde_json::from_slice::<InitialUploadResponse>(body) {
            Ok(response) => CreateOutcome::Made(response.game_clip_id),
            Err(_) => CreateOutcome::MadeNone,
        },
        Verdict::Ambiguous { .. } => CreateOutcome::Unknown,
        Verdict::Retry { .. } | Verdict::NeedsAuth { .. } | Verdict::Fail(_) => CreateOutcome::MadeNone,
    }
}
