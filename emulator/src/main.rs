//! The emulator as a program: `gameclips-emulator [OPTIONS]` serves until SIGINT/SIGTERM;
//! `gameclips-emulator token --xuid N` prints a development Authorization value. `--help` on each.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use gameclips_emulator::access::{AdminAccess, Cidr};
use gameclips_emulator::public_url::PublicUrl;
use gameclips_emulator::token::{self, Claims};
use gameclips_emulator::wire::MAX_BLOCK_SIZE;
use gameclips_emulator::{Emulator, EmulatorConfig, Faults, TlsIdentity};

/// A local emulator of the Xbox Live GameClips service: real HTTP, durable state, fault injection and
/// a dashboard in the browser. The first line printed is `listening on URL`.
#[derive(Parser)]
#[command(name = "gameclips-emulator", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Subcommand)]
enum Command {
    /// Print a development Authorization value (XBL3.0 x=...;...).
    Token(TokenArgs),
}

#[derive(Args)]
struct Serve {
    /// The address to listen on; 0.0.0.0 or [::] serves other machines (a devkit on the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where clips and their metadata are kept (kept across restarts).
    #[arg(long, default_value = "gameclips-emulator-data")]
    data_dir: PathBuf,
    /// A service configuration id the emulator knows (repeatable); none: any.
    #[arg(long = "scid", value_name = "SCID")]
    scids: Vec<String>,
    /// Time from a clip's commit to Published.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    processing_ms: u64,
    /// The largest block taken ("no larger than 2 MB", read strictly); at most 2097152.
    #[arg(long, default_value_t = gameclips_emulator::wire::DEFAULT_MAX_BLOCK_BYTES, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(1..=MAX_BLOCK_SIZE))]
    max_block_bytes: u64,
    /// The URL every URL handed out starts with (upload, thumbnail and download URIs), e.g. the
    /// proxy's; default: the address each client used (its Host).
    #[arg(long, value_name = "URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Take X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For from the front before the emulator
    /// (a proxy the operator runs); never set it when clients reach the emulator directly.
    #[arg(long)]
    trust_forwarded: bool,
    /// Addresses besides loopback that may use the dashboard and /_emulator/* (repeatable), e.g.
    /// 10.0.0.0/8 or 192.168.1.20.
    #[arg(long = "admin-from", value_name = "CIDR")]
    admin_from: Vec<Cidr>,
    /// A token that opens the dashboard and /_emulator/* from anywhere: the dashboard asks for it,
    /// scripts send it as X-Emulator-Admin-Token. Letters, digits, '-' and '_'.
    #[arg(long, value_name = "TOKEN", value_parser = parse_admin_token)]
    admin_token: Option<String>,
    /// Serve https with this certificate chain (PEM), with --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve https with a new certificate naming every address the emulator listens on (every
    /// interface's for 0.0.0.0 or [::]), localhost, this machine's name and --public-url's host; it is
    /// written to DATA_DIR/tls-cert.pem for clients to trust (ca_bundle_path).
    #[arg(long)]
    tls_self_signed: bool,
    #[command(flatten)]
    faults: FaultArgs,
}

