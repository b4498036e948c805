//! Calls out to the operating system that no safe std API offers, for `platform::threads`. They live
//! here because `src/ffi/` is the one place with `unsafe`.

/// Pins the calling thread to the CPUs whose bits are set in `mask`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn pin_current_thread(mask: u64) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for cpu in (0..64).filter(|cpu| mask & (1u64 << cpu) != 0) {
        // SAFETY: cpu < 64 lies inside cpu_set_t (1024 bits).
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    let result = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(windows)]
pub fn pin_current_thread(mask: u64) -> std::io::Result<()> {
    extern "system" {
        fn GetCurrentThread() -> *mut core::ffi::c_void;
        fn SetThreadAffinityMask(thread: *mut core::ffi::c_void, mask: usize) -> usize;
    }
    // SAFETY: GetCurrentThread returns a pseudo-handle valid in the calling thread; the mask is a value.
    let previous = unsafe { SetThreadAffinityMask(GetCurrentThread(), mask as usize) };
    if previous != 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere (macOS has no affinity API; consoles use `start_thread`): refused at create.
#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
pub fn pin_current_thread(_mask: u64) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}
