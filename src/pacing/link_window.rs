//! How many blocks go to one host at once, and how long each may take, from what the link delivers.
//!
//! A block shares the uplink with every other block in flight: twelve 2 MB blocks on a 150 KB/s link
//! each take 160 s, while one at a time takes 13 s each and the clip takes no longer. So the window
//! keeps in flight only as many blocks as can each finish within `target` (half the request timeout)
//! at the measured goodput, between 1 and the worker count, and a block's deadline follows the same
//! measurement instead of a fixed time.
//!
//! Goodput is sampled per acknowledged block as the delivery rate (BBR's): the bytes the host
//! acknowledged while that block was in flight, its own included, over its time in flight. With k
//! blocks in flight that is the link's rate, not a k-th of it. A higher sample is taken at once, a
//! lower one smoothed.
//!
//! Pure: time is handed in; [`crate::pacing::host_health`] keeps one window per host behind its lock.

use std::time::{Duration, Instant};

use crate::transport::Deadline;

/// Blocks in flight before anything is measured: enough to fill a fast link whose connections each get
/// a fifth of it, few enough that the first blocks on a 50 KB/s link finish within their deadline.
pub const INITIAL_LIMIT: u32 = 6;

/// The deadline of a block with nothing measured, in base deadlines: the first blocks share a link
/// of unknown speed (six 2 MB blocks take 80 s at 150 KB/s).
const UNMEASURED_DEADLINE_FACTOR: u32 = 2;

/// Weight of a new goodput sample lower than the estimate.
const SMOOTHING: f64 = 0.25;

/// A request's time beyond the base deadline, as a multiple of its expected time at the measured rate.
const EXPECTED_TIME_MARGIN: u32 = 3;

/// Deadlines double with each request cut off in a row (the link got slower than measured), at most
/// this many times.
const MAX_DEADLINE_DOUBLINGS: u32 = 4;

#[derive(Debug)]
pub struct LinkWindow {
    /// The most blocks ever in flight (the worker count).
    max: u32,
    /// How long each block in flight should take at the measured rate.
    target: Duration,
    limit: u32,
    in_flight: u32,
    /// Bytes the host acknowledged so far.
    delivered: u64,
    /// Smoothed goodput, bytes per second; `None` until a block is acknowledged.
    goodput: Option<f64>,
    /// The largest block seen (the last block of a clip is shorter).
    block_len: u64,
    /// Blocks that failed without an answer in a row (timeouts, resets).
    misses: u32,
}

/// A block in flight, as the window saw it start.
#[derive(Debug, Clone, Copy)]
pub struct Sending {
    sent_at: Instant,
    delivered_before: u64,
    len: u64,
    /// What the request may take.
    pub deadline: Deadline,
}

impl LinkWindow {
    pub fn new(max: u32, target: Duration) -> LinkWindow {
        let max = max.max(1);
        LinkWindow {
            max,
            target,
            limit: INITIAL_LIMIT.min(max),
            in_flight: 0,
            delivered: 0,
            goodput: None,
            block_len: 0,
            misses: 0,
        }
    }

    /// Whether another block may start now.
    pub fn admits(&self) -> bool {
        self.in_flight < self.limit
    }

    #[cfg(test)]
    pub fn limit(&self) -> u32 {
        self.limit
    }

    #[cfg(test)]
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    #[cfg(test)]
    /// Goodput as measured, bytes per second.
    pub fn goodput(&self) -> Option<f64> {
        self.goodput
    }

    /// A block of `len` bytes starts; `base` is the deadline of a request without a block (4 request
    /// timeouts). Its whole deadline adds the margin over its expected time at the measured rate with
    /// the blocks now in flight (with nothing measured: twice the base); its answer is awaited for the
    /// base. Both double for each block in a row that ended with no answer.
    pub fn start(&mut self, len: u64, base: Duration, now: Instant) -> Sending {
        self.in_flight += 1;
        self.block_len = self.block_len.max(len);
        let budget = match self.goodput {
            Some(rate) if rate > 0.0 => {
                let expected = (len as f64 * f64::from(self.in_flight) / rate).min(86_400.0);
                base + Duration::from_secs_f64(expected) * EXPECTED_TIME_MARGIN
            }
            _ => base * UNMEASURED_DEADLINE_FACTOR,
        };
        let doubling = 1 << self.misses.min(MAX_DEADLINE_DOUBLINGS);
        let deadline = Deadline { whole: budget * doubling, answer: base * doubling };
        Sending { sent_at: now, delivered_before: self.delivered, len, deadline }
    }

    /// The host acknowledged the block: a goodput sample, and the limit follows it.
    pub fn acked(&mut self, sending: Sending, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.delivered += sending.len;
        self.misses = 0;
        // At least a millisecond: a loopback answer can take less than the clock's step.
        let elapsed = now.saturating_duration_since(sending.sent_at).max(Duration::from_millis(1));
        let sample = (self.delivered - sending.delivered_before) as f64 / elapsed.as_secs_f64();
        // Up at once, down gently: blocks that finish together on a shared link give their first
        // samples low (the link carried the others too), like a max filter that decays.
        let rate = match self.goodput {
            Some(rate) if sample < rate => rate + SMOOTHING * (sample - rate),
            _ => sample,
        };
        self.goodput = Some(rate);
        let fits = rate * self.target.as_secs_f64() / self.block_len.max(1) as f64;
        self.limit = (fits.floor() as u32).clamp(1, self.max);
    }

