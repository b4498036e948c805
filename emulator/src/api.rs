//! The handlers of the service's endpoints and the rules of who may do what. Handlers are plain
//! synchronous functions: the server runs them on the blocking pool with the whole body in hand.

// Handlers answer early with `Err(response)`; a response is big, but one per request costs nothing here.
#![allow(clippy::result_large_err)]

use hyper::header::AUTHORIZATION;
use hyper::http::request::Parts;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::blocks::BlockError;
use crate::clock::now_ms;
use crate::downloads::{download, get_thumbnail};
use crate::render::game_clip;
use crate::response::{empty_response, error, json_response, not_found, HttpResponse};
use crate::routes::{ClipPath, Route};
use crate::shared::Shared;
use crate::store::{BlockOutcome, ClipRecord, ListQuery, MetadataChange};
use crate::token::{self, Claims};
use crate::wire::{
    service_error, InitialUploadRequest, MAX_BLOCK_SIZE, MAX_CAPTION_CHARS, MAX_TITLE_DATA_BYTES, VISIBILITIES,
};

/// The largest request body any endpoint takes: one block, or a JSON document well under it.
pub const MAX_BODY: usize = MAX_BLOCK_SIZE as usize;
/// The errorCode of a quota refusal (a 400, as the service documents it).
pub const QUOTA_ERROR_CODE: i32 = 1013;
/// List pages: the default and the most one page holds.
const DEFAULT_PAGE: u64 = 25;
const MAX_PAGE: u64 = 100;

fn query_param<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.uri.query()?.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The caller's claims, or the 401 that refuses them.
fn authenticate(parts: &Parts) -> Result<Claims, HttpResponse> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "missing Authorization"))?;
    token::parse(value, now_ms() / 1000).map_err(|why| error(StatusCode::UNAUTHORIZED, why))
}

/// Answers one request; `base` is what URLs in the answer start with (see [`crate::public_url`]).
pub fn handle(shared: &Shared, route: Route, parts: &Parts, body: &[u8], base: &str) -> HttpResponse {
    let result = match route {
        Route::CreateClip { scid } => create_clip(shared, parts, &scid, body, base),
        Route::PutBlock { clip_id } => put_block(shared, parts, &clip_id, body),
        Route::GetClip(path) => get_clip(shared, parts, &path, base),
        Route::UpdateMetadata(path) => update_metadata(shared, parts, &path, body),
        Route::DeleteClip(path) => delete_clip(shared, parts, &path),
        Route::Rate(path, rating) => rate(shared, parts, &path, &rating),
        Route::Flag(path) => flag(shared, parts, &path),
        Route::View(path) => view(shared, parts, &path),
        Route::ListClips { owner, scid } => list_clips(shared, parts, &owner, scid, base),
        Route::PutThumbnail { clip_id, kind } => put_thumbnail(shared, parts, &clip_id, &kind, body),
        Route::GetThumbnail { clip_id, kind } => get_thumbnail(shared, &clip_id, &kind),
        Route::Download { clip_id } => download(shared, parts, &clip_id),
        Route::Admin(_) | Route::Unknown => Err(error(StatusCode::NOT_FOUND, "no such endpoint")),
    };
    result.unwrap_or_else(|response| response)
}

