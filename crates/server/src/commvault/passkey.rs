//! `POST client/{clientId}/Passkey`, `POST Company/{id}/Passkey`, `POST Company/{id}/AuthRestore`
//! (seed 003): create, modify or remove a passkey (`App_SetPasskeyRequest`), or authorize
//! browse and restore with it (`App_AuthorizeForRestoreRequest`), told apart by the body's root
//! element (XML) or keys (JSON, wrapped or flat). XML passkeys are plain text, JSON passkeys
//! base64. Every answer is an `App_SetPasskeyResponse`: `exitval` and `errorCode` 0 on success,
//! the failure's own code otherwise (`docs/errors.md`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use strongroom_core::identity::Principal;
use strongroom_core::passkeys::{PasskeyChange, PasskeyError, PasskeyOp, PasskeyTarget};
use strongroom_core::secret::Passphrase;

use super::error::CommvaultError;
use super::extract::{Accept, CvBody, LoggedIn};
use super::wire::{Body, Format, Reply};
use crate::app::AppState;
use crate::xml::Element;
use utoipa::ToSchema;

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

/// Every passkey operation's answer (`App_SetPasskeyResponse` in XML): `exitval` and
/// `errorCode` 0 on success, the failure's own code otherwise (docs/errors.md).
#[derive(Serialize, ToSchema)]
pub struct SetPasskeyResponse {
    processinginstructioninfo: ProcessingInstructionInfo,
    error: PasskeyResult,
}

#[derive(Serialize, ToSchema)]
pub struct ProcessingInstructionInfo {
    /// One: `exitval`.
    attributes: Vec<InstructionAttribute>,
}

#[derive(Serialize, ToSchema)]
pub struct InstructionAttribute {
    /// `exitval`.
    name: &'static str,
    /// The errorCode, as a string in JSON.
    value: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyResult {
    /// 0 on success, else the failure's code.
    error_code: i64,
    /// What failed; absent on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'static str>,
}

impl SetPasskeyResponse {
    fn new(failure: Option<PasskeyError>) -> Self {
        let (code, message) = match failure {
            Some(e) => {
                let (code, message) = super::error::passkey_failure(e);
                (code, Some(message))
            }
            None => (0, None),
        };
        Self {
            processinginstructioninfo: ProcessingInstructionInfo {
                attributes: vec![InstructionAttribute {
                    name: "exitval",
                    value: code.to_string(),
                }],
            },
            error: PasskeyResult {
                error_code: code,
                error_message: message,
            },
        }
    }

    fn xml(&self) -> Element {
        let mut error = Element::new("error");
        if let Some(m) = self.error.error_message {
            error = error.attr("errorMessage", m);
        }
        let instructions = self.processinginstructioninfo.attributes.iter().fold(
            Element::new("processinginstructioninfo"),
            |el, a| {
                el.child(
                    Element::new("attributes")
                        .attr("name", a.name)
                        .attr("value", &a.value),
                )
            },
        );
        Element::new("App_SetPasskeyResponse")
            .child(instructions)
            .child(error.attr("errorCode", self.error.error_code))
    }
}

/// The `App_SetPasskeyResponse` for a result: 0 or the failure's code.
fn passkey_reply(f: Format, failure: Option<PasskeyError>) -> Response {
    let answer = SetPasskeyResponse::new(failure);
    Reply::ok(f, &answer, answer.xml()).into_response()
}

/// `App_SetPasskeyRequest` as [`parse_json`] reads it: create, modify or remove a passkey.
/// JSON passkeys are base64 (an empty one is absent); in XML, the attributes of an
/// `App_SetPasskeyRequest` element, passkeys in plain text.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SetPasskeyRequest {
    passkey_op_type: PasskeyOpType,
    /// Modify and remove: the passkey set now.
    #[schema(content_encoding = "base64")]
    current_passkey: Option<String>,
    /// Create and modify: the new passkey.
    #[schema(content_encoding = "base64")]
    new_passkey: Option<String>,
    /// The new passkey again, if given.
    #[schema(content_encoding = "base64")]
    confirm_passkey: Option<String>,
}

/// 1 (create), 2 (modify) or 3 (remove), as a number or a string, or the operation's name in
/// any case.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PasskeyOpType {
    Code(u8),
    Name(PasskeyOpName),
}

#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum PasskeyOpName {
    CREATE,
    EDIT,
    MODIFY,
    DISABLE,
    REMOVE,
}

