//! Fleet-safe pacing per host. While a host is failing, a client sends it one request at a time (the
//! probe), spaced by a full-jitter back-off that grows to `max_retry_delay` and drawn from a budget
//! that bounds their number whatever the jitter draws, instead of every worker retrying its own block;
//! a `Retry-After` from any answer holds the whole host until then, plus up to a fifth more so a fleet
//! told the same instant does not return at it together. The first answer to a request sent after
//! the host was seen failing that shows it working lets every worker go again, paced by its
//! [`SendRate`]. An answer to a request sent before (a block in flight for seconds on a slow uplink
//! when the outage began) says nothing about the host now: it opens nothing, and never lifts a hold.
//! A million consoles meeting the same outage then send about one request each per back-off window,
//! not one per worker per attempt.
//!
//! Each host also has a [`LinkWindow`]: how many blocks it gets at once and how long each may take,
//! from the goodput its link delivers; and a [`SendRate`]: a 429 is not an outage but "fewer, please",
//! so it lowers the rate requests go at instead of shutting the gate; failures cap that rate at a fifth
//! over the healthy one, so a brownout's retries and an outage's end do not add to the load.
//!
//! The scheduler asks [`HostHealth::admit`] before handing out a request; the engine reports what
//! came back through the [`Ticket`] it got.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::pacing::backoff::Jitter;
use crate::pacing::link_window::{LinkWindow, Sending};
use crate::pacing::send_rate::SendRate;
use crate::protocol::url_policy::Origin;
use crate::transport::{Class, Deadline};

/// What one request's outcome says about its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// An answer that is not a transient failure: the host works (even a 4xx says so); `accepted`
    /// for a 2xx.
    Working { accepted: bool },
    /// A transport failure (`answered` false), 408 or 5xx; `retry_after` when the answer asked for a
    /// pause.
    Failing { retry_after: Option<Duration>, answered: bool },
    /// 429: the host works but wants fewer requests; `retry_after` when it said for how long.
    Throttled { retry_after: Option<Duration> },
    /// Nothing learned: not sent, abandoned (suspend), or refused by the library itself.
    Unknown,
}

impl Signal {
    /// Whether it says the host is struggling (a failure or a throttle).
    pub fn is_failure(&self) -> bool {
        matches!(self, Signal::Failing { .. } | Signal::Throttled { .. })
    }

    /// What an outcome's class says about its host.
    pub fn of(class: Class) -> Signal {
        match class {
            Class::Throttled { retry_after } => Signal::Throttled { retry_after },
            Class::Struggling { retry_after, .. } => Signal::Failing { retry_after, answered: true },
            // A pause asked for by any other answer but a success holds the host too.
            Class::Refusing { retry_after: Some(after), .. } if !after.is_zero() => {
                Signal::Failing { retry_after: Some(after), answered: true }
            }
            Class::Accepted { .. } => Signal::Working { accepted: true },
            Class::Unauthorized | Class::Refusing { .. } => Signal::Working { accepted: false },
            Class::NoAnswer { .. } => Signal::Failing { retry_after: None, answered: false },
            Class::Refused => Signal::Unknown,
        }
    }
}

/// Who asks: uploads wait out the host's back-off; interactive operations (a player waits on them)
/// keep their own short back-off, but still go one at a time to a failing host and honour a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    Upload,
    Interactive,
}

/// Probes a failing host may make at once beyond its steady rate: its back-off's first rounds (0.25 s
/// doubling to the ceiling) go unhindered.
const PROBE_BURST: f64 = 7.0;

/// The most a `Retry-After` hold is stretched, as a fraction of it: libHttpClient waits 1.0 to 1.2
/// times it. A fleet told the same instant then returns spread over a fifth of the wait instead of
/// at once, and no console waits much longer than it was told.
const RETRY_AFTER_SPREAD: u32 = 5;

#[derive(Debug)]
struct HostState {
    /// Bumped each time the host is seen failing: a request sent in an earlier epoch was sent before,
    /// and its answer says nothing about the host now.
    epoch: u64,
    /// Failed rounds since the host last worked: a round is the requests that failed together, or one
    /// probe.
    failures: u32,
    probe_in_flight: bool,
    /// No probe before this (the back-off after the last failed round).
    next_probe_at: Option<Instant>,
    /// A `Retry-After`: nothing at all before this.
    held_until: Option<Instant>,
    /// Probes an upload may still make (a token bucket refilled at one per half the back-off ceiling):
    /// full jitter draws short waits now and then; this keeps their count within a bound however the
    /// draws fall, so an outage of T costs at most `PROBE_BURST` + T / (ceiling / 2) requests.
    probes: f64,
    probes_at: Instant,
    /// Blocks in flight to it, and how many may be.
    window: LinkWindow,
    /// How fast requests may go, once it has throttled.
    rate: SendRate,
    /// Its own draws of back-offs and hold spreads.
    jitter: Jitter,
}

