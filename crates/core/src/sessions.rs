//! Sessions of the faces that log in once and then carry a token: the appliance face
//! (`x-dr-session`), the backup-client face (`Authtoken: QSDK ...`) and the web console (a
//! cookie).
//!
//! A token is 32 random bytes; only its SHA-256 is kept, in memory. Sessions end after an
//! idle time (30 minutes by default), at the latest a fixed time after the login that opened
//! them (12 hours by default; renewing a token does not move it), on logout, when the
//! account's password changes (all but the session that changed it), when the account or its
//! namespace is deleted, and when the node locks or restarts: they are never stored, so they
//! are never in a backup either.
//!
//! A login whose passphrase check started before a change of the account (a new passphrase,
//! its deletion) opens no session: the principal carries the account's generation read before
//! the check, and [`Core::open_session`] compares it with the current one under the table's
//! lock. Changes bump the generation before they end sessions, so either the login sees the
//! bump, or its session is in the table when the change ends the account's sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};

use crate::clock::Clock;
use crate::crypto::fill_random;
use crate::error::{Error, Result};
use crate::identity::Principal;
use crate::{Core, SystemState};

mod shared;
pub(crate) use shared::Stored as StoredSession;
pub(crate) use shared::{SESSION_INDEX_PREFIX, SESSIONS_PREFIX};

/// Past this many sessions, expired ones are swept on every new login; past twice as many,
/// new logins are refused until some expire (but never a root Administrator's).
const SWEEP_AT: usize = 10_000;
/// Sessions one user may hold at once (per face); a new login past this ends the user's
/// oldest, so no user can fill the table and lock others out.
pub const SESSIONS_PER_USER: usize = 32;
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Which face a session belongs to: a token of one face is worthless on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    Appliance,
    BackupClient,
    /// The web console (`/console/`): a cookie that stands for the same principal on the
    /// faces' own routes ([`docs/console.md`]).
    Console,
}

/// A fresh session token. Faces encode it (base64url, hex) as their protocol wants.
pub struct SessionToken(pub [u8; 32]);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

type TokenHash = [u8; 32];

