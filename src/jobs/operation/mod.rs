//! Clip operations (metadata update, rate, flag, view, delete, get, list, download): one request each
//! (a download: a get, then the file), run by the workers and polled through a handle like an upload.
//! As for uploads, the engine sends the request the operation's [`Step`] names and hands what became of
//! it to [`Operation::settle`]; its machine ([`machine`]) decides, with no I/O.

mod machine;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::jobs::lifecycle::NextTask;
use crate::jobs::retry::Idempotency;
use crate::jobs::{Reply, Sinks, Tracked, Wrapped};
use crate::log::Logger;
use crate::protocol::{ClipPage, GameClip, GameClipUri};
use crate::transport::Method;

use machine::OperationMachine;

/// What the service's answer to a call holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerShape {
    /// Nothing the caller needs (200/204).
    Nothing,
    /// `{"gameClip": GameClip}`.
    Clip,
    /// `{"gameClips": [...], "pagingInfo": {...}}`.
    Page,
}

/// What an operation does.
#[derive(Debug, Clone)]
pub enum OperationKind {
    /// One request to the metadata host.
    Call {
        method: Method,
        /// Relative to the metadata base URL, query included.
        path: String,
        body: Option<Vec<u8>>,
        idempotency: Idempotency,
        /// For messages: "rating the clip".
        what: &'static str,
        answer: AnswerShape,
    },
    /// Get the clip (`clip_path`), then its Download URI into `destination`.
    Download { clip_path: String, destination: PathBuf },
}

/// What a completed operation produced.
#[derive(Debug, Clone)]
pub enum OperationResult {
    Nothing,
    Clip(Box<GameClip>),
    Page(ClipPage),
    Downloaded { path: PathBuf, bytes: u64 },
}

impl OperationResult {
    /// The normalised JSON handed to callers.
    pub fn to_json(&self) -> String {
        match self {
            OperationResult::Nothing => "{}".into(),
            OperationResult::Clip(clip) => clip.to_json(),
            OperationResult::Page(page) => page.to_json(),
            OperationResult::Downloaded { path, bytes } => {
                serde_json::json!({ "path": path.to_string_lossy(), "bytes": bytes }).to_string()
            }
        }
    }
}

/// The request an operation sends next.
#[derive(Debug, Clone)]
pub enum Step {
    /// The one request of a call.
    Call,
    /// A download: get the clip, for its Download URI.
    FindSource,
    /// A download: fetch the file (from where an earlier attempt stopped).
    Fetch(GameClipUri),
}

/// A clip operation: its machine behind the lock it shares with uploads' ([`Tracked`]).
pub struct Operation {
    pub kind: OperationKind,
    inner: Tracked<OperationMachine>,
}

impl Operation {
    pub fn new(handle: u64, kind: OperationKind, config: Arc<Config>) -> Operation {
        let machine = OperationMachine::new(handle, kind.clone(), &config);
        Operation { kind, inner: Tracked::new(machine) }
    }

    pub fn next_step(&self, now: Instant) -> NextTask<Step> {
        self.inner.lock().next_step(now)
    }

    /// Where `step`'s request goes (the scheduler asks its host's leave).
    pub fn url_of(&self, step: &Step, metadata_base_url: &str) -> String {
        match step {
            Step::Fetch(source) => source.uri.clone(),
            Step::Call | Step::FindSource => metadata_base_url.to_string(),
        }
    }

    /// Hands the machine what became of `step`'s request, and carries out its decision.
    pub fn settle(&self, step: Step, reply: Reply, now: Instant, sinks: Sinks<'_>) {
        let settled = self.inner.lock().settle(step, reply, now);
        self.apply(settled, sinks);
    }

    /// A step taken and not sent (its host did not admit it, the client stopped, the download was
    /// cancelled).
    pub fn put_back(&self, sinks: Sinks<'_>) {
        let settled = self.inner.lock().put_back();
        self.apply(settled, sinks);
    }

    /// Bytes of a download on disk so far.
    pub fn download_progress(&self, bytes_done: u64, bytes_total: u64, sinks: Sinks<'_>) {
        let settled = self.inner.lock().download_progress(bytes_done, bytes_total);
        self.apply(settled, sinks);
    }

    pub fn is_running(&self) -> bool {
        self.inner.peek().is_running()
    }

    /// The normalised JSON of the result, once completed.
    pub fn result_json(&self) -> Result<String> {
        self.inner.peek().result_json()
    }

    /// The clip a completed get operation read.
    pub fn clip(&self) -> Result<GameClip> {
        self.inner.peek().clip()
    }
}

impl Wrapped for Operation {
    type Machine = OperationMachine;

    fn tracked(&self) -> &Tracked<OperationMachine> {
        &self.inner
    }

    /// An operation says nothing besides events and log lines.
    fn apply_own(&self, (): (), _log: &Logger) {}
}
