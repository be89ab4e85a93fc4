//! The certificate a key may carry (`/keys/{KeyID}/cert`): stored as the exact bytes it was
//! given, with the media type it was given with, in the key's sealed record.
//!
//! What is accepted: an X.509 certificate in PEM or DER, parsed (x509-parser) and refused
//! unless its public key is the key's; or an OpenPGP certificate (what signstar stores),
//! ASCII-armored or binary, recognised by its armor or its first packet (a public-key packet,
//! as RFC 9580 §10.1 requires of a certificate) and otherwise kept opaque. Anything else is
//! refused, so the slot never holds garbage a client would then fail on.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The media types a certificate may be stored with: the spec's `application/octet-stream`,
/// and the specific types of older NetHSM clients.
pub const CERT_MEDIA_TYPES: [&str; 5] = [
    "application/octet-stream",
    "application/x-pem-file",
    "application/x-x509-ca-cert",
    "application/pkix-cert",
    "application/pgp-keys",
];

/// The largest certificate (the spec's "Maximum size 1MB"); the face reads no more.
pub const CERT_MAX_BYTES: usize = 1024 * 1024;

/// A key's certificate as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredCert {
    pub media_type: String,
    /// The bytes, hex.
    pub data: String,
}

/// What kind of certificate some bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    X509Pem,
    X509Der,
    OpenPgp,
}

fn kind(data: &[u8]) -> Option<Kind> {
    let text = data.trim_ascii_start();
    if text.starts_with(b"-----BEGIN CERTIFICATE-----") {
        return Some(Kind::X509Pem);
    }
    if text.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        return Some(Kind::OpenPgp);
    }
    match data.first()? {
        0x30 => Some(Kind::X509Der),
        // A public-key packet (tag 6): old format 0b10_0110_ll, new format 0b11_000110.
        0x98..=0x9b | 0xc6 => Some(Kind::OpenPgp),
        _ => None,
    }
}

fn bad(message: &str) -> Error {
    Error::InvalidInput(message.into())
}

/// Checks `data` is a certificate for the key whose SubjectPublicKeyInfo DER is `spki`.
pub(super) fn check(data: &[u8], spki: &[u8]) -> Result<()> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    if data.is_empty() {
        return Err(bad("The certificate is empty."));
    }
    let not_x509 = || bad("The certificate is not a valid X.509 certificate.");
    let der = match kind(data) {
        None => {
            return Err(bad(
                "The certificate is neither an X.509 certificate (PEM or DER) nor an OpenPGP certificate.",
            ));
        }
        Some(Kind::OpenPgp) => return Ok(()),
        Some(Kind::X509Pem) => {
            let (_, pem) = x509_parser::pem::parse_x509_pem(data.trim_ascii_start())
                .map_err(|_| not_x509())?;
            if pem.label != "CERTIFICATE" {
                return Err(not_x509());
            }
            pem.contents
        }
        Some(Kind::X509Der) => data.to_vec(),
    };
    let (rest, cert) = X509Certificate::from_der(&der).map_err(|_| not_x509())?;
    if !rest.is_empty() {
        return Err(not_x509());
    }
    if cert.public_key().raw != spki {
        return Err(bad("The certificate's public key is not the key's."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            kind(b"\n-----BEGIN CERTIFICATE-----\n"),
            Some(Kind::X509Pem)
        );
        assert_eq!(
            kind(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"),
            Some(Kind::OpenPgp)
        );
        assert_eq!(kind(&[0x30, 0x82]), Some(Kind::X509Der));
        assert_eq!(kind(&[0x99, 0x01]), Some(Kind::OpenPgp));
        assert_eq!(kind(&[0xc6, 0x01]), Some(Kind::OpenPgp));
        assert_eq!(kind(b"garbage"), None);
        assert_eq!(kind(b""), None);
        assert!(check(b"garbage", b"").is_err());
        assert!(check(&[0x30, 0x03, 0x02, 0x01, 0x01], b"").is_err());
        assert!(
            check(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                b""
            )
            .is_err()
        );
    }
}
