//! Clip operations through the C ABI against the emulator: metadata, ratings, flags, views, delete,
//! get, list with paging, downloads and thumbnails.

mod common;

use std::ffi::CString;
use std::ptr;

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::token::{self, Claims};
use serde_json::Value;

const OTHER: u64 = 2_533_274_800_000_002;

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Starts an operation (`start` gets the out-handle) and polls it to its end.
fn run_op(client: *mut ClipsClient, start: impl FnOnce(*mut ClipsHandle) -> ClipsResult) -> (ClipsStatus, ClipsHandle) {
    let mut op = 0;
    assert_eq!(start(&mut op), CLIPS_OK, "{}", last_error());
    assert_ne!(op, 0);
    (wait_op(client, op), op)
}

fn assert_ok(client: *mut ClipsClient, (status, op): (ClipsStatus, ClipsHandle)) -> ClipsHandle {
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, op));
    assert_eq!(status.result, CLIPS_OK);
    op
}

/// The owner as the C ABI takes it: NULL for me.
fn owner_arg(owner: &Option<CString>) -> *const libc::c_char {
    owner.as_ref().map_or(ptr::null(), |o| o.as_ptr())
}

fn get(client: *mut ClipsClient, owner: Option<u64>, id: &str) -> (ClipsStatus, ClipsHandle) {
    let (owner, scid, id) = (owner.map(|x| cs(&x.to_string())), cs(SCID), cs(id));
    run_op(client, |op| unsafe { clips_get_clip(client, owner_arg(&owner), scid.as_ptr(), id.as_ptr(), op) })
}

fn get_json(client: *mut ClipsClient, owner: Option<u64>, id: &str) -> Value {
    let op = assert_ok(client, get(client, owner, id));
    result_json(client, op)
}

fn update(
    client: *mut ClipsClient,
    id: &str,
    caption: Option<&str>,
    visibility: u32,
    title_data: Option<&str>,
) -> ClipsResult {
    let (scid, id) = (cs(SCID), cs(id));
    let (caption, title_data) = (caption.map(cs), title_data.map(cs));
    let mut m = unsafe { std::mem::zeroed::<ClipsMetadataUpdate>() };
    unsafe { clips_metadata_update_init(&mut m) };
    m.user_caption = owner_arg(&caption);
    m.visibility = visibility;
    m.title_data = owner_arg(&title_data);
    let mut op = 0;
    let result = unsafe { clips_update_metadata(client, scid.as_ptr(), id.as_ptr(), &m, &mut op) };
    if result != CLIPS_OK {
        return result;
    }
    let status = wait_op(client, op);
    if status.result != CLIPS_OK {
        eprintln!("update failed as expected: {}", error_message(client, op));
    }
    status.result
}

