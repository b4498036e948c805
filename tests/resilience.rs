//! Uploads that survive anything: a soak through every fault at once, final errors that are not
//! retried, Retry-After, redirects, the bandwidth limit and pause. Through the C ABI, byte-exact.

mod common;

use std::ffi::CString;
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::token::{self, Claims};
use gameclips_emulator::Faults;

/// A fresh Authorization value for the test user (each differs, as a refreshed token does).
fn fresh_token(n: u64) -> CString {
    CString::new(token::mint(&Claims { exp: Some(4_000_000_000 + n), ..Claims::for_xuid(XUID) })).unwrap()
}

fn begin(client: *mut ClipsClient, tweak: impl FnOnce(&mut ClipsUploadOptions)) -> Result<ClipsHandle, ClipsResult> {
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    tweak(&mut options);
    let mut handle = 0;
    match unsafe { clips_begin_upload(client, &options, &mut handle) } {
        CLIPS_OK => Ok(handle),
        other => Err(other),
    }
}

fn body_bytes_received(server: &TestServer) -> u64 {
    server.admin("stats")["bodyBytesReceived"].as_u64().unwrap()
}

struct SoakUpload {
    handle: ClipsHandle,
    sha: String,
    /// Push mode: the bytes still to hand over, and the next block.
    push: Option<(Vec<u8>, u32)>,
    done: bool,
}

#[test]
fn soak_fifty_uploads_through_every_fault_all_complete_byte_exact() {
    let mut faults =
        Faults { retry_after_s: 1, reset_rate: 0.05, stall_rate: 0.01, expire_tokens_after: 40, ..Faults::default() };
    faults.fail_rate = [(503, 0.10), (500, 0.02), (429, 0.05)].into_iter().collect();
    let server = TestServer::with_faults(faults);
    let client = client(server.url(), |o| o.request_timeout_ms = 2000);

    // Sizes from 1 byte to 20 MiB, the edges included; file and push mode alternate.
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut sizes = vec![1, BLOCK, BLOCK + 1, 20 * MIB];
    while sizes.len() < 50 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        sizes.push(1 + (rng % (20 * MIB as u64)) as usize);
    }
    let started = Instant::now();
    let mut uploads: Vec<SoakUpload> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let bytes = pattern(size, 1000 + i as u64);
            let sha = sha256(&bytes);
            if i % 2 == 0 {
                let path = write_file(server.dir.path(), &format!("soak-{i}.mp4"), &bytes);
                let path = CString::new(path.to_str().unwrap()).unwrap();
                let handle = begin(client, |o| o.file_path = path.as_ptr()).unwrap();
                SoakUpload { handle, sha, push: None, done: false }
            } else {
                let handle = begin(client, |o| o.file_size = size as u64).unwrap();
                SoakUpload { handle, sha, push: Some((bytes, 0)), done: false }
            }
        })
        .collect();

    let mut tokens_given = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while uploads.iter().any(|u| !u.done) {
        assert!(Instant::now() < deadline, "the soak did not finish in time");
        for event in drain_events(client) {
            if event.kind == CLIPS_EVENT_NEEDS_AUTH {
                tokens_given += 1;
                let token = fresh_token(tokens_given);
                assert_eq!(unsafe { clips_set_authorization(client, token.as_ptr()) }, CLIPS_OK);
            }
        }
        for upload in uploads.iter_mut().filter(|u| !u.done) {
            if let Some((bytes, next)) = &mut upload.push {
                while (*next as usize) * BLOCK < bytes.len() {
                    let start = *next as usize * BLOCK;
                    let block = &bytes[start..(start + BLOCK).min(bytes.len())];
                    match unsafe { clips_push_block(client, upload.handle, *next, block.as_ptr(), block.len()) } {
                        CLIPS_OK => *next += 1,
                        CLIPS_E_WOULD_BLOCK => break,
                        other => panic!(
                            "push returned {other}: {}; the upload: {}",
                            last_error(),
                            error_message(client, upload.handle)
                        ),
                    }
                }
            }
            let status = poll(client, upload.handle);
            if is_terminal(status.state) {
                assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, upload.handle));
                let record = server.admin(&format!("clips/{}", clip_id(client, upload.handle)));
                assert_eq!(record["sha256"].as_str(), Some(upload.sha.as_str()), "{record}");
                upload.done = true;
                upload.push = None;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let retries: u32 = uploads.iter().map(|u| poll(client, u.handle).retries).sum();
    let stats = server.admin("stats");
    println!(
        "soak: 50 uploads ({:.0} MiB) byte-exact in {:.1} s; {retries} retries; {tokens_given} fresh tokens; requests {}",
        sizes.iter().sum::<usize>() as f64 / MIB as f64,
        started.elapsed().as_secs_f64(),
        stats["requests"]
    );
    assert!(tokens_given > 0, "tokens never expired: the soak did not exercise NEEDS_AUTH");
    assert!(retries > 0);
    unsafe { clips_client_destroy(client) };
}

