//! Core lifecycle tests on a real redb store in a temp directory.

use super::*;

pub(crate) const UNLOCK: &str = "unlock passphrase 1";
const ADMIN: &str = "admin passphrase 1";

pub(crate) fn provision(core: &Core) {
    core.provision(Provision {
        unlock_passphrase: &Passphrase::new(UNLOCK),
        admin_passphrase: &Passphrase::new(ADMIN),
        system_time: "2026-01-01T00:00:00Z",
    })
    .unwrap();
}

pub(crate) fn admin() -> Principal {
    Principal::new(ADMIN_USER, Role::Administrator)
}

/// The audit trail's verification, as the root Administrator asks it.
pub(crate) fn audit_report(core: &Core) -> audit::ChainReport {
    core.operational(&admin())
        .and_then(|h| h.audit().verify())
        .unwrap()
}

/// Creates the Operator `id` of the root namespace, as the root Administrator; its ID.
pub(crate) fn create_operator(core: &Core, id: &str, passphrase: &Passphrase) -> String {
    core.operational(&admin())
        .and_then(|h| {
            h.users()
                .create(NewUserId::Given(id), "", Role::Operator, passphrase)
        })
        .unwrap()
}

/// Sets the backup passphrase "backup passphrase", as the root Administrator.
pub(crate) fn set_backup_passphrase(core: &Core) {
    core.operational(&admin())
        .and_then(|h| {
            h.system()
                .set_backup_passphrase(&Passphrase::new("backup passphrase"), None)
        })
        .unwrap();
}

/// Changes the unlock passphrase from UNLOCK to "a second unlock passphrase", as the root
/// Administrator.
fn change_unlock_passphrase(core: &Core) {
    core.operational(&admin())
        .and_then(|h| {
            h.system().set_unlock_passphrase(
                &Passphrase::new("a second unlock passphrase"),
                &Passphrase::new(UNLOCK),
            )
        })
        .unwrap();
}

/// A page of the audit trail, as the root Administrator reads it.
pub(crate) fn audit_page(core: &Core, after: u64, limit: usize) -> audit::AuditPage {
    core.operational(&admin())
        .and_then(|h| h.audit().events(after, limit))
        .unwrap()
}

#[test]
fn lifecycle_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
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
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
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
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    assert_eq!(core.state(), SystemState::Locked);
    assert!(matches!(
        core.operational(&admin()).and_then(|h| h.system().lock()),
        Err(Error::WrongState(SystemState::Locked))
    ));
}

#[test]
fn unattended_boot_starts_operational() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
        assert!(
            !core
                .operational(&admin())
                .and_then(|h| h.system().unattended_boot())
                .unwrap()
        );
        assert!(matches!(
            core.operational(&Principal::new("op", Role::Operator))
                .and_then(|h| h.system().set_unattended_boot(true)),
            Err(Error::Forbidden)
        ));
        core.operational(&admin())
            .and_then(|h| h.system().set_unattended_boot(true))
            .unwrap();
        assert!(
            core.operational(&admin())
                .and_then(|h| h.system().unattended_boot())
                .unwrap()
        );
    }
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        assert_eq!(core.state(), SystemState::Operational);
        core.authenticate("admin", ADMIN.as_bytes()).unwrap();
        core.operational(&admin())
            .and_then(|h| h.system().set_unattended_boot(false))
            .unwrap();
    }
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
}

#[test]
fn lost_device_key_with_unattended_boot_stays_locked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
        core.operational(&admin())
            .and_then(|h| h.system().set_unattended_boot(true))
            .unwrap();
    }
    std::fs::remove_file(dir.path().join(DEVICE_KEY_FILE)).unwrap();
    // A lost key is not replaced silently...
    let e = Core::open(dir.path(), CoreSettings::default()).unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    // ...only when asked to; the anchor, sealed under the lost key, goes with it.
    let settings = CoreSettings {
        regenerate_device_key: true,
        ..CoreSettings::default()
    };
    let core = Core::open(dir.path(), settings).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    assert_eq!(core.pending_rollback(), None);
    assert!(audit_report(&core).verified);
    let events = audit_page(&core, 0, 100).events;
    assert!(events.iter().any(|e| e.action == "device key regenerated"));
    drop(core);
    // Anchored again: a plain start works.
    open_unlocked(dir.path());
}

/// No file of the data directory holds a passphrase or the domain key in clear.
#[test]
fn nothing_secret_in_clear_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let domain_key = {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
        core.operational(&admin())
            .and_then(|h| h.system().set_unattended_boot(true))
            .unwrap();
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
    let store: DynStore =
        Arc::new(strongroom_store::redb::RedbStore::open(&dir.path().join("s.redb")).unwrap());
    Core::with_store(store.clone(), crypto::random_key(), CoreSettings::default()).unwrap();
    assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"1");
    store.put(SCHEMA_PATH, b"2").unwrap();
    let err =
        Core::with_store(store.clone(), crypto::random_key(), CoreSettings::default()).unwrap_err();
    assert!(err.to_string().contains("schema version 2"));
}

#[test]
fn tls_identity_is_reused_and_follows_names() {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
    let a = core.tls_identity(&[]).unwrap();
    let b = core.tls_identity(&[]).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let c = core.tls_identity(&["hsm.example".into()]).unwrap();
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert!(c.names.contains(&"hsm.example".to_string()));
    assert!(!format!("{c:?}").contains("PRIVATE KEY"));
}

pub(crate) fn operator(id: &str) -> Principal {
    Principal::new(id, Role::Operator)
}

/// Opens the node in `dir` with default settings and unlocks it.
fn open_unlocked(dir: &std::path::Path) -> Core {
    let core = Core::open(dir, CoreSettings::default()).unwrap();
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    core
}

/// A whole backup of `core`, made under the backup passphrase [`restored`] opens it with (set
/// here as the root Administrator).
pub(crate) fn backup_bytes(core: &Core) -> Vec<u8> {
    core.operational(&admin())
        .and_then(|h| {
            h.system()
                .set_backup_passphrase(&Passphrase::new("backup passphrase 1"), None)
        })
        .unwrap();
    core.operational(&Principal::new("backup", Role::Backup))
        .and_then(|h| h.backup().prepare())
        .unwrap()
        .write_to(Vec::new())
        .unwrap()
}

/// A new node (in a temporary directory) restored from the backup `bytes`, made under the
/// backup passphrase the tests set; the directory lives as long as the handle kept.
pub(crate) fn restored(bytes: &[u8]) -> (tempfile::TempDir, Core) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(&dir.path().join("data"), CoreSettings::default()).unwrap();
    restore_onto(&core, bytes);
    (dir, core)
}

/// A full restore of the backup `bytes` (made as by [`backup_bytes`]) onto the Unprovisioned
/// `core`.
pub(crate) fn restore_onto(core: &Core, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.bin");
    std::fs::write(&file, bytes).unwrap();
    core.restore(
        &file,
        backup::Restore {
            backup_passphrase: &Passphrase::new("backup passphrase 1"),
            system_time: None,
        },
    )
    .unwrap();
}

