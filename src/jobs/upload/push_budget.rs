//! Push mode's copies of the game's blocks, and the budget they are counted against: a push is refused
//! with WOULD_BLOCK rather than let the library's memory grow past `max_buffered_bytes`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// The push-mode copy budget shared by all uploads of a client, and the block buffers it lends: a
/// buffer given back is kept for the next push, so a push is a copy into warm memory, not a fresh
/// 2 MiB allocation the OS must fault in (at most the budget's worth is kept).
pub struct PushBudget {
    used: AtomicU64,
    max: u64,
    /// The client's block size: every buffer has it, so any spare one fits any block.
    block_size: usize,
    spare: Mutex<Vec<Box<[u8]>>>,
}

impl PushBudget {
    pub fn new(max: u64, block_size: u32) -> PushBudget {
        let block_size = block_size as usize;
        PushBudget { used: AtomicU64::new(0), max, block_size, spare: Mutex::new(Vec::new()) }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    fn try_reserve(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= self.max).then_some(used + bytes)
            })
            .is_ok()
    }

    /// A buffer of `len` bytes: for a full block, a spare one if there is one. Shorter (last) blocks
    /// get their own, so memory stays within the budget, which counts pushed bytes.
    /// A buffer of `len` bytes: a spare one, or a new one if memory can be had (never an abort: titles
    /// with memory hooks may run out, and a push must then fail, not the game).
    fn buffer(&self, len: usize) -> Option<Box<[u8]>> {
        let spare = if len == self.block_size { self.spare.lock().pop() } else { None };
        if spare.is_some() {
            return spare;
        }
        let mut fresh = Vec::new();
        fresh.try_reserve_exact(len).ok()?;
        fresh.resize(len, 0);
        Some(fresh.into_boxed_slice())
    }

    fn give_back(&self, buffer: Box<[u8]>) {
        let mut spare = self.spare.lock();
        if buffer.len() == self.block_size && (spare.len() as u64 + 1) * self.block_size as u64 <= self.max {
            spare.push(buffer);
        }
    }
}

/// A reservation of push budget; given back when dropped.
struct Reservation {
    budget: Arc<PushBudget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A copy of a pushed block. Its budget (and its buffer) is given back when the last reference goes
/// (acknowledged, cancelled or failed).
pub struct PushedBlock {
    buffer: Option<Box<[u8]>>,
    reservation: Reservation,
}

/// Why a pushed block was not copied.
#[derive(Debug, PartialEq, Eq)]
pub enum CopyRefused {
    /// `max_buffered_bytes` is in use by blocks not yet sent: push again later.
    OverBudget,
    /// No memory for the copy.
    OutOfMemory,
}

impl PushedBlock {
    /// A copy of `bytes`, or why there is none.
    pub fn copy_of(bytes: &[u8], budget: &Arc<PushBudget>) -> Result<PushedBlock, CopyRefused> {
        if !budget.try_reserve(bytes.len() as u64) {
            return Err(CopyRefused::OverBudget);
        }
        let reservation = Reservation { budget: budget.clone(), bytes: bytes.len() as u64 };
        let mut buffer = reservation.budget.buffer(bytes.len()).ok_or(CopyRefused::OutOfMemory)?;
        buffer.copy_from_slice(bytes);
        Ok(PushedBlock { buffer: Some(buffer), reservation })
    }

    pub fn bytes(&self) -> &[u8] {
        self.buffer.as_deref().unwrap_or_default()
    }
}

impl Drop for PushedBlock {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.reservation.budget.give_back(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_count_against_the_budget_until_dropped_and_buffers_are_reused() {
        let budget = Arc::new(PushBudget::new(2048, 1024));
        let first = PushedBlock::copy_of(&[1; 1024], &budget).expect("fits");
        let second = PushedBlock::copy_of(&[2; 1024], &budget).expect("fits");
        assert_eq!(PushedBlock::copy_of(&[3; 1], &budget).err(), Some(CopyRefused::OverBudget), "over the budget");
        let address = first.bytes().as_ptr();
        drop(first);
        let third = PushedBlock::copy_of(&[3; 1024], &budget).expect("room again");
        assert_eq!(third.bytes().as_ptr(), address, "the given-back buffer is reused");
        assert_eq!((third.bytes()[0], second.bytes()[0]), (3, 2));
        drop((second, third));
        assert_eq!(budget.used.load(Ordering::Acquire), 0);
    }
}
