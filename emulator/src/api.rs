//! Routing and the handlers of the service's endpoints and the admin endpoints. Handlers are plain
//! synchronous functions: the server runs them on the blocking pool with the whole body in hand.

// Handlers answer early with `Err(response)`; a response is big, but one per request costs nothing here.
#![allow(clippy::result_large_err)]

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{HeaderValue, ACCEPT_RANGES, AUTHORIZATION, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::AdminRoute;
use crate::body::ResponseBody;
use crate::server::Shared;
use crate::store::{BlockError, BlockOutcome, ClipRecord, ListQuery, MetadataChange};
use crate::token::{self, Claims};
use crate::wire::{
    service_error, InitialUploadRequest, MAX_BLOCK_SIZE, MAX_CAPTION_CHARS, MAX_TITLE_DATA_BYTES, VISIBILITIES,
};

pub type HttpResponse = Response<ResponseBody>;

/// The largest request body any endpoint takes: one block, or a JSON document well under it.
pub const MAX_BODY: usize = MAX_BLOCK_SIZE as usize;
/// The errorCode of a quota refusal (a 400, as the service documents it).
pub const QUOTA_ERROR_CODE: i32 = 1013;
/// List pages: the default and the most one page holds.
const DEFAULT_PAGE: u64 = 25;
const MAX_PAGE: u64 = 100;
/// Download chunks streamed from disk.
const DOWNLOAD_CHUNK: usize = 256 * 1024;

/// A clip as addressed under `/users/{owner}/scids/{scid}/clips/{id}`.
#[derive(Debug, Clone)]
pub struct ClipPath {
    pub owner: String,
    pub scid: String,
    pub clip_id: String,
}

#[derive(Debug, Clone)]
pub enum Route {
    CreateClip {
        scid: String,
    },
    PutBlock {
        clip_id: String,
    },
    GetClip(ClipPath),
    UpdateMetadata(ClipPath),
    DeleteClip(ClipPath),
    Rate(ClipPath, String),
    Flag(ClipPath),
    View(ClipPath),
    ListClips {
        owner: String,
        scid: Option<String>,
    },
    PutThumbnail {
        clip_id: String,
        kind: String,
    },
    GetThumbnail {
        clip_id: String,
        kind: String,
    },
    Download {
        clip_id: String,
    },
    /// The emulator's own endpoints and the dashboard: never faulted, never in the request log.
    Admin(AdminRoute),
    Unknown,
}

impl Route {
    pub fn parse(method: &Method, path: &str) -> Route {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let clip = |owner: &str, scid: &str, id: &str| ClipPath {
            owner: owner.to_string(),
            scid: scid.to_string(),
            clip_id: id.to_string(),
        };
        match (method, segments.as_slice()) {
            (&Method::POST, ["users", "me", "scids", scid, "clips"]) => Route::CreateClip { scid: scid.to_string() },
            (&Method::PUT, ["upload", clip_id]) => Route::PutBlock { clip_id: clip_id.to_string() },
            (&Method::PUT, ["moved", "upload", clip_id]) => Route::PutBlock { clip_id: clip_id.to_string() },
            (&Method::GET, ["users", o, "scids", s, "clips", id]) => Route::GetClip(clip(o, s, id)),
            (&Method::POST, ["users", o, "scids", s, "clips", id]) => Route::UpdateMetadata(clip(o, s, id)),
            (&Method::DELETE, ["users", o, "scids", s, "clips", id]) => Route::DeleteClip(clip(o, s, id)),
            (&Method::POST, ["users", o, "scids", s, "clips", id, "ratings", n]) => {
                Route::Rate(clip(o, s, id), n.to_string())
            }
            (&Method::POST, ["users", o, "scids", s, "clips", id, "flag"]) => Route::Flag(clip(o, s, id)),
            (&Method::POST, ["users", o, "scids", s, "clips", id, "views"]) => Route::View(clip(o, s, id)),
            (&Method::GET, ["users", o, "clips"]) => Route::ListClips { owner: o.to_string(), scid: None },
            (&Method::GET, ["users", o, "scids", s, "clips"]) => {
                Route::ListClips { owner: o.to_string(), scid: Some(s.to_string()) }
            }
            (&Method::PUT, ["thumbnails", id, kind]) => {
                Route::PutThumbnail { clip_id: id.to_string(), kind: kind.to_string() }
            }
            (&Method::GET, ["thumbnails", id, kind]) => {
                Route::GetThumbnail { clip_id: id.to_string(), kind: kind.to_string() }
            }
            (&Method::GET, ["download", id]) => Route::Download { clip_id: id.to_string() },
            _ => AdminRoute::parse(method, &segments).map_or(Route::Unknown, Route::Admin),
        }
    }

    /// The name requests are counted under in the stats.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Route::CreateClip { .. } => "create_clip",
            Route::PutBlock { .. } => "put_block",
            Route::GetClip(_) => "get_clip",
            Route::UpdateMetadata(_) => "update_metadata",
            Route::DeleteClip(_) => "delete_clip",
            Route::Rate(..) => "rate",
            Route::Flag(_) => "flag",
            Route::View(_) => "view",
            Route::ListClips { .. } => "list_clips",
            Route::PutThumbnail { .. } => "put_thumbnail",
            Route::GetThumbnail { .. } => "get_thumbnail",
            Route::Download { .. } => "download",
            Route::Admin(admin) => admin.endpoint(),
            Route::Unknown => "unknown",
        }
    }

    /// Faults hit the service's calls, never the admin endpoints.
    pub fn is_service_call(&self) -> bool {
        !matches!(self, Route::Admin(_))
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = Response::new(ResponseBody::whole(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn empty_response(status: StatusCode) -> HttpResponse {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

pub(crate) fn error(status: StatusCode, message: &str) -> HttpResponse {
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

/// Answers one request; `base` is what URLs in the answer start with (see [`crate::public_url`]).
pub fn handle(shared: &Arc<Shared>, route: Route, parts: &Parts, body: &[u8], base: &str) -> HttpResponse {
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
        Route::Admin(admin) => crate::admin::handle(shared, admin, parts, body, base),
        Route::Unknown => Err(error(StatusCode::NOT_FOUND, "no such endpoint")),
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

pub(crate) fn not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "no such clip")
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

pub(crate) fn get_thumbnail(shared: &Shared, clip_id: &str, kind: &str) -> Result<HttpResponse, HttpResponse> {
    let thumbnail = shared
        .store
        .thumbnails(clip_id)
        .into_iter()
        .find(|t| t.kind == kind)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such thumbnail"))?;
    let image = std::fs::read(shared.store.thumbnail_path(clip_id, kind)).map_err(|_| not_found())?;
    let mut response = Response::new(ResponseBody::whole(image));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&thumbnail.content_type).unwrap_or(HeaderValue::from_static("image/jpeg")),
    );
    Ok(response)
}

/// The byte range a `Range` header asks for within `size` bytes: `None` for the whole file, `Err` when
/// it cannot be satisfied (one range of the `bytes` unit is supported; anything else is refused too,
/// so a client's mistake shows instead of silently getting the whole file).
fn requested_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(header) = header else { return Ok(None) };
    let spec = header.trim().strip_prefix("bytes=").ok_or(())?;
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().map_err(|_| ())?;
            if suffix == 0 {
                return Err(());
            }
            (size.saturating_sub(suffix), size.checked_sub(1).ok_or(())?)
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.checked_sub(1).ok_or(())?),
        (start, end) => {
            (start.parse().map_err(|_| ())?, end.parse::<u64>().map_err(|_| ())?.min(size.saturating_sub(1)))
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// GameClipUri downloads: capability URIs, so no Authorization is needed; only Published clips, and
/// never flagged ones.
pub(crate) fn download(shared: &Shared, parts: &Parts, clip_id: &str) -> Result<HttpResponse, HttpResponse> {
    let clip = shared.store.clip(clip_id).ok_or_else(not_found)?;
    if clip_state(shared, &clip) != "Published" || shared.store.social(clip_id).flagged {
        return Err(error(StatusCode::NOT_FOUND, "no published clip with this id"));
    }
    let size = clip.meta.file_size;
    let range_header = parts.headers.get(RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match requested_range(range_header, size) {
        Ok(None) => (StatusCode::OK, 0, size - 1),
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Err(()) => {
            let mut response = error(StatusCode::RANGE_NOT_SATISFIABLE, "the requested range is not satisfiable");
            response
                .headers_mut()
                .insert(CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii header"));
            return Err(response);
        }
    };
    let mut file = File::open(shared.store.blob_path(clip_id)).map_err(|_| not_found())?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start))
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    let len = end - start + 1;
    let (sender, chunks) = tokio::sync::mpsc::channel(4);
    // The handler runs on the blocking pool, inside the runtime: the reader gets a blocking thread of its own.
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        let mut buf = vec![0u8; DOWNLOAD_CHUNK];
        while left > 0 {
            let want = (left as usize).min(buf.len());
            let chunk = file.read_exact(&mut buf[..want]).map(|()| Bytes::copy_from_slice(&buf[..want]));
            let failed = chunk.is_err();
            if sender.blocking_send(chunk).is_err() || failed {
                return; // the client went away, or the file could not be read
            }
            left -= want as u64;
        }
    });
    let mut response = Response::new(ResponseBody::Streamed { chunks, len: Some(len) });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{end}/{size}");
        headers.insert(CONTENT_RANGE, HeaderValue::from_str(&range).expect("ascii header"));
    }
    Ok(response)
}

/// The service-side state: stored until commit, then derived from the commit time so that it advances
/// (and survives restarts) without background work.
pub(crate) fn clip_state(shared: &Shared, clip: &ClipRecord) -> &'static str {
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

/// Unix milliseconds as ISO 8601 UTC, to the second.
fn iso8601(ms: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A clip as the service's GET answers it, its URIs under `base`.
pub(crate) fn game_clip(shared: &Shared, base: &str, clip: &ClipRecord) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_and_bad_ones_refused() {
        assert_eq!(requested_range(None, 100), Ok(None));
        assert_eq!(requested_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(requested_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(requested_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(requested_range(Some("bytes=50-500"), 100), Ok(Some((50, 99))));
        for bad in ["bytes=100-", "bytes=9-3", "bytes=-0", "items=0-1", "bytes=a-b", "bytes=0-1,5-6"] {
            assert_eq!(requested_range(Some(bad), 100), Err(()), "{bad}");
        }
    }

    #[test]
    fn continuation_tokens_round_trip() {
        assert_eq!(parse_continuation_token(&continuation_token(250)), Some(250));
        assert_eq!(parse_continuation_token("garbage"), None);
    }
}
