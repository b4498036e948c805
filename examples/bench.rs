//! Benchmarks against the physical limit and against curl, each suite measuring its peer in the same
//! run. `cargo run --release --example bench -- all` (or one of: link, slow-link, cpu, game-thread,
//! memory, scale, fleet)
//! prints a markdown table and writes it to `target/bench-report.md`.
//!
//! The emulator runs in this process; the library's client runs in a child process (this program
//! again, `bench child ...`) so its CPU time and peak memory are its own, measured like curl's.

use std::ffi::CString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gameclips::ffi::*;
use gameclips::{Client, ClientOptions, UploadRequest, UploadState};
use gameclips_emulator::{token, Emulator, EmulatorConfig, Faults};

const MIB: u64 = 1024 * 1024;
const SCID: &str = "00000000-0000-0000-0000-00006e7c2ab1";
const XUID: u64 = 2_533_274_800_000_001;

struct Bench {
    emulator: Emulator,
    dir: tempfile::TempDir,
    token: String,
    report: String,
}

/// CPU seconds (user + sys) of waited-for children so far.
#[cfg(unix)]
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(not(unix))]
fn children_cpu() -> f64 {
    0.0
}

/// Peak resident memory of this process image, MiB: VmHWM, which (unlike getrusage's ru_maxrss)
/// starts afresh at exec, so a child does not inherit its parent's peak. 0 where /proc is absent.
fn own_peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Reads `len` bytes of `file` at `offset` (portable: seek, then read).
fn read_at(file: &mut std::fs::File, buffer: &mut [u8], offset: u64) {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(buffer).unwrap();
}

fn write_pattern(path: &Path, size: u64) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ size;
    let mut chunk = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        out.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

/// What a child upload reports.
struct ChildRun {
    seconds: f64,
    cpu: f64,
    peak_rss_mib: f64,
}

