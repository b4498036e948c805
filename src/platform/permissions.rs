//! Files only their owner may read: the resume journal names the player's clips.

use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) readable by the owner only where the platform has modes.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Restricts a file the library created to its owner.
pub fn make_private(file: &Path) -> io::Result<()> {
    set_mode(file, 0o600)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Windows: files under the user's profile (where games keep save data) inherit an ACL that already
/// limits them to the user; consoles sandbox each title's storage.
#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}
