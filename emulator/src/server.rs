//! The HTTP server and its request pipeline:
//! accept (connection counted) -> route -> fault plan -> latency -> body read (counted, capped, paced
//! to the bandwidth limits, maybe cut off by a reset) -> stall? -> injected status? -> expired token?
//! -> handler on the blocking pool -> status counted -> response.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, LOCATION, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::api::{self, MAX_BODY};
use crate::clock::now_ms;
use crate::config::{EmulatorConfig, TlsIdentity};
use crate::faults::{FaultPlan, Faults};
use crate::response::{empty_response, json_response, HttpResponse};
use crate::routes::Route;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::store::Store;
use crate::throttle::Throttle;
use crate::{admin, token};

/// The connection was dropped on purpose (or by the client) in the middle of a request.
#[derive(Debug)]
pub struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped")
    }
}

impl std::error::Error for ConnectionDropped {}

enum BodyRead {
    Complete(Bytes),
    TooLarge,
}

/// Reads the body, at most `MAX_BODY` bytes of it, no faster than the plan's bandwidth limits (the
/// uplink's is `token`'s); with `plan.reset`, drops the connection once about half of it has arrived.
async fn read_body(
    mut body: Incoming,
    expected_len: Option<u64>,
    plan: &FaultPlan,
    shared: &Shared,
    token: &str,
) -> Result<BodyRead, ConnectionDropped> {
    if plan.reset && expected_len.unwrap_or(0) == 0 {
        return Err(ConnectionDropped);
    }
    let started = tokio::time::Instant::now();
    let mut collected = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ConnectionDropped)?;
        if let Ok(data) = frame.into_data() {
            shared.stats.body_received(data.len());
            if collected.len() + data.len() > MAX_BODY {
                return Ok(BodyRead::TooLarge);
            }
            collected.extend_from_slice(&data);
            pace(plan, shared, started, collected.len() as u64, data.len() as u64, token).await;
            if plan.reset && collected.len() as u64 * 2 >= expected_len.unwrap_or(0) {
                return Err(ConnectionDropped);
            }
        }
    }
    Ok(BodyRead::Complete(collected.freeze()))
}

/// Sleeps until `read` bytes of this body, and `chunk` more bytes on the shared link and on `token`'s
/// uplink, are due.
async fn pace(plan: &FaultPlan, shared: &Shared, started: tokio::time::Instant, read: u64, chunk: u64, token: &str) {
    if plan.conn_bandwidth > 0 {
        tokio::time::sleep_until(started + Duration::from_secs_f64(read as f64 / plan.conn_bandwidth as f64)).await;
    }
    if plan.link_bandwidth > 0 {
        let due =
            occupy(&mut shared.link_free_at.lock().unwrap_or_else(|p| p.into_inner()), chunk, plan.link_bandwidth);
        tokio::time::sleep_until(due).await;
    }
    if plan.uplink_bandwidth > 0 {
        let due = {
            let mut uplinks = shared.uplink_free_at.lock().unwrap_or_else(|p| p.into_inner());
            let free_at = uplinks.entry(token.to_string()).or_insert_with(tokio::time::Instant::now);
            occupy(free_at, chunk, plan.uplink_bandwidth)
        };
        tokio::time::sleep_until(due).await;
    }
}

/// Books `chunk` bytes on a link that carries `bandwidth` bytes/s and is free at `free_at`: when they
/// will have gone through.
fn occupy(free_at: &mut tokio::time::Instant, chunk: u64, bandwidth: u64) -> tokio::time::Instant {
    let start = (*free_at).max(tokio::time::Instant::now());
    *free_at = start + Duration::from_secs_f64(chunk as f64 / bandwidth as f64);
    *free_at
}

/// Counts a request made with this token; true once it has made `limit` or more.
fn token_expired(shared: &Shared, parts: &Parts, limit: u64) -> bool {
    let Some(token) = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let mut counts = shared.token_requests.lock().unwrap_or_else(|p| p.into_inner());
    let count = counts.entry(token.to_string()).or_default();
    *count += 1;
    *count >= limit
}

/// An injected error answer, with `Retry-After` where the service would send one.
fn injected(status: u16, retry_after_s: u64) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = crate::wire::service_error(status.as_u16() as i32, "injected by the emulator's fault settings");
    let mut response = json_response(status, &body);
    if retry_after_s > 0 && matches!(status.as_u16(), 429 | 503) {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_s));
    }
    response
}

/// What the request log says of a plan: the fault injected, if any.
fn fault_label(plan: &FaultPlan, redirected: bool, token_expired: bool) -> Option<String> {
    if plan.reset {
        Some("reset".into())
    } else if plan.throttled {
        Some("throttled".into())
    } else if let Some(status) = plan.fail_with {
        Some(status.to_string())
    } else if redirected {
        Some("redirect".into())
    } else if token_expired {
        Some("expired token".into())
    } else if plan.drop_answer {
        Some("dropped answer".into())
    } else {
        None
    }
}

