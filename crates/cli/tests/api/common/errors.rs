//! One asserter per face for the errors of docs/errors.md: each requires the status, the
//! face's code where it has one, and the documented message, in the face's own shape.

use reqwest::Response;
use serde_json::Value;

/// What an error message must say: the whole text; or (for messages that end in a detail,
/// such as a parser's) how it begins; or, for a documented message with placeholders, the
/// fixed pieces around them, in order (the first a prefix, the last a suffix).
#[derive(Clone, Debug)]
pub enum Says {
    Exactly(String),
    StartsWith(String),
    Pieces(Vec<String>),
}

impl Says {
    /// Asserts that `message` says this; `context` names the case in the failure.
    pub fn check(&self, message: &str, context: &str) {
        match self {
            Says::Exactly(want) => assert_eq!(message, want, "{context}: message"),
            Says::StartsWith(prefix) => assert!(
                message.starts_with(prefix.as_str()),
                "{context}: message {message:?} does not start with {prefix:?}"
            ),
            Says::Pieces(pieces) => {
                let fits = |message: &str| {
                    let (first, last) = (&pieces[0], &pieces[pieces.len() - 1]);
                    let Some(mut rest) = message.strip_prefix(first.as_str()) else {
                        return false;
                    };
                    for piece in &pieces[1..pieces.len() - 1] {
                        match rest.find(piece.as_str()) {
                            Some(at) => rest = &rest[at + piece.len()..],
                            None => return false,
                        }
                    }
                    pieces.len() == 1 || rest.ends_with(last.as_str())
                };
                assert!(
                    fits(message),
                    "{context}: message {message:?} does not fit the pieces {pieces:?}"
                );
            }
        }
    }
}

impl From<&str> for Says {
    fn from(message: &str) -> Says {
        Says::Exactly(message.to_owned())
    }
}

impl From<String> for Says {
    fn from(message: String) -> Says {
        Says::Exactly(message)
    }
}

/// Any message: for a caller that compares the message the asserter returns itself, with a
/// context of its own (a table's case) in its failure message.
pub fn any_message() -> Says {
    Says::StartsWith(String::new())
}

/// A message that begins with `prefix` and goes on with a detail the docs do not fix.
pub fn starting(prefix: &str) -> Says {
    Says::StartsWith(prefix.to_owned())
}

fn content_type(r: &Response) -> Option<String> {
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// `{"message": ...}` as `application/json` with this status: the shape of the NetHSM face
/// and of Strongroom's own API. Returns the message.
async fn json_message(r: Response, status: u16, says: Says, face: &str) -> String {
    let context = format!("{face} error {status}");
    assert_eq!(r.status(), status, "{context}: status");
    assert_eq!(
        content_type(&r).as_deref(),
        Some("application/json"),
        "{context}: content type"
    );
    let body: Value = r.json().await.unwrap();
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: no message string in {body}"))
        .to_owned();
    says.check(&message, &context);
    message
}

/// A NetHSM-face error (`/api/v1`): this status, `application/json` `{"message": ...}` with
/// the documented message (and a 401's `WWW-Authenticate`). Returns the message, for checks
/// beyond the docs'.
pub async fn nethsm_error(r: Response, status: u16, says: impl Into<Says>) -> String {
    if status == 401 {
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Basic realm=\"NetHSM\""),
            "a NetHSM 401 asks for Basic credentials"
        );
    }
    json_message(r, status, says.into(), "NetHSM").await
}

/// An error of Strongroom's own API (`/api/strongroom/v1`): the NetHSM face's shape.
pub async fn own_error(r: Response, status: u16, says: impl Into<Says>) -> String {
    json_message(r, status, says.into(), "own API").await
}

/// An appliance-face error (`/api/rest/configure/v1`): this status, a `ResponseError` with
/// this `error_code`, the message, and an `op_id` that is the request's `x-request-id`. A 401
/// is the one error with an empty body: pass `""` for both code and message.
pub async fn appliance_error(r: Response, status: u16, code: &str, says: impl Into<Says>) {
    let (got, headers) = (r.status().as_u16(), r.headers().clone());
    let body = r.bytes().await.unwrap();
    check_appliance_error(got, &headers, &body, status, code, says.into());
}

