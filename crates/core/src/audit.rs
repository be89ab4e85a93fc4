//! The audit trail: sealed, hash-chained events of what changed the appliance, so that an
//! altered, removed or reordered event is detectable.
//!
//! What is recorded (see `docs/security-model.md`, "Audit trail"):
//! - a successful state change, once, **in the same store transaction as the change**: a
//!   request's context ([`RequestAudit`]) is installed on the thread that runs its core call
//!   ([`in_request`]), and the core's commit ([`Core::commit_audited`]) adds the event to the
//!   change's transaction, so a change can never be stored without its event. A success that
//!   stores nothing (lock, a login) is recorded on its own afterwards;
//! - a refused request of an authenticated caller, on its own, up to
//!   [`REFUSALS_PER_MINUTE`] per caller a minute; past that, counted as below;
//! - failed authentications and other refusals of unauthenticated callers are only counted,
//!   in memory, per (face, action, address, status) with the user id they claimed if they
//!   all claimed the same, at most [`MAX_TALLIES`] counts, and written as one event per count (with `count` and `since`) before the next
//!   event or when the server flushes them (every minute); requests to unknown paths are
//!   not recorded at all. So no unauthenticated request can grow the trail by more than a
//!   bounded amount a minute.
//!
//! Every field is bounded. The trail keeps at most `max_events` events: older ones are pruned
//! in the transaction that appends past the bound, and a sealed checkpoint (`audit/checkpoint`:
//! the sequence number and hash of the last pruned event) is where verification starts, so
//! the chain stays verifiable. Export the trail (`GET /api/strongroom/v1/audit`) or take
//! backups to keep events longer.
//!
//! Store layout: `audit/events/<seq, 20 digits>` holds each event; `audit/head` holds the
//! sequence number and hash of the last one. Each event carries the hash of the one before
//! (64 zeros for the first); its own hash is SHA-256 over its JSON without the `hash` field.
//! An append is part of a transaction that checks `audit/head` did not move, so appends from
//! several writers (or nodes) serialise. Events that happen while the node is Locked cannot
//! be sealed yet; they wait in memory (bounded) and are appended at the next unlock.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use strongroom_store::sealed::Sealed;
use strongroom_store::{Commit, Store, StoreError, Txn};
use time::format_description::well_known::Rfc3339;

use crate::access::Access;
use crate::anchor::{ANCHORED_PATH, AnchorState};
use crate::error::{Error, Result};
use crate::handles::Audit;
use crate::{Core, DynStore, UNLOCK_PATH, Unlocked, crypto, json};

const HEAD_PATH: &str = "audit/head";
const CHECKPOINT_PATH: &str = "audit/checkpoint";
/// The random key the chain's HMACs are made with: sealed like the trail, carried by backups,
/// kept by a rotation of the domain key.
const AUDIT_KEY_PATH: &str = "audit/key";
const EVENTS_PREFIX: &str = "audit/events/";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Events kept while Locked; past this the oldest are dropped (and the drop is recorded).
/// Only successes of authenticated callers wait here; failures are counted instead.
const MAX_PENDING: usize = 1_000;
/// Distinct failure counts kept at once; past this, new kinds are counted together.
pub const MAX_TALLIES: usize = 1_024;
/// Refusals of one authenticated caller recorded one by one per minute; the rest are counted.
pub const REFUSALS_PER_MINUTE: u32 = 20;
/// Events pruned at once past the retention bound (so pruning is not on every append).
const PRUNE_BATCH: u64 = 1_000;
/// The longest text kept in any field of an event.
pub const MAX_FIELD_CHARS: usize = 256;
const CAS_RETRIES: usize = 64;

fn event_path(seq: u64) -> String {
    format!("{EVENTS_PREFIX}{seq:020}")
}

/// What a face reports about a request; the core adds time, sequence and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// The authenticated user, or the user the request claimed to be; `None` if anonymous.
    pub actor: Option<String>,
    /// `nethsm`, `appliance`, `backup-client`, `strongroom`.
    pub face: String,
    /// What was asked: method and route template, e.g. `POST /api/v1/users/{UserID}`.
    pub action: String,
    /// What it was asked of: the concrete path, e.g. `/api/v1/users/alice`.
    pub target: String,
    /// `success`, `denied` (401, 403, 429), `refused` (other 4xx) or `error` (5xx).
    pub outcome: String,
    /// The HTTP status the request was answered with; `None` for an event written with the
    /// change it records (before the answer exists).
    pub status: Option<u16>,
    pub request_id: String,
}

impl NewAuditEvent {
    /// An event of the core's own, not of a request (face `strongroom`, outcome `success`
    /// unless [`NewAuditEvent::with_outcome`] says otherwise): provisioning, a changed unlock
    /// record, a rotation step, an accepted rollback, an upgraded key derivation, a restore
    /// decision. Every event the core makes up itself is made here.
    pub(crate) fn by_core(
        actor: Option<&str>,
        action: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Self {
            actor: actor.map(str::to_owned),
            face: "strongroom".into(),
            action: action.into(),
            target: target.into(),
            outcome: "success".into(),
            status: None,
            request_id: String::new(),
        }
    }

