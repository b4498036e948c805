//! TLS: the emulator serves https with a certificate made here (rcgen); the client refuses it as
//! unknown until `ca_bundle_path` names it, then uploads byte-exact. Plain http goes only to loopback
//! unless CLIPS_FLAG_ALLOW_INSECURE_HTTP is set.

mod common;

use std::ffi::CString;
use std::time::{Duration, Instant};

use common::*;
use gameclips::ffi::*;
use gameclips_emulator::TlsIdentity;

fn https_server() -> TestServer {
    let identity = TlsIdentity::self_signed(&["127.0.0.1", "localhost"]).unwrap();
    let server = TestServer::with_config(|config| config.tls = Some(identity));
    assert!(server.url().starts_with("https://127.0.0.1:"), "{}", server.url());
    server
}

#[test]
fn an_unknown_certificate_is_refused_and_ca_bundle_path_makes_it_trusted() {
    let server = https_server();
    let bytes = pattern(3 * 1024 * 1024 + 17, 11);
    let file = write_file(server.dir.path(), "clip.mp4", &bytes);

    // The built-in roots do not know the emulator's certificate: a clear, final failure.
    let client = client(server.url(), |o| o.request_timeout_ms = 2000);
    let started = Instant::now();
    let handle = begin_file(client, &file);
    let status = wait_terminal(client, handle, Duration::from_secs(10), || {});
    let message = error_message(client, handle);
    println!("unknown certificate: failed in {:?}: {message}", started.elapsed());
    assert_eq!((status.state, status.result), (CLIPS_STATE_FAILED, CLIPS_E_NETWORK), "{message}");
    assert!(message.contains("certificate is not trusted"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(server.admin("stats")["requests"]["create_clip"], serde_json::Value::Null, "nothing got through");
    unsafe { clips_client_destroy(client) };

    // Trusted through ca_bundle_path: the same upload goes through over https, byte-exact.
    let bundle = write_file(server.dir.path(), "emulator-ca.pem", server.cert_pem.as_ref().unwrap().as_bytes());
    let bundle = CString::new(bundle.to_str().unwrap()).unwrap();
    let client = common::client(server.url(), |o| o.ca_bundle_path = bundle.as_ptr());
    let handle = begin_file(client, &file);
    let status = wait_terminal(client, handle, Duration::from_secs(30), || {});
    assert_eq!(status.state, CLIPS_STATE_COMPLETED, "{}", error_message(client, handle));
    let clip = server.admin(&format!("clips/{}", clip_id(client, handle)));
    assert_eq!(clip["sha256"], sha256(&bytes));
    println!("trusted: {} bytes over https, sha256 {}", bytes.len(), clip["sha256"]);
    unsafe { clips_client_destroy(client) };
}

#[test]
fn a_ca_bundle_without_a_certificate_is_refused_at_create() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "empty.pem", b"not a certificate\n");
    for path in [empty, dir.path().join("missing.pem")] {
        let path = CString::new(path.to_str().unwrap()).unwrap();
        let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
        unsafe { clips_client_options_init(&mut options) };
        options.ca_bundle_path = path.as_ptr();
        let mut client = std::ptr::null_mut();
        assert_eq!(unsafe { clips_client_create(&options, &mut client) }, CLIPS_E_INVALID_ARGUMENT);
        assert!(last_error().contains("ca_bundle_path"), "{}", last_error());
    }
}

#[test]
fn plain_http_goes_only_to_loopback_unless_allowed() {
    let create = |url: &str, flags: u32| {
        let url = CString::new(url).unwrap();
        let mut options = unsafe { std::mem::zeroed::<ClipsClientOptions>() };
        unsafe { clips_client_options_init(&mut options) };
        options.metadata_base_url = url.as_ptr();
        options.flags = flags;
        let mut client = std::ptr::null_mut();
        let result = unsafe { clips_client_create(&options, &mut client) };
        unsafe { clips_client_destroy(client) };
        result
    };
    assert_eq!(create("http://gameclipsmetadata.example.com", 0), CLIPS_E_INVALID_ARGUMENT);
    assert!(last_error().contains("refusing to send credentials over plain http"), "{}", last_error());
    assert_eq!(create("http://gameclipsmetadata.example.com", CLIPS_FLAG_ALLOW_INSECURE_HTTP), CLIPS_OK);
    assert_eq!(create("http://127.0.0.1:9", 0), CLIPS_OK);
    assert_eq!(create("http://[::1]:9", 0), CLIPS_OK);
    assert_eq!(create("https://gameclipsmetadata.example.com", 0), CLIPS_OK);
}
