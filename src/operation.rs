//! Clip operations (metadata update, rate, flag, view, delete, get, list, download): one request each
//! (a download: a get, then the file), run by the workers and polled through a handle like an upload.
//! This module keeps an operation's bookkeeping; the engine does the I/O and reports back.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ureq::http::Method;

use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventKind, EventQueue};
use crate::lifecycle::{End, Gate, Lifecycle, NextTask, UploadState, RESULT_PENDING};
use crate::protocol::{ClipPage, GameClip, GameClipUri};
use crate::retry::Idempotency;
use crate::upload::UploadStatus;

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

pub struct Operation {
    pub handle: u64,
    pub kind: OperationKind,
    released: AtomicBool,
    inner: Mutex<Inner>,
}

fn still_running() -> Error {
    Error::new(ErrorKind::WrongState, "the operation has not completed yet: poll it or wait for its event")
}

impl Operation {
    pub fn new(handle: u64, kind: OperationKind) -> Operation {
        Operation { handle, kind, released: AtomicBool::new(false), inner: Mutex::new(Inner::default()) }
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

    pub fn next_task(&self, now: Instant) -> NextTask<()> {
        let mut inner = self.inner.lock();
        match inner.life.gate(now) {
            Gate::Ended => NextTask::Finished,
            Gate::Wait(at) => NextTask::Wait(at),
            Gate::Open if inner.in_flight => NextTask::Wait(None),
            Gate::Open => {
                inner.in_flight = true;
                NextTask::Run(())
            }
        }
    }

    pub fn attempt(&self) -> u32 {
        self.inner.lock().life.consecutive_failures
    }

    pub fn is_running(&self) -> bool {
        self.inner.lock().life.is_running()
    }

    pub fn retry_later(&self, after: Duration, error: &Error) {
        let mut inner = self.inner.lock();
        inner.in_flight = false;
        inner.life.retry_later(after, error);
    }

    pub fn wait_for_auth(&self, status: u16, events: &EventQueue) {
        let mut inner = self.inner.lock();
        inner.in_flight = false;
        if inner.life.wait_for_auth(status) {
            self.emit(events, &inner, EventKind::NeedsAuth, RESULT_PENDING);
        }
    }

    pub fn auth_renewed(&self) {
        self.inner.lock().life.waiting_for_auth = false;
    }

    pub fn complete(&self, status: u16, result: OperationResult, events: &EventQueue) {
        let mut inner = self.inner.lock();
        inner.in_flight = false;
        inner.life.progressed(status);
        if inner.life.finish(End::Completed, None) {
            inner.result = Some(result);
            self.emit(events, &inner, EventKind::OperationCompleted, crate::lifecycle::RESULT_OK);
        }
    }

    pub fn fail(&self, error: Error, events: &EventQueue) {
        let mut inner = self.inner.lock();
        inner.in_flight = false;
        let code = error.code();
        if inner.life.finish(End::Failed, Some(error)) {
            self.emit(events, &inner, EventKind::OperationCompleted, code);
        }
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

    /// A download's source, once the clip has been read.
    pub fn download_source(&self) -> Option<GameClipUri> {
        self.inner.lock().source.clone()
    }

    pub fn set_download_source(&self, source: GameClipUri) {
        let mut inner = self.inner.lock();
        inner.bytes_total = source.file_size;
        inner.source = Some(source);
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
        let inner = self.inner.lock();
        let (state, retry_in_ms) = inner.life.state(paused, now, UploadState::Running);
        UploadStatus {
            state,
            result: inner.life.result(),
            http_status: inner.life.http_status,
            bytes_total: inner.bytes_total,
            bytes_acked: inner.bytes_done,
            blocks_total: 0,
            blocks_acked: 0,
            retries: inner.life.retries,
            retry_in_ms,
        }
    }
}
