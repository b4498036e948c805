//! The title's allocator (`ClipsMemoryHooks`) under the C library, in a process of its own
//! (`tests/c/memory_hooks.c`): hooks set first see the library's allocations, each freed with the size
//! and alignment it was made with; live memory does not grow over create/upload/destroy cycles; hooks
//! set late are refused; a push with no memory for its copy returns CLIPS_E_OUT_OF_MEMORY.

mod common;

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
    let stdout = succeeded("the memory hooks program", &output);
    println!("memory hooks: {}", assert_memory_hooks_held(&stdout));
}
