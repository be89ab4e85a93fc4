//! `/keys`: the key store (list, generate, import as JSON or PEM, get, delete, `public.pem`, sign,
//! tag restrictions, labels, certificates, move). Rules and cryptography live in the core (`strongroom_core::keys`);
//! the extractors here check the route's role first.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use strongroom_core::keys::{self, ImportedKey, KeyType, Mechanism, NewKey, PublicData};
use zeroize::Zeroizing;

use super::error::NetHsmError;
use super::extract::{
    AcceptJson, AcceptPem, Admin, AdminOrOperator, Caller, NetHsmJson, NetHsmPath, OperatorUser,
    check_accept,
};
use super::keys_metrics::{KeyOp, count};
use super::keys_pem;
use super::openapi::{
    AnswersJson, AnswersPem, Authenticated, CoreCall, Exists, Gated, Item, JsonBody, PutJsonBody,
};
use super::openapi_keys::{
    AnswersCert, CertBody, Certificate, ImportBody, KeyOrKeys, KeysQuery, MalformedQuery, Move,
    PrivateKeyPem, PutImportBody,
};
use super::openapi_params::{KeyId, Tag};
use super::wire::{
    CreateResourceId, KeyGenerateRequestData, KeyItem, KeyPublicData, KeyRestrictions, KeySetLabel,
    MoveKeyRequest, PrivateKey, PublicKey, SignData, SignRequestData,
};
use crate::app::AppState;
use crate::face::json;
use crate::http_util::{self, BodyError};

const OCTET_STREAM: &str = "application/octet-stream";

fn bad_request(message: impl Into<String>) -> NetHsmError {
    NetHsmError::new(StatusCode::BAD_REQUEST, message)
}

/// A base64 field of a request body (the spec's `Base64`), decoded into wiped memory.
pub(super) fn decode(field: &str, value: &str) -> Result<Zeroizing<Vec<u8>>, NetHsmError> {
    // The spec's `Base64` is at least one character (`^[a-zA-Z0-9+/]+={0,3}$`): an empty
    // string is refused, never read as nothing (an RSA import took `"data": ""`).
    if value.is_empty() {
        return Err(bad_request(format!("{field} is empty.")));
    }
    STANDARD
        .decode(value)
        .map(Zeroizing::new)
        .map_err(|_| bad_request(format!("{field} is not valid base64.")))
}

/// The parts of a new key both generate and import carry.
fn new_key(
    id: Option<String>,
    key_type: &str,
    mechanisms: &[String],
    restrictions: Option<KeyRestrictions>,
    label: Option<String>,
) -> Result<NewKey, NetHsmError> {
    Ok(NewKey {
        id,
        key_type: KeyType::parse(key_type)?,
        mechanisms: mechanisms
            .iter()
            .map(|m| Mechanism::parse(m))
            .collect::<Result<_, _>>()?,
        tags: restrictions.map(|r| r.tags).unwrap_or_default(),
        label: label.unwrap_or_default(),
    })
}

/// 201 with the new id in the body and in `Location`.
fn created(id: String) -> Response {
    let location = format!("/api/v1/keys/{id}");
    let mut response = (StatusCode::CREATED, NetHsmJson(CreateResourceId { id })).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// The `filter` and `label` of a `/keys` query: whether `filter` is set ("to any value"),
/// and the label asked for, percent-decoded (a `label` that is set, even to the empty
/// string, matches the keys of exactly that label).
fn list_query(uri: &Uri) -> Result<(bool, Option<String>), NetHsmError> {
    if uri.query().is_none() {
        return Ok((false, None));
    }
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|_| bad_request("Malformed query string."))?;
    let filter = pairs.iter().any(|(k, _)| k == "filter");
    let label = pairs
        .into_iter()
        .find(|(k, _)| k == "label")
        .map(|(_, v)| v);
    Ok((filter, label))
}

/// `GET /keys[?filter][&label]`.
#[utoipa::path(
    get,
    path = "/keys",
    operation_id = "listKeys",
    tag = "keys",
    params(KeysQuery),
    responses(
        (status = 200, description = "The ids of the keys of the caller's namespace.",
            body = Vec<KeyItem>),
        Gated,
        Authenticated,
        AnswersJson,
        MalformedQuery,
        CoreCall,
    )
)]
pub async fn keys_get(
    State(s): State<AppState>,
    Caller(who, _): AdminOrOperator,
    _: AcceptJson,
    uri: Uri,
) -> Result<NetHsmJson<Vec<KeyItem>>, NetHsmError> {
    let (filter, label) = list_query(&uri)?;
    let ids = s
        .run(move |core| {
            core.operational(&who)?
                .keys()
                .list(filter, label.as_deref())
        })
        .await?;
    Ok(NetHsmJson(
        ids.into_iter().map(|id| KeyItem { id }).collect(),
    ))
}