pub(crate) fn open_provisioned() -> (tempfile::TempDir, Core) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
    provision(&core);
    (dir, core)
}

use crate::users::NewUserId;

#[test]
fn users_namespaces_and_permissions() {
    let (_dir, core) = open_provisioned();
    let root = admin();
    let pass = Passphrase::new("operator passphrase");
    let op = core
        .operational(&root)
        .and_then(|h| {
            h.users().create(
                NewUserId::Generate { namespace: None },
                "Op",
                Role::Operator,
                &pass,
            )
        })
        .unwrap();
    assert_eq!(op.len(), 20);
    assert_eq!(
        core.authenticate(&op, pass.as_bytes()).unwrap(),
        operator(&op)
    );
    assert!(matches!(
        core.operational(&root).and_then(|h| h.users().create(
            NewUserId::Given(&op),
            "Op",
            Role::Operator,
            &pass
        )),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        core.operational(&operator(&op))
            .and_then(|h| h
                .users()
                .create(NewUserId::Given("x"), "", Role::Operator, &pass)),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        core.operational(&root).and_then(|h| h.users().create(
            NewUserId::Given("bad id!"),
            "",
            Role::Operator,
            &pass
        )),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        core.operational(&root).and_then(|h| h.users().create(
            NewUserId::Given("weak"),
            "",
            Role::Operator,
            &Passphrase::new("short")
        )),
        Err(Error::InvalidInput(_))
    ));

    // Root makes the first admin of a namespace that does not exist yet; it cannot log in
    // until the namespace exists; from then on root no longer manages its users.
    let ns_pass = Passphrase::new("ns1 admin passphrase");
    core.operational(&root)
        .and_then(|h| {
            h.users().create(
                NewUserId::Given("ns1~boss"),
                "",
                Role::Administrator,
                &ns_pass,
            )
        })
        .unwrap();
    assert!(matches!(
        core.authenticate("ns1~boss", ns_pass.as_bytes()),
        Err(Error::Unauthenticated)
    ));
    core.operational(&root)
        .and_then(|h| h.namespaces().create("ns1"))
        .unwrap();
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.namespaces().create("ns1")),
        Err(Error::InvalidInput(_))
    ));
    let boss = core.authenticate("ns1~boss", ns_pass.as_bytes()).unwrap();
    assert_eq!(boss.namespace.as_deref(), Some("ns1"));
    assert!(matches!(
        core.operational(&root).and_then(|h| h.users().create(
            NewUserId::Given("ns1~late"),
            "",
            Role::Operator,
            &pass
        )),
        Err(Error::Forbidden)
    ));
    let ns_op = core
        .operational(&boss)
        .and_then(|h| {
            h.users().create(
                NewUserId::Generate {
                    namespace: Some("ns1"),
                },
                "",
                Role::Operator,
                &pass,
            )
        })
        .unwrap();
    assert!(ns_op.starts_with("ns1~"));
    assert!(
        matches!(
            core.operational(&boss).and_then(|h| h.users().create(
                NewUserId::Generate { namespace: None },
                "",
                Role::Operator,
                &pass
            )),
            Err(Error::Forbidden)
        ),
        "a namespaced admin cannot create root users"
    );

    // Isolation.
    let mut seen = core
        .operational(&boss)
        .and_then(|h| h.users().list())
        .unwrap();
    seen.sort();
    let mut want = vec!["ns1~boss".to_string(), ns_op.clone()];
    want.sort();
    assert_eq!(seen, want);
    assert!(
        core.operational(&root)
            .and_then(|h| h.users().list())
            .unwrap()
            .len()
            >= 4
    );
    assert!(matches!(
        core.operational(&boss).and_then(|h| h.users().get(&op)),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        core.operational(&boss).and_then(|h| h.users().get("admin")),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        core.operational(&boss).and_then(|h| h.users().delete(&op)),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        core.operational(&boss)
            .and_then(|h| h.users().set_passphrase("admin", &pass)),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        core.operational(&boss).and_then(|h| h.namespaces().list()),
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        core.operational(&boss).and_then(|h| h.system().lock()),
        Err(Error::Forbidden)
    ));
    assert_eq!(
        core.operational(&root)
            .and_then(|h| h.users().get(&ns_op))
            .unwrap()
            .role,
        Role::Operator
    );
    assert!(matches!(
        core.operational(&boss)
            .and_then(|h| h.users().get("ns1~nobody")),
        Err(Error::NotFound(_))
    ));

    // Operators see only themselves.
    assert!(
        core.operational(&operator(&op))
            .and_then(|h| h.users().get(&op))
            .is_ok()
    );
    assert!(matches!(
        core.operational(&operator(&op))
            .and_then(|h| h.users().get("admin")),
        Err(Error::Forbidden)
    ));

    // Tags: Operators only; 304 semantics.
    assert!(
        core.operational(&root)
            .and_then(|h| h.users().add_tag(&op, "berlin"))
            .unwrap()
    );
    assert!(
        !core
            .operational(&root)
            .and_then(|h| h.users().add_tag(&op, "berlin"))
            .unwrap()
    );
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.users().add_tag("admin", "berlin")),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.users().add_tag(&op, "bad tag")),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        core.operational(&operator(&op))
            .and_then(|h| h.users().tags(&op))
            .unwrap(),
        ["berlin"]
    );
    core.operational(&root)
        .and_then(|h| h.users().remove_tag(&op, "berlin"))
        .unwrap();
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.users().remove_tag(&op, "berlin")),
        Err(Error::NotFound(_))
    ));

    // Deleting yourself is refused; deleting a namespace deletes its users.
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.users().delete("admin")),
        Err(Error::InvalidInput(_))
    ));
    core.operational(&root)
        .and_then(|h| h.namespaces().delete("ns1"))
        .unwrap();
    assert!(matches!(
        core.authenticate("ns1~boss", ns_pass.as_bytes()),
        Err(Error::Unauthenticated)
    ));
    assert!(
        core.operational(&root)
            .and_then(|h| h.users().list())
            .unwrap()
            .iter()
            .all(|u| !u.starts_with("ns1~"))
    );
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.namespaces().delete("ns1")),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn passphrase_change_takes_effect_at_once_and_keeps_history() {
    let (_dir, core) = open_provisioned();
    let old = Passphrase::new("first passphrase");
    let id = core
        .operational(&admin())
        .and_then(|h| {
            h.users()
                .create(NewUserId::Given("alice"), "", Role::Operator, &old)
        })
        .unwrap();
    core.authenticate(&id, old.as_bytes()).unwrap(); // now cached
    let new = Passphrase::new("second passphrase");
    core.operational(&operator("alice"))
        .and_then(|h| h.users().set_passphrase("alice", &new))
        .unwrap();
    assert!(matches!(
        core.authenticate("alice", old.as_bytes()),
        Err(Error::Unauthenticated)
    ));
    core.authenticate("alice", new.as_bytes()).unwrap();
    let u = core.unlocked().unwrap();
    let (record, _) = core.read_user(&u, "alice").unwrap().unwrap();
    assert_eq!(record.history.len(), 2);
    assert!(crypto::check_verifier(old.as_bytes(), &record.history[1]).unwrap());

    core.operational(&admin())
        .and_then(|h| h.users().delete("alice"))
        .unwrap();
    assert!(matches!(
        core.authenticate("alice", new.as_bytes()),
        Err(Error::Unauthenticated)
    ));

    // Lock empties the cache: after unlock the check is redone (and still succeeds).
    core.authenticate("admin", ADMIN.as_bytes()).unwrap();
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    assert!(matches!(
        core.authenticate("admin", ADMIN.as_bytes()),
        Err(Error::WrongState(_))
    ));
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    core.authenticate("admin", ADMIN.as_bytes()).unwrap();
}

