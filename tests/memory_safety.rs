//! The C harness (`tests/c/abi_harness.c`) calls every export with valid and invalid arguments
//! against an emulator: once built with AddressSanitizer and UndefinedBehaviorSanitizer, once under
//! valgrind memcheck. Both must finish with every check held and zero errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn compile_harness(out_dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    compile_c(&repo_root().join("tests/c/abi_harness.c"), &out_dir.join(name), flags)
}

fn harness_summary(run: &Output) -> String {
    let stdout = String::from_utf8_lossy(&run.stdout);
    stdout.lines().find(|l| l.starts_with("abi harness:")).unwrap_or_default().to_string()
}

#[test]
fn every_export_under_address_and_undefined_behaviour_sanitizers() {
    let server = TestServer::with_config(|config| config.processing_ms = 100);
    let flags = ["-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];
    let exe = compile_harness(server.dir.path(), "abi_harness_asan", &flags);
    let suppressions = repo_root().join("tests/c/lsan.supp");
    let run = Command::new(&exe)
        .args([server.url(), &token(), server.dir.path().to_str().unwrap()])
        .env("ASAN_OPTIONS", "detect_leaks=1:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1")
        .env("LSAN_OPTIONS", format!("suppressions={}:print_suppressions=0", suppressions.display()))
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .unwrap();
    println!("{}", harness_summary(&run));
    assert!(run.status.success(), "the sanitized harness failed ({:?}):\n{}", run.status, report(&run));
    assert!(!String::from_utf8_lossy(&run.stderr).contains("runtime error"), "{}", report(&run));
    assert!(harness_summary(&run).ends_with(" 0 failures"), "{}", report(&run));
}

#[test]
fn every_export_under_valgrind_memcheck() {
    if !tool_present("valgrind") {
        return;
    }
    let server = TestServer::with_config(|config| config.processing_ms = 100);
    let exe = compile_harness(server.dir.path(), "abi_harness", &["-g", "-O0"]);
    let run = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
            "--track-origins=yes",
        ])
        .arg(format!("--suppressions={}", repo_root().join("tests/c/valgrind.supp").display()))
        .arg(&exe)
        .args([server.url(), &token(), server.dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let summary = stderr.lines().find(|l| l.contains("ERROR SUMMARY")).unwrap_or_default();
    println!("{}\n{summary}", harness_summary(&run));
    assert!(run.status.success(), "valgrind found errors ({:?}):\n{}", run.status, report(&run));
    assert!(summary.contains("ERROR SUMMARY: 0 errors"), "{}", report(&run));
    assert!(harness_summary(&run).ends_with(" 0 failures"), "{}", report(&run));
}
