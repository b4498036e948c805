//! How long to wait before trying again: exponential back-off with full jitter, drawn from a
//! [`Jitter`] that whoever waits owns (each job's machine, each host), seeded by whoever makes it.
//! With the seed handed in, every wait is a pure function of it, so tests assert exact delays; across
//! consoles the seeds differ, so a fleet meeting one outage spreads its retries instead of
//! synchronising them.

use std::time::Duration;

/// The first back-off's ceiling; each consecutive failure doubles it.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// The shortest wait drawn: a retry never goes at once.
const MIN_DELAY: Duration = Duration::from_millis(10);
/// The back-off cap of interactive operations: a player is waiting on them.
pub const INTERACTIVE_MAX_DELAY: Duration = Duration::from_secs(16);
/// The back-off cap of uploads when the title sets none (`max_retry_delay_ms` 0): short enough that a
/// fleet completes soon after an outage ends, long enough that it does not multiply the outage (the
/// `fleet` benchmark weighs the two: docs/benchmarks.md).
pub const DEFAULT_MAX_RETRY_DELAY: Duration = Duration::from_secs(45);

/// A small xorshift generator: plenty for spreading retries, and the same draws for the same seed.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A generator whose draws follow from `seed` alone (splitmix64 spreads seeds that differ in a bit).
    pub fn seeded(seed: u64) -> Jitter {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Jitter { state: (z ^ (z >> 31)) | 1 }
    }

    /// A seed of its own for one client: from the OS's randomness, so consoles draw apart.
    pub fn fresh_seed() -> u64 {
        uuid::Uuid::new_v4().as_u64_pair().0
    }

    /// A generator for one of many owners that share a client's seed (a job by its handle, a host by
    /// its origin): each draws its own sequence.
    pub fn for_owner(seed: u64, owner: u64) -> Jitter {
        Jitter::seeded(seed ^ owner.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// A uniformly random duration in `[0, max)`.
    pub fn below(&mut self, max: Duration) -> Duration {
        let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(self.next() % max_ns)
    }

    /// The wait after the `attempt`-th consecutive failure (0-based): full jitter under a ceiling that
    /// doubles from [`BASE_DELAY`] up to `max_delay`.
    pub fn backoff(&mut self, attempt: u32, max_delay: Duration) -> Duration {
        self.below(backoff_ceiling(attempt, max_delay)).max(MIN_DELAY)
    }
}

/// The longest wait the `attempt`-th consecutive failure may draw.
pub fn backoff_ceiling(attempt: u32, max_delay: Duration) -> Duration {
    BASE_DELAY.saturating_mul(1 << attempt.min(20)).min(max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_delays() {
        let draws = |seed| {
            let mut jitter = Jitter::seeded(seed);
            (0..6).map(|attempt| jitter.backoff(attempt, DEFAULT_MAX_RETRY_DELAY)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8), "another seed draws otherwise");
        let ms: Vec<u128> = draws(7).iter().map(Duration::as_millis).collect();
        assert_eq!(ms, EXPECTED_SEED_7_MS);
    }

    /// The waits seed 7 draws for attempts 0 to 5 (ceilings 250 ms doubling to 8 s).
    const EXPECTED_SEED_7_MS: [u128; 6] = [125, 114, 671, 27, 782, 2611];

    #[test]
    fn every_delay_is_under_its_ceiling_and_late_ones_spread_over_it() {
        let mut jitter = Jitter::seeded(1);
        for attempt in 0..40 {
            for cap in [INTERACTIVE_MAX_DELAY, DEFAULT_MAX_RETRY_DELAY] {
                let delay = jitter.backoff(attempt, cap);
                assert!(delay <= backoff_ceiling(attempt, cap) && delay >= MIN_DELAY, "{attempt}: {delay:?}");
            }
        }
        let late = (0..400).map(|_| jitter.backoff(30, DEFAULT_MAX_RETRY_DELAY)).max().unwrap();
        assert!(late > DEFAULT_MAX_RETRY_DELAY / 2, "{late:?}");
        assert_eq!(backoff_ceiling(0, DEFAULT_MAX_RETRY_DELAY), BASE_DELAY);
        assert_eq!(backoff_ceiling(30, DEFAULT_MAX_RETRY_DELAY), DEFAULT_MAX_RETRY_DELAY);
    }

    #[test]
    fn owners_of_one_seed_draw_apart() {
        let first = |owner| Jitter::for_owner(42, owner).backoff(8, DEFAULT_MAX_RETRY_DELAY);
        assert_ne!(first(1), first(2));
        assert_eq!(first(1), first(1));
    }
}
