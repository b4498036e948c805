//! How fast requests go to one host once it has said "too many" (429): an adaptive rate, as in the AWS
//! SDKs' adaptive retry mode. A throttle cuts the rate to 0.7 of what was being sent; successes let it
//! grow back along a cubic curve (CUBIC's, as AWS uses): quickly to the rate that was throttled, slowly
//! around it, then faster beyond. Requests are admitted from a token bucket at that rate, so the
//! client settles near what the front allows instead of bursting into it and being refused again.
//! Unthrottled hosts have no limit.
//!
//! A brownout (more than one call in six failing with a 5xx or no answer) caps the rate the same way,
//! at 1.2 times what the host was sent before it began: retries then add at most a fifth to the load,
//! the budget Finagle's RetryBudget and AWS's retry quota give, kept as a rate so that a title pushing
//! data as it records does not double its calls when half of them fail. Successes let the cap grow
//! back along the cubic; the brownout ends once the host has worked for [`HEALTHY_WINDOW`] without a
//! failure. The cap also paces the return after an outage.
//!
//! Only a throttle or failure of a request sent after the last cut cuts again: the answers to a burst
//! already in flight are one signal, not many. Pure: time is handed in; [`crate::pacing::host_health`] keeps
//! one per host behind its lock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A throttle leaves this share of the rate.
const DECREASE: f64 = 0.7;
/// CUBIC's scale: how fast the rate grows away from the rate that was throttled.
const CUBIC_SCALE: f64 = 0.4;
/// The slowest rate a throttle leaves: one request a minute.
const MIN_PER_SECOND: f64 = 1.0 / 60.0;
/// Above this, the limit is lifted.
const MAX_PER_SECOND: f64 = 1000.0;
/// A burst after a quiet spell: this long's worth of requests, and at least one.
const BURST: Duration = Duration::from_millis(100);
/// The window the sending rate is measured over.
const WINDOW: Duration = Duration::from_secs(1);
/// More than one call in this many failing is a brownout.
const BROWNOUT_SHARE: u32 = 6;
/// A brownout caps the rate at this multiple of the rate before it.
const BROWNOUT_HEADROOM: f64 = 1.2;
/// The least a brownout caps the rate at: slower than this, the host gate's back-off paces the
/// probes of a failing host, not the cap.
const MIN_BROWNOUT_PER_SECOND: f64 = 1.0;
/// The rate before a brownout is measured over this long; a brownout ends after this long without a
/// failure.
const HEALTHY_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct SendRate {
    /// Requests per second; `None`: not throttled, no limit.
    limit: Option<f64>,
    tokens: f64,
    refilled_at: Option<Instant>,
    /// When the rate was last cut: a throttle of a request sent before says nothing new.
    cut_at: Option<Instant>,
    /// The rate that was throttled then.
    throttled_rate: f64,
    /// Requests admitted within the last [`WINDOW`].
    recent: VecDeque<Instant>,
    /// Requests admitted, answered without a failure, and failed, over the last [`HEALTHY_WINDOW`].
    sent: PerSecond,
    succeeded: PerSecond,
    failed: PerSecond,
    brownout: Option<Brownout>,
    /// The limit comes from a 429 (not only from failures).
    throttled: bool,
}

/// Failures are going on: the rate before they began, and when the last one came.
#[derive(Debug, Clone, Copy)]
struct Brownout {
    healthy: f64,
    failed_at: Instant,
}

/// Events counted per second over the last [`HEALTHY_WINDOW`]: (the second's start, count).
#[derive(Debug, Default)]
struct PerSecond(VecDeque<(Instant, u32)>);

impl PerSecond {
    fn add(&mut self, now: Instant) {
        match self.0.back_mut() {
            Some((start, count)) if now.saturating_duration_since(*start) < Duration::from_secs(1) => *count += 1,
            _ => self.0.push_back((now, 1)),
        }
        while self.0.front().is_some_and(|&(start, _)| now.saturating_duration_since(start) >= HEALTHY_WINDOW) {
            self.0.pop_front();
        }
    }

