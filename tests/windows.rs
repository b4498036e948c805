//! Windows x86_64 (GNU ABI), built here and run under Wine against the emulator running natively
//! (`../shared/design/platforms.md`): the DLL in both forms (default features, and without the built-in
//! HTTP stack) builds warning-free and exports exactly `src/ffi/exports.txt`, and the C and C++ examples
//! built with mingw upload byte-exact under Wine. Debian's Rust builds std for Windows (`-Zbuild-std`)
//! in a target dir of its own (`target/windows`). Without that toolchain or Wine the tests say so and
//! skip; with `GAMECLIPS_REQUIRE_TOOLS` (CI) they fail instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;

const TARGET: &str = "x86_64-pc-windows-gnu";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const STD_SOURCES: &str = "/usr/lib/rustlib/src/rust";
const WINE: &str = "/usr/lib/wine/wine64";
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";
const MINGW_GXX: &str = "x86_64-w64-mingw32-g++";

/// The Windows builds, made once per run of this binary.
struct Windows {
    /// Each form's `gameclips.dll` and its import library, in a folder of its own.
    default_form: PathBuf,
    without_http: PathBuf,
    /// The Windows build's warnings and times, for the log.
    report: String,
}

/// Whether the Windows toolchain and Wine are here (else the test skips, or fails in CI).
fn toolchain_present() -> bool {
    let files = [DEBIAN_CARGO, DEBIAN_RUSTC, STD_SOURCES, WINE];
    let missing: Vec<&str> = files.into_iter().filter(|path| !Path::new(path).exists()).collect();
    let present = missing.is_empty() && tool_present(MINGW_GCC) && tool_present(MINGW_GXX);
    assert!(
        present || std::env::var_os("GAMECLIPS_REQUIRE_TOOLS").is_none(),
        "the Windows toolchain is required but missing: {missing:?} (apt-get install rustc-web cargo-web \
         rust-web-src gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 wine)"
    );
    if !present {
        eprintln!("no Windows toolchain or Wine here ({missing:?}): skipped");
    }
    present
}

fn windows() -> Option<&'static Windows> {
    static WINDOWS: OnceLock<Option<Windows>> = OnceLock::new();
    WINDOWS.get_or_init(|| toolchain_present().then(set_up)).as_ref()
}

fn set_up() -> Windows {
    let out = repo_root().join("target/windows");
    let mut report = String::new();
    let default_form = build_dll(&out, true, &mut report);
    let without_http = build_dll(&out, false, &mut report);
    Windows { default_form, without_http, report }
}

/// The Wine prefix, made once per run of this binary.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| wine_prefix(&repo_root().join("target/windows")))
}

