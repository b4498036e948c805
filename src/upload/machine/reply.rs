//! What the machine is handed (a [`Reply`]) and what it hands back ([`Settled`]).

use crate::error::Error;
use crate::events::Event;
use crate::journal::Record;
use crate::log::LogLevel;
use crate::transport::Outcome;
use crate::upload::creates::CreateOutcome;

/// What became of a piece's request, as the engine hands it back.
pub enum Reply {
    /// Not sent: the client paused or stopped, or the host is held. Back in the queue, nothing charged.
    NotSent,
    /// No Authorization value to send it with.
    NoToken,
    /// It failed here, before any request (the clip file, a thumbnail image): final.
    Local(Error),
    /// The transport's outcome. `abandoned`: the client suspended or went offline while it was in
    /// flight, so a failure is that doing, not the service's. `body_sent`: bytes of a block's body
    /// that went out.
    Sent { outcome: Outcome, abandoned: bool, body_sent: u64 },
}

/// What follows a decision, for [`super::Upload`] and the engine to apply after the lock is let go
/// (the game's log function is never called under a lock).
#[derive(Debug, Default)]
pub struct Settled {
    pub events: Vec<Event>,
    pub log: Option<(LogLevel, String)>,
    /// Progress for the journal.
    pub record: Option<Record>,
    /// An initial call came back (or was put back): what it says about the clip it may have made.
    pub create: Option<CreateOutcome>,
    /// The look for what lost answers left is over, or given up.
    pub search_ended: Option<SearchEnd>,
}

/// How a look for what lost answers left ended (see `creates::Search`).
#[derive(Debug, PartialEq, Eq)]
pub enum SearchEnd {
    /// Every possible orphan known when it began is settled: found and removed, or given up on.
    Settled,
    /// Put back or cut short (the upload ended): the next look starts over.
    Dropped,
}