#[test]
fn metadata_updates_are_owner_only_and_all_or_nothing() {
    let server = TestServer::start();
    let owner = client(server.url(), |_| {});
    let other = client_as(server.url(), OTHER);
    let first = cs("first caption");
    let id = upload_bytes(owner, &pattern(10_000, 3), |o| o.user_caption = first.as_ptr());
    assert_eq!(get_json(owner, None, &id)["userCaption"], "first caption");

    assert_eq!(update(owner, &id, Some("second caption"), CLIPS_VISIBILITY_PUBLIC, Some("{\"level\":3}")), CLIPS_OK);
    let clip = get_json(owner, None, &id);
    assert_eq!((clip["userCaption"].as_str(), clip["visibility"].as_str()), (Some("second caption"), Some("Public")));
    assert_eq!(clip["titleData"], "{\"level\":3}");

    // Another user can see the (public) clip but not edit it: 403, and nothing changes.
    let (status, op) = {
        let (scid, cid, caption) = (cs(SCID), cs(&id), cs("hijacked"));
        let mut m = unsafe { std::mem::zeroed::<ClipsMetadataUpdate>() };
        unsafe { clips_metadata_update_init(&mut m) };
        m.user_caption = caption.as_ptr();
        run_op(other, |op| unsafe { clips_update_metadata(other, scid.as_ptr(), cid.as_ptr(), &m, op) })
    };
    assert_eq!((status.state, status.result, status.http_status), (CLIPS_STATE_FAILED, CLIPS_E_AUTH, 403));
    let message = error_message(other, op);
    assert!(message.contains("403") && message.contains("owner"), "{message}");
    assert_eq!(get_json(other, Some(XUID), &id)["userCaption"], "second caption");

    // A valid caption with an invalid second field fails at once and sends nothing.
    assert_eq!(update(owner, &id, Some("third"), 9, None), CLIPS_E_INVALID_ARGUMENT);
    assert!(last_error().contains("Visibility 9"), "{}", last_error());
    assert_eq!(update(owner, &id, Some("third"), 0, Some(&"x".repeat(10 * 1024 + 1))), CLIPS_E_INVALID_ARGUMENT);
    assert!(last_error().contains("title_data"), "{}", last_error());
    assert_eq!(update(owner, &id, Some(&"é".repeat(251)), CLIPS_VISIBILITY_OWNER, None), CLIPS_E_INVALID_ARGUMENT);
    assert!(last_error().contains("251 characters"), "{}", last_error());
    assert_eq!(update(owner, &id, None, 0, None), CLIPS_E_INVALID_ARGUMENT);
    assert!(last_error().contains("changes nothing"), "{}", last_error());
    let clip = get_json(owner, None, &id);
    assert_eq!((clip["userCaption"].as_str(), clip["visibility"].as_str()), (Some("second caption"), Some("Public")));
    assert_eq!(server.requests("update_metadata"), serde_json::json!({"200": 1, "403": 1}));
}

#[test]
fn ratings_average_and_views_count_on_anyones_clip() {
    let server = TestServer::start();
    let owner = client(server.url(), |_| {});
    let id = upload_bytes(owner, &pattern(5_000, 4), |_| {});
    let (scid, cid, owner_xuid) = (cs(SCID), cs(&id), cs(&XUID.to_string()));
    for (xuid, rating) in [(OTHER, 5), (OTHER + 1, 4), (OTHER + 2, 2)] {
        let rater = client_as(server.url(), xuid);
        assert_ok(
            rater,
            run_op(rater, |op| unsafe {
                clips_rate_clip(rater, owner_xuid.as_ptr(), scid.as_ptr(), cid.as_ptr(), rating, op)
            }),
        );
        unsafe { clips_client_destroy(rater) };
    }
    for _ in 0..2 {
        assert_ok(
            owner,
            run_op(owner, |op| unsafe { clips_record_view(owner, ptr::null(), scid.as_ptr(), cid.as_ptr(), op) }),
        );
    }
    let op = assert_ok(owner, get(owner, None, &id));
    let mut info = unsafe { std::mem::zeroed::<ClipsClipInfo>() };
    unsafe { clips_clip_info_init(&mut info) };
    assert_eq!(unsafe { clips_get_clip_info(owner, op, &mut info) }, CLIPS_OK, "{}", last_error());
    let info_id = unsafe { std::ffi::CStr::from_ptr(info.game_clip_id.as_ptr()) }.to_str().unwrap();
    assert_eq!(info_id, id);
    assert_eq!((info.rating_count, info.views), (3, 2));
    assert!((info.rating - 11.0 / 3.0).abs() < 1e-9, "{}", info.rating);
    assert_eq!(info.visibility, CLIPS_VISIBILITY_DEFAULT);
    assert!(matches!(info.state, CLIPS_CLIP_STATE_UPLOADED | CLIPS_CLIP_STATE_PROCESSING | CLIPS_CLIP_STATE_PUBLISHED));
    // Ratings outside 1..5 are refused before anything is sent.
    let mut op = 0;
    for bad in [0, 6] {
        let result = unsafe { clips_rate_clip(owner, ptr::null(), scid.as_ptr(), cid.as_ptr(), bad, &mut op) };
        assert_eq!(result, CLIPS_E_INVALID_ARGUMENT);
        assert!(last_error().contains(&format!("rating {bad}")), "{}", last_error());
    }
    assert_eq!(server.requests("rate"), serde_json::json!({"200": 3}));
}

