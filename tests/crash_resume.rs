//! Resume after a crash: a child process uploading a 200 MiB file is killed with SIGKILL at 5 random
//! moments and started again on the same journal each time. The clip completes byte-exact, and what
//! is sent again after each kill is at most the blocks that were in flight (the emulator's per-block
//! receive counts show it). The journal never holds the Authorization value.
//!
//! The child is this test binary itself, run with `GAMECLIPS_CRASH_CHILD` set (see `crash_child`).

mod common;

use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;

const CHILD: &str = "GAMECLIPS_CRASH_CHILD";
const WORKERS: u32 = 4;

/// The child's part: resume the journaled upload, or begin it; poll until it completes.
#[test]
fn crash_child() {
    let Ok(config) = std::env::var(CHILD) else { return };
    let [url, journal_dir, file, token]: [&str; 4] = config.split('\n').collect::<Vec<_>>().try_into().unwrap();
    let dir = CString::new(journal_dir).unwrap();
    let client = client_with_token(url, token, |o| {
        o.journal_dir = dir.as_ptr();
        o.worker_threads = WORKERS;
        o.max_bytes_per_second = 25 * MIB as u64;
    });
    let mut resumed = [0u64; 4];
    let mut count = 0;
    assert_eq!(unsafe { clips_resumed_uploads(client, resumed.as_mut_ptr(), 4, &mut count) }, CLIPS_OK);
    let handle = match count {
        0 => {
            let scid = CString::new(SCID).unwrap();
            let path = CString::new(file).unwrap();
            let mut options = upload_options(&scid);
            options.file_path = path.as_ptr();
            let mut handle = 0;
            assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
            println!("began");
            handle
        }
        1 => {
            println!("resumed");
            resumed[0]
        }
        n => panic!("{n} uploads resumed; one was journaled"),
    };
    let mut announced = false;
    let status = wait_terminal(client, handle, Duration::from_secs(120), || {
        if !announced && poll(client, handle).state != CLIPS_STATE_CREATING {
            println!("clip id: {}", clip_id(client, handle));
            announced = true;
        }
    });
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    println!("clip id: {}", clip_id(client, handle));
    println!("completed");
    unsafe { clips_client_destroy(client) };
}

/// `crash_child` in a process of its own, uploading as `config` says; its stdout piped.
fn spawn_child(config: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn block_counts(server: &TestServer, clip_id: &str) -> Vec<u64> {
    let record = server.admin(&format!("clips/{clip_id}"));
    record["blockReceiveCounts"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect()
}

#[test]
fn killed_five_times_the_upload_resumes_and_completes_byte_exact() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let server = TestServer::start();
    let source = pattern(200 * MIB, 51);
    let file = write_file(server.dir.path(), "long.mp4", &source);
    let journal_dir = server.dir.path().join("journal");
    let token = token();
    let config = [server.url(), journal_dir.to_str().unwrap(), file.to_str().unwrap(), &token].join("\n");
    let spawn = || spawn_child(&config);
    let mut seed = Instant::now().elapsed().as_nanos() as u64 | std::process::id() as u64 | 1;
    let mut clip_id: Option<String> = None;
    let mut resent_per_kill = Vec::new();
    let mut counts_at_kill: Option<Vec<u64>> = None;
    for kill in 0..5 {
        let mut child = spawn();
        // A moment 0.5 to 1.5 s into this run (the whole upload takes about 8 s at 25 MiB/s).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(500 + seed % 1000);
        let stdout = child.stdout.take().unwrap();
        let reader =
            std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        if let Some(id) = lines.iter().rev().find_map(|l| l.strip_prefix("clip id: ")) {
            clip_id = Some(id.to_string());
        }
        assert!(!lines.iter().any(|l| l.ends_with("completed")), "the upload finished before kill {kill}: {lines:?}");
        // The journal never holds the token.
        for entry in std::fs::read_dir(&journal_dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains(&token) && !text.contains("XBL3.0"), "the journal holds the Authorization value");
        }
        if let Some(id) = &clip_id {
            let counts = block_counts(&server, id);
            if let Some(before) = &counts_at_kill {
                // Blocks the service had already taken before the previous kill and took again in this run.
                resent_per_kill
                    .push(counts.iter().zip(before).filter(|(now, then)| **then > 0 && *now > *then).count());
            }
            counts_at_kill = Some(counts);
        }
        println!(
            "kill {kill} after {delay:?}: {}",
            lines.iter().find(|l| l.contains("crash_child")).map_or("", String::as_str)
        );
    }
    let mut child = spawn();
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok).collect::<Vec<_>>();
    assert!(child.wait().unwrap().success(), "the last run failed: {stdout:?}");
    assert!(stdout.iter().any(|l| l.ends_with("resumed")), "the last run did not resume: {stdout:?}");
    let id = stdout.iter().rev().find_map(|l| l.strip_prefix("clip id: ")).unwrap().to_string();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");
    let counts = block_counts(&server, &id);
    if let (Some(before), Some(last_id)) = (&counts_at_kill, &clip_id) {
        if *last_id == id {
            resent_per_kill.push(counts.iter().zip(before).filter(|(now, then)| **then > 0 && *now > *then).count());
        }
    }
    let resent: u64 = counts.iter().map(|&n| n.saturating_sub(1)).sum();
    println!(
        "crash: 200 MiB, 5 kills, byte-exact; {} of {} blocks sent more than once; re-sent after each kill: {resent_per_kill:?}",
        resent,
        counts.len()
    );
    for (kill, &again) in resent_per_kill.iter().enumerate() {
        assert!(
            again <= WORKERS as usize,
            "kill {kill}: {again} acknowledged blocks sent again (at most {WORKERS} were in flight)"
        );
    }
    assert!(resent <= 5 * u64::from(WORKERS), "{resent} blocks re-sent over 5 kills");
    assert_eq!(std::fs::read_dir(&journal_dir).unwrap().count(), 0, "the journal of a completed upload remains");
}

