//! `/namespaces`: root Administrators only.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, NetHsmPath, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Exists, Gated, Item};
use super::openapi_params::NamespaceId;
use super::wire::NamespaceItem;
use crate::app::AppState;

#[utoipa::path(
    get,
    path = "/namespaces",
    operation_id = "listNamespaces",
    tag = "namespaces",
    responses(
        (status = 200, description = "The namespaces.", body = Vec<NamespaceItem>),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
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

#[utoipa::path(
    put,
    path = "/namespaces/{NamespaceID}",
    operation_id = "createNamespace",
    tag = "namespaces",
    params(NamespaceId),
    responses(
        (status = 204, description = "Created."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        Exists,
        CoreCall,
    )
)]
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

#[utoipa::path(
    delete,
    path = "/namespaces/{NamespaceID}",
    operation_id = "deleteNamespace",
    tag = "namespaces",
    params(NamespaceId),
    responses(
        (status = 204, description = "Deleted, with its users and keys."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
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
