//! `POST client/{clientId}/Passkey`, `POST Company/{id}/Passkey`, `POST Company/{id}/AuthRestore`
//! (seed 003): create, modify or remove a passkey (`App_SetPasskeyRequest`), or authorize
//! browse and restore with it (`App_AuthorizeForRestoreRequest`), told apart by the body's root
//! element (XML) or keys (JSON, wrapped or flat). XML passkeys are plain text, JSON passkeys
//! base64. Every answer is an `App_SetPasskeyResponse`: `exitval` and `errorCode` 0 on success,
//! the failure's own code otherwise (`docs/errors.md`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
fn json_passkey(v: &Value) -> Result<Option<Passphrase>, PasskeyError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => {
            let raw = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| PasskeyError::NotBase64)?,
            );
            let text = std::str::from_utf8(&raw).map_err(|_| PasskeyError::NotBase64)?;
            Ok(Some(Passphrase::new(text)))
        }
        _ => Err(PasskeyError::NotBase64),
    }
}

/// A JSON scalar as text: strings as they are, numbers and booleans as JSON writes them.
fn json_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a member of any JSON type: the face reads each member leniently, as Commvault's
/// clients send them (strings, numbers or booleans alike), and a member it cannot use
/// answers a passkey code rather than failing the body.
fn any_member<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Value::deserialize(d)
}

/// A JSON passkey member, read as [`json_passkey`] says. The copy made to read it is wiped.
pub struct JsonPasskey(Result<Option<Passphrase>, PasskeyError>);

impl Default for JsonPasskey {
    fn default() -> Self {
        JsonPasskey(Ok(None))
    }
}

impl<'de> Deserialize<'de> for JsonPasskey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = any_member(d)?;
        let passkey = json_passkey(&v);
        super::wire::wipe_json(&mut v);
        Ok(JsonPasskey(passkey))
    }
}

/// An object member that is not an object is read as absent.
fn object_or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let v = any_member(d)?;
    if !v.is_object() {
        return Ok(T::default());
    }
    T::deserialize(v).map_err(serde::de::Error::custom)
}

/// The request inside a passkey body, `inner`, as `T`: it must be an object (serde would read
/// an array as the members in order).
fn inner_request<T: serde::de::DeserializeOwned>(inner: &Value) -> Result<T, PasskeyError> {
    if !inner.is_object() {
        return Err(PasskeyError::Malformed);
    }
    T::deserialize(inner).map_err(|_| PasskeyError::Malformed)
}

impl PasskeyRequestBody {
    /// The request of a JSON body: wrapped in an object named for it, or flat (an
    /// authorization when it has `passkey` or `passkeySettings` but no `passkeyOpType`).
    fn read(v: &Value) -> Result<PasskeyRequest, PasskeyError> {
        let body = if let Some(inner) = v.get("App_SetPasskeyRequest") {
            PasskeyRequestBody::WrappedSet {
                request: inner_request(inner)?,
            }
        } else if let Some(inner) = v.get("App_AuthorizeForRestoreRequest") {
            PasskeyRequestBody::WrappedAuthorize {
                request: inner_request(inner)?,
            }
        } else if v.get("passkeyOpType").is_none()
            && (v.get("passkey").is_some() || v.get("passkeySettings").is_some())
        {
            PasskeyRequestBody::Authorize(inner_request(v)?)
        } else {
            PasskeyRequestBody::Set(inner_request(v)?)
        };
        match body {
            PasskeyRequestBody::Set(r) | PasskeyRequestBody::WrappedSet { request: r } => {
                r.request()
            }
            PasskeyRequestBody::Authorize(r)
            | PasskeyRequestBody::WrappedAuthorize { request: r } => r.request(),
        }
    }
}

impl AuthRestoreBody {
    /// The authorization of a JSON body, flat or wrapped: the URL says what it is.
    fn read(v: &Value) -> Result<PasskeyRequest, PasskeyError> {
        let body = match v.get("App_AuthorizeForRestoreRequest") {
            Some(inner) => AuthRestoreBody::WrappedAuthorize {
                request: inner_request(inner)?,
            },
            None => AuthRestoreBody::Authorize(inner_request(v)?),
        };
        match body {
            AuthRestoreBody::Authorize(r) | AuthRestoreBody::WrappedAuthorize { request: r } => {
                r.request()
            }
        }
    }
}

