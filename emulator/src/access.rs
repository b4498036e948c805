//! Who may use the emulator's own endpoints (`/_emulator/*` and the dashboard): they change faults,
//! mint tokens and read every clip, so they answer loopback only, unless the operator allows address
//! ranges (`--admin-from CIDR`) or holders of a token (`--admin-token`; the dashboard asks for it and
//! keeps it in a cookie, scripts send `X-Emulator-Admin-Token`). The service API stays open, as the real
//! one is: its calls need a service token anyway.

use std::net::IpAddr;

use hyper::header::COOKIE;
use hyper::HeaderMap;

/// The cookie that carries the admin token for the dashboard.
pub const ADMIN_COOKIE: &str = "gameclips_emulator_admin";
/// The header that carries the admin token for scripts.
pub const ADMIN_HEADER: &str = "x-emulator-admin-token";

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let network: IpAddr = address.parse().map_err(|_| format!("{address:?} is not an IP address"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= bits)
                .ok_or_else(|| format!("{p:?} is not a prefix length 0..={bits} for {address}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked(u128::from(u32::from(network)), 32, self.prefix)
                    == masked(u128::from(u32::from(address)), 32, self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked(u128::from(network), 128, self.prefix) == masked(u128::from(address), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    bits >> (width - prefix)
}

/// An IPv4 peer on a dual-stack socket arrives as `::ffff:a.b.c.d`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The admin endpoints' policy.
#[derive(Debug, Clone, Default)]
pub struct AdminAccess {
    pub from: Vec<Cidr>,
    pub token: Option<String>,
}

impl AdminAccess {
    /// Whether a request from `peer` (the client's address) may use the admin endpoints.
    pub fn allows(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        canonical(peer).is_loopback()
            || self.from.iter().any(|range| range.contains(peer))
            || self.token.as_deref().is_some_and(|token| presented_token(headers).as_deref() == Some(token))
    }

    /// What start-up says of it when the emulator listens beyond loopback.
    pub fn describe(&self) -> String {
        let mut allowed = vec!["loopback".to_string()];
        allowed.extend(self.from.iter().map(|range| format!("{}/{}", range.network, range.prefix)));
        if self.token.is_some() {
            allowed.push("holders of the admin token".into());
        }
        format!(
            "listening beyond loopback: the service API is open to the network (its calls need a service \
             token); the dashboard and /_emulator/* answer only {} (see --admin-from, --admin-token)",
            allowed.join(", ")
        )
    }
}

/// The admin token a request carries, in the header or the dashboard's cookie.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(ADMIN_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(value.to_string());
    }
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == ADMIN_COOKIE).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> HeaderMap {
        let mut request = hyper::Request::builder().uri("/_emulator/stats");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0.headers
    }

    #[test]
    fn ranges_contain_their_addresses() {
        let lan: Cidr = "10.77.0.0/24".parse().unwrap();
        assert!(lan.contains("10.77.0.2".parse().unwrap()));
        assert!(lan.contains("::ffff:10.77.0.9".parse().unwrap()));
        assert!(!lan.contains("10.77.1.2".parse().unwrap()));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()) && !one.contains("192.0.2.8".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()) && !v6.contains("fe80::1".parse().unwrap()));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains("203.0.113.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_always_others_by_range_or_token() {
        let lan_peer: IpAddr = "10.77.0.2".parse().unwrap();
        let closed = AdminAccess::default();
        assert!(closed.allows("127.0.0.1".parse().unwrap(), &parts(&[])));
        assert!(closed.allows("::1".parse().unwrap(), &parts(&[])));
        assert!(!closed.allows(lan_peer, &parts(&[])));
        let ranged = AdminAccess { from: vec!["10.77.0.0/24".parse().unwrap()], token: None };
        assert!(ranged.allows(lan_peer, &parts(&[])));
        let tokened = AdminAccess { from: vec![], token: Some("s3cret".into()) };
        assert!(!tokened.allows(lan_peer, &parts(&[(ADMIN_HEADER, "wrong")])));
        assert!(tokened.allows(lan_peer, &parts(&[(ADMIN_HEADER, "s3cret")])));
        assert!(tokened.allows(lan_peer, &parts(&[("cookie", "a=b; gameclips_emulator_admin=s3cret")])));
        assert!(!tokened.allows(lan_peer, &parts(&[("cookie", "gameclips_emulator_admin=s3cre")])));
    }
}