/// `POST /keys/generate`.
#[utoipa::path(
    post,
    path = "/keys/generate",
    operation_id = "generateKey",
    tag = "keys",
    request_body = KeyGenerateRequestData,
    responses(
        (status = 201, description = "Generated; the id is also in `Location`.",
            body = CreateResourceId,
            headers(("location" = String, description = "`/api/v1/keys/{id}`."))),
        Gated,
        Authenticated,
        JsonBody,
        Exists,
        CoreCall,
    )
)]
pub async fn keys_generate_post(
    State(s): State<AppState>,
    Caller(who, _): Admin,
    NetHsmJson(req): NetHsmJson<KeyGenerateRequestData>,
) -> Result<Response, NetHsmError> {
    let key_type = req.key_type.clone();
    let generated = async {
        let new = new_key(
            req.id,
            &req.key_type,
            &req.mechanisms,
            req.restrictions,
            req.label,
        )?;
        let length = req.length;
        let id = s
            .run(move |core| core.operational(&who)?.keys().generate(&new, length))
            .await?;
        Ok(created(id))
    };
    count(&s, KeyOp::Generate(&key_type), generated.await)
}

fn imported(req: PrivateKey, id: Option<String>) -> Result<(NewKey, ImportedKey), NetHsmError> {
    let new = new_key(
        id,
        &req.key_type,
        &req.mechanisms,
        req.restrictions,
        req.label,
    )?;
    let p = &req.private;
    let mut key = ImportedKey::default();
    if let Some(v) = &p.prime_p {
        key.prime_p = decode("primeP", v)?;
    }
    if let Some(v) = &p.prime_q {
        key.prime_q = decode("primeQ", v)?;
    }
    if let Some(v) = &p.public_exponent {
        key.public_exponent = decode("publicExponent", v)?.to_vec();
    }
    if let Some(v) = &p.data {
        key.data = decode("data", v)?;
    }
    Ok((new, key))
}

async fn import(
    s: AppState,
    who: strongroom_core::identity::Principal,
    new: NewKey,
    key: ImportedKey,
) -> Result<String, NetHsmError> {
    let key_type = new.key_type.as_str();
    let imported = s
        .run(move |core| core.operational(&who)?.keys().import(&new, &key))
        .await
        .map_err(NetHsmError::from);
    count(&s, KeyOp::Import(key_type), imported)
}

/// `POST /keys`: import (JSON, or a PEM file as multipart: [`keys_pem`]) with a generated id.
#[utoipa::path(
    post,
    path = "/keys",
    operation_id = "importKey",
    tag = "keys",
    summary = "Imports a private key under a new id.",
    description = "Imports a private key under an id the server makes, into the caller's \
                   namespace: the key's parts as JSON, or a PEM file with the key's \
                   arguments as multipart/form-data (a POST body without a media type is \
                   read as JSON).",
    request_body(content(
        (PrivateKey = "application/json"),
        // The key file's part may have any media type (the vendor's clients send
        // application/x-pem-file): none is named, which also lets schemathesis send one.
        (PrivateKeyPem = "multipart/form-data", encoding(
            ("arguments" = (content_type = "application/json")),
        )),
    )),
    responses(
        (status = 201, description = "Imported; the id is also in `Location`.",
            body = CreateResourceId,
            headers(("location" = String, description = "`/api/v1/keys/{id}`."))),
        Gated,
        Authenticated,
        ImportBody,
        CoreCall,
    )
)]
pub async fn keys_post(
    State(s): State<AppState>,
    Caller(who, _): Admin,
    request: Request,
) -> Result<Response, NetHsmError> {
    if keys_pem::is_multipart(request.headers()) {
        return Ok(created(keys_pem::import(s, who, None, request).await?));
    }
    let req = json::read_body::<PrivateKey, NetHsmError>(request, json::BODY_LIMIT).await?;
    let (new, key) = imported(req, None)?;
    Ok(created(import(s, who, new, key).await?))
}

