//! The seam under the engine: one request out, one [`Outcome`] back. The engine decides what to send
//! and what an outcome means; a [`Transport`] only moves bytes. The built-in one is [`crate::http::Http`]
//! (ureq); unit tests script the wire with [`fake::FakeTransport`].

use std::io::Read;

use crate::error::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// No request body (GET, DELETE, and the POSTs of rate, flag and view).
    Empty,
    Json(&'a [u8]),
    Octets(&'a [u8]),
    /// Thumbnail images, with their media type.
    Image(&'a [u8], &'static str),
    /// Octets read from a file as they are sent (a block of a file-mode upload).
    FileRange {
        file: &'a std::fs::File,
        offset: u64,
        len: u64,
    },
}

impl Body<'_> {
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Empty | Body::Json(_) => "application/json",
            Body::Octets(_) | Body::FileRange { .. } => "application/octet-stream",
            Body::Image(_, media_type) => media_type,
        }
    }
}

/// One request, its URL already checked by the engine (scheme, and where the Authorization value may go).
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    /// `None` for hosts that must not see it.
    pub authorization: Option<&'a str>,
    pub body: Body<'a>,
}

/// What came back from one request.
#[derive(Debug)]
pub enum Outcome {
    /// The service answered, with any status. `location` is the Location header of a redirect.
    Answered { status: u16, body: Vec<u8>, retry_after: Option<std::time::Duration>, location: Option<String> },
    /// No answer. `reached_service` is false only when the request provably never left (connect or name
    /// resolution failed): a non-idempotent call may then be repeated safely.
    Transport { reached_service: bool, message: String },
    /// Final, not worth asking again: the library refused the URL (scheme, host allow-list, a redirect
    /// elsewhere; `Http`), the answer broke a size limit (`Http`), or the server's certificate is not
    /// trusted (`Network`).
    Refused { kind: ErrorKind, message: String },
}

impl Outcome {
    /// An answer with no body or headers that matter.
    pub fn status(status: u16) -> Outcome {
        Outcome::Answered { status, body: Vec::new(), retry_after: None, location: None }
    }
}

/// A 2xx answer to a download, its body still to be read.
pub struct Streaming {
    /// Where the body starts in the file: the Range start on 206, 0 on 200.
    pub starts_at: u64,
    /// The whole file's size, when the answer says.
    pub total: Option<u64>,
    pub body: Box<dyn Read + Send>,
}

pub trait Transport: Send + Sync {
    /// One request, never retried here (the engine decides that), no redirect followed, the answer's
    /// body read up to `protocol::MAX_RESPONSE_BYTES` (over it: `Outcome::Refused`).
    fn send(&self, request: Request<'_>) -> Outcome;

    /// A GET of a clip file from byte `from` on. A 2xx answer comes back with its body unread, to be
    /// streamed to disk; anything else as an [`Outcome`].
    fn download(&self, url: &str, authorization: Option<&str>, from: u64) -> Result<Streaming, Outcome>;

    /// Closes every connection, including those other threads are blocked on, and refuses new requests.
    fn interrupt(&self);

    /// Closes every connection, idle or in use (requests blocked on one return at once with a failure),
    /// and keeps working: later requests open new connections. For suspend and for going offline.
    fn abandon(&self);
}

#[cfg(test)]
pub mod fake;
