//! Rotation of the domain key: a new random domain key (the next key version) takes over
//! sealing, and every value of the store is re-sealed under it (see `docs/security-model.md`,
//! "Sealing").
//!
//! The rotation is resumable. Its first step, one transaction, wraps the new key under the
//! unlock key (and under the device key if unattended boot is on) *beside* the old one, and
//! switches the node to seal under the new key; from then on a restart, an unlock or an
//! unattended boot opens values of both versions. Then values are re-sealed in batches, each
//! one transaction that also records how far it got (`meta/rotation`). The last step drops the
//! old key from the wrapped records. A crash anywhere leaves a store that opens with the
//! unlock passphrase; running the rotation again finishes the job (it resumes where the last
//! committed batch stopped, with the key made by the first run).

use serde::{Deserialize, Serialize};
use strongroom_store::sealed::{Sealed, Sealer};
use strongroom_store::{Check, Commit, Txn};

use crate::access::Access;
use crate::crypto::{self, Key32};
use crate::error::{Error, Result};
use crate::handles::System;
use crate::secret::Passphrase;
use crate::{
    Core, DomainKeys, DynStore, UNATTENDED_PATH, UNLOCK_PATH, UnlockRecord, Unlocked, json,
};

/// The progress of a rotation under way: not secret, node-local (never in a backup).
pub(crate) const ROTATION_PATH: &str = "meta/rotation";

/// Cluster mode: the domain key's guard, its version as text, written with the unlock record
/// at provisioning and at the start of each rotation. Each node guards its sealed writes with
/// the revision it read when it took the key ([`Sealed::set_guard`]), so a node that has not
/// yet heard of a rotation elsewhere cannot land a value sealed under the old key: its write
/// conflicts. Plain (a version number is no secret); `meta/` keeps it out of backups.
pub(crate) const KEY_GUARD_PATH: &str = "meta/data-key-guard";

/// Values re-sealed per transaction.
pub const RESEAL_BATCH: usize = 256;

/// How many times in a row a batch may lose a race with other writers before giving up.
const CONFLICT_RETRIES: usize = 100;

pub(crate) fn first_version() -> u8 {
    1
}

/// The version after `v`. Versions wrap from 255 to 1: only two keys are ever in use at once
/// (the current one and, during a rotation, the previous one), so a version only has to tell
/// those two apart.
fn next_version(v: u8) -> u8 {
    if v == u8::MAX { 1 } else { v + 1 }
}

/// The associated data of a domain key wrapped under the unlock key: `meta/unlock` for
/// version 1 (as before versions existed), `meta/unlock#<version>` past it, so a wrapped key
/// cannot be passed off as another version.
pub(crate) fn wrap_path(version: u8) -> String {
    if version == 1 {
        UNLOCK_PATH.to_owned()
    } else {
        format!("{UNLOCK_PATH}#{version}")
    }
}

/// A domain key of another version, wrapped as [`UnlockRecord`]'s own.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct WrappedKey {
    pub key_version: u8,
    pub wrapped_domain_key: String,
}

/// `meta/rotation`: how far the re-seal got.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Progress {
    to_version: u8,
    /// The last store key the committed batches covered.
    after: Option<String>,
    resealed: u64,
}

/// The plaintext of `meta/unattended` (sealed under the device key): the current key's
/// version and the key, then, during a rotation, the previous version and key. A value of
/// 32 bytes (written before versions existed) is a version-1 key.
fn unattended_payload(keys: &DomainKeys) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(66));
    out.push(keys.version);
    out.extend_from_slice(keys.current.as_ref());
    if let Some((version, key)) = &keys.previous {
        out.push(*version);
        out.extend_from_slice(key.as_ref());
    }
    out
}

pub(crate) fn keys_from_unattended(plain: &[u8]) -> Result<DomainKeys> {
    let key = |bytes: &[u8]| crate::key_from_slice(bytes);
    match plain.len() {
        32 => Ok(DomainKeys::first(key(plain)?)),
        33 | 66 => {
            let keys = DomainKeys {
                version: plain[0],
                current: key(&plain[1..33])?,
                previous: if plain.len() == 66 {
                    Some((plain[33], key(&plain[34..66])?))
                } else {
                    None
                },
            };
            keys.check()?;
            Ok(keys)
        }
        _ => Err(Error::Internal(
            "the unattended boot record has the wrong length".into(),
        )),
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The domain key's version now.
    pub key_version: u8,
    /// Whether this run finished a rotation an earlier run had started.
    pub resumed: bool,
    /// Values re-sealed by all runs of this rotation.
    pub resealed: u64,
    /// Values that failed authentication and were left as they were (they stay unreadable).
    pub unreadable: u64,
    /// Whether every value is now sealed under the new key and the old key is gone.
    pub complete: bool,
}

/// The domain key's version, and whether a rotation is under way (started and not finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyStatus {
    pub key_version: u8,
    pub rotation_in_progress: bool,
}

