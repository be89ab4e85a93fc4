//! Cluster mode: several nodes on one shared store (etcd), each with its own data directory.
//!
//! The data directory keeps what is the node's own: its device key and its anchor file. In
//! the shared store, the records sealed under the device key, which no other node could open,
//! and the node's anchor flag live under the node's own prefix ([`NODE_LOCAL_PATHS`], kept
//! apart by [`NodeScoped`]); everything else is shared, sealed exactly as on a single node.
//! A node's name in the store is derived from its device key ([`node_id`]).
//!
//! What a node keeps in memory follows the other nodes' commits through the store's change
//! feed ([`Core::follow_cluster`]): a user's or namespace's change drops its cached
//! verifications, a key's change its parsed copy, a new clock offset is read again, a lock
//! on any node (a write of [`LOCK_PATH`]) locks this one, and a new domain key (a rotation or
//! a restore elsewhere) locks it too, since it cannot open the new key without the unlock
//! passphrase. A feed that fell behind drops every cache.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use strongroom_store::node_scoped::NodeScoped;
use strongroom_store::{Change, ChangeKind, Store, Txn, WatchError, Watcher};

use crate::cluster_sync::{CacheSync, LocalCommits};
use crate::identity::{NAMESPACES_PREFIX, USERS_PREFIX};
use crate::{
    Core, CoreSettings, DEVICE_KEY_FILE, DynStore, Inner, Result, SystemState, UNATTENDED_PATH,
    UNLOCK_PATH, UnlockRecord, anchor, appliance, clock, crypto::Key32, device, keys, system, tls,
};

/// The paths each node keeps for itself in a shared store: values sealed under its device
/// key (its TLS identity, its appliance configuration, its unattended-boot copy of the domain
/// key) and the flag saying it keeps an anchor.
pub const NODE_LOCAL_PATHS: &[&str] = &[
    tls::TLS_PATH,
    UNATTENDED_PATH,
    anchor::ANCHORED_PATH,
    appliance::RECORD_PREFIX,
];

/// Written by a node that locks (its node id and a random number, so that every lock writes
/// a value of its own; nothing secret): every other node locks too.
/// Also the record each node reads to check the store answers (`cluster_health`).
pub(crate) const LOCK_PATH: &str = "meta/cluster-lock";

/// How long the follower waits for a change before it notes how far the feed has come (which
/// moves without a change for it: other nodes' own records, the store's sync mark) and checks
/// the core still exists. The confirmation of the caches waits on it (`cluster_sync`).
const FOLLOW_POLL: Duration = Duration::from_millis(10);
/// How long the follower waits before it tries to watch again after a failure, the first
/// time; the wait doubles up to [`REWATCH_MAX`] while watching fails.
const REWATCH_PAUSE: Duration = Duration::from_secs(1);
const REWATCH_MAX: Duration = Duration::from_secs(30);

/// This node's part in a cluster, held by its [`Core`].
pub(crate) struct Cluster {
    pub(crate) node_id: String,
    /// The revision of [`LOCK_PATH`] when this node last became Operational: only a later
    /// lock locks it.
    unlocked_at: AtomicU64,
    /// The value of [`LOCK_PATH`] then: a feed that fell behind (or a restore's switch of
    /// generations, after which every record has a new revision) compares values.
    unlocked_lock: Mutex<Option<Vec<u8>>>,
    /// The feed opened with the store, until [`Core::follow_cluster`] takes it.
    watcher: Mutex<Option<Watcher>>,
    /// When the store last answered (see [`crate::cluster_health`]).
    pub(crate) health: crate::cluster_health::Health,
    /// Whether the caches may answer without the store (see [`crate::cluster_sync`]).
    pub(crate) sync: CacheSync,
}