fn journal_client(url: &str, dir: &CString) -> *mut ClipsClient {
    client(url, |o| o.journal_dir = dir.as_ptr())
}

fn resumed_handles(client: *mut ClipsClient) -> Vec<ClipsHandle> {
    let mut handles = [0u64; 8];
    let mut count = 0;
    assert_eq!(unsafe { clips_resumed_uploads(client, handles.as_mut_ptr(), 8, &mut count) }, CLIPS_OK);
    handles[..count].to_vec()
}

fn missing_blocks(client: *mut ClipsClient, handle: ClipsHandle) -> Vec<u32> {
    let mut blocks = [0u32; 64];
    let mut count = 0;
    assert_eq!(unsafe { clips_missing_blocks(client, handle, blocks.as_mut_ptr(), 64, &mut count) }, CLIPS_OK);
    blocks[..count].to_vec()
}

/// Hands blocks `nums` of `source` over.
fn push_blocks(client: *mut ClipsClient, handle: ClipsHandle, source: &[u8], nums: &[u32]) {
    for &num in nums {
        let block = &source[num as usize * BLOCK..((num as usize + 1) * BLOCK).min(source.len())];
        assert_eq!(unsafe { clips_push_block(client, handle, num, block.as_ptr(), block.len()) }, CLIPS_OK);
    }
}

