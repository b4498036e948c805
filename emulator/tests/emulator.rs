//! The emulator as a program (first line, clean exit on SIGTERM) and as durable storage (a restart on the
//! same data dir keeps clips and half-finished uploads).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gameclips_emulator::{token, Emulator, EmulatorConfig};

fn request(method: &str, url: &str, body: &[u8]) -> (u16, String) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let auth = token::mint_for_xuid(7);
    let mut response = match method {
        "POST" => agent.post(url).header("Authorization", &auth).send(body),
        "PUT" => agent.put(url).header("Authorization", &auth).send(body),
        _ => agent.get(url).header("Authorization", &auth).call(),
    }
    .unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// The emulator program on a free port, its stdout piped.
fn spawn_program(data_dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gameclips-emulator"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn program_prints_its_address_first_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_program(dir.path());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("listening on ").expect("first line names the address").to_string();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    assert_eq!(second.trim(), format!("dashboard: {url}/"));
    let (status, _) = request("GET", &format!("{url}/_emulator/stats"), b"");
    assert_eq!(status, 200);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // A reader that closes the pipe after the first line does not take the emulator down.
    let mut child = spawn_program(dir.path());
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("listening on ").unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(request("GET", &format!("{url}/_emulator/stats"), b"").0, 200, "the emulator died with its stdout");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn program_help_explains_every_option_and_a_bad_value_is_named() {
    let program = env!("CARGO_BIN_EXE_gameclips-emulator");
    let help = Command::new(program).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for option in [
        "--listen",
        "--data-dir",
        "--public-url",
        "--trust-forwarded",
        "--admin-from",
        "--admin-token",
        "--tls-self-signed",
        "--link-bandwidth",
        "--fail-rate",
        "--stall-rate",
    ] {
        let line = help.lines().find(|l| l.trim_start().starts_with(option)).unwrap_or_default();
        // Each option has a sentence of its own after its name.
        assert!(line.split_whitespace().count() > 3, "{option} is not explained:\n{help}");
    }
    for (args, named) in [
        (["--latency-ms", "soon"], "soon"),
        (["--stall-rate", "1.5"], "1.5"),
        (["--admin-from", "10.0.0.0/40"], "10.0.0.0/40"),
        (["--public-url", "ftp://x"], "ftp://x"),
    ] {
        let refused = Command::new(program).args(args).output().unwrap();
        let message = String::from_utf8(refused.stderr).unwrap();
        assert_eq!(refused.status.code(), Some(2), "{message}");
        assert!(message.contains(named) && message.contains(args[0]), "{args:?}: {message}");
    }
}

#[test]
fn a_server_on_every_address_prints_loopback_and_hands_out_the_address_the_client_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(dir.path());
    config.listen = "0.0.0.0:0".parse().unwrap();
    let emulator = Emulator::start(config).unwrap();
    let base = emulator.base_url().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "a URL a person can open: {base}");
    let port = base.rsplit(':').next().unwrap();
    // Reached as "localhost", the emulator names localhost in what it hands out.
    let (status, body) = request(
        "POST",
        &format!("http://localhost:{port}/users/me/scids/s1/clips"),
        br#"{"fileSize":10,"expectedBlocks":1,"thumbnailSource":"Upload"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let created = json(&body);
    for uri in ["uploadUri", "largeThumbnailUri", "smallThumbnailUri"] {
        let uri = created[uri].as_str().unwrap();
        assert!(uri.starts_with(&format!("http://localhost:{port}/")), "{uri}");
    }
}

