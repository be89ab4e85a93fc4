//! `/clients`: the registry of backup clients (root Administrator), and the restore decision
//! backup software asks for before a browse or restore (root Administrator or Backup role).

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use strongroom_core::clients::{BackupClient, ClientChange, NewClient};
use strongroom_core::passkeys::{PasskeyState, RestoreDecision};
use time::format_description::well_known::Rfc3339;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, ApiPath, Caller, RootAdmin, RootAdminOrBackup};
use crate::app::AppState;
use crate::middleware::request_id::OpId;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyData {
    enabled: bool,
    authorized_until: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientData {
    id: u64,
    name: String,
    host_name: String,
    display_name: String,
    owners: Vec<String>,
    passkey: PasskeyData,
}

fn rfc3339(t: Option<time::OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

fn client_data(c: BackupClient, p: PasskeyState) -> ClientData {
    ClientData {
        id: c.id,
        name: c.name,
        host_name: c.host_name,
        display_name: c.display_name,
        owners: c.owners,
        passkey: PasskeyData {
            enabled: p.enabled,
            authorized_until: rfc3339(p.authorized_until),
        },
    }
}

#[derive(Debug, Serialize)]
pub struct ClientList {
    clients: Vec<ClientData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewClientData {
    name: String,
    host_name: String,
    display_name: Option<String>,
    #[serde(default)]
    owners: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientChangeData {
    name: Option<String>,
    host_name: Option<String>,
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnersData {
    owners: Vec<String>,
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Client not found.")
}

fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| not_found())
}

pub async fn clients_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<ClientList>, ApiError> {
    let clients = s
        .run(move |core| core.operational(&who)?.clients().list_with_passkeys())
        .await?
        .into_iter()
        .map(|(c, p)| client_data(c, p))
        .collect();
    Ok(ApiJson(ClientList { clients }))
}

pub async fn clients_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    ApiJson(req): ApiJson<NewClientData>,
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
    let location = format!("/api/strongroom/v1/clients/{}", data.id);
    let mut r = (StatusCode::CREATED, ApiJson(data)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

pub async fn client_get(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<ClientData>, ApiError> {
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

pub async fn client_patch(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    ApiJson(req): ApiJson<ClientChangeData>,
) -> Result<ApiJson<ClientData>, ApiError> {
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

pub async fn client_owners_put(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdmin,
    ApiJson(req): ApiJson<OwnersData>,
) -> Result<ApiJson<ClientData>, ApiError> {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    /// `browse` or `restore`.
    operation: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionData {
    allowed: bool,
    /// `no-passkey`, `authorized`, `passkey-required` or `company-passkey-required`.
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_until: Option<String>,
}

/// Asked by backup software before each browse or restore of a client; audited.
pub async fn restore_authorization_get(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Caller(who, _): RootAdminOrBackup,
    _: AcceptJson,
    op: axum::Extension<OpId>,
    query: Result<Query<DecisionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ApiJson<DecisionData>, ApiError> {
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
        RestoreDecision::NoPasskey => ("no-passkey", None),
        RestoreDecision::Authorized { until } => ("authorized", rfc3339(Some(until))),
        RestoreDecision::PasskeyRequired {
            company_level: false,
        } => ("passkey-required", None),
        RestoreDecision::PasskeyRequired {
            company_level: true,
        } => ("company-passkey-required", None),
    };
    Ok(ApiJson(DecisionData {
        allowed: reason == "no-passkey" || reason == "authorized",
        reason,
        authorized_until: until,
    }))
}
