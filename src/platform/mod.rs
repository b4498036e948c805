//! Platform-specific code, one small module per concern. Nothing outside this folder uses `cfg(unix)`
//! or `cfg(windows)`.

pub mod file_io;
pub mod permissions;
pub mod threads;
