//! One token bucket shared by all workers of a client: the upload rate stays under the limit however
//! many blocks are in flight, and the limit can change while uploads run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// At most this much sending may happen in a burst after an idle period.
const BURST: Duration = Duration::from_millis(250);

pub struct Bandwidth {
    bytes_per_second: AtomicU64,
    /// Tokens (bytes) available; negative while workers wait for the debt to drain.
    bucket: Mutex<(f64, Instant)>,
}

impl Bandwidth {
    pub fn new(bytes_per_second: u64) -> Bandwidth {
        Bandwidth { bytes_per_second: AtomicU64::new(bytes_per_second), bucket: Mutex::new((0.0, Instant::now())) }
    }

    /// 0: unlimited.
    pub fn set_limit(&self, bytes_per_second: u64) {
        self.bytes_per_second.store(bytes_per_second, Ordering::Relaxed);
    }

    /// Gives back bytes charged for a send that did not happen.
    pub fn refund(&self, bytes: usize) {
        if self.bytes_per_second.load(Ordering::Relaxed) != 0 {
            self.bucket.lock().0 += bytes as f64;
        }
    }

    /// How long the caller must wait before sending `bytes`; the bytes are charged now.
    pub fn charge(&self, bytes: usize) -> Duration {
        let rate = self.bytes_per_second.load(Ordering::Relaxed);
        if rate == 0 {
            return Duration::ZERO;
        }
        let rate = rate as f64;
        let mut bucket = self.bucket.lock();
        let now = Instant::now();
        let (tokens, last) = *bucket;
        let refilled = (tokens + now.duration_since(last).as_secs_f64() * rate).min(rate * BURST.as_secs_f64());
        let left = refilled - bytes as f64;
        *bucket = (left, now);
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits_and_a_limit_charges_debt() {
        let unlimited = Bandwidth::new(0);
        assert_eq!(unlimited.charge(1 << 30), Duration::ZERO);
        let limited = Bandwidth::new(1_000_000);
        let first = limited.charge(1_000_000);
        let second = limited.charge(1_000_000);
        assert!(first > Duration::from_millis(900) && first <= Duration::from_secs(1), "{first:?}");
        assert!(second > Duration::from_millis(1900), "{second:?}");
    }
}
