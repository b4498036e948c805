//! What uploads and operations share: running or ended, waiting for a token, waiting out a retry, the
//! counters a status shows, and the final error. Each of them keeps one `Lifecycle` under its own lock.

use std::time::{Duration, Instant};

use crate::error::Error;

/// `CLIPS_OK` and `CLIPS_PENDING`, as they appear in statuses and events.
pub const RESULT_OK: i32 = 0;
pub const RESULT_PENDING: i32 = 1;

/// The state a status reports (`CLIPS_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    Creating = 1,
    Uploading = 2,
    WaitingForData = 3,
    NeedsAuth = 4,
    Paused = 5,
    Retrying = 6,
    Completed = 7,
    Failed = 8,
    Cancelled = 9,
    /// An operation (not an upload) whose request is queued or in flight.
    Running = 10,
}

impl UploadState {
    pub fn from_code(code: u32) -> Option<UploadState> {
        use UploadState::*;
        [Creating, Uploading, WaitingForData, NeedsAuth, Paused, Retrying, Completed, Failed, Cancelled, Running]
            .into_iter()
            .find(|state| *state as u32 == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Completed,
    Failed,
    Cancelled,
}

/// What a worker asking an upload or operation for work gets.
pub enum NextTask<T> {
    Run(T),
    /// Nothing to do now; ask again at this time (or when woken).
    Wait(Option<Instant>),
    /// Ended: drop it from the schedule.
    Finished,
}

/// Whether a handle's work may go on now.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Nothing to do until this time (or until woken: a new token, say).
    Wait(Option<Instant>),
    Ended,
}

#[derive(Debug, Default)]
pub struct Lifecycle {
    pub end: Option<End>,
    pub waiting_for_auth: bool,
    pub retry_at: Option<Instant>,
    /// Failed attempts since the last progress: the attempt number of the next request.
    pub consecutive_failures: u32,
    pub retries: u32,
    pub http_status: u16,
    pub error: Option<Error>,
}

impl Lifecycle {
    /// Why it ended, once it ended with an error (while running, `error` is the last retried failure).
    pub fn failure(&self) -> Option<&Error> {
        self.error.as_ref().filter(|_| self.end.is_some())
    }

    pub fn is_running(&self) -> bool {
        self.end.is_none()
    }

    /// Ended, parked for a token, or waiting out a retry; otherwise open (and any elapsed retry time is
    /// cleared).
    pub fn gate(&mut self, now: Instant) -> Gate {
        if self.end.is_some() {
            return Gate::Ended;
        }
        if self.waiting_for_auth {
            return Gate::Wait(None);
        }
        match self.retry_at {
            Some(at) if at > now => Gate::Wait(Some(at)),
            _ => {
                self.retry_at = None;
                Gate::Open
            }
        }
    }

    pub fn retry_later(&mut self, after: Duration, error: &Error) {
        let now = Instant::now();
        // Requests sent in parallel before a back-off fail together: while one is being waited out,
        // another failure joins that round instead of spending the budget again (else more workers
        // would mean fewer real retries).
        if !matches!(self.retry_at, Some(at) if at > now) {
            self.consecutive_failures += 1;
        }
        self.retry_at = Some(self.retry_at.map_or(now + after, |at| at.max(now + after)));
        self.retries += 1;
        if error.http_status != 0 {
            self.http_status = error.http_status;
        }
        // Kept while running so a RETRYING upload can say why; the next success clears it.
        self.error = Some(error.clone());
    }

    /// Parks for a new token; true when it was not parked already (the caller then emits NEEDS_AUTH).
    pub fn wait_for_auth(&mut self, status: u16) -> bool {
        if status != 0 {
            self.http_status = status;
        }
        let newly = self.is_running() && !self.waiting_for_auth;
        self.waiting_for_auth |= self.is_running();
        newly
    }

    /// A request succeeded.
    pub fn progressed(&mut self, status: u16) {
        self.consecutive_failures = 0;
        self.http_status = status;
        self.error = None;
    }

    /// Ends it; false when it had ended already.
    pub fn finish(&mut self, end: End, error: Option<Error>) -> bool {
        if self.end.is_some() {
            return false;
        }
        self.end = Some(end);
        if let Some(status) = error.as_ref().map(|e| e.http_status).filter(|&s| s != 0) {
            self.http_status = status;
        }
        self.error = error;
        true
    }

    /// `CLIPS_PENDING` while running, `CLIPS_OK` or the error's code when ended.
    pub fn result(&self) -> i32 {
        match (self.end, &self.error) {
            (None, _) => RESULT_PENDING,
            (Some(End::Completed), _) => RESULT_OK,
            (Some(_), Some(error)) => error.code(),
            (Some(_), None) => crate::error::ErrorKind::Internal.code(),
        }
    }

    /// The state a status shows, and the time to the next attempt when retrying. `working` is the
    /// state while none of the shared conditions applies.
    pub fn state(&self, paused: bool, now: Instant, working: UploadState) -> (UploadState, u32) {
        state_of(self.end, self.waiting_for_auth, self.retry_at, paused, now, working)
    }
}

/// The state a status reports, and the retry wait in milliseconds while RETRYING; `working` is what a
/// running job is doing when nothing else applies.
pub fn state_of(
    end: Option<End>,
    waiting_for_auth: bool,
    retry_at: Option<Instant>,
    paused: bool,
    now: Instant,
    working: UploadState,
) -> (UploadState, u32) {
    let state = match end {
        Some(End::Completed) => UploadState::Completed,
        Some(End::Failed) => UploadState::Failed,
        Some(End::Cancelled) => UploadState::Cancelled,
        None if waiting_for_auth => UploadState::NeedsAuth,
        None if paused => UploadState::Paused,
        None => match retry_at {
            Some(at) if at > now => {
                let wait = (at - now).as_millis().min(u128::from(u32::MAX)) as u32;
                return (UploadState::Retrying, wait);
            }
            _ => working,
        },
    };
    (state, 0)
}
