//! Importing a private key from PEM (`POST /keys` and `PUT /keys/{KeyID}` as
//! `multipart/form-data`, the spec's `PrivateKeyPem`): the key's type is the key's own.
//!
//! aws-lc reads the PEM (`PEM_read_bio_PrivateKey`: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE
//! KEY`, SEC1 `EC PRIVATE KEY`; encrypted keys are refused, never prompted for). The parts the
//! JSON import takes are then read out of it (RSA's primes and public exponent, an EC key's
//! scalar, an Ed25519 seed) and go through the JSON import's own path, so both imports check
//! and store a key alike. aws-lc does not know the Brainpool curves: their PEMs (PKCS#8 or
//! SEC1) are read here with the RustCrypto DER types instead ([`read_brainpool_pem`]). Every aws-lc object is owned by a guard that frees it; aws-lc
//! cleanses what it frees, and the parts read out are in wiped buffers.

use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::{ImportedKey, KeyType, Mechanism, NewKey, import_pkcs8};
use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Keys;

/// What a PEM import says besides the key (the spec's `arguments` part).
#[derive(Debug, Clone)]
pub struct NewPemKey {
    /// `None`: generate an id.
    pub id: Option<String>,
    pub mechanisms: Vec<Mechanism>,
    pub tags: Vec<String>,
    /// The key's label (empty: none).
    pub label: String,
}

struct Bio(*mut sys::BIO);

impl Drop for Bio {
    fn drop(&mut self) {
        // SAFETY: owned by this guard alone.
        unsafe { sys::BIO_free(self.0) };
    }
}

struct PemKey(*mut sys::EVP_PKEY);

impl Drop for PemKey {
    fn drop(&mut self) {
        // SAFETY: owned by this guard alone; aws-lc cleanses the key as it frees it.
        unsafe { sys::EVP_PKEY_free(self.0) }
    }
}

/// The passphrase callback: there is none to give, so an encrypted key fails to read (aws-lc's
/// default callback would prompt on the server's terminal).
unsafe extern "C" fn no_passphrase(
    _buf: *mut c_char,
    _size: c_int,
    _rwflag: c_int,
    _userdata: *mut c_void,
) -> c_int {
    0
}

fn not_a_key() -> Error {
    Error::InvalidInput(
        "The key_file is not an unencrypted PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)."
            .into(),
    )
}

fn unsupported() -> Error {
    Error::InvalidInput("The key_file holds a key of a type this build does not import.".into())
}

/// `bn`, big-endian, `len` bytes (0: its own length), in a wiped buffer.
fn bn_bytes(bn: *const sys::BIGNUM, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if bn.is_null() {
        return Err(not_a_key());
    }
    // SAFETY: `bn` belongs to a live key; the buffer is `len` bytes long.
    unsafe {
        let len = if len == 0 {
            sys::BN_num_bytes(bn) as usize
        } else {
            len
        };
        let mut out = Zeroizing::new(vec![0u8; len]);
        if sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) != 1 {
            return Err(not_a_key());
        }
        Ok(out)
    }
}

/// Reads the PEM private key in `pem`: its type and the parts the JSON import takes.
pub(super) fn read_pem(pem: &[u8]) -> Result<(KeyType, ImportedKey)> {
    let len = isize::try_from(pem.len()).map_err(|_| not_a_key())?;
    // SAFETY: the BIO borrows `pem` (read only) for its life, which ends in this function;
    // every pointer read below belongs to the key, which outlives its use.
    unsafe {
        let bio = sys::BIO_new_mem_buf(pem.as_ptr().cast(), len);
        if bio.is_null() {
            return Err(Error::Internal("aws-lc could not allocate".into()));
        }
        let bio = Bio(bio);
        let key = sys::PEM_read_bio_PrivateKey(
            bio.0,
            ptr::null_mut(),
            Some(no_passphrase),
            ptr::null_mut(),
        );
        if key.is_null() {
            // What failed is not the client's business beyond "not a key"; drop the reasons.
            sys::ERR_clear_error();
            return read_brainpool_pem(pem).ok_or_else(not_a_key);
        }
        let key = PemKey(key);
        let mut parts = ImportedKey::default();
        let key_type = match sys::EVP_PKEY_id(key.0) {
            sys::EVP_PKEY_RSA => {
                let rsa = sys::EVP_PKEY_get0_RSA(key.0);
                if rsa.is_null() {
                    return Err(not_a_key());
                }
                parts.prime_p = bn_bytes(sys::RSA_get0_p(rsa), 0)?;
                parts.prime_q = bn_bytes(sys::RSA_get0_q(rsa), 0)?;
                parts.public_exponent = bn_bytes(sys::RSA_get0_e(rsa), 0)?.to_vec();
                KeyType::Rsa
            }
            sys::EVP_PKEY_ED25519 => {
                let mut seed = Zeroizing::new(vec![0u8; 32]);
                let mut len = seed.len();
                if sys::EVP_PKEY_get_raw_private_key(key.0, seed.as_mut_ptr(), &mut len) != 1
                    || len != 32
                {
                    return Err(not_a_key());
                }
                parts.data = seed;
                KeyType::Curve25519
            }
            sys::EVP_PKEY_EC => {
                let ec = sys::EVP_PKEY_get0_EC_KEY(key.0);
                if ec.is_null() {
                    return Err(not_a_key());
                }
                let name = match sys::EC_GROUP_get_curve_name(sys::EC_KEY_get0_group(ec)) {
                    sys::NID_X9_62_prime256v1 => "EC_P256",
                    sys::NID_secp384r1 => "EC_P384",
                    sys::NID_secp521r1 => "EC_P521",
                    sys::NID_secp256k1 => "EC_P256K1",
                    _ => return read_brainpool_pem(pem).ok_or_else(unsupported),
                };
                let t = KeyType::parse(name)?;
                let (scalar_len, _) = t.ec_sizes().ok_or_else(unsupported)?;
                parts.data = bn_bytes(sys::EC_KEY_get0_private_key(ec), scalar_len)?;
                t
            }
            _ => return Err(unsupported()),
        };
        Ok((key_type, parts))
    }
}

