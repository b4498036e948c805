//! A scripted transport for unit tests: no sockets, no emulator. Every request is recorded, and a
//! responder the test writes answers it, so a test states the wire and checks the order of requests.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::{Body, Method, Outcome, Request, Streaming, Transport};

/// A request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub method: Method,
    pub url: String,
    pub authorized: bool,
    pub body: Vec<u8>,
}

impl Sent {
    /// "PUT https://up.test/u?blockNum=3", for asserting an order of requests at a glance.
    pub fn line(&self) -> String {
        format!("{} {}", self.method.as_str(), self.url)
    }
}

type Responder = Box<dyn FnMut(&Sent) -> Outcome + Send>;

pub struct FakeTransport {
    respond: Mutex<Responder>,
    sent: Mutex<Vec<Sent>>,
    interrupted: AtomicBool,
}

impl FakeTransport {
    pub fn new(respond: impl FnMut(&Sent) -> Outcome + Send + 'static) -> FakeTransport {
        FakeTransport {
            respond: Mutex::new(Box::new(respond)),
            sent: Mutex::new(Vec::new()),
            interrupted: false.into(),
        }
    }

    /// Every request so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().clone()
    }

    /// `Sent::line` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.sent.lock().iter().map(Sent::line).collect()
    }

    fn answer(&self, sent: Sent) -> Outcome {
        if self.interrupted.load(Ordering::Acquire) {
            return Outcome::Transport { reached_service: false, message: "interrupted".into() };
        }
        let outcome = (self.respond.lock())(&sent);
        self.sent.lock().push(sent);
        outcome
    }
}

fn body_bytes(body: Body<'_>) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Json(bytes) | Body::Octets(bytes) | Body::Image(bytes, _) => bytes.to_vec(),
        Body::FileRange { file, offset, len } => {
            let mut bytes = Vec::new();
            crate::platform::file_io::FileSlice::new(file, offset, len)
                .read_to_end(&mut bytes)
                .expect("the test's clip file reads");
            bytes
        }
    }
}

impl Transport for FakeTransport {
    fn send(&self, request: Request<'_>) -> Outcome {
        let body = body_bytes(request.body);
        // The whole body goes out before the scripted answer, as on a wire.
        request.count_sent(body.len() as u64);
        self.answer(Sent {
            method: request.method,
            url: request.url.to_string(),
            authorized: request.authorization.is_some(),
            body,
        })
    }

    fn download(&self, url: &str, authorization: Option<&str>, from: u64) -> Result<Streaming, Outcome> {
        let sent =
            Sent { method: Method::Get, url: url.to_string(), authorized: authorization.is_some(), body: vec![] };
        match self.answer(sent) {
            Outcome::Answered { status: 200..=299, body, .. } => {
                let total = Some(from + body.len() as u64);
                Ok(Streaming { starts_at: from, total, body: Box::new(std::io::Cursor::new(body)) })
            }
            other => Err(other),
        }
    }

    fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
    }

    fn abandon(&self) {}
}
