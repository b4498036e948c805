//! One upload's bookkeeping: which blocks are missing, ready, in flight or acknowledged, its phase,
//! retries and the events its transitions emit. No I/O happens here; the engine does it and reports back.

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use crate::status_board::{Published, StatusBoard};

use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind, EventQueue};
use crate::journal::{FileIdentity, Journal, Record};
use crate::lifecycle::{End, Gate, Lifecycle, NextTask};
use crate::protocol::{InitialUploadRequest, InitialUploadResponse};

pub use crate::lifecycle::{UploadState, RESULT_OK, RESULT_PENDING};

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
}

/// A snapshot of one upload, taken without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadStatus {
    pub state: UploadState,
    /// `RESULT_PENDING` while running, `RESULT_OK` or an error code when done.
    pub result: i32,
    pub http_status: u16,
    pub bytes_total: u64,
    pub bytes_acked: u64,
    pub blocks_total: u32,
    pub blocks_acked: u32,
    pub retries: u32,
    pub retry_in_ms: u32,
}

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
}

/// The push-mode copy budget shared by all uploads of a client, and the block buffers it lends: a
/// buffer given back is kept for the next push, so a push is a copy into warm memory, not a fresh
/// 2 MiB allocation the OS must fault in (at most the budget's worth is kept).
pub struct PushBudget {
    used: AtomicU64,
    max: u64,
    /// The client's block size: every buffer has it, so any spare one fits any block.
    block_size: usize,
    spare: parking_lot::Mutex<Vec<Box<[u8]>>>,
}

impl PushBudget {
    pub fn new(max: u64, block_size: u32) -> PushBudget {
        let block_size = block_size as usize;
        PushBudget { used: AtomicU64::new(0), max, block_size, spare: parking_lot::Mutex::new(Vec::new()) }
    }

    fn try_reserve(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= self.max).then_some(used + bytes)
            })
            .is_ok()
    }

    /// A buffer of `len` bytes: for a full block, a spare one if there is one. Shorter (last) blocks
    /// get their own, so memory stays within the budget, which counts pushed bytes.
    fn buffer(&self, len: usize) -> Box<[u8]> {
        let spare = if len == self.block_size { self.spare.lock().pop() } else { None };
        spare.unwrap_or_else(|| vec![0u8; len].into_boxed_slice())
    }

    fn give_back(&self, buffer: Box<[u8]>) {
        let mut spare = self.spare.lock();
        if buffer.len() == self.block_size && (spare.len() as u64 + 1) * self.block_size as u64 <= self.max {
            spare.push(buffer);
        }
    }
}

/// A reservation of push budget; given back when dropped.
pub struct Reservation {
    budget: Arc<PushBudget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A copy of a pushed block. Its budget (and its buffer) is given back when the last reference goes
/// (acknowledged, cancelled or failed).
pub struct PushedBlock {
    buffer: Option<Box<[u8]>>,
    reservation: Reservation,
}

impl PushedBlock {
    fn copy_of(bytes: &[u8], reservation: Reservation) -> PushedBlock {
        let mut buffer = reservation.budget.buffer(bytes.len());
        buffer.copy_from_slice(bytes);
        PushedBlock { buffer: Some(buffer), reservation }
    }

    pub fn bytes(&self) -> &[u8] {
        self.buffer.as_deref().unwrap_or_default()
    }
}

impl Drop for PushedBlock {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.reservation.budget.give_back(buffer);
        }
    }
}

enum Block {
    Missing,
    Ready(Option<Arc<PushedBlock>>),
    InFlight(Option<Arc<PushedBlock>>),
    Acked,
}

/// Where the initial call said a thumbnail image goes.
fn handed_out_uri(response: &InitialUploadResponse, kind: ThumbnailKind) -> Option<String> {
    match kind {
        ThumbnailKind::Large => response.large_thumbnail_uri.clone(),
        ThumbnailKind::Small => response.small_thumbnail_uri.clone(),
    }
}

/// What the initial call returned.
pub struct CreatedClip {
    pub response: InitialUploadResponse,
    pub upload_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Creating,
    /// Resumed from the journal after its clip was created: ask the service how far it got.
    Resuming,
    Uploading,
}

