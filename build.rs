//! Generates the C header from `src/ffi/` into OUT_DIR; with GAMECLIPS_WRITE_HEADER=1 also into
//! `include/gameclips.h` (committed; a test fails when the two differ). Gives the shared library its
//! versioned SONAME where the platform has one.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=GAMECLIPS_WRITE_HEADER");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings.write_to_file(out_dir.join("gameclips.h"));
    if std::env::var_os("GAMECLIPS_WRITE_HEADER").is_some() {
        bindings.write_to_file(crate_dir.join("include/gameclips.h"));
    }
    set_soname();
}

/// The major ABI version, as `CLIPS_ABI_VERSION` in `src/ffi/types.rs` (a test checks they agree).
const ABI_VERSION: u32 = 1;

/// ELF platforms: `libgameclips.so.<ABI>`, so programs linked against an incompatible future version
/// refuse to load instead of misbehaving. (Windows and macOS name their libraries differently; the
/// ABI version check there is `clips_abi_version()`.)
fn set_soname() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(os.as_str(), "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgameclips.so.{ABI_VERSION}");
    }
}
