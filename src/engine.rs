//! The worker pool and its scheduler. Workers take one task at a time from the uploads in turn
//! (round-robin, so many uploads share the pool fairly), do the file and network I/O, and report the
//! outcome to the upload. The game's threads never come here except to wake the workers.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use ureq::http::Method;

use crate::bandwidth::Bandwidth;
use crate::error::{Error, ErrorKind};
use crate::events::EventQueue;
use crate::handles::HandleTable;
use crate::http::{check_url, Body, Http};
use crate::log::{LogLevel, Logger};
use crate::platform::file_io::read_exact_at;
use crate::protocol::{InitialUploadResponse, MAX_FILE_SIZE};
use crate::retry::{classify, Idempotency, Verdict};
use crate::upload::{BlockTask, CreatedClip, NextTask, OpenedFile, PushBudget, Task, Upload, UploadData};

struct Schedule {
    /// Uploads with work left, in turn order.
    ring: std::collections::VecDeque<Arc<Upload>>,
    paused: bool,
    stopping: bool,
}

pub struct Engine {
    pub http: Http,
    pub metadata_base_url: String,
    pub allow_insecure_http: bool,
    pub block_size: u32,
    pub authorization: RwLock<Option<Arc<str>>>,
    pub uploads: HandleTable<Arc<Upload>>,
    pub events: EventQueue,
    pub push_budget: Arc<PushBudget>,
    pub bandwidth: Bandwidth,
    pub log: Logger,
    schedule: Mutex<Schedule>,
    work_available: Condvar,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: Http,
        metadata_base_url: String,
        allow_insecure_http: bool,
        block_size: u32,
        max_buffered_bytes: u64,
        max_bytes_per_second: u64,
        log: Logger,
    ) -> Engine {
        Engine {
            http,
            metadata_base_url,
            allow_insecure_http,
            block_size,
            authorization: RwLock::new(None),
            uploads: HandleTable::new(),
            events: EventQueue::default(),
            push_budget: Arc::new(PushBudget::new(max_buffered_bytes)),
            bandwidth: Bandwidth::new(max_bytes_per_second),
            log,
            schedule: Mutex::new(Schedule { ring: Default::default(), paused: false, stopping: false }),
            work_available: Condvar::new(),
        }
    }

    pub fn start_workers(self: &Arc<Self>, count: u32) -> std::io::Result<Vec<JoinHandle<()>>> {
        (0..count)
            .map(|i| {
                let engine = self.clone();
                std::thread::Builder::new().name(format!("gameclips-worker-{i}")).spawn(move || engine.run_worker())
            })
            .collect()
    }

    /// Tells idle workers that something changed. Taking the lock first means a worker that just found
    /// nothing to do is already waiting, so the wake-up cannot slip between its check and its wait.
    pub fn wake(&self) {
        drop(self.schedule.lock());
        self.work_available.notify_all();
    }

    pub fn schedule(&self, upload: Arc<Upload>) {
        self.schedule.lock().ring.push_back(upload);
        self.work_available.notify_all();
    }

    pub fn set_paused(&self, paused: bool) {
        self.schedule.lock().paused = paused;
        self.work_available.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.schedule.lock().paused
    }

    /// Workers stop taking tasks, and requests blocked on the network return at once.
    pub fn stop(&self) {
        self.schedule.lock().stopping = true;
        self.work_available.notify_all();
        self.http.interrupt();
    }

    pub fn is_stopping(&self) -> bool {
        self.schedule.lock().stopping
    }

    fn next_task(&self) -> Option<(Arc<Upload>, Task)> {
        let mut schedule = self.schedule.lock();
        loop {
            if schedule.stopping {
                return None;
            }
            let mut wake_at: Option<Instant> = None;
            if !schedule.paused {
                let now = Instant::now();
                for _ in 0..schedule.ring.len() {
                    let upload = schedule.ring.pop_front().expect("ring length was checked");
                    match upload.next_task(now) {
                        NextTask::Run(task) => {
                            schedule.ring.push_back(upload.clone());
                            return Some((upload, task));
                        }
                        NextTask::Wait(at) => {
                            wake_at = match (wake_at, at) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                            schedule.ring.push_back(upload);
                        }
                        NextTask::Finished => {}
                    }
                }
            }
            match wake_at {
                Some(at) => {
                    self.work_available.wait_until(&mut schedule, at);
                }
                None => self.work_available.wait(&mut schedule),
            }
        }
    }

    fn run_worker(self: Arc<Self>) {
        // One block buffer per worker: file-mode memory stays workers x block size whatever the file size.
        let mut buffer = Vec::new();
        while let Some((upload, task)) = self.next_task() {
            match task {
                Task::Create => self.create_clip(&upload),
                Task::Block(block) => self.send_block(&upload, block, &mut buffer),
            }
            self.wake();
        }
    }

    fn current_authorization(&self) -> Option<Arc<str>> {
        self.authorization.read().clone()
    }

    fn fail(&self, upload: &Upload, error: Error) {
        self.log.log(LogLevel::Warn, || format!("upload {:#x} failed: {}", upload.handle, error.message));
        upload.fail(error, &self.events);
    }

    /// Opens the clip file the first time (file mode) and returns the request body of the initial call.
    fn prepare_create(&self, upload: &Upload) -> Result<Vec<u8>, Error> {
        let layout = match (&upload.data, upload.layout()) {
            (_, Some(layout)) => layout,
            (UploadData::File { path, size }, None) => {
                let file = OpenedFile::open(path)?;
                if *size != 0 && file.size != *size {
                    return Err(Error::invalid(format!(
                        "file_size is {size} but {} is {} bytes",
                        path.display(),
                        file.size
                    )));
                }
                if file.size == 0 || file.size >= MAX_FILE_SIZE {
                    return Err(Error::invalid(format!(
                        "{} is {} bytes; a clip must be 1 byte to 4 GiB - 1",
                        path.display(),
                        file.size
                    )));
                }
                upload.file_opened(file)
            }
            (UploadData::Push { .. }, None) => unreachable!("push uploads have a layout from the start"),
        };
        let mut request = upload.request.clone();
        request.file_size = layout.file_size as u32;
        request.expected_blocks = layout.blocks;
        Ok(serde_json::to_vec(&request).expect("the request serializes"))
    }

    fn create_clip(&self, upload: &Upload) {
        let body = match self.prepare_create(upload) {
            Ok(body) => body,
            Err(error) => return self.fail(upload, error),
        };
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(None, 0, &self.events);
        };
        let url = format!("{}/users/me/scids/{}/clips", self.metadata_base_url, upload.scid);
        let outcome = self.http.send(Method::POST, &url, &authorization, Body::Json(&body));
        match classify(outcome, "creating the clip", Idempotency::NotIdempotent, upload.attempt()) {
            Verdict::Success { body, .. } => match self.parse_created(&body) {
                Ok(clip) => {
                    let id = clip.response.game_clip_id.clone();
                    upload.created(clip, &self.events);
                    self.log.log(LogLevel::Info, || format!("upload {:#x}: clip {id} created", upload.handle));
                }
                Err(error) => self.fail(upload, error),
            },
            Verdict::Retry { after, error } => self.retry(upload, None, after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(None, status, &self.events),
            Verdict::Fail(error) => self.fail(upload, error),
        }
    }

    fn parse_created(&self, body: &[u8]) -> Result<CreatedClip, Error> {
        let response: InitialUploadResponse = serde_json::from_slice(body).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service's answer to the initial call is not usable: {e}"))
        })?;
        check_url(&response.upload_uri, self.allow_insecure_http).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service handed out an unusable uploadUri: {}", e.message))
        })?;
        let upload_id = response.upload_id();
        Ok(CreatedClip { response, upload_id })
    }

    fn retry(&self, upload: &Upload, block: Option<u32>, after: Duration, error: &Error) {
        self.log.log(LogLevel::Debug, || {
            format!("upload {:#x}: {}; retrying in {} ms", upload.handle, error.message, after.as_millis())
        });
        upload.retry_later(block, after, error);
    }

    /// Waits out the bandwidth limit in short slices, so a stop is never held up by it.
    fn throttle(&self, bytes: usize) -> bool {
        let deadline = Instant::now() + self.bandwidth.charge(bytes);
        while Instant::now() < deadline {
            if self.is_stopping() {
                return false;
            }
            std::thread::sleep((deadline - Instant::now()).min(Duration::from_millis(20)));
        }
        true
    }

    fn send_block(&self, upload: &Upload, task: BlockTask, buffer: &mut Vec<u8>) {
        let bytes: &[u8] = match (&task.data, &task.file) {
            (Some(pushed), _) => &pushed.data,
            (None, Some(file)) => {
                buffer.resize(task.len, 0);
                let read = file.check_unchanged().and_then(|()| {
                    read_exact_at(&file.file, &mut buffer[..task.len], task.offset).map_err(|e| {
                        Error::new(ErrorKind::Io, format!("reading block {} of the clip file: {e}", task.num))
                    })
                });
                if let Err(error) = read {
                    return self.fail(upload, error);
                }
                &buffer[..task.len]
            }
            (None, None) => return self.fail(upload, Error::new(ErrorKind::Internal, "a block task without data")),
        };
        if !self.throttle(bytes.len()) {
            return;
        }
        let Some(authorization) = self.current_authorization() else {
            return upload.wait_for_auth(Some(task.num), 0, &self.events);
        };
        let url = task.clip.response.block_url(&task.clip.upload_id, task.num);
        let outcome = self.http.send(Method::PUT, &url, &authorization, Body::Octets(bytes));
        let what = format!("sending block {}", task.num);
        match classify(outcome, &what, Idempotency::Idempotent, upload.attempt()) {
            Verdict::Success { status, .. } => upload.block_acked(task.num, status == 201, status, &self.events),
            Verdict::Retry { after, error } => self.retry(upload, Some(task.num), after, &error),
            Verdict::NeedsAuth { status } => upload.wait_for_auth(Some(task.num), status, &self.events),
            Verdict::Fail(error) => self.fail(upload, error),
        }
    }
}
