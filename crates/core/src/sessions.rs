//! Sessions of the faces that log in once and then carry a token: the appliance face
//! (`x-dr-session`) and the backup-client face (`Authtoken: QSDK ...`).
//!
//! A token is 32 random bytes; only its SHA-256 is kept, in memory. Sessions end after an
//! idle time (30 minutes by default), on logout, when the account's password changes (all but
//! the session that changed it), when the account or its namespace is deleted, and when the
//! node locks or restarts: they are never stored, so they are never in a backup either.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};

use crate::crypto::fill_random;
use crate::error::{Error, Result};
use crate::identity::Principal;
use crate::{Core, SystemState};

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
}

pub(crate) struct Sessions {
    idle: Duration,
    table: Mutex<Table>,
}

impl Sessions {
    pub(crate) fn new(idle: Duration) -> Self {
        Self {
            idle,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
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
    /// refused, except a root Administrator's.
    pub fn open_session(&self, kind: SessionKind, principal: Principal) -> Result<SessionToken> {
        if self.state() != SystemState::Operational {
            return Err(Error::WrongState(self.state()));
        }
        let mut token = [0u8; 32];
        fill_random(&mut token);
        let idle = self.sessions.idle;
        let mut guard = self.sessions.lock();
        let t = &mut *guard;
        // A sweep walks the whole table: at most once a second, not on every login.
        if t.sessions.len() >= SWEEP_AT && t.swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
            t.swept = Some(Instant::now());
            t.sessions.retain(|_, s| s.last_used.elapsed() < idle);
            t.prune_index();
        }
        if t.sessions.len() >= 2 * SWEEP_AT && principal.require_root_admin().is_err() {
            return Err(Error::RateLimited);
        }
        let own = t
            .by_user
            .entry((kind, principal.user_id.clone()))
            .or_default();
        own.retain(|h| t.sessions.contains_key(h));
        while own.len() >= SESSIONS_PER_USER {
            if let Some(oldest) = own.pop_front() {
                t.sessions.remove(&oldest);
            }
        }
        let h = hash(&token);
        own.push_back(h);
        let now = Instant::now();
        t.sessions.insert(
            h,
            Session {
                kind,
                principal,
                last_used: now,
            },
        );
        Ok(SessionToken(token))
    }

    /// The caller a token stands for, if its session is live; using it resets the idle clock.
    /// Missing, unknown, expired or ended: `Unauthenticated`.
    pub fn session(&self, kind: SessionKind, token: &[u8]) -> Result<Principal> {
        let state = self.state();
        if state != SystemState::Operational {
            return Err(Error::WrongState(state));
        }
        let h = hash(token);
        let mut t = self.sessions.lock();
        let map = &mut t.sessions;
        match map.get_mut(&h) {
            Some(s) if s.kind == kind && s.last_used.elapsed() < self.sessions.idle => {
                s.last_used = Instant::now();
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
        self.session(kind, token)?;
        self.sessions.lock().sessions.remove(&hash(token));
        Ok(())
    }

    /// Replaces a live session's token with a new one (the old one ends).
    pub fn renew_session(&self, kind: SessionKind, token: &[u8]) -> Result<SessionToken> {
        let principal = self.session(kind, token)?;
        self.sessions.lock().sessions.remove(&hash(token));
        self.open_session(kind, principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_by_user_keeps_the_named_session() {
        let s = Sessions::new(Duration::from_secs(60));
        let p = Principal::new("admin", crate::identity::Role::Administrator);
        for t in [[1u8; 32], [2u8; 32]] {
            s.lock().sessions.insert(
                hash(&t),
                Session {
                    kind: SessionKind::Appliance,
                    principal: p.clone(),
                    last_used: Instant::now(),
                },
            );
        }
        s.end_user("admin", Some(&[2u8; 32]));
        assert!(s.lock().sessions.contains_key(&hash(&[2u8; 32])));
        assert!(!s.lock().sessions.contains_key(&hash(&[1u8; 32])));
    }
}
