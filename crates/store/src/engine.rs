//! Which storage engine a node opens, and where: the one place that names the engines.
//!
//! Callers describe the store they want as an [`Engine`] and call [`Engine::open`]; what they
//! get is a [`DynStore`], the same for every engine, so nothing above this module knows which
//! one is behind it.
//!
//! Adding an engine (as the etcd backend was, under the cargo feature `etcd`): write it as a module of this crate
//! implementing [`Store`](crate::Store) (its `watch` built on [`ChangeFeed`](crate::watch::ChangeFeed)
//! fed from the engine's own event stream), behind a cargo feature of the same name so that a
//! build without it carries none of its dependencies; add a variant here under that feature
//! (`#[cfg(feature = "etcd")] Etcd(Box<EtcdSettings>)`) and its arm in [`Engine::open`]; and run
//! the conformance suite against it (see the crate documentation). The variant holds
//! settings, never credentials in clear: its `Debug` is printed at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use crate::redb::RedbStore;
use crate::{DynStore, Result};

/// A store to open: the engine and where its data lives.
// Non-exhaustive: which variants exist depends on the features built, so no caller may
// match them all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Engine {
    /// One redb file on local disk: embedded, single node (see [`RedbStore::open`]).
    Redb(PathBuf),
    /// An etcd cluster, shared by the nodes (see [`EtcdStore::open`](crate::etcd::EtcdStore::open)).
    /// Boxed: its settings are many times the size of a path.
    #[cfg(feature = "etcd")]
    Etcd(Box<crate::etcd::EtcdSettings>),
}

impl Engine {
    /// Opens (creating if missing) the store this describes.
    pub fn open(&self) -> Result<DynStore> {
        match self {
            Engine::Redb(path) => Ok(Arc::new(RedbStore::open(path)?)),
            #[cfg(feature = "etcd")]
            Engine::Etcd(settings) => Ok(Arc::new(crate::etcd::EtcdStore::open(settings)?)),
        }
    }

    /// The engine's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Redb(_) => "redb",
            #[cfg(feature = "etcd")]
            Engine::Etcd(_) => "etcd",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn a_redb_engine_opens_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let engine = Engine::Redb(path.clone());
        assert_eq!(engine.name(), "redb");
        let rev = engine.open().unwrap().put("k", b"v").unwrap();
        // The handle is dropped: the file holds what was written, and another opener of the
        // same description sees it.
        assert!(path.exists());
        let reopened = engine.open().unwrap();
        assert_eq!(reopened.get("k").unwrap().unwrap().revision, rev);
        // redb's lock on the file: a second open while the first is held fails.
        assert!(engine.open().is_err());
    }
}
