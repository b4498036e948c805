//! A clip's metadata change and its main figures, and their `_init` exports.

use libc::{c_char, size_t};

use super::super::boundary::{fields, guard, guard_value, init_sized, init_whole, Versioned};
use super::super::types::*;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsMetadataUpdate {
    pub struct_size: u32,
    /// NULL: unchanged. At most CLIPS_MAX_CAPTION_CHARS characters.
    pub user_caption: *const c_char,
    /// CLIPS_VISIBILITY_*; 0: unchanged.
    pub visibility: u32,
    /// NULL: unchanged. At most CLIPS_MAX_TITLE_DATA_BYTES bytes.
    pub title_data: *const c_char,
}

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsMetadataUpdate {
    const NAME: &'static str = "ClipsMetadataUpdate";

    fn defaults() -> ClipsMetadataUpdate {
        ClipsMetadataUpdate {
            struct_size: std::mem::size_of::<ClipsMetadataUpdate>() as u32,
            user_caption: std::ptr::null(),
            visibility: 0,
            title_data: std::ptr::null(),
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsMetadataUpdate; struct_size, user_caption, visibility, title_data)
    }
}

/// Fills `m` with "change nothing" and its struct_size. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn clips_metadata_update_init(m: *mut ClipsMetadataUpdate) {
    guard_value("clips_metadata_update_init", (), || {
        // SAFETY: forwarded contract: `m` is NULL or a writable struct.
        unsafe { init_whole(m) }
    })
}

/// clips_metadata_update_init for a struct of `size` bytes, the caller's `sizeof`: never written past (the header's
/// `clips_metadata_update_init(m)` macro passes `sizeof *(m)`, so a newer library keeps to an older struct).
#[no_mangle]
pub unsafe extern "C" fn clips_metadata_update_init_sized(m: *mut ClipsMetadataUpdate, size: size_t) -> ClipsResult {
    guard("clips_metadata_update_init_sized", || {
        // SAFETY: forwarded contract: `m` is NULL or writable for `size` bytes.
        unsafe { init_sized(m, size) }
    })
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsClipInfo {
    pub struct_size: u32,
    /// NUL-terminated.
    pub game_clip_id: [c_char; CLIPS_CLIP_ID_CAPACITY],
    /// CLIPS_CLIP_STATE_*.
    pub state: u32,
    /// CLIPS_VISIBILITY_*; 0: a value this version does not know.
    pub visibility: u32,
    pub duration_seconds: u32,
    /// Average rating, 0.0 to 5.0.
    pub rating: f64,
    pub rating_count: u32,
    /// Saturates at UINT32_MAX.
    pub views: u32,
}

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsClipInfo {
    const NAME: &'static str = "ClipsClipInfo";

    fn defaults() -> ClipsClipInfo {
        ClipsClipInfo {
            struct_size: std::mem::size_of::<ClipsClipInfo>() as u32,
            game_clip_id: [0; CLIPS_CLIP_ID_CAPACITY],
            state: CLIPS_CLIP_STATE_UNKNOWN,
            visibility: 0,
            duration_seconds: 0,
            rating: 0.0,
            rating_count: 0,
            views: 0,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsClipInfo; struct_size, game_clip_id, state, visibility, duration_seconds, rating,
            rating_count, views)
    }
}

/// Sets struct_size (and zeroes the rest). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn clips_clip_info_init(out: *mut ClipsClipInfo) {
    guard_value("clips_clip_info_init", (), || {
        // SAFETY: forwarded contract: `out` is NULL or a writable struct.
        unsafe { init_whole(out) }
    })
}

/// clips_clip_info_init for a struct of `size` bytes, the caller's `sizeof`: never written past (the header's
/// `clips_clip_info_init(out)` macro passes `sizeof *(out)`, so a newer library keeps to an older struct).
#[no_mangle]
pub unsafe extern "C" fn clips_clip_info_init_sized(out: *mut ClipsClipInfo, size: size_t) -> ClipsResult {
    guard("clips_clip_info_init_sized", || {
        // SAFETY: forwarded contract: `out` is NULL or writable for `size` bytes.
        unsafe { init_sized(out, size) }
    })
}
