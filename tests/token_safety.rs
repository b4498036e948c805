//! The Authorization value never leaks: uploads and operations run with logging at the most verbose
//! level while every kind of failure is forced (expired tokens, 403, 5xx with Retry-After, resets,
//! stalls, quota, 410, a bad file, a refused redirect), and the value appears in no log line, error
//! message, last-error message or journal file.

mod common;

use std::ffi::{c_char, c_void, CStr, CString};
use std::time::Duration;

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::token::{self, Claims};
use gameclips_emulator::Faults;
use parking_lot::Mutex;

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn collect(_user: *mut c_void, _level: u32, message: *const c_char) {
    // SAFETY: the library passes a NUL-terminated message valid during the call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
    LOG.lock().push(text);
}

/// The `n`-th token of the test user (each differs); a leak of any part of its payload is found.
fn secret_token(n: u64, device: &str) -> String {
    token::mint(&Claims { device_type: Some(device.into()), exp: Some(4_000_000_000 + n), ..Claims::for_xuid(XUID) })
}

#[test]
fn the_authorization_value_appears_in_no_log_error_or_journal() {
    let mut faults = Faults {
        retry_after_s: 1,
        reset_rate: 0.1,
        stall_rate: 0.02,
        expire_tokens_after: 6,
        quota_bytes: 40 * 1024 * 1024,
        upload_expiry_s: 0,
        ..Faults::default()
    };
    faults.fail_rate = [(503, 0.1), (500, 0.05), (429, 0.05)].into_iter().collect();
    let server = TestServer::with_faults(faults);
    let journal = server.dir.path().join("journal");
    let journal_c = CString::new(journal.to_str().unwrap()).unwrap();
    let first = secret_token(0, "XboxOne");
    let client = client_with_token(server.url(), &first, |o| {
        o.log_fn = Some(collect);
        o.log_level = CLIPS_LOG_TRACE;
        o.journal_dir = journal_c.as_ptr();
        o.request_timeout_ms = 1500;
    });
    let mut tokens = vec![first];
    let scid = CString::new(SCID).unwrap();
    let mut messages = Vec::new();
    let mut handles = Vec::new();

    // Uploads that succeed, one over quota, one of a missing file, and one with a bad thumbnail.
    let source = pattern(6 * 1024 * 1024, 61);
    let good = CString::new(write_file(server.dir.path(), "good.mp4", &source).to_str().unwrap()).unwrap();
    let big = CString::new(write_file(server.dir.path(), "big.mp4", &pattern(41 * 1024 * 1024, 62)).to_str().unwrap())
        .unwrap();
    let missing = CString::new(server.dir.path().join("missing.mp4").to_str().unwrap()).unwrap();
    let gif = CString::new(write_file(server.dir.path(), "thumb.gif", b"GIF89a").to_str().unwrap()).unwrap();
    for (path, thumbnail) in [(&good, None), (&good, None), (&big, None), (&missing, None), (&good, Some(&gif))] {
        let mut options = upload_options(&scid);
        options.file_path = path.as_ptr();
        if let Some(thumbnail) = thumbnail {
            options.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
            options.large_thumbnail_path = thumbnail.as_ptr();
        }
        let mut handle = 0;
        assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK);
        handles.push(handle);
    }
    // Operations on a clip that does not exist, and refused calls (their last-error messages).
    let (nobody, owner) = (CString::new("no-such-clip").unwrap(), CString::new("2533274800000009").unwrap());
    let mut op = 0;
    assert_eq!(unsafe { clips_get_clip(client, owner.as_ptr(), scid.as_ptr(), nobody.as_ptr(), &mut op) }, CLIPS_OK);
    handles.push(op);
    assert_eq!(unsafe { clips_delete_clip(client, scid.as_ptr(), nobody.as_ptr(), &mut op) }, CLIPS_OK);
    handles.push(op);
    let bad_auth = CString::new(format!("{}\n", tokens[0])).unwrap();
    assert_eq!(unsafe { clips_set_authorization(client, bad_auth.as_ptr()) }, CLIPS_E_INVALID_ARGUMENT);
    messages.push(last_error());

    // Pump: each NEEDS_AUTH gets a fresh token; the third is a PC one, which the service refuses (403).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    // Journals exist while uploads run (they are removed when they end): sample them as we go.
    let mut journal_text: Vec<String> = Vec::new();
    loop {
        for entry in std::fs::read_dir(&journal).into_iter().flatten().flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                journal_text.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        for event in drain_events(client) {
            if event.kind == CLIPS_EVENT_NEEDS_AUTH {
                let device = if tokens.len() == 3 { "Win32" } else { "XboxOne" };
                let fresh = secret_token(tokens.len() as u64, device);
                let value = CString::new(fresh.clone()).unwrap();
                assert_eq!(unsafe { clips_set_authorization(client, value.as_ptr()) }, CLIPS_OK);
                tokens.push(fresh);
            }
        }
        if handles.iter().all(|&h| is_terminal(poll(client, h).state)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the uploads did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
    for &handle in &handles {
        messages.push(error_message(client, handle));
        let mut buf = [0u8; 64];
        let mut len = 0;
        unsafe { clips_get_clip_id(client, handle, buf.as_mut_ptr().cast(), 64, &mut len) };
        messages.push(last_error());
    }
    unsafe { clips_client_destroy(client) };

    let log = LOG.lock().clone();
    let failures: Vec<&String> = messages.iter().filter(|m| !m.is_empty()).collect();
    println!(
        "token safety: {} log lines at TRACE, {} error messages, {} journal snapshots, {} tokens; no leak",
        log.len(),
        failures.len(),
        journal_text.len(),
        tokens.len()
    );
    assert!(log.len() >= 5, "too little was logged to mean anything: {log:?}");
    assert!(!journal_text.is_empty(), "no journal was ever seen");
    assert!(tokens.len() >= 2, "tokens never expired");
    for token in &tokens {
        // The whole value, its payload, and the XBL3.0 prefix never appear anywhere.
        let payload = token.split(';').nth(1).unwrap();
        for text in log.iter().chain(&messages).chain(&journal_text) {
            assert!(!text.contains(payload), "the token leaked: {text}");
            assert!(!text.contains("XBL3.0"), "an Authorization value leaked: {text}");
        }
    }
}
