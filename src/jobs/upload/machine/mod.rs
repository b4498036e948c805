//! The upload's state machine itself: it owns the upload's state, is handed the time and what became
//! of each request ([`Reply`]: the raw outcome, or why there is none), classifies it, and says what
//! follows ([`Settled`]: events, a journal record, a log line, what the create ledger must learn). No
//! clock, no lock, no queue and no shared state inside: [`super::Upload`] holds it under its lock and
//! applies what it returns.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::events::{Event, EventKind};
use crate::jobs::lifecycle::{Lifecycle, NextTask, Readiness};
use crate::jobs::retry::{classify, Persistence, Verdict};
use crate::jobs::status::{End, Published, UploadState, UploadStatus, RESULT_PENDING};
use crate::jobs::{Machine, Reply};
use crate::journal::Record;
use crate::log::LogLevel;
use crate::pacing::backoff::Jitter;
use crate::protocol::{ClipPage, GameClip, InitialUploadResponse};

use super::blocks::BlockSet;
use super::clip_file::{Layout, OpenedFile};
use super::creates::CreateOutcome;
use super::{BlockPiece, CreatedClip, Piece, ThumbnailKind, ThumbnailPiece};

mod bookkeeping;
mod data;
mod finish;
mod resume;

pub use bookkeeping::{Bookkeeping, SearchEnd, Settled};

/// The requests that come before any block, and after the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Create,
    CheckResumed,
    ConfirmCommit,
    FindOrphans,
    RemoveOrphans,
}

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

pub struct UploadMachine {
    handle: u64,
    is_push: bool,
    block_size: u32,
    config: Arc<Config>,
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
    /// The look for what lost answers left has leave to run (see `creates::Search`).
    searching: bool,
    /// Clips a lost answer left behind, found and still to be removed.
    orphans: Vec<String>,
    /// The look for them: the next page of the user's clips, and how many pages were read.
    next_page: Option<String>,
    pages_read: u32,
    /// Bytes of blocks sent that no accepted block carried.
    wasted: u64,
    /// Its own draws of back-offs.
    jitter: Jitter,
    /// What the decisions since the last drain call for.
    out: Settled,
}

impl UploadMachine {
    pub fn new(
        handle: u64,
        is_push: bool,
        size: u64,
        thumbnails: Vec<(ThumbnailKind, PathBuf)>,
        config: Arc<Config>,
    ) -> UploadMachine {
        let block_size = config.block_size;
        let jitter = Jitter::for_owner(config.jitter_seed, handle);
        UploadMachine {
            handle,
            is_push,
            block_size,
            config,
            life: Lifecycle::default(),
            phase: Phase::Ready(Step::Create),
            blocks: is_push.then(|| BlockSet::new(Layout::new(size, block_size), true)),
            file: None,
            clip: None,
            committed: false,
            commit_checks: 0,
            thumbnails: thumbnails
                .into_iter()
                .map(|(kind, path)| PendingThumbnail { kind, path, url: None, state: ThumbnailState::Ready })
                .collect(),
            lost_creates: 0,
            searching: false,
            orphans: Vec::new(),
            next_page: None,
            pages_read: 0,
            wasted: 0,
            jitter,
            out: Settled::default(),
        }
    }

    /// How persistent an upload is through transient failures.
    pub fn persistence(&self) -> Persistence {
        Persistence::UntilFinal { max_delay: self.config.max_retry_delay }
    }
}

/// Why the URIs the initial call handed out may not be used (uploads go only to allowed upload hosts,
/// over https unless allowed otherwise). Checked where they enter: the service's answer, the journal.
fn check_handed_out(response: &InitialUploadResponse, config: &Config) -> std::result::Result<(), String> {
    let uris = [
        ("uploadUri", Some(&response.upload_uri)),
        ("largeThumbnailUri", response.large_thumbnail_uri.as_ref()),
        ("smallThumbnailUri", response.small_thumbnail_uri.as_ref()),
    ];
    for (name, uri) in uris {
        let Some(uri) = uri else { continue };
        if let Err(error) = config.upload_hosts.check(uri, config.allow_insecure_http) {
            return Err(format!("an unusable {name}: {}", error.message));
        }
    }
    Ok(())
}

impl Machine for UploadMachine {
    type Own = Bookkeeping;

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
        let layout = self.layout();
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

    fn fail(&mut self, error: Error) -> Settled {
        self.failed(error);
        self.drain()
    }

    fn cancel(&mut self) -> Result<Settled> {
        if !self.end(End::Cancelled, Some(Error::new(ErrorKind::Cancelled, "the upload was cancelled"))) {
            return Err(Error::new(ErrorKind::WrongState, "the upload has already finished"));
        }
        self.emit(EventKind::Cancelled, ErrorKind::Cancelled.code());
        self.log(LogLevel::Info, format!("upload {:#x} cancelled", self.handle));
        Ok(self.drain())
    }

