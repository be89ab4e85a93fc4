//! `POST client/{clientId}/Passkey`, `POST Company/{id}/Passkey`, `POST Company/{id}/AuthRestore`
//! (seed 003): create, modify or remove a passkey (`App_SetPasskeyRequest`), or authorize
//! browse and restore with it (`App_AuthorizeForRestoreRequest`), told apart by the body's root
//! element (XML) or keys (JSON, wrapped or flat). XML passkeys are plain text, JSON passkeys
//! base64. Every answer is an `App_SetPasskeyResponse`: `exitval` and `errorCode` 0 on success,
//! the failure's own code otherwise (`docs/errors.md`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use strongroom_core::identity::Principal;
use strongroom_core::passkeys::{PasskeyChange, PasskeyError, PasskeyOp, PasskeyTarget};
use strongroom_core::secret::Passphrase;

use super::error::CommvaultError;
use super::extract::{Accept, CvBody, LoggedIn};
use super::wire::{Body, Format, Reply};
use crate::app::AppState;
use crate::xml::Element;

/// A parsed passkey request.
enum PasskeyRequest {
    Set {
        op: PasskeyOp,
        current: Option<Passphrase>,
        new: Option<Passphrase>,
        confirm: Option<Passphrase>,
    },
    Authorize {
        passkey: Option<Passphrase>,
        enable: bool,
        to_time: Option<i64>,
    },
}

fn op_type(value: &str) -> Result<PasskeyOp, PasskeyError> {
    match value.trim().to_ascii_uppercase().as_str() {
        "1" | "CREATE" => Ok(PasskeyOp::Create),
        "2" | "EDIT" | "MODIFY" => Ok(PasskeyOp::Edit),
        "3" | "DISABLE" | "REMOVE" => Ok(PasskeyOp::Disable),
        _ => Err(PasskeyError::UnknownOpType),
    }
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes"
    )
}

/// An XML passkey: plain text; empty means absent (Commvault's templates send `""`).
fn xml_passkey(el: &Element, key: &str) -> Option<Passphrase> {
    el.get(key).filter(|v| !v.is_empty()).map(Passphrase::new)
}

/// A JSON passkey: base64 of the passkey; empty means absent; anything else is an error.
fn json_passkey(v: &Value, key: &str) -> Result<Option<Passphrase>, PasskeyError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let raw = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| PasskeyError::NotBase64)?,
            );
            let text = std::str::from_utf8(&raw).map_err(|_| PasskeyError::NotBase64)?;
            Ok(Some(Passphrase::new(text)))
        }
        Some(_) => Err(PasskeyError::NotBase64),
    }
}

fn json_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_json(v: &Value) -> Result<PasskeyRequest, PasskeyError> {
    let (inner, authorize) = if let Some(i) = v.get("App_SetPasskeyRequest") {
        (i, false)
    } else if let Some(i) = v.get("App_AuthorizeForRestoreRequest") {
        (i, true)
    } else {
        (
            v,
            v.get("passkeyOpType").is_none()
                && (v.get("passkey").is_some() || v.get("passkeySettings").is_some()),
        )
    };
    if !inner.is_object() {
        return Err(PasskeyError::Malformed);
    }
    if authorize {
        let settings = inner.get("passkeySettings");
        let enable = settings
            .and_then(|s| s.get("enableAuthorizeForRestore"))
            .and_then(json_scalar)
            .is_none_or(|e| truthy(&e));
        let to_time = settings
            .and_then(|s| s.get("passkeyExpirationInterval"))
            .and_then(|i| i.get("toTime"))
            .and_then(json_scalar)
            .and_then(|t| t.trim().parse().ok());
        return Ok(PasskeyRequest::Authorize {
            passkey: json_passkey(inner, "passkey")?,
            enable,
            to_time,
        });
    }
    let op = inner
        .get("passkeyOpType")
        .and_then(json_scalar)
        .ok_or(PasskeyError::Malformed)
        .and_then(|t| op_type(&t))?;
    Ok(PasskeyRequest::Set {
        op,
        current: json_passkey(inner, "currentPasskey")?,
        new: json_passkey(inner, "newPasskey")?,
        confirm: json_passkey(inner, "confirmPasskey")?,
    })
}

fn parse_xml(el: &Element) -> Result<PasskeyRequest, PasskeyError> {
    match el.name.as_str() {
        "App_SetPasskeyRequest" => Ok(PasskeyRequest::Set {
            op: op_type(el.get("passkeyOpType").ok_or(PasskeyError::Malformed)?)?,
            current: xml_passkey(el, "currentPasskey"),
            new: xml_passkey(el, "newPasskey"),
            confirm: xml_passkey(el, "confirmPasskey"),
        }),
        "App_AuthorizeForRestoreRequest" => {
            let settings = el.find("passkeySettings");
            Ok(PasskeyRequest::Authorize {
                passkey: xml_passkey(el, "passkey"),
                enable: settings
                    .and_then(|s| s.get("enableAuthorizeForRestore"))
                    .is_none_or(truthy),
                to_time: settings
                    .and_then(|s| s.find("passkeyExpirationInterval"))
                    .and_then(|i| i.get("toTime"))
                    .and_then(|t| t.trim().parse().ok()),
            })
        }
        _ => Err(PasskeyError::Malformed),
    }
}

