//! How a clip is cut into blocks, as the service checks it: which block numbers and sizes a file of
//! `fileSize` bytes in `expectedBlocks` blocks allows, and where each block's bytes go. Pure: the store
//! persists what these rules let through.

/// Why a block was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockError {
    NotFound,
    BadParameter(String),
}

/// A clip's shape as its create call declared it, and the largest block the service takes.
pub struct BlockLayout {
    pub file_size: u64,
    pub expected_blocks: u64,
    pub max_block_bytes: u64,
}

impl BlockLayout {
    /// Whether block `block_num` of `len` bytes can belong to this clip at all.
    pub fn check(&self, block_num: u64, len: u64) -> Result<(), BlockError> {
        let (expected, max) = (self.expected_blocks, self.max_block_bytes);
        if block_num >= expected {
            return Err(BlockError::BadParameter(format!(
                "blockNum {block_num} is not below expectedBlocks {expected}"
            )));
        }
        if len > max {
            return Err(BlockError::BadParameter(format!(
                "a block of {len} bytes is over the limit of {max} bytes (\"no larger than 2 MB\")"
            )));
        }
        Ok(())
    }

    /// The block size the first block to arrive sets, or why it cannot be one.
    pub fn implied_block_size(&self, block_num: u64, len: u64) -> Result<u64, BlockError> {
        let (file_size, expected, max) = (self.file_size, self.expected_blocks, self.max_block_bytes);
        infer_block_size(file_size, expected, block_num, len, max).ok_or_else(|| {
            BlockError::BadParameter(match infer_block_size(file_size, expected, block_num, len, u64::MAX) {
                Some(implied) => format!(
                    "block {block_num} of {len} bytes implies blocks of {implied} bytes, over the limit of {max} \
                     bytes (\"no larger than 2 MB\")"
                ),
                None => format!(
                    "a block of {len} bytes cannot be block {block_num} of {expected} in a file of {file_size} bytes"
                ),
            })
        })
    }

    /// Where block `block_num` goes in the file, once the block size is known; refused unless it is
    /// exactly as long as that block must be.
    pub fn offset(&self, block_size: u64, block_num: u64, len: u64) -> Result<u64, BlockError> {
        let start = block_num * block_size;
        let want = (self.file_size - start).min(block_size);
        if len != want {
            return Err(BlockError::BadParameter(format!("block {block_num} must be {want} bytes, got {len}")));
        }
        Ok(start)
    }
}

/// The block size implied by one block: every block but the last has the same length, so a non-last
/// block gives it directly and the last block gives it through the bytes that precede it.
fn infer_block_size(file_size: u64, expected: u64, block_num: u64, len: u64, max_block_bytes: u64) -> Option<u64> {
    let candidate = if block_num + 1 < expected {
        len
    } else if expected == 1 {
        file_size
    } else {
        let before = file_size.checked_sub(len)?;
        if before % (expected - 1) != 0 {
            return None;
        }
        before / (expected - 1)
    };
    (candidate > 0 && candidate <= max_block_bytes && file_size.div_ceil(candidate) == expected).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_is_inferred_from_any_block() {
        // 100 bytes in 4 blocks of 30: 30, 30, 30, 10.
        assert_eq!(infer_block_size(100, 4, 0, 30, 1000), Some(30));
        assert_eq!(infer_block_size(100, 4, 3, 10, 1000), Some(30));
        assert_eq!(infer_block_size(100, 4, 3, 11, 1000), None);
        assert_eq!(infer_block_size(100, 4, 1, 20, 1000), None); // 20-byte blocks would need 5
        assert_eq!(infer_block_size(7, 1, 0, 7, 1000), Some(7));
        // Over the limit, whatever the layout.
        assert_eq!(infer_block_size(100, 4, 0, 30, 29), None);
    }

    #[test]
    fn blocks_must_fit_the_declared_layout() {
        let layout = BlockLayout { file_size: 100, expected_blocks: 4, max_block_bytes: 1000 };
        assert!(layout.check(3, 10).is_ok());
        assert!(matches!(layout.check(4, 10), Err(BlockError::BadParameter(why)) if why.contains("expectedBlocks 4")));
        let small = BlockLayout { max_block_bytes: 20, ..layout };
        assert!(matches!(small.check(0, 30), Err(BlockError::BadParameter(why)) if why.contains("over the limit")));
        assert!(
            matches!(small.implied_block_size(3, 10), Err(BlockError::BadParameter(why)) if why.contains("implies blocks of 30"))
        );
        assert_eq!(layout.offset(30, 3, 10), Ok(90));
        assert!(
            matches!(layout.offset(30, 2, 10), Err(BlockError::BadParameter(why)) if why.contains("must be 30 bytes"))
        );
    }
}
