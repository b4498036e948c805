//! The C ABI's types and constants, exactly as `include/gameclips.h` shows them.

use libc::{c_char, c_void, size_t};

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

/// One HTTP attempt the title's transport performs. Opaque; valid until `clips_exchange_complete`, even
/// past `clips_client_destroy`.
pub struct ClipsExchange {
    pub(crate) _private: u8,
}

/// One request or response header.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsHttpHeader {
    pub name: *const c_char,
    pub value: *const c_char,
}

/// The request of an exchange. It and everything it points to stay valid until the exchange completes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsHttpRequest {
    pub struct_size: u32,
    /// "GET", "POST", "PUT" or "DELETE".
    pub method: *const c_char,
    /// Absolute. The transport must NOT follow redirects itself: gameclips checks each against upload_hosts.
    pub url: *const c_char,
    /// Includes Authorization: a secret, never log it.
    pub headers: *const ClipsHttpHeader,
    pub header_count: size_t,
    /// NULL when body_len is 0.
    pub body: *const u8,
    pub body_len: size_t,
    /// A hint: gameclips also calls cancel at its own deadline.
    pub timeout_ms: u32,
}

/// Starts the exchange. CLIPS_OK: started (it may already have been completed inside this call, on this
/// thread). CLIPS_E_WOULD_BLOCK: at capacity; not started, no attempt is charged, gameclips tries later.
/// Any other code fails this attempt as one that never reached the service. Called from gameclips'
/// threads, never while gameclips holds a lock.
pub type ClipsTransportSendFn = Option<
    unsafe extern "C" fn(user: *mut c_void, x: *mut ClipsExchange, request: *const ClipsHttpRequest) -> ClipsResult,
>;
/// Asks the transport to end an exchange early (gameclips' deadline, cancel, suspend, destroy). Any
/// thread, at most once per exchange; the transport still completes x (CLIPS_TRANSPORT_CANCELLED is
/// fine). It may race with the transport's own completion: a cancel for an exchange being completed is
/// to be ignored.
pub type ClipsTransportCancelFn = Option<unsafe extern "C" fn(user: *mut c_void, x: *mut ClipsExchange)>;

/// The title's HTTP stack: one HTTP attempt per exchange. gameclips keeps everything else: scheduling,
/// retries and back-off, Retry-After, redirects (checked against upload_hosts), the journal, events.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsTransport {
    pub struct_size: u32,
    /// Handed back to send and cancel, from any of gameclips' threads.
    pub user: *mut c_void,
    /// Required.
    pub send: ClipsTransportSendFn,
    /// Required.
    pub cancel: ClipsTransportCancelFn,
}

/// The title's allocator. Called from any thread at the same time.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsMemoryHooks {
    pub struct_size: u32,
    pub user: *mut c_void,
    /// `align` is a power of two; NULL: out of memory.
    pub alloc: Option<unsafe extern "C" fn(user: *mut c_void, size: size_t, align: size_t) -> *mut c_void>,
    /// May be NULL: then alloc, copy and free.
    pub realloc: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            ptr: *mut c_void,
            old_size: size_t,
            new_size: size_t,
            align: size_t,
        ) -> *mut c_void,
    >,
    pub free: Option<unsafe extern "C" fn(user: *mut c_void, ptr: *mut c_void, size: size_t, align: size_t)>,
}

/// Creates a thread for the library and runs entry(arg) on it until entry returns. CLIPS_OK, or the
/// client is not created (then entry must never run).
pub type ClipsStartThreadFn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        name: *const c_char,
        entry: Option<unsafe extern "C" fn(arg: *mut c_void)>,
        arg: *mut c_void,
    ) -> ClipsResult,
>;

/// The library's threads (middleware threads on consoles must be the title's choice).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsThreadOptions {
    pub struct_size: u32,
    /// NULL: "gameclips" -> threads named "gameclips-worker-0"... (Linux keeps the first 15 bytes).
    pub name_prefix: *const c_char,
    /// Bytes; 0: the platform's default.
    pub stack_size: u32,
    /// Bit N = logical CPU N; 0: not set. Linux, Android and Windows; elsewhere use start_thread.
    pub affinity_mask: u64,
    /// Optional: the title creates every thread the library needs (its job system, FRunnableThread, a
    /// console's thread API). clips_client_destroy waits for their entries to return within
    /// shutdown_timeout_ms.
    pub start_thread: ClipsStartThreadFn,
    /// Handed back to start_thread.
    pub user: *mut c_void,
}

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

