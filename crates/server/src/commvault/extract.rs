//! Backup-client extractors: the `Authtoken: QSDK <hex>` login token, the reply format, and
//! request bodies (JSON or XML) with rejections in the face's shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use strongroom_core::identity::Principal;
use strongroom_core::sessions::SessionKind;

use super::BODY_LIMIT;
use super::error::CommvaultError;
use super::wire::{self, Body, Format};
use crate::app::AppState;
use crate::face::body;
use crate::middleware::audit::AuditActor;

pub const TOKEN_PREFIX: &str = "QSDK ";

/// Tokens go out as `QSDK ` and the hex of the 32-byte token.
pub fn encode_token(token: &[u8]) -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(token))
}

/// The raw token of `QSDK <hex>` (the prefix is optional, as clients differ).
pub fn decode_token(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    let hex_part = value.strip_prefix(TOKEN_PREFIX).unwrap_or(value).trim();
    hex::decode(hex_part).ok().filter(|t| t.len() == 32)
}

/// The format the reply must be in.
pub struct Accept(pub Format);

impl<S: Send + Sync> FromRequestParts<S> for Accept {
    type Rejection = CommvaultError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Accept(Format::of_accept(&parts.headers)))
    }
}

/// A caller logged in on this face: a live token in `Authtoken`. Otherwise 401.
pub struct LoggedIn {
    pub principal: Principal,
    pub token: Vec<u8>,
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = CommvaultError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let format = Format::of_accept(&parts.headers);
        if !parts.headers.contains_key("authtoken")
            && let Some(console) = crate::console::session::cookie_principal(state, parts)
        {
            // The web console's session cookie (docs/console.md).
            let (principal, token) = console.map_err(|e| CommvaultError::from_core(e, format))?;
            return Ok(LoggedIn { principal, token });
        }
        let token = parts
            .headers
            .get("authtoken")
            .and_then(|v| v.to_str().ok())
            .and_then(decode_token)
            .ok_or_else(|| {
                CommvaultError::from_core(strongroom_core::Error::Unauthenticated, format)
            })?;
        let principal = state
            .core
            .session(SessionKind::BackupClient, &token)
            .map_err(|e| CommvaultError::from_core(e, format))?;
        if let Some(actor) = parts.extensions.get::<AuditActor>() {
            actor.authenticated(&principal.user_id);
        }
        Ok(LoggedIn { principal, token })
    }
}

/// A JSON or XML body, at most [`BODY_LIMIT`] bytes.
pub struct CvBody(pub Body);

impl<S: Send + Sync> FromRequest<S> for CvBody {
    type Rejection = CommvaultError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let format = Format::of_accept(&parts.headers);
        let bytes = body::read::<CommvaultError>(&parts.headers, body, BODY_LIMIT)
            .await
            .map_err(|e| e.in_format(format))?;
        wire::parse_body(&parts.headers, &bytes)
            .map(CvBody)
            .map_err(|m| CommvaultError::bad_request(m).in_format(format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = [0xab; 32];
        let s = encode_token(&t);
        assert!(s.starts_with("QSDK "));
        assert_eq!(decode_token(&s).unwrap(), t);
        assert_eq!(decode_token(&s[5..]).unwrap(), t);
        assert!(decode_token("QSDK nothex").is_none());
        assert!(decode_token("QSDK abcd").is_none());
    }
}
