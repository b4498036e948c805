//! Development tokens: `XBL3.0 x=<userhash>;<base64url(JSON claims)>`.
//!
//! Real Xbox Live tokens are opaque to the client; these carry their claims in the clear so tests and
//! developers can mint one for any user, device or title.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

const CONSOLE_DEVICE_TYPES: &[&str] = &["Xbox360", "XboxOne", "Scorpio", "Lockhart", "Anaconda"];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_id: Option<String>,
    /// Expiry, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// The service's enforcement team: sees flagged clips (everyone else gets 404 for them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enforcement: bool,
}

impl Claims {
    /// A complete set of claims for a console user, as `gameclips-emulator token` mints by default.
    pub fn for_xuid(xuid: u64) -> Claims {
        Claims {
            xuid: Some(xuid.to_string()),
            device_type: Some("XboxOne".into()),
            device_id: Some(format!("dev-{xuid}")),
            title_id: Some("1234567890".into()),
            sandbox_id: Some("XDKS.1".into()),
            exp: None,
            enforcement: false,
        }
    }

    /// Why these claims may not create a clip (403), if they may not.
    pub fn upload_refusal(&self) -> Option<String> {
        let missing: Vec<&str> = [
            ("xuid", self.xuid.is_none()),
            ("deviceType", self.device_type.is_none()),
            ("deviceId", self.device_id.is_none()),
            ("titleId", self.title_id.is_none()),
            ("sandboxId", self.sandbox_id.is_none()),
        ]
        .iter()
        .filter(|(_, absent)| *absent)
        .map(|(name, _)| *name)
        .collect();
        if !missing.is_empty() {
            return Some(format!("token lacks the claims: {}", missing.join(", ")));
        }
        let device = self.device_type.as_deref().unwrap_or_default();
        if !CONSOLE_DEVICE_TYPES.contains(&device) {
            return Some(format!("device type {device:?} may not upload clips"));
        }
        None
    }
}

/// The Authorization value for `claims`.
pub fn mint(claims: &Claims) -> String {
    let json = serde_json::to_vec(claims).expect("claims serialize");
    let userhash = claims.xuid.as_deref().unwrap_or("0");
    format!("XBL3.0 x={userhash};{}", URL_SAFE_NO_PAD.encode(json))
}

/// A development Authorization value for a console user.
pub fn mint_for_xuid(xuid: u64) -> String {
    mint(&Claims::for_xuid(xuid))
}

/// A short fingerprint of an Authorization value, for logs and pages that must never show the value:
/// the first 8 hex digits of its SHA-256.
pub fn fingerprint(header_value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(header_value.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// What the dashboard's token form asks for: a user, a device type and a lifetime; the rest as
/// [`Claims::for_xuid`] gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MintRequest {
    pub xuid: String,
    #[serde(default)]
    pub device_type: Option<String>,
    /// Seconds from now; 0 or absent: never expires.
    #[serde(default)]
    pub expires_in_seconds: u64,
}

impl MintRequest {
    pub fn claims(&self, now_unix: u64) -> Result<Claims, String> {
        let xuid: u64 = self.xuid.trim().parse().map_err(|_| format!("xuid {:?} is not a number", self.xuid))?;
        let mut claims = Claims::for_xuid(xuid);
        if let Some(device_type) = self.device_type.as_deref().filter(|d| !d.is_empty()) {
            claims.device_type = Some(device_type.to_string());
        }
        claims.exp = (self.expires_in_seconds > 0).then(|| now_unix + self.expires_in_seconds);
        Ok(claims)
    }
}

/// The claims of an Authorization value, or why it is not acceptable (401).
pub fn parse(header_value: &str, now_unix: u64) -> Result<Claims, &'static str> {
    let rest = header_value.strip_prefix("XBL3.0 x=").ok_or("Authorization is not an XBL3.0 token")?;
    let (_userhash, payload) = rest.split_once(';').ok_or("token has no payload")?;
    let json = URL_SAFE_NO_PAD.decode(payload.trim()).map_err(|_| "token payload is not base64url")?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| "token payload is not JSON claims")?;
    if claims.exp.is_some_and(|exp| exp <= now_unix) {
        return Err("token expired");
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_token_parses_back() {
        let token = mint_for_xuid(42);
        let claims = parse(&token, 0).unwrap();
        assert_eq!(claims, Claims::for_xuid(42));
        assert_eq!(claims.upload_refusal(), None);
    }

    #[test]
    fn expired_and_garbage_tokens_are_refused() {
        let mut claims = Claims::for_xuid(1);
        claims.exp = Some(100);
        assert_eq!(parse(&mint(&claims), 200), Err("token expired"));
        assert!(parse("Bearer abc", 0).is_err());
        assert!(parse("XBL3.0 x=1;!!!", 0).is_err());
    }

    #[test]
    fn pc_device_or_missing_claim_may_not_upload() {
        let mut claims = Claims::for_xuid(1);
        claims.device_type = Some("Win32".into());
        assert!(claims.upload_refusal().unwrap().contains("Win32"));
        let mut claims = Claims::for_xuid(1);
        claims.title_id = None;
        assert!(claims.upload_refusal().unwrap().contains("titleId"));
    }
}
