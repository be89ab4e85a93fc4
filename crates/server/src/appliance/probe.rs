//! `POST /appliance/certificates/server/actions/probe-ssl-connection` (operationId
//! `probeSsl`): connects to the endpoint given, completes a TLS handshake, and describes the
//! certificate the peer presents, so that an administrator can decide whether to trust it.
//!
//! The probe accepts any certificate (deciding is the administrator's part; `trusted` says
//! whether the host's trust store would), but the peer must still prove it holds the
//! certificate's key in the handshake. No application data is sent or read. It lets an
//! administrator make the appliance open a connection to any host and port it can reach, so
//! it is for root Administrators only, audited like every POST, and bounded in time
//! ([`PROBE_TIMEOUT`]); see `docs/operations.md`.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore};
use strongroom_core::access::Access;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::probe_wire::{ApplianceX509Certificate, ProbeSslSpec};
use crate::app::AppState;

/// How long name resolution, the connection and the handshake together may take: below the
/// 10-second request timeout common clients (and the conformance run) use, so a probe that
/// hangs is answered as failed rather than dropped.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

/// `POST /appliance/certificates/server/actions/probe-ssl-connection`.
#[utoipa::path(
    post,
    path = "/appliance/certificates/server/actions/probe-ssl-connection",
    operation_id = "probeSsl",
    tag = "certificates",
    request_body(content = ProbeSslSpec, content_type = "application/json"),
    responses(
        (status = 200, description = "The certificate the peer presented, and whether the \
            appliance would trust it.", body = ApplianceX509Certificate),
        super::openapi::Session, super::openapi::ProbeRefused, super::openapi::JsonBodyLimits,
    )
)]
pub async fn probe_ssl(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(spec): ApplianceJson<ProbeSslSpec>,
) -> Result<Json<ApplianceX509Certificate>, ApplianceError> {
    Access::RootAdministrator.check(&session.principal)?;
    let endpoint = Endpoint::parse(&spec.uri)
        .map_err(|m| ApplianceError::invalid_request(format!("Invalid request body: {m}")))?;
    tracing::info!(endpoint = %endpoint, "probing a TLS endpoint");
    let chain = match tokio::time::timeout(PROBE_TIMEOUT, handshake(&endpoint)).await {
        Ok(Ok(chain)) => chain,
        Ok(Err(reason)) => return Err(probe_failed(&endpoint, reason)),
        Err(_) => {
            return Err(probe_failed(
                &endpoint,
                format!(
                    "no TLS handshake within {} seconds",
                    PROBE_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    let now = s.core.now();
    let name = endpoint.server_name.clone();
    let core = s.core.clone();
    let described = tokio::task::spawn_blocking(move || {
        // The administrator's trusted CAs (`/appliance/certificates/ca`) beside the host's.
        let appliance_cas = core.trusted_ca_certificates().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the trusted CA list could not be read; probing without it");
            Vec::new()
        });
        let trusted = is_trusted(&chain, &name, now, appliance_cas);
        describe(&chain[0], trusted)
    })
    .await
    .map_err(|e| strongroom_core::Error::Internal(format!("blocking task failed: {e}")))?;
    described
        .map(Json)
        .map_err(|reason| probe_failed(&endpoint, reason))
}

fn probe_failed(endpoint: &Endpoint, reason: String) -> ApplianceError {
    ApplianceError::new(
        StatusCode::BAD_REQUEST,
        "PROBE_FAILED",
        format!("The TLS probe of {endpoint} failed: {reason}"),
    )
}

/// Where to connect: a host name or IP address, and a port.
struct Endpoint {
    host: String,
    port: u16,
    server_name: ServerName<'static>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Endpoint {
    /// `https://host[:port][/path]` or `host[:port]`; IPv6 addresses in brackets; the port
    /// defaults to 443.
    fn parse(uri: &str) -> Result<Endpoint, String> {
        let bad = || format!("uri must be https://host[:port] or host[:port], not {uri:?}");
        let uri = uri.trim();
        let rest = match uri.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
            Some(_) => return Err(bad()),
            None => uri,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(bad());
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(bad)?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad());
            }
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            None => 443,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(bad()),
            },
        };
        if host.is_empty() {
            return Err(bad());
        }
        let server_name = ServerName::try_from(host.to_owned()).map_err(|_| bad())?;
        Ok(Endpoint {
            host: host.to_owned(),
            port,
            server_name,
        })
    }
}

/// Connects and completes the handshake; the peer's certificate chain, leaf first.
async fn handshake(endpoint: &Endpoint) -> Result<Vec<CertificateDer<'static>>, String> {
    let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(probe_config());
    let tls = connector
        .connect(endpoint.server_name.clone(), tcp)
        .await
        .map_err(|e| format!("no TLS handshake: {e}"))?;
    // Dropping the stream closes the connection: nothing is sent after the handshake.
    let chain: Vec<_> = (tls.get_ref().1.peer_certificates())
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect();
    if chain.is_empty() {
        return Err("the peer presented no certificate".into());
    }
    Ok(chain)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A client that accepts whatever certificate the peer presents: the probe reports it, it does
/// not trust it. The handshake's signature is still verified, so the peer holds the key of the
/// certificate reported.
fn probe_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(strongroom_client::pin::end_entity_tls(|_| Ok(()))))
        .clone()
}

/// The host's trust store, loaded once.
fn host_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(error = %e, "reading the host's trust store");
        }
        loaded.certs
    })
}

