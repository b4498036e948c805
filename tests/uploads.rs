//! Uploads through the C ABI against the emulator, compared byte for byte (sha256) with the source.

mod common;

use std::ffi::CString;
use std::time::Duration;

use common::*;
use gameclips::ffi::*;

fn peak_concurrent_requests(server: &TestServer) -> u64 {
    server.admin("stats")["peakConcurrentRequests"].as_u64().unwrap()
}

#[test]
fn file_mode_100_mib_arrives_byte_exact_with_blocks_in_parallel() {
    let server = TestServer::start();
    let source = pattern(100 * MIB, 1);
    let path = write_file(server.dir.path(), "clip.mp4", &source);
    let client = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let mut options = upload_options(&scid);
    options.file_path = path.as_ptr();
    options.duration_seconds = 30;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());

    let status = wait_terminal(client, handle, Duration::from_secs(120), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_eq!(status.result, CLIPS_OK);
    assert_eq!((status.bytes_acked, status.bytes_total), (source.len() as u64, source.len() as u64));
    let blocks = source.len().div_ceil(BLOCK) as u32;
    assert_eq!((status.blocks_acked, status.blocks_total), (blocks, blocks));
    assert_eq!(status.http_status, 201);
    let record = assert_arrived(&server, client, handle, &source);
    assert!(record["blockReceiveCounts"].as_array().unwrap().iter().all(|n| n == 1), "{record}");
    let peak = peak_concurrent_requests(&server);
    println!("file mode: peak concurrent requests at the emulator: {peak}");
    assert!(peak > 1, "blocks went one at a time (peak {peak})");

    let events = drain_events(client);
    let kinds: Vec<u32> = events.iter().filter(|e| e.handle == handle).map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|&&k| k == CLIPS_EVENT_CLIP_CREATED).count(), 1, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&CLIPS_EVENT_COMPLETED), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|&&k| k >= CLIPS_EVENT_COMPLETED).count(), 1, "{kinds:?}");
    assert_eq!(unsafe { clips_release(client, handle) }, CLIPS_OK);
    unsafe { clips_client_destroy(client) };
}

#[test]
fn push_mode_100_mib_in_reverse_order_arrives_byte_exact() {
    // A 20 MB/s link drains the 16 MiB push budget in no less than 0.8 s, while the game thread copies
    // it in milliseconds: the budget is met whatever this machine's speed.
    let server =
        TestServer::with_faults(gameclips_emulator::Faults { link_bandwidth: 20_000_000, ..Default::default() });
    let source = pattern(100 * MIB, 2);
    let client = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = source.len() as u64;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());

    let block = BLOCK;
    let mut next: i64 = (source.len().div_ceil(block) - 1) as i64;
    let mut would_block = 0;
    let status = wait_terminal(client, handle, Duration::from_secs(120), || {
        while next >= 0 {
            let start = next as usize * block;
            let chunk = &source[start..(start + block).min(source.len())];
            match unsafe { clips_push_block(client, handle, next as u32, chunk.as_ptr(), chunk.len()) } {
                CLIPS_OK => next -= 1,
                CLIPS_E_WOULD_BLOCK => {
                    would_block += 1;
                    break;
                }
                other => panic!("push of block {next} returned {other}: {}", last_error()),
            }
        }
    });
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert!(would_block > 0, "100 MiB never met the 16 MiB push budget");
    assert_arrived(&server, client, handle, &source);
    let peak = peak_concurrent_requests(&server);
    println!("push mode: peak concurrent requests at the emulator: {peak}; WOULD_BLOCK answers: {would_block}");
    assert!(peak > 1, "blocks went one at a time (peak {peak})");
    unsafe { clips_client_destroy(client) };
}

#[test]
fn many_small_uploads_share_the_pool_and_all_arrive() {
    let server = TestServer::start();
    let client = client(server.url(), |o| o.block_size = 4096);
    let scid = CString::new(SCID).unwrap();
    let sources: Vec<Vec<u8>> = (0..12).map(|i| pattern(1 + i * 7919, 100 + i as u64)).collect();
    let paths: Vec<CString> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| CString::new(write_file(server.dir.path(), &format!("c{i}"), s).to_str().unwrap()).unwrap())
        .collect();
    let handles: Vec<ClipsHandle> = paths
        .iter()
        .map(|path| {
            let mut options = upload_options(&scid);
            options.file_path = path.as_ptr();
            let mut handle = 0;
            assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
            handle
        })
        .collect();
    for (handle, source) in handles.iter().zip(&sources) {
        let status = wait_terminal(client, *handle, Duration::from_secs(60), || {});
        assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, *handle));
        assert_arrived(&server, client, *handle, source);
    }
    unsafe { clips_client_destroy(client) };
}

