//! `/clients`: the registry of backup clients (root Administrator), and the restore decision
//! backup software asks for before a browse or restore (root Administrator or Backup role).

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strongroom_core::clients::{BackupClient, ClientChange, NewClient};
use strongroom_core::passkeys::{PasskeyState, RestoreDecision};
use strongroom_proto::API_PREFIX;
use strongroom_proto::clients as wire;
use strongroom_proto::restore::{self as restore_wire, RestoreQuery, RestoreReason};
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::middleware::request_id::OpId;
use crate::nethsm::NetHsmError;
use crate::nethsm::extract::{AcceptJson, Caller, NetHsmJson, NetHsmPath, RootAdmin};

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

fn not_found() -> NetHsmError {
    NetHsmError::new(StatusCode::NOT_FOUND, "Client not found.")
}

fn parse_id(raw: &str) -> Result<u64, NetHsmError> {
    raw.parse().map_err(|_| not_found())
}

pub async fn clients_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<wire::ClientList>, NetHsmError> {
    let clients = s
        .run(move |core| core.clients_with_passkeys(&who))
        .await?
        .into_iter()
        .map(|(c, p)| client_data(c, p))
        .collect();
    Ok(NetHsmJson(wire::ClientList { clients }))
}

pub async fn clients_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<wire::NewClient>,
) -> Result<Response, NetHsmError> {
    let data = s
        .run(move |core| {
            let c = core.create_client(
                &who,
                NewClient {
                    name: &req.name,
                    host_name: &req.host_name,
                    display_name: req.display_name.as_deref(),
                    owners: &req.owners,
                },
            )?;
            let p = core.client_passkey_state(&who, c.id)?;
            Ok(client_data(c, p))
        })
        .await?;
    let location = format!("{API_PREFIX}/clients/{}", data.id);
    let mut r = (StatusCode::CREATED, NetHsmJson(data)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

pub async fn client_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<wire::BackupClient>, NetHsmError> {
    let id = parse_id(&id)?;
    let data = s
        .run(move |core| {
            Ok(client_data(
                core.client(&who, id)?,
                core.client_passkey_state(&who, id)?,
            ))
        })
        .await?;
    Ok(NetHsmJson(data))
}

pub async fn client_patch(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<wire::ClientChange>,
) -> Result<NetHsmJson<wire::BackupClient>, NetHsmError> {
    let id = parse_id(&id)?;
    let data = s
        .run(move |core| {
            let c = core.change_client(
                &who,
                id,
                ClientChange {
                    name: req.name.as_deref(),
                    host_name: req.host_name.as_deref(),
                    display_name: req.display_name.as_deref(),
                },
            )?;
            Ok(client_data(c, core.client_passkey_state(&who, id)?))
        })
        .await?;
    Ok(NetHsmJson(data))
}

pub async fn client_owners_put(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<wire::ClientOwners>,
) -> Result<NetHsmJson<wire::BackupClient>, NetHsmError> {
    let id = parse_id(&id)?;
    let data = s
        .run(move |core| {
            let c = core.set_client_owners(&who, id, &req.owners)?;
            Ok(client_data(c, core.client_passkey_state(&who, id)?))
        })
        .await?;
    Ok(NetHsmJson(data))
}

pub async fn client_delete(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let id = parse_id(&id)?;
    s.run(move |core| core.delete_client(&who, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asked by backup software before each browse or restore of a client; audited.
pub async fn restore_authorization_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Caller<rule::AdministratorOrBackup>,
    _: AcceptJson,
    op: axum::Extension<OpId>,
    query: Result<Query<RestoreQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<NetHsmJson<restore_wire::RestoreDecision>, NetHsmError> {
    let Query(q) = query.map_err(|e| NetHsmError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    if q.operation != "browse" && q.operation != "restore" {
        return Err(NetHsmError::new(
            StatusCode::BAD_REQUEST,
            "operation must be browse or restore",
        ));
    }
    let id = parse_id(&id)?;
    let request_id = op.0.0.to_string();
    let decision = s
        .run(move |core| core.restore_decision(&who, id, &q.operation, &request_id))
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
    Ok(NetHsmJson(restore_wire::RestoreDecision {
        allowed: reason.allows(),
        reason,
        authorized_until: until,
    }))
}

/// The role rule of the restore decision: a root Administrator, or a Backup user of the root
/// namespace (the account backup software uses).
pub mod rule {
    use strongroom_core::identity::{Principal, Role};

    pub struct AdministratorOrBackup;
    impl crate::nethsm::extract::RoleRule for AdministratorOrBackup {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_root_admin().or_else(|_| {
                p.require_role(Role::Backup)?;
                match p.namespace {
                    None => Ok(()),
                    Some(_) => Err(strongroom_core::Error::Forbidden),
                }
            })
        }
    }
}