/// Waits until a resumed push upload asks for its blocks.
fn wait_for_data(client: *mut ClipsClient, handle: ClipsHandle) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while poll(client, handle).state != CLIPS_STATE_WAITING_FOR_DATA {
        assert!(Instant::now() < deadline, "state {}", poll(client, handle).state);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A push-mode upload of `source` with the blocks in `push` handed over and acknowledged, then the
/// client destroyed (as a game that quits): returns the clip id. `url`: the service as the title names it.
fn push_then_quit(url: &str, dir: &CString, source: &[u8], push: &[u32]) -> String {
    let client = journal_client(url, dir);
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = source.len() as u64;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
    push_blocks(client, handle, source, push);
    let deadline = Instant::now() + Duration::from_secs(30);
    while poll(client, handle).blocks_acked < push.len() as u32 {
        assert!(Instant::now() < deadline, "blocks not acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    let id = clip_id(client, handle);
    unsafe { clips_client_destroy(client) };
    id
}

#[test]
fn a_resumed_push_upload_waits_for_its_missing_blocks() {
    let server = TestServer::start();
    let dir = CString::new(server.dir.path().join("journal").to_str().unwrap()).unwrap();
    let source = pattern(5 * BLOCK + 100, 52);
    let id = push_then_quit(server.url(), &dir, &source, &[0, 2, 5]);
    let client = journal_client(server.url(), &dir);
    let resumed = resumed_handles(client);
    assert_eq!(resumed.len(), 1);
    let handle = resumed[0];
    wait_for_data(client, handle);
    assert_eq!(clip_id(client, handle), id);
    assert_eq!(missing_blocks(client, handle), [1, 3, 4]);
    assert_eq!(poll(client, handle).blocks_acked, 3);
    push_blocks(client, handle, &source, &[1, 3, 4]);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
    assert_eq!(record["blockReceiveCounts"], serde_json::json!([1, 1, 1, 1, 1, 1]), "nothing was sent twice");
}

#[test]
fn a_journals_clip_on_a_host_the_title_no_longer_allows_is_created_again_and_the_old_one_removed() {
    let server = TestServer::start();
    let dir = CString::new(server.dir.path().join("journal").to_str().unwrap()).unwrap();
    let source = pattern(3 * BLOCK + 100, 54);
    // The first run named the service "localhost": the clip's upload URI is on that host.
    let old_id = push_then_quit(&server.url().replace("127.0.0.1", "localhost"), &dir, &source, &[0, 2]);
    let old_counts = server.admin(&format!("clips/{old_id}"))["blockReceiveCounts"].clone();
    // This run names it 127.0.0.1, with no upload host besides: the journal's upload URI is refused, and
    // nothing more goes to it.
    let client = journal_client(server.url(), &dir);
    let handle = resumed_handles(client)[0];
    wait_for_data(client, handle);
    assert_eq!(missing_blocks(client, handle), [0, 1, 2, 3], "a new clip takes every block");
    push_blocks(client, handle, &source, &[0, 1, 2, 3]);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let id = clip_id(client, handle);
    assert_ne!(id, old_id);
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
    assert_eq!(record["blockReceiveCounts"], serde_json::json!([1, 1, 1, 1]), "nothing was sent twice");
    let clips = server.admin("clips")["clips"].as_array().cloned().unwrap();
    let ids: Vec<_> = clips.iter().map(|c| c["gameClipId"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, [id], "the journal's clip was removed; the user holds the uploaded one");
    assert_eq!(old_counts, serde_json::json!([1, 0, 1, 0]), "the first run's blocks");
    unsafe { clips_client_destroy(client) };
}

#[test]
fn an_upload_the_service_already_committed_completes_without_sending_again() {
    let server = TestServer::start();
    let journal_dir = server.dir.path().join("journal");
    let dir = CString::new(journal_dir.to_str().unwrap()).unwrap();
    let source = pattern(3 * BLOCK, 53);
    let id = push_then_quit(server.url(), &dir, &source, &[0, 1]);
    // The last block reached the service, but the game died before its answer was journaled.
    let journal = std::fs::read_dir(&journal_dir).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(journal).unwrap();
    let upload_id = text.split("\"upload_id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let status = ureq::put(&format!("{}/upload/{id}?uploadId={upload_id}&blockNum=2", server.url()))
        .config()
        .proxy(None)
        .build()
        .header("Authorization", &token())
        .send(&source[2 * BLOCK..])
        .unwrap()
        .status();
    assert_eq!(status, 201);
    let client = journal_client(server.url(), &dir);
    let handle = resumed_handles(client)[0];
    let status = wait_terminal(client, handle, Duration::from_secs(10), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_eq!(status.bytes_acked, source.len() as u64);
    assert_eq!(server.admin(&format!("clips/{id}"))["blockReceiveCounts"], serde_json::json!([1, 1, 1]));
    unsafe { clips_client_destroy(client) };
    assert_eq!(std::fs::read_dir(&journal_dir).unwrap().count(), 0, "the journal of a completed upload remains");
}

#[test]
fn a_clip_file_changed_since_the_upload_began_is_not_resumed() {
    let server = TestServer::start();
    let dir = CString::new(server.dir.path().join("journal").to_str().unwrap()).unwrap();
    let source = pattern(8 * MIB, 54);
    let file = write_file(server.dir.path(), "changing.mp4", &source);
    let path = CString::new(file.to_str().unwrap()).unwrap();
    let client = client(server.url(), |o| {
        o.journal_dir = dir.as_ptr();
        o.max_bytes_per_second = 2 * MIB as u64;
    });
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_path = path.as_ptr();
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    while poll(client, handle).blocks_acked < 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { clips_client_destroy(client) };
    // Same size, one byte different in the last block: only the fingerprint tells.
    let mut changed = source.clone();
    *changed.last_mut().unwrap() ^= 1;
    std::fs::write(&file, &changed).unwrap();
    let client = journal_client(server.url(), &dir);
    let handle = resumed_handles(client)[0];
    let status = wait_terminal(client, handle, Duration::from_secs(10), || {});
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_IO));
    assert!(
        error_message(client, handle).contains("changed since the upload began"),
        "{}",
        error_message(client, handle)
    );
}

#[test]
fn a_cancelled_uploads_journal_goes_while_other_uploads_keep_the_workers_busy() {
    let server = TestServer::start();
    let journal_dir = server.dir.path().join("journal");
    let dir = CString::new(journal_dir.to_str().unwrap()).unwrap();
    let client = client(server.url(), |o| {
        o.journal_dir = dir.as_ptr();
        o.max_bytes_per_second = 4 * MIB as u64;
        // Few workers, so each upload's first block is sent early: with 12, a block's turn at the
        // bandwidth limit can come 5.5 s after the start, too late for a loaded CI machine.
        o.worker_threads = 4;
    });
    let scid = CString::new(SCID).unwrap();
    let path =
        CString::new(write_file(server.dir.path(), "busy.mp4", &pattern(16 * MIB, 55)).to_str().unwrap()).unwrap();
    let begin = || {
        let mut options = upload_options(&scid);
        options.file_path = path.as_ptr();
        let mut handle = 0;
        assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
        handle
    };
    let (kept, cancelled) = (begin(), begin());
    let journals = || std::fs::read_dir(&journal_dir).map_or(0, |d| d.count());
    let deadline = Instant::now() + Duration::from_secs(10);
    while journals() < 2 || poll(client, cancelled).blocks_acked == 0 {
        assert!(Instant::now() < deadline, "the uploads did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(unsafe { clips_cancel(client, cancelled) }, CLIPS_OK);
    let deadline = Instant::now() + Duration::from_secs(2);
    while journals() > 1 {
        assert!(Instant::now() < deadline, "the cancelled upload's journal outlived it while the other uploaded");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!is_terminal(poll(client, kept).state), "the other upload should still be running");
    unsafe { clips_client_destroy(client) };
}

#[test]
fn killed_right_after_a_lost_initial_answer_the_next_client_removes_what_it_left() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    // Every answer is lost (the service acts, the connection drops): the child's initial call makes a
    // clip it never hears of.
    let server = TestServer::with_faults(gameclips_emulator::Faults { drop_answer_rate: 1.0, ..Default::default() });
    let source = pattern(3 * MIB, 52);
    let file = write_file(server.dir.path(), "lost.mp4", &source);
    let journal_dir = server.dir.path().join("journal");
    let token = token();
    let config = [server.url(), journal_dir.to_str().unwrap(), file.to_str().unwrap(), &token].join("\n");
    let spawn = || spawn_child(&config);
    let journaled_a_lost_create = || {
        std::fs::read_dir(&journal_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| std::fs::read_to_string(entry.path()).is_ok_and(|text| text.contains("\"lostCreate\"")))
    };
    let mut child = spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !journaled_a_lost_create() {
        assert!(Instant::now() < deadline, "no lost initial call was journaled");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix: no cleanup runs
    child.wait().unwrap();
    let made = server.admin("stats")["requests"]["create_clip"]["200"].as_u64().unwrap_or(0);
    assert!(made >= 1, "the lost initial call made a clip");
    let pending = server.admin("clips")["clips"].as_array().unwrap().len();

    server.emulator.set_faults(gameclips_emulator::Faults::default());
    let output = spawn().wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(lines.contains("resumed") && lines.contains("completed"), "{lines}");
    let clips = server.admin("clips")["clips"].as_array().cloned().unwrap();
    let removed = server.admin("stats")["requests"]["delete_clip"]["204"].as_u64().unwrap_or(0);
    println!(
        "killed after {made} initial call(s) whose answers were lost ({pending} pending clips); the next client \
         completed the upload and removed {removed}; the user holds {} clip(s)",
        clips.len()
    );
    assert_eq!(clips.len(), 1, "exactly the uploaded clip: {clips:?}");
    assert_eq!(clips[0]["sha256"].as_str(), Some(sha256(&source).as_str()));
}