/// `PUT /keys/{KeyID}`: import (JSON, or a PEM file as multipart) under that id; 204.
#[utoipa::path(
    put,
    path = "/keys/{KeyID}",
    operation_id = "importKeyWithId",
    tag = "keys",
    summary = "Imports a private key under this id.",
    description = "Imports a private key under this id, into the caller's namespace: the \
                   key's parts as JSON, or a PEM file with the key's arguments as \
                   multipart/form-data.",
    params(KeyId),
    request_body(content(
        (PrivateKey = "application/json"),
        // The key file's part may have any media type (the vendor's clients send
        // application/x-pem-file): none is named, which also lets schemathesis send one.
        (PrivateKeyPem = "multipart/form-data", encoding(
            ("arguments" = (content_type = "application/json")),
        )),
    )),
    responses(
        (status = 204, description = "Imported."),
        Gated,
        Authenticated,
        PutImportBody,
        Exists,
        CoreCall,
    )
)]
pub async fn key_put(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    request: Request,
) -> Result<StatusCode, NetHsmError> {
    if keys_pem::is_multipart(request.headers()) {
        keys_pem::import(s, who, Some(id), request).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let req = json::read_body::<PrivateKey, NetHsmError>(request, json::BODY_LIMIT).await?;
    let (new, key) = imported(req, Some(id))?;
    import(s, who, new, key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /keys/{KeyID}`, and `GET /keys/{KeyPrefix}*` (the ids that start with the prefix).
#[utoipa::path(
    get,
    path = "/keys/{KeyID}",
    operation_id = "getKey",
    tag = "keys",
    description = "The key's public part, mechanisms, restrictions, label and use count. A \
                   `KeyID` that ends in `*` is the vendor's `GET /keys/{KeyPrefix}*` (the same \
                   route here): the ids of the keys whose id starts with the prefix, as \
                   `GET /keys` lists them (`filter` and `label` apply to it only).",
    params(KeyId, KeysQuery),
    responses(
        (status = 200, description = "The key; or, for a prefix, the ids of the keys.",
            body = KeyOrKeys),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn key_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    _: AcceptJson,
    uri: Uri,
) -> Result<Response, NetHsmError> {
    if let Some(prefix) = id.strip_suffix('*') {
        strongroom_core::keys::check_id_prefix(prefix)?;
        let (filter, label) = list_query(&uri)?;
        let prefix = prefix.to_owned();
        let ids = s
            .run(move |core| {
                core.operational(&who)?
                    .keys()
                    .list(filter, label.as_deref())
            })
            .await?;
        let items: Vec<KeyItem> = ids
            .into_iter()
            .filter(|id| id.starts_with(&prefix))
            .map(|id| KeyItem { id })
            .collect();
        return Ok(NetHsmJson(items).into_response());
    }
    Ok(key_info(s, who, id).await?.into_response())
}

async fn key_info(
    s: AppState,
    who: strongroom_core::identity::Principal,
    id: String,
) -> Result<NetHsmJson<PublicKey>, NetHsmError> {
    let info = s
        .run(move |core| core.operational(&who)?.keys().get(&id))
        .await?;
    let public = match info.public {
        PublicData::Rsa {
            modulus,
            public_exponent,
        } => Some(KeyPublicData {
            modulus: Some(STANDARD.encode(modulus)),
            public_exponent: Some(STANDARD.encode(public_exponent)),
            data: None,
        }),
        PublicData::Data(data) => Some(KeyPublicData {
            data: Some(STANDARD.encode(data)),
            ..KeyPublicData::default()
        }),
        PublicData::None => None,
    };
    Ok(NetHsmJson(PublicKey {
        mechanisms: info
            .mechanisms
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect(),
        key_type: info.key_type.as_str().to_owned(),
        restrictions: KeyRestrictions { tags: info.tags },
        public,
        // Per node, since unlock (docs/keys.md).
        operations: info.operations,
        label: info.label,
    }))
}

/// `DELETE /keys/{KeyID}`: 204.
#[utoipa::path(
    delete,
    path = "/keys/{KeyID}",
    operation_id = "deleteKey",
    tag = "keys",
    params(KeyId),
    responses(
        (status = 204, description = "Deleted, with its certificate."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn key_delete(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.keys().delete(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /keys/{KeyID}/public.pem`: the SubjectPublicKeyInfo as PEM.
#[utoipa::path(
    get,
    path = "/keys/{KeyID}/public.pem",
    operation_id = "getKeyPublicPem",
    tag = "keys",
    params(KeyId),
    responses(
        (status = 200, description = "The key's SubjectPublicKeyInfo, PEM.", body = String,
            content_type = "application/x-pem-file"),
        Gated,
        Authenticated,
        AnswersPem,
        Item,
        CoreCall,
    )
)]
pub async fn key_public_pem_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    _: AcceptPem,
) -> Result<Response, NetHsmError> {
    let der = s
        .run(move |core| core.operational(&who)?.keys().public_der(&id))
        .await?;
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response())
}

