//! A local emulator of the Xbox Live GameClips service: a real HTTP server with durable state
//! (SQLite + block files) and fault injection, for development and tests.
//!
//! ```no_run
//! let dir = std::env::temp_dir().join("clips-emulator");
//! let emulator = gameclips_emulator::Emulator::start(gameclips_emulator::EmulatorConfig::new(dir)).unwrap();
//! let token = gameclips_emulator::token::mint_for_xuid(2533274800000001);
//! println!("{} {}", emulator.base_url(), token);
//! ```

pub mod access;
mod admin;
mod api;
pub mod blocks;
mod body;
mod clock;
mod config;
mod dashboard;
mod downloads;
pub mod faults;
pub mod public_url;
mod render;
pub mod request_log;
mod response;
mod routes;
mod server;
mod shared;
mod stats;
pub mod store;
mod throttle;
pub mod token;
pub mod wire;

pub use config::{EmulatorConfig, TlsIdentity};
pub use faults::Faults;
pub use server::Emulator;