/// Misbehaving on purpose (also changeable while running: PUT /_emulator/faults, or the dashboard).
#[derive(Args)]
struct FaultArgs {
    /// Acknowledge every block with this status instead of 202/201 (only 200 is taken).
    #[arg(long, value_name = "200", value_parser = clap::value_parser!(u16).range(200..=200))]
    block_ack: Option<u16>,
    /// Delay before every response (a round trip).
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Read each connection's request bodies no faster than this.
    #[arg(long, value_name = "BYTES/S")]
    conn_bandwidth: Option<u64>,
    /// Read all request bodies together no faster than this (a slow uplink).
    #[arg(long, value_name = "BYTES/S")]
    link_bandwidth: Option<u64>,
    /// Read the request bodies of each token together no faster than this (each console's uplink).
    #[arg(long, value_name = "BYTES/S")]
    uplink_bandwidth: Option<u64>,
    /// Answer this share of calls with STATUS instead (repeatable), e.g. 503=0.1.
    #[arg(long, value_name = "STATUS=P")]
    fail_rate: Vec<String>,
    /// Retry-After seconds on injected 503 and 429 answers.
    #[arg(long, value_name = "S")]
    retry_after_s: Option<u64>,
    /// Drop this share of connections in the middle of a request body.
    #[arg(long, value_name = "P", value_parser = parse_share)]
    reset_rate: Option<f64>,
    /// Accept this share of requests and never answer them.
    #[arg(long, value_name = "P", value_parser = parse_share)]
    stall_rate: Option<f64>,
    /// Carry out this share of requests and drop the connection instead of answering.
    #[arg(long, value_name = "P", value_parser = parse_share)]
    drop_answer_rate: Option<f64>,
    /// The N-th request of each token answers 401, as does every later one with that token.
    #[arg(long, value_name = "N")]
    expire_tokens_after: Option<u64>,
    /// Uploads not committed within this many seconds answer 410 Gone.
    #[arg(long, value_name = "S")]
    upload_expiry_s: Option<u64>,
    /// Bytes of clips each user may hold.
    #[arg(long, value_name = "BYTES")]
    quota_bytes: Option<u64>,
    /// Answer each token's calls above this many per second with 429 without Retry-After (a second's
    /// worth in a burst), like a service front.
    #[arg(long, value_name = "CALLS/S")]
    throttle_rps: Option<u64>,
    /// Answer all calls together above this many per second with 429 without Retry-After (a front
    /// every client shares).
    #[arg(long, value_name = "CALLS/S")]
    front_rps: Option<u64>,
}

#[derive(Args)]
struct TokenArgs {
    /// The user.
    #[arg(long)]
    xuid: u64,
    /// A console type (Xbox360, XboxOne, Scorpio, Lockhart, Anaconda); other types may not upload.
    #[arg(long)]
    device_type: Option<String>,
    #[arg(long)]
    title_id: Option<u64>,
    #[arg(long)]
    sandbox: Option<String>,
    /// The token expires this many seconds from now.
    #[arg(long, value_name = "SECONDS")]
    expires_in: Option<u64>,
    /// An enforcement token (sees flagged clips).
    #[arg(long)]
    enforcement: bool,
}

fn parse_share(text: &str) -> Result<f64, String> {
    text.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p)).ok_or_else(|| format!("{text:?} is not a share 0..1"))
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let host = trimmed.strip_prefix("http://").or_else(|| trimmed.strip_prefix("https://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains('/') => Ok(trimmed.to_string()),
        _ => Err(format!("{text:?} is not http(s)://HOST[:PORT] (no path)")),
    }
}

fn parse_admin_token(text: &str) -> Result<String, String> {
    let plain = text.len() >= 8 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| text.to_string()).ok_or_else(|| "an admin token is 8 or more letters, digits, '-' or '_'".into())
}

impl FaultArgs {
    fn faults(self) -> Result<Faults, String> {
        let mut faults = Faults::default();
        let set = |target: &mut u64, value: Option<u64>| *target = value.unwrap_or(*target);
        set(&mut faults.latency_ms, self.latency_ms);
        set(&mut faults.conn_bandwidth, self.conn_bandwidth);
        set(&mut faults.link_bandwidth, self.link_bandwidth);
        set(&mut faults.uplink_bandwidth, self.uplink_bandwidth);
        set(&mut faults.retry_after_s, self.retry_after_s);
        set(&mut faults.expire_tokens_after, self.expire_tokens_after);
        set(&mut faults.upload_expiry_s, self.upload_expiry_s);
        set(&mut faults.quota_bytes, self.quota_bytes);
        set(&mut faults.throttle_rps, self.throttle_rps);
        set(&mut faults.front_rps, self.front_rps);
        faults.block_ack = self.block_ack.unwrap_or(faults.block_ack);
        faults.reset_rate = self.reset_rate.unwrap_or(faults.reset_rate);
        faults.stall_rate = self.stall_rate.unwrap_or(faults.stall_rate);
        faults.drop_answer_rate = self.drop_answer_rate.unwrap_or(faults.drop_answer_rate);
        for spec in &self.fail_rate {
            faults.add_fail_rate(spec)?;
        }
        Ok(faults)
    }
}

