//! The emulator's dashboard in a real browser: Debian's chromium, driven over WebDriver by chromedriver.
//! A clip uploaded through the library shows as Published, plays, a fault set on the page reaches the
//! next API call, and the Authorization value is nowhere in the page. Leaves `target/tmp/dashboard.png`.

mod common;

use std::ffi::CString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use gameclips::ffi::*;
use serde_json::{json, Value};

/// A chromedriver child and one headless chromium session; both end when dropped.
struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser { driver, base: format!("http://127.0.0.1:{port}"), agent, _profile: profile };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser.request("GET", "/status", None).get("ready") != Some(&Value::Bool(true)) {
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let binary = find_on_path("chromium").expect("chromium on PATH");
        // The flags this machine's closed network needs (no background fetches), and a fresh profile.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1700",
            &format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": binary, "args": args },
        }}});
        let session = browser.request("POST", "/session", Some(capabilities));
        let id = session["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {session}")).to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    /// One WebDriver command; its `value`.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let Ok(mut response) = response else { return Value::Null };
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        value.get("value").cloned().unwrap_or(Value::Null)
    }

    fn open(&self, url: &str) {
        self.request("POST", "/url", Some(json!({ "url": url })));
    }

    fn script(&self, script: &str) -> Value {
        self.request("POST", "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    /// Polls `script` until it returns true.
    fn wait_for(&self, what: &str, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.script(script) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.request("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        found[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_string()
    }

    /// A real click (a user gesture, as playing a video needs).
    fn click(&self, css: &str) {
        let id = self.element(css);
        let result = self.request("POST", &format!("/element/{id}/click"), None);
        assert!(result.is_null(), "clicking {css}: {result}");
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.request("POST", &format!("/element/{id}/clear"), None);
        self.request("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    fn screenshot(&self, path: &Path) {
        let png = self.request("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.request("DELETE", "", None); // closes chromium
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}

/// A small real MP4 (H.264, 3 s) and a PNG thumbnail, made by ffmpeg.
fn make_clip(dir: &Path) -> (PathBuf, PathBuf) {
    let (clip, thumbnail) = (dir.join("clip.mp4"), dir.join("thumbnail.png"));
    let ffmpeg = |args: &[&str]| {
        let status = Command::new("ffmpeg").args(["-hide_banner", "-loglevel", "error", "-y"]).args(args).status();
        assert!(status.unwrap().success(), "ffmpeg {args:?}");
    };
    let source = ["-f", "lavfi", "-i", "testsrc=duration=3:size=320x180:rate=15"];
    let encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"];
    ffmpeg(&[&source[..], &encode[..], &[clip.to_str().unwrap()]].concat());
    ffmpeg(&[&source[..], &["-frames:v", "1", thumbnail.to_str().unwrap()]].concat());
    (clip, thumbnail)
}

/// A service call as the library's user makes it: its status.
fn get_clip_status(server: &TestServer, clip_id: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).http_status_as_error(false).build().into();
    let url = format!("{}/users/xuid({XUID})/scids/{SCID}/clips/{clip_id}", server.url());
    agent.get(&url).header("Authorization", token()).call().unwrap().status().as_u16()
}

#[test]
fn the_dashboard_shows_the_uploaded_clip_plays_it_and_its_fault_editor_reaches_the_next_call() {
    if !(tool_present("chromium") && tool_present("chromedriver") && tool_present("ffmpeg")) {
        eprintln!("skipped: chromium, chromedriver and ffmpeg are needed");
        return;
    }
    let server = TestServer::with_config(|config| config.processing_ms = 300);
    let (clip, thumbnail) = make_clip(server.dir.path());
    let source = std::fs::read(&clip).unwrap();

    // Upload through the library, with its thumbnail and a caption.
    let client = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let (path, thumb, caption) = (
        CString::new(clip.to_str().unwrap()).unwrap(),
        CString::new(thumbnail.to_str().unwrap()).unwrap(),
        CString::new("Dashboard test clip").unwrap(),
    );
    let mut options = upload_options(&scid);
    options.file_path = path.as_ptr();
    options.user_caption = caption.as_ptr();
    options.duration_seconds = 3;
    options.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
    options.large_thumbnail_path = thumb.as_ptr();
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_arrived(&server, client, handle, &source);
    let id = clip_id(client, handle);

    let browser = Browser::start();
    browser.open(&format!("{}/", server.url()));

    // The clip shows, Published, with its caption, its thumbnail, one arrival per block and its sha256.
    let card = format!("document.querySelector('[data-clip-id=\"{id}\"]')");
    browser.wait_for(
        "the clip shows as Published",
        &format!("return {card}?.querySelector('.badge.state')?.textContent === 'Published'"),
        Duration::from_secs(20),
    );
    let shown = browser.script(&format!(
        "const c = {card}; return {{ text: c.innerText, thumbnail: c.querySelector('img')?.naturalWidth || 0,
         cells: [...c.querySelectorAll('.grid .cell')].map(e => e.className) }}"
    ));
    let text = shown["text"].as_str().unwrap();
    assert!(text.contains("Dashboard test clip"), "{text}");
    assert!(text.contains(&sha256(&source)), "the sha256 is shown: {text}");
    assert_eq!(shown["thumbnail"], 320, "the thumbnail loaded: {shown}");
    assert_eq!(shown["cells"], json!(["cell c1"]), "one block, arrived once: {shown}");

    // Its video plays, streamed from the emulator with Range requests.
    browser.click(&format!("[data-clip-id=\"{id}\"] button.play"));
    browser.wait_for(
        "the video plays",
        "const v = document.getElementById('video'); if (v.error) throw new Error('video error ' + v.error.code);
         return v.currentTime > 0.5",
        Duration::from_secs(20),
    );
    let video = browser.script("const v = document.getElementById('video'); return [v.duration, v.currentTime]");
    assert!((video[0].as_f64().unwrap() - 3.0).abs() < 0.2, "duration {video}");
    eprintln!("video: [duration, currentTime] = {video} s");
    let ranged = ureq::get(&format!("{}/_emulator/clips/{id}/video", server.url()))
        .header("Range", "bytes=100-199")
        .config()
        .proxy(None)
        .build()
        .call()
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206);

    // A fault set on the page reaches the very next API call; clearing it on the page lifts it.
    assert_eq!(get_clip_status(&server, &id), 200);
    browser.click("#add-fail-rate");
    browser.type_into(".fail-rate-row:last-child input[name=rate]", "1");
    browser.click("#apply-faults");
    browser.wait_for(
        "the faults apply",
        "return document.getElementById('faults-note').textContent.startsWith('applied')",
        Duration::from_secs(10),
    );
    assert_eq!(server.admin("faults")["failRate"], json!({ "503": 1.0 }));
    assert_eq!(get_clip_status(&server, &id), 503);
    browser.wait_for(
        "the injected 503 shows in the request log",
        "return [...document.querySelectorAll('#requests tbody tr.faulted td.fault')].some(td => td.textContent === '503')",
        Duration::from_secs(10),
    );
    browser.click("#clear-faults");
    browser.wait_for(
        "the faults clear",
        "return document.querySelectorAll('.fail-rate-row').length === 0",
        Duration::from_secs(10),
    );
    assert_eq!(get_clip_status(&server, &id), 200);

    watch_a_resent_block_live(&server, &browser);

    // A token minted on the page: its fingerprint shows, the value itself is never written into the page.
    browser.click("#mint");
    browser.wait_for(
        "the minted token's fingerprint shows",
        "return /^[0-9a-f]{8}$/.test(document.getElementById('minted-fingerprint').textContent)",
        Duration::from_secs(10),
    );

    // The Authorization value is nowhere: not in the DOM, not in the data the page reads. Its
    // fingerprint is what the request log shows.
    let dom = browser.script("return document.documentElement.outerHTML").as_str().unwrap().to_string();
    let secret = token();
    let payload = secret.split_once(';').unwrap().1;
    assert!(!dom.contains(payload) && !dom.contains("XBL3.0"), "a token is in the DOM");
    assert!(dom.contains(&gameclips_emulator::token::fingerprint(&secret)), "the request log shows the fingerprint");
    for data in ["requests", "clips", "stats", "timeline", "faults"] {
        let text = server.admin(data).to_string();
        assert!(!text.contains(payload), "the token is in /_emulator/{data}");
    }

    browser.script("window.scrollTo(0, 0)");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    browser.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "{shot:?} is a real picture");
    eprintln!("screenshot: {}", shot.display());
    unsafe { clips_client_destroy(client) };
}

