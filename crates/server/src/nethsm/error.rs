//! NetHSM errors: `{"message": "..."}` with `application/json`, the status the spec gives,
//! and `WWW-Authenticate` on 401. The only place this face chooses error status codes.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http_util;

/// The `WWW-Authenticate` challenge of the original.
pub const REALM: &str = "Basic realm=\"NetHSM\"";

#[derive(Debug)]
pub struct NetHsmError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
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
        let mut response = (
            self.status,
            Json(ErrorBody {
                message: &self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        response
    }
}

/// Unknown paths under `/api/v1`.
pub async fn not_found() -> NetHsmError {
    NetHsmError::new(StatusCode::NOT_FOUND, "Resource not found.")
}

const KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// Gives the router's own bodiless errors (405 with `Allow`, and any other) the face's JSON
/// shape, keeping their headers; a method HTTP does not define is 501, as in the original.
pub async fn render_bare_errors(req: Request, next: Next) -> Response {
    let unknown_method = !KNOWN_METHODS.contains(req.method());
    let response = next.run(req).await;
    http_util::fill_bare_error(response, |status| {
        let error = if status == StatusCode::METHOD_NOT_ALLOWED && unknown_method {
            NetHsmError::new(StatusCode::NOT_IMPLEMENTED, "Method not implemented.")
        } else {
            let reason = status.canonical_reason().unwrap_or("Request failed");
            NetHsmError::new(status, format!("{reason}."))
        };
        Some(error.into_response())
    })
}
