//! The engine over a scripted transport: the requests an upload makes, in order, what the engine does
//! with redirects, a pause and a missing token. No sockets, no threads: `run_next` steps the engine.

use std::sync::Arc;
use std::time::Instant;

use super::{Engine, Hold, Job};
use crate::config::Config;
use crate::jobs::status::{UploadState, UploadStatus};
use crate::jobs::upload::{Upload, UploadData};
use crate::jobs::Control;
use crate::log::Logger;
use crate::protocol::InitialUploadRequest;
use crate::transport::fake::{FakeTransport, Sent};
use crate::transport::{Method, Outcome, Transport};

const BLOCK: u32 = 1024;

/// The fake as the engine's transport, still reachable by the test.
struct Shared(Arc<FakeTransport>);

impl Transport for Shared {
    fn send(&self, request: crate::transport::Request<'_>) -> Outcome {
        self.0.send(request)
    }
    fn download(&self, url: &str, auth: Option<&str>, from: u64) -> Result<crate::transport::Streaming, Outcome> {
        self.0.download(url, auth, from)
    }
    fn interrupt(&self) {
        self.0.interrupt()
    }
    fn abandon(&self) {
        self.0.abandon()
    }
}

fn engine(respond: impl FnMut(&Sent) -> Outcome + Send + 'static) -> (Engine, Arc<FakeTransport>) {
    let fake = Arc::new(FakeTransport::new(respond));
    let engine =
        Engine::new(Arc::new(Config::for_tests(BLOCK)), Box::new(Shared(fake.clone())), 0, Logger::new(None, 0));
    *engine.authorization.write() = Some(Arc::from("XBL3.0 x=test"));
    (engine, fake)
}

fn request() -> InitialUploadRequest {
    InitialUploadRequest::for_tests()
}

/// A push upload of `size` bytes (block n filled with n), every block pushed.
fn push_upload(engine: &Engine, size: u64) -> Arc<Upload> {
    let config = engine.config.clone();
    let (_, job) = engine
        .handles
        .insert_with(|handle| {
            Job::Upload(Arc::new(Upload::new(
                handle,
                "scid".into(),
                UploadData::Push { size },
                request(),
                vec![],
                config,
                engine.creates.clone(),
            )))
        })
        .unwrap();
    let Job::Upload(upload) = job.clone() else { unreachable!() };
    let layout = upload.layout().unwrap();
    for num in 0..layout.blocks {
        upload.push_block(num, &vec![num as u8; layout.block_len(num)], &engine.push_budget).unwrap();
    }
    engine.schedule(job);
    upload
}

fn created(sent: &Sent) -> Option<Outcome> {
    (sent.method == Method::Post).then(|| Outcome::Answered {
        status: 200,
        body: br#"{"gameClipId":"c1","uploadUri":"https://up.upload.test/u/c1"}"#.to_vec(),
        retry_after: None,
        location: None,
    })
}

fn run_all(engine: &Engine) -> usize {
    std::iter::from_fn(|| engine.run_next().then_some(())).count()
}

fn status(upload: &Upload) -> UploadStatus {
    upload.status(false, Instant::now())
}

#[test]
fn an_upload_sends_the_initial_call_then_each_block_once_in_order() {
    let (engine, fake) = engine(|sent| {
        created(sent).unwrap_or_else(|| Outcome::status(if sent.url.ends_with("blockNum=2") { 201 } else { 202 }))
    });
    let upload = push_upload(&engine, 2 * u64::from(BLOCK) + 5);
    run_all(&engine);
    assert_eq!(
        fake.lines(),
        [
            "POST https://meta.test/users/me/scids/scid/clips",
            "PUT https://up.upload.test/u/c1?uploadId=c1&blockNum=0",
            "PUT https://up.upload.test/u/c1?uploadId=c1&blockNum=1",
            "PUT https://up.upload.test/u/c1?uploadId=c1&blockNum=2",
        ]
    );
    let sent = fake.sent();
    let initial: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!((initial["fileSize"].as_u64(), initial["expectedBlocks"].as_u64()), (Some(2053), Some(3)));
    assert!(sent.iter().all(|s| s.authorized));
    assert_eq!(sent[3].body, vec![2u8; 5], "each block carries its own bytes");
    assert_eq!(status(&upload).state, UploadState::Completed);
}

