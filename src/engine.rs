//! The worker pool and its scheduler. Workers take one task at a time from the uploads in turn
//! (round-robin, so many uploads share the pool fairly), do the file and network I/O, and report the
//! outcome to the upload. The game's threads never come here except to wake the workers.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use ureq::http::Method;

use crate::bandwidth::Bandwidth;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventQueue;
use crate::handles::HandleTable;
use crate::http::{check_url, same_origin, Body, Http, Outcome, UploadHosts};
use crate::journal::{fnv1a, FileIdentity, Journal, Record};
use crate::lifecycle::NextTask;
use crate::log::{LogLevel, Logger};
use crate::operation::{Answer, Operation, OperationKind, OperationResult};
use crate::platform::file_io::read_exact_at;
use crate::protocol::{
    image_media_type, ClipPage, GameClip, GameClipUri, InitialUploadResponse, MAX_FILE_SIZE, MAX_THUMBNAIL_BYTES,
};
use crate::retry::{backoff, classify, Idempotency, Verdict};
use crate::upload::{
    BlockTask, CreatedClip, OpenedFile, Piece, PushBudget, ServiceView, Task, ThumbnailTask, Upload, UploadData,
    UploadStatus,
};

/// What a handle names: an upload or a clip operation.
#[derive(Clone)]
pub enum Job {
    Upload(Arc<Upload>),
    Operation(Arc<Operation>),
}

impl Job {
    pub fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        match self {
            Job::Upload(upload) => upload.status(paused, now),
            Job::Operation(operation) => operation.status(paused, now),
        }
    }

    pub fn cancel(&self, events: &EventQueue) -> Result<()> {
        match self {
            Job::Upload(upload) => upload.cancel(events),
            Job::Operation(operation) => operation.cancel(events),
        }
    }

    pub fn mark_released(&self) {
        match self {
            Job::Upload(upload) => upload.mark_released(),
            Job::Operation(operation) => operation.mark_released(),
        }
    }

    pub fn auth_renewed(&self) {
        match self {
            Job::Upload(upload) => upload.auth_renewed(),
            Job::Operation(operation) => operation.auth_renewed(),
        }
    }

    pub fn error(&self) -> Option<Error> {
        match self {
            Job::Upload(upload) => upload.error(),
            Job::Operation(operation) => operation.error(),
        }
    }

    pub fn fail(&self, error: Error, events: &EventQueue) {
        match self {
            Job::Upload(upload) => upload.fail(error, events),
            Job::Operation(operation) => operation.fail(error, events),
        }
    }

    fn next_work(&self, now: Instant) -> NextTask<Work> {
        match self {
            Job::Upload(upload) => match upload.next_task(now) {
                NextTask::Run(task) => NextTask::Run(Work::Upload(upload.clone(), task)),
                NextTask::Wait(at) => NextTask::Wait(at),
                NextTask::Finished => NextTask::Finished,
            },
            Job::Operation(operation) => match operation.next_task(now) {
                NextTask::Run(()) => NextTask::Run(Work::Operation(operation.clone())),
                NextTask::Wait(at) => NextTask::Wait(at),
                NextTask::Finished => NextTask::Finished,
            },
        }
    }
}

impl Work {
    /// The upload or operation this work is for.
    fn job(&self) -> Option<Job> {
        match self {
            Work::Upload(upload, _) => Some(Job::Upload(upload.clone())),
            Work::Operation(operation) => Some(Job::Operation(operation.clone())),
            Work::SyncJournals | Work::RemoveJournals(_) => None,
        }
    }
}

/// One request's worth of work for a worker, or journal upkeep.
enum Work {
    Upload(Arc<Upload>, Task),
    Operation(Arc<Operation>),
    SyncJournals,
    /// Jobs that just ended.
    RemoveJournals(Vec<Job>),
}

struct Schedule {
    /// Uploads and operations with work left, in turn order.
    ring: std::collections::VecDeque<Job>,
    paused: bool,
    /// A pause asked for the journals to be made durable.
    sync_requested: bool,
    /// Jobs that ended, whose journals the next free worker removes.
    ended: Vec<Job>,
    stopping: bool,
}

