//! The service root, `Login`, `RenewLoginToken`, `Logout`, `WhoAmI`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use strongroom_core::secret::Passphrase;
use strongroom_core::sessions::SessionKind;

use super::error::{
    CommvaultError, LOGIN_FAILED, LoginFailure, RenewFailure, login_failure, renew_failure,
};
use super::extract::{Accept, CvBody, LoggedIn, decode_token, encode_token};
use super::wire::{Body, Reply};
use crate::app::AppState;
use crate::auth::{self, RequestOrigin};
use crate::xml::Element;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// What answers at the root (`<Strongroom service=".."/>` in XML).
#[derive(Serialize, ToSchema)]
pub struct ServiceInfo {
    service: &'static str,
    /// This server's version.
    version: &'static str,
}

/// `GET` on the root answers 200: clients check it before logging in.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "getServiceRoot",
    tag = "login",
    security(()),
    responses(
        (status = 200, description = "The service answers (clients check this before logging \
            in).", body = ServiceInfo),
        super::openapi::Stopped,
    )
)]
pub async fn root_get(Accept(f): Accept) -> Reply {
    let info = ServiceInfo {
        service: "Strongroom backup-client web service",
        version: env!("CARGO_PKG_VERSION"),
    };
    Reply::ok(
        f,
        &info,
        Element::new("Strongroom").attr("service", "backup-client web service"),
    )
}

/// A `Login` request, as [`credentials`] reads it (other members, such as `mode` and
/// `deviceId`, are ignored). In XML, `<DM2ContentIndexing_CheckCredentialReq username
/// password/>`.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// A user of the identity store.
    username: String,
    /// The user's passphrase, base64-encoded.
    #[schema(value_type = String, content_encoding = "base64")]
    password: Zeroizing<String>,
}

/// A logged-in user's token (`DM2ContentIndexing_CheckCredentialResp` in XML, without
/// `isAccountLocked`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    alias_name: String,
    user_name: String,
    /// `QSDK <hex>`: send it as the `Authtoken` header.
    token: String,
    login_attempts: u32,
    remaining_lock_time: u32,
    is_account_locked: bool,
}

/// The login request of a body, JSON or XML, or `None` if it is not one. The password is
/// copied into a buffer wiped when dropped, and the whole body is wiped: nothing of the
/// password stays in the parsed body, which is dropped unwiped otherwise.
fn login_request(body: &mut Body) -> Option<LoginRequest> {
    let request = match &*body {
        // serde would read an array as the struct's members in order: only an object is one.
        Body::Json(v) if v.is_object() => LoginRequest::deserialize(v).ok(),
        Body::Json(_) => None,
        Body::Xml(el) if el.name == "DM2ContentIndexing_CheckCredentialReq" => (el.get("username"))
            .zip(el.get("password"))
            .map(|(username, password)| LoginRequest {
                username: username.to_owned(),
                password: Zeroizing::new(password.to_owned()),
            }),
        Body::Xml(_) => None,
    };
    body.wipe();
    request
}

/// The user name and (base64) password of a login request, JSON or XML.
fn credentials(body: &mut Body) -> Option<(String, Passphrase)> {
    // Read (and the body wiped) first, whatever else is wrong with the request.
    let LoginRequest { username, password } = login_request(body)?;
    let raw = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(password.trim())
            .ok()?,
    );
    let password = std::str::from_utf8(&raw).ok()?;
    Some((username, Passphrase::new(password)))
}

