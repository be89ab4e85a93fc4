//! One node's view of a store shared by several nodes (cluster mode): most paths are shared,
//! but a few are the node's own (values sealed under its device key, which no other node can
//! open: its TLS identity, its appliance records, its unattended-boot key, its anchor flag).
//!
//! [`NodeScoped`] keeps a shared path `p` at `shared/p` in the store below and a node-local
//! path at `nodes/<node>/p`, so nodes never overwrite each other's local values while the
//! layer above reads and writes one plain keyspace, as on a single node. Which paths are
//! local is the caller's rule (`local`), fixed for the life of the store.
//!
//! Everything stays one transaction, one snapshot and one change feed of the store below: a
//! commit mixing local and shared paths is still atomic, a scan merges the two areas in key
//! order, and a watch renames the keys back and drops other nodes' local keys.

use std::sync::Arc;

use crate::watch::{Change, Watcher};
use crate::{Check, Commit, Entry, Op, Page, Result, Snapshot, Store, Txn};

/// Where the shared paths live in the store below.
pub const SHARED_PREFIX: &str = "shared/";
/// Where each node's local paths live in the store below: `nodes/<node>/`.
pub const NODES_PREFIX: &str = "nodes/";

/// Which paths are node-local: each entry is a path, or, ending with `/`, every path under it.
pub type LocalRule = &'static [&'static str];

/// A scan of the store below (or of its snapshot): prefix, start after, limit.
type ScanBelow<'a> = &'a dyn Fn(&str, Option<&str>, usize) -> Result<Page>;

/// A node's view of a shared store. See the module documentation.
pub struct NodeScoped<S> {
    inner: S,
    map: Arc<KeyMap>,
}

struct KeyMap {
    /// `nodes/<node>/`.
    node: String,
    local: LocalRule,
}

impl KeyMap {
    fn is_local(&self, path: &str) -> bool {
        self.local
            .iter()
            .any(|l| path == *l || (l.ends_with('/') && path.starts_with(l)))
    }

    /// The prefix below to watch for `prefix` in this node's view: one area when every path
    /// under `prefix` lives in it, else everything.
    fn watched(&self, prefix: &str) -> String {
        if self.is_local(prefix) {
            format!("{}{prefix}", self.node)
        } else if !self.local.iter().any(|l| l.starts_with(prefix)) {
            format!("{SHARED_PREFIX}{prefix}")
        } else {
            String::new()
        }
    }

    fn physical(&self, path: &str) -> String {
        if self.is_local(path) {
            format!("{}{path}", self.node)
        } else {
            format!("{SHARED_PREFIX}{path}")
        }
    }

    /// The path a key below stands for in this node's view; `None` for another node's key.
    fn logical(&self, key: &str) -> Option<String> {
        if let Some(path) = key.strip_prefix(&self.node) {
            return self.is_local(path).then(|| path.to_owned());
        }
        let path = key.strip_prefix(SHARED_PREFIX)?;
        (!self.is_local(path)).then(|| path.to_owned())
    }

    fn check(&self, check: Check) -> Check {
        match check {
            Check::Absent(k) => Check::Absent(self.physical(&k)),
            Check::Revision(k, r) => Check::Revision(self.physical(&k), r),
        }
    }

    /// A write below; a prefix delete covers both areas.
    fn ops(&self, op: Op) -> Vec<Op> {
        match op {
            Op::Put { key, value } => vec![Op::Put {
                key: self.physical(&key),
                value,
            }],
            Op::Delete { key } => vec![Op::Delete {
                key: self.physical(&key),
            }],
            Op::DeletePrefix { prefix } => vec![
                Op::DeletePrefix {
                    prefix: format!("{SHARED_PREFIX}{prefix}"),
                },
                Op::DeletePrefix {
                    prefix: format!("{}{prefix}", self.node),
                },
            ],
        }
    }

    /// A page of this node's view, merged from the two areas below, read through `scan`.
    fn scan(
        &self,
        scan: ScanBelow<'_>,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let mut all = Vec::new();
        for area in [SHARED_PREFIX, self.node.as_str()] {
            let after = start_after.map(|a| format!("{area}{a}"));
            let page = scan(&format!("{area}{prefix}"), after.as_deref(), limit)?;
            // Only this layer writes below these prefixes, so every key maps back; a key that
            // does not (written by something else) is left out.
            all.extend(
                page.into_iter()
                    .filter_map(|(k, e)| self.logical(&k).map(|p| (p, e))),
            );
        }
        // The first `limit` keys overall are among the first `limit` of each area.
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.truncate(limit);
        Ok(all)
    }
}

impl<S: Store> NodeScoped<S> {
    /// The view of node `node` (a name without `/`) over `inner`, with `local` telling
    /// which paths are the node's own.
    pub fn new(inner: S, node: &str, local: LocalRule) -> Self {
        assert!(
            !node.is_empty() && !node.contains('/'),
            "a node name is not empty and has no '/'"
        );
        Self {
            inner,
            map: Arc::new(KeyMap {
                node: format!("{NODES_PREFIX}{node}/"),
                local,
            }),
        }
    }

    /// The prefix below of this node's local paths.
    pub fn node_prefix(&self) -> &str {
        &self.map.node
    }
}

struct ScopedSnapshot {
    inner: Box<dyn Snapshot>,
    map: Arc<KeyMap>,
}