    fn life(&mut self) -> &mut Lifecycle {
        &mut self.life
    }

    fn life_ref(&self) -> &Lifecycle {
        &self.life
    }
}

impl UploadMachine {
    /// The next request to send, if any may go now.
    pub fn next_piece(&mut self, now: Instant) -> NextTask<Piece> {
        match self.life.gate(now) {
            Readiness::Open => {}
            Readiness::Wait(at) => return NextTask::Wait(at),
            Readiness::Ended => return NextTask::Finished,
        }
        match self.phase {
            Phase::Ready(Step::FindOrphans) if !self.searching => NextTask::Wait(None),
            Phase::Ready(Step::RemoveOrphans) => {
                let Some(id) = self.orphans.pop() else { return NextTask::Wait(None) };
                self.phase = Phase::Awaiting(Step::RemoveOrphans);
                NextTask::Run(Piece::RemoveOrphan(id))
            }
            Phase::Ready(step) => {
                self.phase = Phase::Awaiting(step);
                NextTask::Run(match step {
                    Step::Create => Piece::Create,
                    Step::CheckResumed => Piece::CheckResumed,
                    Step::ConfirmCommit => Piece::ConfirmCommit,
                    Step::FindOrphans => Piece::FindOrphans(self.next_page.clone()),
                    Step::RemoveOrphans => unreachable!("handled above"),
                })
            }
            Phase::Awaiting(_) => NextTask::Wait(None),
            Phase::Uploading => self.next_upload_piece(),
        }
    }

    /// A thumbnail first (they are small, and the clip is not complete without them), then a block.
    fn next_upload_piece(&mut self) -> NextTask<Piece> {
        let ready = self.thumbnails.iter_mut().find(|t| t.state == ThumbnailState::Ready && t.url.is_some());
        if let Some(thumbnail) = ready {
            thumbnail.state = ThumbnailState::InFlight;
            let url = thumbnail.url.clone().expect("found with a URL");
            return NextTask::Run(Piece::Thumbnail(ThumbnailPiece {
                kind: thumbnail.kind,
                path: thumbnail.path.clone(),
                url,
            }));
        }
        let (Some(blocks), Some(clip)) = (&mut self.blocks, &self.clip) else { return NextTask::Wait(None) };
        let Some(taken) = blocks.take_ready() else { return NextTask::Wait(None) };
        let layout = blocks.layout();
        NextTask::Run(Piece::Block(BlockPiece {
            num: taken.num,
            offset: layout.offset(taken.num),
            len: layout.block_len(taken.num),
            clip: clip.clone(),
            data: taken.data,
            file: self.file.clone(),
        }))
    }

    /// Decides what became of `piece`'s request. `orphans_in`: the clips of a page of the user's that
    /// this client's lost answers left (the create ledger's judgement, handed in).
    pub fn settle(
        &mut self,
        piece: Piece,
        reply: Reply,
        now: Instant,
        orphans_in: &dyn Fn(&ClipPage) -> Vec<String>,
    ) -> Settled {
        let verdict = match reply {
            Reply::NoToken => Verdict::NeedsAuth { status: 0 },
            Reply::Local(error) => Verdict::Fail(error),
            Reply::Sent { outcome, abandoned, body_sent } => {
                let attempt = self.life.consecutive_failures;
                let (what, idempotency) = (piece.what(), piece.idempotency());
                let verdict = classify(outcome, &what, idempotency, attempt, self.persistence(), &mut self.jitter);
                if !matches!(verdict, Verdict::Success { .. }) {
                    self.wasted += body_sent;
                }
                let cut_short = matches!(verdict, Verdict::Retry { .. } | Verdict::Ambiguous { .. });
                if abandoned && cut_short {
                    // An initial call that may have made a clip: looked for once the upload is in.
                    self.requeue_unsent(&piece, matches!(verdict, Verdict::Ambiguous { .. }));
                    return self.drain();
                }
                verdict
            }
        };
        if matches!(piece, Piece::Create) {
            self.out.own.create = Some(create_outcome(&verdict));
        }
        if self.life.is_running() {
            self.decide(piece, verdict, now, orphans_in);
        }
        self.drain()
    }

    /// What the decisions since the last call ask for.
    fn drain(&mut self) -> Settled {
        std::mem::take(&mut self.out)
    }

    /// A piece taken and not sent (its host did not admit it, the client paused or stopped): back in
    /// the queue, no retry counted. Nothing the game hears of, and no log line.
    pub fn put_back(&mut self, piece: &Piece) -> Settled {
        self.requeue_unsent(piece, false);
        self.drain()
    }