impl Cluster {
    /// The write that tells the other nodes to lock.
    pub(crate) fn lock_txn(&self) -> Txn {
        let mut nonce = [0u8; 8];
        crate::crypto::fill_random(&mut nonce);
        Txn::new()
            .put(
                LOCK_PATH,
                format!("{} {}", self.node_id, hex::encode(nonce)),
            )
            .delete_prefix(crate::sessions::SESSIONS_PREFIX)
            .delete_prefix(crate::sessions::SESSION_INDEX_PREFIX)
    }

    /// Records where the cluster's lock record stands as this node becomes Operational.
    pub(crate) fn note_unlock(&self, raw: &dyn Store) -> Result<()> {
        let entry = raw.get(LOCK_PATH)?;
        let revision = entry.as_ref().map_or(0, |e| e.revision);
        *self.unlocked_lock.lock().unwrap_or_else(|e| e.into_inner()) =
            entry.map(|e| e.value.clone());
        self.unlocked_at.store(revision, Ordering::SeqCst);
        Ok(())
    }
}

/// The name of a node in the shared store: derived from its device key (a digest, so it
/// tells nothing about the key), stable for the life of the key.
pub fn node_id(device_key: &Key32) -> String {
    let id = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &[b"strongroom node id".as_slice(), device_key.as_ref()].concat(),
    );
    hex::encode(&id.as_ref()[..8])
}

impl Core {
    /// Opens a node of a cluster: the data directory (created, mode 0700, if missing) holds
    /// the device key and the anchor; `shared` is the store every node of the cluster opens
    /// (etcd). A node without a device key is new to the cluster: it makes one, and comes up
    /// Locked on a provisioned cluster (Unprovisioned on an empty one). Its TLS identity is
    /// its own, made at first start.
    pub fn open_cluster(data_dir: &Path, shared: DynStore, settings: CoreSettings) -> Result<Self> {
        crate::prepare_data_dir(data_dir)?;
        // No key: a new node, whose local records (under a name derived from the key it is
        // about to make) cannot exist yet.
        let device_key = device::load_or_create(
            &data_dir.join(DEVICE_KEY_FILE),
            true,
            settings.regenerate_device_key,
        )?;
        let node_id = node_id(&device_key);
        let scoped: DynStore = Arc::new(NodeScoped::new(shared, &node_id, NODE_LOCAL_PATHS));
        let local_commits = Arc::new(AtomicU64::new(0));
        let store: DynStore = Arc::new(LocalCommits::new(scoped, local_commits.clone()));
        // Before anything is read, so no change made meanwhile is missed.
        let watcher = store.watch("")?;
        let feed_live = watcher.liveness();
        tracing::info!(node = %node_id, "cluster mode");
        let cluster = Cluster {
            node_id,
            unlocked_at: AtomicU64::new(0),
            unlocked_lock: Mutex::new(None),
            watcher: Mutex::new(Some(watcher)),
            health: crate::cluster_health::Health::new(settings.cluster_failed_after),
            sync: CacheSync::new(local_commits, feed_live),
        };
        Self::open_on(data_dir, store, device_key, settings, Some(cluster))
    }

