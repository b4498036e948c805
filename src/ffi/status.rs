//! Exports of the "Status and events" part of the contract.

use libc::{c_char, size_t};

use super::boundary::{check_versioned, guard, non_null_mut, write_text_of, write_versioned};
use super::registry;
use super::structs::*;
use super::types::*;
use crate::Client;

/// A snapshot of the upload. Allocation-free; cheap enough to call every frame.
#[no_mangle]
pub unsafe extern "C" fn clips_poll(c: *mut ClipsClient, h: ClipsHandle, out: *mut ClipsStatus) -> ClipsResult {
    guard("clips_poll", || {
        let client = registry::lookup(c)?;
        let out = non_null_mut(out, "out")?;
        let status = client.poll(h)?;
        // SAFETY: out is non-NULL, initialised by clips_status_init, per the contract.
        unsafe { write_versioned(out, ClipsStatus::from(status)) }?;
        Ok(CLIPS_OK)
    })
}

/// The gameClipId. CLIPS_E_WRONG_STATE until CLIPS_EVENT_CLIP_CREATED.
#[no_mangle]
pub unsafe extern "C" fn clips_get_clip_id(
    c: *mut ClipsClient,
    h: ClipsHandle,
    buf: *mut c_char,
    cap: size_t,
    out_len: *mut size_t,
) -> ClipsResult {
    // SAFETY: buf/out_len per the contract.
    guard("clips_get_clip_id", || unsafe { write_text_of(c, h, (buf, cap, out_len), Client::clip_id) })
}

/// Why the upload or operation failed; while it runs, why its last attempt failed (what a RETRYING
/// state is waiting out), "" when nothing failed.
#[no_mangle]
pub unsafe extern "C" fn clips_get_error_message(
    c: *mut ClipsClient,
    h: ClipsHandle,
    buf: *mut c_char,
    cap: size_t,
    out_len: *mut size_t,
) -> ClipsResult {
    // SAFETY: buf/out_len per the contract.
    guard("clips_get_error_message", || unsafe { write_text_of(c, h, (buf, cap, out_len), Client::error_message) })
}

/// CLIPS_OK with the next event in `*out` (initialised by clips_event_init), or CLIPS_NO_EVENT.
/// Progress events of one handle are merged; no other event is dropped.
#[no_mangle]
pub unsafe extern "C" fn clips_next_event(c: *mut ClipsClient, out: *mut ClipsEvent) -> ClipsResult {
    guard("clips_next_event", || {
        let client = registry::lookup(c)?;
        let out = non_null_mut(out, "out")?;
        // Check the caller's struct before taking an event, so a bad struct never loses one.
        // SAFETY: out is non-NULL and its leading struct_size is readable, per the contract.
        unsafe { check_versioned(out) }?;
        let Some(event) = client.next_event() else { return Ok(CLIPS_NO_EVENT) };
        // SAFETY: as above, checked just now.
        unsafe { write_versioned(out, ClipsEvent::from(event)) }?;
        Ok(CLIPS_OK)
    })
}
