//! Shared by the integration tests, by concern: [`server`] (an emulator per test), [`abi`] (a client
//! through the C ABI), [`data`] (bytes of known content), [`programs`] (what the tests build and run).
//! Each test binary uses a part of it, so the rest is dead code there.
#![allow(dead_code, unused_imports)]

pub mod abi;
pub mod data;
pub mod programs;
pub mod server;

pub use abi::*;
pub use data::*;
pub use programs::*;
pub use server::*;

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gameclips::ffi::*;
use gameclips_emulator::{token, Emulator, EmulatorConfig, Faults};
use sha2::{Digest, Sha256};

/// The library's default block size: what push-mode tests cut their clips into.
pub const MIB: usize = 1024 * 1024;
pub const BLOCK: usize = gameclips::ffi::CLIPS_DEFAULT_BLOCK_SIZE as usize;
pub const SCID: &str = "00000000-0000-0000-0000-00006e7c2ab1";
pub const XUID: u64 = 2_533_274_800_000_001;