    /// Back in the queue, no retry counted. `may_have_acted`: an initial call that may have made a clip.
    fn requeue_unsent(&mut self, piece: &Piece, may_have_acted: bool) {
        if matches!(piece, Piece::Create) {
            self.out.own.create = Some(if may_have_acted { CreateOutcome::Unknown } else { CreateOutcome::MadeNone });
            self.lost_creates += u32::from(may_have_acted);
        }
        self.requeue(piece);
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
                // The look starts over from the first page, with leave asked for again.
                self.end_search(SearchEnd::Dropped);
                self.phase = Phase::Ready(Step::FindOrphans);
            }
            Piece::Create | Piece::CheckResumed | Piece::ConfirmCommit => {
                if let Phase::Awaiting(step) = self.phase {
                    self.phase = Phase::Ready(step);
                }
            }
        }
    }

    fn decide(&mut self, piece: Piece, verdict: Verdict, now: Instant, orphans_in: &dyn Fn(&ClipPage) -> Vec<String>) {
        let handle = self.handle;
        match verdict {
            Verdict::Success { status, body } => self.succeeded(piece, status, &body, now, orphans_in),
            Verdict::Retry { after, error } => {
                self.requeue(&piece);
                self.retry_later(after, error, "retrying", now);
            }
            Verdict::NeedsAuth { status } => {
                self.requeue(&piece);
                if self.life.wait_for_auth(status) {
                    self.emit(EventKind::NeedsAuth, RESULT_PENDING);
                }
            }
            Verdict::Ambiguous { error } if matches!(piece, Piece::Create) => {
                // The service may have made a clip, but its upload URI was in the lost answer: create
                // again; what the lost call left is removed once this upload is in (see `creates`).
                self.phase = Phase::Ready(Step::Create);
                self.lost_creates += 1;
                // Journaled before the call goes again: a crash in between still leaves it to remove.
                self.out.own.journal = Some(Record::LostCreate);
                let after = self.jitter.backoff(self.life.consecutive_failures, self.config.max_retry_delay);
                self.retry_later(after, error, "creating again; a clip it may have left is removed later", now);
            }
            // Tidying up after a lost answer never fails a clip the service holds.
            Verdict::Ambiguous { error } | Verdict::Fail(error)
                if matches!(piece, Piece::FindOrphans(_) | Piece::RemoveOrphan(_)) =>
            {
                let gone = error.http_status == 404 || error.http_status == 410;
                if let (Piece::RemoveOrphan(_), true) = (&piece, gone) {
                    return self.orphan_removed();
                }
                self.orphans.clear();
                self.orphans_settled();
                self.log(LogLevel::Warn, format!("upload {handle:#x}: {}; left as it is", error.message));
            }
            Verdict::Fail(error) if matches!(piece, Piece::CheckResumed) && matches!(error.http_status, 404 | 410) => {
                self.clip_gone();
                let message =
                    format!("upload {handle:#x}: the clip is gone ({}); creating it again", error.http_status);
                self.log(LogLevel::Info, message);
            }
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.failed(error),
        }
    }

    /// Waits out `after` (RETRYING, with `error` as the reason), unless the title's `give_up_after_ms`
    /// has passed without progress.
    fn retry_later(&mut self, after: Duration, error: Error, doing: &str, now: Instant) {
        self.life.retry_later(after, &error, now);
        let failing_for = self.life.failing_for(now);
        if let Some(limit) = self.config.give_up_after.filter(|&limit| failing_for >= limit) {
            let message = format!(
                "no progress for {} s (give_up_after_ms {}); the last failure: {}",
                failing_for.as_secs(),
                limit.as_millis(),
                error.message
            );
            return self.failed(Error { message, ..error });
        }
        let message = format!("upload {:#x}: {}; {doing} in {} ms", self.handle, error.message, after.as_millis());
        self.log(LogLevel::Debug, message);
    }

    fn succeeded(
        &mut self,
        piece: Piece,
        status: u16,
        body: &[u8],
        now: Instant,
        orphans_in: &dyn Fn(&ClipPage) -> Vec<String>,
    ) {
        match piece {
            Piece::Create => match self.parse_created(body) {
                Ok(clip) => self.created(clip),
                Err(error) => self.failed(error),
            },
            Piece::ConfirmCommit => match GameClip::from_get_response(body) {
                Ok(clip) => self.commit_checked(&clip, status, now),
                Err(error) => self.failed(error),
            },
            Piece::FindOrphans(_) => match ClipPage::from_wire(body) {
                Ok(page) => self.orphans_listed(&page, orphans_in),
                Err(error) => self.failed(error),
            },
            Piece::RemoveOrphan(_) => self.orphan_removed(),
            Piece::CheckResumed => match GameClip::from_get_response(body) {
                Ok(clip) => self.resumed_clip_checked(&clip),
                Err(error) => self.failed(error),
            },
            Piece::Block(block) => {
                let Some(blocks) = &mut self.blocks else { return };
                // A 201 while blocks are still unsent cannot be the service committing the clip as we
                // send it; trusting it would drop those blocks. It acknowledges this block only.
                let committed = status == 201 && !blocks.has_unsent();
                if !blocks.ack(block.num) {
                    return;
                }
                self.committed |= committed;
                self.life.progressed(status);
                self.emit(EventKind::Progress, RESULT_PENDING);
                self.finish_if_done();
                self.out.own.journal = Some(Record::Acked { block: block.num, committed });
            }
            Piece::Thumbnail(thumbnail) => {
                for pending in self.thumbnails.iter_mut().filter(|t| t.kind == thumbnail.kind) {
                    pending.state = ThumbnailState::Sent;
                }
                self.life.progressed(status);
                self.finish_if_done();
                self.out.own.journal = Some(Record::Thumbnail { kind: thumbnail.kind.name().into() });
            }
        }
    }

    /// The initial call's answer, its URIs checked: well-formed, and where the token may go.
    fn parse_created(&self, body: &[u8]) -> Result<CreatedClip> {
        let response: InitialUploadResponse = serde_json::from_slice(body).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service's answer to the initial call is not usable: {e}"))
        })?;
        check_handed_out(&response, &self.config)
            .map_err(|why| Error::http(ErrorKind::Http, 200, format!("the service handed out {why}")))?;
        let upload_id = response.upload_id();
        Ok(CreatedClip { response, upload_id })
    }

    /// The initial call succeeded: blocks may go. Journaled durably (see the engine): without it a
    /// restart would create the clip a second time.
    fn created(&mut self, clip: CreatedClip) {
        for thumbnail in &mut self.thumbnails {
            thumbnail.url = thumbnail.kind.handed_out_uri(&clip.response);
        }
        let record = Record::Created {
            response: serde_json::to_value(&clip.response).expect("the response serializes"),
            upload_id: clip.upload_id.clone(),
        };
        let id = clip.response.game_clip_id.clone();
        self.phase = Phase::Uploading;
        self.commit_checks = 0;
        self.clip = Some(Arc::new(clip));
        self.life.progressed(200);
        self.emit(EventKind::ClipCreated, RESULT_PENDING);
        if let Some(thumbnail) = self.thumbnails.iter().find(|t| t.url.is_none()) {
            let message =
                format!("the service handed out no {}ThumbnailUri for the thumbnail upload", thumbnail.kind.name());
            return self.failed(Error::http(ErrorKind::Http, 200, message));
        }
        self.out.own.journal = Some(record);
        self.log(LogLevel::Info, format!("upload {:#x}: clip {id} created", self.handle));
    }

    fn failed(&mut self, error: Error) {
        let message = format!("upload {:#x} failed: {}", self.handle, error.message);
        let code = error.code();
        if self.end(End::Failed, Some(error)) {
            self.emit(EventKind::Failed, code);
            self.log(LogLevel::Warn, message);
        }
    }

    /// Ends the upload; false when it had ended already. Copies are dropped (giving their push budget
    /// back), the file is closed and a look for orphans gives its leave back.
    fn end(&mut self, end: End, error: Option<Error>) -> bool {
        if !self.life.finish(end, error) {
            return false;
        }
        self.end_search(SearchEnd::Dropped);
        if let Some(blocks) = &mut self.blocks {
            blocks.discard();
        }
        self.file = None;
        true
    }

    fn emit(&mut self, kind: EventKind, result: i32) {
        let layout = self.layout();
        self.out.events.push(Event {
            kind,
            handle: self.handle,
            result,
            http_status: self.life.http_status,
            bytes_done: self.blocks.as_ref().map_or(0, BlockSet::bytes_acked),
            bytes_total: layout.map_or(0, |l| l.file_size),
        });
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.out.log = Some((level, message));
    }

    pub fn clip_id(&self) -> Option<String> {
        self.clip.as_ref().map(|clip| clip.response.game_clip_id.clone())
    }

    pub fn has_ended(&self) -> bool {
        !self.life.is_running()
    }

    /// The thumbnail images the upload sends (for its journal).
    pub fn thumbnail_paths(&self) -> Vec<(ThumbnailKind, PathBuf)> {
        self.thumbnails.iter().map(|t| (t.kind, t.path.clone())).collect()
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
