//! Builds the C examples (`examples/c/*.c`) with the system C compiler in strict C99, links them
//! against the cdylib, runs them against an emulator, and checks what arrived.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Compiles `examples/c/{name}.c` into `out_dir` and returns the program.
fn compile_example(name: &str, out_dir: &Path) -> PathBuf {
    compile_c(&repo_root().join(format!("examples/c/{name}.c")), &out_dir.join(name), &[])
}

#[test]
fn c_example_uploads_a_clip_byte_exact() {
    let server = TestServer::start();
    let source = pattern(5 * 1024 * 1024 + 123, 11);
    let clip = write_file(server.dir.path(), "clip.mp4", &source);
    let exe = compile_example("upload_file", server.dir.path());

    let run = Command::new(&exe).arg(server.url()).arg(token()).arg(&clip).output().unwrap();
    let stdout = succeeded("upload_file", &run);
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim().to_string();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");

    // A bad argument gives a clear error and a non-zero exit, not a crash.
    let missing = server.dir.path().join("missing.mp4");
    let run = Command::new(&exe).arg(server.url()).arg(token()).arg(&missing).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("CLIPS_E_IO"), "{}", report(&run));
}

#[test]
fn c_session_uploads_waits_for_published_updates_rates_lists_and_deletes() {
    let server = TestServer::with_config(|config| config.processing_ms = 300);
    let source = pattern(3 * 1024 * 1024 + 7, 12);
    let clip = write_file(server.dir.path(), "session.mp4", &source);
    let exe = compile_example("session", server.dir.path());
    let run = Command::new(&exe).arg(server.url()).arg(token()).arg(&clip).output().unwrap();
    let stdout = succeeded("session", &run);
    for step in [
        "upload: ok (HTTP 201)",
        "published",
        "update caption: ok (HTTP 200)",
        "rate: ok (HTTP 200)",
        "listed: the clip, with its new caption",
        "rating 5.0 from 1 ratings",
        "delete: ok (HTTP 204)",
        "after delete: HTTP 404",
        "session complete",
    ] {
        assert!(stdout.lines().any(|line| line == step), "no line {step:?} in:\n{stdout}");
    }
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).unwrap().split(' ').next().unwrap().to_string();
    // The service really has forgotten it.
    let status = ureq::get(&format!("{}/_emulator/clips/{id}", server.url()))
        .config()
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap()
        .status();
    assert_eq!(status, 404);
    let stats = server.admin("stats")["requests"].clone();
    assert_eq!(stats["update_metadata"]["200"], 1, "{stats}");
    assert_eq!(stats["delete_clip"]["204"], 1, "{stats}");
}
