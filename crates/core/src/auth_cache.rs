//! A cache of successful password verifications, so HTTP Basic auth on every request does not
//! redo Argon2 (which is slow on purpose).
//!
//! Entries are keyed by HMAC-SHA256(process secret, len(user id) as u64 BE || user id ||
//! passphrase), the length first so no two (id, passphrase) pairs give one input: the cache
//! never holds a passphrase, and its keys are useless outside this process. Entries live for a
//! short, configurable time, and are dropped when the user's passphrase changes, the user or
//! its namespace is deleted, or the node locks. A per-user generation counter closes the race
//! where a verification that read the old passphrase finishes after the change: it is not
//! cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;

use crate::clock::Clock;
use crate::crypto::fill_random;
use crate::identity::Principal;

/// Past this many entries, expired ones are swept; if still too many, the cache is emptied.
const MAX_ENTRIES: usize = 50_000;

type Mac = [u8; 32];

struct Entry {
    principal: Principal,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Mac, Entry>,
    /// Change counters of users (by id) and namespaces (by `~name`, which no user id can be).
    generations: HashMap<String, u64>,
    /// Bumped when everything is dropped.
    epoch: u64,
}

impl Inner {
    /// Changes whenever the user, its namespace, or the whole cache is invalidated.
    fn generation(&self, user_id: &str) -> u64 {
        let of = |k: &str| self.generations.get(k).copied().unwrap_or(0);
        let ns = user_id
            .split_once('~')
            .map(|(ns, _)| of(&format!("~{ns}")))
            .unwrap_or(0);
        self.epoch + of(user_id) + ns
    }

    fn bump(&mut self, key: String) {
        *self.generations.entry(key).or_insert(0) += 1;
    }
}

pub struct AuthCache {
    key: hmac::Key,
    ttl: Duration,
    clock: Clock,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AuthCache {
    /// A cache whose entries live `ttl` on `clock`; a zero `ttl` disables caching.
    pub fn new(ttl: Duration, clock: Clock) -> Self {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        fill_random(secret.as_mut());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
            ttl,
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn mac(&self, user_id: &str, passphrase: &[u8]) -> Mac {
        // The id's length first: with a separator byte instead, `("a\0b", "c")` and
        // `("a", "b\0c")` would share an entry, and a check would record the wrong actor.
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&(user_id.len() as u64).to_be_bytes());
        ctx.update(user_id.as_bytes());
        ctx.update(passphrase);
        let tag = ctx.sign();
        let mut mac = [0u8; 32];
        mac.copy_from_slice(tag.as_ref());
        mac
    }

    pub fn get(&self, mac: &Mac) -> Option<Principal> {
        let mut inner = self.lock();
        match inner.entries.get(mac) {
            Some(e) if e.expires > self.clock.instant() => Some(e.principal.clone()),
            Some(_) => {
                inner.entries.remove(mac);
                None
            }
            None => None,
        }
    }

    /// The user's generation, to read before verifying and pass to [`AuthCache::insert`].
    pub fn generation(&self, user_id: &str) -> u64 {
        self.lock().generation(user_id)
    }

    /// Caches a verification, unless the user changed since `generation` was read.
    pub fn insert(&self, mac: Mac, principal: Principal, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation(&principal.user_id) != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            let now = self.clock.instant();
            inner.entries.retain(|_, e| e.expires > now);
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
        }
        let expires = self.clock.instant() + self.ttl;
        inner.entries.insert(mac, Entry { principal, expires });
    }

    /// Drops every entry of the user and makes in-flight verifications uncacheable.
    pub fn invalidate_user(&self, user_id: &str) {
        let mut inner = self.lock();
        inner.bump(user_id.to_owned());
        inner.entries.retain(|_, e| e.principal.user_id != user_id);
    }

    /// Drops every entry of the namespace's users.
    pub fn invalidate_namespace(&self, namespace: &str) {
        let mut inner = self.lock();
        inner.bump(format!("~{namespace}"));
        inner
            .entries
            .retain(|_, e| e.principal.namespace.as_deref() != Some(namespace));
    }

    /// Drops everything (on lock).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Role;

    #[test]
    fn hit_miss_invalidate_and_race() {
        let cache = AuthCache::new(Duration::from_secs(60), Clock::system());
        let p = Principal::new("alice", Role::Operator);
        let mac = cache.mac("alice", b"pass");
        assert_ne!(mac, cache.mac("alice", b"pasS"));
        assert_ne!(cache.mac("a", b"lice:pass"), cache.mac("a:lice", b"pass"));
        // Ids may hold any byte the faces pass on: the input must stay unambiguous.
        assert_ne!(cache.mac("a\0b", b"c"), cache.mac("a", b"b\0c"));
        assert_ne!(cache.mac("", b"\0x"), cache.mac("\0", b"x"));
        assert!(cache.get(&mac).is_none());
        cache.insert(mac, p.clone(), cache.generation("alice"));
        assert_eq!(cache.get(&mac), Some(p.clone()));
        cache.invalidate_user("alice");
        assert!(cache.get(&mac).is_none());

        // A verification that started before a change is not cached.
        let g = cache.generation("alice");
        cache.invalidate_user("alice");
        cache.insert(mac, p.clone(), g);
        assert!(cache.get(&mac).is_none());

        let ns = Principal::new("ns1~bob", Role::Operator);
        let ns_mac = cache.mac("ns1~bob", b"x");
        let g = cache.generation("ns1~bob");
        cache.invalidate_namespace("ns1");
        cache.insert(ns_mac, ns.clone(), g);
        assert!(cache.get(&ns_mac).is_none(), "raced a namespace deletion");
        cache.insert(ns_mac, ns, cache.generation("ns1~bob"));
        cache.insert(mac, p, cache.generation("alice"));
        cache.invalidate_namespace("ns1");
        assert!(cache.get(&ns_mac).is_none());
        assert!(cache.get(&mac).is_some());
        cache.clear();
        assert!(cache.get(&mac).is_none());
    }

    #[test]
    fn entries_expire_and_zero_ttl_disables() {
        let (clock, manual) = Clock::manual();
        let cache = AuthCache::new(Duration::from_secs(30), clock);
        let mac = cache.mac("a", b"b");
        cache.insert(mac, Principal::new("a", Role::Metrics), 0);
        manual.advance(Duration::from_secs(29));
        assert!(cache.get(&mac).is_some(), "within its time");
        manual.advance(Duration::from_secs(2));
        assert!(cache.get(&mac).is_none());
        let off = AuthCache::new(Duration::ZERO, Clock::system());
        off.insert(mac, Principal::new("a", Role::Metrics), 0);
        assert!(off.get(&mac).is_none());
    }
}
