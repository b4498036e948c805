//! gameclips: upload recorded gameplay clips to the Xbox Live GameClips service from game engines.
//!
//! The C ABI (`include/gameclips.h`, from [`ffi`]) is a thin translation of the safe API here:
//! a [`Client`] owns a pool of worker threads; [`Client::begin_upload`] returns a handle at once;
//! the game polls handles ([`Client::poll`]) and an event queue ([`Client::next_event`]).
// `unsafe` lives only in `ffi/` (which allows it), and every block there says why it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod bandwidth;
mod c_codes;
mod client;
mod config;
mod engine;
pub mod error;
mod events;
mod handles;
mod host_health;
#[cfg(feature = "builtin-http")]
mod http;
mod job;
mod journal;
mod lifecycle;
mod link_window;
mod log;
mod operation;
mod platform;
pub mod protocol;
mod retry;
mod send_rate;
mod status;
mod status_board;
mod transport;
mod upload;
mod url_policy;

pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;

pub use client::{Client, ClientOptions, MetadataUpdate, UploadRequest, DEFAULT_METADATA_BASE_URL};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventKind};
pub use log::{LogLevel, LogSink};
pub use platform::threads::{ThreadOptions, ThreadStarter};
pub use protocol::{ClipPage, ClipSource, GameClip, GameClipUri, Thumbnail, ThumbnailSource, Visibility};
pub use status::{UploadState, UploadStatus, RESULT_OK, RESULT_PENDING};
pub use transport::title::{Exchange, ExchangeError, ExchangeOutcome, ExchangeRequest, HttpTransport, SendResult};
pub use upload::UploadData;
