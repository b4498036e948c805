//! What a client knows about the clips its own initial calls made, so that a lost answer never fails
//! an upload and never leaves a clip behind that no upload will use.
//!
//! An initial call whose answer was lost may or may not have made a clip; the clip cannot be adopted
//! (its upload URI was in the lost answer), so the upload creates again and the possible orphan is
//! remembered here. A pending clip the service lists is this client's orphan only when it looks like
//! the request (same scid, time, duration, caption and name: its "siblings key"), is not the clip of
//! any of this client's uploads, and no initial call with that key is still in flight (its clip
//! would look the same, and belongs to a sibling upload). Only then is it removed.

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;

use crate::protocol::{ClipPage, InitialUploadRequest};

#[derive(Debug, Default)]
struct Siblings {
    /// Initial calls sent and not yet answered.
    in_flight: u32,
    /// Initial calls whose answer was lost: each may have left a clip.
    possible_orphans: u32,
}

#[derive(Default)]
struct Ledger {
    /// Every clip this client's initial calls are known to have made (and resumed uploads' clips).
    own_clips: HashSet<String>,
    by_key: HashMap<String, Siblings>,
}

#[derive(Default)]
pub struct CreateLedger {
    ledger: Mutex<Ledger>,
}

/// The uploads whose initial calls could make clips that look alike.
pub fn siblings_key(scid: &str, request: &InitialUploadRequest) -> String {
    format!(
        "{scid}\n{}\n{}\n{}\n{}",
        request.date_recorded, request.duration_in_seconds, request.user_caption, request.greatest_moment_id
    )
}

impl CreateLedger {
    pub fn create_sent(&self, key: &str) {
        self.ledger.lock().by_key.entry(key.to_string()).or_default().in_flight += 1;
    }

    /// The initial call came back: with the clip it made, or with no answer to tell whether it made
    /// one (`clip` `None`: a possible orphan), or provably without making one (`made_none`).
    pub fn create_settled(&self, key: &str, outcome: CreateOutcome) {
        let mut guard = self.ledger.lock();
        let ledger = &mut *guard;
        let siblings = ledger.by_key.entry(key.to_string()).or_default();
        siblings.in_flight = siblings.in_flight.saturating_sub(1);
        match outcome {
            CreateOutcome::Made(clip_id) => {
                ledger.own_clips.insert(clip_id);
            }
            CreateOutcome::Unknown => siblings.possible_orphans += 1,
            CreateOutcome::MadeNone => {}
        }
    }

    /// A clip this client made (a resumed upload's).
    pub fn own_clip(&self, clip_id: &str) {
        self.ledger.lock().own_clips.insert(clip_id.to_string());
    }

    /// How many possible orphans wait to be looked for under `key`; 0 also while a sibling's initial
    /// call is in flight (its clip could not be told from an orphan).
    pub fn orphans_to_look_for(&self, key: &str) -> Option<u32> {
        let ledger = self.ledger.lock();
        let siblings = ledger.by_key.get(key)?;
        match (siblings.possible_orphans, siblings.in_flight) {
            (0, _) => None,
            (_, 0) => Some(siblings.possible_orphans),
            _ => Some(0),
        }
    }

    /// The orphans in a listing: pending clips that look like `request`, and are no upload's of ours.
    /// Called with no initial call of `key` in flight (see [`CreateLedger::orphans_to_look_for`]).
    pub fn orphans_in(&self, request: &InitialUploadRequest, page: &ClipPage) -> Vec<String> {
        let ledger = self.ledger.lock();
        page.game_clips
            .iter()
            .filter(|clip| request.matches(clip) && !ledger.own_clips.contains(&clip.game_clip_id))
            .map(|clip| clip.game_clip_id.clone())
            .collect()
    }

    /// `looked_for` possible orphans were settled (found and removed, or shown never made).
    pub fn orphans_settled(&self, key: &str, looked_for: u32) {
        if let Some(siblings) = self.ledger.lock().by_key.get_mut(key) {
            siblings.possible_orphans = siblings.possible_orphans.saturating_sub(looked_for);
        }
    }
}

/// How an initial call came back (see [`CreateLedger::create_settled`]).
pub enum CreateOutcome {
    Made(String),
    Unknown,
    MadeNone,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, request: &InitialUploadRequest) -> serde_json::Value {
        serde_json::json!({
            "gameClipId": id, "state": "PendingUpload", "dateRecorded": request.date_recorded,
            "durationInSeconds": request.duration_in_seconds, "userCaption": request.user_caption,
            "greatestMomentId": request.greatest_moment_id,
        })
    }

    #[test]
    fn only_clips_no_upload_owns_are_orphans_and_only_when_no_sibling_create_is_in_flight() {
        let request = InitialUploadRequest::for_tests();
        let key = siblings_key("scid", &request);
        let ledger = CreateLedger::default();
        assert_eq!(ledger.orphans_to_look_for(&key), None);
        // Two siblings create; one answer is lost, the other is still in flight.
        ledger.create_sent(&key);
        ledger.create_sent(&key);
        ledger.create_settled(&key, CreateOutcome::Unknown);
        assert_eq!(ledger.orphans_to_look_for(&key), Some(0), "a sibling's clip would look the same");
        ledger.create_settled(&key, CreateOutcome::Made("sibling".into()));
        // The lost one created again.
        ledger.create_sent(&key);
        ledger.create_settled(&key, CreateOutcome::Made("mine".into()));
        assert_eq!(ledger.orphans_to_look_for(&key), Some(1));
        let clips = [pending("sibling", &request), pending("orphan", &request), pending("mine", &request)];
        let page = ClipPage::from_wire(serde_json::json!({ "gameClips": clips }).to_string().as_bytes()).unwrap();
        assert_eq!(ledger.orphans_in(&request, &page), vec!["orphan".to_string()]);
        ledger.orphans_settled(&key, 1);
        assert_eq!(ledger.orphans_to_look_for(&key), None);
    }
}
