//! Clip operations (metadata update, rate, flag, view, delete, get, list, download): one request each
//! (a download: a get, then the file), run by the workers and polled through a handle like an upload.
//! As for uploads, the engine sends the request the operation's [`Step`] names and hands the verdict to
//! [`Operation::settle`], which decides; no I/O happens here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind, EventQueue};
use crate::lifecycle::{Gate, Lifecycle, NextTask};
use crate::log::LogLevel;
use crate::protocol::{ClipPage, GameClip, GameClipUri};
use crate::retry::{Idempotency, Verdict};
use crate::status::{End, UploadState, UploadStatus, RESULT_OK, RESULT_PENDING};
use crate::transport::Method;
use crate::upload::Settled;
use crate::url_policy::check_url;

/// What the service's answer to a call holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Nothing the caller needs (200/204).
    Nothing,
    /// `{"gameClip": GameClip}`.
    Clip,
    /// `{"gameClips": [...], "pagingInfo": {...}}`.
    Page,
}

/// What an operation does.
#[derive(Debug, Clone)]
pub enum OperationKind {
    /// One request to the metadata host.
    Call {
        method: Method,
        /// Relative to the metadata base URL, query included.
        path: String,
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
        /// For messages: "rating the clip".
        what: &'static str,
        answer: Answer,
    },
    /// Get the clip (`clip_path`), then its Download URI into `destination`.
    Download { clip_path: String, destination: PathBuf },
}

/// What a completed operation produced.
#[derive(Debug, Clone)]
pub enum OperationResult {
    Nothing,
    Clip(Box<GameClip>),
    Page(ClipPage),
    Downloaded { path: PathBuf, bytes: u64 },
}

impl OperationResult {
    /// The normalised JSON handed to callers.
    pub fn to_json(&self) -> String {
        match self {
            OperationResult::Nothing => "{}".into(),
            OperationResult::Clip(clip) => clip.to_json(),
            OperationResult::Page(page) => page.to_json(),
            OperationResult::Downloaded { path, bytes } => {
                serde_json::json!({ "path": path.to_string_lossy(), "bytes": bytes }).to_string()
            }
        }
    }
}

/// The request an operation sends next.
#[derive(Debug, Clone)]
pub enum Step {
    /// The one request of a call.
    Call,
    /// A download: get the clip, for its Download URI.
    FindSource,
    /// A download: fetch the file (from where an earlier attempt stopped).
    Fetch(GameClipUri),
}

#[derive(Default)]
struct Inner {
    life: Lifecycle,
    in_flight: bool,
    result: Option<OperationResult>,
    /// Downloads: where the bytes come from once the clip was read, and how far the file is.
    source: Option<GameClipUri>,
    bytes_done: u64,
    bytes_total: u64,
}

impl Inner {
    fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        let progress = UploadStatus {
            state: UploadState::Running,
            result: RESULT_PENDING,
            http_status: 0,
            bytes_total: self.bytes_total,
            bytes_acked: self.bytes_done,
            blocks_total: 0,
            blocks_acked: 0,
            retries: 0,
            retry_in_ms: 0,
            bytes_wasted: 0,
        };
        self.life.published(UploadState::Running, progress).status(paused, now)
    }
}

pub struct Operation {
    pub handle: u64,
    pub kind: OperationKind,
    config: Arc<Config>,
    released: AtomicBool,
    inner: Mutex<Inner>,
}

fn still_running() -> Error {
    Error::new(ErrorKind::WrongState, "the operation has not completed yet: poll it or wait for its event")
}

/// What a successful call's body holds.
fn read_answer(answer: Answer, body: &[u8]) -> Result<OperationResult> {
    Ok(match answer {
        Answer::Nothing => OperationResult::Nothing,
        Answer::Clip => OperationResult::Clip(Box::new(GameClip::from_get_response(body)?)),
        Answer::Page => OperationResult::Page(ClipPage::from_wire(body)?),
    })
}

