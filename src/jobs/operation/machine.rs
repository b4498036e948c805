//! A clip operation's state machine: it owns the operation's state, is handed the time and what became
//! of each request ([`Reply`]), classifies it, and says what follows ([`Settled`]). No clock, no lock,
//! no queue inside: [`super::Operation`] holds it and applies what it returns.

use std::time::Instant;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::jobs::events::{Event, EventKind};
use crate::jobs::lifecycle::{Lifecycle, NextTask, Readiness};
use crate::jobs::retry::{classify, Idempotency, Persistence, Verdict};
use crate::jobs::status::{End, Published, UploadState, UploadStatus, RESULT_OK, RESULT_PENDING};
use crate::jobs::{Machine, Reply, Settled};
use crate::log::LogLevel;
use crate::pacing::backoff::Jitter;
use crate::protocol::url_policy::check_url;
use crate::protocol::{ClipPage, GameClip, GameClipUri};
use crate::transport::Method;

use super::{AnswerShape, OperationKind, OperationResult, Step};

pub struct OperationMachine {
    handle: u64,
    kind: OperationKind,
    allow_insecure_http: bool,
    life: Lifecycle,
    in_flight: bool,
    result: Option<OperationResult>,
    /// Downloads: where the bytes come from once the clip was read, and how far the file is.
    source: Option<GameClipUri>,
    bytes_done: u64,
    bytes_total: u64,
    /// Its own draws of back-offs.
    jitter: Jitter,
    out: Settled,
}

fn still_running() -> Error {
    Error::new(ErrorKind::WrongState, "the operation has not completed yet: poll it or wait for its event")
}

/// What a successful call's body holds.
fn read_answer(answer: AnswerShape, body: &[u8]) -> Result<OperationResult> {
    Ok(match answer {
        AnswerShape::Nothing => OperationResult::Nothing,
        AnswerShape::Clip => OperationResult::Clip(Box::new(GameClip::from_get_response(body)?)),
        AnswerShape::Page => OperationResult::Page(ClipPage::from_wire(body)?),
    })
}

impl Machine for OperationMachine {
    type Own = ();

    fn published(&self) -> Published {
        let progress = UploadStatus {
            state: UploadState::Running,
            result: RESULT_PENDING,
            http_status: 0,
            bytes_total: self.bytes_total,
            bytes_acked: self.bytes_done,
            blocks_total: 0,
            blocks_acked: 0,
            retries: 0,
            retry_in_ms: 0,
            bytes_wasted: 0,
        };
        self.life.published(UploadState::Running, progress)
    }

    fn fail(&mut self, error: Error) -> Settled {
        self.in_flight = false;
        self.failed(error);
        self.drain()
    }

    fn cancel(&mut self) -> Result<Settled> {
        let error = Error::new(ErrorKind::Cancelled, "the operation was cancelled");
        if !self.life.finish(End::Cancelled, Some(error)) {
            return Err(Error::new(ErrorKind::WrongState, "the operation has already finished"));
        }
        self.emit(EventKind::OperationCompleted, ErrorKind::Cancelled.code());
        Ok(self.drain())
    }

    fn life(&mut self) -> &mut Lifecycle {
        &mut self.life
    }

    fn life_ref(&self) -> &Lifecycle {
        &self.life
    }
}

impl OperationMachine {
    pub fn new(handle: u64, kind: OperationKind, config: &Config) -> OperationMachine {
        OperationMachine {
            handle,
            kind,
            allow_insecure_http: config.allow_insecure_http,
            life: Lifecycle::default(),
            in_flight: false,
            result: None,
            source: None,
            bytes_done: 0,
            bytes_total: 0,
            jitter: Jitter::for_owner(config.jitter_seed, handle),
            out: Settled::default(),
        }
    }

    pub fn next_step(&mut self, now: Instant) -> NextTask<Step> {
        match self.life.gate(now) {
            Readiness::Ended => NextTask::Finished,
            Readiness::Wait(at) => NextTask::Wait(at),
            Readiness::Open if self.in_flight => NextTask::Wait(None),
            Readiness::Open => {
                self.in_flight = true;
                NextTask::Run(match (&self.kind, &self.source) {
                    (OperationKind::Call { .. }, _) => Step::Call,
                    (OperationKind::Download { .. }, None) => Step::FindSource,
                    (OperationKind::Download { .. }, Some(source)) => Step::Fetch(source.clone()),
                })
            }
        }
    }

