//! The settings a client's engine, uploads and operations share, checked once by `Client::new` and
//! then read by reference (`Arc<Config>`), never copied field by field.

use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::url_policy::UploadHosts;

pub struct Config {
    /// Without a trailing slash.
    pub metadata_base_url: String,
    /// Plain http to hosts other than loopback.
    pub allow_insecure_http: bool,
    /// Where uploads may carry the Authorization value.
    pub upload_hosts: UploadHosts,
    /// Of new uploads (a resumed one keeps the size it began with).
    pub block_size: u32,
    /// Where uploads are journaled for resuming; `None`: no resume.
    pub journal_dir: Option<PathBuf>,
    /// The push-mode copy budget across all uploads.
    pub max_buffered_bytes: u64,
    /// The longest back-off of an upload between attempts (and of a failing host between probes).
    pub max_retry_delay: Duration,
    /// An upload failing this long without progress fails; `None`: never.
    pub give_up_after: Option<Duration>,
    /// Each step of a request; a request with nothing measured may take 4 of them in all.
    pub request_timeout: Duration,
    /// The most requests in flight at once (one per worker).
    pub worker_threads: u32,
    /// Every job's and host's jitter is drawn from this and its owner (see `pacing::backoff`): fresh
    /// per client, fixed in tests.
    pub jitter_seed: u64,
}

#[cfg(test)]
impl Config {
    /// A config for unit tests: an https metadata host that is also the only upload host.
    pub fn for_tests(block_size: u32) -> Config {
        let base = "https://meta.test";
        Config {
            metadata_base_url: base.into(),
            allow_insecure_http: false,
            upload_hosts: UploadHosts::new(base, "*.upload.test").expect("the test hosts parse"),
            block_size,
            journal_dir: None,
            max_buffered_bytes: 16 * u64::from(block_size),
            max_retry_delay: crate::pacing::backoff::DEFAULT_MAX_RETRY_DELAY,
            give_up_after: None,
            request_timeout: std::time::Duration::from_secs(30),
            worker_threads: 12,
            jitter_seed: 1,
        }
    }
}
