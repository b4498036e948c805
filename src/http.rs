//! Every request the library makes goes through [`Http`]: one pooled ureq agent per client, the
//! service's common headers, a cap on response bodies, the rule about where the Authorization value may
//! go, and [`Http::interrupt`], which makes requests blocked on a socket return at once.

use std::io;
use std::path::Path;
use std::time::Duration;

use ureq::http::{Method, Uri};
use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::MAX_RESPONSE_BYTES;

/// Each request must end within this many request timeouts (each step of it within one).
pub const REQUEST_DEADLINE_FACTOR: u32 = 4;

pub struct HttpConfig {
    pub service_version: String,
    pub request_timeout: Duration,
    pub ca_bundle_path: Option<std::path::PathBuf>,
    pub allow_insecure_http: bool,
}

pub struct Http {
    agent: Agent,
    service_version: String,
    allow_insecure_http: bool,
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

/// A 2xx answer to a download, its body still to be read.
pub struct Streaming {
    /// Where the body starts in the file: the Range start on 206, 0 on 200.
    pub starts_at: u64,
    /// The whole file's size, when the answer says.
    pub total: Option<u64>,
    pub body: ureq::Body,
}

/// `bytes START-END/TOTAL` (or `bytes */TOTAL`).
fn content_range(value: &str) -> Option<(Option<u64>, Option<u64>)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let start = range.split_once('-').and_then(|(start, _)| start.trim().parse().ok());
    Some((start, total.trim().parse().ok()))
}

/// What came back from one request.
#[derive(Debug)]
pub enum Outcome {
    /// The service answered, with any status. `location` is the Location header of a redirect.
    Answered { status: u16, body: Vec<u8>, retry_after: Option<Duration>, location: Option<String> },
    /// No answer. `reached_service` is false only when the request provably never left (connect or name
    /// resolution failed): a non-idempotent call may then be repeated safely.
    Transport { reached_service: bool, message: String },
    /// Final, not worth asking again: the library refused the URL (scheme, host allow-list, a redirect
    /// elsewhere; `Http`), the answer broke a size limit (`Http`), or the server's certificate is not
    /// trusted (`Network`).
    Refused { kind: ErrorKind, message: String },
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

/// The port a URL connects to, the scheme's default when none is written.
fn effective_port(uri: &Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}

/// Whether two URLs share scheme, host and port: where the Authorization value may follow.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (a.parse::<Uri>(), b.parse::<Uri>()) {
        (Ok(a), Ok(b)) => {
            a.scheme_str() == b.scheme_str()
                && a.host().map(str::to_ascii_lowercase) == b.host().map(str::to_ascii_lowercase)
                && effective_port(&a) == effective_port(&b)
        }
        _ => false,
    }
}

fn is_loopback(uri: &Uri) -> bool {
    match uri.host() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Parses a URL the library will send the Authorization value to, applying the transport rule of the C
/// contract: https, or plain http only to loopback or when explicitly allowed.
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<Uri> {
    // A fragment would swallow the query parameters appended to an upload URI (blockNum among them),
    // and control characters or spaces have no place in a URL sent on.
    if url.bytes().any(|b| b == b'#' || b == b' ' || b.is_ascii_control()) {
        return Err(Error::invalid(format!(
            "{url:?} is not a usable URL (a fragment, a space or a control character)"
        )));
    }
    let uri: Uri = url.parse().map_err(|_| Error::invalid(format!("{url:?} is not a valid URL")))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_insecure_http || is_loopback(&uri) => {}
        Some("http") => {
            return Err(Error::invalid(format!(
                "refusing to send credentials over plain http to {}; use https or set CLIPS_FLAG_ALLOW_INSECURE_HTTP",
                uri.host().unwrap_or("?")
            )))
        }
        _ => return Err(Error::invalid(format!("{url:?} is not an http(s) URL"))),
    }
    if uri.host().is_none() {
        return Err(Error::invalid(format!("{url:?} has no host")));
    }
    Ok(uri)
}

/// The upload hosts trusted with the Authorization value when no list is given.
pub const DEFAULT_UPLOAD_HOSTS: &str = "*.xboxlive.com";

/// Where block and thumbnail PUTs (and their redirects) may go, carrying the Authorization value: the
/// metadata host itself, plus hosts matching the configured patterns. A pattern is a host name, or
/// `*.` and a domain of at least two labels for any host under it; `:PORT` narrows it to one port.
#[derive(Clone, Debug)]
pub struct UploadHosts {
    metadata_base_url: String,
    patterns: Vec<HostPattern>,
}

