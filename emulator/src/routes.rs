//! Which endpoint a request is for: the service's and the emulator's own, parsed from the method and
//! path alone (nothing is read or checked here), and the names the stats count them under.

use hyper::Method;

use crate::dashboard;

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
        Some(match (method, segments) {
            (&Method::GET, [""]) => AdminRoute::Asset("index.html"),
            (&Method::GET, ["_emulator", "dashboard", name]) => AdminRoute::Asset(dashboard::known_asset(name)?),
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
