//! GameClip and the list response, read leniently (the reference shows `id` or `gameClipId`, numbers as
//! strings, null or "" continuation tokens, unknown members) and handed to callers in one normalised
//! form: every documented member present, text as strings ("" when absent), counts as numbers.

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Thumbnail {
    pub uri: String,
    pub file_size: u64,
    /// "Large" or "Small" (or whatever else the service says).
    pub thumbnail_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameClipUri {
    pub uri: String,
    pub file_size: u64,
    /// "Download", "Original", "SmoothStreaming", "Ahls".
    pub uri_type: String,
    pub expiration: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameClip {
    pub game_clip_id: String,
    pub state: String,
    pub date_recorded: String,
    pub last_modified: String,
    pub user_caption: String,
    #[serde(rename = "type")]
    pub clip_type: String,
    pub source: String,
    pub visibility: String,
    pub duration_in_seconds: u32,
    pub scid: String,
    pub rating: f64,
    pub rating_count: u32,
    pub views: u64,
    pub title_data: String,
    pub system_properties: String,
    pub thumbnails: Vec<Thumbnail>,
    pub game_clip_uris: Vec<GameClipUri>,
    pub xuid: String,
    pub clip_name: String,
    pub title_name: String,
    pub title_id: String,
    pub saved_by_user: bool,
    pub greatest_moment_id: String,
}

/// One page of a list call.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipPage {
    pub game_clips: Vec<GameClip>,
    /// `None` on the last page (the service sends null, "" or nothing).
    pub continuation_token: Option<String>,
    pub total_items: Option<u64>,
}

fn unusable(what: &str) -> Error {
    Error::http(ErrorKind::Http, 200, format!("the service's answer is not usable: {what}"))
}

/// Text members: strings as they are, numbers and booleans written out, anything else "".
fn text(object: &Value, key: &str) -> String {
    match object.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Numeric members: numbers, or numbers sent as strings; anything else 0.
fn number(object: &Value, key: &str) -> f64 {
    match object.get(key) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn count<T: TryFrom<u64> + Default>(object: &Value, key: &str) -> T {
    let value = number(object, key);
    if value.is_finite() && value >= 0.0 {
        T::try_from(value as u64).unwrap_or_default()
    } else {
        T::default()
    }
}

fn flag(object: &Value, key: &str) -> bool {
    match object.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn items<'a>(object: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    object.get(key).and_then(Value::as_array).into_iter().flatten().filter(|item| item.is_object())
}

impl GameClip {
    /// One GameClip object. Only the id is required.
    pub fn from_wire(object: &Value) -> Result<GameClip> {
        if !object.is_object() {
            return Err(unusable("a GameClip is not a JSON object"));
        }
        let id = Some(text(object, "gameClipId")).filter(|id| !id.is_empty()).unwrap_or_else(|| text(object, "id"));
        if id.is_empty() {
            return Err(unusable("a GameClip has neither gameClipId nor id"));
        }
        let rating = number(object, "rating");
        Ok(GameClip {
            game_clip_id: id,
            state: text(object, "state"),
            date_recorded: text(object, "dateRecorded"),
            last_modified: text(object, "lastModified"),
            user_caption: text(object, "userCaption"),
            clip_type: text(object, "type"),
            source: text(object, "source"),
            visibility: text(object, "visibility"),
            duration_in_seconds: count(object, "durationInSeconds"),
            scid: text(object, "scid"),
            rating: if rating.is_finite() { rating.clamp(0.0, 5.0) } else { 0.0 },
            rating_count: count(object, "ratingCount"),
            views: count(object, "views"),
            title_data: text(object, "titleData"),
            system_properties: text(object, "systemProperties"),
            thumbnails: items(object, "thumbnails")
                .map(|t| Thumbnail {
                    uri: text(t, "uri"),
                    file_size: count(t, "fileSize"),
                    thumbnail_type: text(t, "thumbnailType"),
                })
                .collect(),
            game_clip_uris: items(object, "gameClipUris")
                .map(|u| GameClipUri {
                    uri: text(u, "uri"),
                    file_size: count(u, "fileSize"),
                    uri_type: text(u, "uriType"),
                    expiration: text(u, "expiration"),
                })
                .collect(),
            xuid: text(object, "xuid"),
            clip_name: text(object, "clipName"),
            title_name: text(object, "titleName"),
            title_id: text(object, "titleId"),
            saved_by_user: flag(object, "savedByUser"),
            greatest_moment_id: text(object, "greatestMomentId"),
        })
    }

    /// The body of a get call: `{"gameClip": {...}}` (a bare GameClip is accepted too).
    pub fn from_get_response(body: &[u8]) -> Result<GameClip> {
        let value: Value = serde_json::from_slice(body).map_err(|e| unusable(&format!("invalid JSON: {e}")))?;
        GameClip::from_wire(value.get("gameClip").unwrap_or(&value))
    }

    /// Where the clip's bytes can be fetched: the Download URI, else the Original one.
    pub fn download_uri(&self) -> Option<&GameClipUri> {
        let with_type = |wanted: &str| {
            self.game_clip_uris.iter().find(|u| u.uri_type.eq_ignore_ascii_case(wanted) && !u.uri.is_empty())
        };
        with_type("Download").or_else(|| with_type("Original"))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a GameClip serializes")
    }
}

impl ClipPage {
    pub fn from_wire(body: &[u8]) -> Result<ClipPage> {
        let value: Value = serde_json::from_slice(body).map_err(|e| unusable(&format!("invalid JSON: {e}")))?;
        let clips = value.get("gameClips").and_then(Value::as_array).ok_or_else(|| unusable("no gameClips array"))?;
        let paging = value.get("pagingInfo").unwrap_or(&Value::Null);
        let token = text(paging, "continuationToken");
        Ok(ClipPage {
            game_clips: clips.iter().map(GameClip::from_wire).collect::<Result<_>>()?,
            continuation_token: Some(token).filter(|t| !t.is_empty()),
            // null (as the normalised form writes "unknown") is no count, not 0.
            total_items: paging.get("totalItems").filter(|v| !v.is_null()).map(|_| count(paging, "totalItems")),
        })
    }

    /// `{"gameClips": [...], "pagingInfo": {"continuationToken": "..." or null, "totalItems": n or null}}`.
    pub fn to_json(&self) -> String {
        json!({
            "gameClips": self.game_clips,
            "pagingInfo": { "continuationToken": self.continuation_token, "totalItems": self.total_items },
        })
        .to_string()
    }
}

/// `CLIPS_CLIP_STATE_*` for a GameClipState string; 0 for one this version does not know.
pub fn clip_state_code(state: &str) -> u32 {
    const STATES: [&str; 12] = [
        "None",
        "PendingUpload",
        "Uploaded",
        "Processing",
        "Processed",
        "Publishing",
        "Published",
        "PendingDelete",
        "Deleted",
        "Flagged",
        "Banned",
        "Error",
    ];
    STATES.iter().position(|s| s.eq_ignore_ascii_case(state)).map_or(0, |i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_id_spellings_numbers_as_strings_and_unknown_members_are_accepted() {
        let clip = GameClip::from_wire(&json!({
            "id": "abc", "rating": "4.5", "ratingCount": 2, "views": "7", "titleId": 1234,
            "savedByUser": true, "somethingNew": {"x": 1}, "thumbnails": [{"uri": "u", "fileSize": 3, "thumbnailType": "Large"}]
        }))
        .unwrap();
        assert_eq!(clip.game_clip_id, "abc");
        assert_eq!((clip.rating, clip.rating_count, clip.views), (4.5, 2, 7));
        assert_eq!(clip.title_id, "1234");
        assert!(clip.saved_by_user);
        assert_eq!(clip.thumbnails[0].thumbnail_type, "Large");
        let preferred = GameClip::from_wire(&json!({"gameClipId": "g", "id": "i"})).unwrap();
        assert_eq!(preferred.game_clip_id, "g");
        assert!(GameClip::from_wire(&json!({"state": "Published"})).is_err());
        assert!(GameClip::from_wire(&json!([1, 2])).is_err());
    }

    #[test]
    fn continuation_token_null_empty_or_missing_means_last_page() {
        for paging in [r#"{"continuationToken":null}"#, r#"{"continuationToken":""}"#, "{}"] {
            let body = format!(r#"{{"gameClips":[{{"id":"a"}}],"pagingInfo":{paging}}}"#);
            assert_eq!(ClipPage::from_wire(body.as_bytes()).unwrap().continuation_token, None);
        }
        let page =
            ClipPage::from_wire(br#"{"gameClips":[],"pagingInfo":{"continuationToken":"t","totalItems":9}}"#).unwrap();
        assert_eq!((page.continuation_token.as_deref(), page.total_items), (Some("t"), Some(9)));
        let normalised: Value = serde_json::from_str(&page.to_json()).unwrap();
        assert_eq!(normalised["pagingInfo"]["continuationToken"], "t");
        assert!(ClipPage::from_wire(b"{}").is_err());
    }

    #[test]
    fn normalised_form_uses_game_clip_id_and_has_every_member() {
        let clip = GameClip::from_get_response(br#"{"gameClip":{"id":"x","state":"Published"}}"#).unwrap();
        let value: Value = serde_json::from_str(&clip.to_json()).unwrap();
        assert_eq!(value["gameClipId"], "x");
        assert!(value.get("id").is_none());
        for member in ["userCaption", "ratingCount", "thumbnails", "gameClipUris", "type", "titleId"] {
            assert!(value.get(member).is_some(), "{member}");
        }
        assert_eq!(clip_state_code(&clip.state), 7);
        assert_eq!(clip_state_code("Martian"), 0);
    }
}
