//! The upload's state machine, state by state, with no engine, transport or emulator: each test hands
//! out pieces with `next_piece` and settles them with the outcomes a wire would give, at a time the
//! test moves by hand (nothing sleeps).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::*;
use crate::jobs::events::EventQueue;
use crate::jobs::events::{Event, EventKind};
use crate::jobs::status::{UploadState, RESULT_OK};
use crate::jobs::{Control, Sinks};
use crate::journal::{Journal, Record};
use crate::log::LogLevel;
use crate::log::Logger;
use crate::pacing::backoff::Jitter;
use crate::protocol::url_policy::UploadHosts;
use crate::transport::Outcome;

thread_local! {
    /// The test's clock: a fixed start, moved only by `advance`.
    static CLOCK: (Instant, Cell<Duration>) = (Instant::now(), Cell::new(Duration::ZERO));
}

fn now() -> Instant {
    CLOCK.with(|(start, elapsed)| *start + elapsed.get())
}

fn advance(by: Duration) {
    CLOCK.with(|(_, elapsed)| elapsed.set(elapsed.get() + by));
}

/// A log that goes nowhere: the tests read the log line from what `settle_now` returns.
static QUIET: once_cell::sync::Lazy<Logger> = once_cell::sync::Lazy::new(|| Logger::new(None, 0));

fn sinks(events: &EventQueue) -> Sinks<'_> {
    Sinks { events, log: &QUIET }
}

/// `Upload::settle` at the test clock's time, carried out in full; what it logged and journaled comes
/// back for the test to read.
trait SettleNow {
    fn settle_now(&self, piece: Piece, reply: Reply, events: &EventQueue) -> Seen;
}

/// What a decision logged and journaled.
struct Seen {
    log: Option<(LogLevel, String)>,
    own: Bookkeeping,
}

impl SettleNow for Upload {
    fn settle_now(&self, piece: Piece, reply: Reply, events: &EventQueue) -> Seen {
        let settled = self.decide(piece, reply, now());
        let seen = Seen {
            log: settled.log.clone(),
            own: Bookkeeping { journal: settled.own.journal.clone(), ..Bookkeeping::default() },
        };
        self.apply(settled, sinks(events));
        seen
    }
}

const BLOCK: u32 = 1024;

fn request() -> InitialUploadRequest {
    InitialUploadRequest::for_tests()
}

fn config() -> Arc<Config> {
    Arc::new(Config::for_tests(BLOCK))
}

/// A push upload of `size` bytes, all of it pushed.
fn pushed(size: u64, thumbnails: Vec<(ThumbnailKind, PathBuf)>) -> (Upload, Arc<PushBudget>) {
    pushed_with(size, thumbnails, config(), Arc::default())
}

/// As `pushed`, with its client's settings and create ledger (shared by sibling uploads).
fn pushed_with(
    size: u64,
    thumbnails: Vec<(ThumbnailKind, PathBuf)>,
    config: Arc<Config>,
    creates: Arc<CreateLedger>,
) -> (Upload, Arc<PushBudget>) {
    let upload = Upload::new(7, "scid".into(), UploadData::Push { size }, request(), thumbnails, config, creates);
    let budget = Arc::new(PushBudget::new(64 * u64::from(BLOCK), BLOCK));
    let layout = upload.layout().expect("push mode knows its layout");
    for num in 0..layout.blocks {
        upload.push_block(num, &vec![num as u8; layout.block_len(num)], &budget).expect("pushable");
    }
    (upload, budget)
}

fn created_body() -> Vec<u8> {
    serde_json::json!({
        "gameClipId": "clip-1",
        "uploadUri": "https://up.upload.test/u/clip-1",
        "largeThumbnailUri": "https://up.upload.test/t/large",
    })
    .to_string()
    .into_bytes()
}

/// The service's answer.
fn answer(status: u16, body: &[u8]) -> Reply {
    let outcome = Outcome::Answered { status, body: body.to_vec(), retry_after: None, location: None };
    Reply::Sent { outcome, abandoned: false, body_sent: 0 }
}

