//! Which work a free worker takes next. Uploads and operations take turns (round-robin, so many share
//! the pool fairly); each says whether it has a request to send now, later, or never again, and the
//! request's host must admit it ([`HostHealth`]: one probe at a time to a failing host). Journal
//! upkeep (sync on pause, removal of ended jobs' journals) is work too. The game's threads come here
//! only to add a job, to hold or release the workers, or to wake them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::jobs::lifecycle::NextTask;
use crate::jobs::operation::{Operation, Step};
use crate::jobs::upload::{Piece, Upload};
use crate::jobs::{Job, Sinks};
use crate::pacing::host_health::{Asker, HostHealth, Ticket};
use std::sync::Arc;

/// One request's worth of work for a worker, or journal upkeep.
pub enum Work {
    Upload(Arc<Upload>, Piece),
    Operation(Arc<Operation>, Step),
    SyncJournals,
    /// Jobs that just ended.
    RemoveJournals(Vec<Job>),
}

/// Work a worker may do now: with its host's leave when it sends a request.
pub struct Admitted {
    pub work: Work,
    pub ticket: Option<Ticket>,
}

/// Why no request starts: each holds the workers on its own, and all must be lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The title's `clips_pause`.
    Paused,
    /// `clips_suspend`, until `clips_resume`.
    Suspended,
    /// The platform says the network is down.
    Offline,
}

