//! The stored sessions' per-user index, on two cluster cores sharing one store (redb, wrapped
//! so that the test sees which prefixes each login reads).

use std::sync::{Arc, Mutex};

use strongroom_store::redb::RedbStore;
use strongroom_store::{Check, Commit, DynStore, Entry, Op, Page, Snapshot, Store, Txn};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::secret::Passphrase;
use crate::sessions::SessionKind;
use crate::tests::{UNLOCK, provision};
use crate::{Core, CoreSettings};

/// The shared store, noting the prefix of every scan.
struct Recording {
    inner: RedbStore,
    scans: Mutex<Vec<String>>,
}

impl Recording {
    fn take_scans(&self) -> Vec<String> {
        std::mem::take(&mut *self.scans.lock().unwrap())
    }
}

impl Store for Recording {
    fn get(&self, key: &str) -> strongroom_store::Result<Option<Entry>> {
        self.inner.get(key)
    }
    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> strongroom_store::Result<Page> {
        self.scans.lock().unwrap().push(prefix.to_owned());
        self.inner.scan(prefix, start_after, limit)
    }
    fn commit(&self, txn: Txn) -> strongroom_store::Result<Commit> {
        self.inner.commit(txn)
    }
    fn snapshot(&self) -> strongroom_store::Result<Box<dyn Snapshot>> {
        self.inner.snapshot()
    }
    fn watch(&self, prefix: &str) -> strongroom_store::Result<strongroom_store::watch::Watcher> {
        self.inner.watch(prefix)
    }
    fn sync_point(&self) -> strongroom_store::Result<u64> {
        self.inner.sync_point()
    }
    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = strongroom_store::Result<Op>>,
    ) -> strongroom_store::Result<Commit> {
        self.inner.commit_iter(checks, ops)
    }
}

struct Nodes {
    _dir: tempfile::TempDir,
    store: Arc<Recording>,
    clock: ManualClock,
    one: Core,
    two: Core,
}

/// Two Operational nodes of one cluster on one shared store, with one manual clock.
fn two_nodes() -> Nodes {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Recording {
        inner: RedbStore::open(&dir.path().join("shared.redb")).unwrap(),
        scans: Mutex::new(Vec::new()),
    });
    let (clock, manual) = Clock::manual();
    let open = |name: &str| {
        let settings = CoreSettings {
            clock: clock.clone(),
            ..CoreSettings::default()
        };
        let shared: DynStore = store.clone();
        Core::open_cluster(&dir.path().join(name), shared, settings).unwrap()
    };
    let one = open("one");
    provision(&one);
    let two = open("two");
    two.unlock(&Passphrase::new(UNLOCK)).unwrap();
    Nodes {
        _dir: dir,
        store,
        clock: manual,
        one,
        two,
    }
}

fn user(id: &str) -> Principal {
    Principal::new(id, Role::Operator)
}