#[test]
fn a_redirect_within_the_upload_hosts_is_followed_with_the_body_again() {
    let (engine, fake) = engine(|sent| {
        created(sent).unwrap_or_else(|| match sent.url.starts_with("https://up.upload.test") {
            true => Outcome::Answered {
                status: 307,
                body: vec![],
                retry_after: None,
                location: Some("https://eu.upload.test/moved".into()),
            },
            false => Outcome::status(201),
        })
    });
    let upload = push_upload(&engine, 10);
    run_all(&engine);
    assert_eq!(
        fake.lines()[1..],
        ["PUT https://up.upload.test/u/c1?uploadId=c1&blockNum=0", "PUT https://eu.upload.test/moved"]
    );
    assert_eq!(fake.sent()[2].body, vec![0u8; 10]);
    assert_eq!(status(&upload).state, UploadState::Completed);
}

#[test]
fn a_redirect_to_a_foreign_host_is_not_followed() {
    let (engine, fake) = engine(|sent| {
        created(sent).unwrap_or_else(|| Outcome::Answered {
            status: 302,
            body: vec![],
            retry_after: None,
            location: Some("https://elsewhere.example/steal".into()),
        })
    });
    let upload = push_upload(&engine, 10);
    run_all(&engine);
    assert!(fake.lines().iter().all(|line| !line.contains("elsewhere.example")), "the token never goes there");
    assert_eq!(status(&upload).state, UploadState::Failed);
    let message = upload.error().unwrap().message;
    assert!(message.contains("redirect not followed: elsewhere.example is not an allowed upload host"), "{message}");
}

#[test]
fn paused_the_engine_sends_nothing_and_resumed_it_goes_on() {
    let (engine, fake) = engine(|sent| created(sent).unwrap_or_else(|| Outcome::status(201)));
    let upload = push_upload(&engine, 10);
    engine.hold(Hold::Paused, true);
    // The pause asks for the journals to be synced (none here); no request goes out.
    run_all(&engine);
    assert!(fake.sent().is_empty());
    assert_eq!(upload.status(true, Instant::now()).state, UploadState::Paused);
    engine.hold(Hold::Paused, false);
    run_all(&engine);
    assert_eq!(fake.sent().len(), 2);
    assert_eq!((status(&upload).state, status(&upload).retries), (UploadState::Completed, 0));
}

#[test]
fn without_a_token_nothing_is_sent_until_one_is_set() {
    let (engine, fake) = engine(|sent| created(sent).unwrap_or_else(|| Outcome::status(201)));
    *engine.authorization.write() = None;
    let upload = push_upload(&engine, 10);
    run_all(&engine);
    assert!(fake.sent().is_empty());
    assert_eq!(status(&upload).state, UploadState::NeedsAuth);
    *engine.authorization.write() = Some(Arc::from("XBL3.0 x=renewed"));
    upload.auth_renewed();
    run_all(&engine);
    assert_eq!(status(&upload).state, UploadState::Completed);
    assert_eq!(fake.sent().len(), 2);
}

#[test]
fn a_401_parks_the_upload_and_the_same_block_goes_again_with_the_new_token() {
    let mut refused = false;
    let (engine, fake) = engine(move |sent| {
        created(sent).unwrap_or_else(|| match std::mem::replace(&mut refused, true) {
            false => Outcome::status(401),
            true => Outcome::status(201),
        })
    });
    let upload = push_upload(&engine, 10);
    run_all(&engine);
    assert_eq!((status(&upload).state, status(&upload).http_status), (UploadState::NeedsAuth, 401));
    upload.auth_renewed();
    run_all(&engine);
    let lines = fake.lines();
    assert_eq!(lines[1], lines[2], "block 0 again");
    assert_eq!(status(&upload).state, UploadState::Completed);
}

/// Steps the engine once something is due, waiting up to `within`; whether it did.
fn run_when_due(engine: &Engine, within: std::time::Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if engine.run_next() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    false
}

