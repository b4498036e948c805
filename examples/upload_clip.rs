//! The main job: upload a clip with a progress bar; and every clip operation, as subcommands.
//!
//! ```text
//! upload_clip [upload] [FILE] [--push]              upload (no FILE: a 64 MiB sample clip)
//! upload_clip get ID [--owner XUID]                 one clip
//! upload_clip list [--owner XUID] [--all-titles] [--max N] [--continue TOKEN]
//! upload_clip update ID [--caption TEXT] [--visibility default|owner|title|public] [--title-data TEXT]
//! upload_clip rate ID 1..5 [--owner XUID]
//! upload_clip flag ID [--owner XUID]
//! upload_clip view ID [--owner XUID]
//! upload_clip delete ID
//! upload_clip download ID DEST [--owner XUID]
//! common: [--endpoint URL --token VALUE] [--scid SCID] [--json] [--ca-bundle PEM]
//!         [--allow-insecure-http]                                    --help on each subcommand
//! ```
//!
//! `upload --journal-dir DIR` keeps the upload's progress there: stopped (Ctrl-C, a crash), the same
//! command again finishes it instead of starting over.
//!
//! With no `--endpoint` it starts the emulator in-process on a data dir kept under the system's temp
//! dir (so `list` after `upload` shows the clip) and mints a development token.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser, Subcommand};
use gameclips::{
    Client, ClientOptions, EventKind, GameClip, MetadataUpdate, ThumbnailSource, UploadRequest, UploadState, Visibility,
};
use gameclips_emulator::{token, Emulator, EmulatorConfig};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

const SAMPLE_SIZE: u64 = 64 * 1024 * 1024;
const DEFAULT_SCID: &str = "00000000-0000-0000-0000-00006e7c2ab1";
/// Uploads a clip to Xbox Live GameClips with a progress bar (no FILE: a 64 MiB sample clip), or runs
/// a clip operation. With no --endpoint it uses the emulator, started in-process.
#[derive(Parser)]
#[command(name = "upload_clip", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand: an upload.
    #[command(flatten)]
    upload: UploadArgs,
    #[command(flatten)]
    common: Common,
}

/// Flags every subcommand takes.
#[derive(clap::Args)]
struct Common {
    /// The service's metadata URL (with --token); without it, the in-process emulator.
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// The whole Authorization header value for --endpoint.
    #[arg(long, global = true)]
    token: Option<String>,
    #[arg(long, global = true, default_value = DEFAULT_SCID)]
    scid: String,
    /// Print the operation's result as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Hosts besides the metadata host that uploads may send the token to (comma-separated names,
    /// `*.domain` wildcards, optional `:port`); default "*.xboxlive.com,gameclips.xbox.live".
    #[arg(long, global = true)]
    upload_hosts: Option<String>,
    /// Bytes per block, 1024..=2097152; default 2000000 ("no larger than 2 MB", read strictly).
    #[arg(long, global = true)]
    block_size: Option<u32>,
    /// After the command, keep the in-process emulator and its dashboard running until Ctrl-C.
    #[arg(long, global = true)]
    keep_emulator: bool,
    /// Trusted roots (PEM) for https, e.g. the emulator's tls-cert.pem on another machine.
    #[arg(long, global = true, value_name = "PEM")]
    ca_bundle: Option<PathBuf>,
    /// Send the token over plain http to hosts other than this machine (CLIPS_FLAG_ALLOW_INSECURE_HTTP):
    /// anyone on the network can read it. For an emulator on a trusted LAN only.
    #[arg(long, global = true)]
    allow_insecure_http: bool,
}

