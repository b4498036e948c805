//! Routing and the handlers of the service's endpoints and the admin endpoints. Handlers are plain
//! synchronous functions: the server runs them on the blocking pool with the whole body in hand.

// Handlers answer early with `Err(response)`; a response is big, but one per request costs nothing here.
#![allow(clippy::result_large_err)]

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::faults::Faults;
use crate::server::Shared;
use crate::store::{BlockError, BlockOutcome, ClipRecord};
use crate::token::{self, Claims};
use crate::wire::{service_error, InitialUploadRequest, MAX_BLOCK_SIZE};

pub type HttpResponse = Response<Full<Bytes>>;

/// The largest request body any endpoint takes: one block, or a JSON document well under it.
pub const MAX_BODY: usize = MAX_BLOCK_SIZE as usize;

#[derive(Debug, Clone)]
pub enum Route {
    CreateClip { scid: String },
    PutBlock { clip_id: String },
    GetClip { owner: String, scid: String, clip_id: String },
    AdminClip { clip_id: String },
    AdminStats,
    AdminFaults,
    Unknown,
}

impl Route {
    pub fn parse(method: &Method, path: &str) -> Route {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (&Method::POST, ["users", "me", "scids", scid, "clips"]) => Route::CreateClip { scid: scid.to_string() },
            (&Method::PUT, ["upload", clip_id]) => Route::PutBlock { clip_id: clip_id.to_string() },
            (&Method::GET, ["users", owner, "scids", scid, "clips", clip_id]) => {
                Route::GetClip { owner: owner.to_string(), scid: scid.to_string(), clip_id: clip_id.to_string() }
            }
            (&Method::GET, ["_emulator", "clips", clip_id]) => Route::AdminClip { clip_id: clip_id.to_string() },
            (&Method::GET, ["_emulator", "stats"]) => Route::AdminStats,
            (&Method::PUT, ["_emulator", "faults"]) => Route::AdminFaults,
            _ => Route::Unknown,
        }
    }

    /// The name requests are counted under in the stats.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Route::CreateClip { .. } => "create_clip",
            Route::PutBlock { .. } => "put_block",
            Route::GetClip { .. } => "get_clip",
            Route::AdminClip { .. } => "admin_clip",
            Route::AdminStats => "admin_stats",
            Route::AdminFaults => "admin_faults",
            Route::Unknown => "unknown",
        }
    }

    /// Faults hit the service's calls, never the admin endpoints.
    pub fn is_service_call(&self) -> bool {
        !matches!(self, Route::AdminClip { .. } | Route::AdminStats | Route::AdminFaults)
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn empty_response(status: StatusCode) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    json_response(status, &service_error(status.as_u16() as i32, message))
}

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

pub fn handle(shared: &Shared, route: Route, parts: &Parts, body: &[u8]) -> HttpResponse {
    let result = match route {
        Route::CreateClip { scid } => create_clip(shared, parts, &scid, body),
        Route::PutBlock { clip_id } => put_block(shared, parts, &clip_id, body),
        Route::GetClip { owner, scid, clip_id } => get_clip(shared, parts, &owner, &scid, &clip_id),
        Route::AdminClip { clip_id } => admin_clip(shared, &clip_id),
        Route::AdminStats => Ok(json_response(StatusCode::OK, &shared.stats.to_json())),
        Route::AdminFaults => set_faults(shared, body),
        Route::Unknown => Err(error(StatusCode::NOT_FOUND, "no such endpoint")),
    };
    result.unwrap_or_else(|response| response)
}

fn create_clip(shared: &Shared, parts: &Parts, scid: &str, body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    if let Some(why) = claims.upload_refusal() {
        return Err(error(StatusCode::FORBIDDEN, &why));
    }
    if !shared.config.scids.is_empty() && !shared.config.scids.iter().any(|known| known == scid) {
        return Err(error(StatusCode::NOT_FOUND, &format!("unknown scid {scid}")));
    }
    let request: InitialUploadRequest = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("body is not an InitialUploadRequest: {e}")))?;
    let clip = request.validate().map_err(|why| error(StatusCode::BAD_REQUEST, &why))?;
    let id = uuid::Uuid::new_v4().to_string();
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    let owner = claims.xuid.as_deref().unwrap_or_default();
    shared.store.create_clip(&id, owner, scid, &upload_id, &clip, now_ms());
    let base = &shared.base_url;
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

