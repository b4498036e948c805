//! The emulator's own endpoints under `/_emulator/`, and the dashboard at `/`. None is ever faulted or
//! put in the request log: the dashboard watching the service must not change what it sees.
//!
//! The dashboard ([`crate::dashboard`]) reads the endpoints below and refreshes when
//! `GET /_emulator/events` (server-sent events) says something moved.

// Handlers answer early with `Err(response)`, as in `api`.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use crate::access::{AdminAccess, ADMIN_COOKIE};
use crate::body::ResponseBody;
use crate::clock::now_ms;
use crate::dashboard::asset;
use crate::downloads::{download, get_thumbnail};
use crate::faults::Faults;
use crate::render::{clip_state, game_clip};
use crate::response::{empty_response, error, json_response, HttpResponse};
use crate::routes::AdminRoute;
use crate::shared::Shared;
use crate::store::ClipRecord;
use crate::token::{self, MintRequest};

/// The most clips the dashboard's list holds (the newest).
const LISTED_CLIPS: u64 = 200;
/// How often the event stream looks for changes, and how often it says it is alive when nothing moves.
const EVENT_POLL: Duration = Duration::from_millis(200);
const EVENT_KEEPALIVE: Duration = Duration::from_secs(15);

pub fn handle(
    shared: &Arc<Shared>,
    route: AdminRoute,
    parts: &Parts,
    body: &[u8],
    base: &str,
) -> Result<HttpResponse, HttpResponse> {
    match route {
        AdminRoute::Asset(name) => Ok(asset(name)),
        AdminRoute::Clips => {
            let (clips, total) = shared.store.newest_clips(LISTED_CLIPS);
            let clips: Vec<Value> = clips.iter().map(|clip| clip_view(shared, base, clip)).collect();
            Ok(json_response(StatusCode::OK, &json!({ "total": total, "clips": clips })))
        }
        AdminRoute::Clip { clip_id } => {
            let clip = shared.store.clip(&clip_id).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such clip"))?;
            Ok(json_response(StatusCode::OK, &clip_view(shared, base, &clip)))
        }
        AdminRoute::Thumbnail { clip_id, kind } => get_thumbnail(shared, &clip_id, &kind),
        AdminRoute::Video { clip_id } => download(shared, parts, &clip_id),
        AdminRoute::Stats => Ok(json_response(StatusCode::OK, &shared.stats.to_json())),
        AdminRoute::GetFaults => Ok(json_response(StatusCode::OK, &faults_json(&shared.faults()))),
        AdminRoute::SetFaults => {
            let faults: Faults = serde_json::from_slice(body)
                .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("body is not a fault set: {e}")))?;
            shared.replace_faults(faults.clone());
            Ok(json_response(StatusCode::OK, &faults_json(&faults)))
        }
        AdminRoute::Requests => Ok(json_response(StatusCode::OK, &shared.requests.to_json())),
        AdminRoute::Timeline => Ok(json_response(StatusCode::OK, &shared.stats.timeline_json())),
        AdminRoute::Events => Ok(events(shared.clone())),
        AdminRoute::MintToken => mint_token(body),
    }
}

/// The answer to a caller the admin policy refuses ([`crate::access`]). The dashboard's page says why
/// and, where the operator set an admin token, asks for it (a plain form, no script): the right one
/// comes back as a cookie and the page reloads.
pub fn refused(access: &AdminAccess, route: &AdminRoute, query: Option<&str>) -> HttpResponse {
    const WHY: &str = "the emulator's dashboard and admin endpoints answer loopback only, unless its \
                       operator allows more (--admin-from CIDR, --admin-token)";
    if !matches!(route, AdminRoute::Asset("index.html")) {
        return error(StatusCode::FORBIDDEN, WHY);
    }
    let offered = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("admin_token=")));
    if let (Some(offered), Some(token)) = (offered, &access.token) {
        if offered == token {
            let mut response = empty_response(StatusCode::SEE_OTHER);
            let headers = response.headers_mut();
            headers.insert(LOCATION, HeaderValue::from_static("./"));
            let cookie = format!("{ADMIN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            headers.insert(SET_COOKIE, HeaderValue::from_str(&cookie).expect("admin tokens are checked plain"));
            return response;
        }
    }
    let form = match access.token {
        Some(_) => {
            "<form method=\"get\" action=\"./\"><label>Admin token <input type=\"password\" \
             name=\"admin_token\" autofocus></label> <button>Open the dashboard</button></form>"
        }
        None => "",
    };
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>gameclips emulator</title>\
         <h1>gameclips emulator</h1><p>Refused: {WHY}.</p>{form}"
    );
    let mut response = Response::new(ResponseBody::whole(page));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn faults_json(faults: &Faults) -> Value {
    serde_json::to_value(faults).expect("faults serialize")
}

/// What the emulator knows of a clip: the upload's progress (how many times each block arrived, the
/// sha256 once committed) and, under `service`, the clip as the service's GET answers it.
fn clip_view(shared: &Shared, base: &str, clip: &ClipRecord) -> Value {
    let counts = shared.store.block_counts(clip);
    let received = counts.iter().filter(|&&n| n > 0).count();
    json!({
        "gameClipId": clip.id,
        "owner": clip.owner_xuid,
        "scid": clip.scid,
        "state": clip_state(shared, clip),
        "fileSize": clip.meta.file_size,
        "blockSize": clip.block_size,
        "expectedBlocks": clip.meta.expected_blocks,
        "receivedBlocks": received,
        "blockReceiveCounts": counts,
        "sha256": clip.sha256,
        "error": clip.failed,
        "createdAtMs": clip.created_at_ms,
        "committedAtMs": clip.committed_at_ms,
        "service": game_clip(shared, base, clip),
    })
}

fn mint_token(body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let request: MintRequest = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("body is not a token request: {e}")))?;
    let claims = request.claims(now_ms() / 1000).map_err(|why| error(StatusCode::BAD_REQUEST, &why))?;
    let value = token::mint(&claims);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "token": value, "fingerprint": token::fingerprint(&value), "claims": claims }),
    ))
}

/// Server-sent events: one `change` event at once and then whenever requests were logged or the fault
/// settings changed, carrying both counters, so the page fetches only what moved.
fn events(shared: Arc<Shared>) -> HttpResponse {
    let (sender, chunks) = tokio::sync::mpsc::channel(4);
    // Handlers run on the blocking pool, inside the runtime: the stream gets a task of its own.
    tokio::runtime::Handle::current().spawn(async move {
        let mut sent = None;
        let mut quiet_since = tokio::time::Instant::now();
        loop {
            let now = (shared.requests.logged(), shared.faults_version());
            let message = if sent != Some(now) {
                sent = Some(now);
                format!("event: change\ndata: {{\"requests\":{},\"faults\":{}}}\n\n", now.0, now.1)
            } else if quiet_since.elapsed() >= EVENT_KEEPALIVE {
                ": alive\n\n".to_string()
            } else if sender.is_closed() {
                return; // the page went away
            } else {
                tokio::time::sleep(EVENT_POLL).await;
                continue;
            };
            quiet_since = tokio::time::Instant::now();
            if sender.send(Ok(Bytes::from(message))).await.is_err() {
                return; // the page went away
            }
        }
    });
    let mut response = Response::new(ResponseBody::Streamed { chunks, len: None });
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
