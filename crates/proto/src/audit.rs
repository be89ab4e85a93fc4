//! `GET /audit` (a page of events) and `GET /audit/verify` (a walk of the whole chain).

use serde::{Deserialize, Serialize};

/// The query of `GET /audit`.
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events after this sequence number (default 0: from the first).
    #[serde(default)]
    pub after: u64,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
}

/// The answer to `GET /audit`: events oldest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Sequence numbers on this page whose stored value failed authentication.
    pub unreadable: Vec<u64>,
    /// The `after` of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// One event of the trail, as the store holds it (the fields are described in
/// `docs/security-model.md`, "Audit trail"). `hash` is computed over the core's own
/// serialisation of the event, not over this one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub seq: u64,
    /// RFC 3339, UTC, appliance time.
    pub time: String,
    /// `null` when no credentials were accepted.
    pub actor: Option<String>,
    pub face: String,
    pub action: String,
    pub target: String,
    /// `success`, `denied`, `refused`, `error`, or a decision's `allowed` / `denied`.
    pub outcome: String,
    /// The HTTP status; absent on an event written with the change it records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub request_id: String,
    /// For an event that counts failed requests: how many, the first of them at `since` and
    /// the last at `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Whether `hash` is an HMAC under the trail's key; absent (false) on events written
    /// before keyed chains, which carry a plain SHA-256.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keyed: bool,
    pub prev_hash: String,
    pub hash: String,
}

/// The answer to `GET /audit/verify`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    pub verified: bool,
    /// Events that verified before the first break (all of them if `verified`).
    pub events: u64,
    /// The last event pruned by the retention bound; verification started after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_through: Option<u64>,
    /// The sequence number where the chain first breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
