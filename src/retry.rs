//! What to do after one request: done, try again later, wait for a new token, or give up.
//! (The basic policy: exponential back-off with full jitter on transport errors, 408, 429 and 5xx.
//! Uploads never give up on those by count, only interactive operations do: see [`Persistence`].)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::protocol::describe_error_body;
use crate::transport::Outcome;

/// Consecutive failed attempts of an interactive operation before it fails.
pub const MAX_ATTEMPTS: u32 = 8;
const BASE_DELAY: Duration = Duration::from_millis(250);
/// The back-off cap of interactive operations: a player is waiting on them.
pub const INTERACTIVE_MAX_DELAY: Duration = Duration::from_secs(16);
/// The back-off cap of uploads when the title sets none (`max_retry_delay_ms` 0). Chosen from the
/// `fleet` benchmark (200 consoles, a 120 s outage): 30 s cost 12.8 requests per console during the
/// outage, 120 s kept the fleet 108 s from completing after recovery; 45 s gives 11.5 requests and
/// 40.9 s (README, Benchmarks).
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(45);

/// How long a job keeps trying through transient failures (transport errors, 408, 429, 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Uploads: until a final answer or the title's word (cancel, `give_up_after_ms`); the back-off
    /// between attempts grows to `max_delay`.
    UntilFinal { max_delay: Duration },
    /// Interactive operations: at most [`MAX_ATTEMPTS`] attempts, at most [`INTERACTIVE_MAX_DELAY`] apart.
    Bounded,
}

impl Persistence {
    fn retries_left(self, attempt: u32) -> bool {
        match self {
            Persistence::UntilFinal { .. } => true,
            Persistence::Bounded => attempt + 1 < MAX_ATTEMPTS,
        }
    }

    pub fn max_delay(self) -> Duration {
        match self {
            Persistence::UntilFinal { max_delay } => max_delay,
            Persistence::Bounded => INTERACTIVE_MAX_DELAY,
        }
    }
}

#[derive(Debug)]
pub enum Verdict {
    Success {
        status: u16,
        body: Vec<u8>,
    },
    Retry {
        after: Duration,
        error: Error,
    },
    NeedsAuth {
        status: u16,
    },
    /// A request that is not idempotent may or may not have reached the service: repeating it blindly
    /// could act twice. The caller either finds out from the service, or fails with `error`.
    Ambiguous {
        error: Error,
    },
    Fail(Error),
}

/// Whether repeating a request the service may already have acted on is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Idempotent,
    /// Repeated only when it provably never reached the service, or the service said 429/503.
    NotIdempotent,
}

/// A uniformly random duration in `[0, max)`.
pub fn jitter(max: Duration) -> Duration {
    // A tiny xorshift is plenty for spreading retries; seeded per process from the clock.
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    Duration::from_nanos(x % (max.as_nanos() as u64).max(1))
}

/// Full-jitter exponential back-off for the `attempt`-th consecutive failure (0-based), capped at
/// `max_delay`.
pub fn backoff(attempt: u32, max_delay: Duration) -> Duration {
    let ceiling = BASE_DELAY.saturating_mul(1 << attempt.min(20)).min(max_delay);
    jitter(ceiling).max(Duration::from_millis(10))
}

/// The error of a request that may have reached the service, and is not repeated blindly.
fn may_have_acted(error: Error) -> Error {
    let message = format!("{} (not repeated: the service may have acted on it)", error.message);
    Error { message, ..error }
}

/// The statuses that say "try again later" (Xbox Live's retry guidance): the host is struggling, not
/// refusing this request.
pub fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

fn is_quota_refusal(message: &str) -> bool {
    message.to_ascii_lowercase().contains("quota")
}

