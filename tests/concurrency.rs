//! 16 threads make random valid and invalid calls on shared handles for 10 s against the emulator;
//! then every surviving upload completes byte-exact; then the client is destroyed while other
//! threads are still calling it, and they get errors, not undefined behaviour.

mod common;

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;
use parking_lot::Mutex;

const THREADS: usize = 16;
const BLOCK: usize = 16 * 1024;

/// One upload the threads share: its handle and the bytes it must end with.
struct Shared {
    handle: ClipsHandle,
    bytes: Arc<Vec<u8>>,
    /// Push mode (else file mode).
    push: bool,
    /// Cancelled or released by some thread: it need not complete.
    abandoned: AtomicBool,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The client pointer, shared with threads (the library is thread-safe by contract).
#[derive(Clone, Copy)]
struct ClientPtr(*mut ClipsClient);
// SAFETY: the C API may be called from any thread; the pointer is only passed to it.
unsafe impl Send for ClientPtr {}
unsafe impl Sync for ClientPtr {}

impl ClientPtr {
    /// Through a method, so closures capture the whole (Send) wrapper, not the raw field.
    fn get(self) -> *mut ClipsClient {
        self.0
    }
}

fn push_block(client: *mut ClipsClient, upload: &Shared, num: usize) -> ClipsResult {
    let bytes = &upload.bytes[num * BLOCK..((num + 1) * BLOCK).min(upload.bytes.len())];
    unsafe { clips_push_block(client, upload.handle, num as u32, bytes.as_ptr(), bytes.len()) }
}

#[test]
fn sixteen_threads_of_random_calls_then_destroy_under_fire() {
    let server = TestServer::start();
    let client = ClientPtr(client(server.url(), |o| {
        o.block_size = BLOCK as u32;
        o.max_buffered_bytes = 4 * 1024 * 1024;
        o.shutdown_timeout_ms = 2000;
    }));
    let uploads: Arc<Mutex<Vec<Arc<Shared>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let dir = server.dir.path().to_path_buf();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (uploads, stop, calls, dir) = (uploads.clone(), stop.clone(), calls.clone(), dir.clone());
            std::thread::spawn(move || {
                let c = client.get();
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1000_0001));
                let scid = CString::new(SCID).unwrap();
                let token = CString::new(token()).unwrap();
                let (mut made, mut cancels, mut releases) = (0, 0, 0);
                while !stop.load(Ordering::Relaxed) {
                    calls.fetch_add(1, Ordering::Relaxed);
                    let pick = {
                        let list = uploads.lock();
                        (!list.is_empty()).then(|| list[rng.below(list.len())].clone())
                    };
                    match rng.below(14) {
                        0 | 1 if made < 12 => {
                            made += 1;
                            let size = 1 + rng.below(6 * BLOCK);
                            let bytes = Arc::new(pattern(size, rng.next()));
                            let push = rng.below(2) == 0;
                            let mut options = upload_options(&scid);
                            let path =
                                CString::new(write_file(&dir, &format!("c-{t}-{made}.bin"), &bytes).to_str().unwrap())
                                    .unwrap();
                            if push {
                                options.file_size = size as u64;
                            } else {
                                options.file_path = path.as_ptr();
                            }
                            let mut handle = 0;
                            assert_eq!(unsafe { clips_begin_upload(c, &options, &mut handle) }, CLIPS_OK);
                            let shared = Shared { handle, bytes, push, abandoned: AtomicBool::new(false) };
                            uploads.lock().push(Arc::new(shared));
                        }
                        2..=4 => {
                            if let Some(u) = pick.filter(|u| u.push) {
                                let blocks = u.bytes.len().div_ceil(BLOCK);
                                let result = push_block(c, &u, rng.below(blocks));
                                assert!(
                                    matches!(
                                        result,
                                        CLIPS_OK | CLIPS_E_WRONG_STATE | CLIPS_E_WOULD_BLOCK | CLIPS_E_INVALID_HANDLE
                                    ),
                                    "push: {result} {}",
                                    last_error()
                                );
                            }
                        }
                        5 | 6 => {
                            let handle = pick.map_or(rng.next(), |u| u.handle);
                            let mut status = new_status();
                            let result = unsafe { clips_poll(c, handle, &mut status) };
                            assert!(matches!(result, CLIPS_OK | CLIPS_E_INVALID_HANDLE), "poll: {result}");
                        }
                        7 => {
                            let mut event = unsafe { std::mem::zeroed::<ClipsEvent>() };
                            unsafe { clips_event_init(&mut event) };
                            let result = unsafe { clips_next_event(c, &mut event) };
                            assert!(matches!(result, CLIPS_OK | CLIPS_NO_EVENT), "next_event: {result}");
                        }
                        8 if cancels < 2 && rng.below(1000) == 0 => {
                            cancels += 1;
                            if let Some(u) = pick {
                                u.abandoned.store(true, Ordering::Relaxed);
                                let result = unsafe { clips_cancel(c, u.handle) };
                                assert!(matches!(result, CLIPS_OK | CLIPS_E_WRONG_STATE | CLIPS_E_INVALID_HANDLE));
                            }
                        }
                        9 if releases < 2 && rng.below(1000) == 0 => {
                            releases += 1;
                            if let Some(u) = pick {
                                u.abandoned.store(true, Ordering::Relaxed);
                                let result = unsafe { clips_release(c, u.handle) };
                                assert!(matches!(result, CLIPS_OK | CLIPS_E_INVALID_HANDLE));
                            }
                        }
                        10 => assert_eq!(unsafe { clips_set_authorization(c, token.as_ptr()) }, CLIPS_OK),
                        11 if rng.below(20) == 0 => {
                            assert_eq!(unsafe { clips_pause(c) }, CLIPS_OK);
                            std::thread::sleep(Duration::from_millis(2));
                            assert_eq!(unsafe { clips_resume(c) }, CLIPS_OK);
                        }
                        12 => {
                            // Invalid on purpose: a NULL status, a foreign handle, garbage block numbers.
                            let handle = pick.map_or(0, |u| u.handle);
                            assert_eq!(
                                unsafe { clips_poll(c, handle, std::ptr::null_mut()) },
                                CLIPS_E_INVALID_ARGUMENT
                            );
                            let junk = [0u8; 8];
                            let result =
                                unsafe { clips_push_block(c, handle ^ 0xFFFF_0000_0000, u32::MAX, junk.as_ptr(), 8) };
                            assert!(result < 0);
                        }
                        _ => {
                            let mut buf = [0u8; 64];
                            let mut len = 0;
                            let handle = pick.map_or(1, |u| u.handle);
                            let result = unsafe { clips_get_clip_id(c, handle, buf.as_mut_ptr().cast(), 64, &mut len) };
                            assert!(
                                matches!(result, CLIPS_OK | CLIPS_E_WRONG_STATE | CLIPS_E_INVALID_HANDLE),
                                "{result}"
                            );
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().expect("a calling thread panicked");
    }
    let c = client.get();
    assert_eq!(unsafe { clips_resume(c) }, CLIPS_OK);

    // Every upload nobody cancelled or released completes byte-exact.
    let uploads = uploads.lock().clone();
    let survivors: Vec<&Arc<Shared>> = uploads.iter().filter(|u| !u.abandoned.load(Ordering::Relaxed)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for upload in &survivors {
        let status = wait_terminal(c, upload.handle, deadline.saturating_duration_since(Instant::now()), || {
            if upload.push {
                let mut missing = [0u32; 64];
                let mut count = 0;
                unsafe { clips_missing_blocks(c, upload.handle, missing.as_mut_ptr(), 64, &mut count) };
                for &num in &missing[..count.min(64)] {
                    push_block(c, upload, num as usize);
                }
            }
        });
        assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(c, upload.handle));
        let record = server.admin(&format!("clips/{}", clip_id(c, upload.handle)));
        assert_eq!(record["sha256"].as_str(), Some(sha256(&upload.bytes).as_str()));
    }
    println!(
        "concurrency: {} calls from {THREADS} threads in 10 s; {} uploads begun, {} survived and completed byte-exact",
        calls.load(Ordering::Relaxed),
        uploads.len(),
        survivors.len()
    );
    assert!(!survivors.is_empty());

    // Destroy while 8 threads keep calling: they get CLIPS_E_SHUTDOWN (or their call finished first).
    let hammering = Arc::new(AtomicBool::new(true));
    let handle = survivors[0].handle;
    let late: Vec<_> = (0..8)
        .map(|_| {
            let hammering = hammering.clone();
            std::thread::spawn(move || {
                let mut refused = 0;
                while hammering.load(Ordering::Relaxed) {
                    let mut status = new_status();
                    match unsafe { clips_poll(client.get(), handle, &mut status) } {
                        CLIPS_OK => {}
                        CLIPS_E_SHUTDOWN => refused += 1,
                        other => panic!("poll during destroy returned {other}"),
                    }
                }
                refused
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    unsafe { clips_client_destroy(c) };
    let destroy = started.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    hammering.store(false, Ordering::Relaxed);
    let refused: usize = late.into_iter().map(|t| t.join().expect("a caller crashed during destroy")).sum();
    println!("destroy under fire: {destroy:?}; {refused} calls refused with CLIPS_E_SHUTDOWN afterwards");
    assert!(refused > 0);
    assert!(destroy < Duration::from_millis(2500));
}