    /// The same event with another outcome (a decision's `allowed` or `denied`).
    pub(crate) fn with_outcome(mut self, outcome: &str) -> Self {
        self.outcome = outcome.to_owned();
        self
    }

    /// The same event, tied to the request that caused it.
    pub(crate) fn with_request_id(mut self, request_id: &str) -> Self {
        self.request_id = request_id.to_owned();
        self
    }
}

/// Cuts a field to [`MAX_FIELD_CHARS`].
fn bounded(s: &str) -> String {
    if s.chars().count() <= MAX_FIELD_CHARS {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(MAX_FIELD_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

impl NewAuditEvent {
    /// The same event with every field cut to its bound.
    fn bounded(&self) -> Self {
        Self {
            actor: self.actor.as_deref().map(bounded),
            face: bounded(&self.face),
            action: bounded(&self.action),
            target: bounded(&self.target),
            outcome: bounded(&self.outcome),
            status: self.status,
            request_id: bounded(&self.request_id),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditEvent {
    pub seq: u64,
    /// RFC 3339, UTC, appliance time.
    pub time: String,
    pub actor: Option<String>,
    pub face: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub request_id: String,
    /// For a counted event: how many requests it stands for, the first of them at `since`
    /// and the last at `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Whether `hash` is an HMAC under the trail's key (every event since keyed chains came;
    /// earlier events carry a plain SHA-256).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keyed: bool,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// What `hash` must be: HMAC-SHA256 under the trail's key (`key`) over the event's JSON
    /// with `hash` empty for a keyed event; plain SHA-256 of it for an older one. `None` for a
    /// keyed event when the key is not known.
    pub fn compute_hash(&self, key: Option<&hmac::Key>) -> Option<String> {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let bytes = serde_json::to_vec(&unhashed).expect("an event serialises");
        if self.keyed {
            Some(hex::encode(hmac::sign(key?, &bytes)))
        } else {
            Some(hex::encode(digest(&SHA256, &bytes)))
        }
    }
}

/// The last event of the trail in `snapshot` (raw values, opened with `data`'s key).
pub(crate) fn head_in(
    snapshot: &dyn strongroom_store::Snapshot,
    data: &Sealed<DynStore>,
) -> Result<Option<crate::backup::AuditMark>> {
    let Some((_, entry)) = snapshot
        .scan(HEAD_PATH, None, 1)?
        .into_iter()
        .find(|(k, _)| k == HEAD_PATH)
    else {
        return Ok(None);
    };
    let head: Head = serde_json::from_slice(&data.open_raw(HEAD_PATH, &entry.value)?)
        .map_err(Error::internal)?;
    Ok(Some(crate::backup::AuditMark {
        seq: head.seq,
        hash: head.hash,
    }))
}

/// The trail's MAC key, as stored (sealed) at [`AUDIT_KEY_PATH`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditKeyRecord {
    key: zeroize::Zeroizing<String>,
}

fn hmac_key(record: &AuditKeyRecord) -> Result<hmac::Key> {
    let bytes = zeroize::Zeroizing::new(hex::decode(&*record.key).map_err(Error::internal)?);
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    seq: u64,
    hash: String,
}

/// Where a pruned trail starts: the last pruned event's sequence number and hash.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Checkpoint {
    seq: u64,
    hash: String,
    /// Appliance time of the pruning.
    time: String,
}

/// A page of the trail.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Sequence numbers in the page whose stored value failed authentication.
    pub unreadable: Vec<u64>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next: Option<u64>,
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub verified: bool,
    /// Events that verified before the first break (all of them if `verified`).
    pub events: u64,
    /// The last event pruned by the retention bound; verification started after it.
    pub pruned_through: Option<u64>,
    /// The sequence number where the chain first breaks.
    pub broken_at: Option<u64>,
    pub reason: Option<String>,
}

impl ChainReport {
    fn broken(events: u64, at: u64, reason: String) -> Self {
        Self {
            verified: false,
            events,
            pruned_through: None,
            broken_at: Some(at),
            reason: Some(reason),
        }
    }
}

/// A request's audit context: the event to write if the request changes the store. Installed
/// on the thread that runs the request's core call by [`in_request`].
#[derive(Debug)]
pub struct RequestAudit {
    event: NewAuditEvent,
    /// Who the request is from, once authentication has said so.
    actor: std::sync::Mutex<Option<String>>,
    written: AtomicBool,
}

impl RequestAudit {
    /// `event`'s outcome and status are set when it is written.
    pub fn new(event: NewAuditEvent) -> Arc<Self> {
        Arc::new(Self {
            event: event.bounded(),
            actor: std::sync::Mutex::new(None),
            written: AtomicBool::new(false),
        })
    }

    /// Names the request's caller (bounded), for the event.
    pub fn set_actor(&self, user_id: &str) {
        *self.actor.lock().unwrap_or_else(|e| e.into_inner()) = Some(bounded(user_id));
    }

    /// The event as it stands: the template with the caller named so far.
    pub fn event(&self) -> NewAuditEvent {
        let mut event = self.event.clone();
        if let Some(actor) = self.actor.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            event.actor = Some(actor);
        }
        event
    }

    /// Whether the event was written with a change the request committed.
    pub fn written(&self) -> bool {
        self.written.load(Ordering::SeqCst)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<RequestAudit>>> = const { RefCell::new(None) };
}

/// Runs `f` with `ctx` as the current request's audit context on this thread.
pub fn in_request<T>(ctx: Option<Arc<RequestAudit>>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<RequestAudit>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(ctx)));
    f()
}

/// The id of the request running on this thread, if any.
pub(crate) fn current_request_id() -> Option<String> {
    CURRENT.with(|c| c.borrow().as_ref().map(|ctx| ctx.event.request_id.clone()))
}

/// The current request's context, if its event is still to be written.
fn current_unwritten() -> Option<Arc<RequestAudit>> {
    CURRENT.with(|c| c.borrow().clone().filter(|ctx| !ctx.written()))
}

/// An event waiting to be appended: what happened, when (the last time, for a count), and
/// for a count, how many requests it stands for and when the first was.
type Queued = (NewAuditEvent, String, Option<(u64, String)>);

/// Told of each audit event right after it is stored (see [`Core::observe_audit`]). Called
/// with the trail's append lock held: it must return at once, never block or write.
pub type AuditObserver = Box<dyn Fn(&AuditEvent) + Send + Sync>;

/// How a finished request is to be recorded ([`Core::record_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The request's credentials were verified.
    Authenticated,
    /// Anyone: no credentials, or credentials that did not verify.
    Unauthenticated,
}

