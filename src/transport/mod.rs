//! The seam under the engine: one request out, one [`Outcome`] back. The engine decides what to send
//! and what an outcome means; a [`Transport`] only moves bytes. The built-in one is [`builtin::Http`]
//! (ureq, with the `builtin-http` feature); [`title::Title`] sends through the title's own HTTP stack;
//! unit tests script the wire with [`fake::FakeTransport`]. What every transport sends alike (the
//! service's headers) and reads alike (Retry-After, Content-Range) is here.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// What a request is for, where a transport treats kinds apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// The initial call that creates a clip: the one request sent without `Cache-Control: no-cache`.
    CreateClip,
    /// Any other call.
    #[default]
    Other,
}

/// One request, its URL already checked by the engine (scheme, and where the Authorization value may go).
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    pub purpose: Purpose,
    pub url: &'a str,
    /// `None` for hosts that must not see it.
    pub authorization: Option<&'a str>,
    pub body: Body<'a>,
    /// Whether the job that asked has ended (the game cancelled it): a transport that can end a request
    /// early does (the title's is asked to cancel). `None`: nothing to watch.
    pub stop: Option<&'a dyn Fn() -> bool>,
    /// A block's deadlines, and where its bytes are counted; the default for any other request.
    pub pacing: Pacing<'a>,
}

/// What a block's request carries beyond the request itself.
#[derive(Clone, Copy, Default)]
pub struct Pacing<'a> {
    /// The block's deadlines, from its host's link (see [`crate::pacing::link_window`]); `None`: the whole
    /// request within [`base_deadline`], each step (waiting for the answer included) within one
    /// request timeout.
    pub deadline: Option<Deadline>,
    /// Where the transport counts the body's bytes as it hands them to the network, for the bytes a
    /// failed block wasted. `None`: not counted.
    pub body_sent: Option<&'a AtomicU64>,
}

impl<'a> Request<'a> {
    /// A GET, nothing to watch, no block's pacing.
    pub fn get(url: &'a str, authorization: Option<&'a str>) -> Request<'a> {
        Request {
            method: Method::Get,
            purpose: Purpose::Other,
            url,
            authorization,
            body: Body::Empty,
            stop: None,
            pacing: Pacing::default(),
        }
    }

    /// The body's length in bytes.
    pub fn body_len(&self) -> u64 {
        match self.body {
            Body::Empty => 0,
            Body::Json(bytes) | Body::Octets(bytes) | Body::Image(bytes, _) => bytes.len() as u64,
            Body::FileRange { len, .. } => len,
        }
    }

    /// How long the request may take in all, with steps of `request_timeout`.
    pub fn deadline(&self, request_timeout: Duration) -> Duration {
        self.pacing.deadline.map_or_else(|| base_deadline(request_timeout), |deadline| deadline.whole)
    }

    /// Counts `bytes` more of the body handed to the network.
    pub fn count_sent(&self, bytes: u64) {
        if let Some(sent) = self.pacing.body_sent {
            sent.fetch_add(bytes, Ordering::Relaxed);
        }
    }
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

    /// What the outcome says, the one reading of it: a job's machine decides from it what to do
    /// (`jobs::retry`), pacing how its host is doing (`pacing::host_health`).
    pub fn class(&self) -> Class {
        match *self {
            Outcome::Answered { status, .. } if (200..300).contains(&status) => Class::Accepted { status },
            Outcome::Answered { status: 401, .. } => Class::Unauthorized,
            Outcome::Answered { status: 429, retry_after, .. } => Class::Throttled { retry_after },
            Outcome::Answered { status: status @ (408 | 500 | 502 | 503 | 504), retry_after, .. } => {
                Class::Struggling { status, retry_after }
            }
            Outcome::Answered { status, retry_after, .. } => Class::Refusing { status, retry_after },
            Outcome::Transport { reached_service, .. } => Class::NoAnswer { reached_service },
            Outcome::Refused { .. } => Class::Refused,
        }
    }
}

/// What an [`Outcome`] says about the request and its host, by Xbox Live's retry guidance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx.
    Accepted { status: u16 },
    /// 401: the token is no longer good; the host works.
    Unauthorized,
    /// 429: the host works but wants fewer requests.
    Throttled { retry_after: Option<Duration> },
    /// 408 or 5xx that says "try again later": the host is struggling, not refusing this request.
    Struggling { status: u16, retry_after: Option<Duration> },
    /// Any other answer: final for this request; the host works (unless it asked for a pause).
    Refusing { status: u16, retry_after: Option<Duration> },
    /// No answer. `reached_service` false: the request provably never left.
    NoAnswer { reached_service: bool },
    /// The library itself refused the request or its answer: nothing learned of the host.
    Refused,
}

