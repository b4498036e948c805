//! Exports of the "Client" part of the contract.

use std::ffi::{CStr, CString};

use std::sync::Arc;
use std::time::Duration;

use libc::{c_char, c_void, size_t};

use super::boundary::{
    c_str, guard, guard_value, non_null, non_null_mut, read_versioned, required_c_str, with_last_error, write_str,
};
use super::registry;
use super::structs::*;
use super::threads::thread_options;
use super::transport::CTransport;
use super::types::*;
use crate::error::{Error, ErrorKind};
use crate::log::LogLevel;
use crate::{Client, ClientOptions};

/// The game's `log_user` pointer, handed back to its callback from worker threads.
struct LogUser(*mut c_void);
// SAFETY: the library never dereferences it; the game promised (by passing it with log_fn) that its
// callback may receive it on any thread.
unsafe impl Send for LogUser {}
// SAFETY: as above.
unsafe impl Sync for LogUser {}

impl LogUser {
    // A method, so closures capture the whole (Send) wrapper rather than its raw-pointer field.
    fn get(&self) -> *mut c_void {
        self.0
    }
}

fn log_sink(log_fn: ClipsLogFn, user: *mut c_void) -> Option<crate::LogSink> {
    let log_fn = log_fn?;
    let user = LogUser(user);
    Some(Arc::new(move |level: LogLevel, message: &str| {
        let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: log_fn is the game's callback, called with its own user pointer and a valid C string.
        unsafe { log_fn(user.get(), level as u32, message.as_ptr()) };
    }))
}

fn or_default<T: PartialEq + Default>(value: T, default: T) -> T {
    if value == T::default() {
        default
    } else {
        value
    }
}

fn client_options(o: &ClipsClientOptions) -> Result<ClientOptions, Error> {
    let defaults = ClientOptions::default();
    if o.flags & !CLIPS_FLAG_ALLOW_INSECURE_HTTP != 0 {
        return Err(Error::invalid(format!("flags {:#x} has unknown bits", o.flags)));
    }
    if o.log_level > CLIPS_LOG_TRACE {
        return Err(Error::invalid(format!("log_level {} is not a CLIPS_LOG_* value", o.log_level)));
    }
    let threads = if o.threads.is_null() {
        crate::ThreadOptions::default()
    } else {
        // SAFETY: non-NULL and, per the contract, readable for its struct_size.
        let threads = unsafe { read_versioned(o.threads) }?;
        thread_options(&threads)?
    };
    let transport = if o.transport.is_null() {
        None
    } else {
        // SAFETY: non-NULL and, per the contract, readable for its struct_size.
        let transport = unsafe { read_versioned(o.transport) }?;
        Some(Arc::new(CTransport::new(transport)?) as Arc<dyn crate::HttpTransport>)
    };
    let text = |ptr, name| c_str!(ptr, name);
    let millis = |ms: u32| Duration::from_millis(u64::from(ms));
    Ok(ClientOptions {
        metadata_base_url: text(o.metadata_base_url, "metadata_base_url")?
            .map_or(defaults.metadata_base_url, str::to_string),
        service_version: text(o.service_version, "service_version")?.map_or(defaults.service_version, str::to_string),
        worker_threads: or_default(o.worker_threads, defaults.worker_threads),
        block_size: or_default(o.block_size, defaults.block_size),
        max_buffered_bytes: or_default(o.max_buffered_bytes, defaults.max_buffered_bytes),
        max_bytes_per_second: o.max_bytes_per_second,
        request_timeout: millis(or_default(o.request_timeout_ms, 30_000)),
        shutdown_timeout: millis(or_default(o.shutdown_timeout_ms, 2_000)),
        journal_dir: text(o.journal_dir, "journal_dir")?.map(Into::into),
        ca_bundle_path: text(o.ca_bundle_path, "ca_bundle_path")?.map(Into::into),
        allow_insecure_http: o.flags & CLIPS_FLAG_ALLOW_INSECURE_HTTP != 0,
        upload_hosts: text(o.upload_hosts, "upload_hosts")?.map_or(defaults.upload_hosts, str::to_string),
        log: log_sink(o.log_fn, o.log_user),
        log_level: o.log_level,
        max_retry_delay: millis(or_default(o.max_retry_delay_ms, defaults.max_retry_delay.as_millis() as u32)),
        give_up_after: (o.give_up_after_ms != 0).then(|| millis(o.give_up_after_ms)),
        transport,
        threads,
    })
}

