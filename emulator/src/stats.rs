//! Counters tests read through `GET /_emulator/stats`, and the per-second timeline the dashboard's
//! charts draw (`GET /_emulator/timeline`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

#[derive(Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<&'static str, BTreeMap<u16, u64>>>,
    body_bytes: AtomicU64,
    /// Connections accepted since the start.
    accepted: AtomicU64,
    /// Service calls that arrived since the start (counted as they arrive, not as answered).
    calls_arrived: AtomicU64,
    connections: Gauge,
    requests_in_flight: Gauge,
    timeline: Mutex<VecDeque<Second>>,
}

/// How many seconds the timeline keeps.
pub const TIMELINE_SECONDS: u64 = 600;

/// What happened in one second: body bytes received, and service calls answered by status (0: no
/// answer, the connection was dropped).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Second {
    at_s: u64,
    bytes: u64,
    statuses: BTreeMap<u16, u64>,
}

/// A current value and the highest it has been.
#[derive(Default)]
struct Gauge {
    now: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn up(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn down(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts one open connection or request until dropped.
pub struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.down();
    }
}

impl Stats {
    pub fn connection_opened(&self) -> GaugeGuard<'_> {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.connections.up();
        GaugeGuard(&self.connections)
    }

    pub fn call_arrived(&self) {
        self.calls_arrived.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_started(&self) -> GaugeGuard<'_> {
        self.requests_in_flight.up();
        GaugeGuard(&self.requests_in_flight)
    }

    pub fn body_received(&self, bytes: usize) {
        self.body_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.in_this_second(|second| second.bytes += bytes as u64);
    }

    /// A service call answered with `status` (0: dropped), for the timeline.
    pub fn call_answered(&self, status: u16) {
        self.in_this_second(|second| *second.statuses.entry(status).or_default() += 1);
    }

    fn in_this_second(&self, change: impl FnOnce(&mut Second)) {
        let now_s = crate::clock::now_ms() / 1000;
        let mut timeline = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        if !timeline.back().is_some_and(|last| last.at_s >= now_s) {
            timeline.push_back(Second { at_s: now_s, ..Second::default() });
        }
        while timeline.front().is_some_and(|first| first.at_s + TIMELINE_SECONDS <= now_s) {
            timeline.pop_front();
        }
        // A clock stepped back lands in the newest second rather than reordering the timeline.
        if let Some(second) = timeline.back_mut() {
            change(second);
        }
    }

    /// The seconds of the last ten minutes in which anything happened, oldest first, and the current second.
    pub fn timeline_json(&self) -> Value {
        let now_s = crate::clock::now_ms() / 1000;
        let timeline = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        let seconds: Vec<&Second> = timeline.iter().filter(|second| second.at_s + TIMELINE_SECONDS > now_s).collect();
        json!({ "nowS": now_s, "seconds": seconds })
    }

    pub fn record(&self, endpoint: &'static str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests.entry(endpoint).or_default().entry(status).or_default() += 1;
    }

    pub fn to_json(&self) -> Value {
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let by_endpoint: BTreeMap<&str, BTreeMap<String, u64>> = requests
            .iter()
            .map(|(endpoint, statuses)| (*endpoint, statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect()))
            .collect();
        json!({
            "requests": by_endpoint,
            "bodyBytesReceived": self.body_bytes.load(Ordering::Relaxed),
            "connectionsAccepted": self.accepted.load(Ordering::Relaxed),
            "callsArrived": self.calls_arrived.load(Ordering::Relaxed),
            "openConnections": self.connections.now.load(Ordering::SeqCst),
            "peakConcurrentConnections": self.connections.peak.load(Ordering::SeqCst),
            "requestsInFlight": self.requests_in_flight.now.load(Ordering::SeqCst),
            "peakConcurrentRequests": self.requests_in_flight.peak.load(Ordering::SeqCst),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_adds_up_bytes_and_statuses_per_second() {
        let stats = Stats::default();
        stats.body_received(1000);
        stats.body_received(500);
        stats.call_answered(202);
        stats.call_answered(202);
        stats.call_answered(503);
        stats.call_answered(0);
        let json = stats.timeline_json();
        let seconds = json["seconds"].as_array().unwrap();
        // Two seconds at most: the calls above may straddle a second's end.
        let total = |key: &str| seconds.iter().map(|s| s[key].as_u64().unwrap_or(0)).sum::<u64>();
        assert_eq!(total("bytes"), 1500);
        let status = |code: &str| seconds.iter().map(|s| s["statuses"][code].as_u64().unwrap_or(0)).sum::<u64>();
        assert_eq!((status("202"), status("503"), status("0")), (2, 1, 1));
        assert!(seconds.iter().all(|s| s["atS"].as_u64().unwrap() <= json["nowS"].as_u64().unwrap()));
    }
}
