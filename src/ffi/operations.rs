//! Exports of the "Clip operations" part of the contract. Each validates its arguments at once and
//! returns an operation handle; the request runs on a worker. The handle is polled like an upload
//! (state CLIPS_STATE_RUNNING while it runs) and ends with one CLIPS_EVENT_OP_COMPLETED event.

use libc::{c_char, size_t};

use super::boundary::{
    c_str, guard, non_null, non_null_mut, read_versioned, required_c_str, write_text_of, write_versioned, Versioned,
};
use super::registry;
use super::structs::*;
use super::types::*;
use crate::error::{Error, ErrorKind};
use crate::protocol::{clip_state_code, Visibility};
use crate::{Client, MetadataUpdate};

/// Runs `start` on the client and writes the operation handle it returns.
fn start_operation(
    c: *mut ClipsClient,
    out_op: *mut ClipsHandle,
    start: impl FnOnce(&Client) -> Result<ClipsHandle, Error>,
) -> Result<ClipsResult, Error> {
    let client = registry::lookup(c)?;
    let out_op = non_null_mut(out_op, "out_op")?;
    let handle = start(&client)?;
    // SAFETY: out_op is non-NULL and, per the contract, writable.
    unsafe { out_op.write(handle) };
    Ok(CLIPS_OK)
}

/// Starts `operation` on the clip the strings name: owner (NULL: me), scid and id.
fn start_on_clip(
    c: *mut ClipsClient,
    (owner_xuid, scid, game_clip_id): (*const c_char, *const c_char, *const c_char),
    out_op: *mut ClipsHandle,
    operation: impl FnOnce(&Client, Option<&str>, &str, &str) -> Result<ClipsHandle, Error>,
) -> Result<ClipsResult, Error> {
    start_operation(c, out_op, |client| {
        let owner = c_str!(owner_xuid, "owner_xuid")?;
        operation(client, owner, required_c_str!(scid, "scid")?, required_c_str!(game_clip_id, "game_clip_id")?)
    })
}

/// Changes one of the caller's clips. Every field is checked first: one invalid field and nothing is
/// sent (CLIPS_E_INVALID_ARGUMENT); the service likewise applies all or nothing.
#[no_mangle]
pub unsafe extern "C" fn clips_update_metadata(
    c: *mut ClipsClient,
    scid: *const c_char,
    game_clip_id: *const c_char,
    m: *const ClipsMetadataUpdate,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_update_metadata", || {
        start_on_clip(c, (std::ptr::null(), scid, game_clip_id), out_op, |client, _, scid, id| {
            let m = non_null(m, "update")?;
            // SAFETY: non-NULL, readable for its struct_size, per the contract.
            let m = unsafe { read_versioned(m) }?;
            let update = MetadataUpdate {
                user_caption: c_str!(m.user_caption, "user_caption")?.map(str::to_string),
                visibility: match m.visibility {
                    0 => None,
                    value => Some(Visibility::from_c(value)?),
                },
                title_data: c_str!(m.title_data, "title_data")?.map(str::to_string),
            };
            client.update_metadata(scid, id, &update)
        })
    })
}

/// Rates anyone's clip (owner_xuid: decimal xuid, NULL for one's own). `rating` is 1..5.
#[no_mangle]
pub unsafe extern "C" fn clips_rate_clip(
    c: *mut ClipsClient,
    owner_xuid: *const c_char,
    scid: *const c_char,
    game_clip_id: *const c_char,
    rating: u32,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_rate_clip", || {
        start_on_clip(c, (owner_xuid, scid, game_clip_id), out_op, |client, owner, scid, id| {
            client.rate_clip(owner, scid, id, rating)
        })
    })
}

/// Reports anyone's clip to enforcement; from then on it is hidden (404) from everyone else.
#[no_mangle]
pub unsafe extern "C" fn clips_flag_clip(
    c: *mut ClipsClient,
    owner_xuid: *const c_char,
    scid: *const c_char,
    game_clip_id: *const c_char,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_flag_clip", || start_on_clip(c, (owner_xuid, scid, game_clip_id), out_op, Client::flag_clip))
}

/// Counts one view of anyone's clip (call it at about 75-80% of playback). Repeated only when the
/// request provably never reached the service.
#[no_mangle]
pub unsafe extern "C" fn clips_record_view(
    c: *mut ClipsClient,
    owner_xuid: *const c_char,
    scid: *const c_char,
    game_clip_id: *const c_char,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_record_view", || start_on_clip(c, (owner_xuid, scid, game_clip_id), out_op, Client::record_view))
}