/// With the page open and never reloaded: a push-mode upload's grid fills block by block, a block whose
/// answers are lost (so the library sends it again) stands out with its count, and the sha256 appears
/// at commit.
fn watch_a_resent_block_live(server: &TestServer, browser: &Browser) {
    const SMALL_BLOCK: usize = 64 * 1024;
    let client = client(server.url(), |options| options.block_size = SMALL_BLOCK as u32);
    let bytes = pattern(3 * SMALL_BLOCK, 7);
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = bytes.len() as u64;
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    let push = |block: usize| {
        let chunk = &bytes[block * SMALL_BLOCK..(block + 1) * SMALL_BLOCK];
        assert_eq!(unsafe { clips_push_block(client, handle, block as u32, chunk.as_ptr(), chunk.len()) }, CLIPS_OK);
    };
    let cells = |id: &str| {
        format!("return [...(document.querySelector('[data-clip-id=\"{id}\"]')?.querySelectorAll('.grid .cell') ?? [])].map(c => c.className + ':' + c.textContent).join(' ')")
    };
    push(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while poll(client, handle).bytes_acked < SMALL_BLOCK as u64 {
        assert!(Instant::now() < deadline, "block 0 was not acknowledged");
        std::thread::sleep(Duration::from_millis(20));
    }
    let id = clip_id(client, handle);
    browser.wait_for(
        "the new upload's grid shows block 0 arrived",
        &format!("return (() => {{ {} }})() === 'cell c1: cell c0: cell c0:'", cells(&id)),
        Duration::from_secs(10),
    );

    // Block 1 is stored each time, but every answer is lost: the library sends it again.
    server.emulator.set_faults(gameclips_emulator::Faults { drop_answer_rate: 1.0, ..Default::default() });
    push(1);
    browser.wait_for(
        "block 1 stands out as resent",
        &format!("return /cell c2:[2-9]/.test((() => {{ {} }})())", cells(&id)),
        Duration::from_secs(20),
    );
    server.emulator.set_faults(gameclips_emulator::Faults::default());
    push(2);
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    browser.wait_for(
        "the sha256 shows at commit",
        &format!(
            "return document.querySelector('[data-clip-id=\"{id}\"] .sha')?.textContent.includes('{}')",
            sha256(&bytes)
        ),
        Duration::from_secs(10),
    );
    unsafe { clips_client_destroy(client) };
}

#[test]
fn the_cli_prints_the_dashboard_address_and_keep_emulator_keeps_it_open() {
    let (_, upload_clip) = programs();
    let temp = tempfile::tempdir().unwrap();
    let mut cli = Command::new(upload_clip)
        .args(["list", "--keep-emulator"])
        .env("TMPDIR", temp.path()) // its emulator's data dir goes under the temp dir
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(cli.stderr.take().unwrap());
    let address = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .find_map(|line| Some(line.strip_prefix("dashboard:")?.split_whitespace().next()?.to_string()));
    let address = address.expect("the CLI prints `dashboard: URL`");
    assert!(address.starts_with("http://127.0.0.1:") && address.ends_with('/'), "{address}");
    // The list ran and the CLI is still serving the page.
    let page = ureq::get(&address).config().proxy(None).build().call().unwrap().body_mut().read_to_string().unwrap();
    assert!(page.contains("<title>GameClips emulator</title>"));
    let _ = cli.kill();
    let _ = cli.wait();
}
