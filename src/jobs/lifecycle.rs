//! What uploads and operations share: running or ended, waiting for a token, waiting out a retry, the
//! counters a status shows, and the final error. Each of them keeps one `Lifecycle` under its own lock.

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::jobs::status::{End, Published, UploadState, UploadStatus, RESULT_OK, RESULT_PENDING};

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
pub enum Readiness {
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
    /// When the failures since the last progress began (for `give_up_after_ms`).
    pub failing_since: Option<Instant>,
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
    pub fn gate(&mut self, now: Instant) -> Readiness {
        if self.end.is_some() {
            return Readiness::Ended;
        }
        if self.waiting_for_auth {
            return Readiness::Wait(None);
        }
        match self.retry_at {
            Some(at) if at > now => Readiness::Wait(Some(at)),
            _ => {
                self.retry_at = None;
                Readiness::Open
            }
        }
    }

    pub fn retry_later(&mut self, after: Duration, error: &Error, now: Instant) {
        // Requests sent in parallel before a back-off fail together: while one is being waited out,
        // another failure joins that round instead of spending the budget again (else more workers
        // would mean fewer real retries).
        if !matches!(self.retry_at, Some(at) if at > now) {
            self.consecutive_failures += 1;
        }
        self.failing_since.get_or_insert(now);
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

    /// How long it has been failing without progress in between.
    pub fn failing_for(&self, now: Instant) -> Duration {
        self.failing_since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Whatever back-off it waits out ends now (its host works again, or the network came back).
    pub fn retry_now(&mut self) {
        self.retry_at = None;
    }

    /// A request succeeded.
    pub fn progressed(&mut self, status: u16) {
        self.consecutive_failures = 0;
        self.failing_since = None;
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
            (Some(_), None) => ErrorKind::Internal.code(),
        }
    }

    /// The snapshot a status is read from. `working`: what the job is doing when nothing else applies;
    /// `progress`: its counters (the state, result, status and retries are filled in here).
    pub fn published(&self, working: UploadState, progress: UploadStatus) -> Published {
        Published {
            status: UploadStatus {
                state: working,
                result: self.result(),
                http_status: self.http_status,
                retries: self.retries,
                retry_in_ms: 0,
                ..progress
            },
            end: self.end,
            waiting_for_auth: self.waiting_for_auth,
            retry_at: self.retry_at,
        }
    }
}