impl System<'_> {
    /// `GET /api/strongroom/v1/system/data-key` (root Administrator).
    pub fn data_key_status(&self) -> Result<DataKeyStatus> {
        let (_, u, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        let keys = u.keys();
        Ok(DataKeyStatus {
            key_version: keys.version,
            rotation_in_progress: keys.previous.is_some(),
        })
    }
}

impl Core {
    pub(crate) fn seal_unattended(&self, keys: &DomainKeys) -> Vec<u8> {
        self.unattended_sealer()
            .seal(UNATTENDED_PATH, &unattended_payload(keys))
    }

    /// After an unlock with the passphrase, in a cluster: if this node's unattended-boot copy
    /// of the domain key holds another key (another node rotated it since the copy was
    /// sealed; a rotation on this node updates it itself), seals the current one in its
    /// place, so the next start boots unattended again. Best effort, audited like a key
    /// derivation upgrade: until it is done the node just stays Locked at a start.
    pub(crate) fn refresh_unattended(&self) {
        if self.cluster.is_none() {
            return;
        }
        let result = (|| -> Result<bool> {
            let Some(entry) = self.raw.get(UNATTENDED_PATH)? else {
                return Ok(false);
            };
            let u = self.unlocked()?;
            let keys = u.keys();
            // A copy that does not open with the device key is left as it is (and refused
            // at boot): only the Administrator turning unattended boot on writes a new one.
            let Ok(plain) = self.unattended_sealer().open(UNATTENDED_PATH, &entry.value) else {
                return Ok(false);
            };
            let held = keys_from_unattended(&plain)?;
            if held.same_current(&keys) {
                return Ok(false);
            }
            let txn = Txn::new()
                .require_revision(UNATTENDED_PATH, entry.revision)
                .put(UNATTENDED_PATH, self.seal_unattended(&keys));
            let event = crate::audit::RequestAudit::new(
                crate::audit::NewAuditEvent::by_core(
                    None,
                    "unattended boot key refreshed",
                    format!("domain key version {}", keys.version),
                )
                .with_request_id(&crate::audit::current_request_id().unwrap_or_default()),
            );
            match crate::audit::in_request(Some(event), || self.commit_audited(&u.data, txn))? {
                Commit::Committed(_) => Ok(true),
                Commit::Conflict => Ok(false),
            }
        })();
        match result {
            Ok(true) => tracing::info!("unattended boot's copy of the domain key sealed again"),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                error = %e,
                "could not seal unattended boot's copy of the domain key again; the node stays Locked at its next start"
            ),
        }
    }

    /// Held from sealing a value to committing it (see [`Core::key_switch`]).
    pub(crate) fn sealing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.key_switch.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl System<'_> {
    /// `POST /api/strongroom/v1/system/rotate-data-key` (root Administrator, with the unlock
    /// passphrase): rotates the domain key, or finishes a rotation an earlier run started.
    pub fn rotate_data_key(&self, unlock_passphrase: &Passphrase) -> Result<RotationReport> {
        self.rotate_data_key_in_batches(unlock_passphrase, RESEAL_BATCH, None)
    }

    /// [`System::rotate_data_key`] with its batch size, stopping (incomplete, as a crash would)
    /// after `stop_after` batches if given: for tests of resumption.
    #[doc(hidden)]
    pub fn rotate_data_key_in_batches(
        &self,
        unlock_passphrase: &Passphrase,
        batch: usize,
        stop_after: Option<usize>,
    ) -> Result<RotationReport> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        unlock_passphrase.check_length("unlockPassphrase")?;
        let _one = core.rotation.try_lock().map_err(|_| already_running())?;
        let (u, resumed) = core.start_rotation(unlock_passphrase)?;
        let mut progress: Progress = match core.raw.get(ROTATION_PATH)? {
            Some(e) => serde_json::from_slice(&e.value).map_err(Error::internal)?,
            None => Progress::default(),
        };
        let version = u.keys().version;
        if progress.to_version != version {
            progress = Progress {
                to_version: version,
                ..Progress::default()
            };
        }
        let mut unreadable = 0;
        let mut batches = 0;
        // From where the last committed batch stopped to the end, recording progress...
        loop {
            let (next, done, bad) = core.reseal_batch(&u, &progress, batch, true)?;
            progress = next;
            unreadable += bad;
            batches += 1;
            if done {
                break;
            }
            if stop_after.is_some_and(|n| batches >= n) {
                return Ok(RotationReport {
                    key_version: version,
                    resumed,
                    resealed: progress.resealed,
                    unreadable,
                    complete: false,
                });
            }
        }
        // ... then once more from the start, to be sure nothing under the old key is left
        // (the key switch makes that impossible; this costs reading headers only).
        let mut check = Progress {
            to_version: version,
            after: None,
            resealed: progress.resealed,
        };
        let mut unreadable_on_check = 0;
        loop {
            let (next, done, bad) = core.reseal_batch(&u, &check, batch, false)?;
            check = next;
            unreadable_on_check += bad;
            if done {
                break;
            }
        }
        core.finish_rotation(&u)?;
        tracing::info!(
            by = %who.user_id,
            key_version = version,
            resealed = check.resealed,
            "domain key rotated"
        );
        Ok(RotationReport {
            key_version: version,
            resumed,
            resealed: check.resealed,
            unreadable: unreadable_on_check,
            complete: true,
        })
    }
}

