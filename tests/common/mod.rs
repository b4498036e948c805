//! Shared by the integration tests: an emulator per test, a client made through the C ABI, files of
//! known content, and the emulator's view of a clip.
#![allow(dead_code)]

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gameclips::ffi::*;
use gameclips_emulator::{token, Emulator, EmulatorConfig, Faults};
use sha2::{Digest, Sha256};

/// The library's default block size: what push-mode tests cut their clips into.
pub const MIB: usize = 1024 * 1024;
pub const BLOCK: usize = gameclips::ffi::CLIPS_DEFAULT_BLOCK_SIZE as usize;
pub const SCID: &str = "00000000-0000-0000-0000-00006e7c2ab1";
pub const XUID: u64 = 2_533_274_800_000_001;

pub struct TestServer {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    /// The certificate an https emulator serves, for the admin calls to trust.
    pub cert_pem: Option<String>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_faults(Faults::default())
    }

    pub fn with_faults(faults: Faults) -> TestServer {
        TestServer::with_config(|config| config.faults = faults)
    }

    pub fn with_config(tweak: impl FnOnce(&mut EmulatorConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::new(dir.path().join("emulator"));
        tweak(&mut config);
        let cert_pem = config.tls.as_ref().map(|tls| tls.cert_pem.clone());
        TestServer { emulator: Emulator::start(config).unwrap(), dir, cert_pem }
    }

    pub fn url(&self) -> &str {
        self.emulator.base_url()
    }

    pub fn admin(&self, path: &str) -> serde_json::Value {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &self.cert_pem {
            let certs = ureq::tls::parse_pem(pem.as_bytes())
                .filter_map(|item| match item.unwrap() {
                    ureq::tls::PemItem::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect::<Vec<_>>();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        admin_json(self.url(), path, tls.build())
    }

    /// The emulator's request counts for one endpoint (`/_emulator/stats`).
    pub fn requests(&self, endpoint: &str) -> serde_json::Value {
        self.admin("stats")["requests"][endpoint].clone()
    }
}

/// `GET {base_url}/_emulator/{path}` of any emulator, as JSON.
pub fn admin_json(base_url: &str, path: &str, tls: ureq::tls::TlsConfig) -> serde_json::Value {
    let text = ureq::get(&format!("{base_url}/_emulator/{path}"))
        .config()
        .proxy(None)
        .tls_config(tls)
        .build()
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Begins a file-mode upload of `path`.
pub fn begin_file(client: *mut ClipsClient, path: &Path) -> ClipsHandle {
    let scid = CString::new(SCID).unwrap();
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let mut options = upload_options(&scid);
    options.file_path = path.as_ptr();
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    handle
}

pub fn token() -> String {
    token::mint_for_xuid(XUID)
}

/// A C client on `url`, authorised with a development token.
pub fn client(url: &str, tweak: impl FnOnce(&mut ClipsClientOptions)) -> *mut ClipsClient {
    client_with_token(url, &token(), tweak)
}

/// A C client on `url` signed in as another user.
pub fn client_as(url: &str, xuid: u64) -> *mut ClipsClient {
    client_with_token(url, &token::mint_for_xuid(xuid), |_| {})
}

pub fn client_with_token(url: &str, token: &str, tweak: impl FnOnce(&mut ClipsClientOptions)) -> *mut ClipsClient {
    let url = CString::new(url).unwrap();
    let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut options) };
    options.metadata_base_url = url.as_ptr();
    tweak(&mut options);
    let mut client = ptr::null_mut();
    assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_OK, "{}", last_error());
    let token = CString::new(token).unwrap();
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

/// A status struct as a C caller prepares it.
pub fn new_status() -> ClipsStatus {
    let mut status = unsafe { std::mem::zeroed::<ClipsStatus>() };
    unsafe { clips_status_init(&mut status) };
    status
}

pub fn poll(client: *mut ClipsClient, handle: ClipsHandle) -> ClipsStatus {
    let mut status = new_status();
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

/// Checks the emulator holds `source`, byte-exact, as the upload's clip; its record.
pub fn assert_arrived(
    server: &TestServer,
    client: *mut ClipsClient,
    handle: ClipsHandle,
    source: &[u8],
) -> serde_json::Value {
    let id = clip_id(client, handle);
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(source).as_str()), "bytes differ: {record}");
    assert_eq!(record["fileSize"].as_u64(), Some(source.len() as u64));
    record
}

/// Uploads `bytes` in push mode with `tweak` applied to the options; returns the clip id.
pub fn upload_bytes(client: *mut ClipsClient, bytes: &[u8], tweak: impl FnOnce(&mut ClipsUploadOptions)) -> String {
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = bytes.len() as u64;
    tweak(&mut options);
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    let block = BLOCK;
    let mut next = 0;
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {
        while next * block < bytes.len() {
            let chunk = &bytes[next * block..((next + 1) * block).min(bytes.len())];
            match unsafe { clips_push_block(client, handle, next as u32, chunk.as_ptr(), chunk.len()) } {
                CLIPS_OK => next += 1,
                CLIPS_E_WOULD_BLOCK => break,
                other => panic!("push returned {other}: {}", last_error()),
            }
        }
    });
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let id = clip_id(client, handle);
    assert_eq!(unsafe { clips_release(client, handle) }, CLIPS_OK);
    id
}

/// Polls an operation until it ends.
pub fn wait_op(client: *mut ClipsClient, op: ClipsHandle) -> ClipsStatus {
    wait_terminal(client, op, Duration::from_secs(60), || {})
}

