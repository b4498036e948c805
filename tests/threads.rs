//! `ClipsThreadOptions` through the C ABI: `/proc/self/task` shows the library's threads with the name
//! prefix and the CPU affinity asked; with `start_thread`, every thread comes from the title (none of
//! the library's own making) and destroy waits for their entries to return.

mod common;

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;

/// (name, allowed CPUs) of every thread of this process.
fn tasks() -> Vec<(String, String)> {
    let mut tasks = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let dir = entry.path();
        let (Ok(comm), Ok(status)) =
            (std::fs::read_to_string(dir.join("comm")), std::fs::read_to_string(dir.join("status")))
        else {
            continue; // the thread ended meanwhile
        };
        let cpus = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap_or("").trim().to_string();
        tasks.push((comm.trim().to_string(), cpus));
    }
    tasks
}

fn named(prefix: &str) -> Vec<(String, String)> {
    tasks().into_iter().filter(|(name, _)| name.starts_with(prefix)).collect()
}

fn thread_options() -> ClipsThreadOptions {
    let mut threads = unsafe { std::mem::zeroed::<ClipsThreadOptions>() };
    threads.struct_size = std::mem::size_of::<ClipsThreadOptions>() as u32;
    threads
}

#[test]
fn threads_carry_the_prefix_and_the_affinity_asked() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let server = TestServer::start();
    let prefix = CString::new("gcx").unwrap();
    let mut threads = thread_options();
    threads.name_prefix = prefix.as_ptr();
    threads.affinity_mask = 1; // CPU 0
    threads.stack_size = 512 * 1024;
    let c = client(server.url(), |o| {
        o.worker_threads = 3;
        o.threads = &threads;
    });
    // Each thread names (and pins) itself as it starts.
    let deadline = Instant::now() + Duration::from_secs(5);
    let ready = || {
        let mine = named("gcx-");
        mine.len() == 3 && mine.iter().all(|(_, cpus)| cpus == "0")
    };
    while !ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mine = named("gcx-");
    let mut names: Vec<&str> = mine.iter().map(|(name, _)| name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["gcx-worker-0", "gcx-worker-1", "gcx-worker-2"], "{mine:?}");
    assert!(mine.iter().all(|(_, cpus)| cpus == "0"), "every worker pinned to CPU 0: {mine:?}");
    println!("threads: {mine:?}");
    let bytes = pattern(3 * BLOCK + 5, 9);
    let id = upload_bytes(c, &bytes, |_| {});
    assert_eq!(server.admin(&format!("clips/{id}"))["sha256"].as_str(), Some(sha256(&bytes).as_str()));
    unsafe { clips_client_destroy(c) };
    assert!(named("gcx-").is_empty(), "the workers ended with destroy");
}

static STARTED: AtomicU32 = AtomicU32::new(0);
static RETURNED: AtomicU32 = AtomicU32::new(0);
static NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The title's thread API: a thread of the title's naming, running the library's entry.
unsafe extern "C" fn title_start_thread(
    user: *mut libc::c_void,
    name: *const libc::c_char,
    entry: Option<unsafe extern "C" fn(*mut libc::c_void)>,
    arg: *mut libc::c_void,
) -> ClipsResult {
    assert_eq!(user as usize, 0x7177, "the user pointer comes back");
    NAMES.lock().unwrap().push(unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_string());
    STARTED.fetch_add(1, Ordering::SeqCst);
    let arg = arg as usize;
    std::thread::Builder::new()
        .name("title-job".into())
        .spawn(move || {
            unsafe { entry.unwrap()(arg as *mut libc::c_void) };
            RETURNED.fetch_add(1, Ordering::SeqCst);
        })
        .map_or(CLIPS_E_INTERNAL, |_| CLIPS_OK)
}

unsafe extern "C" fn refusing_start_thread(
    _user: *mut libc::c_void,
    _name: *const libc::c_char,
    _entry: Option<unsafe extern "C" fn(*mut libc::c_void)>,
    _arg: *mut libc::c_void,
) -> ClipsResult {
    CLIPS_E_INTERNAL
}

#[test]
fn with_start_thread_every_thread_is_the_titles_and_destroy_waits_for_their_entries() {
    let server = TestServer::start();
    let prefix = CString::new("gcy").unwrap();
    let mut threads = thread_options();
    threads.name_prefix = prefix.as_ptr();
    threads.start_thread = Some(title_start_thread);
    threads.user = 0x7177 as *mut libc::c_void;
    let c = client(server.url(), |o| {
        o.worker_threads = 2;
        o.threads = &threads;
        o.shutdown_timeout_ms = 2000;
    });
    assert_eq!(STARTED.load(Ordering::SeqCst), 2);
    assert_eq!(*NAMES.lock().unwrap(), ["gcy-worker-0", "gcy-worker-1"]);
    if cfg!(target_os = "linux") {
        // The title's threads name themselves as they start.
        let deadline = Instant::now() + Duration::from_secs(5);
        while named("title-job").len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(named("title-job").len(), 2, "{:?}", tasks());
        assert!(named("gcy-").is_empty(), "a thread of the library's own making: {:?}", tasks());
    }
    let bytes = pattern(2 * BLOCK + 1, 4);
    let id = upload_bytes(c, &bytes, |_| {});
    assert_eq!(server.admin(&format!("clips/{id}"))["sha256"].as_str(), Some(sha256(&bytes).as_str()));
    let destroying = Instant::now();
    unsafe { clips_client_destroy(c) };
    let destroy = destroying.elapsed();
    assert!(destroy < Duration::from_millis(2500), "destroy took {destroy:?}");
    // Destroy returned once both entries' bodies were done; the entries return right after.
    let deadline = Instant::now() + Duration::from_secs(1);
    while RETURNED.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the entries did not return");
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("start_thread: 2 threads from the title, destroy in {destroy:?}");

    // A title that cannot start a thread: no client, and it says why.
    threads.start_thread = Some(refusing_start_thread);
    let url = CString::new(server.url()).unwrap();
    let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut options) };
    options.metadata_base_url = url.as_ptr();
    options.flags = CLIPS_FLAG_ALLOW_INSECURE_HTTP;
    options.threads = &threads;
    let mut refused = std::ptr::null_mut();
    assert_ne!(unsafe { clips_client_create(&options, &mut refused) }, CLIPS_OK);
    assert!(last_error().contains("start_thread(gcy-worker-0): returned -100"), "{}", last_error());
    assert!(refused.is_null());
}
