//! A server that misbehaves on purpose: unusable or hostile answers to the initial call, upload URIs
//! and redirects elsewhere, a premature 201, bodies of 1 GiB, JSON nested 100,000 deep, headers that
//! never end, answers cut short. The client answers each with a clear error or the right recovery,
//! never a crash, a hang past its timeouts, or unbounded memory.

mod common;

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;

#[derive(Clone, Debug)]
struct Request {
    method: String,
    target: String,
    authorized: bool,
    body: Vec<u8>,
}

impl Request {
    fn block_num(&self) -> Option<usize> {
        self.target.split_once("blockNum=")?.1.split('&').next()?.parse().ok()
    }
}

/// How the server answers one request.
enum Reply {
    /// A well-formed answer with a Content-Length.
    Status(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// Bytes written as they are; then the connection closes.
    Raw(Vec<u8>),
    /// `head`, then filler bytes until `total` were sent or the client hung up.
    Endless { head: String, total: u64 },
    /// A status line, then one header every `every`, forever (or until the client hangs up).
    TrickleHeaders { every: Duration },
}

fn json(status: u16, body: &str) -> Reply {
    Reply::Status(status, vec![("Content-Type", "application/json".into())], body.as_bytes().to_vec())
}

type Handler = dyn Fn(&Request, &Hostile) -> Reply + Send + Sync;

/// The misbehaving server: one listener on 127.0.0.1 (the metadata host) and one on 127.0.0.2 (some
/// other host), every request recorded. It lives until the test process ends.
struct Hostile {
    url: String,
    other_url: String,
    requests: Mutex<Vec<(SocketAddr, Request)>>,
    bytes_streamed: AtomicU64,
    addresses: Vec<SocketAddr>,
}

impl Hostile {
    fn start(handler: impl Fn(&Request, &Hostile) -> Reply + Send + Sync + 'static) -> Arc<Hostile> {
        let main = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.2:0").unwrap();
        let addresses = vec![main.local_addr().unwrap(), other.local_addr().unwrap()];
        let server = Arc::new(Hostile {
            url: format!("http://{}", addresses[0]),
            other_url: format!("http://{}", addresses[1]),
            requests: Mutex::new(Vec::new()),
            bytes_streamed: AtomicU64::new(0),
            addresses: addresses.clone(),
        });
        let handler: Arc<Handler> = Arc::new(handler);
        for listener in [main, other] {
            let (server, handler) = (server.clone(), handler.clone());
            std::thread::spawn(move || {
                let local = listener.local_addr().unwrap();
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (server, handler) = (server.clone(), handler.clone());
                    std::thread::spawn(move || server.serve(local, stream, &*handler));
                }
            });
        }
        server
    }

    /// Requests that reached the listener at `address`.
    fn requests_at(&self, address: SocketAddr) -> Vec<Request> {
        self.requests.lock().unwrap().iter().filter(|(at, _)| *at == address).map(|(_, r)| r.clone()).collect()
    }

    fn requests(&self) -> Vec<Request> {
        self.requests_at(self.addresses[0])
    }

    fn other_requests(&self) -> Vec<Request> {
        self.requests_at(self.addresses[1])
    }

    fn count(&self, method: &str, path_part: &str) -> usize {
        self.requests().iter().filter(|r| r.method == method && r.target.contains(path_part)).count()
    }

    fn serve(&self, local: SocketAddr, stream: TcpStream, handler: &Handler) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        while let Some(request) = read_request(&mut reader) {
            self.requests.lock().unwrap().push((local, request.clone()));
            let keep_alive = match handler(&request, self) {
                Reply::Status(status, headers, body) => {
                    let mut head = format!("HTTP/1.1 {status} Hostile\r\nContent-Length: {}\r\n", body.len());
                    for (name, value) in headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&body)).is_ok()
                }
                Reply::Raw(bytes) => {
                    let _ = writer.write_all(&bytes);
                    false
                }
                Reply::Endless { head, total } => {
                    if writer.write_all(head.as_bytes()).is_ok() {
                        let filler = vec![b'7'; 64 * 1024];
                        let mut sent = 0u64;
                        while sent < total && writer.write_all(&filler).is_ok() {
                            sent += filler.len() as u64;
                            self.bytes_streamed.fetch_add(filler.len() as u64, Ordering::SeqCst);
                        }
                    }
                    false
                }
                Reply::TrickleHeaders { every } => {
                    let mut line = b"HTTP/1.1 200 OK\r\n".to_vec();
                    for n in 0u64.. {
                        if writer.write_all(&line).is_err() {
                            break;
                        }
                        self.bytes_streamed.fetch_add(line.len() as u64, Ordering::SeqCst);
                        line = format!("X-Never-Ending-{n}: {}\r\n", "z".repeat(200)).into_bytes();
                        if !every.is_zero() {
                            std::thread::sleep(every);
                        }
                    }
                    false
                }
            };
            if !keep_alive {
                return;
            }
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok().filter(|&n| n > 0)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, target, authorized: headers.contains_key("authorization"), body })
}

