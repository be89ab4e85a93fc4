//! The JSON conventions of the NetHSM face, which Strongroom's own API speaks too (so one
//! client library covers both): errors are `{"message": "..."}` with `WWW-Authenticate` on
//! 401; request bodies have the exact shape of their wire type; and the checks run in the
//! original's order, 415, 413, 406, then 400 (after the state gate's 412, the router's 501
//! and 405, and the caller's 401 and 403; `docs/errors.md`). Each such face has its own error
//! type, a [`JsonError`] of its own marker, so a handler cannot answer in another face's
//! type; how a core error reads, and the words of these refusals, are the convention's, here.

use std::fmt;
use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::FaceError;
use crate::http_util::{self, BodyError};

pub const JSON: &str = "application/json";

/// A node in the `Failed` state (cluster mode: see `strongroom_core::cluster_health`).
pub const CLUSTER_FAILED: &str = "This node is Failed: the cluster store (etcd) is unavailable (quorum lost or unreachable); it serves again by itself once the store is back.";
/// The cluster store did not answer a request (before the node turned Failed).
pub const CLUSTER_STORE_UNAVAILABLE: &str = "The cluster store (etcd) is unavailable (quorum lost or unreachable); a change asked for may or may not have been made: read before retrying.";

/// The `WWW-Authenticate` challenge of the original.
pub const REALM: &str = "Basic realm=\"NetHSM\"";

/// An error of a face that speaks these conventions.
pub trait MessageError: FaceError {
    fn with_message(status: StatusCode, message: String) -> Self;
}

/// An error in these conventions, of the face whose marker type is `F` (its `error` module
/// names it, e.g. `NetHsmError = JsonError<NetHsm>`): a status and the message the client
/// reads.
pub struct JsonError<F> {
    pub status: StatusCode,
    pub message: String,
    face: PhantomData<fn() -> F>,
}

impl<F> JsonError<F> {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            face: PhantomData,
        }
    }
}

impl<F> fmt::Debug for JsonError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonError")
            .field("status", &self.status)
            .field("message", &self.message)
            .finish()
    }
}

/// How a core error reads in these conventions: the NetHSM face and Strongroom's own API
/// answer alike, so one client library reads both.
impl<F> From<strongroom_core::Error> for JsonError<F> {
    fn from(e: strongroom_core::Error) -> Self {
        use strongroom_core::Error as E;
        match e {
            E::WrongState(strongroom_core::SystemState::Failed) => {
                Self::new(StatusCode::PRECONDITION_FAILED, CLUSTER_FAILED)
            }
            E::WrongState(_) => Self::new(StatusCode::PRECONDITION_FAILED, "Service not available"),
            E::Store(e @ strongroom_store::StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "the cluster store is unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, CLUSTER_STORE_UNAVAILABLE)
            }
            E::InvalidInput(m) => Self::new(StatusCode::BAD_REQUEST, m),
            E::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, "Authentication required."),
            E::Forbidden => Self::new(StatusCode::FORBIDDEN, "Access denied."),
            E::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            E::Precondition(m) => Self::new(StatusCode::PRECONDITION_FAILED, m),
            E::WrongPassphrase(m) => Self::new(StatusCode::FORBIDDEN, m),
            E::PasswordPolicy(rule) => Self::new(StatusCode::BAD_REQUEST, rule.message()),
            E::Passkey(e) => Self::new(StatusCode::BAD_REQUEST, e.to_string()),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            E::RateLimited => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts; try again in a second.",
            ),
            E::WrongUnlockPassphrase => Self::new(
                StatusCode::FORBIDDEN,
                "Unlock failed: the passphrase is incorrect.",
            ),
            E::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many password checks at once; try again shortly.",
            ),
            e @ (E::Store(_) | E::Internal(_)) => {
                // The cause goes to the log (inside the request span, with its id); the client
                // sees only the request id, in the x-request-id header.
                tracing::error!(error = %e, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

impl<F> IntoResponse for JsonError<F> {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

impl<F: 'static> FaceError for JsonError<F> {}

impl<F: 'static> MessageError for JsonError<F> {
    fn with_message(status: StatusCode, message: String) -> Self {
        Self::new(status, message)
    }
}

/// The largest request body these faces read (the original's limit; NetHSM's sign, decrypt
/// and encrypt will raise it).
pub const BODY_LIMIT: usize = 1024 * 1024;

// The extractors of these faces (each re-exports them under its own names). Their refusals
// are the conventions' and read alike in every such face, so they are answered here as
// rendered responses.

/// Path parameters; a malformed one is refused (400).
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_params::<T, JsonError<()>, S>(parts, state)
            .await
            .map(Path)
            .map_err(IntoResponse::into_response)
    }
}

