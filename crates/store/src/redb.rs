//! The embedded backend: one redb file in the data directory.
//!
//! Layout: table `kv` maps each path to `revision (u64, big endian) || value`; table `meta`
//! holds the store-wide revision counter under `revision`. Each commit is one redb write
//! transaction with immediate durability (fsync), so a crash leaves either all or none of it.
//! The change feed is published after the commit returns, under the feed's lock, which also
//! serialises writers (redb allows one at a time anyway), so changes publish in commit order.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::watch::{ChangeFeed, ChangeKind, FeedWrite, Watcher};
use crate::{Check, Commit, Entry, Op, Page, Result, Snapshot, Store, StoreError, Txn};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";

pub struct RedbStore {
    db: Database,
    feed: ChangeFeed,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn decode(key: &str, raw: &[u8]) -> Result<Entry> {
    if raw.len() < 8 {
        return Err(StoreError::Corrupt(format!(
            "entry {key} is shorter than its header"
        )));
    }
    let (rev, value) = raw.split_at(8);
    let revision = u64::from_be_bytes(rev.try_into().expect("split_at(8) gives 8 bytes"));
    Ok(Entry {
        value: value.to_vec(),
        revision,
    })
}

impl RedbStore {
    /// Opens the store file, creating it (and its tables) if missing. redb holds an exclusive
    /// lock on the file, so a second server on the same data directory fails here.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(KV).map_err(backend)?;
        txn.open_table(META).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(Self {
            db,
            feed: ChangeFeed::new(),
        })
    }
}

impl Store for RedbStore {
    fn get(&self, key: &str) -> Result<Option<Entry>> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(KV).map_err(backend)?;
        match table.get(key).map_err(backend)? {
            Some(raw) => decode(key, raw.value()).map(Some),
            None => Ok(None),
        }
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(KV).map_err(backend)?;
        scan_table(&table, prefix, start_after, limit)
    }

    fn commit(&self, txn: Txn) -> Result<Commit> {
        self.commit_iter(txn.checks, &mut txn.ops.into_iter().map(Ok))
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(KV).map_err(backend)?;
        Ok(Box::new(RedbSnapshot { table }))
    }

    fn watch(&self, prefix: &str) -> Result<Watcher> {
        Ok(self.feed.watch(prefix))
    }

    fn sync_point(&self) -> Result<u64> {
        // A commit returns once its changes are published.
        Ok(self.feed.published())
    }

    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        let mut feed = self.feed.begin_write();
        let write = self.db.begin_write().map_err(backend)?;
        let revision = {
            let mut kv = write.open_table(KV).map_err(backend)?;
            for check in &checks {
                let holds = match check {
                    Check::Absent(key) => kv.get(key.as_str()).map_err(backend)?.is_none(),
                    Check::Revision(key, want) => match kv.get(key.as_str()).map_err(backend)? {
                        Some(raw) => decode(key, raw.value())?.revision == *want,
                        None => false,
                    },
                };
                if !holds {
                    // Dropping the write transaction aborts it.
                    return Ok(Commit::Conflict);
                }
            }
            let mut meta = write.open_table(META).map_err(backend)?;
            let revision = meta
                .get(REVISION)
                .map_err(backend)?
                .map(|g| g.value())
                .unwrap_or(0)
                + 1;
            meta.insert(REVISION, revision).map_err(backend)?;
            for op in ops {
                apply(&mut kv, revision, op?, &mut feed)?;
            }
            revision
        };
        write.commit().map_err(backend)?;
        feed.publish(revision);
        Ok(Commit::Committed(revision))
    }
}

fn apply(
    kv: &mut redb::Table<&str, &[u8]>,
    revision: u64,
    op: Op,
    feed: &mut FeedWrite<'_>,
) -> Result<()> {
    match op {
        Op::Put { key, value } => {
            let mut raw = Vec::with_capacity(8 + value.len());
            raw.extend_from_slice(&revision.to_be_bytes());
            raw.extend_from_slice(&value);
            kv.insert(key.as_str(), raw.as_slice()).map_err(backend)?;
            feed.record(&key, ChangeKind::Put);
        }
        Op::Delete { key } => {
            if kv.remove(key.as_str()).map_err(backend)?.is_some() {
                feed.record(&key, ChangeKind::Delete);
            }
        }
        Op::DeletePrefix { prefix } => {
            let mut doomed = Vec::new();
            for item in kv.range(prefix.as_str()..).map_err(backend)? {
                let (k, _) = item.map_err(backend)?;
                if !k.value().starts_with(prefix.as_str()) {
                    break;
                }
                doomed.push(k.value().to_owned());
            }
            for key in doomed {
                kv.remove(key.as_str()).map_err(backend)?;
                feed.record(&key, ChangeKind::Delete);
            }
        }
    }
    Ok(())
}

/// A redb read transaction: redb's MVCC keeps it at the moment it began.
struct RedbSnapshot {
    table: redb::ReadOnlyTable<&'static str, &'static [u8]>,
}

impl Snapshot for RedbSnapshot {
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        scan_table(&self.table, prefix, start_after, limit)
    }
}

fn scan_table(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Page> {
    let start = match start_after {
        Some(after) if after >= prefix => after,
        _ => prefix,
    };
    let mut out = Vec::new();
    for item in table.range(start..).map_err(backend)? {
        let (k, v) = item.map_err(backend)?;
        let key = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        if Some(key) == start_after {
            continue;
        }
        out.push((key.to_owned(), decode(key, v.value())?));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Fresh, empty stores for the tests, each its own file in `dir`.
#[cfg(test)]
pub(crate) fn fresh_stores(dir: &Path) -> impl Fn() -> std::sync::Arc<RedbStore> + '_ {
    let n = std::sync::atomic::AtomicUsize::new(0);
    move || {
        let file = format!(
            "{}.redb",
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        std::sync::Arc::new(RedbStore::open(&dir.join(file)).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::{RedbStore, fresh_stores};
    use crate::{DynStore, Store};

    /// What every engine does: the conformance suite, on a fresh store for each check.
    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = fresh_stores(dir.path());
        crate::conformance::run_all(&|| -> DynStore { fresh() });
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let rev = {
            let store = RedbStore::open(&path).unwrap();
            store.put("k", b"v").unwrap()
        };
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.get("k").unwrap().unwrap().revision, rev);
        assert!(store.put("k2", b"v").unwrap() > rev);
    }
}
