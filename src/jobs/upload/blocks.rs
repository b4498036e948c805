//! An upload's blocks: each missing (push mode, not handed over yet), ready, in flight or acknowledged,
//! with the counters a status shows. The counters are kept beside the slots because a status is
//! published on every change and must not count thousands of slots each time; only this module
//! changes either, so they cannot drift apart:
//!
//! - `ready` holds exactly the Ready slots' numbers, each once;
//! - `in_flight` is the number of InFlight slots, `acked` of Acked ones, and `bytes_acked` their length.

use std::collections::VecDeque;
use std::sync::Arc;

use super::clip_file::Layout;
use super::push_budget::PushedBlock;
use crate::error::{Error, ErrorKind, Result};

enum Slot {
    Missing,
    /// Push mode: the copy; file mode: `None`, read from the file when sent.
    Ready(Option<Arc<PushedBlock>>),
    InFlight(Option<Arc<PushedBlock>>),
    Acked,
}

pub struct BlockSet {
    layout: Layout,
    slots: Vec<Slot>,
    ready: VecDeque<u32>,
    in_flight: u32,
    acked: u32,
    bytes_acked: u64,
}

/// A block taken for sending.
pub struct Taken {
    pub num: u32,
    pub data: Option<Arc<PushedBlock>>,
}

impl BlockSet {
    /// Nothing acknowledged: push mode waits for every block, file mode has every block ready.
    pub fn new(layout: Layout, push: bool) -> BlockSet {
        let slots = (0..layout.blocks).map(|_| if push { Slot::Missing } else { Slot::Ready(None) }).collect();
        let ready = if push { VecDeque::new() } else { (0..layout.blocks).collect() };
        BlockSet { layout, slots, ready, in_flight: 0, acked: 0, bytes_acked: 0 }
    }

    /// As `new`, with `acked` (sorted, in range) already acknowledged (a resumed upload).
    pub fn resumed(layout: Layout, push: bool, acked: &[u32]) -> BlockSet {
        let mut set = BlockSet::new(layout, push);
        for &num in acked {
            set.slots[num as usize] = Slot::Acked;
            set.acked += 1;
            set.bytes_acked += layout.block_len(num) as u64;
        }
        set.ready.retain(|num| acked.binary_search(num).is_err());
        set
    }

