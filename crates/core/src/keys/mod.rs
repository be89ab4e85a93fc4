//! The NetHSM key store (`/keys`): RSA, Ed25519, the NIST curves, secp256k1 and the Brainpool
//! curves ([`curves`]), and AES (Generic) keys, generated or imported (also as PEM,
//! [`pem`]), listed, read, deleted, moved, and used to sign, decrypt and encrypt ([`crypt`]);
//! their tag restrictions, labels, certificates ([`cert`]) and CSRs ([`csr`]); parsed keys
//! are kept while unlocked ([`cache`]).
//!
//! Rules (nethsm-api.yaml `x-annotation-role`): an Administrator manages (generates, imports,
//! deletes) the keys of its own namespace; Administrators and Operators read them; an
//! Operator signs, decrypts and encrypts, and only with a key whose tags (if it has any) it
//! carries one of. A caller
//! sees only the keys of its own namespace (root callers: root keys): another namespace's key
//! is "not found".
//!
//! Each key is one record sealed in the store under `keys/<id>` (root) or `keys/<ns>~<id>`
//! (the same shape as users, so deleting a namespace deletes its keys, and the backup, which
//! takes every prefix but `meta/`, carries them). The private key is kept as PKCS#8 DER,
//! wiped from memory on drop and never shown by `Debug`.
//!
//! Sign inputs are the spec's: PKCS1 takes a DigestInfo-encoded digest and pads it without
//! hashing again; PSS and ECDSA take a digest of the mode's (or curve's) hash length; EdDSA
//! takes the message; BIP340 (secp256k1 keys only) takes the message. Digest signing goes to
//! aws-lc through `aws-lc-sys` ([`lc`]): the safe aws-lc-rs API only signs messages; Brainpool
//! and BIP340, which aws-lc lacks, go to RustCrypto ([`curves`]).

mod cache;
mod cert;
mod crypt;
mod csr;
mod curves;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod lc;
mod pem;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongroom_store::{Commit, Store, Txn};
use zeroize::Zeroizing;

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Keys;
use crate::identity::{Principal, is_valid_id};
use crate::{Core, Unlocked, crypto};
pub(crate) use cache::KeyCache;
use cache::LoadedKey;
use cert::StoredCert;
pub use cert::{CERT_MAX_BYTES, CERT_MEDIA_TYPES};
pub use crypt::{AES_IV_BYTES, decrypt_mode, encrypt_mode};
pub use csr::CsrSubject;
use lc::{DigestSign, Md, Pkey};
pub use pem::NewPemKey;

/// Where keys live in the store.
pub const KEYS_PREFIX: &str = "keys/";

/// How many times generating an id retries on a collision.
const ID_RETRIES: usize = 16;

/// The key types (the spec's `KeyType` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "RSA")]
    Rsa,
    Curve25519,
    #[serde(rename = "EC_P256")]
    EcP256,
    #[serde(rename = "EC_P384")]
    EcP384,
    #[serde(rename = "EC_P521")]
    EcP521,
    #[serde(rename = "EC_P256K1")]
    EcP256K1,
    BrainpoolP256,
    BrainpoolP384,
    BrainpoolP512,
    /// An AES key (128, 192 or 256 bits), for AES-CBC ([`crypt`]).
    Generic,
}

