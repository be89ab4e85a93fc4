//! The console's session: signing in with the identity store (the same authentication, rate
//! limit and core session table as the faces' logins), the cookie that carries it, the CSRF
//! checks, and [`cookie_principal`], the hook through which the faces' own extractors accept
//! that cookie.
//!
//! The cookie (`__Host-` prefixed: Secure, `Path=/`, no `Domain`) is HttpOnly and
//! SameSite=Strict. Every request it authenticates must also carry the session's CSRF token
//! in [`CSRF_HEADER`] (a header a cross-site form or link cannot set) and, when it changes
//! anything, an `Origin` of this server; the token is derived from the session token, so a
//! page that cannot read the cookie cannot make it. Sign-out ends the session in the core,
//! so the cookie is worthless afterwards even if it was kept.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use strongroom_core::identity::{Principal, Role};
use strongroom_core::secret::Passphrase;
use strongroom_core::sessions::SessionKind;
use strongroom_core::{Error, Result};

use crate::app::AppState;
use crate::auth::{self, RequestOrigin};
use crate::middleware::audit::AuditActor;

/// The session cookie's name. `__Host-` makes browsers accept it only when Secure, set by
/// this host, for `Path=/`: no other host or path can plant or shadow it.
pub const COOKIE: &str = "__Host-strongroom-console";
/// The header carrying the session's CSRF token on every cookie-authenticated request.
pub const CSRF_HEADER: &str = "x-strongroom-csrf";

/// The sign-in body is small.
const BODY_LIMIT: usize = 16 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The session token in the request's console cookie, if it has a well-formed one.
fn cookie_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| B64.decode(value.trim()).ok())
        .filter(|token| token.len() == 32)
}

/// The CSRF token of a session: a digest of its token, under a label of its own so it can
/// never be mistaken for the token.
fn csrf_token(token: &[u8]) -> String {
    let mut input = b"strongroom console csrf\0".to_vec();
    input.extend_from_slice(token);
    B64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &input,
    ))
}

/// Whether the request comes from a page of this server. `Sec-Fetch-Site`, when the browser
/// sends it, must say same-origin; `Origin`, when present, must be this server's HTTPS
/// origin; `require_origin` refuses a request without `Origin` (browsers send it on every
/// request that changes something).
fn same_origin(parts: &Parts, require_origin: bool) -> bool {
    let get = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if get("sec-fetch-site").is_some_and(|site| site != "same-origin") {
        return false;
    }
    let host = get("host").or_else(|| parts.uri.authority().map(|a| a.as_str()));
    match (get("origin"), host) {
        (Some(origin), Some(host)) => origin.eq_ignore_ascii_case(&format!("https://{host}")),
        (Some(_), None) => false,
        (None, _) => !require_origin,
    }
}

fn changes_something(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The principal of the request's console session, for the faces' extractors, which call it
/// only when the request has none of their own credentials. `None` without a console cookie
/// (the face then refuses as it always did); `Forbidden` when the request fails the CSRF
/// checks (a cross-site request, or one without the session's token); `Unauthenticated`
/// when the session has ended. On success the audit trail names the principal, as for a
/// login on the face. Returns the session token too (the appliance face keeps the session
/// that changes its own password).
pub fn cookie_principal(state: &AppState, parts: &Parts) -> Option<Result<(Principal, Vec<u8>)>> {
    let token = cookie_token(&parts.headers)?;
    Some(check_cookie(state, parts, token))
}

fn check_cookie(state: &AppState, parts: &Parts, token: Vec<u8>) -> Result<(Principal, Vec<u8>)> {
    if !same_origin(parts, changes_something(&parts.method)) {
        return Err(Error::Forbidden);
    }
    let expected = csrf_token(&token);
    let given = parts
        .headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if aws_lc_rs::constant_time::verify_slices_are_equal(given, expected.as_bytes()).is_err() {
        return Err(Error::Forbidden);
    }
    let principal = state.core.session(SessionKind::Console, &token)?;
    if let Some(actor) = parts.extensions.get::<AuditActor>() {
        actor.authenticated(&principal.user_id);
    }
    Ok((principal, token))
}

/// `POST /console/api/session`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignIn {
    user_id: String,
    passphrase: Passphrase,
}

/// Who is signed in, and the CSRF token their requests carry.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    user_id: String,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    csrf_token: String,
}

impl SessionInfo {
    fn new(principal: Principal, token: &[u8]) -> Self {
        Self {
            user_id: principal.user_id,
            role: principal.role,
            namespace: principal.namespace,
            csrf_token: csrf_token(token),
        }
    }
}

/// The console API's errors: `{"message"}`, as the NetHSM face and Strongroom's own API.
#[derive(Debug)]
pub struct ConsoleError(StatusCode, String);

