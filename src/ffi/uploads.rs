//! Exports of the "Uploads" part of the contract.

use libc::size_t;

use super::boundary::{c_str, guard, non_null, non_null_mut, read_versioned, required_c_str, write_list};
use super::registry;
use super::structs::*;
use super::types::*;
use crate::error::Error;
use crate::jobs::upload::UploadData;
use crate::protocol::{ClipSource, ThumbnailSource, Visibility};
use crate::UploadRequest;

/// More names than any real session has; a bigger count is a caller's bug, not a session.
const MAX_USERS_IN_SESSION: usize = 1000;

/// # Safety
/// The pointers of `o` follow the header's contract.
unsafe fn upload_request(o: &ClipsUploadOptions) -> Result<UploadRequest, Error> {
    let text = |ptr, name| c_str!(ptr, name).map(|s| s.unwrap_or_default().to_string());
    let scid = required_c_str!(o.scid, "scid")?;
    let data = match c_str!(o.file_path, "file_path")? {
        Some(path) => UploadData::File { path: path.into(), size: o.file_size },
        None => UploadData::Push { size: o.file_size },
    };
    if o.users_in_session_count > MAX_USERS_IN_SESSION {
        return Err(Error::invalid(format!(
            "users_in_session_count {} is over {MAX_USERS_IN_SESSION}",
            o.users_in_session_count
        )));
    }
    let users = if o.users_in_session_count == 0 {
        Vec::new()
    } else {
        let array = non_null(o.users_in_session, "users_in_session")?;
        (0..o.users_in_session_count)
            .map(|i| {
                // SAFETY: the array holds users_in_session_count pointers, per the contract.
                let item = unsafe { array.add(i).read() };
                required_c_str!(item, "users_in_session[i]").map(str::to_string)
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut request = UploadRequest::file(scid, "");
    request.data = data;
    request.duration_seconds = o.duration_seconds;
    request.date_recorded = c_str!(o.date_recorded, "date_recorded")?.map(str::to_string);
    request.greatest_moment_id = text(o.greatest_moment_id, "greatest_moment_id")?;
    request.user_caption = text(o.user_caption, "user_caption")?;
    request.session_ref = text(o.session_ref, "session_ref")?;
    request.clip_types = o.clip_types;
    request.source = ClipSource::from_c(o.source)?;
    request.visibility = Visibility::from_c(o.visibility)?;
    request.title_data = text(o.title_data, "title_data")?;
    request.system_properties = text(o.system_properties, "system_properties")?;
    request.users_in_session = users;
    request.thumbnail_source = ThumbnailSource::from_c(o.thumbnail_source)?;
    request.thumbnail_offset_ms = o.thumbnail_offset_ms;
    request.large_thumbnail_path = c_str!(o.large_thumbnail_path, "large_thumbnail_path")?.map(Into::into);
    request.small_thumbnail_path = c_str!(o.small_thumbnail_path, "small_thumbnail_path")?.map(Into::into);
    request.saved_by_user = o.saved_by_user;
    Ok(request)
}

/// Validates the options and returns a handle at once; the initial call, and in file mode opening the
/// file, run on a worker (a file that cannot be read fails the upload with CLIPS_E_IO).
#[no_mangle]
pub unsafe extern "C" fn clips_begin_upload(
    c: *mut ClipsClient,
    o: *const ClipsUploadOptions,
    out_upload: *mut ClipsHandle,
) -> ClipsResult {
    guard("clips_begin_upload", || {
        let client = registry::lookup(c)?;
        let o = non_null(o, "options")?;
        let out_upload = non_null_mut(out_upload, "out_upload")?;
        // SAFETY: non-NULL, readable for its struct_size, per the contract.
        let o = unsafe { read_versioned(o) }?;
        // SAFETY: the option's pointers follow the contract.
        let handle = client.begin_upload(unsafe { upload_request(&o) }?)?;
        // SAFETY: non-NULL and writable.
        unsafe { out_upload.write(handle) };
        Ok(CLIPS_OK)
    })
}

/// Copies block `block_num` (exactly that block's length, at most CLIPS_MAX_BLOCK_SIZE) of a push-mode
/// upload; `data` may be reused when this returns. CLIPS_E_WOULD_BLOCK: the budget is full, try later.
#[no_mangle]
pub unsafe extern "C" fn clips_push_block(
    c: *mut ClipsClient,
    upload: ClipsHandle,
    block_num: u32,
    data: *const u8,
    len: size_t,
) -> ClipsResult {
    guard("clips_push_block", || {
        let client = registry::lookup(c)?;
        let data = non_null(data, "data")?;
        // No block is longer: refused before the pointer is read. The block's own length is checked
        // once, where it enters the upload.
        if len > CLIPS_MAX_BLOCK_SIZE as usize {
            return Err(Error::invalid(format!("len {len} is over CLIPS_MAX_BLOCK_SIZE ({CLIPS_MAX_BLOCK_SIZE})")));
        }
        // SAFETY: data is non-NULL and readable for len bytes, per the contract.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        client.push_block(upload, block_num, bytes)?;
        Ok(CLIPS_OK)
    })
}

/// The blocks of a push-mode upload the library still needs. `*out_count` always receives how many.
#[no_mangle]
pub unsafe extern "C" fn clips_missing_blocks(
    c: *mut ClipsClient,
    upload: ClipsHandle,
    out: *mut u32,
    cap: size_t,
    out_count: *mut size_t,
) -> ClipsResult {
    guard("clips_missing_blocks", || {
        let missing = registry::lookup(c)?.missing_blocks(upload)?;
        // SAFETY: out/out_count per the contract.
        unsafe { write_list(&missing, out, cap, out_count) }
    })
}

/// Stops the upload at once: state CANCELLED, result CLIPS_E_CANCELLED.
#[no_mangle]
pub unsafe extern "C" fn clips_cancel(c: *mut ClipsClient, h: ClipsHandle) -> ClipsResult {
    guard("clips_cancel", || {
        registry::lookup(c)?.cancel(h)?;
        Ok(CLIPS_OK)
    })
}

/// Forgets the handle (it becomes invalid); never cancels. No event of it is queued afterwards.
#[no_mangle]
pub unsafe extern "C" fn clips_release(c: *mut ClipsClient, h: ClipsHandle) -> ClipsResult {
    guard("clips_release", || {
        registry::lookup(c)?.release(h)?;
        Ok(CLIPS_OK)
    })
}

/// Handles of the uploads this client resumed from its journal_dir (file mode ones continue by
/// themselves; push mode ones wait for the blocks clips_missing_blocks lists).
#[no_mangle]
pub unsafe extern "C" fn clips_resumed_uploads(
    c: *mut ClipsClient,
    out: *mut ClipsHandle,
    cap: size_t,
    out_count: *mut size_t,
) -> ClipsResult {
    guard("clips_resumed_uploads", || {
        let resumed = registry::lookup(c)?.resumed_uploads();
        // SAFETY: out/out_count per the contract.
        unsafe { write_list(&resumed, out, cap, out_count) }
    })
}
