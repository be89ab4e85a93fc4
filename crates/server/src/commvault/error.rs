//! Backup-client errors: `{"errorCode": N, "errorMessage": "..."}` in JSON, or
//! `<CVGui_GenericResp errorCode="N" errorMessage="..."/>` in XML, as `Accept` asks. Our codes
//! are stable and listed in `docs/errors.md`. (Passkey operations answer in their own
//! `App_SetPasskeyResponse` shape; `Login` and `RenewLoginToken` in their own, below.)

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use strongroom_core::passkeys::PasskeyError;
use utoipa::ToSchema;

use super::wire::{Format, Reply};
use crate::face::FaceError;
use crate::face::bare_errors;
use crate::face::body::BodyRefusal;
use crate::xml::Element;

pub const TOKEN_INVALID: i64 = 587204620;
pub const LOGIN_FAILED: i64 = 587204621;
pub const TOO_MANY_REQUESTS: i64 = 587204622;
pub const UNAVAILABLE: i64 = 587204623;
pub const NOT_FOUND: i64 = 587204624;
pub const BAD_REQUEST: i64 = 587204625;
pub const TOO_LARGE: i64 = 587204626;
pub const INTERNAL: i64 = 587204628;
pub const CONFLICT: i64 = 587204629;
pub const BUSY: i64 = 587204630;
/// The backup-client service was stopped by an administrator (`crate::services`).
pub const SERVICE_STOPPED: i64 = 587204631;
/// Cluster mode: the cluster store (etcd) is unavailable, or this node is Failed.
pub const CLUSTER_UNAVAILABLE: i64 = 587204632;

/// The stable code and message this face gives each passkey failure (`docs/errors.md`).
pub fn passkey_failure(e: PasskeyError) -> (i64, &'static str) {
    match e {
        PasskeyError::Privileges => (
            587204594,
            "You do not have sufficient privileges for this operation",
        ),
        PasskeyError::UnknownClient => (587204601, "Client not found"),
        PasskeyError::UnknownCompany => (587204602, "Company not found"),
        PasskeyError::UnknownOpType => (
            587204603,
            "Unknown passkeyOpType; use 1 (CREATE), 2 (EDIT) or 3 (DISABLE)",
        ),
        PasskeyError::NotBase64 => (
            587204604,
            "Passkeys in JSON requests must be base64-encoded",
        ),
        PasskeyError::Malformed => (587204605, "The request is not a valid passkey request"),
        PasskeyError::ConfirmMismatch => {
            (587204606, "The passkey and its confirmation do not match")
        }
        PasskeyError::WrongPasskey => (587204607, "The passkey is incorrect"),
        PasskeyError::AlreadySet => (587204608, "A passkey is already set; modify it instead"),
        PasskeyError::NotSet => (587204609, "No passkey is set"),
        PasskeyError::TooWeak => (
            587204610,
            "The passkey is too weak: it needs at least 8 characters, at most 256 bytes, and no control characters",
        ),
        PasskeyError::UsersMayNotEnable => (
            587204611,
            "Users are not allowed to enable a passkey on this CommCell; ask an administrator",
        ),
        PasskeyError::RateLimited => (
            587204612,
            "Too many wrong passkeys; wait before trying again",
        ),
    }
}

/// The JSON form of an error (`CVGui_GenericResp` in XML).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenericResponse {
    /// The stable code of the failure (docs/errors.md).
    pub error_code: i64,
    pub error_message: String,
}

/// The detail of a failed `Login` or `RenewLoginToken`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub err_log_message: String,
    /// The stable code of the failure (docs/errors.md).
    pub error_code: i64,
}

/// A failed `Login` (`DM2ContentIndexing_CheckCredentialResp` with an `errList` in XML).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginFailure {
    pub err_list: Vec<ErrorDetail>,
}

/// A failed `RenewLoginToken` (`DM2ContentIndexing_RenewLoginTokenResp` with an `error` in
/// XML).
#[derive(Serialize, ToSchema)]
pub struct RenewFailure {
    pub error: ErrorDetail,
}

#[derive(Debug)]
pub struct CommvaultError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub format: Format,
}

impl CommvaultError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            format: Format::Json,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, BAD_REQUEST, message)
    }

    /// Renders in this format instead of JSON.
    pub fn in_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn from_core(e: strongroom_core::Error, format: Format) -> Self {
        Self::from(e).in_format(format)
    }
}