    /// This node's name in the shared store, in cluster mode.
    pub fn node_id(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.node_id.as_str())
    }

    /// Starts following the other nodes' commits (see the module documentation), on a thread
    /// of its own that ends with the core. Nothing on a single node; once only.
    pub fn follow_cluster(self: &Arc<Self>) -> Result<()> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let Some(watcher) = cluster
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Ok(());
        };
        let core = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("cluster-follow".into())
            .spawn(move || follow(core, watcher))
            .map_err(crate::Error::internal)?;
        let core = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("cluster-health".into())
            .spawn(move || crate::cluster_health::watch_health(core))
            .map_err(crate::Error::internal)?;
        let core = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("cluster-sync".into())
            .spawn(move || crate::cluster_sync::keep_confirming(core))
            .map_err(crate::Error::internal)?;
        Ok(())
    }

    /// A failed core call as this node should answer it. In a cluster, a value that does not
    /// open, or a sealed write its guard refused ([`crate::rotation::KEY_GUARD_PATH`]), is
    /// most often no tampering: another node rotated the domain key and re-sealed the store,
    /// and this node's change feed has not told it yet. Then the node locks now, as the feed
    /// would have it do a moment later, and the call gets the Locked state's answer rather
    /// than an internal error; after a reset elsewhere, the Unprovisioned state's. Anything
    /// else, and any error while the node's key is still the store's, is answered as it is.
    pub fn settle_error(&self, error: crate::Error) -> crate::Error {
        use crate::Error;
        use strongroom_store::StoreError;
        let maybe_rotated = matches!(
            error,
            Error::Store(StoreError::Tampered(_) | StoreError::GuardMoved(_)) | Error::Internal(_)
        );
        if self.cluster.is_none() || !maybe_rotated {
            return error;
        }
        if self.state() == SystemState::Operational {
            // Read now, a missing record is the reset itself, not a delete still on its way.
            self.follow_unlock_record(true);
        }
        match self.state() {
            SystemState::Operational => error,
            state => Error::WrongState(state),
        }
    }

    /// What a committed change (this node's or another's) means for what this node holds.
    fn apply_change(&self, change: &Change) {
        let key = change.key.as_str();
        let deleted = change.kind == ChangeKind::Delete;
        if let Ok(u) = self.unlocked() {
            if let Some(user_id) = key.strip_prefix(USERS_PREFIX) {
                u.followed_tags.changed(user_id, change.revision);
            } else if let Some(h) = key.strip_prefix(crate::sessions::SESSIONS_PREFIX) {
                u.followed_sessions.changed(h, change.revision);
            }
        }
        if let Some(user_id) = key.strip_prefix(USERS_PREFIX) {
            self.auth_cache.invalidate_user(user_id);
            if deleted {
                // Sessions in memory only: the stored ones were ended by the node that deleted it.
                self.sessions.end_user(user_id, None);
            }
        } else if let Some(namespace) = key.strip_prefix(NAMESPACES_PREFIX) {
            self.auth_cache.invalidate_namespace(namespace);
            if deleted {
                self.sessions.end_namespace(namespace);
            }
        } else if key.starts_with(keys::KEYS_PREFIX) {
            if let Ok(u) = self.unlocked() {
                // A put keeps the count: it is bound to the key's identity, which a
                // replacement changes.
                if deleted {
                    u.key_cache.forget(key);
                } else {
                    u.key_cache.changed(key);
                }
            }
        } else if key == clock::TIME_OFFSET_PATH {
            if let Ok(u) = self.unlocked()
                && let Err(e) = self.load_time_offset(&u.data)
            {
                tracing::warn!(error = %e, "reading the clock offset another node set");
            }
        } else if key == LOCK_PATH && !deleted {
            self.lock_following(change.revision);
        } else if key == UNLOCK_PATH {
            self.follow_unlock_record(deleted);
        }
    }

    /// Another node locked (at `revision`): so does this one, unless it was unlocked since.
    fn lock_following(&self, revision: u64) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        if self.state() == SystemState::Operational
            && revision > cluster.unlocked_at.load(Ordering::SeqCst)
        {
            self.forget_keys();
            tracing::info!("locked: another node of the cluster locked");
        }
    }

    /// The unlock record changed: provisioned or restored elsewhere (a Unprovisioned node
    /// becomes Locked), reset elsewhere (this node forgets its key and is Unprovisioned), or
    /// a new passphrase (nothing to do) or a new domain key (this node cannot follow without
    /// the passphrase: it locks). `deleted`: the record's absence is to be acted on (its
    /// delete came through the feed, or [`Core::settle_error`] found it gone).
    fn follow_unlock_record(&self, deleted: bool) {
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        let record = match self.raw.get(UNLOCK_PATH) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(error = %e, "reading the unlock record another node changed");
                return;
            }
        };
        match (self.state(), record) {
            (SystemState::Unprovisioned, Some(_)) => {
                self.set_inner(Inner::Locked);
                tracing::info!("the cluster was provisioned: Locked");
            }
            (SystemState::Unprovisioned, None) => {}
            // Recovery reads the record afresh (see `cluster_health`).
            (SystemState::Failed, _) => {}
            (_, None) => {
                if deleted {
                    self.forget_keys();
                    self.set_inner(Inner::Unprovisioned);
                    tracing::info!("the cluster was reset: Unprovisioned");
                }
            }
            (SystemState::Locked, Some(_)) => {}
            (SystemState::Operational, Some(entry)) => {
                let Ok(u) = self.unlocked() else { return };
                let held = serde_json::from_slice::<UnlockRecord>(&entry.value)
                    .is_ok_and(|r| system::is_store_key(r.key_version, &u.keys(), &u.data));
                if !held {
                    drop(u);
                    self.forget_keys();
                    tracing::warn!(
                        "locked: another node of the cluster changed the domain key; unlock again"
                    );
                }
            }
        }
    }

    /// The feed fell behind: what it would have said is unknown, so every cache goes.
    fn forget_caches(&self) {
        self.auth_cache.clear();
        if let Ok(u) = self.unlocked() {
            u.key_cache.clear();
            u.followed_sessions.clear();
            u.followed_tags.clear();
            if let Err(e) = self.load_time_offset(&u.data) {
                tracing::warn!(error = %e, "reading the clock offset again");
            }
        }
        // Lock and unlock records: read them as if they had just changed. The lock record by
        // its value: revisions do not survive a restore's switch of generations.
        if let (Ok(Some(entry)), Some(cluster)) = (self.raw.get(LOCK_PATH), &self.cluster) {
            let seen = cluster
                .unlocked_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if seen.as_deref() != Some(entry.value.as_slice()) {
                self.lock_following(u64::MAX);
            }
        }
        // Absent, it was deleted in what the feed missed: a factory reset (one through a
        // restore's switch of generations always reaches here).
        self.follow_unlock_record(true);
    }
}

