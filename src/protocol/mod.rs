//! The service's wire types, enumerations and limits (`shared/spec/gameclips-service.md`).

mod game_clip;
pub mod url_policy;

pub use game_clip::{clip_state_code, ClipPage, GameClip, GameClipUri, Thumbnail};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MAX_BLOCK_SIZE: u32 = 2 * 1024 * 1024;
/// "No larger than 2 MB", read strictly: a service that means 2 MiB takes it too.
pub const DEFAULT_BLOCK_SIZE: u32 = 2_000_000;
pub const MIN_BLOCK_SIZE: u32 = 1024;
/// `fileSize` is a u32 on the wire.
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64;
pub const MAX_CAPTION_CHARS: usize = 250;
pub const MAX_TITLE_DATA_BYTES: usize = 10 * 1024;
/// Responses of the metadata API are small JSON documents; anything bigger is refused, not buffered.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
/// Thumbnail images are sent whole, like a block.
pub const MAX_THUMBNAIL_BYTES: u64 = MAX_BLOCK_SIZE as u64;
pub const MIN_RATING: u32 = 1;
pub const MAX_RATING: u32 = 5;

/// GameClipTypes flags (comma-separated on the wire).
pub mod clip_type {
    pub const DEVELOPER_INITIATED: u32 = 1 << 0;
    pub const ACHIEVEMENT: u32 = 1 << 1;
    pub const MAGIC_MOMENT: u32 = 1 << 2;
    pub const USER_GENERATED: u32 = 1 << 3;
    pub const ALL: u32 = DEVELOPER_INITIATED | ACHIEVEMENT | MAGIC_MOMENT | USER_GENERATED;
    pub(crate) const NAMES: [(u32, &str); 4] = [
        (DEVELOPER_INITIATED, "DeveloperInitiated"),
        (ACHIEVEMENT, "Achievement"),
        (MAGIC_MOMENT, "MagicMoment"),
        (USER_GENERATED, "UserGenerated"),
    ];
}

/// A C-facing enumeration value (1-based; 0 means "the default") and its wire string.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $value:literal => $wire:literal),+ $(,)? } default $default:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant = $value),+ }

        impl $name {
            /// Reads the C value; 0 takes the default.
            pub fn from_c(value: u32) -> Result<$name> {
                match value {
                    0 => Ok($name::$default),
                    $($value => Ok($name::$variant),)+
                    other => Err(Error::invalid(format!(concat!(stringify!($name), " {} is not a known value"), other))),
                }
            }

            pub fn wire(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The value a wire string names, if it is one this version knows.
            pub fn from_wire(wire: &str) -> Option<$name> {
                match wire { $($wire => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum!(
    /// GameClipSource.
    ClipSource { Console = 1 => "Console", TitleDirect = 2 => "TitleDirect", Intermediate = 3 => "Intermediate", UserInitiated = 4 => "UserInitiated" } default TitleDirect
);
wire_enum!(
    /// GameClipVisibility.
    Visibility { Default = 1 => "Default", Owner = 2 => "Owner", Title = 3 => "Title", Public = 4 => "Public" } default Default
);
wire_enum!(
    /// ThumbnailSource.
    ThumbnailSource { Default = 1 => "Default", Offset = 2 => "Offset", Upload = 3 => "Upload" } default Default
);

/// The wire form of a set of GameClipTypes flags; 0 means DeveloperInitiated.
pub fn clip_types_wire(flags: u32) -> Result<String> {
    let flags = if flags == 0 { clip_type::DEVELOPER_INITIATED } else { flags };
    if flags & !clip_type::ALL != 0 {
        return Err(Error::invalid(format!("clip_types {flags:#x} has unknown bits")));
    }
    let names: Vec<&str> = clip_type::NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, name)| *name).collect();
    Ok(names.join(","))
}

/// Ids that go into URL paths: plain tokens only, so nothing a caller passes can change the path.
fn check_path_token(value: &str, name: &str, max_len: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max_len
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && value != "."
        && value != "..";
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("{name} {value:?} is not a valid id (letters, digits, '-', '_', '.')")))
    }
}

pub fn check_scid(scid: &str) -> Result<()> {
    check_path_token(scid, "scid", 64)
}

pub fn check_clip_id(game_clip_id: &str) -> Result<()> {
    check_path_token(game_clip_id, "game_clip_id", 128)
}

/// The `{ownerId}` path segment: `me` for `None` or "me", `xuid(N)` for a decimal xuid.
pub fn owner_segment(owner_xuid: Option<&str>) -> Result<String> {
    match owner_xuid {
        None | Some("me") => Ok("me".into()),
        Some(xuid) if !xuid.is_empty() && xuid.len() <= 20 && xuid.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(format!("xuid({xuid})"))
        }
        Some(other) => Err(Error::invalid(format!("owner_xuid {other:?} is not a decimal xuid (or NULL for me)"))),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for query values).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The media type of a thumbnail image, recognised by its first bytes: JPEG and PNG are what the
