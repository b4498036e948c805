//! The log callback. It is called from worker threads, never while a lock of ours is held, and never
//! after [`Logger::close`] returns (destroy relies on that).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

pub struct Logger {
    sink: Option<LogSink>,
    max_level: u32,
    open: AtomicBool,
    calls_in_progress: AtomicUsize,
}

impl Logger {
    /// `max_level` 0 logs nothing.
    pub fn new(sink: Option<LogSink>, max_level: u32) -> Logger {
        Logger { sink, max_level, open: AtomicBool::new(true), calls_in_progress: AtomicUsize::new(0) }
    }

    pub fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        let Some(sink) = &self.sink else { return };
        if (level as u32) > self.max_level {
            return;
        }
        // Counted before the open check, so `close` either sees this call or this call sees it closed.
        self.calls_in_progress.fetch_add(1, Ordering::SeqCst);
        if self.open.load(Ordering::SeqCst) {
            sink(level, &message());
        }
        self.calls_in_progress.fetch_sub(1, Ordering::SeqCst);
    }

    /// No call starts after this; returns once the calls already running have returned.
    pub fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        while self.calls_in_progress.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }
}
