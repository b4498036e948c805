//! The C ABI's structs and the callbacks they carry, exactly as `include/gameclips.h` shows them. Each
//! versioned struct (it starts with `struct_size`) is followed by what the library knows of it: its
//! name, its defaults (what `_init` writes, and what an older, smaller struct lacks) and its field list
//! (held to the declaration by a test). Each struct's `_init` exports follow it.

mod clips;
mod integration;
mod options;
mod status;

pub use clips::*;
pub use integration::*;
pub use options::*;
pub use status::*;