/// Whether the chain verifies for `name` at `now` against the host's trust store and the
/// appliance's own trusted CAs (DER).
fn is_trusted(
    chain: &[CertificateDer<'static>],
    name: &ServerName<'static>,
    now: time::OffsetDateTime,
    appliance_cas: Vec<Vec<u8>>,
) -> bool {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(host_roots().iter().cloned());
    roots.add_parsable_certificates(appliance_cas.into_iter().map(CertificateDer::from));
    if roots.is_empty() {
        return false;
    }
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build()
    else {
        return false;
    };
    let now = UnixTime::since_unix_epoch(Duration::from_secs(now.unix_timestamp().max(0) as u64));
    verifier
        .verify_server_cert(&chain[0], &chain[1..], name, &[], now)
        .is_ok()
}

/// The certificate in the spec's terms.
fn describe(der: &CertificateDer<'_>, trusted: bool) -> Result<ApplianceX509Certificate, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|_| "the peer's certificate is not a valid X.509 certificate".to_owned())?;
    let sig_alg_oid = cert.signature_algorithm.algorithm.to_id_string();
    let spki = cert.public_key();
    let key_usage = match cert.key_usage() {
        Ok(Some(ku)) => {
            let ku = ku.value;
            Some(vec![
                ku.digital_signature(),
                ku.non_repudiation(),
                ku.key_encipherment(),
                ku.data_encipherment(),
                ku.key_agreement(),
                ku.key_cert_sign(),
                ku.crl_sign(),
                ku.encipher_only(),
                ku.decipher_only(),
            ])
        }
        _ => None,
    };
    let subject_alternative_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => Some(san.value.general_names.iter().map(name_text).collect()),
        _ => None,
    };
    let issuer_alternative_names =
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::IssuerAlternativeName(ian) => {
                    Some(ian.general_names.iter().map(name_text).collect())
                }
                _ => None,
            });
    let extended_key_usage = match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let eku = eku.value;
            let mut oids: Vec<String> = [
                (eku.any, "2.5.29.37.0"),
                (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
                (eku.client_auth, "1.3.6.1.5.5.7.3.2"),
                (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
                (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
                (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
                (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, oid)| oid.to_owned())
            .collect();
            oids.extend(eku.other.iter().map(|o| o.to_id_string()));
            Some(oids)
        }
        _ => None,
    };
    Ok(ApplianceX509Certificate {
        serial_number: cert.serial.to_string(),
        not_after: cert.validity().not_after.timestamp() * 1000,
        not_before: cert.validity().not_before.timestamp() * 1000,
        signature: b64.encode(&cert.signature_value.data),
        version: cert.version().0 as i32 + 1,
        issuer_dn: cert.issuer().to_string(),
        subject_dn: cert.subject().to_string(),
        sig_alg_name: signature_algorithm_name(&sig_alg_oid)
            .map_or_else(|| sig_alg_oid.clone(), str::to_owned),
        sig_alg_oid,
        public_key: b64.encode(spki.raw),
        public_key_format: "X.509".into(),
        public_key_algorithm: key_algorithm_name(&spki.algorithm.algorithm.to_id_string()),
        thumbprint: strongroom_core::tls::fingerprint_of(der),
        certificate: pem(der),
        key_usage,
        issuer_alternative_names,
        subject_alternative_names,
        extended_key_usage,
        trusted,
    })
}

/// Java's standard names of the usual certificate signature algorithms.
fn signature_algorithm_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.5" => "SHA1withRSA",
        "1.2.840.113549.1.1.11" => "SHA256withRSA",
        "1.2.840.113549.1.1.12" => "SHA384withRSA",
        "1.2.840.113549.1.1.13" => "SHA512withRSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10045.4.3.2" => "SHA256withECDSA",
        "1.2.840.10045.4.3.3" => "SHA384withECDSA",
        "1.2.840.10045.4.3.4" => "SHA512withECDSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => return None,
    })
}

/// Java's names of the usual public key algorithms, or the OID.
fn key_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10045.2.1" => "EC",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => other,
    }
    .to_owned()
}

/// A subject or issuer alternative name as text: the name itself for DNS names, e-mail
/// addresses, URIs and IP addresses, the parser's description otherwise.
fn name_text(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
            (*s).to_owned()
        }
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes")).to_string(),
            16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("16 bytes")).to_string(),
            _ => name.to_string(),
        },
        GeneralName::DirectoryName(dn) => dn.to_string(),
        other => other.to_string(),
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn endpoints_parse() {
        for (uri, host, port) in [
            ("https://example.com", "example.com", 443),
            ("https://example.com:8443/path?q", "example.com", 8443),
            ("HTTPS://10.0.0.1:9", "10.0.0.1", 9),
            ("example.com:444", "example.com", 444),
            ("https://[::1]:8443/", "::1", 8443),
            ("[2001:db8::1]", "2001:db8::1", 443),
        ] {
            let e = Endpoint::parse(uri).unwrap_or_else(|m| panic!("{uri}: {m}"));
            assert_eq!((e.host.as_str(), e.port), (host, port), "{uri}");
        }
        for bad in [
            "",
            "http://example.com",
            "ldap://example.com:389",
            "https://user@example.com",
            "https://:443",
            "example.com:0",
            "example.com:65536",
            "example.com:x",
            "::1",
            "[::1",
            "[not-ip]:443",
            "bad name!:443",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} is refused");
        }
    }
}
