//! Backup and restore of the whole appliance, in the format of `docs/backup-format.md`.
//!
//! A backup walks the whole store (from one consistent snapshot), so whatever later features
//! store is included without touching this code; only node-local and short-lived prefixes
//! ([`EXCLUDED_PREFIXES`]) are left out. Values are written in clear *inside* the backup's own
//! encryption (a STREAM construction of AES-256-GCM chunks under a key derived from the
//! backup passphrase), with the domain key and the unlock record, so a restore can re-seal
//! them under whichever domain key the target node uses.
//!
//! A restore reads the uploaded file twice: first it authenticates and parses all of it, and
//! only if that succeeds does it apply it, in one store transaction fed chunk by chunk. So a
//! damaged, truncated or wrongly-keyed file changes nothing, and memory stays bounded.
//!
//! This module holds the operations; the file format (preamble, chunk framing and
//! encryption, records) is [`format`], whose public types are re-exported here.

use std::io::{self, Read, Write};
use std::path::Path;

use strongroom_store::sealed::{Keyring, Sealer};
use strongroom_store::{Check, Commit, Op, Snapshot, Store};
use zeroize::Zeroizing;

use crate::access::Access;
use crate::crypto::{KdfParams, Key32};
use crate::error::{Error, Result};
use crate::handles::Backup;
use crate::identity::Principal;
use crate::secret::Passphrase;
use crate::system::{BACKUP_KEY_PATH, BackupKeyRecord};
use crate::{Core, Inner, SystemState, UNLOCK_PATH, UnlockRecord, clock};

pub mod format;

use format::invalid;
pub use format::{
    AuditMark, BackupReader, BackupWriter, CHUNK_PLAINTEXT, DOMAIN_KEY_RECORD, FORMAT_VERSION,
    MAGIC,
};

/// Never in a backup: node-local state (sealed under this node's device key, or describing
/// this node's store). `meta/unlock` is carried separately. (Sessions and login tokens are
/// never stored at all: they live in memory.)
pub const EXCLUDED_PREFIXES: &[&str] = &["meta/"];

/// What a restore onto an Operational node keeps of its own: everything but the user data
/// (users, namespaces, keys, the faces' records).
pub const KEPT_BY_PARTIAL_RESTORE: &[&str] = &["meta/", "config/", "audit/"];

