//! `gameclips-emulator --listen 127.0.0.1:0 --data-dir DIR [--scid S]... [--processing-ms N] [fault flags]`
//! `gameclips-emulator token --xuid N [--device-type T] [--title-id N] [--sandbox S] [--expires-in S] [--enforcement]`

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use gameclips_emulator::token::{self, Claims};
use gameclips_emulator::wire::MAX_BLOCK_SIZE;
use gameclips_emulator::{Emulator, EmulatorConfig, TlsIdentity};

const USAGE: &str = "usage:
  gameclips-emulator [--listen ADDR] [--data-dir DIR] [--scid SCID]... [--processing-ms N]
                     [--max-block-bytes N (default 2000000, at most 2097152)] [--block-ack 200]
                     [--latency-ms N] [--conn-bandwidth BYTES/S] [--link-bandwidth BYTES/S]
                     [--fail-rate STATUS=P]... [--retry-after-s N] [--reset-rate P] [--stall-rate P]
                     [--drop-answer-rate P]
                     [--expire-tokens-after N] [--upload-expiry-s N] [--quota-bytes N]
                     [--tls-cert PEM --tls-key PEM | --tls-self-signed]
    --tls-self-signed serves https with a new certificate for 127.0.0.1 and localhost, written to
    DATA_DIR/tls-cert.pem for clients to trust (ca_bundle_path).
  gameclips-emulator token --xuid N [--device-type T] [--title-id N] [--sandbox S] [--expires-in SECONDS]
                           [--enforcement]";

fn value<T: std::str::FromStr>(flag: &str, raw: Option<String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{flag} needs a value"))?;
    raw.parse().map_err(|_| format!("{flag}: {raw:?} is not valid"))
}

fn token_command(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut claims = Claims::for_xuid(0);
    let mut have_xuid = false;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--xuid" => {
                claims = Claims { xuid: Some(value::<u64>(&flag, args.next())?.to_string()), ..claims };
                have_xuid = true;
            }
            "--device-type" => claims.device_type = Some(value(&flag, args.next())?),
            "--title-id" => claims.title_id = Some(value::<u64>(&flag, args.next())?.to_string()),
            "--sandbox" => claims.sandbox_id = Some(value(&flag, args.next())?),
            "--expires-in" => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                claims.exp = Some(now + value::<u64>(&flag, args.next())?);
            }
            "--enforcement" => claims.enforcement = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !have_xuid {
        return Err("token needs --xuid".into());
    }
    claims.device_id = Some(format!("dev-{}", claims.xuid.as_deref().unwrap_or("0")));
    println!("{}", token::mint(&claims));
    Ok(())
}

fn serve_command(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut config = EmulatorConfig::new("gameclips-emulator-data");
    config.listen = "127.0.0.1:8080".parse().expect("literal address");
    let (mut tls_cert, mut tls_key, mut self_signed) = (None, None, false);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--listen" => config.listen = value(&flag, args.next())?,
            "--data-dir" => config.data_dir = value::<String>(&flag, args.next())?.into(),
            "--scid" => config.scids.push(value(&flag, args.next())?),
            "--processing-ms" => config.processing_ms = value(&flag, args.next())?,
            "--max-block-bytes" => {
                config.max_block_bytes = value(&flag, args.next())?;
                if !(1..=MAX_BLOCK_SIZE).contains(&config.max_block_bytes) {
                    return Err(format!("--max-block-bytes must be 1..{MAX_BLOCK_SIZE}"));
                }
            }
            "--block-ack" => {
                config.faults.block_ack = value(&flag, args.next())?;
                if config.faults.block_ack != 200 {
                    return Err("--block-ack takes 200 (every block acknowledged with 200)".into());
                }
            }
            "--latency-ms" => config.faults.latency_ms = value(&flag, args.next())?,
            "--stall-rate" => config.faults.stall_rate = value(&flag, args.next())?,
            "--conn-bandwidth" => config.faults.conn_bandwidth = value(&flag, args.next())?,
            "--link-bandwidth" => config.faults.link_bandwidth = value(&flag, args.next())?,
            "--fail-rate" => config.faults.add_fail_rate(&value::<String>(&flag, args.next())?)?,
            "--retry-after-s" => config.faults.retry_after_s = value(&flag, args.next())?,
            "--reset-rate" => config.faults.reset_rate = value(&flag, args.next())?,
            "--drop-answer-rate" => config.faults.drop_answer_rate = value(&flag, args.next())?,
            "--expire-tokens-after" => config.faults.expire_tokens_after = value(&flag, args.next())?,
            "--upload-expiry-s" => config.faults.upload_expiry_s = value(&flag, args.next())?,
            "--quota-bytes" => config.faults.quota_bytes = value(&flag, args.next())?,
            "--tls-cert" => tls_cert = Some(value::<String>(&flag, args.next())?),
            "--tls-key" => tls_key = Some(value::<String>(&flag, args.next())?),
            "--tls-self-signed" => self_signed = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    config.tls = match (tls_cert, tls_key, self_signed) {
        (None, None, false) => None,
        (Some(cert), Some(key), false) => Some(TlsIdentity { cert_pem: read(&cert)?, key_pem: read(&key)? }),
        (None, None, true) => {
            let identity = TlsIdentity::self_signed(&["127.0.0.1", "localhost"]).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
            let path = config.data_dir.join("tls-cert.pem");
            std::fs::write(&path, &identity.cert_pem).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("certificate: {}", path.display());
            Some(identity)
        }
        _ => return Err("use --tls-cert with --tls-key, or --tls-self-signed alone".into()),
    };
    let mut emulator = Emulator::start(config).map_err(|e| format!("cannot start: {e}"))?;
    // A reader that took the address and closed the pipe must not take the emulator down with it.
    let url = emulator.base_url();
    let _ = write!(std::io::stdout(), "listening on {url}\ndashboard: {url}/\n");
    let _ = std::io::stdout().flush();
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
    let mut args = std::env::args().skip(1).peekable();
    let result = if args.peek().map(String::as_str) == Some("token") {
        args.next();
        token_command(args)
    } else {
        serve_command(args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gameclips-emulator: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
