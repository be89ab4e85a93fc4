//! The key store on a real core: rules, namespaces, and a key that survives backup/restore.
//! Signatures here are checked with aws-lc-rs's verifiers (message-level, so a digest signed
//! here is the hash of the message verified); the API tests verify with pyca/cryptography.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};

use super::*;
use crate::identity::Role;
use crate::secret::Passphrase;
use crate::tests::{
    UNLOCK, admin, backup_bytes, create_operator, open_provisioned, operator, restored,
};

fn new_key(id: Option<&str>, t: KeyType, m: &[Mechanism]) -> NewKey {
    NewKey {
        id: id.map(str::to_owned),
        key_type: t,
        mechanisms: m.to_vec(),
        tags: vec![],
        label: String::new(),
    }
}

fn generate(core: &Core, new: &NewKey, length: Option<u32>) -> Result<String> {
    core.operational(&admin())
        .and_then(|h| h.keys().generate(new, length))
}

fn sign(core: &Core, who: &Principal, id: &str, m: Mechanism, input: &[u8]) -> Result<Vec<u8>> {
    core.operational(who)
        .and_then(|h| h.keys().sign(id, m, input))
}

#[test]
fn every_type_signs_what_its_verifier_accepts() {
    let (_dir, core) = open_provisioned();
    create_operator(&core, "op", &Passphrase::new("operator passphrase 1"));
    let op = operator("op");
    let msg = b"the message";

    let ed = generate(
        &core,
        &new_key(Some("ed"), KeyType::Curve25519, &[Mechanism::EdDsa]),
        None,
    )
    .unwrap();
    let spki = core
        .operational(&admin())
        .and_then(|h| h.keys().get(&ed))
        .unwrap();
    let PublicData::Data(public) = spki.public else {
        panic!("Ed25519 has data")
    };
    let sig = sign(&core, &op, &ed, Mechanism::EdDsa, msg).unwrap();
    UnparsedPublicKey::new(&signature::ED25519, &public)
        .verify(msg, &sig)
        .unwrap();

    for (t, verify, md) in [
        (
            KeyType::EcP256,
            &signature::ECDSA_P256_SHA256_ASN1,
            &digest::SHA256,
        ),
        (
            KeyType::EcP384,
            &signature::ECDSA_P384_SHA384_ASN1,
            &digest::SHA384,
        ),
        (
            KeyType::EcP521,
            &signature::ECDSA_P521_SHA512_ASN1,
            &digest::SHA512,
        ),
    ] {
        let id = generate(&core, &new_key(None, t, &[Mechanism::Ecdsa]), None).unwrap();
        let info = core
            .operational(&op)
            .and_then(|h| h.keys().get(&id))
            .unwrap();
        let PublicData::Data(point) = info.public else {
            panic!("EC has data")
        };
        let hash = digest::digest(md, msg);
        let sig = sign(&core, &op, &id, Mechanism::Ecdsa, hash.as_ref()).unwrap();
        UnparsedPublicKey::new(verify, &point)
            .verify(msg, &sig)
            .unwrap();
        // A digest of the wrong length is refused.
        assert!(matches!(
            sign(&core, &op, &id, Mechanism::Ecdsa, &hash.as_ref()[1..]),
            Err(Error::InvalidInput(_))
        ));
    }

    let rsa = generate(
        &core,
        &new_key(
            None,
            KeyType::Rsa,
            &[Mechanism::RsaPkcs1, Mechanism::RsaPssSha256],
        ),
        Some(2048),
    )
    .unwrap();
    let der = core
        .operational(&op)
        .and_then(|h| h.keys().public_der(&rsa))
        .unwrap();
    let hash = digest::digest(&digest::SHA256, msg);
    // DigestInfo for SHA-256 (RFC 8017 9.2 note 1).
    let mut info = hex::decode("3031300d060960864801650304020105000420").unwrap();
    info.extend_from_slice(hash.as_ref());
    let sig = sign(&core, &op, &rsa, Mechanism::RsaPkcs1, &info).unwrap();
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der[24..])
        .verify(msg, &sig)
        .unwrap();
    let sig = sign(&core, &op, &rsa, Mechanism::RsaPssSha256, hash.as_ref()).unwrap();
    UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, &der[24..])
        .verify(msg, &sig)
        .unwrap();
    // Not created for this mechanism; not an Operator.
    assert!(matches!(
        sign(&core, &op, &rsa, Mechanism::RsaPssSha512, &[0; 64]),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        sign(&core, &admin(), &rsa, Mechanism::RsaPkcs1, &info),
        Err(Error::Forbidden)
    ));
}