impl KeyType {
    /// The spec's name of a key type; 400 for names the spec does not have.
    pub fn parse(name: &str) -> Result<KeyType> {
        Ok(match name {
            "RSA" => KeyType::Rsa,
            "Curve25519" => KeyType::Curve25519,
            "EC_P256" => KeyType::EcP256,
            "EC_P384" => KeyType::EcP384,
            "EC_P521" => KeyType::EcP521,
            "EC_P256K1" => KeyType::EcP256K1,
            "BrainpoolP256" => KeyType::BrainpoolP256,
            "BrainpoolP384" => KeyType::BrainpoolP384,
            "BrainpoolP512" => KeyType::BrainpoolP512,
            "Generic" => KeyType::Generic,
            _ => return Err(Error::InvalidInput(format!("Unknown key type {name}."))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Curve25519 => "Curve25519",
            KeyType::EcP256 => "EC_P256",
            KeyType::EcP384 => "EC_P384",
            KeyType::EcP521 => "EC_P521",
            KeyType::EcP256K1 => "EC_P256K1",
            KeyType::BrainpoolP256 => "BrainpoolP256",
            KeyType::BrainpoolP384 => "BrainpoolP384",
            KeyType::BrainpoolP512 => "BrainpoolP512",
            KeyType::Generic => "Generic",
        }
    }

    /// The curve's scalar length and the digest length ECDSA takes (SHA-256, -384, -512).
    fn ec_sizes(self) -> Option<(usize, usize)> {
        match self {
            KeyType::EcP256 | KeyType::EcP256K1 | KeyType::BrainpoolP256 => Some((32, 32)),
            KeyType::EcP384 | KeyType::BrainpoolP384 => Some((48, 48)),
            KeyType::EcP521 => Some((66, 64)),
            KeyType::BrainpoolP512 => Some((64, 64)),
            _ => None,
        }
    }

    fn ec_alg(self) -> Option<&'static aws_lc_rs::signature::EcdsaSigningAlgorithm> {
        use aws_lc_rs::signature as s;
        match self {
            KeyType::EcP256 => Some(&s::ECDSA_P256_SHA256_ASN1_SIGNING),
            KeyType::EcP384 => Some(&s::ECDSA_P384_SHA384_ASN1_SIGNING),
            KeyType::EcP521 => Some(&s::ECDSA_P521_SHA512_ASN1_SIGNING),
            KeyType::EcP256K1 => Some(&s::ECDSA_P256K1_SHA256_ASN1_SIGNING),
            _ => None,
        }
    }
}

/// The mechanisms (the spec's `KeyMechanism` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mechanism {
    #[serde(rename = "RSA_Signature_PKCS1")]
    RsaPkcs1,
    #[serde(rename = "RSA_Signature_PSS_MD5")]
    RsaPssMd5,
    #[serde(rename = "RSA_Signature_PSS_SHA1")]
    RsaPssSha1,
    #[serde(rename = "RSA_Signature_PSS_SHA224")]
    RsaPssSha224,
    #[serde(rename = "RSA_Signature_PSS_SHA256")]
    RsaPssSha256,
    #[serde(rename = "RSA_Signature_PSS_SHA384")]
    RsaPssSha384,
    #[serde(rename = "RSA_Signature_PSS_SHA512")]
    RsaPssSha512,
    #[serde(rename = "EdDSA_Signature")]
    EdDsa,
    #[serde(rename = "ECDSA_Signature")]
    Ecdsa,
    #[serde(rename = "RSA_Decryption_RAW")]
    RsaDecryptRaw,
    #[serde(rename = "RSA_Decryption_PKCS1")]
    RsaDecryptPkcs1,
    #[serde(rename = "RSA_Decryption_OAEP_MD5")]
    RsaDecryptOaepMd5,
    #[serde(rename = "RSA_Decryption_OAEP_SHA1")]
    RsaDecryptOaepSha1,
    #[serde(rename = "RSA_Decryption_OAEP_SHA224")]
    RsaDecryptOaepSha224,
    #[serde(rename = "RSA_Decryption_OAEP_SHA256")]
    RsaDecryptOaepSha256,
    #[serde(rename = "RSA_Decryption_OAEP_SHA384")]
    RsaDecryptOaepSha384,
    #[serde(rename = "RSA_Decryption_OAEP_SHA512")]
    RsaDecryptOaepSha512,
    #[serde(rename = "AES_Encryption_CBC")]
    AesEncryptCbc,
    #[serde(rename = "AES_Decryption_CBC")]
    AesDecryptCbc,
    #[serde(rename = "BIP340_Signature")]
    Bip340,
}

const MECHANISMS: [Mechanism; 20] = [
    Mechanism::RsaPkcs1,
    Mechanism::RsaPssMd5,
    Mechanism::RsaPssSha1,
    Mechanism::RsaPssSha224,
    Mechanism::RsaPssSha256,
    Mechanism::RsaPssSha384,
    Mechanism::RsaPssSha512,
    Mechanism::EdDsa,
    Mechanism::Ecdsa,
    Mechanism::RsaDecryptRaw,
    Mechanism::RsaDecryptPkcs1,
    Mechanism::RsaDecryptOaepMd5,
    Mechanism::RsaDecryptOaepSha1,
    Mechanism::RsaDecryptOaepSha224,
    Mechanism::RsaDecryptOaepSha256,
    Mechanism::RsaDecryptOaepSha384,
    Mechanism::RsaDecryptOaepSha512,
    Mechanism::AesEncryptCbc,
    Mechanism::AesDecryptCbc,
    Mechanism::Bip340,
];

