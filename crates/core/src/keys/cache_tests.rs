//! The parsed-key cache on a real core: a parse is reused only for the record it was made
//! from, so a key deleted, moved, replaced, restored over or rewritten by another node is
//! never used; locking drops it; the operation counts follow their keys.
//! Signatures are checked with aws-lc-rs's Ed25519 verifier against the public key `GET`
//! answers (the API tests verify with pyca/cryptography).

use std::sync::Arc;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use strongroom_store::Store;

use super::super::*;
use super::CACHE_CAPACITY;
use crate::backup;
use crate::secret::Passphrase;
use crate::tests::{UNLOCK, admin, backup_bytes, create_operator, open_provisioned, operator};

const MSG: &[u8] = b"the message";

fn ed25519(seed: u8) -> ImportedKey {
    ImportedKey {
        data: Zeroizing::new(vec![seed; 32]),
        ..ImportedKey::default()
    }
}

fn import(core: &Core, id: &str, seed: u8) {
    let new = NewKey {
        id: Some(id.to_owned()),
        key_type: KeyType::Curve25519,
        mechanisms: vec![Mechanism::EdDsa],
        tags: vec![],
        label: String::new(),
    };
    core.operational(&admin())
        .and_then(|h| h.keys().import(&new, &ed25519(seed)))
        .unwrap();
}

fn sign(core: &Core, id: &str) -> Result<Vec<u8>> {
    core.operational(&operator("op"))
        .and_then(|h| h.keys().sign(id, Mechanism::EdDsa, MSG))
}

fn info(core: &Core, id: &str) -> Result<KeyInfo> {
    core.operational(&admin()).and_then(|h| h.keys().get(id))
}

/// The public key of an Ed25519 seed, computed apart from the store and the cache.
fn public_of(seed: u8) -> Vec<u8> {
    use aws_lc_rs::signature::KeyPair;
    aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&[seed; 32])
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec()
}

fn verifies(public: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::ED25519, public)
        .verify(MSG, sig)
        .is_ok()
}

fn cached(core: &Core) -> usize {
    core.unlocked().unwrap().key_cache.len()
}

fn setup() -> (tempfile::TempDir, Core) {
    let (dir, core) = open_provisioned();
    create_operator(&core, "op", &Passphrase::new("operator passphrase 1"));
    (dir, core)
}

#[test]
fn a_key_is_parsed_once_and_its_record_is_read_on_every_use() {
    let (_dir, core) = setup();
    import(&core, "k", 1);
    assert_eq!(cached(&core), 0);
    let first = sign(&core, "k").unwrap();
    assert_eq!(cached(&core), 1);
    let u = core.unlocked().unwrap();
    let path = key_path(&admin(), "k");
    let revision = u.data.get(&path).unwrap().unwrap().revision;
    let parsed = u.key_cache.get(&path, revision).unwrap();
    assert_eq!(sign(&core, "k").unwrap(), first);
    assert!(
        Arc::ptr_eq(&parsed, &u.key_cache.get(&path, revision).unwrap()),
        "the second signature used the first parse"
    );
    // A tag restriction takes effect at once: the record's new revision is parsed again.
    core.operational(&admin())
        .and_then(|h| h.keys().add_tag("k", "berlin"))
        .unwrap();
    assert!(matches!(sign(&core, "k"), Err(Error::Forbidden)));
    core.operational(&admin())
        .and_then(|h| h.keys().remove_tag("k", "berlin"))
        .unwrap();
    assert!(verifies(&public_of(1), &sign(&core, "k").unwrap()));
    assert!(u.key_cache.get(&path, revision).is_none());
}

