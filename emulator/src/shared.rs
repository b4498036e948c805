//! What every request's handling shares: the configuration, the store, the counters and the fault
//! settings, with the pacing state of the emulated links.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use crate::config::EmulatorConfig;
use crate::faults::Faults;
use crate::request_log::RequestLog;
use crate::stats::Stats;
use crate::store::Store;
use crate::throttle::Throttle;

pub struct Shared {
    pub config: EmulatorConfig,
    /// Where it listens, as a URL a person on this machine can open (loopback for 0.0.0.0 and [::]).
    pub base_url: String,
    /// `http` or `https`.
    pub(crate) scheme: &'static str,
    pub store: Store,
    pub stats: Stats,
    pub requests: RequestLog,
    pub(crate) faults: RwLock<Faults>,
    /// Bumped by every change of the fault settings (the dashboard's event stream).
    pub(crate) faults_version: AtomicU64,
    /// Requests seen per Authorization value (for `expire_tokens_after`).
    pub(crate) token_requests: Mutex<HashMap<String, u64>>,
    /// When the shared link is next free (for `link_bandwidth`).
    pub(crate) link_free_at: Mutex<tokio::time::Instant>,
    /// When each token's uplink is next free (for `uplink_bandwidth`).
    pub(crate) uplink_free_at: Mutex<HashMap<String, tokio::time::Instant>>,
    /// Calls per token, for `throttle_rps`.
    pub(crate) throttle: Throttle,
    /// All calls together, for `front_rps`.
    pub(crate) front: Throttle,
}

impl Shared {
    pub fn faults(&self) -> Faults {
        self.faults.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn replace_faults(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(|p| p.into_inner()) = faults;
        self.faults_version.fetch_add(1, Ordering::SeqCst);
    }

    pub fn faults_version(&self) -> u64 {
        self.faults_version.load(Ordering::SeqCst)
    }
}