    /// Every block acknowledged (the service has the whole clip).
    pub fn complete(layout: Layout) -> BlockSet {
        let slots = (0..layout.blocks).map(|_| Slot::Acked).collect();
        BlockSet {
            layout,
            slots,
            ready: VecDeque::new(),
            in_flight: 0,
            acked: layout.blocks,
            bytes_acked: layout.file_size,
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn acked(&self) -> u32 {
        self.acked
    }

    pub fn bytes_acked(&self) -> u64 {
        self.bytes_acked
    }

    pub fn is_complete(&self) -> bool {
        self.acked == self.layout.blocks
    }

    /// Nothing ready to send and nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.ready.is_empty() && self.in_flight == 0
    }

    /// Blocks not yet sent (missing or ready), besides those in flight or acknowledged.
    pub fn has_unsent(&self) -> bool {
        self.slots.iter().any(|slot| matches!(slot, Slot::Missing | Slot::Ready(_)))
    }

    /// The next ready block, now in flight.
    pub fn take_ready(&mut self) -> Option<Taken> {
        let num = self.ready.pop_front()?;
        let slot = &mut self.slots[num as usize];
        let Slot::Ready(data) = std::mem::replace(slot, Slot::Missing) else {
            unreachable!("the ready queue holds only ready blocks")
        };
        *slot = Slot::InFlight(data.clone());
        self.in_flight += 1;
        Some(Taken { num, data })
    }

    /// A block in flight goes back to the front of the queue; false when it was not in flight.
    pub fn put_back(&mut self, num: u32) -> bool {
        let Some(slot) = self.slots.get_mut(num as usize) else { return false };
        let Slot::InFlight(data) = slot else { return false };
        *slot = Slot::Ready(data.take());
        self.ready.push_front(num);
        self.in_flight -= 1;
        true
    }

    /// A block in flight was acknowledged (its copy is dropped); false when it was not in flight.
    pub fn ack(&mut self, num: u32) -> bool {
        match self.slots.get_mut(num as usize) {
            Some(slot @ Slot::InFlight(_)) => {
                *slot = Slot::Acked;
                self.in_flight -= 1;
                self.acked += 1;
                self.bytes_acked += self.layout.block_len(num) as u64;
                true
            }
            _ => false,
        }
    }

    /// Whether block `num` may be pushed with `len` bytes: the one check of a pushed block's number and
    /// length, made before it is copied.
    pub fn check_pushable(&self, num: u32, len: usize) -> Result<()> {
        if num >= self.layout.blocks {
            return Err(Error::invalid(format!(
                "block {num} is out of range: this upload has {} blocks",
                self.layout.blocks
            )));
        }
        let want = self.layout.block_len(num);
        if len != want {
            return Err(Error::invalid(format!("block {num} must be {want} bytes long, got {len}")));
        }
        self.check_missing(num)
    }

    /// Whether block `num` (in range) is still to be pushed.
    fn check_missing(&self, num: u32) -> Result<()> {
        if !matches!(self.slots[num as usize], Slot::Missing) {
            return Err(Error::new(ErrorKind::WrongState, format!("block {num} was already pushed")));
        }
        Ok(())
    }

    /// A copy of a block that passed [`BlockSet::check_pushable`], ready to send, unless the same block
    /// was pushed meanwhile.
    pub fn push(&mut self, num: u32, block: Arc<PushedBlock>) -> Result<()> {
        debug_assert_eq!(block.bytes().len(), self.layout.block_len(num), "checked before the copy");
        self.check_missing(num)?;
        self.slots[num as usize] = Slot::Ready(Some(block));
        self.ready.push_back(num);
        Ok(())
    }

    /// Blocks the library does not hold and the service has not acknowledged.
    pub fn missing(&self) -> Vec<u32> {
        (0..self.layout.blocks).filter(|&n| matches!(self.slots[n as usize], Slot::Missing)).collect()
    }

    /// The upload ended: the copies are dropped (giving their budget back) and nothing is sent any more;
    /// the counters stay as they were for the final status.
    pub fn discard(&mut self) {
        self.slots.clear();
        self.ready.clear();
        self.in_flight = 0;
    }

    /// The invariants of the module header.
    #[cfg(test)]
    pub fn check_invariants(&self) {
        let count = |f: fn(&Slot) -> bool| self.slots.iter().filter(|s| f(s)).count() as u32;
        if self.slots.is_empty() {
            assert!(self.ready.is_empty() && self.in_flight == 0, "a discarded set sends nothing");
            return;
        }
        assert_eq!(self.in_flight, count(|s| matches!(s, Slot::InFlight(_))));
        assert_eq!(self.acked, count(|s| matches!(s, Slot::Acked)));
        let bytes: u64 = (0..self.layout.blocks)
            .filter(|&n| matches!(self.slots[n as usize], Slot::Acked))
            .map(|n| self.layout.block_len(n) as u64)
            .sum();
        assert_eq!(self.bytes_acked, bytes);
        let mut ready: Vec<u32> = self.ready.iter().copied().collect();
        ready.sort_unstable();
        let want: Vec<u32> =
            (0..self.layout.blocks).filter(|&n| matches!(self.slots[n as usize], Slot::Ready(_))).collect();
        assert_eq!(ready, want, "the ready queue holds exactly the ready blocks, each once");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::upload::push_budget::PushBudget;

    #[test]
    fn counters_follow_every_transition() {
        let layout = Layout::new(3 * 1024 + 10, 1024);
        let mut set = BlockSet::new(layout, false);
        set.check_invariants();
        let first = set.take_ready().unwrap();
        let second = set.take_ready().unwrap();
        assert_eq!((first.num, second.num), (0, 1));
        set.check_invariants();
        assert!(set.put_back(second.num));
        assert!(!set.put_back(second.num), "only a block in flight goes back");
        assert!(set.ack(first.num));
        assert!(!set.ack(first.num), "a block is acknowledged once");
        set.check_invariants();
        assert_eq!(set.take_ready().unwrap().num, 1, "a block put back goes first");
        while let Some(taken) = set.take_ready() {
            set.ack(taken.num);
        }
        set.ack(1);
        set.check_invariants();
        assert!(set.is_complete() && set.is_idle());
        assert_eq!(set.bytes_acked(), layout.file_size);
        set.discard();
        set.check_invariants();
        assert!(!set.put_back(0) && !set.ack(0) && set.bytes_acked() == layout.file_size);
    }

    #[test]
    fn push_mode_waits_for_each_block_once() {
        let layout = Layout::new(2048 + 1, 1024);
        let budget = Arc::new(PushBudget::new(4096, 1024));
        let mut set = BlockSet::new(layout, true);
        assert_eq!(set.missing(), vec![0, 1, 2]);
        assert!(set.take_ready().is_none());
        assert!(set.check_pushable(3, 1024).is_err());
        assert!(set.check_pushable(2, 1024).is_err(), "the last block is 1 byte");
        set.push(2, Arc::new(PushedBlock::copy_of(&[7], &budget).unwrap())).unwrap();
        let again = set.push(2, Arc::new(PushedBlock::copy_of(&[7], &budget).unwrap())).unwrap_err();
        assert_eq!(again.kind, ErrorKind::WrongState);
        assert_eq!(set.missing(), vec![0, 1]);
        assert!(set.has_unsent());
        set.check_invariants();
        let taken = set.take_ready().unwrap();
        assert_eq!((taken.num, taken.data.unwrap().bytes()), (2, &[7u8][..]));
    }

    #[test]
    fn a_resumed_set_starts_with_its_acknowledged_blocks() {
        let layout = Layout::new(4 * 1024, 1024);
        let set = BlockSet::resumed(layout, false, &[1, 3]);
        set.check_invariants();
        assert_eq!((set.acked(), set.bytes_acked()), (2, 2048));
        let complete = BlockSet::complete(layout);
        complete.check_invariants();
        assert!(complete.is_complete() && !complete.has_unsent());
    }
}