#[test]
fn keys_are_per_namespace_and_ids_are_checked() {
    let (_dir, core) = open_provisioned();
    let root = generate(
        &core,
        &new_key(Some("k1"), KeyType::Curve25519, &[Mechanism::EdDsa]),
        None,
    )
    .unwrap();
    assert!(matches!(
        generate(&core, &new_key(Some("k1"), KeyType::Curve25519, &[]), None),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        generate(&core, &new_key(Some("k~1"), KeyType::Curve25519, &[]), None),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        generate(
            &core,
            &new_key(None, KeyType::Curve25519, &[Mechanism::Ecdsa]),
            None
        ),
        Err(Error::InvalidInput(_))
    ));
    let ns_admin = Principal::new("ns1~admin", Role::Administrator);
    let listed = |who: &Principal| {
        core.operational(who)
            .and_then(|h| h.keys().list(false, None))
            .unwrap()
    };
    assert_eq!(listed(&admin()), vec![root.clone()]);
    assert!(listed(&ns_admin).is_empty());
    assert!(matches!(
        core.operational(&ns_admin)
            .and_then(|h| h.keys().get(&root)),
        Err(Error::NotFound(_))
    ));
    let theirs = core
        .operational(&ns_admin)
        .and_then(|h| {
            h.keys()
                .generate(&new_key(Some("k1"), KeyType::EcP256, &[]), None)
        })
        .unwrap();
    assert_eq!(theirs, "k1");
    assert_eq!(listed(&admin()), vec![root.clone()]);
    assert_eq!(listed(&ns_admin), vec!["k1".to_owned()]);
    core.operational(&admin())
        .and_then(|h| h.keys().delete(&root))
        .unwrap();
    assert!(listed(&admin()).is_empty());
    assert_eq!(listed(&ns_admin), vec!["k1".to_owned()]);
}

#[test]
fn a_key_survives_backup_and_restore_and_signs_the_same() {
    let (_a_dir, a) = open_provisioned();
    create_operator(&a, "op", &Passphrase::new("operator passphrase 1"));
    let key = ImportedKey {
        data: Zeroizing::new(vec![7u8; 32]),
        ..ImportedKey::default()
    };
    let id = a
        .operational(&admin())
        .and_then(|h| {
            h.keys().import(
                &new_key(Some("signer"), KeyType::Curve25519, &[Mechanism::EdDsa]),
                &key,
            )
        })
        .unwrap();
    let before = sign(&a, &operator("op"), &id, Mechanism::EdDsa, b"message").unwrap();
    let bytes = backup_bytes(&a);
    // Nothing of the private key in the backup file in clear.
    let pkcs8 = import_pkcs8(KeyType::Curve25519, &key).unwrap();
    assert!(!bytes.windows(32).any(|w| w == [7u8; 32]));
    assert!(!bytes.windows(pkcs8.len()).any(|w| w == &pkcs8[..]));

    let (_b_dir, b) = restored(&bytes);
    b.unlock(&Passphrase::new(UNLOCK)).unwrap();
    let after = sign(&b, &operator("op"), &id, Mechanism::EdDsa, b"message").unwrap();
    assert_eq!(
        before, after,
        "Ed25519 is deterministic: the same key signs the same"
    );
}

