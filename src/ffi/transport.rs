//! The title's transport, in C: `ClipsTransport` as an [`HttpTransport`], and the `clips_exchange_*`
//! calls with which the title answers. An exchange handed to the title is one reference to the
//! [`Exchange`], given up with `Arc::into_raw` and taken back by `clips_exchange_complete`. A registry
//! of live exchanges makes every call with a completed, foreign or NULL pointer an error, not UB.

use std::collections::HashSet;
use std::ffi::CString;
use std::sync::Arc;

use libc::{c_char, size_t};
use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::boundary::{c_str, guard, required_c_str};
use super::structs::*;
use super::types::*;
use crate::error::{Error, ErrorKind};
use crate::transport::title::{Exchange, ExchangeError, ExchangeInner, ExchangeOutcome, HttpTransport, SendResult};

/// Exchanges the title holds (given to `send`, not yet completed), by address.
static LIVE: Lazy<Mutex<HashSet<usize>>> = Lazy::new(Mutex::default);

fn raw_of(exchange: &Exchange) -> *mut ClipsExchange {
    Arc::as_ptr(&exchange.0).cast_mut().cast()
}

/// A new reference to a live exchange.
fn borrow_live(x: *mut ClipsExchange) -> Result<Exchange, Error> {
    let live = LIVE.lock();
    if x.is_null() || !live.contains(&(x as usize)) {
        return Err(not_live());
    }
    let inner = x.cast_const().cast::<ExchangeInner>();
    // SAFETY: a live address is an `Arc<ExchangeInner>` whose reference the title holds; while the
    // registry lock is held nobody can complete (and so release) it, so the count is at least one.
    unsafe { Arc::increment_strong_count(inner) };
    // SAFETY: the reference just added is the one this `Arc` owns.
    Ok(Exchange(unsafe { Arc::from_raw(inner) }))
}

/// Takes back the title's reference: the exchange is no longer live.
fn take_live(x: *mut ClipsExchange) -> Option<Exchange> {
    if !LIVE.lock().remove(&(x as usize)) {
        return None;
    }
    // SAFETY: it was live, so it is the reference `send` gave up with `Arc::into_raw`, now removed from
    // the registry under its lock, so taken back exactly once.
    Some(Exchange(unsafe { Arc::from_raw(x.cast_const().cast::<ExchangeInner>()) }))
}

fn not_live() -> Error {
    Error::new(ErrorKind::InvalidHandle, "not a live exchange: NULL, already completed, or never handed out")
}

/// The request in C form, kept alive with its exchange.
struct CRequest {
    _method: CString,
    _url: CString,
    _header_text: Vec<(CString, CString)>,
    _headers: Vec<ClipsHttpHeader>,
    request: ClipsHttpRequest,
}

// SAFETY: the raw pointers point into the CStrings and Vecs this struct owns (and the exchange's body),
// which never move or change while it lives; nothing is mutated through them.
unsafe impl Send for CRequest {}
// SAFETY: as above.
unsafe impl Sync for CRequest {}

impl CRequest {
    fn new(exchange: &Exchange) -> Result<Box<CRequest>, String> {
        let request = exchange.request();
        let text = |s: &str| CString::new(s).map_err(|_| "a request header holds a NUL byte".to_string());
        let method = text(request.method)?;
        let url = text(&request.url)?;
        let header_text =
            request.headers.iter().map(|(n, v)| Ok((text(n)?, text(v)?))).collect::<Result<Vec<_>, String>>()?;
        let headers: Vec<ClipsHttpHeader> =
            header_text.iter().map(|(n, v)| ClipsHttpHeader { name: n.as_ptr(), value: v.as_ptr() }).collect();
        let body = &request.body;
        let c_request = ClipsHttpRequest {
            struct_size: std::mem::size_of::<ClipsHttpRequest>() as u32,
            method: method.as_ptr(),
            url: url.as_ptr(),
            headers: headers.as_ptr(),
            header_count: headers.len(),
            body: if body.is_empty() { std::ptr::null() } else { body.as_ptr() },
            body_len: body.len(),
            timeout_ms: request.timeout.as_millis().min(u128::from(u32::MAX)) as u32,
        };
        Ok(Box::new(CRequest {
            _method: method,
            _url: url,
            _header_text: header_text,
            _headers: headers,
            request: c_request,
        }))
    }
}

/// The title's `ClipsTransport`, copied at create.
pub struct CTransport(ClipsTransport);

// SAFETY: `user` is the title's; by setting a transport it promised send and cancel may be called with
// it from any of the library's threads.
unsafe impl Send for CTransport {}
// SAFETY: as above.
unsafe impl Sync for CTransport {}

impl CTransport {
    pub fn new(transport: ClipsTransport) -> Result<CTransport, Error> {
        if transport.send.is_none() || transport.cancel.is_none() {
            return Err(Error::invalid("transport.send and transport.cancel are required"));
        }
        Ok(CTransport(transport))
    }
}