/// A store that runs a hook at every commit, before it applies: a test sees what other
/// threads would see while a change commits.
struct HookStore {
    inner: strongroom_store::redb::RedbStore,
    hook: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

impl HookStore {
    fn run_hook(&self) {
        if let Some(hook) = &*self.hook.lock().unwrap() {
            hook();
        }
    }
}

impl Store for HookStore {
    fn get(&self, key: &str) -> strongroom_store::Result<Option<strongroom_store::Entry>> {
        self.inner.get(key)
    }
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> strongroom_store::Result<Vec<(String, strongroom_store::Entry)>> {
        self.inner.scan(prefix, start_after, limit)
    }
    fn commit(&self, txn: Txn) -> strongroom_store::Result<Commit> {
        self.run_hook();
        self.inner.commit(txn)
    }
    fn snapshot(&self) -> strongroom_store::Result<Box<dyn strongroom_store::Snapshot>> {
        self.inner.snapshot()
    }
    fn watch(&self, prefix: &str) -> strongroom_store::Result<strongroom_store::Watcher> {
        self.inner.watch(prefix)
    }
    fn sync_point(&self) -> strongroom_store::Result<u64> {
        self.inner.sync_point()
    }
    fn commit_iter(
        &self,
        checks: Vec<strongroom_store::Check>,
        ops: &mut dyn Iterator<Item = strongroom_store::Result<strongroom_store::Op>>,
    ) -> strongroom_store::Result<Commit> {
        self.run_hook();
        self.inner.commit_iter(checks, ops)
    }
}

#[test]
fn no_cached_check_of_the_old_passphrase_is_served_while_a_change_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(HookStore {
        inner: strongroom_store::redb::RedbStore::open(&dir.path().join("s.redb")).unwrap(),
        hook: Mutex::new(None),
    });
    let core: &'static Core = Box::leak(Box::new(
        Core::with_store(store.clone(), crypto::random_key(), CoreSettings::default()).unwrap(),
    ));
    provision(core);
    let old = Passphrase::new("first passphrase");
    for id in ["alice", "bob", "ns1~carol"] {
        create_operator(core, id, &old);
        if id.starts_with("ns1~") {
            // After its first user: a root Administrator makes users of new namespaces only.
            core.operational(&admin())
                .and_then(|h| h.namespaces().create("ns1"))
                .unwrap();
        }
        core.authenticate(id, old.as_bytes()).unwrap(); // now cached
        assert!(core.authenticate_cached(id, old.as_bytes()).is_some());
    }
    // At each commit from now on, record whether the old passphrase is still served from
    // the cache to the user being changed.
    let seen: &'static Mutex<Vec<(&'static str, bool)>> = Box::leak(Box::default());
    let watching: &'static Mutex<&'static str> = Box::leak(Box::new(Mutex::new("")));
    *store.hook.lock().unwrap() = Some(Box::new(move || {
        let id = *watching.lock().unwrap();
        if !id.is_empty() {
            let cached = core.authenticate_cached(id, b"first passphrase").is_some();
            seen.lock().unwrap().push((id, cached));
        }
    }));
    *watching.lock().unwrap() = "alice";
    core.operational(&admin())
        .and_then(|h| {
            h.users()
                .set_passphrase("alice", &Passphrase::new("second passphrase"))
        })
        .unwrap();
    *watching.lock().unwrap() = "bob";
    core.operational(&admin())
        .and_then(|h| h.users().delete("bob"))
        .unwrap();
    *watching.lock().unwrap() = "ns1~carol";
    core.operational(&admin())
        .and_then(|h| h.namespaces().delete("ns1"))
        .unwrap();
    *watching.lock().unwrap() = "";
    let seen = seen.lock().unwrap().clone();
    for id in ["alice", "bob", "ns1~carol"] {
        assert!(seen.iter().any(|(i, _)| *i == id), "{id}: no commit seen");
    }
    assert!(
        seen.iter().all(|(_, cached)| !cached),
        "the old passphrase was served from the cache during the commit: {seen:?}"
    );
}

/// A backup client `name` (host `name.example`, no owners), made by the root Administrator.
fn new_client(core: &Core, name: &str) -> clients::BackupClient {
    let host = format!("{name}.example");
    core.operational(&admin())
        .and_then(|h| {
            h.clients().create(clients::NewClient {
                name,
                host_name: &host,
                display_name: None,
                owners: &[],
            })
        })
        .unwrap()
}

fn event(n: u32) -> audit::NewAuditEvent {
    audit::NewAuditEvent {
        actor: Some("admin".into()),
        face: "nethsm".into(),
        action: format!("POST /test/{n}"),
        target: "/test".into(),
        outcome: "success".into(),
        status: Some(204),
        request_id: format!("req-{n}"),
    }
}

