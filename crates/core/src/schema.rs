//! The store's schema version, and moving a store written by an older release forward to the
//! one this build reads, at every start before anything else reads the store.
//!
//! Each [`Migration`] takes a store from version N to N+1 in one store transaction, which also
//! writes the new version and holds only if the version is still the one read (so two nodes
//! on one cluster store cannot both run a step: the loser re-reads and finds it done). A step
//! that fails leaves the store exactly at the version before it. Each step is logged.
//!
//! A store newer than this build (a downgrade) is refused, never read: its data may be in a
//! shape this build would misread or overwrite.
//!
//! There is one schema so far, version 1: [`MIGRATIONS`] is empty until a release changes the
//! layout. Such a release adds the step from the last version to its own and raises
//! [`SCHEMA_VERSION`].

use strongroom_store::{Commit, Store, Txn};

use crate::error::{Error, Result};

/// The store schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// Where the version is kept, in clear (it must be readable before any key is known).
pub(crate) const SCHEMA_PATH: &str = "meta/schema";

/// One step forward: the writes that take a store at version `from` to `from + 1`, read from
/// the store as it is. The runner adds the version check and the new version to the same
/// transaction.
pub(crate) struct Migration {
    pub from: u32,
    /// What the step changes, for the log.
    pub what: &'static str,
    pub step: fn(&dyn Store) -> Result<Txn>,
}

/// The steps of every release so far, oldest first: `MIGRATIONS[i].from == i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[];

/// Writes the schema version into a new store, moves an older store forward to
/// [`SCHEMA_VERSION`], and refuses a newer or unreadable one.
pub(crate) fn check_and_migrate(store: &dyn Store) -> Result<()> {
    migrate(store, SCHEMA_VERSION, MIGRATIONS)
}

/// The stored version, `None` if the store has none.
fn stored_version(store: &dyn Store) -> Result<Option<(u32, u64)>> {
    let Some(entry) = store.get(SCHEMA_PATH)? else {
        return Ok(None);
    };
    let version = std::str::from_utf8(&entry.value)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&v: &u32| v >= 1)
        .ok_or_else(|| Error::Internal("store schema version is unreadable".into()))?;
    Ok(Some((version, entry.revision)))
}