fn hash(token: &[u8]) -> TokenHash {
    digest(&SHA256, token)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

struct Session {
    kind: SessionKind,
    principal: Principal,
    last_used: Instant,
    /// When the login that began this session (through any renewals) happened.
    opened: Instant,
}

impl Session {
    /// Whether the session is live at `now` (an instant of the sessions' clock).
    fn live(&self, now: Instant, idle: Duration, max: Duration) -> bool {
        now.saturating_duration_since(self.last_used) < idle
            && now.saturating_duration_since(self.opened) < max
    }
}

#[derive(Default)]
pub(crate) struct Table {
    sessions: HashMap<TokenHash, Session>,
    /// Each user's sessions of each face, oldest first. May name sessions that ended
    /// meanwhile; those are dropped when the user next logs in, or at a sweep.
    by_user: HashMap<(SessionKind, String), std::collections::VecDeque<TokenHash>>,
    swept: Option<Instant>,
}

impl Table {
    /// Drops ended sessions from the per-user index.
    fn prune_index(&mut self) {
        let sessions = &self.sessions;
        self.by_user.retain(|_, hs| {
            hs.retain(|h| sessions.contains_key(h));
            !hs.is_empty()
        });
    }

    /// Adds a session under a fresh token, used `now`; the user's oldest of this face ends
    /// past [`SESSIONS_PER_USER`].
    fn insert(
        &mut self,
        kind: SessionKind,
        principal: Principal,
        opened: Instant,
        now: Instant,
    ) -> SessionToken {
        let mut token = [0u8; 32];
        fill_random(&mut token);
        let own = self
            .by_user
            .entry((kind, principal.user_id.clone()))
            .or_default();
        own.retain(|h| self.sessions.contains_key(h));
        while own.len() >= SESSIONS_PER_USER {
            if let Some(oldest) = own.pop_front() {
                self.sessions.remove(&oldest);
            }
        }
        let h = hash(&token);
        own.push_back(h);
        self.sessions.insert(
            h,
            Session {
                kind,
                principal,
                last_used: now,
                opened,
            },
        );
        SessionToken(token)
    }
}

pub(crate) struct Sessions {
    idle: Duration,
    max: Duration,
    clock: Clock,
    table: Mutex<Table>,
    /// Cluster mode: sessions are kept in the store ([`shared`]), this table stays empty.
    shared: bool,
    /// Cluster mode: the last walk over every stored session ([`shared::Walk`]).
    walk: Mutex<shared::Walk>,
}

impl Sessions {
    pub(crate) fn new(idle: Duration, max: Duration, clock: Clock) -> Self {
        Self {
            idle,
            max,
            clock,
            table: Mutex::new(Table::default()),
            shared: false,
            walk: Mutex::new(shared::Walk::default()),
        }
    }

    /// Sessions kept in the store (cluster mode) rather than in this process.
    pub(crate) fn in_store(mut self, shared: bool) -> Self {
        self.shared = shared;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn walk(&self) -> std::sync::MutexGuard<'_, shared::Walk> {
        self.walk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends every session of the user, but the one whose token hashes to `keep`.
    pub(crate) fn end_user(&self, user_id: &str, keep: Option<&[u8]>) {
        let keep = keep.map(hash);
        let mut t = self.lock();
        t.sessions
            .retain(|h, s| s.principal.user_id != user_id || Some(*h) == keep);
        t.prune_index();
    }

    pub(crate) fn end_namespace(&self, namespace: &str) {
        let mut t = self.lock();
        t.sessions
            .retain(|_, s| s.principal.namespace.as_deref() != Some(namespace));
        t.prune_index();
    }

    pub(crate) fn clear(&self) {
        let mut t = self.lock();
        t.sessions.clear();
        t.by_user.clear();
    }
}

impl Core {
    /// Starts a session for an authenticated caller; returns its token. A user's oldest session
    /// of this face ends past [`SESSIONS_PER_USER`]; past the global bound, logins are
    /// refused, except a root Administrator's. `Unauthenticated` if the account changed
    /// (passphrase, deletion) since its passphrase was checked.
    pub fn open_session(&self, kind: SessionKind, principal: Principal) -> Result<SessionToken> {
        self.require_state(SystemState::Operational)?;
        if self.sessions.shared {
            // The generation check holds for a change this node has seen; the store's check
            // of the account's revision for one it has not yet.
            if principal
                .verified_at
                .is_some_and(|g| g != self.auth_cache.generation(&principal.user_id))
            {
                return Err(Error::Unauthenticated);
            }
            return self
                .open_session_shared(kind, principal)
                .map_err(|e| self.settle_error(e));
        }
        let (idle, max) = (self.sessions.idle, self.sessions.max);
        let now = self.sessions.clock.instant();
        let mut guard = self.sessions.lock();
        let t = &mut *guard;
        // Under the table's lock: a change bumps the generation before it ends sessions.
        if principal
            .verified_at
            .is_some_and(|g| g != self.auth_cache.generation(&principal.user_id))
        {
            return Err(Error::Unauthenticated);
        }
        // A sweep walks the whole table: at most once a second, not on every login.
        if t.sessions.len() >= SWEEP_AT
            && t.swept
                .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY)
        {
            t.swept = Some(now);
            t.sessions.retain(|_, s| s.live(now, idle, max));
            t.prune_index();
        }
        if t.sessions.len() >= 2 * SWEEP_AT
            && !crate::access::Access::RootAdministrator.permits(&principal)
        {
            return Err(Error::RateLimited);
        }
        Ok(t.insert(kind, principal, now, now))
    }

    /// The caller a token stands for, if its session is live; using it resets the idle clock.
    /// Missing, unknown, expired or ended: `Unauthenticated`.
    pub fn session(&self, kind: SessionKind, token: &[u8]) -> Result<Principal> {
        self.require_state(SystemState::Operational)?;
        if self.sessions.shared {
            return self
                .session_shared(kind, token)
                .map_err(|e| self.settle_error(e));
        }
        let h = hash(token);
        let now = self.sessions.clock.instant();
        let mut t = self.sessions.lock();
        let map = &mut t.sessions;
        match map.get_mut(&h) {
            Some(s) if s.kind == kind && s.live(now, self.sessions.idle, self.sessions.max) => {
                s.last_used = now;
                Ok(s.principal.clone())
            }
            Some(s) if s.kind == kind => {
                map.remove(&h);
                Err(Error::Unauthenticated)
            }
            _ => Err(Error::Unauthenticated),
        }
    }

    /// Ends a session (logout). Ending an unknown session is `Unauthenticated`.
    pub fn close_session(&self, kind: SessionKind, token: &[u8]) -> Result<()> {
        if self.sessions.shared {
            return self
                .close_session_shared(kind, token)
                .map_err(|e| self.settle_error(e));
        }
        self.session(kind, token)?;
        self.sessions.lock().sessions.remove(&hash(token));
        Ok(())
    }

    /// Replaces a live session's token with a new one (the old one ends). The new token ends
    /// when the old one would have at the latest: renewal does not extend a session's
    /// absolute lifetime.
    pub fn renew_session(&self, kind: SessionKind, token: &[u8]) -> Result<SessionToken> {
        self.require_state(SystemState::Operational)?;
        if self.sessions.shared {
            return self
                .renew_session_shared(kind, token)
                .map_err(|e| self.settle_error(e));
        }
        let h = hash(token);
        let now = self.sessions.clock.instant();
        let mut t = self.sessions.lock();
        match t.sessions.get(&h) {
            Some(s) if s.kind == kind && s.live(now, self.sessions.idle, self.sessions.max) => {}
            Some(s) if s.kind == kind => {
                t.sessions.remove(&h);
                return Err(Error::Unauthenticated);
            }
            _ => return Err(Error::Unauthenticated),
        }
        let old = t
            .sessions
            .remove(&h)
            .expect("looked up under the same lock");
        Ok(t.insert(kind, old.principal, old.opened, now))
    }
}

impl Core {
    /// Ends every session of the user (on every node in cluster mode), but the one whose
    /// token is `keep`.
    pub(crate) fn end_user_sessions(&self, user_id: &str, keep: Option<&[u8]>) {
        self.sessions.end_user(user_id, keep);
        if self.sessions.shared
            && let Err(e) = self.end_sessions_shared(keep, |p| p.user_id == user_id)
        {
            tracing::warn!(error = %e, user = %user_id, "ending the user's stored sessions");
        }
    }

    /// Ends every session of the namespace's users (on every node in cluster mode).
    pub(crate) fn end_namespace_sessions(&self, namespace: &str) {
        self.sessions.end_namespace(namespace);
        if self.sessions.shared
            && let Err(e) =
                self.end_sessions_shared(None, |p| p.namespace.as_deref() == Some(namespace))
        {
            tracing::warn!(error = %e, %namespace, "ending the namespace's stored sessions");
        }
    }

    /// Ends every session (a restore): in cluster mode, in the store too.
    pub(crate) fn end_all_sessions(&self) {
        self.sessions.clear();
        if self.sessions.shared
            && let Err(e) = self.raw.commit(
                strongroom_store::Txn::new()
                    .delete_prefix(SESSIONS_PREFIX)
                    .delete_prefix(SESSION_INDEX_PREFIX),
            )
        {
            tracing::warn!(error = %e, "ending the stored sessions");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_by_user_keeps_the_named_session() {
        let s = Sessions::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
            Clock::system(),
        );
        let p = Principal::new("admin", crate::identity::Role::Administrator);
        for t in [[1u8; 32], [2u8; 32]] {
            s.lock().sessions.insert(
                hash(&t),
                Session {
                    kind: SessionKind::Appliance,
                    principal: p.clone(),
                    last_used: Instant::now(),
                    opened: Instant::now(),
                },
            );
        }
        s.end_user("admin", Some(&[2u8; 32]));
        assert!(s.lock().sessions.contains_key(&hash(&[2u8; 32])));
        assert!(!s.lock().sessions.contains_key(&hash(&[1u8; 32])));
    }
}
