//! Encryption at rest, as a layer over any [`Store`].
//!
//! Every value is sealed with AES-256-GCM-SIV (RFC 8452, nonce-misuse resistant) under a key
//! derived by HKDF-SHA256 from a 32-byte root key (the domain key for user data) and the root
//! key's *version*, with the format byte, the key version and the value's store path as
//! associated data, so a sealed value cannot be read under another path, another format or
//! another key version, or moved there unnoticed.
//!
//! Sealed value layouts:
//! - format 2 (written): `0x02 || key version (1) || nonce (12, random) || ciphertext || tag (16)`,
//!   associated data `0x02 || key version || path`;
//! - format 1 (read only, written by earlier builds): `0x01 || nonce (12, random) ||
//!   ciphertext || tag (16)`, AES-256-GCM, associated data `path`; only a key of version 1
//!   opens it (every key in use before versions existed is version 1).
//!
//! A [`Sealed`] store holds a [`Keyring`]: the current key, which seals, and while the domain
//! key is being rotated the previous one, which only opens. The keyring can be swapped while
//! the store is in use ([`Sealed::set_keyring`]).

use aws_lc_rs::aead::{
    AES_256_GCM, AES_256_GCM_SIV, Aad, Algorithm, LessSafeKey, NONCE_LEN, Nonce, UnboundKey,
};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{Check, Commit, Entry, Op, Page, Result, Snapshot, Store, StoreError, Txn, Watcher};

/// AES-256-GCM, random 96-bit nonce, path as associated data. Read only.
pub const FORMAT_V1: u8 = 1;
/// AES-256-GCM-SIV, random 96-bit nonce, format, key version and path as associated data.
pub const FORMAT_V2: u8 = 2;
const HKDF_SALT_V1: &[u8] = b"strongroom sealing v1";
const HKDF_SALT_V2: &[u8] = b"strongroom sealing v2";
const TAG_LEN: usize = 16;
const V2_HEADER: usize = 2 + NONCE_LEN;

/// Seals and opens values under one derived key of one version.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<SealerKeys>,
}

struct SealerKeys {
    version: u8,
    /// The AES-256-GCM-SIV key of format 2.
    siv: LessSafeKey,
    /// The AES-256-GCM key of format 1 (version 1 only), to open values of earlier builds.
    legacy: Option<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(version {}, ..)", self.key.version)
    }
}

struct Len32;
impl aws_lc_rs::hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA256 (`salt`, `info`) of a 32-byte key into an AES-256-GCM key: the one derivation
/// behind every sealing key of the appliance (values at rest, wrapped keys, backup chunks).
pub fn derive_aes_key(root_key: &[u8; 32], salt: &[u8], info: &[u8]) -> LessSafeKey {
    derive_aead_key(&AES_256_GCM, root_key, salt, info)
}

/// [`derive_aes_key`] for another 256-bit AEAD (AES-256-GCM-SIV for sealed values): the same
/// HKDF-SHA256 derivation, the derived 32 bytes used as the given algorithm's key.
pub fn derive_aead_key(
    algorithm: &'static Algorithm,
    root_key: &[u8; 32],
    salt: &[u8],
    info: &[u8],
) -> LessSafeKey {
    let derived = hkdf_sha256_32(root_key, salt, info);
    let unbound = UnboundKey::new(algorithm, derived.as_ref()).expect("32 bytes is an AES-256 key");
    LessSafeKey::new(unbound)
}

fn hkdf_sha256_32(root_key: &[u8; 32], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(root_key);
    let info = [info];
    let okm = prk
        .expand(&info, Len32)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let mut derived = Zeroizing::new([0u8; 32]);
    okm.fill(derived.as_mut())
        .expect("fill with the length given to expand");
    derived
}

/// The HKDF info of a format-2 key: the purpose, a zero byte, the key version.
fn v2_info(purpose: &str, version: u8) -> Vec<u8> {
    let mut info = purpose.as_bytes().to_vec();
    info.push(0);
    info.push(version);
    info
}

