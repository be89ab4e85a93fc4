//! The device key: 32 random bytes per node in a file only the service user can read. It
//! stands in for NetHSM's TPM-sealed key: it opens what must be readable before unlock (the
//! TLS key, and the domain key only while unattended boot is on).
//!
//! Also the checks on the data directory and the store file that every start makes: another
//! local user must not be able to read (or swap) any of them. A file or directory that fails
//! a check is refused with the reason; nothing is fixed silently (see
//! `docs/security-model.md`).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::crypto::{Key32, random_key};
use crate::error::{Error, Result};

/// What to tell an operator whose key file is refused.
const REGENERATE_HINT: &str = "if this is expected, start once with --regenerate-device-key to \
make a new device key and TLS certificate (clients must pin the new fingerprint; unattended \
boot stays off until it is turned on again)";

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Checks that a file or directory (its metadata, from `fstat` on the open file where there
/// is one) belongs to this process's user and that group and others have no access.
fn check_private(what: &str, path: &Path, meta: &fs::Metadata) -> std::result::Result<(), String> {
    let (uid, mode) = (meta.uid(), meta.mode() & 0o7777);
    if uid != euid() {
        return Err(format!(
            "{what} {} is owned by uid {uid}, but the server runs as uid {}",
            path.display(),
            euid()
        ));
    }
    if mode & 0o077 != 0 {
        let fix = if meta.is_dir() {
            "chmod 700"
        } else {
            "chmod 600"
        };
        return Err(format!(
            "{what} {} has mode {mode:o}; group and others must have no access ({fix})",
            path.display()
        ));
    }
    Ok(())
}

/// Reads the device key through `O_NOFOLLOW` and checks the open file with `fstat`: a regular
/// file, owned by this process's user, mode 0600 or stricter, 32 bytes.
fn read_key(path: &Path) -> std::result::Result<Option<Key32>, String> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(format!(
                "device key {} is a symbolic link; it is never followed",
                path.display()
            ));
        }
        Err(e) => return Err(format!("reading device key {}: {e}", path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("reading device key {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "device key {} is not a regular file",
            path.display()
        ));
    }
    check_private("device key", path, &meta)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(33));
    Read::by_ref(&mut file)
        .take(33)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading device key {}: {e}", path.display()))?;
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("device key {} is not 32 bytes", path.display()))?;
    Ok(Some(Zeroizing::new(key)))
}

/// Writes a new key (mode 0600) through a temporary file and a rename, so a crash never
/// leaves a short key file, then fsyncs the directory so the rename itself is durable.
fn create_key(path: &Path) -> Result<Key32> {
    let key = random_key();
    let io = |what: &Path, e: std::io::Error| Error::Internal(format!("{}: {e}", what.display()));
    let tmp = path.with_extension("tmp");
    // Removes a link itself, never its target.
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    f.write_all(key.as_ref())
        .and_then(|_| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(key)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::Internal(format!("syncing {}: {e}", dir.display())))
}

/// Reads the device key, or creates it (mode 0600) if the file does not exist and
/// `may_create` (a data directory without a store yet). A key file that fails a check (a
/// symbolic link, another owner, group or other access, not 32 bytes), or a missing one
/// beside an existing store, is refused with the reason, unless `regenerate`: then a new key
/// replaces it (the old file, or link, is removed, never its target).
pub fn load_or_create(path: &Path, may_create: bool, regenerate: bool) -> Result<Key32> {
    let refused = match read_key(path) {
        Ok(Some(key)) => return Ok(key),
        Ok(None) if may_create || regenerate => return create_key(path),
        Ok(None) => format!(
            "device key {} is missing, but the data directory holds a store made with one",
            path.display()
        ),
        Err(why) => why,
    };
    if !regenerate {
        return Err(Error::Internal(format!("{refused}; {REGENERATE_HINT}")));
    }
    tracing::warn!(reason = %refused, "replacing the device key, as --regenerate-device-key asks");
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Internal(format!("removing {}: {e}", path.display()))),
    }
    create_key(path)
}

/// Checks the data directory on every start: a directory, owned by this process's user,
/// that group and others cannot write (they could have swapped the files in it: refused).
/// Read or search access for them is taken away (mode 0700), with a warning: the files in it
/// are checked one by one, so that access exposed no content, only names.
pub fn check_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(dir)
        .map_err(|e| Error::Internal(format!("data directory {}: {e}", dir.display())))?;
    if !meta.is_dir() {
        return Err(Error::Internal(format!(
            "data directory {} is not a directory",
            dir.display()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if meta.uid() == euid() && mode & 0o022 == 0 && mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o7700)).map_err(|e| {
            Error::Internal(format!("restricting data directory {}: {e}", dir.display()))
        })?;
        tracing::warn!(
            data_dir = %dir.display(),
            was = %format!("{mode:o}"),
            "the data directory was readable by group or others; restricted it to its owner (700)"
        );
        return Ok(());
    }
    check_private("data directory", dir, &meta).map_err(Error::Internal)
}

/// Checks the store file on every start (a regular file, not a link, owned by this process's
/// user, no access for group or others), or creates it empty with mode 0600 so the store
/// never exists with wider permissions. `true` if it existed.
pub fn prepare_store_file(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.file_type().is_file() {
                return Err(Error::Internal(format!(
                    "store file {} is not a regular file (a symbolic link is never followed)",
                    path.display()
                )));
            }
            check_private("store file", path, &meta).map_err(Error::Internal)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::Internal(format!("creating {}: {e}", path.display())))?;
            sync_dir(path.parent().unwrap_or(Path::new(".")))?;
            Ok(false)
        }
        Err(e) => Err(Error::Internal(format!(
            "store file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let a = load_or_create(&path, true, false).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(*a, *load_or_create(&path, false, false).unwrap());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path, false, false).unwrap_err().to_string();
        assert!(
            e.contains("has mode 644") && e.contains("--regenerate-device-key"),
            "{e}"
        );
        // Told to, it makes a new one.
        let b = load_or_create(&path, false, true).unwrap();
        assert_ne!(*a, *b);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn links_short_files_and_missing_keys_beside_a_store_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, [1u8; 32]).unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let e = load_or_create(&path, true, false).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        // Regenerating removes the link, not its target.
        load_or_create(&path, true, true).unwrap();
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(fs::read(&elsewhere).unwrap(), [1u8; 32]);

        fs::write(&path, [1u8; 31]).unwrap();
        let e = load_or_create(&path, true, false).unwrap_err().to_string();
        assert!(e.contains("is not 32 bytes"), "{e}");

        fs::remove_file(&path).unwrap();
        let e = load_or_create(&path, false, false).unwrap_err().to_string();
        assert!(e.contains("is missing"), "{e}");
        assert!(!path.exists(), "nothing created when refusing");
    }

    #[test]
    fn the_store_file_is_created_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        assert!(!prepare_store_file(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert!(prepare_store_file(&path).unwrap());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let e = prepare_store_file(&path).unwrap_err().to_string();
        assert!(e.contains("store file") && e.contains("mode 640"), "{e}");
        // Readable by others: tightened. Writable by others: refused.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        check_data_dir(dir.path()).unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).unwrap();
        let e = check_data_dir(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("data directory") && e.contains("mode 770"),
            "{e}"
        );
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        check_data_dir(dir.path()).unwrap();
    }
}
