//! One error type for the whole library. Each kind maps to one `CLIPS_E_*` code of the C ABI: its value
//! and name are given here, once (`ffi/types.rs` writes the values again as literals for the header,
//! and a test there holds every one of them to this table).

use std::fmt;

crate::c_codes::c_codes! {
    /// What went wrong, as the C ABI's result codes name it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ErrorKind: i32 {
        InvalidArgument = -1 => c"CLIPS_E_INVALID_ARGUMENT",
        InvalidHandle = -2 => c"CLIPS_E_INVALID_HANDLE",
        WouldBlock = -3 => c"CLIPS_E_WOULD_BLOCK",
        BufferTooSmall = -4 => c"CLIPS_E_BUFFER_TOO_SMALL",
        WrongState = -5 => c"CLIPS_E_WRONG_STATE",
        /// A final error status from the service; see [`Error::http_status`].
        Http = -6 => c"CLIPS_E_HTTP",
        /// The transport failed after retries.
        Network = -7 => c"CLIPS_E_NETWORK",
        /// 401/403.
        Auth = -8 => c"CLIPS_E_AUTH",
        Cancelled = -9 => c"CLIPS_E_CANCELLED",
        /// Reading the clip file failed or the file changed.
        Io = -10 => c"CLIPS_E_IO",
        Shutdown = -11 => c"CLIPS_E_SHUTDOWN",
        IncompatibleVersion = -12 => c"CLIPS_E_INCOMPATIBLE_VERSION",
        /// The service refused the clip: over quota.
        Quota = -13 => c"CLIPS_E_QUOTA",
        /// A block-sized buffer could not be had: the call failed, nothing aborted.
        OutOfMemory = -14 => c"CLIPS_E_OUT_OF_MEMORY",
        Internal = -100 => c"CLIPS_E_INTERNAL",
    }
}

impl ErrorKind {
    /// The `CLIPS_E_*` value.
    pub const fn code(self) -> i32 {
        self as i32
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
