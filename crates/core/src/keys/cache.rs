//! Parsed keys, kept so that a signature does not parse the stored PKCS#8 again (for RSA,
//! aws-lc's parse includes a key check that costs about as much as the signature), and the
//! per-key operation counts (`PublicKey.operations`).
//!
//! Correctness rests on the store revision, not on hooks: every use still reads the key's
//! sealed record (so a key deleted, moved or restored away is "not found" at once, here or on
//! another node sharing the store), and the cached parse is only used when it was made from
//! the record at exactly the revision just read. Any write to a key record (a tag, a label, a
//! certificate, a replacement under the same id, a restore) gives it a new store-wide
//! revision, so the metadata (mechanisms, tags, label) served from the entry is always the
//! stored record's. Deletes, moves and restores on this node also drop the entry at once, so
//! the private key does not linger in memory.
//!
//! The cache lives in the core's unlocked state: locking drops that, and with it every parsed
//! key (aws-lc cleanses private keys when it frees them).
//!
//! The operation counts are per node and since unlock (in memory: persisting a count would
//! cost a store write per signature). A count belongs to a key, named by its path and the
//! SHA-256 of its public key, so a key replaced under the same id (on any node) starts at 0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::Ed25519KeyPair;
use zeroize::Zeroizing;

use super::lc::Pkey;
use super::{KeyRecord, KeyType, Mechanism, crypt, curves, internal};
use crate::error::{Error, Result};

/// How many parsed keys are kept; the least recently used goes first.
pub(crate) const CACHE_CAPACITY: usize = 1024;

/// A key as parsed from its record at one store revision.
pub(crate) struct LoadedKey {
    pub(crate) path: String,
    pub(crate) revision: u64,
    pub(crate) key_type: KeyType,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) tags: Vec<String>,
    pub(crate) label: String,
    /// SubjectPublicKeyInfo DER; `None` for a Generic (AES) key, which has no public part.
    spki: Option<Vec<u8>>,
    /// aws-lc's parse, for the types aws-lc has (all but Brainpool and Generic).
    pkey: Option<Pkey>,
    /// aws-lc-rs's own parse of an Ed25519 key, which it signs with.
    ed25519: Option<Ed25519KeyPair>,
    /// The stored private key (PKCS#8, or a Generic key's raw AES key), for the code that is
    /// not aws-lc's EVP (Brainpool, BIP340, AES); wiped on drop.
    private: Zeroizing<Vec<u8>>,
    /// SHA-256 of the public key (of the AES key for a Generic key): which key this is, for
    /// its operation count. Kept in memory only.
    identity: [u8; 32],
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("path", &self.path)
            .field("revision", &self.revision)
            .field("type", &self.key_type)
            .finish_non_exhaustive()
    }
}

fn unreadable() -> Error {
    Error::Internal("a stored key is not readable".into())
}

impl LoadedKey {
    pub(super) fn parse(path: String, revision: u64, record: KeyRecord) -> Result<LoadedKey> {
        let private = record.pkcs8()?;
        let t = record.key_type;
        let pkey = if t == KeyType::Generic || curves::is_brainpool(t) {
            None
        } else {
            Some(Pkey::from_pkcs8(&private).map_err(|_| unreadable())?)
        };
        let ed25519 = match t {
            KeyType::Curve25519 => Some(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(&private).map_err(|_| unreadable())?,
            ),
            _ => None,
        };
        let spki = match &pkey {
            Some(pkey) => Some(pkey.spki().map_err(internal("read"))?),
            None if curves::is_brainpool(t) => Some(curves::spki(t, &private)?),
            None => None,
        };
        let identity = {
            use aws_lc_rs::digest::{SHA256, digest};
            let of = spki.as_deref().unwrap_or(&private);
            let mut identity = [0u8; 32];
            identity.copy_from_slice(digest(&SHA256, of).as_ref());
            identity
        };
        Ok(LoadedKey {
            path,
            revision,
            key_type: t,
            mechanisms: record.mechanisms,
            tags: record.tags,
            label: record.label,
            spki,
            pkey,
            ed25519,
            private,
            identity,
        })
    }

    /// The parsed key (aws-lc `EVP_PKEY`); the spec's 400 for a Generic key.
    pub(crate) fn pkey(&self) -> Result<&Pkey> {
        match (&self.pkey, self.key_type) {
            (Some(pkey), _) => Ok(pkey),
            (None, KeyType::Generic) => Err(crypt::no_public_key()),
            (None, _) => Err(Error::Internal("not a key aws-lc has".into())),
        }
    }

    /// The SubjectPublicKeyInfo DER; the spec's 400 for a Generic key.
    pub(crate) fn spki(&self) -> Result<&[u8]> {
        self.spki.as_deref().ok_or_else(crypt::no_public_key)
    }

    /// The stored private key: PKCS#8, or a Generic key's AES key.
    pub(crate) fn private(&self) -> &[u8] {
        &self.private
    }

    /// The Ed25519 key pair; an error for any other type.
    pub(crate) fn ed25519(&self) -> Result<&Ed25519KeyPair> {
        self.ed25519
            .as_ref()
            .ok_or_else(|| Error::Internal("not Ed25519".into()))
    }
}

