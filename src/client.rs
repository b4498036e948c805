//! The safe Rust API. A [`Client`] owns the worker pool; uploads are identified by handles the game
//! polls. Every method returns quickly: the network and the disk are touched only by workers.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::events::Event;
use crate::http::{check_url, Http, HttpConfig};
use crate::log::{LogSink, Logger};
use crate::protocol::{
    check_caption, check_title_data, clip_types_wire, iso8601_now, ClipSource, InitialUploadRequest, ThumbnailSource,
    Visibility, MAX_BLOCK_SIZE, MAX_FILE_SIZE, MIN_BLOCK_SIZE,
};
use crate::upload::{Upload, UploadData, UploadStatus};

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
    pub log: Option<LogSink>,
    /// Most verbose level delivered to `log` (see `LogLevel`); 0 delivers nothing.
    pub log_level: u32,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            metadata_base_url: DEFAULT_METADATA_BASE_URL.into(),
            service_version: "1".into(),
            worker_threads: 4,
            block_size: MAX_BLOCK_SIZE,
            max_buffered_bytes: 16 * 1024 * 1024,
            max_bytes_per_second: 0,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(2),
            journal_dir: None,
            ca_bundle_path: None,
            allow_insecure_http: false,
            log: None,
            log_level: 2,
        }
    }
}

/// One clip to upload; built with [`UploadRequest::file`] or [`UploadRequest::push`], then adjusted.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub scid: String,
    pub data: UploadData,
    pub duration_seconds: u32,
    /// ISO 8601 UTC; `None`: now.
    pub date_recorded: Option<String>,
    pub greatest_moment_id: String,
    pub user_caption: String,
    pub session_ref: String,
    /// `protocol::clip_type` flags; 0: DeveloperInitiated.
    pub clip_types: u32,
    pub source: ClipSource,
    pub visibility: Visibility,
    pub title_data: String,
    pub system_properties: String,
    pub users_in_session: Vec<String>,
    pub thumbnail_source: ThumbnailSource,
    pub thumbnail_offset_ms: i32,
    pub saved_by_user: bool,
}

impl UploadRequest {
    fn with_data(scid: &str, data: UploadData) -> UploadRequest {
        UploadRequest {
            scid: scid.into(),
            data,
            duration_seconds: 0,
            date_recorded: None,
            greatest_moment_id: String::new(),
            user_caption: String::new(),
            session_ref: String::new(),
            clip_types: 0,
            source: ClipSource::TitleDirect,
            visibility: Visibility::Default,
            title_data: String::new(),
            system_properties: String::new(),
            users_in_session: Vec::new(),
            thumbnail_source: ThumbnailSource::Default,
            thumbnail_offset_ms: 0,
            saved_by_user: false,
        }
    }

    /// File mode: the library reads `path` itself.
    pub fn file(scid: &str, path: impl Into<PathBuf>) -> UploadRequest {
        UploadRequest::with_data(scid, UploadData::File { path: path.into(), size: 0 })
    }

    /// Push mode: the game hands over `size` bytes in blocks.
    pub fn push(scid: &str, size: u64) -> UploadRequest {
        UploadRequest::with_data(scid, UploadData::Push { size })
    }