/// What the service says of a resumed upload's clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceView {
    /// Still waiting for blocks: send the ones not acknowledged.
    Pending,
    /// The service has the whole clip: nothing to send.
    Committed,
    /// The clip is gone (expired, deleted): create it again.
    Gone,
}

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
}

impl Resumed {
    /// Reads the records of one journal; `None` when they do not describe an upload.
    pub fn from_records(journal: Journal, records: Vec<Record>) -> Option<Resumed> {
        let mut records = records.into_iter();
        let Some(Record::Start { scid, path, file, size, block_size, request, thumbnails }) = records.next() else {
            return None;
        };
        let kind = |name: &str| match name {
            "large" => Some(ThumbnailKind::Large),
            "small" => Some(ThumbnailKind::Small),
            _ => None,
        };
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
        };
        let block_sizes = crate::protocol::MIN_BLOCK_SIZE..=crate::protocol::MAX_BLOCK_SIZE;
        if !block_sizes.contains(&block_size) || size == 0 || size > crate::protocol::MAX_FILE_SIZE {
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
                Record::Start { .. } | Record::Acked { .. } => return None,
            }
        }
        resumed.acked.sort_unstable();
        resumed.acked.dedup();
        Some(resumed)
    }
}

impl Inner {
    fn published(&self) -> Published {
        let working = match self.stage {
            Stage::Creating | Stage::Resuming => UploadState::Creating,
            Stage::Uploading
                if self.ready.is_empty()
                    && self.in_flight == 0
                    && self.thumbnails.iter().all(|t| t.state == ThumbnailState::Sent) =>
            {
                UploadState::WaitingForData
            }
            Stage::Uploading => UploadState::Uploading,
        };
        Published {
            status: UploadStatus {
                state: working,
                result: self.life.result(),
                http_status: self.life.http_status,
                bytes_total: self.layout.map_or(0, |l| l.file_size),
                bytes_acked: self.bytes_acked,
                blocks_total: self.layout.map_or(0, |l| l.blocks),
                blocks_acked: self.blocks_acked,
                retries: self.life.retries,
                retry_in_ms: 0,
            },
            end: self.life.end,
            waiting_for_auth: self.life.waiting_for_auth,
            retry_at: self.life.retry_at,
        }
    }
}

/// One request's worth of an upload, named when its outcome comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Create,
    /// The check, after an ambiguous create, of whether the service made the clip.
    VerifyCreate,
    /// The check of how far a resumed upload got.
    CheckResumed,
    Block(u32),
    Thumbnail(ThumbnailKind),
}

/// Work for a worker.
pub enum Task {
    Create,
    VerifyCreate,
    /// A resumed upload: check the clip file (file mode) and ask the service how far it got.
    CheckResumed,
    Block(BlockTask),
    Thumbnail(ThumbnailTask),
}

pub struct BlockTask {
    pub num: u32,
    pub offset: u64,
    pub len: usize,
    pub clip: Arc<CreatedClip>,
    /// Push mode: the copy. File mode: `None`, read from `file`.
    pub data: Option<Arc<PushedBlock>>,
    pub file: Option<Arc<OpenedFile>>,
}

pub struct ThumbnailTask {
    pub kind: ThumbnailKind,
    pub path: PathBuf,
    pub url: String,
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
    stage: Stage,
    create_in_flight: bool,
    /// An earlier create may or may not have reached the service: check before sending it again.
    verify_create: bool,
    layout: Option<Layout>,
    file: Option<Arc<OpenedFile>>,
    clip: Option<Arc<CreatedClip>>,
    blocks: Vec<Block>,
    ready: VecDeque<u32>,
    in_flight: u32,
    blocks_acked: u32,
    bytes_acked: u64,
    committed: bool,
    thumbnails: Vec<PendingThumbnail>,
    journal: Option<Arc<Journal>>,
    /// Resumed file mode: how the file looked when the upload began.
    expected_identity: Option<FileIdentity>,
}