impl Core {
    /// Checks the unlock passphrase, and unless a rotation is under way already, makes the
    /// next domain key, wraps it beside the current one, and switches sealing to it. The
    /// request's audit event is written with the switch. Returns the unlocked view and whether
    /// a rotation was under way.
    fn start_rotation(
        &self,
        unlock_passphrase: &Passphrase,
    ) -> Result<(std::sync::Arc<Unlocked>, bool)> {
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        let u = self.unlocked()?;
        let entry = self
            .raw
            .get(UNLOCK_PATH)?
            .ok_or_else(|| Error::Internal("provisioned store has no unlock record".into()))?;
        let record: UnlockRecord = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
        let unlock_key = record.kdf.derive(unlock_passphrase.as_bytes())?;
        let stored = match record.open_with(&unlock_key) {
            Ok(keys) => keys,
            Err(Error::WrongUnlockPassphrase) => {
                return Err(Error::WrongPassphrase(
                    "unlock passphrase is incorrect.".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        let held = u.keys();
        if !stored.same_current(&held) {
            // In a cluster, another node changed the key (its rotation, under way or just
            // done): this node follows it by locking. On a single node, nothing else could.
            if self.cluster.is_some() {
                return Err(already_running());
            }
            return Err(Error::Internal(
                "the unlock record does not hold the domain key in use".into(),
            ));
        }
        if held.previous.is_some() {
            return Ok((u, true));
        }
        let next = DomainKeys {
            current: crypto::random_key(),
            version: next_version(held.version),
            previous: Some((held.version, held.current.clone())),
        };
        let new_record = UnlockRecord::with_keys(record.kdf.clone(), &unlock_key, &next);
        let progress = Progress {
            to_version: next.version,
            ..Progress::default()
        };
        let mut txn = Txn::new()
            .require_revision(UNLOCK_PATH, entry.revision)
            .put(UNLOCK_PATH, json(&new_record)?)
            .put(ROTATION_PATH, json(&progress)?);
        if let Some(e) = self.raw.get(UNATTENDED_PATH)? {
            txn = txn
                .require_revision(UNATTENDED_PATH, e.revision)
                .put(UNATTENDED_PATH, self.seal_unattended(&next));
        }
        let txn = self.put_guard(txn, next.version);
        let _switch = self.key_switch.write().unwrap_or_else(|e| e.into_inner());
        // Every change of the unlock record is in the trail (the anchor ties the two).
        let event = rotation_event("data key rotation started", next.version);
        let committed = self.commit_audited_or_sealing(&u.data, txn, event);
        // In a cluster, another node's rotation may have come first, between the read of the
        // unlock record and this commit: the commit conflicts, or the audit trail's head,
        // sealed under that node's new key, does not open here.
        if self.cluster.is_some()
            && !matches!(committed, Ok(Commit::Committed(_)))
            && self.raw.get(UNLOCK_PATH)?.map(|e| e.revision) != Some(entry.revision)
        {
            return Err(already_running());
        }
        match committed? {
            Commit::Committed(revision) => self.guard_from(&u.data, revision),
            Commit::Conflict => {
                return Err(Error::Internal("unlock record changed concurrently".into()));
            }
        }
        u.set_keys(next);
        Ok((u, false))
    }

    /// Re-seals, under the current key, the values of one page of the store after
    /// `progress.after` that are not sealed under it already, in one transaction that fails if
    /// any of them changed meanwhile (then the page is read again). With `record`, the same
    /// transaction records the progress. Returns the progress, whether this was the last page,
    /// and how many values failed authentication (left as they are).
    fn reseal_batch(
        &self,
        u: &std::sync::Arc<Unlocked>,
        progress: &Progress,
        batch: usize,
        record: bool,
    ) -> Result<(Progress, bool, u64)> {
        for _ in 0..CONFLICT_RETRIES {
            // A lock (or a restore, or a reboot) stops the rotation: the keys it holds are no
            // longer the node's. It resumes when run again.
            match self.unlocked() {
                Ok(now) if std::sync::Arc::ptr_eq(&now, u) => {}
                Ok(_) => return Err(Error::WrongState(crate::SystemState::Locked)),
                Err(e) => return Err(e),
            }
            let page = self.raw.scan("", progress.after.as_deref(), batch)?;
            let done = page.len() < batch;
            let keys = u.data.keyring();
            let mut next = progress.clone();
            let mut txn = Txn::new();
            let mut bad = 0;
            for (key, entry) in &page {
                next.after = Some(key.clone());
                if (key.starts_with("meta/") && !sealed_meta(key))
                    || keys.current.is_current(&entry.value)
                {
                    continue;
                }
                let Ok(plain) = keys.open(key, &entry.value) else {
                    tracing::warn!(key = %key, "a value fails authentication; left as it is");
                    bad += 1;
                    continue;
                };
                txn = txn
                    .require_revision(key.clone(), entry.revision)
                    .put(key.clone(), keys.current.seal(key, &plain));
                next.resealed += 1;
            }
            if record {
                txn = txn.put(ROTATION_PATH, json(&next)?);
            }
            if txn.ops.is_empty() {
                return Ok((next, done, bad));
            }
            match self.commit_audited(&u.data, txn)? {
                Commit::Committed(_) => return Ok((next, done, bad)),
                Commit::Conflict => continue,
            }
        }
        Err(Error::Conflict(
            "The store kept changing under the rotation; run it again.".into(),
        ))
    }

    /// Drops the previous key from the wrapped records and from memory: values sealed under
    /// it no longer open.
    fn finish_rotation(&self, u: &std::sync::Arc<Unlocked>) -> Result<()> {
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        match self.unlocked() {
            Ok(now) if std::sync::Arc::ptr_eq(&now, u) => {}
            Ok(_) => return Err(Error::WrongState(crate::SystemState::Locked)),
            Err(e) => return Err(e),
        }
        let entry = self
            .raw
            .get(UNLOCK_PATH)?
            .ok_or_else(|| Error::Internal("provisioned store has no unlock record".into()))?;
        let mut record: UnlockRecord =
            serde_json::from_slice(&entry.value).map_err(Error::internal)?;
        let mut keys = u.keys();
        keys.previous = None;
        record.previous = None;
        let mut txn = Txn::new()
            .require_revision(UNLOCK_PATH, entry.revision)
            .put(UNLOCK_PATH, json(&record)?)
            .delete(ROTATION_PATH);
        if let Some(e) = self.raw.get(UNATTENDED_PATH)? {
            txn = txn
                .require_revision(UNATTENDED_PATH, e.revision)
                .put(UNATTENDED_PATH, self.seal_unattended(&keys));
        }
        let _switch = self.key_switch.write().unwrap_or_else(|e| e.into_inner());
        let event = rotation_event("data key rotation finished", keys.version);
        match self.commit_audited_or_sealing(&u.data, txn, event)? {
            Commit::Committed(_) => {}
            Commit::Conflict => {
                return Err(Error::Internal("unlock record changed concurrently".into()));
            }
        }
        u.set_keys(keys);
        Ok(())
    }
}

/// The guard's value for keys of `version`.
pub(crate) fn guard_value(version: u8) -> Vec<u8> {
    version.to_string().into_bytes()
}

impl Core {
    /// Cluster mode: `txn`, which installs keys of `version` (provisioning, a rotation's
    /// start), also writes their guard; once it commits, [`Core::guard_from`].
    pub(crate) fn put_guard(&self, txn: Txn, version: u8) -> Txn {
        match self.cluster {
            Some(_) => txn.put(KEY_GUARD_PATH, guard_value(version)),
            None => txn,
        }
    }

    /// Cluster mode: guards the sealed writes through `data` with the guard a transaction of
    /// [`Core::put_guard`] wrote, committed at `revision`.
    pub(crate) fn guard_from(&self, data: &Sealed<DynStore>, revision: u64) {
        if self.cluster.is_some() {
            data.set_guard(Some(Check::Revision(KEY_GUARD_PATH.into(), revision)));
        }
    }

    /// Cluster mode: guards the sealed writes of keys of `version`, just read from the unlock
    /// record, with [`KEY_GUARD_PATH`] as stored now. A guard that names another version means
    /// a rotation elsewhere came between the two reads: the keys are stale, and refused.
    pub(crate) fn guard_writes(&self, data: &Sealed<DynStore>, version: u8) -> Result<()> {
        if self.cluster.is_none() {
            return Ok(());
        }
        let guard = match self.raw.get(KEY_GUARD_PATH)? {
            Some(e) if e.value != guard_value(version) => {
                return Err(Error::Conflict(
                    "The data key changed while unlocking (a rotation on another node); unlock again."
                        .into(),
                ));
            }
            Some(e) => Check::Revision(KEY_GUARD_PATH.into(), e.revision),
            // A store provisioned before the guard, never rotated since: its first rotation
            // writes the guard, which then conflicts with this check.
            None => Check::Absent(KEY_GUARD_PATH.into()),
        };
        data.set_guard(Some(guard));
        Ok(())
    }
}

/// The records under `meta/` sealed under the domain key (cluster mode keeps them in the
/// store; a single node in memory): sessions, their per-user index, the count of wrong
/// passkeys. A rotation re-seals them like user data, or they would open no more once it
/// finishes (a login would fail on its user's index). The rest of `meta/` is plain or sealed
/// under the device key.
fn sealed_meta(key: &str) -> bool {
    [
        crate::sessions::SESSIONS_PREFIX,
        crate::sessions::SESSION_INDEX_PREFIX,
        crate::passkeys::shared::FAILURES_PREFIX,
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
}

fn already_running() -> Error {
    Error::Conflict("A rotation of the data key is already running.".into())
}

/// The core's own event for a step of a rotation that changes the unlock record, when the
/// request's event was written already (or there is no request).
fn rotation_event(action: &str, version: u8) -> crate::audit::NewAuditEvent {
    crate::audit::NewAuditEvent::by_core(None, action, format!("domain key version {version}"))
}

/// The data sealer of a domain key of `version`, for a restore re-sealing a backup's values.
pub(crate) fn data_sealer(key: &Key32, version: u8) -> Sealer {
    Sealer::versioned(key, crate::DATA_PURPOSE, version)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strongroom_store::Store;
    use strongroom_store::sealed::{FORMAT_V1, FORMAT_V2, Keyring, sealed_header};

    use super::*;
    use crate::identity::{Principal, Role};
    use crate::tests::{audit_page, audit_report, set_backup_passphrase};
    use crate::{ADMIN_USER, CoreSettings, DEVICE_KEY_FILE, Provision, SystemState, audit};

    const UNLOCK: &str = "unlock passphrase 1";
    const ADMIN: &str = "admin passphrase 1";

    fn admin() -> Principal {
        Principal::new(ADMIN_USER, Role::Administrator)
    }

    fn unlock() -> Passphrase {
        Passphrase::new(UNLOCK)
    }

    fn open(dir: &std::path::Path) -> Core {
        Core::open(dir, CoreSettings::default()).unwrap()
    }

    /// A provisioned node with `n` extra values besides the administrator and the clock.
    fn provisioned(n: usize) -> (tempfile::TempDir, Core) {
        let dir = tempfile::tempdir().unwrap();
        let core = open(dir.path());
        core.provision(Provision {
            unlock_passphrase: &unlock(),
            admin_passphrase: &Passphrase::new(ADMIN),
            system_time: "2026-01-01T00:00:00Z",
        })
        .unwrap();
        let u = core.unlocked().unwrap();
        for i in 0..n {
            u.data
                .put(
                    &format!("namespaces/ns{i:03}"),
                    format!("{{\"n\":{i}}}").as_bytes(),
                )
                .unwrap();
        }
        (dir, core)
    }

    /// Every value outside `meta/`: its (format, version) header.
    fn headers(core: &Core) -> Vec<(String, Option<(u8, u8)>)> {
        core.raw
            .scan_prefix("")
            .unwrap()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("meta/"))
            .map(|(k, e)| (k, sealed_header(&e.value)))
            .collect()
    }

    /// Every value outside `meta/` opens through the node's sealed view, and holds what was
    /// written.
    fn all_readable(core: &Core, n: usize) {
        let u = core.unlocked().unwrap();
        for (k, e) in core.raw.scan_prefix("").unwrap() {
            if !k.starts_with("meta/") {
                u.data
                    .open_raw(&k, &e.value)
                    .unwrap_or_else(|e| panic!("{k}: {e}"));
            }
        }
        for i in 0..n {
            let v = u
                .data
                .get(&format!("namespaces/ns{i:03}"))
                .unwrap()
                .unwrap();
            assert_eq!(v.value, format!("{{\"n\":{i}}}").as_bytes());
        }
        assert_eq!(
            core.authenticate(ADMIN_USER, ADMIN.as_bytes()).unwrap(),
            admin()
        );
    }

    #[test]
    fn rotation_reseals_every_value_and_the_old_key_opens_nothing() {
        let (dir, core) = provisioned(40);
        let old = core.unlocked().unwrap().keys();
        assert_eq!(old.version, 1);
        assert!(
            headers(&core)
                .iter()
                .all(|(_, h)| *h == Some((FORMAT_V2, 1)))
        );
        let ctx = audit::RequestAudit::new(audit::NewAuditEvent {
            actor: Some("admin".into()),
            face: "strongroom".into(),
            action: "POST /api/strongroom/v1/system/rotate-data-key".into(),
            target: "/api/strongroom/v1/system/rotate-data-key".into(),
            outcome: "success".into(),
            status: None,
            request_id: "rot-1".into(),
        });
        let report = audit::in_request(Some(ctx.clone()), || {
            core.operational(&admin())
                .and_then(|h| h.system().rotate_data_key_in_batches(&unlock(), 7, None))
        })
        .unwrap();
        assert!(ctx.written(), "the rotation is audited");
        assert_eq!(report.key_version, 2);
        assert!(report.complete && !report.resumed);
        assert!(report.resealed >= 42, "{report:?}");
        let new = core.unlocked().unwrap().keys();
        assert_eq!(new.version, 2);
        assert!(new.previous.is_none());
        assert_ne!(*new.current, *old.current);
        // Every value is sealed under version 2, and the old key opens none of them.
        let old_keys = Keyring::new(Sealer::versioned(&old.current, crate::DATA_PURPOSE, 1));
        for (k, e) in core.raw.scan_prefix("").unwrap() {
            if k.starts_with("meta/") {
                continue;
            }
            assert_eq!(sealed_header(&e.value), Some((FORMAT_V2, 2)), "{k}");
            assert!(old_keys.open(&k, &e.value).is_err(), "{k}");
        }
        assert!(core.raw.get(ROTATION_PATH).unwrap().is_none());
        all_readable(&core, 40);
        let page = audit_page(&core, 0, 100);
        assert!(
            page.events.iter().any(|e| e.request_id == "rot-1"),
            "the rotation's event is in the trail"
        );
        assert!(audit_report(&core).verified);
        // The unlock record holds the new key only; a restart unlocks with the same
        // passphrase.
        drop(core);
        let core = open(dir.path());
        assert_eq!(core.state(), SystemState::Locked);
        core.unlock(&unlock()).unwrap();
        assert_eq!(
            core.operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap()
                .key_version,
            2
        );
        all_readable(&core, 40);
        // And again: version 3.
        let r = core
            .operational(&admin())
            .and_then(|h| h.system().rotate_data_key(&unlock()))
            .unwrap();
        assert_eq!(r.key_version, 3);
        all_readable(&core, 40);
    }

    #[test]
    fn a_rotation_stopped_midway_still_unlocks_and_resumes() {
        let (dir, core) = provisioned(30);
        let r = core
            .operational(&admin())
            .and_then(|h| h.system().rotate_data_key_in_batches(&unlock(), 5, Some(2)))
            .unwrap();
        assert!(!r.complete);
        let hs = headers(&core);
        let new = hs
            .iter()
            .filter(|(_, h)| *h == Some((FORMAT_V2, 2)))
            .count();
        let old = hs
            .iter()
            .filter(|(_, h)| *h == Some((FORMAT_V2, 1)))
            .count();
        assert!(new > 0 && old > 0, "half done: {new} new, {old} old");
        assert_eq!(
            core.operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap(),
            DataKeyStatus {
                key_version: 2,
                rotation_in_progress: true
            }
        );
        // While it is under way, a write is sealed under the new key.
        let u = core.unlocked().unwrap();
        core.commit_data(&u, Txn::new().put("namespaces/zz-late", "{}"))
            .unwrap();
        drop(u);
        assert_eq!(
            sealed_header(&core.raw.get("namespaces/zz-late").unwrap().unwrap().value),
            Some((FORMAT_V2, 2))
        );
        all_readable(&core, 30);
        // The process dies here: the store opens with the unlock passphrase and reads both.
        drop(core);
        let core = open(dir.path());
        assert_eq!(core.state(), SystemState::Locked);
        core.unlock(&unlock()).unwrap();
        all_readable(&core, 30);
        assert!(
            core.operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap()
                .rotation_in_progress
        );
        // Another wrong passphrase does not resume it.
        assert!(matches!(
            core.operational(&admin()).and_then(|h| h
                .system()
                .rotate_data_key(&Passphrase::new("not the unlock passphrase"))),
            Err(Error::WrongPassphrase(_))
        ));
        let r = core
            .operational(&admin())
            .and_then(|h| h.system().rotate_data_key(&unlock()))
            .unwrap();
        assert!(r.complete && r.resumed);
        assert_eq!(r.key_version, 2, "the key made by the first run");
        assert!(
            headers(&core)
                .iter()
                .all(|(_, h)| *h == Some((FORMAT_V2, 2)))
        );
        assert!(
            !core
                .operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap()
                .rotation_in_progress
        );
        all_readable(&core, 30);
    }

    #[test]
    fn unattended_boot_survives_a_rotation_and_its_interruption() {
        let (dir, core) = provisioned(12);
        core.operational(&admin())
            .and_then(|h| h.system().set_unattended_boot(true))
            .unwrap();
        core.operational(&admin())
            .and_then(|h| h.system().rotate_data_key_in_batches(&unlock(), 4, Some(1)))
            .unwrap();
        drop(core);
        let core = open(dir.path());
        assert_eq!(
            core.state(),
            SystemState::Operational,
            "both keys under the device key"
        );
        all_readable(&core, 12);
        assert!(
            core.operational(&admin())
                .and_then(|h| h.system().rotate_data_key(&unlock()))
                .unwrap()
                .resumed
        );
        drop(core);
        let core = open(dir.path());
        assert_eq!(core.state(), SystemState::Operational);
        assert_eq!(
            core.operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap()
                .key_version,
            2
        );
        all_readable(&core, 12);
        // Without the device key it still unlocks with the passphrase (once told to make a new
        // device key; the anchor, sealed under the lost one, goes with it).
        drop(core);
        std::fs::remove_file(dir.path().join(DEVICE_KEY_FILE)).unwrap();
        let regenerating = CoreSettings {
            regenerate_device_key: true,
            ..CoreSettings::default()
        };
        let core = Core::open(dir.path(), regenerating).unwrap();
        assert_eq!(core.state(), SystemState::Locked);
        core.unlock(&unlock()).unwrap();
        all_readable(&core, 12);
    }

    #[test]
    fn only_a_root_administrator_with_the_unlock_passphrase_rotates() {
        let (_dir, core) = provisioned(1);
        assert!(matches!(
            core.operational(&Principal::new("op", Role::Operator))
                .and_then(|h| h.system().rotate_data_key(&unlock())),
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            core.operational(&Principal::new("ns~admin", Role::Administrator))
                .and_then(|h| h.system().rotate_data_key(&unlock())),
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            core.operational(&admin()).and_then(|h| h.system().rotate_data_key(&Passphrase::new("wrong unlock passphrase"))),
            Err(Error::WrongPassphrase(m)) if m == "unlock passphrase is incorrect."
        ));
        assert_eq!(
            core.operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap()
                .key_version,
            1
        );
        core.operational(&admin())
            .and_then(|h| h.system().lock())
            .unwrap();
        assert!(matches!(
            core.operational(&admin())
                .and_then(|h| h.system().rotate_data_key(&unlock())),
            Err(Error::WrongState(SystemState::Locked))
        ));
    }

    /// Someone who can write the store relabels the wrapped keys' versions: the node refuses
    /// to unlock (the version is bound to each wrapped key), and does not panic.
    #[test]
    fn relabelled_key_versions_in_the_unlock_record_are_refused() {
        let (_dir, core) = provisioned(1);
        core.operational(&admin())
            .and_then(|h| h.system().rotate_data_key_in_batches(&unlock(), 1, Some(1)))
            .unwrap();
        core.operational(&admin())
            .and_then(|h| h.system().lock())
            .unwrap();
        let original = core.raw.get(UNLOCK_PATH).unwrap().unwrap().value.clone();
        let record: serde_json::Value = serde_json::from_slice(&original).unwrap();
        let relabel = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut r = record.clone();
            edit(&mut r);
            core.raw
                .put(UNLOCK_PATH, &serde_json::to_vec(&r).unwrap())
                .unwrap();
            let e = core.unlock(&unlock()).unwrap_err();
            assert_eq!(core.state(), SystemState::Locked);
            e
        };
        assert!(matches!(
            relabel(&|r| r["keyVersion"] = 0.into()),
            Error::WrongUnlockPassphrase
        ));
        assert!(matches!(
            relabel(&|r| r["keyVersion"] = 1.into()),
            Error::WrongUnlockPassphrase
        ));
        assert!(matches!(
            relabel(&|r| r["previous"]["keyVersion"] = 2.into()),
            Error::WrongUnlockPassphrase
        ));
        // The current key passed off as the previous one too: both open, and are refused.
        assert!(matches!(
            relabel(&|r| r["previous"] = serde_json::json!({
                "keyVersion": r["keyVersion"].clone(),
                "wrappedDomainKey": r["wrappedDomainKey"].clone(),
            })),
            Error::Internal(_)
        ));
        core.raw.put(UNLOCK_PATH, &original).unwrap();
        core.unlock(&unlock()).unwrap();
        all_readable(&core, 1);
    }

    #[test]
    fn writes_during_a_rotation_all_end_up_readable() {
        let (_dir, core) = provisioned(200);
        let core = Arc::new(core);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (core, stop) = (core.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let u = core.unlocked().unwrap();
                    core.commit_data(
                        &u,
                        Txn::new().put(format!("namespaces/w{:05}", i % 300), i.to_string()),
                    )
                    .unwrap();
                    i += 1;
                }
                i
            })
        };
        let r = core
            .operational(&admin())
            .and_then(|h| h.system().rotate_data_key_in_batches(&unlock(), 3, None))
            .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let writes = writer.join().unwrap();
        assert!(writes > 0);
        assert!(r.complete);
        for (k, h) in headers(&core) {
            assert_eq!(h, Some((FORMAT_V2, 2)), "{k}");
        }
        all_readable(&core, 200);
    }

