//! Shared by the integration tests: an emulator per test, a client made through the C ABI, files of
//! known content, and the emulator's view of a clip.
#![allow(dead_code)]

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::ptr;
use std::time::{Duration, Instant};

use gameclips::ffi::*;
use gameclips_emulator::{token, Emulator, EmulatorConfig, Faults};
use sha2::{Digest, Sha256};

pub const SCID: &str = "00000000-0000-0000-0000-00006e7c2ab1";
pub const XUID: u64 = 2_533_274_800_000_001;

pub struct TestServer {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_faults(Faults::default())
    }

    pub fn with_faults(faults: Faults) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::new(dir.path().join("emulator"));
        config.faults = faults;
        TestServer { emulator: Emulator::start(config).unwrap(), dir }
    }

    pub fn url(&self) -> &str {
        self.emulator.base_url()
    }

    pub fn admin(&self, path: &str) -> serde_json::Value {
        let text = ureq::get(&format!("{}/_emulator/{path}", self.url()))
            .config()
            .proxy(None)
            .build()
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

pub fn token() -> String {
    token::mint_for_xuid(XUID)
}

/// A C client on `url`, authorised with a development token.
pub fn client(url: &str, tweak: impl FnOnce(&mut ClipsClientOptions)) -> *mut ClipsClient {
    let url = CString::new(url).unwrap();
    let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut options) };
    options.metadata_base_url = url.as_ptr();
    tweak(&mut options);
    let mut client = ptr::null_mut();
    assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_OK, "{}", last_error());
    let token = CString::new(token()).unwrap();
    assert_eq!(unsafe { clips_set_authorization(client, token.as_ptr()) }, CLIPS_OK);
    client
}

pub fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    assert_eq!(unsafe { clips_last_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut len) }, CLIPS_OK);
    String::from_utf8_lossy(&buf[..len - 1]).into_owned()
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    path
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn poll(client: *mut ClipsClient, handle: ClipsHandle) -> ClipsStatus {
    let mut status = unsafe { std::mem::zeroed::<ClipsStatus>() };
    unsafe { clips_status_init(&mut status) };
    assert_eq!(unsafe { clips_poll(client, handle, &mut status) }, CLIPS_OK, "{}", last_error());
    status
}

pub fn is_terminal(state: u32) -> bool {
    matches!(state, CLIPS_STATE_COMPLETED | CLIPS_STATE_FAILED | CLIPS_STATE_CANCELLED)
}

/// Polls until the upload ends; `between` runs between polls (pushing blocks, say).
pub fn wait_terminal(
    client: *mut ClipsClient,
    handle: ClipsHandle,
    timeout: Duration,
    mut between: impl FnMut(),
) -> ClipsStatus {
    let deadline = Instant::now() + timeout;
    let mut last_acked = 0;
    loop {
        between();
        let status = poll(client, handle);
        assert!(status.bytes_acked >= last_acked, "bytes_acked went down");
        last_acked = status.bytes_acked;
        if is_terminal(status.state) {
            return status;
        }
        assert!(Instant::now() < deadline, "upload did not finish in {timeout:?}: state {}", status.state);
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn clip_id(client: *mut ClipsClient, handle: ClipsHandle) -> String {
    let mut buf = [0u8; 128];
    let mut len = 0;
    assert_eq!(unsafe { clips_get_clip_id(client, handle, buf.as_mut_ptr().cast(), buf.len(), &mut len) }, CLIPS_OK);
    String::from_utf8(buf[..len - 1].to_vec()).unwrap()
}

pub fn error_message(client: *mut ClipsClient, handle: ClipsHandle) -> String {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    assert_eq!(
        unsafe { clips_get_error_message(client, handle, buf.as_mut_ptr().cast(), buf.len(), &mut len) },
        CLIPS_OK
    );
    String::from_utf8_lossy(&buf[..len - 1]).into_owned()
}

pub fn upload_options(scid: &CString) -> ClipsUploadOptions {
    let mut options = unsafe { std::mem::zeroed::<ClipsUploadOptions>() };
    unsafe { clips_upload_options_init(&mut options) };
    options.scid = scid.as_ptr();
    options
}

pub fn drain_events(client: *mut ClipsClient) -> Vec<ClipsEvent> {
    let mut events = Vec::new();
    loop {
        let mut event = unsafe { std::mem::zeroed::<ClipsEvent>() };
        unsafe { clips_event_init(&mut event) };
        match unsafe { clips_next_event(client, &mut event) } {
            CLIPS_OK => events.push(event),
            CLIPS_NO_EVENT => return events,
            other => panic!("clips_next_event returned {other}: {}", last_error()),
        }
    }
}