#[test]
fn twenty_five_clips_listed_ten_at_a_time_come_back_once_each() {
    let server = TestServer::start();
    let client = client(server.url(), |_| {});
    let mut uploaded: Vec<String> =
        (0..25).map(|i| upload_bytes(client, &pattern(1000 + i, i as u64), |_| {})).collect();
    let scid = cs(SCID);
    let mut listed = Vec::new();
    let mut token: Option<CString> = None;
    let mut pages = Vec::new();
    loop {
        let op = assert_ok(
            client,
            run_op(client, |op| unsafe {
                clips_list_clips(client, ptr::null(), scid.as_ptr(), 10, owner_arg(&token), op)
            }),
        );
        let page = result_json(client, op);
        let clips = page["gameClips"].as_array().unwrap();
        pages.push(clips.len());
        listed.extend(clips.iter().map(|c| c["gameClipId"].as_str().unwrap().to_string()));
        assert_eq!(page["pagingInfo"]["totalItems"], 25);
        match page["pagingInfo"]["continuationToken"].as_str() {
            Some(next) => token = Some(cs(next)),
            None => break,
        }
        assert!(pages.len() < 10, "paging never ends");
    }
    assert_eq!(pages, [10, 10, 5]);
    listed.sort();
    uploaded.sort();
    assert_eq!(listed, uploaded);
    // All titles, default page size: the same clips.
    let op = assert_ok(
        client,
        run_op(client, |op| unsafe { clips_list_clips(client, ptr::null(), ptr::null(), 0, ptr::null(), op) }),
    );
    assert_eq!(result_json(client, op)["gameClips"].as_array().unwrap().len(), 25);
}

#[test]
fn delete_then_get_is_404() {
    let server = TestServer::start();
    let client = client(server.url(), |_| {});
    let id = upload_bytes(client, &pattern(3000, 5), |_| {});
    let (scid, cid) = (cs(SCID), cs(&id));
    let (status, _) = run_op(client, |op| unsafe { clips_delete_clip(client, scid.as_ptr(), cid.as_ptr(), op) });
    assert_eq!((status.state, status.http_status), (CLIPS_STATE_COMPLETED, 204));
    let (status, op) = get(client, None, &id);
    assert_eq!((status.state, status.result, status.http_status), (CLIPS_STATE_FAILED, CLIPS_E_HTTP, 404));
    assert!(error_message(client, op).contains("404"), "{}", error_message(client, op));
    let mut buf = [0u8; 16];
    let mut len = 0;
    assert_eq!(
        unsafe { clips_get_result_json(client, op, buf.as_mut_ptr().cast(), buf.len(), &mut len) },
        CLIPS_E_WRONG_STATE
    );
    let (status, _) = run_op(client, |op| unsafe { clips_delete_clip(client, scid.as_ptr(), cid.as_ptr(), op) });
    assert_eq!((status.result, status.http_status), (CLIPS_E_HTTP, 404));
}

#[test]
fn a_flagged_clip_is_hidden_from_everyone_but_enforcement() {
    let server = TestServer::start();
    let owner = client(server.url(), |_| {});
    let id = upload_bytes(owner, &pattern(2000, 6), |_| {});
    let reporter = client_as(server.url(), OTHER);
    let (scid, cid, owner_xuid) = (cs(SCID), cs(&id), cs(&XUID.to_string()));
    assert_ok(
        reporter,
        run_op(reporter, |op| unsafe {
            clips_flag_clip(reporter, owner_xuid.as_ptr(), scid.as_ptr(), cid.as_ptr(), op)
        }),
    );
    for (who, as_owner) in [(owner, None), (reporter, Some(XUID))] {
        let (status, _) = get(who, as_owner, &id);
        assert_eq!((status.result, status.http_status), (CLIPS_E_HTTP, 404));
    }
    let op = assert_ok(
        owner,
        run_op(owner, |op| unsafe { clips_list_clips(owner, ptr::null(), ptr::null(), 0, ptr::null(), op) }),
    );
    assert_eq!(result_json(owner, op)["gameClips"], serde_json::json!([]));
    let enforcement =
        client_with_token(server.url(), &token::mint(&Claims { enforcement: true, ..Claims::for_xuid(9) }), |_| {});
    assert_eq!(get_json(enforcement, Some(XUID), &id)["state"], "Flagged");
}