fn create_clip(
    shared: &Shared,
    parts: &Parts,
    scid: &str,
    body: &[u8],
    base: &str,
) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    if let Some(why) = claims.upload_refusal() {
        return Err(error(StatusCode::FORBIDDEN, &why));
    }
    if !shared.config.scids.is_empty() && !shared.config.scids.iter().any(|known| known == scid) {
        return Err(error(StatusCode::NOT_FOUND, &format!("unknown scid {scid}")));
    }
    let request: InitialUploadRequest = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("body is not an InitialUploadRequest: {e}")))?;
    let clip = request.validate(shared.config.max_block_bytes).map_err(|why| error(StatusCode::BAD_REQUEST, &why))?;
    let owner = claims.xuid.as_deref().unwrap_or_default();
    let quota = shared.faults().quota_bytes;
    let held = shared.store.bytes_owned(owner);
    if quota > 0 && held + clip.file_size > quota {
        return Err(json_response(
            StatusCode::BAD_REQUEST,
            &service_error(
                QUOTA_ERROR_CODE,
                &format!(
                    "quota exceeded: the user holds {held} bytes of clips; {} more would pass the quota of {quota}",
                    clip.file_size
                ),
            ),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    shared.store.create_clip(&id, owner, scid, &upload_id, &clip, now_ms());
    let mut response = json!({
        "gameClipId": id,
        "uploadUri": format!("{base}/upload/{id}"),
        "uploadId": upload_id,
        "clipName": clip.greatest_moment_id,
        "titleName": "Emulated Title",
    });
    if clip.thumbnail_source == "Upload" {
        response["largeThumbnailUri"] = json!(format!("{base}/thumbnails/{id}/large"));
        response["smallThumbnailUri"] = json!(format!("{base}/thumbnails/{id}/small"));
    }
    Ok(json_response(StatusCode::OK, &response))
}

/// A clip the caller may upload to: it exists and is theirs.
fn upload_target(shared: &Shared, claims: &Claims, clip_id: &str) -> Result<ClipRecord, HttpResponse> {
    let clip = shared.store.clip(clip_id).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such upload"))?;
    if claims.xuid.as_deref() != Some(clip.owner_xuid.as_str()) {
        return Err(error(StatusCode::FORBIDDEN, "this upload belongs to another user"));
    }
    Ok(clip)
}

fn put_block(shared: &Shared, parts: &Parts, clip_id: &str, body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = upload_target(shared, &claims, clip_id)?;
    if query_param(parts, "uploadId") != Some(clip.upload_id.as_str()) {
        return Err(error(StatusCode::BAD_REQUEST, "uploadId is missing or does not match"));
    }
    let expiry_s = shared.faults().upload_expiry_s;
    if expiry_s > 0 && clip.committed_at_ms.is_none() && now_ms().saturating_sub(clip.created_at_ms) > expiry_s * 1000 {
        return Err(error(StatusCode::GONE, &format!("the upload expired: not finished within {expiry_s} s")));
    }
    let block_num: u64 = query_param(parts, "blockNum")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "blockNum is missing or not a number"))?;
    // `--block-ack 200`: the PUT page's status table lists only 200.
    let ack = |usual: StatusCode| match shared.faults().block_ack {
        200 => StatusCode::OK,
        _ => usual,
    };
    match shared.store.put_block(clip_id, block_num, body, shared.config.max_block_bytes, now_ms()) {
        Ok(BlockOutcome::Stored) => Ok(empty_response(ack(StatusCode::ACCEPTED))),
        Ok(BlockOutcome::Committed) => Ok(empty_response(ack(StatusCode::CREATED))),
        Err(BlockError::NotFound) => Err(error(StatusCode::NOT_FOUND, "no such upload")),
        Err(BlockError::BadParameter(why)) => Err(error(StatusCode::BAD_REQUEST, &why)),
    }
}

/// `me` or `xuid(N)`.
fn owner_xuid(owner: &str, caller: &Claims) -> Option<String> {
    if owner == "me" {
        return caller.xuid.clone();
    }
    owner.strip_prefix("xuid(")?.strip_suffix(')').map(str::to_string)
}

/// A clip the caller may see: 404 when it does not exist, is flagged (unless the caller is
/// enforcement), or is visible to its owner only.
fn visible_clip(shared: &Shared, claims: &Claims, path: &ClipPath) -> Result<ClipRecord, HttpResponse> {
    let owner = owner_xuid(&path.owner, claims).ok_or_else(not_found)?;
    let clip = shared
        .store
        .clip(&path.clip_id)
        .filter(|c| c.owner_xuid == owner && c.scid == path.scid)
        .ok_or_else(not_found)?;
    let caller_is_owner = claims.xuid.as_deref() == Some(owner.as_str());
    if clip.meta.visibility == "Owner" && !caller_is_owner {
        return Err(not_found());
    }
    if !claims.enforcement && shared.store.social(&clip.id).flagged {
        return Err(not_found());
    }
    Ok(clip)
}

/// A clip the caller may change. The path says `me`, so the clip is found by id: 404 when the caller
/// cannot see it, 403 when they can but it is not theirs.
fn own_clip(shared: &Shared, claims: &Claims, path: &ClipPath) -> Result<ClipRecord, HttpResponse> {
    let clip = shared.store.clip(&path.clip_id).filter(|c| c.scid == path.scid).ok_or_else(not_found)?;
    let visible_path = ClipPath { owner: format!("xuid({})", clip.owner_xuid), ..path.clone() };
    let clip = visible_clip(shared, claims, &visible_path)?;
    let path_names_caller = owner_xuid(&path.owner, claims) == claims.xuid;
    if !path_names_caller || claims.xuid.as_deref() != Some(clip.owner_xuid.as_str()) {
        return Err(error(StatusCode::FORBIDDEN, "only the clip's owner may change or delete it"));
    }
    Ok(clip)
}

fn get_clip(shared: &Shared, parts: &Parts, path: &ClipPath, base: &str) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = visible_clip(shared, &claims, path)?;
    Ok(json_response(StatusCode::OK, &json!({ "gameClip": game_clip(shared, base, &clip) })))
}

/// UpdateMetadataRequest. Unknown members are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct UpdateMetadataRequest {
    user_caption: Option<String>,
    visibility: Option<String>,
    title_data: Option<String>,
}

