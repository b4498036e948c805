//! A clip as the service's answers show it: its state and the GameClip document.

use serde_json::{json, Value};

use crate::clock::{iso8601, now_ms};
use crate::shared::Shared;
use crate::store::ClipRecord;

/// The service-side state: stored until commit, then derived from the commit time so that it advances
/// (and survives restarts) without background work.
pub fn clip_state(shared: &Shared, clip: &ClipRecord) -> &'static str {
    if clip.failed.is_some() {
        return "Error";
    }
    let Some(committed_at) = clip.committed_at_ms else { return "PendingUpload" };
    let elapsed = now_ms().saturating_sub(committed_at);
    let processing = shared.config.processing_ms;
    if elapsed >= processing {
        "Published"
    } else if elapsed >= processing / 4 {
        "Processing"
    } else {
        "Uploaded"
    }
}

/// A clip as the service's GET answers it, its URIs under `base`.
pub fn game_clip(shared: &Shared, base: &str, clip: &ClipRecord) -> Value {
    let social = shared.store.social(&clip.id);
    let state = if social.flagged { "Flagged" } else { clip_state(shared, clip) };
    let meta = &clip.meta;
    let uris = if state == "Published" {
        json!([{ "uri": format!("{base}/download/{}", clip.id), "fileSize": meta.file_size,
                 "uriType": "Download", "expiration": "9999-12-31T23:59:59Z" }])
    } else {
        json!([])
    };
    let thumbnails: Vec<Value> = shared
        .store
        .thumbnails(&clip.id)
        .iter()
        .map(|t| {
            let kind = if t.kind == "large" { "Large" } else { "Small" };
            json!({ "uri": format!("{base}/thumbnails/{}/{}", clip.id, t.kind), "fileSize": t.size, "thumbnailType": kind })
        })
        .collect();
    json!({
        "gameClipId": clip.id,
        "state": state,
        "dateRecorded": meta.date_recorded,
        "lastModified": iso8601(clip.last_modified_ms),
        "userCaption": meta.user_caption,
        "type": meta.clip_type,
        "source": meta.source,
        "visibility": meta.visibility,
        "durationInSeconds": meta.duration_seconds,
        "scid": clip.scid,
        "rating": social.rating,
        "ratingCount": social.rating_count,
        "views": social.views,
        "titleData": meta.title_data,
        "systemProperties": meta.system_properties,
        "thumbnails": thumbnails,
        "gameClipUris": uris,
        "xuid": clip.owner_xuid,
        "clipName": meta.greatest_moment_id,
        "titleName": "Emulated Title",
        "titleId": 1234567890,
        "savedByUser": meta.saved_by_user,
        "greatestMomentId": meta.greatest_moment_id,
    })
}
