//! The key types and the mechanism aws-lc does not have: the Brainpool curves (RFC 5639,
//! brainpoolP256r1, P384r1, P512r1) for ECDSA, and BIP340 Schnorr signatures over secp256k1.
//! secp256k1 itself is in aws-lc, so `EC_P256K1` keys are generated, imported and used for
//! ECDSA there like the NIST curves; only BIP340 comes here.
//!
//! RustCrypto does these: `bp256` and `bp384` for brainpoolP256r1 and P384r1; [`bp512`] for
//! brainpoolP512r1, which has no crate and is defined here from the same building blocks;
//! `ecdsa` for the signatures (of a caller-supplied digest, `PrehashSigner`, with RFC 6979
//! nonces); `k256` for BIP340. Keys are kept as PKCS#8 DER like every other key (RFC 5915
//! `ECPrivateKey` with the curve's OID), so the record format is the same for every type.
//! Errors never carry key material.

mod bp512;

use ecdsa::signature::hazmat::PrehashSigner;
use elliptic_curve::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use elliptic_curve::{CurveArithmetic, PublicKey, SecretKey};
use zeroize::Zeroizing;

use super::KeyType;
use crate::crypto;
use crate::error::{Error, Result};

/// How many random scalars generation tries before giving up (each is refused only if it is
/// zero or not below the order: for brainpoolP512r1 about one in three).
const GENERATE_TRIES: usize = 64;

fn unreadable() -> Error {
    Error::Internal("a stored key is not readable".into())
}

