//! What a client is made with, and the checks that turn it into the [`Config`] the library runs on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::LogSink;
use crate::pacing::backoff::{Jitter, DEFAULT_MAX_RETRY_DELAY};
use crate::platform::threads::ThreadOptions;
use crate::protocol::url_policy::{check_url, UploadHosts, DEFAULT_UPLOAD_HOSTS};
use crate::protocol::{DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};
use crate::transport::title::{HttpTransport, Title};
use crate::transport::Transport;

pub const DEFAULT_METADATA_BASE_URL: &str = "https://gameclipsmetadata.xboxlive.com";
const MAX_WORKER_THREADS: u32 = 64;

/// Client settings; `Default` gives the documented defaults.
#[derive(Clone)]
pub struct ClientOptions {
    pub metadata_base_url: String,
    pub service_version: String,
    pub worker_threads: u32,
    pub block_size: u32,
    pub max_buffered_bytes: u64,
    /// 0: unlimited.
    pub max_bytes_per_second: u64,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub journal_dir: Option<PathBuf>,
    pub ca_bundle_path: Option<PathBuf>,
    pub allow_insecure_http: bool,
    /// Hosts besides the metadata host that uploads may send the Authorization value to:
    /// comma-separated host names, `*.domain` wildcards, each with an optional `:port`.
    pub upload_hosts: String,
    pub log: Option<LogSink>,
    /// Most verbose level delivered to `log` (see `LogLevel`); 0 delivers nothing.
    pub log_level: u32,
    /// The longest back-off of an upload between attempts through transient failures.
    pub max_retry_delay: Duration,
    /// An upload failing this long without progress fails; `None`: it keeps trying until a final
    /// answer, a cancel or destroy.
    pub give_up_after: Option<Duration>,
    /// The title's own HTTP stack (consoles); `None`: the built-in one (the `builtin-http` feature;
    /// without it a transport is required). TLS is then the title's business: `ca_bundle_path` is not used.
    pub transport: Option<Arc<dyn HttpTransport>>,
    /// How the library's threads are made (names, stack, affinity, or the title's own `start_thread`).
    pub threads: ThreadOptions,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            metadata_base_url: DEFAULT_METADATA_BASE_URL.into(),
            service_version: "1".into(),
            // One connection is often far slower than the player's uplink (the link benchmark caps it at a
            // fifth of it): there 4 workers reach 1.52x the physical limit, 8 reach 1.13x, 12 reach 1.03x.
            worker_threads: 12,
            block_size: DEFAULT_BLOCK_SIZE,
            max_buffered_bytes: 16 * 1024 * 1024,
            max_bytes_per_second: 0,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(2),
            journal_dir: None,
            ca_bundle_path: None,
            allow_insecure_http: false,
            upload_hosts: DEFAULT_UPLOAD_HOSTS.into(),
            log: None,
            log_level: 2,
            max_retry_delay: DEFAULT_MAX_RETRY_DELAY,
            give_up_after: None,
            transport: None,
            threads: ThreadOptions::default(),
        }
    }
}

impl ClientOptions {
    /// The settings checked, as the library runs on them.
    pub(crate) fn config(&self) -> Result<Config> {
        let block_size = self.block_size;
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
            return Err(Error::invalid(format!("block_size {block_size} must be {MIN_BLOCK_SIZE}..{MAX_BLOCK_SIZE}")));
        }
        if self.worker_threads == 0 || self.worker_threads > MAX_WORKER_THREADS {
            return Err(Error::invalid(format!("worker_threads must be 1..{MAX_WORKER_THREADS}")));
        }
        if self.max_retry_delay < Duration::from_millis(10) {
            return Err(Error::invalid("max_retry_delay must be at least 10 ms"));
        }
        if self.max_buffered_bytes < u64::from(block_size) {
            return Err(Error::invalid("max_buffered_bytes must hold at least one block"));
        }
        let base = self.metadata_base_url.trim_end_matches('/').to_string();
        check_url(&base, self.allow_insecure_http)
            .map_err(|e| Error::invalid(format!("metadata_base_url: {}", e.message)))?;
        if self.service_version.is_empty() || !self.service_version.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid("service_version must be a non-empty header token"));
        }
        Ok(Config {
            upload_hosts: UploadHosts::new(&base, &self.upload_hosts)?,
            metadata_base_url: base,
            allow_insecure_http: self.allow_insecure_http,
            block_size,
            journal_dir: self.journal_dir.clone(),
            max_buffered_bytes: self.max_buffered_bytes,
            max_retry_delay: self.max_retry_delay,
            give_up_after: self.give_up_after,
            request_timeout: self.request_timeout,
            worker_threads: self.worker_threads,
            jitter_seed: Jitter::fresh_seed(),
        })
    }

    /// The title's transport, or the built-in one.
    pub(crate) fn transport(&self) -> Result<Box<dyn Transport>> {
        match &self.transport {
            Some(title) => Ok(Box::new(Title::new(title.clone(), self.service_version.clone(), self.request_timeout))),
            None => builtin_transport(self),
        }
    }
}

#[cfg(feature = "builtin-http")]
fn builtin_transport(options: &ClientOptions) -> Result<Box<dyn Transport>> {
    Ok(Box::new(crate::transport::builtin::Http::new(crate::transport::builtin::HttpConfig {
        service_version: options.service_version.clone(),
        request_timeout: options.request_timeout,
        ca_bundle_path: options.ca_bundle_path.clone(),
    })?))
}

#[cfg(not(feature = "builtin-http"))]
fn builtin_transport(_: &ClientOptions) -> Result<Box<dyn Transport>> {
    Err(Error::invalid(
        "this build has no HTTP stack of its own (built without the builtin-http feature): set a transport",
    ))
}