/// The answer to the initial call that hands out `upload_uri`.
fn created(upload_uri: &str) -> Reply {
    json(200, &format!(r#"{{"gameClipId":"c1","uploadUri":"{upload_uri}"}}"#))
}

/// Answers the initial call with `create`, and blocks like the service does: 202, then 201 for the
/// block that completes the set of `blocks`.
fn service(blocks: usize, create: impl Fn(&Hostile) -> Reply + Send + Sync + 'static) -> Arc<Hostile> {
    Hostile::start(move |request, server| {
        if request.method == "POST" && request.target.ends_with("/clips") {
            return create(server);
        }
        if request.method == "PUT" && request.block_num().is_some() {
            return block_answer(server, blocks);
        }
        json(404, r#"{"errorMessage":"no such route"}"#)
    })
}

/// 202, or 201 once every block number has arrived at either listener.
fn block_answer(server: &Hostile, blocks: usize) -> Reply {
    let all = server.requests.lock().unwrap().iter().filter_map(|(_, r)| r.block_num()).collect::<Vec<_>>();
    let complete = (0..blocks).all(|n| all.contains(&n));
    Reply::Status(if complete { 201 } else { 202 }, Vec::new(), Vec::new())
}

/// What arrived for each block (the last copy of it), joined.
fn assembled(requests: &[Request], blocks: usize) -> Vec<u8> {
    (0..blocks)
        .flat_map(|n| requests.iter().rev().find(|r| r.block_num() == Some(n)).expect("block missing").body.clone())
        .collect()
}

fn hostile_client(url: &str, tweak: impl FnOnce(&mut ClipsClientOptions)) -> *mut ClipsClient {
    client(url, |o| {
        o.request_timeout_ms = 1000;
        o.shutdown_timeout_ms = 500;
        tweak(o);
    })
}

fn begin_push(client: *mut ClipsClient, size: usize) -> ClipsHandle {
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = size as u64;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    handle
}

/// Pushes the blocks from `from_block` on; stops early if the upload has already ended (a service
/// whose first answer fails the upload may do that before the game pushed anything).
fn push_all(client: *mut ClipsClient, handle: ClipsHandle, bytes: &[u8], from_block: usize) {
    for (n, chunk) in bytes.chunks(BLOCK).enumerate().skip(from_block) {
        loop {
            match unsafe { clips_push_block(client, handle, n as u32, chunk.as_ptr(), chunk.len()) } {
                CLIPS_OK => break,
                CLIPS_E_WOULD_BLOCK => std::thread::sleep(Duration::from_millis(5)),
                CLIPS_E_WRONG_STATE if is_terminal(poll(client, handle).state) => return,
                other => panic!("push returned {other}: {}", last_error()),
            }
        }
    }
}

/// Pushes only block 0 of `bytes` and waits until the service acknowledged it.
fn push_first_block_and_wait_for_its_ack(client: *mut ClipsClient, handle: ClipsHandle, bytes: &[u8]) {
    push_all(client, handle, &bytes[..BLOCK], 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while poll(client, handle).blocks_acked < 1 {
        assert!(Instant::now() < deadline, "block 0 never acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Uploads `bytes` in push mode; the final status and the upload's error message.
fn upload(client: *mut ClipsClient, bytes: &[u8], within: Duration) -> (ClipsStatus, String) {
    let handle = begin_push(client, bytes.len());
    let mut pushed = false;
    let status = wait_terminal(client, handle, within, || {
        if !pushed {
            push_all(client, handle, bytes, 0);
            pushed = true;
        }
    });
    (status, error_message(client, handle))
}

fn destroy(client: *mut ClipsClient) {
    unsafe { clips_client_destroy(client) };
}

#[test]
fn initial_answers_that_cannot_be_used_fail_the_upload_clearly() {
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let nested_object = format!("{}1{}", r#"{"x":"#.repeat(100_000), "}".repeat(100_000));
    let cases: Vec<(&str, String)> = vec![
        ("malformed", r#"{"gameClipId": "c1", "uploadUri": "#.to_string()),
        ("truncated", r#"{"gameClipId":"c1","uploadUri":"http://127.0.0.1:1/up"#.to_string()),
        ("no gameClipId", r#"{"uploadUri":"http://127.0.0.1:1/upload/c1"}"#.to_string()),
        ("no uploadUri", r#"{"gameClipId":"c1"}"#.to_string()),
        ("wrong types", r#"{"gameClipId":5,"uploadUri":["x"]}"#.to_string()),
        ("not JSON", "<html>maintenance</html>".to_string()),
        ("empty", String::new()),
        ("nested 100,000 deep", nested),
        ("nested objects 100,000 deep", nested_object),
    ];
    for (name, body) in cases {
        let server = service(1, move |_| json(200, &body));
        let client = hostile_client(&server.url, |_| {});
        let started = Instant::now();
        let (status, message) = upload(client, b"0123456789", Duration::from_secs(10));
        println!("{name}: failed in {:?}: {message}", started.elapsed());
        assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_HTTP), "{name}: {message}");
        assert!(message.contains("answer to the initial call is not usable"), "{name}: {message}");
        assert_eq!(server.count("POST", "/clips"), 1, "{name}: a 200 is final, never repeated");
        assert_eq!(server.count("PUT", "blockNum"), 0, "{name}: nothing was uploaded");
        destroy(client);
    }
}

#[test]
fn upload_uris_on_other_hosts_or_over_plain_http_are_refused() {
    let cases = [
        ("https://uploads.evil.example/upload/c1", "uploads.evil.example is not an allowed upload host"),
        ("http://gameclipstransfer.xboxlive.com/upload/c1", "plain http"),
        ("ftp://gameclipstransfer.xboxlive.com/upload/c1", "not an http(s) URL"),
        ("OTHER/upload/c1", "127.0.0.2 is not an allowed upload host"),
    ];
    for (uri, expected) in cases {
        let server = service(1, move |server| created(&uri.replace("OTHER", &server.other_url)));
        let client = hostile_client(&server.url, |_| {});
        let (status, message) = upload(client, &pattern(1000, 1), Duration::from_secs(10));
        println!("{uri}: {message}");
        assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_HTTP), "{uri}: {message}");
        assert!(message.contains(expected), "{uri}: {message}");
        assert!(!message.contains("XBL3.0"), "{message}");
        assert_eq!(server.count("PUT", ""), 0);
        assert!(server.other_requests().is_empty(), "the other host got a request");
        destroy(client);
    }

    // Listed in upload_hosts, the same host is trusted, and gets the blocks and the Authorization value.
    let server = service(3, |server| created(&format!("{}/upload/c1", server.other_url)));
    let hosts = CString::new("127.0.0.2, *.xboxlive.com").unwrap();
    let client = hostile_client(&server.url, |o| o.upload_hosts = hosts.as_ptr());
    let bytes = pattern(5 * MIB, 2);
    let (status, message) = upload(client, &bytes, Duration::from_secs(30));
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{message}");
    let arrived = server.other_requests();
    assert!(arrived.iter().all(|r| r.authorized));
    assert_eq!(sha256(&assembled(&arrived, 3)), sha256(&bytes));
    destroy(client);

    // A malformed allow-list is refused when the client is created.
    for bad in ["*", "*.com", "a host", "h.example:http"] {
        let hosts = CString::new(bad).unwrap();
        let url = CString::new(server.url.as_str()).unwrap();
        let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
        unsafe { clips_client_options_init(&mut options) };
        options.metadata_base_url = url.as_ptr();
        options.upload_hosts = hosts.as_ptr();
        let mut client = std::ptr::null_mut();
        assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_E_INVALID_ARGUMENT, "{bad}");
        assert!(last_error().contains("upload host"), "{bad}: {}", last_error());
    }
}

#[test]
fn a_201_before_every_block_was_sent_does_not_end_the_upload() {
    // 201 to the first block, while the others are not even pushed yet; then the service's real
    // answers. The upload goes on, every block arrives, and it completes on the real 201.
    let honest = Arc::new(AtomicBool::new(false));
    let server = {
        let honest = honest.clone();
        Hostile::start(move |request, server| match request.block_num() {
            None => created(&format!("{}/upload/c1", server.url)),
            Some(_) if !honest.swap(true, Ordering::SeqCst) => Reply::Status(201, Vec::new(), Vec::new()),
            Some(_) => block_answer(server, 3),
        })
    };
    let client = hostile_client(&server.url, |_| {});
    let bytes = pattern(5 * MIB, 3);
    let handle = begin_push(client, bytes.len());
    push_first_block_and_wait_for_its_ack(client, handle, &bytes);
    assert!(!is_terminal(poll(client, handle).state), "a premature 201 ended the upload");
    push_all(client, handle, &bytes, 1);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_eq!(sha256(&assembled(&server.requests(), 3)), sha256(&bytes));
    destroy(client);

    // If the only 201 ever sent was the premature one, the client asks the service whether it holds
    // the clip rather than reporting success; a service that keeps showing it PendingUpload fails it,
    // saying so, after a few looks (sped up here by a short max_retry_delay_ms).
    let server = Hostile::start(|request, server| match (request.method.as_str(), request.block_num()) {
        ("GET", _) => json(200, r#"{"gameClip":{"gameClipId":"c1","state":"PendingUpload"}}"#),
        (_, None) => created(&format!("{}/upload/c1", server.url)),
        (_, Some(0)) => Reply::Status(201, Vec::new(), Vec::new()),
        (_, Some(_)) => Reply::Status(202, Vec::new(), Vec::new()),
    });
    let client = hostile_client(&server.url, |o| o.max_retry_delay_ms = 50);
    let handle = begin_push(client, bytes.len());
    push_first_block_and_wait_for_its_ack(client, handle, &bytes);
    push_all(client, handle, &bytes, 1);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    let message = error_message(client, handle);
    assert_eq!(status.state, CLIPS_STATE_FAILED, "{message}");
    assert!(message.contains("still shows the clip PendingUpload"), "{message}");
    let blocks = server.requests().iter().filter(|r| r.block_num().is_some()).count();
    assert_eq!(blocks, bytes.len().div_ceil(BLOCK), "nothing was sent twice");
    destroy(client);
}

#[test]
fn a_redirect_to_another_host_is_not_followed_unless_it_is_listed() {
    let server = Hostile::start(|request, server| match request.block_num() {
        None => created(&format!("{}/upload/c1", server.url)),
        Some(_) if request.target.starts_with("/upload/") => {
            let location = format!("{}/elsewhere{}", server.other_url, &request.target["/upload/c1".len()..]);
            Reply::Status(307, vec![("Location", location)], Vec::new())
        }
        Some(_) => block_answer(server, 1),
    });
    let client = hostile_client(&server.url, |_| {});
    let bytes = pattern(100_000, 4);
    let (status, message) = upload(client, &bytes, Duration::from_secs(10));
    println!("{message}");
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_HTTP), "{message}");
    assert!(message.contains("redirect not followed: 127.0.0.2 is not an allowed upload host"), "{message}");
    assert!(server.other_requests().is_empty(), "the Authorization value went to the other host");
    destroy(client);

    let hosts = CString::new("127.0.0.2").unwrap();
    let client = hostile_client(&server.url, |o| o.upload_hosts = hosts.as_ptr());
    let (status, message) = upload(client, &bytes, Duration::from_secs(10));
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{message}");
    assert_eq!(sha256(&server.other_requests()[0].body), sha256(&bytes));
    destroy(client);
}

#[test]
fn a_redirect_to_plain_http_is_not_followed_even_to_an_allowed_host() {
    let server = Hostile::start(|request, server| match request.block_num() {
        None => created(&format!("{}/upload/c1", server.url)),
        Some(_) => Reply::Status(307, vec![("Location", "http://gameclipstransfer.xboxlive.com/u".into())], vec![]),
    });
    let client = hostile_client(&server.url, |_| {});
    let (status, message) = upload(client, &pattern(1000, 5), Duration::from_secs(10));
    println!("{message}");
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_HTTP), "{message}");
    assert!(message.contains("redirect not followed: refusing to send credentials over plain http"), "{message}");
    destroy(client);
}

#[test]
fn a_gigabyte_answer_is_not_read() {
    const GIB: u64 = 1024 * 1024 * 1024;
    let heads = [
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {GIB}\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n".to_string(), // until the connection closes
    ];
    for head in heads {
        let head_for_server = head.clone();
        let server = service(1, move |_| Reply::Endless { head: head_for_server.clone(), total: GIB });
        let client = hostile_client(&server.url, |_| {});
        let started = Instant::now();
        let (status, message) = upload(client, b"abc", Duration::from_secs(10));
        let streamed = server.bytes_streamed.load(Ordering::SeqCst);
        println!("failed in {:?} after the server wrote {streamed} bytes: {message}", started.elapsed());
        assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_HTTP), "{message}");
        assert!(message.contains("larger than 1048576 bytes"), "{message}");
        // The client stopped reading at its cap: the server could send only what the socket buffers hold.
        assert!(streamed < 64 * MIB as u64, "the client read {streamed} bytes");
        assert_eq!(server.count("POST", "/clips"), 1, "an answer over the cap is final");
        destroy(client);
    }
}

#[test]
fn headers_that_never_end_are_cut_off() {
    // Flooded: refused at the header size limit, at once, and not asked again.
    let server_flood = Hostile::start(|request, server| match request.block_num() {
        None => created(&format!("{}/upload/c1", server.url)),
        Some(_) => Reply::TrickleHeaders { every: Duration::ZERO },
    });
    let client = hostile_client(&server_flood.url, |_| {});
    let started = Instant::now();
    let (status, message) = upload(client, b"abc", Duration::from_secs(10));
    println!("flood: failed in {:?}: {message}", started.elapsed());
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_HTTP), "{message}");
    assert!(message.contains("too many headers"), "{message}");
    assert_eq!(server_flood.count("PUT", "blockNum"), 1);
    destroy(client);

    // Trickled, one header every 50 ms: the request timeout (1 s here) ends each attempt, the upload
    // shows RETRYING with the reason, and a cancel ends it at once.
    let server = Hostile::start(|request, server| match request.block_num() {
        None => created(&format!("{}/upload/c1", server.url)),
        Some(_) => Reply::TrickleHeaders { every: Duration::from_millis(50) },
    });
    let client = hostile_client(&server.url, |_| {});
    let handle = begin_push(client, 3);
    push_all(client, handle, b"abc", 0);
    let started = Instant::now();
    let status = loop {
        let status = poll(client, handle);
        if status.state == CLIPS_STATE_RETRYING || is_terminal(status.state) {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(6), "no attempt ended within the request deadline");
        std::thread::sleep(Duration::from_millis(10));
    };
    let message = error_message(client, handle);
    println!("trickle: RETRYING after {:?}: {message}", started.elapsed());
    assert_eq!(status.state, CLIPS_STATE_RETRYING, "{message}");
    assert!(message.to_lowercase().contains("timeout") || message.contains("timed out"), "{message}");
    let cancelled_at = Instant::now();
    assert_eq!(unsafe { clips_cancel(client, handle) }, CLIPS_OK);
    let status = wait_terminal(client, handle, Duration::from_secs(5), || {});
    assert_eq!(status.state, CLIPS_STATE_CANCELLED);
    println!("cancelled in {:?}", cancelled_at.elapsed());
    destroy(client);
}

#[test]
fn an_answer_cut_off_mid_way_is_retried_and_the_upload_completes() {
    let cut = Arc::new(AtomicBool::new(false));
    let server = {
        let cut = cut.clone();
        Hostile::start(move |request, server| match request.block_num() {
            None => created(&format!("{}/upload/c1", server.url)),
            Some(1) if !cut.swap(true, Ordering::SeqCst) => Reply::Raw(b"HTTP/1.1 202 Acc".to_vec()),
            Some(_) => block_answer(server, 3),
        })
    };
    let client = hostile_client(&server.url, |_| {});
    let bytes = pattern(5 * MIB, 5);
    let (status, message) = upload(client, &bytes, Duration::from_secs(30));
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{message}");
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| r.block_num() == Some(1)).count(), 2, "block 1 sent again once");
    assert_eq!(sha256(&assembled(&requests, 3)), sha256(&bytes));
    destroy(client);
}

