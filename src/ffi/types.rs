//! The C ABI's types and constants, exactly as `include/gameclips.h` shows them.

/// Bumped when a struct grows or an export changes; equals `clips_abi_version()`.
pub const CLIPS_ABI_VERSION: u32 = 1;

/// Opaque. One per signed-in user is the usual pattern.
pub struct ClipsClient {
    pub(crate) _private: u8,
}

/// Uploads and operations. 0 is never valid; a released handle, or another client's, is refused with
/// `CLIPS_E_INVALID_HANDLE`.
pub type ClipsHandle = u64;

/// >= 0 success codes, < 0 errors.
pub type ClipsResult = i32;

pub const CLIPS_OK: ClipsResult = 0;
/// The operation is still running.
pub const CLIPS_PENDING: ClipsResult = 1;
/// `clips_next_event` found no event.
pub const CLIPS_NO_EVENT: ClipsResult = 2;
pub const CLIPS_E_INVALID_ARGUMENT: ClipsResult = -1;
pub const CLIPS_E_INVALID_HANDLE: ClipsResult = -2;
/// The push budget is full: try again later.
pub const CLIPS_E_WOULD_BLOCK: ClipsResult = -3;
pub const CLIPS_E_BUFFER_TOO_SMALL: ClipsResult = -4;
pub const CLIPS_E_WRONG_STATE: ClipsResult = -5;
/// A final error status from the service; see `http_status`.
pub const CLIPS_E_HTTP: ClipsResult = -6;
/// The transport failed after retries.
pub const CLIPS_E_NETWORK: ClipsResult = -7;
/// 401/403.
pub const CLIPS_E_AUTH: ClipsResult = -8;
pub const CLIPS_E_CANCELLED: ClipsResult = -9;
/// Reading the clip file failed, or the file changed.
pub const CLIPS_E_IO: ClipsResult = -10;
pub const CLIPS_E_SHUTDOWN: ClipsResult = -11;
pub const CLIPS_E_INCOMPATIBLE_VERSION: ClipsResult = -12;
/// The service refused: over quota.
pub const CLIPS_E_QUOTA: ClipsResult = -13;
/// A block-sized buffer could not be had (the memory hooks' alloc returned NULL): the call fails,
/// nothing aborts.
pub const CLIPS_E_OUT_OF_MEMORY: ClipsResult = -14;
pub const CLIPS_E_INTERNAL: ClipsResult = -100;

/// `ClipsClientOptions.flags`: allow plain http to hosts other than loopback.
pub const CLIPS_FLAG_ALLOW_INSECURE_HTTP: u32 = 1;

pub const CLIPS_LOG_OFF: u32 = 0;
pub const CLIPS_LOG_ERROR: u32 = 1;
pub const CLIPS_LOG_WARN: u32 = 2;
pub const CLIPS_LOG_INFO: u32 = 3;
pub const CLIPS_LOG_DEBUG: u32 = 4;
pub const CLIPS_LOG_TRACE: u32 = 5;

pub const CLIPS_STATE_CREATING: u32 = 1;
pub const CLIPS_STATE_UPLOADING: u32 = 2;
pub const CLIPS_STATE_WAITING_FOR_DATA: u32 = 3;
pub const CLIPS_STATE_NEEDS_AUTH: u32 = 4;
pub const CLIPS_STATE_PAUSED: u32 = 5;
pub const CLIPS_STATE_RETRYING: u32 = 6;
pub const CLIPS_STATE_COMPLETED: u32 = 7;
pub const CLIPS_STATE_FAILED: u32 = 8;
pub const CLIPS_STATE_CANCELLED: u32 = 9;
/// A clip operation (not an upload) whose request is queued or in flight.
pub const CLIPS_STATE_RUNNING: u32 = 10;

pub const CLIPS_EVENT_CLIP_CREATED: u32 = 1;
pub const CLIPS_EVENT_PROGRESS: u32 = 2;
pub const CLIPS_EVENT_NEEDS_AUTH: u32 = 3;
pub const CLIPS_EVENT_COMPLETED: u32 = 4;
pub const CLIPS_EVENT_FAILED: u32 = 5;
pub const CLIPS_EVENT_CANCELLED: u32 = 6;
/// A clip operation ended, however it ended: `result` is CLIPS_OK, an error, or CLIPS_E_CANCELLED.
/// (Uploads end with COMPLETED, FAILED or CANCELLED instead.)
pub const CLIPS_EVENT_OP_COMPLETED: u32 = 7;

