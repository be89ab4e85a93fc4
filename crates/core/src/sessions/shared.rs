//! Sessions kept in the store, for cluster mode: a session opened on one node works on every
//! node, and a logout, a renewal, a passphrase change, a deletion or a lock on one node ends
//! it everywhere.
//!
//! Each session is one record, `meta/sessions/<SHA-256 of the token, hex>`, sealed under the
//! domain key like user data (its user id, role, face, login and last-use times): the token
//! itself is never stored, and `meta/` keeps sessions out of backups. Times are the
//! appliance clock's (wall) time, since nodes share no monotonic clock. Use moves the idle
//! clock forward in the store at most once per [`TOUCH_EVERY`], so a busy client costs one
//! write a second, not one per request: a session may end up to that much before its idle
//! time, never after. A login checks the account record is still at the revision its
//! passphrase was checked against (one transaction), so a passphrase changed on another
//! node meanwhile opens no session.
//!
//! Each session also has an entry in its user's index,
//! `meta/session-users/<SHA-256 of the user id, hex>/<face>/<SHA-256 of the token, hex>`,
//! holding its login time, written and deleted in the same transactions as the record: a
//! login reads only its user's entries of its face to keep the user's [`SESSIONS_PER_USER`],
//! not every session. Sessions that expired and are never used again are swept by a walk over
//! every record, which a login makes at most once per [`WALK_EVERY`] on each node; it also
//! counts the live sessions for the global bound.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use strongroom_store::{Commit, Store, Txn};

use super::{SESSIONS_PER_USER, SWEEP_AT, SessionKind, SessionToken, TokenHash, hash};
use crate::crypto::fill_random;
use crate::error::{Error, Result};
use crate::identity::{Principal, Role, user_path};
use crate::{Core, Unlocked};

/// Where the sessions are.
pub(crate) const SESSIONS_PREFIX: &str = "meta/sessions/";
/// Where each user's index of its sessions is (see the module documentation).
pub(crate) const SESSION_INDEX_PREFIX: &str = "meta/session-users/";
/// How often a node walks every session record, at a login: sweeping sessions nobody uses
/// again, and counting the live ones for the global bound, costs a read of all of them.
pub(crate) const WALK_EVERY: Duration = Duration::from_secs(60);
/// How stale the stored last use may be before a use writes it again.
const TOUCH_EVERY: Duration = Duration::from_secs(1);
/// Writes per transaction when sessions are ended or swept: well under etcd's default limit
/// of 128 operations.
const BATCH: usize = 32;

/// A stored session's record (also what a node follows of it: [`crate::followed`]).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Stored {
    kind: StoredKind,
    user_id: String,
    role: Role,
    /// Unix milliseconds of the login that began it (through any renewals).
    opened_ms: i64,
    last_used_ms: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum StoredKind {
    Appliance,
    BackupClient,
    Console,
}

impl StoredKind {
    /// Its segment in the index's paths.
    fn segment(self) -> &'static str {
        match self {
            Self::Appliance => "appliance",
            Self::BackupClient => "backup-client",
            Self::Console => "console",
        }
    }
}

/// A session's entry in its user's index.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Indexed {
    /// As the record's: the user's oldest sessions end first.
    opened_ms: i64,
}

/// The index of `user_id`'s sessions of `kind`, ending with `/`. The user id is hashed so
/// that no id is the start of another's prefix (it hides nothing: user ids are paths too).
fn index_prefix(user_id: &str, kind: StoredKind) -> String {
    format!(
        "{SESSION_INDEX_PREFIX}{}/{}/",
        hex::encode(hash(user_id.as_bytes())),
        kind.segment()
    )
}

fn index_path(user_id: &str, kind: StoredKind, h: &TokenHash) -> String {
    format!("{}{}", index_prefix(user_id, kind), hex::encode(h))
}

/// The walk over every session record (see the module documentation): when this node last
/// made it, and how many live sessions it found, plus the logins this node made since.
#[derive(Default)]
pub(crate) struct Walk {
    last: Option<(Instant, usize)>,
}

