//! Only what the link needs: the shared library's versioned SONAME where the platform has one.
//! (The C header is committed and checked by `tests/header.rs`; consumers' builds never run cbindgen.)

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