/// Creates a client and its worker threads. `*out` is written only on success.
#[no_mangle]
pub unsafe extern "C" fn clips_client_create(o: *const ClipsClientOptions, out: *mut *mut ClipsClient) -> ClipsResult {
    guard("clips_client_create", || {
        let o = non_null(o, "options")?;
        let out = non_null_mut(out, "out")?;
        // SAFETY: non-NULL, readable for its struct_size, per the contract.
        let o = unsafe { read_versioned(o) }?;
        let client = Client::new(client_options(&o)?)?;
        // SAFETY: out is non-NULL and writable.
        unsafe { out.write(registry::register(client)) };
        Ok(CLIPS_OK)
    })
}

/// Stops the client: requests in flight are interrupted, and it returns within shutdown_timeout_ms
/// (plus a little) even with a stalled server. Afterwards no library thread of this client calls
/// log_fn, and calls with this pointer return CLIPS_E_SHUTDOWN. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn clips_client_destroy(c: *mut ClipsClient) {
    guard_value("clips_client_destroy", (), || {
        if let Some(client) = registry::unregister(c) {
            client.shutdown();
        }
    })
}

/// The whole Authorization header value (e.g. "XBL3.0 x=...;..."). Uploads waiting for one continue.
#[no_mangle]
pub unsafe extern "C" fn clips_set_authorization(c: *mut ClipsClient, header_value: *const c_char) -> ClipsResult {
    guard("clips_set_authorization", || {
        let client = registry::lookup(c)?;
        let value = required_c_str!(header_value, "header_value")?;
        client.set_authorization(value)?;
        Ok(CLIPS_OK)
    })
}

/// No new requests start until clips_resume (use on suspend, or during a match).
#[no_mangle]
pub unsafe extern "C" fn clips_pause(c: *mut ClipsClient) -> ClipsResult {
    guard("clips_pause", || {
        registry::lookup(c)?.pause();
        Ok(CLIPS_OK)
    })
}

#[no_mangle]
pub unsafe extern "C" fn clips_resume(c: *mut ClipsClient) -> ClipsResult {
    guard("clips_resume", || {
        registry::lookup(c)?.resume();
        Ok(CLIPS_OK)
    })
}

/// The title is being suspended (console PLM, mobile background). Returns within `max_ms`: requests
/// in flight are abandoned without charging any retry, pooled connections are closed, the journals are
/// made durable, and nothing is sent until clips_resume. Uploads show CLIPS_STATE_PAUSED.
#[no_mangle]
pub unsafe extern "C" fn clips_suspend(c: *mut ClipsClient, max_ms: u32) -> ClipsResult {
    guard("clips_suspend", || {
        registry::lookup(c)?.suspend(Duration::from_millis(u64::from(max_ms)));
        Ok(CLIPS_OK)
    })
}

/// What the platform says about the network: CLIPS_NETWORK_OFFLINE (nothing is sent and no retry is
/// spent; uploads show CLIPS_STATE_PAUSED) or CLIPS_NETWORK_ONLINE (uploads waiting out a back-off go
/// at once).
#[no_mangle]
pub unsafe extern "C" fn clips_set_network_status(c: *mut ClipsClient, status: u32) -> ClipsResult {
    guard("clips_set_network_status", || {
        let online = match status {
            CLIPS_NETWORK_OFFLINE => false,
            CLIPS_NETWORK_ONLINE => true,
            other => return Err(Error::invalid(format!("status {other} is not a CLIPS_NETWORK_* value"))),
        };
        registry::lookup(c)?.set_network_online(online);
        Ok(CLIPS_OK)
    })
}

/// 0: unlimited. Applies to all uploads of the client, from the next block on.
#[no_mangle]
pub unsafe extern "C" fn clips_set_bandwidth_limit(c: *mut ClipsClient, bytes_per_second: u64) -> ClipsResult {
    guard("clips_set_bandwidth_limit", || {
        registry::lookup(c)?.set_bandwidth_limit(bytes_per_second);
        Ok(CLIPS_OK)
    })
}

/// == CLIPS_ABI_VERSION of the header the library was built with.
#[no_mangle]
pub extern "C" fn clips_abi_version() -> u32 {
    guard_value("clips_abi_version", CLIPS_ABI_VERSION, || CLIPS_ABI_VERSION)
}

/// Static, e.g. "0.1.0".
#[no_mangle]
pub extern "C" fn clips_version_string() -> *const c_char {
    guard_value("clips_version_string", VERSION.as_ptr().cast(), || VERSION.as_ptr().cast())
}

