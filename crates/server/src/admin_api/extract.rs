//! Extractors of Strongroom's own API, in NetHSM's order of checks: the caller (401, 403)
//! first, then the body (415, 413, 406, 400) or, for bodiless requests, [`AcceptJson`] (406).
//! The checks are the shared plumbing's ([`crate::face`]); here are this face's names for
//! them.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::face::json::{self, JSON};
use crate::face::rule;

pub use crate::face::Caller;

/// The largest request body this face reads.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// An Administrator of the root namespace: the audit trail, the data key, backup clients.
pub type RootAdmin = Caller<rule::RootAdministrator, ApiError>;
pub type MetricsUser = Caller<rule::Metrics, ApiError>;
/// Who may ask the restore decision: a root Administrator, or a Backup user of the root
/// namespace (the account backup software uses).
pub type RootAdminOrBackup = Caller<rule::RootAdministratorOrRootBackup, ApiError>;

/// Path parameters, with rejections in the face's error shape.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        json::path_params(parts, state).await.map(ApiPath)
    }
}

/// Refuses (406) a request whose `Accept` excludes `application/json`.
pub struct AcceptJson;

impl<S: Send + Sync> FromRequestParts<S> for AcceptJson {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        json::require_accept::<ApiError>(&parts.headers, JSON)?;
        Ok(AcceptJson)
    }
}

/// A JSON request body of the exact shape of its type (unknown fields refused), and a JSON
/// response.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        json::read_body(req, BODY_LIMIT).await.map(ApiJson)
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
