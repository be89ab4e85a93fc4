//! Rate limiting of failed attempts, as the original: after a failure, further attempts with
//! the same key from the same client address within the window (one second) are refused
//! with 429 without being checked. Shared by every face (one instance per kind of secret).
//!
//! An attempt is reserved before it is checked ([`FailureLimiter::begin`]): while one check
//! for an (address, key) is in flight, another with other credentials is refused at once, so
//! parallel guesses cannot all slip in before the first failure is recorded. One with the same
//! credentials waits for the check in flight and shares its outcome.
//!
//! Addresses count by IPv4 address or IPv6 /64 ([`limited_prefix`]).
//!
//! Windows are measured on the core's [`Clock`], so tests move time rather than wait.
//!
//! Memory is bounded: entries are keyed by a keyed digest of (address, key), never by the
//! claimed key itself, so an attacker's long user ids cost 16 bytes each; expired entries are
//! swept at least once a window; and past [`MAX_ENTRIES`] live ones, new keys are refused
//! (fail closed) until some expire.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use strongroom_core::clock::Clock;
use tokio::sync::watch;

/// The most failures (and attempts in flight) remembered at once.
pub const MAX_ENTRIES: usize = 65_536;

type Slot = [u8; 16];

struct Flight<T> {
    id: u64,
    /// Which credentials are being checked, as a digest; `None`: never shared.
    credentials: Option<[u8; 32]>,
    outcome: watch::Receiver<Option<T>>,
}

struct Inner<T> {
    last_failure: HashMap<Slot, Instant>,
    in_flight: HashMap<Slot, Flight<T>>,
    swept: Instant,
    next_id: u64,
}

pub struct FailureLimiter<T = ()> {
    window: Duration,
    clock: Clock,
    max_entries: usize,
    key: hmac::Key,
    inner: Mutex<Inner<T>>,
}

/// What [`FailureLimiter::begin`] decided.
pub enum Turn<T> {
    /// Go ahead and check; report the outcome with [`Attempt::finish`].
    Mine(Attempt<T>),
    /// The same credentials are being checked: wait for that outcome with [`Turn::shared`].
    Shared(watch::Receiver<Option<T>>),
    /// Refused without a check: a recent failure, another check in flight, or no room.
    Refused,
}

/// A reserved attempt. Dropped without [`Attempt::finish`] (an error, a cancelled request),
/// it frees its place without counting as a failure; those waiting on it see no outcome.
pub struct Attempt<T> {
    limiter: Arc<FailureLimiter<T>>,
    slot: Slot,
    id: u64,
    outcome: Option<watch::Sender<Option<T>>>,
}

impl<T: Clone> FailureLimiter<T> {
    /// A limiter whose `window` runs on `clock`.
    pub fn new(window: Duration, clock: Clock) -> Self {
        Self::with_capacity(window, clock, MAX_ENTRIES)
    }