/// Debian's cargo, set to build for Windows in `target_dir` (std from its sources, mingw to link).
fn debian_cargo(subcommand: &str, target_dir: &Path) -> Command {
    let mut cargo = Command::new(DEBIAN_CARGO);
    cargo
        .args([subcommand, "--locked", "--target", TARGET, "-Zbuild-std"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(repo_root())
        // Debian's tools first; -Zbuild-std is unstable, so bootstrap mode, for this build only.
        .env("PATH", format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default()))
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER", MINGW_GCC)
        .env("CC_x86_64_pc_windows_gnu", MINGW_GCC)
        .env("AR_x86_64_pc_windows_gnu", "x86_64-w64-mingw32-ar");
    // What the outer `cargo test` set for its own build is not for this one.
    for inherited in ["CARGO_TARGET_DIR", "RUSTC_WRAPPER", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"]
    {
        cargo.env_remove(inherited);
    }
    cargo
}

/// Fails unless a cargo run succeeded without a warning; its stdout.
#[track_caller]
fn built_without_warnings(what: &str, output: &Output) -> String {
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{what} failed:\n{}", report(output));
    assert!(!log.lines().any(|line| line.starts_with("warning")), "{what} warned:\n{log}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds `gameclips-capi` for Windows; its folder, holding `gameclips.dll` and `libgameclips.dll.a`.
fn build_dll(out: &Path, default_features: bool, report: &mut String) -> PathBuf {
    let started = std::time::Instant::now();
    let mut build = debian_cargo("build", &out.join("cargo"));
    build.args(["--release", "-p", "gameclips-capi"]);
    if !default_features {
        build.arg("--no-default-features");
    }
    built_without_warnings("the Windows build", &build.output().expect("Debian's cargo runs"));
    let form = if default_features { "default" } else { "without-http" };
    let built = out.join("cargo").join(TARGET).join("release");
    let dir = out.join(form);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["gameclips.dll", "libgameclips.dll.a"] {
        std::fs::copy(built.join(file), dir.join(file)).unwrap();
    }
    let size = std::fs::metadata(dir.join("gameclips.dll")).unwrap().len();
    report
        .push_str(&format!("{form}: gameclips.dll {size} bytes, built in {:.0} s\n", started.elapsed().as_secs_f64()));
    dir
}

/// A fresh Wine prefix under `out`, with the stand-in `bcryptprimitives.dll` Wine 8 lacks (Rust's std
/// imports `ProcessPrng` from it; without it every Rust DLL fails to load). Test scaffolding only.
fn wine_prefix(out: &Path) -> PathBuf {
    let prefix = out.join("wineprefix");
    let _ = std::fs::remove_dir_all(&prefix);
    std::fs::create_dir_all(&prefix).unwrap();
    let init = wine_in(&prefix).arg("wineboot").arg("--init").output().unwrap();
    succeeded("wineboot --init", &init);
    let source = out.join("bcryptprimitives.c");
    std::fs::write(
        &source,
        "#include <windows.h>\n\
         BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);\n\
         __declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {\n\
         \x20   return SystemFunction036(data, (ULONG)len);\n\
         }\n",
    )
    .unwrap();
    let dll = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
    let compile =
        Command::new(MINGW_GCC).arg("-shared").arg("-o").arg(&dll).arg(&source).arg("-ladvapi32").output().unwrap();
    succeeded("building the stand-in bcryptprimitives.dll", &compile);
    prefix
}

/// `wine64` in this run's prefix, quiet.
fn wine() -> Command {
    wine_in(prefix())
}

/// `wine64` in `prefix`, quiet.
fn wine_in(prefix: &Path) -> Command {
    let mut command = Command::new(WINE);
    // UTF-8 file names on this side are the Windows names' UTF-16 on the other.
    command.env("WINEPREFIX", prefix).env("WINEDEBUG", "-all").env("LANG", "C.UTF-8");
    command
}

/// A Unix path as a Windows program under Wine names it (Wine maps `/` to drive Z:).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// Compiles an example with mingw against the DLL in `form`, into `out` (with the DLL beside it, where
/// Windows looks first).
fn compile_example(form: &Path, source: &str, out: &Path) -> PathBuf {
    compile_with(form, source, out, &[])
}

/// As [`compile_example`], with `extra` flags after the library.
fn compile_with(form: &Path, source: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let cpp = source.ends_with(".cpp");
    let exe = out.join(Path::new(source).with_extension("exe").file_name().unwrap());
    let mut compile = Command::new(if cpp { MINGW_GXX } else { MINGW_GCC });
    if cpp {
        // mingw's C++ runtime is linked in, as a game ships it, not left as DLLs Wine's prefix lacks.
        compile.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"]);
        compile.args(["-static-libgcc", "-static-libstdc++"]);
    } else {
        compile.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]);
    }
    let output = compile
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join(source))
        .arg(form.join("libgameclips.dll.a"))
        .args(extra)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    succeeded(&format!("mingw building {source}"), &output);
    std::fs::copy(form.join("gameclips.dll"), out.join("gameclips.dll")).unwrap();
    exe
}

/// Runs a Windows program under Wine with the emulator's URL, a token and a clip file.
fn run(exe: &Path, server: &TestServer, clip: &Path) -> Output {
    wine().arg(exe).arg(server.url()).arg(token()).arg(windows_path(clip)).output().unwrap()
}

/// The library's own unit tests, built for Windows and run under Wine as cargo's runner. Built without
/// the dev-dependencies only the integration tests use (`gameclips_unit_tests_only`, see Cargo.toml),
/// in a target dir of their own (other flags than the DLL builds').
#[test]
fn the_librarys_unit_tests_pass_under_wine() {
    if !toolchain_present() {
        return;
    }
    let started = std::time::Instant::now();
    let output = debian_cargo("test", &repo_root().join("target/windows/unit-tests"))
        .args(["-p", "gameclips", "--lib"])
        .env("RUSTFLAGS", "--cfg gameclips_unit_tests_only")
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER", WINE)
        .envs(wine().get_envs().filter_map(|(name, value)| Some((name, value?))))
        .output()
        .unwrap();
    let stdout = built_without_warnings("the unit tests' Windows build and run under Wine", &output);
    let result = stdout.lines().find(|line| line.starts_with("test result:")).expect("a test summary");
    eprintln!("unit tests under Wine: {result} (built and run in {:.0} s)", started.elapsed().as_secs_f64());
    let passed: u32 = result.split_whitespace().nth(3).and_then(|n| n.parse().ok()).expect("a count of passed tests");
    assert!(result.starts_with("test result: ok.") && passed >= 90, "{}", report(&output));
}

#[test]
fn both_forms_of_the_dll_export_exactly_the_listed_functions() {
    let Some(windows) = windows() else { return };
    eprint!("{}", windows.report);
    let listed = std::fs::read_to_string(repo_root().join("src/ffi/exports.txt")).unwrap();
    let listed: Vec<&str> = listed.lines().filter(|line| !line.is_empty()).collect();
    for form in [&windows.default_form, &windows.without_http] {
        let dump =
            Command::new("x86_64-w64-mingw32-objdump").arg("-p").arg(form.join("gameclips.dll")).output().unwrap();
        let dump = succeeded("objdump -p", &dump);
        // The export directory's name table: "\t[   0] clips_abi_version".
        let table = dump.split("[Ordinal/Name Pointer] Table").nth(1).expect("an export table");
        let mut exported: Vec<&str> = table
            .lines()
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
            .filter_map(|line| line.split(']').nth(1).map(str::trim))
            .collect();
        exported.sort_unstable();
        assert_eq!(exported, listed, "{form:?} exports");
    }
}

#[test]
fn the_c_example_uploads_byte_exact_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::start();
    let source = pattern(5 * 1024 * 1024 + 123, 71);
    let clip = write_file(server.dir.path(), "clip.mp4", &source);
    let exe = compile_example(&windows.default_form, "examples/c/upload_file.c", server.dir.path());
    let output = run(&exe, &server, &clip);
    let stdout = succeeded("upload_file.exe under Wine", &output);
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");
    eprintln!("upload_file.exe under Wine: {} bytes, sha256 {}", source.len(), sha256(&source));

    // A missing file: a clear error and exit code 1, not a crash.
    let missing = run(&exe, &server, &server.dir.path().join("missing.mp4"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("CLIPS_E_IO"), "{missing:?}");
}

#[test]
fn the_c_session_and_the_cpp_example_run_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::with_config(|config| config.processing_ms = 300);
    let source = pattern(3 * 1024 * 1024 + 7, 72);
    let clip = write_file(server.dir.path(), "session.mp4", &source);
    let session = compile_example(&windows.default_form, "examples/c/session.c", server.dir.path());
    let stdout = succeeded("session.exe under Wine", &run(&session, &server, &clip));
    assert!(stdout.lines().any(|line| line == "session complete"), "{stdout}");

    let cpp = compile_example(&windows.default_form, "examples/cpp/upload.cpp", server.dir.path());
    let stdout = succeeded("upload.exe (C++) under Wine", &run(&cpp, &server, &clip));
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim();
    let id = id.split_whitespace().next().unwrap();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");
}