#[test]
fn operations_survive_deeply_nested_and_oversized_answers() {
    let nested = format!(r#"{{"gameClip":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let server = Hostile::start(move |request, _| {
        if request.target.contains("/clips/deep") {
            json(200, &nested)
        } else {
            Reply::Endless { head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n".into(), total: 1 << 30 }
        }
    });
    let client = hostile_client(&server.url, |_| {});
    let (owner, scid) = (CString::new("me").unwrap(), CString::new(SCID).unwrap());
    for (clip, expected) in [("deep", "recursion limit"), ("huge", "larger than 1048576 bytes")] {
        let clip = CString::new(clip).unwrap();
        let mut op = 0;
        let started = unsafe { clips_get_clip(client, owner.as_ptr(), scid.as_ptr(), clip.as_ptr(), &mut op) };
        assert_eq!(started, CLIPS_OK, "{}", last_error());
        let status = wait_terminal(client, op, Duration::from_secs(10), || {});
        let message = error_message(client, op);
        println!("{clip:?}: {message}");
        assert_eq!(status.state, CLIPS_STATE_FAILED, "{message}");
        assert!(message.contains(expected), "{message}");
    }
    destroy(client);
}

#[test]
fn an_http_date_retry_after_holds_every_request_until_that_date_whatever_earlier_blocks_answer() {
    // Three 1 KiB blocks go at once. The first to arrive is answered 503 with Retry-After as an HTTP
    // date 3 s ahead (whole seconds); the other two, sent before that answer, get 202 afterwards.
    let arrivals = Arc::new(Mutex::new(Vec::<(std::time::SystemTime, Option<usize>)>::new()));
    let refused_until = Arc::new(Mutex::new(None::<std::time::SystemTime>));
    let server = {
        let (arrivals, refused_until) = (arrivals.clone(), refused_until.clone());
        Hostile::start(move |request, server| {
            let now = std::time::SystemTime::now();
            arrivals.lock().unwrap().push((now, request.block_num()));
            let Some(num) = request.block_num() else { return created(&format!("{}/upload/c1", server.url)) };
            let mut refused = refused_until.lock().unwrap();
            if refused.is_none() {
                let seconds = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3;
                let date = std::time::UNIX_EPOCH + Duration::from_secs(seconds);
                *refused = Some(date);
                let header = ("Retry-After", httpdate::fmt_http_date(date));
                return Reply::Status(503, vec![header], Vec::new());
            }
            drop(refused);
            // The others wait a moment, so their 202s arrive after the 503.
            std::thread::sleep(Duration::from_millis(100));
            let all: Vec<usize> = server.requests().iter().filter_map(|r| r.block_num()).collect();
            Reply::Status(if (0..3).all(|n| all.contains(&n)) && num < 3 { 201 } else { 202 }, vec![], vec![])
        })
    };
    let client = hostile_client(&server.url, |o| o.block_size = 1024);
    let bytes = pattern(3 * 1024, 9);
    let handle = begin_push(client, bytes.len());
    for (n, chunk) in bytes.chunks(1024).enumerate() {
        assert_eq!(unsafe { clips_push_block(client, handle, n as u32, chunk.as_ptr(), chunk.len()) }, CLIPS_OK);
    }
    let status = wait_terminal(client, handle, Duration::from_secs(20), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let date = refused_until.lock().unwrap().expect("a block was refused");
    let arrivals = arrivals.lock().unwrap().clone();
    let refused_at = arrivals.iter().find(|(_, n)| n.is_some()).unwrap().0;
    // Requests that arrive more than half a second after the refusal were sent after it reached the
    // client: none may come before the date.
    let later: Vec<_> = arrivals.iter().filter(|(at, _)| *at > refused_at + Duration::from_millis(500)).collect();
    assert!(!later.is_empty(), "the refused block was sent again");
    for (at, num) in &later {
        assert!(*at >= date, "block {num:?} arrived {:?} before the Retry-After date", date.duration_since(*at));
    }
    println!(
        "Retry-After {}: the next request came {:?} after the date",
        httpdate::fmt_http_date(date),
        later[0].0.duration_since(date).unwrap()
    );
    destroy(client);
}