/// The associated data of a format-2 value: format, key version, path.
fn v2_aad(version: u8, path: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(2 + path.len());
    aad.push(FORMAT_V2);
    aad.push(version);
    aad.extend_from_slice(path.as_bytes());
    aad
}

/// The format and key version a sealed value declares in its header (format 1 declares no
/// version: it is version 1), or `None` if the header is not one this build knows. Not
/// authenticated by itself: opening checks both.
pub fn sealed_header(sealed: &[u8]) -> Option<(u8, u8)> {
    match sealed.first() {
        Some(&FORMAT_V1) => Some((FORMAT_V1, 1)),
        Some(&FORMAT_V2) => sealed.get(1).map(|&v| (FORMAT_V2, v)),
        _ => None,
    }
}

impl Sealer {
    /// Derives the sealing key for `purpose` from a 32-byte root key of version 1 (the device
    /// key, the unlock key, and domain keys never rotated). Different purposes give
    /// independent keys from the same root.
    pub fn new(root_key: &[u8; 32], purpose: &str) -> Self {
        Self::versioned(root_key, purpose, 1)
    }

    /// The sealing key for `purpose` from a root key of `version` (1 to 255). The version is
    /// part of the derivation and of every value's associated data.
    pub fn versioned(root_key: &[u8; 32], purpose: &str, version: u8) -> Self {
        assert!(version != 0, "key versions start at 1");
        let siv = derive_aead_key(
            &AES_256_GCM_SIV,
            root_key,
            HKDF_SALT_V2,
            &v2_info(purpose, version),
        );
        let legacy =
            (version == 1).then(|| derive_aes_key(root_key, HKDF_SALT_V1, purpose.as_bytes()));
        Self {
            key: std::sync::Arc::new(SealerKeys {
                version,
                siv,
                legacy,
            }),
        }
    }

    /// The version of the root key this sealer derives from.
    pub fn version(&self) -> u8 {
        self.key.version
    }

    /// Seals `plaintext` bound to `path`, in format 2.
    pub fn seal(&self, path: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the OS random generator does not fail");
        let mut out = Vec::with_capacity(V2_HEADER + plaintext.len() + TAG_LEN);
        out.push(FORMAT_V2);
        out.push(self.key.version);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .siv
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(v2_aad(self.key.version, path)),
                &mut out[V2_HEADER..],
            )
            .expect("AES-GCM-SIV sealing of an in-memory buffer does not fail");
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Whether this sealer would write `sealed` as it is: format 2 under its own version.
    /// Anything else is due for a re-seal when the domain key is rotated.
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed_header(sealed) == Some((FORMAT_V2, self.key.version))
    }

    /// Opens a value sealed for `path`; fails if it was altered, sealed for another path,
    /// under another key or key version, or its format or version byte was changed.
    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let tampered = || StoreError::Tampered(path.to_owned());
        let (key, aad, body_at) = match sealed_header(sealed) {
            Some((FORMAT_V1, _)) => match &self.key.legacy {
                Some(legacy) => (legacy, path.as_bytes().to_vec(), 1),
                None => return Err(tampered()),
            },
            Some((FORMAT_V2, version)) if version == self.key.version => {
                (&self.key.siv, v2_aad(version, path), 2)
            }
            _ => return Err(tampered()),
        };
        if sealed.len() < body_at + NONCE_LEN + TAG_LEN {
            return Err(tampered());
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[body_at..body_at + NONCE_LEN])
            .map_err(|_| tampered())?;
        let mut body = Zeroizing::new(sealed[body_at + NONCE_LEN..].to_vec());
        let len = key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| tampered())?
            .len();
        body.truncate(len);
        Ok(body)
    }

    /// Seals in format 1, as builds before format 2 did: only to build stores and fixtures of
    /// the old format in tests (a migration test needs a store written the old way).
    #[doc(hidden)]
    pub fn seal_format_v1_for_tests(&self, path: &str, plaintext: &[u8]) -> Vec<u8> {
        let legacy = self
            .key
            .legacy
            .as_ref()
            .expect("format 1 exists only for version 1");
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the OS random generator does not fail");
        let mut out = vec![FORMAT_V1];
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        legacy
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(path.as_bytes()),
                &mut body,
            )
            .expect("AES-GCM sealing of an in-memory buffer does not fail");
        out.extend_from_slice(&body);
        out
    }
}

