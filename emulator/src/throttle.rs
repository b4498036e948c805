//! Throttling like a service front (nginx's `limit_req`, a CDN's rate limit): each token may make so
//! many calls per second, with a second's worth in a burst; a call above it is answered 429 without
//! `Retry-After`, so the client has to find the rate itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
pub struct Throttle {
    /// Per Authorization value: calls that may still go now (a token bucket), as of when.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Throttle {
    /// Whether a call made with `token` at `now` is within `per_second` (and counts it if so).
    pub fn admits(&self, token: &str, per_second: u64, now: Instant) -> bool {
        let rate = per_second as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, since) = buckets.entry(token.to_string()).or_insert((rate, now));
        *tokens = (*tokens + now.saturating_duration_since(*since).as_secs_f64() * rate).min(rate);
        *since = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_token_gets_its_rate_with_a_seconds_burst_and_others_are_apart() {
        let throttle = Throttle::default();
        let start = Instant::now();
        // A second's worth at once, then refused.
        assert_eq!((0..15).filter(|_| throttle.admits("a", 10, start)).count(), 10);
        assert!(throttle.admits("b", 10, start), "each token has its own bucket");
        // Calls spread over 10 s at 20/s: about 10/s go.
        let admitted =
            (0..200).filter(|i| throttle.admits("a", 10, start + Duration::from_millis(50 * (i + 1)))).count();
        assert!((99..=101).contains(&admitted), "{admitted}");
    }
}
