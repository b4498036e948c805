//! Builds `examples/c/upload_file.c` with the system C compiler in strict C99, links it against the
//! cdylib, runs it against an emulator, and checks the bytes that arrived.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// `target/<profile>`, with the cdylib in it. `cargo test` builds the library only as an rlib for the
/// tests, so the shared library is built here with the same cargo and profile.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--lib", "-p", "gameclips"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the cdylib failed");
    dir
}

#[test]
fn c_example_uploads_a_clip_byte_exact() {
    let server = TestServer::start();
    let source = pattern(5 * 1024 * 1024 + 123, 11);
    let clip = write_file(server.dir.path(), "clip.mp4", &source);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = library_dir();
    assert!(lib_dir.join("libgameclips.so").exists() || cfg!(not(target_os = "linux")), "no cdylib in {lib_dir:?}");
    let exe = server.dir.path().join("upload_file");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let compile = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_POSIX_C_SOURCE=199309L"])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("examples/c/upload_file.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lgameclips")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .expect("a C compiler (cc) is installed");
    assert!(compile.status.success(), "compile failed:\n{}", String::from_utf8_lossy(&compile.stderr));

    let run = Command::new(&exe).arg(server.url()).arg(token()).arg(&clip).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "upload_file failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim().to_string();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");

    // A bad argument gives a clear error and a non-zero exit, not a crash.
    let missing = server.dir.path().join("missing.mp4");
    let run = Command::new(&exe).arg(server.url()).arg(token()).arg(&missing).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("CLIPS_E_IO"), "{}", String::from_utf8_lossy(&run.stderr));
}
