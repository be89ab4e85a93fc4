//! Appliance extractors: HTTP Basic at login, the `x-dr-session` session, and JSON bodies with
//! rejections in the face's `ResponseError` shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use serde::de::DeserializeOwned;
use strongroom_core::identity::Principal;
use strongroom_core::sessions::SessionKind;

use super::error::ApplianceError;
use crate::app::AppState;
use crate::face::{Caller, body, rule};
use crate::http_util;
use crate::middleware::audit::AuditActor;

pub const SESSION_HEADER: &str = "x-dr-session";
const BODY_LIMIT: usize = 64 * 1024;

/// Logging in: HTTP Basic credentials of a root Administrator (the appliance's accounts).
pub type RootAdminLogin = Caller<rule::RootAdministrator, ApplianceError>;

/// Session ids go out as unpadded base64url of the 32-byte token.
pub fn encode_session_id(token: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
}

/// A live appliance session: missing, malformed, unknown, expired or ended is 401 (empty).
pub struct DrSession {
    pub principal: Principal,
    /// The raw token, to keep this session when the password changes.
    pub token: Vec<u8>,
}

impl FromRequestParts<AppState> for DrSession {
    type Rejection = ApplianceError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(SESSION_HEADER)
            && let Some(console) = crate::console::session::cookie_principal(state, parts)
        {
            // The web console's session cookie (docs/console.md), for the accounts this
            // face's login admits.
            let (principal, token) = console?;
            strongroom_core::access::Access::RootAdministrator.check(&principal)?;
            return Ok(DrSession { principal, token });
        }
        let token = parts
            .headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v.trim())
                    .ok()
            })
            .ok_or_else(ApplianceError::unauthorized)?;
        let principal = state.core.session(SessionKind::Appliance, &token)?;
        if let Some(actor) = parts.extensions.get::<AuditActor>() {
            actor.authenticated(&principal.user_id);
        }
        Ok(DrSession { principal, token })
    }
}

/// A JSON body (`application/json`, or no Content-Type at all), at most 64 KiB.
pub struct ApplianceJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApplianceJson<T> {
    type Rejection = ApplianceError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        match http_util::content_type(&parts.headers).as_deref() {
            None | Some("application/json") => {}
            Some(_) => {
                return Err(ApplianceError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "The request body must be application/json.",
                ));
            }
        }
        let bytes = body::read::<ApplianceError>(&parts.headers, body, BODY_LIMIT).await?;
        http_util::from_json_objects(&bytes)
            .map(ApplianceJson)
            .map_err(|e| {
                ApplianceError::invalid_request(format!(
                    "Invalid request body: {}",
                    http_util::json_error_message(&e)
                ))
            })
    }
}
