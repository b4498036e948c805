//! The emulator serving a team: a devkit on another host reaching it over https at its LAN address
//! (two network namespaces joined by a veth pair, made and removed here), a proxy in front (nginx),
//! and the CLI stopped with Ctrl-C finishing with the same command. Tests that need what this machine
//! lacks (root and `ip` for namespaces, nginx) say so and skip; with GAMECLIPS_REQUIRE_TOOLS (CI) they
//! fail instead.

mod common;

use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::Faults;

/// Set in a child run of this test binary inside the devkit namespace: the URL it fetches.
const FETCH_URL: &str = "GAMECLIPS_TEAM_FETCH_URL";
const FETCH_CA: &str = "GAMECLIPS_TEAM_FETCH_CA";

/// Whether a test can run here; without what it needs it skips, or fails where CI requires it.
fn needs(what: &str, present: bool) -> bool {
    if !present {
        assert!(std::env::var_os("GAMECLIPS_REQUIRE_TOOLS").is_none(), "{what} is required but missing");
        eprintln!("skipped: {what} is missing here (.ci/run installs it)");
    }
    present
}

/// Two hosts on one machine: network namespaces "pc" and "devkit" joined by a veth pair on a /24 of
/// their own. Removed when dropped.
struct Hosts {
    pc: String,
    devkit: String,
    /// The pc's and the devkit's addresses, and their network.
    pc_ip: String,
    devkit_ip: String,
    subnet: String,
}

