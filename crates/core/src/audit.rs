//! The audit trail: one event per state-changing request on any face, sealed like all user
//! data and hash-chained, so that an altered, removed or reordered event is detectable.
//!
//! Store layout: `audit/events/<seq, 20 digits>` holds each event; `audit/head` holds the
//! sequence number and hash of the last one. Each event carries the hash of the one before
//! (64 zeros for the first); its own hash is SHA-256 over its JSON without the `hash` field.
//! An append is one transaction that checks `audit/head` did not move, so appends from several
//! writers (or nodes) serialise. Events that happen while the node is Locked cannot be sealed
//! yet; they wait in memory (bounded) and are appended at the next unlock.

use std::collections::VecDeque;

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use strongroom_store::{Commit, Store, Txn};
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};
use crate::identity::Principal;
use crate::{Core, Unlocked, json};

const HEAD_PATH: &str = "audit/head";
const EVENTS_PREFIX: &str = "audit/events/";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Events kept while Locked; past this the oldest are dropped (and the drop is recorded).
const MAX_PENDING: usize = 10_000;
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
    /// The HTTP status the request was answered with.
    pub status: u16,
    pub request_id: String,
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
    pub status: u16,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// SHA-256 (hex) of the event's JSON with `hash` empty: what `hash` must be.
    pub fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let bytes = serde_json::to_vec(&unhashed).expect("an event serialises");
        hex::encode(digest(&SHA256, &bytes))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    seq: u64,
    hash: String,
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
    /// The sequence number where the chain first breaks.
    pub broken_at: Option<u64>,
    pub reason: Option<String>,
}

impl ChainReport {
    fn broken(events: u64, at: u64, reason: String) -> Self {
        Self {
            verified: false,
            events,
            broken_at: Some(at),
            reason: Some(reason),
        }
    }
}

/// Events waiting for the node to unlock.
#[derive(Default)]
pub(crate) struct Pending {
    events: VecDeque<(NewAuditEvent, String)>,
    dropped: u64,
}

impl Core {
    /// Records an event: appended now if Operational, else kept until the next unlock.
    pub fn record_audit(&self, event: NewAuditEvent) {
        let time = self.now_rfc3339();
        match self.unlocked() {
            Ok(u) => {
                self.flush_pending_audit(&u);
                if let Err(e) = self.append_audit(&u, &event, time) {
                    tracing::error!(error = %e, "audit event could not be written");
                }
            }
            Err(_) => {
                let mut pending = self.pending_audit.lock().unwrap_or_else(|e| e.into_inner());
                if pending.events.len() >= MAX_PENDING {
                    pending.events.pop_front();
                    pending.dropped += 1;
                }
                pending.events.push_back((event, time));
            }
        }
    }

    fn now_rfc3339(&self) -> String {
        self.now().format(&Rfc3339).unwrap_or_default()
    }

    /// Appends the events recorded while Locked.
    pub(crate) fn flush_pending_audit(&self, u: &Unlocked) {
        let (events, dropped) = {
            let mut pending = self.pending_audit.lock().unwrap_or_else(|e| e.into_inner());
            if pending.events.is_empty() && pending.dropped == 0 {
                return;
            }
            (
                std::mem::take(&mut pending.events),
                std::mem::take(&mut pending.dropped),
            )
        };
        if dropped > 0 {
            let note = NewAuditEvent {
                actor: None,
                face: "strongroom".into(),
                action: "audit overflow".into(),
                target: format!("{dropped} events recorded while locked were dropped"),
                outcome: "error".into(),
                status: 0,
                request_id: String::new(),
            };
            let time = self.now_rfc3339();
            if let Err(e) = self.append_audit(u, &note, time) {
                tracing::error!(error = %e, "audit event could not be written");
            }
        }
        for (event, time) in events {
            if let Err(e) = self.append_audit(u, &event, time) {
                tracing::error!(error = %e, "audit event could not be written");
            }
        }
    }

    fn append_audit(&self, u: &Unlocked, new: &NewAuditEvent, time: String) -> Result<u64> {
        let _serial = self.audit_append.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..CAS_RETRIES {
            let head_entry = u.data.get(HEAD_PATH)?;
            let head: Head = match &head_entry {
                Some(e) => serde_json::from_slice(&e.value).map_err(Error::internal)?,
                None => Head {
                    seq: 0,
                    hash: GENESIS.into(),
                },
            };
            let mut event = AuditEvent {
                seq: head.seq + 1,
                time: time.clone(),
                actor: new.actor.clone(),
                face: new.face.clone(),
                action: new.action.clone(),
                target: new.target.clone(),
                outcome: new.outcome.clone(),
                status: new.status,
                request_id: new.request_id.clone(),
                prev_hash: head.hash,
                hash: String::new(),
            };
            event.hash = event.compute_hash();
            let new_head = Head {
                seq: event.seq,
                hash: event.hash.clone(),
            };
            let txn = Txn::new()
                .require_unchanged(HEAD_PATH, head_entry.as_ref())
                .put(event_path(event.seq), json(&event)?)
                .put(HEAD_PATH, json(&new_head)?);
            if let Commit::Committed(_) = u.data.commit(txn)? {
                return Ok(event.seq);
            }
        }
        Err(Error::Internal("audit head kept moving; gave up".into()))
    }

    /// Up to `limit` events after sequence number `after` (0: from the start). Root
    /// Administrator only.
    pub fn audit_events(&self, who: &Principal, after: u64, limit: usize) -> Result<AuditPage> {
        let u = self.unlocked()?;
        who.require_root_admin()?;
        let raw = self
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
    pub fn verify_audit(&self, who: &Principal) -> Result<ChainReport> {
        let u = self.unlocked()?;
        who.require_root_admin()?;
        const PAGE: usize = 1000;
        let mut expected_seq = 1u64;
        let mut prev_hash = GENESIS.to_owned();
        let mut after: Option<String> = None;
        loop {
            let raw = self.raw.scan(EVENTS_PREFIX, after.as_deref(), PAGE)?;
            let done = raw.len() < PAGE;
            for (key, entry) in &raw {
                let verified = expected_seq - 1;
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
                if event.seq != expected_seq || event.hash != event.compute_hash() {
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
                        format!("event {expected_seq} does not follow event {verified}"),
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
        let count = expected_seq - 1;
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
        let head_ok = match &head {
            Some(h) => h.seq == count && h.hash == prev_hash,
            None => count == 0,
        };
        if !head_ok {
            let at = head.map(|h| h.seq).unwrap_or(count).max(count);
            return Ok(ChainReport::broken(
                count,
                at,
                format!(
                    "the chain ends at event {count} but its head records a different last event (events were removed from the end)"
                ),
            ));
        }
        Ok(ChainReport {
            verified: true,
            events: count,
            broken_at: None,
            reason: None,
        })
    }
}