/// The PKCS#8 DER of the key whose scalar is `scalar` (big-endian, the curve's length): 400 if
/// the scalar is zero or not below the curve's order.
fn pkcs8_of<C>(t: KeyType, scalar: &[u8]) -> Result<Zeroizing<Vec<u8>>>
where
    C: CurveArithmetic,
    SecretKey<C>: EncodePrivateKey,
{
    let key = SecretKey::<C>::from_slice(scalar).map_err(|_| super::bad_key(t.as_str()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|_| Error::Internal("could not encode a key".into()))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

fn spki_of<C>(pkcs8: &[u8]) -> Result<Vec<u8>>
where
    C: CurveArithmetic,
    SecretKey<C>: DecodePrivateKey,
    PublicKey<C>: EncodePublicKey,
{
    let key = SecretKey::<C>::from_pkcs8_der(pkcs8).map_err(|_| unreadable())?;
    let der = key
        .public_key()
        .to_public_key_der()
        .map_err(|_| Error::Internal("could not encode a public key".into()))?;
    Ok(der.as_bytes().to_vec())
}

/// ECDSA (DER) of a digest with a PKCS#8 key of curve `$c`; a macro, as the DER signature
/// type's size bounds do not spell out generically.
macro_rules! ecdsa_of {
    ($c:ty, $pkcs8:expr, $digest:expr) => {{
        let key = SecretKey::<$c>::from_pkcs8_der($pkcs8).map_err(|_| unreadable())?;
        let signer = ecdsa::SigningKey::<$c>::from(key);
        let sig: ecdsa::der::Signature<$c> = signer
            .sign_prehash($digest)
            .map_err(|_| Error::Internal("could not sign".into()))?;
        Ok(sig.as_bytes().to_vec())
    }};
}

/// Whether `t` is one of the types kept here rather than in aws-lc.
pub(super) fn is_brainpool(t: KeyType) -> bool {
    matches!(
        t,
        KeyType::BrainpoolP256 | KeyType::BrainpoolP384 | KeyType::BrainpoolP512
    )
}

/// The PKCS#8 DER of a Brainpool key from its scalar (big-endian, padded to the curve's
/// length).
pub(super) fn import(t: KeyType, scalar: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    match t {
        KeyType::BrainpoolP256 => pkcs8_of::<bp256::BrainpoolP256r1>(t, scalar),
        KeyType::BrainpoolP384 => pkcs8_of::<bp384::BrainpoolP384r1>(t, scalar),
        KeyType::BrainpoolP512 => pkcs8_of::<bp512::BrainpoolP512r1>(t, scalar),
        _ => Err(Error::Internal("not a Brainpool key type".into())),
    }
}

/// A new Brainpool key: a uniformly random scalar in [1, order), by rejection.
pub(super) fn generate(t: KeyType) -> Result<Zeroizing<Vec<u8>>> {
    let (len, _) = t
        .ec_sizes()
        .ok_or_else(|| Error::Internal("not EC".into()))?;
    let mut scalar = Zeroizing::new(vec![0u8; len]);
    for _ in 0..GENERATE_TRIES {
        crypto::fill_random(&mut scalar);
        if let Ok(der) = import(t, &scalar) {
            return Ok(der);
        }
    }
    Err(Error::Internal("key generation failed".into()))
}

/// The SubjectPublicKeyInfo DER of a stored Brainpool key (the point uncompressed).
pub(super) fn spki(t: KeyType, pkcs8: &[u8]) -> Result<Vec<u8>> {
    match t {
        KeyType::BrainpoolP256 => spki_of::<bp256::BrainpoolP256r1>(pkcs8),
        KeyType::BrainpoolP384 => spki_of::<bp384::BrainpoolP384r1>(pkcs8),
        KeyType::BrainpoolP512 => spki_of::<bp512::BrainpoolP512r1>(pkcs8),
        _ => Err(Error::Internal("not a Brainpool key type".into())),
    }
}

/// ECDSA of `digest` (the caller checked its length) with a stored Brainpool key: DER.
pub(super) fn sign_ecdsa(t: KeyType, pkcs8: &[u8], digest: &[u8]) -> Result<Vec<u8>> {
    match t {
        KeyType::BrainpoolP256 => ecdsa_of!(bp256::BrainpoolP256r1, pkcs8, digest),
        KeyType::BrainpoolP384 => ecdsa_of!(bp384::BrainpoolP384r1, pkcs8, digest),
        KeyType::BrainpoolP512 => ecdsa_of!(bp512::BrainpoolP512r1, pkcs8, digest),
        _ => Err(Error::Internal("not a Brainpool key type".into())),
    }
}

/// ECDSA (DER) of `message` hashed with the curve's SHA-2 (SHA-256, -384, -512 for
/// brainpoolP256r1, P384r1, P512r1): what a certificate signing request of a Brainpool key
/// is signed with (`ecdsa-with-SHA256/384/512`).
pub(super) fn sign_message_sha2(t: KeyType, pkcs8: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    use sha2::Digest;
    let digest = match t {
        KeyType::BrainpoolP256 => sha2::Sha256::digest(message).to_vec(),
        KeyType::BrainpoolP384 => sha2::Sha384::digest(message).to_vec(),
        KeyType::BrainpoolP512 => sha2::Sha512::digest(message).to_vec(),
        _ => return Err(Error::Internal("not a Brainpool key type".into())),
    };
    sign_ecdsa(t, pkcs8, &digest)
}

/// The BIP340 signature (`R.x‖s`, 64 bytes) of `message`, of any length (BIP340 hashes it
/// with its tagged SHA-256; k256's `Signer` would SHA-256 it first, which BIP340 does not, so
/// this calls the signing primitive with fresh auxiliary randomness, as BIP340 recommends).
pub(super) fn sign_bip340(pkcs8: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let mut aux = Zeroizing::new([0u8; 32]);
    crypto::fill_random(aux.as_mut());
    sign_bip340_with(pkcs8, message, &aux)
}

/// BIP340 signing with the given auxiliary randomness (the test vectors fix it).
fn sign_bip340_with(pkcs8: &[u8], message: &[u8], aux: &[u8; 32]) -> Result<Vec<u8>> {
    let key = k256::SecretKey::from_pkcs8_der(pkcs8).map_err(|_| unreadable())?;
    let signer = k256::schnorr::SigningKey::from(key);
    let sig = signer
        .sign_raw(message, aux)
        .map_err(|_| Error::Internal("could not sign".into()))?;
    Ok(sig.to_bytes().to_vec())
}

#[cfg(test)]
mod tests;
