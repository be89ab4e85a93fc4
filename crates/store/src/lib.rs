//! The `Store` trait: the one storage interface every part of Strongroom uses.
//!
//! A store is an ordered map from string paths (`users/admin`, `meta/unlock`) to bytes, with a
//! store-wide revision counter. Every write goes through [`Store::commit`], an atomic
//! transaction guarded by checks on the revisions of the keys it depends on: this is the
//! compare-and-swap that both redb (one writer at a time) and etcd (transactions that compare
//! `mod_revision`) can honour, so callers are written once for both. [`Store::watch`] is the
//! change feed: the keys each commit changed, in commit order, so a cache kept beside a store
//! that other nodes also write can stay coherent.
//!
//! Engines: [`redb::RedbStore`] (embedded, the default) and, with the cargo feature `etcd`,
//! `etcd::EtcdStore` (an etcd cluster shared by several nodes), chosen and opened through
//! [`engine::Engine`]. Encryption at rest is not an engine feature but a layer over any
//! engine: [`sealed::Sealed`].
//!
//! # A new engine
//!
//! An engine implements [`Store`] (its `watch` on [`watch::ChangeFeed`]), gets a variant in
//! [`engine::Engine`] behind a cargo feature of its own (see that module), and passes the
//! conformance suite, which every engine and the sealing layer over it run as they are:
//!
//! ```toml
//! [dev-dependencies]
//! strongroom-store = { path = "crates/store", features = ["conformance"] }
//! ```
//!
//! ```text
//! #[test]
//! fn conformance() {
//!     // A fresh, empty store for each check.
//!     strongroom_store::conformance::run_all(&|| -> DynStore { Arc::new(MyEngine::open_empty()) });
//! }
//! ```
//!
//! Inside this crate the suite is there for tests without the feature (see `redb.rs`).

pub mod engine;
#[cfg(feature = "etcd")]
pub mod etcd;
pub mod membership;
pub mod node_scoped;
pub mod redb;
pub mod sealed;
pub mod watch;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::fmt;

pub use watch::{Change, ChangeKind, WatchError, Watcher};

/// A stored value and the store revision at which it was last written.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Vec<u8>,
    /// The store-wide revision of the commit that last wrote this key.
    pub revision: u64,
}

/// Values may be secrets (opened by the sealing layer): wiped when dropped. Copies made from
/// `value` are the copier's to wipe.
impl Drop for Entry {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

impl fmt::Debug for Entry {
    // Values may be secrets (sealed or not): never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("len", &self.value.len())
            .field("revision", &self.revision)
            .finish()
    }
}

/// A condition a transaction depends on; if any fails the transaction writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The key must not exist.
    Absent(String),
    /// The key must exist and have been last written at exactly this revision.
    Revision(String, u64),
}

/// One write of a transaction.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: String,
        value: Vec<u8>,
    },
    Delete {
        key: String,
    },
    /// Deletes every key that starts with the prefix.
    DeletePrefix {
        prefix: String,
    },
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { key, value } => write!(f, "Put({key}, {} bytes)", value.len()),
            Op::Delete { key } => write!(f, "Delete({key})"),
            Op::DeletePrefix { prefix } => write!(f, "DeletePrefix({prefix})"),
        }
    }
}

/// An atomic, checked batch of writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub checks: Vec<Check>,
    pub ops: Vec<Op>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn require_absent(mut self, key: impl Into<String>) -> Self {
        self.checks.push(Check::Absent(key.into()));
        self
    }
    pub fn require_revision(mut self, key: impl Into<String>, revision: u64) -> Self {
        self.checks.push(Check::Revision(key.into(), revision));
        self
    }
    /// Requires the key to be as it was read: absent if `entry` is `None`, else unchanged.
    pub fn require_unchanged(self, key: impl Into<String>, entry: Option<&Entry>) -> Self {
        match entry {
            Some(e) => self.require_revision(key, e.revision),
            None => self.require_absent(key),
        }
    }
    pub fn put(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.ops.push(Op::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(Op::Delete { key: key.into() });
        self
    }
    pub fn delete_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.ops.push(Op::DeletePrefix {
            prefix: prefix.into(),
        });
        self
    }
    /// Appends another transaction's checks and writes to this one.
    pub fn merge(mut self, other: Txn) -> Self {
        self.checks.extend(other.checks);
        self.ops.extend(other.ops);
        self
    }
}

