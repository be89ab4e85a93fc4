//! Node-wide settings and operations: random bytes, the unlock and backup passphrases, the
//! clock, and the process-level meanings of reboot and factory reset (NetHSM `/random`,
//! `/config/*`, `/system/*`).

use serde::{Deserialize, Serialize};
use strongroom_store::{Commit, Op, Store, Txn};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::access::Access;
use crate::crypto::{self, KdfParams};
use crate::error::{Error, Result};
use crate::handles::System;
use crate::secret::Passphrase;
use crate::{Core, Inner, SystemState, UNATTENDED_PATH, UNLOCK_PATH, UnlockRecord, clock, json};

/// Where the backup key lives (sealed): the Argon2id parameters and salt, and the key they
/// derive from the backup passphrase. The passphrase itself is never stored.
pub(crate) const BACKUP_KEY_PATH: &str = "config/backup-key";

/// `POST /random` accepts 1 to 1024 bytes.
pub const RANDOM_MAX: u64 = 1024;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BackupKeyRecord {
    pub kdf: KdfParams,
    /// Hex of the 32-byte key derived from the backup passphrase.
    pub key: zeroize::Zeroizing<String>,
}

/// What `config/backup-key` says. Provisioning writes it [`BackupKey::Unset`], so on a
/// provisioned store its absence means someone deleted it: treated as closed (no backup, and no
/// passphrase can be set without the current one, which nobody has).
pub(crate) enum BackupKey {
    Missing,
    Unset,
    Set(BackupKeyRecord),
}

/// The value of `config/backup-key` before any backup passphrase is set.
pub(crate) const BACKUP_KEY_UNSET: &[u8] = br#"{"unset":true}"#;

pub(crate) fn read_backup_key(
    data: &impl Store,
) -> Result<(BackupKey, Option<strongroom_store::Entry>)> {
    let Some(entry) = data.get(BACKUP_KEY_PATH)? else {
        return Ok((BackupKey::Missing, None));
    };
    let key = if entry.value == BACKUP_KEY_UNSET {
        BackupKey::Unset
    } else {
        BackupKey::Set(serde_json::from_slice(&entry.value).map_err(Error::internal)?)
    };
    Ok((key, Some(entry)))
}

impl BackupKeyRecord {
    /// The stored backup key, decoded from its hex straight into wiped memory: no plain copy
    /// of it is left on the stack or the heap.
    pub(crate) fn key(&self) -> Result<crypto::Key32> {
        let mut key: crypto::Key32 = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(self.key.as_bytes(), key.as_mut_slice())
            .map_err(|_| Error::Internal("the stored backup key is not 32 bytes of hex".into()))?;
        Ok(key)
    }

    fn matches(&self, passphrase: &Passphrase) -> Result<bool> {
        let derived = self.kdf.derive(passphrase.as_bytes())?;
        let stored = zeroize::Zeroizing::new(hex::decode(&self.key).map_err(Error::internal)?);
        Ok(bool::from(derived.as_slice().ct_eq(stored.as_slice())))
    }
}