fn is_excluded(key: &str) -> bool {
    EXCLUDED_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn is_user_data(key: &str) -> bool {
    !KEPT_BY_PARTIAL_RESTORE.iter().any(|p| key.starts_with(p))
}

/// A backup in progress: a snapshot of the store and the keys to write it with. Made by
/// [`Core::prepare_backup`] (which does every check), written by [`BackupJob::write_to`].
pub struct BackupJob {
    snapshot: Box<dyn Snapshot>,
    /// The domain key the snapshot's unlock record holds, and the keys that open the
    /// snapshot's values, both as they were when it was taken (a rotation may end before the
    /// backup is written).
    domain_key: Key32,
    keys: Keyring,
    unlock_record: Vec<u8>,
    backup_key: Key32,
    kdf: KdfParams,
    created: String,
    audit_head: Option<AuditMark>,
    /// Set when the node leaves Operational: the download stops and lets its keys go.
    forgotten: crate::KeyForgotten,
}

impl std::fmt::Debug for BackupJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupJob")
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl BackupJob {
    /// Turns true once the node locks: the writer stops at its next record, and whoever
    /// sends the backup on should stop waiting for it (see [`BackupJob::write_to`]).
    pub fn key_forgotten(&self) -> crate::KeyForgotten {
        self.forgotten.clone()
    }

    /// Streams the backup into `out`, a page of the snapshot at a time. Stops with
    /// `WrongState(Locked)` as soon as the node locks (checked before every record), dropping
    /// the keys it held.
    pub fn write_to<W: Write>(self, out: W) -> Result<W> {
        let io = |e: io::Error| Error::Internal(format!("writing the backup: {e}"));
        let forgotten = self.forgotten.clone();
        let still_unlocked = || {
            if forgotten.is_set() {
                Err(Error::WrongState(SystemState::Locked))
            } else {
                Ok(())
            }
        };
        let mut w = BackupWriter::new(
            out,
            &self.backup_key,
            &self.kdf,
            self.created.clone(),
            self.audit_head.clone(),
        )
        .map_err(io)?;
        w.record(DOMAIN_KEY_RECORD, self.domain_key.as_ref())
            .map_err(io)?;
        w.record(UNLOCK_PATH, &self.unlock_record).map_err(io)?;
        const PAGE: usize = 500;
        let mut after: Option<String> = None;
        loop {
            let page = self.snapshot.scan("", after.as_deref(), PAGE)?;
            for (key, entry) in &page {
                if is_excluded(key) {
                    continue;
                }
                still_unlocked()?;
                let plain = self.keys.open(key, &entry.value)?;
                w.record(key, &plain).map_err(io)?;
            }
            if page.len() < PAGE {
                break;
            }
            after = page.last().map(|(k, _)| k.clone());
        }
        w.finish().map_err(io)
    }
}

/// What a verified backup holds, learnt by the first pass.
struct Verified {
    records: u64,
}

/// Reads the whole file once: authenticates every chunk and checks every record.
fn verify(path: &Path, backup_key: &Key32) -> Result<Verified> {
    let mut r = BackupReader::open(open_file(path)?)?.with_key(backup_key)?;
    let mut seen = 0u64;
    let mut last_key: Option<String> = None;
    while let Some((key, value)) = r.next_record(seen)? {
        match seen {
            0 if key == DOMAIN_KEY_RECORD && value.len() == 32 => {}
            1 if key == UNLOCK_PATH => {
                let record = serde_json::from_slice::<UnlockRecord>(&value)
                    .map_err(|_| invalid("the backup's unlock record is malformed"))?;
                if record.key_version == 0 {
                    return Err(invalid("the backup's unlock record is malformed"));
                }
                // Installed as it is by a full restore, then derived at every unlock.
                record.kdf.validate().map_err(|why| {
                    invalid(format!(
                        "the backup's unlock record has key derivation parameters that are not acceptable: {why}"
                    ))
                })?;
            }
            0 | 1 => return Err(invalid("the backup's records are malformed (missing keys)")),
            _ => {
                if is_excluded(&key) || key.starts_with("backup/") {
                    return Err(invalid(format!(
                        "the backup holds a record it may not hold ({key})"
                    )));
                }
                if last_key.as_deref().is_some_and(|last| last >= key.as_str()) {
                    return Err(invalid("the backup's records are out of order"));
                }
                if key == BACKUP_KEY_PATH {
                    let record = serde_json::from_slice::<BackupKeyRecord>(&value)
                        .map_err(|_| invalid("the backup's backup-key record is malformed"))?;
                    record.kdf.validate().map_err(|why| {
                        invalid(format!(
                            "the backup's backup-key record has key derivation parameters that are not acceptable: {why}"
                        ))
                    })?;
                }
                last_key = Some(key);
            }
        }
        seen += 1;
    }
    if seen < 2 {
        return Err(invalid("the backup's records are malformed (missing keys)"));
    }
    Ok(Verified { records: seen })
}

fn open_file(path: &Path) -> Result<io::BufReader<std::fs::File>> {
    std::fs::File::open(path)
        .map(|f| io::BufReader::with_capacity(CHUNK_PLAINTEXT, f))
        .map_err(|e| Error::Internal(format!("opening the uploaded backup: {e}")))
}

/// The writes of a restore, produced one at a time from the (already verified) file.
struct RestoreOps<'a, R: Read> {
    reader: BackupReader<R>,
    seen: u64,
    /// Deletes of the target's existing keys, before the backup's records.
    deletes: Box<dyn Iterator<Item = strongroom_store::Result<String>> + 'a>,
    /// `None` until the unlock record (full restore) or from the start (partial restore).
    sealer: Option<Sealer>,
    /// The backup's domain key, until the unlock record names its version (full restore).
    domain_key: Option<Key32>,
    full: bool,
    /// Puts appended after the records (the clock, the passkey window epoch), in clear until
    /// sealed here.
    tail: Vec<(String, Vec<u8>)>,
    done: bool,
    /// Full restore: this node's device sealer, to serve the backup's TLS identity
    /// ([`crate::tls::restored`]); the write waits in `next_put` for the next call.
    tls_device: Option<Sealer>,
    /// Full restore in cluster mode: also write the data-key guard
    /// ([`crate::rotation::KEY_GUARD_PATH`]) of the restored key's version, so that a node
    /// still holding the replaced store's key cannot seal under it.
    write_guard: bool,
    /// A write that goes with the record just returned, for the next call.
    next_put: Option<Op>,
}