#[derive(Clone, Debug, PartialEq)]
struct HostPattern {
    /// Lower case; for a wildcard, the domain after `*.`.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl HostPattern {
    fn parse(entry: &str) -> Result<HostPattern> {
        let refused = |why: &str| Error::invalid(format!("upload host {entry:?} {why}"));
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| refused("has an invalid port"))?)),
            None => (entry, None),
        };
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, host),
        };
        if !is_host_name(host) {
            return Err(refused("is not a host name or *.domain"));
        }
        if wildcard && !host.contains('.') {
            return Err(refused("is too broad: a wildcard needs a domain of at least two labels"));
        }
        Ok(HostPattern { host: host.to_ascii_lowercase(), wildcard, port })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        let host_matches = if self.wildcard {
            host.strip_suffix(&self.host).is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == self.host
        };
        host_matches && (self.port.is_none() || self.port == port)
    }
}

impl UploadHosts {
    /// `list`: comma-separated patterns (see [`UploadHosts`]); empty: the metadata host only.
    pub fn new(metadata_base_url: &str, list: &str) -> Result<UploadHosts> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(HostPattern::parse)
            .collect::<Result<_>>()?;
        Ok(UploadHosts { metadata_base_url: metadata_base_url.to_string(), patterns })
    }

    /// Whether `url` may receive the Authorization value with an upload.
    pub fn allows(&self, url: &str) -> bool {
        if same_origin(url, &self.metadata_base_url) {
            return true;
        }
        let Ok(uri) = url.parse::<Uri>() else { return false };
        let Some(host) = uri.host() else { return false };
        self.patterns.iter().any(|pattern| pattern.matches(host, effective_port(&uri)))
    }
}