/// The keys a sealed store uses: `current` seals (and opens its own values); `previous`, only
/// while the domain key is being rotated, opens values not yet re-sealed.
#[derive(Clone, Debug)]
pub struct Keyring {
    pub current: Sealer,
    pub previous: Option<Sealer>,
}

impl Keyring {
    pub fn new(current: Sealer) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// A keyring in the middle of a rotation from `previous` to `current`.
    pub fn rotating(current: Sealer, previous: Sealer) -> Self {
        assert_ne!(
            current.version(),
            previous.version(),
            "a rotation changes the key version"
        );
        Self {
            current,
            previous: Some(previous),
        }
    }

    /// Opens with whichever key the value's header names.
    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let version = sealed_header(sealed).map(|(_, v)| v);
        match &self.previous {
            Some(p) if version == Some(p.version()) => p.open(path, sealed),
            _ => self.current.open(path, sealed),
        }
    }

    /// An entry of the inner store, its value opened.
    fn open_entry(&self, key: &str, entry: Entry) -> Result<Entry> {
        let plain = self.open(key, &entry.value)?;
        Ok(Entry {
            value: plain.to_vec(),
            revision: entry.revision,
        })
    }
}

/// A page of the inner store's scan, each value opened by `open`.
fn open_page(page: Page, open: impl Fn(&str, Entry) -> Result<Entry>) -> Result<Page> {
    page.into_iter()
        .map(|(k, e)| {
            let e = open(&k, e)?;
            Ok((k, e))
        })
        .collect()
}

/// A [`Store`] whose values are sealed before they reach the inner store and opened after.
/// Keys (paths) and revisions are not secret and pass through unchanged; so does the change
/// feed, whose changes hold a path, a kind and a revision but never a value.
pub struct Sealed<S> {
    inner: S,
    keys: std::sync::RwLock<Keyring>,
    /// A check every transaction sealed here carries ([`Sealed::set_guard`]).
    guard: std::sync::RwLock<Option<Check>>,
}

impl<S> std::fmt::Debug for Sealed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

impl<S: Store> Sealed<S> {
    pub fn new(inner: S, sealer: Sealer) -> Self {
        Self::with_keyring(inner, Keyring::new(sealer))
    }

    pub fn with_keyring(inner: S, keys: Keyring) -> Self {
        Self {
            inner,
            keys: std::sync::RwLock::new(keys),
            guard: std::sync::RwLock::new(None),
        }
    }

    /// Makes every later transaction that seals a value here carry `guard` as one of its
    /// checks. A cluster node guards with the record its domain key's rotation changes: once
    /// another node has rotated the key, this node's writes, sealed under a key the store no
    /// longer uses, conflict instead of landing. Set together with the keys it goes with.
    pub fn set_guard(&self, guard: Option<Check>) {
        *self.guard.write().unwrap_or_else(|e| e.into_inner()) = guard;
    }

