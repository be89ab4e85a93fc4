//! `/appliance/certificates/*`: the served certificate (the same one NetHSM's
//! `/config/tls/cert.pem` reports: one identity in the core), a CSR for a new key, and the CA
//! certificates the appliance trusts for its outgoing connections. Root Administrators only
//! (the face's sessions are theirs).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use strongroom_core::keys::CsrSubject;

use super::certificates_wire::{
    ApplianceX509Certificate, CaCertificateInfo, CaX509Certificate,
    CaX509CertificateDrResponseList, CertificateSigningRequestData,
    CertificateSigningRequestInputData, InstallCertificateSpec,
};
use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::list_query::ListQuery;
use crate::app::AppState;

/// A JSON body the spec does not require: an empty body is `None`. Otherwise as
/// [`ApplianceJson`] (content type, size, shape): whitespace alone is not JSON, so it is
/// refused like any other body that does not parse.
pub struct OptionalJson<T>(Option<T>);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApplianceError;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, BODY_LIMIT + 1)
            .await
            .map_err(|_| {
                ApplianceError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    format!("The request body is larger than {BODY_LIMIT} bytes."),
                )
            })?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let ApplianceJson(value) = ApplianceJson::<T>::from_request(req, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

/// The face's body limit ([`ApplianceJson`]'s).
const BODY_LIMIT: usize = 64 * 1024;

/// The host's name: the default common name and DNS name of a CSR, as the spec says.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn list(field: &Option<String>) -> Vec<String> {
    field
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The spec's CSR settings as the core's subject: the common name defaults to the host name,
/// the DNS names (`fqdn`) too; `ip` adds IP addresses.
fn subject_of(input: CertificateSigningRequestInputData) -> CsrSubject {
    let common_name = input
        .common_name
        .clone()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(hostname);
    let mut names = list(&input.fqdn);
    if names.is_empty() {
        names.push(hostname());
    }
    names.extend(list(&input.ip).into_iter().map(|ip| format!("IP:{ip}")));
    CsrSubject {
        country_name: input.country,
        state_or_province_name: input.state,
        locality_name: input.locality,
        organization_name: input.organization,
        organizational_unit_name: input.organization_unit,
        common_name,
        email_address: input.email,
        subject_alt_names: Some(names),
    }
}

/// `GET /appliance/certificates/server` (operationId `getApplianceCertificate`).
#[utoipa::path(
    get,
    path = "/appliance/certificates/server",
    operation_id = "getApplianceCertificate",
    tag = "certificates",
    responses(
        (status = 200, description = "The certificate the server presents.",
            body = ApplianceX509Certificate),
        super::openapi::Session,
    )
)]
pub async fn get_appliance_certificate(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<Json<ApplianceX509Certificate>, ApplianceError> {
    let served = s
        .run(move |core| {
            core.operational(&session.principal)?
                .appliance()
                .tls_certificate_info()
        })
        .await?;
    Ok(Json(ApplianceX509Certificate {
        certificate: served.info.into(),
        trusted: served.trusted,
    }))
}

/// `POST /appliance/certificates/server` (operationId `updateApplianceCertificate`): a new
/// self-signed certificate (`selfsigned_format`), or the signed certificate of a CSR
/// (`csr_format`); exactly one. Served to the next connection; 204.
#[utoipa::path(
    post,
    path = "/appliance/certificates/server",
    operation_id = "updateApplianceCertificate",
    tag = "certificates",
    request_body(content = InstallCertificateSpec, content_type = "application/json",
        description = "Exactly one of the three formats; an empty body sets none (400)."),
    responses(
        (status = 204, description = "The new certificate is served from the next connection."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn update_appliance_certificate(
    State(s): State<AppState>,
    session: DrSession,
    OptionalJson(spec): OptionalJson<InstallCertificateSpec>,
) -> Result<StatusCode, ApplianceError> {
    let spec = spec.unwrap_or_default();
    let given = [
        spec.selfsigned_format.is_some(),
        spec.csr_format.is_some(),
        spec.pkcs12_format.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApplianceError::invalid_request(
            "Set exactly one of selfsigned_format, csr_format and pkcs12_format.",
        ));
    }
    let who = session.principal;
    if let Some(p12) = spec.pkcs12_format {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(p12.certificate.trim())
            .map_err(|_| {
                ApplianceError::invalid_request("pkcs12_format.certificate is not base64.")
            })?;
        let password = p12.password;
        s.run(move |core| {
            let password = password.as_ref().map(|p| p.expose()).unwrap_or("");
            core.operational(&who)?
                .appliance()
                .install_tls_pkcs12(&der, password)
        })
        .await?;
    } else if let Some(input) = spec.selfsigned_format {
        let subject = subject_of(input);
        s.run(move |core| {
            core.operational(&who)?
                .appliance()
                .generate_self_signed(&subject)
        })
        .await?;
    } else if let Some(csr) = spec.csr_format {
        let chain: Vec<String> = csr
            .ca_chain
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect();
        s.run(move |core| {
            core.operational(&who)?
                .appliance()
                .install_tls_certificate(&csr.certificate, &chain)
        })
        .await?;
    }
    s.tls.reload(&s.core).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /appliance/certificates/actions/generate-csr` (operationId `generateCsr`): a new
/// key, kept until its certificate is installed, and its CSR.
#[utoipa::path(
    post,
    path = "/appliance/certificates/actions/generate-csr",
    operation_id = "generateCsr",
    tag = "certificates",
    request_body(content = Option<CertificateSigningRequestInputData>,
        content_type = "application/json",
        description = "The subject; left out (or null), the host name."),
    responses(
        (status = 200, description = "The CSR of a new key, in PEM.",
            body = CertificateSigningRequestData),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn generate_csr(
    State(s): State<AppState>,
    session: DrSession,
    OptionalJson(input): OptionalJson<Option<CertificateSigningRequestInputData>>,
) -> Result<Json<CertificateSigningRequestData>, ApplianceError> {
    let input = input.flatten().unwrap_or_default();
    let subject = subject_of(input);
    let value = s
        .run(move |core| {
            core.operational(&session.principal)?
                .appliance()
                .tls_csr_for_new_key(&subject)
        })
        .await?;
    Ok(Json(CertificateSigningRequestData { value }))
}

/// `GET /appliance/certificates/ca` (operationId `getApplianceCaCertificates`), with the
/// spec's filter, sort and paging parameters, read as every list of the face reads them.
#[utoipa::path(
    get,
    path = "/appliance/certificates/ca",
    operation_id = "getApplianceCaCertificates",
    tag = "certificates",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The CA certificates the appliance trusts.",
            body = CaX509CertificateDrResponseList),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_appliance_ca_certificates(
    State(s): State<AppState>,
    session: DrSession,
    query: ListQuery,
) -> Result<Json<CaX509CertificateDrResponseList>, ApplianceError> {
    let all = s
        .run(move |core| {
            core.operational(&session.principal)?
                .appliance()
                .trusted_cas()
        })
        .await?;
    let cas: Vec<CaX509Certificate> = all
        .into_iter()
        .map(|info| CaX509Certificate {
            trusted_issuer: info.issuer_dn.clone(),
            root: info.root,
            certificate: info.into(),
        })
        .collect();
    let page = query.page(&cas);
    Ok(Json(CaX509CertificateDrResponseList {
        list: (page.list.into_iter())
            .map(|v| serde_json::from_value(v).expect("a certificate the page serialised"))
            .collect(),
        meta: page.meta,
    }))
}

/// `POST /appliance/certificates/ca` (operationId `addCaCertificates`): 204.
#[utoipa::path(
    post,
    path = "/appliance/certificates/ca",
    operation_id = "addCaCertificates",
    tag = "certificates",
    request_body(content = Vec<CaCertificateInfo>, content_type = "application/json"),
    responses(
        (status = 204, description = "The certificates are trusted."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn add_ca_certificates(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(add): ApplianceJson<Vec<CaCertificateInfo>>,
) -> Result<StatusCode, ApplianceError> {
    let pems: Vec<String> = add.into_iter().map(|c| c.value).collect();
    s.run(move |core| {
        core.operational(&session.principal)?
            .appliance()
            .add_trusted_cas(&pems)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /appliance/certificates/ca/actions/remove` (operationId `deleteCaCertificates`):
/// 204; a certificate that is not installed is a 400 and nothing is removed.
#[utoipa::path(
    post,
    path = "/appliance/certificates/ca/actions/remove",
    operation_id = "deleteCaCertificates",
    tag = "certificates",
    request_body(content = Vec<CaCertificateInfo>, content_type = "application/json"),
    responses(
        (status = 204, description = "The certificates are no longer trusted."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn delete_ca_certificates(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(remove): ApplianceJson<Vec<CaCertificateInfo>>,
) -> Result<StatusCode, ApplianceError> {
    let pems: Vec<String> = remove.into_iter().map(|c| c.value).collect();
    s.run(move |core| {
        core.operational(&session.principal)?
            .appliance()
            .remove_trusted_cas(&pems)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
