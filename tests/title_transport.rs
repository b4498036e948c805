//! The title's own HTTP stack, as consoles need it: `tests/c/curl_transport.c` implements
//! `ClipsTransport` with libcurl on a thread of its own and interposes `connect()` to count any
//! connection made by another thread. Through it: uploads in file and push mode (byte-exact), get,
//! update and list; a capacity of 2; a transport that never answers (cancelled at the deadline, destroy
//! in time, completions after destroy clean under ASan and valgrind); a redirect to a foreign host. The
//! same program runs against the library built with `--no-default-features`, which holds no HTTP stack.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;
use gameclips::ffi::*;

fn libcurl_present() -> bool {
    tool_present("curl-config")
}

fn compile(lib_dir: &Path, out: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let libs = ["-lcurl", "-lpthread", "-ldl"];
    compile_c_against(lib_dir, &repo_root().join("tests/c/curl_transport.c"), &out.join(name), flags, &libs)
}

/// Runs one mode against the library in `lib_dir`; its `key value` lines.
fn run(
    lib_dir: &Path,
    exe: &Path,
    mode: &str,
    server: &TestServer,
    file: Option<&Path>,
    wrapper: &[&str],
) -> (Output, HashMap<String, String>) {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(exe);
            command
        }
        None => Command::new(exe),
    };
    command.args([mode, server.url(), &token(), server.dir.path().to_str().unwrap()]);
    // cargo test puts its own target dir on LD_LIBRARY_PATH, which the loader searches before the rpath.
    command.env("LD_LIBRARY_PATH", lib_dir);
    if let Some(file) = file {
        command.arg(file);
    }
    let output = command.output().unwrap();
    let lines = key_values(&String::from_utf8_lossy(&output.stdout));
    (output, lines)
}

/// A file-mode and a push-mode upload, get, update and list, all through libcurl; byte-exact; at most 2
/// exchanges in flight; no connection of the library's own.
fn session_through_libcurl(lib_dir: &Path) {
    let server = TestServer::with_config(|config| config.processing_ms = 100);
    let bytes = pattern(300_000, 14);
    let file = write_file(server.dir.path(), "clip.bin", &bytes);
    let exe = compile(lib_dir, server.dir.path(), "curl_transport", &["-g", "-O1"]);
    let (output, lines) = run(lib_dir, &exe, "session", &server, Some(&file), &[]);
    assert!(output.status.success(), "{}", report(&output));
    for key in ["file_clip", "push_clip"] {
        let record = server.admin(&format!("clips/{}", lines[key]));
        assert_eq!(record["sha256"].as_str(), Some(sha256(&bytes).as_str()), "{key}: {record}");
    }
    assert_eq!((number(&lines, "get_has_caption"), number(&lines, "list_has_clip")), (1, 1), "{lines:?}");
    let max_in_flight = number(&lines, "max_in_flight");
    assert!((1..=2).contains(&max_in_flight), "capacity 2, saw {max_in_flight}");
    assert!(number(&lines, "would_blocks") > 0, "12 workers against a capacity of 2 must meet WOULD_BLOCK");
    assert_eq!(number(&lines, "foreign_connects"), 0, "the library opened a connection of its own");
    println!(
        "libcurl transport: {} exchanges, {} WOULD_BLOCK, at most {max_in_flight} in flight, 0 connections of the library's own",
        lines["sends"], lines["would_blocks"]
    );
}

#[test]
fn a_clip_session_through_a_libcurl_transport_is_byte_exact_and_the_library_opens_no_connection() {
    if !libcurl_present() {
        return;
    }
    session_through_libcurl(&library_dir());

    // The connect() check can fail: the built-in transport's connections are counted.
    let server = TestServer::start();
    let exe = compile(&library_dir(), server.dir.path(), "curl_transport", &["-g", "-O1"]);
    let (output, lines) = run(&library_dir(), &exe, "builtin", &server, None, &[]);
    assert!(output.status.success(), "{}", report(&output));
    assert!(number(&lines, "foreign_connects") > 0, "the interposed connect() saw nothing: {lines:?}");
}