#[test]
fn a_published_clip_downloads_byte_exact_and_others_are_refused() {
    let server = TestServer::with_config(|config| config.processing_ms = 300);
    let client = client(server.url(), |_| {});
    let source = pattern(5 * 1024 * 1024 + 123, 7);
    let id = upload_bytes(client, &source, |_| {});
    let (scid, cid) = (cs(SCID), cs(&id));
    let destination = server.dir.path().join("downloaded.mp4");
    let dest = cs(destination.to_str().unwrap());

    // Right after the upload the clip is still processing: no download URI yet.
    let (status, op) = run_op(client, |op| unsafe {
        clips_download_clip(client, ptr::null(), scid.as_ptr(), cid.as_ptr(), dest.as_ptr(), op)
    });
    assert_eq!(status.result, CLIPS_E_WRONG_STATE, "{}", error_message(client, op));
    assert!(error_message(client, op).contains("only Published clips"), "{}", error_message(client, op));
    assert!(!destination.exists());

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while get_json(client, None, &id)["state"] != "Published" {
        assert!(std::time::Instant::now() < deadline, "never published");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A partial file another download left at this path must not be resumed as if it were this clip.
    std::fs::write(server.dir.path().join("downloaded.mp4.part"), pattern(1024 * 1024, 99)).unwrap();
    let (status, op) = run_op(client, |op| unsafe {
        clips_download_clip(client, ptr::null(), scid.as_ptr(), cid.as_ptr(), dest.as_ptr(), op)
    });
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, op));
    assert_eq!((status.bytes_acked, status.bytes_total), (source.len() as u64, source.len() as u64));
    let downloaded = std::fs::read(&destination).unwrap();
    assert_eq!(sha256(&downloaded), sha256(&source));
    assert_eq!(result_json(client, op)["bytes"], source.len());
    assert!(!server.dir.path().join("downloaded.mp4.part").exists());
}

fn jpeg(len: usize) -> Vec<u8> {
    let mut image = vec![0xFF, 0xD8, 0xFF, 0xE0];
    image.extend(pattern(len - image.len(), 12));
    image
}

#[test]
fn uploaded_thumbnails_come_back_in_the_clip() {
    let server = TestServer::start();
    let client = client(server.url(), |_| {});
    let (large, small) = (png(40_000), jpeg(3_000));
    let large_path = cs(write_file(server.dir.path(), "large.png", &large).to_str().unwrap());
    let small_path = cs(write_file(server.dir.path(), "small.jpg", &small).to_str().unwrap());
    let id = upload_bytes(client, &pattern(100_000, 8), |o| {
        o.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
        o.large_thumbnail_path = large_path.as_ptr();
        o.small_thumbnail_path = small_path.as_ptr();
    });
    let clip = get_json(client, None, &id);
    let mut thumbnails = clip["thumbnails"].as_array().unwrap().clone();
    thumbnails.sort_by_key(|t| t["thumbnailType"].as_str().unwrap().to_string());
    assert_eq!(thumbnails.len(), 2, "{clip}");
    for (thumbnail, kind, bytes) in [(&thumbnails[0], "Large", &large), (&thumbnails[1], "Small", &small)] {
        assert_eq!(thumbnail["thumbnailType"], kind);
        assert_eq!(thumbnail["fileSize"], bytes.len());
        let uri = thumbnail["uri"].as_str().unwrap();
        let mut served = Vec::new();
        use std::io::Read;
        ureq::get(uri)
            .config()
            .proxy(None)
            .build()
            .call()
            .unwrap()
            .body_mut()
            .as_reader()
            .read_to_end(&mut served)
            .unwrap();
        assert_eq!(sha256(&served), sha256(bytes), "{kind}");
    }
}

