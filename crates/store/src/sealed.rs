//! Encryption at rest, as a layer over any [`Store`].
//!
//! Every value is sealed with AES-256-GCM under a key derived by HKDF-SHA256 from a 32-byte
//! root key (the domain key for user data), with the value's store path as associated data,
//! so a sealed value cannot be read under another path or moved there unnoticed.
//!
//! Sealed value layout: `0x01 (format) || nonce (12 bytes, random) || ciphertext || tag (16)`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{Check, Commit, Entry, Op, Result, Snapshot, Store, StoreError, Txn};

const FORMAT_V1: u8 = 1;
const HKDF_SALT: &[u8] = b"strongroom sealing v1";

/// Seals and opens values under one derived AES-256-GCM key.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
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
    let prk = Salt::new(HKDF_SHA256, salt).extract(root_key);
    let info = [info];
    let okm = prk
        .expand(&info, Len32)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let mut derived = Zeroizing::new([0u8; 32]);
    okm.fill(derived.as_mut())
        .expect("fill with the length given to expand");
    let unbound =
        UnboundKey::new(&AES_256_GCM, derived.as_ref()).expect("32 bytes is an AES-256 key");
    LessSafeKey::new(unbound)
}

impl Sealer {
    /// Derives the sealing key for `purpose` from a 32-byte root key. Different purposes give
    /// independent keys from the same root.
    pub fn new(root_key: &[u8; 32], purpose: &str) -> Self {
        Self {
            key: std::sync::Arc::new(derive_aes_key(root_key, HKDF_SALT, purpose.as_bytes())),
        }
    }

    /// Seals `plaintext` bound to `path`.
    pub fn seal(&self, path: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the OS random generator does not fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(path.as_bytes()),
                &mut body,
            )
            .expect("AES-GCM sealing of an in-memory buffer does not fail");
        out.extend_from_slice(&body);
        out
    }

    /// Opens a value sealed for `path`; fails if it was altered, sealed for another path or
    /// under another key.
    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let tampered = || StoreError::Tampered(path.to_owned());
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT_V1 {
            return Err(tampered());
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| tampered())?;
        let mut body = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(path.as_bytes()), &mut body)
            .map_err(|_| tampered())?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

/// A [`Store`] whose values are sealed before they reach the inner store and opened after.
/// Keys (paths) and revisions are not secret and pass through unchanged.
pub struct Sealed<S> {
    inner: S,
    sealer: Sealer,
}

impl<S> std::fmt::Debug for Sealed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

impl<S: Store> Sealed<S> {
    pub fn new(inner: S, sealer: Sealer) -> Self {
        Self { inner, sealer }
    }

    /// Seals the values of a transaction's puts, so it can be merged with unsealed writes
    /// and committed on the inner store in one atomic step.
    pub fn seal_txn(&self, mut txn: Txn) -> Txn {
        for op in &mut txn.ops {
            if let Op::Put { key, value } = op {
                *value = self.sealer.seal(key, value);
            }
        }
        txn
    }

    /// Opens one raw value of the inner store, for callers that scan the inner store
    /// themselves and must tell a tampered value from the rest instead of failing the scan.
    pub fn open_raw(&self, key: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.sealer.open(key, sealed)
    }

    fn open_entry(&self, key: &str, entry: Entry) -> Result<Entry> {
        let plain = self.sealer.open(key, &entry.value)?;
        Ok(Entry {
            value: plain.to_vec(),
            revision: entry.revision,
        })
    }
}

impl<S: Store> Store for Sealed<S> {
    fn get(&self, key: &str) -> Result<Option<Entry>> {
        self.inner
            .get(key)?
            .map(|e| self.open_entry(key, e))
            .transpose()
    }

    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Entry)>> {
        self.inner
            .scan(prefix, start_after, limit)?
            .into_iter()
            .map(|(k, e)| {
                let e = self.open_entry(&k, e)?;
                Ok((k, e))
            })
            .collect()
    }

    fn commit(&self, txn: Txn) -> Result<Commit> {
        self.inner.commit(self.seal_txn(txn))
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(SealedSnapshot {
            inner: self.inner.snapshot()?,
            sealer: self.sealer.clone(),
        }))
    }

    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        let mut sealed = ops.map(|op| match op? {
            Op::Put { key, value } => {
                let value = self.sealer.seal(&key, &value);
                Ok(Op::Put { key, value })
            }
            other => Ok(other),
        });
        self.inner.commit_iter(checks, &mut sealed)
    }
}

struct SealedSnapshot {
    inner: Box<dyn Snapshot>,
    sealer: Sealer,
}

impl Snapshot for SealedSnapshot {
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Entry)>> {
        self.inner
            .scan(prefix, start_after, limit)?
            .into_iter()
            .map(|(k, e)| {
                let value = self.sealer.open(&k, &e.value)?.to_vec();
                Ok((
                    k,
                    Entry {
                        value,
                        revision: e.revision,
                    },
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn nonces_are_fresh() {
        let sealer = Sealer::new(&[1; 32], "data");
        assert_ne!(sealer.seal("k", b"v"), sealer.seal("k", b"v"));
    }
}