/// Keys of the shared store under `prefix` (below the nodes' `shared/`).
fn keys_under(store: &Recording, prefix: &str) -> Vec<String> {
    store
        .inner
        .scan_prefix(&format!("shared/{prefix}"))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// A login reads its own user's index of its face, not every session; the cap of
/// [`SESSIONS_PER_USER`] holds across the nodes, the oldest ending first, whichever node made
/// them; the other face and the other users keep theirs.
#[test]
fn a_login_reads_only_its_users_sessions_and_the_cap_holds_across_nodes() {
    let n = two_nodes();
    let alice = user("alice");
    // Logins alternate between the nodes.
    let tokens: Vec<_> = (0..SESSIONS_PER_USER + 6)
        .map(|i| {
            let node = if i % 2 == 0 { &n.one } else { &n.two };
            n.clock.advance(Duration::from_millis(2));
            node.open_session(SessionKind::Appliance, alice.clone())
                .unwrap()
        })
        .collect();
    let bob = n
        .two
        .open_session(SessionKind::Appliance, user("bob"))
        .unwrap();
    let alice_qsdk = n
        .one
        .open_session(SessionKind::BackupClient, alice.clone())
        .unwrap();
    for (i, t) in tokens.iter().enumerate() {
        for node in [&n.one, &n.two] {
            let on = node.session(SessionKind::Appliance, &t.0);
            if i < 6 {
                assert!(on.is_err(), "session {i} was among the oldest: ended");
            } else {
                assert_eq!(on.unwrap(), alice, "session {i}");
            }
        }
    }
    assert!(n.one.session(SessionKind::Appliance, &bob.0).is_ok());
    assert!(
        n.two
            .session(SessionKind::BackupClient, &alice_qsdk.0)
            .is_ok()
    );
    // Records and index entries match: the cap's endings took both.
    assert_eq!(
        keys_under(&n.store, SESSIONS_PREFIX).len(),
        SESSIONS_PER_USER + 2
    );
    assert_eq!(
        keys_under(&n.store, SESSION_INDEX_PREFIX).len(),
        SESSIONS_PER_USER + 2
    );

    // Within the walk's period, a login reads its user's index of its face only.
    n.store.take_scans();
    n.two
        .open_session(SessionKind::BackupClient, user("bob"))
        .unwrap();
    // (Each scan reads the shared prefix and this node's own, `NodeScoped`'s way.)
    let scans = n.store.take_scans();
    let own = index_prefix("bob", StoredKind::BackupClient);
    assert!(
        !scans.is_empty() && scans.iter().all(|p| p.ends_with(&own)),
        "{scans:?}"
    );

    // A logout on one node ends the session everywhere, its index entry with it.
    n.one.close_session(SessionKind::Appliance, &bob.0).unwrap();
    assert!(n.two.session(SessionKind::Appliance, &bob.0).is_err());
    assert!(keys_under(&n.store, &index_prefix("bob", StoredKind::Appliance)).is_empty());
}

/// Sessions nobody uses again are swept, record and index entry, by the walk a login makes
/// once per [`WALK_EVERY`]; a renewal moves the index entry with the token.
#[test]
fn the_walk_sweeps_sessions_nobody_uses_again() {
    let n = two_nodes();
    let carol = user("carol");
    let idle: Vec<_> = (0..5)
        .map(|_| {
            n.one
                .open_session(SessionKind::BackupClient, carol.clone())
                .unwrap()
        })
        .collect();
    let kept = n
        .two
        .open_session(SessionKind::BackupClient, user("dave"))
        .unwrap();
    let renewed = n
        .two
        .renew_session(SessionKind::BackupClient, &kept.0)
        .unwrap();
    assert!(n.one.session(SessionKind::BackupClient, &kept.0).is_err());
    assert!(n.one.session(SessionKind::BackupClient, &renewed.0).is_ok());
    assert_eq!(keys_under(&n.store, SESSION_INDEX_PREFIX).len(), 6);

    // Past the idle time (dave's used just before): carol's are expired, not yet swept.
    n.clock.advance(Duration::from_secs(29 * 60));
    assert!(n.two.session(SessionKind::BackupClient, &renewed.0).is_ok());
    n.clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(keys_under(&n.store, SESSIONS_PREFIX).len(), 6);
    // A login of someone else on node 2, past the walk's period: the walk sweeps them.
    n.store.take_scans();
    n.two
        .open_session(SessionKind::Appliance, user("erin"))
        .unwrap();
    assert!(
        n.store
            .take_scans()
            .contains(&format!("shared/{SESSIONS_PREFIX}")),
        "the walk reads every record"
    );
    for t in &idle {
        assert!(n.one.session(SessionKind::BackupClient, &t.0).is_err());
    }
    assert!(n.one.session(SessionKind::BackupClient, &renewed.0).is_ok());
    assert!(keys_under(&n.store, &index_prefix("carol", StoredKind::BackupClient)).is_empty());
    // dave's (renewed) and erin's remain, each with its entry.
    assert_eq!(keys_under(&n.store, SESSIONS_PREFIX).len(), 2);
    assert_eq!(keys_under(&n.store, SESSION_INDEX_PREFIX).len(), 2);

    // A lock ends every session and empties the index.
    n.one
        .operational(&crate::tests::admin())
        .and_then(|h| h.system().lock())
        .unwrap();
    assert!(keys_under(&n.store, SESSIONS_PREFIX).is_empty());
    assert!(keys_under(&n.store, SESSION_INDEX_PREFIX).is_empty());
}
