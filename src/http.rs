//! The built-in [`Transport`]: one pooled ureq agent per client (rustls), the service's common
//! headers, a cap on response bodies, and [`Transport::interrupt`], which makes requests blocked on a
//! socket return at once. Which URLs may be asked, and with the Authorization value, is the engine's
//! business (`engine::hosts`), not this module's.

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
    download_span, parse_retry_after, service_headers, Body, Method, Outcome, Request, Streaming, Transport,
    REQUEST_DEADLINE_FACTOR,
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
            .timeout_per_write(timeout)
            .timeout_recv_response(timeout)
            // The whole request, however it trickles: a slow-but-alive server cannot hold a worker forever.
            .timeout_global(Some(config.request_timeout.saturating_mul(REQUEST_DEADLINE_FACTOR)))
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

    fn run(
        &self,
        builder: ureq::http::request::Builder,
        body: Body,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let agent = self.agent.read().clone();
        // Each kind of body is its own request type; bytes go as a slice so the length is known.
        match body {
            Body::Empty => agent.run(builder.body(()).map_err(ureq::Error::from)?),
            Body::FileRange { file, offset, len } => {
                let mut reader = crate::platform::file_io::FileSlice::new(file, offset, len);
                let request = builder
                    .header("Content-Length", len)
                    .body(ureq::SendBody::from_reader(&mut reader))
                    .map_err(ureq::Error::from)?;
                agent.run(request)
            }
            Body::Json(bytes) | Body::Octets(bytes) | Body::Image(bytes, _) => {
                agent.run(builder.body(bytes).map_err(ureq::Error::from)?)
            }
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
        match self.run(self.request(&request, uri), request.body) {
            Ok(response) => answered(response),
            Err(e) => failed(e),
        }
    }

    /// A GET of a clip file from byte `from` on. A 2xx answer comes back with its body unread, to be
    /// streamed to disk; anything else as an [`Outcome`]. `authorization` is `None` for hosts that must
    /// not see it.
    fn download(&self, url: &str, authorization: Option<&str>, from: u64) -> Result<Streaming, Outcome> {
        let get = Request { method: Method::Get, url, authorization, body: Body::Empty, stop: None };
        let mut builder = self.request(&get, parse_uri(url)?);
        if from > 0 {
            builder = builder.header("Range", format!("bytes={from}-"));
        }
        let response = self.run(builder, Body::Empty).map_err(failed)?;
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