impl HttpTransport for CTransport {
    fn send(&self, exchange: Exchange) -> SendResult {
        let Some(send) = self.0.send else { return SendResult::Failed("no send function".into()) };
        if exchange.attached().is_none() {
            match CRequest::new(&exchange) {
                Ok(c_request) => exchange.attach(c_request),
                Err(why) => return SendResult::Failed(why),
            }
        }
        let Some(c_request) = exchange.attached().and_then(|a| a.downcast_ref::<CRequest>()) else {
            return SendResult::Failed("the request could not be prepared".into());
        };
        let request: *const ClipsHttpRequest = &c_request.request;
        let x: *mut ClipsExchange = Arc::into_raw(exchange.0.clone()).cast_mut().cast();
        LIVE.lock().insert(x as usize);
        // SAFETY: the title's callback with its user pointer; `x` and `request` stay valid until the
        // exchange completes (the title's reference keeps the exchange, which keeps the request, alive).
        let result = unsafe { send(self.0.user, x, request) };
        match result {
            CLIPS_OK => SendResult::Started,
            other => {
                // Not started: take the title's reference back (unless it completed the exchange anyway).
                drop(take_live(x));
                if other == CLIPS_E_WOULD_BLOCK {
                    SendResult::WouldBlock
                } else {
                    SendResult::Failed(format!("send returned {other}"))
                }
            }
        }
    }

    fn cancel(&self, exchange: &Exchange) {
        let x = raw_of(exchange);
        if !LIVE.lock().contains(&(x as usize)) {
            return; // completed already
        }
        if let Some(cancel) = self.0.cancel {
            // SAFETY: the title's callback with its user pointer and an exchange it has not completed.
            unsafe { cancel(self.0.user, x) };
        }
    }
}

fn exchange_error(error: ExchangeError) -> Error {
    match error {
        ExchangeError::TooLarge => Error::new(
            ErrorKind::Http,
            "the answer is larger than the library reads: abort the transfer and complete the exchange",
        ),
        ExchangeError::Completed => not_live(),
    }
}

/// The answer's HTTP status (100..599).
#[no_mangle]
pub unsafe extern "C" fn clips_exchange_set_status(x: *mut ClipsExchange, http_status: u32) -> ClipsResult {
    guard("clips_exchange_set_status", || {
        let exchange = borrow_live(x)?;
        let status = u16::try_from(http_status)
            .ok()
            .filter(|s| (100..600).contains(s))
            .ok_or_else(|| Error::invalid(format!("http_status {http_status} is not 100..599")))?;
        exchange.set_status(status).map_err(exchange_error)?;
        Ok(CLIPS_OK)
    })
}

/// One response header; pass every one (gameclips reads Retry-After, Location, Content-Range...).
#[no_mangle]
pub unsafe extern "C" fn clips_exchange_add_header(
    x: *mut ClipsExchange,
    name: *const c_char,
    value: *const c_char,
) -> ClipsResult {
    guard("clips_exchange_add_header", || {
        let exchange = borrow_live(x)?;
        let name = required_c_str!(name, "name")?;
        let value = required_c_str!(value, "value")?;
        exchange.add_header(name, value).map_err(exchange_error)?;
        Ok(CLIPS_OK)
    })
}

/// A piece of the answer's body, copied; call as often as needed. Over the library's cap it returns
/// CLIPS_E_HTTP: abort the transfer and complete the exchange.
#[no_mangle]
pub unsafe extern "C" fn clips_exchange_write_body(x: *mut ClipsExchange, data: *const u8, len: size_t) -> ClipsResult {
    guard("clips_exchange_write_body", || {
        let exchange = borrow_live(x)?;
        let data: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(Error::invalid("data is NULL with len > 0"));
        } else {
            // SAFETY: non-NULL and, per the contract, readable for len bytes during the call.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        exchange.write_body(data).map_err(exchange_error)?;
        Ok(CLIPS_OK)
    })
}

/// Ends the exchange with a CLIPS_TRANSPORT_* outcome and an optional message (never the token). After
/// it, `x` is gone.
#[no_mangle]
pub unsafe extern "C" fn clips_exchange_complete(
    x: *mut ClipsExchange,
    outcome: u32,
    message: *const c_char,
) -> ClipsResult {
    guard("clips_exchange_complete", || {
        let outcome = match outcome {
            CLIPS_TRANSPORT_ANSWERED => ExchangeOutcome::Answered,
            CLIPS_TRANSPORT_NOT_SENT => ExchangeOutcome::NotSent,
            CLIPS_TRANSPORT_FAILED => ExchangeOutcome::Failed,
            CLIPS_TRANSPORT_TLS_UNTRUSTED => ExchangeOutcome::TlsUntrusted,
            CLIPS_TRANSPORT_CANCELLED => ExchangeOutcome::Cancelled,
            other => return Err(Error::invalid(format!("outcome {other} is not a CLIPS_TRANSPORT_* value"))),
        };
        // Checked before the exchange is taken, so a bad message leaves it live for a correct call.
        let message = c_str!(message, "message")?.unwrap_or_default().to_string();
        let exchange = take_live(x).ok_or_else(not_live)?;
        exchange.complete(outcome, &message).map_err(exchange_error)?;
        Ok(CLIPS_OK)
    })
}
