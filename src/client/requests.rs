//! What the game asks for, checked before anything is queued: an upload's request, and each clip
//! operation's call to the metadata host.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::jobs::operation::{AnswerShape, OperationKind};
use crate::jobs::retry::Idempotency;
use crate::jobs::upload::{ThumbnailKind, UploadData};
use crate::protocol::{
    check_caption, check_clip_id, check_scid, check_title_data, clip_types_wire, is_iso8601_utc, iso8601_now,
    owner_segment, percent_encode, ClipSource, InitialUploadRequest, ThumbnailSource, Visibility, MAX_FILE_SIZE,
    MAX_RATING, MIN_RATING,
};
use crate::transport::Method;

/// One clip to upload; built with [`UploadRequest::file`] or [`UploadRequest::push`], then adjusted.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub scid: String,
    pub data: UploadData,
    pub duration_seconds: u32,
    /// ISO 8601 UTC; `None`: now.
    pub date_recorded: Option<String>,
    pub greatest_moment_id: String,
    pub user_caption: String,
    pub session_ref: String,
    /// `protocol::clip_type` flags; 0: DeveloperInitiated.
    pub clip_types: u32,
    pub source: ClipSource,
    pub visibility: Visibility,
    pub title_data: String,
    pub system_properties: String,
    pub users_in_session: Vec<String>,
    pub thumbnail_source: ThumbnailSource,
    pub thumbnail_offset_ms: i32,
    /// JPEG or PNG images sent with the clip when `thumbnail_source` is `Upload` (at least one).
    pub large_thumbnail_path: Option<PathBuf>,
    pub small_thumbnail_path: Option<PathBuf>,
    pub saved_by_user: bool,
}

impl UploadRequest {
    fn with_data(scid: &str, data: UploadData) -> UploadRequest {
        UploadRequest {
            scid: scid.into(),
            data,
            duration_seconds: 0,
            date_recorded: None,
            greatest_moment_id: String::new(),
            user_caption: String::new(),
            session_ref: String::new(),
            clip_types: 0,
            source: ClipSource::TitleDirect,
            visibility: Visibility::Default,
            title_data: String::new(),
            system_properties: String::new(),
            users_in_session: Vec::new(),
            thumbnail_source: ThumbnailSource::Default,
            thumbnail_offset_ms: 0,
            large_thumbnail_path: None,
            small_thumbnail_path: None,
            saved_by_user: false,
        }
    }

    /// File mode: the library reads `path` itself.
    pub fn file(scid: &str, path: impl Into<PathBuf>) -> UploadRequest {
        UploadRequest::with_data(scid, UploadData::File { path: path.into(), size: 0 })
    }

    /// Push mode: the game hands over `size` bytes in blocks.
    pub fn push(scid: &str, size: u64) -> UploadRequest {
        UploadRequest::with_data(scid, UploadData::Push { size })
    }

    /// Everything that can be checked without touching the disk or the network.
    pub(crate) fn validate(&self) -> Result<InitialUploadRequest> {
        check_scid(&self.scid)?;
        match &self.data {
            UploadData::Push { size } if *size == 0 || *size >= MAX_FILE_SIZE => {
                return Err(Error::invalid(format!("file_size {size} must be 1 byte to 4 GiB - 1")));
            }
            UploadData::File { size, .. } if *size >= MAX_FILE_SIZE => {
                return Err(Error::invalid(format!("file_size {size} must be under 4 GiB")));
            }
            UploadData::File { path, .. } if path.as_os_str().is_empty() => {
                return Err(Error::invalid("file_path is empty"));
            }
            _ => {}
        }
        check_caption(&self.user_caption)?;
        check_title_data(&self.title_data)?;
        let thumbnails = self.thumbnails();
        if thumbnails.iter().any(|(_, path)| path.as_os_str().is_empty()) {
            return Err(Error::invalid("a thumbnail path is empty"));
        }
        match (self.thumbnail_source == ThumbnailSource::Upload, thumbnails.is_empty()) {
            (true, true) => {
                return Err(Error::invalid(
                    "thumbnail_source is UPLOAD: give large_thumbnail_path, small_thumbnail_path or both",
                ))
            }
            (false, false) => {
                return Err(Error::invalid("thumbnail paths are used only with thumbnail_source UPLOAD"));
            }
            _ => {}
        }
        if let Some(date) = &self.date_recorded {
            if !is_iso8601_utc(date) {
                return Err(Error::invalid(format!("date_recorded {date:?} is not an ISO 8601 UTC time")));
            }
        }
        Ok(InitialUploadRequest {
            greatest_moment_id: self.greatest_moment_id.clone(),
            user_caption: self.user_caption.clone(),
            session_ref: self.session_ref.clone(),
            date_recorded: self.date_recorded.clone().unwrap_or_else(iso8601_now),
            duration_in_seconds: self.duration_seconds,
            expected_blocks: 0,
            file_size: 0,
            clip_type: clip_types_wire(self.clip_types)?,
            source: self.source.wire().into(),
            visibility: self.visibility.wire().into(),
            title_data: self.title_data.clone(),
            system_properties: self.system_properties.clone(),
            users_in_session: self.users_in_session.clone(),
            thumbnail_source: self.thumbnail_source.wire().into(),
            thumbnail_offset_ms: (self.thumbnail_source == ThumbnailSource::Offset).then_some(self.thumbnail_offset_ms),
            saved_by_user: self.saved_by_user,
        })
    }

    pub(crate) fn thumbnails(&self) -> Vec<(ThumbnailKind, PathBuf)> {
        [(ThumbnailKind::Large, &self.large_thumbnail_path), (ThumbnailKind::Small, &self.small_thumbnail_path)]
            .into_iter()
            .filter_map(|(kind, path)| Some((kind, path.clone()?)))
            .collect()
    }
}