/// service takes.
pub fn image_media_type(image: &[u8]) -> Option<&'static str> {
    if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

pub fn check_caption(caption: &str) -> Result<()> {
    let chars = caption.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(Error::invalid(format!("user_caption has {chars} characters; the limit is {MAX_CAPTION_CHARS}")));
    }
    Ok(())
}

pub fn check_title_data(title_data: &str) -> Result<()> {
    if title_data.len() > MAX_TITLE_DATA_BYTES {
        return Err(Error::invalid(format!(
            "title_data is {} bytes; the limit is {MAX_TITLE_DATA_BYTES}",
            title_data.len()
        )));
    }
    Ok(())
}

/// InitialUploadRequest (call 1). Also kept in the resume journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialUploadRequest {
    pub greatest_moment_id: String,
    pub user_caption: String,
    pub session_ref: String,
    pub date_recorded: String,
    pub duration_in_seconds: u32,
    pub expected_blocks: u32,
    pub file_size: u32,
    #[serde(rename = "type")]
    pub clip_type: String,
    pub source: String,
    pub visibility: String,
    pub title_data: String,
    pub system_properties: String,
    pub users_in_session: Vec<String>,
    pub thumbnail_source: String,
    /// Spelled so on the wire; sent only with the Offset source.
    #[serde(rename = "thumbnailOffsetMillseconds", skip_serializing_if = "Option::is_none")]
    pub thumbnail_offset_ms: Option<i32>,
    pub saved_by_user: bool,
}

#[cfg(test)]
impl InitialUploadRequest {
    /// A request as `Client::begin_upload` makes one (30 s, recorded at a fixed time), for unit tests.
    pub fn for_tests() -> InitialUploadRequest {
        serde_json::from_value(serde_json::json!({
            "greatestMomentId": "gm", "userCaption": "", "sessionRef": "", "dateRecorded": "2026-11-22T20:00:00.000Z",
            "durationInSeconds": 30, "expectedBlocks": 0, "fileSize": 0, "type": "DeveloperInitiated",
            "source": "TitleDirect", "visibility": "Default", "titleData": "", "systemProperties": "",
            "usersInSession": [], "thumbnailSource": "Default", "savedByUser": false
        }))
        .expect("a valid request")
    }
}

/// InitialUploadResponse. Unknown members are ignored. Also kept in the resume journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialUploadResponse {
    pub game_clip_id: String,
    pub upload_uri: String,
    #[serde(default)]
    pub upload_id: Option<String>,
    #[serde(default)]
    pub large_thumbnail_uri: Option<String>,
    #[serde(default)]
    pub small_thumbnail_uri: Option<String>,
}

impl InitialUploadResponse {
    /// The `uploadId` block PUTs carry: from the response, else from the uploadUri's query, else the clip
    /// id (the reference defines no source for it; see the service spec's decision).
    pub fn upload_id(&self) -> String {
        if let Some(id) = self.upload_id.as_deref().filter(|id| !id.is_empty()) {
            return id.to_string();
        }
        query_value(&self.upload_uri, "uploadId").unwrap_or(&self.game_clip_id).to_string()
    }

    /// The URL of one block's PUT.
    pub fn block_url(&self, upload_id: &str, block_num: u32) -> String {
        let without_id = strip_query_param(&self.upload_uri, "uploadId");
        let joiner = if without_id.contains('?') { '&' } else { '?' };
        format!("{without_id}{joiner}uploadId={upload_id}&blockNum={block_num}")
    }
}

fn query_value<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn strip_query_param(url: &str, name: &str) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_string() };
    let kept: Vec<&str> = query.split('&').filter(|pair| pair.split('=').next() != Some(name)).collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// ServiceErrorResponse, in either documented shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServiceErrorResponse {
    error_message: Option<String>,
    error_source: Option<String>,
    error_code: Option<serde_json::Value>,
    error_response_code: Option<serde_json::Value>,
}