impl<R: Read> RestoreOps<'_, R> {
    /// The put of a record, its value sealed under the backup's domain key.
    fn sealed_put(&self, key: String, value: &[u8]) -> Result<Option<Op>> {
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| invalid("the backup has no domain key"))?;
        let value = sealer.seal(&key, value);
        Ok(Some(Op::Put { key, value }))
    }

    fn next_op(&mut self) -> Result<Option<Op>> {
        if let Some(key) = self.deletes.next() {
            return Ok(Some(Op::Delete { key: key? }));
        }
        if let Some(op) = self.next_put.take() {
            return Ok(Some(op));
        }
        loop {
            if self.done {
                let Some((key, value)) = self.tail.pop() else {
                    return Ok(None);
                };
                return self.sealed_put(key, &value);
            }
            let Some((key, value)) = self.reader.next_record(self.seen)? else {
                self.done = true;
                continue;
            };
            self.seen += 1;
            if key == DOMAIN_KEY_RECORD {
                if self.full {
                    let dk: [u8; 32] = value
                        .as_slice()
                        .try_into()
                        .map_err(|_| invalid("bad domain key"))?;
                    self.domain_key = Some(Zeroizing::new(dk));
                }
                continue;
            }
            if key == UNLOCK_PATH {
                if self.full {
                    // Values are re-sealed under the backup's domain key, of the version its
                    // unlock record names; a rotation under way when the backup was taken is
                    // thereby complete, so the previous key is dropped.
                    let mut record: UnlockRecord = serde_json::from_slice(&value)
                        .ok()
                        .filter(|r: &UnlockRecord| r.key_version != 0)
                        .ok_or_else(|| invalid("the backup's unlock record is malformed"))?;
                    let dk = self
                        .domain_key
                        .take()
                        .ok_or_else(|| invalid("the backup has no domain key"))?;
                    self.sealer = Some(crate::rotation::data_sealer(&dk, record.key_version));
                    record.previous = None;
                    if self.write_guard {
                        self.next_put = Some(Op::Put {
                            key: crate::rotation::KEY_GUARD_PATH.into(),
                            value: crate::rotation::guard_value(record.key_version),
                        });
                    }
                    return Ok(Some(Op::Put {
                        key,
                        value: crate::json(&record)?,
                    }));
                }
                continue;
            }
            if !self.full && !is_user_data(&key) {
                continue;
            }
            if key == crate::tls::TLS_BACKUP_PATH
                && let Some(device) = &self.tls_device
            {
                let (path, sealed) = crate::tls::restored(device, &value)?;
                self.next_put = Some(Op::Put {
                    key: path,
                    value: sealed,
                });
            }
            return self.sealed_put(key, &value);
        }
    }
}

impl<R: Read> Iterator for RestoreOps<'_, R> {
    type Item = strongroom_store::Result<Op>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_op() {
            Ok(Some(op)) => Some(Ok(op)),
            Ok(None) => None,
            Err(e) => Some(Err(strongroom_store::StoreError::Corrupt(e.to_string()))),
        }
    }
}

/// Restore options from the request.
#[derive(Debug)]
pub struct Restore<'a> {
    pub backup_passphrase: &'a Passphrase,
    /// RFC 3339 in UTC; sets the appliance clock when given.
    pub system_time: Option<&'a str>,
}

