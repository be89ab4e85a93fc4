//! Authentication shared by every face: credentials in, core [`Principal`] out.
//!
//! This is the one place a face turns a request's credentials into a caller; faces only
//! render the outcome in their own error shape.

use axum::http::{HeaderMap, header};
use base64::Engine;
use strongroom_core::identity::Principal;
use strongroom_core::secret::Passphrase;

use crate::app::AppState;

/// Credentials from an HTTP Basic `Authorization` header.
#[derive(Debug)]
pub struct BasicCredentials {
    pub user_id: String,
    pub passphrase: Passphrase,
}

/// Parses `Authorization: Basic base64(user:passphrase)`; `None` if absent or malformed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<BasicCredentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    );
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user_id, passphrase) = text.split_once(':')?;
    Some(BasicCredentials {
        user_id: user_id.to_owned(),
        passphrase: Passphrase::new(passphrase),
    })
}

/// Authenticates the request's HTTP Basic credentials against the identity store.
/// Missing or malformed credentials are `Unauthenticated`, like wrong ones.
#[tracing::instrument(skip_all)]
pub async fn authenticate_basic(
    state: &AppState,
    headers: &HeaderMap,
) -> strongroom_core::Result<Principal> {
    let creds = basic_credentials(headers).ok_or(strongroom_core::Error::Unauthenticated)?;
    state
        .run(move |core| core.authenticate(&creds.user_id, creds.passphrase.as_bytes()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn parses_basic() {
        // admin:pass:with:colons
        let c = basic_credentials(&header("Basic YWRtaW46cGFzczp3aXRoOmNvbG9ucw==")).unwrap();
        assert_eq!(c.user_id, "admin");
        assert_eq!(c.passphrase.expose(), "pass:with:colons");
        assert!(!format!("{c:?}").contains("colons"));
        assert!(basic_credentials(&header("Bearer abc")).is_none());
        assert!(basic_credentials(&header("Basic !!!")).is_none());
        assert!(basic_credentials(&header("Basic YWRtaW4=")).is_none()); // no colon
        assert!(basic_credentials(&HeaderMap::new()).is_none());
    }
}
