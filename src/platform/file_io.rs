//! Positioned reads: workers read blocks of one open file in parallel without sharing a cursor.

use std::fs::File;
use std::io;

/// Fills `buf` from `offset`; an early end of file is an error (the file shrank).
#[cfg(unix)]
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Reads once at `offset`, as much as the OS gives (0 at the end of the file).
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// `len` bytes of a file from `offset`, as a reader: a request body streamed from the file straight
/// into the HTTP client's buffer, with no block-sized copy in between. The file ending early (it
/// shrank) is an error, never a short body.
pub struct FileSlice<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl<'a> FileSlice<'a> {
    pub fn new(file: &'a File, offset: u64, len: u64) -> FileSlice<'a> {
        FileSlice { file, offset, remaining: len }
    }
}

impl io::Read for FileSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        match read_at(self.file, &mut buf[..want], self.offset)? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the clip file ended early")),
            n => {
                self.offset += n as u64;
                self.remaining -= n as u64;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_at_offsets_and_reports_short_files() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let mut buf = [0u8; 4];
        read_exact_at(&file, &mut buf, 3).unwrap();
        assert_eq!(&buf, b"3456");
        assert!(read_exact_at(&file, &mut buf, 8).is_err());
    }

    #[test]
    fn a_file_slice_reads_its_range_and_fails_on_a_short_file() {
        use std::io::Read;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let mut out = String::new();
        FileSlice::new(&file, 2, 5).read_to_string(&mut out).unwrap();
        assert_eq!(out, "23456");
        let mut out = Vec::new();
        assert!(FileSlice::new(&file, 8, 5).read_to_end(&mut out).is_err());
    }
}
