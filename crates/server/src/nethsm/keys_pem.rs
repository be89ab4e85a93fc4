//! `POST /keys` and `PUT /keys/{KeyID}` as `multipart/form-data` (the spec's
//! `PrivateKeyPem`): an `arguments` part (JSON: `mechanisms`, and optionally `restrictions`
//! and `label`) and a `key_file` part (a PEM private key; its type is the key's own). The
//! answers are the JSON import's (201 with `Location`, or 204). The key file is gathered into
//! a wiped buffer and never logged; the frames hyper and the multipart parser read it into
//! are theirs, and are not wiped (as for every body).

use super::wire::not_null;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use strongroom_core::identity::Principal;
use strongroom_core::keys::{Mechanism, NewPemKey};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::error::NetHsmError;
use super::extract::check_accept;
use super::wire::KeyRestrictions;
use crate::app::AppState;
use crate::face::json;
use crate::http_util;

const MULTIPART: &str = "multipart/form-data";

/// The most either part may hold: an 8192-bit RSA key in PEM is about 6.5 KiB.
const PART_LIMIT: usize = 64 * 1024;

/// The `arguments` part of a PEM import (`PrivateKeyPem` in the document).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PemArguments {
    mechanisms: Vec<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    restrictions: Option<KeyRestrictions>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    label: Option<String>,
}

fn bad_request(message: impl Into<String>) -> NetHsmError {
    NetHsmError::new(StatusCode::BAD_REQUEST, message)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> NetHsmError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        bad_request(format!("Malformed multipart body: {}", e.body_text()))
    }
}

fn too_large() -> NetHsmError {
    NetHsmError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body is larger than {} bytes.", json::BODY_LIMIT),
    )
}

/// Whether a key import comes as `multipart/form-data` (else it is JSON).
pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    http_util::content_type(headers).as_deref() == Some(MULTIPART)
}

/// Reads one part into a wiped buffer, at most [`PART_LIMIT`] bytes (413 otherwise).
async fn read_part(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
) -> Result<Zeroizing<Vec<u8>>, NetHsmError> {
    let mut out = Zeroizing::new(Vec::new());
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if out.len() + chunk.len() > PART_LIMIT {
            return Err(NetHsmError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The {name} part is larger than {PART_LIMIT} bytes."),
            ));
        }
        http_util::extend_wiping(&mut out, &chunk, PART_LIMIT);
    }
    Ok(out)
}

/// Imports the key of a multipart body under `id` (`None`: a generated one); answers its id.
pub(super) async fn import(
    s: AppState,
    who: Principal,
    id: Option<String>,
    request: Request,
) -> Result<String, NetHsmError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > json::BODY_LIMIT as u64) {
        return Err(too_large());
    }
    check_accept(request.headers())?;
    let mut multipart = Multipart::from_request(request, &s)
        .await
        .map_err(|e| bad_request(format!("Malformed multipart body: {}", e.body_text())))?;
    let mut arguments: Option<PemArguments> = None;
    let mut key_file: Option<Zeroizing<Vec<u8>>> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        let twice = || bad_request(format!("The {name} part is given twice."));
        match name.as_str() {
            "arguments" => {
                if arguments.is_some() {
                    return Err(twice());
                }
                let raw = read_part(&mut field, "arguments").await?;
                arguments = Some(serde_json::from_slice(&raw).map_err(|e| {
                    bad_request(format!(
                        "Malformed arguments: {}",
                        http_util::json_error_message(&e)
                    ))
                })?);
            }
            "key_file" => {
                if key_file.is_some() {
                    return Err(twice());
                }
                key_file = Some(read_part(&mut field, "key_file").await?);
            }
            _ => {
                return Err(bad_request(format!(
                    "Unexpected multipart part {name:?}; expected arguments and key_file."
                )));
            }
        }
    }
    let arguments = arguments.ok_or_else(|| bad_request("The arguments part is missing."))?;
    let key_file = key_file.ok_or_else(|| bad_request("The key_file part is missing."))?;
    let new = NewPemKey {
        id,
        mechanisms: arguments
            .mechanisms
            .iter()
            .map(|m| Mechanism::parse(m))
            .collect::<Result<_, _>>()?,
        tags: arguments.restrictions.map(|r| r.tags).unwrap_or_default(),
        label: arguments.label.unwrap_or_default(),
    };
    Ok(
        s.run(move |core| core.operational(&who)?.keys().import_pem(&new, &key_file))
            .await?,
    )
}