impl SetPasskeyRequest {
    fn request(self) -> Result<PasskeyRequest, PasskeyError> {
        let op = self.passkey_op_type.0?.op()?;
        Ok(PasskeyRequest::Set {
            op,
            current: self.current_passkey.0?,
            new: self.new_passkey.0?,
            confirm: self.confirm_passkey.0?,
        })
    }
}

impl AuthorizeForRestoreRequest {
    fn request(self) -> Result<PasskeyRequest, PasskeyError> {
        let settings = self.passkey_settings;
        Ok(PasskeyRequest::Authorize {
            passkey: self.passkey.0?,
            enable: settings.enable_authorize_for_restore.0,
            to_time: settings.passkey_expiration_interval.to_time.0,
        })
    }
}

fn parse_xml(el: &Element) -> Result<PasskeyRequest, PasskeyError> {
    match el.name.as_str() {
        "App_SetPasskeyRequest" => Ok(PasskeyRequest::Set {
            op: PasskeyOpType::parse(el.get("passkeyOpType").ok_or(PasskeyError::Malformed)?)?
                .op()?,
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

/// `App_SetPasskeyRequest` as [`PasskeyRequestBody::read`] reads it: create, modify or remove
/// a passkey. JSON passkeys are base64 (an empty one is absent); in XML, the attributes of an
/// `App_SetPasskeyRequest` element, passkeys in plain text.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetPasskeyRequest {
    /// Missing, or not a scalar: the request is malformed.
    #[serde(default)]
    #[schema(value_type = PasskeyOpType, required = true)]
    passkey_op_type: OpTypeMember,
    /// Modify and remove: the passkey set now.
    #[serde(default)]
    #[schema(value_type = Option<String>, content_encoding = "base64")]
    current_passkey: JsonPasskey,
    /// Create and modify: the new passkey.
    #[serde(default)]
    #[schema(value_type = Option<String>, content_encoding = "base64")]
    new_passkey: JsonPasskey,
    /// The new passkey again, if given.
    #[serde(default)]
    #[schema(value_type = Option<String>, content_encoding = "base64")]
    confirm_passkey: JsonPasskey,
}

/// 1 (create), 2 (modify) or 3 (remove), as a number or a string, or the operation's name in
/// any case.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum PasskeyOpType {
    Code(u8),
    Name(PasskeyOpName),
}

#[derive(ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum PasskeyOpName {
    CREATE,
    EDIT,
    MODIFY,
    DISABLE,
    REMOVE,
}

impl PasskeyOpType {
    /// An operation type as text (a JSON number or boolean as JSON writes it).
    fn parse(value: &str) -> Result<Self, PasskeyError> {
        Ok(match value.trim().to_ascii_uppercase().as_str() {
            "1" => PasskeyOpType::Code(1),
            "2" => PasskeyOpType::Code(2),
            "3" => PasskeyOpType::Code(3),
            "CREATE" => PasskeyOpType::Name(PasskeyOpName::CREATE),
            "EDIT" => PasskeyOpType::Name(PasskeyOpName::EDIT),
            "MODIFY" => PasskeyOpType::Name(PasskeyOpName::MODIFY),
            "DISABLE" => PasskeyOpType::Name(PasskeyOpName::DISABLE),
            "REMOVE" => PasskeyOpType::Name(PasskeyOpName::REMOVE),
            _ => return Err(PasskeyError::UnknownOpType),
        })
    }

    fn op(&self) -> Result<PasskeyOp, PasskeyError> {
        use PasskeyOpName::*;
        match self {
            PasskeyOpType::Code(1) | PasskeyOpType::Name(CREATE) => Ok(PasskeyOp::Create),
            PasskeyOpType::Code(2) | PasskeyOpType::Name(EDIT | MODIFY) => Ok(PasskeyOp::Edit),
            PasskeyOpType::Code(3) | PasskeyOpType::Name(DISABLE | REMOVE) => {
                Ok(PasskeyOp::Disable)
            }
            PasskeyOpType::Code(_) => Err(PasskeyError::UnknownOpType),
        }
    }
}

/// The `passkeyOpType` member: a scalar [`PasskeyOpType::parse`] reads, else malformed.
pub struct OpTypeMember(Result<PasskeyOpType, PasskeyError>);

impl Default for OpTypeMember {
    fn default() -> Self {
        OpTypeMember(Err(PasskeyError::Malformed))
    }
}

impl<'de> Deserialize<'de> for OpTypeMember {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(OpTypeMember(
            json_scalar(&any_member(d)?)
                .ok_or(PasskeyError::Malformed)
                .and_then(|t| PasskeyOpType::parse(&t)),
        ))
    }
}

