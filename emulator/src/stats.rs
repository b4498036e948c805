//! Counters tests read through `GET /_emulator/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

#[derive(Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<&'static str, BTreeMap<u16, u64>>>,
    body_bytes: AtomicU64,
    /// Connections accepted since the start.
    accepted: AtomicU64,
    connections: Gauge,
    requests_in_flight: Gauge,
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

    pub fn request_started(&self) -> GaugeGuard<'_> {
        self.requests_in_flight.up();
        GaugeGuard(&self.requests_in_flight)
    }

    pub fn body_received(&self, bytes: usize) {
        self.body_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
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
            "openConnections": self.connections.now.load(Ordering::SeqCst),
            "peakConcurrentConnections": self.connections.peak.load(Ordering::SeqCst),
            "peakConcurrentRequests": self.requests_in_flight.peak.load(Ordering::SeqCst),
        })
    }
}
