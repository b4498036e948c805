//! The last requests the emulator served, for the dashboard and `GET /_emulator/requests`: method,
//! path, status, duration, body bytes and any fault injected. Headers are never kept, so the
//! Authorization value cannot appear here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// How many requests are kept.
pub const KEPT: usize = 500;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    /// Milliseconds since the Unix epoch, when the request arrived.
    pub at_ms: u64,
    pub method: String,
    /// Path and query (the query holds ids, never credentials).
    pub path: String,
    /// 0 when no answer was sent (the connection was dropped).
    pub status: u16,
    pub duration_ms: u64,
    /// Request body bytes read.
    pub bytes: u64,
    /// The fault injected into it, if any: "503", "reset", "dropped answer", "redirect"...
    pub fault: Option<String>,
    /// A short fingerprint of the Authorization value (`token::fingerprint`), never the value.
    pub token: Option<String>,
}

#[derive(Default)]
pub struct RequestLog {
    kept: Mutex<VecDeque<LoggedRequest>>,
    /// Requests logged since the start: the dashboard's event stream tells pages when it moves.
    logged: AtomicU64,
}

impl RequestLog {
    pub fn push(&self, request: LoggedRequest) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(request);
        self.logged.fetch_add(1, Ordering::SeqCst);
    }

    pub fn logged(&self) -> u64 {
        self.logged.load(Ordering::SeqCst)
    }

    /// Oldest first.
    pub fn to_json(&self) -> serde_json::Value {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_value(&*kept).expect("logged requests serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_500_oldest_first() {
        let log = RequestLog::default();
        for n in 0..(KEPT as u64 + 20) {
            let path = format!("/upload/c?blockNum={n}");
            log.push(LoggedRequest {
                at_ms: n,
                method: "PUT".into(),
                path,
                status: 202,
                duration_ms: 1,
                bytes: 10,
                fault: None,
                token: None,
            });
        }
        let json = log.to_json();
        let kept = json.as_array().unwrap();
        assert_eq!(kept.len(), KEPT);
        assert_eq!(log.logged(), KEPT as u64 + 20);
        assert_eq!(kept[0]["atMs"], 20);
        assert_eq!(kept[KEPT - 1]["path"], format!("/upload/c?blockNum={}", KEPT + 19));
    }
}
