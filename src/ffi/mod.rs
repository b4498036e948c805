//! The C ABI: every `extern "C"` function of the library, and the only place with `unsafe` for FFI.
//! Each export is a thin translation of the safe API ([`crate::Client`]) wrapped in the one panic
//! boundary ([`boundary::guard`]). `include/gameclips.h` is generated from this folder by cbindgen.
// The header documents each export's pointer contract; repeating it as `# Safety` on every function
// would only restate it.
#![allow(clippy::missing_safety_doc)]

pub mod boundary;
mod client;
mod operations;
mod registry;
mod status;
pub mod types;
mod uploads;

pub use client::*;
pub use operations::*;
pub use status::*;
pub use types::*;
pub use uploads::*;

use boundary::{field_spans, Versioned};

// SAFETY: every field of these #[repr(C)] structs is listed, bools included.
unsafe impl Versioned for ClipsClientOptions {
    fn field_spans() -> Vec<(usize, usize)> {
        field_spans!(ClipsClientOptions; struct_size, metadata_base_url, service_version, worker_threads, block_size,
            max_buffered_bytes, max_bytes_per_second, request_timeout_ms, shutdown_timeout_ms, journal_dir,
            ca_bundle_path, flags, log_fn, log_user, log_level)
    }
}

// SAFETY: as above.
unsafe impl Versioned for ClipsUploadOptions {
    fn field_spans() -> Vec<(usize, usize)> {
        field_spans!(ClipsUploadOptions; struct_size, scid, file_path, file_size, duration_seconds, date_recorded,
            greatest_moment_id, user_caption, session_ref, clip_types, source, visibility, title_data,
            system_properties, users_in_session, users_in_session_count, thumbnail_source, thumbnail_offset_ms,
            large_thumbnail_path, small_thumbnail_path, saved_by_user)
    }
    fn bool_offsets() -> Vec<usize> {
        vec![std::mem::offset_of!(ClipsUploadOptions, saved_by_user)]
    }
}

// SAFETY: as above.
unsafe impl Versioned for ClipsStatus {
    fn field_spans() -> Vec<(usize, usize)> {
        field_spans!(ClipsStatus; struct_size, state, result, http_status, bytes_total, bytes_acked, blocks_total,
            blocks_acked, retries, retry_in_ms)
    }
}

// SAFETY: as above.
unsafe impl Versioned for ClipsMetadataUpdate {
    fn field_spans() -> Vec<(usize, usize)> {
        field_spans!(ClipsMetadataUpdate; struct_size, user_caption, visibility, title_data)
    }
}

// SAFETY: as above.
unsafe impl Versioned for ClipsClipInfo {
    fn field_spans() -> Vec<(usize, usize)> {
        field_spans!(ClipsClipInfo; struct_size, game_clip_id, state, visibility, duration_seconds, rating,
            rating_count, views)
    }
}

// SAFETY: as above.
unsafe impl Versioned for ClipsEvent {
    fn field_spans() -> Vec<(usize, usize)> {
        field_spans!(ClipsEvent; struct_size, kind, handle, result, http_status, bytes_done, bytes_total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind::*;
    use crate::protocol::{clip_type, MAX_BLOCK_SIZE, MAX_CAPTION_CHARS};

    /// The header's literals (cbindgen cannot evaluate expressions) agree with the library's values.
    #[test]
    fn header_constants_match_the_library() {
        let pairs = [
            (CLIPS_E_INVALID_ARGUMENT, InvalidArgument),
            (CLIPS_E_INVALID_HANDLE, InvalidHandle),
            (CLIPS_E_WOULD_BLOCK, WouldBlock),
            (CLIPS_E_BUFFER_TOO_SMALL, BufferTooSmall),
            (CLIPS_E_WRONG_STATE, WrongState),
            (CLIPS_E_HTTP, Http),
            (CLIPS_E_NETWORK, Network),
            (CLIPS_E_AUTH, Auth),
            (CLIPS_E_CANCELLED, Cancelled),
            (CLIPS_E_IO, Io),
            (CLIPS_E_SHUTDOWN, Shutdown),
            (CLIPS_E_INCOMPATIBLE_VERSION, IncompatibleVersion),
            (CLIPS_E_QUOTA, Quota),
            (CLIPS_E_INTERNAL, Internal),
        ];
        for (constant, kind) in pairs {
            assert_eq!(constant, kind.code(), "{kind:?}");
        }
        assert_eq!(CLIPS_CLIP_TYPE_DEVELOPER_INITIATED, clip_type::DEVELOPER_INITIATED);
        assert_eq!(CLIPS_CLIP_TYPE_ACHIEVEMENT, clip_type::ACHIEVEMENT);
        assert_eq!(CLIPS_CLIP_TYPE_MAGIC_MOMENT, clip_type::MAGIC_MOMENT);
        assert_eq!(CLIPS_CLIP_TYPE_USER_GENERATED, clip_type::USER_GENERATED);
        assert_eq!(CLIPS_MAX_BLOCK_SIZE, MAX_BLOCK_SIZE);
        assert_eq!(CLIPS_MAX_CAPTION_CHARS as usize, MAX_CAPTION_CHARS);
        assert_eq!(crate::status::RESULT_PENDING, CLIPS_PENDING);
        assert_eq!(crate::status::RESULT_OK, CLIPS_OK);
        assert_eq!(crate::UploadState::Cancelled as u32, CLIPS_STATE_CANCELLED);
        assert_eq!(crate::EventKind::Cancelled as u32, CLIPS_EVENT_CANCELLED);
        assert_eq!(crate::EventKind::OperationCompleted as u32, CLIPS_EVENT_OP_COMPLETED);
        assert_eq!(crate::UploadState::Running as u32, CLIPS_STATE_RUNNING);
        assert_eq!(CLIPS_MAX_TITLE_DATA_BYTES as usize, crate::protocol::MAX_TITLE_DATA_BYTES);
        assert_eq!(crate::protocol::clip_state_code("Published"), CLIPS_CLIP_STATE_PUBLISHED);
        assert_eq!(crate::protocol::clip_state_code("Error"), CLIPS_CLIP_STATE_ERROR);
    }
}
