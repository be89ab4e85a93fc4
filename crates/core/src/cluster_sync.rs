//! Cluster mode: when a node may answer from what it holds in memory (cached verifications,
//! parsed keys) without asking etcd.
//!
//! The caches follow the store's change feed ([`crate::cluster`]): a change of a user, a
//! namespace or a key drops what was cached of it. That makes a cache coherent only as far
//! as the feed has come. So a node trusts its caches only while it has *confirmed*, less
//! than [`TRUST_FOR`] ago, that the feed had brought and the follower had applied every
//! commit acknowledged anywhere before that moment:
//!
//! - every [`SYNC_EVERY`], a thread takes the store's sync point (one linearizable read of
//!   etcd's revision, and, only when etcd's revision moved without an event under the
//!   store's prefix, one write of the store's mark: see [`Store::sync_point`]), then waits
//!   until the follower has applied every change up to it ([`CacheSync::note_applied`]); the
//!   moment it *took* the point is then the confirmed moment;
//! - the node's own commits count too: until the follower has applied this node's last
//!   commit, the caches are not trusted, so a request after a write on the same node never
//!   meets what the write changed (a local write drops its own entries as well).
//!
//! A feed that stops short of the sync points while etcd answers (a watch still connected to
//! a member that no longer receives commits) is reopened: the thread asks the store to
//! restart its watch from the first revision not delivered ([`Store::restart_watch`]), at
//! once, then after a wait that doubles while the stall lasts, so that trust, and what the
//! feed brings (a lock made elsewhere), come back by themselves.
//!
//! While trusted, a signature uses the parsed key without reading its record, a cached
//! verification is used without reading the user, and a stored session, or an Operator's
//! tags, are taken from what the node follows of their records ([`crate::followed`]). When not (the feed down or lagging, etcd
//! slow or away), each request reads etcd as before: the record's revision decides whether
//! the parse or the verification still stands. A change made on another node is therefore
//! refused here as soon as the feed brings it, and at the latest [`TRUST_FOR`] after it was
//! acknowledged, however the feed fails.
//!
//! [`Store::sync_point`]: strongroom_store::Store::sync_point
//! [`Store::restart_watch`]: strongroom_store::Store::restart_watch

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strongroom_store::{
    Check, Commit, DynStore, Op, Page, Result as StoreResult, Snapshot, Store, Txn, Watcher,
};

use crate::Core;

/// How often a node confirms its caches are coherent.
pub const SYNC_EVERY: Duration = Duration::from_millis(250);
/// How long a confirmation lets the caches answer: the bound on how late a change made on
/// another node can be refused here when the feed fails silently.
pub const TRUST_FOR: Duration = Duration::from_secs(1);
/// How long the confirming thread waits for the follower to reach a sync point.
const APPLY_PATIENCE: Duration = TRUST_FOR;
/// Between two looks at the follower's progress.
const APPLY_POLL: Duration = Duration::from_millis(2);
/// No confirmation yet.
const NEVER: u64 = u64::MAX;
/// How long after asking the store to reopen a stalled watch the confirming thread waits
/// before it asks again, the first time; the wait doubles up to [`RESTART_MAX`] while the
/// feed stays stalled, and starts over once a confirmation succeeds.
const RESTART_FIRST: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(30);

/// Where a node's caches stand against the store (see the module documentation).
pub(crate) struct CacheSync {
    epoch: Instant,
    /// Every change of every commit up to this revision has been applied to the caches.
    applied: AtomicU64,
    /// The highest revision of a commit this node made (shared with [`LocalCommits`]).
    local: Arc<AtomicU64>,
    /// When the last confirmed sync point was taken, in milliseconds since `epoch`.
    confirmed_ms: AtomicU64,
    /// Whether the store's watch is connected ([`Watcher::liveness`]): a broken one ends the
    /// trust at once, not at the end of [`TRUST_FOR`].
    feed_live: Arc<AtomicBool>,
}

impl CacheSync {
    pub(crate) fn new(local: Arc<AtomicU64>, feed_live: Arc<AtomicBool>) -> Self {
        Self {
            epoch: Instant::now(),
            applied: AtomicU64::new(0),
            local,
            confirmed_ms: AtomicU64::new(NEVER),
            feed_live,
        }
    }

