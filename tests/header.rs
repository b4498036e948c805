//! `include/gameclips.h` is committed and never edited by hand: it must be exactly what cbindgen
//! generates from `src/ffi/`. With `GAMECLIPS_WRITE_HEADER=1` this test writes it instead.
//! (The header is generated here, not in build.rs, so nobody who builds the library compiles cbindgen.)

use std::path::Path;

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header from src/ffi");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = crate_dir.join("include/gameclips.h");
    if std::env::var_os("GAMECLIPS_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("include/gameclips.h is writable");
    }
    let committed = std::fs::read_to_string(&path).expect("include/gameclips.h exists");
    assert!(
        generated == committed,
        "include/gameclips.h is stale: regenerate it with `GAMECLIPS_WRITE_HEADER=1 cargo test --test header` and commit it"
    );
}
