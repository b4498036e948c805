//! No upload is lost to a transient failure: a long outage, the service restarting, answers lost to
//! siblings' identical uploads, suspend and offline, and services that read the reference their own
//! way. Every upload ends byte-exact (the emulator's sha256 of the assembled clip).
//!
//! The waits are real (a 150 s outage, a 20 s restart); the tests run side by side. Where a test
//! counts requests, the defaults that decide them stay; elsewhere the client's `max_retry_delay_ms` is
//! shortened so recovery is seen within seconds instead of the default 45 s.
//! The restart test's emulator is the emulator program, so it can be killed as a process.

mod common;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::Faults;

fn outage() -> Faults {
    Faults { fail_rate: [(503, 1.0)].into_iter().collect(), ..Faults::default() }
}

/// Requests to `endpoint` answered with `status`.
fn count(stats: &serde_json::Value, endpoint: &str, status: &str) -> u64 {
    stats["requests"][endpoint][status].as_u64().unwrap_or(0)
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Milliseconds since the Unix epoch (the emulator's request log's clock).
fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn one_upload_on_a_4_mb_per_s_link_through_a_150_s_outage_completes_byte_exact_with_few_requests() {
    // The defaults decide how many requests go (blocks in flight, back-off ceiling, probe budget).
    const LINK: u64 = 4_000_000;
    let server = TestServer::with_config(|c| c.faults.link_bandwidth = LINK);
    let source = pattern(48 * MIB, 61);
    let file = write_file(server.dir.path(), "outage.mp4", &source);
    let client = client(server.url(), |_| {});
    let handle = begin_file(client, &file);
    // Once the link is measured, 12 blocks are in flight (each a few seconds on the shared link).
    wait_for("three blocks in", Duration::from_secs(60), || poll(client, handle).blocks_acked >= 3);
    let in_flight_at_start = server.admin("stats")["requestsInFlight"].as_u64().unwrap_or(0);

    server.emulator.set_faults(Faults { link_bandwidth: LINK, ..outage() });
    let outage_from = now_ms();
    let began = Instant::now();
    let mut longest_retry_in = 0;
    while began.elapsed() < Duration::from_secs(150) {
        let status = poll(client, handle);
        assert!(!is_terminal(status.state), "the outage ended the upload: {}", error_message(client, handle));
        if status.state == CLIPS_STATE_RETRYING {
            longest_retry_in = longest_retry_in.max(status.retry_in_ms);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The reason is there for the game to show while it waits.
    let reason = error_message(client, handle);
    server.emulator.set_faults(Faults { link_bandwidth: LINK, ..Faults::default() });
    let outage_to = now_ms();
    let recovered = Instant::now();

    let status = wait_terminal(client, handle, Duration::from_secs(120), || {});
    let recovery_took = recovered.elapsed();
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_arrived(&server, client, handle, &source);
    // Requests that arrived during the outage (those in flight when it began arrived before it).
    let log = server.admin("requests");
    let arrivals: Vec<u64> = log.as_array().unwrap().iter().map(|r| r["atMs"].as_u64().unwrap()).collect();
    let during: Vec<u64> =
        arrivals.iter().filter(|&&at| (outage_from..outage_to).contains(&at)).map(|at| at - outage_from).collect();
    let first_10_s = during.iter().filter(|&&at| at < 10_000).count();
    eprintln!(
        "150 s outage on a 4 MB/s link, {in_flight_at_start} requests in flight when it began: {} requests \
         arrived during it ({first_10_s} in its first 10 s) at {:?} ms; longest retry_in_ms {longest_retry_in}; \
         completed {:.1} s after recovery, {} retries; reason shown: {reason}",
        during.len(),
        during,
        recovery_took.as_secs_f64(),
        status.retries
    );
    assert!(reason.contains("503"), "{reason}");
    assert!(longest_retry_in > 0 && longest_retry_in <= 45_000, "{longest_retry_in}");
    // One probe at a time, their number bounded by the probe budget: 7 + 150 s / 22.5 s.
    assert!(during.len() <= 15, "{} requests in 150 s: {during:?}", during.len());
    unsafe { clips_client_destroy(client) };
}

#[test]
fn a_60_s_brownout_costs_no_more_requests_than_health_and_loses_nothing() {
    // A title pushing a recording as it is made: 4 blocks a second set the healthy rate, whatever this
    // machine's speed. Then half of the calls fail (503) for 60 s. Retrying each failure at once would
    // send about two requests per block; the client keeps within 1.2 times the healthy rate and
    // catches up afterwards. Small blocks keep the data small; everything else is at its default.
    const BLOCK_LEN: usize = 64 * 1024;
    const PER_SECOND: u32 = 4;
    const HEALTHY: Duration = Duration::from_secs(15);
    const BROWNOUT: Duration = Duration::from_secs(60);
    let blocks = PER_SECOND as usize * (HEALTHY + BROWNOUT + Duration::from_secs(10)).as_secs() as usize;
    let server = TestServer::start();
    let source = pattern(blocks * BLOCK_LEN, 66);
    let client = client(server.url(), |o| o.block_size = BLOCK_LEN as u32);
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = source.len() as u64;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());

    let arrived = || server.admin("stats")["callsArrived"].as_u64().unwrap();
    let began = Instant::now();
    let (mut next, mut marks) = (0, Vec::new());
    let status = wait_terminal(client, handle, Duration::from_secs(300), || {
        // Each block when its time comes (a recording), or as soon as the push budget takes it.
        while next < blocks && began.elapsed() >= Duration::from_secs(1) / PER_SECOND * next as u32 {
            let chunk = &source[next * BLOCK_LEN..(next + 1) * BLOCK_LEN];
            match unsafe { clips_push_block(client, handle, next as u32, chunk.as_ptr(), chunk.len()) } {
                CLIPS_OK => next += 1,
                CLIPS_E_WOULD_BLOCK => break,
                other => panic!("push of block {next} returned {other}: {}", last_error()),
            }
        }
        // Calls arrived at 5 s, when the brownout begins, and when it ends.
        let at = [Duration::from_secs(5), HEALTHY, HEALTHY + BROWNOUT];
        if marks.len() < at.len() && began.elapsed() >= at[marks.len()] {
            marks.push(arrived());
            if marks.len() == 2 {
                server
                    .emulator
                    .set_faults(Faults { fail_rate: [(503, 0.5)].into_iter().collect(), ..Faults::default() });
            }
            if marks.len() == 3 {
                server.emulator.set_faults(Faults::default());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    });
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_arrived(&server, client, handle, &source);
    let healthy_rate = (marks[1] - marks[0]) as f64 / (HEALTHY - Duration::from_secs(5)).as_secs_f64();
    let during = marks[2] - marks[1];
    let brownout_rate = during as f64 / BROWNOUT.as_secs_f64();
    eprintln!(
        "60 s brownout (half 503): {during} requests, {brownout_rate:.2}/s against {healthy_rate:.2}/s healthy \
         ({:.2}x); completed after {:.1} s with {} retries",
        brownout_rate / healthy_rate,
        began.elapsed().as_secs_f64(),
        status.retries
    );
    // Within 1.2 times the healthy rate, give or take the request at each edge of the window.
    assert!(during as f64 <= 1.2 * healthy_rate * BROWNOUT.as_secs_f64() + 2.0, "{brownout_rate:.2}/s");
    assert!(status.retries > 0, "the brownout was not met");
    unsafe { clips_client_destroy(client) };
}

/// The emulator program on `listen` with its data in `dir` (kept across restarts), its link shaped
/// so an upload is still under way when it is killed.
fn spawn_emulator(listen: &str, dir: &std::path::Path) -> Child {
    let (emulator, _) = programs();
    let link = (8 * MIB).to_string();
    let mut child = Command::new(emulator)
        .args(["--listen", listen, "--link-bandwidth", &link, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.find_map(|line| line.ok().filter(|l| l.contains("listening on")));
    assert!(ready.is_some(), "the emulator did not start");
    child
}

#[test]
fn the_emulator_killed_mid_upload_and_started_20_s_later_the_upload_completes() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let data = dir.path().join("emulator");
    let mut emulator = spawn_emulator(&listen, &data);

    let source = pattern(40 * MIB, 62);
    let file = write_file(dir.path(), "restart.mp4", &source);
    let client = client(&url, |o| o.max_retry_delay_ms = 2_000);
    let handle = begin_file(client, &file);
    wait_for("two blocks in", Duration::from_secs(30), || poll(client, handle).blocks_acked >= 2);
    emulator.kill().unwrap(); // SIGKILL: mid-request, nothing flushed on purpose
    emulator.wait().unwrap();
    let killed_at = Instant::now();
    while killed_at.elapsed() < Duration::from_secs(20) {
        let status = poll(client, handle);
        assert!(!is_terminal(status.state), "the restart ended the upload: {}", error_message(client, handle));
        std::thread::sleep(Duration::from_millis(50));
    }
    let reason = error_message(client, handle);
    let mut emulator = spawn_emulator(&listen, &data);
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let record = admin_json(&url, &format!("clips/{}", clip_id(client, handle)), ureq::tls::TlsConfig::default());
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "bytes differ: {record}");
    eprintln!("restart: waited with {reason:?}; {} retries", status.retries);
    unsafe { clips_client_destroy(client) };
    emulator.kill().unwrap();
    emulator.wait().unwrap();
}

/// Twelve push uploads of `size` bytes each, with identical parameters, begun at once on `client`:
/// their clip ids once all completed byte-exact.
fn twelve_identical_uploads(server: &TestServer, client: *mut ClipsClient, round: u64) -> Vec<String> {
    let scid = CString::new(SCID).unwrap();
    let date = CString::new(format!("2026-11-22T20:0{round}:00.000Z")).unwrap();
    let sources: Vec<Vec<u8>> = (0..12).map(|n| pattern(BLOCK + 1000, round * 100 + n)).collect();
    let handles: Vec<ClipsHandle> = sources
        .iter()
        .map(|source| {
            let mut options = upload_options(&scid);
            options.file_size = source.len() as u64;
            options.duration_seconds = 30;
            options.date_recorded = date.as_ptr();
            let mut handle = 0;
            assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
            handle
        })
        .collect();
    let mut next = [0usize; 12];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for (i, (&handle, source)) in handles.iter().zip(&sources).enumerate() {
            while next[i] * BLOCK < source.len() {
                let chunk = &source[next[i] * BLOCK..((next[i] + 1) * BLOCK).min(source.len())];
                match unsafe { clips_push_block(client, handle, next[i] as u32, chunk.as_ptr(), chunk.len()) } {
                    CLIPS_OK => next[i] += 1,
                    CLIPS_E_WOULD_BLOCK => break,
                    other => panic!("push returned {other}: {}", last_error()),
                }
            }
        }
        if handles.iter().all(|&h| is_terminal(poll(client, h).state)) {
            break;
        }
        assert!(Instant::now() < deadline, "round {round}: uploads still running");
        std::thread::sleep(Duration::from_millis(5));
    }
    handles
        .iter()
        .zip(&sources)
        .map(|(&handle, source)| {
            let status = poll(client, handle);
            assert_eq!(status.state, CLIPS_STATE_COMPLETED, "round {round}: {}", error_message(client, handle));
            assert_arrived(server, client, handle, source);
            clip_id(client, handle)
        })
        .collect()
}

/// The ids of every clip the user holds, as the service lists them.
fn listed_clips(client: *mut ClipsClient) -> BTreeSet<String> {
    let scid = CString::new(SCID).unwrap();
    let mut op = 0;
    assert_eq!(
        unsafe { clips_list_clips(client, std::ptr::null(), scid.as_ptr(), 100, std::ptr::null(), &mut op) },
        CLIPS_OK
    );
    assert_eq!(wait_op(client, op).state, CLIPS_STATE_COMPLETED, "{}", error_message(client, op));
    let page = result_json(client, op);
    page["gameClips"].as_array().unwrap().iter().map(|clip| clip["gameClipId"].as_str().unwrap().to_string()).collect()
}

/// Runs three rounds of twelve identical uploads under `faults`: every upload completes byte-exact,
/// and the clips the service holds afterwards are exactly theirs (what lost answers left is removed).
/// The clips the service made, and those removed.
fn identical_uploads_under(faults: Faults) -> (u64, u64) {
    let server = TestServer::with_faults(faults.clone());
    let client = client(server.url(), |o| {
        o.max_retry_delay_ms = 500;
        o.request_timeout_ms = 2_000;
    });
    let mut ours = BTreeSet::new();
    for round in 0..3 {
        ours.extend(twelve_identical_uploads(&server, client, round));
    }
    server.emulator.set_faults(Faults::default());
    assert_eq!(ours.len(), 36);
    assert_eq!(listed_clips(client), ours, "the service holds clips no upload owns");
    let stats = server.admin("stats");
    unsafe { clips_client_destroy(client) };
    (count(&stats, "create_clip", "200"), count(&stats, "delete_clip", "204"))
}

#[test]
fn twelve_identical_uploads_through_500s_and_resets_all_complete_and_leave_only_their_clips() {
    let faults = Faults { fail_rate: [(500, 0.05)].into_iter().collect(), reset_rate: 0.05, ..Faults::default() };
    let (creates, deletes) = identical_uploads_under(faults);
    eprintln!("500s and resets: 36 uploads, {creates} initial calls, {deletes} clips removed");
    assert!(creates >= 36, "{creates} initial calls made clips for 36 uploads");
    assert_eq!(creates, 36 + deletes, "every extra clip made was removed");
}

#[test]
fn answers_lost_after_the_service_acted_leave_no_clip_behind() {
    // Each call is carried out and its answer lost 10% of the time: initial calls make clips nobody
    // can upload to (their upload URIs were in the lost answers). They are found and removed.
    let faults = Faults { drop_answer_rate: 0.10, ..Faults::default() };
    let (creates, deletes) = identical_uploads_under(faults);
    eprintln!("lost answers: 36 uploads, {creates} initial calls, {deletes} clips removed");
    assert_eq!(creates, 36 + deletes, "every extra clip made was removed");
}

#[test]
fn suspended_or_offline_nothing_reaches_the_service_no_retry_is_charged_and_the_upload_goes_on() {
    let server = TestServer::with_config(|c| c.faults.link_bandwidth = 4 * MIB as u64);
    let source = pattern(24 * MIB, 63);
    let file = write_file(server.dir.path(), "suspend.mp4", &source);
    let client = client(server.url(), |_| {});
    let handle = begin_file(client, &file);
    wait_for("a block in", Duration::from_secs(30), || poll(client, handle).blocks_acked >= 1);

    let quiet = |what: &str| {
        // Requests cut short by the suspend may still be read from the emulator's socket buffers (bytes
        // sent before it); anything sent after it needs a new connection (the pool was closed).
        std::thread::sleep(Duration::from_millis(100));
        let before = server.admin("stats");
        assert_eq!(poll(client, handle).state, CLIPS_STATE_PAUSED, "{what}");
        std::thread::sleep(Duration::from_secs(2));
        let after = server.admin("stats");
        let accepted = |stats: &serde_json::Value| stats["connectionsAccepted"].as_u64().unwrap();
        // One: the admin call that read `after`.
        assert_eq!(accepted(&after), accepted(&before) + 1, "{what}: the client connected");
        assert_eq!(poll(client, handle).retries, 0, "{what}: a retry was charged");
    };

    let asked = Instant::now();
    assert_eq!(unsafe { clips_suspend(client, 500) }, CLIPS_OK);
    let suspend_took = asked.elapsed();
    assert!(suspend_took < Duration::from_millis(600), "suspend took {suspend_took:?}");
    quiet("suspended");
    assert_eq!(unsafe { clips_resume(client) }, CLIPS_OK);
    let acked = poll(client, handle).blocks_acked;
    wait_for("progress after resume", Duration::from_secs(30), || poll(client, handle).blocks_acked > acked);

    assert_eq!(unsafe { clips_set_network_status(client, CLIPS_NETWORK_OFFLINE) }, CLIPS_OK);
    quiet("offline");
    assert_eq!(unsafe { clips_set_network_status(client, CLIPS_NETWORK_ONLINE) }, CLIPS_OK);
    assert_eq!(unsafe { clips_set_network_status(client, 7) }, CLIPS_E_INVALID_ARGUMENT);

    let status = wait_terminal(client, handle, Duration::from_secs(60), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_eq!(status.retries, 0);
    assert_arrived(&server, client, handle, &source);
    eprintln!("suspend returned in {suspend_took:?}");
    unsafe { clips_client_destroy(client) };
}

#[test]
fn a_service_that_acknowledges_every_block_with_200_gets_each_block_once() {
    let server = TestServer::with_config(|c| c.faults.block_ack = 200);
    let client = client(server.url(), |_| {});
    let source = pattern(5 * MIB, 64);
    let id = upload_bytes(client, &source, |_| {});
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
    assert_eq!(record["blockReceiveCounts"], serde_json::json!([1, 1, 1]), "nothing sent twice");
    unsafe { clips_client_destroy(client) };
}

#[test]
fn two_mib_blocks_go_only_to_a_service_that_takes_them() {
    let source = pattern(5 * MIB, 65);
    // The reference read strictly: a title choosing 2 MiB blocks is refused, clearly (here at its first
    // block: 3 blocks of a 5 MiB clip could each be under 2,000,000 bytes, so the initial call passes).
    let strict = TestServer::start();
    let refused = client(strict.url(), |o| o.block_size = CLIPS_MAX_BLOCK_SIZE);
    let handle = begin_file(refused, &write_file(strict.dir.path(), "big-blocks.mp4", &source));
    let status = wait_terminal(refused, handle, Duration::from_secs(10), || {});
    let message = error_message(refused, handle);
    assert_eq!((status.state, status.http_status), (CLIPS_STATE_FAILED, 400), "{message}");
    // Whichever block arrives first: a full one is over the limit, the last one implies blocks over it.
    assert!(message.contains("over the limit of 2000000 bytes"), "{message}");
    unsafe { clips_client_destroy(refused) };

    // A service that takes 2 MiB when asked: every block once.
    let relaxed = TestServer::with_config(|c| c.max_block_bytes = 2 * MIB as u64);
    let client = client(relaxed.url(), |o| o.block_size = CLIPS_MAX_BLOCK_SIZE);
    let file = write_file(relaxed.dir.path(), "big-blocks.mp4", &source);
    let handle = begin_file(client, &file);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let record = assert_arrived(&relaxed, client, handle, &source);
    assert_eq!(record["blockReceiveCounts"], serde_json::json!([1, 1, 1]));
    unsafe { clips_client_destroy(client) };
}