impl HostState {
    fn new(pacing: &LinkPacing, jitter: Jitter, now: Instant) -> HostState {
        HostState {
            epoch: 0,
            failures: 0,
            probe_in_flight: false,
            next_probe_at: None,
            held_until: None,
            probes: PROBE_BURST,
            probes_at: now,
            window: LinkWindow::new(pacing.max_in_flight, pacing.target),
            rate: SendRate::default(),
            jitter,
        }
    }

    /// Refills the probe budget (one per half the back-off ceiling); when it holds no whole probe, the
    /// time it will.
    fn probe_budget(&mut self, max_delay: Duration, now: Instant) -> Result<(), Instant> {
        let refill = (max_delay / 2).max(Duration::from_millis(1));
        let refilled = now.saturating_duration_since(self.probes_at).as_secs_f64() / refill.as_secs_f64();
        self.probes = (self.probes + refilled).min(PROBE_BURST);
        self.probes_at = now;
        if self.probes < 1.0 {
            return Err(now + refill.mul_f64(1.0 - self.probes).max(Duration::from_millis(1)));
        }
        Ok(())
    }

    fn is_failing(&self) -> bool {
        self.failures > 0
    }

    /// Nothing goes to it for `after` (a `Retry-After`), and up to a fifth more (see
    /// [`RETRY_AFTER_SPREAD`]).
    fn hold(&mut self, after: Duration, now: Instant) {
        let until = now + after + self.jitter.below(after / RETRY_AFTER_SPREAD);
        self.held_until = Some(self.held_until.map_or(until, |held| held.max(until)));
    }

    /// The host works again: its failures are forgotten, its link's measurements kept, and a hold
    /// asked for lasts until its time.
    fn recover(&mut self) {
        self.failures = 0;
        self.probe_in_flight = false;
        self.next_probe_at = None;
    }
}

/// How blocks are paced on every host's link: the most in flight, the time each should take at the
/// measured rate, and the deadline of a request with nothing measured.
#[derive(Debug, Clone, Copy)]
pub struct LinkPacing {
    pub max_in_flight: u32,
    pub target: Duration,
    pub base_deadline: Duration,
}

/// The health of every host a client talks to, keyed by origin (scheme, host, port).
pub struct HostHealth {
    hosts: Mutex<HashMap<HostKey, HostState>>,
    max_delay: Duration,
    pacing: LinkPacing,
    /// Each host's jitter is drawn from this and the host's key.
    seed: u64,
}

/// Leave to send one request to a host; report its outcome with [`Ticket::report`]. Dropped without a
/// report (the request was not sent), it frees the probe slot and changes nothing else.
pub struct Ticket {
    health: Arc<HostHealth>,
    host: HostKey,
    probe: bool,
    /// An upload's probe, charged to the host's probe budget.
    charged_probe: bool,
    /// A block: counted in its host's window until reported or dropped.
    block: Option<Sending>,
    /// The host's epoch when the request was sent.
    epoch: u64,
    sent_at: Instant,
    reported: bool,
}

/// The key of `url`'s host: its origin, or the URL itself when it has none (it is then refused
/// before it is sent, and its host is never asked again).
fn host_key(url: &str) -> HostKey {
    Origin::of(url).map_or_else(|| HostKey::Unparsed(url.to_string()), HostKey::Origin)
}

/// What hosts are told apart by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostKey {
    Origin(Origin),
    Unparsed(String),
}

impl HostHealth {
    pub fn new(max_delay: Duration, pacing: LinkPacing, seed: u64) -> HostHealth {
        HostHealth { hosts: Mutex::new(HashMap::new()), max_delay, pacing, seed }
    }

    /// The jitter of a host seen for the first time.
    fn jitter_for(&self, host: &HostKey) -> Jitter {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        host.hash(&mut hasher);
        Jitter::for_owner(self.seed, hasher.finish())
    }

