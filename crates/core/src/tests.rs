//! Core lifecycle tests on a real redb store in a temp directory.

use super::*;

const UNLOCK: &str = "unlock passphrase 1";
const ADMIN: &str = "admin passphrase 1";

fn provision(core: &Core) {
    core.provision(Provision {
        unlock_passphrase: &Passphrase::new(UNLOCK),
        admin_passphrase: &Passphrase::new(ADMIN),
        system_time: "2026-01-01T00:00:00Z",
    })
    .unwrap();
}

fn admin() -> Principal {
    Principal::new(ADMIN_USER, Role::Administrator)
}

#[test]
fn lifecycle_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path()).unwrap();
        assert_eq!(core.state(), SystemState::Unprovisioned);
        assert!(matches!(
            core.authenticate("admin", ADMIN.as_bytes()),
            Err(Error::WrongState(_))
        ));
        provision(&core);
        assert_eq!(core.state(), SystemState::Operational);
        assert!(core.now().year() == 2026);
        assert_eq!(
            core.authenticate("admin", ADMIN.as_bytes()).unwrap(),
            admin()
        );
        assert!(matches!(
            core.authenticate("admin", b"wrong passphrase"),
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            core.authenticate("nobody", ADMIN.as_bytes()),
            Err(Error::Unauthenticated)
        ));
        assert!(matches!(
            core.provision(Provision {
                unlock_passphrase: &Passphrase::new(UNLOCK),
                admin_passphrase: &Passphrase::new(ADMIN),
                system_time: "2026-01-01T00:00:00Z",
            }),
            Err(Error::WrongState(SystemState::Operational))
        ));
    }
    let core = Core::open(dir.path()).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
    assert!(matches!(
        core.unlock(&Passphrase::new("not the passphrase")),
        Err(Error::WrongUnlockPassphrase)
    ));
    assert!(matches!(
        core.unlock(&Passphrase::new("short")),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(core.state(), SystemState::Locked);
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    assert_eq!(core.state(), SystemState::Operational);
    assert!(core.now().year() == 2026);
    core.lock(&admin()).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
    assert!(matches!(
        core.lock(&admin()),
        Err(Error::WrongState(SystemState::Locked))
    ));
}

#[test]
fn unattended_boot_starts_operational() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path()).unwrap();
        provision(&core);
        assert!(!core.unattended_boot(&admin()).unwrap());
        assert!(matches!(
            core.set_unattended_boot(&Principal::new("op", Role::Operator), true),
            Err(Error::Forbidden)
        ));
        core.set_unattended_boot(&admin(), true).unwrap();
        assert!(core.unattended_boot(&admin()).unwrap());
    }
    {
        let core = Core::open(dir.path()).unwrap();
        assert_eq!(core.state(), SystemState::Operational);
        core.authenticate("admin", ADMIN.as_bytes()).unwrap();
        core.set_unattended_boot(&admin(), false).unwrap();
    }
    let core = Core::open(dir.path()).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
}

#[test]
fn lost_device_key_with_unattended_boot_stays_locked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path()).unwrap();
        provision(&core);
        core.set_unattended_boot(&admin(), true).unwrap();
    }
    std::fs::remove_file(dir.path().join(DEVICE_KEY_FILE)).unwrap();
    let core = Core::open(dir.path()).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
}

/// No file of the data directory holds a passphrase or the domain key in clear.
#[test]
fn nothing_secret_in_clear_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let domain_key = {
        let core = Core::open(dir.path()).unwrap();
        provision(&core);
        core.set_unattended_boot(&admin(), true).unwrap();
        core.tls_identity(&[]).unwrap();
        core.domain_key_for_test().unwrap()
    };
    let needles: [&[u8]; 3] = [UNLOCK.as_bytes(), ADMIN.as_bytes(), &domain_key];
    let hex_key = hex::encode(domain_key);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in needles {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
        assert!(
            !bytes
                .windows(hex_key.len())
                .any(|w| w == hex_key.as_bytes())
        );
    }
}

#[test]
fn schema_version_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
    Core::with_store(store.clone(), crypto::random_key()).unwrap();
    assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"1");
    store.put(SCHEMA_PATH, b"2").unwrap();
    let err = Core::with_store(store.clone(), crypto::random_key()).unwrap_err();
    assert!(err.to_string().contains("schema version 2"));
}

#[test]
fn tls_identity_is_reused_and_follows_names() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path()).unwrap();
    let a = core.tls_identity(&[]).unwrap();
    let b = core.tls_identity(&[]).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let c = core.tls_identity(&["hsm.example".into()]).unwrap();
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert!(c.names.contains(&"hsm.example".to_string()));
    assert!(!format!("{c:?}").contains("PRIVATE KEY"));
}
