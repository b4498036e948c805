//! Misbehaviour on purpose. The request pipeline asks for a [`FaultPlan`] once per service call (never for
//! admin endpoints) and carries it out in `server::serve`: delay, slow body reads, a dropped connection,
//! a stall, an injected error status, an expired token. Quota and upload expiry are service rules whose
//! limits live here too, so tests can change them at run time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Faults {
    /// Delay before every response.
    pub latency_ms: u64,
    /// Read each connection's request bodies no faster than this (bytes/s; 0: unlimited).
    pub conn_bandwidth: u64,
    /// Read all request bodies together no faster than this (bytes/s; 0: unlimited).
    pub link_bandwidth: u64,
    /// Read the request bodies of each token together no faster than this (bytes/s; 0: unlimited):
    /// each console's own uplink, for a fleet of clients with a token each.
    pub uplink_bandwidth: u64,
    /// Share of requests answered with each status instead of being handled, e.g. {"503": 0.1}.
    pub fail_rate: BTreeMap<u16, f64>,
    /// `Retry-After` seconds on injected 503 and 429 answers (none when 0).
    pub retry_after_s: u64,
    /// Share of requests whose connection is dropped in the middle of reading the body.
    pub reset_rate: f64,
    /// Share of requests accepted and never answered.
    pub stall_rate: f64,
    /// Share of requests carried out whose answer is lost: the connection drops instead (a clip may
    /// have been made, a block stored).
    pub drop_answer_rate: f64,
    /// The N-th request made with each token answers 401, as does every later one with that token.
    pub expire_tokens_after: u64,
    /// Uploads not committed within this many seconds of their creation answer 410 Gone (0: never).
    pub upload_expiry_s: u64,
    /// Bytes of clips each user may hold (0: unlimited); over it, creating a clip answers 400.
    pub quota_bytes: u64,
    /// 200: every block is acknowledged with 200 instead of 202/201 (the PUT page's status table lists
    /// only 200); 0: as the protocol page says.
    pub block_ack: u16,
    /// Block PUTs to `/upload/...` answer this redirect status (301/307...) with `Location: /moved/upload/...`
    /// (the same handler); 0: none.
    pub redirect_blocks: u16,
    /// Each token's calls above this many per second (a second's worth in a burst) answer 429 without
    /// `Retry-After`, like a service front; 0: off.
    pub throttle_rps: u64,
    /// All calls together above this many per second (a second's worth in a burst) answer 429 without
    /// `Retry-After`: a front every client shares; 0: off.
    pub front_rps: u64,
}

/// What happens to one request.
#[derive(Debug, Default)]
pub struct FaultPlan {
    pub latency_ms: u64,
    /// Over the token's `throttle_rps`: 429 without Retry-After.
    pub throttled: bool,
    pub stall: bool,
    /// Drop the connection after reading about half the body.
    pub reset: bool,
    /// Carry the request out, then drop the connection instead of answering.
    pub drop_answer: bool,
    /// Answer with this status instead of handling the request: decided when the body has arrived,
    /// by the settings then ([`Faults::injected_status`]).
    pub fail_with: Option<u16>,
    pub retry_after_s: u64,
    pub conn_bandwidth: u64,
    pub link_bandwidth: u64,
    pub uplink_bandwidth: u64,
}

fn happens(rate: f64) -> bool {
    rate > 0.0 && fastrand::f64() < rate
}

impl Faults {
    pub fn plan(&self) -> FaultPlan {
        FaultPlan {
            latency_ms: self.latency_ms,
            // Decided against the token's rate by the server, which keeps the count.
            throttled: false,
            stall: happens(self.stall_rate),
            reset: happens(self.reset_rate),
            drop_answer: happens(self.drop_answer_rate),
            fail_with: None,
            retry_after_s: self.retry_after_s,
            conn_bandwidth: self.conn_bandwidth,
            link_bandwidth: self.link_bandwidth,
            uplink_bandwidth: self.uplink_bandwidth,
        }
    }

    /// The status a call answered now gets instead of being handled, if any (by `fail_rate`).
    pub fn injected_status(&self) -> Option<u16> {
        self.fail_rate.iter().find(|(_, &rate)| happens(rate)).map(|(&status, _)| status)
    }

    /// Reads `STATUS=P` (the `--fail-rate` flag).
    pub fn add_fail_rate(&mut self, spec: &str) -> Result<(), String> {
        let parsed = spec.split_once('=').and_then(|(status, rate)| {
            let status: u16 = status.trim().parse().ok().filter(|s| (100..600).contains(s))?;
            let rate: f64 = rate.trim().parse().ok().filter(|r| (0.0..=1.0).contains(r))?;
            Some((status, rate))
        });
        let (status, rate) = parsed.ok_or_else(|| format!("--fail-rate {spec:?}: use STATUS=P, e.g. 503=0.1"))?;
        self.fail_rate.insert(status, rate);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_rates_parse_and_apply() {
        let mut faults = Faults::default();
        faults.add_fail_rate("503=1").unwrap();
        assert!(faults.add_fail_rate("503").is_err());
        assert!(faults.add_fail_rate("99=0.5").is_err());
        assert!(faults.add_fail_rate("500=2").is_err());
        assert_eq!(faults.injected_status(), Some(503));
        let json = serde_json::to_string(&faults).unwrap();
        assert!(json.contains(r#""failRate":{"503":1.0}"#), "{json}");
        let back: Faults = serde_json::from_str(r#"{"failRate":{"429":0.5},"resetRate":0.1}"#).unwrap();
        assert_eq!(back.fail_rate.get(&429), Some(&0.5));
    }
}