/// A 503 that asks for a pause of `after`.
fn unavailable_for(after: Duration) -> Reply {
    let outcome = Outcome::Answered { status: 503, body: Vec::new(), retry_after: Some(after), location: None };
    Reply::Sent { outcome, abandoned: false, body_sent: 0 }
}

/// The connection reset after the request went out: no answer to tell what the service did.
fn reset() -> Reply {
    let outcome = Outcome::Transport { reached_service: true, message: "reset".into() };
    Reply::Sent { outcome, abandoned: false, body_sent: 0 }
}

fn next(upload: &Upload) -> Piece {
    match upload.next_piece(now()) {
        NextTask::Run(piece) => piece,
        NextTask::Wait(_) => panic!("the upload has nothing to send now"),
        NextTask::Finished => panic!("the upload has ended"),
    }
}

fn describe(piece: &Piece) -> String {
    match piece {
        Piece::Create => "create".into(),
        Piece::CheckResumed => "check".into(),
        Piece::ConfirmCommit => "confirm".into(),
        Piece::FindOrphans(_) => "find orphans".into(),
        Piece::RemoveOrphan(id) => format!("remove {id}"),
        Piece::Block(block) => format!("block {}", block.num),
        Piece::Thumbnail(thumbnail) => format!("thumbnail {}", thumbnail.kind.name()),
    }
}

fn is_waiting(upload: &Upload) -> bool {
    matches!(upload.next_piece(now()), NextTask::Wait(_))
}

fn state(upload: &Upload) -> UploadState {
    upload.status(false, now()).state
}

fn drain(events: &EventQueue) -> Vec<EventKind> {
    std::iter::from_fn(|| events.pop()).map(|e: Event| e.kind).collect()
}

/// Settles the create, so blocks may go.
fn create(upload: &Upload, events: &EventQueue) {
    assert!(matches!(next(upload), Piece::Create));
    upload.settle_now(Piece::Create, answer(200, &created_body()), events);
    assert_eq!(state(upload), UploadState::Uploading);
}

#[test]
fn the_initial_call_then_thumbnails_then_blocks_in_order() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(3 * u64::from(BLOCK) + 1, vec![(ThumbnailKind::Large, "large.png".into())]);
    assert_eq!(state(&upload), UploadState::Creating);
    let create_piece = next(&upload);
    assert_eq!(create_piece.idempotency(), Idempotency::NotIdempotent);
    assert!(is_waiting(&upload), "nothing else goes before the initial call answers");
    let settled = upload.settle_now(create_piece, answer(200, &created_body()), &events);
    assert!(matches!(settled.own.journal, Some(Record::Created { .. })), "the clip goes in the journal");
    assert_eq!(drain(&events), [EventKind::ClipCreated]);
    let order: Vec<String> = (0..5).map(|_| describe(&next(&upload))).collect();
    assert_eq!(order, ["thumbnail large", "block 0", "block 1", "block 2", "block 3"]);
    assert!(is_waiting(&upload));
}

#[test]
fn every_piece_acknowledged_and_a_final_201_complete_the_upload() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(2 * u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let (first, second) = (next(&upload), next(&upload));
    let record = upload.settle_now(first, answer(202, b""), &events).own.journal;
    assert!(matches!(record, Some(Record::Acked { block: 0, committed: false })));
    upload.settle_now(second, answer(201, b""), &events);
    let status = upload.status(false, now());
    assert_eq!((status.state, status.result, status.bytes_acked), (UploadState::Completed, RESULT_OK, 2048));
    // The queue merges a handle's progress events.
    assert_eq!(drain(&events), [EventKind::ClipCreated, EventKind::Progress, EventKind::Completed]);
    assert!(matches!(upload.next_piece(now()), NextTask::Finished));
}

