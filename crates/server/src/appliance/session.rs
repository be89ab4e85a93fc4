//! `/session`: log in with HTTP Basic credentials of a root Administrator, see who the session
//! is, log out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use strongroom_core::sessions::SessionKind;

use super::error::ApplianceError;
use super::extract::{DrSession, RootAdminLogin, encode_session_id};
use super::wire::{SessionIdData, SessionInfo};
use crate::app::AppState;
use crate::face::Caller;

/// `POST /session` (operationId `login`). Wrong credentials: 401; rate limited like every
/// face; an account that is not a root Administrator: 403.
#[utoipa::path(
    post,
    path = "/session",
    operation_id = "login",
    tag = "session",
    security(("basic" = [])),
    responses(
        (status = 200, description = "The new session's id.", body = SessionIdData),
        super::openapi::Login,
    )
)]
pub async fn login(
    State(s): State<AppState>,
    Caller(principal, _): RootAdminLogin,
) -> Result<Json<SessionIdData>, ApplianceError> {
    let token = s.core.open_session(SessionKind::Appliance, principal)?;
    Ok(Json(SessionIdData {
        session_id: encode_session_id(&token.0),
    }))
}

/// `GET /session` (operationId `getCurrentSession`).
#[utoipa::path(
    get,
    path = "/session",
    operation_id = "getCurrentSession",
    tag = "session",
    responses(
        (status = 200, description = "Whose session it is.", body = SessionInfo),
        super::openapi::Session,
    )
)]
pub async fn get_current_session(session: DrSession) -> Json<SessionInfo> {
    Json(SessionInfo {
        username: session.principal.user_id,
    })
}

/// `DELETE /session` (operationId `logout`).
#[utoipa::path(
    delete,
    path = "/session",
    operation_id = "logout",
    tag = "session",
    responses(
        (status = 204, description = "The session is ended."),
        super::openapi::Session,
    )
)]
pub async fn logout(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<StatusCode, ApplianceError> {
    s.core
        .close_session(SessionKind::Appliance, &session.token)?;
    Ok(StatusCode::NO_CONTENT)
}
