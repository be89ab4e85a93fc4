//! The change feed: [`Store::watch`](crate::Store::watch) and the machinery engines share to
//! provide it.
//!
//! A watcher receives one [`Change`] per key that a commit wrote (the key, put or delete, and
//! the commit's revision), in commit order, for the keys under its prefix. Changes carry no
//! value: a consumer that wants the value reads it through the store it watches, so a sealed
//! store's feed holds nothing that is secret (paths and revisions are not), and a cache that
//! reads on notice never trusts a value the feed carried.
//!
//! Each watcher has a bounded buffer of [`WATCH_CAPACITY`] changes. A watcher that falls that
//! far behind is not allowed to miss changes silently: it is cut off, drains what it was
//! given, then gets [`WatchError::Lagged`] with the first revision it may have missed. A cache
//! then watches again and reloads (watch first, then read, so no change falls in between:
//! reading on notice is idempotent, a change seen twice does no harm).
//!
//! [`ChangeFeed`] is the fan-out an engine embeds: it opens a [`FeedWrite`] around each write
//! transaction, records what it changes, and publishes after the transaction commits. A write
//! dropped without [`FeedWrite::publish`] (a failed check, an aborted or failed commit)
//! publishes nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How many changes a watcher holds that it has not yet received, before it lags.
pub const WATCH_CAPACITY: usize = 1024;

/// What a commit did to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The key was written (created or replaced).
    Put,
    /// The key was removed (by a delete or a prefix delete). Deleting an absent key changes
    /// nothing and is not reported.
    Delete,
}

/// One committed change to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The store revision of the commit: the key's [`Entry::revision`](crate::Entry) after a
    /// put. Every change of one commit has the same revision.
    pub revision: u64,
    pub key: String,
    pub kind: ChangeKind,
}

/// Why a watcher gives no more changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The watcher fell more than [`WATCH_CAPACITY`] changes behind and was cut off: changes
    /// at this revision and later may be missing. Watch again and reload.
    #[error("the watcher fell behind: changes from revision {missed_from} on were not delivered")]
    Lagged { missed_from: u64 },
    /// The store was closed.
    #[error("the store was closed")]
    Closed,
}

/// Rewrites or drops each change a watcher receives (see [`Watcher::filter_map`]).
type ChangeMap = Arc<dyn Fn(Change) -> Option<Change> + Send + Sync>;

/// The receiving end of a watch. Dropping it ends the watch.
pub struct Watcher {
    changes: Receiver<Change>,
    /// The first revision not delivered, or 0 while the watcher keeps up (revisions start
    /// at 1).
    missed_from: Arc<AtomicU64>,
    /// The revision the feed has published up to (see [`Watcher::through`]).
    through: Arc<AtomicU64>,
    /// The feed's [`ChangeFeed::liveness`].
    live: Arc<AtomicBool>,
    map: Option<ChangeMap>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("missed_from", &self.missed_from)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// This watcher seen through `map`: each change is rewritten (a store layered over
    /// another one renames its keys) or, if `map` gives `None`, skipped. Ordering, lag and
    /// closing are the underlying watcher's.
    pub fn filter_map(
        self,
        map: impl Fn(Change) -> Option<Change> + Send + Sync + 'static,
    ) -> Self {
        let map: ChangeMap = match self.map {
            Some(first) => Arc::new(move |c| first(c).and_then(&map)),
            None => Arc::new(map),
        };
        Self {
            changes: self.changes,
            missed_from: self.missed_from,
            through: self.through,
            live: self.live,
            map: Some(map),
        }
    }

    /// Whether the feed's source is connected now (see [`ChangeFeed::liveness`]): shared, so
    /// that a reader without the watcher can tell.
    pub fn liveness(&self) -> Arc<AtomicBool> {
        self.live.clone()
    }

    /// The highest revision the feed has published to this watcher: every change of every
    /// commit up to it has been put in this watcher's queue (or the watcher was cut off).
    /// Read it *before* draining the queue: once the queue is empty, every change up to the
    /// value read has been received. With [`Store::sync_point`](crate::Store::sync_point),
    /// this tells a cache that it has seen every commit acknowledged before a moment.
    pub fn through(&self) -> u64 {
        self.through.load(Ordering::Acquire)
    }

    fn mapped(&self, change: Change) -> Option<Change> {
        match &self.map {
            Some(map) => map(change),
            None => Some(change),
        }
    }

    /// Waits for the next change.
    pub fn recv(&self) -> Result<Change, WatchError> {
        loop {
            let change = self.changes.recv().map_err(|_| self.ended())?;
            if let Some(change) = self.mapped(change) {
                return Ok(change);
            }
        }
    }

    /// Waits up to `timeout` for the next change; `None` if none came.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Change>, WatchError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.changes.recv_timeout(left) {
                Ok(change) => {
                    if let Some(change) = self.mapped(change) {
                        return Ok(Some(change));
                    }
                }
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => return Err(self.ended()),
            }
        }
    }

    /// The next change if one is waiting.
    pub fn try_recv(&self) -> Result<Option<Change>, WatchError> {
        loop {
            match self.changes.try_recv() {
                Ok(change) => {
                    if let Some(change) = self.mapped(change) {
                        return Ok(Some(change));
                    }
                }
                Err(TryRecvError::Empty) => return Ok(None),
                Err(TryRecvError::Disconnected) => return Err(self.ended()),
            }
        }
    }

    /// Why the feed let go of this watcher, once everything it was given has been received.
    fn ended(&self) -> WatchError {
        match self.missed_from.load(Ordering::Acquire) {
            0 => WatchError::Closed,
            missed_from => WatchError::Lagged { missed_from },
        }
    }
}