#[test]
fn audit_chain_verifies_and_detects_tampering() {
    let (_dir, core) = open_provisioned();
    for n in 0..5 {
        core.record_audit(event(n));
    }
    // Events recorded while Locked are appended at unlock.
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    core.record_audit(event(5));
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    let report = audit_report(&core);
    assert_eq!(
        report,
        audit::ChainReport {
            verified: true,
            events: 7,
            pruned_through: None,
            broken_at: None,
            reason: None
        }
    );
    // Provisioning wrote the first event.
    let page = audit_page(&core, 0, 4);
    assert_eq!(page.events.len(), 4);
    assert_eq!(page.events[0].action, "provision");
    assert_eq!(page.next, Some(4));
    let rest = audit_page(&core, 4, 4);
    assert_eq!(
        rest.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5, 6, 7]
    );
    assert_eq!(rest.next, None);
    assert_eq!(rest.events[2].action, "POST /test/5");
    assert!(rest.events.iter().all(|e| e.keyed));
    assert!(matches!(
        core.operational(&operator("x"))
            .and_then(|h| h.audit().verify()),
        Err(Error::Forbidden)
    ));

    let u = core.unlocked().unwrap();
    // Someone holding the domain key rewrites event 3: the hash no longer matches.
    let path = "audit/events/00000000000000000003";
    let original = u.data.get(path).unwrap().unwrap().value.clone();
    let mut forged: audit::AuditEvent = serde_json::from_slice(&original).unwrap();
    forged.outcome = "denied".into();
    u.data
        .put(path, &serde_json::to_vec(&forged).unwrap())
        .unwrap();
    let r = audit_report(&core);
    assert_eq!((r.verified, r.broken_at, r.events), (false, Some(3), 2));
    // ... and if they also fix its MAC (reading the chain's key with the domain key), the
    // next event no longer follows it.
    forged.hash = forged
        .compute_hash(Some(&core.chain_key_for_test()))
        .unwrap();
    u.data
        .put(path, &serde_json::to_vec(&forged).unwrap())
        .unwrap();
    assert_eq!(audit_report(&core).broken_at, Some(4));
    // Without the key, a plain hash marks it as not keyed: refused as a forgery.
    forged.keyed = false;
    forged.hash = forged.compute_hash(None).unwrap();
    u.data
        .put(path, &serde_json::to_vec(&forged).unwrap())
        .unwrap();
    let r = audit_report(&core);
    assert_eq!(r.broken_at, Some(3));
    assert!(r.reason.unwrap().contains("not keyed"));
    u.data.put(path, &original).unwrap();
    assert!(audit_report(&core).verified);

    // Without the key: a flipped byte fails authentication.
    let raw = core.raw.get(path).unwrap().unwrap().value.clone();
    let mut flipped = raw.clone();
    flipped[20] ^= 1;
    core.raw.put(path, &flipped).unwrap();
    let r = audit_report(&core);
    assert_eq!(r.broken_at, Some(3));
    assert!(r.reason.unwrap().contains("authentication"));
    assert_eq!(audit_page(&core, 0, 10).unreadable, [3]);
    core.raw.put(path, &raw).unwrap();

    // A deleted event in the middle, or at the end.
    core.raw.delete(path).unwrap();
    assert_eq!(audit_report(&core).broken_at, Some(3));
    core.raw.put(path, &raw).unwrap();
    core.raw
        .delete("audit/events/00000000000000000007")
        .unwrap();
    let r = audit_report(&core);
    assert!(!r.verified);
    assert_eq!(r.broken_at, Some(7));
    // A trail with no head at all, on a provisioned node, is broken too.
    core.raw.delete("audit/head").unwrap();
    for seq in 1..=6 {
        core.raw.delete(&format!("audit/events/{seq:020}")).unwrap();
    }
    let r = audit_report(&core);
    assert!(!r.verified);
    assert!(r.reason.as_deref().unwrap().contains("no head"), "{r:?}");
}

#[test]
fn no_user_can_fill_the_session_table_or_lock_out_the_root_admin() {
    use crate::sessions::{SESSIONS_PER_USER, SessionKind};
    let (_dir, core) = open_provisioned();
    let metrics = Principal::new("watcher", Role::Metrics);
    let tokens: Vec<_> = (0..SESSIONS_PER_USER + 5)
        .map(|_| {
            core.open_session(SessionKind::BackupClient, metrics.clone())
                .unwrap()
        })
        .collect();
    // The oldest five were ended to make room; the newest are live.
    for t in &tokens[..5] {
        assert!(core.session(SessionKind::BackupClient, &t.0).is_err());
    }
    for t in &tokens[5..] {
        assert_eq!(
            core.session(SessionKind::BackupClient, &t.0).unwrap(),
            metrics
        );
    }
    // Another face keeps its own count.
    let other = core
        .open_session(SessionKind::Appliance, metrics.clone())
        .unwrap();
    assert!(core.session(SessionKind::Appliance, &other.0).is_ok());
    assert!(
        core.session(SessionKind::BackupClient, &tokens[5].0)
            .is_ok()
    );

    // Fill the whole table with many users' live sessions: others are refused, the root
    // Administrator is not.
    let mut i = 0;
    loop {
        let p = Principal::new(&format!("filler{i}"), Role::Operator);
        i += 1;
        match core.open_session(SessionKind::BackupClient, p) {
            Ok(_) => continue,
            Err(Error::RateLimited) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(i > 10_000);
    let root = admin();
    let t = core
        .open_session(SessionKind::BackupClient, root.clone())
        .expect("the root Administrator is never refused for a full table");
    assert_eq!(core.session(SessionKind::BackupClient, &t.0).unwrap(), root);
    assert!(matches!(
        core.open_session(
            SessionKind::BackupClient,
            Principal::new("late", Role::Operator)
        ),
        Err(Error::RateLimited)
    ));
}

#[test]
fn a_change_and_its_audit_event_are_one_commit() {
    use std::sync::Arc;
    let (_dir, core) = open_provisioned();
    let create_frank = || {
        core.operational(&admin()).and_then(|h| {
            h.users().create(
                users::NewUserId::Given("frank"),
                "Frank",
                Role::Operator,
                &Passphrase::new("frank's passphrase"),
            )
        })
    };
    let ctx = audit::RequestAudit::new(event(1));
    let id = audit::in_request(Some(ctx.clone()), create_frank).unwrap();
    assert_eq!(id, "frank");
    assert!(ctx.written());
    // The first event is provisioning's.
    let page = audit_page(&core, 0, 10);
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.events[1].outcome, "success");
    assert_eq!(
        page.events[1].status, None,
        "written before the answer existed"
    );
    // The store's revision of the user and of the event are the same commit.
    let user_rev = core.raw.get("users/frank").unwrap().unwrap().revision;
    let event_rev = core
        .raw
        .get("audit/events/00000000000000000002")
        .unwrap()
        .unwrap()
        .revision;
    assert_eq!(user_rev, event_rev);

    // A refused change writes no success event.
    let ctx = audit::RequestAudit::new(event(2));
    let again = audit::in_request(Some(ctx.clone()), create_frank);
    assert!(again.is_err());
    assert!(!ctx.written());
    assert_eq!(audit_page(&core, 0, 10).events.len(), 2);
    // Outside a request nothing is added.
    core.operational(&admin())
        .and_then(|h| h.users().delete("frank"))
        .unwrap();
    assert_eq!(audit_page(&core, 0, 10).events.len(), 2);
    let _: Option<Arc<audit::RequestAudit>> = None;
}

#[test]
fn failures_are_counted_not_written_one_by_one() {
    let (_dir, core) = open_provisioned();
    for n in 0..10_000u32 {
        let mut e = event(n);
        e.outcome = "denied".into();
        e.status = Some(401);
        e.actor = Some(format!("guess{}", n % 3));
        e.action = "POST /api/v1/users".into();
        e.target = format!("/api/v1/users/{}", "x".repeat(60_000));
        core.record_request(e, audit::Caller::Unauthenticated, "127.0.0.1");
    }
    // An authenticated caller's refusals are recorded one by one, within a budget.
    for n in 0..100u32 {
        let mut e = event(n);
        e.outcome = "denied".into();
        e.status = Some(403);
        e.action = "DELETE /api/v1/users/{UserID}".into();
        core.record_request(e, audit::Caller::Authenticated, "127.0.0.1");
    }
    core.flush_audit();
    let events = audit_page(&core, 0, 1000).events;
    let counted: Vec<_> = events.iter().filter(|e| e.count.is_some()).collect();
    // Besides provisioning's event.
    let single = events.iter().filter(|e| e.count.is_none()).count() - 1;
    assert_eq!(single, audit::REFUSALS_PER_MINUTE as usize);
    // One count for the guesses from one address (claiming three user ids), one for the
    // authenticated caller's refusals past its budget.
    assert_eq!(counted.len(), 2, "{} counted events", counted.len());
    assert!(counted[0].actor.is_none());
    assert!(counted[0].target.contains("several user ids"));
    assert_eq!(counted[1].actor.as_deref(), Some("admin"));
    let total: u64 = counted.iter().map(|e| e.count.unwrap()).sum();
    assert_eq!(total, 10_000 + 100 - u64::from(audit::REFUSALS_PER_MINUTE));
    for e in &events {
        assert!(e.target.chars().count() <= audit::MAX_FIELD_CHARS);
    }
    assert!(audit_report(&core).verified);
}

#[test]
fn the_trail_is_pruned_to_its_bound_and_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CoreSettings {
        audit_max_events: 10,
        ..CoreSettings::default()
    };
    let core = Core::open(dir.path(), settings).unwrap();
    provision(&core);
    for n in 0..45 {
        core.record_audit(event(n));
    }
    let report = audit_report(&core);
    assert!(report.verified, "{report:?}");
    let through = report.pruned_through.expect("pruned");
    assert!(report.events <= 20 && report.events >= 10, "{report:?}");
    assert_eq!(through + report.events, 46, "45 and provisioning's");
    let page = audit_page(&core, 0, 100);
    assert_eq!(page.events[0].seq, through + 1);
    // Without its checkpoint the pruned trail does not verify.
    core.raw.delete("audit/checkpoint").unwrap();
    let r = audit_report(&core);
    assert!(!r.verified);
    assert_eq!(r.broken_at, Some(1));
}

