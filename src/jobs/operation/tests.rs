//! The clip operation's state machine, step by step, with no engine, transport or emulator: each test
//! takes steps with `next_step` and settles them with the outcomes a wire would give, at times the test
//! hands in (nothing sleeps).

use std::time::{Duration, Instant};

use super::machine::OperationMachine;
use super::*;
use crate::error::ErrorKind;
use crate::jobs::events::EventKind;
use crate::jobs::retry::MAX_ATTEMPTS;
use crate::jobs::status::{UploadState, RESULT_OK, RESULT_PENDING};
use crate::jobs::{Machine, Settled};
use crate::transport::Outcome;

fn call(method: Method, idempotency: Idempotency, answer: AnswerShape) -> OperationKind {
    OperationKind::Call {
        method,
        path: "/users/me/scids/s/clips/c".into(),
        body: None,
        idempotency,
        what: "testing",
        answer,
    }
}

fn machine(kind: OperationKind) -> OperationMachine {
    OperationMachine::new(7, kind, &Config::for_tests(1024))
}

fn get_clip() -> OperationMachine {
    machine(call(Method::Get, Idempotency::Idempotent, AnswerShape::Clip))
}

fn answered(status: u16, body: &[u8], retry_after: Option<Duration>) -> Reply {
    let outcome = Outcome::Answered { status, body: body.to_vec(), retry_after, location: None };
    Reply::Sent { outcome, abandoned: false, body_sent: 0 }
}

fn answer(status: u16, body: &[u8]) -> Reply {
    answered(status, body, None)
}

/// The connection reset after the request went out; `abandoned`: the client suspended meanwhile.
fn reset(abandoned: bool) -> Reply {
    let outcome = Outcome::Transport { reached_service: true, message: "reset".into() };
    Reply::Sent { outcome, abandoned, body_sent: 0 }
}

fn step(op: &mut OperationMachine, now: Instant) -> Step {
    match op.next_step(now) {
        NextTask::Run(step) => step,
        NextTask::Wait(at) => panic!("waiting until {at:?}"),
        NextTask::Finished => panic!("ended"),
    }
}

fn kinds(settled: &Settled) -> Vec<(EventKind, i32)> {
    settled.events.iter().map(|event| (event.kind, event.result)).collect()
}

fn clip_body(state: &str, download: &str) -> Vec<u8> {
    let uris = serde_json::json!([{ "uri": download, "uriType": "Download", "fileSize": 10 }]);
    serde_json::json!({ "gameClip": { "gameClipId": "c", "state": state, "gameClipUris": uris } })
        .to_string()
        .into_bytes()
}

#[test]
fn a_call_completes_with_what_its_answer_holds() {
    let now = Instant::now();
    let mut op = get_clip();
    let first = step(&mut op, now);
    assert!(matches!(op.next_step(now), NextTask::Wait(None)), "one request in flight at a time");
    let settled = op.settle(first, answer(200, &clip_body("Published", "https://meta.test/d")), now);
    assert_eq!(kinds(&settled), [(EventKind::OperationCompleted, RESULT_OK)]);
    assert_eq!(op.clip().unwrap().game_clip_id, "c");
    assert!(op.result_json().unwrap().contains("\"c\""));
    assert_eq!(op.published().status(false, now).state, UploadState::Completed);
    assert!(matches!(op.next_step(now), NextTask::Finished));
}

#[test]
fn a_transient_failure_waits_out_the_pause_the_service_asked_for() {
    let now = Instant::now();
    let mut op = get_clip();
    let first = step(&mut op, now);
    let settled = op.settle(first, answered(503, b"", Some(Duration::from_secs(2))), now);
    assert!(settled.events.is_empty());
    assert!(settled.log.unwrap().1.contains("retrying in 2000 ms"));
    let status = op.published().status(false, now);
    assert_eq!((status.state, status.retries, status.http_status), (UploadState::Retrying, 1, 503));
    assert!(matches!(op.next_step(now + Duration::from_millis(1999)), NextTask::Wait(Some(_))));
    assert!(matches!(op.next_step(now + Duration::from_secs(2)), NextTask::Run(Step::Call)));
}

#[test]
fn a_player_waits_on_operations_so_they_fail_after_a_few_attempts() {
    let mut now = Instant::now();
    let mut op = get_clip();
    for attempt in 1..=MAX_ATTEMPTS {
        let next = step(&mut op, now);
        let settled = op.settle(next, answer(503, b""), now);
        now += Duration::from_secs(20); // past any back-off
        if attempt < MAX_ATTEMPTS {
            assert!(settled.events.is_empty(), "attempt {attempt}");
        } else {
            assert_eq!(kinds(&settled), [(EventKind::OperationCompleted, ErrorKind::Http.code())]);
        }
    }
    assert_eq!(op.error().unwrap().http_status, 503);
    assert!(op.result_json().unwrap_err().message.contains("the operation failed"));
}

