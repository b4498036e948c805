//! Memory hooks: once the title sets them, every allocation of the C library (the `gameclips-capi`
//! cdylib and staticlib, whose global allocator is [`HookedAllocator`]) goes through its functions,
//! with the alignment asked. A Rust program that depends on the rlib keeps its own global allocator.
//!
//! Hooks must come before anything else: a block allocated by the system allocator must never be freed
//! by the title's. So `clips_set_memory_hooks` is refused once any other export ran or the library
//! allocated anything.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::OnceLock;

use super::boundary::{guard, guard_value, non_null, with_last_error_cleared};
use super::started;
use super::structs::*;
use super::types::*;
use crate::error::{Error, ErrorKind};

/// The title's hooks, copied.
struct Hooks(ClipsMemoryHooks);

// SAFETY: the title promised (by setting them) that its hooks may be called from any thread at the
// same time, with its `user` pointer.
unsafe impl Send for Hooks {}
// SAFETY: as above.
unsafe impl Sync for Hooks {}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// The global allocator of the C library: the title's hooks once set, the system's before.
#[doc(hidden)]
pub struct HookedAllocator;

// SAFETY: every block is freed (or resized) by the allocator that made it: hooks are set only before
// the first allocation of the library, and never change afterwards.
unsafe impl GlobalAlloc for HookedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(Hooks(ClipsMemoryHooks { alloc: Some(alloc), user, .. })) = HOOKS.get() {
            // SAFETY: the title's alloc with its user pointer; it returns NULL or `size` bytes aligned as asked.
            return unsafe { alloc(*user, layout.size(), layout.align()) }.cast();
        }
        started::note_allocation();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(Hooks(ClipsMemoryHooks { free: Some(free), user, .. })) = HOOKS.get() {
            // SAFETY: `ptr` came from the title's alloc (hooks predate every allocation) with this layout.
            return unsafe { free(*user, ptr.cast(), layout.size(), layout.align()) };
        }
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(Hooks(h)) = HOOKS.get() else {
            // SAFETY: forwarded contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        if let Some(realloc) = h.realloc {
            // SAFETY: the title's realloc with a block its alloc made, the old and new sizes, the alignment.
            return unsafe { realloc(h.user, ptr.cast(), layout.size(), new_size, layout.align()) }.cast();
        }
        // No realloc hook: a new block, the bytes moved, the old one freed.
        // SAFETY: new_size is non-zero and the alignment valid, per GlobalAlloc::realloc's contract.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for alloc.
        let fresh = unsafe { self.alloc(new_layout) };
        if !fresh.is_null() {
            // SAFETY: both blocks are live, distinct, and at least the smaller size long.
            unsafe { std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size)) };
            // SAFETY: `ptr` was made by this allocator with `layout`.
            unsafe { self.dealloc(ptr, layout) };
        }
        fresh
    }
}

/// Routes the C library's allocations through the title's functions. Before any other call; later:
/// CLIPS_E_WRONG_STATE. alloc and free are required, realloc may be NULL.
#[no_mangle]
pub unsafe extern "C" fn clips_set_memory_hooks(hooks: *const ClipsMemoryHooks) -> ClipsResult {
    guard("clips_set_memory_hooks", || {
        let hooks = non_null(hooks, "hooks")?;
        // Read without allocating (the versioned-struct helpers do): nothing may be allocated before the
        // hooks are in place. Every field is required; a newer header's extra fields must be zero.
        // SAFETY: non-NULL and, per the contract, readable for its struct_size, which comes first.
        let size = unsafe { hooks.cast::<u32>().read_unaligned() } as usize;
        let ours = std::mem::size_of::<ClipsMemoryHooks>();
        if size < ours {
            return Err(Error::invalid(format!("ClipsMemoryHooks.struct_size {size} is smaller than {ours}")));
        }
        // SAFETY: the caller's struct is `size` bytes long, `size` >= `ours`.
        let newer_fields_unset = (ours..size).all(|i| unsafe { hooks.cast::<u8>().add(i).read() } == 0);
        if !newer_fields_unset {
            return Err(Error::invalid("ClipsMemoryHooks has fields this library does not know, set"));
        }
        // SAFETY: readable for `ours` bytes; every field accepts any bit pattern (NULL function pointers
        // are None).
        let hooks = unsafe { hooks.read_unaligned() };
        if hooks.alloc.is_none() || hooks.free.is_none() {
            return Err(Error::invalid("hooks.alloc and hooks.free are required"));
        }
        if started::has_started() || HOOKS.get().is_some() {
            return Err(Error::new(
                ErrorKind::WrongState,
                "memory hooks must be set once, before any other clips_* call",
            ));
        }
        HOOKS.set(Hooks(hooks)).map_err(|_| Error::new(ErrorKind::WrongState, "memory hooks are already set"))?;
        Ok(CLIPS_OK)
    })
}

/// Frees what the calling thread holds (its last error message); call it before a thread of the title
/// that used the library ends, where the title accounts memory per thread.
#[no_mangle]
pub extern "C" fn clips_release_thread_memory() {
    guard_value("clips_release_thread_memory", (), with_last_error_cleared)
}
