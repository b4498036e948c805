//! JSON shapes of the service (see `shared/spec/gameclips-service.md`) and their validation.

use serde::Deserialize;
use serde_json::{json, Value};

/// The largest block the emulator can be told to take (`--max-block-bytes`): 2 MiB.
pub const MAX_BLOCK_SIZE: u64 = 2 * 1024 * 1024;
/// Blocks are "no larger than 2 MB", read strictly unless told otherwise.
pub const DEFAULT_MAX_BLOCK_BYTES: u64 = 2_000_000;
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64; // fileSize is a u32 on the wire: files must be < 4 GiB
pub const MAX_CAPTION_CHARS: usize = 250;
pub const MAX_TITLE_DATA_BYTES: usize = 10 * 1024;

const CLIP_TYPES: &[&str] = &["DeveloperInitiated", "Achievement", "MagicMoment", "UserGenerated", "MetadataOnly"];
const SOURCES: &[&str] = &["Console", "TitleDirect", "Intermediate", "UserInitiated"];
pub const VISIBILITIES: &[&str] = &["Default", "Owner", "Title", "Public"];
const THUMBNAIL_SOURCES: &[&str] = &["Default", "Offset", "Upload"];

/// InitialUploadRequest. Unknown members are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InitialUploadRequest {
    pub greatest_moment_id: Option<String>,
    pub clip_name_string_id: Option<String>,
    pub user_caption: Option<String>,
    pub session_ref: Option<String>,
    pub date_recorded: Option<String>,
    pub duration_in_seconds: Option<u32>,
    pub expected_blocks: Option<u64>,
    pub file_size: Option<u64>,
    #[serde(rename = "type")]
    pub clip_type: Option<String>,
    pub source: Option<String>,
    pub visibility: Option<String>,
    pub title_data: Option<String>,
    pub system_properties: Option<String>,
    pub users_in_session: Option<Vec<String>>,
    pub thumbnail_source: Option<String>,
    pub thumbnail_offset_millseconds: Option<i32>,
    pub saved_by_user: Option<bool>,
}

/// A validated request to create a clip.
#[derive(Debug, Clone)]
pub struct NewClip {
    pub greatest_moment_id: String,
    pub user_caption: String,
    pub session_ref: String,
    pub date_recorded: String,
    pub duration_seconds: u32,
    pub expected_blocks: u64,
    pub file_size: u64,
    pub clip_type: String,
    pub source: String,
    pub visibility: String,
    pub title_data: String,
    pub system_properties: String,
    pub users_in_session: Vec<String>,
    pub thumbnail_source: String,
    pub thumbnail_offset_ms: i32,
    pub saved_by_user: bool,
}

fn one_of(field: &str, value: Option<String>, allowed: &[&str], default: &str) -> Result<String, String> {
    let value = value.unwrap_or_else(|| default.to_string());
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(format!("{field}: {value:?} is not one of {}", allowed.join(", ")))
    }
}

impl InitialUploadRequest {
    /// The clip this request describes, or the reason it is invalid (400). Blocks are at most
    /// `max_block_bytes`.
    pub fn validate(self, max_block_bytes: u64) -> Result<NewClip, String> {
        let file_size = self.file_size.ok_or("fileSize is required")?;
        let expected_blocks = self.expected_blocks.ok_or("expectedBlocks is required")?;
        if file_size == 0 || file_size >= MAX_FILE_SIZE {
            return Err(format!("fileSize {file_size} must be between 1 and {}", MAX_FILE_SIZE - 1));
        }
        if expected_blocks == 0 || expected_blocks > file_size || file_size.div_ceil(expected_blocks) > max_block_bytes
        {
            return Err(format!(
                "expectedBlocks {expected_blocks} does not fit fileSize {file_size} in blocks of at most {max_block_bytes} bytes"
            ));
        }
        let user_caption = self.user_caption.unwrap_or_default();
        if user_caption.chars().count() > MAX_CAPTION_CHARS {
            return Err(format!("userCaption is longer than {MAX_CAPTION_CHARS} characters"));
        }
        let title_data = self.title_data.unwrap_or_default();
        if title_data.len() > MAX_TITLE_DATA_BYTES {
            return Err(format!("titleData is larger than {MAX_TITLE_DATA_BYTES} bytes"));
        }
        let clip_type = self.clip_type.unwrap_or_else(|| "DeveloperInitiated".into());
        for flag in clip_type.split(',').map(str::trim) {
            if !CLIP_TYPES.contains(&flag) {
                return Err(format!("type: {flag:?} is not one of {}", CLIP_TYPES.join(", ")));
            }
        }
        Ok(NewClip {
            greatest_moment_id: self.greatest_moment_id.or(self.clip_name_string_id).unwrap_or_default(),
            user_caption,
            session_ref: self.session_ref.unwrap_or_default(),
            date_recorded: self.date_recorded.unwrap_or_default(),
            duration_seconds: self.duration_in_seconds.unwrap_or(0),
            expected_blocks,
            file_size,
            clip_type,
            source: one_of("source", self.source, SOURCES, "TitleDirect")?,
            visibility: one_of("visibility", self.visibility, VISIBILITIES, "Default")?,
            title_data,
            system_properties: self.system_properties.unwrap_or_default(),
            users_in_session: self.users_in_session.unwrap_or_default(),
            thumbnail_source: one_of("thumbnailSource", self.thumbnail_source, THUMBNAIL_SOURCES, "Default")?,
            thumbnail_offset_ms: self.thumbnail_offset_millseconds.unwrap_or(0),
            saved_by_user: self.saved_by_user.unwrap_or(false),
        })
    }
}

/// ServiceErrorResponse.
pub fn service_error(code: i32, message: &str) -> Value {
    json!({ "errorCode": code, "errorMessage": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(file_size: u64, blocks: u64) -> InitialUploadRequest {
        InitialUploadRequest { file_size: Some(file_size), expected_blocks: Some(blocks), ..Default::default() }
    }

    #[test]
    fn block_count_must_fit_size_and_limit() {
        let strict = DEFAULT_MAX_BLOCK_BYTES;
        assert!(request(10, 1).validate(strict).is_ok());
        assert!(request(4 * strict, 4).validate(strict).is_ok());
        assert!(request(4 * strict + 1, 4).validate(strict).is_err());
        // 2 MiB blocks only when the limit is relaxed to them.
        assert!(request(4 * MAX_BLOCK_SIZE, 4).validate(strict).is_err());
        assert!(request(4 * MAX_BLOCK_SIZE, 4).validate(MAX_BLOCK_SIZE).is_ok());
        assert!(request(3, 4).validate(strict).is_err());
        assert!(request(MAX_FILE_SIZE, 2048).validate(strict).is_err());
    }

    #[test]
    fn bad_enum_or_long_caption_is_refused() {
        let mut r = request(10, 1);
        r.visibility = Some("Everyone".into());
        assert!(r.validate(DEFAULT_MAX_BLOCK_BYTES).unwrap_err().contains("visibility"));
        let mut r = request(10, 1);
        r.user_caption = Some("x".repeat(251));
        assert!(r.validate(DEFAULT_MAX_BLOCK_BYTES).is_err());
        let mut r = request(10, 1);
        r.clip_type = Some("Achievement,None".into());
        assert!(r.validate(DEFAULT_MAX_BLOCK_BYTES).is_err());
    }
}