impl Backup<'_> {
    /// `POST /system/backup` (Backup role): checks everything, and takes the snapshot.
    pub fn prepare(&self) -> Result<BackupJob> {
        let (core, unlocked, _) = self.parts();
        self.require(Access::RootBackup)?;
        let record: BackupKeyRecord = match crate::system::read_backup_key(&unlocked.data)?.0 {
            crate::system::BackupKey::Set(record) => record,
            _ => {
                return Err(Error::Precondition(
                    "Please configure backup key before doing a backup.".into(),
                ));
            }
        };
        let key: Key32 = record.key()?;
        // The snapshot and the keys as one: no rotation switches keys in between.
        let sealing = core.sealing();
        let snapshot = core.raw.snapshot()?;
        let domain_key = unlocked.keys().current;
        let keys = unlocked.data.keyring();
        drop(sealing);
        let unlock_record = snapshot
            .scan(UNLOCK_PATH, None, 1)?
            .into_iter()
            .find(|(k, _)| k == UNLOCK_PATH)
            .map(|(_, mut e)| std::mem::take(&mut e.value))
            .ok_or_else(|| Error::Internal("provisioned store has no unlock record".into()))?;
        let audit_head = crate::audit::head_in(&*snapshot, &unlocked.data)?;
        Ok(BackupJob {
            snapshot,
            domain_key,
            keys,
            unlock_record,
            backup_key: key,
            kdf: record.kdf,
            audit_head,
            forgotten: unlocked.forgotten.clone(),
            created: core
                .now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        })
    }
}

impl Core {
    /// `POST /system/restore` onto an Unprovisioned node, from a backup file already on disk:
    /// a full restore, after which the node is Locked and unlocks with the backup's unlock
    /// passphrase. On an Operational node a restore is [`Backup::restore`]'s, for a root
    /// Administrator; here it is `Unauthenticated`. Nothing changes unless the whole file
    /// verifies.
    pub fn restore(&self, file: &Path, req: Restore<'_>) -> Result<()> {
        self.restore_from(None, file, req)
    }