#[test]
fn clips_and_half_finished_uploads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = first.base_url().to_string();
    let (status, body) =
        request("POST", &format!("{base}/users/me/scids/s1/clips"), br#"{"fileSize":10,"expectedBlocks":2}"#);
    assert_eq!(status, 200, "{body}");
    let created = json(&body);
    let (id, upload_id) =
        (created["gameClipId"].as_str().unwrap().to_string(), created["uploadId"].as_str().unwrap().to_string());
    let (status, _) = request("PUT", &format!("{base}/upload/{id}?uploadId={upload_id}&blockNum=1"), b"fghij");
    assert_eq!(status, 202);
    drop(first);

    let second = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = second.base_url().to_string();
    let (_, record) = request("GET", &format!("{base}/_emulator/clips/{id}"), b"");
    let record = json(&record);
    assert_eq!(record["blockReceiveCounts"], serde_json::json!([0, 1]), "{record}");
    assert_eq!(record["state"], "PendingUpload");
    // The upload URI handed out before the restart names the old port; the path and id still work.
    let (status, _) = request("PUT", &format!("{base}/upload/{id}?uploadId={upload_id}&blockNum=0"), b"abcde");
    assert_eq!(status, 201);
    let (status, _) = request("PUT", &format!("{base}/upload/{id}?uploadId={upload_id}&blockNum=0"), b"abcde");
    assert_eq!(status, 201, "a PUT after commit answers 201 again");
    let (_, record) = request("GET", &format!("{base}/_emulator/clips/{id}"), b"");
    let record = json(&record);
    // sha256("abcdefghij")
    assert_eq!(record["sha256"], "72399361da6a7754fec986dca5b7cbaf1c810a28ded4abaf56b2106d06cb78b0");
    let (status, clip) = request("GET", &format!("{base}/users/me/scids/s1/clips/{id}"), b"");
    assert_eq!(status, 200);
    assert_eq!(json(&clip)["gameClip"]["gameClipId"], id.as_str());
}