    /// Whether a request to `url` may go now: a ticket, or the time to ask again (`None`: when woken,
    /// as a request in flight returns). `block_len`: the body of a block upload, paced by the host's
    /// window; 0 for any other request.
    pub fn admit(
        self: &Arc<Self>,
        url: &str,
        asker: Asker,
        block_len: u64,
        now: Instant,
    ) -> Result<Ticket, Option<Instant>> {
        let host = host_key(url);
        let mut hosts = self.hosts.lock();
        let state =
            hosts.entry(host.clone()).or_insert_with(|| HostState::new(&self.pacing, self.jitter_for(&host), now));
        if let Some(until) = state.held_until.filter(|&until| until > now) {
            return Err(Some(until));
        }
        state.held_until = None;
        if block_len > 0 && !state.window.admits() {
            return Err(None);
        }
        let probe = state.is_failing();
        if probe {
            if state.probe_in_flight {
                return Err(None);
            }
            if asker == Asker::Upload {
                if let Some(at) = state.next_probe_at.filter(|&at| at > now) {
                    return Err(Some(at));
                }
                state.probe_budget(self.max_delay, now).map_err(Some)?;
            }
        }
        state.rate.admit(now).map_err(Some)?;
        state.probe_in_flight |= probe;
        let block = (block_len > 0).then(|| state.window.start(block_len, self.pacing.base_deadline, now));
        let charged_probe = probe && asker == Asker::Upload;
        if charged_probe {
            state.probes -= 1.0;
        }
        Ok(Ticket {
            health: self.clone(),
            host,
            probe,
            charged_probe,
            block,
            epoch: state.epoch,
            sent_at: now,
            reported: false,
        })
    }

    /// Forgets every back-off (the platform says the network is back): the next request to each host
    /// goes at once. A `Retry-After` still holds: the service asked for it.
    pub fn forget_backoff(&self) {
        for state in self.hosts.lock().values_mut() {
            state.next_probe_at = None;
            state.rate.forget_failures();
        }
    }

    /// Whether `url`'s host is failing (for tests and status).
    #[cfg(test)]
    fn failures(&self, url: &str) -> u32 {
        self.hosts.lock().get(&host_key(url)).map_or(0, |state| state.failures)
    }

    /// The blocks `url`'s host may have in flight now.
    #[cfg(test)]
    fn window_limit(&self, url: &str) -> u32 {
        self.hosts.lock().get(&host_key(url)).map_or(0, |state| state.window.limit())
    }
}

/// What a report changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    None,
    /// The host was failing and works again: whatever waits on it may go now.
    Recovered,
}

impl Ticket {
    #[cfg(test)]
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// A block's deadlines, from its host's link; `None` for any other request.
    pub fn deadline(&self) -> Option<Deadline> {
        self.block.map(|block| block.deadline)
    }