#[test]
fn a_201_while_blocks_are_unsent_acknowledges_that_block_only() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(3 * u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let first = next(&upload);
    let settled = upload.settle_now(first, answer(201, b""), &events);
    assert!(matches!(settled.own.journal, Some(Record::Acked { block: 0, committed: false })));
    for _ in 0..2 {
        let piece = next(&upload);
        upload.settle_now(piece, answer(202, b""), &events);
    }
    // Every block in, yet the only 201 came early: the service is asked whether it holds the clip.
    assert_eq!(state(&upload), UploadState::Uploading);
    assert!(matches!(next(&upload), Piece::ConfirmCommit));
}

#[test]
fn a_piece_put_back_goes_first_and_costs_no_retry() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(2 * u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let first = next(&upload);
    upload.put_back(first, sinks(&events));
    assert_eq!(describe(&next(&upload)), "block 0");
    let status = upload.status(true, now());
    assert_eq!((status.state, status.retries), (UploadState::Paused, 0));
}

#[test]
fn a_retry_puts_the_piece_back_and_waits_out_the_back_off() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let block = next(&upload);
    let settled = upload.settle_now(block, unavailable_for(Duration::from_millis(40)), &events);
    assert_eq!(settled.log.unwrap().0, LogLevel::Debug);
    let status = upload.status(false, now());
    assert_eq!((status.state, status.retries, status.http_status), (UploadState::Retrying, 1, 503));
    assert_eq!(status.retry_in_ms, 40, "the wait the answer asked for");
    assert!(is_waiting(&upload));
    advance(Duration::from_millis(40));
    assert_eq!(describe(&next(&upload)), "block 0");
}

#[test]
fn each_failure_in_a_row_waits_exactly_what_the_uploads_seeded_jitter_draws() {
    let events = EventQueue::default();
    let config = config();
    let (upload, _budget) = pushed_with(u64::from(BLOCK), vec![], config.clone(), Arc::default());
    create(&upload, &events);
    // The same seed and owner the upload's machine was made with: handle 7, the config's seed.
    let mut expected = Jitter::for_owner(config.jitter_seed, 7);
    for attempt in 0..5 {
        let block = next(&upload);
        upload.settle_now(block, reset(), &events);
        let wait = expected.backoff(attempt, config.max_retry_delay);
        let status = upload.status(false, now());
        assert_eq!(
            (status.state, status.retries, u128::from(status.retry_in_ms)),
            (UploadState::Retrying, attempt + 1, wait.as_millis()),
            "failure {attempt}"
        );
        assert!(is_waiting(&upload));
        advance(wait);
    }
    assert_eq!(describe(&next(&upload)), "block 0");
}

#[test]
fn without_a_token_the_upload_parks_until_it_is_renewed() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    let piece = next(&upload);
    upload.settle_now(piece, Reply::NoToken, &events);
    assert_eq!(state(&upload), UploadState::NeedsAuth);
    assert_eq!(drain(&events), [EventKind::NeedsAuth]);
    assert!(is_waiting(&upload));
    // A 401 while parked does not announce it again.
    upload.settle_now(Piece::Create, answer(401, b""), &events);
    assert!(drain(&events).is_empty());
    upload.auth_renewed();
    assert!(matches!(next(&upload), Piece::Create), "the same piece goes again");
    assert_eq!(upload.status(false, now()).retries, 0);
}

/// The next piece, once the back-off in the way has passed.
fn next_after_backoff(upload: &Upload) -> Piece {
    upload.retry_now();
    next(upload)
}

/// Sends every block of a created upload, each acknowledged with `status`.
fn send_blocks(upload: &Upload, status: u16, events: &EventQueue) {
    while let NextTask::Run(piece) = upload.next_piece(now()) {
        if !matches!(piece, Piece::Block(_)) {
            return upload.put_back(piece, sinks(events));
        }
        upload.settle_now(piece, answer(status, b""), events);
    }
}

fn pending_clips(request: &InitialUploadRequest, ids: &[&str]) -> Vec<u8> {
    pending_page(request, ids, None)
}

