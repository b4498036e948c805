//! The title's own HTTP stack as a [`Transport`]: consoles must send HTTP through the platform's stack
//! (xCurl, WinHTTP, the PlayStation and Switch libraries), so the title performs one HTTP attempt per
//! [`Exchange`] and gameclips keeps everything else: scheduling, retries and back-off, Retry-After,
//! redirects (checked against the upload hosts), the journal and events.
//!
//! An exchange is started with [`HttpTransport::send`] and completed by the title, from any thread,
//! inside `send` included. The worker that asked waits for it up to gameclips' own deadline, then asks
//! the title to [`HttpTransport::cancel`]. An exchange the engine stopped waiting for (suspend, offline,
//! destroy) stays valid until the title completes it, however late.

use std::any::Any;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::ErrorKind;
use crate::protocol::MAX_RESPONSE_BYTES;
use crate::transport::Transport;
use crate::transport::{download_span, parse_retry_after, service_headers, Body, Outcome, Request, Streaming};

/// What the title says of an exchange when it completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeOutcome {
    /// An HTTP answer arrived, any status.
    Answered,
    /// DNS or connect failed: the request provably never reached the service.
    NotSent,
    /// Sent, or maybe sent, and no usable answer.
    Failed,
    /// The server's certificate was refused: final, not retried.
    TlsUntrusted,
    /// Ended because gameclips asked (`cancel`).
    Cancelled,
}

/// What [`HttpTransport::send`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// Started (and maybe already completed, inside the call).
    Started,
    /// At capacity: not started. gameclips tries again later and charges no attempt.
    WouldBlock,
    /// Not started, for this reason; the attempt fails as one that never reached the service.
    Failed(String),
}

/// The title's HTTP stack: one attempt per exchange, no redirect followed, no retry.
pub trait HttpTransport: Send + Sync {
    /// Starts the exchange. Called from gameclips' threads, never while gameclips holds a lock.
    fn send(&self, exchange: Exchange) -> SendResult;
    /// Asks the title to end an exchange early (gameclips' deadline, cancel, suspend, destroy). At most
    /// once per exchange; the title still completes it.
    fn cancel(&self, exchange: &Exchange);
}

/// Why a body chunk was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeError {
    /// The answer is larger than the library reads; the title should abort and complete.
    TooLarge,
    /// The exchange was already completed.
    Completed,
}

/// The request as the title sends it. Everything is owned here, so it stays valid until completion.
pub struct ExchangeRequest {
    pub method: &'static str,
    pub url: String,
    /// Includes Authorization: a secret, never to be logged.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// A hint: gameclips also cancels at its own deadline.
    pub timeout: Duration,
}

