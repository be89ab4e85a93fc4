//! The server's TLS identity: a self-signed EC P-256 certificate made on first start and kept
//! in the store sealed under the device key (it is needed before unlock), so clients can pin it.

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use strongroom_store::sealed::Sealer;
use strongroom_store::{Store, Txn};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub(crate) const TLS_PATH: &str = "meta/tls";
pub(crate) const TLS_PURPOSE: &str = "strongroom/tls/v1";

/// Names always in the certificate, so local clients can verify it by name.
const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The certificate and its private key, as PEM.
#[derive(Clone, Serialize, Deserialize)]
pub struct TlsIdentity {
    /// The subject alternative names the certificate was made for.
    pub names: Vec<String>,
    pub cert_pem: String,
    pub key_pem: Zeroizing<String>,
    /// DER of the certificate, hex: what the fingerprint is computed over.
    pub cert_der_hex: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("names", &self.names)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// SHA-256 of the certificate's DER, as colon-separated upper-case hex (the form browsers
    /// and `openssl x509 -fingerprint -sha256` show).
    pub fn fingerprint(&self) -> String {
        let der = hex::decode(&self.cert_der_hex).unwrap_or_default();
        fingerprint_of(&der)
    }
}

pub fn fingerprint_of(der: &[u8]) -> String {
    digest(&SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn wanted_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|s| s.to_string()).collect();
    for n in extra {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

fn generate(names: Vec<String>) -> Result<TlsIdentity> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(Error::internal)?;
    let mut params = rcgen::CertificateParams::new(names.clone()).map_err(Error::internal)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Strongroom");
    let cert = params.self_signed(&key).map_err(Error::internal)?;
    Ok(TlsIdentity {
        names,
        cert_pem: cert.pem(),
        key_pem: Zeroizing::new(key.serialize_pem()),
        cert_der_hex: hex::encode(cert.der()),
    })
}

/// Checks that the stored identity, if any, opens with this device key: one that does not
/// means the key file was replaced or lost, and making a new certificate then must be asked
/// for (`--regenerate-device-key`), never done silently.
pub(crate) fn check_opens(
    store: &dyn Store,
    device: &Sealer,
    key_path: &std::path::Path,
) -> Result<()> {
    match store.get(TLS_PATH)? {
        Some(entry) if device.open(TLS_PATH, &entry.value).is_err() => {
            Err(Error::Internal(format!(
                "the stored TLS identity does not open with the device key {}: the key file was \
             replaced; start once with --regenerate-device-key to make a new device key and TLS \
             certificate (clients must pin the new fingerprint)",
                key_path.display()
            )))
        }
        _ => Ok(()),
    }
}

/// Loads the stored identity, or makes (and stores) a new one on first start, when the
/// configured names changed, or when the stored one cannot be opened with this device key.
pub(crate) fn load_or_create(
    store: &dyn Store,
    device: &Sealer,
    extra_names: &[String],
) -> Result<TlsIdentity> {
    let names = wanted_names(extra_names);
    if let Some(entry) = store.get(TLS_PATH)? {
        match device.open(TLS_PATH, &entry.value) {
            Ok(plain) => {
                let id: TlsIdentity = serde_json::from_slice(&plain).map_err(Error::internal)?;
                if id.names == names {
                    return Ok(id);
                }
                tracing::info!("TLS names changed; making a new certificate");
            }
            Err(_) => tracing::warn!(
                "stored TLS identity does not open with this device key; making a new certificate"
            ),
        }
    }
    let id = generate(names)?;
    let plain = Zeroizing::new(serde_json::to_vec(&id).map_err(Error::internal)?);
    store.commit(Txn::new().put(TLS_PATH, device.seal(TLS_PATH, &plain)))?;
    Ok(id)
}