#[test]
fn rsa_import_checks_its_primes() {
    let (_dir, core) = open_provisioned();
    let import = |p: Vec<u8>, q: Vec<u8>| {
        let key = ImportedKey {
            prime_p: Zeroizing::new(p),
            prime_q: Zeroizing::new(q),
            public_exponent: vec![1, 0, 1],
            ..ImportedKey::default()
        };
        core.operational(&admin()).and_then(|h| {
            h.keys()
                .import(&new_key(None, KeyType::Rsa, &[Mechanism::RsaPkcs1]), &key)
        })
    };
    // 2^127 - 1 and 2^89 - 1 are prime; 2^127 - 1 times 3 is not.
    let m127 = [vec![0x7f], vec![0xff; 15]].concat();
    let m89 = [vec![0x01], vec![0xff; 11]].concat();
    let composite = [vec![0x01, 0x7f], vec![0xff; 14], vec![0xfd]].concat();
    match import(m127, m89.clone()) {
        Err(Error::InvalidInput(m)) => assert_eq!(m, "RSA keys are 2048 to 8192 bits long."),
        other => panic!("{other:?}"),
    }
    match import(composite, m89) {
        Err(Error::InvalidInput(m)) => assert_eq!(m, "The private key is not a valid RSA key."),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tag_restrictions_are_set_removed_and_enforced() {
    let (_dir, core) = open_provisioned();
    create_operator(&core, "op", &Passphrase::new("operator passphrase 1"));
    let op = operator("op");
    let id = generate(
        &core,
        &new_key(Some("k"), KeyType::Curve25519, &[Mechanism::EdDsa]),
        None,
    )
    .unwrap();
    let keys = |who: &Principal, f: &dyn Fn(&Keys) -> Result<bool>| {
        core.operational(who).and_then(|h| f(&h.keys()))
    };
    assert!(sign(&core, &op, &id, Mechanism::EdDsa, b"m").is_ok());
    assert!(keys(&admin(), &|k| k.add_tag(&id, "berlin")).unwrap());
    assert!(!keys(&admin(), &|k| k.add_tag(&id, "berlin")).unwrap());
    let info = core.operational(&admin()).and_then(|h| h.keys().get(&id));
    assert_eq!(info.unwrap().tags, vec!["berlin".to_owned()]);
    assert!(matches!(
        sign(&core, &op, &id, Mechanism::EdDsa, b"m"),
        Err(Error::Forbidden)
    ));
    core.operational(&admin())
        .and_then(|h| h.users().add_tag("op", "berlin"))
        .unwrap();
    assert!(sign(&core, &op, &id, Mechanism::EdDsa, b"m").is_ok());

    // The rules: an Operator may not, bad tags and unknown keys are refused.
    assert!(matches!(
        keys(&op, &|k| k.add_tag(&id, "paris")),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        keys(&admin(), &|k| k.add_tag(&id, "no~tag")),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        keys(&admin(), &|k| k.add_tag("nosuch", "paris")),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        keys(&admin(), &|k| k.remove_tag(&id, "paris").map(|()| true)),
        Err(Error::NotFound(_))
    ));
    let ns_admin = Principal::new("ns1~admin", Role::Administrator);
    assert!(matches!(
        keys(&ns_admin, &|k| k.add_tag(&id, "paris")),
        Err(Error::NotFound(_))
    ));

    keys(&admin(), &|k| k.remove_tag(&id, "berlin").map(|()| true)).unwrap();
    let info = core.operational(&admin()).and_then(|h| h.keys().get(&id));
    assert!(info.unwrap().tags.is_empty());
}

#[test]
fn restrictions_label_certificate_and_a_move_survive_backup_and_restore() {
    let (_a_dir, a) = open_provisioned();
    let keys = |f: &dyn Fn(&Keys) -> Result<()>| a.operational(&admin()).and_then(|h| f(&h.keys()));
    let mut new = new_key(Some("k"), KeyType::Curve25519, &[Mechanism::EdDsa]);
    new.label = "the label".into();
    generate(&a, &new, None).unwrap();
    generate(&a, &new_key(Some("taken"), KeyType::EcP256, &[]), None).unwrap();
    // OpenPGP certificates are kept opaque (X.509 ones are checked in the API tests, with
    // certificates made by pyca).
    let pgp =
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n";
    keys(&|k| k.add_tag("k", "berlin").map(drop)).unwrap();
    keys(&|k| k.set_cert("k", "application/pgp-keys", pgp)).unwrap();
    assert!(matches!(
        keys(&|k| k.set_cert("k", "application/pgp-keys", pgp)),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        keys(&|k| k.move_key("k", "taken")),
        Err(Error::Conflict(_))
    ));
    keys(&|k| k.move_key("k", "moved")).unwrap();
    assert!(matches!(
        keys(&|k| k.move_key("k", "again")),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        keys(&|k| k.cert("k").map(drop)),
        Err(Error::NotFound(_))
    ));

    let bytes = backup_bytes(&a);
    assert!(
        !bytes.windows(9).any(|w| w == b"the label"),
        "the label is sealed"
    );
    let (_b_dir, b) = restored(&bytes);
    b.unlock(&Passphrase::new(UNLOCK)).unwrap();
    let root = admin();
    let h = b.operational(&root).unwrap();
    let mut ids = h.keys().list(false, None).unwrap();
    ids.sort();
    assert_eq!(ids, ["moved", "taken"]);
    let info = h.keys().get("moved").unwrap();
    assert_eq!(info.tags, ["berlin"]);
    assert_eq!(info.label, "the label");
    assert_eq!(
        h.keys().cert("moved").unwrap(),
        ("application/pgp-keys".to_owned(), pgp.to_vec())
    );
    h.keys().delete_cert("moved").unwrap();
    assert!(matches!(h.keys().cert("moved"), Err(Error::NotFound(_))));
    assert!(matches!(
        h.keys().delete_cert("moved"),
        Err(Error::NotFound(_))
    ));
}

/// Only EdDSA and P-256 ECDSA are signed at once by `sign_if_cheap`; every other key is left
/// to `sign` (a blocking thread), after the same checks.
#[test]
fn only_ed25519_and_p256_signatures_count_as_cheap() {
    let (_dir, core) = open_provisioned();
    let pass = Passphrase::new("operator passphrase 1");
    create_operator(&core, "op", &pass);
    let generate = |id: &str, t: KeyType, m: Mechanism, length: Option<u32>| {
        let new = NewKey {
            id: Some(id.into()),
            key_type: t,
            mechanisms: vec![m],
            tags: vec![],
            label: String::new(),
        };
        core.operational(&admin())
            .and_then(|h| h.keys().generate(&new, length))
            .unwrap();
    };
    generate("ed", KeyType::Curve25519, Mechanism::EdDsa, None);
    generate("p256", KeyType::EcP256, Mechanism::Ecdsa, None);
    generate("p384", KeyType::EcP384, Mechanism::Ecdsa, None);
    generate("bp", KeyType::BrainpoolP256, Mechanism::Ecdsa, None);
    generate("rsa", KeyType::Rsa, Mechanism::RsaPkcs1, Some(2048));
    let cheap = |id: &str, m: Mechanism, input: &[u8]| {
        core.operational(&operator("op"))
            .and_then(|h| h.keys().sign_if_cheap(id, m, input))
    };
    let digest = [7u8; 32];
    assert!(cheap("ed", Mechanism::EdDsa, b"message").unwrap().is_some());
    assert!(cheap("p256", Mechanism::Ecdsa, &digest).unwrap().is_some());
    assert!(
        cheap("p384", Mechanism::Ecdsa, &[7u8; 48])
            .unwrap()
            .is_none()
    );
    assert!(cheap("bp", Mechanism::Ecdsa, &digest).unwrap().is_none());
    assert!(
        cheap("rsa", Mechanism::RsaPkcs1, &digest)
            .unwrap()
            .is_none()
    );
    // The checks come first: a mode the key was not made for is refused, not deferred.
    assert!(matches!(
        cheap("p256", Mechanism::EdDsa, b"message"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        cheap("nosuch", Mechanism::EdDsa, b"m"),
        Err(Error::NotFound(_))
    ));
    // A server skips `sign_if_cheap` for the modes `may_sign_cheaply` rules out: the ones it
    // never signs at once (RSA, whose key above it left alone, and BIP340).
    assert!(may_sign_cheaply(Mechanism::EdDsa) && may_sign_cheaply(Mechanism::Ecdsa));
    for m in [
        Mechanism::RsaPkcs1,
        Mechanism::RsaPssMd5,
        Mechanism::RsaPssSha1,
        Mechanism::RsaPssSha224,
        Mechanism::RsaPssSha256,
        Mechanism::RsaPssSha384,
        Mechanism::RsaPssSha512,
        Mechanism::Bip340,
    ] {
        assert!(!may_sign_cheaply(m), "{}", m.as_str());
    }
}
