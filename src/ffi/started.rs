//! Whether the library has begun: another export ran, or the system allocator served it. The memory
//! hooks may be set only before (see [`super::memory`]); the panic boundary notes each export. For the
//! tests, the boundary can also record the name each export ran under (see [`record_export_calls`]).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

static STARTED: AtomicBool = AtomicBool::new(false);
static RECORDING: AtomicBool = AtomicBool::new(false);
static CALLED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// Every export notes that it ran, but the one that sets the hooks.
pub fn note_call(function: &'static str) {
    if function != "clips_set_memory_hooks" && !STARTED.load(Ordering::Relaxed) {
        STARTED.store(true, Ordering::Relaxed);
    }
    if RECORDING.load(Ordering::Relaxed) {
        CALLED.lock().insert(function);
    }
}

/// From now on, the panic boundary records the name of every export that runs (for the test that every
/// export is called with bad input, under its own name). Not for titles: it takes a lock per call.
#[doc(hidden)]
pub fn record_export_calls() {
    RECORDING.store(true, Ordering::SeqCst);
}

/// The names the panic boundary ran under since [`record_export_calls`].
#[doc(hidden)]
pub fn exports_called() -> Vec<&'static str> {
    CALLED.lock().iter().copied().collect()
}

/// The system allocator served the library.
pub fn note_allocation() {
    STARTED.store(true, Ordering::Relaxed);
}

pub fn has_started() -> bool {
    STARTED.load(Ordering::SeqCst)
}
