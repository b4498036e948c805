//! The engine: worker threads that take work from the scheduler, do its I/O, and hand the outcome to
//! the upload or operation it belongs to, which decides what it means. One request, top to bottom:
//!
//! 1. `Scheduler::next_work`: the next job in turn names its next piece of work, and its host admits
//!    it ([`scheduler`], [`crate::pacing::host_health`]);
//! 2. the request is built from it: URL, token, body from the file or the pushed copy ([`uploads`],
//!    [`operations`]);
//! 3. it goes out through the [`Transport`], redirects followed within the upload hosts
//!    ([`crate::protocol::url_policy`]); the host hears how it went;
//! 4. the outcome goes back to the job as it came, with the time and whether the request was
//!    abandoned ([`Reply`]): the job's machine classifies it and decides ([`crate::jobs::upload`],
//!    [`crate::jobs::operation`]), and the job carries out the decision whole
//!    ([`crate::jobs::Wrapped::apply`]). Work that was not sent goes back with `put_back`.
//!
//! May use: jobs, pacing, transport, journal, protocol, platform, config, log, error. The client is
//! its one user: the engine's state is private, and the client asks it.

pub mod handles;
mod journals;
mod operations;
mod scheduler;
#[cfg(test)]
mod tests;
mod uploads;

use crate::platform::threads::{self, Spawned, ThreadOptions};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::config::Config;
use crate::engine::handles::HandleTable;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::events::{Event, EventQueue};
use crate::jobs::operation::{Operation, OperationKind};
use crate::jobs::upload::creates::CreateLedger;
use crate::jobs::upload::{PushBudget, Upload};
use crate::jobs::{Job, Reply, Sinks};
use crate::log::{LogLevel, Logger};
use crate::pacing::bandwidth::Bandwidth;
use crate::pacing::host_health::{Change, HostHealth, LinkPacing, Signal, Ticket};
use crate::transport::{base_deadline, Outcome, Request, Transport};

pub use scheduler::Hold;
use scheduler::{Admitted, Scheduler, Work};

/// What became of a piece of work a job handed out.
enum Attempt {
    /// Sent, with its outcome.
    Sent(Outcome),
    /// Not sent, for a reason the job decides on (no token, a local failure).
    Unsent(Reply),
    /// Not sent because the client paused or stopped: back to the job as it was.
    PutBack,
}