pub struct Engine {
    pub http: Http,
    pub metadata_base_url: String,
    pub allow_insecure_http: bool,
    /// Where uploads may carry the Authorization value.
    pub upload_hosts: UploadHosts,
    pub block_size: u32,
    /// Where uploads are journaled for resuming; `None`: no resume.
    pub journal_dir: Option<PathBuf>,
    pub authorization: RwLock<Option<Arc<str>>>,
    pub handles: HandleTable<Job>,
    pub events: EventQueue,
    pub push_budget: Arc<PushBudget>,
    pub bandwidth: Bandwidth,
    pub log: Logger,
    schedule: Mutex<Schedule>,
    work_available: Condvar,
    /// Copies of `Schedule.paused` and `.stopping`, read without the schedule lock: `clips_poll` asks
    /// on the game thread, and must not wait for workers busy with the schedule.
    paused: AtomicBool,
    stopping: AtomicBool,
}

/// Why a download attempt stopped short.
enum Setback {
    /// The request failed: the retry policy decides.
    Outcome(Outcome),
    /// Writing the file failed: final.
    Disk(Error),
}

/// How a clip file looks: size, modification time and the fingerprints of its first and last block.
fn file_identity(file: &OpenedFile, block_size: u32) -> Result<FileIdentity> {
    let layout = crate::upload::Layout::new(file.size, block_size);
    let fingerprint = |block: u32| -> Result<u64> {
        let mut buffer = vec![0u8; layout.block_len(block)];
        read_exact_at(&file.file, &mut buffer, layout.offset(block))
            .map_err(|e| Error::new(ErrorKind::Io, format!("reading the clip file: {e}")))?;
        Ok(fnv1a(&buffer))
    };
    let modified_ns = file
        .modified
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Ok(FileIdentity {
        size: file.size,
        modified_ns,
        first_block: fingerprint(0)?,
        last_block: fingerprint(layout.blocks - 1)?,
    })
}

/// Redirects followed for one request before giving up.
const MAX_REDIRECTS: usize = 5;

/// The absolute URL a `Location` header names, relative to the request's URL.
pub(crate) fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    let uri: ureq::http::Uri = base.parse().ok()?;
    let origin = format!("{}://{}", uri.scheme_str()?, uri.authority()?);
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    let dir = uri.path().rsplit_once('/').map_or("", |(dir, _)| dir);
    Some(format!("{origin}{dir}/{location}"))
}

/// Why a URL may not carry the Authorization value, naming its host.
fn not_an_upload_host(url: &str) -> String {
    let host = url.parse::<ureq::http::Uri>().ok().and_then(|u| u.host().map(str::to_string));
    format!(
        "{} is not an allowed upload host (the Authorization value goes only to the metadata host and \
         the configured upload hosts)",
        host.unwrap_or_else(|| format!("{url:?}"))
    )
}

