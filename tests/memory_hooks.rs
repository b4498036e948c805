//! The title's allocator (`ClipsMemoryHooks`) under the C library, in a process of its own
//! (`tests/c/memory_hooks.c`): hooks set first see the library's allocations, each freed with the size
//! and alignment it was made with; live memory does not grow over create/upload/destroy cycles; hooks
//! set late are refused; a push with no memory for its copy returns CLIPS_E_OUT_OF_MEMORY.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::*;

#[test]
fn counting_hooks_see_every_allocation_and_live_memory_stays_flat() {
    let server = TestServer::start();
    let exe = compile_c(
        &repo_root().join("tests/c/memory_hooks.c"),
        &server.dir.path().join("memory_hooks"),
        &["-g", "-O1", "-U_POSIX_C_SOURCE", "-D_POSIX_C_SOURCE=200112L", "-pthread"],
    );
    let output =
        Command::new(&exe).args([server.url(), &token()]).env("LD_LIBRARY_PATH", library_dir()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let lines: HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    let number = |key: &str| lines[key].split_whitespace().next().unwrap().parse::<u64>().unwrap();
    assert!(number("allocations") > 1000, "the hooks saw the library's allocations: {stdout}");
    assert_eq!((number("misaligned"), number("bad_align"), number("mismatched_frees")), (0, 0, 0), "{stdout}");
    // Each cycle creates a client, uploads and destroys it: what stays is what the first one set up once
    // (lazy tables, the main thread's own state), not more with every cycle.
    let after: Vec<u64> = (1..=6).map(|cycle| number(&format!("live_after_cycle_{cycle}"))).collect();
    assert!(after[5] <= after[1] + 4096, "live memory grows over cycles: {after:?}");
    assert_eq!(lines["late_set"], "CLIPS_E_WRONG_STATE");
    assert!(lines["oom_push"].starts_with("CLIPS_E_OUT_OF_MEMORY"), "{stdout}");
    assert!(lines["oom_push"].contains("no memory for a copy of block 0"), "{stdout}");
    println!(
        "memory hooks: {} allocations, {} frees, largest alignment {}, live bytes after cycles {after:?}",
        number("allocations"),
        number("frees"),
        number("max_align")
    );
}