/// The detail of the last failed call on this thread ("" if none).
#[no_mangle]
pub unsafe extern "C" fn clips_last_error_message(buf: *mut c_char, cap: size_t, out_len: *mut size_t) -> ClipsResult {
    // Not through `guard`: a failure here must not replace the message being read.
    guard_value("clips_last_error_message", CLIPS_E_INTERNAL, || {
        // SAFETY: buf/out_len per the contract.
        with_last_error(|message| unsafe { write_str(message, buf, cap, out_len) }).unwrap_or_else(|error| error.code())
    })
}

/// A static name for any result value ("CLIPS_E_HTTP", ...; "CLIPS_UNKNOWN_RESULT" otherwise).
#[no_mangle]
pub extern "C" fn clips_result_name(result: ClipsResult) -> *const c_char {
    guard_value("clips_result_name", UNKNOWN.as_ptr(), || result_name(result).as_ptr())
}

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
const UNKNOWN: &CStr = c"CLIPS_UNKNOWN_RESULT";

/// The results that are not errors; the errors' names come with their kinds ([`ErrorKind::name`]).
const SUCCESS_NAMES: [(ClipsResult, &CStr); 3] =
    [(CLIPS_OK, c"CLIPS_OK"), (CLIPS_PENDING, c"CLIPS_PENDING"), (CLIPS_NO_EVENT, c"CLIPS_NO_EVENT")];

fn result_name(result: ClipsResult) -> &'static CStr {
    let error = || ErrorKind::ALL.iter().find(|kind| kind.code() == result).map(|kind| kind.name());
    SUCCESS_NAMES.iter().find(|(value, _)| *value == result).map(|(_, name)| *name).or_else(error).unwrap_or(UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::events::EventKind;
    use crate::jobs::status::UploadState;

    /// `#define NAME value` lines of the generated header whose name starts with `prefix`.
    fn header_defines(prefix: &str) -> Vec<(String, i64)> {
        include_str!("../../include/gameclips.h")
            .lines()
            .filter_map(|line| {
                let (name, value) = line.strip_prefix("#define ")?.split_once(' ')?;
                Some((name.to_string(), value.trim().parse().ok()?)).filter(|_| name.starts_with(prefix))
            })
            .collect()
    }

    /// Every result code the header defines is named by `clips_result_name` as the header names it, and
    /// the library's table holds nothing the header lacks.
    #[test]
    fn every_result_code_of_the_header_has_its_name() {
        let results: Vec<(String, i64)> = ["CLIPS_OK", "CLIPS_PENDING", "CLIPS_NO_EVENT", "CLIPS_E_"]
            .into_iter()
            .flat_map(|prefix| header_defines(prefix).into_iter().filter(move |(name, _)| name.starts_with(prefix)))
            .collect();
        assert_eq!(results.len(), SUCCESS_NAMES.len() + ErrorKind::ALL.len(), "{results:?}");
        for (name, value) in &results {
            assert_eq!(result_name(*value as ClipsResult).to_str().unwrap(), name);
        }
        assert_eq!(result_name(12345), UNKNOWN);
    }

    #[test]
    fn every_state_and_event_of_the_header_is_the_librarys() {
        let states = header_defines("CLIPS_STATE_");
        assert_eq!(states.len(), UploadState::ALL.len(), "{states:?}");
        for (name, value) in &states {
            let state = UploadState::from_code(*value as u32).unwrap_or_else(|| panic!("{name} is a state"));
            assert_eq!(state.name().to_str().unwrap(), name);
        }
        let events = header_defines("CLIPS_EVENT_");
        assert_eq!(events.len(), EventKind::ALL.len(), "{events:?}");
        for (name, value) in &events {
            let kind = EventKind::ALL.iter().copied().find(|kind| *kind as i64 == *value);
            assert_eq!(kind.map(|kind| kind.name().to_str().unwrap()), Some(name.as_str()));
        }
        let clip_states = header_defines("CLIPS_CLIP_STATE_");
        for (name, value) in &clip_states {
            // CLIPS_CLIP_STATE_PENDING_UPLOAD is the service's "PendingUpload".
            let service_name = name["CLIPS_CLIP_STATE_".len()..].replace('_', "");
            assert_eq!(crate::protocol::clip_state_code(&service_name) as i64, *value, "{name}");
        }
        assert_eq!(clip_states.len(), 13, "UNKNOWN and the service's 12 states");
    }
}
