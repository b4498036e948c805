//! Durable state: clip metadata and per-block receive counts in SQLite, clip bytes in one file per clip
//! written in place at each block's offset (memory stays flat whatever the clip size).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{named_params, params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::blocks::{BlockError, BlockLayout};
use crate::wire::NewClip;

/// What a block PUT did.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Stored; more blocks are missing (202).
    Stored,
    /// The clip is complete: this block committed it, or it was committed before (201).
    Committed,
}

#[derive(Debug, Clone)]
pub struct ClipRecord {
    pub id: String,
    pub owner_xuid: String,
    pub scid: String,
    pub upload_id: String,
    pub meta: NewClip,
    pub block_size: Option<u64>,
    pub created_at_ms: u64,
    pub committed_at_ms: Option<u64>,
    pub failed: Option<String>,
    pub sha256: Option<String>,
    pub last_modified_ms: u64,
}

/// What other users did with a clip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Social {
    pub rating: f64,
    pub rating_count: u64,
    pub views: u64,
    pub flagged: bool,
}

/// An uploaded thumbnail image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// "large" or "small".
    pub kind: String,
    pub size: u64,
    pub content_type: String,
}

/// A metadata change; `None` leaves the field as it is.
#[derive(Debug, Default)]
pub struct MetadataChange {
    pub user_caption: Option<String>,
    pub visibility: Option<String>,
    pub title_data: Option<String>,
}

/// Which clips a list call returns, in what order, which page.
#[derive(Debug)]
pub struct ListQuery {
    pub owner_xuid: String,
    pub scid: Option<String>,
    /// The caller owns the clips: Owner-only clips are included.
    pub caller_is_owner: bool,
    /// Enforcement sees flagged clips too.
    pub include_flagged: bool,
    /// "created", "rating" or "views".
    pub qualifier: String,
    pub ascending: bool,
    pub skip: u64,
    pub max: u64,
}

