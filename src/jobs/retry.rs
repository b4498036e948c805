//! What a job does after one request: done, try again later, wait for a new token, or give up. It
//! reads the outcome's [`Class`] (the one classification pacing reads too) and adds what only the job
//! knows: whether the request may be repeated, and how persistent the job is. Uploads never give up
//! on transient failures by count, only interactive operations do (see [`Persistence`]); the wait
//! comes from the job's own [`Jitter`].

use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::pacing::backoff::{Jitter, INTERACTIVE_MAX_DELAY};
use crate::protocol::describe_error_body;
use crate::transport::{Class, Outcome};

/// Consecutive failed attempts of an interactive operation before it fails.
pub const MAX_ATTEMPTS: u32 = 8;

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

/// The error of a request that may have reached the service, and is not repeated blindly.
fn may_have_acted(error: Error) -> Error {
    let message = format!("{} (not repeated: the service may have acted on it)", error.message);
    Error { message, ..error }
}

fn is_quota_refusal(message: &str) -> bool {
    message.to_ascii_lowercase().contains("quota")
}

/// The verdict on `outcome` for a request described by `what` (for messages), on the job's
/// `attempt`-th consecutive failure; a wait is drawn from `jitter` unless the answer named one.
pub fn classify(
    outcome: Outcome,
    what: &str,
    idempotency: Idempotency,
    attempt: u32,
    persistence: Persistence,
    jitter: &mut Jitter,
) -> Verdict {
    let retries_left = persistence.retries_left(attempt);
    let mut backoff = || jitter.backoff(attempt, persistence.max_delay());
    let class = outcome.class();
    match outcome {
        Outcome::Answered { body, .. } if matches!(class, Class::Accepted { .. }) => {
            Verdict::Success { status: class.status(), body }
        }
        Outcome::Answered { .. } if class == Class::Unauthorized => Verdict::NeedsAuth { status: 401 },
        Outcome::Answered { status, body, retry_after, .. } => {
            let message = format!("{what} failed: HTTP {status}: {}", describe_error_body(&body));
            let transient = matches!(class, Class::Throttled { .. } | Class::Struggling { .. });
            // The service says it did not act on a 429 or a 503: repeating even a create is safe.
            let safe = idempotency == Idempotency::Idempotent || matches!(status, 429 | 503);
            if transient && retries_left {
                let error = Error::http(ErrorKind::Http, status, message);
                if !safe {
                    // 408/500/502/504 to a call that is not idempotent: it may have taken effect.
                    return Verdict::Ambiguous { error: may_have_acted(error) };
                }
                let after = retry_after.unwrap_or_else(backoff);
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
                (true, true) => Verdict::Retry { after: backoff(), error },
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

    use crate::pacing::backoff::DEFAULT_MAX_RETRY_DELAY;

    const BOUNDED: Persistence = Persistence::Bounded;
    const UPLOAD: Persistence = Persistence::UntilFinal { max_delay: DEFAULT_MAX_RETRY_DELAY };

    /// `retry::classify` with a seeded jitter.
    fn classify(outcome: Outcome, what: &str, idempotency: Idempotency, attempt: u32, p: Persistence) -> Verdict {
        super::classify(outcome, what, idempotency, attempt, p, &mut Jitter::seeded(3))
    }

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
    fn a_retry_waits_what_the_seeded_jitter_draws_or_what_the_answer_asked() {
        let mut expected = Jitter::seeded(3);
        for attempt in [0, 3, 12] {
            let want = expected.clone().backoff(attempt, DEFAULT_MAX_RETRY_DELAY);
            match classify(answered(503), "x", Idempotency::Idempotent, attempt, UPLOAD) {
                Verdict::Retry { after, .. } => assert_eq!(after, want, "attempt {attempt}"),
                other => panic!("{other:?}"),
            }
        }
        let asked = Outcome::Answered {
            status: 503,
            body: Vec::new(),
            retry_after: Some(Duration::from_secs(7)),
            location: None,
        };
        match classify(asked, "x", Idempotency::Idempotent, 0, UPLOAD) {
            Verdict::Retry { after, .. } => assert_eq!(after, Duration::from_secs(7)),
            other => panic!("{other:?}"),
        }
        expected = Jitter::seeded(3);
        match classify(answered(500), "x", Idempotency::Idempotent, 5, BOUNDED) {
            Verdict::Retry { after, .. } => assert_eq!(after, expected.backoff(5, INTERACTIVE_MAX_DELAY)),
            other => panic!("{other:?}"),
        }
    }
}