/// Where a download is written until it is complete.
fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Reads a thumbnail image and names its media type.
fn read_thumbnail(task: &ThumbnailTask) -> Result<(Vec<u8>, &'static str)> {
    let path = task.path.display();
    let io_error = |e: std::io::Error| {
        Error::new(ErrorKind::Io, format!("reading the {} thumbnail {path}: {e}", task.kind.name()))
    };
    let mut image = Vec::new();
    File::open(&task.path)
        .map_err(io_error)?
        .take(MAX_THUMBNAIL_BYTES + 1)
        .read_to_end(&mut image)
        .map_err(io_error)?;
    if image.len() as u64 > MAX_THUMBNAIL_BYTES {
        return Err(Error::invalid(format!("the thumbnail {path} is over {MAX_THUMBNAIL_BYTES} bytes")));
    }
    let media_type = image_media_type(&image)
        .ok_or_else(|| Error::invalid(format!("the thumbnail {path} is not a JPEG or PNG image")))?;
    Ok((image, media_type))
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: Http,
        metadata_base_url: String,
        allow_insecure_http: bool,
        upload_hosts: UploadHosts,
        block_size: u32,
        journal_dir: Option<PathBuf>,
        max_buffered_bytes: u64,
        max_bytes_per_second: u64,
        log: Logger,
    ) -> Engine {
        Engine {
            http,
            metadata_base_url,
            allow_insecure_http,
            upload_hosts,
            block_size,
            journal_dir,
            authorization: RwLock::new(None),
            handles: HandleTable::new(),
            events: EventQueue::default(),
            push_budget: Arc::new(PushBudget::new(max_buffered_bytes, block_size)),
            bandwidth: Bandwidth::new(max_bytes_per_second),
            log,
            schedule: Mutex::new(Schedule {
                ring: Default::default(),
                paused: false,
                sync_requested: false,
                ended: Vec::new(),
                stopping: false,
            }),
            work_available: Condvar::new(),
            paused: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn start_workers(self: &Arc<Self>, count: u32) -> std::io::Result<Vec<JoinHandle<()>>> {
        (0..count)
            .map(|i| {
                let engine = self.clone();
                std::thread::Builder::new().name(format!("gameclips-worker-{i}")).spawn(move || engine.run_worker())
            })
            .collect()
    }

    /// Tells idle workers that something changed. Taking the lock first means a worker that just found
    /// nothing to do is already waiting, so the wake-up cannot slip between its check and its wait.
    pub fn wake(&self) {
        drop(self.schedule.lock());
        self.work_available.notify_all();
    }

    pub fn schedule(&self, job: Job) {
        self.schedule.lock().ring.push_back(job);
        self.work_available.notify_all();
    }

    /// Paused: no request starts, and a worker makes the journals durable.
    pub fn set_paused(&self, paused: bool) {
        let mut schedule = self.schedule.lock();
        schedule.paused = paused;
        self.paused.store(paused, Ordering::Release);
        schedule.sync_requested |= paused && self.journal_dir.is_some();
        drop(schedule);
        self.work_available.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Workers stop taking tasks, and requests blocked on the network return at once.
    pub fn stop(&self) {
        self.schedule.lock().stopping = true;
        self.stopping.store(true, Ordering::Release);
        self.work_available.notify_all();
        self.http.interrupt();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    fn next_work(&self) -> Option<Work> {
        let mut schedule = self.schedule.lock();
        loop {
            if schedule.stopping {
                return None;
            }
            if std::mem::take(&mut schedule.sync_requested) {
                return Some(Work::SyncJournals);
            }
            if !schedule.ended.is_empty() {
                return Some(Work::RemoveJournals(std::mem::take(&mut schedule.ended)));
            }
            let mut wake_at: Option<Instant> = None;
            if !schedule.paused {
                let now = Instant::now();
                for _ in 0..schedule.ring.len() {
                    let job = schedule.ring.pop_front().expect("ring length was checked");
                    match job.next_work(now) {
                        NextTask::Run(work) => {
                            schedule.ring.push_back(job);
                            return Some(work);
                        }
                        NextTask::Wait(at) => {
                            wake_at = match (wake_at, at) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                            schedule.ring.push_back(job);
                        }
                        NextTask::Finished if self.journal_dir.is_some() => schedule.ended.push(job),
                        NextTask::Finished => {}
                    }
                }
            }
            if !schedule.ended.is_empty() {
                continue;
            }
            match wake_at {
                Some(at) => {
                    self.work_available.wait_until(&mut schedule, at);
                }
                None => self.work_available.wait(&mut schedule),
            }
        }
    }

    fn run_worker(self: Arc<Self>) {
        while let Some(work) = self.next_work() {
            let job = work.job();
            // A bug in one task must not take a worker out of the pool: its job fails instead.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match work {
                Work::Upload(upload, Task::Create) => self.create_clip(&upload),
                Work::Upload(upload, Task::VerifyCreate) => self.verify_create(&upload),
                Work::Upload(upload, Task::CheckResumed) => self.check_resumed(&upload),
                Work::SyncJournals => self.sync_journals(),
                Work::RemoveJournals(jobs) => self.remove_ended_journals(&jobs),
                Work::Upload(upload, Task::Block(block)) => self.send_block(&upload, block),
                Work::Upload(upload, Task::Thumbnail(thumbnail)) => self.send_thumbnail(&upload, thumbnail),
                Work::Operation(operation) => self.run_operation(&operation),
            }));
            if let Err(payload) = ran {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let error = Error::new(ErrorKind::Internal, format!("internal error in a worker: {what}"));
                self.log.log(LogLevel::Error, || error.message.clone());
                if let Some(job) = job {
                    job.fail(error, &self.events);
                }
            }
            self.wake();
        }
    }

    fn current_authorization(&self) -> Option<Arc<str>> {
        self.authorization.read().clone()
    }

    fn fail(&self, upload: &Upload, error: Error) {
        self.log.log(LogLevel::Warn, || format!("upload {:#x} failed: {}", upload.handle, error.message));
        upload.fail(error, &self.events);
    }

    /// Opens the clip file (file mode): a new upload takes its layout from it; a resumed one checks it
    /// is the file the upload began with.
    fn open_clip_file(&self, upload: &Upload, path: &Path, size: u64) -> Result<()> {
        let file = OpenedFile::open(path)?;
        if size != 0 && file.size != size {
            return Err(Error::invalid(format!("file_size is {size} but {} is {} bytes", path.display(), file.size)));
        }
        if file.size == 0 || file.size >= MAX_FILE_SIZE {
            return Err(Error::invalid(format!(
                "{} is {} bytes; a clip must be 1 byte to 4 GiB - 1",
                path.display(),
                file.size
            )));
        }
        match upload.expected_identity() {
            Some(expected) => {
                if file_identity(&file, self.block_size_of(upload))? != expected {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                            "{} changed since the upload began (size, time or content): not resumed",
                            path.display()
                        ),
                    ));
                }
                upload.attach_file(file);
            }
            None => {
                upload.file_opened(file);
            }
        }
        Ok(())
    }

    fn block_size_of(&self, upload: &Upload) -> u32 {
        upload.layout().map_or(self.block_size, |layout| layout.block_size)
    }

    /// Opens the clip file the first time (file mode), starts the journal, and returns the request body
    /// of the initial call.
    fn prepare_create(&self, upload: &Upload) -> Result<Vec<u8>> {
        if let UploadData::File { path, size } = &upload.data {
            if upload.opened_file().is_none() {
                self.open_clip_file(upload, path, *size)?;
            }
        }
        let layout = upload.layout().expect("a push upload, or an opened file, has a layout");
        if upload.journal().is_none() {
            self.start_journal(upload, layout);
        }
        let mut request = upload.request.clone();
        request.file_size = layout.file_size as u32;
        request.expected_blocks = layout.blocks;
        Ok(serde_json::to_vec(&request).expect("the request serializes"))
    }

    /// A new upload's journal: what to upload, written before the initial call. Without a journal
    /// dir, or if it cannot be written (logged), the upload goes on without resume.
    fn start_journal(&self, upload: &Upload, layout: crate::upload::Layout) {
        let Some(dir) = &self.journal_dir else { return };
        let started = (|| -> Result<Journal> {
            let (path, identity) = match (&upload.data, upload.opened_file()) {
                (UploadData::File { path, .. }, Some(file)) => {
                    (Some(path.clone()), Some(file_identity(&file, layout.block_size)?))
                }
                _ => (None, None),
            };
            let record = Record::Start {
                scid: upload.scid.clone(),
                path,
                file: identity,
                size: layout.file_size,
                block_size: layout.block_size,
                request: serde_json::to_value(&upload.request).expect("the request serializes"),
                thumbnails: upload
                    .thumbnail_paths()
                    .into_iter()
                    .map(|(kind, path)| (kind.name().to_string(), path))
                    .collect(),
            };
            let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("the journal in {}: {e}", dir.display()));
            let journal = Journal::create(dir, &uuid::Uuid::new_v4().simple().to_string()).map_err(io)?;
            journal.append(&record).and_then(|()| journal.sync()).map_err(io)?;
            Ok(journal)
        })();
        match started {
            Ok(journal) => upload.set_journal(journal),
            Err(error) => self.log.log(LogLevel::Warn, || {
                format!(
                    "upload {:#x}: not journaled, so it cannot resume after a restart: {}",
                    upload.handle, error.message
                )
            }),
        }
    }

    /// A resumed upload whose clip was created before the restart: checks the file (file mode), then
    /// asks the service whether it still waits for blocks, already has the clip, or lost it.
    fn check_resumed(&self, upload: &Upload) {
        if let UploadData::File { path, size } = &upload.data {
            if upload.opened_file().is_none() {
                if let Err(error) = self.open_clip_file(upload, path, *size) {
                    return self.fail(upload, error);
                }
            }
        }
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(Piece::CheckResumed, 0, &self.events);
        };
        let Some(clip_id) = upload.clip_id() else { return upload.resume_checked(ServiceView::Gone, &self.events) };
        let url = format!("{}/users/me/scids/{}/clips/{clip_id}", self.metadata_base_url, upload.scid);
        let outcome = self.http.send(Method::GET, &url, Some(&authorization), Body::Empty);
        match classify(outcome, "checking the resumed clip", Idempotency::Idempotent, upload.attempt()) {
            Verdict::Success { body, .. } => match GameClip::from_get_response(&body) {
                Ok(clip) if clip.state.eq_ignore_ascii_case("PendingUpload") => {
                    upload.resume_checked(ServiceView::Pending, &self.events)
                }
                Ok(clip) => {
                    self.log.log(LogLevel::Info, || {
                        format!("upload {:#x}: the service already has clip {clip_id} ({})", upload.handle, clip.state)
                    });
                    upload.resume_checked(ServiceView::Committed, &self.events)
                }
                Err(error) => self.fail(upload, error),
            },
            Verdict::Fail(error) if matches!(error.http_status, 404 | 410) => {
                self.log.log(LogLevel::Info, || {
                    format!(
                        "upload {:#x}: clip {clip_id} is gone ({}); creating it again",
                        upload.handle, error.http_status
                    )
                });
                upload.resume_checked(ServiceView::Gone, &self.events)
            }
            Verdict::Retry { after, error } => self.retry(upload, Piece::CheckResumed, after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(Piece::CheckResumed, status, &self.events),
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.fail(upload, error),
        }
    }

    /// Makes every journal durable (on pause: the game may be suspended and never come back).
    fn sync_journals(&self) {
        for job in self.handles.values() {
            if let Job::Upload(upload) = job {
                if let Some(journal) = upload.journal() {
                    let _ = journal.sync();
                }
            }
        }
    }

    /// Removes the journals of uploads that ended.
    pub fn remove_ended_journals(&self, jobs: &[Job]) {
        for job in jobs {
            if let Job::Upload(upload) = job {
                if let (true, Some(journal)) = (upload.has_ended(), upload.journal()) {
                    if let Err(e) = journal.remove() {
                        self.log.log(LogLevel::Warn, || format!("cannot remove {}: {e}", journal.path().display()));
                    }
                }
            }
        }
    }

    fn create_clip(&self, upload: &Upload) {
        let body = match self.prepare_create(upload) {
            Ok(body) => body,
            Err(error) => return self.fail(upload, error),
        };
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(Piece::Create, 0, &self.events);
        };
        let url = format!("{}/users/me/scids/{}/clips", self.metadata_base_url, upload.scid);
        let outcome = self.http.send(Method::POST, &url, Some(&authorization), Body::Json(&body));
        match classify(outcome, "creating the clip", Idempotency::NotIdempotent, upload.attempt()) {
            Verdict::Success { body, .. } => match self.parse_created(&body) {
                Ok(clip) => {
                    let id = clip.response.game_clip_id.clone();
                    upload.created(clip, &self.events);
                    self.log.log(LogLevel::Info, || format!("upload {:#x}: clip {id} created", upload.handle));
                    if let Some(kind) = upload.thumbnails_without_uri().first() {
                        let message =
                            format!("the service handed out no {}ThumbnailUri for the thumbnail upload", kind.name());
                        self.fail(upload, Error::http(ErrorKind::Http, 200, message));
                    }
                }
                Err(error) => self.fail(upload, error),
            },
            Verdict::Retry { after, error } => self.retry(upload, Piece::Create, after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(Piece::Create, status, &self.events),
            Verdict::Ambiguous { error } => {
                self.log.log(LogLevel::Info, || {
                    format!(
                        "upload {:#x}: {}; checking with the service before creating again",
                        upload.handle, error.message
                    )
                });
                upload.verify_create_later(backoff(upload.attempt()), &error);
            }
            Verdict::Fail(error) => self.fail(upload, error),
        }
    }

    /// After an ambiguous create: lists the caller's newest clips for a pending one matching this
    /// upload. None: the service provably did not act, so the create is sent again. One: it did, and
    /// the upload fails rather than make a duplicate (the answer with the upload URI was lost).
    fn verify_create(&self, upload: &Upload) {
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(Piece::VerifyCreate, 0, &self.events);
        };
        let url = format!("{}/users/me/scids/{}/clips?maxItems=100", self.metadata_base_url, upload.scid);
        let outcome = self.http.send(Method::GET, &url, Some(&authorization), Body::Empty);
        let what = "checking whether an earlier create reached the service";
        match classify(outcome, what, Idempotency::Idempotent, upload.attempt()) {
            Verdict::Success { body, .. } => match ClipPage::from_wire(&body) {
                Ok(page) if page.game_clips.iter().any(|clip| upload.request.matches(clip)) => {
                    let message = "creating the clip: the answer was lost, and the service shows a pending clip \
                                   made by it; not created again, to avoid a duplicate";
                    self.fail(upload, Error::new(ErrorKind::Network, message));
                }
                Ok(_) => {
                    self.log.log(LogLevel::Info, || {
                        format!("upload {:#x}: the earlier create never took effect; creating again", upload.handle)
                    });
                    upload.create_not_taken();
                }
                Err(error) => self.fail(upload, error),
            },
            Verdict::Retry { after, error } => self.retry(upload, Piece::VerifyCreate, after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(Piece::VerifyCreate, status, &self.events),
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.fail(upload, error),
        }
    }

    fn parse_created(&self, body: &[u8]) -> Result<CreatedClip, Error> {
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
            check_url(uri, self.allow_insecure_http).map_err(|e| unusable(e.message))?;
            if !self.upload_hosts.allows(uri) {
                return Err(unusable(not_an_upload_host(uri)));
            }
        }
        let upload_id = response.upload_id();
        Ok(CreatedClip { response, upload_id })
    }

    fn retry(&self, upload: &Upload, piece: Piece, after: Duration, error: &Error) {
        self.log.log(LogLevel::Debug, || {
            format!("upload {:#x}: {}; retrying in {} ms", upload.handle, error.message, after.as_millis())
        });
        upload.retry_later(piece, after, error);
    }

    /// Waits out the bandwidth limit in short slices, so a stop is never held up by it.
    /// Whether a request may start now. False when the client is stopping or paused (a pause while
    /// waiting included): the caller puts its work back, and the bytes charged are given back.
    fn throttle(&self, bytes: usize) -> bool {
        let deadline = Instant::now() + self.bandwidth.charge(bytes);
        loop {
            if self.is_stopping() || self.is_paused() {
                self.bandwidth.refund(bytes);
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }

    fn send_block(&self, upload: &Upload, task: BlockTask) {
        let body = match (&task.data, &task.file) {
            (Some(pushed), _) => Body::Octets(pushed.bytes()),
            (None, Some(file)) => {
                if let Err(error) = file.check_unchanged() {
                    return self.fail(upload, error);
                }
                // Streamed from the file into the HTTP client's buffer: no block-sized copy.
                Body::FileRange { file: &file.file, offset: task.offset, len: task.len as u64 }
            }
            (None, None) => return self.fail(upload, Error::new(ErrorKind::Internal, "a block task without data")),
        };
        if !self.throttle(task.len) {
            // Paused (or stopping) before it was sent: not a failure; it goes out on resume.
            return upload.put_back(Piece::Block(task.num));
        }
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(Piece::Block(task.num), 0, &self.events);
        };
        let url = task.clip.response.block_url(&task.clip.upload_id, task.num);
        let outcome = self.send_upload(&url, &authorization, body);
        let what = format!("sending block {}", task.num);
        match classify(outcome, &what, Idempotency::Idempotent, upload.attempt()) {
            Verdict::Success { status, .. } => upload.block_acked(task.num, status == 201, status, &self.events),
            Verdict::Retry { after, error } => self.retry(upload, Piece::Block(task.num), after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(Piece::Block(task.num), status, &self.events),
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.fail(upload, error),
        }
    }

    /// A block or thumbnail PUT. Redirects (301, 302, 307, 308) are followed with the body sent again.
    /// Every URL, the first and each redirect's, must be an allowed upload host (see [`UploadHosts`]):
    /// the Authorization value goes nowhere else, so anything else is refused with a message naming it.
    fn send_upload(&self, url: &str, authorization: &str, body: Body) -> Outcome {
        // The first URL here (a journal may hold one from before the list changed); redirects below.
        if !self.upload_hosts.allows(url) {
            return Outcome::Refused { kind: ErrorKind::Http, message: not_an_upload_host(url) };
        }
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            match self.http.send(Method::PUT, &url, Some(authorization), body) {
                Outcome::Answered { status: status @ (301 | 302 | 307 | 308), location: Some(location), .. } => {
                    let Some(target) = resolve_location(&url, &location) else {
                        let message = format!("HTTP {status} to an unusable Location {location:?}");
                        return Outcome::Transport { reached_service: true, message };
                    };
                    if !self.upload_hosts.allows(&target) {
                        let message = format!("HTTP {status} redirect not followed: {}", not_an_upload_host(&target));
                        return Outcome::Refused { kind: ErrorKind::Http, message };
                    }
                    self.log.log(LogLevel::Debug, || format!("HTTP {status}: following the redirect"));
                    url = target;
                }
                other => return other,
            }
        }
        let message = format!("more than {MAX_REDIRECTS} redirects");
        Outcome::Transport { reached_service: true, message }
    }

    fn send_thumbnail(&self, upload: &Upload, task: ThumbnailTask) {
        let piece = Piece::Thumbnail(task.kind);
        let (image, media_type) = match read_thumbnail(&task) {
            Ok(read) => read,
            Err(error) => return self.fail(upload, error),
        };
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(piece, 0, &self.events);
        };
        let outcome = self.send_upload(&task.url, &authorization, Body::Image(&image, media_type));
        let what = format!("sending the {} thumbnail", task.kind.name());
        match classify(outcome, &what, Idempotency::Idempotent, upload.attempt()) {
            Verdict::Success { status, .. } => upload.thumbnail_sent(task.kind, status, &self.events),
            Verdict::Retry { after, error } => self.retry(upload, piece, after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(piece, status, &self.events),
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.fail(upload, error),
        }
    }

    fn fail_operation(&self, operation: &Operation, error: Error) {
        self.log.log(LogLevel::Warn, || format!("operation {:#x} failed: {}", operation.handle, error.message));
        operation.fail(error, &self.events);
    }

    /// What happens to an operation after a request that did not succeed.
    fn operation_setback(&self, operation: &Operation, verdict: Verdict) {
        match verdict {
            Verdict::Success { .. } => unreachable!("successes are handled by the caller"),
            Verdict::Retry { after, error } => {
                self.log.log(LogLevel::Debug, || {
                    format!(
                        "operation {:#x}: {}; retrying in {} ms",
                        operation.handle,
                        error.message,
                        after.as_millis()
                    )
                });
                operation.retry_later(after, &error);
            }
            Verdict::NeedsAuth { status } => operation.wait_for_auth(status, &self.events),
            // A view that may have been counted is not counted again.
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.fail_operation(operation, error),
        }
    }

    fn run_operation(&self, operation: &Operation) {
        let Some(authorization) = self.current_authorization() else {
            return operation.wait_for_auth(0, &self.events);
        };
        match &operation.kind {
            OperationKind::Call { method, path, body, idempotency, what, answer } => {
                let url = format!("{}{path}", self.metadata_base_url);
                let body = body.as_deref().map_or(Body::Empty, Body::Json);
                let attempt = operation.attempt();
                let mut outcome = self.http.send(method.clone(), &url, Some(&authorization), body);
                // A repeated delete that finds nothing means an earlier attempt did delete it.
                if *method == Method::DELETE && attempt > 0 {
                    if let Outcome::Answered { status: 404, .. } = outcome {
                        outcome =
                            Outcome::Answered { status: 204, body: Vec::new(), retry_after: None, location: None };
                    }
                }
                match classify(outcome, what, *idempotency, attempt) {
                    Verdict::Success { status, body } => match read_answer(*answer, &body) {
                        Ok(result) => operation.complete(status, result, &self.events),
                        Err(error) => self.fail_operation(operation, error),
                    },
                    setback => self.operation_setback(operation, setback),
                }
            }
            OperationKind::Download { clip_path, destination } => {
                self.download(operation, &authorization, clip_path, destination)
            }
        }
    }

    /// Finds the clip's Download URI (once), then fetches the file into `destination`, resuming
    /// with a Range request after a failed attempt.
    fn download(&self, operation: &Operation, authorization: &str, clip_path: &str, destination: &Path) {
        let source = match operation.download_source() {
            Some(source) => source,
            None => {
                let url = format!("{}{clip_path}", self.metadata_base_url);
                let outcome = self.http.send(Method::GET, &url, Some(authorization), Body::Empty);
                let body = match classify(outcome, "getting the clip", Idempotency::Idempotent, operation.attempt()) {
                    Verdict::Success { body, .. } => body,
                    setback => return self.operation_setback(operation, setback),
                };
                match self.download_source(&body) {
                    Ok(source) => {
                        // Only attempts of this operation resume a partial file: one left by another
                        // download to the same path (stopped by a shutdown, say) holds other bytes.
                        let _ = fs::remove_file(partial_path(destination));
                        operation.set_download_source(source.clone());
                        source
                    }
                    Err(error) => return self.fail_operation(operation, error),
                }
            }
        };
        let part = partial_path(destination);
        let fetched = self.fetch(operation, authorization, &source, &part).and_then(|bytes| match bytes {
            Some(bytes) => fs::rename(&part, destination).map(|()| Some(bytes)).map_err(|e| {
                Setback::Disk(Error::new(
                    ErrorKind::Io,
                    format!("cannot move the download to {}: {e}", destination.display()),
                ))
            }),
            None => Ok(None),
        });
        match fetched {
            Ok(Some(bytes)) => {
                let result = OperationResult::Downloaded { path: destination.to_path_buf(), bytes };
                operation.complete(200, result, &self.events);
            }
            // Cancelled, or the client is stopping.
            Ok(None) => {
                if !operation.is_running() {
                    let _ = fs::remove_file(&part);
                }
            }
            Err(Setback::Disk(error)) => {
                let _ = fs::remove_file(&part);
                self.fail_operation(operation, error);
            }
            Err(Setback::Outcome(outcome)) => {
                let verdict = classify(outcome, "downloading the clip", Idempotency::Idempotent, operation.attempt());
                if matches!(verdict, Verdict::Fail(_)) {
                    let _ = fs::remove_file(&part);
                }
                match verdict {
                    Verdict::Success { .. } => unreachable!("a success is not a setback"),
                    setback => self.operation_setback(operation, setback),
                }
            }
        }
    }

    fn download_source(&self, clip_body: &[u8]) -> Result<GameClipUri> {
        let clip = GameClip::from_get_response(clip_body)?;
        let source = clip.download_uri().cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::WrongState,
                format!("the clip is {:?}, with no download URI: only Published clips can be downloaded", clip.state),
            )
        })?;
        check_url(&source.uri, self.allow_insecure_http).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service handed out an unusable download URI: {}", e.message))
        })?;
        Ok(source)
    }

    /// One attempt at the file: appends to `part` from where it ends. `Ok(None)`: abandoned (cancelled
    /// or stopping).
    fn fetch(
        &self,
        operation: &Operation,
        authorization: &str,
        source: &GameClipUri,
        part: &Path,
    ) -> std::result::Result<Option<u64>, Setback> {
        let disk =
            |e: std::io::Error| Setback::Disk(Error::new(ErrorKind::Io, format!("writing {}: {e}", part.display())));
        let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(part).map_err(disk)?;
        let have = file.metadata().map_err(disk)?.len();
        if have > 0 && have == source.file_size {
            return Ok(Some(have)); // an earlier attempt wrote it all; only the rename was missing
        }
        // The clip's download URI may be a storage host: the token goes only to the metadata host.
        // It is fetched as handed out (no redirects followed).
        let authorization = same_origin(&source.uri, &self.metadata_base_url).then_some(authorization);
        let streaming = self.http.download(&source.uri, authorization, have).map_err(Setback::Outcome)?;
        if streaming.starts_at != have && streaming.starts_at != 0 {
            let message = format!("asked for bytes from {have} on, the server sent from {}", streaming.starts_at);
            return Err(Setback::Outcome(Outcome::Transport { reached_service: true, message }));
        }
        file.set_len(streaming.starts_at).map_err(disk)?;
        file.seek(SeekFrom::Start(streaming.starts_at)).map_err(disk)?;
        let total = streaming.total.unwrap_or(source.file_size);
        let mut written = streaming.starts_at;
        let mut reader = streaming.body.into_reader();
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            if !operation.is_running() || self.is_stopping() {
                return Ok(None);
            }
            let read = reader.read(&mut buffer).map_err(|e| {
                Setback::Outcome(Outcome::Transport {
                    reached_service: true,
                    message: format!("reading the clip: {e}"),
                })
            })?;
            if read == 0 {
                break;
            }
            file.write_all(&buffer[..read]).map_err(disk)?;
            written += read as u64;
            operation.download_progress(written, total, &self.events);
        }
        if total != 0 && written != total {
            let message = format!("the download ended at {written} of {total} bytes");
            return Err(Setback::Outcome(Outcome::Transport { reached_service: true, message }));
        }
        file.sync_all().map_err(disk)?;
        Ok(Some(written))
    }
}

/// What a successful call's body holds.
fn read_answer(answer: Answer, body: &[u8]) -> Result<OperationResult> {
    Ok(match answer {
        Answer::Nothing => OperationResult::Nothing,
        Answer::Clip => OperationResult::Clip(Box::new(GameClip::from_get_response(body)?)),
        Answer::Page => OperationResult::Page(ClipPage::from_wire(body)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_request_url() {
        let base = "https://up.example:8443/upload/abc?uploadId=1&blockNum=2";
        assert_eq!(resolve_location(base, "https://other.example/x").unwrap(), "https://other.example/x");
        assert_eq!(
            resolve_location(base, "/moved/upload/abc?q=1").unwrap(),
            "https://up.example:8443/moved/upload/abc?q=1"
        );
        assert_eq!(resolve_location(base, "def?q=2").unwrap(), "https://up.example:8443/upload/def?q=2");
        assert_eq!(resolve_location("not a url", "/x"), None);
    }
}