impl System<'_> {
    /// `POST /random`: `length` fresh bytes from the operating system's CSPRNG (Operator).
    pub fn random(&self, length: u64) -> Result<Vec<u8>> {
        self.require(Access::Operator)?;
        if !(1..=RANDOM_MAX).contains(&length) {
            return Err(Error::InvalidInput(format!(
                "length must be between 1 and {RANDOM_MAX}"
            )));
        }
        let mut bytes = vec![0u8; length as usize];
        crypto::fill_random(&mut bytes);
        Ok(bytes)
    }

    /// `PUT /config/backup-passphrase` (root Administrator). `current` is `None` for the older
    /// body shape that has no current passphrase: it counts as `""`, so it can only set the
    /// first backup passphrase, never replace one (which would need the current one).
    pub fn set_backup_passphrase(
        &self,
        new: &Passphrase,
        current: Option<&Passphrase>,
    ) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        new.check_length("newPassphrase")?;
        new.check_strength("newPassphrase")?;
        let wrong = || Error::WrongPassphrase("backup passphrase is incorrect.".into());
        let (stored, existing) = read_backup_key(&u.data)?;
        let current_ok = match (&stored, current) {
            // Deleted from the store: closed, as if set to a passphrase nobody knows.
            (BackupKey::Missing, _) => false,
            (BackupKey::Unset, None) => true,
            (BackupKey::Unset, Some(c)) => c.expose().is_empty(),
            (BackupKey::Set(_), None) => false,
            (BackupKey::Set(record), Some(c)) => record.matches(c)?,
        };
        if !current_ok {
            return Err(wrong());
        }
        let kdf = KdfParams::new_for_key();
        let key = kdf.derive(new.as_bytes())?;
        let record = BackupKeyRecord {
            kdf,
            key: zeroize::Zeroizing::new(hex::encode(key.as_ref())),
        };
        let value = zeroize::Zeroizing::new(json(&record)?);
        let txn = Txn::new()
            .require_unchanged(BACKUP_KEY_PATH, existing.as_ref())
            .put(BACKUP_KEY_PATH, value.to_vec());
        match core.commit_data(u, txn)? {
            Commit::Committed(_) => {
                tracing::info!(by = %who.user_id, "backup passphrase changed");
                Ok(())
            }
            // Changed by someone else between our check and our write: our check is stale.
            Commit::Conflict => Err(wrong()),
        }
    }

    /// `PUT /config/unlock-passphrase` (root Administrator): wraps the domain key under the
    /// new passphrase; the old one stops working. Nothing else changes.
    pub fn set_unlock_passphrase(&self, new: &Passphrase, current: &Passphrase) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        new.check_length("newPassphrase")?;
        new.check_strength("newPassphrase")?;
        let _guard = core.transition.lock().unwrap_or_else(|e| e.into_inner());
        let entry = core
            .raw
            .get(UNLOCK_PATH)?
            .ok_or_else(|| Error::Internal("provisioned store has no unlock record".into()))?;
        let record: UnlockRecord = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
        match record.open(current) {
            Ok(_) => {}
            Err(Error::WrongUnlockPassphrase) => {
                return Err(Error::WrongPassphrase(
                    "unlock passphrase is incorrect.".into(),
                ));
            }
            Err(e) => return Err(e),
        }
        let new_record = UnlockRecord::new(new, &u.keys())?;
        let txn = Txn::new()
            .require_revision(UNLOCK_PATH, entry.revision)
            .put(UNLOCK_PATH, json(&new_record)?);
        // Always recorded: the anchor ties the unlock record to the trail's last event.
        let event = crate::audit::NewAuditEvent::by_core(
            Some(&who.user_id),
            "unlock passphrase change",
            "",
        );
        match core.commit_audited_or(&u.data, txn, event)? {
            Commit::Committed(_) => {
                tracing::info!(by = %who.user_id, "unlock passphrase changed");
                Ok(())
            }
            Commit::Conflict => Err(Error::Internal("unlock record changed concurrently".into())),
        }
    }

    /// `GET /config/time` (root Administrator).
    pub fn time(&self) -> Result<OffsetDateTime> {
        let (core, _, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        Ok(core.now())
    }

    /// `PUT /config/time` (root Administrator): an RFC 3339 time in UTC.
    pub fn set_time(&self, time: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let offset = core.clock.offset_to(clock::parse_utc("time", time)?);
        // A time set by hand ends following the host's clock (appliance time settings).
        let _sealing = core.sealing();
        let txn = u
            .data
            .seal_txn(Txn::new().put(clock::TIME_OFFSET_PATH, offset.to_string()))
            .merge(crate::appliance::time::clock_set_by_hand(core)?);
        core.commit_audited_sealing(&u.data, txn)?;
        core.time_offset
            .store(offset, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(by = %who.user_id, offset, "time set");
        Ok(())
    }

    /// `POST /system/reboot` (root Administrator). A process cannot reboot its host; what a
    /// reboot means for the appliance is that it forgets its keys and boots again from its
    /// store: Locked, or Operational again if unattended boot is on.
    pub fn reboot(&self) -> Result<SystemState> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let _guard = core.transition.lock().unwrap_or_else(|e| e.into_inner());
        core.forget_keys();
        core.boot_unattended()?;
        tracing::info!(by = %who.user_id, state = %core.state(), "rebooted");
        Ok(core.state())
    }

    /// `POST /system/factory-reset` (root Administrator): erases everything (users, keys,
    /// configuration, the audit trail, the unlock record) in one transaction, and the node is
    /// Unprovisioned again. Only the store schema and the TLS identity (so clients' pins stay
    /// valid) survive.
    pub fn factory_reset(&self) -> Result<()> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let _guard = core.transition.lock().unwrap_or_else(|e| e.into_inner());
        // Undo the anchoring first, store side then file side: a crash in between leaves a
        // provisioned store that the next unlock anchors again, never a store that claims an
        // anchor the node no longer has (which would refuse to start).
        core.raw
            .commit(Txn::new().delete(crate::anchor::ANCHORED_PATH))?;
        core.anchor.clear()?;
        *core.rollback.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let keep = [crate::SCHEMA_PATH, crate::tls::TLS_PATH];
        let mut deletes = core
            .raw_keys_except(&keep)
            .map(|k| k.map(|key| Op::Delete { key }));
        core.raw.commit_iter(Vec::new(), &mut deletes)?;
        core.forget_keys();
        core.set_inner(Inner::Unprovisioned);
        core.time_offset
            .store(0, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(by = %who.user_id, "factory reset");
        Ok(())
    }
}