#[test]
fn a_thumbnail_that_is_not_an_image_fails_the_upload_with_a_message() {
    let server = TestServer::start();
    let client = client(server.url(), |_| {});
    let bogus = cs(write_file(server.dir.path(), "thumb.gif", b"GIF89a not welcome").to_str().unwrap());
    let scid = cs(SCID);
    let mut options = upload_options(&scid);
    options.file_size = 10;
    options.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
    options.small_thumbnail_path = bogus.as_ptr();
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    let status = wait_terminal(client, handle, std::time::Duration::from_secs(30), || {});
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_INVALID_ARGUMENT));
    assert!(error_message(client, handle).contains("not a JPEG or PNG"), "{}", error_message(client, handle));
    // UPLOAD without a path, or a path without UPLOAD, is refused at once.
    options.small_thumbnail_path = ptr::null();
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_E_INVALID_ARGUMENT);
    options.thumbnail_source = CLIPS_THUMBNAIL_DEFAULT;
    options.large_thumbnail_path = bogus.as_ptr();
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_E_INVALID_ARGUMENT);
}

#[test]
fn operation_handles_poll_emit_one_event_and_refuse_upload_only_calls() {
    let server = TestServer::start();
    let client = client(server.url(), |_| {});
    let id = upload_bytes(client, &pattern(1000, 9), |_| {});
    drain_events(client);
    let (status, op) = get(client, None, &id);
    assert_eq!(status.state, CLIPS_STATE_COMPLETED);
    let events: Vec<ClipsEvent> = drain_events(client).into_iter().filter(|e| e.handle == op).collect();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind, events[0].result, events[0].http_status), (CLIPS_EVENT_OP_COMPLETED, CLIPS_OK, 200));
    let mut buf = [0u8; 64];
    let mut len = 0;
    assert_eq!(
        unsafe { clips_get_clip_id(client, op, buf.as_mut_ptr().cast(), buf.len(), &mut len) },
        CLIPS_E_WRONG_STATE
    );
    assert_eq!(unsafe { clips_push_block(client, op, 0, buf.as_ptr(), 1) }, CLIPS_E_WRONG_STATE);
    assert_eq!(unsafe { clips_cancel(client, op) }, CLIPS_E_WRONG_STATE);
    // A list operation has no clip info.
    let scid = cs(SCID);
    let list = assert_ok(
        client,
        run_op(client, |op| unsafe { clips_list_clips(client, ptr::null(), scid.as_ptr(), 1, ptr::null(), op) }),
    );
    let mut info = unsafe { std::mem::zeroed::<ClipsClipInfo>() };
    unsafe { clips_clip_info_init(&mut info) };
    assert_eq!(unsafe { clips_get_clip_info(client, list, &mut info) }, CLIPS_E_WRONG_STATE);
    assert_eq!(unsafe { clips_release(client, op) }, CLIPS_OK);
    assert_eq!(unsafe { clips_poll(client, op, &mut new_status()) }, CLIPS_E_INVALID_HANDLE);

    // Paused: an operation waits (state PAUSED) and runs on resume; cancelling one ends it at once.
    assert_eq!(unsafe { clips_pause(client) }, CLIPS_OK);
    let cid = cs(&id);
    let mut paused = 0;
    assert_eq!(unsafe { clips_get_clip(client, ptr::null(), scid.as_ptr(), cid.as_ptr(), &mut paused) }, CLIPS_OK);
    let mut cancelled = 0;
    assert_eq!(unsafe { clips_get_clip(client, ptr::null(), scid.as_ptr(), cid.as_ptr(), &mut cancelled) }, CLIPS_OK);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(poll(client, paused).state, CLIPS_STATE_PAUSED);
    assert_eq!(unsafe { clips_cancel(client, cancelled) }, CLIPS_OK);
    assert_eq!(
        (poll(client, cancelled).state, poll(client, cancelled).result),
        (CLIPS_STATE_CANCELLED, CLIPS_E_CANCELLED)
    );
    assert_eq!(unsafe { clips_resume(client) }, CLIPS_OK);
    assert_eq!(wait_op(client, paused).state, CLIPS_STATE_COMPLETED);
    let ends: Vec<i32> =
        drain_events(client).iter().filter(|e| e.kind == CLIPS_EVENT_OP_COMPLETED).map(|e| e.result).collect();
    assert!(ends.contains(&CLIPS_E_CANCELLED) && ends.contains(&CLIPS_OK), "{ends:?}");
    assert_eq!(server.requests("get_clip"), serde_json::json!({"200": 2}));
}
