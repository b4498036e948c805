//! Every versioned struct through the export that takes it, at every `struct_size` from 0 to its size
//! plus 8. Each call must give a result code (never a crash), must not use what lies past
//! `struct_size`, and must not write past it. Two placements per size:
//!
//! - garbage (0xA5) after `struct_size` bytes: a field read past the size would be a wild pointer, and a
//!   write past it would change the garbage;
//! - the struct ending at an inaccessible page: any read or write past `struct_size` faults.

mod common;

use std::ffi::CString;
use std::ptr;

use common::*;
use gameclips::ffi::*;

const GARBAGE: u8 = 0xA5;

/// Two pages, the second inaccessible: `at_end(len)` is `len` bytes that end where it begins.
struct GuardedPage {
    base: *mut u8,
    page: usize,
}

impl GuardedPage {
    fn new() -> GuardedPage {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: an anonymous private mapping, checked below.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        // SAFETY: the second page of the mapping just made.
        assert_eq!(unsafe { libc::mprotect(base.cast::<u8>().add(page).cast(), page, libc::PROT_NONE) }, 0);
        GuardedPage { base: base.cast(), page }
    }

    fn at_end(&self, len: usize) -> *mut u8 {
        assert!(len <= self.page);
        // SAFETY: within the first page of the mapping.
        unsafe { self.base.add(self.page - len) }
    }
}