async fn serve(
    shared: Arc<Shared>,
    peer: IpAddr,
    request: Request<Incoming>,
) -> Result<HttpResponse, ConnectionDropped> {
    let route = Route::parse(request.method(), request.uri().path());
    if let Route::Admin(admin) = &route {
        let client = shared.config.public_url.client_address(peer, request.headers());
        if !shared.config.admin.allows(client, request.headers()) {
            return Ok(admin::refused(&shared.config.admin, admin, request.uri().query()));
        }
    }
    let endpoint = route.endpoint();
    if route.is_service_call() {
        shared.stats.call_arrived();
    }
    let log = CallLog::begin(&route, &request);
    let _in_flight = shared.stats.request_started();
    let (mut plan, settings) = fault_plan(&shared, &route, &request);
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    let (parts, body) = request.into_parts();
    let expected_len = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let token = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = match read_body(body, expected_len, &plan, &shared, &token).await {
        Ok(body) => body,
        Err(dropped) => {
            log.record(&shared, 0, 0, plan.reset.then(|| "reset".to_string()));
            return Err(dropped);
        }
    };
    if plan.stall {
        log.record(&shared, 0, 0, Some("stall".into()));
        std::future::pending::<()>().await;
    }
    if route.is_service_call() {
        // The service answers as it is when the body has arrived: a block in flight for seconds when
        // an outage begins gets its 503, as from a real service, not the answer of before.
        let faults = shared.faults();
        plan.fail_with = faults.injected_status();
        plan.retry_after_s = faults.retry_after_s;
    }
    let bytes = match &body {
        BodyRead::Complete(body) => body.len() as u64,
        BodyRead::TooLarge => MAX_BODY as u64,
    };
    let (response, fault) = answer(&shared, route, parts, body, &plan, settings).await;
    shared.stats.record(endpoint, response.status().as_u16());
    if plan.drop_answer {
        log.record(&shared, 0, bytes, fault);
        return Err(ConnectionDropped);
    }
    log.record(&shared, response.status().as_u16(), bytes, fault);
    Ok(response)
}

/// A service call as the request log will show it (the dashboard reading the log must not fill it:
/// the emulator's own endpoints are not logged).
struct CallLog {
    arrived_ms: u64,
    started: tokio::time::Instant,
    /// Method, path and token fingerprint; `None` for the emulator's own endpoints.
    call: Option<(String, String, Option<String>)>,
}

impl CallLog {
    fn begin(route: &Route, request: &Request<Incoming>) -> CallLog {
        let call = route.is_service_call().then(|| {
            let uri = request.uri();
            let path = uri.path_and_query().map_or_else(|| uri.path().to_string(), |p| p.to_string());
            let token = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(token::fingerprint);
            (request.method().to_string(), path, token)
        });
        CallLog { arrived_ms: now_ms(), started: tokio::time::Instant::now(), call }
    }

    fn record(&self, shared: &Shared, status: u16, bytes: u64, fault: Option<String>) {
        let Some((method, path, token)) = &self.call else { return };
        shared.stats.call_answered(status);
        shared.requests.push(crate::request_log::LoggedRequest {
            at_ms: self.arrived_ms,
            method: method.clone(),
            path: path.clone(),
            status,
            duration_ms: self.started.elapsed().as_millis() as u64,
            bytes,
            fault,
            token: token.clone(),
        })
    }
}

/// The fault settings that decide a call's answer besides its plan.
#[derive(Clone, Copy, Default)]
struct AnswerFaults {
    /// Tokens expire after this many requests (0: never).
    token_limit: u64,
    /// Blocks are redirected with this status (0: not).
    redirect_blocks: u16,
}

/// What the fault settings do to this request (nothing to the emulator's own endpoints), the
/// throttles included.
fn fault_plan(shared: &Shared, route: &Route, request: &Request<Incoming>) -> (FaultPlan, AnswerFaults) {
    if !route.is_service_call() {
        return (FaultPlan::default(), AnswerFaults::default());
    }
    let faults = shared.faults();
    let mut plan = faults.plan();
    if faults.throttle_rps > 0 {
        let token = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        plan.throttled = !shared.throttle.admits(token, faults.throttle_rps, std::time::Instant::now());
    }
    if faults.front_rps > 0 && !plan.throttled {
        plan.throttled = !shared.front.admits("", faults.front_rps, std::time::Instant::now());
    }
    (plan, AnswerFaults { token_limit: faults.expire_tokens_after, redirect_blocks: faults.redirect_blocks })
}