    /// Everything that can be checked without touching the disk or the network.
    fn validate(&self) -> Result<InitialUploadRequest> {
        let scid_ok = !self.scid.is_empty()
            && self.scid.len() <= 64
            && self.scid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !scid_ok {
            return Err(Error::invalid(format!(
                "scid {:?} is not a service configuration id (letters, digits and '-')",
                self.scid
            )));
        }
        match &self.data {
            UploadData::Push { size } if *size == 0 || *size >= MAX_FILE_SIZE => {
                return Err(Error::invalid(format!("file_size {size} must be 1 byte to 4 GiB - 1")));
            }
            UploadData::File { size, .. } if *size >= MAX_FILE_SIZE => {
                return Err(Error::invalid(format!("file_size {size} must be under 4 GiB")));
            }
            UploadData::File { path, .. } if path.as_os_str().is_empty() => {
                return Err(Error::invalid("file_path is empty"));
            }
            _ => {}
        }
        check_caption(&self.user_caption)?;
        check_title_data(&self.title_data)?;
        if self.thumbnail_source == ThumbnailSource::Upload {
            return Err(Error::invalid(
                "thumbnail upload is not available in this version; use the default or an offset",
            ));
        }
        if let Some(date) = &self.date_recorded {
            if date.len() < 10 || date.len() > 40 {
                return Err(Error::invalid(format!("date_recorded {date:?} is not an ISO 8601 UTC time")));
            }
        }
        Ok(InitialUploadRequest {
            greatest_moment_id: self.greatest_moment_id.clone(),
            user_caption: self.user_caption.clone(),
            session_ref: self.session_ref.clone(),
            date_recorded: self.date_recorded.clone().unwrap_or_else(iso8601_now),
            duration_in_seconds: self.duration_seconds,
            expected_blocks: 0,
            file_size: 0,
            clip_type: clip_types_wire(self.clip_types)?,
            source: self.source.wire(),
            visibility: self.visibility.wire(),
            title_data: self.title_data.clone(),
            system_properties: self.system_properties.clone(),
            users_in_session: self.users_in_session.clone(),
            thumbnail_source: self.thumbnail_source.wire(),
            thumbnail_offset_ms: (self.thumbnail_source == ThumbnailSource::Offset).then_some(self.thumbnail_offset_ms),
            saved_by_user: self.saved_by_user,
        })
    }
}

pub struct Client {
    engine: Arc<Engine>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    shutdown_timeout: Duration,
}

