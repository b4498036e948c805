//! A job's status as of its last change, readable without the job's lock: `clips_poll` runs on the
//! game thread every frame and must never wait for a worker that holds the lock (and may have been
//! preempted holding it). Writers publish under the lock; readers copy the words and retry if a
//! publish overlapped (a sequence lock made of atomics).

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use crate::jobs::status::{End, Published, UploadState, UploadStatus};

/// Instants are stored as nanoseconds after this one (plus one, so 0 means none).
static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

const WORDS: usize = 7;

#[derive(Default)]
pub struct StatusBoard {
    /// Odd while a publish is under way.
    sequence: AtomicU64,
    words: [AtomicU64; WORDS],
}

fn encode(p: &Published) -> [u64; WORDS] {
    let end = match p.end {
        None => 0,
        Some(End::Completed) => 1,
        Some(End::Failed) => 2,
        Some(End::Cancelled) => 3,
    };
    let retry_at = p
        .retry_at
        .map_or(0, |at| u64::try_from(at.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX - 1) + 1);
    let s = &p.status;
    [
        s.state as u64 | end << 8 | u64::from(p.waiting_for_auth) << 16 | u64::from(s.http_status) << 32,
        u64::from(s.result as u32) | u64::from(s.retries) << 32,
        s.bytes_total,
        s.bytes_acked,
        u64::from(s.blocks_total) | u64::from(s.blocks_acked) << 32,
        retry_at,
        s.bytes_wasted,
    ]
}

fn decode(w: [u64; WORDS]) -> Published {
    Published {
        status: UploadStatus {
            state: UploadState::from_code(w[0] as u8 as u32).unwrap_or(UploadState::Creating),
            http_status: (w[0] >> 32) as u16,
            result: w[1] as u32 as i32,
            retries: (w[1] >> 32) as u32,
            bytes_total: w[2],
            bytes_acked: w[3],
            blocks_total: w[4] as u32,
            blocks_acked: (w[4] >> 32) as u32,
            retry_in_ms: 0,
            bytes_wasted: w[6],
        },
        end: match (w[0] >> 8) as u8 {
            1 => Some(End::Completed),
            2 => Some(End::Failed),
            3 => Some(End::Cancelled),
            _ => None,
        },
        waiting_for_auth: (w[0] >> 16) as u8 != 0,
        retry_at: (w[5] != 0).then(|| *EPOCH + Duration::from_nanos(w[5] - 1)),
    }
}

impl StatusBoard {
    /// Callers are serialised (they hold the upload's lock).
    pub fn publish(&self, published: &Published) {
        let words = encode(published);
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence.store(sequence.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (slot, word) in self.words.iter().zip(words) {
            slot.store(word, Ordering::Relaxed);
        }
        self.sequence.store(sequence.wrapping_add(2), Ordering::Release);
    }

    pub fn read(&self) -> Published {
        loop {
            let before = self.sequence.load(Ordering::Acquire);
            if before & 1 == 0 {
                let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
                fence(Ordering::Acquire);
                if self.sequence.load(Ordering::Relaxed) == before {
                    return decode(words);
                }
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_published_reads_back() {
        let board = StatusBoard::default();
        let published = Published {
            status: UploadStatus {
                state: UploadState::WaitingForData,
                result: -13,
                http_status: 507,
                bytes_total: u64::MAX,
                bytes_acked: 12_345,
                blocks_total: u32::MAX,
                blocks_acked: 7,
                retries: 3,
                retry_in_ms: 0,
                bytes_wasted: 4_000_000,
            },
            end: Some(End::Failed),
            waiting_for_auth: true,
            retry_at: Some(Instant::now() + Duration::from_millis(1500)),
        };
        board.publish(&published);
        assert_eq!(board.read(), published);
        let none = Published { retry_at: None, end: None, waiting_for_auth: false, ..published };
        board.publish(&none);
        assert_eq!(board.read(), none);
    }

    #[test]
    fn readers_never_see_a_half_published_status() {
        let board = std::sync::Arc::new(StatusBoard::default());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reads = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let reader = {
            let (board, stop, reads) = (board.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let p = board.read().status;
                    // Every publish below keeps these equal; a torn read would not.
                    assert_eq!(p.bytes_acked, p.bytes_total);
                    assert_eq!(u64::from(p.blocks_acked), p.bytes_acked % 1000);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // The writer goes on until the reader has read many times while it wrote, however late the
        // reader's thread starts (under Wine it started after 200,000 publishes had ended).
        let mut n = 0u64;
        while n < 200_000 || reads.load(Ordering::Relaxed) < 10_000 {
            board.publish(&Published {
                status: UploadStatus {
                    state: UploadState::Uploading,
                    result: 1,
                    http_status: 202,
                    bytes_total: n,
                    bytes_acked: n,
                    blocks_total: 0,
                    blocks_acked: (n % 1000) as u32,
                    retries: 0,
                    retry_in_ms: 0,
                    bytes_wasted: 0,
                },
                end: None,
                waiting_for_auth: false,
                retry_at: None,
            });
            n += 1;
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
    }
}
