//! Bodies of `/appliance/certificates/*`, named after the schemas of
//! vrms-appliance-config-api-v2.json. Unknown fields are ignored, as elsewhere on this face.

use serde::{Deserialize, Serialize};
use strongroom_core::appliance::tls::CertificateInfo;

use super::list_query::MetadataList;

/// `ApplianceX509Certificate` (`ApplianceX509CertificateDrResponseEntity` without `_meta`,
/// which has nothing to say).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplianceX509Certificate {
    #[serde(flatten)]
    pub certificate: X509Certificate,
    pub trusted: bool,
}

/// `CaX509Certificate`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaX509Certificate {
    #[serde(flatten)]
    pub certificate: X509Certificate,
    pub trusted_issuer: String,
    pub root: bool,
}

/// The fields the two certificate schemas share.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct X509Certificate {
    pub serial_number: String,
    pub not_after: i64,
    pub not_before: i64,
    pub signature: String,
    pub version: i32,
    pub issuer_dn: String,
    pub subject_dn: String,
    pub sig_alg_name: String,
    pub sig_alg_oid: String,
    pub public_key: String,
    pub public_key_format: String,
    pub public_key_algorithm: String,
    pub thumbprint: String,
    pub certificate: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_unique_id: Option<Vec<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_unique_id: Option<Vec<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<Vec<bool>>,
    pub issuer_alternative_names: Vec<String>,
    pub subject_alternative_names: Vec<String>,
    pub extended_key_usage: Vec<String>,
}

impl From<CertificateInfo> for X509Certificate {
    fn from(c: CertificateInfo) -> Self {
        X509Certificate {
            serial_number: c.serial_number,
            not_after: c.not_after,
            not_before: c.not_before,
            signature: c.signature,
            version: c.version,
            issuer_dn: c.issuer_dn,
            subject_dn: c.subject_dn,
            sig_alg_name: c.sig_alg_name,
            sig_alg_oid: c.sig_alg_oid,
            public_key: c.public_key,
            public_key_format: "X.509".into(),
            public_key_algorithm: c.public_key_algorithm,
            thumbprint: c.thumbprint,
            certificate: c.certificate,
            issuer_unique_id: c.issuer_unique_id,
            subject_unique_id: c.subject_unique_id,
            key_usage: c.key_usage,
            issuer_alternative_names: c.issuer_alternative_names,
            subject_alternative_names: c.subject_alternative_names,
            extended_key_usage: c.extended_key_usage,
        }
    }
}

/// `CaX509CertificateDrResponseList`: the page `list_query::ListQuery` gives, its items typed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaX509CertificateDrResponseList {
    pub list: Vec<CaX509Certificate>,
    #[serde(rename = "_meta")]
    pub meta: MetadataList,
}

/// `CertificateSigningRequestInputData`: every field optional (and nullable).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CertificateSigningRequestInputData {
    #[serde(default)]
    pub common_name: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub organization_unit: Option<String>,
    /// Comma-separated DNS names.
    #[serde(default)]
    pub fqdn: Option<String>,
    /// Comma-separated IP addresses.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub locality: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// `CertificateSigningRequestData` (`...DrResponseEntity` without `_meta`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateSigningRequestData {
    pub value: String,
}

/// `CsrCertificateData`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CsrCertificateData {
    pub certificate: String,
    #[serde(default)]
    pub ca_chain: Option<Vec<Option<String>>>,
}

/// `Pkcs12CertificateData`: the file, base64. The password is a secret: never printed.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Pkcs12CertificateData {
    pub certificate: String,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<strongroom_core::secret::Passphrase>,
}

impl std::fmt::Debug for Pkcs12CertificateData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs12CertificateData")
            .finish_non_exhaustive()
    }
}

/// `InstallCertificateSpec`: exactly one of the three is set.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct InstallCertificateSpec {
    #[serde(default)]
    pub selfsigned_format: Option<CertificateSigningRequestInputData>,
    #[serde(default)]
    pub csr_format: Option<CsrCertificateData>,
    #[serde(default)]
    pub pkcs12_format: Option<Pkcs12CertificateData>,
}

/// `CaCertificateInfo`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaCertificateInfo {
    pub value: String,
}
