//! The safe Rust API. A [`Client`] owns the worker pool; uploads are identified by handles the game
//! polls. Every method returns quickly: the network and the disk are touched only by workers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use serde::Serialize;

use crate::config::Config;
use crate::engine::{Engine, Hold, Job};
use crate::error::{Error, ErrorKind, Result};
use crate::events::Event;
use crate::log::{LogSink, Logger};
use crate::operation::{Answer, Operation, OperationKind};
use crate::platform::permissions::create_private_dir;
use crate::platform::threads::{Spawned, ThreadOptions};
use crate::protocol::{
    check_caption, check_clip_id, check_scid, check_title_data, clip_types_wire, is_iso8601_utc, iso8601_now,
    owner_segment, percent_encode, ClipSource, GameClip, InitialUploadRequest, ThumbnailSource, Visibility,
    DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MAX_FILE_SIZE, MAX_RATING, MIN_BLOCK_SIZE, MIN_RATING,
};
use crate::retry::{Idempotency, DEFAULT_MAX_RETRY_DELAY};
use crate::status::UploadStatus;
use crate::transport::title::{HttpTransport, Title};
use crate::transport::Method;
use crate::transport::Transport;
use crate::upload::{ThumbnailKind, Upload, UploadData};
use crate::url_policy::{check_url, UploadHosts, DEFAULT_UPLOAD_HOSTS};

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
    /// JPEG or PNG images sent with the clip when `thumbnail_source` is `Upload` (at least one).
    pub large_thumbnail_path: Option<PathBuf>,
    pub small_thumbnail_path: Option<PathBuf>,
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
            large_thumbnail_path: None,
            small_thumbnail_path: None,
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
        check_scid(&self.scid)?;
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
        let thumbnails = self.thumbnails();
        if thumbnails.iter().any(|(_, path)| path.as_os_str().is_empty()) {
            return Err(Error::invalid("a thumbnail path is empty"));
        }
        match (self.thumbnail_source == ThumbnailSource::Upload, thumbnails.is_empty()) {
            (true, true) => {
                return Err(Error::invalid(
                    "thumbnail_source is UPLOAD: give large_thumbnail_path, small_thumbnail_path or both",
                ))
            }
            (false, false) => {
                return Err(Error::invalid("thumbnail paths are used only with thumbnail_source UPLOAD"));
            }
            _ => {}
        }
        if let Some(date) = &self.date_recorded {
            if !is_iso8601_utc(date) {
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
            source: self.source.wire().into(),
            visibility: self.visibility.wire().into(),
            title_data: self.title_data.clone(),
            system_properties: self.system_properties.clone(),
            users_in_session: self.users_in_session.clone(),
            thumbnail_source: self.thumbnail_source.wire().into(),
            thumbnail_offset_ms: (self.thumbnail_source == ThumbnailSource::Offset).then_some(self.thumbnail_offset_ms),
            saved_by_user: self.saved_by_user,
        })
    }

    fn thumbnails(&self) -> Vec<(ThumbnailKind, PathBuf)> {
        [(ThumbnailKind::Large, &self.large_thumbnail_path), (ThumbnailKind::Small, &self.small_thumbnail_path)]
            .into_iter()
            .filter_map(|(kind, path)| Some((kind, path.clone()?)))
            .collect()
    }
}

/// A change to a clip's metadata; `None` leaves a field as it is. Sent as one request: if any field is
/// invalid, nothing changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "visibility_wire")]
    pub visibility: Option<Visibility>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_data: Option<String>,
}

fn visibility_wire<S: serde::Serializer>(
    visibility: &Option<Visibility>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match visibility {
        Some(visibility) => serializer.serialize_str(visibility.wire()),
        None => serializer.serialize_none(),
    }
}