    /// The block ended with no answer (cut off at its deadline, a reset): fewer at once, and more time
    /// for each, until a block is acknowledged again.
    pub fn missed(&mut self, _sending: Sending) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.misses += 1;
        self.limit = (self.limit / 2).max(1);
    }

    /// The block ended saying nothing about the link (not sent, abandoned, an error answer).
    pub fn returned(&mut self, _sending: Sending) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: u64 = 2_000_000;
    const BASE: Duration = Duration::from_secs(120);

    fn twelve_workers() -> LinkWindow {
        LinkWindow::new(12, Duration::from_secs(15))
    }

    /// Runs the window against a link of `rate` bytes per second shared by every block in flight,
    /// for `blocks` blocks: each round starts as many as the window admits, and they finish together.
    fn drive(window: &mut LinkWindow, rate: f64, blocks: usize, start: Instant) -> (Instant, Vec<u32>) {
        let mut now = start;
        let mut limits = Vec::new();
        let mut left = blocks;
        while left > 0 {
            let mut round = Vec::new();
            while window.admits() && round.len() < left {
                round.push(window.start(BLOCK, BASE, now));
            }
            limits.push(round.len() as u32);
            now += Duration::from_secs_f64(round.len() as f64 * BLOCK as f64 / rate);
            left -= round.len();
            for sending in round {
                window.acked(sending, now);
            }
        }
        (now, limits)
    }

    #[test]
    fn a_slow_link_lowers_the_blocks_in_flight_to_what_it_carries() {
        let mut window = twelve_workers();
        assert_eq!(window.limit(), INITIAL_LIMIT);
        let start = Instant::now();
        let (end, rounds) = drive(&mut window, 150_000.0, 13, start);
        // The first round goes at the initial limit (80 s, within its 240 s deadline); then one at a
        // time, each block 13.3 s.
        assert_eq!(rounds[0], INITIAL_LIMIT);
        assert!(rounds[1..].iter().all(|&n| n == 1), "{rounds:?}");
        assert_eq!(window.limit(), 1);
        let goodput = window.goodput().unwrap();
        assert!((goodput - 150_000.0).abs() < 1.0, "{goodput}");
        // The link was never idle: the clip took its physical minimum.
        let took = (end - start).as_secs_f64();
        assert!((took - 13.0 * BLOCK as f64 / 150_000.0).abs() < 0.01, "{took}");
    }

    #[test]
    fn a_fast_link_raises_the_blocks_in_flight_to_the_workers() {
        let mut window = twelve_workers();
        let (_, rounds) = drive(&mut window, 25_000_000.0, 40, Instant::now());
        assert_eq!(rounds[0], INITIAL_LIMIT);
        assert_eq!(rounds[1], 12, "{rounds:?}");
        assert_eq!(window.limit(), 12);
        // A middling link: 1 MB/s carries seven 2 MB blocks within 15 s each.
        let mut middling = twelve_workers();
        drive(&mut middling, 1_000_000.0, 20, Instant::now());
        assert_eq!(middling.limit(), 7);
    }

    #[test]
    fn deadlines_follow_the_measured_rate_and_grow_after_misses() {
        let mut window = twelve_workers();
        let now = Instant::now();
        // Nothing measured: twice the base deadline.
        let first = window.start(BLOCK, BASE, now);
        assert_eq!(first.deadline, Deadline { whole: BASE * 2, answer: BASE });
        window.acked(first, now + Duration::from_secs(20)); // 100 KB/s
                                                            // 2 MB at 100 KB/s is 20 s expected: base + 3 x 20 s.
        let second = window.start(BLOCK, BASE, now);
        assert_eq!(second.deadline, Deadline { whole: Duration::from_secs(180), answer: BASE });
        // A block that ended with no answer halves the limit and doubles the next deadline.
        let limit = window.limit();
        window.missed(second);
        assert_eq!(window.limit(), (limit / 2).max(1));
        let third = window.start(BLOCK, BASE, now);
        assert_eq!(third.deadline, Deadline { whole: Duration::from_secs(360), answer: BASE * 2 });
        window.returned(third);
        assert_eq!(window.in_flight(), 0);
    }

    #[test]
    fn the_window_never_admits_more_than_its_limit() {
        let mut window = LinkWindow::new(2, Duration::from_secs(15));
        let now = Instant::now();
        let a = window.start(BLOCK, BASE, now);
        assert!(window.admits());
        let _b = window.start(BLOCK, BASE, now);
        assert!(!window.admits());
        window.returned(a);
        assert!(window.admits());
    }
}