#[test]
fn quota_gone_and_forbidden_fail_at_once_with_clear_messages() {
    let server = TestServer::with_faults(Faults { quota_bytes: 1000, upload_expiry_s: 1, ..Faults::default() });
    let client = client(server.url(), |_| {});
    let over = begin(client, |o| o.file_size = 2000).unwrap();
    let status = wait_terminal(client, over, Duration::from_secs(10), || {});
    assert_eq!((status.state, status.result, status.http_status), (CLIPS_STATE_FAILED, CLIPS_E_QUOTA, 400));
    assert!(error_message(client, over).contains("quota exceeded"), "{}", error_message(client, over));
    assert_eq!(server.requests("create_clip"), serde_json::json!({"400": 1}), "a quota refusal is not retried");

    // 410: the upload expired before its block came.
    let late = begin(client, |o| o.file_size = 100).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while poll(client, late).state == CLIPS_STATE_CREATING {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(1100));
    let block = [5u8; 100];
    assert_eq!(unsafe { clips_push_block(client, late, 0, block.as_ptr(), 100) }, CLIPS_OK);
    let status = wait_terminal(client, late, Duration::from_secs(10), || {});
    assert_eq!((status.result, status.http_status), (CLIPS_E_HTTP, 410));
    assert!(error_message(client, late).contains("expired"), "{}", error_message(client, late));
    assert_eq!(server.requests("put_block"), serde_json::json!({"410": 1}), "410 is not retried");

    // 403: a PC device may not upload.
    let pc = Claims { device_type: Some("Win32".into()), ..Claims::for_xuid(XUID) };
    let pc_client = client_with_token(server.url(), &token::mint(&pc), |_| {});
    let refused = begin(pc_client, |o| o.file_size = 10).unwrap();
    let status = wait_terminal(pc_client, refused, Duration::from_secs(10), || {});
    assert_eq!((status.result, status.http_status), (CLIPS_E_AUTH, 403));
    assert!(error_message(pc_client, refused).contains("Win32"), "{}", error_message(pc_client, refused));
}