/// `POST /keys/{KeyID}/sign`.
#[utoipa::path(
    post,
    path = "/keys/{KeyID}/sign",
    operation_id = "signWithKey",
    tag = "keys",
    params(KeyId),
    request_body = SignRequestData,
    responses(
        (status = 200, description = "The signature, base64.", body = SignData),
        Gated,
        Authenticated,
        JsonBody,
        Item,
        CoreCall,
    )
)]
pub async fn key_sign_post(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): OperatorUser,
    NetHsmJson(req): NetHsmJson<SignRequestData>,
) -> Result<NetHsmJson<SignData>, NetHsmError> {
    let signed = async {
        let mode = keys::sign_mode(&req.mode)?;
        let input = decode("message", &req.message)?;
        // EdDSA and P-256 ECDSA take tens of microseconds: made on the request's own worker,
        // since the hop to the blocking pool would cost more than they do. Every other key
        // (RSA, the other curves, BIP340: hundreds of microseconds to milliseconds) is signed
        // on the blocking pool, without a first look at the key on the worker for modes
        // that are never cheap (it read the key twice: a profile of RSA signing had it at 5 %
        // of the server's time).
        let cheap = if keys::may_sign_cheaply(mode) {
            s.run_inline(|core| {
                core.operational(&who)?
                    .keys()
                    .sign_if_cheap(&id, mode, &input)
            })?
        } else {
            None
        };
        let signature = match cheap {
            Some(signature) => signature,
            None => {
                s.run(move |core| core.operational(&who)?.keys().sign(&id, mode, &input))
                    .await?
            }
        };
        Ok(NetHsmJson(SignData {
            signature: STANDARD.encode(signature),
        }))
    };
    // Counted under the mode's name only once it parsed (a success).
    count(&s, KeyOp::Sign(&req.mode), signed.await)
}

