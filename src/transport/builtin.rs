//! The built-in [`Transport`]: one pooled ureq agent per client (rustls), the service's common
//! headers, a cap on response bodies, and [`Transport::interrupt`], which makes requests blocked on a
//! socket return at once. Which URLs may be asked, and with the Authorization value, is the engine's
//! business (`url_policy`), not this module's.

use std::io;
use std::path::Path;
use std::time::Duration;

use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;

use parking_lot::RwLock;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::MAX_RESPONSE_BYTES;
use crate::transport::{
    base_deadline, download_span, parse_retry_after, service_headers, Body, Outcome, Request, Streaming, Transport,
};

pub struct HttpConfig {
    pub service_version: String,
    pub request_timeout: Duration,
    pub ca_bundle_path: Option<std::path::PathBuf>,
}

pub struct Http {
    /// Replaced by a fresh one on `abandon`; requests clone it (an `Arc` inside) to run.
    agent: RwLock<Agent>,
    agent_config: ureq::config::Config,
    service_version: String,
}

/// A request body handed to ureq as it asks for it, counted as it goes (the bytes a failed block
/// wasted).
struct CountedBody<'a, R> {
    inner: R,
    request: &'a Request<'a>,
}

impl<R: io::Read> io::Read for CountedBody<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.request.count_sent(read as u64);
        Ok(read)
    }
}

fn load_roots(path: &Path) -> Result<RootCerts> {
    let pem = std::fs::read(path).map_err(|e| Error::invalid(format!("ca_bundle_path {}: {e}", path.display())))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::invalid(format!("ca_bundle_path {} holds no PEM certificate", path.display())));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// A whole answer, its body read up to the cap.
fn answered(mut response: ureq::http::Response<ureq::Body>) -> Outcome {
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("Retry-After").and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    let location = header("Location").map(str::to_string);
    match response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec() {
        Ok(body) => Outcome::Answered { status, body, retry_after, location },
        Err(e) => failed(e),
    }
}

/// A request that got no usable answer. An answer over the size limits is final: the service would
/// send the same again, and reading it again would only spend the player's bandwidth.
fn failed(error: ureq::Error) -> Outcome {
    match error {
        ureq::Error::BodyExceedsLimit(limit) => {
            let message = format!("the answer is larger than {limit} bytes; not read");
            Outcome::Refused { kind: ErrorKind::Http, message }
        }
        ureq::Error::LargeResponseHeader(_, limit) => {
            let message = format!("the answer's headers are larger than {limit} bytes; not read");
            Outcome::Refused { kind: ErrorKind::Http, message }
        }
        // ureq does not re-export its protocol error type; its text is the one stable handle on it.
        ureq::Error::Protocol(e) if e.to_string().contains("too many headers") => {
            Outcome::Refused { kind: ErrorKind::Http, message: "the answer has too many headers; not read".into() }
        }
        // An untrusted certificate stays untrusted: say so now rather than after every retry.
        error if is_untrusted_certificate(&error) => {
            let message = format!("the server's TLS certificate is not trusted ({error}); see ca_bundle_path");
            Outcome::Refused { kind: ErrorKind::Network, message }
        }
        error => Outcome::Transport { reached_service: !never_left(&error), message: error.to_string() },
    }
}

/// rustls reports a certificate it cannot verify as "invalid peer certificate: …", inside an I/O
/// error when it happens during the handshake; the library does not link rustls by name to match its type.
fn is_untrusted_certificate(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Rustls(e) => e.to_string().starts_with("invalid peer certificate"),
        ureq::Error::Io(e) => e.to_string().starts_with("invalid peer certificate"),
        _ => false,
    }
}

fn never_left(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => true,
        ureq::Error::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::AddrNotAvailable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::HostUnreachable
        ),
        _ => false,
    }
}