impl Keys<'_> {
    /// `POST /keys`, `PUT /keys/{KeyID}` with a PEM private key: imports it into the caller's
    /// namespace with the type the key has; answers its id. The same checks as the JSON import
    /// (mechanisms that fit the type, RSA's length, a taken id).
    pub fn import_pem(&self, new: &NewPemKey, pem: &[u8]) -> Result<String> {
        self.require(Access::Administrator)?;
        if let Some(id) = &new.id {
            super::check_id(id)?;
        }
        let (key_type, parts) = read_pem(pem)?;
        let new = NewKey {
            id: new.id.clone(),
            key_type,
            mechanisms: new.mechanisms.clone(),
            tags: new.tags.clone(),
            label: new.label.clone(),
        };
        self.check_new(&new)?;
        let pkcs8 = import_pkcs8(key_type, &parts)?;
        self.store(&new, &pkcs8)
    }
}

/// The base64 body of the PEM block labelled `label` in `pem`, decoded into a wiped buffer.
fn pem_block(pem: &[u8], label: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = &text[text.find(&begin)? + begin.len()..];
    let body = &body[..body.find(&end)?];
    let b64 = Zeroizing::new(body.split_whitespace().collect::<String>());
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

/// The key type of a Brainpool curve OID (RFC 5639's brainpoolP256r1, P384r1, P512r1).
fn brainpool_type(curve: &elliptic_curve::pkcs8::ObjectIdentifier) -> Option<KeyType> {
    match curve.to_string().as_str() {
        "1.3.36.3.3.2.8.1.1.7" => Some(KeyType::BrainpoolP256),
        "1.3.36.3.3.2.8.1.1.11" => Some(KeyType::BrainpoolP384),
        "1.3.36.3.3.2.8.1.1.13" => Some(KeyType::BrainpoolP512),
        _ => None,
    }
}

/// Reads a Brainpool private key from a PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY` PEM:
/// its type and scalar (checked by the import like a JSON import's `data`). `None` for
/// anything else.
fn read_brainpool_pem(pem: &[u8]) -> Option<(KeyType, ImportedKey)> {
    use elliptic_curve::pkcs8::PrivateKeyInfoRef;
    use sec1::EcPrivateKey;
    const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    let (key_type, scalar) = if let Some(der) = pem_block(pem, "PRIVATE KEY") {
        let info = PrivateKeyInfoRef::try_from(der.as_slice()).ok()?;
        if info.algorithm.oid.to_string() != EC_PUBLIC_KEY {
            return None;
        }
        let t = brainpool_type(&info.algorithm.parameters_oid().ok()?)?;
        let ec = EcPrivateKey::try_from(info.private_key.as_bytes()).ok()?;
        (t, Zeroizing::new(ec.private_key.to_vec()))
    } else {
        let der = pem_block(pem, "EC PRIVATE KEY")?;
        let ec = EcPrivateKey::try_from(der.as_slice()).ok()?;
        let t = brainpool_type(&ec.parameters?.named_curve()?)?;
        (t, Zeroizing::new(ec.private_key.to_vec()))
    };
    Some((
        key_type,
        ImportedKey {
            data: scalar,
            ..ImportedKey::default()
        },
    ))
}