impl Mechanism {
    pub fn parse(name: &str) -> Result<Mechanism> {
        if let Some(m) = MECHANISMS.iter().find(|m| m.as_str() == name) {
            return Ok(*m);
        }
        Err(Error::InvalidInput(format!("Unknown mechanism {name}.")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::RsaPkcs1 => "RSA_Signature_PKCS1",
            Mechanism::RsaPssMd5 => "RSA_Signature_PSS_MD5",
            Mechanism::RsaPssSha1 => "RSA_Signature_PSS_SHA1",
            Mechanism::RsaPssSha224 => "RSA_Signature_PSS_SHA224",
            Mechanism::RsaPssSha256 => "RSA_Signature_PSS_SHA256",
            Mechanism::RsaPssSha384 => "RSA_Signature_PSS_SHA384",
            Mechanism::RsaPssSha512 => "RSA_Signature_PSS_SHA512",
            Mechanism::EdDsa => "EdDSA_Signature",
            Mechanism::Ecdsa => "ECDSA_Signature",
            Mechanism::RsaDecryptRaw => "RSA_Decryption_RAW",
            Mechanism::RsaDecryptPkcs1 => "RSA_Decryption_PKCS1",
            Mechanism::RsaDecryptOaepMd5 => "RSA_Decryption_OAEP_MD5",
            Mechanism::RsaDecryptOaepSha1 => "RSA_Decryption_OAEP_SHA1",
            Mechanism::RsaDecryptOaepSha224 => "RSA_Decryption_OAEP_SHA224",
            Mechanism::RsaDecryptOaepSha256 => "RSA_Decryption_OAEP_SHA256",
            Mechanism::RsaDecryptOaepSha384 => "RSA_Decryption_OAEP_SHA384",
            Mechanism::RsaDecryptOaepSha512 => "RSA_Decryption_OAEP_SHA512",
            Mechanism::AesEncryptCbc => "AES_Encryption_CBC",
            Mechanism::AesDecryptCbc => "AES_Decryption_CBC",
            Mechanism::Bip340 => "BIP340_Signature",
        }
    }

    fn fits(self, t: KeyType) -> bool {
        match self {
            Mechanism::EdDsa => t == KeyType::Curve25519,
            Mechanism::Ecdsa => t.ec_sizes().is_some(),
            Mechanism::AesEncryptCbc | Mechanism::AesDecryptCbc => t == KeyType::Generic,
            // BIP340 is Schnorr over secp256k1 only.
            Mechanism::Bip340 => t == KeyType::EcP256K1,
            _ => t == KeyType::Rsa,
        }
    }

    fn pss_md(self) -> Option<Md> {
        Some(match self {
            Mechanism::RsaPssMd5 => Md::Md5,
            Mechanism::RsaPssSha1 => Md::Sha1,
            Mechanism::RsaPssSha224 => Md::Sha224,
            Mechanism::RsaPssSha256 => Md::Sha256,
            Mechanism::RsaPssSha384 => Md::Sha384,
            Mechanism::RsaPssSha512 => Md::Sha512,
            _ => return None,
        })
    }
}

/// A sign mode (the spec's `SignMode`), as the mechanism it needs.
pub fn sign_mode(mode: &str) -> Result<Mechanism> {
    Ok(match mode {
        "PKCS1" => Mechanism::RsaPkcs1,
        "PSS_MD5" => Mechanism::RsaPssMd5,
        "PSS_SHA1" => Mechanism::RsaPssSha1,
        "PSS_SHA224" => Mechanism::RsaPssSha224,
        "PSS_SHA256" => Mechanism::RsaPssSha256,
        "PSS_SHA384" => Mechanism::RsaPssSha384,
        "PSS_SHA512" => Mechanism::RsaPssSha512,
        "EdDSA" => Mechanism::EdDsa,
        "ECDSA" => Mechanism::Ecdsa,
        "BIP340" => Mechanism::Bip340,
        _ => return Err(Error::InvalidInput(format!("Unknown sign mode {mode}."))),
    })
}

/// Whether [`Keys::sign_if_cheap`] can sign with `mode` at all (EdDSA, ECDSA): for every
/// other mode it reads the key only to answer `None`, so a server goes to [`Keys::sign`] on a
/// blocking thread at once rather than read the key twice.
pub fn may_sign_cheaply(mode: Mechanism) -> bool {
    matches!(mode, Mechanism::EdDsa | Mechanism::Ecdsa)
}

/// What a new key is (both generated and imported).
#[derive(Debug, Clone)]
pub struct NewKey {
    /// `None`: generate an id.
    pub id: Option<String>,
    pub key_type: KeyType,
    pub mechanisms: Vec<Mechanism>,
    /// The key's tag restriction: an Operator must carry one of these to use it.
    pub tags: Vec<String>,
    /// The key's label (empty: none).
    pub label: String,
}

/// The private part of a key to import (the spec's `KeyPrivateData`, decoded). Wiped on drop.
#[derive(Default)]
pub struct ImportedKey {
    pub prime_p: Zeroizing<Vec<u8>>,
    pub prime_q: Zeroizing<Vec<u8>>,
    pub public_exponent: Vec<u8>,
    pub data: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportedKey(..)")
    }
}

/// The public part of a key, as `GET /keys/{KeyID}` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicData {
    Rsa {
        modulus: Vec<u8>,
        public_exponent: Vec<u8>,
    },
    /// The EC point (uncompressed, 0x04 || x || y) or the Ed25519 public key.
    Data(Vec<u8>),
    /// None: a Generic (AES) key is secret through and through.
    None,
}

/// What `GET /keys/{KeyID}` shows of a key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub key_type: KeyType,
    pub mechanisms: Vec<Mechanism>,
    pub tags: Vec<String>,
    pub label: String,
    pub public: PublicData,
    /// Operations done with the key on this node since unlock ([`cache`]).
    pub operations: u64,
}

/// A key as stored (sealed).
#[derive(Serialize, Deserialize)]
struct KeyRecord {
    #[serde(rename = "type")]
    key_type: KeyType,
    mechanisms: Vec<Mechanism>,
    tags: Vec<String>,
    /// The key's label (`/keys/{KeyID}/label`; empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    label: String,
    /// PKCS#8 DER, hex; for a Generic key the raw AES key, hex ([`crypt`]).
    private: Zeroizing<String>,
    /// The certificate stored for the key (`/keys/{KeyID}/cert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cert: Option<StoredCert>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("type", &self.key_type)
            .field("mechanisms", &self.mechanisms)
            .field("tags", &self.tags)
            .field("label", &self.label)
            .field("cert", &self.cert.as_ref().map(|c| &c.media_type))
            .finish_non_exhaustive()
    }
}

impl KeyRecord {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        hex::decode(self.private.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| Error::Internal("a stored key is not readable".into()))
    }

    fn pkey(&self) -> Result<Pkey> {
        if self.key_type == KeyType::Generic {
            return Err(crypt::no_public_key());
        }
        Pkey::from_pkcs8(&self.pkcs8()?)
            .map_err(|_| Error::Internal("a stored key is not readable".into()))
    }

    /// The key's SubjectPublicKeyInfo DER (the Brainpool curves are not in aws-lc).
    fn spki(&self) -> Result<Vec<u8>> {
        if curves::is_brainpool(self.key_type) {
            curves::spki(self.key_type, &self.pkcs8()?)
        } else {
            self.pkey()?.spki().map_err(internal("read"))
        }
    }
}

fn not_found() -> Error {
    Error::NotFound("Key not found.".into())
}

