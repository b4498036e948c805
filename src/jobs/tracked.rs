//! What uploads and clip operations share, written once around their state machines: what a machine is
//! handed ([`Reply`]) and hands back ([`Settled`]), the [`Tracked`] wrapper that holds a machine
//! under its lock and publishes its status at each change (read without the lock), and
//! [`Wrapped::apply`], the one place a decision is carried out: its own part (an upload's journal
//! record and ledger news), its log line, and its events unless the game released the handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::jobs::events::{Event, EventQueue};
use crate::jobs::lifecycle::Lifecycle;
use crate::jobs::status::{Published, UploadStatus};
use crate::jobs::status_board::StatusBoard;
use crate::log::{LogLevel, Logger};
use crate::transport::Outcome;

/// What became of a job's request, as the engine hands it back.
/// (Work taken and not sent at all, because its host did not admit it or the client paused or stopped,
/// is no reply: it goes back with `put_back`.)
pub enum Reply {
    /// No Authorization value to send it with.
    NoToken,
    /// It failed here, before any request (the clip file, a thumbnail image, the disk): final.
    Local(Error),
    /// The transport's outcome. `abandoned`: the client suspended or went offline while it was in
    /// flight, so a failure is that doing, not the service's. `body_sent`: bytes of a block's body
    /// that went out.
    Sent { outcome: Outcome, abandoned: bool, body_sent: u64 },
}

/// What follows a machine's decision, applied whole by [`Wrapped::apply`] after the machine's lock is
/// let go (the game's log function is never called under it). `Own`: what only one kind of job has to
/// say (an upload's journal record and create-ledger news).
#[derive(Debug, Default)]
#[must_use = "a decision is carried out by Wrapped::apply"]
pub struct Settled<Own = ()> {
    pub events: Vec<Event>,
    pub log: Option<(LogLevel, String)>,
    pub own: Own,
}

/// Where decisions land: the game's event queue and its log.
#[derive(Clone, Copy)]
pub struct Sinks<'a> {
    pub events: &'a EventQueue,
    pub log: &'a Logger,
}

/// What the client and the engine do with any job, whatever its kind.
pub trait Control {
    /// Without the job's lock: the status as published at its last change.
    fn status(&self, paused: bool, now: Instant) -> UploadStatus;
    fn cancel(&self, sinks: Sinks<'_>) -> Result<()>;
    /// After `release`, the game hears nothing more of this job; it still runs to its end.
    fn mark_released(&self);
    /// A new token came: a job parked for one goes on.
    fn auth_renewed(&self);
    /// The back-off being waited out ends now.
    fn retry_now(&self);
    /// Why it failed (while running: the last failure retried).
    fn error(&self) -> Option<Error>;
    /// Ends the job with `error` (a panicking task, say) unless it has ended already.
    fn fail(&self, error: Error, sinks: Sinks<'_>);
}

/// A job's state machine, as far as what is done alike with every job needs it.
pub trait Machine {
    /// What only this kind of job says besides events and log lines.
    type Own: Default;
    /// The snapshot a status is read from.
    fn published(&self) -> Published;
    /// Ends it with `error` (a panicking task, say) unless it has ended already.
    fn fail(&mut self, error: Error) -> Settled<Self::Own>;
    fn cancel(&mut self) -> Result<Settled<Self::Own>>;
    /// Running or ended, waiting for a token or out a back-off: what every job keeps.
    fn life(&mut self) -> &mut Lifecycle;
    fn life_ref(&self) -> &Lifecycle;

    fn auth_renewed(&mut self) {
        self.life().waiting_for_auth = false;
    }

    /// The back-off being waited out ends now.
    fn retry_now(&mut self) {
        self.life().retry_now();
    }

    fn error(&self) -> Option<Error> {
        self.life_ref().error.clone()
    }
}

/// A kind of job: its machine in a [`Tracked`], and how it carries out what only its machine says.
/// Every such kind is a [`Control`], written once below.
pub trait Wrapped {
    type Machine: Machine;
    fn tracked(&self) -> &Tracked<Self::Machine>;
    /// Carries out the kind's own part of a decision.
    fn apply_own(&self, own: <Self::Machine as Machine>::Own, log: &Logger);

    /// Carries out a decision whole, on every path (an answer, a put-back, a cancel, a failure): the
    /// kind's own part first (a journal record is written before the game hears of it), then the log
    /// line, then the events.
    fn apply(&self, settled: Settled<<Self::Machine as Machine>::Own>, sinks: Sinks<'_>) {
        self.apply_own(settled.own, sinks.log);
        if let Some((level, message)) = settled.log {
            sinks.log.log(level, || message);
        }
        self.tracked().announce(settled.events, sinks.events);
    }
}

impl<W: Wrapped> Control for W {
    fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        self.tracked().status(paused, now)
    }

    fn cancel(&self, sinks: Sinks<'_>) -> Result<()> {
        let settled = self.tracked().lock().cancel()?;
        self.apply(settled, sinks);
        Ok(())
    }

    fn mark_released(&self) {
        self.tracked().mark_released();
    }

    fn auth_renewed(&self) {
        self.tracked().lock().auth_renewed();
    }

    fn retry_now(&self) {
        self.tracked().lock().retry_now();
    }

    fn error(&self) -> Option<Error> {
        self.tracked().peek().error()
    }

    fn fail(&self, error: Error, sinks: Sinks<'_>) {
        let settled = self.tracked().lock().fail(error);
        self.apply(settled, sinks);
    }
}

/// A machine behind its lock, with its published status and the released flag.
pub struct Tracked<M: Machine> {
    machine: Mutex<M>,
    board: StatusBoard,
    released: AtomicBool,
}

impl<M: Machine> Tracked<M> {
    pub fn new(machine: M) -> Tracked<M> {
        let tracked =
            Tracked { machine: Mutex::new(machine), board: StatusBoard::default(), released: AtomicBool::new(false) };
        drop(tracked.lock());
        tracked
    }

    /// For a change: the status is published when the guard goes.
    pub fn lock(&self) -> Changing<'_, M> {
        Changing { guard: self.machine.lock(), board: &self.board }
    }

    /// For reading only: nothing is published, and nothing can be changed.
    pub fn peek(&self) -> Peek<'_, M> {
        Peek(self.machine.lock())
    }

    /// Without the lock: the status as published at the last change.
    pub fn status(&self, paused: bool, now: Instant) -> UploadStatus {
        self.board.read().status(paused, now)
    }

    /// After `release`, the game hears nothing more of this job; it still runs to its end.
    pub fn mark_released(&self) {
        self.released.store(true, Ordering::Release);
    }

    /// Queues what the machine announced, unless the handle was released.
    pub fn announce(&self, events: Vec<Event>, queue: &EventQueue) {
        if !self.released.load(Ordering::Acquire) {
            events.into_iter().for_each(|event| queue.push(event));
        }
    }
}

/// The machine, locked for reading.
pub struct Peek<'a, M>(MutexGuard<'a, M>);

impl<M> std::ops::Deref for Peek<'_, M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.0
    }
}

/// The machine, locked for a change; its status is published when this goes.
pub struct Changing<'a, M: Machine> {
    guard: MutexGuard<'a, M>,
    board: &'a StatusBoard,
}

impl<M: Machine> std::ops::Deref for Changing<'_, M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.guard
    }
}

impl<M: Machine> std::ops::DerefMut for Changing<'_, M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.guard
    }
}

impl<M: Machine> Drop for Changing<'_, M> {
    fn drop(&mut self) {
        self.board.publish(&self.guard.published());
    }
}