/// One page of pending clips, with the continuation token of the next.
fn pending_page(request: &InitialUploadRequest, ids: &[&str], next: Option<&str>) -> Vec<u8> {
    let clips: Vec<_> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "gameClipId": id, "state": "PendingUpload", "dateRecorded": request.date_recorded,
                "durationInSeconds": 30, "userCaption": "", "greatestMomentId": "gm"
            })
        })
        .collect();
    let paging = serde_json::json!({ "continuationToken": next });
    serde_json::json!({ "gameClips": clips, "pagingInfo": paging }).to_string().into_bytes()
}

#[test]
fn the_orphan_search_reads_every_page_of_the_users_clips() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    let piece = next(&upload);
    upload.settle_now(piece, reset(), &events);
    assert!(matches!(next_after_backoff(&upload), Piece::Create));
    upload.settle_now(Piece::Create, answer(200, &created_body()), &events);
    send_blocks(&upload, 201, &events);
    // The first page holds 100 of the user's other clips and says there are more; the orphan is on
    // the second.
    let mut other = upload.request.clone();
    other.date_recorded = "2020-01-01T00:00:00Z".into();
    let others: Vec<String> = (0..100).map(|n| format!("other-{n}")).collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    assert!(matches!(next(&upload), Piece::FindOrphans(None)));
    upload.settle_now(Piece::FindOrphans(None), answer(200, &pending_page(&other, &others, Some("page 2"))), &events);
    let second = next(&upload);
    assert!(matches!(&second, Piece::FindOrphans(Some(token)) if token == "page 2"), "{}", describe(&second));
    upload.settle_now(second, answer(200, &pending_page(&upload.request, &["left-behind", "clip-1"], None)), &events);
    let remove = next(&upload);
    assert_eq!(describe(&remove), "remove left-behind", "found on the second page");
    upload.settle_now(remove, answer(204, b""), &events);
    assert_eq!(state(&upload), UploadState::Completed);
}

#[test]
fn an_ambiguous_create_creates_again_and_removes_the_clip_it_left() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    let piece = next(&upload);
    let settled = upload.settle_now(piece, reset(), &events);
    assert!(settled.log.unwrap().1.contains("creating again"));
    assert_eq!(state(&upload), UploadState::Retrying);
    // Never failed for it: the clip cannot be adopted (its upload URI was in the lost answer).
    assert!(matches!(next_after_backoff(&upload), Piece::Create));
    upload.settle_now(Piece::Create, answer(200, &created_body()), &events);
    send_blocks(&upload, 201, &events);
    // The bytes are in; before completing, what the lost call left is looked for and removed.
    assert_eq!(state(&upload), UploadState::Uploading);
    assert!(matches!(next(&upload), Piece::FindOrphans(None)));
    upload.settle_now(
        Piece::FindOrphans(None),
        answer(200, &pending_clips(&upload.request, &["left-behind", "clip-1"])),
        &events,
    );
    let remove = next(&upload);
    assert_eq!(describe(&remove), "remove left-behind", "only the clip no upload of ours owns");
    assert!(is_waiting(&upload));
    upload.settle_now(remove, answer(204, b""), &events);
    assert_eq!(state(&upload), UploadState::Completed);
    assert_eq!(drain(&events).last(), Some(&EventKind::Completed));
}

#[test]
fn while_a_sibling_create_is_in_flight_its_clip_is_not_taken_for_an_orphan() {
    let events = EventQueue::default();
    let creates: Arc<CreateLedger> = Arc::default();
    let (lost, _b1) = pushed_with(u64::from(BLOCK), vec![], config(), creates.clone());
    let (sibling, _b2) = pushed_with(u64::from(BLOCK), vec![], config(), creates.clone());
    assert!(matches!(next(&lost), Piece::Create));
    let sibling_create = next(&sibling);
    lost.settle_now(Piece::Create, reset(), &events);
    assert!(matches!(next_after_backoff(&lost), Piece::Create));
    lost.settle_now(Piece::Create, answer(200, &created_body()), &events);
    send_blocks(&lost, 201, &events);
    // The sibling's answer has not come: a pending clip like ours could be its.
    assert!(is_waiting(&lost));
    let sibling_body = serde_json::json!({ "gameClipId": "sibling", "uploadUri": "https://up.upload.test/u/s" });
    sibling.settle_now(sibling_create, answer(200, sibling_body.to_string().as_bytes()), &events);
    assert!(matches!(next(&lost), Piece::FindOrphans(None)));
    let listed = pending_clips(&lost.request, &["sibling", "orphan", "clip-1"]);
    lost.settle_now(Piece::FindOrphans(None), answer(200, &listed), &events);
    let remove = next(&lost);
    assert_eq!(describe(&remove), "remove orphan");
    // A 404: someone removed it first; either way it is gone.
    lost.settle_now(remove, answer(404, b""), &events);
    assert_eq!(state(&lost), UploadState::Completed);
    assert_eq!(state(&sibling), UploadState::Uploading);
}

