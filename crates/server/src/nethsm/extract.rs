//! NetHSM extractors. Their order in a handler's signature is the order of the checks:
//! the caller (401, 403) first, then the body (415, 413, 406, 400) or, for bodiless
//! requests, [`AcceptJson`] (406).

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use strongroom_core::identity::Principal;

use super::error::NetHsmError;
use crate::app::AppState;
use crate::auth;
use crate::http_util::{self, BodyError};

/// The largest request body this face reads (the original's limit; sign, decrypt and
/// encrypt will raise it).
pub const BODY_LIMIT: usize = 1024 * 1024;

const JSON: &str = "application/json";

/// A role rule a route requires; checked right after authentication, so a caller of the
/// wrong role gets 403 before anything about the body is looked at.
pub trait RoleRule {
    fn check(principal: &Principal) -> strongroom_core::Result<()>;
}

/// An authenticated caller that passed the rule `R`. The required role shows in each
/// handler's signature through the aliases below.
pub struct Caller<R>(pub Principal, pub PhantomData<R>);

impl<R: RoleRule> FromRequestParts<AppState> for Caller<R> {
    type Rejection = NetHsmError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = auth::authenticate_basic(state, parts).await?;
        R::check(&principal)?;
        Ok(Caller(principal, PhantomData))
    }
}

/// The role rules of nethsm-api.yaml's `x-annotation-role` (exact roles).
pub mod rule {
    use strongroom_core::identity::{Principal, Role};

    pub struct RootAdministrator;
    impl super::RoleRule for RootAdministrator {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_root_admin()
        }
    }

    pub struct Administrator;
    impl super::RoleRule for Administrator {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_role(Role::Administrator)
        }
    }

    pub struct AdministratorOrOperator;
    impl super::RoleRule for AdministratorOrOperator {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_role(Role::Administrator)
                .or_else(|_| p.require_role(Role::Operator))
        }
    }

    pub struct Metrics;
    impl super::RoleRule for Metrics {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_role(Role::Metrics)
        }
    }

    pub struct Operator;
    impl super::RoleRule for Operator {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_role(Role::Operator)
        }
    }

    /// Backups are of the whole appliance: a Backup user of the root namespace.
    pub struct RootBackup;
    impl super::RoleRule for RootBackup {
        fn check(p: &Principal) -> strongroom_core::Result<()> {
            p.require_role(Role::Backup)?;
            match p.namespace {
                None => Ok(()),
                Some(_) => Err(strongroom_core::Error::Forbidden),
            }
        }
    }
}

/// An Administrator of the root namespace (`/config/*`, `/system/*`, `/lock`, `/namespaces`).
pub type RootAdmin = Caller<rule::RootAdministrator>;
/// An Administrator of any namespace.
pub type Admin = Caller<rule::Administrator>;
pub type AdminOrOperator = Caller<rule::AdministratorOrOperator>;
pub type MetricsUser = Caller<rule::Metrics>;
pub type OperatorUser = Caller<rule::Operator>;
pub type BackupUser = Caller<rule::RootBackup>;

/// Path parameters, with rejections in the face's error shape.
pub struct NetHsmPath<T>(pub T);

impl<T, S> FromRequestParts<S> for NetHsmPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = NetHsmError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(NetHsmPath(v)),
            Err(e) => Err(NetHsmError::new(StatusCode::BAD_REQUEST, e.body_text())),
        }
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
        check_accept_media(&parts.headers, "application/octet-stream")?;
        Ok(AcceptOctetStream)
    }
}

pub(crate) fn check_accept(headers: &axum::http::HeaderMap) -> Result<(), NetHsmError> {
    check_accept_media(headers, JSON)
}

fn check_accept_media(headers: &axum::http::HeaderMap, media: &str) -> Result<(), NetHsmError> {
    if http_util::accepts(headers, media) {
        Ok(())
    } else {
        Err(NetHsmError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Content type in Accept header not supported.",
        ))
    }
}

/// A JSON request body of the spec's exact shape (unknown fields refused by the wire types),
/// and a JSON response.
pub struct NetHsmJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for NetHsmJson<T> {
    type Rejection = NetHsmError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        // The original checks the media type of PUT bodies only; a missing one counts as
        // application/octet-stream.
        if parts.method == Method::PUT
            && http_util::content_type(&parts.headers).as_deref() != Some(JSON)
        {
            return Err(NetHsmError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content type not supported; use application/json.",
            ));
        }
        let bytes = http_util::read_body(&parts.headers, body, BODY_LIMIT)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => NetHsmError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Request body is larger than {BODY_LIMIT} bytes."),
                ),
                BodyError::Read(m) => NetHsmError::new(
                    StatusCode::BAD_REQUEST,
                    format!("Reading the request body failed: {m}"),
                ),
            })?;
        check_accept(&parts.headers)?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            NetHsmError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "Malformed request body: {}",
                    http_util::json_error_message(&e)
                ),
            )
        })?;
        Ok(NetHsmJson(value))
    }
}

impl<T: serde::Serialize> IntoResponse for NetHsmJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
