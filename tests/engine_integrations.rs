//! The engine integrations, built with the real toolchains and run against the emulator: the C++
//! wrapper (g++), the CMake imported target, the Unity C# bindings (mono's mcs and mono). Also the ABI
//! discipline: the exported symbols match the committed list, the SONAME carries the ABI version, and
//! a caller built against an older (smaller) options struct still works.

mod common;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use gameclips::ffi::*;

/// Runs an example program `exe URL TOKEN FILE` on a fresh clip; returns its output and the clip's bytes.
fn run_on_clip(server: &TestServer, exe: &Path, runner: &[&str]) -> (String, Vec<u8>) {
    run_on_clip_with(server, exe, runner, &library_dir())
}

/// As [`run_on_clip`], loading the library from `lib_dir` (and nowhere else cargo put one).
fn run_on_clip_with(server: &TestServer, exe: &Path, runner: &[&str], lib_dir: &Path) -> (String, Vec<u8>) {
    let source = pattern(3 * 1024 * 1024 + 99, 21);
    let clip = write_file(server.dir.path(), "clip.mp4", &source);
    let mut command = match runner {
        [program, args @ ..] => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        [] => Command::new(exe),
    };
    let output = command.arg(server.url()).arg(token()).arg(&clip).env("LD_LIBRARY_PATH", lib_dir).output().unwrap();
    (succeeded("the example", &output), source)
}

#[track_caller]
fn assert_uploaded(server: &TestServer, stdout: &str, source: &[u8]) -> String {
    let id = stdout.lines().find_map(|l| l.strip_prefix("clip id: ")).expect("prints the clip id").trim().to_string();
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(source).as_str()), "{record}");
    id
}

pub const CXX_FLAGS: [&str; 6] = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"];

/// Compiles `examples/cpp/{name}.cpp` strictly (CXX_FLAGS) against the library, `libs` linked after it.
fn compile_cpp_example(server: &TestServer, name: &str, libs: &[&str]) -> PathBuf {
    let lib_dir = library_dir();
    let exe = server.dir.path().join(format!("{name}_cpp"));
    let source = format!("examples/cpp/{name}.cpp");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let compile = Command::new(&cxx)
        .args(CXX_FLAGS)
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join(&source))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lgameclips")
        .args(libs)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .output()
        .expect("a C++ compiler (c++) is installed");
    succeeded(&format!("compiling {source}"), &compile);
    exe
}

#[test]
fn cpp_wrapper_example_builds_strict_and_uploads_byte_exact() {
    let server = TestServer::start();
    let exe = compile_cpp_example(&server, "upload", &[]);
    let (stdout, source) = run_on_clip(&server, &exe, &[]);
    assert_uploaded(&server, &stdout, &source);
    assert!(stdout.lines().any(|l| l == "caption: captioned in C++"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("rating 9: CLIPS_E_INVALID_ARGUMENT")), "{stdout}");
}

/// The wrapper's `HttpTransport`, over libcurl and completed inside `send`: every request of an upload,
/// an update and a get goes through it.
#[test]
fn cpp_wrapper_transport_over_libcurl_uploads_byte_exact() {
    if !tool_present("curl-config") {
        eprintln!("libcurl4-openssl-dev is not installed: skipped (.ci/run installs it)");
        return;
    }
    let server = TestServer::start();
    let exe = compile_cpp_example(&server, "curl_transport", &["-lcurl"]);
    let (stdout, source) = run_on_clip(&server, &exe, &[]);
    assert_uploaded(&server, &stdout, &source);
    assert!(stdout.lines().any(|l| l == "caption: via curl"), "{stdout}");
    let exchanges: u32 = stdout.lines().find_map(|l| l.strip_prefix("exchanges: ")).unwrap().parse().unwrap();
    // The initial call, 2 blocks, the update and the get at least.
    assert!(exchanges >= 5, "{stdout}");
    println!("C++ HttpTransport over libcurl: {exchanges} exchanges, byte-exact");
}

