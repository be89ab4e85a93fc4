//! `/clients`: the registry of backup clients (root Administrator), and the restore decision
//! backup software asks for before a browse or restore (root Administrator or Backup role).

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strongroom_core::clients::{BackupClient, ClientChange, NewClient};
use strongroom_core::passkeys::{PasskeyState, RestoreDecision};
use strongroom_proto::API_PREFIX;
use strongroom_proto::clients as wire;
use strongroom_proto::errors::ErrorBody;
use strongroom_proto::restore::{self as restore_wire, RestoreQuery, RestoreReason};
use time::format_description::well_known::Rfc3339;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, ApiPath, Caller, RootAdmin, RootAdminOrBackup};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated, JsonBody, PutJsonBody};
use crate::app::AppState;
use crate::middleware::request_id::OpId;

fn rfc3339(t: Option<time::OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

fn client_data(c: BackupClient, p: PasskeyState) -> wire::BackupClient {
    wire::BackupClient {
        id: c.id,
        name: c.name,
        host_name: c.host_name,
        display_name: c.display_name,
        owners: c.owners,
        passkey: wire::Passkey {
            enabled: p.enabled,
            authorized_until: rfc3339(p.authorized_until),
        },
    }
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Client not found.")
}

fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| not_found())
}

/// Every backup client (root Administrator).
#[utoipa::path(
    get,
    path = "/clients",
    operation_id = "listClients",
    tag = "clients",
    responses(
        (status = 200, description = "Every backup client.", body = wire::ClientList),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn clients_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<wire::ClientList>, ApiError> {
    let clients = s
        .run(move |core| core.operational(&who)?.clients().list_with_passkeys())
        .await?
        .into_iter()
        .map(|(c, p)| client_data(c, p))
        .collect();
    Ok(ApiJson(wire::ClientList { clients }))
}

/// Registers a backup client (root Administrator).
#[utoipa::path(
    post,
    path = "/clients",
    operation_id = "createClient",
    tag = "clients",
    request_body = wire::NewClient,
    responses(
        (status = 201, description = "The client, registered.", body = wire::BackupClient,
            headers(("Location" = String, description = "The client's URL."))),
        Gated, Authenticated, JsonBody, CoreCall,
        (status = 400, description = "A malformed body, an owner that is not a user, or a \
            name with an invisible or control character.", body = ErrorBody),
        (status = 409, description = "The name is taken.", body = ErrorBody),
    )
)]
pub async fn clients_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    ApiJson(req): ApiJson<wire::NewClient>,
) -> Result<Response, ApiError> {
    let data = s
        .run(move |core| {
            let node = core.operational(&who)?;
            let c = node.clients().create(NewClient {
                name: &req.name,
                host_name: &req.host_name,
                display_name: req.display_name.as_deref(),
                owners: &req.owners,
            })?;
            let p = node.passkeys().client_state(c.id)?;
            Ok(client_data(c, p))
        })
        .await?;
    let location = format!("{API_PREFIX}/clients/{}", data.id);
    let mut r = (StatusCode::CREATED, ApiJson(data)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// One backup client (root Administrator).
#[utoipa::path(
    get,
    path = "/clients/{id}",
    operation_id = "getClient",
    tag = "clients",
    params(("id" = u64, Path, description = "The client's id.")),
    responses(
        (status = 200, description = "The client.", body = wire::BackupClient),
        (status = 404, description = "There is no such client.", body = ErrorBody),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn client_get(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<wire::BackupClient>, ApiError> {
    let id = parse_id(&id)?;
    let data = s
        .run(move |core| {
            let node = core.operational(&who)?;
            Ok(client_data(
                node.clients().get(id)?,
                node.passkeys().client_state(id)?,
            ))
        })
        .await?;
    Ok(ApiJson(data))
}

/// Changes a backup client's names; only the fields given change (root Administrator).
#[utoipa::path(
    patch,
    path = "/clients/{id}",
    operation_id = "changeClient",
    tag = "clients",
    params(("id" = u64, Path, description = "The client's id.")),
    request_body = wire::ClientChange,
    responses(
        (status = 200, description = "The client, changed.", body = wire::BackupClient),
        (status = 404, description = "There is no such client.", body = ErrorBody),
        (status = 409, description = "The new name is taken.", body = ErrorBody),
        Gated, Authenticated, JsonBody, CoreCall,
    )
)]
pub async fn client_patch(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    ApiJson(req): ApiJson<wire::ClientChange>,
) -> Result<ApiJson<wire::BackupClient>, ApiError> {
    let id = parse_id(&id)?;
    let data = s
        .run(move |core| {
            let node = core.operational(&who)?;
            let c = node.clients().change(
                id,
                ClientChange {
                    name: req.name.as_deref(),
                    host_name: req.host_name.as_deref(),
                    display_name: req.display_name.as_deref(),
                },
            )?;
            Ok(client_data(c, node.passkeys().client_state(id)?))
        })
        .await?;
    Ok(ApiJson(data))
}

/// Replaces a backup client's owners (root Administrator).
#[utoipa::path(
    put,
    path = "/clients/{id}/owners",
    operation_id = "setClientOwners",
    tag = "clients",
    params(("id" = u64, Path, description = "The client's id.")),
    request_body = wire::ClientOwners,
    responses(
        (status = 200, description = "The client, with its new owners.",
            body = wire::BackupClient),
        (status = 404, description = "There is no such client.", body = ErrorBody),
        Gated, Authenticated, PutJsonBody, CoreCall,
    )
)]
pub async fn client_owners_put(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    ApiJson(req): ApiJson<wire::ClientOwners>,
) -> Result<ApiJson<wire::BackupClient>, ApiError> {
    let id = parse_id(&id)?;
    let data = s
        .run(move |core| {
            let node = core.operational(&who)?;
            let c = node.clients().set_owners(id, &req.owners)?;
            Ok(client_data(c, node.passkeys().client_state(id)?))
        })
        .await?;
    Ok(ApiJson(data))
}