fn invalid_handle() -> Error {
    Error::new(ErrorKind::InvalidHandle, "the handle is 0, released, or belongs to another client")
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client> {
        let block_size = options.block_size;
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
            return Err(Error::invalid(format!("block_size {block_size} must be {MIN_BLOCK_SIZE}..{MAX_BLOCK_SIZE}")));
        }
        if options.worker_threads == 0 || options.worker_threads > MAX_WORKER_THREADS {
            return Err(Error::invalid(format!("worker_threads must be 1..{MAX_WORKER_THREADS}")));
        }
        if options.max_buffered_bytes < u64::from(block_size) {
            return Err(Error::invalid("max_buffered_bytes must hold at least one block"));
        }
        if options.journal_dir.is_some() {
            return Err(Error::invalid(
                "journal_dir: resuming uploads across restarts is not available in this version",
            ));
        }
        let base = options.metadata_base_url.trim_end_matches('/').to_string();
        check_url(&base, options.allow_insecure_http)
            .map_err(|e| Error::invalid(format!("metadata_base_url: {}", e.message)))?;
        if options.service_version.is_empty() || !options.service_version.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid("service_version must be a non-empty header token"));
        }
        let http = Http::new(HttpConfig {
            service_version: options.service_version.clone(),
            request_timeout: options.request_timeout,
            ca_bundle_path: options.ca_bundle_path.clone(),
            allow_insecure_http: options.allow_insecure_http,
        })?;
        let engine = Arc::new(Engine::new(
            http,
            base,
            options.allow_insecure_http,
            block_size,
            options.max_buffered_bytes,
            options.max_bytes_per_second,
            Logger::new(options.log.clone(), options.log_level),
        ));
        let workers = engine
            .start_workers(options.worker_threads)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start worker threads: {e}")))?;
        Ok(Client { engine, workers: Mutex::new(workers), shutdown_timeout: options.shutdown_timeout })
    }

    /// The whole Authorization header value. Uploads waiting for one continue.
    pub fn set_authorization(&self, header_value: &str) -> Result<()> {
        if header_value.is_empty() || header_value.bytes().any(|b| b < 0x20 || b == 0x7f) {
            // Never echo the value: it is a secret.
            return Err(Error::invalid("the Authorization value is empty or holds control characters"));
        }
        *self.engine.authorization.write() = Some(Arc::from(header_value));
        for upload in self.engine.uploads.values() {
            upload.auth_renewed();
        }
        self.engine.wake();
        Ok(())
    }

    /// Starts an upload and returns its handle at once; the initial call runs on a worker.
    pub fn begin_upload(&self, request: UploadRequest) -> Result<u64> {
        let body = request.validate()?;
        let engine = &self.engine;
        if engine.is_stopping() {
            return Err(Error::new(ErrorKind::Shutdown, "the client is shutting down"));
        }
        let (handle, upload) = engine
            .uploads
            .insert_with(|handle| {
                Arc::new(Upload::new(handle, request.scid.clone(), request.data.clone(), body, engine.block_size))
            })
            .ok_or_else(|| Error::new(ErrorKind::Internal, "too many handles in use: release finished ones"))?;
        engine.schedule(upload);
        Ok(handle)
    }

    fn upload(&self, handle: u64) -> Result<Arc<Upload>> {
        self.engine.uploads.get(handle).ok_or_else(invalid_handle)
    }

    /// Copies one block of a push-mode upload; the buffer may be reused as soon as this returns.
    pub fn push_block(&self, handle: u64, block_num: u32, data: &[u8]) -> Result<()> {
        if data.len() > MAX_BLOCK_SIZE as usize {
            return Err(Error::invalid(format!("a block is at most {MAX_BLOCK_SIZE} bytes; got {}", data.len())));
        }
        self.upload(handle)?.push_block(block_num, data, &self.engine.push_budget)?;
        self.engine.wake();
        Ok(())
    }

    /// Blocks of a push-mode upload that the library does not hold yet.
    pub fn missing_blocks(&self, handle: u64) -> Result<Vec<u32>> {
        Ok(self.upload(handle)?.missing_blocks())
    }

    pub fn cancel(&self, handle: u64) -> Result<()> {
        self.upload(handle)?.cancel(&self.engine.events)?;
        self.engine.wake();
        Ok(())
    }

    /// Forgets the handle; the upload itself carries on (release never cancels).
    pub fn release(&self, handle: u64) -> Result<()> {
        let upload = self.engine.uploads.remove(handle).ok_or_else(invalid_handle)?;
        upload.mark_released();
        Ok(())
    }

    pub fn poll(&self, handle: u64) -> Result<UploadStatus> {
        Ok(self.upload(handle)?.status(self.engine.is_paused(), Instant::now()))
    }

    /// The gameClipId, once the service has handed it out.
    pub fn clip_id(&self, handle: u64) -> Result<String> {
        self.upload(handle)?
            .clip_id()
            .ok_or_else(|| Error::new(ErrorKind::WrongState, "the clip id is not known yet: wait for CLIP_CREATED"))
    }

    /// Why the upload failed; empty while it has not.
    pub fn error_message(&self, handle: u64) -> Result<String> {
        Ok(self.upload(handle)?.error().map(|e| e.message).unwrap_or_default())
    }

    pub fn next_event(&self) -> Option<Event> {
        self.engine.events.pop()
    }

    /// No new requests start until [`Client::resume`]; requests in flight finish.
    pub fn pause(&self) {
        self.engine.set_paused(true);
    }

    pub fn resume(&self) {
        self.engine.set_paused(false);
    }

    /// 0: unlimited. Takes effect for the next block sent.
    pub fn set_bandwidth_limit(&self, bytes_per_second: u64) {
        self.engine.bandwidth.set_limit(bytes_per_second);
    }

    /// Stops the workers, interrupting requests in flight, and waits for them up to the shutdown
    /// timeout. Returns whether every worker ended in time (one stuck in name resolution is left to end
    /// on its own; it never calls the log function again). Afterwards the log function is never called.
    pub fn shutdown(&self) -> bool {
        let workers = std::mem::take(&mut *self.workers.lock());
        if workers.is_empty() {
            return true;
        }
        self.engine.stop();
        let deadline = Instant::now() + self.shutdown_timeout;
        while workers.iter().any(|w| !w.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let all_ended = workers.iter().all(|w| w.is_finished());
        for worker in workers {
            if worker.is_finished() {
                let _ = worker.join();
            }
        }
        self.engine.log.close();
        all_ended
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}
