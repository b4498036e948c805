//! The client's event queue. Bounded by construction: each handle has at most one progress entry
//! queued (later progress updates it in place), and every other kind is emitted a bounded number of
//! times per upload. Only progress is ever merged; nothing else is dropped.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

crate::c_codes::c_codes! {
    /// What an event reports (`CLIPS_EVENT_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum EventKind: u32 {
        ClipCreated = 1 => c"CLIPS_EVENT_CLIP_CREATED",
        Progress = 2 => c"CLIPS_EVENT_PROGRESS",
        NeedsAuth = 3 => c"CLIPS_EVENT_NEEDS_AUTH",
        Completed = 4 => c"CLIPS_EVENT_COMPLETED",
        Failed = 5 => c"CLIPS_EVENT_FAILED",
        Cancelled = 6 => c"CLIPS_EVENT_CANCELLED",
        /// A clip operation ended; `result` says how (`CLIPS_OK`, an error, or `CLIPS_E_CANCELLED`).
        OperationCompleted = 7 => c"CLIPS_EVENT_OP_COMPLETED",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub handle: u64,
    /// `CLIPS_PENDING` while running, the final code on terminal events.
    pub result: i32,
    pub http_status: u16,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    /// Latest figures of the progress entry each handle has queued.
    progress: HashMap<u64, Event>,
}

#[derive(Default)]
pub struct EventQueue {
    queue: Mutex<Queue>,
}

impl EventQueue {
    pub fn push(&self, event: Event) {
        let mut queue = self.queue.lock();
        if event.kind == EventKind::Progress && queue.progress.insert(event.handle, event).is_some() {
            return; // merged into the entry already queued
        }
        queue.events.push_back(event);
    }

    pub fn pop(&self) -> Option<Event> {
        let mut queue = self.queue.lock();
        let event = queue.events.pop_front()?;
        if event.kind == EventKind::Progress {
            return queue.progress.remove(&event.handle).or(Some(event));
        }
        Some(event)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.lock().events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, handle: u64, bytes_done: u64) -> Event {
        Event { kind, handle, result: 1, http_status: 0, bytes_done, bytes_total: 100 }
    }

    #[test]
    fn progress_of_one_handle_merges_and_keeps_its_place() {
        let queue = EventQueue::default();
        queue.push(event(EventKind::ClipCreated, 1, 0));
        for done in 1..=1000 {
            queue.push(event(EventKind::Progress, 1, done));
            queue.push(event(EventKind::Progress, 2, done));
        }
        queue.push(event(EventKind::Completed, 1, 1000));
        assert_eq!(queue.len(), 4);
        assert_eq!(queue.pop().unwrap().kind, EventKind::ClipCreated);
        assert_eq!(queue.pop().unwrap(), event(EventKind::Progress, 1, 1000));
        assert_eq!(queue.pop().unwrap(), event(EventKind::Progress, 2, 1000));
        assert_eq!(queue.pop().unwrap().kind, EventKind::Completed);
        assert_eq!(queue.pop(), None);
        // After a progress entry is taken, the next one queues anew.
        queue.push(event(EventKind::Progress, 1, 5));
        assert_eq!(queue.pop().unwrap().bytes_done, 5);
    }

    #[test]
    fn non_progress_events_are_never_merged() {
        let queue = EventQueue::default();
        for _ in 0..3 {
            queue.push(event(EventKind::NeedsAuth, 7, 0));
        }
        assert_eq!(queue.len(), 3);
    }
}