impl Bench {
    fn start() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::new(dir.path().join("emulator"));
        config.processing_ms = 0;
        Bench {
            emulator: Emulator::start(config).unwrap(),
            dir,
            token: token::mint_for_xuid(XUID),
            report: String::new(),
        }
    }

    fn url(&self) -> &str {
        self.emulator.base_url()
    }

    fn file(&self, name: &str, size: u64) -> PathBuf {
        let path = self.dir.path().join(name);
        if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(size) {
            write_pattern(&path, size);
        }
        path
    }

    /// The library uploads `file` in a child process (file mode, or push with `push`).
    fn library_upload(&self, file: &Path, push: bool, workers: u32) -> ChildRun {
        let cpu_before = children_cpu();
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["child", self.url(), &self.token, file.to_str().unwrap(), if push { "push" } else { "file" }])
            .arg(workers.to_string())
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(output.status.success(), "the child upload failed");
        let text = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = text.split_whitespace().map(|f| f.parse().unwrap()).collect();
        ChildRun { seconds: fields[0], cpu: children_cpu() - cpu_before, peak_rss_mib: fields[1] }
    }

    /// curl PUTs the file's blocks (each from its own file) to a clip created here, `parallel` at a time.
    fn curl_upload(&self, file: &Path, parallel: u32) -> ChildRun {
        let size = std::fs::metadata(file).unwrap().len();
        // The library's default block size, so both send the same requests.
        let block = u64::from(CLIPS_DEFAULT_BLOCK_SIZE);
        let blocks = size.div_ceil(block);
        let block_dir = self.dir.path().join(format!("blocks-{size}"));
        if !block_dir.exists() {
            std::fs::create_dir_all(&block_dir).unwrap();
            let mut source = std::fs::File::open(file).unwrap();
            let mut buffer = vec![0u8; block as usize];
            for n in 0..blocks {
                let len = (size - n * block).min(block) as usize;
                read_at(&mut source, &mut buffer[..len], n * block);
                std::fs::write(block_dir.join(n.to_string()), &buffer[..len]).unwrap();
            }
        }
        let agent = ureq::Agent::config_builder().proxy(None).build().new_agent();
        let body = format!(r#"{{"fileSize":{size},"expectedBlocks":{blocks}}}"#);
        let created: serde_json::Value = serde_json::from_str(
            &agent
                .post(&format!("{}/users/me/scids/{SCID}/clips", self.url()))
                .header("Authorization", &self.token)
                .send(body)
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        let (uri, upload_id) = (created["uploadUri"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        let mut config = String::new();
        for n in 0..blocks {
            if n > 0 {
                config.push_str("next\n");
            }
            let _ = writeln!(
                config,
                "url = \"{uri}?uploadId={upload_id}&blockNum={n}\"\nupload-file = \"{}\"\noutput = \"/dev/null\"\nheader = \"Authorization: {}\"",
                block_dir.join(n.to_string()).display(),
                self.token
            );
        }
        let config_path = self.dir.path().join("curl.cfg");
        std::fs::write(&config_path, config).unwrap();
        let cpu_before = children_cpu();
        let started = Instant::now();
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--no-progress-meter", "--fail", "--noproxy", "*"]);
        if parallel > 1 {
            curl.args(["--parallel", "--parallel-max", &parallel.to_string()]);
        }
        let status = curl.arg("-K").arg(&config_path).status().expect("curl is installed");
        let seconds = started.elapsed().as_secs_f64();
        assert!(status.success(), "curl failed");
        let id = created["gameClipId"].as_str().unwrap();
        let record: serde_json::Value = serde_json::from_str(
            &agent
                .get(&format!("{}/_emulator/clips/{id}", self.url()))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(record["receivedBlocks"].as_u64(), Some(blocks), "curl did not deliver every block");
        ChildRun { seconds, cpu: children_cpu() - cpu_before, peak_rss_mib: 0.0 }
    }

    fn table(&mut self, title: &str, header: &[&str], rows: &[Vec<String>]) {
        let _ = writeln!(self.report, "\n### {title}\n");
        let _ = writeln!(self.report, "| {} |", header.join(" | "));
        let _ = writeln!(self.report, "|{}", header.iter().map(|_| "---|").collect::<String>());
        for row in rows {
            let _ = writeln!(self.report, "| {} |", row.join(" | "));
        }
    }

    fn link(&mut self) {
        const LINK: u64 = 25_000_000;
        const LATENCY_MS: u64 = 40;
        let file = self.file("link.bin", 128 * MIB);
        self.emulator.set_faults(Faults {
            latency_ms: LATENCY_MS,
            link_bandwidth: LINK,
            conn_bandwidth: 5_000_000,
            ..Faults::default()
        });
        let limit = (128 * MIB) as f64 / LINK as f64 + LATENCY_MS as f64 / 1000.0;
        let default_workers = ClientOptions::default().worker_threads;
        let mut runs = vec![(
            format!("gameclips, default settings ({default_workers} workers)"),
            self.library_upload(&file, false, 0).seconds,
        )];
        for workers in [4, 8, 16].into_iter().filter(|&w| w != default_workers) {
            runs.push((format!("gameclips, {workers} workers"), self.library_upload(&file, false, workers).seconds));
        }
        for parallel in [4, default_workers] {
            let name = format!("curl --parallel --parallel-max {parallel}");
            runs.push((name, self.curl_upload(&file, parallel).seconds));
        }
        runs.push(("curl, one block at a time".into(), self.curl_upload(&file, 1).seconds));
        self.emulator.set_faults(Faults::default());
        let mut rows =
            vec![vec!["physical limit: size / link + one round trip".into(), format!("{limit:.2}"), "1.00".into()]];
        rows.extend(
            runs.iter().map(|(name, s)| vec![name.to_string(), format!("{s:.2}"), format!("{:.2}", s / limit)]),
        );
        self.table(
            "Link efficiency: 128 MiB; 40 ms latency per response, 25 MB/s link, 5 MB/s per connection",
            &["uploader", "seconds", "ratio to the limit"],
            &rows,
        );
    }

    /// The emulator's counters, as JSON.
    fn stats(&self) -> serde_json::Value {
        let url = format!("{}/_emulator/stats", self.url());
        let text = ureq::get(&url).config().proxy(None).build().call().unwrap().body_mut().read_to_string().unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Slow uplinks, each uploader with the defaults against a fresh emulator whose shared link is the
    /// only limit: time against the physical minimum, bytes the emulator received beyond the clip,
    /// connections opened, and the most requests in flight at once.
    fn slow_link(&mut self) {
        let default_workers = ClientOptions::default().worker_threads;
        let mut rows = Vec::new();
        for (size, link) in [(24 * MIB, 150_000u64), (64 * MIB, 1_000_000), (64 * MIB, 5_000_000)] {
            let file = self.file(&format!("slow-{size}.bin"), size);
            let minimum = size as f64 / link as f64;
            for curl in [false, true] {
                let mut config = EmulatorConfig::new(self.dir.path().join(format!("slow-emulator-{}", rows.len())));
                config.processing_ms = 0;
                config.faults = Faults { link_bandwidth: link, ..Faults::default() };
                let fresh = Emulator::start(config).unwrap();
                let previous = std::mem::replace(&mut self.emulator, fresh);
                let (name, seconds) = match curl {
                    false => ("gameclips, default settings".to_string(), self.library_upload(&file, false, 0).seconds),
                    true => (
                        format!("curl --parallel --parallel-max {default_workers}"),
                        self.curl_upload(&file, default_workers).seconds,
                    ),
                };
                let stats = self.stats();
                self.emulator = previous;
                let received = stats["bodyBytesReceived"].as_u64().unwrap();
                let wasted = received.saturating_sub(size);
                rows.push(vec![
                    format!("{} MiB at {} KB/s", size / MIB, link / 1000),
                    name,
                    format!("{seconds:.1}"),
                    format!("{minimum:.1}"),
                    format!("{:.2}", seconds / minimum),
                    format!("{wasted} ({:.1}%)", 100.0 * wasted as f64 / received as f64),
                    stats["connectionsAccepted"].to_string(),
                    stats["peakConcurrentRequests"].to_string(),
                ]);
            }
        }
        self.table(
            "Slow uplinks: the emulator's shared link is the only limit (no latency), default settings",
            &[
                "clip and link",
                "uploader",
                "seconds",
                "minimum (size / link)",
                "ratio",
                "bytes received beyond the clip",
                "connections opened",
                "most requests in flight",
            ],
            &rows,
        );
    }

    fn cpu(&mut self) {
        // Loopback CPU swings between runs (the receiver's softirq work lands on the sender), so the
        // two uploaders alternate, three runs each, and each reports its median.
        const ROUNDS: usize = 3;
        let file = self.file("cpu.bin", 1024 * MIB);
        let (mut library, mut curl) = (Vec::new(), Vec::new());
        let workers = ClientOptions::default().worker_threads;
        for _ in 0..ROUNDS {
            library.push(self.library_upload(&file, false, 0));
            curl.push(self.curl_upload(&file, workers));
        }
        let median = |runs: &mut Vec<ChildRun>| {
            runs.sort_by(|a, b| a.cpu.total_cmp(&b.cpu));
            let all = runs.iter().map(|r| format!("{:.2}", r.cpu)).collect::<Vec<_>>().join(", ");
            (runs.swap_remove(ROUNDS / 2), all)
        };
        let ((library, library_all), (curl, curl_all)) = (median(&mut library), median(&mut curl));
        let rows = vec![
            vec![
                format!("gameclips ({workers} workers, file mode)"),
                format!("{:.2}", library.cpu),
                library_all,
                format!("{:.2}", library.seconds),
            ],
            vec![
                format!("curl --parallel-max {workers}"),
                format!("{:.2}", curl.cpu),
                curl_all,
                format!("{:.2}", curl.seconds),
            ],
            vec!["ratio gameclips / curl".into(), format!("{:.2}", library.cpu / curl.cpu), "".into(), "".into()],
        ];
        self.table(
            "CPU on loopback, unshaped: 1 GiB; client process CPU (user + sys), median of 3 alternating runs",
            &["uploader", "CPU s per GiB", "all runs", "wall s (median run)"],
            &rows,
        );
    }

    fn game_thread(&mut self) {
        let url = CString::new(self.url()).unwrap();
        let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
        unsafe { clips_client_options_init(&mut options) };
        options.metadata_base_url = url.as_ptr();
        options.max_buffered_bytes = 64 * MIB;
        let mut client = std::ptr::null_mut();
        assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_OK);
        let token = CString::new(self.token.as_str()).unwrap();
        unsafe { clips_set_authorization(client, token.as_ptr()) };
        let scid = CString::new(SCID).unwrap();
        let file = CString::new(self.file("game.bin", 64 * MIB).to_str().unwrap()).unwrap();
        let mut upload = unsafe { std::mem::zeroed::<ClipsUploadOptions>() };
        unsafe { clips_upload_options_init(&mut upload) };
        upload.scid = scid.as_ptr();
        upload.file_path = file.as_ptr();
        let mut handles = Vec::new();
        let mut begin = Vec::new();
        for _ in 0..7 {
            let mut h = 0;
            let started = Instant::now();
            assert_eq!(unsafe { clips_begin_upload(client, &upload, &mut h) }, CLIPS_OK);
            begin.push(started.elapsed());
            handles.push(h);
        }
        // The eighth upload is pushed by "the game", a default block (2,000,000 bytes) at a time.
        let mut push_options = upload;
        push_options.file_path = std::ptr::null();
        push_options.file_size = 256 * MIB;
        let mut pushed = 0;
        let started = Instant::now();
        assert_eq!(unsafe { clips_begin_upload(client, &push_options, &mut pushed) }, CLIPS_OK);
        begin.push(started.elapsed());
        let block = vec![7u8; CLIPS_DEFAULT_BLOCK_SIZE as usize];
        let mut copy = vec![0u8; CLIPS_DEFAULT_BLOCK_SIZE as usize];
        let (mut poll, mut next_event, mut push, mut memcpy) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Controls under the same load: timing nothing at all, and timing plain busy work about as long as
        // a poll. Whatever tail the busy work shows is the machine's (interrupts, preemption), not ours.
        let mut nothing = Vec::new();
        let (mut first_in_frame, mut later_in_frame) = (Vec::new(), Vec::new());
        let mut control = Vec::new();
        let spins = spins_per_microsecond() * 2 / 5;
        let mut next_block = 0;
        let mut status = unsafe { std::mem::zeroed::<ClipsStatus>() };
        unsafe { clips_status_init(&mut status) };
        let mut event = unsafe { std::mem::zeroed::<ClipsEvent>() };
        unsafe { clips_event_init(&mut event) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while next_block < 128 && Instant::now() < deadline {
            for (i, &h) in handles.iter().chain([&pushed]).enumerate() {
                let t = Instant::now();
                unsafe { clips_poll(client, h, &mut status) };
                poll.push(t.elapsed());
                // The first poll of a frame meets caches the frame's own work (block copies here) emptied.
                if i == 0 {
                    first_in_frame.push(t.elapsed());
                } else {
                    later_in_frame.push(t.elapsed());
                }
                let t = Instant::now();
                nothing.push(std::hint::black_box(t).elapsed());
                let t = Instant::now();
                spin(spins);
                control.push(t.elapsed());
            }
            let t = Instant::now();
            unsafe { clips_next_event(client, &mut event) };
            next_event.push(t.elapsed());
            let t = Instant::now();
            let result = unsafe { clips_push_block(client, pushed, next_block, block.as_ptr(), block.len()) };
            let took = t.elapsed();
            if result == CLIPS_OK {
                push.push(took);
                next_block += 1;
            }
            let t = Instant::now();
            copy.copy_from_slice(std::hint::black_box(&block));
            memcpy.push(t.elapsed());
            std::hint::black_box(&copy);
            std::thread::sleep(Duration::from_millis(1));
        }
        unsafe { clips_client_destroy(client) };
        let row = |name: &str, samples: &mut Vec<Duration>| {
            samples.sort_unstable();
            let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
            let us = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e6);
            vec![
                name.to_string(),
                samples.len().to_string(),
                us(pick(0.5)),
                us(pick(0.99)),
                us(*samples.last().unwrap()),
            ]
        };
        let rows = vec![
            row("clips_poll", &mut poll),
            row("clips_poll, first of a frame (cold caches)", &mut first_in_frame),
            row("clips_poll, later in the frame (warm)", &mut later_in_frame),
            row("clips_next_event", &mut next_event),
            row("clips_begin_upload", &mut begin),
            row("clips_push_block (2,000,000 bytes)", &mut push),
            row("memcpy of 2,000,000 bytes (floor for push)", &mut memcpy),
            row("control: nothing, two clock reads", &mut nothing),
            row("control: busy work of about 0.4 µs", &mut control),
        ];
        self.table(
            "Game-thread cost while 8 uploads run (microseconds)",
            &["call", "samples", "p50", "p99", "max"],
            &rows,
        );
    }

    fn memory(&mut self) {
        let small = self.file("mem-100.bin", 100 * MIB);
        let large = self.file("cpu.bin", 1024 * MIB);
        let runs = [
            ("file mode, 100 MiB", self.library_upload(&small, false, 0)),
            ("file mode, 1 GiB", self.library_upload(&large, false, 0)),
            ("push mode (16 MiB budget), 100 MiB", self.library_upload(&small, true, 0)),
            ("push mode (16 MiB budget), 1 GiB", self.library_upload(&large, true, 0)),
        ];
        let mut rows: Vec<Vec<String>> =
            runs.iter().map(|(name, run)| vec![name.to_string(), format!("{:.1}", run.peak_rss_mib)]).collect();
        rows.push(vec![
            "file mode: 1 GiB minus 100 MiB".into(),
            format!("{:.1}", runs[1].1.peak_rss_mib - runs[0].1.peak_rss_mib),
        ]);
        self.table("Peak resident memory of the uploading process (MiB)", &["upload", "peak RSS MiB"], &rows);
    }

    fn scale(&mut self) {
        let client =
            Client::new(ClientOptions { metadata_base_url: self.url().into(), ..ClientOptions::default() }).unwrap();
        client.set_authorization(&self.token).unwrap();
        let data = vec![3u8; 64 * 1024];
        let poll_all = |handles: &[u64]| {
            let started = Instant::now();
            for &h in handles {
                std::hint::black_box(client.poll(h).unwrap());
            }
            started.elapsed().as_secs_f64() * 1e6 / handles.len() as f64
        };
        let started = Instant::now();
        let handles: Vec<u64> =
            (0..1000).map(|_| client.begin_upload(UploadRequest::push(SCID, data.len() as u64)).unwrap()).collect();
        let begun = started.elapsed();
        let poll_at_start = poll_all(&handles);
        for &h in &handles {
            while client.push_block(h, 0, &data).is_err() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        while !handles.iter().all(|&h| client.poll(h).unwrap().state == UploadState::Completed) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let total = started.elapsed();
        let poll_at_end = poll_all(&handles);
        let rows = vec![
            vec!["begin 1,000 uploads".into(), format!("{:.1} ms", begun.as_secs_f64() * 1e3)],
            vec!["all 1,000 completed".into(), format!("{:.2} s", total.as_secs_f64())],
            vec!["clips_poll, mean per handle, at the start".into(), format!("{poll_at_start:.2} µs")],
            vec!["clips_poll, mean per handle, at the end".into(), format!("{poll_at_end:.2} µs")],
        ];
        self.table("Scale: 1,000 uploads of 64 KiB started at once", &["measure", "value"], &rows);
    }

    /// Fleets of consoles (clients with default options, a token each) meet what a service does to
    /// them: a 120 s outage, a 60 s brownout (half of the calls 503), a 60 s Retry-After storm (every
    /// call 503 with Retry-After 30 s) and 60 s of a throttling front (429 above two thirds of the
    /// fleet's healthy rate). Once on a fast shared link (200 consoles, 2-block clips), once on shaped
    /// uplinks (2 MB/s per console, 20-block clips, so 12 blocks are in flight when the event begins).
    fn fleet(&mut self) {
        // GAMECLIPS_BENCH_MAX_RETRY_DELAY_MS measures another back-off ceiling than the default.
        let max_retry_delay = std::env::var("GAMECLIPS_BENCH_MAX_RETRY_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(ClientOptions::default().max_retry_delay, Duration::from_millis);
        // GAMECLIPS_BENCH_FLEET picks the uplinks (unshaped, shaped) and events (outage, brownout,
        // storm, front), e.g. "shaped:outage"; all of them by default.
        let only = std::env::var("GAMECLIPS_BENCH_FLEET").unwrap_or_default();
        let fleets = [
            Fleet {
                name: "unshaped (40 MB/s shared)",
                consoles: 200,
                clip_bytes: 4_000_000,
                stagger: Duration::from_millis(50),
                event_at: Duration::from_secs(3),
                link: Faults { link_bandwidth: 40_000_000, ..Faults::default() },
                steady_rate: None,
            },
            Fleet {
                name: "shaped (2 MB/s per console)",
                consoles: 20,
                clip_bytes: 40_000_000,
                stagger: Duration::from_millis(100),
                // Each console's first 6 blocks share its uplink and are acknowledged together at about
                // 6 s; then 12 go at once. At 9 s every console has 12 in flight and 2 to go.
                event_at: Duration::from_secs(9),
                link: Faults { uplink_bandwidth: 2_000_000, ..Faults::default() },
                // Once the windows are full, each uplink carries one 2 MB block a second.
                steady_rate: Some(20.0),
            },
        ];
        let mut rows = Vec::new();
        for fleet in &fleets {
            let mut healthy: Option<f64> = None;
            for event in ["outage", "brownout", "storm", "front"] {
                let key = format!("{}:{event}", fleet.name.split(' ').next().unwrap_or(""));
                if !only.is_empty() && !key.contains(&only) && !only.contains(&key) {
                    continue;
                }
                let (during, lasts) = match event {
                    "outage" => (Faults { fail_rate: [(503, 1.0)].into(), ..Faults::default() }, 120),
                    "brownout" => (Faults { fail_rate: [(503, 0.5)].into(), ..Faults::default() }, 60),
                    "storm" => (Faults { fail_rate: [(503, 1.0)].into(), retry_after_s: 30, ..Faults::default() }, 60),
                    // Two thirds of the healthy rate: the fleet's healthy traffic exceeds it by half.
                    _ => {
                        let rps = fleet.steady_rate.or(healthy).unwrap_or(30.0) * 2.0 / 3.0;
                        (Faults { front_rps: rps.round().max(1.0) as u64, ..Faults::default() }, 60)
                    }
                };
                eprintln!("fleet {key}...");
                let run = self.fleet_meets(fleet, during, Duration::from_secs(lasts), max_retry_delay);
                healthy.get_or_insert(run.healthy.0);
                rows.push(run.row(fleet.name, event, lasts));
            }
        }
        let title = format!(
            "Fleet: consoles with default options (max_retry_delay {} s) meet an event; requests are counted \
             as they arrive at the service",
            max_retry_delay.as_secs()
        );
        let header = [
            "consoles",
            "event",
            "consoles that met it",
            "requests per console: during it / first 10 s",
            "healthy rate: mean / peak second",
            "rate during it, while uploading (x healthy mean)",
            "peak second after it (x healthy mean)",
            "all completed",
            "lost",
        ];
        self.table(&title, &header, &rows);
        self.emulator.set_faults(Faults::default());
    }

    /// Service calls that have arrived at the emulator.
    fn calls_arrived(&self) -> u64 {
        self.stats()["callsArrived"].as_u64().unwrap()
    }

    /// One fleet meets `during` (on top of its link's faults) for `lasts`.
    fn fleet_meets(&self, fleet: &Fleet, during: Faults, lasts: Duration, max_retry_delay: Duration) -> FleetRun {
        const GIVE_UP: Duration = Duration::from_secs(400);
        let link = fleet.link.clone();
        let event = Faults { link_bandwidth: link.link_bandwidth, uplink_bandwidth: link.uplink_bandwidth, ..during };
        self.emulator.set_faults(link.clone());
        let file = self.file(&format!("fleet-{}.bin", fleet.clip_bytes), fleet.clip_bytes);
        let clients: Vec<Client> = (0..fleet.consoles)
            .map(|console| {
                let options =
                    ClientOptions { metadata_base_url: self.url().into(), max_retry_delay, ..ClientOptions::default() };
                let client = Client::new(options).unwrap();
                client.set_authorization(&token::mint_for_xuid(XUID + 1 + console as u64)).unwrap();
                client
            })
            .collect();
        let ended = |s: &gameclips::UploadStatus| {
            !matches!(
                s.state,
                UploadState::Retrying | UploadState::Creating | UploadState::Uploading | UploadState::WaitingForData
            )
        };
        let mut handles: Vec<u64> = Vec::new();
        let statuses =
            |handles: &[u64]| handles.iter().zip(&clients).map(|(h, c)| c.poll(*h).unwrap()).collect::<Vec<_>>();
        // One sample a second: (seconds since the start, calls arrived so far).
        let mut samples: Vec<(f64, u64)> = vec![(0.0, self.calls_arrived())];
        let (mut event_from, mut event_to) = (None, None);
        let mut met = 0;
        let began = Instant::now();
        // When every upload had ended: (seconds since the start, the sample then).
        let mut all_done: Option<(f64, usize)> = None;
        loop {
            std::thread::sleep(Duration::from_millis(10));
            let now = began.elapsed();
            if handles.len() < fleet.consoles && now >= fleet.stagger * handles.len() as u32 {
                let client = &clients[handles.len()];
                handles.push(client.begin_upload(UploadRequest::file(SCID, &file)).unwrap());
                met += usize::from(event_from.is_some() && event_to.is_none());
            }
            if now >= Duration::from_secs(samples.len() as u64) {
                samples.push((now.as_secs_f64(), self.calls_arrived()));
            }
            if event_from.is_none() && now >= fleet.event_at {
                self.emulator.set_faults(event.clone());
                event_from = Some(samples.len() - 1);
                met += statuses(&handles).iter().filter(|s| !ended(s)).count();
            }
            if event_to.is_none() && now >= fleet.event_at + lasts {
                self.emulator.set_faults(link.clone());
                event_to = Some(samples.len() - 1);
            }
            if all_done.is_none() && handles.len() == fleet.consoles && statuses(&handles).iter().all(ended) {
                samples.push((now.as_secs_f64(), self.calls_arrived()));
                all_done = Some((now.as_secs_f64(), samples.len() - 1));
            }
            if event_to.is_some() && (all_done.is_some() || now > fleet.event_at + lasts + GIVE_UP) {
                break;
            }
        }
        samples.push((began.elapsed().as_secs_f64(), self.calls_arrived()));
        let lost = statuses(&handles).iter().filter(|s| s.state != UploadState::Completed).count();
        let (from, to) = (event_from.unwrap(), event_to.unwrap());
        let last = samples.len() - 1;
        let (done_s, done) = all_done.unwrap_or((samples[last].0, last));
        let calls = |a: usize, b: usize| samples[b].1 - samples[a].1;
        let rate = |a: usize, b: usize| calls(a, b) as f64 / (samples[b].0 - samples[a].0).max(1e-3);
        let peak = |a: usize, b: usize| (a..b).map(|i| rate(i, i + 1)).fold(0.0, f64::max);
        // Healthy: from the second second (the first consoles starting) to the event.
        let healthy = (rate(1.min(from), from), peak(1.min(from), from));
        // While it lasted and anything was still uploading.
        let active_to = to.min(done).max(from + 1);
        let after = (done > to).then(|| (peak(to, done), done_s - samples[to].0));
        drop(clients);
        self.emulator.set_faults(Faults::default());
        FleetRun {
            met,
            during: calls(from, to),
            first_10_s: calls(from, (from + 10).min(last)),
            rate_during: rate(from, active_to),
            healthy,
            after,
            done_into_it: done_s - samples[from].0,
            lost,
        }
    }
}

/// Consoles and how they reach the service.
struct Fleet {
    name: &'static str,
    consoles: usize,
    clip_bytes: u64,
    stagger: Duration,
    /// When the event begins, from the first console's start.
    event_at: Duration,
    link: Faults,
    /// Calls per second once every console uploads steadily, where the start's bursts make the
    /// measured mean misleading; `None`: the mean measured before the event.
    steady_rate: Option<f64>,
}

/// What one fleet did through one event.
struct FleetRun {
    met: usize,
    /// Calls that arrived during the event, and in its first 10 s.
    during: u64,
    first_10_s: u64,
    /// Calls per second during the event while anything was uploading.
    rate_during: f64,
    /// Calls per second before the event: mean, busiest second.
    healthy: (f64, f64),
    /// When uploads were left after it: the busiest second after it, and the time until all completed.
    after: Option<(f64, f64)>,
    /// Seconds from its start until all completed.
    done_into_it: f64,
    lost: usize,
}

impl FleetRun {
    fn row(&self, fleet: &str, event: &str, lasts: u64) -> Vec<String> {
        let per_console = |calls: u64| calls as f64 / self.met.max(1) as f64;
        let (mean, peak) = self.healthy;
        let of_healthy = |rate: f64| format!("{rate:.1}/s ({:.2}x)", rate / mean.max(f64::MIN_POSITIVE));
        let (peak_after, done) = match self.after {
            Some((peak_after, after)) => (of_healthy(peak_after), format!("{after:.1} s after it")),
            None => ("none left".into(), format!("{:.1} s into it", self.done_into_it)),
        };
        vec![
            fleet.into(),
            format!("{event} ({lasts} s)"),
            self.met.to_string(),
            format!("{:.1} / {:.1}", per_console(self.during), per_console(self.first_10_s)),
            format!("{mean:.1}/s / {peak:.0}/s"),
            of_healthy(self.rate_during),
            peak_after,
            done,
            self.lost.to_string(),
        ]
    }
}

/// Busy work that the optimiser cannot remove.
fn spin(iterations: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..iterations {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    x
}

/// How many `spin` iterations take a microsecond here (the fastest of several tries).
fn spins_per_microsecond() -> u64 {
    let best = (0..20)
        .map(|_| {
            let t = Instant::now();
            spin(100_000);
            t.elapsed()
        })
        .min()
        .unwrap();
    (100_000.0 / (best.as_secs_f64() * 1e6)).max(1.0) as u64
}

/// `bench child URL TOKEN FILE file|push WORKERS`: one upload; prints "seconds peak_rss_mib".
fn child(args: &[String]) {
    let [url, token, file, mode, workers] = args else { panic!("child URL TOKEN FILE MODE WORKERS") };
    let mut options = ClientOptions { metadata_base_url: url.clone(), ..ClientOptions::default() };
    let workers: u32 = workers.parse().unwrap();
    if workers > 0 {
        options.worker_threads = workers;
    }
    let block = options.block_size as usize;
    let client = Client::new(options).unwrap();
    client.set_authorization(token).unwrap();
    let size = std::fs::metadata(file).unwrap().len();
    let push = mode == "push";
    let started = Instant::now();
    let handle = client
        .begin_upload(if push { UploadRequest::push(SCID, size) } else { UploadRequest::file(SCID, file) })
        .unwrap();
    let mut source = std::fs::File::open(file).unwrap();
    let mut buffer = vec![0u8; block];
    let mut next = 0u64;
    loop {
        while push && next * (block as u64) < size {
            let len = (size - next * block as u64).min(block as u64) as usize;
            read_at(&mut source, &mut buffer[..len], next * block as u64);
            if client.push_block(handle, next as u32, &buffer[..len]).is_err() {
                break;
            }
            next += 1;
        }
        let status = client.poll(handle).unwrap();
        match status.state {
            UploadState::Completed => break,
            UploadState::Failed | UploadState::Cancelled => panic!("{}", client.error_message(handle).unwrap()),
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{seconds} {}", own_peak_rss_mib());
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        return child(&args[1..]);
    }
    let which = args.first().map_or("all", String::as_str);
    let suites = ["link", "slow-link", "cpu", "game-thread", "memory", "scale", "fleet"];
    if which != "all" && !suites.contains(&which) {
        eprintln!("usage: bench [all | {}]", suites.join(" | "));
        std::process::exit(2);
    }
    let mut bench = Bench::start();
    let date = gameclips::protocol::iso8601_now();
    let _ = writeln!(bench.report, "## Benchmarks\n\nMeasured {} on {}; release build.", &date[..10], machine());
    for suite in suites.iter().filter(|s| which == "all" || which == **s) {
        eprintln!("running {suite}...");
        match *suite {
            "link" => bench.link(),
            "slow-link" => bench.slow_link(),
            "cpu" => bench.cpu(),
            "game-thread" => bench.game_thread(),
            "memory" => bench.memory(),
            "fleet" => bench.fleet(),
            _ => bench.scale(),
        }
    }
    println!("{}", bench.report);
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&target);
    std::fs::write(target.join("bench-report.md"), &bench.report).unwrap();
    eprintln!("written to target/bench-report.md");
}