impl Class {
    /// The HTTP status of an answer; 0 without one.
    pub fn status(self) -> u16 {
        match self {
            Class::Accepted { status } | Class::Struggling { status, .. } | Class::Refusing { status, .. } => status,
            Class::Unauthorized => 401,
            Class::Throttled { .. } => 429,
            Class::NoAnswer { .. } | Class::Refused => 0,
        }
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

/// A request with nothing measured about its link must end within this many request timeouts (each
/// step of it within one).
pub const REQUEST_DEADLINE_FACTOR: u32 = 4;

/// How long a block's request may take. Its body is cut off when it stalls (no byte taken for a
/// request timeout), however long it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// The whole request.
    pub whole: Duration,
    /// The answer, once the body is written: on a slow uplink the body sits in socket buffers long
    /// after, so this is longer than a request timeout, yet a server that never answers is left.
    pub answer: Duration,
}

/// The deadline of a request with nothing measured about its link.
pub fn base_deadline(request_timeout: Duration) -> Duration {
    request_timeout.saturating_mul(REQUEST_DEADLINE_FACTOR)
}

/// The headers every request carries: the service's version headers, Accept, the Authorization value
/// (when the host may see it), the body's type, and no-cache except on the initial call.
pub fn service_headers(service_version: &str, request: &Request<'_>) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("X-RequestedServiceVersion", service_version.to_string()),
        ("x-xbl-contract-version", "1".to_string()),
        ("Accept", "application/json".to_string()),
        ("Content-Type", request.body.content_type().to_string()),
    ];
    if let Some(authorization) = request.authorization {
        headers.push(("Authorization", authorization.to_string()));
    }
    if request.purpose != Purpose::CreateClip {
        headers.push(("Cache-Control", "no-cache".to_string()));
    }
    headers
}

/// `bytes START-END/TOTAL` (or `bytes */TOTAL`).
pub fn content_range(value: &str) -> Option<(Option<u64>, Option<u64>)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let start = range.split_once('-').and_then(|(start, _)| start.trim().parse().ok());
    Some((start, total.trim().parse().ok()))
}

/// Where a 2xx download answer's body starts in the file and the file's whole size, from its
/// Content-Range (206) or Content-Length (200) header values.
pub fn download_span(
    status: u16,
    content_range_value: Option<&str>,
    content_length: Option<&str>,
) -> Result<(u64, Option<u64>), Outcome> {
    match (status, content_range_value.and_then(content_range)) {
        (206, Some((Some(start), total))) => Ok((start, total)),
        (206, _) => {
            let message = "a 206 answer without a usable Content-Range".to_string();
            Err(Outcome::Transport { reached_service: true, message })
        }
        _ => Ok((0, content_length.and_then(|v| v.trim().parse::<u64>().ok()))),
    }
}

/// The longest wait a `Retry-After` may impose; a longer one (or a date far ahead) is clamped so a
/// misbehaving server cannot park an upload for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// `Retry-After` in either form: delay-seconds, or an HTTP-date (IMF-fixdate, e.g.
/// "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete forms), relative to `now`. A date in the past
/// means "now".
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value).ok()?.duration_since(now).unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
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

#[cfg(feature = "builtin-http")]
pub mod builtin;
#[cfg(test)]
pub mod fake;
pub mod title;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2099 00:00:00 GMT", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        let leap_day = std::time::UNIX_EPOCH + Duration::from_secs(1_835_438_400 - 60);
        assert_eq!(parse_retry_after("Tue, 29 Feb 2028 12:00:00 GMT", leap_day), Some(Duration::from_secs(60)));
        for bad in [
            "soon",
            "-5",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 189499999999999999 08:49:37 GMT", // found by fuzzing: overflowed
            "",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn content_range_gives_start_and_total() {
        assert_eq!(content_range("bytes 100-199/1000"), Some((Some(100), Some(1000))));
        assert_eq!(content_range("bytes 5-9/*"), Some((Some(5), None)));
        assert_eq!(content_range("bytes */1000"), Some((None, Some(1000))));
        assert_eq!(content_range("items 1-2/3"), None);
    }
}