#[derive(clap::Args)]
struct UploadArgs {
    /// The clip to upload; none: a 64 MiB sample clip.
    file: Option<PathBuf>,
    /// Hand the blocks over from the game side (push mode) instead of letting the library read the file.
    #[arg(long)]
    push: bool,
    /// A JPEG or PNG sent as the clip's thumbnail (the dashboard shows it).
    #[arg(long)]
    thumbnail: Option<PathBuf>,
    /// Keep the upload's progress here (a folder per clip file): stopped with Ctrl-C or by a crash,
    /// the same command again finishes it instead of starting over. File mode only.
    #[arg(long, value_name = "DIR", conflicts_with = "push")]
    journal_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Upload a clip with a progress bar.
    Upload(UploadArgs),
    /// Show one clip.
    Get {
        id: String,
        /// Another user's clip (decimal xuid).
        #[arg(long)]
        owner: Option<String>,
    },
    /// One page of a user's clips.
    List {
        #[arg(long)]
        owner: Option<String>,
        /// Of every title, not only --scid.
        #[arg(long)]
        all_titles: bool,
        /// Clips per page (0: the service's default).
        #[arg(long, default_value_t = 0)]
        max: u32,
        /// The previous page's continuation token.
        #[arg(long = "continue")]
        continuation: Option<String>,
    },
    /// Change one of your clips' caption, visibility or title data.
    Update {
        id: String,
        #[arg(long)]
        caption: Option<String>,
        #[arg(long, value_parser = parse_visibility)]
        visibility: Option<Visibility>,
        #[arg(long)]
        title_data: Option<String>,
    },
    /// Rate anyone's clip 1..5.
    Rate {
        id: String,
        #[arg(value_parser = clap::value_parser!(u32).range(1..=5))]
        rating: u32,
        #[arg(long)]
        owner: Option<String>,
    },
    /// Report a clip to enforcement.
    Flag {
        id: String,
        #[arg(long)]
        owner: Option<String>,
    },
    /// Count one view of a clip.
    View {
        id: String,
        #[arg(long)]
        owner: Option<String>,
    },
    /// Delete one of your clips.
    Delete { id: String },
    /// Download a Published clip (a broken transfer resumes).
    Download {
        id: String,
        dest: String,
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Default)]
struct Args {
    command: String,
    positional: Vec<String>,
    endpoint: Option<String>,
    token: Option<String>,
    push: bool,
    scid: String,
    json: bool,
    owner: Option<String>,
    all_titles: bool,
    max: u32,
    continuation: Option<String>,
    update: MetadataUpdate,
    upload_hosts: Option<String>,
    block_size: Option<u32>,
    thumbnail: Option<PathBuf>,
    keep_emulator: bool,
    ca_bundle: Option<PathBuf>,
    allow_insecure_http: bool,
    journal_dir: Option<PathBuf>,
}

fn parse_visibility(value: &str) -> Result<Visibility, String> {
    ["default", "owner", "title", "public"]
        .iter()
        .position(|v| v.eq_ignore_ascii_case(value))
        .map(|i| Visibility::from_c(i as u32 + 1).expect("1..4 are visibilities"))
        .ok_or_else(|| format!("{value:?}: use default, owner, title or public"))
}