    pub fn with_capacity(window: Duration, clock: Clock, max_entries: usize) -> Self {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        strongroom_core::crypto::fill_random(secret.as_mut());
        let swept = clock.instant();
        Self {
            window,
            clock,
            max_entries,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
            inner: Mutex::new(Inner {
                last_failure: HashMap::new(),
                in_flight: HashMap::new(),
                swept,
                next_id: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, ip: IpAddr, key: &str) -> Slot {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&limited_prefix(ip));
        ctx.update(key.as_bytes());
        let mut slot = [0u8; 16];
        slot.copy_from_slice(&ctx.sign().as_ref()[..16]);
        slot
    }

    /// Whether an attempt for `key` from `ip` must be refused now (a failure within the
    /// window). Does not reserve anything.
    pub fn is_limited(&self, ip: IpAddr, key: &str) -> bool {
        let slot = self.slot(ip, key);
        let now = self.clock.instant();
        self.lock()
            .last_failure
            .get(&slot)
            .is_some_and(|t| now.saturating_duration_since(*t) < self.window)
    }

    /// Reserves an attempt for `key` from `ip` carrying `credentials` (a digest; `None` if
    /// attempts are never shared).
    pub fn begin(
        self: &Arc<Self>,
        ip: IpAddr,
        key: &str,
        credentials: Option<[u8; 32]>,
    ) -> Turn<T> {
        let slot = self.slot(ip, key);
        let now = self.clock.instant();
        let mut inner = self.lock();
        let window = self.window;
        let recent = |t: &Instant| now.saturating_duration_since(*t) < window;
        if !recent(&inner.swept) || inner.last_failure.len() >= self.max_entries {
            inner.last_failure.retain(|_, t| recent(t));
            inner.swept = now;
        }
        if inner.last_failure.get(&slot).is_some_and(recent) {
            return Turn::Refused;
        }
        if let Some(flight) = inner.in_flight.get(&slot) {
            return match (flight.credentials, credentials) {
                (Some(a), Some(b)) if a == b => Turn::Shared(flight.outcome.clone()),
                _ => Turn::Refused,
            };
        }
        if inner.last_failure.len() + inner.in_flight.len() >= self.max_entries {
            tracing::warn!(
                entries = inner.last_failure.len(),
                "rate limiter full; refusing new attempts until failures expire"
            );
            return Turn::Refused;
        }
        let (tx, rx) = watch::channel(None);
        let id = inner.next_id;
        inner.next_id += 1;
        inner.in_flight.insert(
            slot,
            Flight {
                id,
                credentials,
                outcome: rx,
            },
        );
        Turn::Mine(Attempt {
            limiter: self.clone(),
            slot,
            id,
            outcome: Some(tx),
        })
    }

    /// How many (address, key) pairs are remembered now.
    pub fn entries(&self) -> usize {
        let inner = self.lock();
        inner.last_failure.len() + inner.in_flight.len()
    }

    fn end(&self, slot: &Slot, id: u64, failed: bool) {
        let mut inner = self.lock();
        if inner.in_flight.get(slot).is_some_and(|f| f.id == id) {
            inner.in_flight.remove(slot);
        }
        if failed {
            inner.last_failure.insert(*slot, self.clock.instant());
        }
    }
}

/// The part of an address the limits key on: an IPv4 address whole (also when it arrives
/// IPv4-mapped), an IPv6 address by its /64, since one host is usually given a whole /64 and
/// could otherwise take a fresh address for every guess.
pub(crate) fn limited_prefix(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_ipv6_mapped().octets(),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                octets
            }
        },
    }
}

impl<T> Turn<T> {
    /// Waits for the outcome of the attempt in flight; `None` if it ended without one.
    pub async fn shared(mut rx: watch::Receiver<Option<T>>) -> Option<T>
    where
        T: Clone,
    {
        match rx.wait_for(|o| o.is_some()).await {
            Ok(o) => o.clone(),
            Err(_) => None,
        }
    }
}

impl<T: Clone> Attempt<T> {
    /// Ends the attempt: a failure starts the window; those waiting get `outcome`.
    pub fn finish(mut self, outcome: T, failed: bool) {
        self.limiter.end(&self.slot, self.id, failed);
        if let Some(tx) = self.outcome.take() {
            let _ = tx.send(Some(outcome));
        }
    }
}

