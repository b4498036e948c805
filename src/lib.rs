//! gameclips: upload recorded gameplay clips to the Xbox Live GameClips service from game engines.
//!
//! The C ABI (`include/gameclips.h`, from [`ffi`]) is a thin translation of the safe API here:
//! a [`Client`] owns a pool of worker threads; [`Client::begin_upload`] returns a handle at once;
//! the game polls handles ([`Client::poll`]) and an event queue ([`Client::next_event`]).
// `unsafe` lives only in `ffi/` (which allows it), and every block there says why it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod c_codes;
mod client;
mod config;
mod engine;
pub mod error;
mod jobs;
mod journal;
mod log;
mod pacing;
mod platform;
pub mod protocol;
mod transport;

pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;

pub use client::{Client, ClientOptions, MetadataUpdate, UploadRequest, DEFAULT_METADATA_BASE_URL};
pub use error::{Error, ErrorKind, Result};
pub use jobs::events::{Event, EventKind};
pub use jobs::status::{UploadState, UploadStatus, RESULT_OK, RESULT_PENDING};
pub use jobs::upload::UploadData;
pub use log::{LogLevel, LogSink};
pub use platform::threads::{ThreadOptions, ThreadStarter};
pub use protocol::{ClipPage, ClipSource, GameClip, GameClipUri, Thumbnail, ThumbnailSource, Visibility};
pub use transport::title::{Exchange, ExchangeError, ExchangeOutcome, ExchangeRequest, HttpTransport, SendResult};