#[test]
fn the_abi_harness_calls_every_export_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::with_config(|config| config.processing_ms = 100);
    // mingw's nanosleep lives in winpthread, linked in.
    let static_pthread = ["-Wl,-Bstatic", "-lpthread", "-Wl,-Bdynamic"];
    let exe = compile_with(&windows.default_form, "tests/c/abi_harness.c", server.dir.path(), &static_pthread);
    let output = wine().arg(&exe).args([server.url(), &token(), &windows_path(server.dir.path())]).output().unwrap();
    let stdout = succeeded("abi_harness.exe under Wine", &output);
    let summary = stdout.lines().find(|l| l.starts_with("abi harness:")).unwrap_or_default();
    eprintln!("under Wine: {summary}");
    assert!(summary.ends_with(" 0 failures"), "{}", report(&output));
}

#[test]
fn the_titles_memory_hooks_see_every_allocation_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::start();
    let static_pthread = ["-Wl,-Bstatic", "-lpthread", "-Wl,-Bdynamic"];
    let exe = compile_with(&windows.default_form, "tests/c/memory_hooks.c", server.dir.path(), &static_pthread);
    let output = wine().arg(&exe).args([server.url(), &token()]).output().unwrap();
    let stdout = succeeded("memory_hooks.exe under Wine", &output);
    eprintln!("memory hooks under Wine: {}", assert_memory_hooks_held(&stdout));
}