/// The longest label, in bytes (the spec's `KeyLabel`, for PKCS#11's sake).
pub const LABEL_MAX_BYTES: usize = 32;

fn check_label(label: &str) -> Result<()> {
    if label.len() > LABEL_MAX_BYTES {
        return Err(Error::InvalidInput(format!(
            "A key label is at most {LABEL_MAX_BYTES} bytes of UTF-8."
        )));
    }
    Ok(())
}

fn cert_not_found() -> Error {
    Error::NotFound("Certificate not found.".into())
}

fn check_id(id: &str) -> Result<()> {
    if id == "generate" {
        // `/keys/generate` is the generate route: a key of that id could not be reached.
        Err(Error::InvalidInput(
            "The key ID generate is reserved (POST /keys/generate).".into(),
        ))
    } else if is_valid_id(id) {
        Ok(())
    } else {
        Err(invalid_id())
    }
}

fn invalid_id() -> Error {
    Error::InvalidInput(
        "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.".into(),
    )
}

/// Checks the prefix of `GET /keys/{prefix}*`: empty (every key) or the start of a valid key
/// id, which is a valid id itself. Refused like an invalid id (the spec's 400 "Invalid
/// character in the KeyID" of that path): no key can have the prefix, and the spec's pattern
/// for the path's `KeyID` does not take it.
pub fn check_id_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || is_valid_id(prefix) {
        Ok(())
    } else {
        Err(invalid_id())
    }
}

/// The store path of key `id` in `who`'s namespace.
fn key_path(who: &Principal, id: &str) -> String {
    match &who.namespace {
        Some(ns) => format!("{KEYS_PREFIX}{ns}~{id}"),
        None => format!("{KEYS_PREFIX}{id}"),
    }
}

fn internal(what: &str) -> impl Fn(lc::LcError) -> Error + '_ {
    move |_| Error::Internal(format!("aws-lc could not {what}"))
}

/// A SEC1 `ECPrivateKey` DER of `scalar` on `t`'s curve, without the public key (aws-lc
/// derives it).
fn sec1(t: KeyType, scalar: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let oid: &[u8] = match t {
        KeyType::EcP256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        KeyType::EcP384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        KeyType::EcP521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        KeyType::EcP256K1 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
        _ => return Err(Error::Internal("not an aws-lc curve".into())),
    };
    let scalar = ec_scalar(t, scalar)?;
    let len = scalar.len();
    let body = 3 + 2 + len + 2 + oid.len();
    let mut der = Zeroizing::new(Vec::with_capacity(body + 2));
    der.extend_from_slice(&[0x30, body as u8, 0x02, 0x01, 0x01, 0x04, len as u8]);
    der.extend_from_slice(&scalar);
    der.extend_from_slice(&[0xa0, oid.len() as u8]);
    der.extend_from_slice(oid);
    Ok(der)
}

/// An imported EC scalar (`data`, big-endian), left-padded with zeros to the curve's length:
/// 400 if it is zero or longer. (Whether it is below the order is the curve code's check.)
fn ec_scalar(t: KeyType, scalar: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let (len, _) = t
        .ec_sizes()
        .ok_or_else(|| Error::Internal("not EC".into()))?;
    Ok({
        let trimmed = &scalar[scalar.iter().take_while(|b| **b == 0).count()..];
        if trimmed.is_empty() || trimmed.len() > len {
            return Err(Error::InvalidInput(format!(
                "The EC private key (data) must be the raw scalar of at most {len} bytes."
            )));
        }
        let mut padded = Zeroizing::new(vec![0u8; len]);
        padded[len - trimmed.len()..].copy_from_slice(trimmed);
        padded
    })
}

fn bad_key(what: &str) -> Error {
    Error::InvalidInput(format!("The private key is not a valid {what} key."))
}

/// Generates the PKCS#8 DER of a new key.
fn generate_pkcs8(t: KeyType, length: Option<u32>) -> Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair};
    let fail = |_| Error::Internal("key generation failed".into());
    Ok(match t {
        KeyType::Rsa => {
            let size = match length {
                Some(2048) => KeySize::Rsa2048,
                Some(3072) => KeySize::Rsa3072,
                Some(4096) => KeySize::Rsa4096,
                Some(8192) => KeySize::Rsa8192,
                _ => {
                    return Err(Error::InvalidInput(
                        "RSA keys are 2048, 3072, 4096 or 8192 bits long (length).".into(),
                    ));
                }
            };
            let pair = KeyPair::generate(size).map_err(fail)?;
            Zeroizing::new(pair.as_der().map_err(fail)?.as_ref().to_vec())
        }
        KeyType::Curve25519 => {
            let pair = Ed25519KeyPair::generate().map_err(fail)?;
            Zeroizing::new(pair.to_pkcs8v1().map_err(fail)?.as_ref().to_vec())
        }
        _ if curves::is_brainpool(t) => curves::generate(t)?,
        _ => {
            let alg = t.ec_alg().ok_or_else(|| Error::Internal("not EC".into()))?;
            let pair = EcdsaKeyPair::generate(alg).map_err(fail)?;
            Zeroizing::new(pair.to_pkcs8v1().map_err(fail)?.as_ref().to_vec())
        }
    })
}