    /// The follower has applied every change up to `revision`.
    pub(crate) fn note_applied(&self, revision: u64) {
        self.applied.fetch_max(revision, Ordering::AcqRel);
    }

    fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    fn confirm(&self, taken: Instant) {
        let ms = taken.duration_since(self.epoch).as_millis() as u64;
        // `fetch_max` would keep NEVER: it is the largest value.
        let _ = self
            .confirmed_ms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old == NEVER || ms > old).then_some(ms)
            });
    }

    /// Whether the caches may answer without a read of the store.
    pub(crate) fn trusted(&self) -> bool {
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        if confirmed == NEVER {
            return false;
        }
        let at = self.epoch + Duration::from_millis(confirmed);
        at.elapsed() <= TRUST_FOR
            && self.feed_live.load(Ordering::Acquire)
            && self.applied() >= self.local.load(Ordering::Acquire)
    }
}

impl Core {
    /// Whether this node may answer from its caches without reading the store: always on a
    /// single node; in cluster mode while the store answers and the change feed is confirmed
    /// (see the module documentation).
    pub(crate) fn caches_trusted(&self) -> bool {
        match &self.cluster {
            None => true,
            Some(c) => c.health.fresh() && c.sync.trusted(),
        }
    }

    /// One confirmation: takes the store's sync point and waits (bounded) for the follower
    /// to apply it.
    fn confirm_sync(&self) -> Confirmation {
        let Some(cluster) = &self.cluster else {
            return Confirmation::NoPoint;
        };
        let taken = Instant::now();
        let point = match self.raw.sync_point() {
            Ok(point) => point,
            Err(e) => {
                tracing::debug!(error = %e, "cluster caches: no sync point");
                return Confirmation::NoPoint;
            }
        };
        let deadline = taken + APPLY_PATIENCE;
        while cluster.sync.applied() < point {
            if Instant::now() >= deadline {
                tracing::debug!(
                    point,
                    applied = cluster.sync.applied(),
                    "cluster caches: the change feed has not reached the sync point"
                );
                return Confirmation::Stalled;
            }
            std::thread::sleep(APPLY_POLL);
        }
        cluster.sync.confirm(taken);
        Confirmation::Confirmed
    }
}

/// How one confirmation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    Confirmed,
    /// The store did not answer: nothing to learn about the feed (the health check reports
    /// the store; the feed's own loop reopens a broken watch).
    NoPoint,
    /// The store answered, but the feed did not bring its sync point in time: a watch that
    /// is connected yet delivers nothing (a member cut off from the others) would stay so.
    Stalled,
}

/// When the confirming thread asks the store to reopen a stalled watch ([`Store::restart_watch`]):
/// at once on the first stall, then after a wait that doubles while the feed stays stalled.
struct Restarts {
    wait: Duration,
    not_before: Option<Instant>,
}

impl Restarts {
    fn new() -> Self {
        Self {
            wait: RESTART_FIRST,
            not_before: None,
        }
    }

    /// Whether to ask for a restart after a confirmation that went `how`, at `now`.
    fn after(&mut self, how: Confirmation, now: Instant) -> bool {
        match how {
            Confirmation::Confirmed => {
                *self = Self::new();
                false
            }
            Confirmation::NoPoint => false,
            Confirmation::Stalled => {
                if self.not_before.is_some_and(|t| now < t) {
                    return false;
                }
                self.not_before = Some(now + self.wait);
                self.wait = (self.wait * 2).min(RESTART_MAX);
                true
            }
        }
    }
}

/// The confirming thread: ends with the core. A feed found stalled is reopened (see
/// [`Restarts`]), so the caches' trust, and what the feed brings (a lock elsewhere), come
/// back by themselves.
pub(crate) fn keep_confirming(core: Weak<Core>) {
    let mut restarts = Restarts::new();
    loop {
        std::thread::sleep(SYNC_EVERY);
        let Some(core) = core.upgrade() else {
            return;
        };
        let how = core.confirm_sync();
        if restarts.after(how, Instant::now()) {
            tracing::warn!("the cluster's change feed stalled: reopening the etcd watch");
            core.raw.restart_watch();
        }
    }
}

