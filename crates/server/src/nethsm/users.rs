//! `/users` and `/users/{UserID}/...`: user management. Permission rules live in the core
//! (`strongroom_core::users`); the extractors here check the route's role first.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strongroom_core::users::NewUserId;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Admin, AdminOrOperator, Caller, NetHsmJson, NetHsmPath};
use super::openapi::{
    AnswersJson, Authenticated, CoreCall, Exists, Gated, Item, JsonBody, PutJsonBody,
};
use super::openapi_params::{Tag, UserId};
use super::wire::{CreateResourceId, UserData, UserItem, UserPassphrasePostData, UserPostData};
use crate::app::AppState;

#[utoipa::path(
    get,
    path = "/users",
    operation_id = "listUsers",
    tag = "users",
    responses(
        (status = 200, description = "The users of the caller's namespace.",
            body = Vec<UserItem>),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn users_get(
    State(s): State<AppState>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<NetHsmJson<Vec<UserItem>>, NetHsmError> {
    let ids = s
        .run(move |core| core.operational(&who)?.users().list())
        .await?;
    Ok(NetHsmJson(
        ids.into_iter().map(|user| UserItem { user }).collect(),
    ))
}

/// 201 with the new id in the body and in `Location`.
fn created(id: String) -> Response {
    let location = format!("/api/v1/users/{id}");
    let mut response = (StatusCode::CREATED, NetHsmJson(CreateResourceId { id })).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

async fn create(
    s: AppState,
    who: strongroom_core::identity::Principal,
    id: OwnedNewUserId,
    req: UserPostData,
) -> Result<String, NetHsmError> {
    Ok(s.run(move |core| {
        let id = match &id {
            OwnedNewUserId::Generate(ns) => NewUserId::Generate {
                namespace: ns.as_deref(),
            },
            OwnedNewUserId::Given(id) => NewUserId::Given(id),
        };
        core.operational(&who)?
            .users()
            .create(id, &req.real_name, req.role.into(), &req.passphrase)
    })
    .await?)
}

/// [`NewUserId`] that can move to the blocking pool.
enum OwnedNewUserId {
    Generate(Option<String>),
    Given(String),
}

/// `POST /users`: a generated id in the caller's namespace.
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "createUser",
    tag = "users",
    request_body = UserPostData,
    responses(
        (status = 201, description = "Created; the id is also in `Location`.",
            body = CreateResourceId,
            headers(("location" = String, description = "`/api/v1/users/{id}`."))),
        Gated,
        Authenticated,
        JsonBody,
        CoreCall,
    )
)]
pub async fn users_post(
    State(s): State<AppState>,
    Caller(who, _): Admin,
    NetHsmJson(req): NetHsmJson<UserPostData>,
) -> Result<Response, NetHsmError> {
    let ns = who.namespace.clone();
    Ok(created(
        create(s, who, OwnedNewUserId::Generate(ns), req).await?,
    ))
}

/// `POST /users/{namespace}~`: a generated id in that namespace.
#[utoipa::path(
    post,
    path = "/users/{UserID}",
    operation_id = "createNamespacedUser",
    tag = "users",
    params(UserId),
    request_body = UserPostData,
    responses(
        (status = 201, description = "Created; the id is also in `Location`.",
            body = CreateResourceId,
            headers(("location" = String, description = "`/api/v1/users/{id}`."))),
        Gated,
        Authenticated,
        JsonBody,
        CoreCall,
    )
)]
pub async fn user_post(
    State(s): State<AppState>,
    NetHsmPath(prefix): NetHsmPath<String>,
    Caller(who, _): Admin,
    NetHsmJson(req): NetHsmJson<UserPostData>,
) -> Result<Response, NetHsmError> {
    let Some(ns) = prefix
        .strip_suffix('~')
        .filter(|ns| !ns.is_empty() && !ns.contains('~'))
    else {
        return Err(NetHsmError::new(
            StatusCode::BAD_REQUEST,
            "POST /users/{UserID} takes a namespace prefix ending in ~, e.g. /users/namespace1~.",
        ));
    };
    let ns = ns.to_owned();
    Ok(created(
        create(s, who, OwnedNewUserId::Generate(Some(ns)), req).await?,
    ))
}