#[test]
fn cmake_builds_the_c_example_through_the_imported_target() {
    if !tool_present("cmake") {
        eprintln!("cmake is not installed: skipped (.ci/run installs it)");
        return;
    }
    let server = TestServer::start();
    let build = server.dir.path().join("cmake-build");
    let configure = Command::new("cmake")
        .arg("-S")
        .arg(repo_root().join("examples/cmake"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DGAMECLIPS_LIBRARY_DIR={}", library_dir().display()))
        .output()
        .unwrap();
    succeeded("cmake configure", &configure);
    succeeded("cmake build", &Command::new("cmake").arg("--build").arg(&build).output().unwrap());
    let (stdout, source) = run_on_clip(&server, &build.join("upload_file"), &[]);
    assert_uploaded(&server, &stdout, &source);
}

#[test]
fn installed_like_a_c_library_the_c_example_builds_with_pkg_config_and_find_package_and_runs() {
    if !tool_present("pkg-config") || !tool_present("cmake") {
        eprintln!("pkg-config and cmake are needed: skipped (.ci/run installs them)");
        return;
    }
    let server = TestServer::start();
    let prefix = server.dir.path().join("prefix");
    let install = Command::new("sh")
        .arg(repo_root().join("tools/install.sh"))
        .arg("--prefix")
        .arg(&prefix)
        .arg("--from")
        .arg(library_dir())
        .output()
        .unwrap();
    succeeded("tools/install.sh", &install);
    let lib = prefix.join("lib");
    let soname = format!("libgameclips.so.{CLIPS_ABI_VERSION}");
    assert!(lib.join(&soname).is_file() && lib.join("libgameclips.a").is_file());
    assert_eq!(std::fs::read_link(lib.join("libgameclips.so")).unwrap(), Path::new(&soname));
    assert!(prefix.join("include/gameclips.h").is_file() && prefix.join("include/gameclips.hpp").is_file());

    // pkg-config, as a Makefile would use it.
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "gameclips"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .output()
        .unwrap();
    let flags = succeeded("pkg-config", &flags);
    let exe = server.dir.path().join("upload_file_pkg_config");
    let compile = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=c99", "-Wall", "-Werror", "-D_POSIX_C_SOURCE=199309L"])
        .arg(repo_root().join("examples/c/upload_file.c"))
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .output()
        .unwrap();
    succeeded("cc $(pkg-config --cflags --libs gameclips)", &compile);
    let (stdout, source) = run_on_clip_with(&server, &exe, &[], &lib);
    assert_uploaded(&server, &stdout, &source);

    // CMake's find_package(gameclips) in config mode.
    let build = server.dir.path().join("find-package-build");
    let configure = Command::new("cmake")
        .arg("-S")
        .arg(repo_root().join("tests/install"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
        .output()
        .unwrap();
    succeeded("cmake configure (find_package)", &configure);
    succeeded("cmake build", &Command::new("cmake").arg("--build").arg(&build).output().unwrap());
    let (stdout, source) = run_on_clip_with(&server, &build.join("upload_file"), &[], &lib);
    assert_uploaded(&server, &stdout, &source);
}

/// The Unity bindings and the C# driver, compiled by mono's mcs into `dir`; `None` without mono.
fn unity_driver(dir: &Path) -> Option<PathBuf> {
    if !tool_present("mcs") || !tool_present("mono") {
        eprintln!("mono (mcs, mono) is not installed: skipped (.ci/run installs it)");
        return None;
    }
    let exe = dir.join("GameClipsDriver.exe");
    let compile = Command::new("mcs")
        .arg("-warnaserror+")
        .arg(format!("-out:{}", exe.display()))
        .arg(repo_root().join("examples/unity/Runtime/GameClips.cs"))
        .arg(repo_root().join("tests/csharp/Driver.cs"))
        .output()
        .unwrap();
    succeeded("mcs", &compile);
    Some(exe)
}

/// What the driver did: uploaded byte-exact, captioned, and was refused a bad rating.
fn assert_driver_ran(server: &TestServer, stdout: &str, source: &[u8]) {
    let id = assert_uploaded(server, stdout, source);
    assert!(stdout.lines().any(|l| l == "caption: captioned from C#"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("bad rating: InvalidArgument")), "{stdout}");
    let stats = server.admin("stats")["requests"].clone();
    assert_eq!(stats["update_metadata"]["200"], 1, "{stats} ({id})");
}

#[test]
fn unity_bindings_upload_and_update_metadata_under_mono() {
    let server = TestServer::start();
    let Some(exe) = unity_driver(server.dir.path()) else { return };
    let (stdout, source) = run_on_clip(&server, &exe, &["mono"]);
    assert_driver_ran(&server, &stdout, &source);
}

/// IL2CPP generates no code at run time; mono's full AOT with the JIT off is the nearest stand-in that
/// runs here: whatever in the bindings would need the JIT fails under it.
#[test]
fn unity_bindings_run_without_a_jit_under_mono_full_aot() {
    let server = TestServer::start();
    let Some(exe) = unity_driver(server.dir.path()) else { return };
    // The framework's assemblies once per machine (idempotent), then the driver.
    // (System and System.Core are links into the GAC; their images go beside the files linked to.)
    let framework = ["mscorlib.dll", "System.dll", "System.Core.dll"]
        .map(|dll| std::fs::canonicalize(Path::new("/usr/lib/mono/4.5").join(dll)).expect("mono's 4.5 assemblies"));
    let aot = framework.iter().filter(|dll| !dll.with_extension("dll.so").exists()).chain([&exe]);
    for assembly in aot {
        let output =
            Command::new("mono").arg("--aot=full").arg(assembly).current_dir(server.dir.path()).output().unwrap();
        succeeded(&format!("mono --aot=full {}", assembly.display()), &output);
    }
    let (stdout, source) = run_on_clip(&server, &exe, &["mono", "--full-aot"]);
    assert_driver_ran(&server, &stdout, &source);
    println!("Unity bindings under mono --full-aot: uploaded byte-exact, captioned, bad rating refused");
}

/// `src/ffi/exports.txt` lists every export; adding or removing one without updating it fails here.
#[test]
fn exported_symbols_match_the_committed_list() {
    let lib = library_dir().join(if cfg!(target_os = "macos") { "libgameclips.dylib" } else { "libgameclips.so" });
    if !cfg!(unix) || !tool_present("nm") {
        eprintln!("no nm here: skipped");
        return;
    }
    let output = Command::new("nm").args(["-D", "--defined-only"]).arg(&lib).output().unwrap();
    let listing = succeeded("nm", &output);
    let mut exported: Vec<&str> = listing
        .lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "T", name] => Some(name.trim_start_matches('_')),
            _ => None,
        })
        .collect();
    exported.sort_unstable();
    let committed = std::fs::read_to_string(repo_root().join("src/ffi/exports.txt")).unwrap();
    let committed: Vec<&str> = committed.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        exported, committed,
        "the exports changed: update src/ffi/exports.txt (and bump CLIPS_ABI_VERSION if one went away)"
    );
    assert!(exported.iter().all(|name| name.starts_with("clips_")), "only clips_* may be exported: {exported:?}");
    // That each is given bad input, under its own name at the panic boundary: tests/bad_input.rs.
}

