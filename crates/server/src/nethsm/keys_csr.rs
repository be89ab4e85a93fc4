//! `POST /keys/{KeyID}/csr.pem`: a certificate signing request for a key, as PEM. The request
//! is made and signed in the core (`strongroom_core::keys::CsrSubject`).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use strongroom_core::keys::CsrSubject;
use utoipa::ToSchema;

use super::error::NetHsmError;
use super::extract::{AdminOrOperator, Caller, NetHsmPath};
use super::openapi::{AnswersPem, Authenticated, CoreCall, Gated, Item};
use super::openapi_keys::JsonBodyForPem;
use super::openapi_params::KeyId;
use super::wire::not_null;
use crate::app::AppState;
use crate::face::json;
use crate::http_util::{self, BodyError};

const PEM: &str = "application/x-pem-file";

/// `DistinguishedName`, the body of a CSR request. Every field but `commonName` may be left
/// out, but none is nullable in the spec (strings, and `subjectAltNames` an array): `null` is
/// refused (400) rather than taken for a field left out, as serde would for a plain `Option`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"commonName": "strongroom.example", "countryName": "DE"}))]
pub struct DistinguishedName {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub country_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub state_or_province_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub locality_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub organization_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub organizational_unit_name: Option<String>,
    pub common_name: String,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub email_address: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub subject_alt_names: Option<Vec<String>>,
}

impl From<DistinguishedName> for CsrSubject {
    fn from(dn: DistinguishedName) -> CsrSubject {
        CsrSubject {
            country_name: dn.country_name,
            state_or_province_name: dn.state_or_province_name,
            locality_name: dn.locality_name,
            organization_name: dn.organization_name,
            organizational_unit_name: dn.organizational_unit_name,
            common_name: dn.common_name,
            email_address: dn.email_address,
            subject_alt_names: dn.subject_alt_names,
        }
    }
}

/// `der` as PEM with `label`, lines of 64 characters.
pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `POST /keys/{KeyID}/csr.pem`: 200 with the request as `application/x-pem-file`.
/// Administrators, and Operators that meet the key's tag restriction. The body is JSON, but
/// the answer is PEM: `Accept` must allow `application/x-pem-file` (406 otherwise).
#[utoipa::path(
    post,
    path = "/keys/{KeyID}/csr.pem",
    operation_id = "createKeyCsr",
    tag = "keys",
    description = "A certificate signing request for the key, signed with it, for the \
                   distinguished name given. `subjectAltNames` left out is the common name; \
                   empty, no extension; `IP:` before an address makes it an IP name.",
    params(KeyId),
    request_body = DistinguishedName,
    responses(
        (status = 200, description = "The request, PEM.", body = String,
            content_type = "application/x-pem-file"),
        Gated,
        Authenticated,
        AnswersPem,
        JsonBodyForPem,
        Item,
        CoreCall,
    )
)]
pub async fn key_csr_post(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    request: Request,
) -> Result<Response, NetHsmError> {
    let (parts, body) = request.into_parts();
    let limit = json::BODY_LIMIT;
    let bytes = http_util::read_body(&parts.headers, body, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => NetHsmError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than {limit} bytes."),
            ),
            BodyError::Read(m) => NetHsmError::new(
                StatusCode::BAD_REQUEST,
                format!("Reading the request body failed: {m}"),
            ),
        })?;
    json::require_accept::<NetHsmError>(&parts.headers, PEM)?;
    let dn: DistinguishedName = serde_json::from_slice(&bytes).map_err(|e| {
        NetHsmError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "Malformed request body: {}",
                http_util::json_error_message(&e)
            ),
        )
    })?;
    let subject = CsrSubject::from(dn);
    let der = s
        .run(move |core| core.operational(&who)?.keys().csr(&id, &subject))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, PEM)],
        pem("CERTIFICATE REQUEST", &der),
    )
        .into_response())
}