/// `PUT /users/{UserID}`: that exact id.
#[utoipa::path(
    put,
    path = "/users/{UserID}",
    operation_id = "createUserWithId",
    tag = "users",
    params(UserId),
    request_body = UserPostData,
    responses(
        (status = 201, description = "Created; the id is also in `Location`.",
            body = CreateResourceId,
            headers(("location" = String, description = "`/api/v1/users/{id}`."))),
        Gated,
        Authenticated,
        PutJsonBody,
        Exists,
        CoreCall,
    )
)]
pub async fn user_put(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    NetHsmJson(req): NetHsmJson<UserPostData>,
) -> Result<Response, NetHsmError> {
    let id = create(s, who, OwnedNewUserId::Given(id), req).await?;
    Ok(created(id))
}

#[utoipa::path(
    get,
    path = "/users/{UserID}",
    operation_id = "getUser",
    tag = "users",
    params(UserId),
    responses(
        (status = 200, description = "The user.", body = UserData),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn user_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    _: AcceptJson,
) -> Result<NetHsmJson<UserData>, NetHsmError> {
    let info = s
        .run(move |core| core.operational(&who)?.users().get(&id))
        .await?;
    Ok(NetHsmJson(UserData {
        real_name: info.real_name,
        role: info.role.into(),
    }))
}

#[utoipa::path(
    delete,
    path = "/users/{UserID}",
    operation_id = "deleteUser",
    tag = "users",
    params(UserId),
    responses(
        (status = 204, description = "Deleted."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn user_delete(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.users().delete(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/users/{UserID}/passphrase",
    operation_id = "setUserPassphrase",
    tag = "users",
    params(UserId),
    request_body = UserPassphrasePostData,
    responses(
        (status = 204, description = "Changed."),
        Gated,
        Authenticated,
        JsonBody,
        Item,
        CoreCall,
    )
)]
pub async fn user_passphrase_post(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    NetHsmJson(req): NetHsmJson<UserPassphrasePostData>,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| {
        core.operational(&who)?
            .users()
            .set_passphrase(&id, &req.passphrase)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/users/{UserID}/tags",
    operation_id = "getUserTags",
    tag = "users",
    params(UserId),
    responses(
        (status = 200, description = "The user's tags (an Operator's).", body = Vec<String>),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn user_tags_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    _: AcceptJson,
) -> Result<NetHsmJson<Vec<String>>, NetHsmError> {
    Ok(NetHsmJson(
        s.run(move |core| core.operational(&who)?.users().tags(&id))
            .await?,
    ))
}

/// 204 when added, 304 when the user already had the tag.
#[utoipa::path(
    put,
    path = "/users/{UserID}/tags/{Tag}",
    operation_id = "addUserTag",
    tag = "users",
    params(UserId, Tag),
    responses(
        (status = 204, description = "Added."),
        (status = 304, description = "The user had the tag."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn user_tag_put(
    State(s): State<AppState>,
    NetHsmPath((id, tag)): NetHsmPath<(String, String)>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let added = s
        .run(move |core| core.operational(&who)?.users().add_tag(&id, &tag))
        .await?;
    Ok(super::changed_or_not_modified(added))
}

#[utoipa::path(
    delete,
    path = "/users/{UserID}/tags/{Tag}",
    operation_id = "deleteUserTag",
    tag = "users",
    params(UserId, Tag),
    responses(
        (status = 204, description = "Removed."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn user_tag_delete(
    State(s): State<AppState>,
    NetHsmPath((id, tag)): NetHsmPath<(String, String)>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.users().remove_tag(&id, &tag))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
