//! Whether the library has begun: another export ran, or the system allocator served it. The memory
//! hooks may be set only before (see [`super::memory`]); the panic boundary notes each export.

use std::sync::atomic::{AtomicBool, Ordering};

static STARTED: AtomicBool = AtomicBool::new(false);

/// Every export notes that it ran, but the one that sets the hooks.
pub fn note_call(function: &str) {
    if function != "clips_set_memory_hooks" && !STARTED.load(Ordering::Relaxed) {
        STARTED.store(true, Ordering::Relaxed);
    }
}

/// The system allocator served the library.
pub fn note_allocation() {
    STARTED.store(true, Ordering::Relaxed);
}

pub fn has_started() -> bool {
    STARTED.load(Ordering::SeqCst)
}
