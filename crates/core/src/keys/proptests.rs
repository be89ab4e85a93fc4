//! Property tests of the key import parsers: the PEM import (and the PKCS#8, PKCS#1 or SEC1
//! DER inside it) and the JSON import's parts (RSA primes, EC scalars, Ed25519 seeds, AES
//! secrets). Whatever the input, they answer a key or a clear `InvalidInput`, never a panic
//! or an internal error; a key read back from the PKCS#8 it was stored as is the same key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::pem::read_pem;
use super::{ImportedKey, KeyType, crypt, import_pkcs8};
use crate::error::Error;

/// Every type the JSON import builds PKCS#8 for (Generic, an AES secret, has its own path).
const ASYMMETRIC: [KeyType; 9] = [
    KeyType::Rsa,
    KeyType::Curve25519,
    KeyType::EcP256,
    KeyType::EcP384,
    KeyType::EcP521,
    KeyType::EcP256K1,
    KeyType::BrainpoolP256,
    KeyType::BrainpoolP384,
    KeyType::BrainpoolP512,
];

/// `der` as a PEM block with `label`, as a client's file would hold it.
fn pem_of(label: &str, der: &[u8]) -> Vec<u8> {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem.into_bytes()
}

/// A refusal a client can read: `InvalidInput` with a message, never `Internal`.
fn assert_clear<T>(result: &Result<T, Error>, what: &str) {
    if let Err(e) = result {
        match e {
            Error::InvalidInput(message) => assert!(!message.is_empty(), "{what}: empty message"),
            other => panic!("{what}: not a clear refusal: {other:?}"),
        }
    }
}

/// The PKCS#8 of a valid key of type `t` made from `seed` (the JSON import's own path), or
/// `None` when `seed` is not a valid private value for it (a scalar of zero or past the order).
fn pkcs8_of(t: KeyType, seed: &[u8; 66]) -> Option<Vec<u8>> {
    let (len, _) = t.ec_sizes().unwrap_or((32, 0));
    let key = ImportedKey {
        data: seed[..len].to_vec().into(),
        ..ImportedKey::default()
    };
    import_pkcs8(t, &key).ok().map(|der| der.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_refused_clearly(bytes in vec(any::<u8>(), 0..2048)) {
        assert_clear(&read_pem(&bytes), "arbitrary bytes");
    }

    #[test]
    fn arbitrary_der_in_a_pem_block_is_refused_clearly(
        label in select(vec!["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
                             "ENCRYPTED PRIVATE KEY", "PUBLIC KEY", "CERTIFICATE"]),
        der in vec(any::<u8>(), 0..600),
    ) {
        assert_clear(&read_pem(&pem_of(label, &der)), "arbitrary DER");
    }

    /// A real key's PKCS#8 with some bytes changed, or cut short: read or refused, clearly.
    #[test]
    fn mutated_pkcs8_is_read_or_refused_clearly(
        t in select(ASYMMETRIC[1..].to_vec()),
        seed in prop::array::uniform32(any::<u8>()),
        changes in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<Option<prop::sample::Index>>(),
    ) {
        let mut full = [7u8; 66];
        full[..32].copy_from_slice(&seed);
        full[1] = 1; // keep every scalar below its curve's order
        full[0] = 0;
        let Some(mut der) = pkcs8_of(t, &full) else {
            return Err(TestCaseError::fail(format!("no {t:?} key from a small scalar")));
        };
        for (at, byte) in changes {
            let i = at.index(der.len());
            der[i] = byte;
        }
        if let Some(cut) = cut {
            der.truncate(cut.index(der.len()));
        }
        assert_clear(&read_pem(&pem_of("PRIVATE KEY", &der)), "mutated PKCS#8");
    }

    /// The PEM of a key the import made reads back as the same type and private value.
    #[test]
    fn pkcs8_round_trips_through_pem(
        t in select(ASYMMETRIC[1..].to_vec()),
        seed in prop::array::uniform32(any::<u8>()),
    ) {
        let mut full = [5u8; 66];
        full[..32].copy_from_slice(&seed);
        full[0] = 0;
        full[1] = 1;
        let der = pkcs8_of(t, &full).expect("a valid key");
        let (read_type, key) = read_pem(&pem_of("PRIVATE KEY", &der)).expect("the PEM reads");
        prop_assert_eq!(read_type, t);
        let (len, _) = t.ec_sizes().unwrap_or((32, 0));
        prop_assert_eq!(&key.data[..], &full[..len]);
        // And it imports again to the same PKCS#8.
        prop_assert_eq!(import_pkcs8(t, &key).expect("imports again").to_vec(), der);
    }

    /// The JSON import's parts, any length and content: a key or a clear refusal.
    #[test]
    fn json_import_parts_are_checked_clearly(
        t in select(ASYMMETRIC.to_vec()),
        p in vec(any::<u8>(), 0..80),
        q in vec(any::<u8>(), 0..80),
        e in vec(any::<u8>(), 0..9),
        data in vec(any::<u8>(), 0..80),
    ) {
        let key = ImportedKey {
            prime_p: p.into(),
            prime_q: q.into(),
            public_exponent: e,
            data: data.into(),
        };
        assert_clear(&import_pkcs8(t, &key), "JSON import parts");
    }

    #[test]
    fn aes_secrets_are_checked_clearly(data in vec(any::<u8>(), 0..64)) {
        let result = crypt::import_secret(&data);
        assert_clear(&result, "an AES secret");
        prop_assert_eq!(result.is_ok(), [16, 24, 32].contains(&data.len()));
    }
}