impl Core {
    /// Every key of the raw store but `keep`, page by page.
    pub(crate) fn raw_keys_except<'a>(
        &'a self,
        keep: &'a [&'a str],
    ) -> impl Iterator<Item = strongroom_store::Result<String>> + 'a {
        RawKeys {
            store: &*self.raw,
            after: None,
            page: Vec::new().into_iter(),
            done: false,
        }
        .filter(move |k| !matches!(k, Ok(k) if keep.contains(&k.as_str())))
    }

    /// Whether `keys` are the store's domain key ([`is_store_key`]).
    fn holds_current_domain_key(&self, keys: &crate::DomainKeys) -> Result<bool> {
        let Some(entry) = self.raw.get(UNLOCK_PATH)? else {
            return Ok(false);
        };
        let record: UnlockRecord = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
        let data = strongroom_store::sealed::Sealed::with_keyring(self.raw.clone(), keys.keyring());
        Ok(is_store_key(record.key_version, keys, &data))
    }

    /// With unattended boot on, opens the domain key with the device key and goes
    /// Operational; otherwise stays Locked.
    pub(crate) fn boot_unattended(&self) -> Result<()> {
        if let Some(entry) = self.raw.get(UNATTENDED_PATH)? {
            match self.unattended_sealer().open(UNATTENDED_PATH, &entry.value) {
                Ok(plain) => {
                    let keys = crate::rotation::keys_from_unattended(&plain)?;
                    if self.holds_current_domain_key(&keys)? {
                        match self.become_operational(keys) {
                            // A rotation elsewhere came between the checks: as below.
                            Err(Error::Conflict(why)) => {
                                tracing::warn!(%why, "staying Locked: unlock with the passphrase");
                            }
                            other => other?,
                        }
                    } else {
                        // Another node rotated the domain key (or restored another
                        // appliance's backup) since this copy was sealed: it opens nothing
                        // written since, so it must not make this node Operational.
                        tracing::warn!(
                            version = keys.version,
                            "unattended boot's copy of the domain key is not the store's (changed on another node); staying Locked: unlock with the passphrase"
                        );
                    }
                }
                Err(_) => tracing::warn!(
                    "unattended boot is on but its key does not open with this device key; staying Locked"
                ),
            }
        }
        Ok(())
    }
}

/// Whether `keys`, sealing through `data`, are the store's domain key: of the unlock record's
/// `record_version`, and opening the backup key's record (always present since provisioning,
/// sealed under the domain key; if it no longer opens, the key changed, as a restore of
/// another appliance's backup changes it). Asked at an unattended boot, and by a cluster node
/// when another node changed the unlock record.
pub(crate) fn is_store_key(
    record_version: u8,
    keys: &crate::DomainKeys,
    data: &strongroom_store::sealed::Sealed<crate::DynStore>,
) -> bool {
    record_version == keys.version && data.get(BACKUP_KEY_PATH).is_ok()
}

/// Iterates the keys of a store in pages, so memory stays bounded.
struct RawKeys<'a> {
    store: &'a dyn Store,
    after: Option<String>,
    page: std::vec::IntoIter<String>,
    done: bool,
}

impl Iterator for RawKeys<'_> {
    type Item = strongroom_store::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        const PAGE: usize = 1000;
        loop {
            if let Some(k) = self.page.next() {
                self.after = Some(k.clone());
                return Some(Ok(k));
            }
            if self.done {
                return None;
            }
            match self.store.scan("", self.after.as_deref(), PAGE) {
                Ok(entries) => {
                    self.done = entries.len() < PAGE;
                    self.page = entries
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect::<Vec<_>>()
                        .into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