#[test]
fn a_deleted_or_replaced_key_is_never_used() {
    let (_dir, core) = setup();
    import(&core, "k", 1);
    assert!(verifies(&public_of(1), &sign(&core, "k").unwrap()));
    core.operational(&admin())
        .and_then(|h| h.keys().delete("k"))
        .unwrap();
    assert_eq!(cached(&core), 0, "the delete dropped the parse");
    assert!(matches!(sign(&core, "k"), Err(Error::NotFound(_))));
    assert!(matches!(info(&core, "k"), Err(Error::NotFound(_))));
    import(&core, "k", 2);
    let sig = sign(&core, "k").unwrap();
    assert!(verifies(&public_of(2), &sig));
    assert!(!verifies(&public_of(1), &sig));
    assert_eq!(
        info(&core, "k").unwrap().public,
        PublicData::Data(public_of(2))
    );
}

#[test]
fn a_record_rewritten_by_another_node_is_parsed_again() {
    let (_dir, core) = setup();
    import(&core, "k", 1);
    import(&core, "other", 2);
    assert!(verifies(&public_of(1), &sign(&core, "k").unwrap()));
    // What another node sharing the store would do: write the record without this node's
    // cache hearing of it.
    let u = core.unlocked().unwrap();
    let value = u
        .data
        .get(&key_path(&admin(), "other"))
        .unwrap()
        .unwrap()
        .value
        .clone();
    u.data.put(&key_path(&admin(), "k"), &value).unwrap();
    let sig = sign(&core, "k").unwrap();
    assert!(verifies(&public_of(2), &sig));
    assert!(!verifies(&public_of(1), &sig));
    // And deleted behind its back: not found, although the parse is still here.
    u.data.delete(&key_path(&admin(), "k")).unwrap();
    assert!(matches!(sign(&core, "k"), Err(Error::NotFound(_))));
}

#[test]
fn a_moved_key_is_gone_from_its_old_id_and_keeps_its_count() {
    let (_dir, core) = setup();
    import(&core, "k", 1);
    sign(&core, "k").unwrap();
    sign(&core, "k").unwrap();
    assert_eq!(info(&core, "k").unwrap().operations, 2);
    core.operational(&admin())
        .and_then(|h| h.keys().move_key("k", "moved"))
        .unwrap();
    assert_eq!(cached(&core), 0, "the move dropped the parse");
    assert!(matches!(sign(&core, "k"), Err(Error::NotFound(_))));
    assert!(verifies(&public_of(1), &sign(&core, "moved").unwrap()));
    assert_eq!(info(&core, "moved").unwrap().operations, 3);
    // A new key under the old id starts from nothing.
    import(&core, "k", 2);
    assert_eq!(info(&core, "k").unwrap().operations, 0);
}

#[test]
fn operations_count_successful_uses_of_that_key_only() {
    let (_dir, core) = setup();
    import(&core, "k", 1);
    assert_eq!(info(&core, "k").unwrap().operations, 0);
    for _ in 0..3 {
        sign(&core, "k").unwrap();
    }
    // Refused uses do not count.
    assert!(
        core.operational(&operator("op"))
            .and_then(|h| h.keys().sign("k", Mechanism::Ecdsa, &[0; 32]))
            .is_err()
    );
    assert!(
        core.operational(&admin())
            .and_then(|h| h.keys().sign("k", Mechanism::EdDsa, MSG))
            .is_err()
    );
    assert_eq!(info(&core, "k").unwrap().operations, 3);
    // Replaced by another node (same id, another key): its count is not the old key's.
    let u = core.unlocked().unwrap();
    import(&core, "other", 2);
    let value = u
        .data
        .get(&key_path(&admin(), "other"))
        .unwrap()
        .unwrap()
        .value
        .clone();
    u.data.put(&key_path(&admin(), "k"), &value).unwrap();
    assert_eq!(info(&core, "k").unwrap().operations, 0);
    sign(&core, "k").unwrap();
    assert_eq!(info(&core, "k").unwrap().operations, 1);
}

#[test]
fn locking_drops_every_parsed_key_and_count() {
    let (_dir, core) = setup();
    import(&core, "k", 1);
    sign(&core, "k").unwrap();
    assert_eq!(cached(&core), 1);
    let unlocked = Arc::downgrade(&core.unlocked().unwrap());
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    assert!(
        unlocked.upgrade().is_none(),
        "the unlocked state, and the cache in it, is freed"
    );
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    assert_eq!(cached(&core), 0);
    assert_eq!(info(&core, "k").unwrap().operations, 0);
    assert!(verifies(&public_of(1), &sign(&core, "k").unwrap()));
}

