//! `/config/tls/*` (root Administrator, Operational): the served certificate and key, a CSR
//! for it, a new key, and the cluster CA. The certificate is made and checked in the core
//! (`strongroom_core::appliance::tls`); after a change the server serves the new one to the
//! next connection ([`crate::tls_reload`]).

use super::wire::not_null;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use strongroom_core::appliance::tls::TlsKeyType;
use strongroom_core::keys::CsrSubject;

use super::error::NetHsmError;
use super::extract::{AcceptPem, Caller, NetHsmJson, RootAdmin};
use super::keys_csr::DistinguishedName;
use super::openapi::{AnswersPem, Authenticated, CoreCall, Gated, JsonBody};
use super::openapi_admin::{CsrBody, NoClusterCa, PemUpload, TlsChain};
use crate::app::AppState;
use crate::face::json;
use crate::http_util::{self, BodyError};

const PEM: &str = "application/x-pem-file";
/// A certificate with its chain: a few kilobytes each.
const PEM_BODY_LIMIT: usize = 256 * 1024;

fn pem_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, PEM)], body).into_response()
}

/// The body of a PEM upload (`Content-Type: application/x-pem-file`, 415 otherwise), as text.
async fn read_pem(request: Request) -> Result<(HeaderMap, String), NetHsmError> {
    let (parts, body) = request.into_parts();
    if http_util::content_type(&parts.headers).as_deref() != Some(PEM) {
        return Err(NetHsmError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type not supported; use application/x-pem-file.",
        ));
    }
    let bytes = read(&parts.headers, body, PEM_BODY_LIMIT).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| NetHsmError::new(StatusCode::BAD_REQUEST, "The PEM is not UTF-8 text."))?;
    Ok((parts.headers, text))
}

async fn read(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, NetHsmError> {
    http_util::read_body(headers, body, limit)
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
        })
}

/// `GET /config/tls/public.pem`.
#[utoipa::path(
    get,
    path = "/config/tls/public.pem",
    operation_id = "getTlsPublicKey",
    tag = "config",
    summary = "The served TLS key's public key.",
    responses(
        (status = 200, description = "The served key's SubjectPublicKeyInfo, PEM.",
            body = String, content_type = "application/x-pem-file"),
        Gated,
        Authenticated,
        AnswersPem,
        CoreCall,
    )
)]
pub async fn tls_public_pem_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptPem,
) -> Result<Response, NetHsmError> {
    let pem = s
        .run(move |core| core.operational(&who)?.appliance().tls_public_key_pem())
        .await?;
    Ok(pem_response(pem))
}

/// `GET /config/tls/cert.pem`: the certificate, then its chain.
#[utoipa::path(
    get,
    path = "/config/tls/cert.pem",
    operation_id = "getTlsCertificate",
    tag = "config",
    summary = "The served TLS certificate and its chain.",
    responses(
        (status = 200, description = "The served certificate, then its chain, PEM.",
            body = String, content_type = "application/x-pem-file"),
        Gated,
        Authenticated,
        AnswersPem,
        CoreCall,
    )
)]
pub async fn tls_cert_pem_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptPem,
) -> Result<Response, NetHsmError> {
    let pem = s
        .run(move |core| core.operational(&who)?.appliance().tls_certificate_pem())
        .await?;
    Ok(pem_response(pem))
}

/// `PUT /config/tls/cert.pem`: 201. The certificate must certify the served key (400), and
/// reach the cluster CA when one is set (412); intermediate certificates follow it.
#[utoipa::path(
    put,
    path = "/config/tls/cert.pem",
    operation_id = "setTlsCertificate",
    tag = "config",
    summary = "Install a TLS certificate for the served key.",
    description = "A certificate for the served key, then any intermediate certificates; \
                   served from the next connection.",
    request_body(content = String, content_type = "application/x-pem-file"),
    responses(
        (status = 201, description = "Installed."),
        TlsChain,
        Authenticated,
        PemUpload,
        CoreCall,
    )
)]
pub async fn tls_cert_pem_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    request: Request,
) -> Result<StatusCode, NetHsmError> {
    let (headers, pem) = read_pem(request).await?;
    json::require_accept::<NetHsmError>(&headers, json::JSON)?;
    s.run(move |core| {
        core.operational(&who)?
            .appliance()
            .set_tls_certificate(&pem)
    })
    .await?;
    s.tls.reload(&s.core).await?;
    Ok(StatusCode::CREATED)
}

/// `POST /config/tls/csr.pem`: a CSR for the served key (`DistinguishedName`, as for a key's
/// CSR), 200 as PEM.
#[utoipa::path(
    post,
    path = "/config/tls/csr.pem",
    operation_id = "generateTlsCsr",
    tag = "config",
    summary = "A CSR for the served TLS key.",
    request_body = DistinguishedName,
    responses(
        (status = 200, description = "A CSR for the served key, PEM.",
            body = String, content_type = "application/x-pem-file"),
        Gated,
        Authenticated,
        CsrBody,
        CoreCall,
    )
)]
pub async fn tls_csr_pem_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    request: Request,
) -> Result<Response, NetHsmError> {
    let (parts, body) = request.into_parts();
    let bytes = read(&parts.headers, body, json::BODY_LIMIT).await?;
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
    let pem = s
        .run(move |core| core.operational(&who)?.appliance().tls_csr(&subject))
        .await?;
    Ok(pem_response(pem))
}

