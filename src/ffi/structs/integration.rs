//! The structs of "Platform integration": the title's HTTP transport, memory hooks and threads.

use libc::{c_char, c_void, size_t};

use super::super::boundary::{fields, Versioned};
use super::super::types::*;

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
    /// shutdown_timeout_ms; the threads are the title's to join (before unloading the library too: the
    /// last instructions of an entry run in it).
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