struct Subscriber {
    prefix: String,
    /// Writes at lower revisions are not delivered (see [`ChangeFeed::watch_from`]).
    from: u64,
    changes: SyncSender<Change>,
    missed_from: Arc<AtomicU64>,
    through: Arc<AtomicU64>,
}

/// The fan-out of committed changes to watchers, for an engine to embed.
///
/// One lock covers the subscriber list and every write between [`ChangeFeed::begin_write`]
/// and its publication, so writes publish in the order they commit, and a watch starts
/// between two writes: every write that commits after [`ChangeFeed::watch`] returns is
/// delivered to it, and every one before is visible to a read made after it.
pub struct ChangeFeed {
    subscribers: Mutex<Vec<Subscriber>>,
    capacity: usize,
    /// The highest revision published.
    published: AtomicU64,
    /// Whether the engine's source of changes is connected (see [`ChangeFeed::set_live`]).
    live: Arc<AtomicBool>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl ChangeFeed {
    pub fn new() -> Self {
        Self {
            subscribers: Mutex::new(Vec::new()),
            capacity: WATCH_CAPACITY,
            published: AtomicU64::new(0),
            live: Arc::new(AtomicBool::new(true)),
        }
    }

    /// For an engine whose changes come from a connection (etcd's watch stream): `false`
    /// while it is broken, when commits may be made that this feed cannot yet publish, so
    /// that a cache following it stops trusting itself at once. Live from the start: an
    /// engine that publishes its own commits never changes it.
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
    }

    /// The highest revision this feed has published (0 before the first): every watcher has
    /// been given every change up to it.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A watcher of the keys under `prefix` (`""` for all). Waits for a write in progress.
    pub fn watch(&self, prefix: &str) -> Watcher {
        self.watch_from(prefix, 0)
    }

    /// As [`ChangeFeed::watch`], delivering only writes at revision `from` or later: for an
    /// engine whose feed publishes after its commits return (from an event stream), so that
    /// a write acknowledged before the watch began, but published after, is not delivered.
    pub fn watch_from(&self, prefix: &str, from: u64) -> Watcher {
        let (tx, rx) = std::sync::mpsc::sync_channel(self.capacity);
        let missed_from = Arc::new(AtomicU64::new(0));
        let mut subscribers = self.lock();
        // Every revision published so far is before this watcher's start: none of its own.
        let through = Arc::new(AtomicU64::new(self.published()));
        subscribers.push(Subscriber {
            prefix: prefix.to_owned(),
            from,
            changes: tx,
            missed_from: missed_from.clone(),
            through: through.clone(),
        });
        Watcher {
            changes: rx,
            missed_from,
            through,
            live: self.live.clone(),
            map: None,
        }
    }

    /// Cuts off every watcher, telling it changes from `missed_from` on may be missing: for
    /// an engine whose own event stream broke in a way it cannot resume from (etcd compacted
    /// the history it was to resume from).
    pub fn cut_off(&self, missed_from: u64) {
        for s in self.lock().drain(..) {
            s.missed_from.store(missed_from, Ordering::Release);
        }
    }

    /// Starts a write: hold it across the engine's whole write transaction, record each
    /// change, and publish once the transaction has committed.
    pub fn begin_write(&self) -> FeedWrite<'_> {
        FeedWrite {
            subscribers: self.lock(),
            changes: Vec::new(),
            published: &self.published,
        }
    }
}

/// The changes of one write transaction, until it commits. Holds the feed's lock.
pub struct FeedWrite<'a> {
    subscribers: MutexGuard<'a, Vec<Subscriber>>,
    changes: Vec<(String, ChangeKind)>,
    published: &'a AtomicU64,
}

impl FeedWrite<'_> {
    /// Records a change, if any watcher's prefix covers the key (so an unwatched write, or
    /// a large restore under an unwatched prefix, holds no list of its keys).
    pub fn record(&mut self, key: &str, kind: ChangeKind) {
        if self.subscribers.iter().any(|s| key.starts_with(&s.prefix)) {
            self.changes.push((key.to_owned(), kind));
        }
    }

    /// Delivers the recorded changes at `revision`, the transaction having committed. A
    /// watcher whose buffer is full is cut off and told from which revision it lagged; a
    /// dropped watcher is forgotten.
    pub fn publish(mut self, revision: u64) {
        let changes = std::mem::take(&mut self.changes);
        self.subscribers.retain(|s| {
            // The watcher holds the other reference: once it is dropped, so is its place.
            if Arc::strong_count(&s.missed_from) == 1 {
                return false;
            }
            if revision < s.from {
                s.through.fetch_max(revision, Ordering::AcqRel);
                return true;
            }
            for (key, kind) in changes.iter().filter(|(k, _)| k.starts_with(&s.prefix)) {
                let change = Change {
                    revision,
                    key: key.clone(),
                    kind: *kind,
                };
                match s.changes.try_send(change) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        s.missed_from.store(revision, Ordering::Release);
                        return false;
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
            // After the sends: a reader of `through` then finds them queued.
            s.through.fetch_max(revision, Ordering::AcqRel);
            true
        });
        self.published.fetch_max(revision, Ordering::AcqRel);
    }
}
