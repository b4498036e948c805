//! Programs the tests build and run: the C library, the emulator and CLI, C test programs, and what
//! they print.

use super::*;
/// `target/<profile>`, with the cdylib in it. `cargo test` builds the library only as an rlib for the
/// tests, so the shared library is built here (once per test binary) with the same cargo and profile.
pub fn library_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build_library).clone()
}

fn build_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--lib", "-p", "gameclips-capi"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    if dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the cdylib failed");
    // Programs linked against the library ask the loader for its SONAME, as an installed copy provides.
    #[cfg(target_os = "linux")]
    {
        let versioned = dir.join(format!("libgameclips.so.{}", gameclips::ffi::CLIPS_ABI_VERSION));
        // Another test binary may have made it already.
        let _ = std::os::unix::fs::symlink("libgameclips.so", &versioned);
        assert!(versioned.exists(), "cannot link {versioned:?}");
    }
    dir
}

/// The emulator program and the CLI (`upload_clip`), built in this profile: (emulator, cli).
pub fn programs() -> (PathBuf, PathBuf) {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let dir = library_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // The whole workspace's programs, so the features match `cargo test --workspace` and nothing
        // is compiled again.
        build.args(["build", "--workspace", "--bins", "--examples"]).current_dir(repo_root());
        if dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        assert!(build.status().unwrap().success(), "building the emulator and upload_clip failed");
        dir
    });
    (dir.join("gameclips-emulator"), dir.join("examples").join("upload_clip"))
}

/// A program's stdout and stderr, for a failure's message.
pub fn report(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A program's stdout, once it is known to have exited 0 (else its output in the failure).
#[track_caller]
pub fn succeeded(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `tool` runs here. CI sets GAMECLIPS_REQUIRE_TOOLS, so a missing tool fails there instead of
/// skipping its test.
pub fn tool_present(tool: &str) -> bool {
    let present = Command::new(tool).arg("--version").output().is_ok();
    assert!(present || std::env::var_os("GAMECLIPS_REQUIRE_TOOLS").is_none(), "{tool} is required but missing");
    present
}

/// Compiles a C file against the library with the system C compiler, in strict C99 plus `extra` flags,
/// into `exe`.
pub fn compile_c(source: &Path, exe: &Path, extra: &[&str]) -> PathBuf {
    compile_c_against(&library_dir(), source, exe, extra, &[])
}

/// As [`compile_c`], against the cdylib in `lib_dir`, with `libs` (`-lcurl`...) linked after it.
pub fn compile_c_against(lib_dir: &Path, source: &Path, exe: &Path, extra: &[&str], libs: &[&str]) -> PathBuf {
    assert!(lib_dir.join("libgameclips.so").exists() || cfg!(not(target_os = "linux")), "no cdylib in {lib_dir:?}");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let compile = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_POSIX_C_SOURCE=199309L"])
        .args(extra)
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(source)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(lib_dir)
        .arg("-lgameclips")
        .args(libs)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .expect("a C compiler (cc) is installed");
    let source = source.display();
    assert!(compile.status.success(), "compiling {source} failed:\n{}", String::from_utf8_lossy(&compile.stderr));
    exe.to_path_buf()
}

/// The `key value` lines a test program printed.
pub fn key_values(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once(' ')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The number that starts `key`'s value.
#[track_caller]
pub fn number(values: &std::collections::HashMap<String, String>, key: &str) -> u64 {
    let value = values.get(key).unwrap_or_else(|| panic!("no {key} in {values:?}"));
    value.split_whitespace().next().unwrap().parse().unwrap()
}

/// Checks what `tests/c/memory_hooks.c` printed: the hooks saw the library's allocations, each freed with
/// its size and alignment, live memory flat over cycles, late hooks refused, a push without memory
/// refused with a code. A summary for the log.
pub fn assert_memory_hooks_held(stdout: &str) -> String {
    let lines = key_values(stdout);
    let number = |key: &str| number(&lines, key);
    assert!(number("allocations") > 1000, "the hooks saw the library's allocations: {stdout}");
    assert_eq!((number("misaligned"), number("bad_align"), number("mismatched_frees")), (0, 0, 0), "{stdout}");
    // Each cycle creates a client, uploads and destroys it: what stays is what the first one set up once
    // (lazy tables, the main thread's own state), not more with every cycle.
    let after: Vec<u64> = (1..=6).map(|cycle| number(&format!("live_after_cycle_{cycle}"))).collect();
    assert!(after[5] <= after[1] + 4096, "live memory grows over cycles: {after:?}");
    assert_eq!(lines["late_set"], "CLIPS_E_WRONG_STATE");
    assert!(lines["oom_push"].starts_with("CLIPS_E_OUT_OF_MEMORY"), "{stdout}");
    assert!(lines["oom_push"].contains("no memory for a copy of block 0"), "{stdout}");
    format!(
        "{} allocations, {} frees, largest alignment {}, live bytes after cycles {after:?}",
        number("allocations"),
        number("frees"),
        number("max_align")
    )
}