/// Removes a backup client and its passkey (root Administrator).
#[utoipa::path(
    delete,
    path = "/clients/{id}",
    operation_id = "deleteClient",
    tag = "clients",
    params(("id" = u64, Path, description = "The client's id.")),
    responses(
        (status = 204, description = "The client and its passkey are gone."),
        (status = 404, description = "There is no such client.", body = ErrorBody),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn client_delete(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    s.run(move |core| core.operational(&who)?.clients().delete(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asked by backup software before each browse or restore of a client; audited.
#[utoipa::path(
    get,
    path = "/clients/{id}/restore-authorization",
    operation_id = "getRestoreAuthorization",
    tag = "clients",
    params(
        ("id" = u64, Path, description = "The client's id."),
        RestoreQuery,
    ),
    responses(
        (status = 200, description = "Whether the browse or restore may go ahead, and why.",
            body = restore_wire::RestoreDecision),
        (status = 400, description = "A malformed query, or an operation other than `browse` \
            or `restore`.", body = ErrorBody),
        (status = 404, description = "There is no such client.", body = ErrorBody),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn restore_authorization_get(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdminOrBackup,
    _: AcceptJson,
    op: axum::Extension<OpId>,
    query: Result<Query<RestoreQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<restore_wire::RestoreDecision>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    if q.operation != "browse" && q.operation != "restore" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "operation must be browse or restore",
        ));
    }
    let id = parse_id(&id)?;
    let request_id = op.0.0.to_string();
    let decision = s
        .run(move |core| {
            core.operational(&who)?
                .passkeys()
                .restore_decision(id, &q.operation, &request_id)
        })
        .await?;
    let (reason, until) = match decision {
        RestoreDecision::NoPasskey => (RestoreReason::NoPasskey, None),
        RestoreDecision::Authorized { until } => (RestoreReason::Authorized, rfc3339(Some(until))),
        RestoreDecision::PasskeyRequired {
            company_level: false,
        } => (RestoreReason::PasskeyRequired, None),
        RestoreDecision::PasskeyRequired {
            company_level: true,
        } => (RestoreReason::CompanyPasskeyRequired, None),
    };
    Ok(ApiJson(restore_wire::RestoreDecision {
        allowed: reason.allows(),
        reason,
        authorized_until: until,
    }))
}