/// A short description of an error body for messages: the service's message when the body is a
/// ServiceErrorResponse, else the start of the raw body.
pub fn describe_error_body(body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ServiceErrorResponse>(body) {
        let code = parsed.error_code.or(parsed.error_response_code).filter(|c| !c.is_null());
        if let Some(message) = parsed.error_message.or(parsed.error_source) {
            return match code {
                Some(code) => format!("{message} (service error {code})"),
                None => message,
            };
        }
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

impl InitialUploadRequest {
    /// The initial call's body. The clip name goes under both names the reference uses for it
    /// (`greatestMomentId`, and `clipNameStringId` in its only sample request): a service built from
    /// either page reads one of them.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut body = serde_json::to_value(self).expect("the request serializes");
        body["clipNameStringId"] = serde_json::Value::String(self.greatest_moment_id.clone());
        serde_json::to_vec(&body).expect("the request serializes")
    }

    /// Whether `clip` looks like the clip this request would create: the pending clip an ambiguous
    /// create may have left. (dateRecorded carries milliseconds when the library sets it.)
    pub fn matches(&self, clip: &GameClip) -> bool {
        clip.state.eq_ignore_ascii_case("PendingUpload")
            && clip.date_recorded == self.date_recorded
            && clip.duration_in_seconds == self.duration_in_seconds
            && clip.user_caption == self.user_caption
            && clip.greatest_moment_id == self.greatest_moment_id
    }
}

/// Now as ISO 8601 UTC with milliseconds ("2026-11-22T20:13:05.123Z").
pub fn iso8601_now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Whether `value` is an ISO 8601 UTC time the service takes ("2026-11-22T20:13:05Z", fractions allowed).
pub fn is_iso8601_utc(value: &str) -> bool {
    humantime::parse_rfc3339(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(uri: &str, upload_id: Option<&str>) -> InitialUploadResponse {
        InitialUploadResponse {
            game_clip_id: "clip".into(),
            upload_uri: uri.into(),
            upload_id: upload_id.map(Into::into),
            large_thumbnail_uri: None,
            small_thumbnail_uri: None,
        }
    }

    #[test]
    fn upload_id_comes_from_body_then_uri_then_clip_id() {
        assert_eq!(response("https://h/u?uploadId=q", Some("b")).upload_id(), "b");
        assert_eq!(response("https://h/u?x=1&uploadId=q", None).upload_id(), "q");
        assert_eq!(response("https://h/u", None).upload_id(), "clip");
    }

    #[test]
    fn block_url_keeps_other_query_parameters_once() {
        let r = response("https://h/u?sig=abc&uploadId=q", None);
        assert_eq!(r.block_url("q", 3), "https://h/u?sig=abc&uploadId=q&blockNum=3");
        assert_eq!(response("https://h/u", None).block_url("z", 0), "https://h/u?uploadId=z&blockNum=0");
    }

    #[test]
    fn error_bodies_of_both_shapes_are_described() {
        assert_eq!(
            describe_error_body(br#"{"errorCode":400,"errorMessage":"too long"}"#),
            "too long (service error 400)"
        );
        assert_eq!(describe_error_body(br#"{"errorSource":"quota","errorResponseCode":null}"#), "quota");
        assert_eq!(describe_error_body(b"plain\ntext"), "plaintext");
    }

    #[test]
    fn clip_types_and_enums_map_to_wire_strings() {
        assert_eq!(clip_types_wire(0).unwrap(), "DeveloperInitiated");
        assert_eq!(
            clip_types_wire(clip_type::ACHIEVEMENT | clip_type::USER_GENERATED).unwrap(),
            "Achievement,UserGenerated"
        );
        assert!(clip_types_wire(1 << 9).is_err());
        assert_eq!(Visibility::from_c(0).unwrap(), Visibility::Default);
        assert_eq!(Visibility::from_c(4).unwrap().wire(), "Public");
        assert!(Visibility::from_c(5).is_err());
    }

    #[test]
    fn path_ids_and_owners_cannot_change_the_path() {
        assert!(check_clip_id("5e1f7a3c-0d2b-4c7e-9a51-1b2c3d4e5f60").is_ok());
        for bad in ["", "a/b", "..", "a?b", "a b", "%2e"] {
            assert!(check_clip_id(bad).is_err(), "{bad}");
        }
        assert_eq!(owner_segment(None).unwrap(), "me");
        assert_eq!(owner_segment(Some("2533274800000001")).unwrap(), "xuid(2533274800000001)");
        assert!(owner_segment(Some("xuid(1)")).is_err());
        assert_eq!(percent_encode("a b/c+d~"), "a%20b%2Fc%2Bd~");
    }

    #[test]
    fn thumbnails_are_recognised_by_their_first_bytes() {
        assert_eq!(image_media_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_media_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_media_type(b"GIF89a"), None);
    }

    #[test]
    fn iso8601_has_the_right_shape() {
        let now = iso8601_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'));
        assert!(is_iso8601_utc(&now));
        assert!(is_iso8601_utc("2024-02-29T23:59:59Z"));
        for bad in ["2024-02-30T00:00:00Z", "yesterday", "2024-01-01", "2024-01-01T00:00:00+02:00"] {
            assert!(!is_iso8601_utc(bad), "{bad}");
        }
    }
}
