//! What the upload's machine says besides events and log lines (see [`crate::jobs::Settled`]): its
//! journal record and what the create ledger must hear.

use crate::jobs::upload::creates::CreateOutcome;
use crate::journal::Record;

/// What an upload's decision asks of its journal and the client's create ledger.
#[derive(Debug, Default)]
pub struct Bookkeeping {
    /// Progress for the journal.
    pub journal: Option<Record>,
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

/// What an upload's machine hands back.
pub type Settled = crate::jobs::Settled<Bookkeeping>;