/// Deletes one of the caller's clips.
#[no_mangle]
pub unsafe extern "C" fn clips_delete_clip(
    c: *mut ClipsClient,
    scid: *const c_char,
    game_clip_id: *const c_char,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_delete_clip", || {
        let own_clip = (std::ptr::null(), scid, game_clip_id);
        start_on_clip(c, own_clip, out_op, |client, _, scid, id| client.delete_clip(scid, id))
    })
}

/// Reads a clip (owner_xuid NULL: one's own). When it completes: clips_get_clip_info, or
/// clips_get_result_json for every member.
#[no_mangle]
pub unsafe extern "C" fn clips_get_clip(
    c: *mut ClipsClient,
    owner_xuid: *const c_char,
    scid: *const c_char,
    game_clip_id: *const c_char,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_get_clip", || start_on_clip(c, (owner_xuid, scid, game_clip_id), out_op, Client::get_clip))
}

/// One page of a user's clips (owner_xuid NULL: one's own; scid NULL: every title; max_items 0: the
/// service's default; continuation_token NULL or "": the first page). The result JSON is
/// {"gameClips":[...],"pagingInfo":{"continuationToken":"..." or null,"totalItems":n}}.
#[no_mangle]
pub unsafe extern "C" fn clips_list_clips(
    c: *mut ClipsClient,
    owner_xuid: *const c_char,
    scid: *const c_char,
    max_items: u32,
    continuation_token: *const c_char,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_list_clips", || {
        start_operation(c, out_op, |client| {
            let owner = c_str!(owner_xuid, "owner_xuid")?;
            let scid = c_str!(scid, "scid")?;
            let token = c_str!(continuation_token, "continuation_token")?;
            client.list_clips(owner, scid, max_items, token)
        })
    })
}

/// Downloads a Published clip to `destination_path` (an addition to the contract). The file appears
/// only when complete (it is written as "<destination_path>.part" until then); a broken transfer
/// resumes where it stopped. The status's bytes_acked/bytes_total show progress.
#[no_mangle]
pub unsafe extern "C" fn clips_download_clip(
    c: *mut ClipsClient,
    owner_xuid: *const c_char,
    scid: *const c_char,
    game_clip_id: *const c_char,
    destination_path: *const c_char,
    out_op: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_download_clip", || {
        start_on_clip(c, (owner_xuid, scid, game_clip_id), out_op, |client, owner, scid, id| {
            let destination = required_c_str!(destination_path, "destination_path")?;
            client.download_clip(owner, scid, id, destination)
        })
    })
}

/// The result of a completed operation as normalised JSON: a GameClip for get (always "gameClipId",
/// every member present), the page for list, {"path":..,"bytes":..} for download, {} otherwise.
/// CLIPS_E_WRONG_STATE while it runs or when it failed.
#[no_mangle]
pub unsafe extern "C" fn clips_get_result_json(
    c: *mut ClipsClient,
    op: ClipsHandle,
    buf: *mut c_char,
    cap: size_t,
    out_len: *mut size_t,
) -> ClipsResult {
    // SAFETY: buf/out_len per the contract.
    guard("clips_get_result_json", || unsafe { write_text_of(c, op, (buf, cap, out_len), Client::result_json) })
}

/// The main figures of the clip a completed clips_get_clip read.
#[no_mangle]
pub unsafe extern "C" fn clips_get_clip_info(
    c: *mut ClipsClient,
    op: ClipsHandle,
    out: *mut ClipsClipInfo,
) -> ClipsResult {
    guard("clips_get_clip_info", || {
        let client = registry::lookup(c)?;
        let out = non_null_mut(out, "out")?;
        let clip = client.clip_info(op)?;
        let id = clip.game_clip_id.as_bytes();
        if id.len() >= CLIPS_CLIP_ID_CAPACITY {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("the clip id is {} bytes, over game_clip_id's capacity: use clips_get_result_json", id.len()),
            ));
        }
        let mut info = ClipsClipInfo::defaults();
        for (slot, byte) in info.game_clip_id.iter_mut().zip(id) {
            *slot = *byte as c_char;
        }
        info.state = clip_state_code(&clip.state);
        info.visibility = Visibility::from_wire(&clip.visibility).map_or(0, |v| v as u32);
        info.duration_seconds = clip.duration_in_seconds;
        info.rating = clip.rating;
        info.rating_count = clip.rating_count;
        info.views = u32::try_from(clip.views).unwrap_or(u32::MAX);
        // SAFETY: out is non-NULL, initialised by clips_clip_info_init, per the contract.
        unsafe { write_versioned(out, info) }?;
        Ok(CLIPS_OK)
    })
}