pub fn classify(
    outcome: Outcome,
    what: &str,
    idempotency: Idempotency,
    attempt: u32,
    persistence: Persistence,
) -> Verdict {
    let retries_left = persistence.retries_left(attempt);
    let backoff = |attempt| backoff(attempt, persistence.max_delay());
    match outcome {
        Outcome::Answered { status, body, .. } if (200..300).contains(&status) => Verdict::Success { status, body },
        Outcome::Answered { status: 401, .. } => Verdict::NeedsAuth { status: 401 },
        Outcome::Answered { status, body, retry_after, .. } => {
            let message = format!("{what} failed: HTTP {status}: {}", describe_error_body(&body));
            let transient = is_transient(status);
            let safe = idempotency == Idempotency::Idempotent || matches!(status, 429 | 503);
            if transient && retries_left {
                let error = Error::http(ErrorKind::Http, status, message);
                if !safe {
                    // 408/500/502/504 to a call that is not idempotent: it may have taken effect.
                    return Verdict::Ambiguous { error: may_have_acted(error) };
                }
                let after = retry_after.unwrap_or_else(|| backoff(attempt));
                return Verdict::Retry { after, error };
            }
            let kind = match status {
                403 => ErrorKind::Auth,
                // The service refuses an over-quota clip with a 400 whose message says so.
                400 | 507 if is_quota_refusal(&message) => ErrorKind::Quota,
                _ => ErrorKind::Http,
            };
            Verdict::Fail(Error::http(kind, status, message))
        }
        Outcome::Refused { kind, message } => Verdict::Fail(Error::new(kind, format!("{what}: {message}"))),
        Outcome::Transport { reached_service, message } => {
            let error = Error::new(ErrorKind::Network, format!("{what} failed: {message}"));
            let safe = idempotency == Idempotency::Idempotent || !reached_service;
            match (safe, retries_left) {
                (true, true) => Verdict::Retry { after: backoff(attempt), error },
                (false, true) => Verdict::Ambiguous { error: may_have_acted(error) },
                (true, false) => Verdict::Fail(error),
                (false, false) => Verdict::Fail(may_have_acted(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDED: Persistence = Persistence::Bounded;
    const UPLOAD: Persistence = Persistence::UntilFinal { max_delay: DEFAULT_MAX_RETRY_DELAY };

    fn answered(status: u16) -> Outcome {
        Outcome::Answered { status, body: Vec::new(), retry_after: None, location: None }
    }

    #[test]
    fn transient_statuses_are_retried_when_safe() {
        assert!(matches!(classify(answered(503), "x", Idempotency::Idempotent, 0, BOUNDED), Verdict::Retry { .. }));
        assert!(matches!(classify(answered(503), "x", Idempotency::NotIdempotent, 0, BOUNDED), Verdict::Retry { .. }));
        assert!(matches!(
            classify(answered(500), "x", Idempotency::NotIdempotent, 0, BOUNDED),
            Verdict::Ambiguous { .. }
        ));
        assert!(matches!(
            classify(answered(500), "x", Idempotency::Idempotent, MAX_ATTEMPTS - 1, BOUNDED),
            Verdict::Fail(_)
        ));
        assert!(matches!(classify(answered(401), "x", Idempotency::Idempotent, 0, BOUNDED), Verdict::NeedsAuth { .. }));
        match classify(answered(403), "x", Idempotency::Idempotent, 0, BOUNDED) {
            Verdict::Fail(e) => assert_eq!((e.kind, e.http_status), (ErrorKind::Auth, 403)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quota_gone_and_forbidden_fail_at_once_with_their_own_codes() {
        let quota = Outcome::Answered {
            status: 400,
            body: br#"{"errorCode":1013,"errorMessage":"quota exceeded: 5 bytes more"}"#.to_vec(),
            retry_after: None,
            location: None,
        };
        for (outcome, kind, status) in [
            (quota, ErrorKind::Quota, 400),
            (answered(410), ErrorKind::Http, 410),
            (answered(403), ErrorKind::Auth, 403),
        ] {
            match classify(outcome, "x", Idempotency::Idempotent, 0, BOUNDED) {
                Verdict::Fail(e) => assert_eq!((e.kind, e.http_status), (kind, status)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_request_that_may_have_arrived_is_not_repeated_unless_idempotent() {
        let sent = || Outcome::Transport { reached_service: true, message: "reset".into() };
        let unsent = || Outcome::Transport { reached_service: false, message: "refused".into() };
        assert!(matches!(classify(sent(), "x", Idempotency::NotIdempotent, 0, BOUNDED), Verdict::Ambiguous { .. }));
        assert!(matches!(classify(unsent(), "x", Idempotency::NotIdempotent, 0, BOUNDED), Verdict::Retry { .. }));
        assert!(matches!(classify(sent(), "x", Idempotency::Idempotent, 0, BOUNDED), Verdict::Retry { .. }));
        // Out of attempts, an ambiguous outcome fails, saying why it was not repeated.
        match classify(sent(), "x", Idempotency::NotIdempotent, MAX_ATTEMPTS - 1, BOUNDED) {
            Verdict::Fail(e) => assert!(e.message.contains("not repeated"), "{}", e.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uploads_never_give_up_on_transient_failures_by_count() {
        let sent = || Outcome::Transport { reached_service: true, message: "reset".into() };
        for attempt in [MAX_ATTEMPTS - 1, 1_000, u32::MAX - 1] {
            for status in [408, 429, 500, 502, 503, 504] {
                assert!(matches!(
                    classify(answered(status), "x", Idempotency::Idempotent, attempt, UPLOAD),
                    Verdict::Retry { .. }
                ));
            }
            assert!(matches!(classify(sent(), "x", Idempotency::Idempotent, attempt, UPLOAD), Verdict::Retry { .. }));
            // A create that may have acted is resolved by the upload, never failed here.
            assert!(matches!(
                classify(sent(), "x", Idempotency::NotIdempotent, attempt, UPLOAD),
                Verdict::Ambiguous { .. }
            ));
            assert!(matches!(
                classify(answered(500), "x", Idempotency::NotIdempotent, attempt, UPLOAD),
                Verdict::Ambiguous { .. }
            ));
        }
        // Final answers stay final.
        assert!(matches!(classify(answered(404), "x", Idempotency::Idempotent, 0, UPLOAD), Verdict::Fail(_)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..40 {
            assert!(backoff(attempt, INTERACTIVE_MAX_DELAY) <= INTERACTIVE_MAX_DELAY);
            assert!(backoff(attempt, DEFAULT_MAX_RETRY_DELAY) <= DEFAULT_MAX_RETRY_DELAY);
        }
        let early: Duration = (0..200).map(|_| backoff(0, DEFAULT_MAX_RETRY_DELAY)).max().unwrap();
        assert!(early <= BASE_DELAY);
        // Late attempts spread over the whole window, up to the cap.
        let late: Duration = (0..400).map(|_| backoff(30, DEFAULT_MAX_RETRY_DELAY)).max().unwrap();
        assert!(late > DEFAULT_MAX_RETRY_DELAY / 2, "{late:?}");
    }
}