/// The answer to a request whose body has arrived: a fault's, or the handler's; with the fault's
/// label for the request log.
async fn answer(
    shared: &Arc<Shared>,
    route: Route,
    parts: Parts,
    body: BodyRead,
    plan: &FaultPlan,
    faults: AnswerFaults,
) -> (HttpResponse, Option<String>) {
    let (mut redirected, mut expired) = (false, false);
    let response = match body {
        BodyRead::TooLarge => empty_response(StatusCode::PAYLOAD_TOO_LARGE),
        // A front's throttle answers before the service would: no Retry-After, the client finds the rate.
        BodyRead::Complete(_) if plan.throttled => injected(429, 0),
        BodyRead::Complete(_) if plan.fail_with.is_some() => {
            injected(plan.fail_with.unwrap_or(503), plan.retry_after_s)
        }
        BodyRead::Complete(_) if faults.redirect_blocks != 0 && parts.uri.path().starts_with("/upload/") => {
            redirected = true;
            let target = format!("/moved{}", parts.uri.path_and_query().map_or("", |p| p.as_str()));
            let status = StatusCode::from_u16(faults.redirect_blocks).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
            let mut response = empty_response(status);
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/")));
            response
        }
        BodyRead::Complete(_) if faults.token_limit > 0 && token_expired(shared, &parts, faults.token_limit) => {
            expired = true;
            json_response(
                StatusCode::UNAUTHORIZED,
                &crate::wire::service_error(401, "token expired (the emulator's expire_tokens_after)"),
            )
        }
        BodyRead::Complete(body) => {
            let handler_shared = shared.clone();
            let base = shared.config.public_url.base(shared.scheme, &parts.headers, &shared.base_url);
            tokio::task::spawn_blocking(move || dispatch(&handler_shared, route, &parts, &body, &base))
                .await
                .unwrap_or_else(|_| empty_response(StatusCode::INTERNAL_SERVER_ERROR))
        }
    };
    (response, fault_label(plan, redirected, expired))
}

/// The handler for a route: the service's endpoints, or the emulator's own.
fn dispatch(shared: &Arc<Shared>, route: Route, parts: &Parts, body: &[u8], base: &str) -> HttpResponse {
    let answered = match route {
        Route::Admin(admin) => admin::handle(shared, admin, parts, body, base),
        service => Ok(api::handle(shared, service, parts, body, base)),
    };
    answered.unwrap_or_else(|response| response)
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(_) => continue,
            },
            _ = &mut stop => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = shared.stats.connection_opened();
            match tls {
                // A failed handshake (an untrusted certificate, say) just ends the connection.
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        serve_connection(stream, peer, shared.clone()).await;
                    }
                }
                None => serve_connection(stream, peer, shared.clone()).await,
            }
        });
    }
}

async fn serve_connection<S>(stream: S, peer: IpAddr, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(|request| serve(shared.clone(), peer, request));
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}

/// The listening address as one a person on this machine can open: loopback for 0.0.0.0 and [::].
fn openable(listening: SocketAddr) -> SocketAddr {
    match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from((Ipv4Addr::LOCALHOST, listening.port())),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::from((Ipv6Addr::LOCALHOST, listening.port())),
        _ => listening,
    }
}

/// A running emulator. Dropping it stops the server (its state stays in the data dir).
pub struct Emulator {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds the listen address and serves on a thread of its own.
    pub fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        let listener = StdTcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let tls = config.tls.as_ref().map(TlsIdentity::acceptor).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", openable(listener.local_addr()?));
        let store = Store::open(&config.data_dir)?;
        let shared = Arc::new(Shared {
            faults: RwLock::new(config.faults.clone()),
            faults_version: AtomicU64::new(0),
            config,
            base_url,
            scheme,
            store,
            stats: Stats::default(),
            requests: Default::default(),
            token_requests: Mutex::new(HashMap::new()),
            link_free_at: Mutex::new(tokio::time::Instant::now()),
            uplink_free_at: Mutex::new(HashMap::new()),
            throttle: Throttle::default(),
            front: Throttle::default(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("gameclips-emulator")
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new().name("gameclips-emulator".into()).spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => accept_loop(listener, tls, serving, stop_rx).await,
                    Err(e) => eprintln!("gameclips-emulator: cannot listen: {e}"),
                }
            });
            // Stalled requests never finish by design: do not wait for them.
            runtime.shutdown_background();
        })?;
        Ok(Emulator { shared, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// `http://HOST:PORT` (`https://` with TLS), with the real port when port 0 was asked for, and
    /// loopback for an unspecified address (0.0.0.0, [::]).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Replace the fault settings while running.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.replace_faults(faults);
    }

    /// Blocks until the server stops (for the program: until a signal asks it to).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Asks the server to stop, from another thread or a signal handler context.
    pub fn stopper(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
