//! `ClipsThreadOptions`: the title's names, stack size and cores for the library's threads, or its own
//! `start_thread`.

use std::sync::Arc;

use libc::{c_char, c_void};

use super::boundary::c_str;
use super::structs::*;
use super::types::*;
use crate::error::Error;
use crate::platform::threads::{ThreadOptions, ThreadStarter};

/// What a thread started by the title runs: the library's body, boxed for the trip through C.
type Entry = Box<dyn FnOnce() + Send>;

/// Runs on the title's thread: takes the body back and runs it; a panic never crosses into the title.
unsafe extern "C" fn run_entry(arg: *mut c_void) {
    if arg.is_null() {
        return;
    }
    // SAFETY: `arg` is the `Box<Entry>` `start` gave up for this thread, taken back once here.
    let entry = unsafe { Box::from_raw(arg.cast::<Entry>()) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(entry));
}

/// The title's `start_thread` and its `user` pointer.
struct CStarter {
    start_thread: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        Option<unsafe extern "C" fn(*mut c_void)>,
        *mut c_void,
    ) -> ClipsResult,
    user: *mut c_void,
}

// SAFETY: `user` is the title's; by setting start_thread it promised the call works from the thread
// that creates the client (the only one that calls it).
unsafe impl Send for CStarter {}
// SAFETY: as above.
unsafe impl Sync for CStarter {}

impl ThreadStarter for CStarter {
    fn start(&self, name: &str, entry: Entry) -> Result<(), String> {
        let name = std::ffi::CString::new(name).map_err(|_| "the thread name holds a NUL byte".to_string())?;
        let arg = Box::into_raw(Box::new(entry)).cast::<c_void>();
        // SAFETY: the title's callback with its user pointer, a valid C string for the call, and an entry
        // that takes `arg` back exactly once.
        let result = unsafe { (self.start_thread)(self.user, name.as_ptr(), Some(run_entry), arg) };
        if result == CLIPS_OK {
            return Ok(());
        }
        // Not started, per the contract: the body is ours again.
        // SAFETY: `arg` came from Box::into_raw above and, the thread not started, was never taken back.
        drop(unsafe { Box::from_raw(arg.cast::<Entry>()) });
        Err(format!("returned {result}"))
    }
}

pub fn thread_options(o: &ClipsThreadOptions) -> Result<ThreadOptions, Error> {
    let defaults = ThreadOptions::default();
    Ok(ThreadOptions {
        name_prefix: c_str!(o.name_prefix, "threads.name_prefix")?.map_or(defaults.name_prefix, str::to_string),
        stack_size: (o.stack_size != 0).then_some(o.stack_size as usize),
        affinity_mask: o.affinity_mask,
        start_thread: o
            .start_thread
            .map(|start_thread| Arc::new(CStarter { start_thread, user: o.user }) as Arc<dyn ThreadStarter>),
    })
}
