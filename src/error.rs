//! One error type for the whole library. Each kind maps to one `CLIPS_E_*` code of the C ABI; the codes
//! themselves are written once, as the header's constants in `ffi/types.rs`.

use std::fmt;

/// What went wrong, as the C ABI's result codes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidArgument,
    InvalidHandle,
    WouldBlock,
    BufferTooSmall,
    WrongState,
    /// A final error status from the service; see [`Error::http_status`].
    Http,
    /// The transport failed after retries.
    Network,
    /// 401/403.
    Auth,
    Cancelled,
    /// Reading the clip file failed or the file changed.
    Io,
    Shutdown,
    IncompatibleVersion,
    /// The service refused the clip: over quota.
    Quota,
    /// A block-sized buffer could not be had: the call failed, nothing aborted.
    OutOfMemory,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::InvalidArgument,
        ErrorKind::InvalidHandle,
        ErrorKind::WouldBlock,
        ErrorKind::BufferTooSmall,
        ErrorKind::WrongState,
        ErrorKind::Http,
        ErrorKind::Network,
        ErrorKind::Auth,
        ErrorKind::Cancelled,
        ErrorKind::Io,
        ErrorKind::Shutdown,
        ErrorKind::IncompatibleVersion,
        ErrorKind::Quota,
        ErrorKind::OutOfMemory,
        ErrorKind::Internal,
    ];

    /// The `CLIPS_E_*` value.
    pub const fn code(self) -> i32 {
        use crate::ffi::types::*;
        match self {
            ErrorKind::InvalidArgument => CLIPS_E_INVALID_ARGUMENT,
            ErrorKind::InvalidHandle => CLIPS_E_INVALID_HANDLE,
            ErrorKind::WouldBlock => CLIPS_E_WOULD_BLOCK,
            ErrorKind::BufferTooSmall => CLIPS_E_BUFFER_TOO_SMALL,
            ErrorKind::WrongState => CLIPS_E_WRONG_STATE,
            ErrorKind::Http => CLIPS_E_HTTP,
            ErrorKind::Network => CLIPS_E_NETWORK,
            ErrorKind::Auth => CLIPS_E_AUTH,
            ErrorKind::Cancelled => CLIPS_E_CANCELLED,
            ErrorKind::Io => CLIPS_E_IO,
            ErrorKind::Shutdown => CLIPS_E_SHUTDOWN,
            ErrorKind::IncompatibleVersion => CLIPS_E_INCOMPATIBLE_VERSION,
            ErrorKind::Quota => CLIPS_E_QUOTA,
            ErrorKind::OutOfMemory => CLIPS_E_OUT_OF_MEMORY,
            ErrorKind::Internal => CLIPS_E_INTERNAL,
        }
    }
}

/// An error with a message fit to show a developer. Messages never contain the Authorization value:
/// the library never formats it anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The last HTTP status seen for this failure, 0 if none.
    pub http_status: u16,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), http_status: 0 }
    }

    pub fn http(kind: ErrorKind, http_status: u16, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), http_status }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn code(&self) -> i32 {
        self.kind.code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