/// A change to a clip's metadata; `None` leaves a field as it is. Sent as one request: if any field is
/// invalid, nothing changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "visibility_wire")]
    pub visibility: Option<Visibility>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_data: Option<String>,
}

fn visibility_wire<S: serde::Serializer>(
    visibility: &Option<Visibility>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match visibility {
        Some(visibility) => serializer.serialize_str(visibility.wire()),
        None => serializer.serialize_none(),
    }
}

/// `/users/{owner}/scids/{scid}/clips/{id}`, each part checked.
fn clip_path(owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<String> {
    check_scid(scid)?;
    check_clip_id(game_clip_id)?;
    Ok(format!("/users/{}/scids/{scid}/clips/{game_clip_id}", owner_segment(owner_xuid)?))
}

/// A call to the metadata host that sends no body.
fn bodiless(
    method: Method,
    path: String,
    idempotency: Idempotency,
    what: &'static str,
    answer: AnswerShape,
) -> OperationKind {
    OperationKind::Call { method, path, body: None, idempotency, what, answer }
}

/// Changes the caption, visibility and/or title data of one of the caller's clips.
pub fn update_metadata(scid: &str, game_clip_id: &str, update: &MetadataUpdate) -> Result<OperationKind> {
    let path = clip_path(None, scid, game_clip_id)?;
    if update == &MetadataUpdate::default() {
        return Err(Error::invalid("the update changes nothing: set a caption, a visibility or title data"));
    }
    if let Some(caption) = &update.user_caption {
        check_caption(caption)?;
    }
    if let Some(title_data) = &update.title_data {
        check_title_data(title_data)?;
    }
    let body = serde_json::to_vec(update).expect("the update serializes");
    Ok(OperationKind::Call {
        method: Method::Post,
        path,
        body: Some(body),
        idempotency: Idempotency::Idempotent,
        what: "updating the clip's metadata",
        answer: AnswerShape::Nothing,
    })
}

/// Rates anyone's clip 1..5 (`owner_xuid` `None`: one's own). Rating again replaces the rating.
pub fn rate(owner_xuid: Option<&str>, scid: &str, game_clip_id: &str, rating: u32) -> Result<OperationKind> {
    let path = clip_path(owner_xuid, scid, game_clip_id)?;
    if !(MIN_RATING..=MAX_RATING).contains(&rating) {
        return Err(Error::invalid(format!("rating {rating} is not {MIN_RATING}..{MAX_RATING}")));
    }
    let path = format!("{path}/ratings/{rating}");
    Ok(bodiless(Method::Post, path, Idempotency::Idempotent, "rating the clip", AnswerShape::Nothing))
}

/// Reports a clip to enforcement; it is hidden from everyone else from then on.
pub fn flag(owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<OperationKind> {
    let path = format!("{}/flag", clip_path(owner_xuid, scid, game_clip_id)?);
    Ok(bodiless(Method::Post, path, Idempotency::Idempotent, "flagging the clip", AnswerShape::Nothing))
}

/// Counts one view (call it at about 75-80% of playback). Not idempotent: repeated only when the
/// request provably never reached the service, or the service said 429/503.
pub fn record_view(owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<OperationKind> {
    let path = format!("{}/views", clip_path(owner_xuid, scid, game_clip_id)?);
    Ok(bodiless(Method::Post, path, Idempotency::NotIdempotent, "recording a view", AnswerShape::Nothing))
}

/// Deletes one of the caller's clips.
pub fn delete(scid: &str, game_clip_id: &str) -> Result<OperationKind> {
    let path = clip_path(None, scid, game_clip_id)?;
    Ok(bodiless(Method::Delete, path, Idempotency::Idempotent, "deleting the clip", AnswerShape::Nothing))
}

/// Reads a clip; the result is [`Client::clip_info`] and [`Client::result_json`].
pub fn get(owner_xuid: Option<&str>, scid: &str, game_clip_id: &str) -> Result<OperationKind> {
    let path = clip_path(owner_xuid, scid, game_clip_id)?;
    Ok(bodiless(Method::Get, path, Idempotency::Idempotent, "getting the clip", AnswerShape::Clip))
}

/// One page of a user's clips (`scid` `None`: of every title). `max_items` 0: the service's default.
/// Pass the previous page's continuation token to get the next.
pub fn list(
    owner_xuid: Option<&str>,
    scid: Option<&str>,
    max_items: u32,
    continuation_token: Option<&str>,
) -> Result<OperationKind> {
    let owner = owner_segment(owner_xuid)?;
    let mut path = match scid {
        Some(scid) => {
            check_scid(scid)?;
            format!("/users/{owner}/scids/{scid}/clips")
        }
        None => format!("/users/{owner}/clips"),
    };
    let mut query = Vec::new();
    if max_items > 0 {
        query.push(format!("maxItems={max_items}"));
    }
    if let Some(token) = continuation_token.filter(|t| !t.is_empty()) {
        query.push(format!("continuationToken={}", percent_encode(token)));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    Ok(bodiless(Method::Get, path, Idempotency::Idempotent, "listing clips", AnswerShape::Page))
}

/// Downloads a Published clip into `destination` (written as `destination.part` until complete;
/// a failed attempt resumes where it stopped). Progress shows in the status's bytes.
pub fn download(
    owner_xuid: Option<&str>,
    scid: &str,
    game_clip_id: &str,
    destination: impl Into<PathBuf>,
) -> Result<OperationKind> {
    let clip_path = clip_path(owner_xuid, scid, game_clip_id)?;
    let destination = destination.into();
    if destination.as_os_str().is_empty() {
        return Err(Error::invalid("the destination path is empty"));
    }
    Ok(OperationKind::Download { clip_path, destination })
}