fn never_answers(wrapper: &[&str], flags: &[&str], name: &str) -> (Output, HashMap<String, String>) {
    let server = TestServer::start();
    let exe = compile(&library_dir(), server.dir.path(), name, flags);
    let (output, lines) = run(&library_dir(), &exe, "never", &server, None, wrapper);
    assert!(output.status.success(), "{}", report(&output));
    // request_timeout_ms 250: gameclips' deadline is 1000 ms; shutdown_timeout_ms is 1000.
    let first_cancel = number(&lines, "first_cancel_ms");
    assert!((900..4000).contains(&first_cancel), "cancelled after {first_cancel} ms");
    let on_cancel = number(&lines, "cancel_on_cancel_ms");
    assert!(on_cancel < 500, "clips_cancel reached the transport's cancel after {on_cancel} ms");
    let destroy = number(&lines, "destroy_ms");
    assert!(destroy < 1500, "destroy took {destroy} ms");
    let late: Vec<u64> = lines["late_completions"].split(" of ").map(|n| n.parse().unwrap()).collect();
    assert!(late[1] > 0 && late[0] == late[1], "completions after destroy: {late:?}");
    println!(
        "never-answering transport ({name}): first cancel after {first_cancel} ms, cancel on clips_cancel after \
         {on_cancel} ms, destroy {destroy} ms, {} late completions",
        late[1]
    );
    (output, lines)
}

#[test]
fn a_transport_that_never_answers_is_cancelled_at_the_deadline_and_late_completions_are_clean_under_asan() {
    if !libcurl_present() {
        return;
    }
    let flags = ["-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];
    let (output, _) = never_answers(&[], &flags, "curl_transport_asan");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("ERROR: AddressSanitizer"), "{}", report(&output));
}

#[test]
fn late_completions_are_clean_under_valgrind() {
    if !libcurl_present() || !tool_present("valgrind") {
        return;
    }
    let valgrind = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite"];
    let (output, _) = never_answers(&valgrind, &["-g", "-O0"], "curl_transport_valgrind");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{}", report(&output));
}

#[test]
fn a_redirect_to_a_foreign_host_is_not_followed() {
    if !libcurl_present() {
        return;
    }
    let server = TestServer::start();
    let file = write_file(server.dir.path(), "clip.bin", &pattern(100_000, 3));
    let exe = compile(&library_dir(), server.dir.path(), "curl_transport", &["-g", "-O1"]);
    let (output, lines) = run(&library_dir(), &exe, "redirect", &server, Some(&file), &[]);
    assert!(output.status.success(), "{}", report(&output));
    let state: Vec<&str> = lines["redirect_state"].split_whitespace().collect();
    assert_eq!(state[0].parse::<u32>().unwrap(), CLIPS_STATE_FAILED, "{lines:?}");
    assert_eq!(state[2], "CLIPS_E_HTTP", "{lines:?}");
    assert_eq!(number(&lines, "foreign_urls"), 0, "the library asked the transport for the foreign host");
}

/// The cdylib built with `--no-default-features`, in a target dir of its own.
fn library_without_builtin_http() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile_dir = library_dir();
        let target = profile_dir.parent().unwrap().join("no-builtin-http");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--lib", "-p", "gameclips-capi", "--no-default-features", "--target-dir"])
            .arg(&target)
            .current_dir(repo_root());
        let release = profile_dir.file_name().is_some_and(|name| name == "release");
        if release {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success(), "the --no-default-features build failed");
        let dir = target.join(if release { "release" } else { "debug" });
        #[cfg(target_os = "linux")]
        {
            let versioned = dir.join(format!("libgameclips.so.{CLIPS_ABI_VERSION}"));
            let _ = std::os::unix::fs::symlink("libgameclips.so", &versioned);
        }
        dir
    })
    .clone()
}

/// Symbols of the HTTP stack, TLS or ring in a library.
fn http_stack_symbols(library: &Path) -> usize {
    let nm = Command::new("nm").arg("-C").arg(library).output().expect("nm (binutils)");
    let symbols = String::from_utf8_lossy(&nm.stdout);
    // ring's Rust items demangle as `ring::...` after a space or `<` ("String::" must not match); its C
    // code's symbols start with ring_core.
    let is_stack = |l: &&str| {
        l.contains("ureq")
            || l.contains("rustls")
            || l.contains(" ring::")
            || l.contains("<ring::")
            || l.contains("ring_core")
    };
    symbols.lines().filter(is_stack).count()
}

#[test]
fn without_default_features_the_library_has_no_http_stack_and_the_same_session_passes() {
    if !libcurl_present() || !tool_present("nm") {
        return;
    }
    let dir = library_without_builtin_http();
    let found = http_stack_symbols(&dir.join("libgameclips.so"));
    assert_eq!(found, 0, "ureq, rustls or ring symbols in the --no-default-features build");
    assert!(http_stack_symbols(&library_dir().join("libgameclips.so")) > 0, "the check sees the default build's stack");
    session_through_libcurl(&dir);

    // Without a transport such a build cannot make a client, and says why.
    let server = TestServer::start();
    let exe = compile(&dir, server.dir.path(), "curl_transport", &["-g", "-O1"]);
    let (output, _) = run(&dir, &exe, "builtin", &server, None, &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("builtin-http"), "{}", report(&output));
}
