//! Uploads finish on the uplinks players have, not only on a fast loopback: a 1.2 Mbit/s link (the
//! emulator's shared-link bandwidth) carries a clip of 13 default blocks with the default settings, in
//! close to the physical minimum and with little sent for nothing. The link, not this machine, sets
//! the pace: the wait is real (about three minutes).

mod common;

use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::Faults;

#[test]
fn a_150_kb_per_s_uplink_carries_13_blocks_within_1_3_times_its_minimum_wasting_under_a_tenth() {
    const LINK: u64 = 150_000;
    let server = TestServer::with_faults(Faults { link_bandwidth: LINK, ..Faults::default() });
    // Every setting that decides concurrency and deadlines at its default.
    let client = client(server.url(), |_| {});
    let source = pattern(24 * MIB, 21);
    assert!(source.len().div_ceil(BLOCK) >= 12);
    let path = write_file(server.dir.path(), "slow-link.mp4", &source);
    let minimum = source.len() as f64 / LINK as f64;

    let started = Instant::now();
    let handle = begin_file(client, &path);
    let status = wait_terminal(client, handle, Duration::from_secs_f64(minimum * 3.0), || {
        std::thread::sleep(Duration::from_millis(200))
    });
    let took = started.elapsed().as_secs_f64();
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    assert_arrived(&server, client, handle, &source);

    let stats = server.admin("stats");
    let received = stats["bodyBytesReceived"].as_u64().unwrap();
    // What the emulator received beyond the clip itself (the initial call's few hundred bytes aside).
    let wasted = received.saturating_sub(source.len() as u64);
    println!(
        "{} MiB at {} KB/s: {took:.1} s ({:.2}x the {minimum:.1} s minimum); emulator received {received} bytes, \
         {wasted} beyond the clip ({:.1}%); the library counted {} wasted; {} connections opened, at most {} \
         requests in flight",
        source.len() / MIB,
        LINK / 1000,
        took / minimum,
        100.0 * wasted as f64 / received as f64,
        status.bytes_wasted,
        stats["connectionsAccepted"],
        stats["peakConcurrentRequests"],
    );
    assert!(took <= minimum * 1.3, "took {took:.1} s, over 1.3 x the {minimum:.1} s minimum");
    assert!(wasted * 10 <= received, "{wasted} of {received} bytes received were wasted");
    assert!(status.bytes_wasted <= wasted + 1_000, "the library counts no more than went out for nothing");
    unsafe { clips_client_destroy(client) };
}