/// The command line, as the commands below read it.
fn parse_args() -> Args {
    let cli = Cli::parse();
    if cli.common.endpoint.is_some() != cli.common.token.is_some() {
        Cli::command()
            .error(clap::error::ErrorKind::MissingRequiredArgument, "--endpoint and --token go together")
            .exit();
    }
    let Common { endpoint, token, scid, json, upload_hosts, block_size, keep_emulator, ca_bundle, allow_insecure_http } =
        cli.common;
    let mut args = Args {
        endpoint,
        token,
        scid,
        json,
        upload_hosts,
        block_size,
        keep_emulator,
        ca_bundle,
        allow_insecure_http,
        ..Args::default()
    };
    let upload = |args: &mut Args, upload: UploadArgs| {
        args.command = "upload".into();
        args.positional.extend(upload.file.map(|f| f.to_string_lossy().into_owned()));
        args.push = upload.push;
        args.thumbnail = upload.thumbnail;
        args.journal_dir = upload.journal_dir;
    };
    match cli.command {
        None => upload(&mut args, cli.upload),
        Some(Command::Upload(up)) => upload(&mut args, up),
        Some(Command::Get { id, owner }) => {
            (args.command, args.positional, args.owner) = ("get".into(), vec![id], owner)
        }
        Some(Command::List { owner, all_titles, max, continuation }) => {
            (args.command, args.owner, args.all_titles, args.max, args.continuation) =
                ("list".into(), owner, all_titles, max, continuation)
        }
        Some(Command::Update { id, caption, visibility, title_data }) => {
            (args.command, args.positional) = ("update".into(), vec![id]);
            args.update = MetadataUpdate { user_caption: caption, visibility, title_data };
        }
        Some(Command::Rate { id, rating, owner }) => {
            (args.command, args.positional, args.owner) = ("rate".into(), vec![id, rating.to_string()], owner)
        }
        Some(Command::Flag { id, owner }) => {
            (args.command, args.positional, args.owner) = ("flag".into(), vec![id], owner)
        }
        Some(Command::View { id, owner }) => {
            (args.command, args.positional, args.owner) = ("view".into(), vec![id], owner)
        }
        Some(Command::Delete { id }) => (args.command, args.positional) = ("delete".into(), vec![id]),
        Some(Command::Download { id, dest, owner }) => {
            (args.command, args.positional, args.owner) = ("download".into(), vec![id, dest], owner)
        }
    }
    args
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

/// The service to talk to: the one named on the command line, or an emulator started here.
struct Service {
    endpoint: String,
    authorization: String,
    /// Kept alive for as long as the client needs it.
    emulator: Option<Emulator>,
}

fn connect(args: &Args) -> Result<Service, String> {
    if let (Some(endpoint), Some(token)) = (&args.endpoint, &args.token) {
        return Ok(Service { endpoint: endpoint.clone(), authorization: token.clone(), emulator: None });
    }
    let data_dir = std::env::temp_dir().join("gameclips-cli-emulator");
    let emulator =
        Emulator::start(EmulatorConfig::new(&data_dir)).map_err(|e| format!("cannot start the emulator: {e}"))?;
    let endpoint = emulator.base_url().to_string();
    eprintln!("emulator listening on {endpoint} (data in {})", data_dir.display());
    eprintln!("dashboard:  {endpoint}/  (open it in a browser; --keep-emulator keeps it running afterwards)");
    Ok(Service { endpoint, authorization: token::mint_for_xuid(2_533_274_800_000_001), emulator: Some(emulator) })
}

/// The clip to upload: FILE, or the sample clip (written the first time).
fn clip_file(args: &Args) -> Result<PathBuf, String> {
    if let Some(file) = args.positional.first() {
        return Ok(PathBuf::from(file));
    }
    let path = std::env::temp_dir().join("gameclips-sample-clip.bin");
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(SAMPLE_SIZE) {
        eprintln!("writing a {} MiB sample clip to {}", SAMPLE_SIZE >> 20, path.display());
        write_sample(&path).map_err(|e| format!("cannot write the sample clip: {e}"))?;
    }
    Ok(path)
}

/// The client's journal dir for uploading `file` under `--journal-dir DIR`: a folder of DIR named for
/// the file, so what the client resumes from it is this file's upload.
fn journal_for(dir: &Path, file: &Path) -> Result<PathBuf, String> {
    let file = file.canonicalize().map_err(|e| format!("{}: {e}", file.display()))?;
    let digest = Sha256::digest(file.to_string_lossy().as_bytes());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(name))
}