#[test]
#[cfg(target_os = "linux")]
fn the_shared_library_has_a_versioned_soname() {
    let output = Command::new("readelf").arg("-d").arg(library_dir().join("libgameclips.so")).output().unwrap();
    let dynamic = succeeded("readelf", &output);
    let expected = format!("[libgameclips.so.{CLIPS_ABI_VERSION}]");
    assert!(dynamic.lines().any(|l| l.contains("(SONAME)") && l.contains(&expected)), "{dynamic}");
    assert_eq!(clips_abi_version(), CLIPS_ABI_VERSION);
    let header = std::fs::read_to_string(repo_root().join("include/gameclips.h")).unwrap();
    assert!(header.contains(&format!("#define CLIPS_ABI_VERSION {CLIPS_ABI_VERSION}")), "header and library disagree");
}

/// A game built against an older header passes a smaller struct: the library reads only that many
/// bytes (here from an allocation of exactly that size) and gives the missing fields their defaults.
#[test]
fn a_caller_with_older_smaller_structs_still_uploads() {
    let server = TestServer::start();
    let url = CString::new(server.url()).unwrap();
    // Version 0 of the options ended after `flags` (no log function fields). Its program's init (the
    // header's macro) passes its sizeof: the library fills exactly that allocation, then the program sets
    // the fields it knows.
    let old_client_size = std::mem::offset_of!(ClipsClientOptions, flags) + 4;
    let mut old_client = vec![0xA5u8; old_client_size];
    old_client.shrink_to_fit();
    assert_eq!(unsafe { clips_client_options_init_sized(old_client.as_mut_ptr().cast(), old_client_size) }, CLIPS_OK);
    let at = std::mem::offset_of!(ClipsClientOptions, metadata_base_url);
    old_client[at..at + std::mem::size_of::<usize>()].copy_from_slice(&(url.as_ptr() as usize).to_ne_bytes());
    let mut client = std::ptr::null_mut();
    assert_eq!(unsafe { clips_client_create(old_client.as_ptr().cast(), &mut client) }, CLIPS_OK, "{}", last_error());
    let token = CString::new(token()).unwrap();
    assert_eq!(unsafe { clips_set_authorization(client, token.as_ptr()) }, CLIPS_OK);

    let scid = CString::new(SCID).unwrap();
    let source = pattern(70_000, 31);
    let path = CString::new(write_file(server.dir.path(), "old.mp4", &source).to_str().unwrap()).unwrap();
    let mut upload = upload_options(&scid);
    upload.file_path = path.as_ptr();
    // An older upload struct without the thumbnail paths and saved_by_user.
    let old_upload_size = std::mem::offset_of!(ClipsUploadOptions, large_thumbnail_path);
    let old_upload = exact_copy(&upload, old_upload_size);
    let mut handle = 0;
    assert_eq!(
        unsafe { clips_begin_upload(client, old_upload.as_ptr().cast(), &mut handle) },
        CLIPS_OK,
        "{}",
        last_error()
    );
    let status = wait_terminal(client, handle, std::time::Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let record = server.admin(&format!("clips/{}", clip_id(client, handle)));
    assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
    unsafe { clips_client_destroy(client) };
}

/// The first `size` bytes of `value` in an allocation of exactly that size, with struct_size set.
fn exact_copy<T>(value: &T, size: usize) -> Vec<u8> {
    let mut bytes = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size) }.to_vec();
    bytes[..4].copy_from_slice(&(size as u32).to_ne_bytes());
    bytes.shrink_to_fit();
    bytes
}