/// `PUT /keys/{KeyID}/restrictions/tags/{Tag}`: 204 when added, 304 when the key had it.
#[utoipa::path(
    put,
    path = "/keys/{KeyID}/restrictions/tags/{Tag}",
    operation_id = "addKeyTag",
    tag = "keys",
    params(KeyId, Tag),
    responses(
        (status = 204, description = "Added."),
        (status = 304, description = "The key had the tag."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn key_tag_put(
    State(s): State<AppState>,
    NetHsmPath((id, tag)): NetHsmPath<(String, String)>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let added = s
        .run(move |core| core.operational(&who)?.keys().add_tag(&id, &tag))
        .await?;
    Ok(super::changed_or_not_modified(added))
}

/// `DELETE /keys/{KeyID}/restrictions/tags/{Tag}`: 204.
#[utoipa::path(
    delete,
    path = "/keys/{KeyID}/restrictions/tags/{Tag}",
    operation_id = "deleteKeyTag",
    tag = "keys",
    params(KeyId, Tag),
    responses(
        (status = 204, description = "Removed."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn key_tag_delete(
    State(s): State<AppState>,
    NetHsmPath((id, tag)): NetHsmPath<(String, String)>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.keys().remove_tag(&id, &tag))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /keys/{KeyID}/cert`: the certificate, exactly as stored, with the media type it was
/// stored with; answered as `application/octet-stream` (the spec's type, the same bytes) when
/// `Accept` excludes that type but allows this one. 406 when `Accept` allows neither.
#[utoipa::path(
    get,
    path = "/keys/{KeyID}/cert",
    operation_id = "getKeyCert",
    tag = "keys",
    summary = "The key's certificate.",
    description = "The key's certificate, exactly as it was stored, with the media type it was \
                   stored with; as application/octet-stream (the vendor's one type) when \
                   `Accept` excludes that media type but allows this one.",
    params(KeyId),
    responses(
        (status = 200, description = "The certificate.", content(
            (Certificate = "application/octet-stream"),
            (Certificate = "application/x-pem-file"),
            (Certificate = "application/x-x509-ca-cert"),
            (Certificate = "application/pkix-cert"),
            (Certificate = "application/pgp-keys"),
        )),
        Gated,
        Authenticated,
        AnswersCert,
        Item,
        CoreCall,
    )
)]
pub async fn key_cert_get(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): AdminOrOperator,
    headers: HeaderMap,
) -> Result<Response, NetHsmError> {
    let (stored, data) = s
        .run(move |core| core.operational(&who)?.keys().cert(&id))
        .await?;
    let media = if http_util::accepts(&headers, &stored) {
        stored
    } else {
        json::require_accept::<NetHsmError>(&headers, OCTET_STREAM)?;
        OCTET_STREAM.to_owned()
    };
    Ok(([(header::CONTENT_TYPE, media)], data).into_response())
}

/// `PUT /keys/{KeyID}/cert`: stores a certificate; 201. The body's media type is one of
/// [`keys::CERT_MEDIA_TYPES`] (415 otherwise), at most 1 MiB (413).
#[utoipa::path(
    put,
    path = "/keys/{KeyID}/cert",
    operation_id = "setKeyCert",
    tag = "keys",
    summary = "Stores a certificate for the key.",
    description = "Stores a certificate for the key, at most 1 MiB: an X.509 certificate (PEM \
                   or DER) of the key's public key, or an OpenPGP certificate; anything else \
                   is refused (400). Besides the vendor's application/octet-stream, the media \
                   types older clients send are taken, and the certificate is answered with \
                   the one it was stored with.",
    params(KeyId),
    request_body(content(
        (Certificate = "application/octet-stream"),
        (Certificate = "application/x-pem-file"),
        (Certificate = "application/x-x509-ca-cert"),
        (Certificate = "application/pkix-cert"),
        (Certificate = "application/pgp-keys"),
    )),
    responses(
        (status = 201, description = "Stored."),
        Gated,
        Authenticated,
        CertBody,
        Item,
        CoreCall,
    )
)]
pub async fn key_cert_put(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    request: Request,
) -> Result<StatusCode, NetHsmError> {
    let (parts, body) = request.into_parts();
    // A missing Content-Type counts as application/octet-stream, as for every other body.
    let media = http_util::content_type(&parts.headers).unwrap_or_else(|| OCTET_STREAM.to_owned());
    if !keys::CERT_MEDIA_TYPES.contains(&media.as_str()) {
        return Err(NetHsmError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type not supported; use application/octet-stream.",
        ));
    }
    let limit = keys::CERT_MAX_BYTES;
    let data = http_util::read_body(&parts.headers, body, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => NetHsmError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than {limit} bytes."),
            ),
            BodyError::Read(m) => bad_request(format!("Reading the request body failed: {m}")),
        })?;
    check_accept(&parts.headers)?;
    s.run(move |core| core.operational(&who)?.keys().set_cert(&id, &media, &data))
        .await?;
    Ok(StatusCode::CREATED)
}

/// `DELETE /keys/{KeyID}/cert`: 204.
#[utoipa::path(
    delete,
    path = "/keys/{KeyID}/cert",
    operation_id = "deleteKeyCert",
    tag = "keys",
    params(KeyId),
    responses(
        (status = 204, description = "Deleted."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn key_cert_delete(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.keys().delete_cert(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /keys/{KeyID}/label`: 204 when set, 304 when the key has that label already.
#[utoipa::path(
    put,
    path = "/keys/{KeyID}/label",
    operation_id = "setKeyLabel",
    tag = "keys",
    params(KeyId),
    request_body = KeySetLabel,
    responses(
        (status = 204, description = "Set."),
        (status = 304, description = "The key had this label."),
        Gated,
        Authenticated,
        PutJsonBody,
        Item,
        CoreCall,
    )
)]
pub async fn key_label_put(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    NetHsmJson(req): NetHsmJson<KeySetLabel>,
) -> Result<StatusCode, NetHsmError> {
    let changed = s
        .run(move |core| core.operational(&who)?.keys().set_label(&id, &req.label))
        .await?;
    Ok(super::changed_or_not_modified(changed))
}

/// `DELETE /keys/{KeyID}/label`: 204, also when the key has no label.
#[utoipa::path(
    delete,
    path = "/keys/{KeyID}/label",
    operation_id = "deleteKeyLabel",
    tag = "keys",
    params(KeyId),
    responses(
        (status = 204, description = "Removed (also when the key had none)."),
        Gated,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn key_label_delete(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.keys().delete_label(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /keys/{KeyID}/move`: 200 with the key's new id.
#[utoipa::path(
    post,
    path = "/keys/{KeyID}/move",
    operation_id = "moveKey",
    tag = "keys",
    params(KeyId),
    request_body = MoveKeyRequest,
    responses(
        (status = 200, description = "Moved: the key's new id.", body = CreateResourceId),
        Gated,
        Authenticated,
        JsonBody,
        Move,
        CoreCall,
    )
)]
pub async fn key_move_post(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): Admin,
    NetHsmJson(req): NetHsmJson<MoveKeyRequest>,
) -> Result<NetHsmJson<CreateResourceId>, NetHsmError> {
    let new_id = req.new_id.clone();
    s.run(move |core| core.operational(&who)?.keys().move_key(&id, &new_id))
        .await?;
    Ok(NetHsmJson(CreateResourceId { id: req.new_id }))
}
