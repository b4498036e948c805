//! Host and redirect policy: which URLs the library asks at all (https, or plain http only to loopback
//! or when allowed), where the Authorization value may go (the metadata host and the configured upload
//! hosts), and how a redirect's Location is resolved. Every transport gets URLs already checked here.

use http::Uri;

use crate::error::{Error, Result};

/// Where a URL connects: scheme, host (lower-cased) and port (the scheme's default when none is
/// written). Two URLs with one origin are one host to pacing and to the token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
}

impl Origin {
    /// The origin of `url`; `None` when it does not parse as an absolute URL.
    pub fn of(url: &str) -> Option<Origin> {
        let uri = url.parse::<Uri>().ok()?;
        Some(Origin {
            scheme: uri.scheme_str()?.to_ascii_lowercase(),
            host: uri.host()?.to_ascii_lowercase(),
            port: effective_port(&uri),
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}://{}:{port}", self.scheme, self.host),
            None => write!(f, "{}://{}", self.scheme, self.host),
        }
    }
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
    matches!((Origin::of(a), Origin::of(b)), (Some(a), Some(b)) if a == b)
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

/// The upload hosts trusted with the Authorization value when no list is given: Xbox Live's, and the
/// upload host the reference's own sample answer hands out.
pub const DEFAULT_UPLOAD_HOSTS: &str = "*.xboxlive.com,gameclips.xbox.live";

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

    /// Whether an upload may go to `url`: a usable URL ([`check_url`]) on an allowed upload host.
    pub fn check(&self, url: &str, allow_insecure_http: bool) -> Result<()> {
        check_url(url, allow_insecure_http)?;
        if !self.allows(url) {
            return Err(Error::invalid(not_an_upload_host(url)));
        }
        Ok(())
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

/// The absolute URL a `Location` header names, relative to the request's URL.
pub fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    let uri: Uri = base.parse().ok()?;
    let origin = format!("{}://{}", uri.scheme_str()?, uri.authority()?);
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    let dir = uri.path().rsplit_once('/').map_or("", |(dir, _)| dir);
    Some(format!("{origin}{dir}/{location}"))
}

/// Why a URL may not carry the Authorization value, naming its host.
pub fn not_an_upload_host(url: &str) -> String {
    let host = url.parse::<Uri>().ok().and_then(|u| u.host().map(str::to_string));
    format!(
        "{} is not an allowed upload host (the Authorization value goes only to the metadata host and \
         the configured upload hosts)",
        host.unwrap_or_else(|| format!("{url:?}"))
    )
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
        // The reference's own sample answer hands out this one.
        assert!(hosts.allows("https://gameclips.xbox.live/upload/1"));
        assert!(!hosts.allows("https://other.xbox.live/upload/1"));
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
    fn locations_resolve_against_the_request_url() {
        let base = "https://up.example:8443/upload/abc?uploadId=1&blockNum=2";
        assert_eq!(resolve_location(base, "https://other.example/x").unwrap(), "https://other.example/x");
        assert_eq!(
            resolve_location(base, "/moved/upload/abc?q=1").unwrap(),
            "https://up.example:8443/moved/upload/abc?q=1"
        );
        assert_eq!(resolve_location(base, "def?q=2").unwrap(), "https://up.example:8443/upload/def?q=2");
        assert_eq!(resolve_location("not a url", "/x"), None);
    }
}
