//! A reqwest client that trusts exactly one certificate: the one whose SHA-256 fingerprint the
//! server printed at start-up. No certificate authority is involved and verification is never
//! switched off: any other certificate fails the handshake.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::Client;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How long one request may take before it counts as an error (a timeout). It also bounds how
/// long a phase can overrun its duration.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a client pinned to `fingerprint` (`AA:BB:...`, upper-case hex, as the server prints
/// it). `pool_size` is the number of idle keep-alive connections kept per host: one per
/// concurrent task, so that every task reuses its own connection.
pub fn pinned_client(fingerprint: &str, pool_size: usize) -> anyhow::Result<Client> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedCert {
        fingerprint: normalise(fingerprint),
        provider: provider.clone(),
    });
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(pool_size)
        .build()
        .context("building the HTTPS client")
}

/// The SHA-256 fingerprint of a DER certificate in the server's format: upper-case hex bytes
/// joined by colons.
pub fn fingerprint_of(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn normalise(fingerprint: &str) -> String {
    fingerprint.trim().to_ascii_uppercase()
}

#[derive(Debug)]
struct PinnedCert {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint_of(end_entity);
        if seen == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate {seen} is not the pinned one ({})",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_format_matches_the_server() {
        // SHA-256("abc")
        assert_eq!(
            fingerprint_of(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:\
             B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn verifier_accepts_only_the_pinned_certificate() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let pinned = PinnedCert {
            fingerprint: normalise(&fingerprint_of(b"cert one").to_ascii_lowercase()),
            provider,
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let check = |der: &'static [u8]| {
            pinned.verify_server_cert(&CertificateDer::from(der), &[], &name, &[], UnixTime::now())
        };
        assert!(check(b"cert one").is_ok());
        assert!(check(b"cert two").is_err());
    }
}
