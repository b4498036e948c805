//! Bad input from C: every export, given NULLs, dead or foreign handles, wrong blocks, invalid UTF-8,
//! over-long fields or a struct from a newer header, returns the documented code and explains it in
//! `clips_last_error_message`. Never a crash. One test runs every case and then checks, from the names
//! the panic boundary recorded, that every export in `src/ffi/exports.txt` (which another test holds to
//! the library's export table) was called, each under its own name.

mod common;

use std::ffi::CString;
use std::ptr::{null, null_mut};

use common::*;
use gameclips::ffi::*;

/// The call returned `code`, and the thread's last error mentions `needle`.
#[track_caller]
fn expect(result: ClipsResult, code: ClipsResult, needle: &str) {
    let message = last_error();
    assert_eq!(result, code, "expected {code}, got {result}: {message}");
    assert!(message.contains(needle), "the message {message:?} does not mention {needle:?}");
}

fn event() -> ClipsEvent {
    let mut e = unsafe { std::mem::zeroed::<ClipsEvent>() };
    unsafe { clips_event_init(&mut e) };
    e
}

fn null_pointers_are_refused_by_every_export() {
    let server = TestServer::start();
    let c = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let options = upload_options(&scid);
    let mut h = 0;
    let mut size = 0usize;
    let mut buf = [0u8; 64];
    let data = [0u8; 16];
    let mut s = new_status();
    let mut e = event();
    let mut list = [0u32; 4];
    let mut handles = [0u64; 4];
    let mut client_out = null_mut();
    let mut client_options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut client_options) };

    unsafe {
        // Options init, status init and destroy take NULL as a no-op.
        clips_client_options_init(null_mut());
        clips_upload_options_init(null_mut());
        clips_status_init(null_mut());
        clips_event_init(null_mut());
        clips_client_destroy(null_mut());

        expect(clips_client_create(null(), &mut client_out), CLIPS_E_INVALID_ARGUMENT, "options is NULL");
        expect(clips_client_create(&client_options, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out is NULL");
        expect(clips_set_authorization(null_mut(), c"x".as_ptr()), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_set_authorization(c, null()), CLIPS_E_INVALID_ARGUMENT, "header_value is NULL");
        expect(clips_pause(null_mut()), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_resume(null_mut()), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_set_bandwidth_limit(null_mut(), 1), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_suspend(null_mut(), 100), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_set_memory_hooks(null()), CLIPS_E_INVALID_ARGUMENT, "hooks is NULL");
        clips_release_thread_memory();
        expect(clips_set_network_status(null_mut(), CLIPS_NETWORK_ONLINE), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_last_error_message(buf.as_mut_ptr().cast(), buf.len(), null_mut()), CLIPS_E_INVALID_ARGUMENT, "");

        expect(clips_begin_upload(null_mut(), &options, &mut h), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_begin_upload(c, null(), &mut h), CLIPS_E_INVALID_ARGUMENT, "options is NULL");
        expect(clips_begin_upload(c, &options, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_upload is NULL");
        let mut no_scid = options;
        no_scid.scid = null();
        expect(clips_begin_upload(c, &no_scid, &mut h), CLIPS_E_INVALID_ARGUMENT, "scid is NULL");
        let mut no_users = options;
        no_users.file_size = 10;
        no_users.users_in_session_count = 2;
        expect(clips_begin_upload(c, &no_users, &mut h), CLIPS_E_INVALID_ARGUMENT, "users_in_session is NULL");
        let users = [c"a".as_ptr(), null()];
        no_users.users_in_session = users.as_ptr();
        expect(clips_begin_upload(c, &no_users, &mut h), CLIPS_E_INVALID_ARGUMENT, "users_in_session[i] is NULL");

        let mut push = options;
        push.file_size = 16;
        assert_eq!(clips_begin_upload(c, &push, &mut h), CLIPS_OK);
        expect(clips_push_block(null_mut(), h, 0, data.as_ptr(), 16), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_push_block(c, h, 0, null(), 16), CLIPS_E_INVALID_ARGUMENT, "data is NULL");
        expect(
            clips_missing_blocks(null_mut(), h, list.as_mut_ptr(), 4, &mut size),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(
            clips_missing_blocks(c, h, list.as_mut_ptr(), 4, null_mut()),
            CLIPS_E_INVALID_ARGUMENT,
            "out_count is NULL",
        );
        expect(clips_missing_blocks(c, h, null_mut(), 4, &mut size), CLIPS_E_INVALID_ARGUMENT, "out is NULL");
        expect(clips_cancel(null_mut(), h), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_release(null_mut(), h), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(
            clips_resumed_uploads(null_mut(), handles.as_mut_ptr(), 4, &mut size),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(
            clips_resumed_uploads(c, handles.as_mut_ptr(), 4, null_mut()),
            CLIPS_E_INVALID_ARGUMENT,
            "out_count is NULL",
        );
        assert_eq!(clips_resumed_uploads(c, null_mut(), 0, &mut size), CLIPS_OK);
        assert_eq!(size, 0);

        expect(clips_poll(null_mut(), h, &mut s), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_poll(c, h, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out is NULL");
        expect(
            clips_get_clip_id(null_mut(), h, buf.as_mut_ptr().cast(), 64, &mut size),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(
            clips_get_error_message(null_mut(), h, buf.as_mut_ptr().cast(), 64, &mut size),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(
            clips_get_error_message(c, h, buf.as_mut_ptr().cast(), 64, null_mut()),
            CLIPS_E_INVALID_ARGUMENT,
            "out_len is NULL",
        );
        expect(clips_get_error_message(c, h, null_mut(), 64, &mut size), CLIPS_E_INVALID_ARGUMENT, "buf is NULL");
        expect(clips_next_event(null_mut(), &mut e), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_next_event(c, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out is NULL");
        // The clip id is not known yet, so its getter is checked after an upload completes (below).
        let source = [7u8; 16];
        assert_eq!(clips_push_block(c, h, 0, source.as_ptr(), 16), CLIPS_OK);
        let done = wait_terminal(c, h, std::time::Duration::from_secs(10), || {});
        assert_eq!(done.state, CLIPS_STATE_COMPLETED);
        expect(
            clips_get_clip_id(c, h, buf.as_mut_ptr().cast(), 64, null_mut()),
            CLIPS_E_INVALID_ARGUMENT,
            "out_len is NULL",
        );
        expect(clips_get_clip_id(c, h, null_mut(), 64, &mut size), CLIPS_E_INVALID_ARGUMENT, "buf is NULL");
        // Too small a buffer: the size needed, nothing else written.
        buf[0] = b'#';
        expect(clips_get_clip_id(c, h, buf.as_mut_ptr().cast(), 4, &mut size), CLIPS_E_BUFFER_TOO_SMALL, "needed");
        assert_eq!((size, buf[0]), (37, b'#'));
        clips_client_destroy(c);
    }
}

/// The sized `_init` forms (what the header's `_init` macros call) refuse NULL, sizes that are no
/// version's and sizes past `u32`, each with a message naming the struct.
fn sized_inits_refuse_null_and_sizes_of_no_version() {
    type SizedInit = unsafe fn(*mut u8, usize) -> ClipsResult;
    let inits: [(&str, SizedInit); 6] = [
        ("ClipsClientOptions", |p, n| unsafe { clips_client_options_init_sized(p.cast(), n) }),
        ("ClipsUploadOptions", |p, n| unsafe { clips_upload_options_init_sized(p.cast(), n) }),
        ("ClipsStatus", |p, n| unsafe { clips_status_init_sized(p.cast(), n) }),
        ("ClipsEvent", |p, n| unsafe { clips_event_init_sized(p.cast(), n) }),
        ("ClipsMetadataUpdate", |p, n| unsafe { clips_metadata_update_init_sized(p.cast(), n) }),
        ("ClipsClipInfo", |p, n| unsafe { clips_clip_info_init_sized(p.cast(), n) }),
    ];
    for (name, init) in inits {
        expect(unsafe { init(null_mut(), 64) }, CLIPS_E_INVALID_ARGUMENT, &format!("{name} is NULL"));
        let mut bytes = [0x5Au8; 8];
        expect(unsafe { init(bytes.as_mut_ptr(), 2) }, CLIPS_E_INVALID_ARGUMENT, "not the size of any version");
        assert_eq!(bytes, [0x5A; 8], "{name}: a refused init wrote something");
        expect(unsafe { init(bytes.as_mut_ptr(), usize::MAX) }, CLIPS_E_INVALID_ARGUMENT, name);
        assert_eq!(bytes, [0x5A; 8], "{name}: a refused init wrote something");
    }
}

fn dead_zero_and_foreign_handles_are_invalid() {
    let server = TestServer::start();
    let c = client(server.url(), |_| {});
    let other = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = 100;
    let (mut mine, mut theirs, mut released) = (0, 0, 0);
    let data = [0u8; 100];
    let mut s = new_status();
    let mut buf = [0u8; 64];
    let mut size = 0usize;
    let mut list = [0u32; 4];
    unsafe {
        assert_eq!(clips_begin_upload(c, &options, &mut mine), CLIPS_OK);
        assert_eq!(clips_begin_upload(other, &options, &mut theirs), CLIPS_OK);
        assert_eq!(clips_begin_upload(c, &options, &mut released), CLIPS_OK);
        assert_eq!(clips_release(c, released), CLIPS_OK);
        for h in [0, released, theirs, u64::MAX] {
            expect(clips_poll(c, h, &mut s), CLIPS_E_INVALID_HANDLE, "handle");
            expect(clips_push_block(c, h, 0, data.as_ptr(), 100), CLIPS_E_INVALID_HANDLE, "handle");
            expect(clips_missing_blocks(c, h, list.as_mut_ptr(), 4, &mut size), CLIPS_E_INVALID_HANDLE, "handle");
            expect(clips_cancel(c, h), CLIPS_E_INVALID_HANDLE, "handle");
            expect(clips_release(c, h), CLIPS_E_INVALID_HANDLE, "handle");
            expect(clips_get_clip_id(c, h, buf.as_mut_ptr().cast(), 64, &mut size), CLIPS_E_INVALID_HANDLE, "handle");
            expect(
                clips_get_error_message(c, h, buf.as_mut_ptr().cast(), 64, &mut size),
                CLIPS_E_INVALID_HANDLE,
                "handle",
            );
        }
        // The foreign handle still works with its own client.
        assert_eq!(clips_poll(other, theirs, &mut s), CLIPS_OK);
        assert_eq!(clips_poll(c, mine, &mut s), CLIPS_OK);
        // The clip id is not known before the initial call answers... or is, if it already has.
        let id = clips_get_clip_id(c, mine, buf.as_mut_ptr().cast(), 64, &mut size);
        assert!(id == CLIPS_OK || id == CLIPS_E_WRONG_STATE);
        clips_client_destroy(other);
        // A destroyed client's pointer is refused, not dereferenced.
        expect(clips_poll(other, theirs, &mut s), CLIPS_E_SHUTDOWN, "destroyed");
        expect(clips_pause(other), CLIPS_E_SHUTDOWN, "destroyed");
        expect(clips_suspend(other, 0), CLIPS_E_SHUTDOWN, "destroyed");
        expect(clips_set_network_status(other, CLIPS_NETWORK_OFFLINE), CLIPS_E_SHUTDOWN, "destroyed");
        expect(clips_set_network_status(c, 2), CLIPS_E_INVALID_ARGUMENT, "not a CLIPS_NETWORK_* value");
        clips_client_destroy(other); // twice: a no-op
        clips_client_destroy(c);
    }
}

fn wrong_blocks_are_refused_and_keep_nothing() {
    let server = TestServer::start();
    let c = client(server.url(), |o| o.block_size = 1024);
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = 2500; // blocks of 1024, 1024, 452
    let mut h = 0;
    let source = pattern(2500, 5);
    let big = vec![0u8; 2 * 1024 * 1024 + 1];
    let mut missing = [0u32; 8];
    let mut count = 0usize;
    unsafe {
        assert_eq!(clips_begin_upload(c, &options, &mut h), CLIPS_OK);
        expect(clips_push_block(c, h, 3, source.as_ptr(), 452), CLIPS_E_INVALID_ARGUMENT, "out of range");
        expect(clips_push_block(c, h, u32::MAX, source.as_ptr(), 1024), CLIPS_E_INVALID_ARGUMENT, "out of range");
        expect(clips_push_block(c, h, 0, source.as_ptr(), 1000), CLIPS_E_INVALID_ARGUMENT, "must be 1024 bytes");
        expect(clips_push_block(c, h, 2, source.as_ptr(), 1024), CLIPS_E_INVALID_ARGUMENT, "must be 452 bytes");
        expect(clips_push_block(c, h, 0, big.as_ptr(), big.len()), CLIPS_E_INVALID_ARGUMENT, "CLIPS_MAX_BLOCK_SIZE");
        assert_eq!(clips_missing_blocks(c, h, missing.as_mut_ptr(), 8, &mut count), CLIPS_OK);
        assert_eq!(&missing[..count], &[0, 1, 2], "a refused block was kept");
        expect(clips_missing_blocks(c, h, missing.as_mut_ptr(), 2, &mut count), CLIPS_E_BUFFER_TOO_SMALL, "needed");
        assert_eq!(count, 3);

        assert_eq!(clips_push_block(c, h, 2, source[2048..].as_ptr(), 452), CLIPS_OK);
        expect(clips_push_block(c, h, 2, source[2048..].as_ptr(), 452), CLIPS_E_WRONG_STATE, "already pushed");
        assert_eq!(clips_push_block(c, h, 0, source.as_ptr(), 1024), CLIPS_OK);
        assert_eq!(clips_push_block(c, h, 1, source[1024..].as_ptr(), 1024), CLIPS_OK);
        let done = wait_terminal(c, h, std::time::Duration::from_secs(10), || {});
        assert_eq!(done.state, CLIPS_STATE_COMPLETED, "{}", error_message(c, h));
        let record = server.admin(&format!("clips/{}", clip_id(c, h)));
        assert_eq!(record["sha256"].as_str(), Some(sha256(&source).as_str()));
        expect(clips_push_block(c, h, 0, source.as_ptr(), 1024), CLIPS_E_WRONG_STATE, "completed");
        expect(clips_cancel(c, h), CLIPS_E_WRONG_STATE, "finished");

        // A file-mode upload takes no pushed blocks.
        let path = CString::new(write_file(server.dir.path(), "f", &source).to_str().unwrap()).unwrap();
        let mut file = upload_options(&scid);
        file.file_path = path.as_ptr();
        let mut fh = 0;
        assert_eq!(clips_begin_upload(c, &file, &mut fh), CLIPS_OK);
        expect(clips_push_block(c, fh, 0, source.as_ptr(), 1024), CLIPS_E_WRONG_STATE, "file mode");
        clips_client_destroy(c);
    }
}

fn invalid_text_values_and_newer_structs_are_refused() {
    let server = TestServer::start();
    let c = client(server.url(), |_| {});
    let scid = CString::new(SCID).unwrap();
    let bad_utf8 = b"caf\xc3\x28\0";
    let long_caption = CString::new("é".repeat(251)).unwrap();
    let ok_caption = CString::new("é".repeat(250)).unwrap();
    let big_title_data = CString::new("x".repeat(10 * 1024 + 1)).unwrap();
    let mut h = 0;
    unsafe {
        let base = {
            let mut o = upload_options(&scid);
            o.file_size = 10;
            o
        };
        let mut o = base;
        o.user_caption = bad_utf8.as_ptr().cast();
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "user_caption is not valid UTF-8");
        let mut o = base;
        o.scid = bad_utf8.as_ptr().cast();
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "scid is not valid UTF-8");
        expect(clips_set_authorization(c, bad_utf8.as_ptr().cast()), CLIPS_E_INVALID_ARGUMENT, "not valid UTF-8");
        let mut o = base;
        o.user_caption = long_caption.as_ptr();
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "251 characters");
        o.user_caption = ok_caption.as_ptr();
        assert_eq!(clips_begin_upload(c, &o, &mut h), CLIPS_OK, "250 characters are allowed");
        let mut o = base;
        o.title_data = big_title_data.as_ptr();
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "title_data");
        let mut o = base;
        o.visibility = 99;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "Visibility 99");
        let mut o = base;
        o.source = 5;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "ClipSource 5");
        let mut o = base;
        o.clip_types = 1 << 20;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "clip_types");
        let mut o = base;
        o.file_size = 0;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "file_size 0");
        o.file_size = 1 << 32;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "file_size");
        let mut o = base;
        o.scid = c"../../admin".as_ptr();
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "scid");
        let mut o = base;
        let raw = &mut o as *mut ClipsUploadOptions as *mut u8;
        *raw.add(std::mem::offset_of!(ClipsUploadOptions, saved_by_user)) = 7;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "bool");

        // A struct from a newer header (bigger) is refused; one from an older header is accepted.
        let mut o = base;
        o.struct_size += 8;
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INCOMPATIBLE_VERSION, "newer header");
        let mut o = base;
        o.struct_size = std::mem::offset_of!(ClipsUploadOptions, duration_seconds) as u32;
        assert_eq!(clips_begin_upload(c, &o, &mut h), CLIPS_OK, "{}", last_error());
        o.struct_size = 13; // inside a field: no version of the struct is that long
        expect(clips_begin_upload(c, &o, &mut h), CLIPS_E_INVALID_ARGUMENT, "struct_size 13");
        let mut s = new_status();
        s.struct_size += 4;
        expect(clips_poll(c, h, &mut s), CLIPS_E_INCOMPATIBLE_VERSION, "newer header");
        let mut e = event();
        e.struct_size = 1000;
        expect(clips_next_event(c, &mut e), CLIPS_E_INCOMPATIBLE_VERSION, "newer header");
        // An older, shorter status struct gets only its own fields.
        let mut short = [0xAAu8; 64];
        let old_size = std::mem::offset_of!(ClipsStatus, bytes_total) as u32;
        short[..4].copy_from_slice(&old_size.to_ne_bytes());
        assert_eq!(clips_poll(c, h, short.as_mut_ptr().cast()), CLIPS_OK);
        assert!(short[old_size as usize..].iter().all(|&b| b == 0xAA), "wrote past the caller's struct_size");

        let mut co = std::mem::zeroed::<ClipsClientOptions>();
        clips_client_options_init(&mut co);
        let mut out = null_mut();
        co.struct_size += 8;
        expect(clips_client_create(&co, &mut out), CLIPS_E_INCOMPATIBLE_VERSION, "newer header");
        clips_client_options_init(&mut co);
        co.block_size = 100;
        expect(clips_client_create(&co, &mut out), CLIPS_E_INVALID_ARGUMENT, "block_size");
        clips_client_options_init(&mut co);
        co.metadata_base_url = c"http://example.com".as_ptr();
        expect(clips_client_create(&co, &mut out), CLIPS_E_INVALID_ARGUMENT, "plain http");
        clips_client_options_init(&mut co);
        co.metadata_base_url = bad_utf8.as_ptr().cast();
        expect(clips_client_create(&co, &mut out), CLIPS_E_INVALID_ARGUMENT, "metadata_base_url is not valid UTF-8");
        clips_client_options_init(&mut co);
        co.flags = 0x80;
        expect(clips_client_create(&co, &mut out), CLIPS_E_INVALID_ARGUMENT, "flags");
        assert!(out.is_null(), "out was written on failure");
        clips_client_destroy(c);
    }
}