    /// For messages: "rating the clip failed: ...".
    fn what(&self, step: &Step) -> &'static str {
        match (&self.kind, step) {
            (OperationKind::Call { what, .. }, _) => what,
            (_, Step::Fetch(_)) => "downloading the clip",
            _ => "getting the clip",
        }
    }

    fn idempotency(&self) -> Idempotency {
        match &self.kind {
            OperationKind::Call { idempotency, .. } => *idempotency,
            OperationKind::Download { .. } => Idempotency::Idempotent,
        }
    }

    /// Decides what became of `step`'s request. A player waits on operations: they give up after a
    /// few attempts ([`Persistence::Bounded`]).
    pub fn settle(&mut self, step: Step, reply: Reply, now: Instant) -> Settled {
        self.in_flight = false;
        let verdict = match reply {
            Reply::NoToken => Verdict::NeedsAuth { status: 0 },
            Reply::Local(error) => Verdict::Fail(error),
            Reply::Sent { outcome, abandoned, .. } => {
                let attempt = self.life.consecutive_failures;
                let (what, idempotency) = (self.what(&step), self.idempotency());
                let verdict = classify(outcome, what, idempotency, attempt, Persistence::Bounded, &mut self.jitter);
                match verdict {
                    Verdict::Retry { .. } | Verdict::Ambiguous { .. } if abandoned => {
                        if self.idempotency() == Idempotency::Idempotent {
                            return self.drain(); // sent again on resume, nothing charged
                        }
                        // A view that may have counted is not sent again.
                        let message = "the request was abandoned (suspend or offline) and may have reached the service";
                        Verdict::Fail(Error::new(ErrorKind::Network, message))
                    }
                    verdict => verdict,
                }
            }
        };
        if self.life.is_running() {
            self.decide(step, verdict, now);
        }
        self.drain()
    }

    fn drain(&mut self) -> Settled {
        std::mem::take(&mut self.out)
    }

    fn decide(&mut self, step: Step, verdict: Verdict, now: Instant) {
        let handle = self.handle;
        match verdict {
            Verdict::Success { status, body } => match step {
                Step::Call => {
                    let OperationKind::Call { answer, .. } = &self.kind else { unreachable!("a call's step") };
                    match read_answer(*answer, &body) {
                        Ok(result) => self.complete(status, result),
                        Err(error) => self.failed(error),
                    }
                }
                Step::FindSource => match self.download_source(&body) {
                    Ok(source) => {
                        self.life.progressed(status);
                        self.bytes_total = source.file_size;
                        self.source = Some(source);
                    }
                    Err(error) => self.failed(error),
                },
                Step::Fetch(_) => {
                    let OperationKind::Download { destination, .. } = &self.kind else {
                        unreachable!("a download's step")
                    };
                    let result = OperationResult::Downloaded { path: destination.clone(), bytes: self.bytes_done };
                    self.complete(status, result)
                }
            },
            Verdict::Retry { after, error } => {
                self.life.retry_later(after, &error, now);
                let message = format!("operation {handle:#x}: {}; retrying in {} ms", error.message, after.as_millis());
                self.out.log = Some((LogLevel::Debug, message));
            }
            Verdict::NeedsAuth { status } => {
                if self.life.wait_for_auth(status) {
                    self.emit(EventKind::NeedsAuth, RESULT_PENDING);
                }
            }
            // A repeated delete that finds nothing means an earlier attempt did delete it.
            Verdict::Fail(error)
                if error.http_status == 404
                    && self.life.consecutive_failures > 0
                    && matches!(self.kind, OperationKind::Call { method: Method::Delete, .. }) =>
            {
                self.complete(204, OperationResult::Nothing)
            }
            // A view that may have been counted is not counted again.
            Verdict::Ambiguous { error } | Verdict::Fail(error) => self.failed(error),
        }
    }

    /// The Download URI in a clip's answer, checked like any URL the library asks.
    fn download_source(&self, clip_body: &[u8]) -> Result<GameClipUri> {
        let clip = GameClip::from_get_response(clip_body)?;
        let source = clip.download_uri().cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::WrongState,
                format!("the clip is {:?}, with no download URI: only Published clips can be downloaded", clip.state),
            )
        })?;
        check_url(&source.uri, self.allow_insecure_http).map_err(|e| {
            Error::http(ErrorKind::Http, 200, format!("the service handed out an unusable download URI: {}", e.message))
        })?;
        Ok(source)
    }

    fn complete(&mut self, status: u16, result: OperationResult) {
        self.life.progressed(status);
        if self.life.finish(End::Completed, None) {
            self.result = Some(result);
            self.emit(EventKind::OperationCompleted, RESULT_OK);
        }
    }

    fn failed(&mut self, error: Error) {
        let message = format!("operation {:#x} failed: {}", self.handle, error.message);
        let code = error.code();
        if self.life.finish(End::Failed, Some(error)) {
            self.emit(EventKind::OperationCompleted, code);
            self.out.log = Some((LogLevel::Warn, message));
        }
    }

    fn emit(&mut self, kind: EventKind, result: i32) {
        self.out.events.push(Event {
            kind,
            handle: self.handle,
            result,
            http_status: self.life.http_status,
            bytes_done: self.bytes_done,
            bytes_total: self.bytes_total,
        });
    }

    /// A step taken and not sent (its host did not admit it, the client stopped, the download was
    /// cancelled): it may be taken again. Nothing the game hears of, and no log line.
    pub fn put_back(&mut self) -> Settled {
        self.in_flight = false;
        self.drain()
    }

    pub fn is_running(&self) -> bool {
        self.life.is_running()
    }

    /// Bytes of a download on disk so far. Reported progress never goes back, even when a server that
    /// ignored the Range header makes the file start over.
    pub fn download_progress(&mut self, bytes_done: u64, bytes_total: u64) -> Settled {
        self.bytes_done = self.bytes_done.max(bytes_done);
        self.bytes_total = bytes_total;
        self.emit(EventKind::Progress, RESULT_PENDING);
        self.drain()
    }

    /// The normalised JSON of the result, once completed.
    pub fn result_json(&self) -> Result<String> {
        match (&self.result, self.life.failure()) {
            (Some(result), _) => Ok(result.to_json()),
            (None, Some(error)) => {
                Err(Error::new(ErrorKind::WrongState, format!("the operation failed: {}", error.message)))
            }
            (None, None) => Err(still_running()),
        }
    }

    /// The clip a completed get operation read.
    pub fn clip(&self) -> Result<GameClip> {
        match &self.result {
            Some(OperationResult::Clip(clip)) => Ok((**clip).clone()),
            Some(_) => Err(Error::new(ErrorKind::WrongState, "this operation did not get a clip (use clips_get_clip)")),
            None if self.life.failure().is_some() => Err(Error::new(ErrorKind::WrongState, "the operation failed")),
            None => Err(still_running()),
        }
    }
}