impl From<SessionKind> for StoredKind {
    fn from(kind: SessionKind) -> Self {
        match kind {
            SessionKind::Appliance => Self::Appliance,
            SessionKind::BackupClient => Self::BackupClient,
            SessionKind::Console => Self::Console,
        }
    }
}

fn path_of(h: &TokenHash) -> String {
    format!("{SESSIONS_PREFIX}{}", hex::encode(h))
}

/// Ends a session: its record and its index entry.
fn end_txn(txn: Txn, h: &TokenHash, s: &Stored) -> Txn {
    txn.delete(path_of(h))
        .delete(index_path(&s.user_id, s.kind, h))
}

/// The token hash a record's path names.
fn hash_of(path: &str) -> Option<TokenHash> {
    let hex_part = path.strip_prefix(SESSIONS_PREFIX)?;
    hex::decode(hex_part).ok()?.try_into().ok()
}

impl Stored {
    fn live(&self, now_ms: i64, idle: Duration, max: Duration) -> bool {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(self.last_used_ms) < ms(idle)
            && now_ms.saturating_sub(self.opened_ms) < ms(max)
    }

    fn principal(&self) -> Principal {
        Principal::new(&self.user_id, self.role)
    }
}

impl Core {
    fn now_ms(&self) -> i64 {
        let now = self.sessions.clock.now_utc();
        i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    fn stored_sessions(&self, u: &Unlocked) -> Result<Vec<(String, u64, Stored)>> {
        let mut all = Vec::new();
        for (path, entry) in u.data.scan_prefix(SESSIONS_PREFIX)? {
            let stored = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
            all.push((path, entry.revision, stored));
        }
        Ok(all)
    }

    fn stored_session(&self, u: &Unlocked, h: &TokenHash) -> Result<Option<(u64, Stored)>> {
        match u.data.get(&path_of(h)) {
            Ok(Some(e)) => Ok(Some((
                e.revision,
                serde_json::from_slice(&e.value).map_err(Error::internal)?,
            ))),
            Ok(None) => Ok(None),
            // Sealed under a domain key this node no longer holds (a rotation): ended.
            Err(strongroom_store::StoreError::Tampered(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn commit_sessions(&self, u: &Unlocked, txn: Txn) -> Result<Commit> {
        let _sealing = self.sealing();
        Ok(u.data.commit(txn)?)
    }

    pub(super) fn open_session_shared(
        &self,
        kind: SessionKind,
        principal: Principal,
    ) -> Result<SessionToken> {
        let u = self.unlocked()?;
        let max = self.sessions.max;
        let now = self.now_ms();
        let live = self.walk_sessions(&u, now)?;
        if live >= 2 * SWEEP_AT && !crate::access::Access::RootAdministrator.permits(&principal) {
            return Err(Error::RateLimited);
        }
        let stored_kind = StoredKind::from(kind);
        let prefix = index_prefix(&principal.user_id, stored_kind);
        let mut txn = Txn::new();
        let mut own = Vec::new();
        let mut swept = 0;
        for (path, entry) in u.data.scan_prefix(&prefix)? {
            let indexed: Indexed = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
            let Some(record) = path
                .strip_prefix(&prefix)
                .map(|h| format!("{SESSIONS_PREFIX}{h}"))
            else {
                continue;
            };
            let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            // Past its longest life a session is over, whatever its record says; one only
            // idle may be counted still (as the single node's table counts it until a sweep).
            if now.saturating_sub(indexed.opened_ms) >= ms(max) {
                if swept < BATCH {
                    swept += 1;
                    txn = txn.delete(path).delete(record);
                }
            } else {
                own.push((indexed.opened_ms, path, record));
            }
        }
        own.sort();
        while own.len() >= SESSIONS_PER_USER {
            let (_, path, record) = own.remove(0);
            txn = txn.delete(path).delete(record);
        }
        // The account is as it was when its passphrase was checked (on any node).
        if let Some(revision) = principal.verified_revision {
            txn = txn.require_revision(user_path(&principal.user_id), revision);
        }
        let mut token = [0u8; 32];
        fill_random(&mut token);
        let stored = Stored {
            kind: stored_kind,
            user_id: principal.user_id.clone(),
            role: principal.role,
            opened_ms: now,
            last_used_ms: now,
        };
        let h = hash(&token);
        let path = path_of(&h);
        let txn = txn
            .require_absent(&path)
            .put(path, crate::json(&stored)?)
            .put(
                index_path(&stored.user_id, stored_kind, &h),
                crate::json(&Indexed { opened_ms: now })?,
            );
        match self.commit_sessions(&u, txn)? {
            Commit::Committed(_) => {
                if let Some((_, live)) = &mut self.sessions.walk().last {
                    *live += 1;
                }
                Ok(SessionToken(token))
            }
            // The account changed, or another node swept the same sessions first: either
            // way this login is to be tried again.
            Commit::Conflict => Err(Error::Unauthenticated),
        }
    }

    /// The live sessions of every user, walking every record to count them and to sweep
    /// the expired ones, at most once per [`WALK_EVERY`]; in between, the last count plus
    /// this node's logins since.
    fn walk_sessions(&self, u: &Unlocked, now_ms: i64) -> Result<usize> {
        let mut walk = self.sessions.walk();
        let at = self.sessions.clock.instant();
        if let Some((last, live)) = walk.last
            && at.saturating_duration_since(last) < WALK_EVERY
        {
            return Ok(live);
        }
        let (idle, max) = (self.sessions.idle, self.sessions.max);
        let mut live = 0usize;
        let mut expired = Vec::new();
        for (path, revision, s) in self.stored_sessions(u)? {
            if s.live(now_ms, idle, max) {
                live += 1;
            } else if let Some(h) = hash_of(&path) {
                expired.push((h, revision, s));
            }
        }
        // Each batch only if its records are unchanged: one just used (on a node whose clock
        // runs behind) stays. A batch lost to another node's sweep is no matter.
        for batch in expired.chunks(BATCH / 2) {
            let txn = batch.iter().fold(Txn::new(), |t, (h, revision, s)| {
                end_txn(t.require_revision(path_of(h), *revision), h, s)
            });
            self.commit_sessions(u, txn)?;
        }
        walk.last = Some((at, live));
        Ok(live)
    }

    /// The stored session whose token hashes to `h`: in cluster mode, while the caches are
    /// trusted, the copy this node follows (no read of etcd); else read, and kept if no
    /// change of a session reached the follower meanwhile ([`crate::followed`]).
    fn followed_session(&self, u: &Unlocked, h: &TokenHash) -> Result<Option<(u64, Stored)>> {
        if self.cluster.is_none() {
            return self.stored_session(u, h);
        }
        let name = hex::encode(h);
        if self.caches_trusted()
            && let Some(found) = u.followed_sessions.get(&name)
        {
            return Ok(Some(found));
        }
        let epoch = u.followed_sessions.epoch();
        let found = self.stored_session(u, h)?;
        if let Some((revision, s)) = &found {
            u.followed_sessions
                .insert_unless_changed(&name, *revision, s.clone(), epoch);
        }
        Ok(found)
    }

    pub(super) fn session_shared(&self, kind: SessionKind, token: &[u8]) -> Result<Principal> {
        let u = self.unlocked()?;
        let h = hash(token);
        let now = self.now_ms();
        let Some((revision, mut s)) = self.followed_session(&u, &h)? else {
            return Err(Error::Unauthenticated);
        };
        if s.kind != kind.into() {
            return Err(Error::Unauthenticated);
        }
        let path = path_of(&h);
        if !s.live(now, self.sessions.idle, self.sessions.max) {
            self.commit_sessions(
                &u,
                end_txn(Txn::new().require_revision(&path, revision), &h, &s),
            )?;
            return Err(Error::Unauthenticated);
        }
        let principal = s.principal();
        let touch_ms = i64::try_from(TOUCH_EVERY.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(s.last_used_ms) >= touch_ms {
            s.last_used_ms = now;
            // Lost to a concurrent use, renewal or logout: that one stands.
            let txn = Txn::new()
                .require_revision(&path, revision)
                .put(path, crate::json(&s)?);
            let epoch = u.followed_sessions.epoch();
            match self.commit_sessions(&u, txn)? {
                Commit::Conflict => return self.session_exists(&u, &h).map(|()| principal),
                // Followed as written: the feed's report of this write then keeps it.
                Commit::Committed(written) if self.cluster.is_some() => u
                    .followed_sessions
                    .insert_unless_changed(&hex::encode(h), written, s, epoch),
                Commit::Committed(_) => {}
            }
        }
        Ok(principal)
    }

    /// After a lost race on the session's record: it stands unless it was ended meanwhile.
    fn session_exists(&self, u: &Unlocked, h: &TokenHash) -> Result<()> {
        match self.stored_session(u, h)? {
            Some(_) => Ok(()),
            None => Err(Error::Unauthenticated),
        }
    }

    pub(super) fn close_session_shared(&self, kind: SessionKind, token: &[u8]) -> Result<()> {
        let principal = self.session_shared(kind, token)?;
        let u = self.unlocked()?;
        let h = hash(token);
        let txn =
            Txn::new()
                .delete(path_of(&h))
                .delete(index_path(&principal.user_id, kind.into(), &h));
        self.commit_sessions(&u, txn)?;
        Ok(())
    }

    pub(super) fn renew_session_shared(
        &self,
        kind: SessionKind,
        token: &[u8],
    ) -> Result<SessionToken> {
        let u = self.unlocked()?;
        let h = hash(token);
        let now = self.now_ms();
        let Some((revision, s)) = self.stored_session(&u, &h)? else {
            return Err(Error::Unauthenticated);
        };
        if s.kind != kind.into() || !s.live(now, self.sessions.idle, self.sessions.max) {
            return Err(Error::Unauthenticated);
        }
        let mut new = [0u8; 32];
        fill_random(&mut new);
        let renewed = Stored {
            last_used_ms: now,
            ..s
        };
        let new_hash = hash(&new);
        let new_path = path_of(&new_hash);
        let old_path = path_of(&h);
        let txn = end_txn(
            Txn::new().require_revision(&old_path, revision),
            &h,
            &renewed,
        )
        .require_absent(&new_path)
        .put(
            index_path(&renewed.user_id, renewed.kind, &new_hash),
            crate::json(&Indexed {
                opened_ms: renewed.opened_ms,
            })?,
        )
        .put(new_path, crate::json(&renewed)?);
        match self.commit_sessions(&u, txn)? {
            Commit::Committed(_) => Ok(SessionToken(new)),
            Commit::Conflict => Err(Error::Unauthenticated),
        }
    }

    /// Ends the sessions `end` picks, but the one whose token hashes to `keep`.
    pub(super) fn end_sessions_shared(
        &self,
        keep: Option<&[u8]>,
        end: impl Fn(&Principal) -> bool,
    ) -> Result<()> {
        let Ok(u) = self.unlocked() else {
            // Not Operational: a lock ended them all already.
            return Ok(());
        };
        // Every record, not the index: a session is ended even if its index entry is missing.
        let keep = keep.map(|t| path_of(&hash(t)));
        let ended: Vec<(TokenHash, Stored)> = self
            .stored_sessions(&u)?
            .into_iter()
            .filter(|(path, _, s)| end(&s.principal()) && Some(path) != keep.as_ref())
            .filter_map(|(path, _, s)| Some((hash_of(&path)?, s)))
            .collect();
        // Deletes are idempotent: batches need not be one transaction.
        for batch in ended.chunks(BATCH) {
            let txn = batch.iter().fold(Txn::new(), |t, (h, s)| end_txn(t, h, s));
            self.commit_sessions(&u, txn)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