/// Refuses (406) a request whose `Accept` excludes `application/json`.
pub struct AcceptJson;

impl<S: Send + Sync> FromRequestParts<S> for AcceptJson {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        require_accept::<JsonError<()>>(&parts.headers, JSON)
            .map_err(IntoResponse::into_response)?;
        Ok(AcceptJson)
    }
}

/// A JSON request body of the wire type's exact shape, at most [`BODY_LIMIT`] bytes
/// ([`read_body`]), and a JSON response.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        read_body::<T, JsonError<()>>(req, BODY_LIMIT)
            .await
            .map(Json)
            .map_err(IntoResponse::into_response)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Unknown paths under the face's root.
pub async fn not_found<F>() -> JsonError<F> {
    JsonError::new(StatusCode::NOT_FOUND, "Resource not found.")
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
}

/// The error response: `{"message"}`, and the challenge on 401.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let mut response = (status, axum::Json(ErrorBody { message })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    }
    response
}

/// Refuses (406) a request whose `Accept` excludes `media`.
pub fn require_accept<E: MessageError>(headers: &HeaderMap, media: &str) -> Result<(), E> {
    if http_util::accepts(headers, media) {
        Ok(())
    } else {
        Err(E::with_message(
            StatusCode::NOT_ACCEPTABLE,
            "Content type in Accept header not supported.".into(),
        ))
    }
}

/// A JSON request body of the wire type's exact shape (unknown fields are refused by the wire
/// types), at most `limit` bytes, from a request whose `Accept` allows a JSON answer.
pub async fn read_body<T: DeserializeOwned, E: MessageError>(
    req: Request,
    limit: usize,
) -> Result<T, E> {
    let (parts, body) = req.into_parts();
    // The original checks the media type of PUT bodies only; a missing one counts as
    // application/octet-stream.
    if parts.method == Method::PUT
        && http_util::content_type(&parts.headers).as_deref() != Some(JSON)
    {
        return Err(E::with_message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type not supported; use application/json.".into(),
        ));
    }
    let bytes = http_util::read_body(&parts.headers, body, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => E::with_message(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than {limit} bytes."),
            ),
            BodyError::Read(m) => E::with_message(
                StatusCode::BAD_REQUEST,
                format!("Reading the request body failed: {m}"),
            ),
        })?;
    require_accept::<E>(&parts.headers, JSON)?;
    if http_util::is_json_array(&bytes) {
        return Err(E::with_message(
            StatusCode::BAD_REQUEST,
            "Malformed request body: expected a JSON object, not an array".into(),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        E::with_message(
            StatusCode::BAD_REQUEST,
            format!(
                "Malformed request body: {}",
                http_util::json_error_message(&e)
            ),
        )
    })
}

/// Path parameters; a malformed one is 400 with the parser's words.
pub async fn path_params<T, E, S>(parts: &mut Parts, state: &S) -> Result<T, E>
where
    T: DeserializeOwned + Send,
    E: MessageError,
    S: Send + Sync,
{
    match axum::extract::Path::<T>::from_request_parts(parts, state).await {
        Ok(axum::extract::Path(v)) => Ok(v),
        Err(e) => Err(E::with_message(StatusCode::BAD_REQUEST, e.body_text())),
    }
}

const KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// Middleware: gives the router's own bodiless errors (405 with `Allow`, and any other) the
/// `{"message"}` shape in the face's error `E`, keeping their headers; a method HTTP does not
/// define is 501, as in the original.
pub async fn render_bare_errors<E: MessageError>(req: Request, next: Next) -> Response {
    let unknown_method = !KNOWN_METHODS.contains(req.method());
    let response = next.run(req).await;
    super::bare_errors::fill(response, |status| {
        let error = if status == StatusCode::METHOD_NOT_ALLOWED && unknown_method {
            E::with_message(
                StatusCode::NOT_IMPLEMENTED,
                "Method not implemented.".into(),
            )
        } else {
            let reason = status.canonical_reason().unwrap_or("Request failed");
            E::with_message(status, format!("{reason}."))
        };
        Some(error.into_response())
    })
}
