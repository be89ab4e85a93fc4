//! Unit tests of the curves aws-lc lacks and of BIP340. The API tests verify every signature
//! with pyca/cryptography and an independent BIP340 implementation; these check the building
//! blocks against published vectors and each other.

use ecdsa::signature::hazmat::PrehashVerifier;
use elliptic_curve::pkcs8::DecodePublicKey;

use super::super::{ImportedKey, KeyType, Mechanism, NewKey, import_pkcs8};
use super::*;

fn imported(t: KeyType, scalar: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = ImportedKey {
        data: Zeroizing::new(scalar.to_vec()),
        ..ImportedKey::default()
    };
    import_pkcs8(t, &key)
}

/// BIP340's test vectors 0 and 1 (secret key, aux_rand, message, signature), signed with a
/// secp256k1 key imported through aws-lc (the way an EC_P256K1 key is stored).
#[test]
fn bip340_vectors() {
    let vectors = [
        (
            "0000000000000000000000000000000000000000000000000000000000000003",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0",
        ),
        (
            "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef",
            "0000000000000000000000000000000000000000000000000000000000000001",
            "243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89",
            "6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de33418906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a",
        ),
    ];
    for (secret, aux, message, signature) in vectors {
        let pkcs8 = imported(KeyType::EcP256K1, &hex::decode(secret).unwrap()).unwrap();
        let aux: [u8; 32] = hex::decode(aux).unwrap().try_into().unwrap();
        let sig = sign_bip340_with(&pkcs8, &hex::decode(message).unwrap(), &aux).unwrap();
        assert_eq!(hex::encode(sig), signature);
    }
}

/// Random aux data: two signatures of one message differ, and both verify (k256's verifier),
/// for messages of any length (BIP340 allows them).
#[test]
fn bip340_random_aux_any_length() {
    let pkcs8 = imported(KeyType::EcP256K1, &[7u8; 32]).unwrap();
    let key = k256::SecretKey::from_pkcs8_der(&pkcs8).unwrap();
    let verifier = *k256::schnorr::SigningKey::from(key).verifying_key();
    for message in [&b""[..], b"x", &[0xabu8; 32], &[1u8; 100]] {
        let a = sign_bip340(&pkcs8, message).unwrap();
        let b = sign_bip340(&pkcs8, message).unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        for sig in [a, b] {
            let sig = k256::schnorr::Signature::try_from(&sig[..]).unwrap();
            verifier.verify_prehash(message, &sig).unwrap();
        }
    }
}

#[test]
fn brainpool_import_sign_verify() {
    for t in [
        KeyType::BrainpoolP256,
        KeyType::BrainpoolP384,
        KeyType::BrainpoolP512,
    ] {
        let (len, digest_len) = t.ec_sizes().unwrap();
        let pkcs8 = imported(t, &[3u8; 20]).unwrap();
        let spki = spki(t, &pkcs8).unwrap();
        let digest = vec![0x5au8; digest_len];
        let der = sign_ecdsa(t, &pkcs8, &digest).unwrap();
        // The point is uncompressed and closes the SPKI.
        assert_eq!(spki[spki.len() - (2 * len + 1)], 0x04);
        macro_rules! verify {
            ($c:ty) => {{
                let vk = ecdsa::VerifyingKey::<$c>::from_public_key_der(&spki).unwrap();
                let sig = ecdsa::der::Signature::<$c>::try_from(&der[..]).unwrap();
                vk.verify_prehash(&digest, &sig).unwrap();
                let mut other = digest.clone();
                other[0] ^= 1;
                assert!(vk.verify_prehash(&other, &sig).is_err());
            }};
        }
        match t {
            KeyType::BrainpoolP256 => verify!(bp256::BrainpoolP256r1),
            KeyType::BrainpoolP384 => verify!(bp384::BrainpoolP384r1),
            _ => verify!(bp512::BrainpoolP512r1),
        }
        // Generated keys differ and are readable.
        let a = generate(t).unwrap();
        let b = generate(t).unwrap();
        assert_ne!(spki_of_type(t, &a), spki_of_type(t, &b));
    }
}

fn spki_of_type(t: KeyType, pkcs8: &[u8]) -> Vec<u8> {
    spki(t, pkcs8).unwrap()
}

