//! The key import parsers: the PEM import (and the DER inside it), and the JSON import's
//! parts (RSA primes and exponent, EC scalars, Ed25519 seeds, AES secrets). The first byte
//! chooses; for the parts, the next four give the lengths of p, q, e and data. A key or an
//! `InvalidInput`, never a panic or an internal error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_core::error::Error;
use strongroom_core::keys::fuzzing::{import_parts, read_pem};
use strongroom_core::keys::{ImportedKey, KeyType};

const TYPES: [KeyType; 10] = [
    KeyType::Rsa,
    KeyType::Curve25519,
    KeyType::EcP256,
    KeyType::EcP384,
    KeyType::EcP521,
    KeyType::EcP256K1,
    KeyType::BrainpoolP256,
    KeyType::BrainpoolP384,
    KeyType::BrainpoolP512,
    KeyType::Generic,
];

fn clear<T>(result: Result<T, Error>) {
    if let Err(e) = result {
        assert!(
            matches!(e, Error::InvalidInput(_)),
            "not a clear refusal: {e:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    if choice & 1 == 0 {
        clear(read_pem(rest));
        return;
    }
    let t = TYPES[usize::from(choice >> 1) % TYPES.len()];
    let Some((lengths, mut rest)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let mut take = |n: u8| {
        let (part, after) = rest.split_at(usize::from(n).min(rest.len()));
        rest = after;
        part.to_vec()
    };
    let key = ImportedKey {
        prime_p: take(lengths[0]).into(),
        prime_q: take(lengths[1]).into(),
        public_exponent: take(lengths[2]),
        data: take(lengths[3]).into(),
    };
    clear(import_parts(t, &key));
});
