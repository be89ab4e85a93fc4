//! Appliance errors: `ResponseError {error_code, message, op_id}` (op_id: the request id, as in
//! the audit trail and the log), except 401, which has an empty body as the spec says. Our
//! `error_code` values are stable and listed in `docs/errors.md`. The only place this face
//! chooses status codes.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::face::FaceError;
use crate::face::bare_errors;
use crate::face::body::BodyRefusal;
use crate::middleware::request_id;

#[derive(Debug)]
pub struct ApplianceError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The spec's `ResponseError`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ResponseError<'a> {
    error_code: &'a str,
    message: &'a str,
    op_id: String,
}

impl ApplianceError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "")
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }
}

impl From<strongroom_core::Error> for ApplianceError {
    fn from(e: strongroom_core::Error) -> Self {
        use strongroom_core::Error as E;
        match e {
            e @ (E::WrongState(strongroom_core::SystemState::Failed)
            | E::Store(strongroom_store::StoreError::Unavailable(_))) => {
                tracing::warn!(error = %e, "the cluster store is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "CLUSTER_STORE_UNAVAILABLE",
                    crate::face::CLUSTER_UNAVAILABLE,
                )
            }
            E::WrongState(state) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                format!(
                    "The appliance is {state}; provision or unlock it through the NetHSM API (/api/v1) first."
                ),
            ),
            E::InvalidInput(m) => Self::invalid_request(m),
            E::Unauthenticated => Self::unauthorized(),
            E::Forbidden => Self::new(StatusCode::FORBIDDEN, "ACCESS_DENIED", "Access denied."),
            E::WrongPassphrase(m) => Self::new(StatusCode::FORBIDDEN, "WRONG_PASSWORD", m),
            E::WrongUnlockPassphrase => Self::new(
                StatusCode::FORBIDDEN,
                "WRONG_PASSWORD",
                "The passphrase is incorrect.",
            ),
            E::PasswordPolicy(rule) => {
                Self::new(StatusCode::BAD_REQUEST, rule.code(), rule.message())
            }
            E::Passkey(e) => Self::invalid_request(e.to_string()),
            E::NotFound(m) => Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", m),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, "CONFLICT", m),
            E::Precondition(m) => Self::invalid_request(m),
            E::RateLimited => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many failed attempts; try again in a second.",
            ),
            E::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_BUSY",
                "Too many password checks at once; try again shortly.",
            ),
            e @ (E::Store(_) | E::Internal(_)) => {
                tracing::error!(error = %e, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "Internal server error; quote the op_id when reporting it.",
                )
            }
        }
    }
}

impl IntoResponse for ApplianceError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            // "401 with an empty body" (notes section 2).
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let op_id = request_id::current()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let body = ResponseError {
            error_code: self.code,
            message: &self.message,
            op_id,
        };
        (self.status, Json(body)).into_response()
    }
}

impl FaceError for ApplianceError {}

impl BodyRefusal for ApplianceError {
    fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    fn unreadable(detail: String) -> Self {
        Self::invalid_request(format!("Reading the request body failed: {detail}"))
    }
}

pub async fn not_found() -> ApplianceError {
    ApplianceError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such operation.")
}

/// Gives the router's own bodiless errors (405 with `Allow`, ...) the face's shape, keeping
/// their headers. A bodiless 401 is what the spec wants and stays as it is.
pub async fn render_bare_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let response = next.run(req).await;
    bare_errors::fill(response, |status| {
        let error = match status {
            // A bodiless 401 is what the spec wants.
            StatusCode::UNAUTHORIZED => return None,
            StatusCode::METHOD_NOT_ALLOWED => ApplianceError::new(
                status,
                "METHOD_NOT_ALLOWED",
                format!("{method} is not allowed on this path."),
            ),
            _ => ApplianceError::new(
                status,
                "REQUEST_FAILED",
                status.canonical_reason().unwrap_or("Request failed."),
            ),
        };
        Some(error.into_response())
    })
}