fn update_metadata(shared: &Shared, parts: &Parts, path: &ClipPath, body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = own_clip(shared, &claims, path)?;
    let request: UpdateMetadataRequest = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("body is not an UpdateMetadataRequest: {e}")))?;
    // Every field is checked before anything changes: one invalid field fails the whole update.
    if request.user_caption.as_ref().is_some_and(|c| c.chars().count() > MAX_CAPTION_CHARS) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("userCaption is longer than {MAX_CAPTION_CHARS} characters"),
        ));
    }
    if let Some(visibility) = &request.visibility {
        if !VISIBILITIES.contains(&visibility.as_str()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("visibility: {visibility:?} is not one of {}", VISIBILITIES.join(", ")),
            ));
        }
    }
    if request.title_data.as_ref().is_some_and(|t| t.len() > MAX_TITLE_DATA_BYTES) {
        return Err(error(StatusCode::BAD_REQUEST, &format!("titleData is larger than {MAX_TITLE_DATA_BYTES} bytes")));
    }
    let change = MetadataChange {
        user_caption: request.user_caption,
        visibility: request.visibility,
        title_data: request.title_data,
    };
    shared.store.update_metadata(&clip.id, &change, now_ms());
    Ok(empty_response(StatusCode::OK))
}

fn delete_clip(shared: &Shared, parts: &Parts, path: &ClipPath) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = own_clip(shared, &claims, path)?;
    shared.store.delete_clip(&clip.id);
    Ok(empty_response(StatusCode::NO_CONTENT))
}

fn rate(shared: &Shared, parts: &Parts, path: &ClipPath, rating: &str) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let rating = rating
        .parse::<u8>()
        .ok()
        .filter(|r| (1..=5).contains(r))
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, &format!("rating {rating:?} is not 1..5")))?;
    let clip = visible_clip(shared, &claims, path)?;
    shared.store.rate(&clip.id, claims.xuid.as_deref().unwrap_or_default(), rating);
    Ok(empty_response(StatusCode::OK))
}

fn flag(shared: &Shared, parts: &Parts, path: &ClipPath) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = visible_clip(shared, &claims, path)?;
    shared.store.flag(&clip.id, claims.xuid.as_deref().unwrap_or_default());
    Ok(empty_response(StatusCode::OK))
}

fn view(shared: &Shared, parts: &Parts, path: &ClipPath) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = visible_clip(shared, &claims, path)?;
    shared.store.add_view(&clip.id);
    Ok(empty_response(StatusCode::OK))
}

/// Continuation tokens are opaque to clients; here they carry the offset of the next page.
fn continuation_token(skip: u64) -> String {
    format!("p{skip:x}")
}

fn parse_continuation_token(token: &str) -> Option<u64> {
    u64::from_str_radix(token.strip_prefix('p')?, 16).ok()
}

fn list_clips(
    shared: &Shared,
    parts: &Parts,
    owner: &str,
    scid: Option<String>,
    base: &str,
) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let owner =
        owner_xuid(owner, &claims).ok_or_else(|| error(StatusCode::BAD_REQUEST, "owner is not me or xuid(N)"))?;
    let number = |name: &str| -> Result<Option<u64>, HttpResponse> {
        query_param(parts, name)
            .map(|v| v.parse::<u64>().map_err(|_| error(StatusCode::BAD_REQUEST, &format!("{name} is not a number"))))
            .transpose()
    };
    let max = number("maxItems")?.filter(|&n| n > 0).unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let skip = match query_param(parts, "continuationToken").filter(|t| !t.is_empty()) {
        Some(token) => parse_continuation_token(token)
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, "continuationToken is not one this service issued"))?,
        None => number("skipItems")?.unwrap_or(0),
    };
    let query = ListQuery {
        caller_is_owner: claims.xuid.as_deref() == Some(owner.as_str()),
        owner_xuid: owner,
        scid,
        include_flagged: claims.enforcement,
        qualifier: query_param(parts, "qualifier").unwrap_or("created").to_ascii_lowercase(),
        ascending: query_param(parts, "order") == Some("A"),
        skip,
        max,
    };
    let (page, total) = shared.store.list_clips(&query);
    let next = skip + page.len() as u64;
    let token = if next < total { json!(continuation_token(next)) } else { Value::Null };
    let clips: Vec<Value> = page.iter().map(|clip| game_clip(shared, base, clip)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "gameClips": clips, "pagingInfo": { "continuationToken": token, "totalItems": total } }),
    ))
}

/// The image types a thumbnail may be, recognised by their first bytes.
fn image_type(image: &[u8]) -> Option<&'static str> {
    if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

fn put_thumbnail(
    shared: &Shared,
    parts: &Parts,
    clip_id: &str,
    kind: &str,
    body: &[u8],
) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = upload_target(shared, &claims, clip_id)?;
    if !matches!(kind, "large" | "small") {
        return Err(error(StatusCode::NOT_FOUND, "thumbnails are large or small"));
    }
    if clip.meta.thumbnail_source != "Upload" {
        return Err(error(StatusCode::BAD_REQUEST, "this clip was created without thumbnailSource Upload"));
    }
    let content_type =
        image_type(body).ok_or_else(|| error(StatusCode::BAD_REQUEST, "a thumbnail must be a JPEG or PNG image"))?;
    shared
        .store
        .put_thumbnail(clip_id, kind, body, content_type)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot store the thumbnail: {e}")))?;
    Ok(empty_response(StatusCode::CREATED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip() {
        assert_eq!(parse_continuation_token(&continuation_token(250)), Some(250));
        assert_eq!(parse_continuation_token("garbage"), None);
    }
}