/// The node's store, noting the revision of each commit it makes, so that the caches are
/// not trusted before the follower has applied this node's own last write.
pub(crate) struct LocalCommits {
    inner: DynStore,
    last: Arc<AtomicU64>,
}

impl LocalCommits {
    pub(crate) fn new(inner: DynStore, last: Arc<AtomicU64>) -> Self {
        Self { inner, last }
    }

    fn noted(&self, commit: StoreResult<Commit>) -> StoreResult<Commit> {
        if let Ok(Commit::Committed(revision)) = &commit {
            self.last.fetch_max(*revision, Ordering::AcqRel);
        }
        commit
    }
}

impl Store for LocalCommits {
    fn get(&self, key: &str) -> StoreResult<Option<strongroom_store::Entry>> {
        self.inner.get(key)
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> StoreResult<Page> {
        self.inner.scan(prefix, start_after, limit)
    }

    fn commit(&self, txn: Txn) -> StoreResult<Commit> {
        self.noted(self.inner.commit(txn))
    }

    fn snapshot(&self) -> StoreResult<Box<dyn Snapshot>> {
        self.inner.snapshot()
    }

    fn watch(&self, prefix: &str) -> StoreResult<Watcher> {
        self.inner.watch(prefix)
    }

    fn sync_point(&self) -> StoreResult<u64> {
        self.inner.sync_point()
    }

    fn restart_watch(&self) {
        self.inner.restart_watch()
    }

    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = StoreResult<Op>>,
    ) -> StoreResult<Commit> {
        self.noted(self.inner.commit_iter(checks, ops))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_until_confirmed_while_a_local_commit_is_unapplied_or_the_feed_broken() {
        let local = Arc::new(AtomicU64::new(0));
        let live = Arc::new(AtomicBool::new(true));
        let sync = CacheSync::new(local.clone(), live.clone());
        assert!(!sync.trusted(), "never confirmed");
        sync.confirm(Instant::now());
        assert!(sync.trusted());
        local.store(7, Ordering::Release);
        assert!(!sync.trusted(), "this node's commit at 7 is not applied");
        sync.note_applied(7);
        assert!(sync.trusted());
        live.store(false, Ordering::Release);
        assert!(!sync.trusted(), "the watch is broken");
        live.store(true, Ordering::Release);
        assert!(sync.trusted());
    }

    #[test]
    fn a_stalled_feed_is_restarted_at_once_then_with_a_doubling_wait() {
        let mut r = Restarts::new();
        let t0 = Instant::now();
        assert!(
            !r.after(Confirmation::NoPoint, t0),
            "the store did not answer"
        );
        assert!(r.after(Confirmation::Stalled, t0), "the first stall");
        assert!(!r.after(Confirmation::Stalled, t0 + RESTART_FIRST / 2));
        assert!(r.after(Confirmation::Stalled, t0 + RESTART_FIRST));
        // Now the wait is doubled.
        let t1 = t0 + RESTART_FIRST;
        assert!(!r.after(Confirmation::Stalled, t1 + RESTART_FIRST));
        assert!(r.after(Confirmation::Stalled, t1 + 2 * RESTART_FIRST));
        // Capped.
        let mut t = t1 + 2 * RESTART_FIRST;
        for _ in 0..10 {
            t += RESTART_MAX;
            assert!(r.after(Confirmation::Stalled, t));
        }
        // A confirmation starts it over.
        assert!(!r.after(Confirmation::Confirmed, t));
        assert!(r.after(Confirmation::Stalled, t));
    }

    #[test]
    fn a_confirmation_older_than_the_bound_is_not_trusted() {
        let mut sync = CacheSync::new(Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
        sync.epoch = Instant::now() - 2 * TRUST_FOR;
        sync.confirm(sync.epoch);
        assert!(!sync.trusted(), "confirmed twice the bound ago");
        // A later confirmation replaces it; an earlier one does not undo that.
        sync.confirm(Instant::now());
        sync.confirm(sync.epoch);
        assert!(sync.trusted());
    }
}

#[cfg(test)]
#[path = "cluster_sync_stall_tests.rs"]
mod stall_tests;
