//! `/appliance/settings/access/password`: the appliance password (seed 001).

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::wire::UpdatePasswordSpec;
use crate::app::AppState;
use crate::auth::{self, CurrentSecret, RequestOrigin};

/// `POST /appliance/settings/access/password` (operationId `updateAppliancePassword`): the
/// session's own account changes; its other sessions end; the new password works at once on
/// every face. A wrong current password is rate limited like a failed login
/// ([`auth::check_current`]), after the new one's shape is checked.
#[utoipa::path(
    post,
    path = "/appliance/settings/access/password",
    operation_id = "updateAppliancePassword",
    tag = "settings",
    request_body(content = UpdatePasswordSpec, content_type = "application/json"),
    responses(
        (status = 204, description = "The password is changed; the session's other sessions \
            are ended."),
        super::openapi::PasswordChange,
    )
)]
pub async fn update_appliance_password(
    State(s): State<AppState>,
    session: DrSession,
    origin: RequestOrigin,
    ApplianceJson(spec): ApplianceJson<UpdatePasswordSpec>,
) -> Result<StatusCode, ApplianceError> {
    strongroom_core::password_policy::check_shape(spec.new_password.expose())
        .map_err(strongroom_core::Error::PasswordPolicy)?;
    let user = session.principal.user_id.clone();
    auth::check_current(&s, &origin, CurrentSecret::Password(&user), move |core| {
        core.operational(&session.principal)?
            .users()
            .change_own_password(Some(&session.token), &spec.password, &spec.new_password)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