impl Hold {
    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl Work {
    /// Where this work's request goes, who asks, and the length of the block it uploads (0 for any
    /// other request); `None` for journal upkeep.
    fn target(&self, metadata_base_url: &str) -> Option<(String, Asker, u64)> {
        match self {
            Work::Upload(upload, piece) => {
                let block_len = match piece {
                    Piece::Block(block) => block.len as u64,
                    _ => 0,
                };
                Some((upload.url_of(piece, metadata_base_url), Asker::Upload, block_len))
            }
            Work::Operation(operation, step) => {
                Some((operation.url_of(step, metadata_base_url), Asker::Interactive, 0))
            }
            Work::SyncJournals | Work::RemoveJournals(_) => None,
        }
    }

    /// Work taken that was not sent (its host does not admit it now, or the client paused or
    /// stopped): back to its job, nothing charged.
    pub fn put_back(self, sinks: Sinks<'_>) {
        match self {
            Work::Upload(upload, piece) => upload.put_back(piece, sinks),
            Work::Operation(operation, _) => operation.put_back(sinks),
            Work::SyncJournals | Work::RemoveJournals(_) => {}
        }
    }

    /// The next work `job` names, if any may go now.
    fn next_of(job: &Job, now: Instant) -> NextTask<Work> {
        match job {
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

    /// The upload or operation this work is for.
    pub fn job(&self) -> Option<Job> {
        match self {
            Work::Upload(upload, _) => Some(Job::Upload(upload.clone())),
            Work::Operation(operation, _) => Some(Job::Operation(operation.clone())),
            Work::SyncJournals | Work::RemoveJournals(_) => None,
        }
    }
}

struct Schedule {
    /// Uploads and operations with work left, in turn order.
    ring: VecDeque<Job>,
    /// `Hold` bits: while any is set, no request starts.
    holds: u8,
    /// A pause asked for the journals to be made durable.
    sync_requested: bool,
    /// Jobs that ended, whose journals the next free worker removes.
    ended: Vec<Job>,
    stopping: bool,
}

pub struct Scheduler {
    schedule: Mutex<Schedule>,
    work_available: Condvar,
    /// Whether ended jobs have journals to remove (a journal dir is set).
    journaling: bool,
    health: Arc<HostHealth>,
    metadata_base_url: String,
    /// Copies of `Schedule.holds` and `.stopping`, read without the schedule lock: `clips_poll` asks on
    /// the game thread, and every request's end asks too; neither must wait for workers busy with the
    /// schedule.
    holds: AtomicU8,
    stopping: AtomicBool,
}

impl Scheduler {
    pub fn new(journaling: bool, health: Arc<HostHealth>, metadata_base_url: String) -> Scheduler {
        Scheduler {
            schedule: Mutex::new(Schedule {
                ring: VecDeque::new(),
                holds: 0,
                sync_requested: false,
                ended: Vec::new(),
                stopping: false,
            }),
            work_available: Condvar::new(),
            journaling,
            health,
            metadata_base_url,
            holds: AtomicU8::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn add(&self, job: Job) {
        self.schedule.lock().ring.push_back(job);
        self.work_available.notify_all();
    }

    /// Tells idle workers that something changed. Taking the lock first means a worker that just found
    /// nothing to do is already waiting, so the wake-up cannot slip between its check and its wait.
    pub fn wake(&self) {
        drop(self.schedule.lock());
        self.work_available.notify_all();
    }

    /// Sets or lifts one hold. While any is set no request starts; a pause also has a worker make the
    /// journals durable.
    pub fn hold(&self, hold: Hold, on: bool) {
        let mut schedule = self.schedule.lock();
        if on {
            schedule.holds |= hold.bit();
        } else {
            schedule.holds &= !hold.bit();
        }
        self.holds.store(schedule.holds, Ordering::Release);
        schedule.sync_requested |= on && hold == Hold::Paused && self.journaling;
        drop(schedule);
        self.work_available.notify_all();
    }

    /// Whether any hold is set.
    pub fn is_paused(&self) -> bool {
        self.holds.load(Ordering::Acquire) != 0
    }

    pub fn is_held(&self, hold: Hold) -> bool {
        self.holds.load(Ordering::Acquire) & hold.bit() != 0
    }

    /// Every job that waits out a back-off may go now.
    pub fn retry_all_now(&self) {
        for job in self.schedule.lock().ring.iter() {
            job.control().retry_now();
        }
        self.work_available.notify_all();
    }

    /// Workers stop taking work.
    pub fn stop(&self) {
        self.schedule.lock().stopping = true;
        self.stopping.store(true, Ordering::Release);
        self.work_available.notify_all();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// The next work, waiting for some; `None` once stopping.
    pub fn next_work(&self, sinks: Sinks<'_>) -> Option<Admitted> {
        let mut schedule = self.schedule.lock();
        loop {
            let wake_at = match self.take(&mut schedule, Instant::now(), sinks) {
                Ok(work) => return work,
                Err(wake_at) => wake_at,
            };
            match wake_at {
                Some(at) => {
                    self.work_available.wait_until(&mut schedule, at);
                }
                None => self.work_available.wait(&mut schedule),
            }
        }
    }

    /// The work there is now, without waiting (for tests that step the engine by hand).
    #[cfg(test)]
    pub fn try_next_work(&self, sinks: Sinks<'_>) -> Option<Admitted> {
        self.take(&mut self.schedule.lock(), Instant::now(), sinks).ok().flatten()
    }

    /// `Ok`: work, or `None` when stopping. `Err`: nothing now; the earliest time something may be due.
    /// A put-back's decision has no log line and no event (see the machines' `put_back`), so applying
    /// it here, under the schedule's lock, never calls the game.
    fn take(
        &self,
        schedule: &mut Schedule,
        now: Instant,
        sinks: Sinks<'_>,
    ) -> Result<Option<Admitted>, Option<Instant>> {
        let upkeep = |work| Ok(Some(Admitted { work, ticket: None }));
        if schedule.stopping {
            return Ok(None);
        }
        if std::mem::take(&mut schedule.sync_requested) {
            return upkeep(Work::SyncJournals);
        }
        // Before any request: a journal left behind by an ended upload would resume it after a crash.
        if !schedule.ended.is_empty() {
            return upkeep(Work::RemoveJournals(std::mem::take(&mut schedule.ended)));
        }
        let mut wake_at: Option<Instant> = None;
        let mut wait_until = |at: Option<Instant>| {
            wake_at = match (wake_at, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        };
        if schedule.holds == 0 {
            for _ in 0..schedule.ring.len() {
                let job = schedule.ring.pop_front().expect("ring length was checked");
                match Work::next_of(&job, now) {
                    NextTask::Run(work) => {
                        schedule.ring.push_back(job);
                        let Some((url, asker, block_len)) = work.target(&self.metadata_base_url) else {
                            return upkeep(work);
                        };
                        match self.health.admit(&url, asker, block_len, now) {
                            Ok(ticket) => return Ok(Some(Admitted { work, ticket: Some(ticket) })),
                            Err(at) => {
                                work.put_back(sinks);
                                wait_until(at);
                            }
                        }
                    }
                    NextTask::Wait(at) => {
                        wait_until(at);
                        schedule.ring.push_back(job);
                    }
                    NextTask::Finished if self.journaling => schedule.ended.push(job),
                    NextTask::Finished => {}
                }
            }
        }
        if !schedule.ended.is_empty() {
            return upkeep(Work::RemoveJournals(std::mem::take(&mut schedule.ended)));
        }
        Err(wake_at)
    }
}