    /// A store as builds before format 2 wrote it: every value in format 1, the unlock record
    /// with no key version, the unattended record the bare key. It opens (by passphrase and
    /// unattended), and a rotation re-seals it all in format 2.
    #[test]
    fn a_store_of_format_1_opens_and_a_rotation_moves_it_to_format_2() {
        let (dir, core) = provisioned(10);
        core.operational(&admin())
            .and_then(|h| h.system().set_unattended_boot(true))
            .unwrap();
        let dk = core.unlocked().unwrap().keys().current;
        drop(core);
        {
            // Rewrite the store the way the earlier build sealed it.
            let raw = strongroom_store::redb::RedbStore::open(&dir.path().join(crate::STORE_FILE))
                .unwrap();
            let data = Sealer::new(&dk, crate::DATA_PURPOSE);
            let device =
                crate::device::load_or_create(&dir.path().join(DEVICE_KEY_FILE), false, false)
                    .unwrap();
            let mut txn = Txn::new();
            for (k, e) in raw.scan_prefix("").unwrap() {
                if k.starts_with("meta/") {
                    continue;
                }
                let plain = data.open(&k, &e.value).unwrap();
                txn = txn.put(k.clone(), data.seal_format_v1_for_tests(&k, &plain));
            }
            let record: serde_json::Value =
                serde_json::from_slice(&raw.get(UNLOCK_PATH).unwrap().unwrap().value).unwrap();
            let kdf: crate::crypto::KdfParams =
                serde_json::from_value(record["kdf"].clone()).unwrap();
            let unlock_key = kdf.derive(UNLOCK.as_bytes()).unwrap();
            let wrapped = Sealer::new(&unlock_key, crate::UNLOCK_PURPOSE)
                .seal_format_v1_for_tests(UNLOCK_PATH, dk.as_ref());
            let old_record = serde_json::json!({
                "kdf": record["kdf"],
                "wrappedDomainKey": hex::encode(wrapped),
            });
            txn = txn.put(UNLOCK_PATH, serde_json::to_vec(&old_record).unwrap());
            let unattended = Sealer::new(&device, crate::UNATTENDED_PURPOSE)
                .seal_format_v1_for_tests(UNATTENDED_PATH, dk.as_ref());
            txn = txn.put(UNATTENDED_PATH, unattended);
            raw.commit(txn).unwrap();
            // The node's anchor knew the unlock record as the earlier build wrote it.
            let anchor = crate::anchor::Anchor::open(Some(dir.path()), &device).unwrap();
            let mut state = anchor.get().unwrap();
            state.unlock_digest = hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                &raw.get(UNLOCK_PATH).unwrap().unwrap().value,
            ));
            anchor.set(state).unwrap();
        }
        let core = open(dir.path());
        assert_eq!(
            core.state(),
            SystemState::Operational,
            "unattended boot of format 1"
        );
        assert!(
            headers(&core)
                .iter()
                .all(|(_, h)| *h == Some((FORMAT_V1, 1)))
        );
        all_readable(&core, 10);
        core.operational(&admin())
            .and_then(|h| h.system().lock())
            .unwrap();
        core.unlock(&unlock()).unwrap();
        all_readable(&core, 10);
        let r = core
            .operational(&admin())
            .and_then(|h| h.system().rotate_data_key(&unlock()))
            .unwrap();
        assert!(r.complete);
        assert!(
            headers(&core)
                .iter()
                .all(|(_, h)| *h == Some((FORMAT_V2, 2)))
        );
        // The wrapped keys are in format 2 too.
        let record: serde_json::Value =
            serde_json::from_slice(&core.raw.get(UNLOCK_PATH).unwrap().unwrap().value).unwrap();
        assert_eq!(record["keyVersion"], 2);
        let wrapped = hex::decode(record["wrappedDomainKey"].as_str().unwrap()).unwrap();
        assert_eq!(wrapped[0], FORMAT_V2);
        let unattended = core
            .raw
            .get(UNATTENDED_PATH)
            .unwrap()
            .unwrap()
            .value
            .clone();
        assert_eq!(unattended[0], FORMAT_V2);
        drop(core);
        let core = open(dir.path());
        assert_eq!(core.state(), SystemState::Operational);
        all_readable(&core, 10);
    }

    #[test]
    fn a_backup_taken_before_a_rotation_restores_after_it() {
        let (_dir, core) = provisioned(5);
        set_backup_passphrase(&core);
        let backup = Principal::new("backup", Role::Backup);
        let file = tempfile::NamedTempFile::new().unwrap();
        // Taken in the middle of a rotation: its values are of both versions.
        core.operational(&admin())
            .and_then(|h| h.system().rotate_data_key_in_batches(&unlock(), 2, Some(1)))
            .unwrap();
        core.operational(&backup)
            .and_then(|h| h.backup().prepare())
            .unwrap()
            .write_to(std::fs::File::create(file.path()).unwrap())
            .unwrap();
        core.operational(&admin())
            .and_then(|h| h.system().rotate_data_key(&unlock()))
            .unwrap();
        core.operational(&admin())
            .and_then(|h| h.system().rotate_data_key(&unlock()))
            .unwrap();
        assert_eq!(
            core.operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap()
                .key_version,
            3
        );
        // Onto this node (Operational): re-sealed under its current key.
        let u = core.unlocked().unwrap();
        u.data.delete("namespaces/ns001").unwrap();
        drop(u);
        core.operational(&admin())
            .and_then(|h| {
                h.backup().restore(
                    file.path(),
                    crate::backup::Restore {
                        backup_passphrase: &Passphrase::new("backup passphrase"),
                        system_time: None,
                    },
                )
            })
            .unwrap();
        all_readable(&core, 5);
        for (k, h) in headers(&core) {
            assert_eq!(h, Some((FORMAT_V2, 3)), "{k}");
        }
        // Onto a new node: the backup's own key and unlock passphrase.
        let dir2 = tempfile::tempdir().unwrap();
        let fresh = open(dir2.path());
        fresh
            .restore(
                file.path(),
                crate::backup::Restore {
                    backup_passphrase: &Passphrase::new("backup passphrase"),
                    system_time: None,
                },
            )
            .unwrap();
        fresh.unlock(&unlock()).unwrap();
        all_readable(&fresh, 5);
        assert_eq!(
            fresh
                .operational(&admin())
                .and_then(|h| h.system().data_key_status())
                .unwrap(),
            DataKeyStatus {
                key_version: 2,
                rotation_in_progress: false
            },
            "the rotation under way in the backup is complete once restored"
        );
    }
}
