//! The node's anchor: what this node last saw of its store, kept outside the store, so that a
//! store put back as it was earlier (a rollback), or an audit trail cut short, is detected.
//!
//! The anchor is a small file beside the device key (`DATA/anchor`), sealed under the device
//! key (purpose `strongroom/anchor/v1`, bound to the name `anchor`), written atomically
//! (temporary file, fsync, rename, fsync of the directory) after every audit event this node
//! appends. It records whether the store was provisioned, the sequence number and hash of the
//! last audit event, and a digest of the unlock record as of that event. At every unlock (and
//! unattended boot) the store's trail is compared with it: a store whose trail ends before the
//! anchor's event, or holds another event there, or whose unlock record changed without an
//! event, was rolled back, and the node refuses to become Operational and says why.
//!
//! The store also records, in `meta/anchored`, that an anchor exists for it, so deleting the
//! anchor file is noticed too. The anchor is as strong as the device key's protection: the
//! device key stands for a TPM-sealed key (see `docs/security-model.md`).

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use strongroom_store::sealed::Sealer;

use crate::crypto::Key32;
use crate::error::{Error, Result};

pub const ANCHOR_FILE: &str = "anchor";
const ANCHOR_PURPOSE: &str = "strongroom/anchor/v1";
const ANCHOR_AAD: &str = "anchor";
/// Written into the store once it has an anchor.
pub(crate) const ANCHORED_PATH: &str = "meta/anchored";

/// What the anchor records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AnchorState {
    /// Whether this node's store has been provisioned.
    pub provisioned: bool,
    /// The last audit event this node appended (0 and "" before any).
    pub audit_seq: u64,
    pub audit_hash: String,
    /// SHA-256 (hex) of the store's `meta/unlock` value when that event was appended.
    pub unlock_digest: String,
    /// Take the store as it is at the next unlock: set by a full restore, whose trail this
    /// node cannot read until then.
    #[serde(default)]
    pub adopt: bool,
}

/// The anchor file of a data directory (or, for a store without one, in memory only).
pub(crate) struct Anchor {
    path: Option<PathBuf>,
    sealer: Sealer,
    /// `None`: no anchor file exists.
    state: Mutex<Option<AnchorState>>,
}

impl Anchor {
    /// Reads the anchor of `data_dir`, if it has one.
    pub fn open(data_dir: Option<&Path>, device_key: &Key32) -> Result<Self> {
        let sealer = Sealer::new(device_key, ANCHOR_PURPOSE);
        let path = data_dir.map(|d| d.join(ANCHOR_FILE));
        let state = match &path {
            Some(p) => read(p, &sealer)?,
            None => None,
        };
        Ok(Self {
            path,
            sealer,
            state: Mutex::new(state),
        })
    }

    /// The anchor of `data_dir` as if it had none (its file is ignored, and replaced at the
    /// next write).
    pub fn empty(data_dir: Option<&Path>, device_key: &Key32) -> Self {
        Self {
            path: data_dir.map(|d| d.join(ANCHOR_FILE)),
            sealer: Sealer::new(device_key, ANCHOR_PURPOSE),
            state: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<AnchorState>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the anchor records; `None` if there is no anchor.
    pub fn get(&self) -> Option<AnchorState> {
        self.lock().clone()
    }

    /// Records `state` (durably, before returning).
    pub fn set(&self, state: AnchorState) -> Result<()> {
        let mut current = self.lock();
        if current.as_ref() == Some(&state) {
            return Ok(());
        }
        if let Some(path) = &self.path {
            let plain = serde_json::to_vec(&state).map_err(Error::internal)?;
            write_atomically(path, &self.sealer.seal(ANCHOR_AAD, &plain))?;
        }
        *current = Some(state);
        Ok(())
    }

    /// Forgets the anchor (a factory reset).
    pub fn clear(&self) -> Result<()> {
        let mut current = self.lock();
        if let Some(path) = &self.path {
            match fs::remove_file(path) {
                Ok(()) => sync_dir(path)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Internal(format!("removing {}: {e}", path.display())));
                }
            }
        }
        *current = None;
        Ok(())
    }
}

fn read(path: &Path, sealer: &Sealer) -> Result<Option<AnchorState>> {
    let mut sealed = Vec::new();
    match fs::File::open(path) {
        Ok(mut f) => f
            .read_to_end(&mut sealed)
            .map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Internal(format!("reading {}: {e}", path.display()))),
    };
    let plain = sealer.open(ANCHOR_AAD, &sealed).map_err(|_| {
        Error::Precondition(format!(
            "the anchor {} does not open with this node's device key: it was altered or belongs to another node",
            path.display()
        ))
    })?;
    serde_json::from_slice(&plain)
        .map(Some)
        .map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| Error::Internal(format!("writing {}: {e}", path.display()));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::Internal(format!("syncing {}: {e}", dir.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_a_foreign_or_altered_anchor_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::crypto::random_key();
        let a = Anchor::open(Some(dir.path()), &key).unwrap();
        assert_eq!(a.get(), None);
        let state = AnchorState {
            provisioned: true,
            audit_seq: 7,
            audit_hash: "ab".into(),
            unlock_digest: "cd".into(),
            adopt: false,
        };
        a.set(state.clone()).unwrap();
        assert_eq!(
            Anchor::open(Some(dir.path()), &key).unwrap().get(),
            Some(state)
        );
        let other = crate::crypto::random_key();
        assert!(matches!(
            Anchor::open(Some(dir.path()), &other),
            Err(Error::Precondition(_))
        ));
        let file = dir.path().join(ANCHOR_FILE);
        let mut bytes = fs::read(&file).unwrap();
        bytes[20] ^= 1;
        fs::write(&file, &bytes).unwrap();
        assert!(Anchor::open(Some(dir.path()), &key).is_err());
        a.clear().unwrap();
        assert!(!file.exists());
        assert_eq!(Anchor::open(Some(dir.path()), &key).unwrap().get(), None);
    }
}