/// The longest wait a `Retry-After` may impose; a longer one (or a date far ahead) is clamped so a
/// misbehaving server cannot park an upload for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// `Retry-After` in either form: delay-seconds, or an HTTP-date (IMF-fixdate, e.g.
/// "Sun, 06 Nov 1994 08:49:37 GMT"), relative to `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(http_date_unix_seconds(value)?);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Seconds since the Unix epoch of an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
fn http_date_unix_seconds(value: &str) -> Option<u64> {
    let rest = value.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts[..] else { return None };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let clock: Vec<u64> = time.split(':').map(|n| n.parse().ok()).collect::<Option<_>>()?;
    let [hours, minutes, seconds] = clock[..] else { return None };
    // Four-digit years only (as IMF-fixdate has): larger ones would overflow the arithmetic below.
    if !(1..=31).contains(&day) || hours > 23 || minutes > 59 || seconds > 60 || !(1970..=9999).contains(&year) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(days * 86_400 + hours * 3600 + minutes * 60 + seconds)
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
        Ok(Http {
            agent: agent_config.new_agent(),
            service_version: config.service_version,
            allow_insecure_http: config.allow_insecure_http,
        })
    }

    fn request(&self, method: Method, uri: Uri, authorization: Option<&str>) -> ureq::http::request::Builder {
        let mut builder = ureq::http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("X-RequestedServiceVersion", &self.service_version)
            .header("x-xbl-contract-version", "1")
            .header("Accept", "application/json");
        if let Some(authorization) = authorization {
            builder = builder.header("Authorization", authorization);
        }
        builder
    }

    fn run(
        &self,
        builder: ureq::http::request::Builder,
        body: Body,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let (content_type, bytes) = match body {
            Body::Empty => {
                let request = builder.header("Content-Type", "application/json").body(()).map_err(ureq::Error::from)?;
                return self.agent.run(request);
            }
            Body::FileRange { file, offset, len } => {
                let mut reader = crate::platform::file_io::FileSlice::new(file, offset, len);
                let request = builder
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Length", len)
                    .body(ureq::SendBody::from_reader(&mut reader))
                    .map_err(ureq::Error::from)?;
                return self.agent.run(request);
            }
            Body::Json(bytes) => ("application/json", bytes),
            Body::Octets(bytes) => ("application/octet-stream", bytes),
            Body::Image(bytes, media_type) => (media_type, bytes),
        };
        let request = builder.header("Content-Type", content_type).body(bytes).map_err(ureq::Error::from)?;
        self.agent.run(request)
    }

    /// One request. Never retries: the engine decides that. `authorization` is `None` for hosts that
    /// must not see it.
    pub fn send(&self, method: Method, url: &str, authorization: Option<&str>, body: Body) -> Outcome {
        let uri = match check_url(url, self.allow_insecure_http) {
            Ok(uri) => uri,
            Err(e) => return Outcome::Refused { kind: ErrorKind::Http, message: e.message },
        };
        let is_initial_post = method == Method::POST && url.ends_with("/clips");
        let mut builder = self.request(method, uri, authorization);
        if !is_initial_post {
            builder = builder.header("Cache-Control", "no-cache");
        }
        match self.run(builder, body) {
            Ok(response) => answered(response),
            Err(e) => failed(e),
        }
    }

    /// A GET of a clip file from byte `from` on. A 2xx answer comes back with its body unread, to be
    /// streamed to disk; anything else as an [`Outcome`]. `authorization` is `None` for hosts that must
    /// not see it.
    pub fn download(&self, url: &str, authorization: Option<&str>, from: u64) -> Result<Streaming, Outcome> {
        let uri = check_url(url, self.allow_insecure_http)
            .map_err(|e| Outcome::Refused { kind: ErrorKind::Http, message: e.message })?;
        let mut builder = self.request(Method::GET, uri, authorization).header("Cache-Control", "no-cache");
        if from > 0 {
            builder = builder.header("Range", format!("bytes={from}-"));
        }
        let response = self.run(builder, Body::Empty).map_err(failed)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(answered(response));
        }
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let range = header("Content-Range").and_then(content_range);
        let length = header("Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
        let (starts_at, total) = match (status, range) {
            (206, Some((Some(start), total))) => (start, total),
            (206, _) => {
                let message = "a 206 answer without a usable Content-Range".to_string();
                return Err(Outcome::Transport { reached_service: true, message });
            }
            _ => (0, length),
        };
        Ok(Streaming { starts_at, total, body: response.into_body() })
    }

    /// Closes every connection, including those other threads are blocked on, and refuses new requests.
    pub fn interrupt(&self) {
        self.agent.clone().shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        assert!(check_url("http://127.0.0.1:9/x", false).is_ok());
        assert!(check_url("http://localhost/x", false).is_ok());
        assert!(check_url("http://[::1]:80/x", false).is_ok());
        assert!(check_url("https://gameclipsmetadata.xboxlive.com", false).is_ok());
        let refused = check_url("http://example.com/x", false).unwrap_err();
        assert!(refused.message.contains("plain http"), "{refused}");
        assert!(check_url("http://example.com/x", true).is_ok());
        assert!(check_url("ftp://example.com/x", true).is_err());
        assert!(check_url("not a url", true).is_err());
        // Found by fuzzing: a fragment hid the blockNum appended to an upload URI.
        assert!(check_url("https://u.xboxlive.com/up?a=1#frag", false).is_err());
        assert!(check_url("https://u.xboxlive.com/up?a=\u{0}", false).is_err());
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2099 00:00:00 GMT", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(http_date_unix_seconds("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date_unix_seconds("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
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
    fn same_origin_compares_scheme_host_and_port() {
        assert!(same_origin("https://a.example/x", "https://A.example:443/y?z"));
        assert!(!same_origin("https://a.example/x", "http://a.example/x"));
        assert!(!same_origin("https://a.example/x", "https://b.example/x"));
        assert!(!same_origin("http://127.0.0.1:1/x", "http://127.0.0.1:2/x"));
    }

    #[test]
    fn upload_hosts_match_names_wildcards_and_ports() {
        let hosts = UploadHosts::new("https://gameclipsmetadata.xboxlive.com", DEFAULT_UPLOAD_HOSTS).unwrap();
        assert!(hosts.allows("https://gameclipsmetadata.xboxlive.com/x"));
        assert!(hosts.allows("https://gameclipstransfer.xboxlive.com/upload/1"));
        assert!(hosts.allows("https://a.b.XboxLive.com:8443/upload/1"));
        assert!(!hosts.allows("https://xboxlive.com/upload/1"));
        assert!(!hosts.allows("https://evilxboxlive.com/upload/1"));
        assert!(!hosts.allows("https://xboxlive.com.evil.example/upload/1"));
        assert!(!hosts.allows("https://uploads.example/x"));
        assert!(!hosts.allows("not a url"));

        let metadata_only = UploadHosts::new("http://127.0.0.1:8080", "").unwrap();
        assert!(metadata_only.allows("http://127.0.0.1:8080/upload/1"));
        assert!(!metadata_only.allows("http://127.0.0.1:8081/upload/1"));
        assert!(!metadata_only.allows("https://x.xboxlive.com/upload/1"));

        let listed = UploadHosts::new("https://m.example", " cdn.example:8443 , *.uploads.example").unwrap();
        assert!(listed.allows("https://CDN.example:8443/x"));
        assert!(!listed.allows("https://cdn.example/x"));
        assert!(listed.allows("https://eu.uploads.example/x"));
        assert!(!listed.allows("https://uploads.example/x"));

        for bad in ["*", "*.com", "bad host", "a..b", "-a.example", "h.example:99999", "*.*.example", "a/b"] {
            assert!(UploadHosts::new("https://m.example", bad).is_err(), "{bad}");
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