#[test]
fn without_a_token_it_parks_once_until_a_new_one_comes() {
    let now = Instant::now();
    let mut op = get_clip();
    let first = step(&mut op, now);
    let settled = op.settle(first, Reply::NoToken, now);
    assert_eq!(kinds(&settled), [(EventKind::NeedsAuth, RESULT_PENDING)]);
    assert!(matches!(op.next_step(now), NextTask::Wait(None)));
    assert_eq!(op.published().status(false, now).state, UploadState::NeedsAuth);
    op.auth_renewed();
    let again = step(&mut op, now);
    // A 401 with the new token parks it again, and says so again.
    assert_eq!(kinds(&op.settle(again, answer(401, b""), now)), [(EventKind::NeedsAuth, RESULT_PENDING)]);
    assert_eq!(op.published().status(false, now).http_status, 401);
}

#[test]
fn a_view_abandoned_in_flight_is_not_sent_again_it_may_have_counted() {
    let now = Instant::now();
    let mut op = machine(call(Method::Post, Idempotency::NotIdempotent, AnswerShape::Nothing));
    let first = step(&mut op, now);
    let settled = op.settle(first, reset(true), now);
    assert_eq!(kinds(&settled), [(EventKind::OperationCompleted, ErrorKind::Network.code())]);
    assert!(op.error().unwrap().message.contains("abandoned (suspend or offline)"));
}

#[test]
fn an_idempotent_call_abandoned_in_flight_goes_again_at_once_and_costs_no_retry() {
    let now = Instant::now();
    let mut op = get_clip();
    let first = step(&mut op, now);
    let settled = op.settle(first, reset(true), now);
    assert!(settled.events.is_empty() && settled.log.is_none());
    assert!(matches!(op.next_step(now), NextTask::Run(Step::Call)));
    assert_eq!(op.published().status(false, now).retries, 0);
}

#[test]
fn a_delete_whose_repeat_finds_nothing_completes_but_a_first_404_fails() {
    let now = Instant::now();
    let mut repeated = machine(call(Method::Delete, Idempotency::Idempotent, AnswerShape::Nothing));
    let first = step(&mut repeated, now);
    let _ = repeated.settle(first, reset(false), now);
    let later = now + Duration::from_secs(20);
    let second = step(&mut repeated, later);
    let settled = repeated.settle(second, answer(404, b""), later);
    assert_eq!(kinds(&settled), [(EventKind::OperationCompleted, RESULT_OK)], "the first attempt deleted it");

    let mut first_try = machine(call(Method::Delete, Idempotency::Idempotent, AnswerShape::Nothing));
    let only = step(&mut first_try, now);
    let settled = first_try.settle(only, answer(404, b""), now);
    assert_eq!(kinds(&settled), [(EventKind::OperationCompleted, ErrorKind::Http.code())]);
}

#[test]
fn a_download_reads_the_clip_then_fetches_its_file_with_progress_that_never_goes_back() {
    let now = Instant::now();
    let destination = std::path::PathBuf::from("clip.mp4");
    let kind = OperationKind::Download { clip_path: "/users/me/scids/s/clips/c".into(), destination };
    let mut op = machine(kind);
    let find = step(&mut op, now);
    assert!(matches!(find, Step::FindSource));
    assert!(op.settle(find, answer(200, &clip_body("Published", "https://cdn.test/c.mp4")), now).events.is_empty());
    let fetch = step(&mut op, now);
    assert!(matches!(&fetch, Step::Fetch(source) if source.uri == "https://cdn.test/c.mp4"));
    let _ = op.download_progress(6, 10);
    // A server that ignored the Range header starts the file over: the progress shown stays.
    let settled = op.download_progress(2, 10);
    assert_eq!(settled.events[0].bytes_done, 6);
    let _ = op.download_progress(10, 10);
    let settled = op.settle(fetch, answer(200, b""), now);
    assert_eq!(kinds(&settled), [(EventKind::OperationCompleted, RESULT_OK)]);
    assert!(op.result_json().unwrap().contains("\"bytes\":10"));
}

#[test]
fn only_a_published_clip_with_a_usable_uri_is_downloaded() {
    let now = Instant::now();
    for (state, uri, why) in
        [("Processing", "", "only Published clips"), ("Published", "http://cdn.example/c.mp4", "unusable download URI")]
    {
        let kind = OperationKind::Download { clip_path: "/c".into(), destination: "clip.mp4".into() };
        let mut op = machine(kind);
        let find = step(&mut op, now);
        let _ = op.settle(find, answer(200, &clip_body(state, uri)), now);
        let message = op.error().expect("failed").message;
        assert!(message.contains(why), "{state}: {message}");
    }
}

#[test]
fn after_a_cancel_outcomes_change_nothing_and_a_second_cancel_is_refused() {
    let now = Instant::now();
    let mut op = get_clip();
    let first = step(&mut op, now);
    let cancelled = op.cancel().unwrap();
    assert_eq!(kinds(&cancelled), [(EventKind::OperationCompleted, ErrorKind::Cancelled.code())]);
    let settled = op.settle(first, answer(200, &clip_body("Published", "https://meta.test/d")), now);
    assert!(settled.events.is_empty() && settled.log.is_none());
    assert!(op.clip().is_err());
    assert_eq!(op.cancel().unwrap_err().kind, ErrorKind::WrongState);
    assert!(matches!(op.next_step(now), NextTask::Finished));
}
