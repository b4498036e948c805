//! The C ABI's structs and the callbacks they carry, exactly as `include/gameclips.h` shows them. Each
//! versioned struct (it starts with `struct_size`) is followed by what the library knows of it: its
//! name, its defaults (what `_init` writes, and what an older, smaller struct lacks) and its field list
//! (held to the declaration by a test).

use libc::{c_char, c_void, size_t};

use super::boundary::{fields, Versioned};
use super::types::*;

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

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsHttpRequest {
    const NAME: &'static str = "ClipsHttpRequest";

    fn defaults() -> ClipsHttpRequest {
        ClipsHttpRequest {
            struct_size: std::mem::size_of::<ClipsHttpRequest>() as u32,
            method: std::ptr::null(),
            url: std::ptr::null(),
            headers: std::ptr::null(),
            header_count: 0,
            body: std::ptr::null(),
            body_len: 0,
            timeout_ms: 0,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsHttpRequest; struct_size, method, url, headers, header_count, body, body_len, timeout_ms)
    }
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

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsTransport {
    const NAME: &'static str = "ClipsTransport";

    fn defaults() -> ClipsTransport {
        ClipsTransport { struct_size: 0, user: std::ptr::null_mut(), send: None, cancel: None }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsTransport; struct_size, user, send, cancel)
    }
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

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsMemoryHooks {
    const NAME: &'static str = "ClipsMemoryHooks";

    fn defaults() -> ClipsMemoryHooks {
        ClipsMemoryHooks {
            struct_size: std::mem::size_of::<ClipsMemoryHooks>() as u32,
            user: std::ptr::null_mut(),
            alloc: None,
            realloc: None,
            free: None,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsMemoryHooks; struct_size, user, alloc, realloc, free)
    }
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

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsThreadOptions {
    const NAME: &'static str = "ClipsThreadOptions";

    fn defaults() -> ClipsThreadOptions {
        ClipsThreadOptions {
            struct_size: 0,
            name_prefix: std::ptr::null(),
            stack_size: 0,
            affinity_mask: 0,
            start_thread: None,
            user: std::ptr::null_mut(),
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsThreadOptions; struct_size, name_prefix, stack_size, affinity_mask, start_thread, user)
    }
}

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

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsClientOptions {
    const NAME: &'static str = "ClipsClientOptions";

    fn defaults() -> ClipsClientOptions {
        ClipsClientOptions {
            struct_size: std::mem::size_of::<ClipsClientOptions>() as u32,
            metadata_base_url: std::ptr::null(),
            service_version: std::ptr::null(),
            worker_threads: 0,
            block_size: 0,
            max_buffered_bytes: 0,
            max_bytes_per_second: 0,
            request_timeout_ms: 0,
            shutdown_timeout_ms: 0,
            journal_dir: std::ptr::null(),
            ca_bundle_path: std::ptr::null(),
            flags: 0,
            log_fn: None,
            log_user: std::ptr::null_mut(),
            log_level: CLIPS_LOG_WARN,
            upload_hosts: std::ptr::null(),
            transport: std::ptr::null(),
            threads: std::ptr::null(),
            max_retry_delay_ms: 0,
            give_up_after_ms: 0,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsClientOptions; struct_size, metadata_base_url, service_version, worker_threads, block_size,
            max_buffered_bytes, max_bytes_per_second, request_timeout_ms, shutdown_timeout_ms, journal_dir,
            ca_bundle_path, flags, log_fn, log_user, log_level, upload_hosts, transport, threads, max_retry_delay_ms,
            give_up_after_ms)
    }
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

// SAFETY: #[repr(C)], starts with its u32 struct_size, and every field is listed (bools included).
unsafe impl Versioned for ClipsUploadOptions {
    const NAME: &'static str = "ClipsUploadOptions";

    fn defaults() -> ClipsUploadOptions {
        ClipsUploadOptions {
            struct_size: std::mem::size_of::<ClipsUploadOptions>() as u32,
            scid: std::ptr::null(),
            file_path: std::ptr::null(),
            file_size: 0,
            duration_seconds: 0,
            date_recorded: std::ptr::null(),
            greatest_moment_id: std::ptr::null(),
            user_caption: std::ptr::null(),
            session_ref: std::ptr::null(),
            clip_types: 0,
            source: 0,
            visibility: 0,
            title_data: std::ptr::null(),
            system_properties: std::ptr::null(),
            users_in_session: std::ptr::null(),
            users_in_session_count: 0,
            thumbnail_source: 0,
            thumbnail_offset_ms: 0,
            large_thumbnail_path: std::ptr::null(),
            small_thumbnail_path: std::ptr::null(),
            saved_by_user: false,
        }
    }

    fn fields() -> Vec<(&'static str, usize, usize)> {
        fields!(ClipsUploadOptions; struct_size, scid, file_path, file_size, duration_seconds, date_recorded,
            greatest_moment_id, user_caption, session_ref, clip_types, source, visibility, title_data,
            system_properties, users_in_session, users_in_session_count, thumbnail_source, thumbnail_offset_ms,
            large_thumbnail_path, small_thumbnail_path, saved_by_user)
    }
    fn bool_offsets() -> Vec<usize> {
        vec![std::mem::offset_of!(ClipsUploadOptions, saved_by_user)]
    }
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
