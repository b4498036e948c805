//! The library's threads, as the title wants them: named with its prefix, with its stack size, pinned to
//! its cores, or created by the title itself (its job system, FRunnableThread, a console's thread API).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Creates a thread for the library and runs `entry` on it until it returns.
pub trait ThreadStarter: Send + Sync {
    /// `Err`: not started (the client is then not created).
    fn start(&self, name: &str, entry: Box<dyn FnOnce() + Send>) -> Result<(), String>;
}

/// How the library makes its threads.
#[derive(Clone)]
pub struct ThreadOptions {
    /// Threads are named `{prefix}-worker-{n}` (platforms may cut names short: Linux keeps 15 bytes).
    pub name_prefix: String,
    /// Bytes; `None`: the platform's default.
    pub stack_size: Option<usize>,
    /// Bit N: logical CPU N; 0: not set.
    pub affinity_mask: u64,
    /// When set, every thread the library needs comes from it (name, stack and affinity are then the
    /// title's business; the name is passed along).
    pub start_thread: Option<Arc<dyn ThreadStarter>>,
}

impl Default for ThreadOptions {
    fn default() -> ThreadOptions {
        ThreadOptions { name_prefix: "gameclips".into(), stack_size: None, affinity_mask: 0, start_thread: None }
    }
}

impl ThreadOptions {
    /// Why these options cannot work here, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.name_prefix.is_empty() || self.name_prefix.contains('\0') {
            return Err("threads.name_prefix must be non-empty text".into());
        }
        if self.affinity_mask != 0 && self.start_thread.is_none() && !affinity::SUPPORTED {
            return Err("threads.affinity_mask is not supported on this platform: use start_thread".into());
        }
        Ok(())
    }
}

/// A thread the library started; finished once its body returned.
pub struct Spawned {
    done: Arc<AtomicBool>,
    /// Threads the library made itself are joined; the title's are the title's.
    join: Option<JoinHandle<()>>,
}

impl Spawned {
    pub fn is_finished(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    pub fn join(self) {
        if let Some(join) = self.join {
            let _ = join.join();
        }
    }
}

/// Marks the thread finished when its body returns or unwinds.
struct Finished(Arc<AtomicBool>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Starts `{prefix}-{role}-{index}` running `body`.
pub fn spawn(
    options: &ThreadOptions,
    role: &str,
    index: u32,
    body: impl FnOnce() + Send + 'static,
) -> io::Result<Spawned> {
    let name = format!("{}-{role}-{index}", options.name_prefix);
    let done = Arc::new(AtomicBool::new(false));
    let finished = Finished(done.clone());
    let run = move || {
        let _finished = finished;
        body();
    };
    if let Some(starter) = &options.start_thread {
        starter.start(&name, Box::new(run)).map_err(|why| io::Error::other(format!("start_thread({name}): {why}")))?;
        return Ok(Spawned { done, join: None });
    }
    let mut builder = std::thread::Builder::new().name(name);
    if let Some(stack_size) = options.stack_size {
        builder = builder.stack_size(stack_size);
    }
    let mask = options.affinity_mask;
    let join = builder.spawn(move || {
        if mask != 0 {
            // Checked at create (`ThreadOptions::check`); a mask naming no CPU of this machine leaves
            // the thread where the OS put it.
            let _ = affinity::pin_current_thread(mask);
        }
        run();
    })?;
    Ok(Spawned { done, join: Some(join) })
}

/// Pinning the calling thread to CPUs. The system calls are in `ffi::os`, the one place with `unsafe`.
mod affinity {
    #[cfg(any(target_os = "linux", target_os = "android", windows))]
    pub const SUPPORTED: bool = true;
    #[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
    pub const SUPPORTED: bool = false;

    pub fn pin_current_thread(mask: u64) -> std::io::Result<()> {
        crate::ffi::os::pin_current_thread(mask)
    }
}
