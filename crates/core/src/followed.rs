//! Cluster mode: records kept in memory as read from the store at a revision, answered
//! without reading etcd while the change feed is confirmed ([`crate::cluster_sync`]).
//!
//! The follower ([`crate::cluster`]) hands every change of a followed path to
//! [`Followed::changed`], which drops the copy unless it is already at that revision (the
//! node's own write, kept after it committed). So, while the caches are trusted, a copy here
//! is the record as it stands; when not, callers read the store as before. Used for stored
//! sessions (appliance sessions, backup-client tokens: by the SHA-256 of the token, never the
//! token) and for users' tags.
//!
//! A reader that missed reads the store, then keeps what it read only if no change reached
//! this cache meanwhile ([`Followed::epoch`], [`Followed::insert_unless_changed`]): the
//! record read may be older than a change already applied, and kept it would outlive it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// How many records one cache holds; past it, an arbitrary one goes (a miss costs one read).
pub(crate) const FOLLOWED_CAPACITY: usize = 4096;

struct Inner<T> {
    /// Name → (the record's store revision, what was read of it).
    entries: HashMap<String, (u64, T)>,
    /// Moves on whenever a change drops (or might have dropped) a copy.
    epoch: u64,
}

/// One cache of followed records (see the module documentation).
pub(crate) struct Followed<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> Default for Followed<T> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                epoch: 0,
            }),
        }
    }
}

impl<T: Clone> Followed<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The copy of `name` and its revision: only for a caller that knows every change of the
    /// record until now has reached [`Followed::changed`] (the caches trusted).
    pub(crate) fn get(&self, name: &str) -> Option<(u64, T)> {
        self.lock().entries.get(name).cloned()
    }

    /// Where the drops stand: read it before reading the record from the store, and give it
    /// to [`Followed::insert_unless_changed`].
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Keeps `value`, read at `revision`, unless a change reached this cache since `epoch`
    /// was read, or a copy of a later revision is here already.
    pub(crate) fn insert_unless_changed(&self, name: &str, revision: u64, value: T, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        if let Some((held, _)) = inner.entries.get(name) {
            if *held > revision {
                return;
            }
        } else if inner.entries.len() >= FOLLOWED_CAPACITY {
            let any = inner.entries.keys().next().cloned();
            if let Some(any) = any {
                inner.entries.remove(&any);
            }
        }
        inner.entries.insert(name.to_owned(), (revision, value));
    }

    /// The record `name` changed at `revision` (a put or a delete): its copy goes, unless it
    /// was read at that revision or later.
    pub(crate) fn changed(&self, name: &str, revision: u64) {
        let mut inner = self.lock();
        if matches!(inner.entries.get(name), Some((held, _)) if *held >= revision) {
            return;
        }
        inner.entries.remove(name);
        inner.epoch += 1;
    }

    /// Every copy goes (the feed fell behind, or the node locked).
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.epoch += 1;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_drops_an_older_copy_and_keeps_one_as_new() {
        let f = Followed::<&str>::default();
        let epoch = f.epoch();
        f.insert_unless_changed("a", 5, "five", epoch);
        assert_eq!(f.get("a"), Some((5, "five")));
        // The node's own write, kept at its revision, then reported by the feed.
        f.changed("a", 5);
        assert_eq!(f.get("a"), Some((5, "five")));
        f.changed("a", 6);
        assert_eq!(f.get("a"), None);
    }

    #[test]
    fn a_read_older_than_an_applied_change_is_not_kept() {
        let f = Followed::<&str>::default();
        let epoch = f.epoch();
        // The record is read at 5; meanwhile the feed applies its deletion at 6.
        f.changed("a", 6);
        f.insert_unless_changed("a", 5, "five", epoch);
        assert_eq!(f.get("a"), None);
        // A later read keeps; an older one does not replace it.
        let epoch = f.epoch();
        f.insert_unless_changed("a", 7, "seven", epoch);
        f.insert_unless_changed("a", 4, "four", epoch);
        assert_eq!(f.get("a"), Some((7, "seven")));
        f.clear();
        assert_eq!(f.get("a"), None);
    }

    #[test]
    fn it_holds_no_more_than_its_capacity() {
        let f = Followed::<u8>::default();
        for i in 0..FOLLOWED_CAPACITY + 10 {
            let epoch = f.epoch();
            f.insert_unless_changed(&i.to_string(), 1, 0, epoch);
        }
        assert_eq!(f.len(), FOLLOWED_CAPACITY);
    }
}