impl Hosts {
    fn make() -> Option<Hosts> {
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let ip = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
        if !needs("root and iproute2's `ip` (network namespaces)", root && ip) {
            return None;
        }
        let id = std::process::id();
        let net = format!("10.{}.{}", 100 + id % 100, (id / 100) % 250);
        let hosts = Hosts {
            pc: format!("gc-pc-{id}"),
            devkit: format!("gc-devkit-{id}"),
            pc_ip: format!("{net}.1"),
            devkit_ip: format!("{net}.2"),
            subnet: format!("{net}.0/24"),
        };
        let (veth_pc, veth_devkit) = (format!("gcp{id}"), format!("gcd{id}"));
        let ip = |args: &[&str]| {
            let output = Command::new("ip").args(args).output().unwrap();
            succeeded(&format!("ip {}", args.join(" ")), &output);
        };
        ip(&["netns", "add", &hosts.pc]);
        ip(&["netns", "add", &hosts.devkit]);
        ip(&["link", "add", &veth_pc, "type", "veth", "peer", "name", &veth_devkit]);
        ip(&["link", "set", &veth_pc, "netns", &hosts.pc]);
        ip(&["link", "set", &veth_devkit, "netns", &hosts.devkit]);
        for (ns, dev, address) in [(&hosts.pc, &veth_pc, &hosts.pc_ip), (&hosts.devkit, &veth_devkit, &hosts.devkit_ip)]
        {
            ip(&["-n", ns, "addr", "add", &format!("{address}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        println!(
            "made network namespaces {} ({}) and {} ({}) joined by a veth pair",
            hosts.pc, hosts.pc_ip, hosts.devkit, hosts.devkit_ip
        );
        Some(hosts)
    }

    /// `program args` run inside namespace `ns`.
    fn command(ns: &str, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).arg(program);
        command
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.pc, &self.devkit] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        println!("removed network namespaces {} and {}", self.pc, self.devkit);
    }
}

/// The emulator program on the pc, listening on every address with a self-signed certificate; its
/// base URL as the devkit reaches it.
struct PcEmulator {
    child: Child,
    url: String,
}

impl PcEmulator {
    fn start(hosts: &Hosts, data_dir: &Path, extra: &[&str]) -> PcEmulator {
        let (emulator, _) = programs();
        let mut child = Hosts::command(&hosts.pc, &emulator)
            .args(["--listen", "0.0.0.0:8443", "--tls-self-signed", "--processing-ms", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        // Listening on 0.0.0.0 still prints an address a person on the pc can open.
        assert_eq!(first.trim(), "listening on https://127.0.0.1:8443");
        PcEmulator { child, url: format!("https://{}:8443", hosts.pc_ip) }
    }
}

impl Drop for PcEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the devkit runs to fetch a URL: Python's own HTTPS client (every machine has python3),
/// trusting only the CA it is given, no proxy; prints `fetched STATUS HEX-BODY`.
const DEVKIT_FETCH: &str = r#"
import os, ssl, urllib.error, urllib.request
tls = ssl.create_default_context(cafile=os.environ["GAMECLIPS_TEAM_FETCH_CA"])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls))
request = urllib.request.Request(os.environ["GAMECLIPS_TEAM_FETCH_URL"])
header = os.environ.get("GAMECLIPS_TEAM_FETCH_HEADER")
if header:
    name, value = header.split(": ", 1)
    request.add_header(name, value)
try:
    response = opener.open(request, timeout=60)
    status, body = response.status, response.read()
except urllib.error.HTTPError as refused:
    status, body = refused.code, refused.read()
print("fetched", status, body.hex())
"#;

/// GETs `url` from inside the devkit namespace, trusting `ca`, with `header` if given; (status, body).
fn fetch_from_devkit(hosts: &Hosts, url: &str, ca: &Path, header: Option<(&str, &str)>) -> (u16, Vec<u8>) {
    let mut command = Hosts::command(&hosts.devkit, Path::new("python3"));
    command.args(["-I", "-c", DEVKIT_FETCH]);
    command.env(FETCH_URL, url).env(FETCH_CA, ca);
    if let Some((name, value)) = header {
        command.env("GAMECLIPS_TEAM_FETCH_HEADER", format!("{name}: {value}"));
    }
    let output = command.output().unwrap();
    let stdout = succeeded("the devkit's fetch", &output);
    let line = stdout.lines().find_map(|l| l.split_once("fetched ")).expect("the child prints what it fetched").1;
    let (status, hex) = line.split_once(' ').unwrap();
    let hex = hex.split_whitespace().next().unwrap_or("");
    let body = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    (status.parse().unwrap(), body)
}

#[test]
fn a_devkit_on_another_host_uploads_gets_and_downloads_over_https_and_admin_is_closed_to_it() {
    let Some(hosts) = Hosts::make() else { return };
    let (_, cli) = programs();
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("pc-emulator");
    let pc = PcEmulator::start(&hosts, &data_dir, &[]);
    let cert = data_dir.join("tls-cert.pem");
    let source = pattern(5 * MIB, 24);
    let clip = write_file(temp.path(), "devkit clip.mp4", &source);
    let thumbnail = write_file(temp.path(), "thumb.png", &png(4096));
    let token = token();
    let devkit_cli = |args: &[&str]| {
        let mut command = Hosts::command(&hosts.devkit, &cli);
        command.args(args).args(["--endpoint", &pc.url, "--token", &token, "--ca-bundle"]).arg(&cert);
        command.env("TMPDIR", temp.path()).output().unwrap()
    };

    let uploaded = succeeded(
        "upload from the devkit",
        &devkit_cli(&["upload", clip.to_str().unwrap(), "--thumbnail", thumbnail.to_str().unwrap()]),
    );
    let id = uploaded.lines().find_map(|l| l.strip_prefix("clip id:")).expect("the CLI prints the clip id").trim();
    println!("the devkit uploaded {} bytes as {id}:\n{uploaded}", source.len());

    let game_clip: serde_json::Value =
        serde_json::from_str(&succeeded("get from the devkit", &devkit_cli(&["get", id, "--json"]))).unwrap();
    let download_uri = game_clip["gameClipUris"][0]["uri"].as_str().unwrap();
    let thumbnail_uri = game_clip["thumbnails"][0]["uri"].as_str().unwrap();
    for uri in [download_uri, thumbnail_uri] {
        assert!(uri.starts_with(&format!("{}/", pc.url)), "{uri} does not name the address the devkit used");
    }

    let dest = temp.path().join("downloaded.mp4");
    succeeded("download on the devkit", &devkit_cli(&["download", id, dest.to_str().unwrap()]));
    assert_eq!(sha256(&std::fs::read(&dest).unwrap()), sha256(&source), "the download differs");
    let (status, image) = fetch_from_devkit(&hosts, thumbnail_uri, &cert, None);
    assert_eq!((status, image), (200, png(4096)), "the thumbnail URI works from the devkit");
    println!(
        "devkit: uploaded, got, downloaded {} bytes byte-exact (sha256 {}), thumbnail 200",
        source.len(),
        sha256(&source)
    );

    // The admin endpoints and the dashboard answer loopback only by default...
    let (status, _) = fetch_from_devkit(&hosts, &format!("{}/_emulator/stats", pc.url), &cert, None);
    assert_eq!(status, 403, "a devkit must not reach /_emulator/* by default");
    let (status, page) = fetch_from_devkit(&hosts, &format!("{}/", pc.url), &cert, None);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&page).contains("--admin-from"), "the refusal says how to allow it");
    drop(pc);
    // ...and to the operator's range when allowed.
    let pc = PcEmulator::start(&hosts, &data_dir, &["--admin-from", &hosts.subnet]);
    let (status, stats) = fetch_from_devkit(&hosts, &format!("{}/_emulator/stats", pc.url), &cert, None);
    assert_eq!(status, 200, "--admin-from {} lets the devkit in", hosts.subnet);
    assert!(String::from_utf8_lossy(&stats).contains("bodyBytesReceived"));
    println!("devkit {}: /_emulator/stats 403 by default, 200 with --admin-from {}", hosts.devkit_ip, hosts.subnet);
}