pub struct Engine {
    config: Arc<Config>,
    transport: Box<dyn Transport>,
    authorization: RwLock<Option<Arc<str>>>,
    handles: HandleTable<Job>,
    events: EventQueue,
    push_budget: Arc<PushBudget>,
    bandwidth: Bandwidth,
    log: Logger,
    /// What this client's initial calls made, for a lost answer's orphans.
    creates: Arc<CreateLedger>,
    health: Arc<HostHealth>,
    scheduler: Scheduler,
    /// Bumped whenever requests in flight are abandoned (suspend, offline): a failure of a request
    /// sent before is the abandonment's doing, not the service's, and is not charged.
    abandoned: AtomicU64,
    /// Requests being sent now.
    in_flight: AtomicUsize,
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(count: &'a AtomicUsize) -> InFlight<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Engine {
    pub fn new(config: Arc<Config>, transport: Box<dyn Transport>, max_bytes_per_second: u64, log: Logger) -> Engine {
        let pacing = LinkPacing {
            max_in_flight: config.worker_threads,
            target: config.request_timeout / 2,
            base_deadline: base_deadline(config.request_timeout),
        };
        let health = Arc::new(HostHealth::new(config.max_retry_delay, pacing, config.jitter_seed));
        Engine {
            push_budget: Arc::new(PushBudget::new(config.max_buffered_bytes, config.block_size)),
            scheduler: Scheduler::new(config.journal_dir.is_some(), health.clone(), config.metadata_base_url.clone()),
            health,
            creates: Arc::default(),
            abandoned: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            config,
            transport,
            authorization: RwLock::new(None),
            handles: HandleTable::new(),
            events: EventQueue::default(),
            bandwidth: Bandwidth::new(max_bytes_per_second),
            log,
        }
    }

    pub fn start_workers(self: &Arc<Self>, count: u32, threads: &ThreadOptions) -> std::io::Result<Vec<Spawned>> {
        (0..count)
            .map(|i| {
                let engine = self.clone();
                threads::spawn(threads, "worker", i, move || {
                    while let Some(admitted) = engine.scheduler.next_work(engine.sinks()) {
                        engine.run(admitted);
                    }
                })
            })
            .collect()
    }

    pub fn schedule(&self, job: Job) {
        self.scheduler.add(job);
    }

    pub fn wake(&self) {
        self.scheduler.wake();
    }

    /// Sets or lifts one reason for no request to start (a pause also makes the journals durable).
    pub fn hold(&self, hold: Hold, on: bool) {
        self.scheduler.hold(hold, on);
    }

    /// Whether any hold is set (statuses show PAUSED).
    pub fn is_paused(&self) -> bool {
        self.scheduler.is_paused()
    }

    /// Abandons every request in flight: their failures are not charged (see `Engine::abandoned_since`).
    fn abandon_in_flight(&self) {
        self.abandoned.fetch_add(1, Ordering::AcqRel);
        self.transport.abandon();
    }

    /// See [`crate::Client::suspend`]. Whether every request in flight returned in time.
    pub fn suspend(&self, max_wait: Duration) -> bool {
        let deadline = Instant::now() + max_wait;
        self.hold(Hold::Suspended, true);
        self.abandon_in_flight();
        while self.in_flight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let returned = self.in_flight.load(Ordering::Acquire) == 0;
        self.sync_journals();
        returned
    }

    /// Offline: nothing starts and requests in flight are abandoned. Online: everything waiting out a
    /// back-off goes at once.
    pub fn set_network_online(&self, online: bool) {
        if online {
            // Only the change releases the back-offs: a title that says "online" every frame must not
            // turn them off.
            if self.scheduler.is_held(Hold::Offline) {
                self.hold(Hold::Offline, false);
                self.health.forget_backoff();
                self.scheduler.retry_all_now();
            }
        } else {
            self.hold(Hold::Offline, true);
            self.abandon_in_flight();
        }
    }

    /// Workers stop taking work, and requests blocked on the network return at once.
    pub fn stop(&self) {
        self.scheduler.stop();
        self.transport.interrupt();
    }

    pub fn is_stopping(&self) -> bool {
        self.scheduler.is_stopping()
    }

    /// Does one piece of work. A bug in it must not take a worker out of the pool: its job fails instead.
    fn run(&self, Admitted { work, ticket }: Admitted) {
        let job = work.job();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match work {
            Work::Upload(upload, piece) => self.run_upload(&upload, piece, ticket),
            Work::Operation(operation, step) => self.run_operation(&operation, step, ticket),
            Work::SyncJournals => self.sync_journals(),
            Work::RemoveJournals(jobs) => self.remove_ended_journals(&jobs),
        }));
        if let Err(payload) = ran {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let error = Error::new(ErrorKind::Internal, format!("internal error in a worker: {what}"));
            self.log.log(LogLevel::Error, || error.message.clone());
            if let Some(job) = job {
                job.control().fail(error, self.sinks());
            }
        }
        // What the work changed (a block acknowledged, a retry due) may give idle workers something to do.
        self.wake();
    }

    /// Steps the engine on the calling thread: does the work there is now; false when there is none.
    #[cfg(test)]
    pub fn run_next(&self) -> bool {
        match self.scheduler.try_next_work(self.sinks()) {
            Some(admitted) => {
                self.run(admitted);
                true
            }
            None => false,
        }
    }

    /// Marks the start of a request: counted in flight until the mark is dropped, and remembered for
    /// [`Engine::abandoned_since`].
    fn start_request(&self) -> (InFlight<'_>, u64) {
        (InFlight::new(&self.in_flight), self.abandoned.load(Ordering::Acquire))
    }

    /// Whether a request started at mark `since` was abandoned (suspend, offline) or is ending while the
    /// client is suspended or offline: a failure of it says nothing about the service, and is not
    /// charged. An answer (a success, a final failure) is still taken as it is.
    fn abandoned_since(&self, since: u64) -> bool {
        self.abandoned.load(Ordering::Acquire) != since
            || self.scheduler.is_held(Hold::Suspended)
            || self.scheduler.is_held(Hold::Offline)
    }

    /// What the job is handed back for `attempt`, or `None` when it goes back to the job as it was.
    /// The host of a request sent hears how it went, unless the request was abandoned and failed:
    /// that failure is the abandonment's doing, not the host's.
    fn reply_to(&self, attempt: Attempt, mark: u64, ticket: Option<Ticket>, body_sent: u64) -> Option<Reply> {
        let outcome = match attempt {
            Attempt::PutBack => return None,
            Attempt::Unsent(reply) => return Some(reply),
            Attempt::Sent(outcome) => outcome,
        };
        let signal = Signal::of(outcome.class());
        let abandoned = self.abandoned_since(mark);
        if !(abandoned && signal.is_failure()) {
            self.report_to_host(ticket, signal);
        }
        Some(Reply::Sent { outcome, abandoned, body_sent })
    }

    /// Where the jobs' decisions land.
    fn sinks(&self) -> Sinks<'_> {
        Sinks { events: &self.events, log: &self.log }
    }

    /// Tells the request's host how it went; a host that works again releases every job waiting out
    /// a back-off.
    fn report_to_host(&self, ticket: Option<Ticket>, signal: Signal) {
        if let Some(ticket) = ticket {
            if ticket.report(signal, Instant::now()) == Change::Recovered {
                self.log.log(LogLevel::Info, || "the service answers again; every upload goes on".to_string());
                self.scheduler.retry_all_now();
            }
        }
    }

    fn current_authorization(&self) -> Option<Arc<str>> {
        self.authorization.read().clone()
    }

    /// A GET with the Authorization value (the metadata host's reads), for a job that `stop` says ended.
    fn get(&self, url: &str, authorization: &str, stop: &dyn Fn() -> bool) -> Outcome {
        let authorization = Some(authorization);
        self.transport.send(Request { stop: Some(stop), ..Request::get(url, authorization) })
    }

    /// The whole Authorization value for every request from now on; jobs parked for one go on.
    pub fn set_authorization(&self, header_value: Arc<str>) {
        *self.authorization.write() = Some(header_value);
        for job in self.handles.values() {
            job.control().auth_renewed();
        }
        self.wake();
    }

    /// Gives a new upload a handle and hands it to the workers.
    pub fn start_upload(&self, new: impl FnOnce(u64, Arc<Config>, Arc<CreateLedger>) -> Upload) -> Result<u64> {
        let (config, creates) = (self.config.clone(), self.creates.clone());
        self.start(|handle| Job::Upload(Arc::new(new(handle, config, creates))))
    }

    /// Gives a new clip operation a handle and hands it to the workers.
    pub fn start_operation(&self, kind: OperationKind) -> Result<u64> {
        let config = self.config.clone();
        self.start(|handle| Job::Operation(Arc::new(Operation::new(handle, kind, config))))
    }

    fn start(&self, make: impl FnOnce(u64) -> Job) -> Result<u64> {
        if self.is_stopping() {
            return Err(Error::new(ErrorKind::Shutdown, "the client is shutting down"));
        }
        let (handle, job) = self
            .handles
            .insert_with(make)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "too many handles in use: release finished ones"))?;
        self.schedule(job);
        Ok(handle)
    }

    /// The job a handle names, while the game holds it.
    pub fn job(&self, handle: u64) -> Option<Job> {
        self.handles.get(handle)
    }

    /// Forgets the handle; the job runs to its end, and the game hears nothing more of it.
    pub fn release(&self, handle: u64) -> Option<Job> {
        let job = self.handles.remove(handle)?;
        job.control().mark_released();
        Some(job)
    }

    /// Copies one pushed block into the push budget.
    pub fn push_block(&self, upload: &Upload, num: u32, bytes: &[u8]) -> Result<()> {
        upload.push_block(num, bytes, &self.push_budget)?;
        self.wake();
        Ok(())
    }

    pub fn cancel(&self, job: &Job) -> Result<()> {
        job.control().cancel(self.sinks())?;
        self.wake();
        Ok(())
    }

    pub fn next_event(&self) -> Option<Event> {
        self.events.pop()
    }

    /// 0: unlimited. Takes effect for the next block sent.
    pub fn set_bandwidth_limit(&self, bytes_per_second: u64) {
        self.bandwidth.set_limit(bytes_per_second);
    }

    /// After the workers stopped: removes the journals of uploads that ended since a worker last
    /// looked, and closes the log (the game's log function is never called again).
    pub fn close(&self, workers_ended: bool) {
        if workers_ended {
            self.remove_ended_journals(&self.handles.values());
        }
        self.log.close();
    }
}