fn run(args: Args) -> Result<(), String> {
    let service = connect(&args)?;
    let defaults = ClientOptions::default();
    let journal_dir = match (&args.journal_dir, args.command.as_str()) {
        (Some(dir), "upload") => Some(journal_for(dir, &clip_file(&args)?)?),
        _ => None,
    };
    // Ctrl-C ends the CLI at once (the journal is written to survive that), saying how to go on.
    let resume_hint = match &journal_dir {
        Some(dir) => format!(": the same command finishes the upload (its progress is in {})", dir.display()),
        None => String::new(),
    };
    let _ = ctrlc::set_handler(move || {
        eprintln!("\nupload_clip: stopped{resume_hint}");
        std::process::exit(130);
    });
    let options = ClientOptions {
        metadata_base_url: service.endpoint.clone(),
        upload_hosts: args.upload_hosts.clone().unwrap_or(defaults.upload_hosts.clone()),
        block_size: args.block_size.unwrap_or(defaults.block_size),
        ca_bundle_path: args.ca_bundle.clone(),
        allow_insecure_http: args.allow_insecure_http,
        journal_dir,
        ..defaults
    };
    let client = Client::new(options).map_err(|e| e.to_string())?;
    client.set_authorization(&service.authorization).map_err(|e| e.to_string())?;
    let result = match args.command.as_str() {
        "upload" => upload(&client, &args, &service),
        _ => operation(&client, &args),
    };
    drop(client);
    if args.keep_emulator && service.emulator.is_some() {
        eprintln!("the emulator keeps running at {}/ ; Ctrl-C stops it", service.endpoint);
        loop {
            std::thread::park();
        }
    }
    drop(service);
    result
}

