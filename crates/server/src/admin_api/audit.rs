//! `GET /audit` (a page of events) and `GET /audit/verify` (walk the whole chain).
//! Root Administrator only.

use axum::extract::{Query, State};
use strongroom_core::audit::AuditEvent;
use strongroom_proto::audit as wire;
use strongroom_proto::errors::ErrorBody;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, Caller, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated};
use crate::app::AppState;

/// At most this many events per page.
const MAX_LIMIT: usize = 1000;

/// The wire form of a stored event; every field is named, so a field the core adds is a
/// decision here rather than a silent omission.
fn audit_event(e: AuditEvent) -> wire::AuditEvent {
    let AuditEvent {
        seq,
        time,
        actor,
        face,
        action,
        target,
        outcome,
        status,
        request_id,
        count,
        since,
        keyed,
        prev_hash,
        hash,
    } = e;
    wire::AuditEvent {
        seq,
        time,
        actor,
        face,
        action,
        target,
        outcome,
        status,
        request_id,
        count,
        since,
        keyed,
        prev_hash,
        hash,
    }
}

/// A page of the audit trail, oldest first (root Administrator).
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "getAudit",
    tag = "audit",
    params(wire::AuditQuery),
    responses(
        (status = 200, description = "The events after `after`, at most `limit` of them.",
            body = wire::AuditPage),
        (status = 400, description = "A malformed query, or a `limit` outside 1 to 1000.",
            body = ErrorBody),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn audit_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
    query: Result<Query<wire::AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<wire::AuditPage>, ApiError> {
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
    Ok(ApiJson(wire::AuditPage {
        events: page.events.into_iter().map(audit_event).collect(),
        unreadable: page.unreadable,
        next: page.next,
    }))
}

/// Walks the whole chain (root Administrator).
#[utoipa::path(
    get,
    path = "/audit/verify",
    operation_id = "verifyAudit",
    tag = "audit",
    responses(
        (status = 200, description = "Whether the chain verifies, and where it breaks.",
            body = wire::ChainReport),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn audit_verify_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<wire::ChainReport>, ApiError> {
    let r = s
        .run(move |core| core.operational(&who)?.audit().verify())
        .await?;
    Ok(ApiJson(wire::ChainReport {
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
#[utoipa::path(
    post,
    path = "/audit/accept-rollback",
    operation_id = "acceptStoreRollback",
    tag = "audit",
    responses(
        (status = 204, description = "The rollback is accepted and recorded."),
        (status = 409, description = "There is no store rollback to accept.", body = ErrorBody),
        Gated, Authenticated, CoreCall,
    )
)]
pub async fn accept_rollback_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
) -> Result<axum::http::StatusCode, ApiError> {
    s.run(move |core| core.operational(&who)?.audit().accept_rollback())
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API answered with the core's own serialisation of an event before the wire type
    /// existed; the wire type must write the same bytes.
    #[test]
    fn an_event_is_written_as_the_core_writes_it() {
        let plain = AuditEvent {
            seq: 1,
            time: "2026-11-23T12:00:01Z".into(),
            actor: None,
            face: "nethsm".into(),
            action: "POST /api/v1/provision".into(),
            target: "/api/v1/provision".into(),
            outcome: "success".into(),
            status: None,
            request_id: "1f0c".into(),
            count: None,
            since: None,
            keyed: false,
            prev_hash: "0".repeat(64),
            hash: "9b2e".into(),
        };
        let counted = AuditEvent {
            actor: Some("admin".into()),
            status: Some(401),
            count: Some(57),
            since: Some("2026-11-23T12:00:02Z".into()),
            keyed: true,
            ..plain.clone()
        };
        for event in [plain, counted] {
            let core = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::to_string(&audit_event(event)).unwrap(), core);
        }
    }
}
