//! The address every URL the emulator hands out names (upload URIs, thumbnail and download URIs): the
//! one the client used to reach it, so a devkit that reached the PC at its LAN address, or a client
//! behind a proxy, is sent back the way it came. `--public-url` sets it outright; `--trust-forwarded`
//! takes `X-Forwarded-Proto`/`X-Forwarded-Host` (and the client's address from `X-Forwarded-For`)
//! from a front the operator trusts; otherwise the request's `Host`.

use std::net::IpAddr;

use hyper::header::HOST;
use hyper::HeaderMap;

/// How the base URL of a request is found.
#[derive(Debug, Clone, Default)]
pub struct PublicUrl {
    /// Set outright (`--public-url`), without a trailing slash.
    pub fixed: Option<String>,
    /// Take the forwarded headers of a front.
    pub trust_forwarded: bool,
}

/// Whether a Host value is a plain `host[:port]` (a name, an IPv4 address or a bracketed IPv6 one):
/// anything else must not reach a URL handed to clients.
fn is_plain_authority(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

/// The first value of a forwarded header (a chain of fronts lists several).
fn forwarded<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    value.split(',').next().map(str::trim).filter(|v| !v.is_empty())
}

impl PublicUrl {
    /// `scheme://host[:port]` for URLs in the answer to this request; `fallback` (the listening
    /// address) when the request names none usable.
    pub fn base(&self, scheme: &str, headers: &HeaderMap, fallback: &str) -> String {
        if let Some(fixed) = &self.fixed {
            return fixed.clone();
        }
        if self.trust_forwarded {
            if let Some(host) = forwarded(headers, "x-forwarded-host").filter(|h| is_plain_authority(h)) {
                let proto = forwarded(headers, "x-forwarded-proto").filter(|p| matches!(*p, "http" | "https"));
                return format!("{}://{host}", proto.unwrap_or(scheme));
            }
        }
        let host = headers.get(HOST).and_then(|v| v.to_str().ok()).filter(|h| is_plain_authority(h));
        match host {
            Some(host) => format!("{scheme}://{host}"),
            None => fallback.to_string(),
        }
    }

    /// The client's address: the peer, or with `--trust-forwarded` the address the front saw (the
    /// last one in `X-Forwarded-For`, the one the trusted front added).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trust_forwarded {
            return peer;
        }
        headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
            .unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> HeaderMap {
        let mut request = hyper::Request::builder().uri("/users/me/scids/s/clips");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0.headers
    }

    const FALLBACK: &str = "http://127.0.0.1:8080";

    #[test]
    fn urls_name_the_host_the_client_used() {
        let plain = PublicUrl::default();
        assert_eq!(plain.base("http", &parts(&[("host", "192.168.1.20:8080")]), FALLBACK), "http://192.168.1.20:8080");
        assert_eq!(plain.base("https", &parts(&[("host", "[fd00::2]:8443")]), FALLBACK), "https://[fd00::2]:8443");
        assert_eq!(plain.base("http", &parts(&[]), FALLBACK), FALLBACK);
        // Nothing but host[:port] reaches a URL.
        assert_eq!(plain.base("http", &parts(&[("host", "evil/x?y")]), FALLBACK), FALLBACK);
        // Forwarded headers count only when trusted.
        let forwarded = parts(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "clips.studio.example:8443"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "10.1.2.3, 10.9.9.9"),
        ]);
        assert_eq!(plain.base("http", &forwarded, FALLBACK), "http://127.0.0.1:8080");
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(plain.client_address(peer, &forwarded), peer);
        let trusting = PublicUrl { fixed: None, trust_forwarded: true };
        assert_eq!(trusting.base("http", &forwarded, FALLBACK), "https://clips.studio.example:8443");
        assert_eq!(trusting.client_address(peer, &forwarded), "10.9.9.9".parse::<IpAddr>().unwrap());
        let fixed = PublicUrl { fixed: Some("https://emu.example".into()), trust_forwarded: true };
        assert_eq!(fixed.base("http", &forwarded, FALLBACK), "https://emu.example");
    }
}
