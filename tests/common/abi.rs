//! A client and its uploads and operations, made and driven through the C ABI as a title does.

use super::*;
/// Begins a file-mode upload of `path`.
pub fn begin_file(client: *mut ClipsClient, path: &Path) -> ClipsHandle {
    let scid = CString::new(SCID).unwrap();
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let mut options = upload_options(&scid);
    options.file_path = path.as_ptr();
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    handle
}

pub fn token() -> String {
    token::mint_for_xuid(XUID)
}

/// A C client on `url`, authorised with a development token.
pub fn client(url: &str, tweak: impl FnOnce(&mut ClipsClientOptions)) -> *mut ClipsClient {
    client_with_token(url, &token(), tweak)
}

/// A C client on `url` signed in as another user.
pub fn client_as(url: &str, xuid: u64) -> *mut ClipsClient {
    client_with_token(url, &token::mint_for_xuid(xuid), |_| {})
}

pub fn client_with_token(url: &str, token: &str, tweak: impl FnOnce(&mut ClipsClientOptions)) -> *mut ClipsClient {
    let url = CString::new(url).unwrap();
    let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
    unsafe { clips_client_options_init(&mut options) };
    options.metadata_base_url = url.as_ptr();
    tweak(&mut options);
    let mut client = ptr::null_mut();
    assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_OK, "{}", last_error());
    let token = CString::new(token).unwrap();
    assert_eq!(unsafe { clips_set_authorization(client, token.as_ptr()) }, CLIPS_OK);
    client
}

pub fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    assert_eq!(unsafe { clips_last_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut len) }, CLIPS_OK);
    String::from_utf8_lossy(&buf[..len - 1]).into_owned()
}

/// A status struct as a C caller prepares it.
pub fn new_status() -> ClipsStatus {
    let mut status = unsafe { std::mem::zeroed::<ClipsStatus>() };
    unsafe { clips_status_init(&mut status) };
    status
}

pub fn poll(client: *mut ClipsClient, handle: ClipsHandle) -> ClipsStatus {
    let mut status = new_status();
    assert_eq!(unsafe { clips_poll(client, handle, &mut status) }, CLIPS_OK, "{}", last_error());
    status
}

pub fn is_terminal(state: u32) -> bool {
    matches!(state, CLIPS_STATE_COMPLETED | CLIPS_STATE_FAILED | CLIPS_STATE_CANCELLED)
}

/// Polls until the upload ends; `between` runs between polls (pushing blocks, say).
pub fn wait_terminal(
    client: *mut ClipsClient,
    handle: ClipsHandle,
    timeout: Duration,
    mut between: impl FnMut(),
) -> ClipsStatus {
    let deadline = Instant::now() + timeout;
    let mut last_acked = 0;
    loop {
        between();
        let status = poll(client, handle);
        assert!(status.bytes_acked >= last_acked, "bytes_acked went down");
        last_acked = status.bytes_acked;
        if is_terminal(status.state) {
            return status;
        }
        assert!(Instant::now() < deadline, "upload did not finish in {timeout:?}: state {}", status.state);
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn clip_id(client: *mut ClipsClient, handle: ClipsHandle) -> String {
    let mut buf = [0u8; 128];
    let mut len = 0;
    assert_eq!(unsafe { clips_get_clip_id(client, handle, buf.as_mut_ptr().cast(), buf.len(), &mut len) }, CLIPS_OK);
    String::from_utf8(buf[..len - 1].to_vec()).unwrap()
}

pub fn error_message(client: *mut ClipsClient, handle: ClipsHandle) -> String {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    assert_eq!(
        unsafe { clips_get_error_message(client, handle, buf.as_mut_ptr().cast(), buf.len(), &mut len) },
        CLIPS_OK
    );
    String::from_utf8_lossy(&buf[..len - 1]).into_owned()
}

pub fn upload_options(scid: &CString) -> ClipsUploadOptions {
    let mut options = unsafe { std::mem::zeroed::<ClipsUploadOptions>() };
    unsafe { clips_upload_options_init(&mut options) };
    options.scid = scid.as_ptr();
    options
}

pub fn drain_events(client: *mut ClipsClient) -> Vec<ClipsEvent> {
    let mut events = Vec::new();
    loop {
        let mut event = unsafe { std::mem::zeroed::<ClipsEvent>() };
        unsafe { clips_event_init(&mut event) };
        match unsafe { clips_next_event(client, &mut event) } {
            CLIPS_OK => events.push(event),
            CLIPS_NO_EVENT => return events,
            other => panic!("clips_next_event returned {other}: {}", last_error()),
        }
    }
}

/// Uploads `bytes` in push mode with `tweak` applied to the options; returns the clip id.
pub fn upload_bytes(client: *mut ClipsClient, bytes: &[u8], tweak: impl FnOnce(&mut ClipsUploadOptions)) -> String {
    let scid = CString::new(SCID).unwrap();
    let mut options = upload_options(&scid);
    options.file_size = bytes.len() as u64;
    tweak(&mut options);
    let mut handle = 0;
    assert_eq!(unsafe { clips_begin_upload(client, &options, &mut handle) }, CLIPS_OK, "{}", last_error());
    let block = BLOCK;
    let mut next = 0;
    let status = wait_terminal(client, handle, Duration::from_secs(60), || {
        while next * block < bytes.len() {
            let chunk = &bytes[next * block..((next + 1) * block).min(bytes.len())];
            match unsafe { clips_push_block(client, handle, next as u32, chunk.as_ptr(), chunk.len()) } {
                CLIPS_OK => next += 1,
                CLIPS_E_WOULD_BLOCK => break,
                other => panic!("push returned {other}: {}", last_error()),
            }
        }
    });
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let id = clip_id(client, handle);
    assert_eq!(unsafe { clips_release(client, handle) }, CLIPS_OK);
    id
}

/// Polls an operation until it ends.
pub fn wait_op(client: *mut ClipsClient, op: ClipsHandle) -> ClipsStatus {
    wait_terminal(client, op, Duration::from_secs(60), || {})
}

/// The normalised JSON result of a completed operation.
pub fn result_json(client: *mut ClipsClient, op: ClipsHandle) -> serde_json::Value {
    let mut len = 0;
    assert_eq!(unsafe { clips_get_result_json(client, op, ptr::null_mut(), 0, &mut len) }, CLIPS_E_BUFFER_TOO_SMALL);
    let mut buf = vec![0u8; len];
    assert_eq!(unsafe { clips_get_result_json(client, op, buf.as_mut_ptr().cast(), len, &mut len) }, CLIPS_OK);
    serde_json::from_slice(&buf[..len - 1]).unwrap()
}