impl Drop for GuardedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`.
        unsafe { libc::munmap(self.base.cast(), 2 * self.page) };
    }
}

#[derive(Default, Debug)]
struct Counts {
    calls: usize,
    ok: usize,
    refused: usize,
}

/// Sweeps one struct: `valid` is a struct as its `_init` leaves it plus what the call needs (its own
/// `struct_size` is set per call); `call` passes the struct at the pointer to its export. Only the
/// fields wholly inside `struct_size` hold their valid bytes; a field the size cuts holds garbage.
fn sweep(name: &str, valid: &[u8], call: &mut dyn FnMut(*mut u8) -> ClipsResult) -> Counts {
    let size = valid.len();
    let (_, _, fields) = versioned_structs().into_iter().find(|(n, ..)| *n == name).expect("a versioned struct");
    let guard = GuardedPage::new();
    let mut counts = Counts::default();
    for struct_size in 0..=size + 8 {
        // The caller's struct is at least its size field long; past its struct_size lies garbage.
        let len = struct_size.max(4);
        let mut bytes = vec![GARBAGE; size + 8 + 16];
        for &(_, start, end) in fields.iter().filter(|&&(_, _, end)| end <= struct_size) {
            bytes[start..end].copy_from_slice(&valid[start..end]);
        }
        bytes[..4].copy_from_slice(&(struct_size as u32).to_ne_bytes());
        let before = bytes.clone();
        for placement in ["garbage after it", "a guard page after it"] {
            let at = match placement {
                "garbage after it" => bytes.as_mut_ptr(),
                _ => {
                    let at = guard.at_end(len);
                    // SAFETY: `len` bytes of the mapping's first page; bytes is longer than len.
                    unsafe { ptr::copy_nonoverlapping(before.as_ptr(), at, len) };
                    at
                }
            };
            let result = call(at);
            counts.calls += 1;
            assert!(
                result == CLIPS_OK || result == CLIPS_NO_EVENT || (-13..=-1).contains(&result),
                "{name} at struct_size {struct_size} ({placement}): result {result}"
            );
            if result == CLIPS_OK {
                counts.ok += 1;
            } else {
                counts.refused += 1;
            }
        }
        assert_eq!(bytes[len..], before[len..], "{name}: a write past struct_size {struct_size}");
        assert_eq!(bytes[..4], before[..4], "{name}: struct_size {struct_size} was changed");
    }
    counts
}

fn bytes_of<T: Copy>(value: &T) -> Vec<u8> {
    // SAFETY: a live Copy value read as its bytes.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>()) }.to_vec()
}

/// clips_client_create's result for these options; a client it made is destroyed at once.
fn create_and_destroy(options: *const ClipsClientOptions) -> ClipsResult {
    let mut created = ptr::null_mut();
    let result = unsafe { clips_client_create(options, &mut created) };
    unsafe { clips_client_destroy(created) };
    result
}

unsafe extern "C" fn refuse_send(
    _user: *mut libc::c_void,
    _x: *mut ClipsExchange,
    _request: *const ClipsHttpRequest,
) -> ClipsResult {
    CLIPS_E_INTERNAL
}

unsafe extern "C" fn ignore_cancel(_user: *mut libc::c_void, _x: *mut ClipsExchange) {}

#[test]
fn every_struct_size_of_every_versioned_struct_gives_a_result_code() {
    let server = TestServer::start();
    let url = CString::new(server.url()).unwrap();
    let scid = CString::new(SCID).unwrap();
    let client = client(server.url(), |_| {});
    let mut report = Vec::new();

    // ClipsClientOptions, read by clips_client_create.
    let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut options) };
    options.metadata_base_url = url.as_ptr();
    options.worker_threads = 1;
    let counts = sweep("ClipsClientOptions", &bytes_of(&options), &mut |at| create_and_destroy(at.cast()));
    report.push(("ClipsClientOptions", counts));

    // ClipsTransport and ClipsThreadOptions, read by clips_client_create through the options' pointers.
    let mut transport =
        ClipsTransport { struct_size: 0, user: ptr::null_mut(), send: Some(refuse_send), cancel: Some(ignore_cancel) };
    transport.struct_size = std::mem::size_of::<ClipsTransport>() as u32;
    let counts = sweep("ClipsTransport", &bytes_of(&transport), &mut |at| {
        let mut with = options;
        with.transport = at.cast();
        create_and_destroy(&with)
    });
    report.push(("ClipsTransport", counts));
    let prefix = CString::new("swept").unwrap();
    let mut threads = unsafe { std::mem::zeroed::<ClipsThreadOptions>() };
    threads.struct_size = std::mem::size_of::<ClipsThreadOptions>() as u32;
    threads.name_prefix = prefix.as_ptr();
    let counts = sweep("ClipsThreadOptions", &bytes_of(&threads), &mut |at| {
        let mut with = options;
        with.threads = at.cast();
        create_and_destroy(&with)
    });
    report.push(("ClipsThreadOptions", counts));

    // ClipsUploadOptions, read by clips_begin_upload (push mode; each upload is cancelled at once).
    let mut upload = upload_options(&scid);
    upload.file_size = 1000;
    let counts = sweep("ClipsUploadOptions", &bytes_of(&upload), &mut |at| {
        let mut handle = 0;
        let result = unsafe { clips_begin_upload(client, at.cast(), &mut handle) };
        if result == CLIPS_OK {
            unsafe { clips_cancel(client, handle) };
            unsafe { clips_release(client, handle) };
        }
        result
    });
    report.push(("ClipsUploadOptions", counts));
    drain_events(client);

    // ClipsMetadataUpdate, read by clips_update_metadata (the clip need not exist: only the call's
    // arguments are under test; the operation is cancelled at once).
    let id = CString::new("00000000-0000-0000-0000-000000000001").unwrap();
    let caption = CString::new("swept").unwrap();
    let mut update = unsafe { std::mem::zeroed::<ClipsMetadataUpdate>() };
    unsafe { clips_metadata_update_init(&mut update) };
    update.user_caption = caption.as_ptr();
    let counts = sweep("ClipsMetadataUpdate", &bytes_of(&update), &mut |at| {
        let mut op = 0;
        let result = unsafe { clips_update_metadata(client, scid.as_ptr(), id.as_ptr(), at.cast(), &mut op) };
        if result == CLIPS_OK {
            unsafe { clips_cancel(client, op) };
            unsafe { clips_release(client, op) };
        }
        result
    });
    report.push(("ClipsMetadataUpdate", counts));
    drain_events(client);

    // ClipsStatus, written by clips_poll.
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &upload, &mut handle) }, CLIPS_OK);
    let counts =
        sweep("ClipsStatus", &bytes_of(&new_status()), &mut |at| unsafe { clips_poll(client, handle, at.cast()) });
    report.push(("ClipsStatus", counts));

    // ClipsEvent, written by clips_next_event: each call has an event to take (a cancel queues one).
    let mut event = unsafe { std::mem::zeroed::<ClipsEvent>() };
    unsafe { clips_event_init(&mut event) };
    let counts = sweep("ClipsEvent", &bytes_of(&event), &mut |at| {
        let mut handle = 0;
        assert_eq!(unsafe { clips_begin_upload(client, &upload, &mut handle) }, CLIPS_OK);
        assert_eq!(unsafe { clips_cancel(client, handle) }, CLIPS_OK);
        let result = unsafe { clips_next_event(client, at.cast()) };
        drain_events(client);
        result
    });
    report.push(("ClipsEvent", counts));

    // ClipsClipInfo, written by clips_get_clip_info after a get of a real clip.
    let clip = upload_bytes(client, &pattern(3000, 9), |_| {});
    let clip = CString::new(clip).unwrap();
    let mut op = 0;
    assert_eq!(unsafe { clips_get_clip(client, ptr::null(), scid.as_ptr(), clip.as_ptr(), &mut op) }, CLIPS_OK);
    assert_eq!(wait_op(client, op).result, CLIPS_OK);
    let mut info = unsafe { std::mem::zeroed::<ClipsClipInfo>() };
    unsafe { clips_clip_info_init(&mut info) };
    let counts =
        sweep("ClipsClipInfo", &bytes_of(&info), &mut |at| unsafe { clips_get_clip_info(client, op, at.cast()) });
    report.push(("ClipsClipInfo", counts));

    // Every versioned struct the library reads was swept. It fills ClipsHttpRequest for the title and
    // never reads one; ClipsMemoryHooks is taken once per process, before any other call, so it cannot be
    // swept here (tests/memory_hooks.rs sets it in a process of its own).
    let unswept = ["ClipsHttpRequest", "ClipsMemoryHooks"];
    for (name, ..) in versioned_structs().into_iter().filter(|(name, ..)| !unswept.contains(name)) {
        assert!(report.iter().any(|(swept, _)| *swept == name), "{name} is not swept");
    }
    for (name, counts) in &report {
        println!("{name}: {} calls, {} CLIPS_OK, {} refused with a code", counts.calls, counts.ok, counts.refused);
        assert!(counts.ok > 0, "{name}: no size was accepted");
    }
    unsafe { clips_client_destroy(client) };
}

/// A sized `_init` (what the header's `_init` macro calls) and the struct its full `_init` leaves.
type SizedInit = (&'static str, unsafe fn(*mut u8, usize) -> ClipsResult, fn() -> Vec<u8>);

fn fully_initialised<T: Copy>(init: unsafe extern "C" fn(*mut T)) -> Vec<u8> {
    let mut value = unsafe { std::mem::zeroed::<T>() };
    unsafe { init(&mut value) };
    bytes_of(&value)
}

/// Every sized init at every size from 0 to the struct's size + 8, with garbage and with a guard page
/// right after `size` bytes: nothing is written past `size`; a size that ends between fields gets the
/// defaults' fields and that struct_size; a size inside a field is refused with nothing written; a larger
/// (newer) struct gets our fields, zeros and its own struct_size, and CLIPS_E_INCOMPATIBLE_VERSION.
#[test]
fn sized_inits_write_exactly_the_callers_struct_at_every_size() {
    let inits: [SizedInit; 6] = [
        (
            "ClipsClientOptions",
            |p, n| unsafe { clips_client_options_init_sized(p.cast(), n) },
            || fully_initialised(clips_client_options_init),
        ),
        (
            "ClipsUploadOptions",
            |p, n| unsafe { clips_upload_options_init_sized(p.cast(), n) },
            || fully_initialised(clips_upload_options_init),
        ),
        (
            "ClipsStatus",
            |p, n| unsafe { clips_status_init_sized(p.cast(), n) },
            || fully_initialised(clips_status_init),
        ),
        ("ClipsEvent", |p, n| unsafe { clips_event_init_sized(p.cast(), n) }, || fully_initialised(clips_event_init)),
        (
            "ClipsMetadataUpdate",
            |p, n| unsafe { clips_metadata_update_init_sized(p.cast(), n) },
            || fully_initialised(clips_metadata_update_init),
        ),
        (
            "ClipsClipInfo",
            |p, n| unsafe { clips_clip_info_init_sized(p.cast(), n) },
            || fully_initialised(clips_clip_info_init),
        ),
    ];
    let guard = GuardedPage::new();
    for (name, init, full) in inits {
        let full = full();
        let ours = full.len();
        let (_, _, fields) = versioned_structs().into_iter().find(|(n, ..)| *n == name).unwrap();
        let is_a_version = |size: usize| size >= 4 && !fields.iter().any(|&(_, start, end)| start < size && size < end);
        let mut counts = Counts::default();
        for size in 0..=ours + 8 {
            let mut bytes = vec![GARBAGE; ours + 16];
            let result = unsafe { init(bytes.as_mut_ptr(), size) };
            assert!(bytes[size..].iter().all(|&b| b == GARBAGE), "{name}: a write past size {size}");
            let at = guard.at_end(size);
            // SAFETY: `size` bytes of the mapping's first page.
            unsafe { ptr::write_bytes(at, GARBAGE, size) };
            assert_eq!(unsafe { init(at, size) }, result, "{name} at size {size}: the placements disagree");
            // SAFETY: as above.
            let guarded = unsafe { std::slice::from_raw_parts(at, size) };
            assert_eq!(guarded, &bytes[..size], "{name} at size {size}");

            let stated = || u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize;
            // Field bytes only: padding holds whatever the compiler left there.
            let fields_match = |upto: usize| {
                fields.iter().filter(|&&(field, _, end)| field != "struct_size" && end <= upto).all(
                    |&(field, start, end)| {
                        let same = bytes[start..end] == full[start..end];
                        assert!(same, "{name} at size {size}: field {field} differs from the full _init's");
                        same
                    },
                )
            };
            if size > ours {
                assert_eq!(result, CLIPS_E_INCOMPATIBLE_VERSION, "{name} at size {size}: {}", last_error());
                assert_eq!(stated(), size);
                assert!(fields_match(ours) && bytes[ours..size].iter().all(|&b| b == 0), "{name} at {size}");
            } else if is_a_version(size) {
                assert_eq!(result, CLIPS_OK, "{name} at size {size}: {}", last_error());
                assert_eq!(stated(), size);
                assert!(fields_match(size));
            } else {
                assert_eq!(result, CLIPS_E_INVALID_ARGUMENT, "{name} at size {size}");
                assert!(bytes[..size].iter().all(|&b| b == GARBAGE), "{name}: refused size {size} wrote");
            }
            counts.calls += 2;
            if result == CLIPS_OK {
                counts.ok += 2;
            } else {
                counts.refused += 2;
            }
        }
        println!(
            "{name}_init_sized: {} calls, {} CLIPS_OK, {} refused with a code",
            counts.calls, counts.ok, counts.refused
        );
    }
}
