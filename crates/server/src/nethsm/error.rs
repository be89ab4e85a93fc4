//! NetHSM errors: `{"message": "..."}` with `application/json`, the status the spec gives,
//! and `WWW-Authenticate` on 401 ([`crate::face::json`]). The only place this face chooses
//! error status codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::face::FaceError;
use crate::face::json::{self, MessageError};

#[derive(Debug)]
pub struct NetHsmError {
    pub status: StatusCode,
    pub message: String,
}

impl NetHsmError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<strongroom_core::Error> for NetHsmError {
    fn from(e: strongroom_core::Error) -> Self {
        use strongroom_core::Error as E;
        match e {
            E::WrongState(_) => Self::new(StatusCode::PRECONDITION_FAILED, "Service not available"),
            E::InvalidInput(m) => Self::new(StatusCode::BAD_REQUEST, m),
            E::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, "Authentication required."),
            E::Forbidden => Self::new(StatusCode::FORBIDDEN, "Access denied."),
            E::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            E::Precondition(m) => Self::new(StatusCode::PRECONDITION_FAILED, m),
            E::WrongPassphrase(m) => Self::new(StatusCode::FORBIDDEN, m),
            E::PasswordPolicy(rule) => Self::new(StatusCode::BAD_REQUEST, rule.message()),
            E::Passkey(e) => Self::new(StatusCode::BAD_REQUEST, e.to_string()),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            E::RateLimited => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts; try again in a second.",
            ),
            E::WrongUnlockPassphrase => Self::new(
                StatusCode::FORBIDDEN,
                "Unlock failed: the passphrase is incorrect.",
            ),
            E::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many password checks at once; try again shortly.",
            ),
            e @ (E::Store(_) | E::Internal(_)) => {
                // The cause goes to the log (inside the request span, with its id); the client
                // sees only the request id, in the x-request-id header.
                tracing::error!(error = %e, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

impl IntoResponse for NetHsmError {
    fn into_response(self) -> Response {
        json::error_response(self.status, &self.message)
    }
}

impl FaceError for NetHsmError {}

impl MessageError for NetHsmError {
    fn with_message(status: StatusCode, message: String) -> Self {
        Self::new(status, message)
    }
}

/// Unknown paths under `/api/v1`.
pub async fn not_found() -> NetHsmError {
    NetHsmError::new(StatusCode::NOT_FOUND, "Resource not found.")
}