impl Operation {
    pub fn new(handle: u64, kind: OperationKind, config: Arc<Config>) -> Operation {
        Operation { handle, kind, config, released: AtomicBool::new(false), inner: Mutex::new(Inner::default()) }
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
            bytes_done: inner.bytes_done,
            bytes_total: inner.bytes_total,
        });
    }

    pub fn mark_released(&self) {
        self.released.store(true, Ordering::Release);
    }

    pub fn next_step(&self, now: Instant) -> NextTask<Step> {
        let mut inner = self.inner.lock();
        match inner.life.gate(now) {
            Gate::Ended => NextTask::Finished,
            Gate::Wait(at) => NextTask::Wait(at),
            Gate::Open if inner.in_flight => NextTask::Wait(None),
            Gate::Open => {
                inner.in_flight = true;
                NextTask::Run(match (&self.kind, &inner.source) {
                    (OperationKind::Call { .. }, _) => Step::Call,
                    (OperationKind::Download { .. }, None) => Step::FindSource,
                    (OperationKind::Download { .. }, Some(source)) => Step::Fetch(source.clone()),
                })
            }
        }
    }

    /// For messages: "rating the clip failed: ...".
    pub fn what(&self, step: &Step) -> &'static str {
        match (&self.kind, step) {
            (OperationKind::Call { what, .. }, _) => what,
            (_, Step::Fetch(_)) => "downloading the clip",
            _ => "getting the clip",
        }
    }

    pub fn idempotency(&self) -> Idempotency {
        match &self.kind {
            OperationKind::Call { idempotency, .. } => *idempotency,
            OperationKind::Download { .. } => Idempotency::Idempotent,
        }
    }

    pub fn attempt(&self) -> u32 {
        self.inner.lock().life.consecutive_failures
    }

    /// Where `step`'s request goes (the scheduler asks its host's leave).
    pub fn url_of(&self, step: &Step, metadata_base_url: &str) -> String {
        match step {
            Step::Fetch(source) => source.uri.clone(),
            Step::Call | Step::FindSource => metadata_base_url.to_string(),
        }
    }

    /// The back-off being waited out ends now.
    pub fn retry_now(&self) {
        self.inner.lock().life.retry_now();
    }

    pub fn is_running(&self) -> bool {
        self.inner.lock().life.is_running()
    }

    /// A step taken that was not carried out (the client stopped, or the download was cancelled).
    pub fn put_back(&self) {
        self.inner.lock().in_flight = false;
    }

    /// Decides what the verdict on `step`'s request means for the operation.
    pub fn settle(&self, step: Step, verdict: Verdict, events: &EventQueue) -> Settled {
        let mut inner = self.inner.lock();
        inner.in_flight = false;
        if !inner.life.is_running() {
            return Settled::default();
        }
        let handle = self.handle;
        match verdict {
            Verdict::Success { status, body } => match step {
                Step::Call => {
                    let OperationKind::Call { answer, .. } = &self.kind else { unreachable!("a call's step") };
                    match read_answer(*answer, &body) {
                        Ok(result) => self.complete(&mut inner, status, result, events),
                        Err(error) => self.failed(&mut inner, error, events),
                    }
                }
                Step::FindSource => match self.download_source(&body) {
                    Ok(source) => {
                        inner.life.progressed(status);
                        inner.bytes_total = source.file_size;
                        inner.source = Some(source);
                        Settled::default()
                    }
                    Err(error) => self.failed(&mut inner, error, events),
                },
                Step::Fetch(_) => {
                    let OperationKind::Download { destination, .. } = &self.kind else {
                        unreachable!("a download's step")
                    };
                    let result = OperationResult::Downloaded { path: destination.clone(), bytes: inner.bytes_done };
                    self.complete(&mut inner, status, result, events)
                }
            },
            Verdict::Retry { after, error } => {
                inner.life.retry_later(after, &error, Instant::now());
                let message = format!("operation {handle:#x}: {}; retrying in {} ms", error.message, after.as_millis());
                Settled { log: Some((LogLevel::Debug, message)), ..Settled::default() }
            }
            Verdict::NeedsAuth { status } => {
                if inner.life.wait_for_auth(status) {
                    self.emit(events, &inner, EventKind::NeedsAuth, RESULT_PENDING);
                }
                Settled::default()
            }
            // A repeated delete that finds nothing means an earlier attempt did delete it.
            Verdict::Fail(error)
                if error.http_status == 404
                    && inner.life.consecutive_failures > 0
                    && matches!(self.kind, OperationKind::Call { method: Method::Delete, .. }) =>
            {
                self.complete(&mut inner, 204, OperationResult::Nothing, events)
            }
            // A view that may have been counted is not counted again.
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.failed(&mut inner, error, events),
        }
    }

    /// The Download URI in a clip's answer, checked like any URL the library asks.
    fn download_source(&self, clip_body: &[u8]) -> Result<GameClipUri> {
        let clip = GameClip::from_get_response(clip_body)?;
        let source = clip.download_uri().cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::WrongState,
                format!("the clip is {:?}, with no download URI: only Published clips can be downloaded", clip.state),
            )
        })?;
        check_url(&source.uri, self.config.allow_insecure_http).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service handed out an unusable download URI: {}", e.message))
        })?;
        Ok(source)
    }

    fn complete(&self, inner: &mut Inner, status: u16, result: OperationResult, events: &EventQueue) -> Settled {
        inner.life.progressed(status);
        if inner.life.finish(End::Completed, None) {
            inner.result = Some(result);
            self.emit(events, inner, EventKind::OperationCompleted, RESULT_OK);
        }
        Settled::default()
    }

    fn failed(&self, inner: &mut Inner, error: Error, events: &EventQueue) -> Settled {
        let message = format!("operation {:#x} failed: {}", self.handle, error.message);
        let code = error.code();
        if !inner.life.finish(End::Failed, Some(error)) {
            return Settled::default();
        }
        self.emit(events, inner, EventKind::OperationCompleted, code);
        Settled { log: Some((LogLevel::Warn, message)), ..Settled::default() }
    }

    /// Ends the operation with `error` (a panicking task, say) unless it has ended already.
    pub fn fail(&self, error: Error, events: &EventQueue) {
        let mut inner = self.inner.lock();
        inner.in_flight = false;
        self.failed(&mut inner, error, events);
    }

    pub fn cancel(&self, events: &EventQueue) -> Result<()> {
        let mut inner = self.inner.lock();
        let error = Error::new(ErrorKind::Cancelled, "the operation was cancelled");
        if !inner.life.finish(End::Cancelled, Some(error)) {
            return Err(Error::new(ErrorKind::WrongState, "the operation has already finished"));
        }
        self.emit(events, &inner, EventKind::OperationCompleted, ErrorKind::Cancelled.code());
        Ok(())
    }

    pub fn auth_renewed(&self) {
        self.inner.lock().life.waiting_for_auth = false;
    }

    /// Bytes of a download on disk so far. Reported progress never goes back, even when a server that
    /// ignored the Range header makes the file start over.
    pub fn download_progress(&self, bytes_done: u64, bytes_total: u64, events: &EventQueue) {
        let mut inner = self.inner.lock();
        inner.bytes_done = inner.bytes_done.max(bytes_done);
        inner.bytes_total = bytes_total;
        self.emit(events, &inner, EventKind::Progress, RESULT_PENDING);
    }

    pub fn error(&self) -> Option<Error> {
        self.inner.lock().life.error.clone()
    }

    /// The normalised JSON of the result, once completed.
    pub fn result_json(&self) -> Result<String> {
        let inner = self.inner.lock();
        match (&inner.result, inner.life.failure()) {
            (Some(result), _) => Ok(result.to_json()),
            (None, Some(error)) => {
                Err(Error::new(ErrorKind::WrongState, format!("the operation failed: {}", error.message)))
            }
            (None, None) => Err(still_running()),
        }
    }

    /// The clip a completed get operation read.
    pub fn clip(&self) -> Result<GameClip> {
        let inner = self.inner.lock();
        match &inner.result {
            Some(OperationResult::Clip(clip)) => Ok((**clip).clone()),
            Some(_) => Err(Error::new(ErrorKind::WrongState, "this operation did not get a clip (use clips_get_clip)")),
            None if inner.life.failure().is_some() => Err(Error::new(ErrorKind::WrongState, "the operation failed")),
            None => Err(still_running()),
        }
    }

    pub fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        self.inner.lock().status(paused, now)
    }
}