#[test]
fn an_old_format_passkey_window_loads_closed() {
    let (_dir, core) = open_provisioned();
    let client = new_client(&core, "db1");
    let target = passkeys::PasskeyTarget::Client(client.id);
    // As an earlier build stored it: the window's end on the appliance clock, far ahead.
    let verifier = crypto::make_verifier(b"the passkey").unwrap();
    let old = serde_json::json!({
        "verifier": verifier, "history": [verifier], "authorizedUntil": 4_000_000_000i64,
    });
    let u = core.unlocked().unwrap();
    u.data
        .put(
            &passkeys::passkey_path(target),
            &serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
    let state = core
        .operational(&admin())
        .and_then(|h| h.passkeys().client_state(client.id))
        .unwrap();
    assert_eq!((state.enabled, state.authorized_until), (true, None));
    assert_eq!(
        core.operational(&admin())
            .and_then(|h| h.passkeys().restore_decision(client.id, "restore", "test"))
            .unwrap(),
        passkeys::RestoreDecision::PasskeyRequired {
            company_level: false
        }
    );
    // The passkey still works: a new window opens, in the new format.
    let until = core
        .operational(&admin())
        .and_then(|h| {
            h.passkeys().authorize_restore(
                target,
                Some(&Passphrase::new("the passkey")),
                true,
                None,
            )
        })
        .unwrap()
        .unwrap();
    assert!(until <= core.now() + CoreSettings::default().passkey_window);
    assert!(matches!(
        core.operational(&admin())
            .and_then(|h| h.passkeys().restore_decision(client.id, "restore", "test"))
            .unwrap(),
        passkeys::RestoreDecision::Authorized { .. }
    ));
}

#[test]
fn a_store_put_back_as_it_was_is_refused_at_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join(STORE_FILE);
    let old_copy = dir.path().join("old.redb");
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
    }
    std::fs::copy(&store_file, &old_copy).unwrap();
    {
        let core = open_unlocked(dir.path());
        core.record_audit(event(1));
        change_unlock_passphrase(&core);
    }
    // The store file as it was after provisioning, with this node's device key and anchor.
    std::fs::copy(&old_copy, &store_file).unwrap();
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
    assert_eq!(core.state(), SystemState::Locked);
    let refused = core.unlock(&Passphrase::new(UNLOCK)).unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("older than this node's anchor"),
        "{message}"
    );
    assert!(message.contains("ends at event 1"), "{message}");
    assert_eq!(core.state(), SystemState::Locked);
    drop(core);

    // The way out: start accepting it, see it reported, accept it (recorded in the trail).
    let accepting = CoreSettings {
        accept_store_rollback: true,
        ..CoreSettings::default()
    };
    let core = Core::open(dir.path(), accepting).unwrap();
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    let report = audit_report(&core);
    assert!(!report.verified);
    assert!(
        report
            .reason
            .unwrap()
            .contains("older than this node's anchor")
    );
    assert!(matches!(
        core.operational(&operator("x"))
            .and_then(|h| h.audit().accept_rollback()),
        Err(Error::Forbidden)
    ));
    core.operational(&admin())
        .and_then(|h| h.audit().accept_rollback())
        .unwrap();
    assert!(matches!(
        core.operational(&admin())
            .and_then(|h| h.audit().accept_rollback()),
        Err(Error::Conflict(_))
    ));
    assert!(audit_report(&core).verified);
    let events = audit_page(&core, 0, 10).events;
    assert_eq!(events.last().unwrap().action, "store rollback accepted");
    drop(core);
    open_unlocked(dir.path());
}

#[test]
fn an_older_unlock_record_put_back_alone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let old_unlock;
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
        old_unlock = core.raw.get(UNLOCK_PATH).unwrap().unwrap().value.clone();
        change_unlock_passphrase(&core);
        // Put the first unlock record back: the old passphrase would open the store again.
        core.raw.put(UNLOCK_PATH, &old_unlock).unwrap();
    }
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
    let refused = core.unlock(&Passphrase::new(UNLOCK)).unwrap_err();
    assert!(
        refused.to_string().contains("older unlock record"),
        "{refused}"
    );
}

#[test]
fn a_deleted_anchor_or_unlock_record_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
    }
    let anchor = dir.path().join(ANCHOR_FILE);
    let saved = std::fs::read(&anchor).unwrap();
    std::fs::remove_file(&anchor).unwrap();
    let e = Core::open(dir.path(), CoreSettings::default()).unwrap_err();
    assert!(e.to_string().contains("anchor file is missing"), "{e}");
    std::fs::write(&anchor, &saved).unwrap();
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        // Deleting the unlock record would make the node look new, ready to provision again.
        core.raw.delete(UNLOCK_PATH).unwrap();
    }
    let e = Core::open(dir.path(), CoreSettings::default()).unwrap_err();
    assert!(e.to_string().contains("no unlock record"), "{e}");
}

