//! Cluster mode: what a node does when the cluster store (etcd) stops answering, and when it
//! answers again. Every face shares it, since it lives in the core's state.
//!
//! **The rule.** A node reads a record of the shared store once a second (a linearizable
//! read, which etcd answers only with a leader and a quorum). When no read has been answered
//! for longer than the store's request timeout ([`CoreSettings::cluster_failed_after`]), the
//! node enters `Failed`: it drops the domain key and everything derived from it, the cached
//! verifications and the sessions it holds, as a lock does, and the state gates refuse
//! everything but the health, info and diagnose routes. Until then, a cached verification is
//! used only while the last answered read is younger than that timeout, so no credential is
//! accepted from memory after the node stopped being able to learn that it changed (and, as
//! every cache, only while the change feed is confirmed: [`crate::cluster_sync`]).
//!
//! **Recovery.** When a read is answered again, the node reads the unlock record afresh and
//! comes back Locked (or Unprovisioned, if the cluster was reset meanwhile), never straight
//! to Operational: while it could not see the store, the domain key may have been rotated,
//! a backup restored or the cluster locked, and the unlock passphrase is what proves the
//! operator still wants this node serving. A node with unattended boot set up unlocks itself
//! again as it does when it starts. Nothing is restarted: the change feed resumes where it
//! stopped (see the etcd backend), so the caches that follow it stay coherent.
//!
//! [`CoreSettings::cluster_failed_after`]: crate::CoreSettings::cluster_failed_after

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cluster::LOCK_PATH;
use crate::{Core, Inner, SystemState, UNLOCK_PATH};

/// How often a node checks that the store answers.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// A node's record of when the cluster store last answered.
pub(crate) struct Health {
    /// When this record was made: the times below count from it.
    epoch: Instant,
    /// When the last answered read began, in milliseconds since `epoch`.
    last_answer_ms: AtomicU64,
    /// Unanswered for longer than this: `Failed`.
    failed_after: Duration,
}

/// What `/health/diagnose` reports of a node's cluster store.
#[derive(Debug, Clone)]
pub struct ClusterHealth {
    /// This node's name in the shared store.
    pub node_id: String,
    /// How long ago the store last answered a read.
    pub last_answer: Duration,
    /// Unanswered for longer than this, the node is `Failed`.
    pub failed_after: Duration,
}

impl Health {
    pub(crate) fn new(failed_after: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            // Opening the store read it just now.
            last_answer_ms: AtomicU64::new(0),
            failed_after,
        }
    }

    fn note_answer(&self, began: Instant) {
        let ms = began.duration_since(self.epoch).as_millis() as u64;
        self.last_answer_ms.fetch_max(ms, Ordering::SeqCst);
    }

    fn since_answer(&self) -> Duration {
        let last = self.epoch + Duration::from_millis(self.last_answer_ms.load(Ordering::SeqCst));
        last.elapsed()
    }

    /// Whether what this node holds in memory may still be trusted: the store answered
    /// within `failed_after`.
    pub(crate) fn fresh(&self) -> bool {
        self.since_answer() <= self.failed_after
    }
}

impl Core {
    /// In cluster mode, how this node sees the cluster store (for `/health/diagnose`).
    pub fn cluster_health(&self) -> Option<ClusterHealth> {
        self.cluster.as_ref().map(|c| ClusterHealth {
            node_id: c.node_id.clone(),
            last_answer: c.health.since_answer(),
            failed_after: c.health.failed_after,
        })
    }

    /// One check that the store answers, and what follows from its outcome.
    fn probe_store(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let began = Instant::now();
        match self.raw.get(LOCK_PATH) {
            Ok(_) => {
                cluster.health.note_answer(began);
                if self.state() == SystemState::Failed {
                    self.recover_from_failed();
                }
            }
            Err(e) => {
                if !cluster.health.fresh() && self.state() != SystemState::Failed {
                    self.enter_failed(&e.to_string());
                }
            }
        }
    }

    /// The store has not answered for too long: forget the key and every cache, as a lock
    /// does, and serve nothing that needs the store.
    fn enter_failed(&self, why: &str) {
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        if self.state() == SystemState::Failed {
            return;
        }
        self.set_inner(Inner::Failed);
        self.auth_cache.clear();
        self.sessions.clear();
        tracing::error!(
            error = %why,
            "Failed: the cluster store (etcd) has not answered; the domain key and caches are dropped until it does"
        );
    }

    /// The store answers again: the node reads its state afresh and comes back Locked (or
    /// Unprovisioned), or Operational through unattended boot, as at a start.
    fn recover_from_failed(&self) {
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        if self.state() != SystemState::Failed {
            return;
        }
        match self.raw.get(UNLOCK_PATH) {
            Ok(Some(_)) => {
                self.set_inner(Inner::Locked);
                // Anything cached while the gate was closing goes too.
                self.auth_cache.clear();
                tracing::warn!("the cluster store answers again: Locked; unlock this node");
                if let Err(e) = self.boot_unattended() {
                    tracing::warn!(error = %e, "unattended boot after the cluster store returned");
                }
            }
            Ok(None) => {
                self.set_inner(Inner::Unprovisioned);
                tracing::warn!(
                    "the cluster store answers again and holds no unlock record: Unprovisioned"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the unlock record after the store returned");
            }
        }
    }
}

/// The probing thread: ends with the core.
pub(crate) fn watch_health(core: Weak<Core>) {
    loop {
        std::thread::sleep(PROBE_EVERY);
        match core.upgrade() {
            Some(core) => core.probe_store(),
            None => return,
        }
    }
}