fn token_command(args: TokenArgs) {
    let mut claims = Claims::for_xuid(args.xuid);
    claims.device_type = args.device_type.or(claims.device_type);
    claims.title_id = args.title_id.map(|id| id.to_string()).or(claims.title_id);
    claims.sandbox_id = args.sandbox.or(claims.sandbox_id);
    if let Some(seconds) = args.expires_in {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        claims.exp = Some(now + seconds);
    }
    claims.enforcement = args.enforcement;
    claims.device_id = Some(format!("dev-{}", args.xuid));
    println!("{}", token::mint(&claims));
}

/// The names a self-signed certificate carries: the listening address (every interface's when it is
/// unspecified), loopback and localhost, this machine's name, and the public URL's host.
fn certificate_names(listen: IpAddr, public_url: Option<&str>) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if listen.is_unspecified() {
        let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
        names.extend(interfaces.iter().map(|interface| interface.ip().to_string()));
    } else {
        names.push(listen.to_string());
    }
    if let Ok(name) = gethostname::gethostname().into_string() {
        names.push(name);
    }
    if let Some(url) = public_url {
        let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
        };
        names.push(host.to_string());
    }
    names.retain(|name| !name.is_empty());
    names.sort();
    names.dedup();
    names
}

fn tls_identity(serve: &Serve) -> Result<Option<TlsIdentity>, String> {
    let read = |path: &PathBuf| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    if let (Some(cert), Some(key)) = (&serve.tls_cert, &serve.tls_key) {
        return Ok(Some(TlsIdentity { cert_pem: read(cert)?, key_pem: read(key)? }));
    }
    if !serve.tls_self_signed {
        return Ok(None);
    }
    let names = certificate_names(serve.listen.ip(), serve.public_url.as_deref());
    let identity =
        TlsIdentity::self_signed(&names.iter().map(String::as_str).collect::<Vec<_>>()).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&serve.data_dir).map_err(|e| format!("{}: {e}", serve.data_dir.display()))?;
    let path = serve.data_dir.join("tls-cert.pem");
    std::fs::write(&path, &identity.cert_pem).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("certificate: {} (for {})", path.display(), names.join(", "));
    Ok(Some(identity))
}

fn serve_command(serve: Serve) -> Result<(), String> {
    let tls = tls_identity(&serve)?;
    let listen = serve.listen;
    let mut config = EmulatorConfig::new(serve.data_dir);
    config.listen = listen;
    config.scids = serve.scids;
    config.processing_ms = serve.processing_ms;
    config.max_block_bytes = serve.max_block_bytes;
    config.tls = tls;
    config.public_url = PublicUrl { fixed: serve.public_url, trust_forwarded: serve.trust_forwarded };
    config.admin = AdminAccess { from: serve.admin_from, token: serve.admin_token };
    config.faults = serve.faults.faults()?;
    let admin = config.admin.clone();
    let mut emulator = Emulator::start(config).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    // A reader that took the address and closed the pipe must not take the emulator down with it.
    let url = emulator.base_url();
    let _ = write!(std::io::stdout(), "listening on {url}\ndashboard: {url}/\n");
    let _ = std::io::stdout().flush();
    if !listen.ip().is_loopback() {
        eprintln!("note: {}", admin.describe());
    }
    let stop = emulator.stopper();
    let signals = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    signals.block_on(wait_for_signal());
    if let Some(stop) = stop {
        let _ = stop.send(());
    }
    emulator.wait();
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(args)) => {
            token_command(args);
            Ok(())
        }
        None => serve_command(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gameclips-emulator: {message}");
            ExitCode::from(2)
        }
    }
}