#[test]
fn a_failing_host_gets_one_probe_at_a_time_and_every_block_goes_once_it_answers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let failing = Arc::new(AtomicBool::new(true));
    let outage = failing.clone();
    let (engine, fake) = engine(move |sent| {
        created(sent).unwrap_or_else(|| Outcome::status(if outage.load(Ordering::SeqCst) { 503 } else { 201 }))
    });
    let upload = push_upload(&engine, 10 * u64::from(BLOCK));
    assert!(engine.run_next() && engine.run_next(), "the create, then block 0 (503)");
    // The host is failing: nothing else goes until the back-off has passed, then one probe at a time.
    for probe in 0..3 {
        assert!(!engine.run_next(), "probe {probe}: nothing is due at once");
        assert!(run_when_due(&engine, std::time::Duration::from_secs(5)));
        assert_eq!(fake.sent().len(), 3 + probe, "one request per back-off window");
    }
    assert_eq!(status(&upload).state, UploadState::Retrying);
    assert_eq!(status(&upload).retries, 4);
    failing.store(false, Ordering::SeqCst);
    assert!(run_when_due(&engine, std::time::Duration::from_secs(10)), "the probe that finds the host working");
    // The other nine blocks follow without a back-off, paced at the brownout's cap (1.2 times the
    // rate before the failures, at least one a second) as it grows back.
    for block in 1..10 {
        assert!(run_when_due(&engine, std::time::Duration::from_secs(2)), "block {block}");
    }
    assert_eq!(status(&upload).state, UploadState::Completed);
    let blocks: Vec<_> = fake.lines().into_iter().filter(|l| l.starts_with("PUT")).collect();
    assert_eq!(blocks.len(), 5 + 9, "block 0 five times (four failed), the rest once");
    assert_eq!(status(&upload).bytes_wasted, 4 * u64::from(BLOCK), "the four refused copies of block 0");
}

#[test]
fn a_retry_after_holds_the_host_for_every_upload() {
    let mut first = true;
    let (engine, fake) = engine(move |sent| {
        created(sent).unwrap_or_else(|| {
            if std::mem::take(&mut first) {
                return Outcome::Answered {
                    status: 503,
                    body: vec![],
                    retry_after: Some(std::time::Duration::from_millis(400)),
                    location: None,
                };
            }
            Outcome::status(201)
        })
    });
    let one = push_upload(&engine, u64::from(BLOCK));
    let other = push_upload(&engine, u64::from(BLOCK));
    let began = Instant::now();
    run_all(&engine);
    // Both created; one block answered 503 with Retry-After: neither upload sends a block before it ends.
    let sent_before = fake.sent().len();
    assert_eq!(sent_before, 3);
    assert!(run_when_due(&engine, std::time::Duration::from_secs(5)));
    assert!(began.elapsed() >= std::time::Duration::from_millis(400), "{:?}", began.elapsed());
    assert!(run_when_due(&engine, std::time::Duration::from_secs(2)), "the other block, at the brownout's cap");
    assert_eq!((status(&one).state, status(&other).state), (UploadState::Completed, UploadState::Completed));
}

#[test]
fn offline_sends_nothing_and_back_online_the_back_off_ends_at_once() {
    let mut first = true;
    let (engine, fake) = engine(move |sent| {
        created(sent).unwrap_or_else(|| Outcome::status(if std::mem::take(&mut first) { 503 } else { 201 }))
    });
    let upload = push_upload(&engine, u64::from(BLOCK));
    run_all(&engine);
    assert_eq!(status(&upload).state, UploadState::Retrying);
    // Saying "online" while online changes nothing: the back-off stands.
    engine.set_network_online(true);
    assert!(!engine.run_next());
    engine.set_network_online(false);
    assert!(!run_when_due(&engine, std::time::Duration::from_millis(600)), "nothing goes while offline");
    assert_eq!(fake.sent().len(), 2);
    assert_eq!(upload.status(engine.is_paused(), Instant::now()).state, UploadState::Paused);
    engine.set_network_online(true);
    assert!(engine.run_next(), "back online, the upload goes at once");
    assert_eq!((status(&upload).state, status(&upload).retries), (UploadState::Completed, 1));
}