impl<T> Drop for Attempt<T> {
    fn drop(&mut self) {
        if self.outcome.is_some() {
            let mut inner = self.limiter.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner
                .in_flight
                .get(&self.slot)
                .is_some_and(|f| f.id == self.id)
            {
                inner.in_flight.remove(&self.slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine<T>(t: Turn<T>) -> Attempt<T> {
        match t {
            Turn::Mine(a) => a,
            _ => panic!("expected to go ahead"),
        }
    }

    #[test]
    fn one_failure_per_window() {
        let (clock, manual) = Clock::manual();
        let l = Arc::new(FailureLimiter::<()>::new(Duration::from_secs(1), clock));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(!l.is_limited(ip, "alice"));
        mine(l.begin(ip, "alice", None)).finish((), true);
        assert!(l.is_limited(ip, "alice"));
        assert!(matches!(l.begin(ip, "alice", None), Turn::Refused));
        assert!(!l.is_limited(ip, "bob"));
        assert!(!l.is_limited(other, "alice"));
        manual.advance(Duration::from_millis(900));
        assert!(l.is_limited(ip, "alice"), "still within the window");
        assert!(matches!(l.begin(ip, "alice", None), Turn::Refused));
        manual.advance(Duration::from_millis(100));
        assert!(!l.is_limited(ip, "alice"));
        mine(l.begin(ip, "alice", None)).finish((), false);
        assert!(!l.is_limited(ip, "alice"), "a success starts no window");
    }

    #[test]
    fn one_check_in_flight_per_key_and_same_credentials_share_it() {
        let l = Arc::new(FailureLimiter::<u32>::new(
            Duration::from_secs(60),
            Clock::system(),
        ));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let first = mine(l.begin(ip, "alice", Some([1; 32])));
        assert!(matches!(l.begin(ip, "alice", Some([2; 32])), Turn::Refused));
        assert!(matches!(l.begin(ip, "alice", None), Turn::Refused));
        let Turn::Shared(rx) = l.begin(ip, "alice", Some([1; 32])) else {
            panic!("the same credentials share the check in flight");
        };
        first.finish(7, false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(Turn::shared(rx)), Some(7));
        // Dropped unfinished: the place is free again, and no failure was counted.
        drop(mine(l.begin(ip, "alice", Some([3; 32]))));
        assert_eq!(l.entries(), 0);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let l = Arc::new(FailureLimiter::<()>::new(
            Duration::from_secs(60),
            Clock::system(),
        ));
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        mine(l.begin(ip("2001:db8:1:2::1"), "alice", None)).finish((), true);
        for same in ["2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
            assert!(l.is_limited(ip(same), "alice"), "{same} is in the same /64");
            assert!(matches!(l.begin(ip(same), "alice", None), Turn::Refused));
        }
        for other in ["2001:db8:1:3::1", "2001:db8:2:2::1"] {
            assert!(!l.is_limited(ip(other), "alice"), "{other} is another /64");
        }
        // IPv4 counts by the whole address, however it arrives.
        mine(l.begin(ip("192.0.2.1"), "bob", None)).finish((), true);
        assert!(l.is_limited(ip("::ffff:192.0.2.1"), "bob"));
        assert!(!l.is_limited(ip("192.0.2.2"), "bob"));
        // One check in flight per /64.
        let _held = mine(l.begin(ip("2001:db8:9:9::1"), "carol", None));
        assert!(matches!(
            l.begin(ip("2001:db8:9:9::2"), "carol", None),
            Turn::Refused
        ));
    }

    #[test]
    fn memory_is_bounded_by_entries_and_keys_are_digests() {
        let l = Arc::new(FailureLimiter::<()>::with_capacity(
            Duration::from_secs(60),
            Clock::system(),
            100,
        ));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let long = "x".repeat(1_000_000);
        for i in 0..100 {
            mine(l.begin(ip, &format!("{i}{long}"), None)).finish((), true);
        }
        assert_eq!(l.entries(), 100);
        assert!(
            matches!(l.begin(ip, "newcomer", None), Turn::Refused),
            "full: new keys are refused rather than growing"
        );
        assert_eq!(l.entries(), 100);
        let (clock, manual) = Clock::manual();
        let short = Arc::new(FailureLimiter::<()>::with_capacity(
            Duration::from_secs(1),
            clock,
            100,
        ));
        for i in 0..100 {
            mine(short.begin(ip, &i.to_string(), None)).finish((), true);
        }
        manual.advance(Duration::from_millis(1500));
        assert!(matches!(short.begin(ip, "newcomer", None), Turn::Mine(_)));
        assert_eq!(short.entries(), 0, "expired failures were swept");
    }
}