impl From<Error> for ConsoleError {
    fn from(e: Error) -> Self {
        let (status, message) = match e {
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "Not signed in.".to_owned()),
            Error::Forbidden => (
                StatusCode::FORBIDDEN,
                "The request did not come from the console.".to_owned(),
            ),
            Error::RateLimited => (StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            Error::Busy => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            Error::WrongState(state) => (
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "The node is {}: sign-in needs it Operational.",
                    state.as_str()
                ),
            ),
            other => {
                tracing::error!(error = %other, "console session");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error.".to_owned(),
                )
            }
        };
        Self(status, message)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "message": self.1 }))).into_response()
    }
}

fn set_cookie(value: &str, max_age: Option<u32>) -> HeaderValue {
    let mut cookie = format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&cookie).expect("base64url and ASCII attributes")
}

/// `POST /console/api/session` `{"userId", "passphrase"}`: signs in. The passphrase is
/// checked as on every face (rate limit, Argon2 gate, cache); the session is the core's, so it
/// ends on the same events as the faces' (idle time, lock, password change, deletion).
pub async fn session_post(
    State(s): State<AppState>,
    req: Request,
) -> std::result::Result<Response, ConsoleError> {
    let (parts, body) = req.into_parts();
    if !same_origin(&parts, true) {
        return Err(Error::Forbidden.into());
    }
    let body = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ConsoleError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The body is too large.".to_owned(),
        )
    })?;
    let request: SignIn = serde_json::from_slice(&body).map_err(|_| {
        ConsoleError(
            StatusCode::BAD_REQUEST,
            "The body must be {\"userId\", \"passphrase\"}.".to_owned(),
        )
    })?;
    let principal = auth::authenticate(
        &s,
        &RequestOrigin::of(&parts),
        request.user_id,
        request.passphrase,
    )
    .await
    .map_err(|e| match e {
        Error::Unauthenticated => ConsoleError(
            StatusCode::UNAUTHORIZED,
            "Wrong user id or passphrase.".to_owned(),
        ),
        e => e.into(),
    })?;
    let token = s
        .core
        .open_session(SessionKind::Console, principal.clone())?;
    let info = SessionInfo::new(principal, &token.0);
    let mut response = Json(info).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&B64.encode(token.0), None));
    Ok(response)
}

/// `GET /console/api/session`: who is signed in (401 if nobody), with the CSRF token, so a
/// reloaded page carries on. Only a page of this origin can read the answer.
pub async fn session_get(
    State(s): State<AppState>,
    req: Request,
) -> std::result::Result<Json<SessionInfo>, ConsoleError> {
    let (parts, _) = req.into_parts();
    if !same_origin(&parts, false) {
        return Err(Error::Forbidden.into());
    }
    let token = cookie_token(&parts.headers).ok_or(Error::Unauthenticated)?;
    let principal = s.core.session(SessionKind::Console, &token)?;
    Ok(Json(SessionInfo::new(principal, &token)))
}

/// `DELETE /console/api/session`: signs out, ending the session in the core, and clears the
/// cookie.
pub async fn session_delete(
    State(s): State<AppState>,
    req: Request,
) -> std::result::Result<Response, ConsoleError> {
    let (parts, _) = req.into_parts();
    let (_, token) = cookie_principal(&s, &parts).ok_or(Error::Unauthenticated)??;
    s.core.close_session(SessionKind::Console, &token)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", Some(0)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)], method: Method) -> Parts {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri("/api/v1/lock");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn reads_only_its_own_well_formed_cookie() {
        let token = B64.encode([7u8; 32]);
        let p = parts(
            &[("cookie", &format!("a=b; {COOKIE}={token}; c=d"))],
            Method::GET,
        );
        assert_eq!(cookie_token(&p.headers), Some(vec![7u8; 32]));
        let p = parts(&[("cookie", &format!("{COOKIE}=short"))], Method::GET);
        assert_eq!(cookie_token(&p.headers), None);
        let p = parts(&[("cookie", &format!("x{COOKIE}={token}"))], Method::GET);
        assert_eq!(cookie_token(&p.headers), None);
    }

    #[test]
    fn origin_rules() {
        let host = ("host", "node.example:8443");
        let ours = ("origin", "https://node.example:8443");
        assert!(same_origin(&parts(&[host, ours], Method::POST), true));
        assert!(!same_origin(&parts(&[host], Method::POST), true));
        assert!(same_origin(&parts(&[host], Method::GET), false));
        let theirs = ("origin", "https://evil.example");
        assert!(!same_origin(&parts(&[host, theirs], Method::GET), false));
        let plain = ("origin", "http://node.example:8443");
        assert!(!same_origin(&parts(&[host, plain], Method::POST), true));
        let cross = ("sec-fetch-site", "cross-site");
        assert!(!same_origin(
            &parts(&[host, ours, cross], Method::POST),
            true
        ));
    }

    #[test]
    fn csrf_token_is_not_the_session_token() {
        let t = [9u8; 32];
        assert_ne!(csrf_token(&t), B64.encode(t));
        assert_ne!(csrf_token(&t), csrf_token(&[8u8; 32]));
    }
}