fn static_strings_and_versions() {
    unsafe {
        assert_eq!(clips_abi_version(), CLIPS_ABI_VERSION);
        let version = std::ffi::CStr::from_ptr(clips_version_string()).to_str().unwrap();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        let name = |r| std::ffi::CStr::from_ptr(clips_result_name(r)).to_str().unwrap();
        assert_eq!(name(CLIPS_E_WOULD_BLOCK), "CLIPS_E_WOULD_BLOCK");
        assert_eq!(name(CLIPS_OK), "CLIPS_OK");
        assert_eq!(name(12345), "CLIPS_UNKNOWN_RESULT");
    }
}

fn operation_exports_refuse_bad_arguments_before_sending_anything() {
    let server = TestServer::start();
    let c = client(server.url(), |_| {});
    let (scid, id, owner) = (c"scid-1".as_ptr(), c"5e1f7a3c-0d2b".as_ptr(), c"2533274800000002".as_ptr());
    let mut op = 0;
    let mut update = unsafe { std::mem::zeroed::<ClipsMetadataUpdate>() };
    let mut info = unsafe { std::mem::zeroed::<ClipsClipInfo>() };
    let (mut buf, mut len) = ([0u8; 64], 0usize);
    let bad_utf8 = [0xC3u8, 0x28, 0].as_ptr().cast::<libc::c_char>();
    unsafe {
        clips_metadata_update_init(null_mut());
        clips_clip_info_init(null_mut());
        clips_metadata_update_init(&mut update);
        clips_clip_info_init(&mut info);
        update.user_caption = c"fine".as_ptr();

        // NULL client, NULL required strings, NULL out pointers.
        expect(
            clips_update_metadata(null_mut(), scid, id, &update, &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(clips_update_metadata(c, null(), id, &update, &mut op), CLIPS_E_INVALID_ARGUMENT, "scid is NULL");
        expect(
            clips_update_metadata(c, scid, null(), &update, &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "game_clip_id is NULL",
        );
        expect(clips_update_metadata(c, scid, id, null(), &mut op), CLIPS_E_INVALID_ARGUMENT, "update is NULL");
        expect(clips_update_metadata(c, scid, id, &update, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(clips_rate_clip(null_mut(), owner, scid, id, 3, &mut op), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_rate_clip(c, owner, null(), id, 3, &mut op), CLIPS_E_INVALID_ARGUMENT, "scid is NULL");
        expect(clips_rate_clip(c, owner, scid, null(), 3, &mut op), CLIPS_E_INVALID_ARGUMENT, "game_clip_id is NULL");
        expect(clips_rate_clip(c, owner, scid, id, 3, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(clips_flag_clip(null_mut(), owner, scid, id, &mut op), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_flag_clip(c, owner, null(), id, &mut op), CLIPS_E_INVALID_ARGUMENT, "scid is NULL");
        expect(clips_flag_clip(c, owner, scid, id, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(clips_record_view(null_mut(), owner, scid, id, &mut op), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_record_view(c, owner, scid, null(), &mut op), CLIPS_E_INVALID_ARGUMENT, "game_clip_id is NULL");
        expect(clips_record_view(c, owner, scid, id, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(clips_delete_clip(null_mut(), scid, id, &mut op), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_delete_clip(c, null(), id, &mut op), CLIPS_E_INVALID_ARGUMENT, "scid is NULL");
        expect(clips_delete_clip(c, scid, id, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(clips_get_clip(null_mut(), owner, scid, id, &mut op), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_get_clip(c, owner, scid, null(), &mut op), CLIPS_E_INVALID_ARGUMENT, "game_clip_id is NULL");
        expect(clips_get_clip(c, owner, scid, id, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(
            clips_list_clips(null_mut(), owner, scid, 10, null(), &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(clips_list_clips(c, owner, scid, 10, null(), null_mut()), CLIPS_E_INVALID_ARGUMENT, "out_op is NULL");
        expect(
            clips_download_clip(null_mut(), owner, scid, id, c"/tmp/x".as_ptr(), &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(
            clips_download_clip(c, owner, scid, id, null(), &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "destination_path is NULL",
        );
        expect(
            clips_download_clip(c, owner, scid, id, c"".as_ptr(), &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "destination path is empty",
        );
        expect(
            clips_download_clip(c, owner, scid, id, c"/tmp/x".as_ptr(), null_mut()),
            CLIPS_E_INVALID_ARGUMENT,
            "out_op is NULL",
        );
        expect(
            clips_get_result_json(null_mut(), 1, buf.as_mut_ptr().cast(), 64, &mut len),
            CLIPS_E_INVALID_ARGUMENT,
            "client is NULL",
        );
        expect(clips_get_result_json(c, 0, buf.as_mut_ptr().cast(), 64, &mut len), CLIPS_E_INVALID_HANDLE, "handle");
        expect(clips_get_clip_info(null_mut(), 1, &mut info), CLIPS_E_INVALID_ARGUMENT, "client is NULL");
        expect(clips_get_clip_info(c, 1, null_mut()), CLIPS_E_INVALID_ARGUMENT, "out is NULL");
        expect(clips_get_clip_info(c, u64::MAX, &mut info), CLIPS_E_INVALID_HANDLE, "handle");

        // Values: ids that would change the URL path, owners that are not xuids, bad UTF-8, ratings, enums.
        for bad_id in [c"../../admin".as_ptr(), c"a/b".as_ptr(), c"a?b=c".as_ptr(), c"".as_ptr()] {
            expect(clips_get_clip(c, null(), scid, bad_id, &mut op), CLIPS_E_INVALID_ARGUMENT, "not a valid id");
        }
        expect(clips_get_clip(c, null(), c"s/../x".as_ptr(), id, &mut op), CLIPS_E_INVALID_ARGUMENT, "scid");
        expect(
            clips_list_clips(c, c"xuid(1)".as_ptr(), null(), 0, null(), &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "decimal xuid",
        );
        expect(clips_rate_clip(c, c"-5".as_ptr(), scid, id, 3, &mut op), CLIPS_E_INVALID_ARGUMENT, "decimal xuid");
        expect(
            clips_get_clip(c, bad_utf8, scid, id, &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "owner_xuid is not valid UTF-8",
        );
        expect(
            clips_list_clips(c, null(), null(), 0, bad_utf8, &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "continuation_token is not valid UTF-8",
        );
        expect(clips_rate_clip(c, owner, scid, id, 0, &mut op), CLIPS_E_INVALID_ARGUMENT, "rating 0");
        expect(clips_rate_clip(c, owner, scid, id, u32::MAX, &mut op), CLIPS_E_INVALID_ARGUMENT, "rating");
        let mut bad = update;
        bad.visibility = 77;
        expect(clips_update_metadata(c, scid, id, &bad, &mut op), CLIPS_E_INVALID_ARGUMENT, "Visibility 77");
        bad = update;
        bad.user_caption = bad_utf8;
        expect(
            clips_update_metadata(c, scid, id, &bad, &mut op),
            CLIPS_E_INVALID_ARGUMENT,
            "user_caption is not valid UTF-8",
        );
        bad = update;
        bad.struct_size += 8;
        expect(clips_update_metadata(c, scid, id, &bad, &mut op), CLIPS_E_INCOMPATIBLE_VERSION, "ClipsMetadataUpdate");
        bad.struct_size = 10; // cuts through user_caption
        expect(clips_update_metadata(c, scid, id, &bad, &mut op), CLIPS_E_INVALID_ARGUMENT, "ClipsMetadataUpdate");
        // An upload handle is not an operation.
        let mut upload = 0;
        let upload_scid = CString::new(SCID).unwrap();
        let mut options = upload_options(&upload_scid);
        options.file_size = 10;
        assert_eq!(clips_begin_upload(c, &options, &mut upload), CLIPS_OK);
        expect(clips_get_clip_info(c, upload, &mut info), CLIPS_E_WRONG_STATE, "an upload, not a clip operation");
        expect(
            clips_get_result_json(c, upload, buf.as_mut_ptr().cast(), 64, &mut len),
            CLIPS_E_WRONG_STATE,
            "an upload, not a clip operation",
        );
    }
    let requests = server.admin("stats")["requests"].clone();
    for endpoint in ["update_metadata", "rate", "flag", "view", "delete_clip", "get_clip", "download"] {
        assert!(requests.get(endpoint).is_none(), "{endpoint} reached the service: {requests}");
    }
    unsafe { clips_client_destroy(c) };
}

/// The exchange the test transport below was given last.
static GIVEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe extern "C" fn keep_exchange(
    _user: *mut libc::c_void,
    x: *mut ClipsExchange,
    _request: *const ClipsHttpRequest,
) -> ClipsResult {
    GIVEN.store(x as usize, std::sync::atomic::Ordering::SeqCst);
    CLIPS_OK
}

unsafe extern "C" fn ignore_cancel(_user: *mut libc::c_void, _x: *mut ClipsExchange) {}

fn exchange_calls_refuse_dead_exchanges_and_bad_values_and_transports_need_both_functions() {
    let mut transport =
        ClipsTransport { struct_size: 0, user: null_mut(), send: Some(keep_exchange), cancel: Some(ignore_cancel) };
    let create = |transport: &ClipsTransport| {
        let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
        unsafe { clips_client_options_init(&mut options) };
        options.metadata_base_url = c"http://127.0.0.1:9".as_ptr();
        options.flags = CLIPS_FLAG_ALLOW_INSECURE_HTTP;
        options.transport = transport;
        let mut client = null_mut();
        (unsafe { clips_client_create(&options, &mut client) }, client)
    };
    expect(create(&transport).0, CLIPS_E_INVALID_ARGUMENT, "struct_size");
    transport.struct_size = std::mem::size_of::<ClipsTransport>() as u32;
    transport.cancel = None;
    expect(create(&transport).0, CLIPS_E_INVALID_ARGUMENT, "transport.send and transport.cancel are required");
    transport.cancel = Some(ignore_cancel);
    let (result, c) = create(&transport);
    assert_eq!(result, CLIPS_OK, "{}", last_error());
    let authorization = CString::new(token()).unwrap();
    assert_eq!(unsafe { clips_set_authorization(c, authorization.as_ptr()) }, CLIPS_OK);

    unsafe {
        for dead in [null_mut(), (&mut 0u64 as *mut u64).cast::<ClipsExchange>()] {
            expect(clips_exchange_set_status(dead, 200), CLIPS_E_INVALID_HANDLE, "not a live exchange");
            expect(clips_exchange_add_header(dead, c"a".as_ptr(), c"b".as_ptr()), CLIPS_E_INVALID_HANDLE, "not a live");
            expect(clips_exchange_write_body(dead, [1u8].as_ptr(), 1), CLIPS_E_INVALID_HANDLE, "not a live exchange");
            expect(clips_exchange_complete(dead, CLIPS_TRANSPORT_FAILED, null()), CLIPS_E_INVALID_HANDLE, "not a live");
        }
        let mut op = 0;
        assert_eq!(clips_list_clips(c, null(), c"scid".as_ptr(), 0, null(), &mut op), CLIPS_OK, "{}", last_error());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while GIVEN.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(std::time::Instant::now() < deadline, "the transport was never asked");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let x = GIVEN.load(std::sync::atomic::Ordering::SeqCst) as *mut ClipsExchange;
        expect(clips_exchange_set_status(x, 99), CLIPS_E_INVALID_ARGUMENT, "http_status 99");
        expect(clips_exchange_set_status(x, 600), CLIPS_E_INVALID_ARGUMENT, "http_status 600");
        assert_eq!(clips_exchange_set_status(x, 200), CLIPS_OK);
        expect(clips_exchange_add_header(x, null(), c"v".as_ptr()), CLIPS_E_INVALID_ARGUMENT, "name is NULL");
        expect(clips_exchange_add_header(x, c"n".as_ptr(), null()), CLIPS_E_INVALID_ARGUMENT, "value is NULL");
        expect(clips_exchange_write_body(x, null(), 5), CLIPS_E_INVALID_ARGUMENT, "data is NULL");
        assert_eq!(clips_exchange_write_body(x, null(), 0), CLIPS_OK);
        let big = vec![b'x'; 1024 * 1024 + 1];
        expect(clips_exchange_write_body(x, big.as_ptr(), big.len()), CLIPS_E_HTTP, "larger than the library reads");
        expect(clips_exchange_complete(x, 5, null()), CLIPS_E_INVALID_ARGUMENT, "not a CLIPS_TRANSPORT_* value");
        let bad_utf8 = [0xffu8, 0];
        expect(
            clips_exchange_complete(x, CLIPS_TRANSPORT_FAILED, bad_utf8.as_ptr().cast()),
            CLIPS_E_INVALID_ARGUMENT,
            "message is not valid UTF-8",
        );
        // Still live after the refused calls: a correct completion is taken, once.
        assert_eq!(clips_exchange_complete(x, CLIPS_TRANSPORT_FAILED, c"gave up".as_ptr()), CLIPS_OK);
        expect(clips_exchange_complete(x, CLIPS_TRANSPORT_FAILED, null()), CLIPS_E_INVALID_HANDLE, "not a live");
        expect(clips_exchange_set_status(x, 200), CLIPS_E_INVALID_HANDLE, "not a live exchange");
        clips_client_destroy(c);
    }
}

unsafe extern "C" fn never_alloc(_user: *mut libc::c_void, _size: usize, _align: usize) -> *mut libc::c_void {
    null_mut()
}

unsafe extern "C" fn never_free(_user: *mut libc::c_void, _ptr: *mut libc::c_void, _size: usize, _align: usize) {}

fn memory_hooks_are_refused_once_the_library_is_in_use_and_incomplete_ones_always() {
    let _server = TestServer::start();
    let mut hooks = ClipsMemoryHooks {
        struct_size: 8,
        user: null_mut(),
        alloc: Some(never_alloc),
        realloc: None,
        free: Some(never_free),
    };
    unsafe {
        expect(clips_set_memory_hooks(&hooks), CLIPS_E_INVALID_ARGUMENT, "struct_size 8 is smaller");
        hooks.struct_size = std::mem::size_of::<ClipsMemoryHooks>() as u32;
        hooks.free = None;
        expect(clips_set_memory_hooks(&hooks), CLIPS_E_INVALID_ARGUMENT, "hooks.alloc and hooks.free are required");
        hooks.free = Some(never_free);
        // This process has long been using the library (and its allocator): too late.
        expect(clips_set_memory_hooks(&hooks), CLIPS_E_WRONG_STATE, "before any other clips_* call");
        // The thread's last error message goes; the next one is as good as ever.
        clips_release_thread_memory();
        let mut len = 0;
        let mut buf = [0u8; 8];
        assert_eq!(clips_last_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut len), CLIPS_OK);
        assert_eq!(len, 1, "an empty message after release");
        expect(clips_set_memory_hooks(null()), CLIPS_E_INVALID_ARGUMENT, "hooks is NULL");
    }
}

/// Every case, then the check that they called every export: the boundary records the name each export
/// ran under, so an export with no bad-input case, or whose boundary names another, is missing.
#[test]
fn every_export_is_given_bad_input_and_answers_under_its_own_name() {
    record_export_calls();
    null_pointers_are_refused_by_every_export();
    sized_inits_refuse_null_and_sizes_of_no_version();
    dead_zero_and_foreign_handles_are_invalid();
    wrong_blocks_are_refused_and_keep_nothing();
    invalid_text_values_and_newer_structs_are_refused();
    static_strings_and_versions();
    operation_exports_refuse_bad_arguments_before_sending_anything();
    exchange_calls_refuse_dead_exchanges_and_bad_values_and_transports_need_both_functions();
    memory_hooks_are_refused_once_the_library_is_in_use_and_incomplete_ones_always();
    let called = exports_called();
    let exports = std::fs::read_to_string(repo_root().join("src/ffi/exports.txt")).unwrap();
    let missing: Vec<&str> = exports.lines().filter(|name| !name.is_empty() && !called.contains(name)).collect();
    assert!(missing.is_empty(), "exports no bad-input case called under their own name: {missing:?}");
    let unknown: Vec<&&str> = called.iter().filter(|name| !exports.lines().any(|l| l == **name)).collect();
    assert!(unknown.is_empty(), "the panic boundary ran under names that are no export: {unknown:?}");
}