/// `POST Login`: JSON `{"username", "password" (base64), ...}` or XML
/// `<DM2ContentIndexing_CheckCredentialReq username password/>`. Any user of the identity
/// store may log in; failures share the rate limit of every face.
#[utoipa::path(
    post,
    path = "/Login",
    operation_id = "login",
    tag = "login",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in: the token.", body = LoginResponse),
        (status = 400, description = "A body that does not parse, or without a username or \
            a base64 password.", body = LoginFailure),
        (status = 401, description = "Wrong credentials.", body = LoginFailure),
        (status = 413, description = "The body is larger than 1 MiB.", body = LoginFailure),
        (status = 429, description = "Too many failed logins from this address (on any face); \
            try again in a second.", body = LoginFailure),
        (status = 503, description = "The node is not Operational, the cluster store is \
            unavailable, too many password checks run at once, or this face's service is \
            stopped.", body = LoginFailure),
        (status = 500, description = "The server failed (the cause is in its log).",
            body = LoginFailure),
    )
)]
pub async fn login_post(
    State(s): State<AppState>,
    Accept(f): Accept,
    origin: RequestOrigin,
    body: Result<CvBody, CommvaultError>,
) -> Response {
    // A body refused before it is read answers in this operation's shape too.
    let mut body = match body {
        Ok(CvBody(body)) => body,
        Err(e) => return login_failure(f, e),
    };
    let Some((user, password)) = credentials(&mut body) else {
        return login_failure(
            f,
            CommvaultError::bad_request("A login needs username and a base64 password."),
        );
    };
    let principal = match auth::authenticate(&s, &origin, user, password).await {
        Ok(p) => p,
        Err(strongroom_core::Error::Unauthenticated) => {
            return login_failure(
                f,
                CommvaultError::new(
                    StatusCode::UNAUTHORIZED,
                    LOGIN_FAILED,
                    "Invalid username or password.",
                ),
            );
        }
        Err(e) => return login_failure(f, CommvaultError::from(e)),
    };
    let token = match s
        .core
        .open_session(SessionKind::BackupClient, principal.clone())
    {
        Ok(t) => encode_token(&t.0),
        Err(e) => return login_failure(f, CommvaultError::from(e)),
    };
    let user = principal.user_id;
    let xml = Element::new("DM2ContentIndexing_CheckCredentialResp")
        .attr("aliasName", &user)
        .attr("userName", &user)
        .attr("token", &token)
        .attr("loginAttempts", 0)
        .attr("remainingLockTime", 0);
    let json = LoginResponse {
        alias_name: user.clone(),
        user_name: user,
        token,
        login_attempts: 0,
        remaining_lock_time: 0,
        is_account_locked: false,
    };
    Reply::ok(f, &json, xml).into_response()
}

/// A `RenewLoginToken` request (the same attribute in XML).
#[derive(Deserialize, ToSchema)]
pub struct RenewRequest {
    /// The live token, `QSDK <hex>` (the prefix may be left out); without it, the
    /// `Authtoken` header's.
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

/// A renewed token (`DM2ContentIndexing_RenewLoginTokenResp` in XML).
#[derive(Serialize, ToSchema)]
pub struct RenewResponse {
    /// `QSDK <hex>`: the old token has ended.
    token: String,
}

/// `POST RenewLoginToken` `{"sessionId": "QSDK ..."}` (or the `Authtoken` header): a new token
/// for a live one, which ends.
#[utoipa::path(
    post,
    path = "/RenewLoginToken",
    operation_id = "renewLoginToken",
    tag = "login",
    request_body = RenewRequest,
    responses(
        (status = 200, description = "The new token; the old one has ended.",
            body = RenewResponse),
        (status = 400, description = "A body that does not parse, is not an object or whose \
            sessionId is not a string.", body = RenewFailure),
        (status = 401, description = "No token, or an unknown or ended one.",
            body = RenewFailure),
        (status = 413, description = "The body is larger than 1 MiB.", body = RenewFailure),
        (status = 503, description = "The node is not Operational, the cluster store is \
            unavailable, or this face's service is stopped.", body = RenewFailure),
        (status = 500, description = "The server failed (the cause is in its log).",
            body = RenewFailure),
    )
)]
pub async fn renew_login_token_post(
    State(s): State<AppState>,
    Accept(f): Accept,
    headers: axum::http::HeaderMap,
    body: Result<CvBody, CommvaultError>,
) -> Response {
    // A body refused before it is read answers in this operation's shape too.
    let body = match body {
        Ok(CvBody(body)) => body,
        Err(e) => return renew_failure(f, e),
    };
    let request = match &body {
        // A body that is not a RenewRequest is refused rather than read as one without
        // sessionId (which would renew the header's token); serde would read an array as the
        // struct's members in order, so only an object is one.
        Body::Json(v) if v.is_object() => RenewRequest::deserialize(v).ok(),
        Body::Json(_) => None,
        Body::Xml(el) => Some(RenewRequest {
            session_id: el.get("sessionId").map(str::to_owned),
        }),
    };
    let Some(RenewRequest {
        session_id: from_body,
    }) = request
    else {
        return renew_failure(
            f,
            CommvaultError::bad_request(
                "A RenewLoginToken body is an object whose sessionId is a string.",
            ),
        );
    };
    let from_header = headers
        .get("authtoken")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let renewed = from_body
        .or(from_header)
        .as_deref()
        .and_then(decode_token)
        .ok_or(strongroom_core::Error::Unauthenticated)
        .and_then(|t| s.core.renew_session(SessionKind::BackupClient, &t));
    match renewed {
        Ok(t) => {
            let token = encode_token(&t.0);
            let xml = Element::new("DM2ContentIndexing_RenewLoginTokenResp").attr("token", &token);
            Reply::ok(f, &RenewResponse { token }, xml).into_response()
        }
        Err(e) => renew_failure(f, CommvaultError::from(e)),
    }
}

