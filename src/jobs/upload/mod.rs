//! One upload. The engine asks it for the next [`Piece`] of work ([`Upload::next_piece`]), sends the
//! request that piece names, and hands back what became of it ([`Reply`], with the time:
//! [`Upload::settle`]). Everything an answer means (a 401, a retry, an ambiguous create, a premature
//! 201, a clip gone after a restart) is decided by the upload's state machine ([`machine`]), which owns
//! the state and does no I/O; [`Upload`] holds it under a lock, publishes its status, tells the
//! client's create ledger what it must know, and queues its events. What the engine must do afterwards
//! (a log line, a journal record) comes back as [`Settled`]. Transient failures never end an upload by
//! count (see `retry::Persistence`); only a final answer, `cancel` or the title's `give_up_after_ms`
//! does.
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
mod machine;
mod push_budget;
mod resumed;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::lifecycle::NextTask;
use crate::jobs::retry::Idempotency;
use crate::jobs::{Reply, Sinks, Tracked, Wrapped};
use crate::journal::{FileIdentity, Journal, Record};
use crate::log::{LogLevel, Logger};
use crate::protocol::{ClipPage, InitialUploadRequest, InitialUploadResponse};

pub use clip_file::{Layout, OpenedFile};
use creates::{siblings_key, CreateLedger, CreateOutcome, Search};
pub use machine::{Bookkeeping, SearchEnd, Settled, UploadMachine};
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

