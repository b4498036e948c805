//! What the title reads back: an upload's status and the events, and their `_init` exports.

use libc::size_t;

use super::super::boundary::{fields, guard, guard_value, init_sized, init_whole, Versioned};
use super::super::types::*;
use crate::jobs::events::Event;
use crate::jobs::status::UploadStatus;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsStatus {
    pub struct_size: u32,
    /// CLIPS_STATE_*.
    pub state: u32,
    /// CLIPS_PENDING while running; the final code when done.
    pub result: ClipsResult,
    /// The last HTTP status seen, 0 if none.
    pub http_status: u32,
    pub bytes_total: u64,
    /// Never decreases.
    pub bytes_acked: u64,
    pub blocks_total: u32,
    pub blocks_acked: u32,
    pub retries: u32,
    /// When CLIPS_STATE_RETRYING: time until the next attempt.
    pub retry_in_ms: u32,
    /// Bytes of blocks sent that no accepted block carried (a request cut off, reset or refused): what
    /// the player's uplink spent for nothing. Never decreases.
    pub bytes_wasted: u64,
}

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsStatus {
    const NAME: &'static str = "ClipsStatus";

    fn defaults() -> ClipsStatus {
        ClipsStatus {
            struct_size: std::mem::size_of::<ClipsStatus>() as u32,
            state: 0,
            result: CLIPS_PENDING,
            http_status: 0,
            bytes_total: 0,
            bytes_acked: 0,
            blocks_total: 0,
            blocks_acked: 0,
            retries: 0,
            retry_in_ms: 0,
            bytes_wasted: 0,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsStatus; struct_size, state, result, http_status, bytes_total, bytes_acked, blocks_total,
            blocks_acked, retries, retry_in_ms, bytes_wasted)
    }
}

/// Every field of the status, destructured so that one added there cannot be missed here.
impl From<UploadStatus> for ClipsStatus {
    fn from(status: UploadStatus) -> ClipsStatus {
        let UploadStatus {
            state,
            result,
            http_status,
            bytes_total,
            bytes_acked,
            blocks_total,
            blocks_acked,
            retries,
            retry_in_ms,
            bytes_wasted,
        } = status;
        let (state, http_status) = (state as u32, u32::from(http_status));
        ClipsStatus {
            state,
            result,
            http_status,
            bytes_total,
            bytes_acked,
            blocks_total,
            blocks_acked,
            retries,
            retry_in_ms,
            bytes_wasted,
            ..ClipsStatus::defaults()
        }
    }
}

/// Sets struct_size (and zeroes the rest). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn clips_status_init(s: *mut ClipsStatus) {
    guard_value("clips_status_init", (), || {
        // SAFETY: forwarded contract: `s` is NULL or a writable struct.
        unsafe { init_whole(s) }
    })
}

/// clips_status_init for a struct of `size` bytes, the caller's `sizeof`: never written past (the header's
/// `clips_status_init(s)` macro passes `sizeof *(s)`, so a newer library keeps to an older struct).
#[no_mangle]
pub unsafe extern "C" fn clips_status_init_sized(s: *mut ClipsStatus, size: size_t) -> ClipsResult {
    guard("clips_status_init_sized", || {
        // SAFETY: forwarded contract: `s` is NULL or writable for `size` bytes.
        unsafe { init_sized(s, size) }
    })
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsEvent {
    pub struct_size: u32,
    /// CLIPS_EVENT_*.
    pub kind: u32,
    pub handle: ClipsHandle,
    pub result: ClipsResult,
    pub http_status: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsEvent {
    const NAME: &'static str = "ClipsEvent";

    fn defaults() -> ClipsEvent {
        ClipsEvent {
            struct_size: std::mem::size_of::<ClipsEvent>() as u32,
            kind: 0,
            handle: 0,
            result: CLIPS_OK,
            http_status: 0,
            bytes_done: 0,
            bytes_total: 0,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsEvent; struct_size, kind, handle, result, http_status, bytes_done, bytes_total)
    }
}

/// Every field of the event, destructured so that one added there cannot be missed here.
impl From<Event> for ClipsEvent {
    fn from(event: Event) -> ClipsEvent {
        let Event { kind, handle, result, http_status, bytes_done, bytes_total } = event;
        let (kind, http_status) = (kind as u32, u32::from(http_status));
        ClipsEvent { kind, handle, result, http_status, bytes_done, bytes_total, ..ClipsEvent::defaults() }
    }
}

/// Sets struct_size (and zeroes the rest). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn clips_event_init(e: *mut ClipsEvent) {
    guard_value("clips_event_init", (), || {
        // SAFETY: forwarded contract: `e` is NULL or a writable struct.
        unsafe { init_whole(e) }
    })
}

/// clips_event_init for a struct of `size` bytes, the caller's `sizeof`: never written past (the header's
/// `clips_event_init(e)` macro passes `sizeof *(e)`, so a newer library keeps to an older struct).
#[no_mangle]
pub unsafe extern "C" fn clips_event_init_sized(e: *mut ClipsEvent, size: size_t) -> ClipsResult {
    guard("clips_event_init_sized", || {
        // SAFETY: forwarded contract: `e` is NULL or writable for `size` bytes.
        unsafe { init_sized(e, size) }
    })
}