#[test]
fn cancel_stops_an_upload_and_frees_its_push_budget() {
    let server = TestServer::start();
    let client = client(server.url(), |o| o.max_buffered_bytes = 4 * MIB as u64);
    // Paused, nothing is sent, so the pushed blocks hold the budget until the cancel (else a worker
    // might send and free one between the pushes).
    assert_eq!(unsafe { clips_pause(client) }, CLIPS_OK);
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = 10 * MIB as u64;
    let mut first = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut first) }, CLIPS_OK);
    let block = pattern(BLOCK, 3);
    assert_eq!(unsafe { clips_push_block(client, first, 4, block.as_ptr(), block.len()) }, CLIPS_OK);
    assert_eq!(unsafe { clips_push_block(client, first, 3, block.as_ptr(), block.len()) }, CLIPS_OK);
    assert_eq!(unsafe { clips_push_block(client, first, 2, block.as_ptr(), block.len()) }, CLIPS_E_WOULD_BLOCK);
    assert!(last_error().contains("max_buffered_bytes"), "{}", last_error());

    assert_eq!(unsafe { clips_cancel(client, first) }, CLIPS_OK);
    assert_eq!(unsafe { clips_resume(client) }, CLIPS_OK);
    let status = poll(client, first);
    assert_eq!((status.state, status.result), (CLIPS_STATE_CANCELLED, CLIPS_E_CANCELLED));
    assert_eq!(unsafe { clips_cancel(client, first) }, CLIPS_E_WRONG_STATE);
    assert_eq!(unsafe { clips_push_block(client, first, 2, block.as_ptr(), block.len()) }, CLIPS_E_WRONG_STATE);
    // The cancelled upload's copies are given back (a block already in flight when its request ends):
    // another upload can then use the whole budget.
    let mut second = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut second) }, CLIPS_OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for n in 0..2 {
        while unsafe { clips_push_block(client, second, n, block.as_ptr(), block.len()) } != CLIPS_OK {
            assert!(std::time::Instant::now() < deadline, "the cancelled upload's budget never came back");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let events = drain_events(client);
    assert_eq!(events.iter().filter(|e| e.handle == first && e.kind == CLIPS_EVENT_CANCELLED).count(), 1);
    unsafe { clips_client_destroy(client) };
}

#[test]
fn an_unreadable_file_fails_the_upload_with_an_io_error() {
    let server = TestServer::start();
    let client = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let missing = CString::new(server.dir.path().join("nope.mp4").to_str().unwrap()).unwrap();
    let mut options = upload_options(&scid);
    options.file_path = missing.as_ptr();
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
    let status = wait_terminal(client, handle, Duration::from_secs(10), || {});
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_IO));
    assert!(error_message(client, handle).contains("nope.mp4"), "{}", error_message(client, handle));
    unsafe { clips_client_destroy(client) };
}

#[test]
fn an_upload_waits_for_a_token_and_continues_when_it_comes() {
    let server = TestServer::start();
    let url = CString::new(server.url()).unwrap();
    let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut options) };
    options.metadata_base_url = url.as_ptr();
    let mut client = std::ptr::null_mut();
    assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_OK);
    let source = pattern(5000, 9);
    let scid = CString::new(SCID).unwrap();
    let mut upload = upload_options(&scid);
    upload.file_size = source.len() as u64;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &upload, &mut handle) }, CLIPS_OK);
    assert_eq!(unsafe { clips_push_block(client, handle, 0, source.as_ptr(), source.len()) }, CLIPS_OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while poll(client, handle).state != CLIPS_STATE_NEEDS_AUTH {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(drain_events(client).iter().any(|e| e.kind == CLIPS_EVENT_NEEDS_AUTH && e.handle == handle));
    let token = CString::new(token()).unwrap();
    assert_eq!(unsafe { clips_set_authorization(client, token.as_ptr()) }, CLIPS_OK);
    let status = wait_terminal(client, handle, Duration::from_secs(10), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_arrived(&server, client, handle, &source);
    unsafe { clips_client_destroy(client) };
}

#[test]
fn destroy_returns_within_the_shutdown_timeout_when_the_server_never_answers() {
    let server = TestServer::with_faults(gameclips_emulator::Faults { stall_rate: 1.0, ..Default::default() });
    let client = client(server.url(), |o| o.shutdown_timeout_ms = 1000);
    let scid = CString::new(SCID).unwrap();
    let source = pattern(8 * MIB, 4);
    let path = CString::new(write_file(server.dir.path(), "stall.mp4", &source).to_str().unwrap()).unwrap();
    let mut handles = Vec::new();
    for _ in 0..3 {
        let mut options = upload_options(&scid);
        options.file_path = path.as_ptr();
        let mut handle = 0;
        assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
        handles.push(handle);
    }
    // Let the initial calls reach the server and hang there.
    std::thread::sleep(Duration::from_millis(300));
    assert!(handles.iter().all(|&h| poll(client, h).state == CLIPS_STATE_CREATING));
    let started = std::time::Instant::now();
    unsafe { clips_client_destroy(client) };
    let took = started.elapsed();
    println!("clips_client_destroy with 3 stalled uploads took {took:?} (shutdown timeout 1 s)");
    assert!(took < Duration::from_millis(1500), "destroy took {took:?}");
    // The destroyed pointer is refused, not dereferenced.
    assert_eq!(unsafe { clips_poll(client, handles[0], &mut new_status()) }, CLIPS_E_SHUTDOWN);
}