#[test]
fn a_service_that_acknowledges_with_200_is_asked_whether_it_holds_the_clip() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(3 * u64::from(BLOCK), vec![]);
    create(&upload, &events);
    send_blocks(&upload, 200, &events);
    assert!(matches!(next(&upload), Piece::ConfirmCommit));
    let clip = |state: &str| {
        serde_json::json!({ "gameClip": { "gameClipId": "clip-1", "state": state } }).to_string().into_bytes()
    };
    // Still joining the blocks: asked again later, nothing sent again.
    upload.settle_now(Piece::ConfirmCommit, answer(200, &clip("PendingUpload")), &events);
    assert_eq!(state(&upload), UploadState::Retrying);
    assert!(matches!(next_after_backoff(&upload), Piece::ConfirmCommit));
    upload.settle_now(Piece::ConfirmCommit, answer(200, &clip("Uploaded")), &events);
    assert_eq!(state(&upload), UploadState::Completed);
    assert_eq!(upload.status(false, now()).blocks_acked, 3);
}

#[test]
fn give_up_after_ends_an_upload_failing_that_long_without_progress() {
    let events = EventQueue::default();
    let mut config = Config::for_tests(BLOCK);
    config.give_up_after = Some(Duration::from_millis(50));
    let (upload, _budget) = pushed_with(u64::from(BLOCK), vec![], Arc::new(config), Arc::default());
    let unavailable = || unavailable_for(Duration::from_millis(1));
    upload.settle_now(next(&upload), unavailable(), &events);
    assert_eq!(state(&upload), UploadState::Retrying);
    advance(Duration::from_millis(60));
    upload.settle_now(next_after_backoff(&upload), unavailable(), &events);
    assert_eq!(state(&upload), UploadState::Failed);
    let message = upload.error().unwrap().message;
    assert!(message.contains("give_up_after_ms 50") && message.contains("HTTP 503"), "{message}");
}

#[test]
fn an_initial_answer_with_a_foreign_upload_host_fails_the_upload() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    let piece = next(&upload);
    let foreign = br#"{"gameClipId":"c","uploadUri":"https://evil.example/u"}"#;
    let settled = upload.settle_now(piece, answer(200, foreign), &events);
    assert_eq!(settled.log.unwrap().0, LogLevel::Warn);
    assert_eq!(state(&upload), UploadState::Failed);
    assert!(upload.error().unwrap().message.contains("evil.example is not an allowed upload host"));
}