/// `TlsKeyType`.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[schema(as = TlsKeyType)]
pub enum TlsKeyTypeWire {
    #[serde(rename = "RSA")]
    Rsa,
    Curve25519,
    #[serde(rename = "EC_P256")]
    EcP256,
    #[serde(rename = "EC_P384")]
    EcP384,
    #[serde(rename = "EC_P521")]
    EcP521,
    BrainpoolP256,
    BrainpoolP384,
    BrainpoolP512,
}

impl From<TlsKeyTypeWire> for TlsKeyType {
    fn from(t: TlsKeyTypeWire) -> Self {
        match t {
            TlsKeyTypeWire::Rsa => TlsKeyType::Rsa,
            TlsKeyTypeWire::Curve25519 => TlsKeyType::Curve25519,
            TlsKeyTypeWire::EcP256 => TlsKeyType::EcP256,
            TlsKeyTypeWire::EcP384 => TlsKeyType::EcP384,
            TlsKeyTypeWire::EcP521 => TlsKeyType::EcP521,
            TlsKeyTypeWire::BrainpoolP256 => TlsKeyType::BrainpoolP256,
            TlsKeyTypeWire::BrainpoolP384 => TlsKeyType::BrainpoolP384,
            TlsKeyTypeWire::BrainpoolP512 => TlsKeyType::BrainpoolP512,
        }
    }
}

/// `TlsKeyGenerateRequestData`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsKeyGenerateRequestData {
    #[serde(rename = "type")]
    pub key_type: TlsKeyTypeWire,
    /// Bits, for RSA only.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub length: Option<u32>,
}

/// `POST /config/tls/generate`: a new key and a self-signed certificate for it, served at
/// once; 204.
#[utoipa::path(
    post,
    path = "/config/tls/generate",
    operation_id = "generateTlsKey",
    tag = "config",
    summary = "A new TLS key and a self-signed certificate.",
    request_body = TlsKeyGenerateRequestData,
    responses(
        (status = 204, description = "A new key and a self-signed certificate for it, \
            served from the next connection."),
        Gated,
        Authenticated,
        JsonBody,
        CoreCall,
    )
)]
pub async fn tls_generate_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<TlsKeyGenerateRequestData>,
) -> Result<StatusCode, NetHsmError> {
    let key_type = TlsKeyType::from(req.key_type);
    s.run(move |core| {
        core.operational(&who)?
            .appliance()
            .generate_tls_key(key_type, req.length)
    })
    .await?;
    s.tls.reload(&s.core).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /config/tls/cluster-ca.pem`: 404 until one is set.
#[utoipa::path(
    get,
    path = "/config/tls/cluster-ca.pem",
    operation_id = "getClusterCa",
    tag = "config",
    summary = "The cluster CA.",
    responses(
        (status = 200, description = "The cluster CA's certificate, PEM.",
            body = String, content_type = "application/x-pem-file"),
        NoClusterCa,
        Gated,
        Authenticated,
        AnswersPem,
        CoreCall,
    )
)]
pub async fn tls_cluster_ca_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptPem,
) -> Result<Response, NetHsmError> {
    let ca = s
        .run(move |core| core.operational(&who)?.appliance().tls_cluster_ca())
        .await?;
    match ca {
        Some(pem) => Ok(pem_response(pem)),
        None => Err(NetHsmError::new(
            StatusCode::NOT_FOUND,
            "No cluster CA has been set.",
        )),
    }
}

/// `PUT /config/tls/cluster-ca.pem`: 201. A CA certificate (400 otherwise) that signed the
/// served certificate (412 otherwise).
#[utoipa::path(
    put,
    path = "/config/tls/cluster-ca.pem",
    operation_id = "setClusterCa",
    tag = "config",
    summary = "Set the cluster CA.",
    description = "A CA certificate that signed the served certificate; the node's etcd \
                   peer connections use it from then on (in cluster mode).",
    request_body(content = String, content_type = "application/x-pem-file"),
    responses(
        (status = 201, description = "Set."),
        TlsChain,
        Authenticated,
        PemUpload,
        CoreCall,
    )
)]
pub async fn tls_cluster_ca_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    request: Request,
) -> Result<StatusCode, NetHsmError> {
    let (headers, pem) = read_pem(request).await?;
    json::require_accept::<NetHsmError>(&headers, json::JSON)?;
    s.run(move |core| core.operational(&who)?.appliance().set_tls_cluster_ca(&pem))
        .await?;
    // The spec: "the underlying etcd server is restarted with the new CA".
    let core = s.core.clone();
    let _ =
        tokio::task::spawn_blocking(move || crate::cluster_peer_tls::refresh_logged(&core)).await;
    Ok(StatusCode::CREATED)
}