/// The PKCS#8 DER of an imported key.
fn import_pkcs8(t: KeyType, key: &ImportedKey) -> Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair};
    match t {
        KeyType::Rsa => {
            if key.prime_p.is_empty() || key.prime_q.is_empty() || key.public_exponent.is_empty() {
                return Err(Error::InvalidInput(
                    "An RSA key needs primeP, primeQ and publicExponent.".into(),
                ));
            }
            let der = lc::rsa_from_primes(&key.prime_p, &key.prime_q, &key.public_exponent)
                .map_err(|_| bad_key("RSA"))?;
            let bits = Pkey::from_pkcs8(&der).map_err(|_| bad_key("RSA"))?.bits();
            if !(2048..=8192).contains(&bits) {
                return Err(Error::InvalidInput(
                    "RSA keys are 2048 to 8192 bits long.".into(),
                ));
            }
            Ok(der)
        }
        KeyType::Curve25519 => {
            if key.data.len() != 32 {
                return Err(Error::InvalidInput(
                    "A Curve25519 private key (data) is 32 bytes.".into(),
                ));
            }
            let pair =
                Ed25519KeyPair::from_seed_unchecked(&key.data).map_err(|_| bad_key("Ed25519"))?;
            Ok(Zeroizing::new(
                pair.to_pkcs8v1()
                    .map_err(|_| bad_key("Ed25519"))?
                    .as_ref()
                    .to_vec(),
            ))
        }
        _ if curves::is_brainpool(t) => curves::import(t, &ec_scalar(t, &key.data)?),
        _ => {
            let alg = t.ec_alg().ok_or_else(|| Error::Internal("not EC".into()))?;
            let pair = EcdsaKeyPair::from_private_key_der(alg, &sec1(t, &key.data)?)
                .map_err(|_| bad_key(t.as_str()))?;
            Ok(Zeroizing::new(
                pair.to_pkcs8v1()
                    .map_err(|_| bad_key(t.as_str()))?
                    .as_ref()
                    .to_vec(),
            ))
        }
    }
}

impl Core {
    fn read_key(&self, u: &Unlocked, who: &Principal, id: &str) -> Result<KeyRecord> {
        check_id(id)?;
        let entry = u.data.get(&key_path(who, id))?.ok_or_else(not_found)?;
        // The entry wipes its value when dropped.
        serde_json::from_slice(&entry.value).map_err(Error::internal)
    }

    /// Key `id` of `who`'s namespace, parsed: from the cache when it holds a parse of the
    /// record at the revision just read, else parsed now and kept ([`cache`]).
    fn load_key(&self, u: &Unlocked, who: &Principal, id: &str) -> Result<Arc<LoadedKey>> {
        check_id(id)?;
        let path = key_path(who, id);
        // In cluster mode, while the change feed is confirmed to have brought every change
        // until a moment ago, a change of the record would have dropped its parse: no read
        // of etcd is needed (see `cluster_sync`). On a single node the read is local.
        if self.cluster.is_some()
            && self.caches_trusted()
            && let Some(key) = u.key_cache.get_followed(&path)
        {
            return Ok(key);
        }
        let epoch = u.key_cache.epoch();
        let entry = u.data.get(&path)?.ok_or_else(not_found)?;
        if let Some(key) = u.key_cache.get(&path, entry.revision) {
            return Ok(key);
        }
        // The entry wipes its value when dropped.
        let record: KeyRecord = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
        let key = Arc::new(LoadedKey::parse(path, entry.revision, record)?);
        u.key_cache.insert_unless_changed(key.clone(), epoch);
        Ok(key)
    }

    /// The tags of user `user_id`. In cluster mode, while the caches are trusted, from what
    /// this node follows of the user's record (no read of etcd: [`crate::followed`]).
    fn user_tags(&self, u: &Unlocked, user_id: &str) -> Result<Vec<String>> {
        if self.cluster.is_none() {
            return Ok(self
                .read_user(u, user_id)?
                .map(|(user, _)| user.tags)
                .unwrap_or_default());
        }
        if self.caches_trusted()
            && let Some((_, tags)) = u.followed_tags.get(user_id)
        {
            return Ok(tags);
        }
        let epoch = u.followed_tags.epoch();
        Ok(match self.read_user(u, user_id)? {
            Some((user, revision)) => {
                u.followed_tags
                    .insert_unless_changed(user_id, revision, user.tags.clone(), epoch);
                user.tags
            }
            None => Vec::new(),
        })
    }
}

/// Whether an Operator with `tags` may use a key restricted to `key_tags`.
fn meets(key_tags: &[String], tags: &[String]) -> bool {
    key_tags.is_empty() || key_tags.iter().any(|t| tags.contains(t))
}