    fn within(&self, now: Instant) -> impl Iterator<Item = &(Instant, u32)> {
        self.0.iter().filter(move |(start, _)| now.saturating_duration_since(*start) < HEALTHY_WINDOW)
    }

    /// Events over the last [`HEALTHY_WINDOW`].
    fn count(&self, now: Instant) -> u32 {
        self.within(now).map(|&(_, count)| count).sum()
    }

    /// Over the last [`HEALTHY_WINDOW`] (since the first, and over at least a second): the gaps
    /// between the events over the time they took.
    fn per_second(&self, now: Instant) -> f64 {
        let Some(&(first, _)) = self.within(now).next() else { return MIN_PER_SECOND };
        let span = now.saturating_duration_since(first).clamp(Duration::from_secs(1), HEALTHY_WINDOW);
        (f64::from(self.count(now).saturating_sub(1)) / span.as_secs_f64()).max(MIN_PER_SECOND)
    }
}

impl SendRate {
    /// Requests per second allowed now; `None`: no limit.
    #[cfg(test)]
    pub fn limit(&self) -> Option<f64> {
        self.limit
    }

    /// Whether a request may go now (counted if so); `Err`: when it may.
    pub fn admit(&mut self, now: Instant) -> Result<(), Instant> {
        while self.recent.front().is_some_and(|&at| now.saturating_duration_since(at) > WINDOW) {
            self.recent.pop_front();
        }
        if let Some(rate) = self.limit {
            let burst = (rate * BURST.as_secs_f64()).max(1.0);
            let elapsed = self.refilled_at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
            self.tokens = (self.tokens + elapsed * rate).min(burst);
            self.refilled_at = Some(now);
            if self.tokens < 1.0 {
                let wait = Duration::from_secs_f64((1.0 - self.tokens) / rate);
                return Err(now + wait.max(Duration::from_millis(1)));
            }
            self.tokens -= 1.0;
        }
        self.recent.push_back(now);
        self.sent.add(now);
        Ok(())
    }

    /// The failures were the network's, not the host's (the platform says it is back): a cap they
    /// set is lifted; a throttle's stays.
    pub fn forget_failures(&mut self) {
        if self.brownout.take().is_some() && !self.throttled {
            self.limit = None;
            self.cut_at = None;
        }
    }

    /// A request admitted was not sent after all: its token is given back (it stays in the rate
    /// measured, which only makes a cut a little gentler).
    pub fn unsent(&mut self) {
        if self.limit.is_some() {
            self.tokens += 1.0;
        }
    }

    /// A request sent at `sent_at` failed (5xx, no answer). Once more than one call in six fails
    /// (over the last [`HEALTHY_WINDOW`]), the rate is capped at [`BROWNOUT_HEADROOM`] times the rate
    /// before the failures began: each failure retried once would carry the load past 1.2 times
    /// there. Fewer failures than that cap nothing, so a sprinkling of errors never pins a client.
    pub fn failed(&mut self, sent_at: Instant, now: Instant) {
        let healthy = self.brownout.map_or_else(|| self.sent.per_second(now), |brownout| brownout.healthy);
        self.brownout = Some(Brownout { healthy, failed_at: now });
        self.failed.add(now);
        let failures = self.failed.count(now);
        if failures * BROWNOUT_SHARE <= failures + self.succeeded.count(now) {
            return;
        }
        if self.cut_at.is_some_and(|cut| sent_at < cut) {
            return;
        }
        let cap = (healthy * BROWNOUT_HEADROOM).max(MIN_BROWNOUT_PER_SECOND);
        if self.limit.is_some_and(|limit| limit <= cap) {
            return;
        }
        // The cubic grows back quickly to the healthy rate, slowly around it, faster beyond.
        self.throttled_rate = healthy;
        self.limit = Some(cap);
        self.tokens = self.tokens.min(0.0);
        self.refilled_at = Some(now);
        self.cut_at = Some(now);
    }