pub struct Upload {
    pub handle: u64,
    pub scid: String,
    pub data: UploadData,
    /// The initial call's body; `file_size` and `expected_blocks` are filled in from the layout.
    pub request: InitialUploadRequest,
    block_size: u32,
    released: AtomicBool,
    inner: Guarded,
}

/// The upload's state behind its lock, and the status published from it each time the lock is let
/// go, for `status` to read without taking the lock.
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

    fn lock(&self) -> InnerGuard<'_> {
        InnerGuard { guard: self.inner.lock(), board: &self.board }
    }
}

struct InnerGuard<'a> {
    guard: parking_lot::MutexGuard<'a, Inner>,
    board: &'a StatusBoard,
}

impl std::ops::Deref for InnerGuard<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for InnerGuard<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Drop for InnerGuard<'_> {
    fn drop(&mut self) {
        self.board.publish(&self.guard.published());
    }
}

impl Upload {
    pub fn new(
        handle: u64,
        scid: String,
        data: UploadData,
        request: InitialUploadRequest,
        thumbnails: Vec<(ThumbnailKind, PathBuf)>,
        block_size: u32,
    ) -> Upload {
        let layout = match data {
            UploadData::Push { size } => Some(Layout::new(size, block_size)),
            UploadData::File { .. } => None,
        };
        let blocks = layout.map_or(0, |l| l.blocks as usize);
        Upload {
            handle,
            scid,
            data,
            request,
            block_size,
            released: AtomicBool::new(false),
            inner: Guarded::new(Inner {
                life: Lifecycle::default(),
                stage: Stage::Creating,
                create_in_flight: false,
                verify_create: false,
                layout,
                file: None,
                clip: None,
                blocks: (0..blocks).map(|_| Block::Missing).collect(),
                ready: VecDeque::new(),
                in_flight: 0,
                blocks_acked: 0,
                bytes_acked: 0,
                committed: false,
                thumbnails: thumbnails
                    .into_iter()
                    .map(|(kind, path)| PendingThumbnail { kind, path, url: None, state: ThumbnailState::Ready })
                    .collect(),
                journal: None,
                expected_identity: None,
            }),
        }
    }

    /// An upload read back from its journal, as far as it had got.
    pub fn resume(handle: u64, resumed: Resumed) -> Upload {
        let thumbnails = resumed.thumbnails.clone();
        let upload = Upload::new(handle, resumed.scid, resumed.data, resumed.request, thumbnails, resumed.block_size);
        {
            let mut inner = upload.inner.lock();
            let inner = &mut *inner;
            let layout = match upload.data {
                UploadData::File { size, .. } | UploadData::Push { size } => Layout::new(size, resumed.block_size),
            };
            upload.reset_blocks(inner, layout);
            inner.journal = Some(Arc::new(resumed.journal));
            inner.expected_identity = resumed.identity;
            if let Some(created) = resumed.created {
                for &num in &resumed.acked {
                    inner.blocks[num as usize] = Block::Acked;
                    inner.blocks_acked += 1;
                    inner.bytes_acked += layout.block_len(num) as u64;
                }
                inner.ready.retain(|num| resumed.acked.binary_search(num).is_err());
                inner.committed = resumed.committed;
                for thumbnail in &mut inner.thumbnails {
                    thumbnail.url = handed_out_uri(&created.response, thumbnail.kind);
                    if resumed.thumbnails_sent.contains(&thumbnail.kind) {
                        thumbnail.state = ThumbnailState::Sent;
                    }
                }
                inner.clip = Some(Arc::new(created));
                inner.stage = Stage::Resuming;
            }
        }
        upload
    }

    pub fn journal(&self) -> Option<Arc<Journal>> {
        self.inner.lock().journal.clone()
    }

    pub fn set_journal(&self, journal: Journal) {
        self.inner.lock().journal = Some(Arc::new(journal));
    }

    /// Writes a record; a journal that cannot be written costs the ability to resume, not the upload.
    fn record(&self, journal: Option<Arc<Journal>>, record: &Record, sync: bool) {
        if let Some(journal) = journal {
            let written = journal.append(record).and_then(|()| if sync { journal.sync() } else { Ok(()) });
            if written.is_err() {
                self.inner.lock().journal = None;
            }
        }
    }