/// `POST Logout`: ends the token; answers `User logged out` in plain text.
#[utoipa::path(
    post,
    path = "/Logout",
    operation_id = "logout",
    tag = "login",
    responses(
        (status = 200, description = "The token has ended: `User logged out`, in any \
            format.", body = String, content_type = "text/plain"),
        super::openapi::Session,
    )
)]
pub async fn logout_post(
    State(s): State<AppState>,
    Accept(f): Accept,
    session: LoggedIn,
) -> Result<Response, CommvaultError> {
    s.core
        .close_session(SessionKind::BackupClient, &session.token)
        .map_err(|e| CommvaultError::from_core(e, f))?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], "User logged out").into_response())
}

/// The user a token stands for (`CvEntities_ProcessingInstructionInfo` with a `user` in XML).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmIResponse {
    /// Always 0.
    error_code: i64,
    user: UserName,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    user_name: String,
}

/// `WhoAmI`: the user the token stands for.
#[utoipa::path(
    post,
    path = "/WhoAmI",
    operation_id = "whoAmI",
    tag = "login",
    responses(
        (status = 200, description = "The user the token stands for.", body = WhoAmIResponse),
        super::openapi::Session,
    )
)]
pub async fn who_am_i_post(Accept(f): Accept, session: LoggedIn) -> Reply {
    let user = session.principal.user_id;
    let xml = Element::new("CvEntities_ProcessingInstructionInfo")
        .child(Element::new("user").attr("userName", &user));
    let json = WhoAmIResponse {
        error_code: 0,
        user: UserName { user_name: user },
    };
    Reply::ok(f, &json, xml)
}

/// `GET WhoAmI`: the same as `POST`.
#[utoipa::path(
    get,
    path = "/WhoAmI",
    operation_id = "getWhoAmI",
    tag = "login",
    responses(
        (status = 200, description = "The user the token stands for.", body = WhoAmIResponse),
        super::openapi::Session,
    )
)]
pub async fn who_am_i_get(f: Accept, session: LoggedIn) -> Reply {
    who_am_i_post(f, session).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_password_is_taken_out_of_the_parsed_body() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("the password 1");
        let mut body = Body::Json(json!({"username": "alice", "password": b64, "domain": ""}));
        let (user, password) = credentials(&mut body).unwrap();
        assert_eq!(
            (user.as_str(), password.expose()),
            ("alice", "the password 1")
        );
        let Body::Json(v) = &body else { unreachable!() };
        assert_eq!(
            v["password"], "",
            "the parsed body still holds the password"
        );

        let xml = Element::new("DM2ContentIndexing_CheckCredentialReq")
            .attr("username", "bob")
            .attr("password", &b64);
        let mut body = Body::Xml(xml);
        let (user, password) = credentials(&mut body).unwrap();
        assert_eq!(
            (user.as_str(), password.expose()),
            ("bob", "the password 1")
        );
        let Body::Xml(el) = &body else { unreachable!() };
        assert_eq!(el.get("password"), Some(""));

        // Taken even when the request is refused for something else.
        for refused in [
            json!({"password": b64}),
            json!({"username": 5, "password": b64}),
        ] {
            let mut body = Body::Json(refused);
            assert!(credentials(&mut body).is_none());
            let Body::Json(v) = &body else { unreachable!() };
            assert_eq!(v["password"], "");
        }
        // Only an object is a login request (serde would read an array's items as the
        // members in order), and both members are strings.
        for refused in [
            json!(["alice", b64]),
            json!({"username": ["alice"], "password": b64}),
            json!({"username": "alice", "password": 5}),
            json!({"username": "alice"}),
            json!({"username": "alice", "password": "not base64!"}),
        ] {
            assert!(
                credentials(&mut Body::Json(refused.clone())).is_none(),
                "{refused}"
            );
        }
        let xml = Element::new("DM2ContentIndexing_CheckCredentialReq").attr("password", &b64);
        let mut body = Body::Xml(xml);
        assert!(credentials(&mut body).is_none());
        let Body::Xml(el) = &body else { unreachable!() };
        assert_eq!(el.get("password"), Some(""), "wiped without a username too");
    }
}