/// The SPKI carries id-ecPublicKey and the curve's RFC 5639 OID.
#[test]
fn brainpool_oids() {
    for (t, oid) in [
        (KeyType::BrainpoolP256, "06092b2403030208010107"),
        (KeyType::BrainpoolP384, "06092b240303020801010b"),
        (KeyType::BrainpoolP512, "06092b240303020801010d"),
    ] {
        let spki = hex::encode(spki(t, &generate(t).unwrap()).unwrap());
        assert!(spki.contains(&format!("06072a8648ce3d0201{oid}")), "{spki}");
    }
}

/// A scalar of zero, the order itself, or longer than the curve is refused.
#[test]
fn bad_scalars() {
    let orders = [
        (
            KeyType::BrainpoolP256,
            "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7",
        ),
        (
            KeyType::BrainpoolP384,
            "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565",
        ),
        (
            KeyType::BrainpoolP512,
            "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069",
        ),
        (
            KeyType::EcP256K1,
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        ),
    ];
    for (t, order) in orders {
        let order = hex::decode(order).unwrap();
        let len = order.len();
        assert!(matches!(imported(t, &order), Err(Error::InvalidInput(_))));
        assert!(matches!(
            imported(t, &vec![0; len]),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            imported(t, &vec![1; len + 1]),
            Err(Error::InvalidInput(_))
        ));
        let mut below = order.clone();
        below[len - 1] -= 1;
        assert!(imported(t, &below).is_ok(), "{t:?}");
    }
}

/// Through the `keys` area of a real core: Brainpool and secp256k1 keys are the same keys
/// after a backup and a restore (same public key; Brainpool ECDSA, deterministic by RFC 6979,
/// signs the same), and BIP340 still signs with the restored key.
#[test]
fn new_types_survive_backup_and_restore() {
    use crate::Core;
    use crate::secret::Passphrase;
    use crate::tests::{
        UNLOCK, admin, backup_bytes, create_operator, open_provisioned, operator, restored,
    };

    let new_key = |id: &str, t: KeyType, m: &[Mechanism]| NewKey {
        id: Some(id.to_owned()),
        key_type: t,
        mechanisms: m.to_vec(),
        tags: vec![],
        label: String::new(),
    };
    let (_a_dir, a) = open_provisioned();
    create_operator(&a, "op", &Passphrase::new("operator passphrase 1"));
    let bp = new_key("bp", KeyType::BrainpoolP512, &[Mechanism::Ecdsa]);
    let k1 = new_key(
        "k1",
        KeyType::EcP256K1,
        &[Mechanism::Ecdsa, Mechanism::Bip340],
    );
    a.operational(&admin())
        .and_then(|h| h.keys().generate(&bp, None))
        .unwrap();
    a.operational(&admin())
        .and_then(|h| h.keys().generate(&k1, None))
        .unwrap();
    let state = |core: &Core| {
        let op = operator("op");
        let h = core.operational(&op).unwrap();
        let keys = h.keys();
        let sig = keys.sign("bp", Mechanism::Ecdsa, &[9u8; 64]).unwrap();
        let bip = keys.sign("k1", Mechanism::Bip340, b"message").unwrap();
        assert_eq!(bip.len(), 64);
        (
            keys.get("bp").unwrap().public,
            keys.get("k1").unwrap().public,
            keys.public_der("bp").unwrap(),
            sig,
        )
    };
    let before = state(&a);
    let bytes = backup_bytes(&a);
    let (_b_dir, b) = restored(&bytes);
    b.unlock(&Passphrase::new(UNLOCK)).unwrap();
    assert_eq!(state(&b), before);
}

/// The SHA-2 message signing a CSR needs: ECDSA over the curve's hash of the message.
#[test]
fn brainpool_signs_messages_with_the_curves_sha2() {
    use ecdsa::signature::Verifier;
    let t = KeyType::BrainpoolP384;
    let pkcs8 = imported(t, &[5u8; 48]).unwrap();
    let spki = spki(t, &pkcs8).unwrap();
    let der = sign_message_sha2(t, &pkcs8, b"to be signed").unwrap();
    let vk = ecdsa::VerifyingKey::<bp384::BrainpoolP384r1>::from_public_key_der(&spki).unwrap();
    let sig = ecdsa::der::Signature::<bp384::BrainpoolP384r1>::try_from(&der[..]).unwrap();
    vk.verify(b"to be signed", &sig).unwrap();
    assert!(vk.verify(b"to be signed!", &sig).is_err());
}