impl Snapshot for ScopedSnapshot {
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        self.map.scan(
            &|p, a, l| self.inner.scan(p, a, l),
            prefix,
            start_after,
            limit,
        )
    }
}

impl<S: Store> Store for NodeScoped<S> {
    fn get(&self, key: &str) -> Result<Option<Entry>> {
        self.inner.get(&self.map.physical(key))
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        self.map.scan(
            &|p, a, l| self.inner.scan(p, a, l),
            prefix,
            start_after,
            limit,
        )
    }

    fn commit(&self, txn: Txn) -> Result<Commit> {
        self.inner.commit(Txn {
            checks: txn.checks.into_iter().map(|c| self.map.check(c)).collect(),
            ops: txn.ops.into_iter().flat_map(|o| self.map.ops(o)).collect(),
        })
    }

    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        let checks = checks.into_iter().map(|c| self.map.check(c)).collect();
        let mut mapped = ops.flat_map(|op| match op {
            Ok(op) => self.map.ops(op).into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        });
        self.inner.commit_iter(checks, &mut mapped)
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(ScopedSnapshot {
            inner: self.inner.snapshot()?,
            map: self.map.clone(),
        }))
    }

    fn sync_point(&self) -> Result<u64> {
        self.inner.sync_point()
    }

    fn restart_watch(&self) {
        self.inner.restart_watch()
    }

    fn watch(&self, prefix: &str) -> Result<Watcher> {
        // Where the prefix spans both areas, which have no common prefix but the empty one,
        // everything below is watched and what this node sees under `prefix` kept.
        let map = self.map.clone();
        let prefix = prefix.to_owned();
        Ok(self
            .inner
            .watch(&map.watched(&prefix))?
            .filter_map(move |c| {
                let key = map.logical(&c.key)?;
                key.starts_with(&prefix).then_some(Change { key, ..c })
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DynStore;
    use crate::redb::RedbStore;

    const LOCAL: LocalRule = &["meta/tls", "meta/appliance/"];

    #[test]
    fn conformance() {
        // Local paths the suite writes (`meta/...` is not among its keys) are covered by the
        // checks below; the suite checks the shared area's mapping, the merge and the feed.
        let dir = tempfile::tempdir().unwrap();
        let fresh = crate::redb::fresh_stores(dir.path());
        crate::conformance::run_all(&|| -> DynStore {
            Arc::new(NodeScoped::new(fresh(), "n1", LOCAL))
        });
    }

    #[test]
    fn nodes_keep_their_local_paths_apart_and_share_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let below: DynStore = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let a = NodeScoped::new(below.clone(), "a", LOCAL);
        let b = NodeScoped::new(below.clone(), "b", LOCAL);
        let watch_b = b.watch("meta/").unwrap();
        a.commit(
            Txn::new()
                .put("meta/tls", b"a-tls".to_vec())
                .put("meta/unlock", b"shared".to_vec())
                .put("meta/appliance/x", b"a-x".to_vec()),
        )
        .unwrap();
        b.put("meta/tls", b"b-tls").unwrap();
        assert_eq!(a.get("meta/tls").unwrap().unwrap().value, b"a-tls");
        assert_eq!(b.get("meta/tls").unwrap().unwrap().value, b"b-tls");
        assert_eq!(b.get("meta/unlock").unwrap().unwrap().value, b"shared");
        assert!(b.get("meta/appliance/x").unwrap().is_none());
        // Each view scans its own local paths merged with the shared ones, in key order.
        let keys = |s: &NodeScoped<DynStore>, after: Option<&str>, limit| {
            s.scan("meta/", after, limit)
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&a, None, 10),
            ["meta/appliance/x", "meta/tls", "meta/unlock"]
        );
        assert_eq!(keys(&a, Some("meta/appliance/x"), 1), ["meta/tls"]);
        assert_eq!(keys(&b, None, 10), ["meta/tls", "meta/unlock"]);
        let snap = a.snapshot().unwrap();
        a.delete("meta/unlock").unwrap();
        assert_eq!(snap.scan("", None, 10).unwrap().len(), 3);
        // Below, the areas are apart.
        let raw: Vec<String> = below
            .scan_prefix("")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            raw,
            [
                "nodes/a/meta/appliance/x",
                "nodes/a/meta/tls",
                "nodes/b/meta/tls",
            ]
        );
        // b's watcher saw the shared write and its own local write, not a's local ones.
        let seen: Vec<String> = std::iter::from_fn(|| watch_b.try_recv().unwrap())
            .map(|c| c.key)
            .collect();
        assert_eq!(seen, ["meta/unlock", "meta/tls", "meta/unlock"]);
        // A prefix delete through a clears its own area and the shared one, never b's.
        a.commit(Txn::new().delete_prefix("")).unwrap();
        assert!(a.scan_prefix("").unwrap().is_empty());
        assert_eq!(b.scan_prefix("").unwrap().len(), 1);
        // Checks are on the mapped keys: a's absent `meta/tls` is not b's.
        a.commit(
            Txn::new()
                .require_absent("meta/tls")
                .put("meta/tls", b"again".to_vec()),
        )
        .unwrap();
        assert_eq!(
            b.commit(
                Txn::new()
                    .require_absent("meta/tls")
                    .put("meta/tls", b"no".to_vec())
            )
            .unwrap(),
            Commit::Conflict
        );
    }
}