/// [`appliance_error`] for whatever code the response has, which must come with the message
/// docs/errors.md gives it. Returns the code, for the caller to compare.
pub async fn appliance_documented_error(r: Response, status: u16) -> String {
    let (got, headers) = (r.status().as_u16(), r.headers().clone());
    let body = r.bytes().await.unwrap();
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["error_code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "appliance error {status} without an error_code: {got} {:?}",
                String::from_utf8_lossy(&body)
            )
        });
    let says = super::appliance_message(&code);
    check_appliance_error(got, &headers, &body, status, &code, says);
    code
}

fn check_appliance_error(
    got: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    status: u16,
    code: &str,
    says: Says,
) {
    let context = format!("appliance error {status} {code}");
    assert_eq!(got, status, "{context}: status");
    if status == 401 {
        assert_eq!(code, "", "a 401 of the appliance face has no error_code");
        assert!(body.is_empty(), "401 has an empty body");
        return;
    }
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{context}: content type"
    );
    let request_id = headers
        .get("x-request-id")
        .expect("every response carries x-request-id")
        .to_str()
        .unwrap();
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["error_code"], code, "{context}: error_code in {body}");
    assert_eq!(
        body["op_id"], request_id,
        "{context}: op_id is the request id"
    );
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: no message in {body}"));
    says.check(message, &context);
}

/// A general error of the backup-client face (`/commandcenter/api`, `/webconsole/api`): this
/// status, and `errorCode` and `errorMessage` as JSON or, when the reply is XML, as the
/// attributes of `<CVGui_GenericResp/>`. Which form is expected is said by `xml`.
pub async fn backup_client_error(
    r: Response,
    status: u16,
    code: i64,
    says: impl Into<Says>,
    xml: bool,
) {
    let context = format!("backup-client error {status} {code}");
    assert_eq!(r.status(), status, "{context}: status");
    let (got_code, message) = if xml {
        assert_eq!(
            content_type(&r).as_deref(),
            Some("application/xml"),
            "{context}: content type"
        );
        let text = r.text().await.unwrap();
        let element = text
            .split("<CVGui_GenericResp ")
            .nth(1)
            .unwrap_or_else(|| panic!("{context}: no CVGui_GenericResp in {text}"));
        let code = xml_attribute(element, "errorCode")
            .unwrap_or_else(|| panic!("{context}: no errorCode in {text}"));
        let message = xml_attribute(element, "errorMessage")
            .unwrap_or_else(|| panic!("{context}: no errorMessage in {text}"));
        (code.parse::<i64>().expect("a numeric errorCode"), message)
    } else {
        assert_eq!(
            content_type(&r).as_deref(),
            Some("application/json"),
            "{context}: content type"
        );
        let body: Value = r.json().await.unwrap();
        let code = body["errorCode"]
            .as_i64()
            .unwrap_or_else(|| panic!("{context}: no numeric errorCode in {body}"));
        let message = body["errorMessage"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: no errorMessage in {body}"))
            .to_owned();
        (code, message)
    };
    assert_eq!(got_code, code, "{context}: errorCode");
    says.into().check(&message, &context);
}

/// A failed `Login` of the backup-client face: this status, and the `errList` shape
/// (`{"errList": [{"errLogMessage", "errorCode"}]}`) with this code and message.
pub async fn backup_client_login_error(r: Response, status: u16, code: i64, says: impl Into<Says>) {
    let context = format!("backup-client login error {status} {code}");
    assert_eq!(r.status(), status, "{context}: status");
    let body: Value = r.json().await.unwrap();
    let errors = body["errList"]
        .as_array()
        .unwrap_or_else(|| panic!("{context}: no errList in {body}"));
    assert_eq!(errors.len(), 1, "{context}: one error in {body}");
    assert_eq!(
        errors[0]["errorCode"], code,
        "{context}: errorCode in {body}"
    );
    let message = errors[0]["errLogMessage"]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: no errLogMessage in {body}"));
    says.into().check(message, &context);
}

/// The value of `name="..."` among the attributes at the start of `element`, unescaped.
pub fn xml_attribute(element: &str, name: &str) -> Option<String> {
    let tag = format!(" {}", element.split('>').next()?);
    let raw = tag.split(&format!(" {name}=\"")).nth(1)?;
    let raw = raw.split('"').next()?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}