#[test]
fn outcomes_after_the_end_change_nothing() {
    let events = EventQueue::default();
    let (upload, budget) = pushed(3 * u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let (first, second) = (next(&upload), next(&upload));
    upload.cancel(sinks(&events)).unwrap();
    upload.settle_now(first, answer(201, b""), &events);
    let settled = upload.settle_now(second, reset(), &events);
    assert!(settled.log.is_none() && settled.own.journal.is_none());
    assert_eq!(budget_used(&budget), 0, "the copies' budget is back once the pieces in flight are settled");
    let status = upload.status(false, now());
    assert_eq!(
        (status.state, status.result, status.bytes_acked),
        (UploadState::Cancelled, ErrorKind::Cancelled.code(), 0)
    );
    assert_eq!(drain(&events), [EventKind::ClipCreated, EventKind::Cancelled]);
    assert!(matches!(upload.next_piece(now()), NextTask::Finished));
    assert_eq!(upload.cancel(sinks(&events)).unwrap_err().kind, ErrorKind::WrongState);
}

/// Bytes of pushed copies still held, as the budget counts them (dropped pieces give theirs back).
fn budget_used(budget: &Arc<PushBudget>) -> u64 {
    // The budget's own counter is private; what can be reserved tells it.
    let mut held = 0;
    let mut copies = Vec::new();
    while let Ok(copy) = PushedBlock::copy_of(&[0; BLOCK as usize], budget) {
        copies.push(copy);
        held += u64::from(BLOCK);
    }
    budget.max() - held
}

/// An upload as a journal left it: the clip created, block 0 acknowledged.
fn resumed(dir: &std::path::Path) -> Upload {
    let (upload, settled) = resumed_with(dir, config());
    assert!(settled.log.is_none() && settled.own.journal.is_none(), "the journal's clip is taken up as it is");
    upload
}

/// As [`resumed`], read back by a client configured with `config`; what its machine asks for.
fn resumed_with(dir: &std::path::Path, config: Arc<Config>) -> (Upload, Settled) {
    let size = 3 * u64::from(BLOCK);
    let journal = Journal::create(dir, "resumed").unwrap();
    let records = vec![
        Record::Start {
            scid: "scid".into(),
            path: None,
            file: None,
            size,
            block_size: BLOCK,
            request: serde_json::to_value(request()).unwrap(),
            thumbnails: vec![],
        },
        Record::Created { response: serde_json::from_slice(&created_body()).unwrap(), upload_id: "u".into() },
        Record::Acked { block: 0, committed: false },
    ];
    let resumed = Resumed::from_records(journal, records).expect("the records describe an upload");
    Upload::resume(9, resumed, config, Arc::default())
}

#[test]
fn a_resumed_upload_whose_clip_is_gone_is_created_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let events = EventQueue::default();
    let upload = resumed(dir.path());
    assert_eq!(upload.status(false, now()).blocks_acked, 1);
    assert!(matches!(next(&upload), Piece::CheckResumed));
    let settled = upload.settle_now(Piece::CheckResumed, answer(404, b""), &events);
    assert!(settled.log.unwrap().1.contains("creating it again"));
    let status = upload.status(false, now());
    assert_eq!((status.state, status.blocks_acked), (UploadState::Creating, 0));
    assert!(upload.clip_id().is_none());
    assert!(matches!(next(&upload), Piece::Create));
    assert_eq!(upload.missing_blocks(), vec![0, 1, 2], "push mode: the game hands every block over again");
}

#[test]
fn a_journals_clip_on_a_host_no_longer_allowed_is_created_again_and_the_old_one_removed() {
    // The title narrowed its upload hosts since the journal was written (or the file was altered):
    // nothing goes to the journal's uploadUri, and no data is lost.
    let dir = tempfile::tempdir().unwrap();
    let events = EventQueue::default();
    let mut narrowed = Config::for_tests(BLOCK);
    narrowed.upload_hosts = UploadHosts::new("https://meta.test", "*.elsewhere.test").unwrap();
    let (upload, settled) = resumed_with(dir.path(), Arc::new(narrowed));
    let (level, message) = settled.log.expect("the refusal is logged");
    assert_eq!(level, LogLevel::Warn);
    assert!(
        message.contains("uploadUri") && message.contains("up.upload.test is not an allowed upload host"),
        "{message}"
    );
    assert!(matches!(settled.own.journal, Some(Record::LostCreate)), "journaled: a restart still removes it");
    assert!(upload.clip_id().is_none());
    assert_eq!(upload.status(false, now()).blocks_acked, 0);
    assert!(matches!(next(&upload), Piece::Create));
    let created = br#"{"gameClipId":"clip-2","uploadUri":"https://up.elsewhere.test/u/clip-2"}"#;
    upload.settle_now(Piece::Create, answer(200, created), &events);
    let budget = Arc::new(PushBudget::new(64 * u64::from(BLOCK), BLOCK));
    for block in 0..3 {
        upload.push_block(block, &vec![0; BLOCK as usize], &budget).unwrap();
    }
    send_blocks(&upload, 201, &events);
    assert!(matches!(next(&upload), Piece::FindOrphans(None)), "the journal's clip is looked for");
    let listed = pending_clips(&upload.request, &["clip-1", "clip-2"]);
    upload.settle_now(Piece::FindOrphans(None), answer(200, &listed), &events);
    let remove = next(&upload);
    assert_eq!(describe(&remove), "remove clip-1");
    upload.settle_now(remove, answer(204, b""), &events);
    assert_eq!(state(&upload), UploadState::Completed);
}