#[test]
fn retry_after_shows_as_retrying_and_the_upload_goes_on_when_the_service_recovers() {
    let mut faults = Faults { retry_after_s: 2, ..Faults::default() };
    faults.fail_rate.insert(503, 1.0);
    let server = TestServer::with_faults(faults);
    let client = client(server.url(), |_| {});
    let source = pattern(3 * MIB, 41);
    let path = CString::new(write_file(server.dir.path(), "ra.mp4", &source).to_str().unwrap()).unwrap();
    let handle = begin(client, |o| o.file_path = path.as_ptr()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let retrying = loop {
        let status = poll(client, handle);
        if status.state == CLIPS_STATE_RETRYING {
            break status;
        }
        assert!(Instant::now() < deadline, "never retrying: state {}", status.state);
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(retrying.http_status, 503);
    assert!((1000..=2000).contains(&retrying.retry_in_ms), "Retry-After 2 s, retry_in_ms {}", retrying.retry_in_ms);
    server.emulator.set_faults(Faults::default());
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert!(status.retries >= 1);
    let record = server.admin(&format!("clips/{}", clip_id(client, handle)));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
}

#[test]
fn block_redirects_are_followed_with_the_body_sent_again() {
    for redirect in [307u16, 301] {
        let server = TestServer::with_faults(Faults { redirect_blocks: redirect, ..Faults::default() });
        let client = client(server.url(), |_| {});
        let source = pattern(5 * MIB + 17, 42);
        let path = CString::new(write_file(server.dir.path(), "moved.mp4", &source).to_str().unwrap()).unwrap();
        let handle = begin(client, |o| o.file_path = path.as_ptr()).unwrap();
        let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
        assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
        let record = server.admin(&format!("clips/{}", clip_id(client, handle)));
        assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
        let puts = server.requests("put_block");
        assert_eq!(puts[redirect.to_string()], 3, "{puts}");
        assert_eq!(puts["202"].as_u64().unwrap() + puts["201"].as_u64().unwrap(), 3, "{puts}");
    }
}

#[test]
fn bandwidth_limit_holds_the_average_rate_within_ten_percent() {
    let server = TestServer::start();
    const LIMIT: u64 = 4 * MIB as u64;
    let client = client(server.url(), |o| o.max_bytes_per_second = LIMIT);
    let source = pattern(40 * MIB, 43);
    let path = CString::new(write_file(server.dir.path(), "limited.mp4", &source).to_str().unwrap()).unwrap();
    let started = Instant::now();
    let handle = begin(client, |o| o.file_path = path.as_ptr()).unwrap();
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {});
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let rate = source.len() as f64 / elapsed;
    println!("bandwidth: 40 MiB at a 4 MiB/s limit took {elapsed:.2} s = {:.3} MiB/s", rate / MIB as f64);
    assert!((rate / LIMIT as f64 - 1.0).abs() <= 0.10, "{:.3} MiB/s is not within 10% of 4 MiB/s", rate / MIB as f64);
}

#[test]
fn while_paused_the_emulator_receives_no_bytes() {
    let server = TestServer::start();
    let client = client(server.url(), |o| o.max_bytes_per_second = 4 * MIB as u64);
    let source = pattern(12 * MIB, 44);
    let path = CString::new(write_file(server.dir.path(), "paused.mp4", &source).to_str().unwrap()).unwrap();
    let handle = begin(client, |o| o.file_path = path.as_ptr()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while poll(client, handle).blocks_acked < 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(unsafe { clips_pause(client) }, CLIPS_OK);
    // Requests already on the wire finish; then nothing more is sent.
    std::thread::sleep(Duration::from_millis(1500));
    let before = body_bytes_received(&server);
    std::thread::sleep(Duration::from_millis(1500));
    let after = body_bytes_received(&server);
    let paused = poll(client, handle);
    println!(
        "pause: {} bytes received in 1.5 s while paused; {} of 6 blocks acknowledged",
        after - before,
        paused.blocks_acked
    );
    assert_eq!(after, before, "bytes arrived while paused");
    assert_eq!(paused.state, CLIPS_STATE_PAUSED);
    assert!(paused.blocks_acked < 6);
    assert_eq!(unsafe { clips_resume(client) }, CLIPS_OK);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let record = server.admin(&format!("clips/{}", clip_id(client, handle)));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
}

#[test]
fn through_a_throttling_front_twelve_uploads_converge_on_its_rate_and_complete() {
    // The front allows 40 calls a second per token (429 without Retry-After above it). Blocks of
    // 256 KiB make the uploads ask far faster than that on any machine; what decides the client's
    // rate (the adaptive rate, the workers, the back-off) keeps its defaults.
    let server = TestServer::with_faults(Faults { throttle_rps: 40, ..Faults::default() });
    let client = client(server.url(), |o| o.block_size = 256 * 1024);
    let sources: Vec<Vec<u8>> = (0..12).map(|i| pattern(4 * MIB, 300 + i)).collect();
    let started = Instant::now();
    let handles: Vec<ClipsHandle> = sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let path = write_file(server.dir.path(), &format!("throttled-{i}.mp4"), source);
            begin_file(client, &path)
        })
        .collect();
    for (handle, source) in handles.iter().zip(&sources) {
        let status = wait_terminal(client, *handle, Duration::from_secs(120), || {});
        assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, *handle));
        assert_arrived(&server, client, *handle, source);
    }
    let took = started.elapsed().as_secs_f64();
    let stats = server.admin("stats");
    let all = stats["requests"].as_object().unwrap();
    let calls = all.iter().filter(|(endpoint, _)| !endpoint.starts_with("admin_"));
    let (mut answered, mut refused) = (0, 0);
    for (_, by_status) in calls {
        for (status, count) in by_status.as_object().unwrap() {
            answered += count.as_u64().unwrap();
            refused += if status == "429" { count.as_u64().unwrap() } else { 0 };
        }
    }
    println!(
        "12 uploads of 4 MiB through a 40/s throttle: {answered} calls in {took:.1} s ({:.1}/s), {refused} refused \
         with 429 ({:.1}%)",
        answered as f64 / took,
        100.0 * refused as f64 / answered as f64
    );
    assert!(refused > 0, "the uploads never met the throttle");
    assert!(refused * 10 <= answered, "{refused} of {answered} calls were refused");
    unsafe { clips_client_destroy(client) };
}
