//! The gameclips C library. Every export is `gameclips::ffi`'s (re-exported here so the cdylib and
//! staticlib carry them); what this crate adds is the allocator: the title's memory hooks once
//! `clips_set_memory_hooks` sets them, the system's before.

pub use gameclips::ffi::*;

#[global_allocator]
static ALLOCATOR: gameclips::ffi::memory::HookedAllocator = gameclips::ffi::memory::HookedAllocator;
