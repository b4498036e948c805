//! Misbehaviour on purpose. The request pipeline asks for a [`FaultPlan`] once per service call (never for
//! admin endpoints) and carries it out: delay, stall. More kinds slot in as fields here and steps in
//! `server::serve`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Faults {
    /// Delay before every response.
    pub latency_ms: u64,
    /// Share of requests accepted and never answered.
    pub stall_rate: f64,
}

/// What happens to one request.
#[derive(Debug, Default)]
pub struct FaultPlan {
    pub latency_ms: u64,
    pub stall: bool,
}

impl Faults {
    pub fn plan(&self) -> FaultPlan {
        FaultPlan { latency_ms: self.latency_ms, stall: self.stall_rate > 0.0 && fastrand::f64() < self.stall_rate }
    }
}