impl Http {
    pub fn new(config: HttpConfig) -> Result<Http> {
        let mut tls = TlsConfig::builder();
        if let Some(path) = &config.ca_bundle_path {
            tls = tls.root_certs(load_roots(path)?);
        }
        let timeout = Some(config.request_timeout);
        let agent_config = Agent::config_builder()
            .http_status_as_error(false)
            // Games are not configured through environment variables; a proxy must never see the token by accident.
            .proxy(None)
            // Redirects are handled by the upload engine, which decides where the Authorization value may go.
            .max_redirects(0)
            .tls_config(tls.build())
            .user_agent(concat!("gameclips/", env!("CARGO_PKG_VERSION")))
            .timeout_resolve(timeout)
            .timeout_connect(timeout)
            .timeout_per_read(timeout)
            // A body that stops moving: the socket took nothing for a whole request timeout.
            .timeout_per_write(timeout)
            .timeout_recv_response(timeout)
            // The whole request, however it trickles: a slow-but-alive server cannot hold a worker
            // forever. A request with a body replaces this with its own deadline (see `send`).
            .timeout_global(Some(base_deadline(config.request_timeout)))
            .max_idle_connections_per_host(64)
            // Fewer, larger socket writes per block, so fewer wake-ups of a worker blocked on its socket.
            .output_buffer_size(512 * 1024)
            .build();
        Ok(Http { agent: RwLock::new(agent_config.new_agent()), agent_config, service_version: config.service_version })
    }

    fn request(&self, request: &Request<'_>, uri: Uri) -> ureq::http::request::Builder {
        let mut builder = ureq::http::Request::builder().method(request.method.as_str()).uri(uri);
        for (name, value) in service_headers(&self.service_version, request) {
            builder = builder.header(name, value);
        }
        builder
    }

    /// A request without a body (a GET, a DELETE, a bodiless POST), with the agent's timeouts.
    fn run_bodiless(
        &self,
        builder: ureq::http::request::Builder,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let agent = self.agent.read().clone();
        agent.run(builder.body(()).map_err(ureq::Error::from)?)
    }

    /// A request with a body. A block's request has its own deadlines: on a slow uplink its body sits
    /// in socket buffers long after ureq has written it, so the answer is awaited for its answer
    /// deadline, not for one request timeout, and the whole for its whole deadline. A body that stops
    /// moving is still cut off after one request timeout (the per-write timeout).
    fn run_with_body(
        &self,
        builder: ureq::http::request::Builder,
        request: &Request<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let agent = self.agent.read().clone();
        let len = request.body_len();
        let run = |reader: &mut dyn io::Read| {
            let mut counted = CountedBody { inner: reader, request };
            let body = builder
                .header("Content-Length", len)
                .body(ureq::SendBody::from_reader(&mut counted))
                .map_err(ureq::Error::from)?;
            match request.pacing.deadline {
                Some(deadline) => agent.run(
                    agent
                        .configure_request(body)
                        .timeout_global(Some(deadline.whole))
                        .timeout_recv_response(Some(deadline.answer))
                        .timeout_per_read(None)
                        .build(),
                ),
                None => agent.run(body),
            }
        };
        match request.body {
            Body::Empty => run(&mut io::empty()),
            Body::FileRange { file, offset, len } => {
                run(&mut crate::platform::file_io::FileSlice::new(file, offset, len))
            }
            Body::Json(bytes) | Body::Octets(bytes) | Body::Image(bytes, _) => run(&mut io::Cursor::new(bytes)),
        }
    }
}

fn parse_uri(url: &str) -> Result<Uri, Outcome> {
    url.parse().map_err(|_| Outcome::Refused { kind: ErrorKind::Http, message: format!("{url:?} is not a valid URL") })
}

impl Transport for Http {
    fn send(&self, request: Request<'_>) -> Outcome {
        let uri = match parse_uri(request.url) {
            Ok(uri) => uri,
            Err(refused) => return refused,
        };
        let builder = self.request(&request, uri);
        let response = match request.body {
            Body::Empty => self.run_bodiless(builder),
            _ => self.run_with_body(builder, &request),
        };
        match response {
            Ok(response) => answered(response),
            Err(e) => failed(e),
        }
    }

