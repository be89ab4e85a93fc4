//! `GET /audit` (a page of events) and `GET /audit/verify` (walk the whole chain).
//! Root Administrator only.

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use strongroom_core::audit::AuditEvent;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, Caller, RootAdmin};
use crate::app::AppState;

/// At most this many events per page.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events after this sequence number (default 0: from the first).
    #[serde(default)]
    after: u64,
    /// Page size, 1..=1000 (default 100).
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPageData {
    events: Vec<AuditEvent>,
    /// Sequence numbers on this page whose stored value failed authentication.
    unreadable: Vec<u64>,
    /// The `after` of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReportData {
    verified: bool,
    events: u64,
    /// The last event pruned by the retention bound; verification started after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pruned_through: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    broken_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub async fn audit_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<AuditPageData>, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let page = s
        .run(move |core| core.operational(&who)?.audit().events(q.after, limit))
        .await?;
    Ok(ApiJson(AuditPageData {
        events: page.events,
        unreadable: page.unreadable,
        next: page.next,
    }))
}

pub async fn audit_verify_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<ChainReportData>, ApiError> {
    let r = s
        .run(move |core| core.operational(&who)?.audit().verify())
        .await?;
    Ok(ApiJson(ChainReportData {
        verified: r.verified,
        events: r.events,
        pruned_through: r.pruned_through,
        broken_at: r.broken_at,
        reason: r.reason,
    }))
}

/// `POST /audit/accept-rollback`: accepts the store as it is after this node found it older
/// than its anchor at unlock (the server runs with `accept_store_rollback` then). 409 when
/// there is nothing to accept.
pub async fn accept_rollback_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
) -> Result<axum::http::StatusCode, ApiError> {
    s.run(move |core| core.operational(&who)?.audit().accept_rollback())
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