/// The normalised JSON result of a completed operation.
pub fn result_json(client: *mut ClipsClient, op: ClipsHandle) -> serde_json::Value {
    let mut len = 0;
    assert_eq!(unsafe { clips_get_result_json(client, op, ptr::null_mut(), 0, &mut len) }, CLIPS_E_BUFFER_TOO_SMALL);
    let mut buf = vec![0u8; len];
    assert_eq!(unsafe { clips_get_result_json(client, op, buf.as_mut_ptr().cast(), len, &mut len) }, CLIPS_OK);
    serde_json::from_slice(&buf[..len - 1]).unwrap()
}

/// `target/<profile>`, with the cdylib in it. `cargo test` builds the library only as an rlib for the
/// tests, so the shared library is built here (once per test binary) with the same cargo and profile.
pub fn library_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build_library).clone()
}

fn build_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--lib", "-p", "gameclips-capi"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the cdylib failed");
    // Programs linked against the library ask the loader for its SONAME, as an installed copy provides.
    #[cfg(target_os = "linux")]
    {
        let versioned = dir.join(format!("libgameclips.so.{}", gameclips::ffi::CLIPS_ABI_VERSION));
        // Another test binary may have made it already.
        let _ = std::os::unix::fs::symlink("libgameclips.so", &versioned);
        assert!(versioned.exists(), "cannot link {versioned:?}");
    }
    dir
}

/// The emulator program and the CLI (`upload_clip`), built in this profile: (emulator, cli).
pub fn programs() -> (PathBuf, PathBuf) {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let dir = library_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // The whole workspace's programs, so the features match `cargo test --workspace` and nothing
        // is compiled again.
        build.args(["build", "--workspace", "--bins", "--examples"]).current_dir(repo_root());
        if dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success(), "building the emulator and upload_clip failed");
        dir
    });
    (dir.join("gameclips-emulator"), dir.join("examples").join("upload_clip"))
}

/// A program's stdout and stderr, for a failure's message.
pub fn report(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A program's stdout, once it is known to have exited 0 (else its output in the failure).
#[track_caller]
pub fn succeeded(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A PNG's signature, then `len` bytes in all (the service checks the signature only).
pub fn png(len: usize) -> Vec<u8> {
    let mut image = b"\x89PNG\r\n\x1a\n".to_vec();
    image.extend(pattern(len - image.len(), 11));
    image
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `tool` runs here. CI sets GAMECLIPS_REQUIRE_TOOLS, so a missing tool fails there instead of
/// skipping its test.
pub fn tool_present(tool: &str) -> bool {
    let present = Command::new(tool).arg("--version").output().is_ok();
    assert!(present || std::env::var_os("GAMECLIPS_REQUIRE_TOOLS").is_none(), "{tool} is required but missing");
    present
}

/// Compiles a C file against the library with the system C compiler, in strict C99 plus `extra` flags,
/// into `exe`.
pub fn compile_c(source: &Path, exe: &Path, extra: &[&str]) -> PathBuf {
    compile_c_against(&library_dir(), source, exe, extra, &[])
}

/// As [`compile_c`], against the cdylib in `lib_dir`, with `libs` (`-lcurl`...) linked after it.
pub fn compile_c_against(lib_dir: &Path, source: &Path, exe: &Path, extra: &[&str], libs: &[&str]) -> PathBuf {
    assert!(lib_dir.join("libgameclips.so").exists() || cfg!(not(target_os = "linux")), "no cdylib in {lib_dir:?}");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let compile = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_POSIX_C_SOURCE=199309L"])
        .args(extra)
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(source)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(lib_dir)
        .arg("-lgameclips")
        .args(libs)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .expect("a C compiler (cc) is installed");
    let source = source.display();
    assert!(compile.status.success(), "compiling {source} failed:\n{}", String::from_utf8_lossy(&compile.stderr));
    exe.to_path_buf()
}

/// The `key value` lines a test program printed.
pub fn key_values(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The number that starts `key`'s value.
#[track_caller]
pub fn number(values: &std::collections::HashMap<String, String>, key: &str) -> u64 {
    let value = values.get(key).unwrap_or_else(|| panic!("no {key} in {values:?}"));
    value.split_whitespace().next().unwrap().parse().unwrap()
}

/// Checks what `tests/c/memory_hooks.c` printed: the hooks saw the library's allocations, each freed with
/// its size and alignment, live memory flat over cycles, late hooks refused, a push without memory
/// refused with a code. A summary for the log.
pub fn assert_memory_hooks_held(stdout: &str) -> String {
    let lines = key_values(stdout);
    let number = |key: &str| number(&lines, key);
    assert!(number("allocations") > 1000, "the hooks saw the library's allocations: {stdout}");
    assert_eq!((number("misaligned"), number("bad_align"), number("mismatched_frees")), (0, 0, 0), "{stdout}");
    // Each cycle creates a client, uploads and destroys it: what stays is what the first one set up once
    // (lazy tables, the main thread's own state), not more with every cycle.
    let after: Vec<u64> = (1..=6).map(|cycle| number(&format!("live_after_cycle_{cycle}"))).collect();
    assert!(after[5] <= after[1] + 4096, "live memory grows over cycles: {after:?}");
    assert_eq!(lines["late_set"], "CLIPS_E_WRONG_STATE");
    assert!(lines["oom_push"].starts_with("CLIPS_E_OUT_OF_MEMORY"), "{stdout}");
    assert!(lines["oom_push"].contains("no memory for a copy of block 0"), "{stdout}");
    format!(
        "{} allocations, {} frees, largest alignment {}, live bytes after cycles {after:?}",
        number("allocations"),
        number("frees"),
        number("max_align")
    )
}
