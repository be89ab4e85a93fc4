//! `/namespaces`: root Administrators only.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, NetHsmPath, RootAdmin};
use super::wire::NamespaceItem;
use crate::app::AppState;

pub async fn namespaces_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<Vec<NamespaceItem>>, NetHsmError> {
    let ids = s
        .run(move |core| core.operational(&who)?.namespaces().list())
        .await?;
    Ok(NetHsmJson(
        ids.into_iter().map(|id| NamespaceItem { id }).collect(),
    ))
}

pub async fn namespace_put(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.namespaces().create(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn namespace_delete(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.namespaces().delete(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