#[test]
fn a_resumed_upload_the_service_already_has_completes_without_sending() {
    let dir = tempfile::tempdir().unwrap();
    let events = EventQueue::default();
    let upload = resumed(dir.path());
    assert!(matches!(next(&upload), Piece::CheckResumed));
    let published = br#"{"gameClip":{"gameClipId":"clip-1","state":"Published"}}"#;
    upload.settle_now(Piece::CheckResumed, answer(200, published), &events);
    let status = upload.status(false, now());
    assert_eq!((status.state, status.blocks_acked, status.bytes_acked), (UploadState::Completed, 3, 3 * 1024));
    assert_eq!(drain(&events), [EventKind::Completed]);
}

#[test]
fn a_resumed_upload_still_pending_sends_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let events = EventQueue::default();
    let upload = resumed(dir.path());
    assert!(matches!(next(&upload), Piece::CheckResumed));
    let pending = br#"{"gameClip":{"gameClipId":"clip-1","state":"PendingUpload"}}"#;
    upload.settle_now(Piece::CheckResumed, answer(200, pending), &events);
    assert_eq!(upload.missing_blocks(), vec![1, 2]);
    assert_eq!(state(&upload), UploadState::WaitingForData);
}

#[test]
fn a_lost_create_is_journaled_before_the_call_goes_again_and_the_next_client_removes_its_clip() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    let piece = next(&upload);
    let settled = upload.settle_now(piece, reset(), &events);
    assert!(matches!(settled.own.journal, Some(Record::LostCreate)), "journaled before the create goes again");

    // Killed right then: the next client reads the journal and finishes the upload, then the cleanup.
    let dir = tempfile::tempdir().unwrap();
    let records = vec![
        Record::Start {
            scid: "scid".into(),
            path: None,
            file: None,
            size: u64::from(BLOCK),
            block_size: BLOCK,
            request: serde_json::to_value(request()).unwrap(),
            thumbnails: vec![],
        },
        Record::LostCreate,
    ];
    let resumed = Resumed::from_records(Journal::create(dir.path(), "lost").unwrap(), records).unwrap();
    assert_eq!(resumed.lost_creates, 1);
    let (upload, _) = Upload::resume(9, resumed, config(), Arc::default());
    assert!(matches!(next(&upload), Piece::Create));
    upload.settle_now(Piece::Create, answer(200, &created_body()), &events);
    let budget = Arc::new(PushBudget::new(64 * u64::from(BLOCK), BLOCK));
    upload.push_block(0, &vec![0; BLOCK as usize], &budget).unwrap();
    send_blocks(&upload, 201, &events);
    assert!(matches!(next(&upload), Piece::FindOrphans(None)), "the earlier client's lost call is looked for");
    let listed = pending_clips(&upload.request, &["left-behind", "clip-1"]);
    upload.settle_now(Piece::FindOrphans(None), answer(200, &listed), &events);
    let remove = next(&upload);
    assert_eq!(describe(&remove), "remove left-behind");
    upload.settle_now(remove, answer(204, b""), &events);
    assert_eq!(state(&upload), UploadState::Completed);
}

