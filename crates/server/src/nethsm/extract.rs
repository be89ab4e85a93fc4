//! NetHSM extractors. Their order in a handler's signature is the order of the checks:
//! the caller (401, 403) first, then the body (415, 413, 406, 400) or, for bodiless
//! requests, [`AcceptJson`] (406). The checks themselves are the shared plumbing's
//! ([`crate::face`]); here are this face's names for them.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::NetHsmError;
use crate::face::json::{self, JSON};
use crate::face::rule;

pub use crate::face::Caller;
pub use crate::face::json::{AcceptJson, Json as NetHsmJson, Path as NetHsmPath};

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

/// Refuses (406) a request whose `Accept` excludes `application/x-pem-file` (`public.pem`).
pub struct AcceptPem;

impl<S: Send + Sync> FromRequestParts<S> for AcceptPem {
    type Rejection = NetHsmError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        json::require_accept::<NetHsmError>(&parts.headers, "application/x-pem-file")?;
        Ok(AcceptPem)
    }
}