/// `/users/{owner}/scids/{scid}/clips/{id}`, each part checked.
fn clip_path(owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<String> {
    check_scid(scid)?;
    check_clip_id(game_clip_id)?;
    Ok(format!("/users/{}/scids/{scid}/clips/{game_clip_id}", owner_segment(owner_xuid)?))
}

/// A call to the metadata host that sends no body.
fn bodiless(
    method: Method,
    path: String,
    idempotency: Idempotency,
    what: &'static str,
    answer: Answer,
) -> OperationKind {
    OperationKind::Call { method, path, body: None, idempotency, what, answer }
}

#[cfg(feature = "builtin-http")]
fn builtin_transport(options: &ClientOptions) -> Result<Box<dyn Transport>> {
    Ok(Box::new(crate::http::Http::new(crate::http::HttpConfig {
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

pub struct Client {
    engine: Arc<Engine>,
    workers: Mutex<Vec<Spawned>>,
    shutdown_timeout: Duration,
    resumed: Vec<u64>,
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
        if options.max_retry_delay < Duration::from_millis(10) {
            return Err(Error::invalid("max_retry_delay must be at least 10 ms"));
        }
        if options.max_buffered_bytes < u64::from(block_size) {
            return Err(Error::invalid("max_buffered_bytes must hold at least one block"));
        }
        if let Some(dir) = &options.journal_dir {
            create_private_dir(dir)
                .map_err(|e| Error::new(ErrorKind::Io, format!("journal_dir {}: {e}", dir.display())))?;
        }
        let base = options.metadata_base_url.trim_end_matches('/').to_string();
        check_url(&base, options.allow_insecure_http)
            .map_err(|e| Error::invalid(format!("metadata_base_url: {}", e.message)))?;
        if options.service_version.is_empty() || !options.service_version.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid("service_version must be a non-empty header token"));
        }
        let config = Arc::new(Config {
            upload_hosts: UploadHosts::new(&base, &options.upload_hosts)?,
            metadata_base_url: base,
            allow_insecure_http: options.allow_insecure_http,
            block_size,
            journal_dir: options.journal_dir.clone(),
            max_buffered_bytes: options.max_buffered_bytes,
            max_retry_delay: options.max_retry_delay,
            give_up_after: options.give_up_after,
            request_timeout: options.request_timeout,
            worker_threads: options.worker_threads,
        });
        let transport: Box<dyn Transport> = match &options.transport {
            Some(title) => {
                Box::new(Title::new(title.clone(), options.service_version.clone(), options.request_timeout))
            }
            None => builtin_transport(&options)?,
        };
        let log = Logger::new(options.log.clone(), options.log_level);
        let engine = Arc::new(Engine::new(config, transport, options.max_bytes_per_second, log));
        let resumed = match &options.journal_dir {
            Some(dir) => engine.resume_from(dir)?,
            None => Vec::new(),
        };
        options.threads.check().map_err(Error::invalid)?;
        let workers = match engine.start_workers(options.worker_threads, &options.threads) {
            Ok(workers) => workers,
            Err(e) => {
                // Those that did start end with the engine.
                engine.stop();
                return Err(Error::new(ErrorKind::Internal, format!("cannot start worker threads: {e}")));
            }
        };
        Ok(Client { engine, workers: Mutex::new(workers), shutdown_timeout: options.shutdown_timeout, resumed })
    }

    /// Handles of the uploads this client resumed from its journal dir.
    pub fn resumed_uploads(&self) -> Vec<u64> {
        self.resumed.clone()
    }

    /// The whole Authorization header value. Uploads waiting for one continue.
    pub fn set_authorization(&self, header_value: &str) -> Result<()> {
        if header_value.is_empty() || header_value.bytes().any(|b| b < 0x20 || b == 0x7f) {
            // Never echo the value: it is a secret.
            return Err(Error::invalid("the Authorization value is empty or holds control characters"));
        }
        *self.engine.authorization.write() = Some(Arc::from(header_value));
        for job in self.engine.handles.values() {
            job.auth_renewed();
        }
        self.engine.wake();
        Ok(())
    }

    /// Starts an upload and returns its handle at once; the initial call runs on a worker.
    pub fn begin_upload(&self, request: UploadRequest) -> Result<u64> {
        let body = request.validate()?;
        let config = self.engine.config.clone();
        self.start(|handle| {
            let (scid, data, thumbnails) = (request.scid.clone(), request.data.clone(), request.thumbnails());
            let creates = self.engine.creates.clone();
            Job::Upload(Arc::new(Upload::new(handle, scid, data, body, thumbnails, config, creates)))
        })
    }

    /// Gives the job a handle and hands it to the workers.
    fn start(&self, make: impl FnOnce(u64) -> Job) -> Result<u64> {
        if self.engine.is_stopping() {
            return Err(Error::new(ErrorKind::Shutdown, "the client is shutting down"));
        }
        let (handle, job) = self
            .engine
            .handles
            .insert_with(make)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "too many handles in use: release finished ones"))?;
        self.engine.schedule(job);
        Ok(handle)
    }

    fn job(&self, handle: u64) -> Result<Job> {
        self.engine.handles.get(handle).ok_or_else(invalid_handle)
    }

    fn upload(&self, handle: u64) -> Result<Arc<Upload>> {
        match self.job(handle)? {
            Job::Upload(upload) => Ok(upload),
            Job::Operation(_) => {
                Err(Error::new(ErrorKind::WrongState, "this handle is a clip operation, not an upload"))
            }
        }
    }

    fn operation(&self, handle: u64) -> Result<Arc<Operation>> {
        match self.job(handle)? {
            Job::Operation(operation) => Ok(operation),
            Job::Upload(_) => Err(Error::new(ErrorKind::WrongState, "this handle is an upload, not a clip operation")),
        }
    }

    fn start_operation(&self, kind: OperationKind) -> Result<u64> {
        let config = self.engine.config.clone();
        self.start(|handle| Job::Operation(Arc::new(Operation::new(handle, kind, config))))
    }

    /// Changes the caption, visibility and/or title data of one of the caller's clips.
    pub fn update_metadata(&self, scid: &str, game_clip_id: &str, update: &MetadataUpdate) -> Result<u64> {
        let path = clip_path(None, scid, game_clip_id)?;
        if update == &MetadataUpdate::default() {
            return Err(Error::invalid("the update changes nothing: set a caption, a visibility or title data"));
        }
        if let Some(caption) = &update.user_caption {
            check_caption(caption)?;
        }
        if let Some(title_data) = &update.title_data {
            check_title_data(title_data)?;
        }
        let body = serde_json::to_vec(update).expect("the update serializes");
        self.start_operation(OperationKind::Call {
            method: Method::Post,
            path,
            body: Some(body),
            idempotency: Idempotency::Idempotent,
            what: "updating the clip's metadata",
            answer: Answer::Nothing,
        })
    }

    /// Rates anyone's clip 1..5 (`owner_xuid` `None`: one's own). Rating again replaces the rating.
    pub fn rate_clip(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str, rating: u32) -> Result<u64> {
        let path = clip_path(owner_xuid, scid, game_clip_id)?;
        if !(MIN_RATING..=MAX_RATING).contains(&rating) {
            return Err(Error::invalid(format!("rating {rating} is not {MIN_RATING}..{MAX_RATING}")));
        }
        let path = format!("{path}/ratings/{rating}");
        self.start_operation(bodiless(Method::Post, path, Idempotency::Idempotent, "rating the clip", Answer::Nothing))
    }

    /// Reports a clip to enforcement; it is hidden from everyone else from then on.
    pub fn flag_clip(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<u64> {
        let path = format!("{}/flag", clip_path(owner_xuid, scid, game_clip_id)?);
        self.start_operation(bodiless(
            Method::Post,
            path,
            Idempotency::Idempotent,
            "flagging the clip",
            Answer::Nothing,
        ))
    }

    /// Counts one view (call it at about 75-80% of playback). Not idempotent: repeated only when the
    /// request provably never reached the service, or the service said 429/503.
    pub fn record_view(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<u64> {
        let path = format!("{}/views", clip_path(owner_xuid, scid, game_clip_id)?);
        self.start_operation(bodiless(
            Method::Post,
            path,
            Idempotency::NotIdempotent,
            "recording a view",
            Answer::Nothing,
        ))
    }

    /// Deletes one of the caller's clips.
    pub fn delete_clip(&self, scid: &str, game_clip_id: &str) -> Result<u64> {
        let path = clip_path(None, scid, game_clip_id)?;
        self.start_operation(bodiless(
            Method::Delete,
            path,
            Idempotency::Idempotent,
            "deleting the clip",
            Answer::Nothing,
        ))
    }

    /// Reads a clip; the result is [`Client::clip_info`] and [`Client::result_json`].
    pub fn get_clip(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<u64> {
        let path = clip_path(owner_xuid, scid, game_clip_id)?;
        self.start_operation(bodiless(Method::Get, path, Idempotency::Idempotent, "getting the clip", Answer::Clip))
    }

    /// One page of a user's clips (`scid` `None`: of every title). `max_items` 0: the service's default.
    /// Pass the previous page's continuation token to get the next.
    pub fn list_clips(
        &self,
        owner_xuid: Option<&str>,
        scid: Option<&str>,
        max_items: u32,
        continuation_token: Option<&str>,
    ) -> Result<u64> {
        let owner = owner_segment(owner_xuid)?;
        let mut path = match scid {
            Some(scid) => {
                check_scid(scid)?;
                format!("/users/{owner}/scids/{scid}/clips")
            }
            None => format!("/users/{owner}/clips"),
        };
        let mut query = Vec::new();
        if max_items > 0 {
            query.push(format!("maxItems={max_items}"));
        }
        if let Some(token) = continuation_token.filter(|t| !t.is_empty()) {
            query.push(format!("continuationToken={}", percent_encode(token)));
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        self.start_operation(bodiless(Method::Get, path, Idempotency::Idempotent, "listing clips", Answer::Page))
    }

    /// Downloads a Published clip into `destination` (written as `destination.part` until complete;
    /// a failed attempt resumes where it stopped). Progress shows in the status's bytes.
    pub fn download_clip(
        &self,
        owner_xuid: Option<&str>,
        scid: &str,
        game_clip_id: &str,
        destination: impl Into<PathBuf>,
    ) -> Result<u64> {
        let clip_path = clip_path(owner_xuid, scid, game_clip_id)?;
        let destination = destination.into();
        if destination.as_os_str().is_empty() {
            return Err(Error::invalid("the destination path is empty"));
        }
        self.start_operation(OperationKind::Download { clip_path, destination })
    }

    /// The normalised JSON result of a completed operation (`{}` for those that return nothing).
    pub fn result_json(&self, handle: u64) -> Result<String> {
        self.operation(handle)?.result_json()
    }

    /// The clip a completed [`Client::get_clip`] read.
    pub fn clip_info(&self, handle: u64) -> Result<GameClip> {
        self.operation(handle)?.clip()
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
        self.job(handle)?.cancel(&self.engine.events)?;
        self.engine.wake();
        Ok(())
    }

    /// Forgets the handle; the upload itself carries on (release never cancels).
    pub fn release(&self, handle: u64) -> Result<()> {
        let job = self.engine.handles.remove(handle).ok_or_else(invalid_handle)?;
        job.mark_released();
        Ok(())
    }

    pub fn poll(&self, handle: u64) -> Result<UploadStatus> {
        Ok(self.job(handle)?.status(self.engine.is_paused(), Instant::now()))
    }

    /// The gameClipId, once the service has handed it out.
    pub fn clip_id(&self, handle: u64) -> Result<String> {
        self.upload(handle)?
            .clip_id()
            .ok_or_else(|| Error::new(ErrorKind::WrongState, "the clip id is not known yet: wait for CLIP_CREATED"))
    }

    /// Why the upload failed; empty while it has not.
    pub fn error_message(&self, handle: u64) -> Result<String> {
        Ok(self.job(handle)?.error().map(|e| e.message).unwrap_or_default())
    }

    pub fn next_event(&self) -> Option<Event> {
        self.engine.events.pop()
    }

    /// No new requests start until [`Client::resume`]; requests in flight finish.
    pub fn pause(&self) {
        self.engine.hold(Hold::Paused, true);
    }

    /// Ends a pause or a suspend.
    pub fn resume(&self) {
        self.engine.hold(Hold::Suspended, false);
        self.engine.hold(Hold::Paused, false);
    }

    /// The title is being suspended (console PLM, mobile background): returns within `max_wait`.
    /// Requests in flight are abandoned without charging any retry, pooled connections are closed, the
    /// journals are made durable, and nothing is sent until [`Client::resume`]. Whether every request
    /// in flight had returned (and the journals were synced) in time.
    pub fn suspend(&self, max_wait: Duration) -> bool {
        self.engine.suspend(max_wait)
    }

    /// What the platform says about the network. Offline: nothing is sent and no retry is spent.
    /// Online: uploads waiting out a back-off go at once.
    pub fn set_network_online(&self, online: bool) {
        self.engine.set_network_online(online);
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
                worker.join();
            }
        }
        // Uploads that ended since a worker last looked (a cancel just before destroy, say) must not
        // come back from their journal.
        if all_ended {
            self.engine.remove_ended_journals(&self.engine.handles.values());
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
