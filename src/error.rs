//! One error type for the whole library. Each kind maps to one `CLIPS_E_*` code of the C ABI.

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
    Internal,
}

impl ErrorKind {
    /// The `CLIPS_E_*` value.
    pub const fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument => -1,
            ErrorKind::InvalidHandle => -2,
            ErrorKind::WouldBlock => -3,
            ErrorKind::BufferTooSmall => -4,
            ErrorKind::WrongState => -5,
            ErrorKind::Http => -6,
            ErrorKind::Network => -7,
            ErrorKind::Auth => -8,
            ErrorKind::Cancelled => -9,
            ErrorKind::Io => -10,
            ErrorKind::Shutdown => -11,
            ErrorKind::IncompatibleVersion => -12,
            ErrorKind::Quota => -13,
            ErrorKind::Internal => -100,
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
