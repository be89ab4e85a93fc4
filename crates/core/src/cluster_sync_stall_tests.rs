//! The confirming thread reopens a stalled feed, on two cluster cores sharing one store whose
//! change feed can be held back: connected, delivering nothing, as an etcd watch on a member
//! cut off from the others. Only the feed tells a node that another one locked, so the lock
//! reaches the second node only if its feed is reopened ([`Store::restart_watch`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use strongroom_store::redb::RedbStore;
use strongroom_store::watch::{ChangeFeed, Watcher};
use strongroom_store::{
    Change, Check, Commit, DynStore, Entry, Op, Page, Result as StoreResult, Snapshot, Store, Txn,
};

use crate::secret::Passphrase;
use crate::tests::{UNLOCK, admin, provision};
use crate::{Core, CoreSettings, SystemState};

/// A redb store whose watchers are fed by a relay that holds changes back while `stalled`;
/// a restart asked for lifts the stall (a watch reopened on a live member).
struct Stalling {
    inner: Arc<RedbStore>,
    feed: Arc<ChangeFeed>,
    stalled: Arc<AtomicBool>,
    restarts: AtomicUsize,
}

impl Stalling {
    fn new(inner: RedbStore) -> Arc<Self> {
        let inner = Arc::new(inner);
        let feed = Arc::new(ChangeFeed::new());
        let stalled = Arc::new(AtomicBool::new(false));
        let source = inner.watch("").unwrap();
        let relay = (Arc::downgrade(&feed), stalled.clone());
        std::thread::spawn(move || relay_changes(source, relay.0, relay.1));
        Arc::new(Self {
            inner,
            feed,
            stalled,
            restarts: AtomicUsize::new(0),
        })
    }
}

/// Publishes the source's changes to `feed`, one write per revision, except while `stalled`.
fn relay_changes(source: Watcher, feed: Weak<ChangeFeed>, stalled: Arc<AtomicBool>) {
    let mut held: Vec<Change> = Vec::new();
    loop {
        match source.recv_timeout(Duration::from_millis(5)) {
            Ok(Some(change)) => held.push(change),
            Ok(None) => {}
            Err(_) => return,
        }
        let Some(feed) = feed.upgrade() else { return };
        if stalled.load(Ordering::Acquire) {
            continue;
        }
        while !held.is_empty() {
            let revision = held[0].revision;
            let mut write = feed.begin_write();
            let split = held
                .iter()
                .position(|c| c.revision != revision)
                .unwrap_or(held.len());
            for change in held.drain(..split) {
                write.record(&change.key, change.kind);
            }
            write.publish(revision);
        }
    }
}

impl Store for Stalling {
    fn get(&self, key: &str) -> StoreResult<Option<Entry>> {
        self.inner.get(key)
    }
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> StoreResult<Page> {
        self.inner.scan(prefix, start_after, limit)
    }
    fn commit(&self, txn: Txn) -> StoreResult<Commit> {
        self.inner.commit(txn)
    }
    fn snapshot(&self) -> StoreResult<Box<dyn Snapshot>> {
        self.inner.snapshot()
    }
    fn watch(&self, prefix: &str) -> StoreResult<Watcher> {
        Ok(self.feed.watch(prefix))
    }
    fn sync_point(&self) -> StoreResult<u64> {
        self.inner.sync_point()
    }
    fn restart_watch(&self) {
        self.restarts.fetch_add(1, Ordering::AcqRel);
        self.stalled.store(false, Ordering::Release);
    }
    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = StoreResult<Op>>,
    ) -> StoreResult<Commit> {
        self.inner.commit_iter(checks, ops)
    }
}

fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_stalled_feed_is_reopened_and_brings_a_lock_made_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = Stalling::new(RedbStore::open(&dir.path().join("shared.redb")).unwrap());
    let open = |name: &str| {
        let shared: DynStore = store.clone();
        Arc::new(
            Core::open_cluster(&dir.path().join(name), shared, CoreSettings::default()).unwrap(),
        )
    };
    let one = open("one");
    provision(&one);
    let two = open("two");
    two.unlock(&Passphrase::new(UNLOCK)).unwrap();
    two.follow_cluster().unwrap();
    eventually("node two trusts its caches", || two.caches_trusted());

    store.stalled.store(true, Ordering::Release);
    one.operational(&admin()).unwrap().system().lock().unwrap();
    eventually("the lock on node one reaches node two", || {
        two.state() == SystemState::Locked
    });
    assert!(
        store.restarts.load(Ordering::Acquire) >= 1,
        "the feed came back because it was reopened"
    );
}
