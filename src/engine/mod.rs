//! The engine: worker threads that take work from the scheduler, do its I/O, and hand the outcome to
//! the upload or operation it belongs to, which decides what it means. One request, top to bottom:
//!
//! 1. `Scheduler::next_work`: the next job in turn names its next piece of work, and its host admits
//!    it ([`scheduler`], [`crate::host_health`]);
//! 2. the request is built from it: URL, token, body from the file or the pushed copy ([`uploads`],
//!    [`operations`]);
//! 3. it goes out through the [`Transport`], redirects followed within the upload hosts
//!    ([`crate::url_policy`]); the host hears how it went;
//! 4. the outcome goes back to the job as it came, with the time and whether the request was
//!    abandoned ([`Reply`]): the job's machine classifies it and decides ([`crate::upload`],
//!    [`crate::operation`]); the engine writes the log line and the journal record it returns
//!    ([`resume`]).

mod operations;
pub mod resume;
mod scheduler;
#[cfg(test)]
mod tests;
mod uploads;

use crate::platform::threads::{self, Spawned, ThreadOptions};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::bandwidth::Bandwidth;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::events::EventQueue;
use crate::handles::HandleTable;
use crate::host_health::{Change, HostHealth, LinkPacing, Signal, Ticket};
use crate::job::{Control, Reply};
use crate::lifecycle::NextTask;
use crate::log::{LogLevel, Logger};
use crate::operation::Operation;
use crate::transport::{base_deadline, Outcome, Request, Transport};
use crate::upload::creates::CreateLedger;
use crate::upload::{PushBudget, Upload};

pub use scheduler::Hold;
use scheduler::{Admitted, Scheduler, Work};

/// A request sent, with its outcome; or the [`Reply`] that says why none was (not sent, no token, a
/// local failure).
type Sent = std::result::Result<Outcome, Reply>;

/// What a handle names: an upload or a clip operation.
#[derive(Clone)]
pub enum Job {
    Upload(Arc<Upload>),
    Operation(Arc<Operation>),
}

impl Job {
    /// What is done alike with either kind.
    pub fn control(&self) -> &dyn Control {
        match self {
            Job::Upload(upload) => &**upload,
            Job::Operation(operation) => &**operation,
        }
    }

    fn upload(&self) -> Option<&Arc<Upload>> {
        match self {
            Job::Upload(upload) => Some(upload),
            Job::Operation(_) => None,
        }
    }

    fn next_work(&self, now: Instant) -> NextTask<Work> {
        match self {
            Job::Upload(upload) => match upload.next_piece(now) {
                NextTask::Run(piece) => NextTask::Run(Work::Upload(upload.clone(), piece)),
                NextTask::Wait(at) => NextTask::Wait(at),
                NextTask::Finished => NextTask::Finished,
            },
            Job::Operation(operation) => match operation.next_step(now) {
                NextTask::Run(step) => NextTask::Run(Work::Operation(operation.clone(), step)),
                NextTask::Wait(at) => NextTask::Wait(at),
                NextTask::Finished => NextTask::Finished,
            },
        }
    }
}

pub struct Engine {
    pub config: Arc<Config>,
    transport: Box<dyn Transport>,
    pub authorization: RwLock<Option<Arc<str>>>,
    pub handles: HandleTable<Job>,
    pub events: EventQueue,
    pub push_budget: Arc<PushBudget>,
    pub bandwidth: Bandwidth,
    pub log: Logger,
    /// What this client's initial calls made, for a lost answer's orphans.
    pub creates: Arc<CreateLedger>,
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
        let health = Arc::new(HostHealth::new(config.max_retry_delay, pacing));
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
                    while let Some(admitted) = engine.scheduler.next_work() {
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
                job.control().fail(error, &self.events);
            }
        }
        // What the work changed (a block acknowledged, a retry due) may give idle workers something to do.
        self.wake();
    }

    /// Steps the engine on the calling thread: does the work there is now; false when there is none.
    #[cfg(test)]
    pub fn run_next(&self) -> bool {
        match self.scheduler.try_next_work() {
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

    /// What the job is handed back. The request's host hears how it went, unless the request was
    /// abandoned and failed: that failure is the abandonment's doing, not the host's.
    fn reply(&self, sent: Sent, mark: u64, ticket: Option<Ticket>, body_sent: u64) -> Reply {
        match sent {
            Err(unsent) => unsent,
            Ok(outcome) => {
                let signal = Signal::of(&outcome);
                let abandoned = self.abandoned_since(mark);
                if !(abandoned && signal.is_failure()) {
                    self.report_to_host(ticket, signal);
                }
                Reply::Sent { outcome, abandoned, body_sent }
            }
        }
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
}