impl From<strongroom_core::Error> for CommvaultError {
    fn from(e: strongroom_core::Error) -> Self {
        use strongroom_core::Error as E;
        match e {
            e @ (E::WrongState(strongroom_core::SystemState::Failed)
            | E::Store(strongroom_store::StoreError::Unavailable(_))) => {
                tracing::warn!(error = %e, "the cluster store is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    CLUSTER_UNAVAILABLE,
                    crate::face::CLUSTER_UNAVAILABLE,
                )
            }
            E::WrongState(state) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                format!(
                    "The appliance is {state}; provision or unlock it through the NetHSM API (/api/v1) first."
                ),
            ),
            E::InvalidInput(m) | E::Precondition(m) => Self::bad_request(m),
            E::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                TOKEN_INVALID,
                "The authentication token is missing, invalid or expired.",
            ),
            E::Forbidden => {
                let (code, message) = passkey_failure(PasskeyError::Privileges);
                Self::new(StatusCode::FORBIDDEN, code, message)
            }
            E::NotFound(m) => Self::new(StatusCode::NOT_FOUND, NOT_FOUND, m),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, CONFLICT, m),
            E::RateLimited => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                TOO_MANY_REQUESTS,
                "Too many failed attempts; try again in a second.",
            ),
            E::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                BUSY,
                "Too many password checks at once; try again shortly.",
            ),
            E::Passkey(p) => {
                let (code, message) = passkey_failure(p);
                Self::new(StatusCode::OK, code, message)
            }
            E::WrongPassphrase(m) => Self::new(StatusCode::FORBIDDEN, LOGIN_FAILED, m),
            E::WrongUnlockPassphrase => {
                Self::new(StatusCode::FORBIDDEN, LOGIN_FAILED, "Access denied.")
            }
            E::PasswordPolicy(rule) => Self::bad_request(rule.message()),
            e @ (E::Store(_) | E::Internal(_)) => {
                tracing::error!(error = %e, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    INTERNAL,
                    "Internal server error; the request id is in the x-request-id header.",
                )
            }
        }
    }
}

impl IntoResponse for CommvaultError {
    fn into_response(self) -> Response {
        let xml = Element::new("CVGui_GenericResp")
            .attr("errorCode", self.code)
            .attr("errorMessage", &self.message);
        let json = GenericResponse {
            error_code: self.code,
            error_message: self.message,
        };
        Reply::typed(self.status, self.format, &json, xml).into_response()
    }
}

impl FaceError for CommvaultError {
    /// In the format `Accept` asks for; `Login` and `RenewLoginToken` answer in their own
    /// shapes.
    fn answer(self, request: &Parts) -> Response {
        let format = Format::of_accept(&request.headers);
        let route = request
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        match route {
            Some(r) if r.ends_with("/login") => login_failure(format, self),
            Some(r) if r.ends_with("/renewlogintoken") => renew_failure(format, self),
            _ => self.in_format(format).into_response(),
        }
    }
}

impl BodyRefusal for CommvaultError {
    fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            TOO_LARGE,
            format!("The request body is larger than {limit} bytes."),
        )
    }

    fn unreadable(detail: String) -> Self {
        Self::bad_request(format!("Reading the request body failed: {detail}"))
    }
}

/// A failed `Login`, in the `errList` shape clients read.
pub fn login_failure(f: Format, e: CommvaultError) -> Response {
    let (status, detail, xml) = failure(e, "DM2ContentIndexing_CheckCredentialResp", "errList");
    let json = LoginFailure {
        err_list: vec![detail],
    };
    Reply::typed(status, f, &json, xml).into_response()
}

/// A failed `RenewLoginToken`: `{"error": {"errLogMessage", "errorCode"}}`.
pub fn renew_failure(f: Format, e: CommvaultError) -> Response {
    let (status, error, xml) = failure(e, "DM2ContentIndexing_RenewLoginTokenResp", "error");
    Reply::typed(status, f, &RenewFailure { error }, xml).into_response()
}

/// A failure's status, its detail (`errLogMessage`, `errorCode`), and its XML: the detail as
/// an element `xml_field` of the response element `xml_root`.
fn failure(
    e: CommvaultError,
    xml_root: &str,
    xml_field: &str,
) -> (StatusCode, ErrorDetail, Element) {
    let xml = Element::new(xml_root).child(
        Element::new(xml_field)
            .attr("errLogMessage", &e.message)
            .attr("errorCode", e.code),
    );
    let detail = ErrorDetail {
        err_log_message: e.message,
        error_code: e.code,
    };
    (e.status, detail, xml)
}

pub async fn not_found(req: Request) -> CommvaultError {
    CommvaultError::new(StatusCode::NOT_FOUND, NOT_FOUND, "No such operation.")
        .in_format(Format::of_accept(req.headers()))
}

/// Gives the router's own bodiless errors (405, 413 ...) the face's shape, keeping headers.
pub async fn render_bare_errors(req: Request, next: Next) -> Response {
    let format = Format::of_accept(req.headers());
    let response = next.run(req).await;
    bare_errors::fill(response, |status| {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => TOO_LARGE,
            StatusCode::NOT_FOUND => NOT_FOUND,
            _ => BAD_REQUEST,
        };
        let reason = status.canonical_reason().unwrap_or("Request failed");
        Some(
            CommvaultError::new(status, code, reason)
                .in_format(format)
                .into_response(),
        )
    })
}

impl crate::services::StoppedRefusal for CommvaultError {
    fn service_stopped(service: &strongroom_core::appliance::services::ServiceSpec) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            SERVICE_STOPPED,
            crate::services::stopped_message(service),
        )
    }
}