/// `App_AuthorizeForRestoreRequest` as [`PasskeyRequestBody::read`] reads it: with the right
/// passkey, allow browse and restore for a while, or (`enableAuthorizeForRestore` false) stop
/// allowing them. In XML, an `App_AuthorizeForRestoreRequest` element, the passkey in plain
/// text.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeForRestoreRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, content_encoding = "base64")]
    passkey: JsonPasskey,
    #[serde(default, deserialize_with = "object_or_default")]
    #[schema(value_type = Option<AuthorizeSettings>)]
    passkey_settings: AuthorizeSettings,
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeSettings {
    /// True (the default; also `1`, `"true"` or `"yes"`) opens the window, anything else
    /// closes it.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    enable_authorize_for_restore: Enable,
    #[serde(default, deserialize_with = "object_or_default")]
    #[schema(value_type = Option<ExpirationInterval>)]
    passkey_expiration_interval: ExpirationInterval,
}

/// `enableAuthorizeForRestore`: a scalar that is `1`, `true` or `yes` (in any case) opens the
/// window, another scalar closes it; absent, or not a scalar, opens it.
pub struct Enable(bool);

impl Default for Enable {
    fn default() -> Self {
        Enable(true)
    }
}

impl<'de> Deserialize<'de> for Enable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Enable(
            json_scalar(&any_member(d)?).is_none_or(|e| truthy(&e)),
        ))
    }
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationInterval {
    /// How long the window stays open, in seconds (or until this Unix time when larger than
    /// a year), never longer than the configured window (30 minutes by default).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    to_time: ToTime,
}

/// `toTime`: a whole number, or a string of one; anything else is absent.
#[derive(Default)]
pub struct ToTime(Option<i64>);

impl<'de> Deserialize<'de> for ToTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ToTime(
            json_scalar(&any_member(d)?).and_then(|t| t.trim().parse().ok()),
        ))
    }
}