/// Events waiting for the node to unlock, and counted failures.
#[derive(Default)]
pub(crate) struct Pending {
    events: VecDeque<(NewAuditEvent, String)>,
    dropped: u64,
    tallies: HashMap<TallyKey, Tally>,
    /// Refusals recorded one by one per authenticated caller in the current minute.
    refusals: HashMap<String, (Instant, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TallyKey {
    face: String,
    action: String,
    client: String,
    outcome: String,
    status: Option<u16>,
}

struct Tally {
    count: u64,
    since: String,
    last: String,
    /// The user id the requests claimed, while they all claimed the same one.
    actor: Option<String>,
    /// Whether they claimed different ones.
    several_actors: bool,
}

impl Pending {
    fn count(&mut self, event: &NewAuditEvent, client: &str, time: String) {
        let mut key = TallyKey {
            face: event.face.clone(),
            action: event.action.clone(),
            client: bounded(client),
            outcome: event.outcome.clone(),
            status: event.status,
        };
        if !self.tallies.contains_key(&key) && self.tallies.len() >= MAX_TALLIES - 1 {
            // Full: count every new kind together, so memory stays bounded.
            key = TallyKey {
                face: "strongroom".into(),
                action: "(many kinds of request)".into(),
                client: "(many)".into(),
                outcome: event.outcome.clone(),
                status: None,
            };
        }
        let tally = self.tallies.entry(key).or_insert_with(|| Tally {
            count: 0,
            since: time.clone(),
            last: time.clone(),
            actor: event.actor.clone(),
            several_actors: false,
        });
        tally.count += 1;
        tally.last = time;
        if tally.actor != event.actor {
            tally.actor = None;
            tally.several_actors = true;
        }
    }

    /// Whether one more refusal of `actor` may be recorded on its own this minute.
    fn refusal_allowed(&mut self, actor: &str, now: Instant) -> bool {
        const MINUTE: Duration = Duration::from_secs(60);
        if self.refusals.len() >= MAX_TALLIES {
            self.refusals
                .retain(|_, (start, _)| now.saturating_duration_since(*start) < MINUTE);
        }
        if !self.refusals.contains_key(actor) && self.refusals.len() >= MAX_TALLIES {
            return false;
        }
        let entry = self.refusals.entry(actor.to_owned()).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= MINUTE {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= REFUSALS_PER_MINUTE
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dropped == 0 && self.tallies.is_empty()
    }

    /// Everything waiting, as events to append in order, with their times.
    fn take(&mut self, now: &str) -> Vec<Queued> {
        let mut out = Vec::new();
        if self.dropped > 0 {
            out.push((
                NewAuditEvent {
                    actor: None,
                    face: "strongroom".into(),
                    action: "audit overflow".into(),
                    target: format!("{} events recorded while locked were dropped", self.dropped),
                    outcome: "error".into(),
                    status: None,
                    request_id: String::new(),
                },
                now.to_owned(),
                None,
            ));
            self.dropped = 0;
        }
        let mut tallies: Vec<_> = self.tallies.drain().collect();
        tallies.sort_by(|a, b| a.1.since.cmp(&b.1.since));
        for (key, tally) in tallies {
            let target = if tally.several_actors {
                format!("from {} (claiming several user ids)", key.client)
            } else {
                format!("from {}", key.client)
            };
            out.push((
                NewAuditEvent {
                    actor: tally.actor,
                    face: key.face,
                    action: key.action,
                    target,
                    outcome: key.outcome,
                    status: key.status,
                    request_id: String::new(),
                },
                tally.last,
                Some((tally.count, tally.since)),
            ));
        }
        out.extend(self.events.drain(..).map(|(e, t)| (e, t, None)));
        out
    }

    /// Puts back what [`Pending::take`] took, when it could not be written.
    fn put_back(&mut self, taken: Vec<Queued>) {
        for (event, time, counted) in taken.into_iter().rev() {
            match counted {
                Some((count, since)) => {
                    let several_actors = event.target.ends_with(" (claiming several user ids)");
                    let client = event
                        .target
                        .trim_start_matches("from ")
                        .trim_end_matches(" (claiming several user ids)")
                        .to_owned();
                    let key = TallyKey {
                        face: event.face,
                        action: event.action,
                        client,
                        outcome: event.outcome,
                        status: event.status,
                    };
                    let t = self.tallies.entry(key).or_insert(Tally {
                        count: 0,
                        since: since.clone(),
                        last: time.clone(),
                        actor: event.actor.clone(),
                        several_actors,
                    });
                    t.count += count;
                    t.since = since.min(t.since.clone());
                    if t.actor != event.actor || several_actors {
                        t.actor = None;
                        t.several_actors = true;
                    }
                }
                None if event.action == "audit overflow" => self.dropped += 1,
                None => self.events.push_front((event, time)),
            }
        }
    }
}

impl Core {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending_audit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event on its own: appended now if Operational, else kept until the next
    /// unlock. For what happens outside a request's store change (a core decision, a lock).
    /// Not for a caller holding the transition lock: a cluster node whose key another node
    /// replaced locks here.
    pub(crate) fn record_audit(&self, event: NewAuditEvent) {
        let time = self.now_rfc3339();
        let event = event.bounded();
        let Ok(u) = self.unlocked() else {
            return self.keep_until_unlocked(event, time);
        };
        let queued = vec![(event.clone(), time.clone(), None)];
        match self.append_standalone(&u, queued) {
            Ok(()) => {}
            // Certainly not written, and the trail is under a key this node no longer holds:
            // in a cluster, another node rotated the domain key. The node locks
            // ([`Core::settle_error`]) and the event waits for its next unlock.
            Err(e @ Error::Store(StoreError::Tampered(_) | StoreError::GuardMoved(_))) => {
                drop(u);
                let settled = self.settle_error(e);
                if matches!(settled, Error::WrongState(_)) {
                    tracing::warn!("audit event kept for the next unlock: the domain key changed");
                    self.keep_until_unlocked(event, time);
                } else {
                    tracing::error!(error = %settled, "audit event could not be written");
                }
            }
            Err(e) => tracing::error!(error = %e, "audit event could not be written"),
        }
    }

    /// Keeps an event that cannot be written now for the next unlock (at most
    /// [`MAX_PENDING`]; past that the oldest go, and are counted).
    fn keep_until_unlocked(&self, event: NewAuditEvent, time: String) {
        let mut pending = self.pending();
        if pending.events.len() >= MAX_PENDING {
            pending.events.pop_front();
            pending.dropped += 1;
        }
        pending.events.push_back((event, time));
    }

    /// Records a finished request whose event was not written with a change: a success on
    /// its own; a refusal of an authenticated caller on its own within its budget; anything
    /// else counted. `client` is the caller's address.
    pub fn record_request(&self, event: NewAuditEvent, caller: Caller, client: &str) {
        let event = event.bounded();
        let success = event.outcome == "success";
        if success {
            return self.record_audit(event);
        }
        let time = self.now_rfc3339();
        let mut pending = self.pending();
        let on_its_own = caller == Caller::Authenticated
            && event
                .actor
                .as_deref()
                .is_some_and(|a| pending.refusal_allowed(a, self.clock.instant()));
        if on_its_own {
            drop(pending);
            self.record_audit(event);
        } else {
            pending.count(&event, client, time);
        }
    }

    fn now_rfc3339(&self) -> String {
        self.now().format(&Rfc3339).unwrap_or_default()
    }

    /// Installs the one observer of stored audit events (the server's syslog forwarder);
    /// `false` if one is installed already.
    pub fn observe_audit(&self, observer: AuditObserver) -> bool {
        self.audit_observer.set(observer).is_ok()
    }

    /// Appends what waits (events recorded while Locked, counted failures). The server calls
    /// this every minute; it happens anyway before any other event is appended.
    pub fn flush_audit(&self) {
        if let Ok(u) = self.unlocked() {
            self.flush_pending_audit(&u);
        }
    }

    pub(crate) fn flush_pending_audit(&self, u: &Unlocked) {
        if self.pending().is_empty() {
            return;
        }
        if let Err(e) = self.append_standalone(u, Vec::new()) {
            tracing::error!(error = %e, "audit events could not be written");
        }
    }

    fn append_standalone(&self, u: &Unlocked, events: Vec<Queued>) -> Result<()> {
        let _sealing = self.sealing();
        match self.append_with(&u.data, Txn::new(), events)? {
            Commit::Committed(_) => Ok(()),
            Commit::Conflict => Err(Error::Internal("audit append conflicted".into())),
        }
    }

    /// Commits `txn` (in the inner store's terms: values already sealed where they must be)
    /// through the sealed view `data`. Within a request, the request's event (and whatever
    /// waits) is appended in the same transaction, so the change and its record are stored
    /// together or not at all.
    pub(crate) fn commit_audited(&self, data: &Sealed<DynStore>, txn: Txn) -> Result<Commit> {
        let _sealing = self.sealing();
        self.commit_audited_sealing(data, txn)
    }

    /// [`Core::commit_audited`] for a caller that holds [`Core::sealing`] (or the rotation's
    /// exclusive side of it) already.
    pub(crate) fn commit_audited_sealing(
        &self,
        data: &Sealed<DynStore>,
        txn: Txn,
    ) -> Result<Commit> {
        let Some(ctx) = current_unwritten() else {
            return Ok(data.commit_sealed(txn)?);
        };
        let mut event = ctx.event();
        event.outcome = "success".into();
        event.status = None;
        let commit = self.append_with(data, txn, vec![(event, self.now_rfc3339(), None)])?;
        if let Commit::Committed(_) = commit {
            ctx.written.store(true, Ordering::SeqCst);
        }
        Ok(commit)
    }

    /// [`Core::commit_audited`], with `fallback` as the event when no request's event is to
    /// be written: for changes that must never go unrecorded (provisioning).
    pub(crate) fn commit_audited_or(
        &self,
        data: &Sealed<DynStore>,
        txn: Txn,
        fallback: NewAuditEvent,
    ) -> Result<Commit> {
        let _sealing = self.sealing();
        self.commit_audited_or_sealing(data, txn, fallback)
    }

    /// [`Core::commit_audited_or`] for a caller that holds [`Core::sealing`] (or the
    /// rotation's exclusive side of it) already.
    pub(crate) fn commit_audited_or_sealing(
        &self,
        data: &Sealed<DynStore>,
        txn: Txn,
        fallback: NewAuditEvent,
    ) -> Result<Commit> {
        if current_unwritten().is_some() {
            return self.commit_audited_sealing(data, txn);
        }
        let mut event = fallback.bounded();
        event.outcome = "success".into();
        self.append_with(data, txn, vec![(event, self.now_rfc3339(), None)])
    }

    /// [`Core::commit_audited`] for a transaction of user data (plain values, sealed here).
    pub(crate) fn commit_data(&self, u: &Unlocked, txn: Txn) -> Result<Commit> {
        let _sealing = self.sealing();
        self.commit_audited_sealing(&u.data, u.data.seal_txn(txn))
    }

    /// Commits `txn` (plain values, sealed here) together with `event`, one of the core's own
    /// ([`NewAuditEvent::by_core`]): for what the core decides and records itself, so the
    /// record and what it records are stored together or not at all.
    pub(crate) fn commit_data_with_event(
        &self,
        u: &Unlocked,
        txn: Txn,
        event: NewAuditEvent,
    ) -> Result<Commit> {
        let _sealing = self.sealing();
        let time = self.now_rfc3339();
        self.append_with(
            &u.data,
            u.data.seal_txn(txn),
            vec![(event.bounded(), time, None)],
        )
    }

    /// Appends what waits, then `events`, to the trail in one transaction with `txn`.
    /// `Conflict` only when `txn`'s own checks failed.
    fn append_with(
        &self,
        data: &Sealed<DynStore>,
        txn: Txn,
        events: Vec<Queued>,
    ) -> Result<Commit> {
        let _serial = self.audit_append.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.now_rfc3339();
        let mut all = self.pending().take(&now);
        let waiting = all.len();
        all.extend(events);
        let result = self.try_append(data, txn, &all, &now);
        if !matches!(result, Ok(Commit::Committed(_))) {
            // Not written: what waited waits on (the new events are the caller's to report).
            all.truncate(waiting);
            self.pending().put_back(all);
        }
        result
    }

    fn try_append(
        &self,
        data: &Sealed<DynStore>,
        txn: Txn,
        events: &[Queued],
        now: &str,
    ) -> Result<Commit> {
        for _ in 0..CAS_RETRIES {
            let head_entry = data.get(HEAD_PATH)?;
            let head: Head = match &head_entry {
                Some(e) => serde_json::from_slice(&e.value).map_err(Error::internal)?,
                None => Head {
                    seq: 0,
                    hash: GENESIS.into(),
                },
            };
            let mut audit = Txn::new().require_unchanged(HEAD_PATH, head_entry.as_ref());
            let key = match data.get(AUDIT_KEY_PATH)? {
                Some(e) => {
                    let record: AuditKeyRecord =
                        serde_json::from_slice(&e.value).map_err(Error::internal)?;
                    hmac_key(&record)?
                }
                None => {
                    // The first keyed event (a new trail, or one from before keyed chains).
                    let record = AuditKeyRecord {
                        key: zeroize::Zeroizing::new(hex::encode(*crypto::random_key())),
                    };
                    audit = audit
                        .require_absent(AUDIT_KEY_PATH)
                        .put(AUDIT_KEY_PATH, json(&record)?);
                    hmac_key(&record)?
                }
            };
            let (mut seq, mut prev) = (head.seq, head.hash.clone());
            let mut stored = Vec::with_capacity(events.len());
            for (new, time, counted) in events {
                seq += 1;
                let mut event = AuditEvent {
                    seq,
                    time: time.clone(),
                    actor: new.actor.clone(),
                    face: new.face.clone(),
                    action: new.action.clone(),
                    target: new.target.clone(),
                    outcome: new.outcome.clone(),
                    status: new.status,
                    request_id: new.request_id.clone(),
                    count: counted.as_ref().map(|(n, _)| *n),
                    since: counted.as_ref().map(|(_, s)| s.clone()),
                    keyed: true,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                event.hash = event.compute_hash(Some(&key)).expect("the key is known");
                prev = event.hash.clone();
                audit = audit.put(event_path(seq), json(&event)?);
                stored.push(event);
            }
            if seq != head.seq {
                audit = audit.put(
                    HEAD_PATH,
                    json(&Head {
                        seq,
                        hash: prev.clone(),
                    })?,
                );
                audit = self.prune_to_retention(data, audit, seq, now)?;
            }
            let mut all = txn.clone().merge(data.seal_txn(audit));
            if seq != head.seq && self.raw.get(ANCHORED_PATH)?.is_none() {
                self.anchor_before_claiming_it()?;
                all = all.put(ANCHORED_PATH, "1");
            }
            match data.commit_sealed(all)? {
                Commit::Committed(r) => {
                    if seq != head.seq {
                        self.advance_anchor(seq, &prev);
                    }
                    if let Some(observe) = self.audit_observer.get() {
                        stored.iter().for_each(observe);
                    }
                    return Ok(Commit::Committed(r));
                }
                Commit::Conflict => {
                    // Ours or the trail's? Only a moved head is worth another try.
                    let moved = data.get(HEAD_PATH)?.map(|e| e.revision)
                        != head_entry.as_ref().map(|e| e.revision);
                    if !moved {
                        return Ok(Commit::Conflict);
                    }
                }
            }
        }
        Err(Error::Internal("audit head kept moving; gave up".into()))
    }

    /// Adds to `audit` the pruning of the oldest events if the trail would hold more than
    /// the retention bound after `last`, in batches of [`PRUNE_BATCH`].
    fn prune_to_retention(
        &self,
        data: &Sealed<DynStore>,
        mut audit: Txn,
        last: u64,
        now: &str,
    ) -> Result<Txn> {
        let max = self.audit_max_events.max(1);
        let checkpoint: Option<Checkpoint> = match data.get(CHECKPOINT_PATH)? {
            Some(e) => Some(serde_json::from_slice(&e.value).map_err(Error::internal)?),
            None => None,
        };
        let first = checkpoint.as_ref().map_or(1, |c| c.seq + 1);
        if last + 1 - first <= max + PRUNE_BATCH.min(max) {
            return Ok(audit);
        }
        let through = last - max;
        let Some(at) = data.get(&event_path(through))? else {
            // The event to continue from is not stored (pruned by another node meanwhile).
            return Ok(audit);
        };
        let cut: AuditEvent = serde_json::from_slice(&at.value).map_err(Error::internal)?;
        for seq in first..=through {
            audit = audit.delete(event_path(seq));
        }
        audit = audit.put(
            CHECKPOINT_PATH,
            json(&Checkpoint {
                seq: through,
                hash: cut.hash,
                time: now.to_owned(),
            })?,
        );
        tracing::info!(through, "audit trail pruned to its retention bound");
        Ok(audit)
    }
}

impl Audit<'_> {
    /// Up to `limit` events after sequence number `after` (0: from the start). Root
    /// Administrator only.
    pub fn events(&self, after: u64, limit: usize) -> Result<AuditPage> {
        let (core, u, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        let raw = core
            .raw
            .scan(EVENTS_PREFIX, Some(&event_path(after)), limit)?;
        let full = raw.len() == limit;
        let mut page = AuditPage {
            events: Vec::new(),
            unreadable: Vec::new(),
            next: None,
        };
        let mut last = after;
        for (key, entry) in raw {
            let seq: u64 = key[EVENTS_PREFIX.len()..].parse().unwrap_or(0);
            last = seq;
            match u
                .data
                .open_raw(&key, &entry.value)
                .ok()
                .and_then(|v| serde_json::from_slice(&v).ok())
            {
                Some(event) => page.events.push(event),
                None => page.unreadable.push(seq),
            }
        }
        if full {
            page.next = Some(last);
        }
        Ok(page)
    }

    /// Walks the whole chain and reports where it first breaks. Root Administrator only.
    pub fn verify(&self) -> Result<ChainReport> {
        let (core, u, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        const PAGE: usize = 1000;
        let checkpoint: Option<Checkpoint> = match u.data.get(CHECKPOINT_PATH) {
            Ok(Some(e)) => serde_json::from_slice(&e.value).ok(),
            Ok(None) => None,
            Err(_) => {
                return Ok(ChainReport::broken(
                    0,
                    0,
                    "the checkpoint the pruned trail starts from was altered".into(),
                ));
            }
        };
        let pruned_through = checkpoint.as_ref().map(|c| c.seq);
        let chain_key = match u.data.get(AUDIT_KEY_PATH) {
            Ok(Some(e)) => serde_json::from_slice(&e.value)
                .ok()
                .and_then(|r: AuditKeyRecord| hmac_key(&r).ok()),
            _ => None,
        };
        let mut seen_keyed = false;
        let mut expected_seq = pruned_through.map_or(1, |s| s + 1);
        let mut prev_hash = checkpoint.map_or_else(|| GENESIS.to_owned(), |c| c.hash);
        let mut after: Option<String> = pruned_through.map(event_path);
        loop {
            let raw = core.raw.scan(EVENTS_PREFIX, after.as_deref(), PAGE)?;
            let done = raw.len() < PAGE;
            for (key, entry) in &raw {
                let verified = expected_seq - 1 - pruned_through.unwrap_or(0);
                let seq: Option<u64> = key[EVENTS_PREFIX.len()..].parse().ok();
                if seq != Some(expected_seq) {
                    return Ok(ChainReport::broken(
                        verified,
                        expected_seq,
                        format!("event {expected_seq} is missing (next stored is {key})"),
                    ));
                }
                let event: AuditEvent = match u
                    .data
                    .open_raw(key, &entry.value)
                    .ok()
                    .and_then(|v| serde_json::from_slice(&v).ok())
                {
                    Some(e) => e,
                    None => {
                        return Ok(ChainReport::broken(
                            verified,
                            expected_seq,
                            format!("event {expected_seq} was altered (it fails authentication)"),
                        ));
                    }
                };
                if event.keyed {
                    seen_keyed = true;
                } else if seen_keyed {
                    return Ok(ChainReport::broken(
                        verified,
                        expected_seq,
                        format!(
                            "event {expected_seq} is not keyed although events before it are (it was forged)"
                        ),
                    ));
                }
                if event.seq != expected_seq
                    || Some(&event.hash) != event.compute_hash(chain_key.as_ref()).as_ref()
                {
                    return Ok(ChainReport::broken(
                        verified,
                        expected_seq,
                        format!(
                            "event {expected_seq} was altered (its hash does not match its content)"
                        ),
                    ));
                }
                if event.prev_hash != prev_hash {
                    return Ok(ChainReport::broken(
                        verified,
                        expected_seq,
                        format!(
                            "event {expected_seq} does not follow event {}",
                            expected_seq - 1
                        ),
                    ));
                }
                prev_hash = event.hash;
                expected_seq += 1;
            }
            after = raw.last().map(|(k, _)| k.clone());
            if done {
                break;
            }
        }
        let last = expected_seq - 1;
        let count = last - pruned_through.unwrap_or(0);
        let head: Option<Head> = match u.data.get(HEAD_PATH) {
            Ok(Some(e)) => serde_json::from_slice(&e.value).ok(),
            Ok(None) => None,
            Err(_) => {
                return Ok(ChainReport::broken(
                    count,
                    count + 1,
                    "the chain head was altered".into(),
                ));
            }
        };
        let Some(h) = &head else {
            // Provisioning writes the first event, so a provisioned node always has a head.
            return Ok(ChainReport::broken(
                count,
                last + 1,
                "the trail has no head: on a provisioned node it was removed".into(),
            ));
        };
        if !(h.seq == last && h.hash == prev_hash) {
            let at = head.map(|h| h.seq).unwrap_or(last).max(last);
            return Ok(ChainReport::broken(
                count,
                at,
                format!(
                    "the chain ends at event {last} but its head records a different last event (events were removed from the end)"
                ),
            ));
        }
        if let Some(reason) = core.pending_rollback() {
            return Ok(ChainReport::broken(count, last + 1, reason));
        }
        Ok(ChainReport {
            verified: true,
            events: count,
            pruned_through,
            broken_at: None,
            reason: None,
        })
    }
}

impl Core {
    /// The trail's MAC key, as someone holding the domain key could read it.
    #[cfg(test)]
    pub(crate) fn chain_key_for_test(&self) -> hmac::Key {
        let u = self.unlocked().unwrap();
        let e = u.data.get(AUDIT_KEY_PATH).unwrap().unwrap();
        hmac_key(&serde_json::from_slice(&e.value).unwrap()).unwrap()
    }

    /// The rollback this node found at unlock and runs with (started with
    /// `accept_store_rollback`), until a root Administrator accepts it.
    pub fn pending_rollback(&self) -> Option<String> {
        self.rollback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Audit<'_> {
    /// `POST /api/strongroom/v1/audit/accept-rollback` (root Administrator): accepts the store
    /// as it is after a rollback this node found, records that in the trail, and anchors the
    /// node to the store again.
    pub fn accept_rollback(&self) -> Result<()> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let reason = core
            .rollback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| Error::Conflict("There is no store rollback to accept.".into()))?;
        tracing::warn!(by = %who.user_id, %reason, "store rollback accepted");
        core.record_audit(NewAuditEvent::by_core(
            Some(&who.user_id),
            "store rollback accepted",
            reason,
        ));
        Ok(())
    }
}

impl Core {
    /// Moves the anchor to the event just appended (unless a rollback waits to be accepted:
    /// then the anchor keeps what this node saw before it).
    fn advance_anchor(&self, seq: u64, hash: &str) {
        if self.pending_rollback().is_some() {
            return;
        }
        let result = self.unlock_digest().and_then(|unlock_digest| {
            self.anchor.set(AnchorState {
                provisioned: true,
                audit_seq: seq,
                audit_hash: hash.to_owned(),
                unlock_digest,
                adopt: false,
            })
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "the anchor could not be written");
        }
    }

    /// SHA-256 (hex) of the raw `meta/unlock` value ("" if there is none).
    pub(crate) fn unlock_digest(&self) -> Result<String> {
        Ok(self
            .raw
            .get(UNLOCK_PATH)?
            .map(|e| hex::encode(digest(&SHA256, &e.value)))
            .unwrap_or_default())
    }

    /// Compares the store (opened with the domain key) with this node's anchor: why the store
    /// is not what this node last saw, if it is not. A store ahead of the anchor is fine (a
    /// crash after a commit, before the anchor was written; or another node's events).
    pub(crate) fn anchor_mismatch(&self, data: &Sealed<DynStore>) -> Result<Option<String>> {
        let head: Option<Head> = match data.get(HEAD_PATH) {
            Ok(Some(e)) => serde_json::from_slice(&e.value).ok(),
            Ok(None) => None,
            Err(_) => {
                return Ok(Some(
                    "the store's audit head fails authentication (it was altered)".into(),
                ));
            }
        };
        let (seq, hash) = head.map_or((0, String::new()), |h| (h.seq, h.hash));
        let anchor = match self.anchor.get() {
            Some(a) if a.adopt => return Ok(None),
            Some(a) => a,
            // A node new to a cluster: the other nodes' anchors wrote the trail. (One that
            // had an anchor and lost it is refused at start: its `meta/anchored` is its own.)
            None if self.cluster.is_some() => return Ok(None),
            None => {
                // No anchor: a store from before anchors, or a new one. A store whose last
                // event is keyed was written by an anchored node, so its anchor went missing.
                let keyed = seq > 0
                    && matches!(
                        data.get(&event_path(seq)),
                        Ok(Some(e)) if serde_json::from_slice::<AuditEvent>(&e.value)
                            .is_ok_and(|e| e.keyed)
                    );
                return Ok(keyed.then(|| {
                    "this node has no anchor, but the store's trail was written by an anchored node (the anchor was deleted, or the store comes from another node)".to_owned()
                }));
            }
        };
        let behind = |what: &str| {
            Some(format!(
                "the store is older than this node's anchor: {what}, but this node appended event {} (the store was rolled back, or its audit trail cut short)",
                anchor.audit_seq
            ))
        };
        if seq < anchor.audit_seq {
            return Ok(if seq == 0 {
                behind("its audit trail has no head")
            } else {
                behind(&format!("its audit trail ends at event {seq}"))
            });
        }
        if seq == anchor.audit_seq {
            if hash != anchor.audit_hash {
                return Ok(Some(format!(
                    "the store holds another event {seq} than the one this node appended (the store was replaced)"
                )));
            }
            if self.unlock_digest()? != anchor.unlock_digest {
                return Ok(Some(
                    "the store's unlock record is not the one this node last saw, and no audit event records a change (an older unlock record was put back)".into(),
                ));
            }
            return Ok(None);
        }
        if anchor.audit_seq > 0
            && let Ok(Some(e)) = data.get(&event_path(anchor.audit_seq))
        {
            let event: Option<AuditEvent> = serde_json::from_slice(&e.value).ok();
            if event.map(|e| e.hash) != Some(anchor.audit_hash.clone()) {
                return Ok(Some(format!(
                    "the store's event {} is not the one this node appended (the store was replaced)",
                    anchor.audit_seq
                )));
            }
        }
        Ok(None)
    }

    /// Before the store first records that this node keeps an anchor (`meta/anchored`), makes
    /// sure an anchor file exists: one that takes the store as it is at the next unlock if
    /// nothing better is written. So a crash between the two never leaves a store that claims
    /// an anchor the node lacks (which would refuse to start); before a provisioning that
    /// never committed, that anchor is dropped at start.
    fn anchor_before_claiming_it(&self) -> Result<()> {
        if self.anchor.get().is_none() {
            self.anchor.set(AnchorState {
                provisioned: true,
                adopt: true,
                ..Default::default()
            })?;
        }
        Ok(())
    }

    /// Anchors this node to the store's current head (after a check found them consistent,
    /// or for a store that had no anchor yet).
    pub(crate) fn anchor_to_store(&self, data: &Sealed<DynStore>) -> Result<()> {
        if self.pending_rollback().is_some() {
            return Ok(());
        }
        let head: Option<Head> = match data.get(HEAD_PATH)? {
            Some(e) => serde_json::from_slice(&e.value).ok(),
            None => None,
        };
        if let Some(h) = head {
            if self.raw.get(ANCHORED_PATH)?.is_none() {
                self.anchor_before_claiming_it()?;
                self.raw.put(ANCHORED_PATH, b"1")?;
            }
            self.anchor.set(AnchorState {
                provisioned: true,
                audit_seq: h.seq,
                audit_hash: h.hash,
                unlock_digest: self.unlock_digest()?,
                adopt: false,
            })?;
        }
        Ok(())
    }
}