/// The `App_SetPasskeyResponse` for a result: 0 or the failure's code.
fn passkey_reply(f: Format, failure: Option<PasskeyError>) -> Response {
    let (code, message) = match failure {
        Some(e) => {
            let (code, message) = super::error::passkey_failure(e);
            (code, Some(message))
        }
        None => (0, None),
    };
    let mut error_json = json!({"errorCode": code});
    let mut error_xml = Element::new("error");
    if let Some(m) = message {
        error_json["errorMessage"] = json!(m);
        error_xml = error_xml.attr("errorMessage", m);
    }
    error_xml = error_xml.attr("errorCode", code);
    Reply::ok(
        f,
        json!({
            "processinginstructioninfo": {"attributes": [{"name": "exitval", "value": code.to_string()}]},
            "error": error_json,
        }),
        Element::new("App_SetPasskeyResponse")
            .child(
                Element::new("processinginstructioninfo")
                    .child(Element::new("attributes").attr("name", "exitval").attr("value", code)),
            )
            .child(error_xml),
    )
    .into_response()
}

/// Runs a passkey request; passkey failures are answered 200 in the passkey shape, anything
/// else (state, internal) as the face's errors.
async fn run(
    s: AppState,
    f: Format,
    who: Principal,
    target: Result<PasskeyTarget, PasskeyError>,
    request: Result<PasskeyRequest, PasskeyError>,
    authorize_only: bool,
) -> Result<Response, CommvaultError> {
    let (target, request) = match (target, request) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => return Ok(passkey_reply(f, Some(e))),
    };
    if authorize_only && matches!(request, PasskeyRequest::Set { .. }) {
        return Ok(passkey_reply(f, Some(PasskeyError::Malformed)));
    }
    let result = s
        .run(move |core| match &request {
            PasskeyRequest::Set {
                op,
                current,
                new,
                confirm,
            } => core.operational(&who)?.passkeys().set(
                target,
                PasskeyChange {
                    op: *op,
                    current: current.as_ref(),
                    new: new.as_ref(),
                    confirm: confirm.as_ref(),
                },
            ),
            PasskeyRequest::Authorize {
                passkey,
                enable,
                to_time,
            } => core
                .operational(&who)?
                .passkeys()
                .authorize_restore(target, passkey.as_ref(), *enable, *to_time)
                .map(|_| ()),
        })
        .await;
    match result {
        Ok(()) => Ok(passkey_reply(f, None)),
        Err(strongroom_core::Error::Passkey(e)) => Ok(passkey_reply(f, Some(e))),
        Err(e) => Err(CommvaultError::from_core(e, f)),
    }
}

fn parse(body: &Body) -> Result<PasskeyRequest, PasskeyError> {
    match body {
        Body::Json(v) => parse_json(v),
        Body::Xml(el) => parse_xml(el),
    }
}

fn id(raw: &str, unknown: PasskeyError) -> Result<u64, PasskeyError> {
    raw.trim().parse().map_err(|_| unknown)
}

pub async fn client_passkey_post(
    State(s): State<AppState>,
    Path(client_id): Path<String>,
    Accept(f): Accept,
    session: LoggedIn,
    CvBody(mut body): CvBody,
) -> Result<Response, CommvaultError> {
    let target = id(&client_id, PasskeyError::UnknownClient).map(PasskeyTarget::Client);
    let request = parse(&body);
    body.wipe();
    run(s, f, session.principal, target, request, false).await
}

pub async fn company_passkey_post(
    State(s): State<AppState>,
    Path(company_id): Path<String>,
    Accept(f): Accept,
    session: LoggedIn,
    CvBody(mut body): CvBody,
) -> Result<Response, CommvaultError> {
    let target = id(&company_id, PasskeyError::UnknownCompany).map(PasskeyTarget::Company);
    let request = parse(&body);
    body.wipe();
    run(s, f, session.principal, target, request, false).await
}

pub async fn company_auth_restore_post(
    State(s): State<AppState>,
    Path(company_id): Path<String>,
    Accept(f): Accept,
    session: LoggedIn,
    CvBody(mut body): CvBody,
) -> Result<Response, CommvaultError> {
    let target = id(&company_id, PasskeyError::UnknownCompany).map(PasskeyTarget::Company);
    // The URL says what this is: a flat body without passkeyOpType is an authorization.
    let request = match &mut body {
        Body::Json(v)
            if v.get("App_SetPasskeyRequest").is_none()
                && v.get("App_AuthorizeForRestoreRequest").is_none() =>
        {
            let wrapped = json!({"App_AuthorizeForRestoreRequest": v.take()});
            let request = parse_json(&wrapped);
            Body::Json(wrapped).wipe();
            request
        }
        other => parse(other),
    };
    body.wipe();
    run(s, f, session.principal, target, request, true).await
}