/// `App_AuthorizeForRestoreRequest` as [`parse_json`] reads it: with the right passkey, allow
/// browse and restore for a while, or (`enableAuthorizeForRestore` false) stop allowing them.
/// In XML, an `App_AuthorizeForRestoreRequest` element, the passkey in plain text.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AuthorizeForRestoreRequest {
    #[schema(content_encoding = "base64")]
    passkey: Option<String>,
    passkey_settings: Option<AuthorizeSettings>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AuthorizeSettings {
    /// True (the default; also `1`, `"true"` or `"yes"`) opens the window, anything else
    /// closes it.
    enable_authorize_for_restore: Option<bool>,
    passkey_expiration_interval: Option<ExpirationInterval>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ExpirationInterval {
    /// How long the window stays open, in seconds (or until this Unix time when larger than
    /// a year), never longer than the configured window (30 minutes by default).
    to_time: Option<i64>,
}

/// A passkey operation's JSON body: the request flat, or wrapped in an object named for it.
/// Without `passkeyOpType`, a flat body with `passkey` or `passkeySettings` is an
/// authorization.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PasskeyRequestBody {
    Set(SetPasskeyRequest),
    WrappedSet {
        #[serde(rename = "App_SetPasskeyRequest")]
        request: SetPasskeyRequest,
    },
    Authorize(AuthorizeForRestoreRequest),
    WrappedAuthorize {
        #[serde(rename = "App_AuthorizeForRestoreRequest")]
        request: AuthorizeForRestoreRequest,
    },
}

/// `Company/{id}/AuthRestore`'s JSON body: an authorization, flat or wrapped.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum AuthRestoreBody {
    Authorize(AuthorizeForRestoreRequest),
    WrappedAuthorize {
        #[serde(rename = "App_AuthorizeForRestoreRequest")]
        request: AuthorizeForRestoreRequest,
    },
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

/// `POST Client/{clientId}/Passkey`: the client's passkey (its owners, or root
/// Administrators).
#[utoipa::path(
    post,
    path = "/Client/{clientId}/Passkey",
    operation_id = "setClientPasskey",
    tag = "passkeys",
    params(("clientId" = u64, Path, description = "The client's id.", example = 1)),
    request_body(content = PasskeyRequestBody, example = json!({
        "newPasskey": "ZXhhbXBsZSBwYXNza2V5",
        "confirmPasskey": "ZXhhbXBsZSBwYXNza2V5",
        "passkeyOpType": "CREATE",
    })),
    responses(
        (status = 200, description = "Done (errorCode 0), or the passkey failure's code, an \
            unknown client or a request that is not a passkey request included.",
            body = SetPasskeyResponse),
        super::openapi::RequestBody,
        super::openapi::Session,
        super::openapi::Privileged,
    )
)]
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

/// `POST Company/{companyId}/Passkey`: the company's passkey (root Administrators).
#[utoipa::path(
    post,
    path = "/Company/{companyId}/Passkey",
    operation_id = "setCompanyPasskey",
    tag = "passkeys",
    params(("companyId" = u64, Path, description = "The company's id: 0, the whole \
        installation, is the only one.", example = 0)),
    request_body(content = PasskeyRequestBody, example = json!({
        "App_SetPasskeyRequest": {
            "newPasskey": "ZXhhbXBsZSBwYXNza2V5",
            "confirmPasskey": "ZXhhbXBsZSBwYXNza2V5",
            "passkeyOpType": 1,
        },
    })),
    responses(
        (status = 200, description = "Done (errorCode 0), or the passkey failure's code, an \
            unknown company or a request that is not a passkey request included.",
            body = SetPasskeyResponse),
        super::openapi::RequestBody,
        super::openapi::Session,
        super::openapi::Privileged,
    )
)]
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

/// `POST Company/{companyId}/AuthRestore`: authorize browse and restore with the company's
/// passkey (an `App_SetPasskeyRequest` here is not a valid request).
#[utoipa::path(
    post,
    path = "/Company/{companyId}/AuthRestore",
    operation_id = "authorizeCompanyRestore",
    tag = "passkeys",
    params(("companyId" = u64, Path, description = "The company's id: 0, the whole \
        installation, is the only one.", example = 0)),
    request_body(content = AuthRestoreBody, example = json!({
        "passkey": "ZXhhbXBsZSBwYXNza2V5",
        "passkeySettings": {
            "enableAuthorizeForRestore": true,
            "passkeyExpirationInterval": {"toTime": 1800},
        },
    })),
    responses(
        (status = 200, description = "Done (errorCode 0), or the passkey failure's code, an \
            unknown company or a request that is not an authorization included.",
            body = SetPasskeyResponse),
        super::openapi::RequestBody,
        super::openapi::Session,
        super::openapi::Privileged,
    )
)]
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
