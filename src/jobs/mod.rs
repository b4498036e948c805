//! The jobs and their machines: an [`upload`] or a clip [`operation`], each a pure state machine that
//! is handed the time and what became of its last request and says what follows, held in a
//! [`tracked::Tracked`] wrapper that publishes its status and carries out its decisions. What every
//! job keeps ([`lifecycle`]), what it tells the game ([`events`], [`status`]), and how it reads an
//! outcome ([`retry`]) live here too.
//!
//! May use: config, journal (the records an upload writes), pacing's back-off, protocol, transport's
//! request and outcome types, log, error. Never the engine, the client or ffi.

pub mod events;
pub mod lifecycle;
pub mod operation;
pub mod retry;
pub mod status;
pub mod status_board;
pub mod tracked;
pub mod upload;

use std::sync::Arc;

pub use tracked::{Control, Machine, Reply, Settled, Sinks, Tracked, Wrapped};

use operation::Operation;
use upload::Upload;

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

    pub fn upload(&self) -> Option<&Arc<Upload>> {
        match self {
            Job::Upload(upload) => Some(upload),
            Job::Operation(_) => None,
        }
    }
}