#[test]
fn a_deleted_security_record_is_closed_never_open() {
    use crate::passkeys::{PasskeyChange, PasskeyOp, PasskeyTarget, RestoreDecision};
    let (_dir, core) = open_provisioned();
    let root = admin();
    let client = new_client(&core, "db1");
    let create = |target| {
        core.operational(&root)
            .and_then(|h| {
                h.passkeys().set(
                    target,
                    PasskeyChange {
                        op: PasskeyOp::Create,
                        current: None,
                        new: Some(&Passphrase::new("a passkey of ours")),
                        confirm: None,
                    },
                )
            })
            .unwrap()
    };
    create(PasskeyTarget::Client(client.id));
    create(PasskeyTarget::Company(0));
    let decide = || {
        core.operational(&root)
            .and_then(|h| h.passkeys().restore_decision(client.id, "restore", "test"))
            .unwrap()
    };
    assert!(!decide().allowed());

    // Someone who can write the store deletes the passkey records: still closed.
    core.raw.delete("passkeys/client/0000000001").unwrap();
    core.raw.delete("passkeys/company/0000000000").unwrap();
    assert_eq!(
        decide(),
        RestoreDecision::PasskeyRequired {
            company_level: false
        }
    );
    // Authorizing without the record cannot succeed either.
    assert!(matches!(
        core.operational(&root)
            .and_then(|h| h.passkeys().authorize_restore(
                PasskeyTarget::Client(client.id),
                Some(&Passphrase::new("a passkey of ours")),
                true,
                None,
            )),
        Err(Error::Precondition(_))
    ));

    // A client without a passkey, with the company record deleted: closed too.
    let other = new_client(&core, "db2");
    core.raw.delete("companies/0000000000").unwrap();
    assert_eq!(
        core.operational(&root)
            .and_then(|h| h.passkeys().restore_decision(other.id, "restore", "test"))
            .unwrap(),
        RestoreDecision::PasskeyRequired {
            company_level: true
        }
    );

    // The backup key record deleted: no passphrase can be set without a current one.
    core.raw.delete("config/backup-key").unwrap();
    assert!(matches!(
        core.operational(&root).and_then(|h| h
            .system()
            .set_backup_passphrase(&Passphrase::new("a new backup passphrase"), None)),
        Err(Error::WrongPassphrase(_))
    ));
    assert!(matches!(
        core.operational(&Principal::new("backup", Role::Backup))
            .and_then(|h| h.backup().prepare()),
        Err(Error::Precondition(_))
    ));
}

#[test]
fn a_store_from_before_owner_records_is_brought_up_to_date() {
    use crate::passkeys::{PasskeyChange, PasskeyOp, PasskeyTarget};
    let (_dir, core) = open_provisioned();
    let root = admin();
    let client = new_client(&core, "db1");
    core.operational(&root)
        .and_then(|h| {
            h.passkeys().set(
                PasskeyTarget::Client(client.id),
                PasskeyChange {
                    op: PasskeyOp::Create,
                    current: None,
                    new: Some(&Passphrase::new("a passkey of ours")),
                    confirm: None,
                },
            )
        })
        .unwrap();
    // Make the store look as an older build left it.
    let u = core.unlocked().unwrap();
    let path = "clients/0000000001";
    let mut legacy: serde_json::Value =
        serde_json::from_slice(&u.data.get(path).unwrap().unwrap().value).unwrap();
    legacy.as_object_mut().unwrap().remove("passkeySet");
    u.data
        .put(path, &serde_json::to_vec(&legacy).unwrap())
        .unwrap();
    core.raw.delete("companies/0000000000").unwrap();
    core.raw.delete("config/backup-key").unwrap();

    core.ensure_owner_records(&u.data).unwrap();
    // The old build's "no backup passphrase yet" still lets the first one be set.
    core.operational(&root)
        .and_then(|h| {
            h.system()
                .set_backup_passphrase(&Passphrase::new("the first backup passphrase"), None)
        })
        .unwrap();
    assert!(
        core.operational(&root)
            .and_then(|h| h.passkeys().company_settings())
            .unwrap()
            .allow_users_to_enable_passkey
    );
    core.raw.delete("passkeys/client/0000000001").unwrap();
    assert!(
        !core
            .operational(&root)
            .and_then(|h| h.passkeys().restore_decision(client.id, "restore", "test"))
            .unwrap()
            .allowed()
    );
}

#[test]
fn a_full_restore_anchors_to_the_trail_its_header_names() {
    let (_a_dir, a) = open_provisioned();
    a.record_audit(event(1));
    a.operational(&admin())
        .and_then(|h| {
            h.system()
                .set_backup_passphrase(&Passphrase::new("backup passphrase 1"), None)
        })
        .unwrap();
    let job = a
        .operational(&Principal::new("backup", Role::Backup))
        .and_then(|h| h.backup().prepare())
        .unwrap();
    let bytes = job.write_to(Vec::new()).unwrap();
    let head = a
        .operational(&admin())
        .and_then(|h| h.audit().events(0, 100))
        .unwrap()
        .events
        .last()
        .unwrap()
        .clone();

    let (_b_dir, b) = restored(&bytes);
    let anchor = b.anchor.get().unwrap();
    assert!(!anchor.adopt, "anchored from the header, not on trust");
    assert_eq!((anchor.audit_seq, anchor.audit_hash), (head.seq, head.hash));
    b.unlock(&Passphrase::new(UNLOCK)).unwrap();
    assert!(
        b.operational(&admin())
            .and_then(|h| h.audit().verify())
            .unwrap()
            .verified
    );
}

#[test]
fn a_login_checked_before_a_passphrase_change_opens_no_session() {
    use crate::sessions::SessionKind;
    let (_dir, core) = open_provisioned();
    let old = Passphrase::new("first passphrase");
    create_operator(&core, "alice", &old);
    // The interleaving: the login's check passes on the old passphrase (once by Argon2, once
    // from the cache), then the change ends alice's sessions, then the login opens its session.
    let checked = core.authenticate("alice", old.as_bytes()).unwrap();
    let cached = core.authenticate_cached("alice", old.as_bytes()).unwrap();
    let live = core
        .open_session(SessionKind::BackupClient, checked.clone())
        .unwrap();
    let new = Passphrase::new("second passphrase");
    core.operational(&admin())
        .and_then(|h| h.users().set_passphrase("alice", &new))
        .unwrap();
    for late in [checked, cached] {
        for kind in [SessionKind::BackupClient, SessionKind::Appliance] {
            assert!(matches!(
                core.open_session(kind, late.clone()),
                Err(Error::Unauthenticated)
            ));
        }
    }
    assert!(core.session(SessionKind::BackupClient, &live.0).is_err());
    // A login with the new passphrase opens one.
    let fresh = core.authenticate("alice", new.as_bytes()).unwrap();
    let t = core.open_session(SessionKind::BackupClient, fresh).unwrap();
    assert_eq!(
        core.session(SessionKind::BackupClient, &t.0).unwrap(),
        operator("alice")
    );
    // Deleting the user closes the same gap.
    let before = core.authenticate("alice", new.as_bytes()).unwrap();
    core.operational(&admin())
        .and_then(|h| h.users().delete("alice"))
        .unwrap();
    assert!(matches!(
        core.open_session(SessionKind::Appliance, before),
        Err(Error::Unauthenticated)
    ));
}