    /// A restore by `who` (`None` on an Unprovisioned node), see [`Core::restore`] and
    /// [`Backup::restore`].
    fn restore_from(&self, who: Option<&Principal>, file: &Path, req: Restore<'_>) -> Result<()> {
        let state = self.state();
        match (state, who) {
            (SystemState::Unprovisioned, _) => {}
            (SystemState::Operational, Some(who)) => Access::RootAdministrator.check(who)?,
            (SystemState::Operational, None) => return Err(Error::Unauthenticated),
            (SystemState::Locked | SystemState::Failed, _) => return Err(Error::WrongState(state)),
        }
        req.backup_passphrase.check_length("backupPassphrase")?;
        let offset = req
            .system_time
            .map(|t| clock::parse_utc("systemTime", t).map(|t| self.clock.offset_to(t)))
            .transpose()?;

        let header_reader = BackupReader::open(open_file(file)?)?;
        let audit_head = header_reader.audit_head().cloned();
        let backup_key = header_reader.derive_key(req.backup_passphrase)?;
        let verified = verify(file, &backup_key)?;

        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        if self.state() != state {
            return Err(Error::WrongState(self.state()));
        }
        let full = state == SystemState::Unprovisioned;
        let unlocked = if full { None } else { Some(self.unlocked()?) };
        let reader = BackupReader::open(open_file(file)?)?.with_key(&backup_key)?;
        let deletes: Box<dyn Iterator<Item = strongroom_store::Result<String>>> = if full {
            Box::new(
                self.raw_keys_except(&[])
                    .filter(|k| !matches!(k, Ok(k) if k.starts_with("meta/"))),
            )
        } else {
            Box::new(
                self.raw_keys_except(&[])
                    .filter(|k| !matches!(k, Ok(k) if !is_user_data(k))),
            )
        };
        let mut ops = RestoreOps {
            reader,
            seen: 0,
            deletes,
            sealer: unlocked.as_ref().map(|u| u.data.keyring().current),
            domain_key: None,
            full,
            // A new window epoch: the backup's passkey authorization windows stay closed.
            tail: vec![(
                crate::passkeys::WINDOW_EPOCH_PATH.into(),
                crate::passkeys::new_window_epoch().into_bytes(),
            )],
            done: false,
            tls_device: full.then(|| Sealer::new(&self.device_key, crate::tls::TLS_PURPOSE)),
            write_guard: full && self.cluster.is_some(),
            next_put: None,
        };
        if let Some(offset) = offset {
            // After the records, so it wins over the backup's own clock offset.
            ops.tail.push((
                clock::TIME_OFFSET_PATH.into(),
                offset.to_string().into_bytes(),
            ));
        }
        let checks = match &unlocked {
            None => vec![Check::Absent(UNLOCK_PATH.into())],
            // Re-sealed here under the node's key: guarded as every sealed write is.
            Some(u) => u.data.guard().into_iter().collect(),
        };
        // Before the commit as well as after it: no cached check of a replaced user is
        // served while the restore commits.
        self.auth_cache.clear();
        if full {
            // The restored trail is sealed under the backup's domain key: this node takes it
            // as its anchor at the next unlock. Set first, so a crash after the commit leaves
            // no restored store without an anchor; one before it is undone at start.
            self.anchor.set(crate::anchor::AnchorState {
                provisioned: true,
                adopt: true,
                ..Default::default()
            })?;
        }
        let committed = self.raw.commit_iter(checks, &mut ops);
        if full && !matches!(committed, Ok(Commit::Committed(_))) {
            self.anchor.clear()?;
        }
        match committed? {
            Commit::Committed(_) => {}
            Commit::Conflict => return Err(Error::WrongState(SystemState::Locked)),
        }
        if full && let Some(head) = audit_head {
            // The backup says where its trail ends: check the restored store at its first
            // unlock instead of taking it on trust.
            self.anchor.set(crate::anchor::AnchorState {
                provisioned: true,
                audit_seq: head.seq,
                audit_hash: head.hash,
                unlock_digest: self.unlock_digest()?,
                adopt: false,
            })?;
        }
        self.auth_cache.clear();
        self.end_all_sessions();
        self.passkey_guard.forget_windows();
        if full {
            self.set_inner(Inner::Locked);
        } else {
            if let Some(offset) = offset {
                self.time_offset
                    .store(offset, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(u) = &unlocked {
                // Restored keys have new revisions, so no parse would be used again; dropped
                // now so that keys the restore removed leave memory too.
                u.key_cache.clear();
                u.followed_sessions.clear();
                u.followed_tags.clear();
            }
            // A backup of an earlier build lacks the records whose absence reads as closed.
            if let Some(u) = &unlocked {
                self.ensure_owner_records(&u.data)?;
            }
        }
        tracing::info!(records = verified.records, full, "restored");
        Ok(())
    }
}

impl Backup<'_> {
    /// `POST /system/restore` onto this Operational node (root Administrator): the user data
    /// (everything but [`KEPT_BY_PARTIAL_RESTORE`]) is replaced by the backup's, re-sealed
    /// under this node's domain key. Nothing changes unless the whole file verifies.
    pub fn restore(&self, file: &Path, req: Restore<'_>) -> Result<()> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        core.restore_from(Some(who), file, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use format::tests::quick_kdf;

    #[test]
    fn restored_records_with_unacceptable_kdf_parameters_are_refused() {
        let kdf = quick_kdf();
        let key = kdf.derive(b"backup passphrase").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut hostile = KdfParams::new_for_key();
        hostile.memory_kib = 1024 * 1024;
        let unlock = |kdf: &KdfParams| {
            serde_json::to_vec(&serde_json::json!({"kdf": kdf, "wrappedDomainKey": "00"})).unwrap()
        };
        let backup_key = |kdf: &KdfParams| {
            serde_json::to_vec(&serde_json::json!({"kdf": kdf, "key": "00".repeat(32)})).unwrap()
        };
        let file = |records: Vec<(&str, Vec<u8>)>| {
            let mut w = BackupWriter::new(Vec::new(), &key, &kdf, "now".into(), None).unwrap();
            w.record(DOMAIN_KEY_RECORD, &[9u8; 32]).unwrap();
            for (k, v) in records {
                w.record(k, &v).unwrap();
            }
            let path = dir.path().join("b");
            std::fs::write(&path, w.finish().unwrap()).unwrap();
            verify(&path, &key).map(|v| v.records)
        };
        let good = KdfParams::new_for_key();
        assert_eq!(
            file(vec![
                (UNLOCK_PATH, unlock(&good)),
                (BACKUP_KEY_PATH, backup_key(&good))
            ])
            .unwrap(),
            3
        );
        let e = file(vec![(UNLOCK_PATH, unlock(&hostile))]).unwrap_err();
        assert!(
            e.to_string().contains("unlock record has key derivation parameters that are not acceptable: memory_kib 1048576"),
            "{e}"
        );
        let e = file(vec![
            (UNLOCK_PATH, unlock(&good)),
            (BACKUP_KEY_PATH, backup_key(&hostile)),
        ])
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "backup-key record has key derivation parameters that are not acceptable"
            ),
            "{e}"
        );
    }
}