/// A passkey operation's JSON body: the request flat, or wrapped in an object named for it.
/// Without `passkeyOpType`, a flat body with `passkey` or `passkeySettings` is an
/// authorization.
#[derive(ToSchema)]
#[serde(untagged)]
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
        Body::Json(v) => PasskeyRequestBody::read(v),
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
    // The URL says what this is: a body that does not name itself a set request is an
    // authorization, even without passkey or passkeySettings.
    let request = match &body {
        Body::Json(v) if v.get("App_SetPasskeyRequest").is_none() => AuthRestoreBody::read(v),
        other => parse(other),
    };
    body.wipe();
    run(s, f, session.principal, target, request, true).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What a request reads as, passkeys in clear, to compare.
    fn read(r: Result<PasskeyRequest, PasskeyError>) -> String {
        let pk = |p: &Option<Passphrase>| p.as_ref().map(|p| p.expose().to_owned());
        match r {
            Err(e) => format!("{e:?}"),
            Ok(PasskeyRequest::Set {
                op,
                current,
                new,
                confirm,
            }) => format!(
                "{op:?} {:?} {:?} {:?}",
                pk(&current),
                pk(&new),
                pk(&confirm)
            ),
            Ok(PasskeyRequest::Authorize {
                passkey,
                enable,
                to_time,
            }) => format!("authorize {:?} {enable} {to_time:?}", pk(&passkey)),
        }
    }

    fn set(body: Value) -> String {
        read(PasskeyRequestBody::read(&body))
    }

    /// `cGsx` is base64 of `pk1`.
    #[test]
    fn set_requests_read_leniently_as_clients_send_them() {
        for (op, read_as) in [
            (json!("CREATE"), "Create None Some(\"pk1\") None"),
            (json!(" create "), "Create None Some(\"pk1\") None"),
            (json!(1), "Create None Some(\"pk1\") None"),
            (json!("2"), "Edit None Some(\"pk1\") None"),
            (json!("Modify"), "Edit None Some(\"pk1\") None"),
            (json!(3), "Disable None Some(\"pk1\") None"),
            (json!("remove"), "Disable None Some(\"pk1\") None"),
            (json!(4), "UnknownOpType"),
            (json!(1.0), "UnknownOpType"),
            (json!("01"), "UnknownOpType"),
            (json!(true), "UnknownOpType"),
            (json!(null), "Malformed"),
            (json!([1]), "Malformed"),
            (json!({"op": 1}), "Malformed"),
        ] {
            let body = json!({"passkeyOpType": op, "newPasskey": "cGsx"});
            assert_eq!(set(body.clone()), read_as, "{body}");
            let wrapped = json!({"App_SetPasskeyRequest": body});
            assert_eq!(set(wrapped.clone()), read_as, "{wrapped}");
        }
        assert_eq!(set(json!({"newPasskey": "cGsx"})), "Malformed", "no op");
        assert_eq!(set(json!({})), "Malformed");
        // Passkeys: base64; empty or null is absent; anything else is not base64.
        let with = |key: &str, v: Value| set(json!({"passkeyOpType": 2, key: v}));
        assert_eq!(
            with("currentPasskey", json!("cGsx")),
            "Edit Some(\"pk1\") None None"
        );
        assert_eq!(with("currentPasskey", json!("")), "Edit None None None");
        assert_eq!(with("confirmPasskey", json!(null)), "Edit None None None");
        for bad in [
            json!("not base64!"),
            json!(5),
            json!(["cGsx"]),
            json!("//8="),
        ] {
            assert_eq!(with("newPasskey", bad.clone()), "NotBase64", "{bad}");
        }
        // The op type is read before the passkeys.
        assert_eq!(
            set(json!({"passkeyOpType": "x", "newPasskey": 5})),
            "UnknownOpType"
        );
        // Not objects: serde would read an array as the members in order.
        for bad in [
            json!([1, "cGsx"]),
            json!("CREATE"),
            json!({"App_SetPasskeyRequest": [1]}),
            json!({"App_AuthorizeForRestoreRequest": "cGsx"}),
        ] {
            assert_eq!(set(bad.clone()), "Malformed", "{bad}");
        }
    }

    #[test]
    fn authorizations_read_leniently_as_clients_send_them() {
        let flat = |settings: Value| set(json!({"passkey": "cGsx", "passkeySettings": settings}));
        assert_eq!(
            set(json!({"passkey": "cGsx"})),
            "authorize Some(\"pk1\") true None"
        );
        for (enable, opens) in [
            (json!(true), true),
            (json!("yes"), true),
            (json!(" TRUE "), true),
            (json!(1), true),
            (json!(null), true),
            (json!({"x": 1}), true),
            (json!(false), false),
            (json!(0), false),
            (json!(1.0), false),
            (json!("no"), false),
        ] {
            assert_eq!(
                flat(json!({"enableAuthorizeForRestore": enable})),
                format!("authorize Some(\"pk1\") {opens} None"),
                "{enable}"
            );
        }
        for (to_time, read_as) in [
            (json!(60), "Some(60)"),
            (json!(" 60 "), "Some(60)"),
            (json!(-5), "Some(-5)"),
            (json!(60.5), "None"),
            (json!(true), "None"),
            (json!({"s": 60}), "None"),
        ] {
            assert_eq!(
                flat(json!({"passkeyExpirationInterval": {"toTime": to_time}})),
                format!("authorize Some(\"pk1\") true {read_as}"),
                "{to_time}"
            );
        }
        // Settings that are not objects are absent.
        for settings in [json!("closed"), json!([false]), json!(null)] {
            assert_eq!(flat(settings), "authorize Some(\"pk1\") true None");
        }
        assert_eq!(
            flat(json!({"passkeyExpirationInterval": [60]})),
            "authorize Some(\"pk1\") true None"
        );
        assert_eq!(
            set(json!({"passkeySettings": {"enableAuthorizeForRestore": false}})),
            "authorize None false None",
            "settings alone make an authorization"
        );
        assert_eq!(
            set(json!({"App_AuthorizeForRestoreRequest": {"passkey": 7}})),
            "NotBase64"
        );
        // At AuthRestore the URL says what a flat body is, op type or not.
        let auth = |body: Value| read(AuthRestoreBody::read(&body));
        assert_eq!(auth(json!({})), "authorize None true None");
        assert_eq!(
            auth(json!({"passkeyOpType": 1, "passkey": "cGsx"})),
            "authorize Some(\"pk1\") true None"
        );
        assert_eq!(auth(json!([{"passkey": "cGsx"}])), "Malformed");
    }
}