#[test]
fn a_block_abandoned_in_flight_goes_again_at_once_and_costs_no_retry_but_its_bytes_count_as_wasted() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(2 * u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let first = next(&upload);
    let outcome = Outcome::Transport { reached_service: true, message: "the client suspended".into() };
    let reply = Reply::Sent { outcome, abandoned: true, body_sent: 700 };
    let settled = upload.settle_now(first, reply, &events);
    assert!(settled.log.is_none() && settled.own.journal.is_none());
    let status = upload.status(false, now());
    assert_eq!((status.state, status.retries, status.bytes_wasted), (UploadState::Uploading, 0, 700));
    assert_eq!(describe(&next(&upload)), "block 0", "sent again without waiting out a back-off");
}

#[test]
fn an_initial_call_abandoned_in_flight_is_made_again_and_what_it_may_have_left_is_looked_for() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    let piece = next(&upload);
    let outcome = Outcome::Transport { reached_service: true, message: "the client went offline".into() };
    upload.settle_now(piece, Reply::Sent { outcome, abandoned: true, body_sent: 0 }, &events);
    assert_eq!(upload.status(false, now()).retries, 0);
    assert!(matches!(next(&upload), Piece::Create), "created again at once");
    upload.settle_now(Piece::Create, answer(200, &created_body()), &events);
    send_blocks(&upload, 201, &events);
    assert!(matches!(next(&upload), Piece::FindOrphans(None)), "the abandoned call may have made a clip");
}

/// The lines a recording log kept.
type KeptLines = Arc<parking_lot::Mutex<Vec<(LogLevel, String)>>>;

/// A log that keeps every line, for the paths that end an upload.
fn recording_log() -> (Logger, KeptLines) {
    let lines = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let kept = lines.clone();
    let sink: crate::log::LogSink = Arc::new(move |level, line: &str| kept.lock().push((level, line.to_string())));
    (Logger::new(Some(sink), LogLevel::Trace as u32), lines)
}

/// Every way an upload ends carries out its decision whole: the event the game hears, and its log line.
#[test]
fn every_path_that_ends_an_upload_writes_its_event_and_log_line() {
    type End = fn(&Upload, Sinks<'_>);
    let paths: [(&str, End, EventKind, &str); 4] = [
        (
            "completed",
            |upload, sinks| {
                for _ in 0..upload.layout().unwrap().blocks {
                    let block = next(upload);
                    upload.settle(block, answer(201, b""), now(), sinks);
                }
            },
            EventKind::Completed,
            "completed",
        ),
        (
            "failed by an answer",
            |upload, sinks| {
                let block = next(upload);
                upload.settle(block, answer(404, b""), now(), sinks);
            },
            EventKind::Failed,
            "failed",
        ),
        (
            "failed by a worker's panic",
            |upload, sinks| {
                upload.fail(Error::new(ErrorKind::Internal, "a bug"), sinks);
            },
            EventKind::Failed,
            "failed: a bug",
        ),
        ("cancelled", |upload, sinks| upload.cancel(sinks).unwrap(), EventKind::Cancelled, "cancelled"),
    ];
    for (path, end, event, logged) in paths {
        let events = EventQueue::default();
        let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
        create(&upload, &events);
        drain(&events);
        let (log, lines) = recording_log();
        end(&upload, Sinks { events: &events, log: &log });
        assert!(upload.has_ended(), "{path}");
        assert_eq!(drain(&events).last(), Some(&event), "{path}");
        let lines = lines.lock();
        assert!(lines.iter().any(|(_, line)| line.contains(logged)), "{path}: {lines:?}");
    }
}

/// The last block's acknowledgement ends the upload and is journaled with it.
#[test]
fn the_block_that_completes_an_upload_is_journaled() {
    let events = EventQueue::default();
    let (upload, _budget) = pushed(u64::from(BLOCK), vec![]);
    create(&upload, &events);
    let block = next(&upload);
    let seen = upload.settle_now(block, answer(201, b""), &events);
    assert!(upload.has_ended());
    assert!(matches!(seen.own.journal, Some(Record::Acked { block: 0, committed: true })));
    assert!(seen.log.is_some_and(|(_, line)| line.contains("completed")));
}