/// A Windows path, percent-encoded (spaces, `%` and every non-ASCII byte) so it survives the command line.
fn percent_encoded(path: &Path) -> String {
    windows_path(path)
        .bytes()
        .map(|b| if b.is_ascii_graphic() && b != b'%' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[test]
fn paths_with_a_drive_backslashes_spaces_and_non_ascii_work_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::start();
    let folder = server.dir.path().join("Clips Ünïcode é");
    std::fs::create_dir_all(&folder).unwrap();
    let source = pattern(3 * 1024 * 1024 + 5, 73);
    let clip = write_file(&folder, "clip ñ 1.mp4", &source);
    let image = png(2048);
    let thumbnail = write_file(&folder, "thumb ø.png", &image);
    let journal = folder.join("Journal ü");
    let exe = compile_example(&windows.default_form, "tests/c/resume.c", server.dir.path());
    let output = wine()
        .arg(&exe)
        .args([server.url(), &token()])
        .args([percent_encoded(&journal), percent_encoded(&clip), percent_encoded(&thumbnail)])
        .output()
        .unwrap();
    let stdout = succeeded("resume.exe with Windows paths under Wine", &output);
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");
    // The thumbnail came from its non-ASCII path.
    let url = format!("{}/_emulator/clips/{id}/thumbnails/large", server.url());
    let agent = ureq::Agent::config_builder().proxy(None).build().new_agent();
    let uploaded = agent.get(&url).call().unwrap().body_mut().read_to_vec().unwrap();
    assert_eq!(sha256(&uploaded), sha256(&image), "the thumbnail differs");
    // The journal went where it was asked, under the non-ASCII name.
    assert!(journal.is_dir(), "no journal folder at {journal:?}");
    eprintln!(
        "under Wine, from {}: {} bytes byte-exact, journal in {}",
        windows_path(&clip),
        source.len(),
        windows_path(&journal)
    );
}

#[test]
fn killed_mid_upload_and_started_again_on_its_journal_the_upload_completes_once() {
    let Some(windows) = windows() else { return };
    // A 2 MB/s link: the 16 MB clip is still going when the program is killed after two blocks.
    let server =
        TestServer::with_faults(gameclips_emulator::Faults { link_bandwidth: 2_000_000, ..Default::default() });
    let source = pattern(16 * 1024 * 1024 + 9, 74);
    let clip = write_file(server.dir.path(), "resume.mp4", &source);
    let journal = server.dir.path().join("journal");
    let exe = compile_example(&windows.default_form, "tests/c/resume.c", server.dir.path());
    let start = || {
        let mut command = wine();
        command.arg(&exe).args([server.url(), &token(), &percent_encoded(&journal), &percent_encoded(&clip)]);
        command
    };

    let mut first = start().stdout(std::process::Stdio::piped()).spawn().unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(first.stdout.take().unwrap()));
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        seen.push(line.clone());
        if line == "acked 2" {
            break;
        }
    }
    assert_eq!(seen.last().map(String::as_str), Some("acked 2"), "the first run ended early: {seen:?}");
    // As TerminateProcess would: no destructor runs, files stay as they were.
    first.kill().unwrap();
    first.wait().unwrap();

    let second = start().output().unwrap();
    let stdout = succeeded("resume.exe, started again under Wine", &second);
    assert!(stdout.lines().any(|l| l == "resumed 1"), "the journal held no upload: {stdout}");
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{record}");
    let clips = server.admin("clips")["clips"].as_array().cloned().unwrap();
    assert_eq!(clips.len(), 1, "the user holds exactly the uploaded clip: {clips:?}");
    eprintln!("killed under Wine after 2 blocks; started again: resumed, {} bytes byte-exact, 1 clip", source.len());
}