fn put_block(shared: &Shared, parts: &Parts, clip_id: &str, body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let clip = shared.store.clip(clip_id).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such upload"))?;
    if claims.xuid.as_deref() != Some(clip.owner_xuid.as_str()) {
        return Err(error(StatusCode::FORBIDDEN, "this upload belongs to another user"));
    }
    if query_param(parts, "uploadId") != Some(clip.upload_id.as_str()) {
        return Err(error(StatusCode::BAD_REQUEST, "uploadId is missing or does not match"));
    }
    let block_num: u64 = query_param(parts, "blockNum")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "blockNum is missing or not a number"))?;
    match shared.store.put_block(clip_id, block_num, body, now_ms()) {
        Ok(BlockOutcome::Stored) => Ok(empty_response(StatusCode::ACCEPTED)),
        Ok(BlockOutcome::Committed) => Ok(empty_response(StatusCode::CREATED)),
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

fn get_clip(
    shared: &Shared,
    parts: &Parts,
    owner: &str,
    scid: &str,
    clip_id: &str,
) -> Result<HttpResponse, HttpResponse> {
    let claims = authenticate(parts)?;
    let not_found = || error(StatusCode::NOT_FOUND, "no such clip");
    let owner = owner_xuid(owner, &claims).ok_or_else(not_found)?;
    let clip = shared.store.clip(clip_id).filter(|c| c.owner_xuid == owner && c.scid == scid).ok_or_else(not_found)?;
    let caller_is_owner = claims.xuid.as_deref() == Some(owner.as_str());
    if clip.meta.visibility == "Owner" && !caller_is_owner {
        return Err(not_found());
    }
    Ok(json_response(StatusCode::OK, &json!({ "gameClip": game_clip(shared, &clip) })))
}

/// The service-side state: stored until commit, then derived from the commit time so that it advances
/// (and survives restarts) without background work.
fn clip_state(shared: &Shared, clip: &ClipRecord) -> &'static str {
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

fn game_clip(shared: &Shared, clip: &ClipRecord) -> Value {
    let state = clip_state(shared, clip);
    let meta = &clip.meta;
    let uris = if state == "Published" {
        json!([{ "uri": format!("{}/download/{}", shared.base_url, clip.id), "fileSize": meta.file_size,
                 "uriType": "Download", "expiration": "9999-12-31T23:59:59Z" }])
    } else {
        json!([])
    };
    json!({
        "gameClipId": clip.id,
        "state": state,
        "dateRecorded": meta.date_recorded,
        "lastModified": meta.date_recorded,
        "userCaption": meta.user_caption,
        "type": meta.clip_type,
        "source": meta.source,
        "visibility": meta.visibility,
        "durationInSeconds": meta.duration_seconds,
        "scid": clip.scid,
        "rating": 0.0,
        "ratingCount": 0,
        "views": 0,
        "titleData": meta.title_data,
        "systemProperties": meta.system_properties,
        "thumbnails": [],
        "gameClipUris": uris,
        "xuid": clip.owner_xuid,
        "clipName": meta.greatest_moment_id,
        "titleName": "Emulated Title",
        "titleId": 1234567890,
        "savedByUser": meta.saved_by_user,
        "greatestMomentId": meta.greatest_moment_id,
    })
}

fn admin_clip(shared: &Shared, clip_id: &str) -> Result<HttpResponse, HttpResponse> {
    let clip = shared.store.clip(clip_id).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such clip"))?;
    let counts = shared.store.block_counts(&clip);
    let received = counts.iter().filter(|&&n| n > 0).count();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "gameClipId": clip.id,
            "owner": clip.owner_xuid,
            "scid": clip.scid,
            "state": clip_state(shared, &clip),
            "fileSize": clip.meta.file_size,
            "blockSize": clip.block_size,
            "expectedBlocks": clip.meta.expected_blocks,
            "receivedBlocks": received,
            "blockReceiveCounts": counts,
            "sha256": clip.sha256,
            "error": clip.failed,
        }),
    ))
}

fn set_faults(shared: &Shared, body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let faults: Faults = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("body is not a fault set: {e}")))?;
    *shared.faults.write().unwrap_or_else(|p| p.into_inner()) = faults.clone();
    Ok(json_response(StatusCode::OK, &serde_json::to_value(faults).expect("faults serialize")))
}
