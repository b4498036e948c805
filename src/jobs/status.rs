//! What the game sees of an upload or operation when it polls: the state, the counters, the result.
//! Uploads and operations both publish a [`Published`] snapshot; [`Published::status`] turns it into the
//! status the game reads, applying what changes with time (a retry's countdown) or with the client
//! (pause) at the moment of reading.

use std::time::Instant;

/// `CLIPS_OK` and `CLIPS_PENDING`, as they appear in statuses and events.
pub const RESULT_OK: i32 = 0;
pub const RESULT_PENDING: i32 = 1;

crate::c_codes::c_codes! {
    /// The state a status reports (`CLIPS_STATE_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum UploadState: u32 {
        Creating = 1 => c"CLIPS_STATE_CREATING",
        Uploading = 2 => c"CLIPS_STATE_UPLOADING",
        WaitingForData = 3 => c"CLIPS_STATE_WAITING_FOR_DATA",
        NeedsAuth = 4 => c"CLIPS_STATE_NEEDS_AUTH",
        Paused = 5 => c"CLIPS_STATE_PAUSED",
        Retrying = 6 => c"CLIPS_STATE_RETRYING",
        Completed = 7 => c"CLIPS_STATE_COMPLETED",
        Failed = 8 => c"CLIPS_STATE_FAILED",
        Cancelled = 9 => c"CLIPS_STATE_CANCELLED",
        /// An operation (not an upload) whose request is queued or in flight.
        Running = 10 => c"CLIPS_STATE_RUNNING",
    }
}

impl UploadState {
    pub fn from_code(code: u32) -> Option<UploadState> {
        UploadState::ALL.iter().copied().find(|state| *state as u32 == code)
    }
}

/// How an upload or operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Completed,
    Failed,
    Cancelled,
}

/// A snapshot of one upload or operation, taken without allocating.
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
    /// Bytes of blocks sent that no accepted block carried (cut off, reset, refused).
    pub bytes_wasted: u64,
}

/// What a status is computed from, as of the last change: the status with `state` what the job is
/// doing when nothing else applies. The end, a wait for a token or for a retry, and the client's
/// pause are applied when read, so a snapshot stays right as time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub status: UploadStatus,
    pub end: Option<End>,
    pub waiting_for_auth: bool,
    pub retry_at: Option<Instant>,
}

impl Published {
    pub fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        let state = match self.end {
            Some(End::Completed) => UploadState::Completed,
            Some(End::Failed) => UploadState::Failed,
            Some(End::Cancelled) => UploadState::Cancelled,
            None if self.waiting_for_auth => UploadState::NeedsAuth,
            None if paused => UploadState::Paused,
            None => match self.retry_at {
                Some(at) if at > now => {
                    let retry_in_ms = (at - now).as_millis().min(u128::from(u32::MAX)) as u32;
                    return UploadStatus { state: UploadState::Retrying, retry_in_ms, ..self.status };
                }
                _ => self.status.state,
            },
        };
        UploadStatus { state, retry_in_ms: 0, ..self.status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn published(state: UploadState) -> Published {
        let status = UploadStatus {
            state,
            result: RESULT_PENDING,
            http_status: 0,
            bytes_total: 10,
            bytes_acked: 4,
            blocks_total: 2,
            blocks_acked: 1,
            retries: 0,
            retry_in_ms: 0,
            bytes_wasted: 0,
        };
        Published { status, end: None, waiting_for_auth: false, retry_at: None }
    }

    #[test]
    fn the_end_then_a_token_then_pause_then_a_retry_decide_the_state() {
        let now = Instant::now();
        let working = published(UploadState::Uploading);
        assert_eq!(working.status(false, now).state, UploadState::Uploading);
        assert_eq!(working.status(true, now).state, UploadState::Paused);
        let retrying = Published { retry_at: Some(now + Duration::from_millis(1500)), ..working };
        let status = retrying.status(false, now);
        assert_eq!((status.state, status.retry_in_ms), (UploadState::Retrying, 1500));
        assert_eq!(retrying.status(false, now + Duration::from_secs(2)).state, UploadState::Uploading);
        let parked = Published { waiting_for_auth: true, ..retrying };
        assert_eq!(parked.status(true, now).state, UploadState::NeedsAuth);
        let ended = Published { end: Some(End::Cancelled), ..parked };
        assert_eq!(ended.status(true, now).state, UploadState::Cancelled);
    }
}
