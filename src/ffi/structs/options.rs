//! What the title hands in to create a client and to begin an upload, and their `_init` exports.

use libc::{c_char, c_void, size_t};

use super::super::boundary::{fields, guard, guard_value, init_sized, init_whole, Versioned};
use super::super::types::*;
use super::integration::{ClipsThreadOptions, ClipsTransport};

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
    /// 0: 12. Each worker is one connection, and operations share them; twelve fill an uplink where
    /// one connection gets a fraction of it (docs/benchmarks.md).
    pub worker_threads: u32,
    /// 0: CLIPS_DEFAULT_BLOCK_SIZE (2,000,000); must be 1 KiB..CLIPS_MAX_BLOCK_SIZE (2 MiB).
    pub block_size: u32,
    /// Push-mode copy budget across all uploads; 0: 16 MiB.
    pub max_buffered_bytes: u64,
    /// 0: unlimited; changeable later with clips_set_bandwidth_limit.
    pub max_bytes_per_second: u64,
    /// 0: 30000. Each step of a request (connect, each read or write, waiting for an answer) must
    /// finish within it; a request without a block must end within 4 times it. A block is cut off only
    /// when its body stalls for this long or its deadline passes, and the deadline follows the
    /// goodput its host delivers, so slow uplinks finish.
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
    /// completes within about that long after it ends).
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

/// Fills `o` with the defaults and its struct_size. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn clips_client_options_init(o: *mut ClipsClientOptions) {
    guard_value("clips_client_options_init", (), || {
        // SAFETY: forwarded contract: `o` is NULL or a writable struct.
        unsafe { init_whole(o) }
    })
}

/// clips_client_options_init for a struct of `size` bytes, the caller's `sizeof`: never written past (the header's
/// `clips_client_options_init(o)` macro passes `sizeof *(o)`, so a newer library keeps to an older struct).
#[no_mangle]
pub unsafe extern "C" fn clips_client_options_init_sized(o: *mut ClipsClientOptions, size: size_t) -> ClipsResult {
    guard("clips_client_options_init_sized", || {
        // SAFETY: forwarded contract: `o` is NULL or writable for `size` bytes.
        unsafe { init_sized(o, size) }
    })
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

/// Fills `o` with the defaults and its struct_size. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn clips_upload_options_init(o: *mut ClipsUploadOptions) {
    guard_value("clips_upload_options_init", (), || {
        // SAFETY: forwarded contract: `o` is NULL or a writable struct.
        unsafe { init_whole(o) }
    })
}

/// clips_upload_options_init for a struct of `size` bytes, the caller's `sizeof`: never written past (the header's
/// `clips_upload_options_init(o)` macro passes `sizeof *(o)`, so a newer library keeps to an older struct).
#[no_mangle]
pub unsafe extern "C" fn clips_upload_options_init_sized(o: *mut ClipsUploadOptions, size: size_t) -> ClipsResult {
    guard("clips_upload_options_init_sized", || {
        // SAFETY: forwarded contract: `o` is NULL or writable for `size` bytes.
        unsafe { init_sized(o, size) }
    })
}
