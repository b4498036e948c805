//! The emulator's own endpoints under `/_emulator/`, and the dashboard at `/`. None is ever faulted or
//! put in the request log: the dashboard watching the service must not change what it sees.
//!
//! The dashboard is three files built into the binary (`emulator/dashboard/`): nothing is fetched from
//! the network and no JavaScript toolchain is needed. It reads the endpoints below and refreshes when
//! `GET /_emulator/events` (server-sent events) says something moved.

// Handlers answer early with `Err(response)`, as in `api`.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::access::{AdminAccess, ADMIN_COOKIE};
use crate::api::{self, json_response, HttpResponse};
use crate::body::ResponseBody;
use crate::faults::Faults;
use crate::server::Shared;
use crate::store::ClipRecord;
use crate::token::{self, MintRequest};

/// The most clips the dashboard's list holds (the newest).
const LISTED_CLIPS: u64 = 200;
/// How often the event stream looks for changes, and how often it says it is alive when nothing moves.
const EVENT_POLL: Duration = Duration::from_millis(200);
const EVENT_KEEPALIVE: Duration = Duration::from_secs(15);

/// The dashboard's files: name, content type, text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../dashboard/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../dashboard/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../dashboard/app.css")),
];

/// Only this origin: the page loads nothing from anywhere else.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'";

#[derive(Debug, Clone)]
pub enum AdminRoute {
    /// `GET /` and `GET /_emulator/dashboard/{file}`.
    Asset(&'static str),
    Clips,
    Clip {
        clip_id: String,
    },
    Thumbnail {
        clip_id: String,
        kind: String,
    },
    /// A Published clip's bytes, with Range, for the dashboard's player.
    Video {
        clip_id: String,
    },
    Stats,
    GetFaults,
    SetFaults,
    Requests,
    Timeline,
    Events,
    MintToken,
}

impl AdminRoute {
    pub fn parse(method: &Method, segments: &[&str]) -> Option<AdminRoute> {
        let asset = |name: &str| ASSETS.iter().find(|(known, ..)| *known == name).map(|(known, ..)| *known);
        Some(match (method, segments) {
            (&Method::GET, [""]) => AdminRoute::Asset("index.html"),
            (&Method::GET, ["_emulator", "dashboard", name]) => AdminRoute::Asset(asset(name)?),
            (&Method::GET, ["_emulator", "clips"]) => AdminRoute::Clips,
            (&Method::GET, ["_emulator", "clips", id]) => AdminRoute::Clip { clip_id: id.to_string() },
            (&Method::GET, ["_emulator", "clips", id, "thumbnails", kind]) => {
                AdminRoute::Thumbnail { clip_id: id.to_string(), kind: kind.to_string() }
            }
            (&Method::GET, ["_emulator", "clips", id, "video"]) => AdminRoute::Video { clip_id: id.to_string() },
            (&Method::GET, ["_emulator", "stats"]) => AdminRoute::Stats,
            (&Method::GET, ["_emulator", "faults"]) => AdminRoute::GetFaults,
            (&Method::PUT, ["_emulator", "faults"]) => AdminRoute::SetFaults,
            (&Method::GET, ["_emulator", "requests"]) => AdminRoute::Requests,
            (&Method::GET, ["_emulator", "timeline"]) => AdminRoute::Timeline,
            (&Method::GET, ["_emulator", "events"]) => AdminRoute::Events,
            (&Method::POST, ["_emulator", "tokens"]) => AdminRoute::MintToken,
            _ => return None,
        })
    }

    /// The name requests are counted under in the stats.
    pub fn endpoint(&self) -> &'static str {
        match self {
            AdminRoute::Asset(_) => "dashboard",
            AdminRoute::Clips | AdminRoute::Clip { .. } => "admin_clip",
            AdminRoute::Thumbnail { .. } | AdminRoute::Video { .. } => "admin_media",
            AdminRoute::Stats => "admin_stats",
            AdminRoute::GetFaults | AdminRoute::SetFaults => "admin_faults",
            AdminRoute::Requests => "admin_requests",
            AdminRoute::Timeline => "admin_timeline",
            AdminRoute::Events => "admin_events",
            AdminRoute::MintToken => "admin_tokens",
        }
    }
}

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
            let clip = shared.store.clip(&clip_id).ok_or_else(|| api::error(StatusCode::NOT_FOUND, "no such clip"))?;
            Ok(json_response(StatusCode::OK, &clip_view(shared, base, &clip)))
        }
        AdminRoute::Thumbnail { clip_id, kind } => api::get_thumbnail(shared, &clip_id, &kind),
        AdminRoute::Video { clip_id } => api::download(shared, parts, &clip_id),
        AdminRoute::Stats => Ok(json_response(StatusCode::OK, &shared.stats.to_json())),
        AdminRoute::GetFaults => Ok(json_response(StatusCode::OK, &faults_json(&shared.faults()))),
        AdminRoute::SetFaults => {
            let faults: Faults = serde_json::from_slice(body)
                .map_err(|e| api::error(StatusCode::BAD_REQUEST, &format!("body is not a fault set: {e}")))?;
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
        return api::error(StatusCode::FORBIDDEN, WHY);
    }
    let offered = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("admin_token=")));
    if let (Some(offered), Some(token)) = (offered, &access.token) {
        if offered == token {
            let mut response = api::empty_response(StatusCode::SEE_OTHER);
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

fn asset(name: &str) -> HttpResponse {
    let (_, content_type, text) =
        ASSETS.iter().find(|(known, ..)| *known == name).expect("parse finds only known files");
    let mut response = Response::new(ResponseBody::whole(*text));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("content-security-policy", HeaderValue::from_static(CONTENT_SECURITY_POLICY));
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
        "state": api::clip_state(shared, clip),
        "fileSize": clip.meta.file_size,
        "blockSize": clip.block_size,
        "expectedBlocks": clip.meta.expected_blocks,
        "receivedBlocks": received,
        "blockReceiveCounts": counts,
        "sha256": clip.sha256,
        "error": clip.failed,
        "createdAtMs": clip.created_at_ms,
        "committedAtMs": clip.committed_at_ms,
        "service": api::game_clip(shared, base, clip),
    })
}

fn mint_token(body: &[u8]) -> Result<HttpResponse, HttpResponse> {
    let request: MintRequest = serde_json::from_slice(body)
        .map_err(|e| api::error(StatusCode::BAD_REQUEST, &format!("body is not a token request: {e}")))?;
    let claims = request.claims(api::now_ms() / 1000).map_err(|why| api::error(StatusCode::BAD_REQUEST, &why))?;
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