/// Polls a handle to its end, running `between` before each poll and showing byte progress when
/// `bar` is given. A 401 ends it: the CLI has no way to get a fresh token.
fn wait(
    client: &Client,
    handle: u64,
    bar: Option<&ProgressBar>,
    mut between: impl FnMut() -> Result<(), String>,
) -> Result<gameclips::UploadStatus, String> {
    loop {
        between()?;
        while let Some(event) = client.next_event() {
            if event.kind == EventKind::NeedsAuth && event.handle == handle {
                return Err("the service refused the token (401)".into());
            }
        }
        let status = client.poll(handle).map_err(|e| e.to_string())?;
        if let Some(bar) = bar {
            bar.set_length(status.bytes_total.max(1));
            bar.set_position(status.bytes_acked);
        }
        if matches!(status.state, UploadState::Completed | UploadState::Failed | UploadState::Cancelled) {
            if status.state != UploadState::Completed {
                return Err(client.error_message(handle).unwrap_or_default());
            }
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn progress_bar(size: u64) -> ProgressBar {
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

fn print_clip(clip: &GameClip) {
    println!("clip id:     {}", clip.game_clip_id);
    println!("state:       {}", clip.state);
    println!("caption:     {}", clip.user_caption);
    println!("visibility:  {}", clip.visibility);
    println!("owner xuid:  {}", clip.xuid);
    println!("recorded:    {} ({} s)", clip.date_recorded, clip.duration_in_seconds);
    println!("rating:      {:.2} from {} ratings; {} views", clip.rating, clip.rating_count, clip.views);
    for uri in &clip.game_clip_uris {
        println!("{:<12} {} ({} bytes)", format!("{}:", uri.uri_type.to_lowercase()), uri.uri, uri.file_size);
    }
    for thumbnail in &clip.thumbnails {
        println!("thumbnail:   {} {} ({} bytes)", thumbnail.thumbnail_type, thumbnail.uri, thumbnail.file_size);
    }
}

fn operation(client: &Client, args: &Args) -> Result<(), String> {
    let owner = args.owner.as_deref();
    let scid = args.scid.as_str();
    let id = args.positional.first().map(String::as_str).unwrap_or_default();
    let started = match args.command.as_str() {
        "get" => client.get_clip(owner, scid, id),
        "list" => client.list_clips(owner, (!args.all_titles).then_some(scid), args.max, args.continuation.as_deref()),
        "update" => client.update_metadata(scid, id, &args.update),
        "rate" => {
            let rating = args.positional[1].parse().map_err(|_| "the rating is a number 1..5".to_string())?;
            client.rate_clip(owner, scid, id, rating)
        }
        "flag" => client.flag_clip(owner, scid, id),
        "view" => client.record_view(owner, scid, id),
        "delete" => client.delete_clip(scid, id),
        "download" => client.download_clip(owner, scid, id, &args.positional[1]),
        other => unreachable!("{other} is not an operation"),
    };
    let handle = started.map_err(|e| e.to_string())?;
    let bar = (args.command == "download").then(|| progress_bar(0));
    let status = wait(client, handle, bar.as_ref(), || Ok(()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let json = client.result_json(handle).map_err(|e| e.to_string())?;
    if args.json {
        println!("{json}");
        return Ok(());
    }
    match args.command.as_str() {
        "get" => print_clip(&client.clip_info(handle).map_err(|e| e.to_string())?),
        "list" => {
            let page: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            let clips = page["gameClips"].as_array().cloned().unwrap_or_default();
            for clip in &clips {
                println!(
                    "{}  {:<13} {:>5.2} ({} ratings) {:>4} views  {}",
                    clip["gameClipId"].as_str().unwrap_or(""),
                    clip["state"].as_str().unwrap_or(""),
                    clip["rating"].as_f64().unwrap_or(0.0),
                    clip["ratingCount"],
                    clip["views"],
                    clip["userCaption"].as_str().unwrap_or("")
                );
            }
            println!("{} clips shown of {}", clips.len(), page["pagingInfo"]["totalItems"]);
            if let Some(token) = page["pagingInfo"]["continuationToken"].as_str() {
                println!("more: add --continue {token}");
            }
        }
        "download" => println!("downloaded {} bytes to {}", status.bytes_acked, args.positional[1]),
        command => println!("{command}: done (HTTP {})", status.http_status),
    }
    Ok(())
}

fn upload(client: &Client, args: &Args, service: &Service) -> Result<(), String> {
    let file = clip_file(args)?;
    let size = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?.len();
    let block_size = args.block_size.unwrap_or(ClientOptions::default().block_size) as usize;
    let mut request =
        if args.push { UploadRequest::push(&args.scid, size) } else { UploadRequest::file(&args.scid, &file) };
    if let Some(thumbnail) = &args.thumbnail {
        request.thumbnail_source = ThumbnailSource::Upload;
        request.large_thumbnail_path = Some(thumbnail.clone());
    }
    let started = Instant::now();
    // With --journal-dir, an upload of this file that was stopped goes on where it stopped.
    let handle = match client.resumed_uploads().first() {
        Some(&resumed) => {
            eprintln!("resuming the upload of {} begun earlier", file.display());
            resumed
        }
        None => client.begin_upload(request).map_err(|e| e.to_string())?,
    };

    let bar = progress_bar(size);
    let mut source = File::open(&file).map_err(|e| e.to_string())?;
    let mut next_push = 0;
    wait(client, handle, Some(&bar), || {
        if args.push {
            next_push = push_some(client, handle, &mut source, next_push, block_size, size)?;
        }
        Ok(())
    })
    .map_err(|message| format!("upload failed: {message}"))?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let clip_id = client.clip_id(handle).map_err(|e| e.to_string())?;
    println!("clip id:    {clip_id}");
    println!(
        "uploaded:   {:.1} MiB in {:.2} s = {:.1} MiB/s ({} mode)",
        size as f64 / 1048576.0,
        elapsed.as_secs_f64(),
        size as f64 / 1048576.0 / elapsed.as_secs_f64(),
        if args.push { "push" } else { "file" }
    );
    if service.emulator.is_some() {
        let local = sha256_hex(&file).map_err(|e| e.to_string())?;
        let record: serde_json::Value = ureq::get(&format!("{}/_emulator/clips/{clip_id}", service.endpoint))
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
    Ok(())
}

fn main() -> ExitCode {
    match run(parse_args()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("upload_clip: {message}");
            ExitCode::FAILURE
        }
    }
}