pub struct Store {
    db: Mutex<Connection>,
    blobs: PathBuf,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS clips (
    id TEXT PRIMARY KEY,
    owner_xuid TEXT NOT NULL,
    scid TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    greatest_moment_id TEXT NOT NULL,
    user_caption TEXT NOT NULL,
    session_ref TEXT NOT NULL,
    date_recorded TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    expected_blocks INTEGER NOT NULL,
    file_size INTEGER NOT NULL,
    clip_type TEXT NOT NULL,
    source TEXT NOT NULL,
    visibility TEXT NOT NULL,
    title_data TEXT NOT NULL,
    system_properties TEXT NOT NULL,
    users_in_session TEXT NOT NULL,
    thumbnail_source TEXT NOT NULL,
    thumbnail_offset_ms INTEGER NOT NULL,
    saved_by_user INTEGER NOT NULL,
    block_size INTEGER,
    created_at_ms INTEGER NOT NULL,
    committed_at_ms INTEGER,
    failed TEXT,
    sha256 TEXT
);
CREATE TABLE IF NOT EXISTS blocks (
    clip_id TEXT NOT NULL,
    block_num INTEGER NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (clip_id, block_num)
);
CREATE TABLE IF NOT EXISTS ratings (
    clip_id TEXT NOT NULL,
    rater_xuid TEXT NOT NULL,
    rating INTEGER NOT NULL,
    PRIMARY KEY (clip_id, rater_xuid)
);
CREATE TABLE IF NOT EXISTS views (
    clip_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS flags (
    clip_id TEXT NOT NULL,
    flagger_xuid TEXT NOT NULL,
    PRIMARY KEY (clip_id, flagger_xuid)
);
CREATE TABLE IF NOT EXISTS thumbnails (
    clip_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    PRIMARY KEY (clip_id, kind)
);
";

/// A clip's row, read by column name.
fn clip_from_row(row: &rusqlite::Row) -> rusqlite::Result<ClipRecord> {
    let users: String = row.get("users_in_session")?;
    let created_at_ms = row.get("created_at_ms")?;
    Ok(ClipRecord {
        id: row.get("id")?,
        owner_xuid: row.get("owner_xuid")?,
        scid: row.get("scid")?,
        upload_id: row.get("upload_id")?,
        meta: NewClip {
            greatest_moment_id: row.get("greatest_moment_id")?,
            user_caption: row.get("user_caption")?,
            session_ref: row.get("session_ref")?,
            date_recorded: row.get("date_recorded")?,
            duration_seconds: row.get("duration_seconds")?,
            expected_blocks: row.get("expected_blocks")?,
            file_size: row.get("file_size")?,
            clip_type: row.get("clip_type")?,
            source: row.get("source")?,
            visibility: row.get("visibility")?,
            title_data: row.get("title_data")?,
            system_properties: row.get("system_properties")?,
            users_in_session: serde_json::from_str(&users).unwrap_or_default(),
            thumbnail_source: row.get("thumbnail_source")?,
            thumbnail_offset_ms: row.get("thumbnail_offset_ms")?,
            saved_by_user: row.get("saved_by_user")?,
        },
        block_size: row.get("block_size")?,
        created_at_ms,
        committed_at_ms: row.get("committed_at_ms")?,
        failed: row.get("failed")?,
        sha256: row.get("sha256")?,
        // Data dirs made before the column existed hold NULL there.
        last_modified_ms: row.get::<_, Option<u64>>("last_modified_ms")?.unwrap_or(created_at_ms),
    })
}

impl Store {
    pub fn open(data_dir: &Path) -> io::Result<Store> {
        let blobs = data_dir.join("clips");
        fs::create_dir_all(&blobs)?;
        let db = Connection::open(data_dir.join("emulator.sqlite3")).map_err(io::Error::other)?;
        db.execute_batch(SCHEMA).map_err(io::Error::other)?;
        // Data dirs made before the column existed gain it; "duplicate column" means it is there.
        let _ = db.execute("ALTER TABLE clips ADD COLUMN last_modified_ms INTEGER", []);
        Ok(Store { db: Mutex::new(db), blobs })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A handler that panicked cannot have left a transaction half-applied: SQLite rolls it back.
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn blob_path(&self, clip_id: &str) -> PathBuf {
        self.blobs.join(format!("{clip_id}.bin"))
    }

    pub fn create_clip(&self, id: &str, owner_xuid: &str, scid: &str, upload_id: &str, clip: &NewClip, now_ms: u64) {
        File::create(self.blob_path(id)).expect("clip file can be created in the data dir");
        let users = serde_json::to_string(&clip.users_in_session).expect("strings serialize");
        let row = named_params! {
            ":id": id, ":owner_xuid": owner_xuid, ":scid": scid, ":upload_id": upload_id,
            ":greatest_moment_id": clip.greatest_moment_id, ":user_caption": clip.user_caption,
            ":session_ref": clip.session_ref, ":date_recorded": clip.date_recorded,
            ":duration_seconds": clip.duration_seconds, ":expected_blocks": clip.expected_blocks,
            ":file_size": clip.file_size, ":clip_type": clip.clip_type, ":source": clip.source,
            ":visibility": clip.visibility, ":title_data": clip.title_data,
            ":system_properties": clip.system_properties, ":users_in_session": users,
            ":thumbnail_source": clip.thumbnail_source, ":thumbnail_offset_ms": clip.thumbnail_offset_ms,
            ":saved_by_user": clip.saved_by_user, ":created_at_ms": now_ms, ":last_modified_ms": now_ms,
        };
        // The columns are the parameters' names: one list, so a column cannot get another's value.
        let names: Vec<&str> = row.iter().map(|(name, _)| *name).collect();
        let columns: Vec<&str> = names.iter().map(|name| &name[1..]).collect();
        self.db()
            .execute(&format!("INSERT INTO clips ({}) VALUES ({})", columns.join(", "), names.join(", ")), row)
            .expect("clip row inserts");
    }

    pub fn clip(&self, id: &str) -> Option<ClipRecord> {
        self.db()
            .query_row("SELECT * FROM clips WHERE id = ?1", [id], clip_from_row)
            .optional()
            .expect("clip query runs")
    }

    /// How many times each block was received, indexed by block number.
    pub fn block_counts(&self, clip: &ClipRecord) -> Vec<u64> {
        let mut counts = vec![0; clip.meta.expected_blocks as usize];
        let db = self.db();
        let mut stmt = db.prepare("SELECT block_num, received FROM blocks WHERE clip_id = ?1").expect("prepare");
        let rows = stmt
            .query_map([&clip.id], |row| Ok((row.get::<_, u64>(0)?, row.get::<_, u64>(1)?)))
            .expect("block query runs");
        for (num, received) in rows.flatten() {
            if let Some(slot) = counts.get_mut(num as usize) {
                *slot = received;
            }
        }
        counts
    }

    /// Stores one block (at most `max_block_bytes`) in place; commits the clip when it was the last one
    /// missing.
    pub fn put_block(
        &self,
        clip_id: &str,
        block_num: u64,
        data: &[u8],
        max_block_bytes: u64,
        now_ms: u64,
    ) -> Result<BlockOutcome, BlockError> {
        let clip = self.clip(clip_id).ok_or(BlockError::NotFound)?;
        if clip.committed_at_ms.is_some() || clip.failed.is_some() {
            return Ok(BlockOutcome::Committed);
        }
        let (file_size, expected) = (clip.meta.file_size, clip.meta.expected_blocks);
        let layout = BlockLayout { file_size, expected_blocks: expected, max_block_bytes };
        let len = data.len() as u64;
        layout.check(block_num, len)?;
        let block_size = match clip.block_size {
            Some(size) => size,
            None => self.settle_block_size(clip_id, layout.implied_block_size(block_num, len)?),
        };
        let offset = layout.offset(block_size, block_num, len)?;
        let file = OpenOptions::new().write(true).open(self.blob_path(clip_id)).map_err(|_| BlockError::NotFound)?;
        write_all_at(&file, data, offset).expect("block write to the clip file");

        let complete = self.count_block(clip_id, block_num) == expected;
        // The clip shows as committed only with its verdict: a resent block answered while the file was
        // still being checked must not report a commit whose checksum is not there yet.
        if complete && self.commit_verified(clip_id, file_size, now_ms) {
            return Ok(BlockOutcome::Committed);
        }
        Ok(if self.clip(clip_id).is_some_and(|c| c.committed_at_ms.is_some()) {
            BlockOutcome::Committed
        } else {
            BlockOutcome::Stored
        })
    }

    /// The clip's block size, as the first block to arrive set it: two first blocks may race, the first
    /// to store its size wins and the other is checked against it.
    fn settle_block_size(&self, clip_id: &str, implied: u64) -> u64 {
        let db = self.db();
        db.execute("UPDATE clips SET block_size = ?2 WHERE id = ?1 AND block_size IS NULL", params![clip_id, implied])
            .expect("block size update");
        db.query_row("SELECT block_size FROM clips WHERE id = ?1", [clip_id], |row| row.get(0))
            .expect("block size query")
    }

    /// Counts one more receipt of a block; how many of the clip's blocks have arrived.
    fn count_block(&self, clip_id: &str, block_num: u64) -> u64 {
        let mut db = self.db();
        let tx = db.transaction().expect("transaction");
        tx.execute(
            "INSERT INTO blocks (clip_id, block_num, received) VALUES (?1, ?2, 1)
             ON CONFLICT (clip_id, block_num) DO UPDATE SET received = received + 1",
            params![clip_id, block_num],
        )
        .expect("block count");
        let have =
            tx.query_row("SELECT COUNT(*) FROM blocks WHERE clip_id = ?1", [clip_id], |row| row.get(0)).expect("count");
        tx.commit().expect("commit transaction");
        have
    }

    /// The service joins the blocks and checks the file (a mismatch puts the clip in `Error`), then
    /// commits it with that verdict in one statement. False when another request committed it first.
    fn commit_verified(&self, clip_id: &str, file_size: u64, now_ms: u64) -> bool {
        let path = self.blob_path(clip_id);
        let on_disk = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (failed, sha) = if on_disk != file_size {
            (Some(format!("assembled file is {on_disk} bytes, expected {file_size}")), None)
        } else {
            (None, Some(sha256_file(&path).expect("clip file is readable")))
        };
        self.db()
            .execute(
                "UPDATE clips SET committed_at_ms = ?2, failed = ?3, sha256 = ?4
                 WHERE id = ?1 AND committed_at_ms IS NULL AND failed IS NULL",
                params![clip_id, now_ms, failed, sha],
            )
            .expect("commit with its verdict")
            == 1
    }

    /// Bytes of all the clips a user holds (for the quota).
    pub fn bytes_owned(&self, owner_xuid: &str) -> u64 {
        self.db()
            .query_row("SELECT COALESCE(SUM(file_size), 0) FROM clips WHERE owner_xuid = ?1", [owner_xuid], |row| {
                row.get(0)
            })
            .expect("quota query runs")
    }

    pub fn social(&self, clip_id: &str) -> Social {
        let db = self.db();
        let (rating, rating_count): (Option<f64>, u64) = db
            .query_row("SELECT AVG(rating), COUNT(*) FROM ratings WHERE clip_id = ?1", [clip_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .expect("rating query runs");
        let views: u64 = db
            .query_row("SELECT count FROM views WHERE clip_id = ?1", [clip_id], |row| row.get(0))
            .optional()
            .expect("view query runs")
            .unwrap_or(0);
        let flagged: u64 = db
            .query_row("SELECT COUNT(*) FROM flags WHERE clip_id = ?1", [clip_id], |row| row.get(0))
            .expect("flag query runs");
        Social { rating: rating.unwrap_or(0.0), rating_count, views, flagged: flagged > 0 }
    }

    /// Applies every change of one update in one statement: all or nothing.
    pub fn update_metadata(&self, clip_id: &str, change: &MetadataChange, now_ms: u64) {
        self.db()
            .execute(
                "UPDATE clips SET user_caption = COALESCE(?2, user_caption), visibility = COALESCE(?3, visibility),
                 title_data = COALESCE(?4, title_data), last_modified_ms = ?5 WHERE id = ?1",
                params![clip_id, change.user_caption, change.visibility, change.title_data, now_ms],
            )
            .expect("metadata update");
    }

    /// One rating per user: rating again replaces the earlier one.
    pub fn rate(&self, clip_id: &str, rater_xuid: &str, rating: u8) {
        self.db()
            .execute(
                "INSERT INTO ratings (clip_id, rater_xuid, rating) VALUES (?1, ?2, ?3)
                 ON CONFLICT (clip_id, rater_xuid) DO UPDATE SET rating = excluded.rating",
                params![clip_id, rater_xuid, rating],
            )
            .expect("rating insert");
    }

    pub fn add_view(&self, clip_id: &str) {
        self.db()
            .execute(
                "INSERT INTO views (clip_id, count) VALUES (?1, 1)
                 ON CONFLICT (clip_id) DO UPDATE SET count = count + 1",
                [clip_id],
            )
            .expect("view insert");
    }

    pub fn flag(&self, clip_id: &str, flagger_xuid: &str) {
        self.db()
            .execute("INSERT OR IGNORE INTO flags (clip_id, flagger_xuid) VALUES (?1, ?2)", [clip_id, flagger_xuid])
            .expect("flag insert");
    }

    /// Forgets the clip: its rows and its files.
    pub fn delete_clip(&self, clip_id: &str) {
        {
            let mut db = self.db();
            let tx = db.transaction().expect("transaction");
            for table in [
                "clips WHERE id",
                "blocks WHERE clip_id",
                "ratings WHERE clip_id",
                "views WHERE clip_id",
                "flags WHERE clip_id",
                "thumbnails WHERE clip_id",
            ] {
                tx.execute(&format!("DELETE FROM {table} = ?1"), [clip_id]).expect("delete");
            }
            tx.commit().expect("commit delete");
        }
        let _ = fs::remove_file(self.blob_path(clip_id));
        for kind in ["large", "small"] {
            let _ = fs::remove_file(self.thumbnail_path(clip_id, kind));
        }
    }

    /// One page of clips and the number of clips the query matches in all.
    pub fn list_clips(&self, query: &ListQuery) -> (Vec<ClipRecord>, u64) {
        let order_by = match query.qualifier.as_str() {
            "rating" => "(SELECT COALESCE(AVG(rating), 0) FROM ratings r WHERE r.clip_id = clips.id)",
            "views" => "(SELECT COALESCE(MAX(count), 0) FROM views v WHERE v.clip_id = clips.id)",
            _ => "created_at_ms",
        };
        let direction = if query.ascending { "ASC" } else { "DESC" };
        let filter = "owner_xuid = ?1 AND (?2 IS NULL OR scid = ?2) AND (?3 OR visibility != 'Owner')
            AND (?4 OR NOT EXISTS (SELECT 1 FROM flags f WHERE f.clip_id = clips.id))";
        let db = self.db();
        let filters = params![query.owner_xuid, query.scid, query.caller_is_owner, query.include_flagged];
        let total: u64 = db
            .query_row(&format!("SELECT COUNT(*) FROM clips WHERE {filter}"), filters, |row| row.get(0))
            .expect("count query runs");
        // The id breaks ties, so pages never overlap or skip a clip.
        let sql = format!(
            "SELECT * FROM clips WHERE {filter} ORDER BY {order_by} {direction}, id {direction} LIMIT ?5 OFFSET ?6"
        );
        let mut stmt = db.prepare(&sql).expect("list query prepares");
        let page = stmt
            .query_map(
                params![
                    query.owner_xuid,
                    query.scid,
                    query.caller_is_owner,
                    query.include_flagged,
                    query.max,
                    query.skip
                ],
                clip_from_row,
            )
            .expect("list query runs")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("list rows read");
        (page, total)
    }

    /// The newest `limit` clips of every user and title, and how many there are in all (the dashboard).
    pub fn newest_clips(&self, limit: u64) -> (Vec<ClipRecord>, u64) {
        let db = self.db();
        let total: u64 = db.query_row("SELECT COUNT(*) FROM clips", [], |row| row.get(0)).expect("count query runs");
        let sql = "SELECT * FROM clips ORDER BY created_at_ms DESC, id DESC LIMIT ?1";
        let mut stmt = db.prepare(sql).expect("newest query prepares");
        let clips = stmt
            .query_map([limit], clip_from_row)
            .expect("newest query runs")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("newest rows read");
        (clips, total)
    }

    pub fn thumbnail_path(&self, clip_id: &str, kind: &str) -> PathBuf {
        self.blobs.join(format!("{clip_id}.{kind}.thumb"))
    }

    pub fn put_thumbnail(&self, clip_id: &str, kind: &str, image: &[u8], content_type: &str) -> io::Result<()> {
        fs::write(self.thumbnail_path(clip_id, kind), image)?;
        self.db()
            .execute(
                "INSERT INTO thumbnails (clip_id, kind, size, content_type) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (clip_id, kind) DO UPDATE SET size = excluded.size, content_type = excluded.content_type",
                params![clip_id, kind, image.len() as u64, content_type],
            )
            .expect("thumbnail insert");
        Ok(())
    }

    pub fn thumbnails(&self, clip_id: &str) -> Vec<Thumbnail> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT kind, size, content_type FROM thumbnails WHERE clip_id = ?1 ORDER BY kind")
            .expect("prepare");
        stmt.query_map([clip_id], |row| {
            Ok(Thumbnail { kind: row.get(0)?, size: row.get(1)?, content_type: row.get(2)? })
        })
        .expect("thumbnail query runs")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("thumbnail rows read")
    }
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !data.is_empty() {
        let n = file.seek_write(data, offset)?;
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resent last block racing the one that completes the clip: whichever answer says Committed, the
    /// checksum is already there (a commit once showed before its sha256 did).
    #[test]
    fn a_commit_is_never_seen_without_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let block = 1 << 20;
        let data = vec![7u8; block];
        for round in 0..8 {
            let id = format!("clip-{round}");
            let clip = NewClip {
                greatest_moment_id: String::new(),
                user_caption: String::new(),
                session_ref: String::new(),
                date_recorded: "2026-01-01T00:00:00Z".into(),
                duration_seconds: 1,
                expected_blocks: 2,
                file_size: 2 * block as u64,
                clip_type: "DeveloperInitiated".into(),
                source: "TitleDirect".into(),
                visibility: "Default".into(),
                title_data: String::new(),
                system_properties: String::new(),
                users_in_session: Vec::new(),
                thumbnail_source: "Default".into(),
                thumbnail_offset_ms: 0,
                saved_by_user: false,
            };
            store.create_clip(&id, "1", "scid", "upload", &clip, 1);
            assert_eq!(store.put_block(&id, 0, &data, 2 << 20, 2), Ok(BlockOutcome::Stored));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    let (store, barrier, data, id) = (store.clone(), barrier.clone(), data.clone(), id.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        let outcome = store.put_block(&id, 1, &data, 2 << 20, 3).unwrap();
                        (outcome, store.clip(&id).unwrap().sha256)
                    })
                })
                .collect();
            for racer in racers {
                let (outcome, sha) = racer.join().unwrap();
                if outcome == BlockOutcome::Committed {
                    assert_eq!(sha.as_deref(), Some(sha256_file(&store.blob_path(&id)).unwrap().as_str()));
                }
            }
            assert!(store.clip(&id).unwrap().sha256.is_some(), "round {round}: the clip was committed");
        }
    }
}
