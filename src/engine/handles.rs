//! Generational handles: a released handle, or one of another client, is recognised as invalid
//! instead of reaching whatever now occupies its slot.
//!
//! Layout of a handle: client tag (16 bits) | generation (24 bits) | slot index (24 bits). The
//! generation starts at 1, so 0 is never a valid handle.

use std::sync::atomic::{AtomicU16, Ordering};

use parking_lot::RwLock;

const INDEX_BITS: u32 = 24;
const GENERATION_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;
const MAX_SLOTS: usize = 1 << INDEX_BITS;

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

struct Slots<T> {
    entries: Vec<Slot<T>>,
    free: Vec<u32>,
}

pub struct HandleTable<T> {
    tag: u16,
    slots: RwLock<Slots<T>>,
}

fn next_client_tag() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(1);
    loop {
        let tag = NEXT.fetch_add(1, Ordering::Relaxed);
        if tag != 0 {
            return tag;
        }
    }
}

impl<T: Clone> HandleTable<T> {
    /// A table whose handles no other table accepts.
    pub fn new() -> HandleTable<T> {
        HandleTable { tag: next_client_tag(), slots: RwLock::new(Slots { entries: Vec::new(), free: Vec::new() }) }
    }

    fn handle(&self, index: u32, generation: u32) -> u64 {
        (u64::from(self.tag) << (INDEX_BITS + GENERATION_BITS))
            | (u64::from(generation) << INDEX_BITS)
            | u64::from(index)
    }

    fn decode(&self, handle: u64) -> Option<(usize, u32)> {
        let tag = (handle >> (INDEX_BITS + GENERATION_BITS)) as u16;
        (tag == self.tag).then_some(((handle & INDEX_MASK) as usize, ((handle >> INDEX_BITS) & GENERATION_MASK) as u32))
    }

    /// Stores the value `make` builds from its own handle; `None` when the table is full.
    pub fn insert_with(&self, make: impl FnOnce(u64) -> T) -> Option<(u64, T)> {
        let mut slots = self.slots.write();
        let index = match slots.free.pop() {
            Some(index) => index,
            None if slots.entries.len() < MAX_SLOTS => {
                slots.entries.push(Slot { generation: 0, value: None });
                (slots.entries.len() - 1) as u32
            }
            None => return None,
        };
        let slot = &mut slots.entries[index as usize];
        slot.generation = match (slot.generation + 1) & GENERATION_MASK as u32 {
            0 => 1,
            g => g,
        };
        let handle = self.handle(index, slot.generation);
        let value = make(handle);
        slot.value = Some(value.clone());
        Some((handle, value))
    }

    pub fn get(&self, handle: u64) -> Option<T> {
        let (index, generation) = self.decode(handle)?;
        let slots = self.slots.read();
        let slot = slots.entries.get(index)?;
        if slot.generation == generation {
            slot.value.clone()
        } else {
            None
        }
    }

    /// Forgets the handle; its value is returned so the caller can finish with it.
    pub fn remove(&self, handle: u64) -> Option<T> {
        let (index, generation) = self.decode(handle)?;
        let mut slots = self.slots.write();
        let slot = slots.entries.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        slots.free.push(index as u32);
        Some(value)
    }

    /// Every live value (for shutdown).
    pub fn values(&self) -> Vec<T> {
        self.slots.read().entries.iter().filter_map(|slot| slot.value.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_zero_and_foreign_handles_are_invalid() {
        let table = HandleTable::new();
        let other = HandleTable::<u64>::new();
        let (a, _) = table.insert_with(|h| h).unwrap();
        assert_ne!(a, 0);
        assert_eq!(table.get(a), Some(a));
        assert_eq!(other.get(a), None);
        assert_eq!(table.get(0), None);
        assert_eq!(table.remove(a), Some(a));
        assert_eq!(table.get(a), None);
        // The slot is reused with a new generation: the old handle stays dead.
        let (b, _) = table.insert_with(|h| h).unwrap();
        assert_ne!(a, b);
        assert_eq!(a & INDEX_MASK, b & INDEX_MASK);
        assert_eq!(table.get(a), None);
        assert_eq!(table.remove(a), None);
        assert_eq!(table.get(b), Some(b));
    }
}