    /// The check set by [`Sealed::set_guard`], for a caller that seals values itself.
    pub fn guard(&self) -> Option<Check> {
        self.guard.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Commits on the inner store a transaction whose values were sealed by
    /// [`Sealed::seal_txn`] (and perhaps merged with plain writes). A conflict caused by the
    /// guard is [`StoreError::GuardMoved`], so no caller takes it for its own check failing
    /// (an id that exists, a record changed meanwhile).
    pub fn commit_sealed(&self, txn: Txn) -> Result<Commit> {
        let committed = self.inner.commit(txn)?;
        self.explain(committed)
    }

    fn explain(&self, committed: Commit) -> Result<Commit> {
        if committed != Commit::Conflict {
            return Ok(committed);
        }
        let moved = match self.guard() {
            None => return Ok(committed),
            Some(Check::Revision(key, revision)) => {
                (self.inner.get(&key)?.map(|e| e.revision) != Some(revision)).then_some(key)
            }
            Some(Check::Absent(key)) => self.inner.get(&key)?.is_some().then_some(key),
        };
        match moved {
            Some(key) => Err(StoreError::GuardMoved(key)),
            None => Ok(committed),
        }
    }

    /// The keys in use now.
    pub fn keyring(&self) -> Keyring {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the keys: later seals use the new current key. Callers that must not have a
    /// value sealed under the old key land after the swap serialise that themselves.
    pub fn set_keyring(&self, keys: Keyring) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    fn current(&self) -> Sealer {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current
            .clone()
    }

    /// Seals the values of a transaction's puts, so it can be merged with unsealed writes
    /// and committed on the inner store in one atomic step.
    pub fn seal_txn(&self, mut txn: Txn) -> Txn {
        let sealer = self.current();
        if txn.ops.iter().any(|op| matches!(op, Op::Put { .. }))
            && let Some(guard) = self.guard()
        {
            txn.checks.push(guard);
        }
        for op in &mut txn.ops {
            if let Op::Put { key, value } = op {
                let sealed = sealer.seal(key, value);
                // The plain value may be a secret (a private key, a verifier): wipe it.
                zeroize::Zeroize::zeroize(value);
                *value = sealed;
            }
        }
        txn
    }

    /// Opens one raw value of the inner store, for callers that scan the inner store
    /// themselves and must tell a tampered value from the rest instead of failing the scan.
    pub fn open_raw(&self, key: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.keyring().open(key, sealed)
    }

    fn open_entry(&self, key: &str, entry: Entry) -> Result<Entry> {
        self.keyring().open_entry(key, entry)
    }
}

impl<S: Store> Store for Sealed<S> {
    fn get(&self, key: &str) -> Result<Option<Entry>> {
        self.inner
            .get(key)?
            .map(|e| self.open_entry(key, e))
            .transpose()
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        open_page(self.inner.scan(prefix, start_after, limit)?, |k, e| {
            self.open_entry(k, e)
        })
    }

    fn commit(&self, txn: Txn) -> Result<Commit> {
        self.commit_sealed(self.seal_txn(txn))
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let keys = self.keyring();
        Ok(Box::new(SealedSnapshot {
            inner: self.inner.snapshot()?,
            keys,
        }))
    }

    fn sync_point(&self) -> Result<u64> {
        self.inner.sync_point()
    }

    fn restart_watch(&self) {
        self.inner.restart_watch()
    }

    fn watch(&self, prefix: &str) -> Result<Watcher> {
        // Nothing to open: a change names the key and a watcher reads the value through
        // this store.
        self.inner.watch(prefix)
    }

    fn commit_iter(
        &self,
        mut checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        // The ops are not known before they stream: guarded whether or not one is a put.
        checks.extend(self.guard());
        let sealer = self.current();
        let mut sealed = ops.map(|op| match op? {
            Op::Put { key, value } => {
                let value = sealer.seal(&key, &value);
                Ok(Op::Put { key, value })
            }
            other => Ok(other),
        });
        let committed = self.inner.commit_iter(checks, &mut sealed)?;
        self.explain(committed)
    }
}

struct SealedSnapshot {
    inner: Box<dyn Snapshot>,
    keys: Keyring,
}

impl Snapshot for SealedSnapshot {
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        open_page(self.inner.scan(prefix, start_after, limit)?, |k, e| {
            self.keys.open_entry(k, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once the guard record moved, a transaction that seals a value conflicts and writes
    /// nothing; one that seals nothing (a delete) is not guarded.
    #[test]
    fn a_guarded_store_seals_nothing_once_its_guard_moved() {
        let dir = tempfile::tempdir().unwrap();
        let raw = crate::redb::RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let at = raw.put("meta/guard", b"1").unwrap();
        let sealed = Sealed::new(raw, Sealer::new(&[7; 32], "data"));
        sealed.set_guard(Some(Check::Revision("meta/guard".into(), at)));
        let put = |key: &str| {
            sealed
                .commit(Txn::new().put(key, b"value".to_vec()))
                .unwrap()
        };
        assert!(matches!(put("users/a"), Commit::Committed(_)));

        // A conflict of the caller's own check, with the guard in place, stays a conflict.
        let own = Txn::new()
            .require_absent("users/a")
            .put("users/a", b"again".to_vec());
        assert_eq!(sealed.commit(own).unwrap(), Commit::Conflict);

        sealed.inner.put("meta/guard", b"2").unwrap();
        let moved =
            |r: Result<Commit>| matches!(r, Err(StoreError::GuardMoved(k)) if k == "meta/guard");
        assert!(moved(
            sealed.commit(Txn::new().put("users/b", b"value".to_vec()))
        ));
        assert!(sealed.get("users/b").unwrap().is_none());
        let streamed = sealed.commit_iter(
            Vec::new(),
            &mut std::iter::once(Ok(Op::Put {
                key: "users/c".into(),
                value: b"value".to_vec(),
            })),
        );
        assert!(moved(streamed));
        let presealed = sealed.seal_txn(Txn::new().put("users/d", b"value".to_vec()));
        assert!(moved(sealed.commit_sealed(presealed)));
        let delete = sealed.commit(Txn::new().delete("users/a")).unwrap();
        assert!(matches!(delete, Commit::Committed(_)));

        sealed.set_guard(None);
        assert!(matches!(put("users/b"), Commit::Committed(_)));
    }

    #[test]
    fn value_is_bound_to_its_path_and_key() {
        let sealer = Sealer::new(&[7; 32], "data");
        let sealed = sealer.seal("users/a", b"secret value");
        assert_eq!(&*sealer.open("users/a", &sealed).unwrap(), b"secret value");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert!(matches!(
            sealer.open("users/b", &sealed),
            Err(StoreError::Tampered(_))
        ));
        let other_purpose = Sealer::new(&[7; 32], "tls");
        assert!(other_purpose.open("users/a", &sealed).is_err());
        let other_root = Sealer::new(&[8; 32], "data");
        assert!(other_root.open("users/a", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 0x01;
            assert!(
                sealer.open("users/a", &flipped).is_err(),
                "flip at {i} accepted"
            );
        }
        assert!(sealer.open("users/a", &sealed[..sealed.len() - 1]).is_err());
    }

    #[test]
    fn values_of_earlier_builds_still_open_and_new_ones_are_format_2() {
        let sealer = Sealer::new(&[7; 32], "data");
        let old = sealer.seal_format_v1_for_tests("users/a", b"old value");
        assert_eq!(old[0], FORMAT_V1);
        assert_eq!(&*sealer.open("users/a", &old).unwrap(), b"old value");
        assert!(
            sealer.open("users/b", &old).is_err(),
            "format 1 binds the path"
        );
        assert!(!sealer.is_current(&old));
        let new = sealer.seal("users/a", b"new value");
        assert_eq!(&new[..2], &[FORMAT_V2, 1]);
        assert_eq!(new.len(), 2 + 12 + b"new value".len() + 16);
        assert!(sealer.is_current(&new));
        assert_eq!(&*sealer.open("users/a", &new).unwrap(), b"new value");
        // Format 1 exists only for version 1: a rotated key never opens it.
        let v2 = Sealer::versioned(&[7; 32], "data", 2);
        assert!(v2.open("users/a", &old).is_err());
    }

    #[test]
    fn format_and_version_bytes_are_authenticated() {
        let v1 = Sealer::new(&[7; 32], "data");
        let v2 = Sealer::versioned(&[7; 32], "data", 2);
        let sealed = v2.seal("users/a", b"value");
        assert_eq!(&*v2.open("users/a", &sealed).unwrap(), b"value");
        // The same root under another version is another key.
        assert!(v1.open("users/a", &sealed).is_err());
        let mut relabelled = sealed.clone();
        relabelled[1] = 1;
        assert!(v1.open("users/a", &relabelled).is_err());
        assert!(v2.open("users/a", &relabelled).is_err());
        for format in [0u8, FORMAT_V1, 3, 0xff] {
            let mut other = sealed.clone();
            other[0] = format;
            assert!(v2.open("users/a", &other).is_err(), "format {format}");
        }
        // The associated data holds format, version and path: with the right key, opening
        // with any of them left out or changed fails.
        let open_with = |aad: Vec<u8>| {
            let mut body = sealed[2 + NONCE_LEN..].to_vec();
            let nonce = Nonce::try_assume_unique_for_key(&sealed[2..2 + NONCE_LEN]).unwrap();
            v2.key
                .siv
                .open_in_place(nonce, Aad::from(aad), &mut body)
                .map(|p| p.to_vec())
        };
        assert_eq!(open_with(v2_aad(2, "users/a")).unwrap(), b"value");
        assert!(open_with(b"users/a".to_vec()).is_err());
        assert!(open_with(v2_aad(1, "users/a")).is_err());
        assert!(open_with([&[FORMAT_V1, 2][..], b"users/a"].concat()).is_err());
        assert!(open_with(v2_aad(2, "users/b")).is_err());
        // Too short for a header, a nonce and a tag.
        assert!(v2.open("users/a", &sealed[..2 + NONCE_LEN + 15]).is_err());
        assert!(v2.open("users/a", &[]).is_err());
    }

    #[test]
    fn a_keyring_opens_both_versions_during_a_rotation() {
        let old = Sealer::new(&[1; 32], "data");
        let new = Sealer::versioned(&[2; 32], "data", 2);
        let a = old.seal_format_v1_for_tests("k/a", b"a");
        let b = old.seal("k/b", b"b");
        let c = new.seal("k/c", b"c");
        let rotating = Keyring::rotating(new.clone(), old.clone());
        assert_eq!(&*rotating.open("k/a", &a).unwrap(), b"a");
        assert_eq!(&*rotating.open("k/b", &b).unwrap(), b"b");
        assert_eq!(&*rotating.open("k/c", &c).unwrap(), b"c");
        let done = Keyring::new(new);
        assert!(done.open("k/a", &a).is_err());
        assert!(done.open("k/b", &b).is_err());
        assert!(Keyring::new(old).open("k/c", &c).is_err());
    }

    /// pyca/cryptography (OpenSSL), not our code, derives the key with HKDF-SHA256 and opens a
    /// format-2 value with AES-256-GCM-SIV and the documented associated data.
    #[test]
    fn an_independent_implementation_opens_a_format_2_value() {
        let root = [0x5a; 32];
        let sealed =
            Sealer::versioned(&root, "strongroom/data/v1", 3).seal("users/alice", b"{\"x\":1}");
        let script = r#"
import sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
root, sealed, path = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3].encode()
assert sealed[0] == 2
version = sealed[1]
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"strongroom sealing v2",
           info=b"strongroom/data/v1" + b"\x00" + bytes([version])).derive(root)
aad = bytes([2, version]) + path
sys.stdout.write(AESGCMSIV(key).decrypt(sealed[2:14], sealed[14:], aad).decode())
"#;
        let python = std::env::var_os("STRONGROOM_TEST_PYTHON").unwrap_or_else(|| "python3".into());
        let out = std::process::Command::new(python)
            .args(["-c", script, &hex(&root), &hex(&sealed), "users/alice"])
            .output()
            .expect("a Python with pyca/cryptography (scripts/test sets STRONGROOM_TEST_PYTHON)");
        assert!(
            out.status.success(),
            "python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"{\"x\":1}");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn nonces_are_fresh() {
        let sealer = Sealer::new(&[1; 32], "data");
        assert_ne!(sealer.seal("k", b"v"), sealer.seal("k", b"v"));
    }
}