/// The outcome of [`Store::commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// All checks held and every write landed at this revision.
    Committed(u64),
    /// A check failed; nothing was written.
    Conflict,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, lock, connection). The message never contains a value.
    #[error("store backend error: {0}")]
    Backend(String),
    /// A sealed value failed authentication: altered, moved to another path, or sealed under
    /// another key.
    #[error("sealed value at {0} failed authentication")]
    Tampered(String),
    /// A sealed write conflicted because its guard moved ([`sealed::Sealed::set_guard`]): the
    /// store is now sealed under a key this writer does not hold (in a cluster: another node
    /// rotated the domain key). Nothing was written.
    #[error("the store's sealing key changed elsewhere ({0} moved); nothing was written")]
    GuardMoved(String),
    /// The stored data is not in a shape this version understands.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// The backend could not be reached, or could not answer within its time (etcd down,
    /// unreachable, or without quorum). Nothing says whether a write so refused landed: a
    /// caller that retries reads first. The message names no value.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One page of a scan: keys with their entries, in key order.
pub type Page = Vec<(String, Entry)>;

/// A consistent, read-only view of the whole store at one moment: later commits do not show.
pub trait Snapshot: Send {
    /// As [`Store::scan`], on the snapshot.
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page>;
}

/// A store as the rest of the appliance holds it, whichever the engine.
pub type DynStore = std::sync::Arc<dyn Store>;

/// The storage interface. Calls block: async callers run them on a blocking thread.
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Entry>>;

    /// Up to `limit` entries whose key starts with `prefix`, in key order, starting after the
    /// key `start_after` if given. Paging keeps memory bounded for large scans.
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page>;

    /// Applies the transaction atomically if all its checks hold.
    fn commit(&self, txn: Txn) -> Result<Commit>;

    /// A consistent view for long reads (a backup) that must not see half of a later commit.
    fn snapshot(&self) -> Result<Box<dyn Snapshot>>;

    /// The changes to keys under `prefix` (`""` for all) of every commit that lands after this
    /// returns, in commit order; a failed check or an aborted commit gives none. See [`watch`]
    /// for what a change holds (never a value) and what a watcher that falls behind is told.
    fn watch(&self, prefix: &str) -> Result<Watcher>;

    /// A revision that every commit acknowledged before this call has reached, and that this
    /// store's feed has published or will publish: once a watcher's [`Watcher::through`] is
    /// at or past it, the watcher has been given every change of those commits. A cache that
    /// follows the feed learns so that it is coherent as of the moment of this call, without
    /// reading what it holds again.
    fn sync_point(&self) -> Result<u64>;

    /// Asks the store to reopen the source of its change feed, resuming from the first
    /// revision it has not published: for a follower whose feed stopped short of a
    /// [`Store::sync_point`] while the store answers (an etcd watch stalled on a member that
    /// no longer receives commits). Nothing is lost or repeated; if the history to resume
    /// from is gone, the watchers are told they lagged. Nothing to do for an engine that
    /// publishes its own commits (the default).
    fn restart_watch(&self) {}

    /// As [`Store::commit`], with the writes drawn from an iterator, so that a backend able to
    /// apply them one at a time inside its transaction keeps memory bounded however many there
    /// are (a restore). An `Err` from the iterator aborts the transaction: nothing is written.
    /// The default collects the writes first.
    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        let ops = ops.collect::<Result<Vec<_>>>()?;
        self.commit(Txn { checks, ops })
    }

    /// Writes one key unconditionally.
    fn put(&self, key: &str, value: &[u8]) -> Result<u64> {
        match self.commit(Txn::new().put(key, value))? {
            Commit::Committed(rev) => Ok(rev),
            Commit::Conflict => Err(StoreError::Backend("unconditional put conflicted".into())),
        }
    }

    /// Deletes one key unconditionally (deleting an absent key is not an error).
    fn delete(&self, key: &str) -> Result<()> {
        self.commit(Txn::new().delete(key)).map(|_| ())
    }

    /// Every entry under `prefix`. For prefixes that may grow large, page with [`Store::scan`].
    fn scan_prefix(&self, prefix: &str) -> Result<Page> {
        const PAGE: usize = 1024;
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|(k, _): &(String, Entry)| k.clone());
            let page = self.scan(prefix, after.as_deref(), PAGE)?;
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn get(&self, key: &str) -> Result<Option<Entry>> {
        (**self).get(key)
    }
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        (**self).scan(prefix, start_after, limit)
    }
    fn commit(&self, txn: Txn) -> Result<Commit> {
        (**self).commit(txn)
    }
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        (**self).snapshot()
    }
    fn watch(&self, prefix: &str) -> Result<Watcher> {
        (**self).watch(prefix)
    }
    fn sync_point(&self) -> Result<u64> {
        (**self).sync_point()
    }
    fn restart_watch(&self) {
        (**self).restart_watch()
    }
    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        (**self).commit_iter(checks, ops)
    }
}