#[test]
fn renewal_does_not_extend_a_session_past_its_lifetime() {
    use crate::sessions::SessionKind;
    let dir = tempfile::tempdir().unwrap();
    let (clock, manual) = crate::clock::Clock::manual();
    let settings = CoreSettings {
        session_idle: Duration::from_secs(60),
        session_max: Duration::from_secs(600),
        clock: clock.clone(),
        ..CoreSettings::default()
    };
    let core = Core::open(dir.path(), settings).unwrap();
    provision(&core);
    let started = clock.instant();
    let mut token = core
        .open_session(SessionKind::BackupClient, admin())
        .unwrap();
    let mut renewed = 0;
    // Used and renewed well within the idle time, over and over.
    while clock.since(started) < Duration::from_secs(500) {
        manual.advance(Duration::from_secs(50));
        core.session(SessionKind::BackupClient, &token.0).unwrap();
        token = core
            .renew_session(SessionKind::BackupClient, &token.0)
            .unwrap();
        renewed += 1;
    }
    assert!(renewed >= 3);
    manual.advance(Duration::from_secs(650).saturating_sub(clock.since(started)));
    assert!(matches!(
        core.session(SessionKind::BackupClient, &token.0),
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        core.renew_session(SessionKind::BackupClient, &token.0),
        Err(Error::Unauthenticated)
    ));
    // A new login starts a new lifetime.
    let t = core
        .open_session(SessionKind::BackupClient, admin())
        .unwrap();
    assert!(core.session(SessionKind::BackupClient, &t.0).is_ok());
}

