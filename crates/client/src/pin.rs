//! HTTPS that trusts exactly one certificate: the server's, named by the SHA-256 fingerprint
//! it printed at start (`certificate SHA-256 fingerprint AA:BB:...`). The certificate is
//! self-signed, so there is no CA to verify it against; verification is never switched off:
//! any other certificate fails the handshake, and handshake signatures are still checked.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A fingerprint that is not 32 bytes of hex.
#[derive(Debug, thiserror::Error)]
#[error(
    "fingerprint {0:?}: expected the 32-byte SHA-256 the server printed, as AA:BB:... hex pairs"
)]
pub struct BadFingerprint(pub String);

/// Parses a SHA-256 fingerprint: 32 bytes of hex, in pairs separated by colons (as the
/// server and `openssl x509 -fingerprint -sha256` print it) or not separated at all, with an
/// optional `sha256:` prefix (the form signstar's `nethsm` CLI writes its pins in, so one pin
/// works in both tools).
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], BadFingerprint> {
    let bad = || BadFingerprint(text.to_owned());
    let text = text.trim();
    let text = match text.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256:") => &text[7..],
        _ => text,
    };
    let hex: String = if text.contains(':') {
        let pairs: Vec<&str> = text.split(':').collect();
        if pairs.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        pairs.concat()
    } else {
        text.to_owned()
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// `bytes` as upper-case hex pairs joined by colons, the form the server prints.
pub fn format_fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `bytes` as `sha256:<lower-case hex>`, the form signstar's `nethsm` CLI writes pins in.
pub fn signstar_form(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The SHA-256 fingerprint of a DER certificate, in the server's printed form.
pub fn fingerprint_of(der: &[u8]) -> String {
    format_fingerprint(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

/// A rustls client configuration whose only trust anchor is the pinned certificate.
pub fn pinned_tls(fingerprint: &str) -> Result<rustls::ClientConfig, BadFingerprint> {
    let fingerprint = parse_fingerprint(fingerprint)?;
    // "Dangerous" only in that it replaces CA verification: the pinned certificate is the
    // sole trust anchor, and handshake signatures are still verified against it.
    Ok(end_entity_tls(move |der| check_pinned(&fingerprint, der)))
}

/// Accepts `der` only if it is the certificate named by `fingerprint`.
fn check_pinned(fingerprint: &[u8; 32], der: &[u8]) -> Result<(), rustls::Error> {
    let seen = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    if seen.as_ref() == fingerprint {
        Ok(())
    } else {
        Err(rustls::Error::General(format!(
            "the server's certificate {} is not the pinned one {}",
            format_fingerprint(seen.as_ref()),
            format_fingerprint(fingerprint)
        )))
    }
}

/// A reqwest client builder, HTTPS only, pinned to the certificate; callers add their own
/// timeouts and pool settings.
pub fn client_builder(fingerprint: &str) -> Result<reqwest::ClientBuilder, BadFingerprint> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(pinned_tls(fingerprint)?)
        .https_only(true))
}

/// A rustls client configuration (aws-lc-rs, safe default versions, no client certificate)
/// that decides on the server's certificate by `check` alone, with no CA, name or date
/// checks: for a pinned self-signed certificate, or for callers that only report what the
/// peer presents (the CLI's `--insecure-accept-any-certificate`, the appliance's TLS probe).
/// The handshake's signatures are still verified against that certificate's key, so the peer
/// holds the key of the certificate `check` saw.
pub fn end_entity_tls(
    check: impl Fn(&[u8]) -> Result<(), rustls::Error> + Send + Sync + 'static,
) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(EndEntityCheck {
        check: Box::new(check),
        provider: provider.clone(),
    });
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the aws-lc-rs provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

type CertCheck = Box<dyn Fn(&[u8]) -> Result<(), rustls::Error> + Send + Sync>;

/// The verifier of [`end_entity_tls`].
struct EndEntityCheck {
    check: CertCheck,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for EndEntityCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndEntityCheck")
    }
}

impl ServerCertVerifier for EndEntityCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        (self.check)(end_entity).map(|()| ServerCertVerified::assertion())
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

/// A well-formed fingerprint, for tests.
#[cfg(test)]
pub(crate) const EXAMPLE_FINGERPRINT: &str = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:\
                                               00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = EXAMPLE_FINGERPRINT;

    #[test]
    fn fingerprint_round_trips_in_the_printed_form() {
        let bytes = parse_fingerprint(FP).unwrap();
        assert_eq!(format_fingerprint(&bytes), FP);
        assert_eq!(parse_fingerprint(&FP.to_lowercase()).unwrap(), bytes);
        assert_eq!(parse_fingerprint(&FP.replace(':', "")).unwrap(), bytes);
        let signstar = format!("sha256:{}", FP.replace(':', "").to_lowercase());
        assert_eq!(signstar_form(&bytes), signstar);
        assert_eq!(parse_fingerprint(&signstar).unwrap(), bytes);
        assert_eq!(parse_fingerprint(&format!("sha256:{FP}")).unwrap(), bytes);
    }

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
        let fingerprint = parse_fingerprint(&fingerprint_of(b"cert one").to_lowercase()).unwrap();
        let pinned = EndEntityCheck {
            check: Box::new(move |der| check_pinned(&fingerprint, der)),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let check = |der: &'static [u8]| {
            pinned.verify_server_cert(&CertificateDer::from(der), &[], &name, &[], UnixTime::now())
        };
        assert!(check(b"cert one").is_ok());
        assert!(check(b"cert two").is_err());
    }

    #[test]
    fn fingerprint_of_the_wrong_length_or_shape_is_refused() {
        assert!(parse_fingerprint(&FP[3..]).is_err());
        assert!(parse_fingerprint(&format!("{FP}:00")).is_err());
        assert!(parse_fingerprint(&FP.replacen(":", "", 1)).is_err());
        assert!(parse_fingerprint(&FP.replace("FF", "FG")).is_err());
        assert!(parse_fingerprint("").is_err());
    }
}
