//! Which work a free worker takes next. Uploads and operations take turns (round-robin, so many share
//! the pool fairly); each says whether it has a request to send now, later, or never again. Journal
//! upkeep (sync on pause, removal of ended jobs' journals) is work too. The game's threads come here
//! only to add a job or to wake the workers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::Job;
use crate::lifecycle::NextTask;
use crate::operation::{Operation, Step};
use crate::upload::{Piece, Upload};
use std::sync::Arc;

/// One request's worth of work for a worker, or journal upkeep.
pub enum Work {
    Upload(Arc<Upload>, Piece),
    Operation(Arc<Operation>, Step),
    SyncJournals,
    /// Jobs that just ended.
    RemoveJournals(Vec<Job>),
}

impl Work {
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
    paused: bool,
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
    /// Copies of `Schedule.paused` and `.stopping`, read without the schedule lock: `clips_poll` asks
    /// on the game thread, and must not wait for workers busy with the schedule.
    paused: AtomicBool,
    stopping: AtomicBool,
}

impl Scheduler {
    pub fn new(journaling: bool) -> Scheduler {
        Scheduler {
            schedule: Mutex::new(Schedule {
                ring: VecDeque::new(),
                paused: false,
                sync_requested: false,
                ended: Vec::new(),
                stopping: false,
            }),
            work_available: Condvar::new(),
            journaling,
            paused: AtomicBool::new(false),
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

    /// Paused: no request starts, and a worker makes the journals durable.
    pub fn set_paused(&self, paused: bool) {
        let mut schedule = self.schedule.lock();
        schedule.paused = paused;
        self.paused.store(paused, Ordering::Release);
        schedule.sync_requested |= paused && self.journaling;
        drop(schedule);
        self.work_available.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
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
    pub fn next_work(&self) -> Option<Work> {
        let mut schedule = self.schedule.lock();
        loop {
            let wake_at = match self.take(&mut schedule, Instant::now()) {
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
    pub fn try_next_work(&self) -> Option<Work> {
        self.take(&mut self.schedule.lock(), Instant::now()).ok().flatten()
    }

    /// `Ok`: work, or `None` when stopping. `Err`: nothing now; the earliest time something may be due.
    fn take(&self, schedule: &mut Schedule, now: Instant) -> Result<Option<Work>, Option<Instant>> {
        if schedule.stopping {
            return Ok(None);
        }
        if std::mem::take(&mut schedule.sync_requested) {
            return Ok(Some(Work::SyncJournals));
        }
        // Before any request: a journal left behind by an ended upload would resume it after a crash.
        if !schedule.ended.is_empty() {
            return Ok(Some(Work::RemoveJournals(std::mem::take(&mut schedule.ended))));
        }
        let mut wake_at: Option<Instant> = None;
        if !schedule.paused {
            for _ in 0..schedule.ring.len() {
                let job = schedule.ring.pop_front().expect("ring length was checked");
                match job.next_work(now) {
                    NextTask::Run(work) => {
                        schedule.ring.push_back(job);
                        return Ok(Some(work));
                    }
                    NextTask::Wait(at) => {
                        wake_at = match (wake_at, at) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        schedule.ring.push_back(job);
                    }
                    NextTask::Finished if self.journaling => schedule.ended.push(job),
                    NextTask::Finished => {}
                }
            }
        }
        if !schedule.ended.is_empty() {
            return Ok(Some(Work::RemoveJournals(std::mem::take(&mut schedule.ended))));
        }
        Err(wake_at)
    }
}
