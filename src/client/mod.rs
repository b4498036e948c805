//! The safe Rust API. A [`Client`] owns the worker pool; uploads are identified by handles the game
//! polls. Every method returns quickly: the network and the disk are touched only by workers.

mod options;
mod requests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engine::{Engine, Hold};
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::events::Event;
use crate::jobs::operation::{Operation, OperationKind};
use crate::jobs::status::UploadStatus;
use crate::jobs::upload::Upload;
use crate::jobs::Job;
use crate::log::Logger;
use crate::platform::permissions::create_private_dir;
use crate::platform::threads::Spawned;
use crate::protocol::GameClip;

pub use options::{ClientOptions, DEFAULT_METADATA_BASE_URL};
pub use requests::{MetadataUpdate, UploadRequest};

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
        let config = Arc::new(options.config()?);
        if let Some(dir) = &options.journal_dir {
            create_private_dir(dir)
                .map_err(|e| Error::new(ErrorKind::Io, format!("journal_dir {}: {e}", dir.display())))?;
        }
        let transport = options.transport()?;
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
        self.engine.set_authorization(Arc::from(header_value));
        Ok(())
    }

    /// Starts an upload and returns its handle at once; the initial call runs on a worker.
    pub fn begin_upload(&self, request: UploadRequest) -> Result<u64> {
        let body = request.validate()?;
        let (scid, data, thumbnails) = (request.scid.clone(), request.data.clone(), request.thumbnails());
        self.engine
            .start_upload(|handle, config, creates| Upload::new(handle, scid, data, body, thumbnails, config, creates))
    }

    fn job(&self, handle: u64) -> Result<Job> {
        self.engine.job(handle).ok_or_else(invalid_handle)
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
        self.engine.start_operation(kind)
    }

    /// Changes the caption, visibility and/or title data of one of the caller's clips.
    pub fn update_metadata(&self, scid: &str, game_clip_id: &str, update: &MetadataUpdate) -> Result<u64> {
        self.start_operation(requests::update_metadata(scid, game_clip_id, update)?)
    }

    /// Rates anyone's clip 1..5 (`owner_xuid` `None`: one's own). Rating again replaces the rating.
    pub fn rate_clip(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str, rating: u32) -> Result<u64> {
        self.start_operation(requests::rate(owner_xuid, scid, game_clip_id, rating)?)
    }

    /// Reports a clip to enforcement; it is hidden from everyone else from then on.
    pub fn flag_clip(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<u64> {
        self.start_operation(requests::flag(owner_xuid, scid, game_clip_id)?)
    }

    /// Counts one view (call it at about 75-80% of playback). Not idempotent: repeated only when the
    /// request provably never reached the service, or the service said 429/503.
    pub fn record_view(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<u64> {
        self.start_operation(requests::record_view(owner_xuid, scid, game_clip_id)?)
    }

    /// Deletes one of the caller's clips.
    pub fn delete_clip(&self, scid: &str, game_clip_id: &str) -> Result<u64> {
        self.start_operation(requests::delete(scid, game_clip_id)?)
    }

    /// Reads a clip; the result is [`Client::clip_info`] and [`Client::result_json`].
    pub fn get_clip(&self, owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<u64> {
        self.start_operation(requests::get(owner_xuid, scid, game_clip_id)?)
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
        self.start_operation(requests::list(owner_xuid, scid, max_items, continuation_token)?)
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
        self.start_operation(requests::download(owner_xuid, scid, game_clip_id, destination)?)
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
        self.engine.push_block(&*self.upload(handle)?, block_num, data)
    }

    /// Blocks of a push-mode upload that the library does not hold yet.
    pub fn missing_blocks(&self, handle: u64) -> Result<Vec<u32>> {
        Ok(self.upload(handle)?.missing_blocks())
    }

    pub fn cancel(&self, handle: u64) -> Result<()> {
        self.engine.cancel(&self.job(handle)?)
    }

    /// Forgets the handle; the upload itself carries on (release never cancels).
    pub fn release(&self, handle: u64) -> Result<()> {
        self.engine.release(handle).map(drop).ok_or_else(invalid_handle)
    }

    pub fn poll(&self, handle: u64) -> Result<UploadStatus> {
        Ok(self.job(handle)?.control().status(self.engine.is_paused(), Instant::now()))
    }

    /// The gameClipId, once the service has handed it out.
    pub fn clip_id(&self, handle: u64) -> Result<String> {
        self.upload(handle)?
            .clip_id()
            .ok_or_else(|| Error::new(ErrorKind::WrongState, "the clip id is not known yet: wait for CLIP_CREATED"))
    }

    /// Why the upload failed; empty while it has not.
    pub fn error_message(&self, handle: u64) -> Result<String> {
        Ok(self.job(handle)?.control().error().map(|e| e.message).unwrap_or_default())
    }

    pub fn next_event(&self) -> Option<Event> {
        self.engine.next_event()
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
        self.engine.set_bandwidth_limit(bytes_per_second);
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
        self.engine.close(all_ended);
        all_ended
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}