    /// The thumbnail images the upload sends (for its journal).
    pub fn thumbnail_paths(&self) -> Vec<(ThumbnailKind, PathBuf)> {
        self.inner.lock().thumbnails.iter().map(|t| (t.kind, t.path.clone())).collect()
    }

    /// Resumed file mode: how the file must still look.
    pub fn expected_identity(&self) -> Option<FileIdentity> {
        self.inner.lock().expected_identity.clone()
    }

    pub fn opened_file(&self) -> Option<Arc<OpenedFile>> {
        self.inner.lock().file.clone()
    }

    /// Resumed file mode: the file, checked unchanged, for the blocks still to send.
    pub fn attach_file(&self, file: OpenedFile) {
        self.inner.lock().file = Some(Arc::new(file));
    }

    /// Whether the upload has ended (for removing its journal).
    pub fn has_ended(&self) -> bool {
        !self.inner.lock().life.is_running()
    }

    /// What the service said of a resumed upload's clip.
    pub fn resume_checked(&self, view: ServiceView, events: &EventQueue) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        inner.create_in_flight = false;
        if !inner.life.is_running() || inner.stage != Stage::Resuming {
            return;
        }
        let layout = inner.layout.expect("resumed uploads know their layout");
        match view {
            ServiceView::Pending => inner.stage = Stage::Uploading,
            ServiceView::Committed => {
                inner.stage = Stage::Uploading;
                inner.blocks = (0..layout.blocks).map(|_| Block::Acked).collect();
                inner.ready.clear();
                inner.blocks_acked = layout.blocks;
                inner.bytes_acked = layout.file_size;
                inner.committed = true;
                self.finish_if_done(inner, events);
            }
            ServiceView::Gone => {
                inner.stage = Stage::Creating;
                inner.clip = None;
                self.reset_blocks(inner, layout);
                for thumbnail in &mut inner.thumbnails {
                    thumbnail.state = ThumbnailState::Ready;
                    thumbnail.url = None;
                }
            }
        }
    }

    fn emit(&self, events: &EventQueue, inner: &Inner, kind: EventKind, result: i32) {
        if self.released.load(Ordering::Acquire) {
            return;
        }
        events.push(Event {
            kind,
            handle: self.handle,
            result,
            http_status: inner.life.http_status,
            bytes_done: inner.bytes_acked,
            bytes_total: inner.layout.map_or(0, |l| l.file_size),
        });
    }

    /// After `release`, the game hears nothing more of this upload; it still runs to its end.
    pub fn mark_released(&self) {
        self.released.store(true, Ordering::Release);
    }

    pub fn is_push(&self) -> bool {
        matches!(self.data, UploadData::Push { .. })
    }

    pub fn layout(&self) -> Option<Layout> {
        self.inner.lock().layout
    }

    /// The layout and open file found by the worker that opened the clip (file mode).
    pub fn file_opened(&self, file: OpenedFile) -> Layout {
        let mut inner = self.inner.lock();
        let layout = Layout::new(file.size, self.block_size);
        self.reset_blocks(&mut inner, layout);
        inner.file = Some(Arc::new(file));
        layout
    }

    /// Every block still to send, none acknowledged: in push mode missing until the game hands it over,
    /// in file mode ready for a worker to read.
    fn reset_blocks(&self, inner: &mut Inner, layout: Layout) {
        let push = self.is_push();
        inner.layout = Some(layout);
        inner.blocks = (0..layout.blocks).map(|_| if push { Block::Missing } else { Block::Ready(None) }).collect();
        inner.ready = if push { VecDeque::new() } else { (0..layout.blocks).collect() };
        inner.in_flight = 0;
        inner.blocks_acked = 0;
        inner.bytes_acked = 0;
        inner.committed = false;
    }

    /// Consecutive failures so far: the attempt number of the next request.
    pub fn attempt(&self) -> u32 {
        self.inner.lock().life.consecutive_failures
    }

    pub fn next_task(&self, now: Instant) -> NextTask<Task> {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        match inner.life.gate(now) {
            Gate::Open => {}
            Gate::Wait(at) => return NextTask::Wait(at),
            Gate::Ended => return NextTask::Finished,
        }
        match inner.stage {
            Stage::Creating if !inner.create_in_flight => {
                inner.create_in_flight = true;
                NextTask::Run(if inner.verify_create { Task::VerifyCreate } else { Task::Create })
            }
            Stage::Resuming if !inner.create_in_flight => {
                inner.create_in_flight = true;
                NextTask::Run(Task::CheckResumed)
            }
            Stage::Creating | Stage::Resuming => NextTask::Wait(None),
            Stage::Uploading => {
                // Thumbnails first: they are small, and the clip is not complete without them.
                if let Some(thumbnail) = inner.thumbnails.iter_mut().find(|t| t.state == ThumbnailState::Ready) {
                    if let Some(url) = &thumbnail.url {
                        thumbnail.state = ThumbnailState::InFlight;
                        return NextTask::Run(Task::Thumbnail(ThumbnailTask {
                            kind: thumbnail.kind,
                            path: thumbnail.path.clone(),
                            url: url.clone(),
                        }));
                    }
                }
                let (Some(num), Some(clip), Some(layout)) = (inner.ready.pop_front(), &inner.clip, inner.layout) else {
                    return NextTask::Wait(None);
                };
                let slot = &mut inner.blocks[num as usize];
                let data = match std::mem::replace(slot, Block::Missing) {
                    Block::Ready(data) => data,
                    other => {
                        // The ready queue only holds ready blocks; keep the block as it was.
                        *slot = other;
                        return NextTask::Wait(None);
                    }
                };
                *slot = Block::InFlight(data.clone());
                inner.in_flight += 1;
                NextTask::Run(Task::Block(BlockTask {
                    num,
                    offset: layout.offset(num),
                    len: layout.block_len(num),
                    clip: clip.clone(),
                    data,
                    file: inner.file.clone(),
                }))
            }
        }
    }

    /// The initial call succeeded.
    pub fn created(&self, clip: CreatedClip, events: &EventQueue) {
        let mut inner = self.inner.lock();
        inner.create_in_flight = false;
        if !inner.life.is_running() || inner.stage != Stage::Creating {
            return;
        }
        for thumbnail in &mut inner.thumbnails {
            thumbnail.url = handed_out_uri(&clip.response, thumbnail.kind);
        }
        let record = Record::Created {
            response: serde_json::to_value(&clip.response).expect("the response serializes"),
            upload_id: clip.upload_id.clone(),
        };
        inner.stage = Stage::Uploading;
        inner.clip = Some(Arc::new(clip));
        inner.life.progressed(200);
        self.emit(events, &inner, EventKind::ClipCreated, RESULT_PENDING);
        let journal = inner.journal.clone();
        drop(inner);
        // Durable at once: without it a restart would create the clip a second time.
        self.record(journal, &record, true);
    }

    /// The create may have reached the service (`error`): after `after`, check before sending it again.
    pub fn verify_create_later(&self, after: Duration, error: &Error) {
        let mut inner = self.inner.lock();
        inner.create_in_flight = false;
        inner.verify_create = true;
        inner.life.retry_later(after, error);
    }

    /// The service shows no clip from an earlier create: it provably did not act, so create again.
    pub fn create_not_taken(&self) {
        let mut inner = self.inner.lock();
        inner.create_in_flight = false;
        inner.verify_create = false;
    }

    /// Thumbnail kinds whose upload URI the initial call did not hand out.
    pub fn thumbnails_without_uri(&self) -> Vec<ThumbnailKind> {
        let inner = self.inner.lock();
        inner.thumbnails.iter().filter(|t| t.url.is_none()).map(|t| t.kind).collect()
    }

    pub fn clip_id(&self) -> Option<String> {
        self.inner.lock().clip.as_ref().map(|clip| clip.response.game_clip_id.clone())
    }

    pub fn error(&self) -> Option<Error> {
        self.inner.lock().life.error.clone()
    }

    /// Puts a piece that was in flight back to be sent again.
    fn requeue(inner: &mut Inner, piece: Piece) {
        match piece {
            Piece::Block(num) => {
                // An upload that ended meanwhile has no blocks left to put back.
                let Some(slot) = inner.blocks.get_mut(num as usize) else { return };
                if let Block::InFlight(data) = std::mem::replace(slot, Block::Missing) {
                    *slot = Block::Ready(data);
                    inner.ready.push_front(num);
                    inner.in_flight -= 1;
                }
            }
            Piece::Thumbnail(kind) => {
                for thumbnail in inner.thumbnails.iter_mut().filter(|t| t.kind == kind) {
                    if thumbnail.state == ThumbnailState::InFlight {
                        thumbnail.state = ThumbnailState::Ready;
                    }
                }
            }
            Piece::Create | Piece::VerifyCreate | Piece::CheckResumed => inner.create_in_flight = false,
        }
    }

    /// The service acknowledged a block (202, or 201 when it committed the clip).
    pub fn block_acked(&self, num: u32, committed: bool, status: u16, events: &EventQueue) {
        let mut inner = self.inner.lock();
        if !inner.life.is_running() || !matches!(inner.blocks.get(num as usize), Some(Block::InFlight(_))) {
            return;
        }
        let layout = inner.layout.expect("uploading implies a layout");
        // A 201 while blocks are still unsent cannot be the service committing the clip as we send it;
        // trusting it would drop those blocks. It acknowledges this block only.
        let committed = committed && !inner.blocks.iter().any(|b| matches!(b, Block::Missing | Block::Ready(_)));
        inner.blocks[num as usize] = Block::Acked;
        inner.in_flight -= 1;
        inner.blocks_acked += 1;
        inner.bytes_acked += layout.block_len(num) as u64;
        inner.committed |= committed;
        inner.life.progressed(status);
        self.emit(events, &inner, EventKind::Progress, RESULT_PENDING);
        self.finish_if_done(&mut inner, events);
        let journal = inner.journal.clone();
        drop(inner);
        self.record(journal, &Record::Acked { block: num, committed }, false);
    }

    /// The service took a thumbnail image.
    pub fn thumbnail_sent(&self, kind: ThumbnailKind, status: u16, events: &EventQueue) {
        let mut inner = self.inner.lock();
        if !inner.life.is_running() {
            return;
        }
        for thumbnail in inner.thumbnails.iter_mut().filter(|t| t.kind == kind) {
            thumbnail.state = ThumbnailState::Sent;
        }
        inner.life.progressed(status);
        self.finish_if_done(&mut inner, events);
        let journal = inner.journal.clone();
        drop(inner);
        self.record(journal, &Record::Thumbnail { kind: kind.name().into() }, false);
    }

    /// Completes the upload once every block and thumbnail is in.
    fn finish_if_done(&self, inner: &mut Inner, events: &EventQueue) {
        let layout = inner.layout.expect("uploading implies a layout");
        if inner.blocks_acked < layout.blocks || inner.thumbnails.iter().any(|t| t.state != ThumbnailState::Sent) {
            return;
        }
        if inner.committed {
            inner.life.finish(End::Completed, None);
            self.emit(events, inner, EventKind::Completed, RESULT_OK);
        } else {
            let error = Error::http(
                ErrorKind::Http,
                inner.life.http_status,
                "the service acknowledged every block but never confirmed the clip (no 201)",
            );
            Self::end(inner, End::Failed, error);
            self.emit(events, inner, EventKind::Failed, ErrorKind::Http.code());
        }
    }

    /// A piece taken for sending that was not sent (the client paused): back in the queue, no retry counted.
    pub fn put_back(&self, piece: Piece) {
        Self::requeue(&mut self.inner.lock(), piece);
    }

    /// A request failed in a way worth repeating after `after`.
    pub fn retry_later(&self, piece: Piece, after: Duration, error: &Error) {
        let mut inner = self.inner.lock();
        Self::requeue(&mut inner, piece);
        inner.life.retry_later(after, error);
    }

    /// The service wants a new token (401): nothing is lost; the upload waits for `set_authorization`.
    pub fn wait_for_auth(&self, piece: Piece, status: u16, events: &EventQueue) {
        let mut inner = self.inner.lock();
        Self::requeue(&mut inner, piece);
        if inner.life.wait_for_auth(status) {
            self.emit(events, &inner, EventKind::NeedsAuth, RESULT_PENDING);
        }
    }

    pub fn auth_renewed(&self) {
        self.inner.lock().life.waiting_for_auth = false;
    }

    fn end(inner: &mut Inner, end: End, error: Error) -> bool {
        if !inner.life.finish(end, Some(error)) {
            return false;
        }
        // Dropping the copies gives their push budget back.
        inner.blocks.clear();
        inner.ready.clear();
        inner.in_flight = 0;
        inner.file = None;
        true
    }

    pub fn fail(&self, error: Error, events: &EventQueue) {
        let mut inner = self.inner.lock();
        let code = error.code();
        if Self::end(&mut inner, End::Failed, error) {
            self.emit(events, &inner, EventKind::Failed, code);
        }
    }

    pub fn cancel(&self, events: &EventQueue) -> Result<()> {
        let mut inner = self.inner.lock();
        if !Self::end(&mut inner, End::Cancelled, Error::new(ErrorKind::Cancelled, "the upload was cancelled")) {
            return Err(Error::new(ErrorKind::WrongState, "the upload has already finished"));
        }
        self.emit(events, &inner, EventKind::Cancelled, ErrorKind::Cancelled.code());
        Ok(())
    }

    fn check_pushable(inner: &Inner, num: u32, len: usize) -> Result<Layout> {
        match inner.life.end {
            None => {}
            Some(End::Completed) => return Err(Error::new(ErrorKind::WrongState, "the upload has completed")),
            Some(End::Failed) => return Err(Error::new(ErrorKind::WrongState, "the upload has failed")),
            Some(End::Cancelled) => return Err(Error::new(ErrorKind::WrongState, "the upload was cancelled")),
        }
        let layout = inner.layout.expect("push uploads know their layout from the start");
        if num >= layout.blocks {
            return Err(Error::invalid(format!(
                "block {num} is out of range: this upload has {} blocks",
                layout.blocks
            )));
        }
        let want = layout.block_len(num);
        if len != want {
            return Err(Error::invalid(format!("block {num} must be {want} bytes long, got {len}")));
        }
        if !matches!(inner.blocks[num as usize], Block::Missing) {
            return Err(Error::new(ErrorKind::WrongState, format!("block {num} was already pushed")));
        }
        Ok(layout)
    }

    /// Copies one pushed block. Checks and reserves budget under the lock, copies outside it.
    pub fn push_block(&self, num: u32, bytes: &[u8], budget: &Arc<PushBudget>) -> Result<()> {
        if !self.is_push() {
            return Err(Error::new(
                ErrorKind::WrongState,
                "this upload reads its file itself (file mode); it takes no pushed blocks",
            ));
        }
        Self::check_pushable(&self.inner.lock(), num, bytes.len())?;
        if !budget.try_reserve(bytes.len() as u64) {
            return Err(Error::new(
                ErrorKind::WouldBlock,
                format!("max_buffered_bytes ({}) is in use by blocks not yet sent; push again later", budget.max),
            ));
        }
        let reservation = Reservation { budget: budget.clone(), bytes: bytes.len() as u64 };
        let block = Arc::new(PushedBlock::copy_of(bytes, reservation));
        let mut inner = self.inner.lock();
        // A concurrent push of the same block, or a cancel, may have happened while copying.
        Self::check_pushable(&inner, num, bytes.len())?;
        inner.blocks[num as usize] = Block::Ready(Some(block));
        inner.ready.push_back(num);
        Ok(())
    }

    /// Blocks the library does not hold and the service has not acknowledged.
    pub fn missing_blocks(&self) -> Vec<u32> {
        let inner = self.inner.lock();
        (0..inner.blocks.len() as u32).filter(|&n| matches!(inner.blocks[n as usize], Block::Missing)).collect()
    }

    /// Without the upload's lock: the status as published when it was last let go.
    pub fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        self.inner.board.read().status(paused, now)
    }
}