/// [`check_and_migrate`] towards `target` with the steps `steps` (the tests run it on steps
/// of their own: there is no real step to run yet).
pub(crate) fn migrate(store: &dyn Store, target: u32, steps: &[Migration]) -> Result<()> {
    loop {
        let Some((found, revision)) = stored_version(store)? else {
            if !store.scan("", None, 1)?.is_empty() {
                // Another node may have made the store between the two reads (nodes started
                // together on a new cluster): it writes the version before anything else, so
                // the version is there now if that is what happened.
                if stored_version(store)?.is_some() {
                    continue;
                }
                return Err(Error::Internal(
                    "store has data but no schema version; refusing to guess".into(),
                ));
            }
            // A new store: written at the current version. A conflict means another node
            // wrote it first; the loop reads what it wrote.
            store.commit(
                Txn::new()
                    .require_absent(SCHEMA_PATH)
                    .put(SCHEMA_PATH, target.to_string()),
            )?;
            continue;
        };
        if found == target {
            return Ok(());
        }
        if found > target {
            return Err(Error::Internal(format!(
                "store schema version {found} is not supported by this build (which reads {target}): \
                 the store was written by a newer release, and going back would misread it. \
                 Install that release again, or restore a backup taken before the upgrade \
                 (docs/operations.md, \"Upgrade\")"
            )));
        }
        let migration = steps.iter().find(|m| m.from == found).ok_or_else(|| {
            Error::Internal(format!(
                "store schema version {found} has no migration to {} in this build (which reads {target})",
                found + 1
            ))
        })?;
        let txn = (migration.step)(store)?
            .require_revision(SCHEMA_PATH, revision)
            .put(SCHEMA_PATH, (found + 1).to_string());
        match store.commit(txn)? {
            Commit::Committed(_) => tracing::info!(
                from = found,
                to = found + 1,
                what = migration.what,
                "store schema migrated"
            ),
            // Another node moved the version meanwhile: read it again.
            Commit::Conflict => {
                tracing::info!(
                    from = found,
                    "store schema changed while migrating; re-reading"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strongroom_store::DynStore;

    use super::*;
    use crate::tests::provision;
    use crate::{Core, CoreSettings, SystemState};

    fn redb(dir: &std::path::Path) -> DynStore {
        Arc::new(strongroom_store::redb::RedbStore::open(&dir.join(crate::STORE_FILE)).unwrap())
    }

    /// The layout the first release writes (schema 1), made by that release's own code in a
    /// data directory: a provisioned node with its users and audit trail. The store is
    /// returned open on its own; drop it before opening a `Core` on `dir` again.
    fn version_1_store(dir: &std::path::Path) -> DynStore {
        let core = Core::open(dir, CoreSettings::default()).unwrap();
        provision(&core);
        drop(core);
        let store = redb(dir);
        assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"1");
        store
    }

    fn everything(store: &dyn Store) -> Vec<(String, Vec<u8>)> {
        store
            .scan_prefix("")
            .unwrap()
            .into_iter()
            .map(|(k, e)| (k, e.value.clone()))
            .collect()
    }

    #[test]
    fn a_version_1_store_is_recognised_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let store = version_1_store(dir.path());
        let before = everything(&*store);
        check_and_migrate(&*store).unwrap();
        assert_eq!(everything(&*store), before);
        drop(store);
        // And it opens as the node it was: Locked, and unlocks with its passphrase.
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        assert_eq!(core.state(), SystemState::Locked);
        core.unlock(&crate::secret::Passphrase::new(crate::tests::UNLOCK))
            .unwrap();
        assert_eq!(core.state(), SystemState::Operational);
    }

    // Test steps, for the runner alone (no release has changed the layout yet): schema 2 adds
    // a key, schema 3 renames it.
    fn add_marker(_: &dyn Store) -> Result<Txn> {
        Ok(Txn::new().put("meta/test-marker", b"2".to_vec()))
    }
    fn rename_marker(store: &dyn Store) -> Result<Txn> {
        let old = store
            .get("meta/test-marker")?
            .ok_or_else(|| Error::Internal("no marker".into()))?;
        Ok(Txn::new()
            .delete("meta/test-marker")
            .put("meta/test-marker-renamed", old.value.clone()))
    }
    fn fail(_: &dyn Store) -> Result<Txn> {
        Err(Error::Internal("this step fails".into()))
    }
    const STEPS: &[Migration] = &[
        Migration {
            from: 1,
            what: "add a marker",
            step: add_marker,
        },
        Migration {
            from: 2,
            what: "rename the marker",
            step: rename_marker,
        },
    ];

    #[test]
    fn steps_run_in_order_from_the_stored_version_each_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = version_1_store(dir.path());
        let before = everything(&*store);
        migrate(&*store, 3, STEPS).unwrap();
        assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"3");
        assert!(store.get("meta/test-marker").unwrap().is_none());
        assert_eq!(
            store
                .get("meta/test-marker-renamed")
                .unwrap()
                .unwrap()
                .value,
            b"2"
        );
        // Nothing else changed.
        let after: Vec<_> = everything(&*store)
            .into_iter()
            .filter(|(k, _)| k != SCHEMA_PATH && k != "meta/test-marker-renamed")
            .collect();
        let before: Vec<_> = before
            .into_iter()
            .filter(|(k, _)| k != SCHEMA_PATH)
            .collect();
        assert_eq!(after, before);
        // Run again: nothing to do.
        migrate(&*store, 3, STEPS).unwrap();

        // A store at 2 runs only the second step.
        let dir = tempfile::tempdir().unwrap();
        let store = redb(dir.path());
        store.put(SCHEMA_PATH, b"2").unwrap();
        store.put("meta/test-marker", b"x").unwrap();
        migrate(&*store, 3, STEPS).unwrap();
        assert_eq!(
            store
                .get("meta/test-marker-renamed")
                .unwrap()
                .unwrap()
                .value,
            b"x"
        );
    }

    #[test]
    fn a_failing_step_leaves_the_store_at_the_version_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = version_1_store(dir.path());
        let steps = [
            Migration {
                from: 1,
                what: "add a marker",
                step: add_marker,
            },
            Migration {
                from: 2,
                what: "fail",
                step: fail,
            },
        ];
        let err = migrate(&*store, 3, &steps).unwrap_err();
        assert!(err.to_string().contains("this step fails"), "{err}");
        // The first step landed whole; the second wrote nothing.
        assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"2");
        assert!(store.get("meta/test-marker").unwrap().is_some());

        // A missing step is refused, with the version it lacks.
        let err = migrate(&*store, 3, &steps[..1]).unwrap_err();
        assert!(
            err.to_string()
                .contains("store schema version 2 has no migration to 3"),
            "{err}"
        );
        assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"2");
    }

    #[test]
    fn a_newer_an_unreadable_or_an_unversioned_store_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = version_1_store(dir.path());
        store.put(SCHEMA_PATH, b"2").unwrap();
        let before = everything(&*store);
        let err = check_and_migrate(&*store).unwrap_err().to_string();
        assert!(
            err.contains("store schema version 2 is not supported"),
            "{err}"
        );
        assert!(err.contains("written by a newer release"), "{err}");
        assert_eq!(everything(&*store), before);

        for bad in [&b"0"[..], b"two", b""] {
            store.put(SCHEMA_PATH, bad).unwrap();
            let err = check_and_migrate(&*store).unwrap_err().to_string();
            assert!(err.contains("unreadable"), "{err}");
        }

        store.delete(SCHEMA_PATH).unwrap();
        let err = check_and_migrate(&*store).unwrap_err().to_string();
        assert!(err.contains("no schema version"), "{err}");
    }

    #[test]
    fn a_step_raced_by_another_node_is_not_run_twice() {
        // The step moves the version itself before its own transaction commits, as another
        // node migrating the same store would: the runner's transaction conflicts, and it
        // finds the store at the new version without applying its writes.
        fn raced(store: &dyn Store) -> Result<Txn> {
            store.put(SCHEMA_PATH, b"2")?;
            Ok(Txn::new().put("meta/test-marker", b"twice".to_vec()))
        }
        let dir = tempfile::tempdir().unwrap();
        let store = version_1_store(dir.path());
        let steps = [Migration {
            from: 1,
            what: "raced",
            step: raced,
        }];
        migrate(&*store, 2, &steps).unwrap();
        assert_eq!(store.get(SCHEMA_PATH).unwrap().unwrap().value, b"2");
        assert!(store.get("meta/test-marker").unwrap().is_none());
    }
}
