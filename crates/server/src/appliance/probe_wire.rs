//! Bodies of `POST /appliance/certificates/server/actions/probe-ssl-connection`, named after
//! the spec's schemas.

use serde::{Deserialize, Serialize};

/// The spec's `ProbeSslSpec`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ProbeSslSpec {
    /// `https://host[:port][/...]` or `host[:port]`; the port defaults to 443.
    pub uri: String,
}

/// The spec's `ApplianceX509Certificate` (as `ApplianceX509CertificateDrResponseEntity`),
/// with the meanings of Java's `X509Certificate` getters that its field descriptions follow.
/// A field the certificate does not have (no key usage extension, say) is left out.
///
/// Named `ProbedX509Certificate` in the OpenAPI document, beside the served certificate's
/// `ApplianceX509Certificate` (`certificates_wire`), whose list fields are always present.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ProbedX509Certificate)]
pub struct ApplianceX509Certificate {
    /// Decimal, as Java's `BigInteger.toString()`.
    pub serial_number: String,
    /// Milliseconds since the Unix epoch.
    pub not_after: i64,
    pub not_before: i64,
    /// Base64 of the signature value.
    pub signature: String,
    pub version: i32,
    pub issuer_dn: String,
    pub subject_dn: String,
    /// Java's name for it (`SHA256withECDSA`), or the OID where there is none.
    pub sig_alg_name: String,
    pub sig_alg_oid: String,
    /// Base64 of the DER `SubjectPublicKeyInfo` (Java's `getEncoded()`, format `X.509`).
    pub public_key: String,
    pub public_key_format: String,
    pub public_key_algorithm: String,
    /// SHA-256 of the certificate's DER, as colon-separated upper-case hex: the form the
    /// server prints for its own certificate and `openssl x509 -fingerprint -sha256` shows.
    pub thumbprint: String,
    /// The certificate in PEM.
    pub certificate: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_usage: Option<Vec<bool>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issuer_alternative_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject_alternative_names: Option<Vec<String>>,
    /// OIDs, as Java's `getExtendedKeyUsage()`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub extended_key_usage: Option<Vec<String>>,
    /// Whether the chain the peer sent verifies, for the name probed, against the host's
    /// trust store at the appliance's time.
    pub trusted: bool,
}