/// Called from any library thread, never while the library holds a lock; never after
/// `clips_client_destroy` returns. `message` is valid only during the call.
pub type ClipsLogFn = Option<unsafe extern "C" fn(user: *mut c_void, level: u32, message: *const c_char)>;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsClientOptions {
    pub struct_size: u32,
    /// NULL: https://gameclipsmetadata.xboxlive.com
    pub metadata_base_url: *const c_char,
    /// X-RequestedServiceVersion; NULL: "1".
    pub service_version: *const c_char,
    /// 0: 12 (the contract said 4, which cannot fill an uplink when one connection gets a fifth of it;
    /// see README, Benchmarks). Each worker is one connection; operations share them.
    pub worker_threads: u32,
    /// 0: CLIPS_DEFAULT_BLOCK_SIZE (2,000,000); must be 1 KiB..CLIPS_MAX_BLOCK_SIZE (2 MiB).
    pub block_size: u32,
    /// Push-mode copy budget across all uploads; 0: 16 MiB.
    pub max_buffered_bytes: u64,
    /// 0: unlimited; changeable later with clips_set_bandwidth_limit.
    pub max_bytes_per_second: u64,
    /// 0: 30000. Each step of a request (connect, each read or write, waiting for an answer) must
    /// finish within it, and a request without a block within 4 times it; then it counts as a failed
    /// attempt. A block is not cut off for being long while its bytes move: it is cut off when its
    /// body stalls (the network takes none of it for request_timeout_ms), when its answer takes over 4
    /// times request_timeout_ms once its body is written (on a slow uplink the bytes sit in buffers
    /// long after they are written), or when it outlasts its deadline: 4 times request_timeout_ms plus
    /// 3 times what it should take at the goodput its host has delivered with as many blocks in
    /// flight (8 times request_timeout_ms before anything is measured). Both bounds double for each
    /// block in a row that got no answer. How many blocks go at once follows the same goodput: as
    /// many as each finish within half of request_timeout_ms, 6 before anything is measured, at most
    /// worker_threads.
    pub request_timeout_ms: u32,
    /// 0: 2000.
    pub shutdown_timeout_ms: u32,
    /// NULL: no resume across restarts. Set: every upload's progress is kept there (owner-only files,
    /// never the Authorization value), and clips_client_create resumes what an earlier client left
    /// unfinished (see clips_resumed_uploads). One client per directory at a time.
    pub journal_dir: *const c_char,
    /// Trusted PEM roots; NULL: the built-in webpki roots.
    pub ca_bundle_path: *const c_char,
    /// CLIPS_FLAG_* bits.
    pub flags: u32,
    pub log_fn: ClipsLogFn,
    pub log_user: *mut c_void,
    /// Most verbose CLIPS_LOG_* level delivered to log_fn.
    pub log_level: u32,
    /// Hosts besides the metadata host that uploads may send the Authorization value to (the service
    /// hands out upload URIs; redirects are followed only to these): comma-separated host names or
    /// `*.domain` wildcards, each with an optional `:port`. NULL: "*.xboxlive.com,gameclips.xbox.live".
    /// "": the metadata host only. An upload URI or redirect elsewhere fails the upload with CLIPS_E_HTTP.
    pub upload_hosts: *const c_char,
    /// The title's own HTTP stack (consoles must use the platform's); copied at create. NULL: the
    /// built-in one (a build without the builtin-http feature has none: then it is required).
    pub transport: *const ClipsTransport,
    /// How the library's threads are made; copied at create. NULL: the defaults.
    pub threads: *const ClipsThreadOptions,
    /// The longest back-off between an upload's attempts through transient failures (network errors,
    /// 408, 429, 5xx), which never fail an upload by count; 0: 45000 (a fleet back from an outage
    /// completes within about that long after it ends; see README, Benchmarks).
    pub max_retry_delay_ms: u32,
    /// An upload failing this long without progress fails (the last failure is its error); 0: never.
    pub give_up_after_ms: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ClipsUploadOptions {
    pub struct_size: u32,
    /// Required.
    pub scid: *const c_char,
    /// Set: file mode, the library reads blocks itself. NULL: push mode.
    pub file_path: *const c_char,
    /// Push mode: required. File mode: 0 = take from the file.
    pub file_size: u64,
    pub duration_seconds: u32,
    /// ISO 8601 UTC; NULL: now.
    pub date_recorded: *const c_char,
    pub greatest_moment_id: *const c_char,
    /// At most CLIPS_MAX_CAPTION_CHARS characters.
    pub user_caption: *const c_char,
    pub session_ref: *const c_char,
    /// CLIPS_CLIP_TYPE_* bits; 0: DeveloperInitiated.
    pub clip_types: u32,
    /// CLIPS_SOURCE_*; 0: TitleDirect.
    pub source: u32,
    /// CLIPS_VISIBILITY_*; 0: Default.
    pub visibility: u32,
    /// Opaque, at most 10 KB.
    pub title_data: *const c_char,
    pub system_properties: *const c_char,
    pub users_in_session: *const *const c_char,
    pub users_in_session_count: size_t,
    /// CLIPS_THUMBNAIL_*; 0: DEFAULT (a frame at 3 s).
    pub thumbnail_source: u32,
    /// With CLIPS_THUMBNAIL_OFFSET: the frame's time.
    pub thumbnail_offset_ms: i32,
    /// With CLIPS_THUMBNAIL_UPLOAD (at least one of the two): JPEG or PNG files, at most 2 MiB, sent
    /// as part of the upload, which completes only when they are in. NULL otherwise.
    pub large_thumbnail_path: *const c_char,
    pub small_thumbnail_path: *const c_char,
    pub saved_by_user: bool,
}

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