    /// A GET of a clip file from byte `from` on. A 2xx answer comes back with its body unread, to be
    /// streamed to disk; anything else as an [`Outcome`]. `authorization` is `None` for hosts that must
    /// not see it.
    fn download(&self, url: &str, authorization: Option<&str>, from: u64) -> Result<Streaming, Outcome> {
        let get = Request::get(url, authorization);
        let mut builder = self.request(&get, parse_uri(url)?);
        if from > 0 {
            builder = builder.header("Range", format!("bytes={from}-"));
        }
        let response = self.run_bodiless(builder).map_err(failed)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(answered(response));
        }
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let (starts_at, total) = download_span(status, header("Content-Range"), header("Content-Length"))?;
        Ok(Streaming { starts_at, total, body: Box::new(response.into_body().into_reader()) })
    }

    fn interrupt(&self) {
        self.agent.read().clone().shutdown();
    }

    fn abandon(&self) {
        let fresh = self.agent_config.new_agent();
        let old = std::mem::replace(&mut *self.agent.write(), fresh);
        old.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Deadline, Method, Pacing, REQUEST_DEADLINE_FACTOR};
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    /// Two seconds: the slow server below takes bytes every 50 ms, forty times as often, so a loaded
    /// machine's scheduling cannot make it look stalled.
    const TIMEOUT: Duration = Duration::from_millis(2000);

    fn http() -> Http {
        Http::new(HttpConfig { service_version: "1".into(), request_timeout: TIMEOUT, ca_bundle_path: None }).unwrap()
    }

    /// A server for one request: reads its headers, then reads the body `chunk` bytes at a time with
    /// `pause` between reads (stopping for good after `read_at_most` bytes), then answers 201.
    fn server(chunk: usize, pause: Duration, read_at_most: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/upload?blockNum=0", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut buffer = vec![0u8; chunk];
            let mut read = 0;
            while read < length {
                if read >= read_at_most {
                    // Stalled: keeps the connection open and reads nothing more.
                    std::thread::sleep(Duration::from_secs(60));
                    return;
                }
                let n = io::Read::read(&mut reader, &mut buffer[..chunk.min(length - read)]).unwrap();
                if n == 0 {
                    return;
                }
                read += n;
                std::thread::sleep(pause);
            }
            let _ = (&stream).write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        });
        url
    }

    fn put(http: &Http, url: &str, body: &[u8], whole: Duration, sent: &AtomicU64) -> (Outcome, Duration) {
        let started = Instant::now();
        let outcome = http.send(Request {
            method: Method::Put,
            purpose: crate::transport::Purpose::Other,
            url,
            authorization: None,
            body: Body::Octets(body),
            stop: None,
            pacing: Pacing { deadline: Some(Deadline { whole, answer: whole }), body_sent: Some(sent) },
        });
        (outcome, started.elapsed())
    }

    #[test]
    fn a_block_that_moves_slowly_is_not_cut_off_for_being_long() {
        // 12 MB read at about 1.3 MB/s (64 KiB every 50 ms): over 9 s, past 4 request timeouts, and the
        // socket takes bytes every 50 ms, far within one.
        let body = vec![7u8; 12_000_000];
        let url = server(64 * 1024, Duration::from_millis(50), usize::MAX);
        let sent = AtomicU64::new(0);
        let (outcome, took) = put(&http(), &url, &body, Duration::from_secs(120), &sent);
        assert!(matches!(outcome, Outcome::Answered { status: 201, .. }), "{outcome:?}");
        assert!(took > TIMEOUT * REQUEST_DEADLINE_FACTOR, "the server's pace makes it take over 8 s: {took:?}");
        assert_eq!(sent.load(Ordering::Relaxed), body.len() as u64);
    }

    #[test]
    fn a_block_whose_body_stalls_is_cut_off_after_one_request_timeout() {
        // 64 MB, of which the server reads 1 MB and then nothing: the socket buffers fill and the
        // network takes no more bytes; the long deadline does not keep the request alive.
        let body = vec![7u8; 64_000_000];
        let url = server(64 * 1024, Duration::ZERO, 1_000_000);
        let sent = AtomicU64::new(0);
        let (outcome, took) = put(&http(), &url, &body, Duration::from_secs(600), &sent);
        assert!(matches!(outcome, Outcome::Transport { reached_service: true, .. }), "{outcome:?}");
        assert!(took < Duration::from_secs(60), "cut off when it stalled, not at the deadline: {took:?}");
        let sent = sent.load(Ordering::Relaxed);
        assert!(sent >= 1_000_000 && sent < body.len() as u64, "counted what went out: {sent}");
    }
}
