//! NetHSM extractors. Their order in a handler's signature is the order of the checks:
//! the caller (401, 403) first, then the body (415, 413, 406, 400) or, for bodiless
//! requests, [`AcceptJson`] (406). The checks themselves are the shared plumbing's
//! ([`crate::face`]); here are this face's names for them.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::NetHsmError;
use crate::face::json::{self, JSON};
use crate::face::rule;

pub use crate::face::Caller;

/// The largest request body this face reads (the original's limit; sign, decrypt and
/// encrypt will raise it).
pub const BODY_LIMIT: usize = 1024 * 1024;

// The role rules of nethsm-api.yaml's `x-annotation-role` (exact roles).

/// An Administrator of the root namespace (`/config/*`, `/system/*`, `/lock`, `/namespaces`).
pub type RootAdmin = Caller<rule::RootAdministrator, NetHsmError>;
/// An Administrator of any namespace.
pub type Admin = Caller<rule::Administrator, NetHsmError>;
pub type AdminOrOperator = Caller<rule::AdministratorOrOperator, NetHsmError>;
pub type MetricsUser = Caller<rule::Metrics, NetHsmError>;
pub type OperatorUser = Caller<rule::Operator, NetHsmError>;
/// Backups are of the whole appliance: a Backup user of the root namespace.
pub type BackupUser = Caller<rule::RootBackup, NetHsmError>;

/// Path parameters, with rejections in the face's error shape.
pub struct NetHsmPath<T>(pub T);

impl<T, S> FromRequestParts<S> for NetHsmPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = NetHsmError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        json::path_params(parts, state).await.map(NetHsmPath)
    }
}

/// Refuses (406) a request whose `Accept` excludes `application/json`.
pub struct AcceptJson;

impl<S: Send + Sync> FromRequestParts<S> for AcceptJson {
    type Rejection = NetHsmError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        check_accept(&parts.headers)?;
        Ok(AcceptJson)
    }
}

/// Refuses (406) a request whose `Accept` excludes `application/octet-stream` (backups).
pub struct AcceptOctetStream;

impl<S: Send + Sync> FromRequestParts<S> for AcceptOctetStream {
    type Rejection = NetHsmError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        json::require_accept::<NetHsmError>(&parts.headers, "application/octet-stream")?;
        Ok(AcceptOctetStream)
    }
}

/// 406 unless `Accept` allows a JSON answer.
pub(crate) fn check_accept(headers: &HeaderMap) -> Result<(), NetHsmError> {
    json::require_accept(headers, JSON)
}

/// A JSON request body of the spec's exact shape (unknown fields refused by the wire types),
/// and a JSON response.
pub struct NetHsmJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for NetHsmJson<T> {
    type Rejection = NetHsmError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        json::read_body(req, BODY_LIMIT).await.map(NetHsmJson)
    }
}

impl<T: serde::Serialize> IntoResponse for NetHsmJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