#[test]
fn tokens_and_bad_blocks_get_the_documented_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = emulator.base_url();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let post = |auth: &str| {
        agent
            .post(&format!("{base}/users/me/scids/s/clips"))
            .header("Authorization", auth)
            .send(r#"{"fileSize":4,"expectedBlocks":1}"#)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("garbage"), 401);
    let mut pc = token::Claims::for_xuid(7);
    pc.device_type = Some("Win32".into());
    assert_eq!(post(&token::mint(&pc)), 403);
    assert_eq!(post(&token::mint_for_xuid(7)), 200);
    let (_, body) =
        request("POST", &format!("{base}/users/me/scids/s/clips"), br#"{"fileSize":3000000,"expectedBlocks":2}"#);
    let created = json(&body);
    let (id, upload_id) = (created["gameClipId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
    let put = |n: u32, len: usize| {
        request("PUT", &format!("{base}/upload/{id}?uploadId={upload_id}&blockNum={n}"), &vec![1u8; len]).0
    };
    assert_eq!(put(2, 10), 400, "block out of range");
    assert_eq!(put(0, 100), 400, "a first block too short for 2 blocks");
    assert_eq!(put(0, 2 * 1024 * 1024), 400, "2 MiB is over \"no larger than 2 MB\", read strictly");
    assert_eq!(put(0, 2_000_000), 202);
    assert_eq!(put(1, 5), 400, "the last block must hold the rest");
    assert_eq!(put(1, 1_000_000), 201);
    let (status, _) = request("POST", &format!("{base}/users/me/scids/s/clips"), br#"{"fileSize":10,"expectedBlocks":1,"userCaption":"#.iter().chain(format!("\"{}\"}}", "x".repeat(251)).as_bytes()).copied().collect::<Vec<u8>>().as_slice());
    assert_eq!(status, 400);
}

/// A committed 10-byte clip ("abcdefghij") of user 7, Published at once.
fn published_clip(base: &str) -> String {
    let (_, body) =
        request("POST", &format!("{base}/users/me/scids/s/clips"), br#"{"fileSize":10,"expectedBlocks":1}"#);
    let created = json(&body);
    let (id, upload_id) = (created["gameClipId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
    let (status, _) = request("PUT", &format!("{base}/upload/{id}?uploadId={upload_id}&blockNum=0"), b"abcdefghij");
    assert_eq!(status, 201);
    id.to_string()
}

#[test]
fn downloads_honour_ranges_and_refuse_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(dir.path());
    config.processing_ms = 0;
    let emulator = Emulator::start(config).unwrap();
    let base = emulator.base_url();
    let id = published_clip(base);
    let (_, clip) = request("GET", &format!("{base}/users/me/scids/s/clips/{id}"), b"");
    let uri = json(&clip)["gameClip"]["gameClipUris"][0]["uri"].as_str().unwrap().to_string();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let get = |range: Option<&str>| {
        let mut request = agent.get(&uri);
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        let mut response = request.call().unwrap();
        let content_range = response.headers().get("Content-Range").map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), content_range, response.body_mut().read_to_string().unwrap())
    };
    assert_eq!(get(None), (200, None, "abcdefghij".into()));
    assert_eq!(get(Some("bytes=2-4")), (206, Some("bytes 2-4/10".into()), "cde".into()));
    assert_eq!(get(Some("bytes=7-")), (206, Some("bytes 7-9/10".into()), "hij".into()));
    assert_eq!(get(Some("bytes=-2")), (206, Some("bytes 8-9/10".into()), "ij".into()));
    for bad in ["bytes=10-", "bytes=5-2", "lines=0-1"] {
        let (status, content_range, _) = get(Some(bad));
        assert_eq!((status, content_range.as_deref()), (416, Some("bytes */10")), "{bad}");
    }
    // Not yet committed: nothing to download.
    let (_, body) = request("POST", &format!("{base}/users/me/scids/s/clips"), br#"{"fileSize":4,"expectedBlocks":1}"#);
    let pending = json(&body)["gameClipId"].as_str().unwrap().to_string();
    assert_eq!(request("GET", &format!("{base}/download/{pending}"), b"").0, 404);
}

#[test]
fn an_update_with_one_invalid_field_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = emulator.base_url();
    let id = published_clip(base);
    let url = format!("{base}/users/me/scids/s/clips/{id}");
    assert_eq!(request("POST", &url, br#"{"userCaption":"kept","visibility":"Public"}"#).0, 200);
    for mixed in [
        r#"{"userCaption":"lost","visibility":"Everyone"}"#.to_string(),
        format!(r#"{{"userCaption":"lost","titleData":"{}"}}"#, "x".repeat(10 * 1024 + 1)),
        format!(r#"{{"visibility":"Owner","userCaption":"{}"}}"#, "x".repeat(251)),
    ] {
        let (status, body) = request("POST", &url, mixed.as_bytes());
        assert_eq!(status, 400, "{body}");
        assert!(json(&body)["errorMessage"].is_string(), "{body}");
    }
    let (_, clip) = request("GET", &url, b"");
    let clip = json(&clip)["gameClip"].clone();
    assert_eq!((clip["userCaption"].as_str(), clip["visibility"].as_str()), (Some("kept"), Some("Public")));
}

#[test]
fn every_fault_does_what_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = emulator.base_url().to_string();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let set = |faults: serde_json::Value| {
        let status = agent.put(&format!("{base}/_emulator/faults")).send(faults.to_string()).unwrap().status();
        assert_eq!(status, 200);
    };
    let create = |auth: &str, size: u64| {
        let body = format!(r#"{{"fileSize":{size},"expectedBlocks":1}}"#);
        let mut response =
            agent.post(&format!("{base}/users/me/scids/s/clips")).header("Authorization", auth).send(body);
        match &mut response {
            Ok(r) => Ok((
                r.status().as_u16(),
                r.headers().get("Retry-After").map(|v| v.to_str().unwrap().to_string()),
                r.body_mut().read_to_string().unwrap(),
            )),
            Err(e) => Err(e.to_string()),
        }
    };
    let token = token::mint_for_xuid(7);

    set(serde_json::json!({"failRate": {"503": 1.0}, "retryAfterS": 2}));
    let (status, retry_after, _) = create(&token, 10).unwrap();
    assert_eq!((status, retry_after.as_deref()), (503, Some("2")));
    // Admin endpoints are never faulted.
    assert_eq!(request("GET", &format!("{base}/_emulator/stats"), b"").0, 200);

    set(serde_json::json!({"resetRate": 1.0}));
    assert!(create(&token, 10).is_err(), "the connection should have been dropped");

    set(serde_json::json!({"expireTokensAfter": 3}));
    let statuses: Vec<u16> = (0..4).map(|_| create(&token, 10).unwrap().0).collect();
    assert_eq!(statuses, [200, 200, 401, 401]);
    assert_eq!(create(&token::mint_for_xuid(8), 10).unwrap().0, 200, "a new token works again");

    set(serde_json::json!({"quotaBytes": 1000}));
    let xuid9 = token::mint_for_xuid(9);
    assert_eq!(create(&xuid9, 600).unwrap().0, 200);
    let (status, _, body) = create(&xuid9, 600).unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("quota exceeded") && body.contains("1013"), "{body}");

    set(serde_json::json!({"uploadExpiryS": 1}));
    let (_, _, body) = create(&token::mint_for_xuid(10), 4).unwrap();
    let created = json(&body);
    let (id, upload_id) = (created["gameClipId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let put = agent
        .put(&format!("{base}/upload/{id}?uploadId={upload_id}&blockNum=0"))
        .header("Authorization", &token::mint_for_xuid(10))
        .send(&b"abcd"[..])
        .unwrap();
    assert_eq!(put.status(), 410);

    // 512 KiB through a 1 MiB/s connection takes about half a second.
    set(serde_json::json!({"connBandwidth": 1024 * 1024}));
    let started = std::time::Instant::now();
    let status = agent
        .post(&format!("{base}/users/me/scids/s/clips"))
        .header("Authorization", &token::mint_for_xuid(11))
        .send(&vec![b' '; 512 * 1024][..])
        .unwrap()
        .status();
    let elapsed = started.elapsed();
    assert_eq!(status, 400); // not an InitialUploadRequest; the point is the pace
    assert!(elapsed >= std::time::Duration::from_millis(400), "{elapsed:?}");

    // A token's uplink is shared by its connections: two 512 KiB bodies at once through 1 MiB/s take
    // about a second together.
    set(serde_json::json!({"uplinkBandwidth": 1024 * 1024}));
    let console = token::mint_for_xuid(12);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let post = || {
            let url = format!("{base}/users/me/scids/s/clips");
            agent.post(&url).header("Authorization", &console).send(&vec![b' '; 512 * 1024][..]).unwrap().status()
        };
        let other = scope.spawn(post);
        assert_eq!(post(), 400);
        assert_eq!(other.join().unwrap(), 400);
    });
    let elapsed = started.elapsed();
    assert!(elapsed >= std::time::Duration::from_millis(900), "{elapsed:?}");
}

#[test]
fn the_request_log_keeps_what_was_asked_and_never_the_authorization_value() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = emulator.base_url().to_string();
    let create = |expected: u16| {
        let (status, _) =
            request("POST", &format!("{base}/users/me/scids/s/clips"), br#"{"fileSize":10,"expectedBlocks":1}"#);
        assert_eq!(status, expected);
    };
    create(200);
    emulator
        .set_faults(gameclips_emulator::Faults { fail_rate: [(503, 1.0)].into_iter().collect(), ..Default::default() });
    create(503);
    let (status, faults) = request("GET", &format!("{base}/_emulator/faults"), b"");
    assert_eq!((status, json(&faults)["failRate"]["503"].as_f64()), (200, Some(1.0)));
    emulator.set_faults(Default::default());

    let (status, text) = request("GET", &format!("{base}/_emulator/requests"), b"");
    assert_eq!(status, 200);
    let log = json(&text);
    // Only the service's calls: the admin GET of the faults is not there.
    let calls: Vec<_> = log.as_array().unwrap().iter().collect();
    assert_eq!(calls.len(), 2, "{text}");
    assert!(calls.iter().all(|r| r["path"] == "/users/me/scids/s/clips"), "{text}");
    assert_eq!((calls[0]["method"].as_str(), calls[0]["status"].as_u64()), (Some("POST"), Some(200)));
    assert_eq!(calls[0]["bytes"], 34);
    assert!(calls[0]["fault"].is_null());
    assert_eq!((calls[1]["status"].as_u64(), calls[1]["fault"].as_str()), (Some(503), Some("503")));
    let token = token::mint_for_xuid(7);
    assert_eq!(calls[0]["token"].as_str(), Some(token::fingerprint(&token).as_str()), "a fingerprint of it");
    let secret = token.rsplit(';').next().unwrap();
    assert!(!text.contains(secret) && !text.contains("XBL3.0"), "the log holds the Authorization value");
}

#[test]
fn the_dashboard_is_served_from_the_binary_with_nothing_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = emulator.base_url().to_string();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let get = |path: &str| {
        let mut response = agent.get(&format!("{base}{path}")).call().unwrap();
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        let (content_type, policy) = (header("content-type"), header("content-security-policy"));
        (response.status().as_u16(), content_type, policy, response.body_mut().read_to_string().unwrap())
    };
    let (status, content_type, policy, page) = get("/");
    assert_eq!((status, content_type.as_deref()), (200, Some("text/html; charset=utf-8")));
    assert!(policy.unwrap().starts_with("default-src 'self'"), "only this origin");
    for (file, kind) in [("app.js", "text/javascript"), ("app.css", "text/css")] {
        // Relative, so the page works behind a proxy that serves it under a path of its own.
        assert!(page.contains(&format!("\"_emulator/dashboard/{file}\"")), "the page loads {file}");
        let (status, content_type, _, text) = get(&format!("/_emulator/dashboard/{file}"));
        assert_eq!(status, 200);
        assert!(content_type.unwrap().starts_with(kind) && text.len() > 1000);
        // The SVG namespace is a name, never fetched.
        let text = text.replace("http://www.w3.org/2000/svg", "");
        assert!(!text.contains("http://") && !text.contains("https://"), "{file} names no other origin");
        assert!(!text.contains("\"/_emulator") && !text.contains("`/_emulator"), "{file} asks by relative paths");
    }
    assert!(!page.contains("https://"), "the page names no other origin");
    assert_eq!(get("/_emulator/dashboard/secrets.txt").0, 404);
}

#[test]
fn the_dashboards_data_every_users_clips_timeline_events_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(EmulatorConfig::new(dir.path())).unwrap();
    let base = emulator.base_url().to_string();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();

    // The event stream says at once how many requests were logged, and again after each one.
    let mut events = agent.get(&format!("{base}/_emulator/events")).call().unwrap();
    assert_eq!(events.headers().get("content-type").unwrap(), "text/event-stream");
    let mut events = BufReader::new(events.body_mut().as_reader());
    let mut next_change = || loop {
        let mut line = String::new();
        events.read_line(&mut line).unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            return json(data.trim());
        }
    };
    assert_eq!(next_change(), serde_json::json!({ "requests": 0, "faults": 0 }));

    // Clips of two users and two titles, one of them half uploaded.
    let create = |xuid: u64, scid: &str| {
        let response = agent
            .post(&format!("{base}/users/me/scids/{scid}/clips"))
            .header("Authorization", &token::mint_for_xuid(xuid))
            .send(&br#"{"fileSize":10,"expectedBlocks":2}"#[..])
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let created = json(&response);
        (created["gameClipId"].as_str().unwrap().to_string(), created["uploadId"].as_str().unwrap().to_string())
    };
    let (first, _) = create(7, "title-a");
    assert_eq!(next_change()["requests"], 1);
    let (second, upload_id) = create(8, "title-b");
    let (status, _) = request("PUT", &format!("{base}/upload/{second}?uploadId={upload_id}&blockNum=1"), b"fghij");
    assert_eq!(status, 403, "user 7 may not upload to user 8's clip");
    let put = agent
        .put(&format!("{base}/upload/{second}?uploadId={upload_id}&blockNum=1"))
        .header("Authorization", &token::mint_for_xuid(8))
        .send(&b"fghij"[..])
        .unwrap();
    assert_eq!(put.status().as_u16(), 202);

    // Admin reads are neither faulted nor logged.
    emulator
        .set_faults(gameclips_emulator::Faults { fail_rate: [(503, 1.0)].into_iter().collect(), ..Default::default() });
    let (status, text) = request("GET", &format!("{base}/_emulator/clips"), b"");
    assert_eq!(status, 200, "{text}");
    let listed = json(&text);
    assert_eq!(listed["total"], 2);
    let clips = listed["clips"].as_array().unwrap();
    assert_eq!(clips[0]["gameClipId"], second.as_str(), "newest first");
    assert_eq!((clips[0]["owner"].as_str(), clips[0]["scid"].as_str()), (Some("8"), Some("title-b")));
    assert_eq!(clips[0]["blockReceiveCounts"], serde_json::json!([0, 1]));
    assert_eq!(clips[0]["service"]["state"], "PendingUpload");
    assert_eq!((clips[1]["gameClipId"].as_str(), clips[1]["owner"].as_str()), (Some(first.as_str()), Some("7")));

    // The faults changed: the stream says so.
    let change = loop {
        let change = next_change();
        if change["faults"] == 1 {
            break change;
        }
    };
    assert_eq!(change["requests"], 4, "two creates, a refused and an accepted block: {change}");

    // The timeline adds up the service calls' bodies and statuses (the admin reads are not in it).
    let (_, text) = request("GET", &format!("{base}/_emulator/timeline"), b"");
    let timeline = json(&text);
    let seconds = timeline["seconds"].as_array().unwrap();
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| seconds.iter().map(f).sum::<u64>();
    let statuses = |code: &str| sum(&|s| s["statuses"][code].as_u64().unwrap_or(0));
    assert_eq!((statuses("200"), statuses("202"), statuses("403")), (2, 1, 1), "{timeline}");
    assert_eq!(statuses("503"), 0);
    assert!(sum(&|s| s["bytes"].as_u64().unwrap()) >= 2 * 34 + 2 * 5, "{timeline}");

    // Tokens minted for the dashboard's form.
    let (status, text) = request(
        "POST",
        &format!("{base}/_emulator/tokens"),
        br#"{"xuid":"42","deviceType":"Win32","expiresInSeconds":60}"#,
    );
    assert_eq!(status, 200, "{text}");
    let minted = json(&text);
    let value = minted["token"].as_str().unwrap();
    assert_eq!(minted["fingerprint"].as_str(), Some(token::fingerprint(value).as_str()));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = token::parse(value, now).unwrap();
    assert_eq!((claims.xuid.as_deref(), claims.device_type.as_deref()), (Some("42"), Some("Win32")));
    assert!(claims.exp.unwrap().abs_diff(now + 60) <= 2);
    assert!(claims.upload_refusal().is_some(), "a PC token may not upload");
    let (status, text) = request("POST", &format!("{base}/_emulator/tokens"), br#"{"xuid":"me"}"#);
    assert_eq!(status, 400, "{text}");
}

#[test]
fn the_throttle_answers_a_tokens_calls_above_its_rate_with_429_and_no_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(dir.path());
    config.faults.throttle_rps = 5;
    let emulator = Emulator::start(config).unwrap();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().new_agent();
    let url = format!("{}/users/me/scids/s1/clips", emulator.base_url());
    let call = |token: &str| {
        let response = agent.get(&url).header("Authorization", token).call().unwrap();
        (response.status().as_u16(), response.headers().contains_key("retry-after"))
    };
    let (first, second) = (token::mint_for_xuid(1), token::mint_for_xuid(2));
    // Twenty calls in a row: a second's worth goes, plus what refilled while they ran (bounded by
    // the time they took, however slow this machine is).
    let started = std::time::Instant::now();
    let answers: Vec<_> = (0..20).map(|_| call(&first)).collect();
    let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    let admitted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert!(admitted >= 5 && admitted <= 5 + refilled, "{admitted} admitted, {refilled} refilled: {answers:?}");
    assert_eq!(admitted + answers.iter().filter(|(status, _)| *status == 429).count(), 20);
    assert!(answers.iter().all(|(_, retry_after)| !retry_after), "no Retry-After: the client finds the rate");
    assert_eq!(call(&second).0, 200, "another token has its own rate");

    // A front shared by every token: twenty tokens, one call each, and a second's worth goes.
    let put = |faults: serde_json::Value| {
        let url = format!("{}/_emulator/faults", emulator.base_url());
        assert_eq!(agent.put(&url).send(faults.to_string()).unwrap().status(), 200);
    };
    put(serde_json::json!({"frontRps": 5}));
    let started = std::time::Instant::now();
    let answers: Vec<_> = (0..20).map(|n| call(&token::mint_for_xuid(100 + n))).collect();
    let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    let admitted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert!(admitted >= 5 && admitted <= 5 + refilled, "{admitted} admitted, {refilled} refilled: {answers:?}");
    assert!(answers.iter().all(|(status, retry_after)| *status == 200 || (*status == 429 && !retry_after)));
}