    /// A request sent at `sent_at` was throttled (429): the rate is cut to 0.7 of what was being sent,
    /// once per round of requests.
    pub fn throttled(&mut self, sent_at: Instant, now: Instant) {
        if self.cut_at.is_some_and(|cut| sent_at < cut) {
            return;
        }
        let sending = self.recent.len().max(1) as f64 / WINDOW.as_secs_f64();
        let rate = self.limit.map_or(sending, |limit| limit.min(sending.max(MIN_PER_SECOND)));
        self.throttled_rate = rate;
        self.throttled = true;
        self.limit = Some((rate * DECREASE).max(MIN_PER_SECOND));
        self.tokens = self.tokens.min(0.0);
        self.refilled_at = Some(now);
        self.cut_at = Some(now);
    }

    /// A request was answered without a throttle: the rate follows the cubic from the last cut, up to
    /// twice what is being sent (a rate not used is not proven).
    pub fn succeeded(&mut self, now: Instant) {
        self.succeeded.add(now);
        if self.brownout.is_some_and(|brownout| now.saturating_duration_since(brownout.failed_at) > HEALTHY_WINDOW) {
            self.brownout = None;
        }
        let (Some(rate), Some(cut_at)) = (self.limit, self.cut_at) else { return };
        let since_cut = now.saturating_duration_since(cut_at).as_secs_f64();
        // The cubic is back at the throttled rate after `plateau` seconds.
        let plateau = (self.throttled_rate * (1.0 - DECREASE) / CUBIC_SCALE).cbrt();
        let cubic = self.throttled_rate + CUBIC_SCALE * (since_cut - plateau).powi(3);
        let sending = self.recent.len() as f64 / WINDOW.as_secs_f64();
        let grown = cubic.min((2.0 * sending).max(rate)).max(rate);
        self.limit = (grown < MAX_PER_SECOND).then_some(grown);
        self.throttled &= self.limit.is_some();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers `wanted` requests per second for `seconds` to a front that allows `allowed` per second
    /// (each request is answered at once); (requests sent, requests refused) per second.
    fn against_a_front(
        rate: &mut SendRate,
        wanted: u32,
        allowed: u32,
        seconds: u32,
        start: Instant,
    ) -> Vec<(u32, u32)> {
        // The front's bucket starts full: a second's burst, like nginx's limit_req with a burst.
        let mut front = f64::from(allowed);
        let mut front_at = start;
        let step = Duration::from_secs(1) / wanted;
        (0..seconds)
            .map(|second| {
                let (mut sent, mut refused) = (0, 0);
                for i in 0..wanted {
                    let now = start + Duration::from_secs(u64::from(second)) + step * i;
                    if rate.admit(now).is_err() {
                        continue;
                    }
                    sent += 1;
                    front = (front + now.duration_since(front_at).as_secs_f64() * f64::from(allowed))
                        .min(f64::from(allowed));
                    front_at = now;
                    if front >= 1.0 {
                        front -= 1.0;
                        rate.succeeded(now);
                    } else {
                        refused += 1;
                        rate.throttled(now, now);
                    }
                }
                (sent, refused)
            })
            .collect()
    }

    #[test]
    fn an_unthrottled_host_has_no_limit() {
        let mut rate = SendRate::default();
        let now = Instant::now();
        assert!((0..10_000).all(|_| rate.admit(now).is_ok()));
        rate.succeeded(now);
        assert_eq!(rate.limit(), None);
    }

    #[test]
    fn a_throttle_lowers_the_rate_and_successes_raise_it_back_to_what_the_front_allows() {
        let mut rate = SendRate::default();
        let start = Instant::now();
        // 200 requests a second wanted; the front allows 40.
        let seconds = against_a_front(&mut rate, 200, 40, 60, start);
        let (sent, refused): (u32, u32) = seconds.iter().fold((0, 0), |(s, r), (a, b)| (s + a, r + b));
        let settled: Vec<_> = seconds[10..].iter().map(|(sent, _)| *sent).collect();
        println!("first seconds {:?}; settled {settled:?}; {refused} of {sent} refused", &seconds[..5]);
        assert!(refused * 20 <= sent, "at most 5% refused: {refused} of {sent}");
        // It converges near the front's rate, neither far under nor over.
        let average = settled.iter().sum::<u32>() as f64 / settled.len() as f64;
        assert!((30.0..=41.0).contains(&average), "{average} per second against 40 allowed");
        // The successes raise it: it is sending more after 20 s than just after the first cut.
        assert!(seconds[20].0 > seconds[1].0.min(28), "{seconds:?}");
    }

    #[test]
    fn a_burst_in_flight_cuts_the_rate_once() {
        let mut rate = SendRate::default();
        let now = Instant::now();
        for _ in 0..50 {
            rate.admit(now).unwrap();
        }
        // Twelve answers to requests sent together are all 429: one cut, to 0.7 of 50 per second.
        let later = now + Duration::from_millis(100);
        for _ in 0..12 {
            rate.throttled(now, later);
        }
        assert_eq!(rate.limit(), Some(35.0));
        // A request sent after the cut and throttled cuts again.
        let after = later + Duration::from_millis(10);
        rate.throttled(after, after);
        assert!((rate.limit().unwrap() - 24.5).abs() < 1e-9);
        // Paced: nothing before the bucket refills.
        assert!(rate.admit(after).is_err());
        // Successes raise it again: 5 s on, the cubic is past the 35 per second throttled last.
        rate.succeeded(after + Duration::from_secs(5));
        assert!(rate.limit().unwrap() > 35.0, "{:?}", rate.limit());
    }

    #[test]
    fn failures_cap_the_rate_at_a_fifth_over_what_went_before_until_the_network_is_blamed() {
        let mut rate = SendRate::default();
        let start = Instant::now();
        // 5 a second for 10 s, then a failure: capped at 6 a second.
        for i in 0..50 {
            rate.admit(start + Duration::from_millis(200 * i)).unwrap();
        }
        let failed_at = start + Duration::from_secs(10);
        rate.failed(failed_at, failed_at);
        assert!((rate.limit().unwrap() - 6.0).abs() < 0.2, "{:?}", rate.limit());
        // Failures go on long after: the cap stays at the rate before they began, not what went since.
        for i in 1..=60 {
            let at = failed_at + Duration::from_secs(i);
            if rate.admit(at).is_ok() {
                rate.failed(at, at);
            }
        }
        assert!((rate.limit().unwrap() - 6.0).abs() < 0.2, "{:?}", rate.limit());
        // The platform says the network was gone: the cap goes; a throttle's would stay.
        rate.forget_failures();
        assert_eq!(rate.limit(), None);
        let now = failed_at + Duration::from_secs(61);
        rate.throttled(now, now);
        rate.failed(now, now);
        rate.forget_failures();
        assert!(rate.limit().is_some());
    }

    #[test]
    fn a_sprinkling_of_errors_does_not_pin_the_rate_to_what_it_was_when_they_began() {
        let mut rate = SendRate::default();
        let start = Instant::now();
        // 2 a second for 10 s; then 50 a second are wanted while one call in ten fails, for 60 s.
        for i in 0..20 {
            let at = start + Duration::from_millis(500 * i);
            rate.admit(at).unwrap();
            rate.succeeded(at);
        }
        let mut sent_per_second = vec![0; 60];
        let mut sent = 0;
        for i in 0..3000 {
            let at = start + Duration::from_secs(10) + Duration::from_millis(20 * i);
            if rate.admit(at).is_ok() {
                sent += 1;
                sent_per_second[(i / 50) as usize] += 1;
                if sent % 10 == 0 {
                    rate.failed(at, at);
                } else {
                    rate.succeeded(at);
                }
            }
        }
        println!("{sent_per_second:?}");
        assert!(sent_per_second[50..].iter().all(|&n| n >= 40), "{sent_per_second:?}");
    }
}