/// Never shows the Authorization value, nor the body.
impl std::fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| (*name, if name.eq_ignore_ascii_case("Authorization") { "(hidden)" } else { value }))
            .collect();
        f.debug_struct("ExchangeRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Default)]
struct ReceivedAnswer {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    chunks: VecDeque<Vec<u8>>,
    /// Body bytes received in all.
    received: u64,
    too_large: bool,
    completed: Option<(ExchangeOutcome, String)>,
}

pub(crate) struct ExchangeInner {
    request: ExchangeRequest,
    /// The most body bytes kept: `MAX_RESPONSE_BYTES` for calls; none for downloads, which stream.
    body_cap: Option<u64>,
    answer: Mutex<ReceivedAnswer>,
    changed: Condvar,
    cancel_asked: AtomicBool,
    /// Whatever the C layer keeps alive with the exchange (its C strings and request struct).
    attached: OnceLock<Box<dyn Any + Send + Sync>>,
}

/// One HTTP attempt, shared by gameclips and the title until the title completes it.
#[derive(Clone)]
pub struct Exchange(pub(crate) Arc<ExchangeInner>);

impl Exchange {
    fn new(request: ExchangeRequest, body_cap: Option<u64>) -> Exchange {
        Exchange(Arc::new(ExchangeInner {
            request,
            body_cap,
            answer: Mutex::new(ReceivedAnswer::default()),
            changed: Condvar::new(),
            cancel_asked: AtomicBool::new(false),
            attached: OnceLock::new(),
        }))
    }

    pub fn request(&self) -> &ExchangeRequest {
        &self.0.request
    }

    /// Keeps `value` alive as long as the exchange (the first one attached wins).
    pub fn attach(&self, value: Box<dyn Any + Send + Sync>) {
        let _ = self.0.attached.set(value);
    }

    pub fn attached(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.0.attached.get().map(|b| &**b)
    }

    pub fn set_status(&self, status: u16) -> Result<(), ExchangeError> {
        let mut answer = self.open_answer()?;
        answer.status = Some(status);
        Ok(())
    }

    pub fn add_header(&self, name: &str, value: &str) -> Result<(), ExchangeError> {
        let mut answer = self.open_answer()?;
        // A few headers matter; a server sending thousands must not grow memory without bound.
        if answer.headers.len() < 256 {
            answer.headers.push((name.to_string(), value.to_string()));
        }
        Ok(())
    }

    /// Copies a piece of the answer's body.
    pub fn write_body(&self, data: &[u8]) -> Result<(), ExchangeError> {
        let mut answer = self.open_answer()?;
        if answer.too_large {
            return Err(ExchangeError::TooLarge);
        }
        answer.received += data.len() as u64;
        if self.0.body_cap.is_some_and(|cap| answer.received > cap) {
            answer.too_large = true;
            answer.chunks.clear();
            return Err(ExchangeError::TooLarge);
        }
        if !data.is_empty() {
            answer.chunks.push_back(data.to_vec());
            self.0.changed.notify_all();
        }
        Ok(())
    }

    pub fn complete(&self, outcome: ExchangeOutcome, message: &str) -> Result<(), ExchangeError> {
        let mut answer = self.open_answer()?;
        answer.completed = Some((outcome, message.to_string()));
        self.0.changed.notify_all();
        Ok(())
    }

    fn open_answer(&self) -> Result<parking_lot::MutexGuard<'_, ReceivedAnswer>, ExchangeError> {
        let answer = self.0.answer.lock();
        if answer.completed.is_some() {
            return Err(ExchangeError::Completed);
        }
        Ok(answer)
    }

    /// Asks the title to cancel, the first time only: cancel is asked at most once per exchange.
    fn cancel_once(&self, http: &dyn HttpTransport) {
        if !self.0.cancel_asked.swap(true, Ordering::SeqCst) {
            http.cancel(self);
        }
    }

    fn same(&self, other: &Exchange) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What makes waiting workers give up at once: destroy (`shut`), or suspend/offline (a new generation).
#[derive(Default)]
struct ExchangeGate {
    shut: AtomicBool,
    generation: AtomicU64,
    in_flight: Mutex<Vec<Exchange>>,
    capacity_freed: Condvar,
}

impl ExchangeGate {
    /// Why a wait begun at `generation` must end now, if it must.
    fn gave_up(&self, generation: u64) -> Option<GaveUp> {
        if self.shut.load(Ordering::SeqCst) {
            Some(GaveUp::Shut)
        } else if self.generation.load(Ordering::SeqCst) != generation {
            Some(GaveUp::Abandoned)
        } else {
            None
        }
    }
}

pub(crate) struct Title {
    http: Arc<dyn HttpTransport>,
    service_version: String,
    request_timeout: Duration,
    gate: Arc<ExchangeGate>,
}

/// How long a worker waits between tries of a transport at capacity (it is also woken when an exchange
/// ends).
const CAPACITY_RETRY: Duration = Duration::from_millis(20);

/// Why a wait ended without the title's completion.
enum GaveUp {
    Shut,
    Abandoned,
    Deadline,
    /// The game cancelled the upload or operation that asked.
    JobEnded,
}

impl Title {
    pub fn new(http: Arc<dyn HttpTransport>, service_version: String, request_timeout: Duration) -> Title {
        Title { http, service_version, request_timeout, gate: Arc::default() }
    }

    fn exchange_request(
        &self,
        request: &Request<'_>,
        extra: Option<(&'static str, String)>,
    ) -> io::Result<ExchangeRequest> {
        let body = match request.body {
            Body::Empty => Vec::new(),
            Body::Json(bytes) | Body::Octets(bytes) | Body::Image(bytes, _) => bytes.to_vec(),
            Body::FileRange { file, offset, len } => {
                let mut body = Vec::new();
                body.try_reserve_exact(len as usize).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
                crate::platform::file_io::FileSlice::new(file, offset, len).read_to_end(&mut body)?;
                body
            }
        };
        let mut headers = service_headers(&self.service_version, request);
        headers.extend(extra);
        Ok(ExchangeRequest {
            method: request.method.as_str(),
            url: request.url.to_string(),
            headers,
            body,
            timeout: request.deadline(self.request_timeout),
        })
    }

    /// Why a request begun at `generation` must end now, if it must: destroy, suspend or offline, or
    /// the game ending its upload or operation.
    fn must_end(&self, generation: u64, stop: Option<&dyn Fn() -> bool>) -> Option<GaveUp> {
        self.gate.gave_up(generation).or_else(|| stop.is_some_and(|ended| ended()).then_some(GaveUp::JobEnded))
    }

    /// Hands the exchange to the title, waiting while it is at capacity; `Err` when it was not started.
    fn start(&self, exchange: &Exchange, stop: Option<&dyn Fn() -> bool>) -> Result<(), Outcome> {
        let generation = self.gate.generation.load(Ordering::SeqCst);
        loop {
            if let Some(gave_up) = self.must_end(generation, stop) {
                return Err(not_started(gave_up));
            }
            match self.http.send(exchange.clone()) {
                SendResult::Started => break,
                SendResult::WouldBlock => {
                    let mut in_flight = self.gate.in_flight.lock();
                    self.gate.capacity_freed.wait_for(&mut in_flight, CAPACITY_RETRY);
                }
                SendResult::Failed(message) => {
                    return Err(Outcome::Transport { reached_service: false, message: title_said(&message) })
                }
            }
        }
        self.gate.in_flight.lock().push(exchange.clone());
        // Suspend or destroy may have swept the in-flight list before it held this exchange.
        if self.gate.gave_up(generation).is_some() {
            exchange.cancel_once(&*self.http);
        }
        Ok(())
    }

    fn finished(&self, exchange: &Exchange) {
        self.gate.in_flight.lock().retain(|other| !other.same(exchange));
        self.gate.capacity_freed.notify_all();
    }

    /// Waits until `ready` holds of the answer, the title completes, or gameclips stops waiting.
    fn wait(
        &self,
        exchange: &Exchange,
        generation: u64,
        stop: Option<&dyn Fn() -> bool>,
        ready: impl Fn(&ReceivedAnswer) -> bool,
    ) -> Result<(), GaveUp> {
        let deadline = Instant::now() + exchange.0.request.timeout;
        let mut answer = exchange.0.answer.lock();
        loop {
            if answer.completed.is_some() || ready(&answer) {
                return Ok(());
            }
            let gave_up = self.must_end(generation, stop).or((Instant::now() >= deadline).then_some(GaveUp::Deadline));
            if let Some(gave_up) = gave_up {
                drop(answer);
                // The title still completes the exchange; nobody waits for it any more.
                exchange.cancel_once(&*self.http);
                return Err(gave_up);
            }
            // Woken by the title; the short period also notices suspend and destroy.
            exchange.0.changed.wait_for(&mut answer, Duration::from_millis(50));
        }
    }

    /// One exchange, start to end.
    fn exchange(
        &self,
        request: ExchangeRequest,
        body_cap: Option<u64>,
        stop: Option<&dyn Fn() -> bool>,
        ready: impl Fn(&ReceivedAnswer) -> bool,
    ) -> Result<Exchange, Outcome> {
        let deadline = request.timeout;
        let exchange = Exchange::new(request, body_cap);
        let generation = self.gate.generation.load(Ordering::SeqCst);
        self.start(&exchange, stop)?;
        let waited = self.wait(&exchange, generation, stop, ready);
        self.finished(&exchange);
        match waited {
            Ok(()) => Ok(exchange),
            Err(gave_up) => Err(gave_up_outcome(gave_up, deadline)),
        }
    }
}

fn title_said(message: &str) -> String {
    if message.is_empty() {
        "the title's transport failed the request".to_string()
    } else {
        format!("the title's transport: {message}")
    }
}

fn not_started(gave_up: GaveUp) -> Outcome {
    let message = match gave_up {
        GaveUp::Shut => "the client is shutting down",
        GaveUp::JobEnded => "the request was cancelled with its upload or operation before it started",
        _ => "the request was abandoned before it started (suspend or offline)",
    };
    Outcome::Transport { reached_service: false, message: message.into() }
}

fn gave_up_outcome(gave_up: GaveUp, deadline: Duration) -> Outcome {
    let message = match gave_up {
        GaveUp::Shut => "the client is shutting down".to_string(),
        GaveUp::Abandoned => "the request was abandoned (suspend or offline)".to_string(),
        GaveUp::Deadline => format!("the title's transport did not answer within {} ms", deadline.as_millis()),
        GaveUp::JobEnded => "the request was cancelled with its upload or operation".to_string(),
    };
    Outcome::Transport { reached_service: true, message }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The outcome of a completed exchange whose whole body is in hand.
fn outcome_of(answer: &mut ReceivedAnswer) -> Outcome {
    let (outcome, message) = answer.completed.clone().unwrap_or((ExchangeOutcome::Failed, String::new()));
    // However the title ends a transfer it aborted on our refusal (curl reports a write error), the
    // verdict is the refusal: final, never retried.
    match outcome {
        _ if answer.too_large => Outcome::Refused {
            kind: ErrorKind::Http,
            message: format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes; not read"),
        },
        ExchangeOutcome::Answered => match answer.status.filter(|s| (100..600).contains(s)) {
            Some(status) => {
                let retry_after = header(&answer.headers, "Retry-After")
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
                let location = header(&answer.headers, "Location").map(str::to_string);
                let body = answer.chunks.drain(..).flatten().collect();
                Outcome::Answered { status, body, retry_after, location }
            }
            None => Outcome::Transport {
                reached_service: true,
                message: "the title's transport completed an answer without a valid HTTP status".into(),
            },
        },
        ExchangeOutcome::NotSent => Outcome::Transport { reached_service: false, message: title_said(&message) },
        ExchangeOutcome::Failed | ExchangeOutcome::Cancelled => {
            Outcome::Transport { reached_service: true, message: title_said(&message) }
        }
        ExchangeOutcome::TlsUntrusted => Outcome::Refused {
            kind: ErrorKind::Network,
            message: format!("the server's TLS certificate is not trusted ({})", title_said(&message)),
        },
    }
}

impl Transport for Title {
    fn send(&self, request: Request<'_>) -> Outcome {
        let exchange_request = match self.exchange_request(&request, None) {
            Ok(exchange_request) => exchange_request,
            Err(e) => {
                return Outcome::Transport { reached_service: false, message: format!("cannot read the block: {e}") }
            }
        };
        let outcome = match self.exchange(exchange_request, Some(MAX_RESPONSE_BYTES), request.stop, |_| false) {
            Ok(exchange) => outcome_of(&mut exchange.0.answer.lock()),
            Err(outcome) => outcome,
        };
        // The title's stack reports no progress: a body it may have sent counts whole.
        if !matches!(outcome, Outcome::Transport { reached_service: false, .. }) {
            request.count_sent(request.body_len());
        }
        outcome
    }

    fn download(&self, url: &str, authorization: Option<&str>, from: u64) -> Result<Streaming, Outcome> {
        let get = Request::get(url, authorization);
        let range = (from > 0).then(|| ("Range", format!("bytes={from}-")));
        let request = self
            .exchange_request(&get, range)
            .map_err(|e| Outcome::Transport { reached_service: false, message: e.to_string() })?;
        // Headers come before the body: the first body byte (or the end) says they are all in.
        let exchange =
            self.exchange(request, None, None, |answer| answer.status.is_some() && !answer.chunks.is_empty())?;
        let mut answer = exchange.0.answer.lock();
        let status = answer.status.unwrap_or(0);
        if answer.completed.as_ref().is_some_and(|(outcome, _)| *outcome != ExchangeOutcome::Answered)
            || !(200..300).contains(&status)
        {
            return Err(outcome_of(&mut answer));
        }
        let (starts_at, total) =
            download_span(status, header(&answer.headers, "Content-Range"), header(&answer.headers, "Content-Length"))?;
        drop(answer);
        let reader = ExchangeReader {
            exchange,
            http: self.http.clone(),
            gate: self.gate.clone(),
            generation: self.gate.generation.load(Ordering::SeqCst),
            per_read: self.request_timeout,
            current: Vec::new(),
            offset: 0,
        };
        Ok(Streaming { starts_at, total, body: Box::new(reader) })
    }

    fn interrupt(&self) {
        self.gate.shut.store(true, Ordering::SeqCst);
        self.cancel_in_flight();
    }

    fn abandon(&self) {
        self.gate.generation.fetch_add(1, Ordering::SeqCst);
        self.cancel_in_flight();
    }
}

impl Title {
    fn cancel_in_flight(&self) {
        // Never call into the title while holding a lock.
        let in_flight: Vec<Exchange> = self.gate.in_flight.lock().clone();
        for exchange in in_flight {
            exchange.cancel_once(&*self.http);
            exchange.0.changed.notify_all();
        }
        self.gate.capacity_freed.notify_all();
    }
}

/// A download's body as the title writes it, read by the engine as it comes.
struct ExchangeReader {
    exchange: Exchange,
    http: Arc<dyn HttpTransport>,
    gate: Arc<ExchangeGate>,
    generation: u64,
    per_read: Duration,
    current: Vec<u8>,
    offset: usize,
}

impl Read for ExchangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset == self.current.len() {
            let deadline = Instant::now() + self.per_read;
            let mut answer = self.exchange.0.answer.lock();
            loop {
                if let Some(chunk) = answer.chunks.pop_front() {
                    self.current = chunk;
                    self.offset = 0;
                    break;
                }
                match &answer.completed {
                    Some((ExchangeOutcome::Answered, _)) => return Ok(0),
                    Some((_, message)) => return Err(io::Error::other(title_said(message))),
                    None => {}
                }
                let stopped = self.gate.gave_up(self.generation).is_some();
                if stopped || Instant::now() >= deadline {
                    drop(answer);
                    self.exchange.cancel_once(&*self.http);
                    let why = if stopped { "the download was abandoned" } else { "the download stalled" };
                    return Err(io::Error::new(io::ErrorKind::TimedOut, why));
                }
                self.exchange.0.changed.wait_for(&mut answer, Duration::from_millis(50));
            }
        }
        let n = buf.len().min(self.current.len() - self.offset);
        buf[..n].copy_from_slice(&self.current[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

impl Drop for ExchangeReader {
    fn drop(&mut self) {
        // The engine stopped reading before the end: the title may stop sending.
        let done = self.exchange.0.answer.lock().completed.is_some();
        if !done {
            self.exchange.cancel_once(&*self.http);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A title transport scripted per test: answers inside `send`, on another thread, or never.
    struct Scripted {
        answer: Box<dyn Fn(Exchange) -> SendResult + Send + Sync>,
        cancels: Mutex<u32>,
    }

    impl HttpTransport for Scripted {
        fn send(&self, exchange: Exchange) -> SendResult {
            (self.answer)(exchange)
        }
        fn cancel(&self, exchange: &Exchange) {
            *self.cancels.lock() += 1;
            let _ = exchange.complete(ExchangeOutcome::Cancelled, "cancelled");
        }
    }

    fn scripted_title(answer: impl Fn(Exchange) -> SendResult + Send + Sync + 'static) -> (Title, Arc<Scripted>) {
        let scripted = Arc::new(Scripted { answer: Box::new(answer), cancels: Mutex::new(0) });
        (Title::new(scripted.clone(), "1.0".into(), Duration::from_millis(100)), scripted)
    }

    fn get(url: &str) -> Request<'_> {
        Request::get(url, Some("XBL3.0 x=1;secret"))
    }

    #[test]
    fn an_answer_completed_inside_send_comes_back_whole() {
        let (title, _) = scripted_title(|x| {
            assert_eq!(x.request().method, "GET");
            assert!(x.request().headers.iter().any(|(n, v)| *n == "Authorization" && v.ends_with("secret")));
            assert!(!format!("{:?}", x.request()).contains("secret"), "Debug hides the Authorization value");
            x.set_status(503).unwrap();
            x.add_header("Retry-After", "7").unwrap();
            x.write_body(b"{\"a\":").unwrap();
            x.write_body(b"1}").unwrap();
            x.complete(ExchangeOutcome::Answered, "").unwrap();
            assert_eq!(x.write_body(b"late"), Err(ExchangeError::Completed));
            SendResult::Started
        });
        match title.send(get("https://h/x")) {
            Outcome::Answered { status, body, retry_after, .. } => {
                assert_eq!(
                    (status, body.as_slice(), retry_after),
                    (503, &b"{\"a\":1}"[..], Some(Duration::from_secs(7)))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn would_block_is_tried_again_without_an_attempt_and_completion_may_come_from_another_thread() {
        let tries = Arc::new(AtomicU64::new(0));
        let counted = tries.clone();
        let (title, _) = scripted_title(move |x| {
            if counted.fetch_add(1, Ordering::SeqCst) < 3 {
                return SendResult::WouldBlock;
            }
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                x.set_status(200).unwrap();
                x.complete(ExchangeOutcome::Answered, "").unwrap();
            });
            SendResult::Started
        });
        assert!(matches!(title.send(get("https://h/x")), Outcome::Answered { status: 200, .. }));
        assert_eq!(tries.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn outcomes_keep_the_non_idempotent_rules_and_bodies_their_cap() {
        for (outcome, reached) in [(ExchangeOutcome::NotSent, false), (ExchangeOutcome::Failed, true)] {
            let (title, _) = scripted_title(move |x| {
                x.complete(outcome, "boom").unwrap();
                SendResult::Started
            });
            match title.send(get("https://h/x")) {
                Outcome::Transport { reached_service, message } => {
                    assert_eq!(reached_service, reached);
                    assert!(message.contains("boom"));
                }
                other => panic!("{other:?}"),
            }
        }
        let (title, _) = scripted_title(|x| {
            x.set_status(200).unwrap();
            let big = vec![b'x'; MAX_RESPONSE_BYTES as usize];
            x.write_body(&big).unwrap();
            assert_eq!(x.write_body(b"!"), Err(ExchangeError::TooLarge));
            x.complete(ExchangeOutcome::Answered, "").unwrap();
            SendResult::Started
        });
        assert!(matches!(title.send(get("https://h/x")), Outcome::Refused { kind: ErrorKind::Http, .. }));
        // A title that aborts the transfer on the refusal may report it as failed: still final.
        let (title, _) = scripted_title(|x| {
            x.set_status(200).unwrap();
            x.write_body(&vec![b'x'; MAX_RESPONSE_BYTES as usize + 1]).unwrap_err();
            x.complete(ExchangeOutcome::Failed, "write error").unwrap();
            SendResult::Started
        });
        assert!(matches!(title.send(get("https://h/x")), Outcome::Refused { kind: ErrorKind::Http, .. }));
        let (title, _) = scripted_title(|x| {
            x.complete(ExchangeOutcome::TlsUntrusted, "bad cert").unwrap();
            SendResult::Started
        });
        assert!(matches!(title.send(get("https://h/x")), Outcome::Refused { kind: ErrorKind::Network, .. }));
    }

    #[test]
    fn a_title_that_never_answers_is_cancelled_at_the_deadline_and_on_abandon() {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let keep = kept.clone();
        let (title, scripted) = scripted_title(move |x| {
            keep.lock().push(x);
            SendResult::Started
        });
        let started = Instant::now();
        match title.send(get("https://h/x")) {
            Outcome::Transport { reached_service: true, message } => assert!(message.contains("within"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(400), "the deadline is 4 request timeouts");
        assert_eq!(*scripted.cancels.lock(), 1);

        let title = Arc::new(title);
        let waiting = {
            let title = title.clone();
            std::thread::spawn(move || title.send(get("https://h/y")))
        };
        while kept.lock().len() < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        title.abandon();
        // Ended by the abandon, not by its deadline (which names the time it waited).
        match waiting.join().unwrap() {
            Outcome::Transport { message, .. } => {
                assert!(message.contains("cancelled") && !message.contains("within"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(*scripted.cancels.lock(), 2);
        // A completion long after anyone waited is harmless.
        assert_eq!(kept.lock()[1].complete(ExchangeOutcome::Answered, ""), Err(ExchangeError::Completed));
    }

    #[test]
    fn a_request_of_a_job_the_game_cancelled_is_cancelled_at_once() {
        let (title, scripted) = scripted_title(|_| SendResult::Started);
        let started = Instant::now();
        let ended = || started.elapsed() >= Duration::from_millis(60);
        let mut request = get("https://h/x");
        request.stop = Some(&ended);
        match title.send(request) {
            Outcome::Transport { message, .. } => assert!(message.contains("cancelled with its upload"), "{message}"),
            other => panic!("{other:?}"),
        }
        // Ended by the cancel (the message says so), not by its 400 ms deadline.
        assert_eq!(*scripted.cancels.lock(), 1);
    }

    #[test]
    fn a_job_cancelled_while_the_transport_is_at_capacity_is_never_sent() {
        let (title, scripted) = scripted_title(|_| SendResult::WouldBlock);
        let (sent, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let started = Instant::now();
            let ended = || started.elapsed() >= Duration::from_millis(60);
            let mut request = get("https://h/x");
            request.stop = Some(&ended);
            let _ = sent.send(title.send(request));
        });
        // Without the job's stop checked, the worker would wait for capacity forever.
        match outcome.recv_timeout(Duration::from_secs(2)) {
            Ok(Outcome::Transport { reached_service: false, message }) => {
                assert!(message.contains("before it started"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(*scripted.cancels.lock(), 0, "nothing was started, so nothing is cancelled");
    }

    #[test]
    fn a_download_streams_what_the_title_writes() {
        let (title, _) = scripted_title(|x| {
            assert!(x.request().headers.iter().any(|(n, v)| *n == "Range" && v == "bytes=10-"));
            std::thread::spawn(move || {
                x.set_status(206).unwrap();
                x.add_header("content-range", "bytes 10-19/20").unwrap();
                for piece in [&b"01234"[..], b"56789"] {
                    x.write_body(piece).unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
                x.complete(ExchangeOutcome::Answered, "").unwrap();
            });
            SendResult::Started
        });
        let mut streaming = title.download("https://h/clip", None, 10).unwrap_or_else(|o| panic!("{o:?}"));
        assert_eq!((streaming.starts_at, streaming.total), (10, Some(20)));
        let mut body = Vec::new();
        streaming.body.read_to_end(&mut body).unwrap();
        assert_eq!(body, b"0123456789");
    }
}
