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
use std::sync::Arc;

use parking_lot::Mutex;

use crate::protocol::{ClipPage, InitialUploadRequest};

#[derive(Debug, Default)]
struct Siblings {
    /// Initial calls sent and not yet answered.
    in_flight: u32,
    /// Initial calls whose answer was lost: each may have left a clip.
    possible_orphans: u32,
    /// An upload is looking for them (one at a time: two would remove the same clips).
    searching: bool,
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

    /// Initial calls of `key` whose answers an earlier client lost (read from a journal): each may have
    /// left a clip.
    pub fn lost_before(&self, key: &str, lost: u32) {
        if lost > 0 {
            self.ledger.lock().by_key.entry(key.to_string()).or_default().possible_orphans += lost;
        }
    }

    /// A clip this client made (a resumed upload's).
    pub fn own_clip(&self, clip_id: &str) {
        self.ledger.lock().own_clips.insert(clip_id.to_string());
    }

    /// Leave to look for `key`'s orphans now; `None` while a sibling's initial call is in flight (its
    /// clip could not be told from an orphan) or another upload is looking.
    pub fn begin_search(self: &Arc<Self>, key: &str) -> Option<Search> {
        let mut ledger = self.ledger.lock();
        let siblings = ledger.by_key.entry(key.to_string()).or_default();
        if siblings.in_flight > 0 || siblings.searching {
            return None;
        }
        siblings.searching = true;
        let looked_for = siblings.possible_orphans;
        Some(Search { ledger: self.clone(), key: key.to_string(), looked_for })
    }

    /// The orphans in a listing: pending clips that look like `request`, and are no upload's of ours.
    /// Called under a [`Search`].
    pub fn orphans_in(&self, request: &InitialUploadRequest, page: &ClipPage) -> Vec<String> {
        let ledger = self.ledger.lock();
        page.game_clips
            .iter()
            .filter(|clip| request.matches(clip) && !ledger.own_clips.contains(&clip.game_clip_id))
            .map(|clip| clip.game_clip_id.clone())
            .collect()
    }
}

/// One upload's leave to look for its siblings' orphans. [`Search::settled`] when it is done; dropped
/// before (put back, the upload ended), it lets the next upload look.
pub struct Search {
    ledger: Arc<CreateLedger>,
    key: String,
    looked_for: u32,
}

impl Search {
    /// The possible orphans known when the search began are settled: found and removed, shown never
    /// made, or given up on.
    pub fn settled(self) {
        if let Some(siblings) = self.ledger.ledger.lock().by_key.get_mut(&self.key) {
            siblings.possible_orphans = siblings.possible_orphans.saturating_sub(self.looked_for);
        }
    }
}

impl Drop for Search {
    fn drop(&mut self) {
        if let Some(siblings) = self.ledger.ledger.lock().by_key.get_mut(&self.key) {
            siblings.searching = false;
        }
    }
}

/// How an initial call came back (see [`CreateLedger::create_settled`]).
#[derive(Debug)]
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
        let ledger = Arc::new(CreateLedger::default());
        // Two siblings create; one answer is lost, the other is still in flight.
        ledger.create_sent(&key);
        ledger.create_sent(&key);
        ledger.create_settled(&key, CreateOutcome::Unknown);
        assert!(ledger.begin_search(&key).is_none(), "a sibling's clip would look the same");
        ledger.create_settled(&key, CreateOutcome::Made("sibling".into()));
        // The lost one created again.
        ledger.create_sent(&key);
        ledger.create_settled(&key, CreateOutcome::Made("mine".into()));
        let search = ledger.begin_search(&key).expect("nothing in flight");
        assert!(ledger.begin_search(&key).is_none(), "one search at a time");
        let clips = [pending("sibling", &request), pending("orphan", &request), pending("mine", &request)];
        let page = ClipPage::from_wire(serde_json::json!({ "gameClips": clips }).to_string().as_bytes()).unwrap();
        assert_eq!(ledger.orphans_in(&request, &page), vec!["orphan".to_string()]);
        search.settled();
        let again = ledger.begin_search(&key).expect("the search ended");
        assert_eq!(again.looked_for, 0);
    }
}
