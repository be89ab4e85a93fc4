//! The service root, `Login`, `RenewLoginToken`, `Logout`, `WhoAmI`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use strongroom_core::secret::Passphrase;
use strongroom_core::sessions::SessionKind;

use super::error::{CommvaultError, LOGIN_FAILED, login_failure, renew_failure};
use super::extract::{Accept, CvBody, LoggedIn, decode_token, encode_token};
use super::wire::{Body, Reply, json_str};
use crate::app::AppState;
use crate::auth::{self, RequestOrigin};
use crate::xml::Element;

/// `GET` on the root answers 200: clients check it before logging in.
pub async fn root_get(Accept(f): Accept) -> Reply {
    Reply::ok(
        f,
        json!({"service": "Strongroom backup-client web service", "version": env!("CARGO_PKG_VERSION")}),
        Element::new("Strongroom").attr("service", "backup-client web service"),
    )
}

/// Takes the (base64) password out of a login request, JSON or XML, into a buffer wiped when
/// dropped: nothing of it stays in the parsed body, which is dropped unwiped.
fn take_password(body: &mut Body) -> Option<zeroize::Zeroizing<String>> {
    let slot = match body {
        Body::Json(v) => match v.get_mut("password")? {
            serde_json::Value::String(s) => s,
            _ => return None,
        },
        Body::Xml(el) if el.name == "DM2ContentIndexing_CheckCredentialReq" => {
            &mut el.attrs.iter_mut().find(|(k, _)| k == "password")?.1
        }
        Body::Xml(_) => return None,
    };
    Some(zeroize::Zeroizing::new(std::mem::take(slot)))
}

/// The user name and (base64) password of a login request, JSON or XML.
fn credentials(body: &mut Body) -> Option<(String, Passphrase)> {
    // Taken first, so the body's copy is wiped whatever else is wrong with the request.
    let b64 = take_password(body);
    let user = match body {
        Body::Json(v) => json_str(v, "username")?,
        Body::Xml(el) if el.name == "DM2ContentIndexing_CheckCredentialReq" => {
            el.get("username")?
        }
        Body::Xml(_) => return None,
    };
    let raw = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64?.trim())
            .ok()?,
    );
    let password = std::str::from_utf8(&raw).ok()?;
    Some((user.to_owned(), Passphrase::new(password)))
}

/// `POST Login`: JSON `{"username", "password" (base64), ...}` or XML
/// `<DM2ContentIndexing_CheckCredentialReq username password/>`. Any user of the identity
/// store may log in; failures share the rate limit of every face.
pub async fn login_post(
    State(s): State<AppState>,
    Accept(f): Accept,
    origin: RequestOrigin,
    CvBody(mut body): CvBody,
) -> Response {
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
    Reply::ok(
        f,
        json!({
            "aliasName": user,
            "userName": user,
            "token": token,
            "loginAttempts": 0,
            "remainingLockTime": 0,
            "isAccountLocked": false,
        }),
        Element::new("DM2ContentIndexing_CheckCredentialResp")
            .attr("aliasName", &user)
            .attr("userName", &user)
            .attr("token", &token)
            .attr("loginAttempts", 0)
            .attr("remainingLockTime", 0),
    )
    .into_response()
}

/// `POST RenewLoginToken` `{"sessionId": "QSDK ..."}` (or the `Authtoken` header): a new token
/// for a live one, which ends.
pub async fn renew_login_token_post(
    State(s): State<AppState>,
    Accept(f): Accept,
    headers: axum::http::HeaderMap,
    CvBody(body): CvBody,
) -> Response {
    let from_body = match &body {
        Body::Json(v) => json_str(v, "sessionId").map(str::to_owned),
        Body::Xml(el) => el.get("sessionId").map(str::to_owned),
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
            Reply::ok(
                f,
                json!({"token": token}),
                Element::new("DM2ContentIndexing_RenewLoginTokenResp").attr("token", &token),
            )
            .into_response()
        }
        Err(e) => renew_failure(f, CommvaultError::from(e)),
    }
}

/// `POST Logout`: ends the token; answers `User logged out` in plain text.
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

/// `WhoAmI`: the user the token stands for.
pub async fn who_am_i_post(Accept(f): Accept, session: LoggedIn) -> Reply {
    let user = session.principal.user_id;
    Reply::ok(
        f,
        json!({"errorCode": 0, "user": {"userName": user}}),
        Element::new("CvEntities_ProcessingInstructionInfo")
            .child(Element::new("user").attr("userName", &user)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut body = Body::Json(json!({"password": b64}));
        assert!(credentials(&mut body).is_none());
        let Body::Json(v) = &body else { unreachable!() };
        assert_eq!(v["password"], "");
    }
}