pub struct Upload {
    pub handle: u64,
    pub scid: String,
    pub data: UploadData,
    /// The initial call's body; `file_size` and `expected_blocks` are filled in from the layout.
    pub request: InitialUploadRequest,
    creates: Arc<CreateLedger>,
    /// Which uploads' initial calls make clips that look alike (see [`creates`]).
    siblings_key: String,
    /// Resumed file mode: how the file looked when the upload began.
    expected_identity: Option<FileIdentity>,
    /// Written by the engine only; `None`: not journaled (no journal dir, or it could not be written).
    journal: Mutex<Option<Arc<Journal>>>,
    /// The leave to look for orphans, held while the machine looks (taken after the machine's lock).
    search: Mutex<Option<Search>>,
    inner: Tracked<UploadMachine>,
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
        let (is_push, size) = match data {
            UploadData::Push { size } => (true, size),
            UploadData::File { size, .. } => (false, size),
        };
        let machine = UploadMachine::new(handle, is_push, size, thumbnails, config);
        Upload::with_machine(handle, scid, data, request, creates, machine)
    }

    fn with_machine(
        handle: u64,
        scid: String,
        data: UploadData,
        request: InitialUploadRequest,
        creates: Arc<CreateLedger>,
        machine: UploadMachine,
    ) -> Upload {
        Upload {
            handle,
            siblings_key: siblings_key(&scid, &request),
            scid,
            data,
            request,
            creates,
            expected_identity: None,
            journal: Mutex::new(None),
            search: Mutex::new(None),
            inner: Tracked::new(machine),
        }
    }

    /// An upload read back from its journal, as far as it had got, and what its machine asks for (see
    /// [`UploadMachine::resumed`]).
    pub fn resume(
        handle: u64,
        mut resumed: Resumed,
        config: Arc<Config>,
        creates: Arc<CreateLedger>,
    ) -> (Upload, Settled) {
        let (UploadData::File { size, .. } | UploadData::Push { size }) = resumed.data;
        let is_push = matches!(resumed.data, UploadData::Push { .. });
        let (machine, settled) = UploadMachine::resumed(handle, is_push, size, &mut resumed, config);
        let mut upload = Upload::with_machine(handle, resumed.scid, resumed.data, resumed.request, creates, machine);
        upload.expected_identity = resumed.identity;
        *upload.journal.get_mut() = Some(Arc::new(resumed.journal));
        upload.creates.lost_before(&upload.siblings_key, resumed.lost_creates);
        if let Some(id) = upload.clip_id() {
            upload.creates.own_clip(&id);
        }
        (upload, settled)
    }

    pub fn is_push(&self) -> bool {
        matches!(self.data, UploadData::Push { .. })
    }

    /// The next request to send, if any may go now.
    pub fn next_piece(&self, now: Instant) -> NextTask<Piece> {
        let mut machine = self.inner.lock();
        if machine.wants_to_search() {
            // While a sibling's initial call is in flight, its clip could pass for an orphan.
            let Some(search) = self.creates.begin_search(&self.siblings_key) else { return NextTask::Wait(None) };
            *self.search.lock() = Some(search);
            machine.search_began();
        }
        let next = machine.next_piece(now);
        if let NextTask::Run(Piece::Create) = next {
            self.creates.create_sent(&self.siblings_key);
        }
        next
    }

    /// A piece taken for sending that was not sent (its host did not admit it, the client paused or
    /// stopped): back in the queue, no retry counted.
    pub fn put_back(&self, piece: Piece, sinks: Sinks<'_>) {
        let settled = self.inner.lock().put_back(&piece);
        debug_assert!(
            settled.events.is_empty() && settled.log.is_none(),
            "a piece put back changes nothing the game hears of"
        );
        self.apply(settled, sinks);
    }

    /// Where `piece`'s request goes (the scheduler asks its host's leave).
    pub fn url_of(&self, piece: &Piece, metadata_base_url: &str) -> String {
        match piece {
            Piece::Block(block) => block.clip.response.upload_uri.clone(),
            Piece::Thumbnail(thumbnail) => thumbnail.url.clone(),
            _ => metadata_base_url.to_string(),
        }
    }

    /// Hands the machine what became of `piece`'s request, and carries out its decision.
    pub fn settle(&self, piece: Piece, reply: Reply, now: Instant, sinks: Sinks<'_>) {
        let settled = self.decide(piece, reply, now);
        self.apply(settled, sinks);
    }

    /// The machine's decision on `piece`'s request, not yet carried out.
    fn decide(&self, piece: Piece, reply: Reply, now: Instant) -> Settled {
        let orphans_in = |page: &ClipPage| self.creates.orphans_in(&self.request, page);
        self.inner.lock().settle(piece, reply, now, &orphans_in)
    }

    /// The create ledger hears what the machine says of initial calls and of the look for orphans.
    fn tell_ledger(&self, create: Option<CreateOutcome>, search_ended: Option<SearchEnd>) {
        if let Some(outcome) = create {
            self.creates.create_settled(&self.siblings_key, outcome);
        }
        match search_ended {
            Some(SearchEnd::Settled) => self.search.lock().take().map_or((), Search::settled),
            Some(SearchEnd::Dropped) => drop(self.search.lock().take()),
            None => {}
        }
    }

    /// Appends a record. `Created` is made durable at once: without it a restart would create the clip
    /// a second time. A journal that cannot be written costs the ability to resume, not the upload.
    fn write_record(&self, record: &Record, log: &Logger) {
        let Some(journal) = self.journal() else { return };
        let durable = matches!(record, Record::Created { .. });
        let written = journal.append(record).and_then(|()| if durable { journal.sync() } else { Ok(()) });
        if let Err(e) = written {
            log.log(LogLevel::Warn, || {
                format!("upload {:#x}: the journal cannot be written ({e}); it will not resume", self.handle)
            });
            self.set_journal(None);
        }
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
        self.inner.peek().check_pushable(num, bytes.len())?;
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
        self.inner.lock().push(num, Arc::new(block))
    }

    /// Blocks the library does not hold and the service has not acknowledged.
    pub fn missing_blocks(&self) -> Vec<u32> {
        self.inner.peek().missing_blocks()
    }

    pub fn clip_id(&self) -> Option<String> {
        self.inner.peek().clip_id()
    }

    pub fn has_ended(&self) -> bool {
        self.inner.peek().has_ended()
    }

    /// The layout, once known (push mode: from the start; file mode: once the file was opened).
    pub fn layout(&self) -> Option<Layout> {
        self.inner.peek().layout()
    }

    /// The block size this upload splits its clip with.
    pub fn block_size(&self) -> u32 {
        self.inner.peek().block_size()
    }

    pub fn opened_file(&self) -> Option<Arc<OpenedFile>> {
        self.inner.peek().opened_file()
    }

    /// The clip file, opened by a worker (file mode).
    pub fn file_opened(&self, file: OpenedFile) {
        self.inner.lock().file_opened(file);
    }

    /// Resumed file mode: how the file must still look.
    pub fn expected_identity(&self) -> Option<&FileIdentity> {
        self.expected_identity.as_ref()
    }

    /// The thumbnail images the upload sends (for its journal).
    pub fn thumbnail_paths(&self) -> Vec<(ThumbnailKind, PathBuf)> {
        self.inner.peek().thumbnail_paths()
    }

    pub fn journal(&self) -> Option<Arc<Journal>> {
        self.journal.lock().clone()
    }

    /// `None`: no longer journaled (a write failed: the upload goes on, without resume).
    pub fn set_journal(&self, journal: Option<Journal>) {
        *self.journal.lock() = journal.map(Arc::new);
    }
}

impl Wrapped for Upload {
    type Machine = UploadMachine;

    fn tracked(&self) -> &Tracked<UploadMachine> {
        &self.inner
    }

    fn apply_own(&self, own: Bookkeeping, log: &Logger) {
        self.tell_ledger(own.create, own.search_ended);
        if let Some(record) = own.journal {
            self.write_record(&record, log);
        }
    }
}