#[test]
fn parallel_wrong_passkeys_are_each_counted_and_checked_one_at_a_time() {
    use passkeys::{PasskeyChange, PasskeyError, PasskeyOp, PasskeyTarget};
    let (_dir, core) = open_provisioned();
    let client = new_client(&core, "db1");
    let target = PasskeyTarget::Client(client.id);
    let right = Passphrase::new("the right passkey");
    core.operational(&admin())
        .and_then(|h| {
            h.passkeys().set(
                target,
                PasskeyChange {
                    op: PasskeyOp::Create,
                    current: None,
                    new: Some(&right),
                    confirm: None,
                },
            )
        })
        .unwrap();
    const N: usize = 16;
    let barrier = std::sync::Barrier::new(N);
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (core, barrier) = (&core, &barrier);
                s.spawn(move || {
                    let guess = Passphrase::new(format!("wrong guess {i}"));
                    barrier.wait();
                    core.operational(&admin()).and_then(|h| {
                        h.passkeys()
                            .authorize_restore(target, Some(&guess), true, None)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut checked = 0;
    for o in &outcomes {
        match o {
            Err(Error::Passkey(PasskeyError::WrongPasskey)) => checked += 1,
            Err(Error::Passkey(PasskeyError::RateLimited)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    // Every guess that was checked is counted; not every parallel guess got a check.
    assert!(checked >= 1);
    assert!(checked < N, "all {N} parallel guesses were checked");
    assert_eq!(core.passkey_guard.failures(target), checked as u32);
    // The delay follows the count: guesses go on until three failures, then even the right
    // passkey waits.
    while checked < 3 {
        assert!(matches!(
            core.operational(&admin())
                .and_then(|h| h.passkeys().authorize_restore(
                    target,
                    Some(&Passphrase::new("one more wrong guess")),
                    true,
                    None
                )),
            Err(Error::Passkey(PasskeyError::WrongPasskey))
        ));
        checked += 1;
    }
    assert_eq!(checked, 3, "a fourth guess was checked inside the delay");
    assert!(matches!(
        core.operational(&admin())
            .and_then(|h| h
                .passkeys()
                .authorize_restore(target, Some(&right), true, None)),
        Err(Error::Passkey(PasskeyError::RateLimited))
    ));
    assert_eq!(core.passkey_guard.failures(target), 3);
}

#[test]
fn a_backup_in_progress_stops_when_the_node_locks() {
    let (_dir, core) = open_provisioned();
    set_backup_passphrase(&core);
    let backup = Principal::new("backup", Role::Backup);
    // Unlocked: a backup is written whole.
    let whole = core
        .operational(&backup)
        .and_then(|h| h.backup().prepare())
        .unwrap()
        .write_to(Vec::new());
    assert!(whole.unwrap().len() > 100);
    let job = core
        .operational(&backup)
        .and_then(|h| h.backup().prepare())
        .unwrap();
    let forgotten = job.key_forgotten();
    assert!(!forgotten.is_set());
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    assert!(forgotten.is_set(), "the lock tells the backup");
    assert!(matches!(
        job.write_to(Vec::new()),
        Err(Error::WrongState(SystemState::Locked))
    ));
}

fn audit_actions(core: &Core) -> Vec<(String, String)> {
    audit_page(core, 0, 1000)
        .events
        .into_iter()
        .map(|e| (e.action, e.target))
        .collect()
}

#[test]
fn an_unlock_key_with_older_parameters_is_derived_again_at_unlock() {
    let (_dir, core) = open_provisioned();
    let current: UnlockRecord =
        serde_json::from_slice(&core.raw.get(UNLOCK_PATH).unwrap().unwrap().value).unwrap();
    assert_eq!(
        current.kdf.memory_kib,
        256 * 1024,
        "the default is the strong one"
    );
    assert_eq!(current.kdf.iterations, 3);
    // The record an earlier build wrote: 64 MiB, 3 passes.
    let mut old_kdf = KdfParams::new_for_key();
    old_kdf.memory_kib = 64 * 1024;
    let unlock_key = old_kdf.derive(UNLOCK.as_bytes()).unwrap();
    let domain_key = core.domain_key_for_test().unwrap();
    let keys = core.unlocked().unwrap().keys();
    let old = UnlockRecord::with_keys(old_kdf, &unlock_key, &keys);
    core.raw.put(UNLOCK_PATH, &json(&old).unwrap()).unwrap();
    // As if an earlier build had written it: this node's anchor knew it.
    let mut anchored = core.anchor.get().unwrap();
    anchored.unlock_digest = core.unlock_digest().unwrap();
    core.anchor.set(anchored).unwrap();
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    let upgraded: UnlockRecord =
        serde_json::from_slice(&core.raw.get(UNLOCK_PATH).unwrap().unwrap().value).unwrap();
    assert!(upgraded.kdf.is_current());
    assert_ne!(upgraded.kdf.salt, old.kdf.salt);
    assert!(audit_actions(&core).contains(&("upgrade key derivation".into(), UNLOCK_PATH.into())));
    // The same passphrase opens the new record, and the same domain key is inside.
    core.operational(&admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    core.unlock(&Passphrase::new(UNLOCK)).unwrap();
    assert_eq!(core.domain_key_for_test().unwrap(), domain_key);
}

#[test]
fn a_verifier_with_older_parameters_is_made_again_at_login() {
    use argon2::PasswordHasher;
    let (_dir, core) = open_provisioned();
    let pass = Passphrase::new("alice passphrase");
    create_operator(&core, "alice", &pass);
    // A verifier an earlier build made: 8 MiB, 1 pass.
    let params = argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
    let old = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(pass.as_bytes(), &[3u8; 16])
        .unwrap()
        .to_string();
    let u = core.unlocked().unwrap();
    let (mut record, _) = core.read_user(&u, "alice").unwrap().unwrap();
    record.verifier = old.clone();
    record.history = vec![old.clone()];
    u.data
        .put(&user_path("alice"), &json(&record).unwrap())
        .unwrap();
    // A wrong passphrase upgrades nothing.
    assert!(
        core.authenticate("alice", b"not alice's passphrase")
            .is_err()
    );
    assert_eq!(
        core.read_user(&u, "alice").unwrap().unwrap().0.verifier,
        old
    );
    core.authenticate("alice", pass.as_bytes()).unwrap();
    let (record, _) = core.read_user(&u, "alice").unwrap().unwrap();
    assert_ne!(record.verifier, old);
    assert!(crypto::verifier_is_current(&record.verifier));
    assert_eq!(record.history, vec![record.verifier.clone()]);
    assert!(crypto::check_verifier(pass.as_bytes(), &record.verifier).unwrap());
    assert!(
        audit_actions(&core).contains(&("upgrade key derivation".into(), "users/alice".into()))
    );
}

/// A crash between the store's first claim of an anchor and the anchor's own write leaves a
/// node that starts, either way round.
#[test]
fn a_crash_around_the_first_anchoring_never_stops_the_start() {
    let adopt = crate::anchor::AnchorState {
        provisioned: true,
        adopt: true,
        ..Default::default()
    };
    // After the provisioning commit, before its anchor was written: the interim anchor.
    let dir = tempfile::tempdir().unwrap();
    {
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        provision(&core);
    }
    let device = device::load_or_create(&dir.path().join(DEVICE_KEY_FILE), false, false).unwrap();
    crate::anchor::Anchor::open(Some(dir.path()), &device)
        .unwrap()
        .set(adopt.clone())
        .unwrap();
    let core = open_unlocked(dir.path());
    assert!(!core.anchor.get().unwrap().adopt, "anchored to the store");
    assert!(audit_report(&core).verified);
    drop(core);

    // Before a provisioning that never committed: the interim anchor is dropped.
    let dir = tempfile::tempdir().unwrap();
    drop(Core::open(dir.path(), CoreSettings::default()).unwrap());
    let device = device::load_or_create(&dir.path().join(DEVICE_KEY_FILE), false, false).unwrap();
    crate::anchor::Anchor::open(Some(dir.path()), &device)
        .unwrap()
        .set(adopt)
        .unwrap();
    let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
    assert_eq!(core.state(), SystemState::Unprovisioned);
    assert!(!dir.path().join(ANCHOR_FILE).exists());
    provision(&core);
}

#[test]
fn only_root_administrators_and_root_backup_users_get_a_restore_decision() {
    let (_dir, core) = open_provisioned();
    let client = new_client(&core, "db1");
    let decide = |who: &Principal| {
        core.operational(who).and_then(|h| {
            h.passkeys()
                .restore_decision(client.id, "restore", "req-decision")
        })
    };
    for who in [admin(), Principal::new("backup", Role::Backup)] {
        assert_eq!(
            decide(&who).unwrap(),
            passkeys::RestoreDecision::NoPasskey,
            "{who:?}"
        );
    }
    // A namespace owns no backup clients: its Backup user (and its Administrator) are refused,
    // as are the other roles of the root namespace.
    for who in [
        Principal::new("ns1~backup", Role::Backup),
        Principal::new("ns1~admin", Role::Administrator),
        Principal::new("op", Role::Operator),
        Principal::new("metrics", Role::Metrics),
    ] {
        assert!(
            matches!(decide(&who), Err(Error::Forbidden)),
            "{who:?} was not refused"
        );
    }
    // Each answer is one event of the core's own, tied to the request that asked; a refusal
    // is no decision and writes none.
    let events = audit_page(&core, 0, 1000).events;
    let decisions: Vec<_> = events
        .iter()
        .filter(|e| e.action == "restore decision: restore")
        .collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    for (e, actor) in decisions.iter().zip(["admin", "backup"]) {
        assert_eq!(e.actor.as_deref(), Some(actor));
        assert_eq!(
            (e.face.as_str(), e.outcome.as_str(), e.status),
            ("strongroom", "allowed", None)
        );
        assert_eq!(e.target, format!("client {}", client.id));
        assert_eq!(e.request_id, "req-decision");
    }
}

#[test]
fn the_core_reports_passkey_failures_without_any_face_s_words() {
    use passkeys::PasskeyError as P;
    for e in [
        P::Privileges,
        P::UnknownClient,
        P::UnknownCompany,
        P::UnknownOpType,
        P::NotBase64,
        P::Malformed,
        P::ConfirmMismatch,
        P::WrongPasskey,
        P::AlreadySet,
        P::NotSet,
        P::TooWeak,
        P::UsersMayNotEnable,
        P::RateLimited,
    ] {
        let text = Error::from(e).to_string();
        assert!(!text.is_empty());
        for word in ["CommCell", "Commvault", "passkeyOpType", "JSON", "5872"] {
            assert!(!text.contains(word), "{e:?}: {text}");
        }
    }
}

#[test]
fn an_authenticated_callers_refusal_budget_renews_each_minute_of_the_core_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, manual) = crate::clock::Clock::manual();
    let settings = CoreSettings {
        clock,
        ..CoreSettings::default()
    };
    let core = Core::open(dir.path(), settings).unwrap();
    provision(&core);
    let refuse = |n: u32| {
        let mut e = event(n);
        e.outcome = "denied".into();
        e.status = Some(403);
        e.action = "DELETE /api/v1/users/{UserID}".into();
        core.record_request(e, audit::Caller::Authenticated, "127.0.0.1");
    };
    let singles = || {
        core.flush_audit();
        core.operational(&admin())
            .and_then(|h| h.audit().events(0, 1000))
            .unwrap()
            .events
            .iter()
            .filter(|e| e.count.is_none() && e.outcome == "denied")
            .count()
    };
    let budget = audit::REFUSALS_PER_MINUTE;
    for n in 0..budget + 5 {
        refuse(n);
    }
    assert_eq!(
        singles(),
        budget as usize,
        "past the budget, refusals are counted"
    );
    // 59 s later the minute is not over: still counted.
    manual.advance(Duration::from_secs(59));
    refuse(100);
    assert_eq!(singles(), budget as usize);
    // A minute after the first refusal, the budget starts again.
    manual.advance(Duration::from_secs(1));
    for n in 0..budget + 3 {
        refuse(200 + n);
    }
    assert_eq!(singles(), 2 * budget as usize);
}