/// nginx, on the PATH or where Debian puts it (sbin is not on every user's PATH).
fn nginx() -> Option<&'static str> {
    ["nginx", "/usr/sbin/nginx"].into_iter().find(|nginx| Command::new(nginx).arg("-v").output().is_ok())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// nginx, run by the test, proxying `127.0.0.1:PORT` to `upstream` with the forwarded headers.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(nginx: &str, upstream: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let path = dir.path().display();
        let config = format!(
            "daemon off; master_process off; worker_processes 1; pid {path}/nginx.pid; error_log {path}/error.log;
events {{}}
http {{
  access_log off;
  client_body_temp_path {path}/body; proxy_temp_path {path}/proxy; fastcgi_temp_path {path}/fastcgi;
  uwsgi_temp_path {path}/uwsgi; scgi_temp_path {path}/scgi;
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      proxy_pass {upstream};
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        let child = Command::new(nginx)
            .args(["-p", &path.to_string(), "-c", &format!("{path}/nginx.conf")])
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, url: format!("http://127.0.0.1:{port}"), _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn through_nginx_an_upload_completes_and_no_url_handed_out_names_the_emulator() {
    let Some(program) = nginx() else {
        needs("nginx", false);
        return;
    };
    let server = TestServer::with_config(|config| {
        config.processing_ms = 0;
        config.public_url.trust_forwarded = true;
    });
    let nginx = Nginx::start(program, server.url());
    // The metadata host (the proxy) is the only upload host: an upload URI naming anything else
    // would be refused, so completing shows the URIs name the proxy.
    let only_the_proxy = CString::new("").unwrap();
    let client = client(&nginx.url, |o| o.upload_hosts = only_the_proxy.as_ptr());
    let source = pattern(5 * MIB, 25);
    let path = write_file(server.dir.path(), "proxied.mp4", &source);
    let handle = begin_file(client, &path);
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_arrived(&server, client, handle, &source);

    let id = clip_id(client, handle);
    let answer = ureq::get(&format!("{}/users/me/scids/{SCID}/clips/{id}", nginx.url))
        .config()
        .proxy(None)
        .build()
        .header("Authorization", &token())
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let emulator_address = server.url().trim_start_matches("http://");
    assert!(!answer.contains(emulator_address), "a URL names the emulator's own address: {answer}");
    assert!(answer.contains(&format!("{}/download/{id}", nginx.url)), "{answer}");
    println!("through nginx at {}: {} bytes byte-exact; the clip's URIs name the proxy", nginx.url, source.len());
    unsafe { clips_client_destroy(client) };
}

#[test]
fn the_cli_stopped_with_ctrl_c_finishes_the_upload_when_run_again() {
    // A shaped link (8 MB/s) keeps the 64 MiB upload going for about 8 s: the interrupt lands in it.
    let server = TestServer::with_config(|config| {
        config.processing_ms = 0;
        config.faults = Faults { link_bandwidth: 8_000_000, ..Faults::default() };
    });
    let (_, cli) = programs();
    let source = pattern(64 * MIB, 26);
    let clip = write_file(server.dir.path(), "long.mp4", &source);
    let journal = server.dir.path().join("journal");
    let token = token();
    let command = || {
        let mut command = Command::new(&cli);
        command.arg("upload").arg(&clip).args(["--endpoint", server.url(), "--token", &token, "--journal-dir"]);
        command.arg(&journal).stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    };
    let clips = || server.admin("clips")["clips"].as_array().cloned().unwrap_or_default();

    let first = command().spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let received = loop {
        let received = clips().first().and_then(|c| c["receivedBlocks"].as_u64()).unwrap_or(0);
        if received >= 4 {
            break received;
        }
        assert!(Instant::now() < deadline, "the upload did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(Command::new("kill").args(["-INT", &first.id().to_string()]).status().unwrap().success());
    let stopped = first.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(130), "Ctrl-C stops the CLI");
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(said.contains("the same command finishes the upload"), "{said}");
    let expected = clips()[0]["expectedBlocks"].as_u64().unwrap();
    assert!(clips()[0]["sha256"].is_null(), "stopped before the end");
    println!("Ctrl-C after {received} of {expected} blocks");

    let again = succeeded("the same command again", &command().output().unwrap());
    let clips = clips();
    assert_eq!(clips.len(), 1, "the emulator holds exactly one clip for the upload: {clips:?}");
    assert_eq!(clips[0]["sha256"].as_str(), Some(sha256(&source).as_str()), "the resumed upload is byte-exact");
    let counts = clips[0]["blockReceiveCounts"].as_array().unwrap();
    let resent = counts.iter().filter(|n| n.as_u64() > Some(1)).count();
    println!("run again: {}; {resent} blocks were stored twice", again.trim().replace('\n', "; "));
}
