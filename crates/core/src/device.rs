//! The device key: 32 random bytes per node in a file only the service user can read. It
//! stands in for NetHSM's TPM-sealed key: it opens what must be readable before unlock (the
//! TLS key, and the domain key only while unattended boot is on).

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::crypto::{Key32, random_key};
use crate::error::{Error, Result};

/// Reads the device key, or creates it (mode 0600) if the file does not exist. A key file
/// that group or others can access is refused: it would no longer guard anything.
pub fn load_or_create(path: &Path) -> Result<Key32> {
    match fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::Internal(format!(
                    "device key {} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
                    path.display()
                )));
            }
            let mut bytes = Zeroizing::new(Vec::new());
            fs::File::open(path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))?;
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                Error::Internal(format!("device key {} is not 32 bytes", path.display()))
            })?;
            Ok(Zeroizing::new(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_key();
            // Write to a temporary file and rename, so a crash never leaves a short key file.
            let tmp = path.with_extension("tmp");
            let _ = fs::remove_file(&tmp);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| Error::Internal(format!("creating {}: {e}", tmp.display())))?;
            f.write_all(key.as_ref())
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::Internal(format!("writing {}: {e}", tmp.display())))?;
            fs::rename(&tmp, path)
                .map_err(|e| Error::Internal(format!("creating {}: {e}", path.display())))?;
            Ok(key)
        }
        Err(e) => Err(Error::Internal(format!("reading {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let a = load_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(*a, *load_or_create(&path).unwrap());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).is_err());
    }
}