    pub fn report(mut self, signal: Signal, now: Instant) -> Change {
        self.reported = true;
        let mut hosts = self.health.hosts.lock();
        let Some(state) = hosts.get_mut(&self.host) else { return Change::None };
        if self.probe {
            state.probe_in_flight = false;
        }
        if let Some(block) = self.block.take() {
            match signal {
                Signal::Working { accepted: true } => state.window.acked(block, now),
                Signal::Failing { answered: false, .. } => state.window.missed(block),
                _ => state.window.returned(block),
            }
        }
        match signal {
            Signal::Unknown => Change::None,
            Signal::Throttled { retry_after } => {
                state.rate.throttled(self.sent_at, now);
                if let Some(after) = retry_after {
                    state.hold(after, now);
                }
                Change::None
            }
            // Sent before the host was seen failing: stale.
            Signal::Working { .. } if state.is_failing() && self.epoch != state.epoch => Change::None,
            Signal::Working { .. } => {
                state.rate.succeeded(now);
                let recovered = state.is_failing();
                state.recover();
                if recovered {
                    Change::Recovered
                } else {
                    Change::None
                }
            }
            Signal::Failing { retry_after, .. } => {
                state.rate.failed(self.sent_at, now);
                // Requests that were in flight together when the host began failing are one round; a
                // failed probe is the next round.
                if !state.is_failing() {
                    state.epoch += 1;
                    state.probes = PROBE_BURST;
                    state.probes_at = now;
                }
                if self.probe || !state.is_failing() {
                    state.next_probe_at = Some(now + state.jitter.backoff(state.failures, self.health.max_delay));
                    state.failures += 1;
                }
                if let Some(after) = retry_after {
                    state.hold(after, now);
                }
                Change::None
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.reported {
            return;
        }
        if let Some(state) = self.health.hosts.lock().get_mut(&self.host) {
            if self.probe {
                state.probe_in_flight = false;
                if self.charged_probe {
                    state.probes += 1.0;
                }
            }
            state.rate.unsent();
            if let Some(block) = self.block.take() {
                state.window.returned(block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "https://upload.test/clip/1?blockNum=3";
    const FAILING: Signal = Signal::Failing { retry_after: None, answered: true };
    const WORKING: Signal = Signal::Working { accepted: true };
    const PACING: LinkPacing =
        LinkPacing { max_in_flight: 12, target: Duration::from_secs(15), base_deadline: Duration::from_secs(120) };

    fn health() -> Arc<HostHealth> {
        Arc::new(HostHealth::new(Duration::from_secs(120), PACING, 1))
    }

    #[test]
    fn a_host_is_its_origin_with_the_default_port_written_or_not() {
        assert_eq!(host_key("https://h/a"), host_key("https://h:443/b?c=1"));
        assert_eq!(host_key("https://Up.Test:8443/a"), host_key("https://up.test:8443/b"));
        assert_ne!(host_key("https://h/a"), host_key("http://h/a"));
        assert_ne!(host_key("https://h/a"), host_key("https://h:8443/a"));
        let health = health();
        let ticket = health.admit("https://h/clip", Asker::Upload, 0, Instant::now()).unwrap();
        ticket.report(FAILING, Instant::now());
        assert_eq!(health.failures("https://h:443/other"), 1, "one host, however its port is written");
    }

    #[test]
    fn a_working_host_admits_everyone() {
        let health = health();
        let now = Instant::now();
        let tickets: Vec<_> = (0..12).map(|_| health.admit(HOST, Asker::Upload, 0, now).unwrap()).collect();
        assert!(tickets.iter().all(|t| !t.is_probe()));
    }

    #[test]
    fn a_failing_host_gets_one_probe_at_a_time_and_recovers_for_all() {
        let health = health();
        let now = Instant::now();
        // Twelve requests in flight fail together: one round.
        let tickets: Vec<_> = (0..12).map(|_| health.admit(HOST, Asker::Upload, 0, now).unwrap()).collect();
        for ticket in tickets {
            assert_eq!(ticket.report(FAILING, now), Change::None);
        }
        assert_eq!(health.failures(HOST), 1);
        // Nothing before the back-off, then exactly one probe.
        let later = now + Duration::from_secs(1);
        let probe = health.admit(HOST, Asker::Upload, 0, later).expect("the back-off of round 1 is under 250 ms");
        assert!(probe.is_probe());
        assert_eq!(health.admit(HOST, Asker::Upload, 0, later).err(), Some(None), "a second request while probing");
        assert_eq!(health.admit(HOST, Asker::Interactive, 0, later).err(), Some(None));
        // The failed probe is round 2; the probe after it waits again.
        assert_eq!(probe.report(FAILING, later), Change::None);
        assert_eq!(health.failures(HOST), 2);
        let again = later + Duration::from_secs(1);
        let probe = health.admit(HOST, Asker::Upload, 0, again).unwrap();
        assert_eq!(probe.report(WORKING, again), Change::Recovered);
        // Everyone goes again, paced at the brownout's cap (1.2 x the 11 per second before).
        let all: Vec<_> = (1..=12)
            .map(|i| health.admit(HOST, Asker::Upload, 0, again + Duration::from_millis(100 * i)).unwrap())
            .collect();
        assert!(all.iter().all(|t| !t.is_probe()));
    }

    const RETRY_AFTER_30: Signal = Signal::Failing { retry_after: Some(Duration::from_secs(30)), answered: true };

    /// When a held host admits again: its hold's end.
    fn held_until(health: &Arc<HostHealth>, asker: Asker, at: Instant) -> Instant {
        health.admit(HOST, asker, 0, at).err().flatten().expect("the host is held")
    }

    #[test]
    fn retry_after_holds_the_whole_host_spread_over_a_fifth_more() {
        let health = health();
        let now = Instant::now();
        let ticket = health.admit(HOST, Asker::Upload, 0, now).unwrap();
        ticket.report(RETRY_AFTER_30, now);
        let at_10s = now + Duration::from_secs(10);
        let until = held_until(&health, Asker::Upload, at_10s);
        assert!(until >= now + Duration::from_secs(30) && until < now + Duration::from_secs(36), "{:?}", until - now);
        assert_eq!(held_until(&health, Asker::Interactive, at_10s), until);
        // The back-off is forgotten when the network comes back; the hold is not.
        health.forget_backoff();
        assert!(health.admit(HOST, Asker::Upload, 0, at_10s).is_err());
        assert!(health.admit(HOST, Asker::Upload, 0, now + Duration::from_secs(36)).unwrap().is_probe());
    }

    #[test]
    fn holds_spread_a_fleet_over_the_window_after_the_retry_after() {
        let now = Instant::now();
        // A thousand consoles: a thousand seeds.
        let returns: Vec<Duration> = (0..1000)
            .map(|seed| {
                let health = Arc::new(HostHealth::new(Duration::from_secs(120), PACING, seed));
                health.admit(HOST, Asker::Upload, 0, now).unwrap().report(RETRY_AFTER_30, now);
                held_until(&health, Asker::Upload, now) - now
            })
            .collect();
        let (first, last) = (returns.iter().min().unwrap(), returns.iter().max().unwrap());
        assert!(*first >= Duration::from_secs(30) && *last < Duration::from_secs(36));
        // Spread, not bunched: every second of the 6 s window gets some of the fleet.
        for second in 30..36 {
            let within = returns.iter().filter(|r| r.as_secs() == second).count();
            assert!(within > 100, "{within} of 1000 return in second {second}");
        }
    }

    #[test]
    fn an_outage_costs_at_most_the_probe_burst_plus_one_probe_per_half_ceiling() {
        // However the full-jitter draws fall, 150 s of an outage with the 45 s default ceiling cost at
        // most 7 + 150 / 22.5 probes. Each probe is asked for as early as it may go and fails at once.
        for seed in 0..200 {
            let health = Arc::new(HostHealth::new(crate::pacing::backoff::DEFAULT_MAX_RETRY_DELAY, PACING, seed));
            let start = Instant::now();
            health.admit(HOST, Asker::Upload, 0, start).unwrap().report(FAILING, start);
            let (mut at, mut probes) = (start, 0);
            loop {
                match health.admit(HOST, Asker::Upload, 0, at) {
                    Ok(probe) => {
                        probes += 1;
                        probe.report(FAILING, at);
                    }
                    Err(next) => {
                        let next = next.expect("a failing host names the time of its next probe");
                        assert!(next > at, "asked again at the same instant");
                        at = next;
                    }
                }
                if at > start + Duration::from_secs(150) {
                    break;
                }
            }
            assert!((9..=13).contains(&probes), "{probes} probes in 150 s");
        }
    }

    #[test]
    fn a_brownout_caps_the_rate_at_a_fifth_over_the_healthy_rate() {
        let health = health();
        let start = Instant::now();
        // Healthy: 4 requests a second for 20 s.
        for i in 0..80 {
            let at = start + Duration::from_millis(250 * i);
            health.admit(HOST, Asker::Upload, 0, at).unwrap().report(WORKING, at);
        }
        // Then every other call fails for 60 s while the client would send 20 a second (first attempts
        // and retries); a failure shuts the gate until a probe works.
        let brownout = start + Duration::from_secs(20);
        let mut sent = 0;
        for i in 0..1200 {
            let at = brownout + Duration::from_millis(50 * i);
            if let Ok(ticket) = health.admit(HOST, Asker::Upload, 0, at) {
                sent += 1;
                ticket.report(if sent % 2 == 0 { FAILING } else { WORKING }, at);
            }
        }
        println!("{sent} requests in the 60 s brownout");
        assert!(sent <= 4 * 60 * 12 / 10 + 1, "{sent} requests in the 60 s brownout, healthy 240");
        assert!(sent >= 60, "{sent}: the brownout stopped the client");
    }

    #[test]
    fn a_success_sent_before_the_host_failed_does_not_reopen_it() {
        let health = health();
        let now = Instant::now();
        // Two blocks go out while the host works; the second is answered 503 first.
        let early = health.admit(HOST, Asker::Upload, 0, now).unwrap();
        let failed = health.admit(HOST, Asker::Upload, 0, now).unwrap();
        failed.report(FAILING, now);
        // The first one's 202 arrives seconds later: stale, the gate stays shut.
        let later = now + Duration::from_secs(5);
        assert_eq!(early.report(WORKING, later), Change::None);
        assert_eq!(health.failures(HOST), 1);
        let probe = health.admit(HOST, Asker::Upload, 0, later).unwrap();
        assert!(probe.is_probe(), "only a probe may go");
        assert_eq!(health.admit(HOST, Asker::Upload, 0, later).err(), Some(None));
        // The probe, sent after the failure was seen, opens it.
        assert_eq!(probe.report(WORKING, later), Change::Recovered);
        let after = later + Duration::from_secs(1);
        assert!(!health.admit(HOST, Asker::Upload, 0, after).unwrap().is_probe());
    }

    #[test]
    fn a_retry_after_hold_survives_a_success_sent_before_it() {
        let health = health();
        let now = Instant::now();
        let early = health.admit(HOST, Asker::Upload, 0, now).unwrap();
        let refused = health.admit(HOST, Asker::Upload, 0, now).unwrap();
        refused.report(RETRY_AFTER_30, now);
        let until = held_until(&health, Asker::Upload, now);
        // A 202 for a block sent before the 503 arrives during the hold: the hold stays.
        let at_2s = now + Duration::from_secs(2);
        early.report(WORKING, at_2s);
        assert_eq!(held_until(&health, Asker::Upload, at_2s), until);
        assert_eq!(held_until(&health, Asker::Interactive, at_2s), until);
    }

    #[test]
    fn an_unsent_probe_frees_its_slot_and_other_hosts_are_unaffected() {
        let health = health();
        let now = Instant::now();
        health.admit(HOST, Asker::Upload, 0, now).unwrap().report(FAILING, now);
        let later = now + Duration::from_secs(1);
        // Nothing is charged for it: not its place, nor the send rate's or probe budget's token.
        for _ in 0..10 {
            drop(health.admit(HOST, Asker::Upload, 0, later).unwrap());
        }
        assert!(health.admit(HOST, Asker::Upload, 0, later).unwrap().is_probe());
        assert!(!health.admit("https://meta.test/users/me", Asker::Upload, 0, later).unwrap().is_probe());
    }

    #[test]
    fn interactive_operations_probe_without_waiting_out_the_upload_back_off() {
        let health = health();
        let now = Instant::now();
        for round in 0..10 {
            let at = now + Duration::from_secs(round * 300);
            let ticket = health.admit(HOST, Asker::Upload, 0, at).unwrap();
            ticket.report(FAILING, at);
        }
        let soon = now + Duration::from_secs(9 * 300) + Duration::from_millis(1);
        assert!(health.admit(HOST, Asker::Upload, 0, soon).is_err());
        // After the brownout cap's token (at least one a second).
        let paced = soon + Duration::from_secs(1);
        assert!(health.admit(HOST, Asker::Interactive, 0, paced).unwrap().is_probe());
    }

    #[test]
    fn blocks_go_only_as_many_at_once_as_the_hosts_link_carries() {
        const BLOCK: u64 = 2_000_000;
        let health = health();
        let now = Instant::now();
        // Nothing measured: the initial window; other requests are not held by it.
        let first: Vec<_> = std::iter::from_fn(|| health.admit(HOST, Asker::Upload, BLOCK, now).ok()).collect();
        assert_eq!(first.len(), crate::pacing::link_window::INITIAL_LIMIT as usize);
        assert!(health.admit(HOST, Asker::Upload, 0, now).is_ok());
        let unmeasured = Deadline { whole: PACING.base_deadline * 2, answer: PACING.base_deadline };
        assert!(first.iter().all(|t| t.deadline() == Some(unmeasured)));
        // They share a 150 KB/s link and are acknowledged together: one at a time from now on.
        let acked = now + Duration::from_secs_f64(first.len() as f64 * BLOCK as f64 / 150_000.0);
        for ticket in first {
            ticket.report(WORKING, acked);
        }
        assert_eq!(health.window_limit(HOST), 1);
        let next = health.admit(HOST, Asker::Upload, BLOCK, acked).unwrap();
        assert_eq!(health.admit(HOST, Asker::Upload, BLOCK, acked).err(), Some(None));
        // Its deadline: the base plus 3 x the 13.3 s it should take.
        let deadline = next.deadline().unwrap();
        assert!((deadline.whole.as_secs_f64() - 160.0).abs() < 0.01, "{deadline:?}");
        assert_eq!(deadline.answer, PACING.base_deadline);
        // A request that was not sent gives its place back.
        drop(next);
        assert!(health.admit(HOST, Asker::Upload, BLOCK, acked).is_ok());
    }
}