impl Keys<'_> {
    /// `GET /keys`: the ids of the caller's namespace's keys; with `filter`, only those an
    /// Operator caller may use; with `label`, only those of that label.
    pub fn list(&self, filter: bool, label: Option<&str>) -> Result<Vec<String>> {
        let (core, u, who) = self.parts();
        self.require(Access::AdministratorOrOperator)?;
        let prefix = match &who.namespace {
            Some(ns) => format!("{KEYS_PREFIX}{ns}~"),
            None => KEYS_PREFIX.to_owned(),
        };
        let tags = if filter && Access::Operator.permits(who) {
            Some(core.user_tags(u, &who.user_id)?)
        } else {
            None
        };
        let mut ids = Vec::new();
        for (k, entry) in u.data.scan_prefix(&prefix)? {
            let id = &k[prefix.len()..];
            // Root's prefix also covers every namespace's keys.
            if id.contains('~') {
                continue;
            }
            if tags.is_some() || label.is_some() {
                let record: KeyRecord =
                    serde_json::from_slice(&entry.value).map_err(Error::internal)?;
                if tags.as_ref().is_some_and(|tags| !meets(&record.tags, tags))
                    || label.is_some_and(|label| record.label != label)
                {
                    continue;
                }
            }
            ids.push(id.to_owned());
        }
        Ok(ids)
    }

    /// `POST /keys/generate`: a new key in the caller's namespace; answers its id.
    pub fn generate(&self, new: &NewKey, length: Option<u32>) -> Result<String> {
        self.require(Access::Administrator)?;
        self.check_new(new)?;
        let pkcs8 = match new.key_type {
            KeyType::Generic => crypt::generate_secret(length)?,
            t => generate_pkcs8(t, length)?,
        };
        self.store(new, &pkcs8)
    }

    /// `POST /keys`, `PUT /keys/{KeyID}`: imports a private key into the caller's namespace;
    /// answers its id.
    pub fn import(&self, new: &NewKey, key: &ImportedKey) -> Result<String> {
        self.require(Access::Administrator)?;
        self.check_new(new)?;
        let pkcs8 = match new.key_type {
            KeyType::Generic => crypt::import_secret(&key.data)?,
            t => import_pkcs8(t, key)?,
        };
        self.store(new, &pkcs8)
    }

    fn check_new(&self, new: &NewKey) -> Result<()> {
        if let Some(id) = &new.id {
            check_id(id)?;
        }
        if let Some(m) = new.mechanisms.iter().find(|m| !m.fits(new.key_type)) {
            return Err(Error::InvalidInput(format!(
                "Mechanism {} does not fit key type {}.",
                m.as_str(),
                new.key_type.as_str()
            )));
        }
        if new.tags.iter().any(|t| !is_valid_id(t)) {
            return Err(Error::InvalidInput("Invalid tag.".into()));
        }
        check_label(&new.label)
    }

    fn store(&self, new: &NewKey, pkcs8: &[u8]) -> Result<String> {
        let (core, u, who) = self.parts();
        let mut mechanisms = new.mechanisms.clone();
        mechanisms.sort_by_key(|m| m.as_str());
        mechanisms.dedup();
        let record = KeyRecord {
            key_type: new.key_type,
            mechanisms,
            tags: new.tags.clone(),
            label: new.label.clone(),
            private: Zeroizing::new(hex::encode(pkcs8)),
            cert: None,
        };
        let value = Zeroizing::new(serde_json::to_vec(&record).map_err(Error::internal)?);
        for _ in 0..ID_RETRIES {
            let id = match &new.id {
                Some(id) => id.clone(),
                None => {
                    let mut raw = [0u8; 10];
                    crypto::fill_random(&mut raw);
                    hex::encode(raw)
                }
            };
            let path = key_path(who, &id);
            let txn = Txn::new().require_absent(&path).put(&path, value.to_vec());
            match core.commit_data(u, txn)? {
                Commit::Committed(_) => {
                    tracing::info!(by = %who.user_id, key = %id, "key stored");
                    return Ok(id);
                }
                Commit::Conflict if new.id.is_some() => {
                    return Err(Error::Conflict("A key with this ID exists already.".into()));
                }
                Commit::Conflict => continue,
            }
        }
        Err(Error::Internal("could not find a free key id".into()))
    }

    /// `GET /keys/{KeyID}`.
    pub fn get(&self, id: &str) -> Result<KeyInfo> {
        let (core, u, who) = self.parts();
        self.require(Access::AdministratorOrOperator)?;
        let key = core.load_key(u, who, id)?;
        let public = match key.key_type {
            KeyType::Generic => PublicData::None,
            KeyType::Rsa => {
                let (modulus, public_exponent) =
                    key.pkey()?.rsa_public().map_err(internal("read"))?;
                PublicData::Rsa {
                    modulus,
                    public_exponent,
                }
            }
            t => {
                // The point (EC) or key (Ed25519) closes the SubjectPublicKeyInfo's BIT STRING.
                let len = match t.ec_sizes() {
                    Some((n, _)) => 2 * n + 1,
                    None => 32,
                };
                let spki = key.spki()?;
                let start = spki
                    .len()
                    .checked_sub(len)
                    .ok_or_else(|| Error::Internal("short public key".into()))?;
                PublicData::Data(spki[start..].to_vec())
            }
        };
        Ok(KeyInfo {
            key_type: key.key_type,
            mechanisms: key.mechanisms.clone(),
            tags: key.tags.clone(),
            label: key.label.clone(),
            public,
            operations: u.key_cache.operations(&key),
        })
    }

    /// `GET /keys/{KeyID}/public.pem`: the SubjectPublicKeyInfo DER.
    pub fn public_der(&self, id: &str) -> Result<Vec<u8>> {
        let (core, u, who) = self.parts();
        self.require(Access::AdministratorOrOperator)?;
        Ok(core.load_key(u, who, id)?.spki()?.to_vec())
    }

    /// `DELETE /keys/{KeyID}`.
    pub fn delete(&self, id: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::Administrator)?;
        check_id(id)?;
        let path = key_path(who, id);
        let entry = u.data.get(&path)?.ok_or_else(not_found)?;
        let txn = Txn::new()
            .require_revision(&path, entry.revision)
            .delete(&path);
        match core.commit_data(u, txn)? {
            Commit::Committed(_) => {
                u.key_cache.forget(&path);
                tracing::info!(by = %who.user_id, key = %id, "key deleted");
                Ok(())
            }
            Commit::Conflict => Err(not_found()),
        }
    }

    /// Changes key `id` of the caller's namespace with `change` in one compare-and-swap
    /// write, audited like every key change; a key changed meanwhile is read again. `change`
    /// answers whether it changed anything (nothing is written otherwise).
    fn update(
        &self,
        id: &str,
        what: &str,
        change: impl Fn(&mut KeyRecord) -> Result<bool>,
    ) -> Result<bool> {
        let (core, u, who) = self.parts();
        check_id(id)?;
        let path = key_path(who, id);
        for _ in 0..ID_RETRIES {
            let entry = u.data.get(&path)?.ok_or_else(not_found)?;
            let mut record: KeyRecord =
                serde_json::from_slice(&entry.value).map_err(Error::internal)?;
            if !change(&mut record)? {
                return Ok(false);
            }
            let value = Zeroizing::new(serde_json::to_vec(&record).map_err(Error::internal)?);
            let txn = Txn::new()
                .require_revision(&path, entry.revision)
                .put(&path, value.to_vec());
            if let Commit::Committed(_) = core.commit_data(u, txn)? {
                u.key_cache.changed(&path);
                tracing::info!(by = %who.user_id, key = %id, "key {what}");
                return Ok(true);
            }
        }
        Err(Error::Internal("the key kept changing".into()))
    }

    fn check_tag(tag: &str) -> Result<()> {
        if is_valid_id(tag) {
            Ok(())
        } else {
            Err(Error::InvalidInput("Invalid tag.".into()))
        }
    }

    /// `PUT /keys/{KeyID}/restrictions/tags/{Tag}`: `false` if the key had the tag already
    /// (304). From then on an Operator must carry one of the key's tags to use it.
    pub fn add_tag(&self, id: &str, tag: &str) -> Result<bool> {
        self.require(Access::Administrator)?;
        check_id(id)?;
        Self::check_tag(tag)?;
        self.update(id, "tag added", |record| {
            if record.tags.iter().any(|t| t == tag) {
                return Ok(false);
            }
            record.tags.push(tag.to_owned());
            Ok(true)
        })
    }

    /// `DELETE /keys/{KeyID}/restrictions/tags/{Tag}`: 404 if the key does not have the tag.
    pub fn remove_tag(&self, id: &str, tag: &str) -> Result<()> {
        self.require(Access::Administrator)?;
        check_id(id)?;
        Self::check_tag(tag)?;
        self.update(id, "tag removed", |record| {
            let before = record.tags.len();
            record.tags.retain(|t| t != tag);
            if record.tags.len() == before {
                return Err(Error::NotFound("Tag not found.".into()));
            }
            Ok(true)
        })?;
        Ok(())
    }

    /// `PUT /keys/{KeyID}/label`: `false` if the key has that label already (304).
    pub fn set_label(&self, id: &str, label: &str) -> Result<bool> {
        self.require(Access::Administrator)?;
        check_id(id)?;
        check_label(label)?;
        self.update(id, "label set", |record| {
            if record.label == label {
                return Ok(false);
            }
            record.label = label.to_owned();
            Ok(true)
        })
    }

    /// `DELETE /keys/{KeyID}/label`: back to the empty label; idempotent.
    pub fn delete_label(&self, id: &str) -> Result<()> {
        self.require(Access::Administrator)?;
        self.update(id, "label deleted", |record| {
            Ok(!std::mem::take(&mut record.label).is_empty())
        })?;
        Ok(())
    }

    /// `POST /keys/{KeyID}/move`: the key, as it is (private key, restrictions, label,
    /// certificate), under `new_id` in the same namespace, in one transaction: 404 if it is
    /// gone, 409 if `new_id` is taken (also by the key itself).
    pub fn move_key(&self, id: &str, new_id: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::Administrator)?;
        check_id(id)?;
        check_id(new_id)?;
        let exists = || Error::Conflict("A key with this ID exists already.".into());
        let (from, to) = (key_path(who, id), key_path(who, new_id));
        let entry = u.data.get(&from)?.ok_or_else(not_found)?;
        if from == to || u.data.get(&to)?.is_some() {
            return Err(exists());
        }
        let txn = Txn::new()
            .require_revision(&from, entry.revision)
            .require_absent(&to)
            .delete(&from)
            .put(&to, entry.value.to_vec());
        match core.commit_data(u, txn)? {
            Commit::Committed(_) => {
                u.key_cache.moved(&from, &to);
                tracing::info!(by = %who.user_id, key = %id, to = %new_id, "key moved");
                Ok(())
            }
            Commit::Conflict if u.data.get(&to)?.is_some() => Err(exists()),
            Commit::Conflict => Err(not_found()),
        }
    }

    /// `GET /keys/{KeyID}/cert`: the certificate's media type and bytes, exactly as stored.
    pub fn cert(&self, id: &str) -> Result<(String, Vec<u8>)> {
        let (core, u, who) = self.parts();
        self.require(Access::AdministratorOrOperator)?;
        let record = core.read_key(u, who, id)?;
        let cert = record.cert.ok_or_else(cert_not_found)?;
        let data = hex::decode(&cert.data)
            .map_err(|_| Error::Internal("a stored certificate is not readable".into()))?;
        Ok((cert.media_type, data))
    }

    /// `PUT /keys/{KeyID}/cert`: stores a certificate (see [`cert`] for what is accepted);
    /// 409 if the key has one.
    pub fn set_cert(&self, id: &str, media_type: &str, data: &[u8]) -> Result<()> {
        self.require(Access::Administrator)?;
        if !CERT_MEDIA_TYPES.contains(&media_type) {
            return Err(Error::InvalidInput(format!(
                "A certificate is stored as one of {}.",
                CERT_MEDIA_TYPES.join(", ")
            )));
        }
        let stored = StoredCert {
            media_type: media_type.to_owned(),
            data: hex::encode(data),
        };
        // Checked against the record this write replaces, so a key replaced meanwhile (deleted
        // and imported again under the same id) cannot get the old key's certificate.
        self.update(id, "certificate stored", |record| {
            if record.cert.is_some() {
                return Err(Error::Conflict(
                    "A certificate exists already for this key.".into(),
                ));
            }
            cert::check(data, &record.spki()?)?;
            record.cert = Some(stored.clone());
            Ok(true)
        })?;
        Ok(())
    }

    /// `DELETE /keys/{KeyID}/cert`: 404 if the key has none.
    pub fn delete_cert(&self, id: &str) -> Result<()> {
        self.require(Access::Administrator)?;
        self.update(id, "certificate deleted", |record| {
            record.cert.take().ok_or_else(cert_not_found)?;
            Ok(true)
        })?;
        Ok(())
    }

    /// Key `id` for an Operator to use with `mode` (sign, decrypt, encrypt): 403 unless the
    /// caller carries one of its tags (if it has any), 400 unless the key was created for
    /// `mode`'s mechanism (which also refuses every mode of another key type).
    fn usable(&self, id: &str, mode: Mechanism) -> Result<Arc<LoadedKey>> {
        let (core, u, who) = self.parts();
        self.require(Access::Operator)?;
        let key = core.load_key(u, who, id)?;
        // An untagged key is open to every Operator: the caller's record (a store read, an
        // unseal and a parse) is read only for a key with tags.
        if !key.tags.is_empty() && !meets(&key.tags, &core.user_tags(u, &who.user_id)?) {
            return Err(Error::Forbidden);
        }
        if !key.mechanisms.contains(&mode) {
            return Err(Error::InvalidInput(format!(
                "The key was not created for mechanism {}.",
                mode.as_str()
            )));
        }
        Ok(key)
    }

    /// Counts one operation done with `key` (`PublicKey.operations`, [`cache`]).
    fn count_operation(&self, key: &LoadedKey) {
        let (_, u, _) = self.parts();
        u.key_cache.count_operation(key);
    }

    /// `POST /keys/{KeyID}/sign`: signs `input` (see the module's notes for what each mode
    /// takes) with a key the key was created for.
    pub fn sign(&self, id: &str, mode: Mechanism, input: &[u8]) -> Result<Vec<u8>> {
        let key = self.usable(id, mode)?;
        self.sign_with(&key, mode, input)
    }

    /// [`Keys::sign`] if the signature is cheap: EdDSA, or ECDSA on P-256 (aws-lc, tens of
    /// microseconds), which a server may make on a request's own worker. `None` for every
    /// other key and mode (RSA, the other curves, BIP340: hundreds of microseconds to
    /// milliseconds), to be signed with [`Keys::sign`] on a blocking thread. The checks are
    /// the same; an error is final either way.
    pub fn sign_if_cheap(
        &self,
        id: &str,
        mode: Mechanism,
        input: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let key = self.usable(id, mode)?;
        let cheap = matches!(
            (mode, key.key_type),
            (Mechanism::EdDsa, KeyType::Curve25519) | (Mechanism::Ecdsa, KeyType::EcP256)
        );
        if !cheap {
            return Ok(None);
        }
        self.sign_with(&key, mode, input).map(Some)
    }

    fn sign_with(&self, record: &LoadedKey, mode: Mechanism, input: &[u8]) -> Result<Vec<u8>> {
        let fail = internal("sign");
        let signature = match mode {
            Mechanism::EdDsa => Ok(record.ed25519()?.sign(input).as_ref().to_vec()),
            Mechanism::Ecdsa => {
                let (_, digest_len) = record
                    .key_type
                    .ec_sizes()
                    .ok_or_else(|| Error::Internal("not EC".into()))?;
                if input.len() != digest_len {
                    return Err(Error::InvalidInput(format!(
                        "ECDSA with {} takes a digest of {digest_len} bytes.",
                        record.key_type.as_str()
                    )));
                }
                if curves::is_brainpool(record.key_type) {
                    curves::sign_ecdsa(record.key_type, record.private(), input)
                } else {
                    record
                        .pkey()?
                        .sign_digest(DigestSign::Ecdsa, input)
                        .map_err(fail)
                }
            }
            Mechanism::Bip340 => curves::sign_bip340(record.private(), input),
            Mechanism::RsaPkcs1 => {
                let pkey = record.pkey()?;
                let max = pkey.bits().div_ceil(8).saturating_sub(11);
                if input.is_empty() || input.len() > max {
                    return Err(Error::InvalidInput(format!(
                        "PKCS1 takes a DigestInfo-encoded digest of at most {max} bytes."
                    )));
                }
                pkey.sign_digest(DigestSign::Pkcs1, input).map_err(fail)
            }
            pss => {
                let md = pss
                    .pss_md()
                    .ok_or_else(|| Error::Internal("not PSS".into()))?;
                if input.len() != md.len() {
                    return Err(Error::InvalidInput(format!(
                        "{} takes a digest of {} bytes.",
                        pss.as_str(),
                        md.len()
                    )));
                }
                record
                    .pkey()?
                    .sign_digest(DigestSign::Pss(md), input)
                    .map_err(fail)
            }
        }?;
        self.count_operation(record);
        Ok(signature)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
