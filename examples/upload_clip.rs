//! The main job: upload a clip with a progress bar.
//!
//! `cargo run --release --example upload_clip -- [FILE] [--endpoint URL --token VALUE] [--push] [--scid SCID]`
//!
//! With no `--endpoint` it starts the emulator in-process and mints a development token; with no FILE it
//! first writes a 64 MiB sample clip, so the command works on a fresh checkout.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gameclips::{Client, ClientOptions, EventKind, UploadRequest, UploadState};
use gameclips_emulator::{token, Emulator, EmulatorConfig};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

const SAMPLE_SIZE: u64 = 64 * 1024 * 1024;
const DEFAULT_SCID: &str = "00000000-0000-0000-0000-00006e7c2ab1";
const USAGE: &str = "usage: upload_clip [FILE] [--endpoint URL --token VALUE] [--push] [--scid SCID]";

struct Args {
    file: Option<PathBuf>,
    endpoint: Option<String>,
    token: Option<String>,
    push: bool,
    scid: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { file: None, endpoint: None, token: None, push: false, scid: DEFAULT_SCID.into() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--endpoint" => args.endpoint = Some(value("--endpoint")?),
            "--token" => args.token = Some(value("--token")?),
            "--scid" => args.scid = value("--scid")?,
            "--push" => args.push = true,
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}\n{USAGE}")),
            path => args.file = Some(path.into()),
        }
    }
    if args.endpoint.is_some() != args.token.is_some() {
        return Err(format!("--endpoint and --token go together\n{USAGE}"));
    }
    Ok(args)
}

/// Deterministic, incompressible-looking sample data (xorshift), so runs are comparable.
fn write_sample(path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..SAMPLE_SIZE / chunk.len() as u64 {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        out.write_all(&chunk)?;
    }
    out.flush()
}

fn sha256_hex(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Pushes every block the budget allows; returns the next block to push.
fn push_some(
    client: &Client,
    handle: u64,
    file: &mut File,
    next: u32,
    block_size: usize,
    size: u64,
) -> Result<u32, String> {
    let blocks = size.div_ceil(block_size as u64) as u32;
    let mut block = next;
    let mut buf = vec![0u8; block_size];
    while block < blocks {
        let len = (size - u64::from(block) * block_size as u64).min(block_size as u64) as usize;
        std::io::Seek::seek(file, std::io::SeekFrom::Start(u64::from(block) * block_size as u64))
            .map_err(|e| e.to_string())?;
        file.read_exact(&mut buf[..len]).map_err(|e| e.to_string())?;
        match client.push_block(handle, block, &buf[..len]) {
            Ok(()) => block += 1,
            Err(e) if e.kind == gameclips::ErrorKind::WouldBlock => break,
            Err(e) => return Err(format!("pushing block {block}: {e}")),
        }
    }
    Ok(block)
}

fn run(args: Args) -> Result<(), String> {
    let file = match args.file {
        Some(file) => file,
        None => {
            let path = std::env::temp_dir().join("gameclips-sample-clip.bin");
            if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(SAMPLE_SIZE) {
                eprintln!("writing a {} MiB sample clip to {}", SAMPLE_SIZE >> 20, path.display());
                write_sample(&path).map_err(|e| format!("cannot write the sample clip: {e}"))?;
            }
            path
        }
    };
    let size = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?.len();

    let emulator_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (emulator, endpoint, authorization) = match (args.endpoint, args.token) {
        (Some(endpoint), Some(token)) => (None, endpoint, token),
        _ => {
            let emulator = Emulator::start(EmulatorConfig::new(emulator_dir.path()))
                .map_err(|e| format!("cannot start the emulator: {e}"))?;
            let url = emulator.base_url().to_string();
            eprintln!("emulator listening on {url}");
            (Some(emulator), url, token::mint_for_xuid(2_533_274_800_000_001))
        }
    };

    let options = ClientOptions { metadata_base_url: endpoint.clone(), ..ClientOptions::default() };
    let block_size = options.block_size as usize;
    let client = Client::new(options).map_err(|e| e.to_string())?;
    client.set_authorization(&authorization).map_err(|e| e.to_string())?;
    let request =
        if args.push { UploadRequest::push(&args.scid, size) } else { UploadRequest::file(&args.scid, &file) };
    let started = Instant::now();
    let handle = client.begin_upload(request).map_err(|e| e.to_string())?;

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut source = File::open(&file).map_err(|e| e.to_string())?;
    let mut next_push = 0;
    let status = loop {
        if args.push {
            next_push = push_some(&client, handle, &mut source, next_push, block_size, size)?;
        }
        while let Some(event) = client.next_event() {
            if event.kind == EventKind::NeedsAuth {
                return Err("the service refused the token (401)".into());
            }
        }
        let status = client.poll(handle).map_err(|e| e.to_string())?;
        bar.set_position(status.bytes_acked);
        if matches!(status.state, UploadState::Completed | UploadState::Failed | UploadState::Cancelled) {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    if status.state != UploadState::Completed {
        let message = client.error_message(handle).unwrap_or_default();
        return Err(format!("upload failed: {message}"));
    }
    let clip_id = client.clip_id(handle).map_err(|e| e.to_string())?;
    println!("clip id:    {clip_id}");
    println!(
        "uploaded:   {:.1} MiB in {:.2} s = {:.1} MiB/s ({} mode)",
        size as f64 / 1048576.0,
        elapsed.as_secs_f64(),
        size as f64 / 1048576.0 / elapsed.as_secs_f64(),
        if args.push { "push" } else { "file" }
    );
    if emulator.is_some() {
        let local = sha256_hex(&file).map_err(|e| e.to_string())?;
        let record: serde_json::Value = ureq::get(&format!("{endpoint}/_emulator/clips/{clip_id}"))
            .config()
            .proxy(None)
            .build()
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .map_err(|e| format!("cannot read the emulator's record: {e}"))
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))?;
        let remote = record["sha256"].as_str().unwrap_or("");
        let same = remote == local;
        println!("sha256:     {local} (emulator: {})", if same { "identical" } else { "DIFFERENT" });
        if !same {
            return Err(format!("the emulator holds different bytes: {remote}"));
        }
    }
    drop(client);
    drop(emulator);
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("upload_clip: {message}");
            ExitCode::FAILURE
        }
    }
}