struct Slot {
    key: Arc<LoadedKey>,
    last_used: u64,
}

#[derive(Default)]
struct Lru {
    slots: HashMap<String, Slot>,
    clock: u64,
    /// Moves on whenever a parse is dropped because its record changed (see
    /// [`KeyCache::insert_unless_changed`]).
    epoch: u64,
}

/// The parsed keys and operation counts of one unlocked node (see the module notes).
#[derive(Default)]
pub(crate) struct KeyCache {
    lru: Mutex<Lru>,
    /// Path → (the key's identity, operations done with it).
    operations: Mutex<HashMap<String, ([u8; 32], u64)>>,
}

impl KeyCache {
    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ops(&self) -> std::sync::MutexGuard<'_, HashMap<String, ([u8; 32], u64)>> {
        self.operations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key parsed from the record at `path` as of `revision`, if it is here.
    pub(crate) fn get(&self, path: &str, revision: u64) -> Option<Arc<LoadedKey>> {
        let mut lru = self.lru();
        lru.clock += 1;
        let now = lru.clock;
        let slot = lru.slots.get_mut(path)?;
        if slot.key.revision != revision {
            return None;
        }
        slot.last_used = now;
        Some(slot.key.clone())
    }

    /// The key parsed from the record at `path`, whatever its revision: only for a caller that
    /// knows every change of the record until now has reached [`KeyCache::forget`] (cluster
    /// mode, its change feed confirmed).
    pub(crate) fn get_followed(&self, path: &str) -> Option<Arc<LoadedKey>> {
        let mut lru = self.lru();
        lru.clock += 1;
        let now = lru.clock;
        let slot = lru.slots.get_mut(path)?;
        slot.last_used = now;
        Some(slot.key.clone())
    }

    /// Where the drops stand: read it before reading a record, and give it to
    /// [`KeyCache::insert_unless_changed`].
    pub(crate) fn epoch(&self) -> u64 {
        self.lru().epoch
    }

    /// [`KeyCache::insert`], unless a parse was dropped since `epoch` was read: the record
    /// read may then be older than the change that dropped it, and kept it would outlive that
    /// change for a reader of [`KeyCache::get_followed`].
    pub(crate) fn insert_unless_changed(&self, key: Arc<LoadedKey>, epoch: u64) {
        let mut lru = self.lru();
        if lru.epoch != epoch {
            return;
        }
        Self::insert_locked(&mut lru, key);
    }

    /// Keeps `key`, unless a parse of a later revision of its record is here already (two
    /// requests that raced); evicts the least recently used key when full.
    #[cfg(test)]
    pub(crate) fn insert(&self, key: Arc<LoadedKey>) {
        Self::insert_locked(&mut self.lru(), key);
    }

    fn insert_locked(lru: &mut Lru, key: Arc<LoadedKey>) {
        lru.clock += 1;
        let now = lru.clock;
        if let Some(slot) = lru.slots.get(&key.path) {
            if slot.key.revision > key.revision {
                return;
            }
        } else if lru.slots.len() >= CACHE_CAPACITY {
            let oldest = lru
                .slots
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(p, _)| p.clone());
            if let Some(oldest) = oldest {
                lru.slots.remove(&oldest);
            }
        }
        lru.slots.insert(
            key.path.clone(),
            Slot {
                key,
                last_used: now,
            },
        );
    }

    /// The key at `path` was deleted here: its parse and its count go.
    pub(crate) fn forget(&self, path: &str) {
        self.drop_parse(path);
        self.ops().remove(path);
    }

    /// The record at `path` changed (a tag, a certificate, a replacement): its parse goes,
    /// its count stays (bound to the key's identity).
    pub(crate) fn changed(&self, path: &str) {
        self.drop_parse(path);
    }

    fn drop_parse(&self, path: &str) {
        let mut lru = self.lru();
        lru.slots.remove(path);
        lru.epoch += 1;
    }

    /// The key at `from` was moved to `to` here: its parse goes (the record at `to` has a
    /// revision of its own), its count goes with it.
    pub(crate) fn moved(&self, from: &str, to: &str) {
        self.drop_parse(from);
        let mut ops = self.ops();
        if let Some(count) = ops.remove(from) {
            ops.insert(to.to_owned(), count);
        }
    }

    /// Drops every parse (a restore replaced the key records); counts stay, bound to their
    /// keys' identities.
    pub(crate) fn clear(&self) {
        let mut lru = self.lru();
        lru.slots.clear();
        lru.epoch += 1;
    }

    /// How many parsed keys are here.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lru().slots.len()
    }

    /// Counts one operation done with `key` (sign, decrypt, encrypt). Call it once the
    /// operation succeeded.
    pub(crate) fn count_operation(&self, key: &LoadedKey) {
        let mut ops = self.ops();
        let entry = ops.entry(key.path.clone()).or_insert((key.identity, 0));
        if entry.0 != key.identity {
            *entry = (key.identity, 0);
        }
        entry.1 += 1;
    }

    /// The operations done with `key` on this node since unlock.
    pub(crate) fn operations(&self, key: &LoadedKey) -> u64 {
        match self.ops().get(&key.path) {
            Some((identity, count)) if *identity == key.identity => *count,
            _ => 0,
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