pub const CLIPS_CLIP_TYPE_DEVELOPER_INITIATED: u32 = 1;
pub const CLIPS_CLIP_TYPE_ACHIEVEMENT: u32 = 2;
pub const CLIPS_CLIP_TYPE_MAGIC_MOMENT: u32 = 4;
pub const CLIPS_CLIP_TYPE_USER_GENERATED: u32 = 8;

pub const CLIPS_SOURCE_CONSOLE: u32 = 1;
pub const CLIPS_SOURCE_TITLE_DIRECT: u32 = 2;
pub const CLIPS_SOURCE_INTERMEDIATE: u32 = 3;
pub const CLIPS_SOURCE_USER_INITIATED: u32 = 4;

pub const CLIPS_VISIBILITY_DEFAULT: u32 = 1;
pub const CLIPS_VISIBILITY_OWNER: u32 = 2;
pub const CLIPS_VISIBILITY_TITLE: u32 = 3;
pub const CLIPS_VISIBILITY_PUBLIC: u32 = 4;

pub const CLIPS_THUMBNAIL_DEFAULT: u32 = 1;
pub const CLIPS_THUMBNAIL_OFFSET: u32 = 2;
pub const CLIPS_THUMBNAIL_UPLOAD: u32 = 3;

/// `ClipsClipInfo.state`: the service's GameClipState. 0: a state this version does not know.
pub const CLIPS_CLIP_STATE_UNKNOWN: u32 = 0;
pub const CLIPS_CLIP_STATE_NONE: u32 = 1;
pub const CLIPS_CLIP_STATE_PENDING_UPLOAD: u32 = 2;
pub const CLIPS_CLIP_STATE_UPLOADED: u32 = 3;
pub const CLIPS_CLIP_STATE_PROCESSING: u32 = 4;
pub const CLIPS_CLIP_STATE_PROCESSED: u32 = 5;
pub const CLIPS_CLIP_STATE_PUBLISHING: u32 = 6;
pub const CLIPS_CLIP_STATE_PUBLISHED: u32 = 7;
pub const CLIPS_CLIP_STATE_PENDING_DELETE: u32 = 8;
pub const CLIPS_CLIP_STATE_DELETED: u32 = 9;
pub const CLIPS_CLIP_STATE_FLAGGED: u32 = 10;
pub const CLIPS_CLIP_STATE_BANNED: u32 = 11;
pub const CLIPS_CLIP_STATE_ERROR: u32 = 12;

/// The largest block `clips_push_block` takes, and the largest `block_size`.
pub const CLIPS_MAX_BLOCK_SIZE: u32 = 2 * 1024 * 1024;
/// The block size when `block_size` is 0: "no larger than 2 MB" read strictly, which a service that
/// means 2 MiB takes too.
pub const CLIPS_DEFAULT_BLOCK_SIZE: u32 = 2_000_000;
/// `clips_set_network_status`.
pub const CLIPS_NETWORK_OFFLINE: u32 = 0;
pub const CLIPS_NETWORK_ONLINE: u32 = 1;
pub const CLIPS_MAX_CAPTION_CHARS: u32 = 250;
pub const CLIPS_MAX_TITLE_DATA_BYTES: u32 = 10240;
/// `ClipsClipInfo.game_clip_id` holds ids up to 63 bytes and their NUL.
pub const CLIPS_CLIP_ID_CAPACITY: usize = 64;

// How an exchange of the title's transport ended (`clips_exchange_complete`).
/// An HTTP answer arrived, any status.
pub const CLIPS_TRANSPORT_ANSWERED: u32 = 0;
/// DNS or connect failed: provably never reached the service.
pub const CLIPS_TRANSPORT_NOT_SENT: u32 = 1;
/// Sent, or maybe sent, and no usable answer.
pub const CLIPS_TRANSPORT_FAILED: u32 = 2;
/// The server's certificate was refused: final, not retried.
pub const CLIPS_TRANSPORT_TLS_UNTRUSTED: u32 = 3;
/// Ended because gameclips called cancel.
pub const CLIPS_TRANSPORT_CANCELLED: u32 = 4;