#[test]
fn threads_carry_their_names_and_affinity_and_the_titles_start_thread_makes_them_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::start();
    let clip = write_file(server.dir.path(), "threads.mp4", &pattern(3 * 1024 * 1024, 75));
    let exe = compile_example(&windows.default_form, "tests/c/windows_threads.c", server.dir.path());
    let output = wine().arg(&exe).args([server.url(), &token(), &windows_path(&clip)]).output().unwrap();
    let stdout = succeeded("windows_threads.exe under Wine", &output);
    let values = key_values(&stdout);
    let value = |key: &str| number(&values, key);
    // Every worker (12 by default) is named with the prefix (GetThreadDescription) and runs on CPU 0 only.
    assert!(value("named") >= 12, "{stdout}");
    assert_eq!(value("affinity_ok"), value("named"), "{stdout}");
    assert!(value("title_started") >= 12, "the title's start_thread made the threads: {stdout}");
    assert_eq!(value("title_ended"), value("title_started"), "each returned once the client was destroyed: {stdout}");
    assert_eq!(value("uploads"), 2, "{stdout}");
    eprintln!("threads under Wine: {}", stdout.lines().collect::<Vec<_>>().join(", "));
}

#[test]
fn a_title_transport_over_winhttp_carries_a_whole_session_under_wine() {
    let Some(windows) = windows() else { return };
    let server = TestServer::start();
    let source = pattern(1024 * 1024 + 77, 76);
    let clip = write_file(server.dir.path(), "winhttp.mp4", &source);
    let winhttp = ["-lwinhttp"];
    let exe = compile_with(&windows.without_http, "examples/c/winhttp_transport.c", server.dir.path(), &winhttp);
    let output = wine().arg(&exe).args(["session", server.url(), &token(), &windows_path(&clip)]).output().unwrap();
    let stdout = succeeded("winhttp_transport.exe session under Wine", &output);
    let values = key_values(&stdout);
    for key in ["file_clip", "push_clip"] {
        let record = server.admin(&format!("clips/{}", values[key]));
        assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()), "{key}: {record}");
    }
    assert_eq!((number(&values, "get_has_caption"), number(&values, "list_has_clips")), (1, 1), "{stdout}");
    // Capacity 2 against 12 workers: the transport said "at capacity" and never ran more.
    assert!(number(&values, "would_blocks") > 0, "{stdout}");
    assert!(number(&values, "max_in_flight") <= 2, "{stdout}");
    eprintln!("WinHTTP transport under Wine: {}", stdout.lines().collect::<Vec<_>>().join(", "));
}

#[test]
fn a_winhttp_transport_is_cancelled_and_destroyed_with_exchanges_in_flight_under_wine() {
    let Some(windows) = windows() else { return };
    // A 1 MB/s link keeps blocks in flight while the game cancels and destroys.
    let server =
        TestServer::with_faults(gameclips_emulator::Faults { link_bandwidth: 1_000_000, ..Default::default() });
    let clip = write_file(server.dir.path(), "winhttp-cancel.mp4", &pattern(8 * 1024 * 1024, 77));
    let exe = compile_with(&windows.without_http, "examples/c/winhttp_transport.c", server.dir.path(), &["-lwinhttp"]);
    let output = wine().arg(&exe).args(["cancel", server.url(), &token(), &windows_path(&clip)]).output().unwrap();
    let stdout = succeeded("winhttp_transport.exe cancel under Wine", &output);
    let values = key_values(&stdout);
    assert_eq!(number(&values, "cancelled_state"), u64::from(gameclips::ffi::CLIPS_STATE_CANCELLED), "{stdout}");
    assert_eq!(number(&values, "cancel_reached_transport"), 1, "{stdout}");
    assert!(number(&values, "in_flight_at_destroy") >= 1, "{stdout}");
    assert_eq!(number(&values, "in_flight_after"), 0, "every exchange completed: {stdout}");
    eprintln!("WinHTTP cancel and destroy under Wine: {}", stdout.lines().collect::<Vec<_>>().join(", "));
}