#[test]
fn a_restore_over_a_replaced_key_brings_the_backed_up_key_back() {
    let (dir, core) = setup();
    import(&core, "k", 1);
    let bytes = backup_bytes(&core);
    let file = dir.path().join("backup.bin");
    std::fs::write(&file, &bytes).unwrap();
    core.operational(&admin())
        .and_then(|h| h.keys().delete("k"))
        .unwrap();
    import(&core, "k", 2);
    assert!(verifies(&public_of(2), &sign(&core, "k").unwrap()));
    assert_eq!(cached(&core), 1);
    core.operational(&admin())
        .and_then(|h| {
            h.backup().restore(
                &file,
                backup::Restore {
                    backup_passphrase: &Passphrase::new("backup passphrase 1"),
                    system_time: None,
                },
            )
        })
        .unwrap();
    assert_eq!(cached(&core), 0, "the restore dropped every parse");
    let sig = sign(&core, "k").unwrap();
    assert!(verifies(&public_of(1), &sig));
    assert!(!verifies(&public_of(2), &sig));
}

/// One Ed25519 key, parsed as if read from `path` at `revision`.
fn parsed(path: &str, revision: u64) -> Arc<LoadedKey> {
    let pkcs8 = import_pkcs8(KeyType::Curve25519, &ed25519(1)).unwrap();
    let record = KeyRecord {
        key_type: KeyType::Curve25519,
        mechanisms: vec![Mechanism::EdDsa],
        tags: vec![],
        label: String::new(),
        private: Zeroizing::new(hex::encode(&pkcs8[..])),
        cert: None,
    };
    Arc::new(LoadedKey::parse(path.to_owned(), revision, record).unwrap())
}

#[test]
fn the_cache_keeps_at_most_its_capacity_and_evicts_the_least_recently_used() {
    let cache = KeyCache::default();
    for i in 0..CACHE_CAPACITY {
        cache.insert(parsed(&format!("keys/{i}"), 1));
    }
    assert_eq!(cache.len(), CACHE_CAPACITY);
    // Key 0 is used, so key 1 is now the least recently used.
    assert!(cache.get("keys/0", 1).is_some());
    cache.insert(parsed("keys/new", 1));
    assert_eq!(cache.len(), CACHE_CAPACITY);
    assert!(cache.get("keys/0", 1).is_some());
    assert!(cache.get("keys/1", 1).is_none());
    assert!(cache.get("keys/new", 1).is_some());
    // Another revision of a record is a miss; an older parse never replaces a newer one.
    assert!(cache.get("keys/new", 2).is_none());
    cache.insert(parsed("keys/new", 3));
    cache.insert(parsed("keys/new", 2));
    assert!(cache.get("keys/new", 3).is_some());
    assert!(cache.get("keys/new", 2).is_none());
}

/// A parse made from a record read before a change dropped the key's entry is not kept: kept,
/// a reader trusting the cache without reading the record (cluster mode) would meet the old
/// key after the change.
#[test]
fn a_parse_read_before_a_change_is_not_kept() {
    let cache = KeyCache::default();
    for drop in [
        |c: &KeyCache| c.changed("keys/k"),
        |c: &KeyCache| c.forget("keys/other"),
        |c: &KeyCache| c.moved("keys/a", "keys/b"),
        |c: &KeyCache| c.clear(),
    ] {
        let epoch = cache.epoch();
        drop(&cache);
        cache.insert_unless_changed(parsed("keys/k", 5), epoch);
        assert!(cache.get_followed("keys/k").is_none());
    }
    let epoch = cache.epoch();
    cache.insert_unless_changed(parsed("keys/k", 5), epoch);
    assert_eq!(cache.get_followed("keys/k").unwrap().revision, 5);
    // A change drops the parse, whatever its revision.
    cache.changed("keys/k");
    assert!(cache.get_followed("keys/k").is_none());
}
