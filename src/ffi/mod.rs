//! The C ABI: every `extern "C"` function of the library, and the only place with `unsafe` for FFI.
//! Each export is a thin translation of the safe API ([`crate::Client`]) wrapped in the one panic
//! boundary ([`boundary::guard`]). `include/gameclips.h` is generated from this folder by cbindgen.
// The header documents each export's pointer contract; repeating it as `# Safety` on every function
// would only restate it.
#![allow(clippy::missing_safety_doc)]
// The one place the library allows `unsafe` (lib.rs denies it everywhere else).
#![allow(unsafe_code)]

pub mod boundary;
mod client;
pub mod memory;
mod operations;
pub(crate) mod os;
mod registry;
mod started;
mod status;
pub mod structs;
mod threads;
mod transport;
pub mod types;
mod uploads;

pub use client::*;
pub use memory::*;
pub use operations::*;
#[doc(hidden)]
pub use started::{exports_called, record_export_calls};
pub use status::*;
pub use structs::*;
pub use transport::*;
pub use types::*;
pub use uploads::*;

use boundary::Versioned;

/// (name, offset, end) of each field of a struct.
pub type Fields = Vec<(&'static str, usize, usize)>;

/// Every versioned struct: its name, size and field list (for the tests that hold them to their
/// declarations and sweep their sizes).
#[doc(hidden)]
pub fn versioned_structs() -> Vec<(&'static str, usize, Fields)> {
    fn entry<T: Versioned>() -> (&'static str, usize, Fields) {
        (T::NAME, std::mem::size_of::<T>(), T::fields())
    }
    vec![
        entry::<ClipsClientOptions>(),
        entry::<ClipsUploadOptions>(),
        entry::<ClipsStatus>(),
        entry::<ClipsMetadataUpdate>(),
        entry::<ClipsClipInfo>(),
        entry::<ClipsEvent>(),
        entry::<ClipsTransport>(),
        entry::<ClipsThreadOptions>(),
        entry::<ClipsHttpRequest>(),
        entry::<ClipsMemoryHooks>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields a struct of `structs/` declares, in order.
    fn declared_fields(source: &str, name: &str) -> Vec<String> {
        let start = source.find(&format!("pub struct {name} {{")).unwrap_or_else(|| panic!("{name} is declared"));
        let body = &source[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|line| line.starts_with("pub "))
            .map(|line| line["pub ".len()..line.find(':').unwrap()].to_string())
            .collect()
    }

    /// A versioned struct's field list cannot get out of step with its declaration: every struct of
    /// `structs/` that starts with `struct_size` is in `versioned_structs`, with every field, in order.
    #[test]
    fn every_versioned_struct_lists_every_field() {
        let source = [
            include_str!("structs/clips.rs"),
            include_str!("structs/integration.rs"),
            include_str!("structs/options.rs"),
            include_str!("structs/status.rs"),
        ]
        .concat();
        let source = source.as_str();
        let listed = versioned_structs();
        let declared: Vec<&str> = source
            .split("pub struct ")
            .skip(1)
            .filter(|rest| {
                rest.split_once('{').is_some_and(|(_, body)| body.trim_start().starts_with("pub struct_size"))
            })
            .map(|rest| rest.split_whitespace().next().unwrap())
            .collect();
        let mut names: Vec<&str> = listed.iter().map(|(name, ..)| *name).collect();
        let mut declared = declared;
        names.sort_unstable();
        declared.sort_unstable();
        assert_eq!(declared, names, "a struct with struct_size is missing from versioned_structs");
        for (name, size, fields) in listed {
            let names: Vec<&str> = fields.iter().map(|(field, ..)| *field).collect();
            assert_eq!(names, declared_fields(source, name), "{name}'s field list");
            let last = fields.iter().map(|&(_, _, end)| end).max().unwrap();
            assert!(size - last < 8, "{name}: {} bytes after the last listed field", size - last);
        }
    }
    use crate::protocol::{clip_type, DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MAX_CAPTION_CHARS};

    /// The header's literals (cbindgen cannot evaluate expressions) agree with the library's values (the
    /// result, state and event codes: `client::tests`).
    #[test]
    fn header_constants_match_the_library() {
        assert_eq!(CLIPS_CLIP_TYPE_DEVELOPER_INITIATED, clip_type::DEVELOPER_INITIATED);
        assert_eq!(CLIPS_CLIP_TYPE_ACHIEVEMENT, clip_type::ACHIEVEMENT);
        assert_eq!(CLIPS_CLIP_TYPE_MAGIC_MOMENT, clip_type::MAGIC_MOMENT);
        assert_eq!(CLIPS_CLIP_TYPE_USER_GENERATED, clip_type::USER_GENERATED);
        assert_eq!(CLIPS_MAX_BLOCK_SIZE, MAX_BLOCK_SIZE);
        assert_eq!(CLIPS_DEFAULT_BLOCK_SIZE, DEFAULT_BLOCK_SIZE);
        assert_eq!(CLIPS_MAX_CAPTION_CHARS as usize, MAX_CAPTION_CHARS);
        assert_eq!(crate::jobs::status::RESULT_PENDING, CLIPS_PENDING);
        assert_eq!(crate::jobs::status::RESULT_OK, CLIPS_OK);
        assert_eq!(CLIPS_MAX_TITLE_DATA_BYTES as usize, crate::protocol::MAX_TITLE_DATA_BYTES);
    }
}
