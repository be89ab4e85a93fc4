//! `/system/update`, `/system/commit-update`, `/system/cancel-update`. Strongroom is updated by
//! its host's package manager (`strongroom_core::appliance::updates`), so an uploaded image is
//! refused (400, the spec's "update malformed") and there is never an update to commit or
//! cancel (412, the spec's "update image is not present").

use axum::extract::{Request, State};
use axum::http::StatusCode;
use strongroom_core::appliance::updates::UpdateSource;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, RootAdmin, check_accept};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated};
use super::openapi_admin::{NoUpdateStaged, UpdateUpload};
use crate::app::AppState;
use crate::http_util;

/// The update image's media type in the spec; a missing Content-Type counts as it, as for
/// every other body of this face.
const OCTET_STREAM: &str = "application/octet-stream";

async fn update_source(
    s: &AppState,
    who: strongroom_core::identity::Principal,
) -> Result<UpdateSource, NetHsmError> {
    Ok(
        s.run(move |core| core.operational(&who)?.appliance().update_source())
            .await?,
    )
}

/// `POST /system/update`. The image is not read: whatever it holds, it is not installed here
/// (what the client still sends is discarded, boundedly, by `middleware::drain`).
#[utoipa::path(
    post,
    path = "/system/update",
    operation_id = "uploadUpdate",
    tag = "system",
    summary = "Upload an update image (refused here).",
    description = "Never installs an image: this server is updated by its host's package \
                   manager, so every upload is refused (400, the message says where updates \
                   come from) and the spec's 200 is never answered. The image is not read.",
    request_body(content = String, content_type = "application/octet-stream"),
    responses(
        Gated,
        Authenticated,
        UpdateUpload,
        CoreCall,
    )
)]
pub async fn system_update_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    req: Request,
) -> Result<StatusCode, NetHsmError> {
    let headers = req.headers();
    let media = http_util::content_type(headers).unwrap_or_else(|| OCTET_STREAM.to_owned());
    if media != OCTET_STREAM {
        return Err(NetHsmError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type not supported; use application/octet-stream.",
        ));
    }
    check_accept(headers)?;
    let source = update_source(&s, who).await?;
    Err(NetHsmError::new(StatusCode::BAD_REQUEST, source.message()))
}

/// `POST /system/commit-update`: nothing was staged to commit.
#[utoipa::path(
    post,
    path = "/system/commit-update",
    operation_id = "commitUpdate",
    tag = "system",
    summary = "Commit a staged update (none is ever staged here).",
    description = "No update is ever staged here (see `POST /system/update`): always 412.",
    responses(NoUpdateStaged, Authenticated, AnswersJson, CoreCall,)
)]
pub async fn system_commit_update_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let source = update_source(&s, who).await?;
    Err(NetHsmError::new(
        StatusCode::PRECONDITION_FAILED,
        source.nothing_pending(),
    ))
}

/// `POST /system/cancel-update`: nothing was staged to cancel.
#[utoipa::path(
    post,
    path = "/system/cancel-update",
    operation_id = "cancelUpdate",
    tag = "system",
    summary = "Cancel a staged update (none is ever staged here).",
    description = "No update is ever staged here (see `POST /system/update`): always 412.",
    responses(NoUpdateStaged, Authenticated, AnswersJson, CoreCall,)
)]
pub async fn system_cancel_update_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let source = update_source(&s, who).await?;
    Err(NetHsmError::new(
        StatusCode::PRECONDITION_FAILED,
        source.nothing_pending(),
    ))
}