fn follow(core: Weak<Core>, mut watcher: Watcher) {
    let mut rewatch_pause = REWATCH_PAUSE;
    loop {
        // Read before the queue is drained: once it is empty, every change up to here has
        // been applied.
        let through = watcher.through();
        let next = match watcher.try_recv() {
            Ok(None) => {
                match core.upgrade() {
                    Some(core) => {
                        if let Some(c) = &core.cluster {
                            c.sync.note_applied(through);
                        }
                    }
                    None => return,
                }
                watcher.recv_timeout(FOLLOW_POLL)
            }
            other => other,
        };
        match next {
            Ok(Some(change)) => match core.upgrade() {
                Some(core) => core.apply_change(&change),
                None => return,
            },
            Ok(None) if core.strong_count() == 0 => return,
            Ok(None) => {}
            Err(WatchError::Closed) => return,
            Err(WatchError::Lagged { missed_from }) => {
                let Some(c) = core.upgrade() else { return };
                tracing::warn!(
                    missed_from,
                    "the cluster feed fell behind; dropping every cache"
                );
                match c.raw.watch("") {
                    Ok(again) => {
                        watcher = again;
                        rewatch_pause = REWATCH_PAUSE;
                        c.forget_caches();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "watching the cluster store again");
                        drop(c);
                        std::thread::sleep(rewatch_pause);
                        rewatch_pause = (rewatch_pause * 2).min(REWATCH_MAX);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strongroom_store::redb::RedbStore;
    use strongroom_store::{Store, StoreError};

    use crate::secret::Passphrase;
    use crate::tests::{UNLOCK, admin, provision};
    use crate::users::NewUserId;
    use crate::{Core, CoreSettings, DynStore, Error, Role, SystemState, audit};

    /// Two Operational nodes on one shared redb store. Neither follows the change feed, so
    /// node two learns of node one's changes only from what it reads.
    fn two_nodes() -> (tempfile::TempDir, DynStore, Core, Core) {
        let dir = tempfile::tempdir().unwrap();
        let store: DynStore = Arc::new(RedbStore::open(&dir.path().join("shared.redb")).unwrap());
        let open = |name: &str| {
            Core::open_cluster(
                &dir.path().join(name),
                store.clone(),
                CoreSettings::default(),
            )
            .unwrap()
        };
        let one = open("one");
        provision(&one);
        let two = open("two");
        two.unlock(&Passphrase::new(UNLOCK)).unwrap();
        (dir, store, one, two)
    }

    /// The guard's key in the shared store, as the nodes' scoped stores write it.
    fn guard_path() -> String {
        let shared = strongroom_store::node_scoped::SHARED_PREFIX;
        format!("{shared}{}", crate::rotation::KEY_GUARD_PATH)
    }

    /// A sealed write on `core` that reads nothing first, as a request's might: its result,
    /// and whether anything of it reached the shared store.
    fn write_probe(core: &Core, store: &DynStore) -> (strongroom_store::Result<()>, bool) {
        let probe = strongroom_store::Txn::new().put("config/probe", b"value".to_vec());
        let result = core.unlocked().unwrap().data.commit(probe).map(|_| ());
        let shared = strongroom_store::node_scoped::SHARED_PREFIX;
        let landed = store
            .get(&format!("{shared}config/probe"))
            .unwrap()
            .is_some();
        (result, landed)
    }

    /// Rotates the domain key on `core`, as the root Administrator.
    fn rotate(core: &Core) {
        core.operational(&admin())
            .and_then(|h| h.system().rotate_data_key(&Passphrase::new(UNLOCK)))
            .unwrap();
    }

    /// `error`, settled on `core`, is answered as Locked, and `core` is Locked.
    fn settles_to_locked(core: &Core, error: Error) {
        let settled = core.settle_error(error);
        assert!(
            matches!(settled, Error::WrongState(SystemState::Locked)),
            "{settled:?}"
        );
        assert_eq!(core.state(), SystemState::Locked);
    }

    fn create_user(core: &Core, id: &str) -> crate::Result<String> {
        let event = audit::NewAuditEvent {
            actor: Some("admin".into()),
            face: "nethsm".into(),
            action: format!("PUT /users/{id}"),
            target: format!("/users/{id}"),
            outcome: "success".into(),
            status: Some(201),
            request_id: format!("req-{id}"),
        };
        audit::in_request(Some(audit::RequestAudit::new(event)), || {
            core.operational(&admin()).and_then(|h| {
                h.users().create(
                    NewUserId::Given(id),
                    "",
                    Role::Operator,
                    &Passphrase::new("operator passphrase"),
                )
            })
        })
    }

    /// Node one rotates the domain key; node two, whose feed has not told it, still holds the
    /// old key. Its next audited write finds the trail re-sealed under the new key: the call
    /// is answered as Locked (412 on the NetHSM face), not as an internal error, and the node
    /// is Locked from then on, as the feed would have made it.
    #[test]
    fn a_rotation_elsewhere_locks_a_node_at_its_first_unreadable_value() {
        let (_dir, _store, one, two) = two_nodes();
        create_user(&two, "before").unwrap();
        rotate(&one);
        assert_eq!(
            two.state(),
            SystemState::Operational,
            "no feed: not told yet"
        );

        let failed = create_user(&two, "after").unwrap_err();
        assert!(
            matches!(failed, Error::Store(StoreError::Tampered(_))),
            "{failed:?}"
        );
        settles_to_locked(&two, failed);

        // Nothing of the refused write landed, and the node works again once unlocked.
        two.unlock(&Passphrase::new(UNLOCK)).unwrap();
        let users = two
            .operational(&admin())
            .and_then(|h| h.users().list())
            .unwrap();
        assert!(users.iter().any(|u| u == "before"));
        assert!(!users.iter().any(|u| u == "after"));
        create_user(&two, "after").unwrap();
    }

    /// Node two has not heard of node one's rotation and reads nothing re-sealed: its writes
    /// would land sealed under the old key, which no node holds once the rotation finished.
    /// The guard refuses them; the node locks; unlocked again, it writes under the new key.
    #[test]
    fn a_node_that_missed_a_rotation_cannot_seal_under_the_old_key() {
        let (_dir, store, one, two) = two_nodes();
        rotate(&one);
        create_user(&one, "by-the-rotating-node").unwrap();

        let (written, landed) = write_probe(&two, &store);
        assert!(matches!(written, Err(StoreError::GuardMoved(_))));
        assert!(!landed);
        // A stale node is locked by its administrator all the same.
        let lock = two.operational(&admin()).and_then(|h| h.system().lock());
        assert!(lock.is_ok(), "{lock:?}");
        assert_eq!(two.state(), SystemState::Locked);
        two.unlock(&Passphrase::new(UNLOCK)).unwrap();
        rotate(&one);

        // A change through the handles, outside a request (no audit trail read first): its
        // refusal is the guard's, not taken for the id existing already.
        let refused = two
            .operational(&admin())
            .and_then(|h| {
                h.users().create(
                    NewUserId::Given("late"),
                    "",
                    Role::Operator,
                    &Passphrase::new("operator passphrase"),
                )
            })
            .unwrap_err();
        assert!(
            matches!(refused, Error::Store(StoreError::GuardMoved(_))),
            "{refused:?}"
        );
        settles_to_locked(&two, refused);
        let users = one.operational(&admin()).and_then(|h| h.users().list());
        assert!(!users.unwrap().iter().any(|u| u == "late"));

        two.unlock(&Passphrase::new(UNLOCK)).unwrap();
        create_user(&two, "late").unwrap();
        let read_on_one = one
            .operational(&admin())
            .and_then(|h| h.users().get("late"));
        assert!(read_on_one.is_ok());
    }

    /// A request's event that a node which missed a rotation cannot write (the losing side
    /// of two rotations at once, say) is kept, and written at the node's next unlock.
    #[test]
    fn an_event_a_stale_node_cannot_write_waits_for_its_next_unlock() {
        let (_dir, _store, one, two) = two_nodes();
        rotate(&one);
        let refused = audit::NewAuditEvent {
            actor: Some("admin".into()),
            face: "strongroom".into(),
            action: "POST /api/strongroom/v1/system/rotate-data-key".into(),
            target: "/api/strongroom/v1/system/rotate-data-key".into(),
            outcome: "failure".into(),
            status: Some(409),
            request_id: "req-losing-rotation".into(),
        };
        two.record_request(refused, audit::Caller::Authenticated, "127.0.0.1");
        assert_eq!(two.state(), SystemState::Locked);

        two.unlock(&Passphrase::new(UNLOCK)).unwrap();
        let events = one
            .operational(&admin())
            .and_then(|h| h.audit().events(0, 1000))
            .unwrap();
        assert!(events.unreadable.is_empty());
        let kept = events
            .events
            .iter()
            .find(|e| e.request_id == "req-losing-rotation")
            .expect("the kept event is in the trail");
        assert_eq!(kept.status, Some(409));
        let report = one.operational(&admin()).and_then(|h| h.audit().verify());
        assert!(report.is_ok(), "{report:?}");
    }

    /// An unlock that reads the unlock record of one key version and then a guard of another
    /// (a rotation elsewhere came between the two reads) is refused: the node stays Locked.
    #[test]
    fn an_unlock_that_straddles_a_rotation_elsewhere_is_refused() {
        let (_dir, store, _one, two) = two_nodes();
        two.operational(&admin())
            .and_then(|h| h.system().lock())
            .unwrap();
        let guard = guard_path();
        store.put(&guard, b"9").unwrap();
        let refused = two.unlock(&Passphrase::new(UNLOCK)).unwrap_err();
        assert!(
            matches!(&refused, Error::Conflict(m) if m.contains("changed while unlocking")),
            "{refused:?}"
        );
        assert_eq!(two.state(), SystemState::Locked);
        store.put(&guard, b"1").unwrap();
        two.unlock(&Passphrase::new(UNLOCK)).unwrap();
        create_user(&two, "after").unwrap();
    }

    /// A full restore on one node replaces the shared store, and its domain key, with a
    /// backup's. A node that missed it still holds the replaced store's key, here one whose
    /// unlock saw no guard (a store provisioned before guards, never rotated): the restore
    /// writes the guard of the restored key's version, which refuses that node's writes.
    #[test]
    fn a_full_restore_guards_against_the_replaced_stores_key() {
        let (_dir, store, one, two) = two_nodes();
        let guard = guard_path();
        two.operational(&admin())
            .and_then(|h| h.system().lock())
            .unwrap();
        store
            .commit(strongroom_store::Txn::new().delete(guard.as_str()))
            .unwrap();
        two.unlock(&Passphrase::new(UNLOCK)).unwrap();

        // Another appliance's backup, its domain key at version 3.
        let (_other_dir, other) = crate::tests::open_provisioned();
        rotate(&other);
        rotate(&other);
        let backup = crate::tests::backup_bytes(&other);
        one.operational(&admin())
            .and_then(|h| h.system().factory_reset())
            .unwrap();
        crate::tests::restore_onto(&one, &backup);
        assert_eq!(store.get(&guard).unwrap().unwrap().value, b"3");

        // A write that reads nothing first (a request's would already fail on the re-sealed
        // audit head).
        let (written, landed) = write_probe(&two, &store);
        let refused = written.unwrap_err();
        assert!(matches!(refused, StoreError::GuardMoved(_)), "{refused:?}");
        assert!(!landed);
        settles_to_locked(&two, refused.into());

        one.unlock(&Passphrase::new(UNLOCK)).unwrap();
        create_user(&one, "restored").unwrap();
    }

    /// A factory reset on one node removes the unlock record and the guard; a node that
    /// has not heard of it yet finds its write refused. It answers as the Unprovisioned node
    /// it now is, as its feed would have made it, rather than with an internal error.
    #[test]
    fn a_node_that_missed_a_reset_settles_to_unprovisioned() {
        let (_dir, _store, one, two) = two_nodes();
        one.operational(&admin())
            .and_then(|h| h.system().factory_reset())
            .unwrap();
        assert_eq!(
            two.state(),
            SystemState::Operational,
            "no feed: not told yet"
        );

        let refused = create_user(&two, "late").unwrap_err();
        let settled = two.settle_error(refused);
        assert!(
            matches!(settled, Error::WrongState(SystemState::Unprovisioned)),
            "{settled:?}"
        );
        assert_eq!(two.state(), SystemState::Unprovisioned);
        assert!(two.unlocked().is_err());
    }

    /// A value that fails under the key the store names is tampering, not a rotation: the
    /// error stays what it is, and the node stays Operational.
    #[test]
    fn a_tampered_value_under_the_current_key_is_reported_as_it_is() {
        let (_dir, store, _one, two) = two_nodes();
        create_user(&two, "victim").unwrap();
        let path = crate::identity::user_path("victim");
        let raw_path = format!("{}{path}", strongroom_store::node_scoped::SHARED_PREFIX);
        let mut sealed = store.get(&raw_path).unwrap().unwrap().value.clone();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        store
            .commit(strongroom_store::Txn::new().put(raw_path, sealed))
            .unwrap();

        let failed = two
            .operational(&admin())
            .and_then(|h| h.users().get("victim"))
            .unwrap_err();
        assert!(matches!(
            two.settle_error(failed),
            Error::Store(StoreError::Tampered(p)) if p == path
        ));
        assert_eq!(two.state(), SystemState::Operational);
    }

    /// On a single node there is no other node to have re-sealed anything.
    #[test]
    fn a_single_node_reports_a_tampered_value_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path(), CoreSettings::default()).unwrap();
        let error = Error::Store(StoreError::Tampered("users/x".into()));
        assert!(matches!(
            core.settle_error(error),
            Error::Store(StoreError::Tampered(_))
        ));
    }
}
