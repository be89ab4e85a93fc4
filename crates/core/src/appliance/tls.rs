//! The served TLS certificate and key as administrators manage them (NetHSM `/config/tls/*`,
//! the appliance face's `/appliance/certificates/*`), and the CA certificates the appliance
//! trusts for its own outgoing connections.
//!
//! The identity itself stays where the server has always read it (`meta/tls`, sealed under
//! the device key, see [`crate::tls`]); a change here marks it [`TlsOrigin::Administrator`]
//! so the configured names no longer replace it. A change is committed with its audit event;
//! the server then reads the stored identity again and serves it to new connections.
//!
//! Records under `meta/appliance/` (sealed under the device key): `tls-pending-key` (the key
//! of the appliance face's last `generate-csr`, waiting for its signed certificate),
//! `tls-cluster-ca` (NetHSM's cluster CA, PEM) and `trusted-cas` (PEM, one per entry).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use strongroom_store::Txn;
use strongroom_store::sealed::Sealer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use zeroize::Zeroizing;

use super::RECORD_PREFIX;
use crate::Core;
use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Appliance;
use crate::keys::CsrSubject;
use crate::tls::{self, TlsIdentity, TlsOrigin};

const PENDING_KEY: &str = "tls-pending-key";
const CLUSTER_CA: &str = "tls-cluster-ca";
const TRUSTED_CAS: &str = "trusted-cas";

/// The largest number of CA certificates the appliance keeps.
pub const TRUSTED_CAS_MAX: usize = 256;

/// A key type for the served certificate (the NetHSM spec's `TlsKeyType`). Brainpool keys
/// are in the spec's list but no TLS client or server library in use here can use them, so
/// generating one is refused (400) rather than leaving the server without a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKeyType {
    Rsa,
    Curve25519,
    EcP256,
    EcP384,
    EcP521,
    BrainpoolP256,
    BrainpoolP384,
    BrainpoolP512,
}

/// RSA lengths a TLS key may have (what aws-lc generates); 2048 when none is given.
pub const TLS_RSA_LENGTHS: [u32; 4] = [2048, 3072, 4096, 8192];

/// The key of a CSR made through the appliance face, kept until its certificate comes back.
#[derive(Serialize, Deserialize)]
struct PendingKey {
    key_pem: Zeroizing<String>,
}

/// What the appliance face reports about a certificate (the spec's `ApplianceX509Certificate`
/// and `CaX509Certificate`, less the face's own field names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Decimal.
    pub serial_number: String,
    /// Milliseconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Base64.
    pub signature: String,
    pub version: i32,
    pub issuer_dn: String,
    pub subject_dn: String,
    /// The Java name (`SHA256withECDSA`), or the OID when it has none here.
    pub sig_alg_name: String,
    pub sig_alg_oid: String,
    /// The SubjectPublicKeyInfo DER, base64 (Java's `getEncoded()`, format `X.509`).
    pub public_key: String,
    /// `RSA`, `EC`, `Ed25519`, or the OID.
    pub public_key_algorithm: String,
    /// SHA-256 of the DER, colon-separated upper-case hex (the fingerprint printed at start).
    pub thumbprint: String,
    /// The certificate alone, PEM.
    pub certificate: String,
    pub issuer_unique_id: Option<Vec<bool>>,
    pub subject_unique_id: Option<Vec<bool>>,
    /// The nine bits of KeyUsage, when the certificate has the extension.
    pub key_usage: Option<Vec<bool>>,
    pub issuer_alternative_names: Vec<String>,
    pub subject_alternative_names: Vec<String>,
    /// OIDs.
    pub extended_key_usage: Vec<String>,
    /// Self-issued, and its signature verifies with its own key.
    pub root: bool,
}

/// The served certificate, with whether its chain ends at a CA the appliance trusts.
#[derive(Debug, Clone)]
pub struct ServerCertificate {
    pub info: CertificateInfo,
    pub trusted: bool,
}

fn bad(message: impl Into<String>) -> Error {
    Error::InvalidInput(message.into())
}

/// Every block of `pem`, as DER; each must be a `CERTIFICATE` that parses. `what` names the
/// input in messages.
fn certificates_of(pem: &str, what: &str) -> Result<Vec<Vec<u8>>> {
    let mut ders = Vec::new();
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| bad(format!("{what}: not PEM ({e}).")))?;
        if block.label != "CERTIFICATE" {
            return Err(bad(format!(
                "{what}: a {:?} block; only CERTIFICATE blocks are accepted.",
                block.label
            )));
        }
        X509Certificate::from_der(&block.contents)
            .map_err(|e| bad(format!("{what}: not an X.509 certificate ({e}).")))?;
        ders.push(block.contents);
    }
    if ders.is_empty() {
        return Err(bad(format!("{what}: no PEM certificate found.")));
    }
    Ok(ders)
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    // Only DER that `certificates_of` accepted, or that this module wrote, reaches here.
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .expect("checked when it was accepted")
}

/// `der` as a PEM `CERTIFICATE` block, lines of 64 characters.
fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Whether `issuer`'s key verifies `cert`'s signature.
fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether `chain` (the server's certificate first, each one signed by the next) reaches a
/// certificate `ca` signed.
fn chain_reaches(chain: &[X509Certificate<'_>], ca: &X509Certificate<'_>) -> bool {
    chain
        .iter()
        .any(|c| signed_by(c, ca) || c.as_raw() == ca.as_raw())
}

/// Whether `cert` carries `key`'s public key.
fn carries_key(cert: &X509Certificate<'_>, key: &rcgen::KeyPair) -> bool {
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

fn key_of(identity_key_pem: &str) -> Result<rcgen::KeyPair> {
    rcgen::KeyPair::from_pem(identity_key_pem)
        .map_err(|_| Error::Internal("the stored TLS key is not readable".into()))
}

fn bits(bytes: &[u8], count: usize) -> Vec<bool> {
    (0..count)
        .map(|i| bytes.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0))
        .collect()
}

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(d) => d.to_string(),
        GeneralName::RFC822Name(e) => e.to_string(),
        GeneralName::URI(u) => u.to_string(),
        GeneralName::IPAddress(ip) => match ip.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(*ip).expect("4 bytes")).to_string(),
            16 => IpAddr::from(<[u8; 16]>::try_from(*ip).expect("16 bytes")).to_string(),
            _ => hex::encode(ip),
        },
        other => other.to_string(),
    }
}

fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.11" => "SHA256withRSA",
        "1.2.840.113549.1.1.12" => "SHA384withRSA",
        "1.2.840.113549.1.1.13" => "SHA512withRSA",
        "1.2.840.113549.1.1.5" => "SHA1withRSA",
        "1.2.840.10045.4.3.2" => "SHA256withECDSA",
        "1.2.840.10045.4.3.3" => "SHA384withECDSA",
        "1.2.840.10045.4.3.4" => "SHA512withECDSA",
        "1.3.101.112" => "Ed25519",
        other => other,
    }
    .to_owned()
}

fn key_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.10045.2.1" => "EC",
        "1.3.101.112" => "Ed25519",
        other => other,
    }
    .to_owned()
}

fn ms(t: x509_parser::time::ASN1Time) -> i64 {
    t.timestamp().saturating_mul(1000)
}

/// The report on one certificate.
pub fn certificate_info(der: &[u8]) -> CertificateInfo {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let c = parse(der);
    let sig_oid = c.signature_algorithm.algorithm.to_id_string();
    let key_oid = c.public_key().algorithm.algorithm.to_id_string();
    let alt_names = |names: Option<&[GeneralName<'_>]>| -> Vec<String> {
        names.unwrap_or_default().iter().map(general_name).collect()
    };
    let mut issuer_alt = Vec::new();
    for ext in c.extensions() {
        if let x509_parser::extensions::ParsedExtension::IssuerAlternativeName(ian) =
            ext.parsed_extension()
        {
            issuer_alt = alt_names(Some(&ian.general_names));
        }
    }
    let san = c.subject_alternative_name().ok().flatten();
    let key_usage = c
        .key_usage()
        .ok()
        .flatten()
        .map(|ku| (0..9).map(|i| ku.value.flags & (1 << i) != 0).collect());
    let eku = c
        .extended_key_usage()
        .ok()
        .flatten()
        .map(|e| {
            let e = e.value;
            let mut oids = Vec::new();
            for (set, oid) in [
                (e.any, "2.5.29.37.0"),
                (e.server_auth, "1.3.6.1.5.5.7.3.1"),
                (e.client_auth, "1.3.6.1.5.5.7.3.2"),
                (e.code_signing, "1.3.6.1.5.5.7.3.3"),
                (e.email_protection, "1.3.6.1.5.5.7.3.4"),
                (e.time_stamping, "1.3.6.1.5.5.7.3.8"),
                (e.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
            ] {
                if set {
                    oids.push(oid.to_owned());
                }
            }
            oids.extend(e.other.iter().map(|o| o.to_id_string()));
            oids
        })
        .unwrap_or_default();
    let uid = |u: &Option<x509_parser::certificate::UniqueIdentifier<'_>>| {
        u.as_ref().map(|u| {
            let data = u.0.data.as_ref();
            bits(
                data,
                (data.len() * 8).saturating_sub(u.0.unused_bits as usize),
            )
        })
    };
    CertificateInfo {
        serial_number: c.serial.to_string(),
        not_before: ms(c.validity().not_before),
        not_after: ms(c.validity().not_after),
        signature: b64.encode(c.signature_value.data.as_ref()),
        version: c.version().0 as i32 + 1,
        issuer_dn: c.issuer().to_string(),
        subject_dn: c.subject().to_string(),
        sig_alg_name: sig_alg_name(&sig_oid),
        sig_alg_oid: sig_oid,
        public_key: b64.encode(c.public_key().raw),
        public_key_algorithm: key_algorithm_name(&key_oid),
        thumbprint: tls::fingerprint_of(der),
        certificate: pem_of(der),
        issuer_unique_id: uid(&c.tbs_certificate.issuer_uid),
        subject_unique_id: uid(&c.tbs_certificate.subject_uid),
        key_usage,
        issuer_alternative_names: issuer_alt,
        subject_alternative_names: alt_names(san.as_ref().map(|s| &s.value.general_names[..])),
        extended_key_usage: eku,
        root: c.subject().as_raw() == c.issuer().as_raw() && signed_by(&c, &c),
    }
}

/// A new key of `key_type` (`length` bits for RSA).
fn new_key(key_type: TlsKeyType, length: Option<u32>) -> Result<rcgen::KeyPair> {
    use rcgen::KeyPair;
    let generated = match key_type {
        TlsKeyType::Rsa => {
            use aws_lc_rs::encoding::AsDer;
            use aws_lc_rs::rsa::KeySize;
            let size = match length.unwrap_or(2048) {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                8192 => KeySize::Rsa8192,
                other => {
                    return Err(bad(format!(
                        "length {other}: an RSA TLS key is 2048, 3072, 4096 or 8192 bits."
                    )));
                }
            };
            let pair = aws_lc_rs::rsa::KeyPair::generate(size).map_err(Error::internal)?;
            let pkcs8 = Zeroizing::new(pair.as_der().map_err(Error::internal)?.as_ref().to_vec());
            KeyPair::try_from(&pkcs8[..])
        }
        TlsKeyType::Curve25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        TlsKeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        TlsKeyType::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        TlsKeyType::EcP521 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512),
        TlsKeyType::BrainpoolP256 | TlsKeyType::BrainpoolP384 | TlsKeyType::BrainpoolP512 => {
            return Err(bad(
                "Brainpool curves are not usable for TLS here (no TLS client or library \
                 negotiates them); choose RSA, EC_P256, EC_P384, EC_P521 or Curve25519.",
            ));
        }
    };
    generated.map_err(Error::internal)
}

fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|v| !v.is_empty())
}

/// The subject and subject alternative names of `subject` as rcgen parameters, with the
/// same rules as a key's CSR (see [`CsrSubject`]): the common name is required; without
/// `subject_alt_names` the common name is the one SAN; `IP:` starts an IP address.
fn params_for(subject: &CsrSubject) -> Result<rcgen::CertificateParams> {
    use rcgen::{DnType, DnValue, SanType};
    if subject.common_name.is_empty() {
        return Err(bad("commonName must not be empty."));
    }
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(c) = present(&subject.country_name) {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad("countryName must be a two-letter country code."));
        }
        let printable = rcgen::string::PrintableString::try_from(c).map_err(Error::internal)?;
        dn.push(DnType::CountryName, DnValue::PrintableString(printable));
    }
    for (dn_type, field) in [
        (DnType::StateOrProvinceName, &subject.state_or_province_name),
        (DnType::LocalityName, &subject.locality_name),
        (DnType::OrganizationName, &subject.organization_name),
        (
            DnType::OrganizationalUnitName,
            &subject.organizational_unit_name,
        ),
    ] {
        if let Some(v) = present(field) {
            dn.push(dn_type, DnValue::Utf8String(v.to_owned()));
        }
    }
    dn.push(
        DnType::CommonName,
        DnValue::Utf8String(subject.common_name.clone()),
    );
    if let Some(e) = present(&subject.email_address) {
        let ia5 = rcgen::string::Ia5String::try_from(e)
            .map_err(|_| bad("emailAddress must be ASCII."))?;
        dn.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            DnValue::Ia5String(ia5),
        );
    }
    params.distinguished_name = dn;
    let names = match &subject.subject_alt_names {
        Some(names) => names.clone(),
        None => vec![subject.common_name.clone()],
    };
    for name in names {
        let san = if let Some(ip) = name.strip_prefix("IP:") {
            SanType::IpAddress(
                ip.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| bad(format!("subjectAltNames: {name:?} is not an IP address.")))?,
            )
        } else {
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_control()) {
                return Err(bad(format!(
                    "subjectAltNames: {name:?} is not a DNS name (ASCII, not empty)."
                )));
            }
            SanType::DnsName(
                rcgen::string::Ia5String::try_from(name.as_str()).map_err(|_| {
                    bad(format!(
                        "subjectAltNames: {name:?} is not a DNS name (ASCII, not empty)."
                    ))
                })?,
            )
        };
        params.subject_alt_names.push(san);
    }
    Ok(params)
}

impl Core {
    fn tls_sealer(&self) -> Sealer {
        Sealer::new(&self.device_key, tls::TLS_PURPOSE)
    }

    /// The identity the server serves, as stored now: what the server reloads after a
    /// change (`None` only before the first start made one).
    pub fn stored_tls_identity(&self) -> Result<Option<TlsIdentity>> {
        tls::load(&*self.raw, &self.tls_sealer())
    }

    /// The value of the backup copy of the served identity when an administrator installed
    /// or generated it (provisioning writes it again after a factory reset erased it). An
    /// identity this device key does not open is the next start's to replace, never a
    /// reason to refuse provisioning: then there is no copy.
    pub(crate) fn tls_backup_copy(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.stored_tls_identity().ok().flatten() {
            Some(id) if id.origin == TlsOrigin::Administrator => Ok(Some(Zeroizing::new(
                serde_json::to_vec(&id).map_err(Error::internal)?,
            ))),
            _ => Ok(None),
        }
    }

    /// This node's cluster CA (PEM), `None` when never set. Needs no caller: the server hands
    /// it to the etcd member it supervises.
    pub fn cluster_ca_pem(&self) -> Result<Option<String>> {
        self.appliance_record(CLUSTER_CA)
    }

    /// The CA certificates (DER) the appliance trusts for its own outgoing connections, in
    /// the order they were added. Needs no caller: the server reads its own configuration.
    pub fn trusted_ca_certificates(&self) -> Result<Vec<Vec<u8>>> {
        let pems: Vec<String> = self.appliance_record(TRUSTED_CAS)?.unwrap_or_default();
        pems.iter()
            .map(|p| certificates_of(p, "a stored CA certificate").map(|mut d| d.remove(0)))
            .collect()
    }
}

impl Appliance<'_> {
    fn current(&self) -> Result<TlsIdentity> {
        let (core, _, _) = self.parts();
        core.stored_tls_identity()?
            .ok_or_else(|| Error::Internal("no TLS identity is stored".into()))
    }

    /// Stores `id` as the served identity (and, with `drop_pending`, forgets the pending CSR
    /// key), with the request's audit event, provided the identity is still the one `base`
    /// was read from: two changes at once do not mix one's certificate with the other's key.
    fn store(&self, base: &TlsIdentity, id: &TlsIdentity, drop_pending: bool) -> Result<()> {
        let (core, unlocked, who) = self.parts();
        let entry = core.raw.get(tls::TLS_PATH)?;
        let unchanged = match &entry {
            Some(e) => core
                .tls_sealer()
                .open(tls::TLS_PATH, &e.value)
                .ok()
                .and_then(|p| serde_json::from_slice::<TlsIdentity>(&p).ok())
                .is_some_and(|stored| stored.cert_der_hex == base.cert_der_hex),
            None => false,
        };
        if !unchanged {
            return Err(Error::Conflict(
                "The TLS certificate changed while this request ran; try again.".into(),
            ));
        }
        let mut txn = Txn::new()
            .require_unchanged(tls::TLS_PATH, entry.as_ref())
            .put(tls::TLS_PATH, tls::seal(&core.tls_sealer(), id)?);
        if drop_pending {
            txn = txn.delete(format!("{RECORD_PREFIX}{PENDING_KEY}"));
        }
        // The copy a backup carries, under the domain key; one commit with the served one.
        let _sealing = core.sealing();
        let copy = Zeroizing::new(serde_json::to_vec(id).map_err(Error::internal)?);
        let txn = txn.merge(
            unlocked
                .data
                .seal_txn(Txn::new().put(tls::TLS_BACKUP_PATH, copy.to_vec())),
        );
        match core.commit_audited_sealing(&unlocked.data, txn)? {
            strongroom_store::Commit::Committed(_) => {}
            strongroom_store::Commit::Conflict => {
                return Err(Error::Conflict(
                    "The TLS certificate changed while this request ran; try again.".into(),
                ));
            }
        }
        tracing::info!(by = %who.user_id, fingerprint = %id.fingerprint(), "TLS certificate changed");
        Ok(())
    }

    /// The served key's public key, PEM (`SubjectPublicKeyInfo`).
    pub fn tls_public_key_pem(&self) -> Result<String> {
        self.require(Access::RootAdministrator)?;
        Ok(key_of(&self.current()?.key_pem)?.public_key_pem())
    }

    /// The served certificate and its chain, PEM.
    pub fn tls_certificate_pem(&self) -> Result<String> {
        self.require(Access::RootAdministrator)?;
        Ok(self.current()?.cert_pem)
    }

    /// The served certificate, described, and whether it chains to a trusted CA.
    pub fn tls_certificate_info(&self) -> Result<ServerCertificate> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        let id = self.current()?;
        let ders = certificates_of(&id.cert_pem, "the stored certificate")?;
        let chain: Vec<_> = ders.iter().map(|d| parse(d)).collect();
        let cas = core.trusted_ca_certificates()?;
        let trusted = cas.iter().any(|ca| chain_reaches(&chain, &parse(ca)));
        Ok(ServerCertificate {
            info: certificate_info(&ders[0]),
            trusted,
        })
    }

    /// Checks a certificate and chain (server's certificate first) for installation with a
    /// key: it must carry the key, be in its validity period, be signed in order, and reach
    /// the cluster CA when one is set (412 otherwise, as NetHSM).
    fn check_chain(&self, ders: &[Vec<u8>], key: &rcgen::KeyPair) -> Result<()> {
        let (core, _, _) = self.parts();
        let chain: Vec<_> = ders.iter().map(|d| parse(d)).collect();
        if !carries_key(&chain[0], key) {
            return Err(bad(
                "The certificate does not match the TLS key: it must certify the public key of \
                 GET /config/tls/public.pem (make a CSR with POST /config/tls/csr.pem).",
            ));
        }
        let now = core.now().unix_timestamp();
        let validity = chain[0].validity();
        if validity.not_after.timestamp() < now {
            return Err(bad("The certificate has expired."));
        }
        if validity.not_before.timestamp() > now {
            return Err(bad("The certificate is not valid yet."));
        }
        for (i, pair) in chain.windows(2).enumerate() {
            if !signed_by(&pair[0], &pair[1]) {
                return Err(bad(format!(
                    "Certificate {} of the chain is not signed by the one after it; give the \
                     server's certificate first, then each issuer in order.",
                    i + 1
                )));
            }
        }
        if let Some(ca) = core.appliance_record::<String>(CLUSTER_CA)? {
            let ca = certificates_of(&ca, "the cluster CA")?;
            if !chain_reaches(&chain, &parse(&ca[0])) {
                return Err(Error::Precondition(
                    "The certificate is not signed by the cluster CA (cluster-ca.pem).".into(),
                ));
            }
        }
        Ok(())
    }

    /// The administrator's identity of `key_pem` with the certificate and chain `ders`.
    fn with_certificate(key_pem: &str, ders: &[Vec<u8>]) -> TlsIdentity {
        let names = certificate_info(&ders[0]).subject_alternative_names;
        TlsIdentity {
            names,
            cert_pem: ders.iter().map(|d| pem_of(d)).collect(),
            key_pem: Zeroizing::new(key_pem.to_owned()),
            cert_der_hex: hex::encode(&ders[0]),
            origin: TlsOrigin::Administrator,
        }
    }

    /// NetHSM `PUT /config/tls/cert.pem`: a certificate for the served key, with its chain
    /// after it in the same PEM. Answers the identity now stored.
    pub fn set_tls_certificate(&self, pem: &str) -> Result<TlsIdentity> {
        self.require(Access::RootAdministrator)?;
        let ders = certificates_of(pem, "The certificate")?;
        let base = self.current()?;
        self.check_chain(&ders, &key_of(&base.key_pem)?)?;
        let id = Self::with_certificate(&base.key_pem, &ders);
        self.store(&base, &id, false)?;
        Ok(id)
    }

    /// The appliance face's `csr_format`: the signed certificate for the key of the last
    /// `generate-csr` (or for the served key), and its intermediate CAs.
    pub fn install_tls_certificate(
        &self,
        certificate: &str,
        chain: &[String],
    ) -> Result<TlsIdentity> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        let mut ders = certificates_of(certificate, "certificate")?;
        for (i, c) in chain.iter().enumerate() {
            ders.extend(certificates_of(c, &format!("ca_chain[{i}]"))?);
        }
        let base = self.current()?;
        let leaf = parse(&ders[0]);
        if let Some(pending) = core.appliance_record::<PendingKey>(PENDING_KEY)? {
            let key = key_of(&pending.key_pem)?;
            if carries_key(&leaf, &key) {
                self.check_chain(&ders, &key)?;
                let id = Self::with_certificate(&pending.key_pem, &ders);
                self.store(&base, &id, true)?;
                return Ok(id);
            }
        }
        let key = key_of(&base.key_pem)?;
        if !carries_key(&leaf, &key) {
            return Err(bad(
                "The certificate matches neither the key of the last generate-csr nor the \
                 served key.",
            ));
        }
        self.check_chain(&ders, &key)?;
        let id = Self::with_certificate(&base.key_pem, &ders);
        self.store(&base, &id, false)?;
        Ok(id)
    }

    /// The appliance face's `pkcs12_format`: a PKCS#12 file (DER) with a private key and its
    /// certificate, and any intermediate certificates, opened with `password`.
    pub fn install_tls_pkcs12(&self, der: &[u8], password: &str) -> Result<TlsIdentity> {
        self.require(Access::RootAdministrator)?;
        let file = super::pkcs12::parse(der, password)?;
        let key = rcgen::KeyPair::try_from(&file.key_pkcs8[..]).map_err(|_| {
            bad(
                "pkcs12_format: the private key is not of a type TLS can use here (RSA, EC \
                 P-256, P-384, P-521 or Ed25519).",
            )
        })?;
        let mut rest: Vec<Vec<u8>> = Vec::new();
        let mut leaf = None;
        for der in file.certificates {
            let (_, cert) = X509Certificate::from_der(&der)
                .map_err(|_| bad("pkcs12_format: a certificate in the file does not parse."))?;
            if leaf.is_none() && carries_key(&cert, &key) {
                leaf = Some(der);
            } else {
                rest.push(der);
            }
        }
        let leaf =
            leaf.ok_or_else(|| bad("pkcs12_format: no certificate in the file is for its key."))?;
        // The chain in order: each next certificate is the one that signed the last.
        let mut ders = vec![leaf];
        while let Some(at) = rest.iter().position(|d| {
            let last = parse(ders.last().expect("not empty"));
            let candidate = parse(d);
            last.as_raw() != candidate.as_raw()
                && last.issuer().as_raw() == candidate.subject().as_raw()
                && signed_by(&last, &candidate)
        }) {
            ders.push(rest.remove(at));
        }
        let base = self.current()?;
        self.check_chain(&ders, &key)?;
        let id = Self::with_certificate(&Zeroizing::new(key.serialize_pem()), &ders);
        self.store(&base, &id, false)?;
        Ok(id)
    }

    /// NetHSM `POST /config/tls/csr.pem`: a CSR for the served key, PEM.
    pub fn tls_csr(&self, subject: &CsrSubject) -> Result<String> {
        self.require(Access::RootAdministrator)?;
        let params = params_for(subject)?;
        let key = key_of(&self.current()?.key_pem)?;
        let csr = params.serialize_request(&key).map_err(Error::internal)?;
        csr.pem().map_err(Error::internal)
    }

    /// The appliance face's `generate-csr`: a new RSA 2048 key (what the appliance face's
    /// clients expect), kept sealed until its certificate is installed, and its CSR, PEM. A
    /// later call replaces the waiting key.
    pub fn tls_csr_for_new_key(&self, subject: &CsrSubject) -> Result<String> {
        self.require(Access::RootAdministrator)?;
        let params = params_for(subject)?;
        let key = new_key(TlsKeyType::Rsa, Some(2048))?;
        let csr = params.serialize_request(&key).map_err(Error::internal)?;
        let pem = csr.pem().map_err(Error::internal)?;
        let pending = PendingKey {
            key_pem: Zeroizing::new(key.serialize_pem()),
        };
        self.write_record(PENDING_KEY, &pending)?;
        Ok(pem)
    }

    /// NetHSM `POST /config/tls/generate`: a new key and a self-signed certificate for the
    /// names the served one has.
    pub fn generate_tls_key(
        &self,
        key_type: TlsKeyType,
        length: Option<u32>,
    ) -> Result<TlsIdentity> {
        self.require(Access::RootAdministrator)?;
        let key = new_key(key_type, length)?;
        let base = self.current()?;
        let id = tls::self_signed(&key, base.names.clone(), TlsOrigin::Administrator)?;
        self.store(&base, &id, false)?;
        Ok(id)
    }

    /// The appliance face's `selfsigned_format`: a new RSA 2048 key and a self-signed
    /// certificate with `subject`.
    pub fn generate_self_signed(&self, subject: &CsrSubject) -> Result<TlsIdentity> {
        self.require(Access::RootAdministrator)?;
        let params = params_for(subject)?;
        let key = new_key(TlsKeyType::Rsa, Some(2048))?;
        let cert = params.self_signed(&key).map_err(Error::internal)?;
        let base = self.current()?;
        let id = TlsIdentity {
            names: certificate_info(cert.der()).subject_alternative_names,
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
            cert_der_hex: hex::encode(cert.der()),
            origin: TlsOrigin::Administrator,
        };
        self.store(&base, &id, false)?;
        Ok(id)
    }

    /// NetHSM `GET /config/tls/cluster-ca.pem`; `None` when never set.
    pub fn tls_cluster_ca(&self) -> Result<Option<String>> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        core.appliance_record(CLUSTER_CA)
    }

    /// NetHSM `PUT /config/tls/cluster-ca.pem`: one CA certificate (basicConstraints CA, and
    /// keyCertSign when it has KeyUsage; 400 otherwise) that signed the served certificate
    /// (412 otherwise). It can be replaced, not removed.
    pub fn set_tls_cluster_ca(&self, pem: &str) -> Result<()> {
        self.require(Access::RootAdministrator)?;
        let ders = certificates_of(pem, "The certificate")?;
        if ders.len() != 1 {
            return Err(bad("Give exactly one CA certificate."));
        }
        let ca = parse(&ders[0]);
        if !ca.is_ca() {
            return Err(bad(
                "The certificate is not a CA certificate (basicConstraints cA is not set).",
            ));
        }
        if let Ok(Some(ku)) = ca.key_usage()
            && !ku.value.key_cert_sign()
        {
            return Err(bad(
                "The certificate's keyUsage does not allow signing certificates (keyCertSign).",
            ));
        }
        let served = certificates_of(&self.current()?.cert_pem, "the stored certificate")?;
        let chain: Vec<_> = served.iter().map(|d| parse(d)).collect();
        if !chain_reaches(&chain, &ca) {
            return Err(Error::Precondition(
                "The installed TLS certificate is not signed by this CA; install a certificate \
                 signed by it first."
                    .into(),
            ));
        }
        self.write_record(CLUSTER_CA, &pem_of(&ders[0]))
    }

    /// The CA certificates the appliance trusts for its outgoing connections, described.
    pub fn trusted_cas(&self) -> Result<Vec<CertificateInfo>> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        Ok(core
            .trusted_ca_certificates()?
            .iter()
            .map(|d| certificate_info(d))
            .collect())
    }

    /// Adds CA certificates (one certificate per PEM); one already there is not added twice.
    pub fn add_trusted_cas(&self, pems: &[String]) -> Result<()> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        let mut ders = core.trusted_ca_certificates()?;
        for (i, pem) in pems.iter().enumerate() {
            let found = certificates_of(pem, &format!("[{i}].value"))?;
            if found.len() != 1 {
                return Err(bad(format!("[{i}].value: give one certificate per entry.")));
            }
            if !ders.contains(&found[0]) {
                ders.extend(found);
            }
        }
        if ders.len() > TRUSTED_CAS_MAX {
            return Err(bad(format!(
                "The appliance keeps at most {TRUSTED_CAS_MAX} CA certificates."
            )));
        }
        let pems: Vec<String> = ders.iter().map(|d| pem_of(d)).collect();
        self.write_record(TRUSTED_CAS, &pems)
    }

    /// Removes CA certificates; one that is not installed is a 400, and nothing changes.
    pub fn remove_trusted_cas(&self, pems: &[String]) -> Result<()> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        let mut ders = core.trusted_ca_certificates()?;
        for (i, pem) in pems.iter().enumerate() {
            for der in certificates_of(pem, &format!("[{i}].value"))? {
                let Some(at) = ders.iter().position(|d| *d == der) else {
                    return Err(bad(format!(
                        "[{i}].value: this CA certificate is not installed."
                    )));
                };
                ders.remove(at);
            }
        }
        let pems: Vec<String> = ders.iter().map(|d| pem_of(d)).collect();
        self.write_record(TRUSTED_CAS, &pems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{admin, open_provisioned, operator};

    #[test]
    fn an_administrators_identity_is_kept_whatever_the_configured_names() {
        let (_dir, core) = open_provisioned();
        let automatic = core.tls_identity(&[]).unwrap();
        let generated = core
            .operational(&admin())
            .unwrap()
            .appliance()
            .generate_tls_key(TlsKeyType::EcP384, None)
            .unwrap();
        assert_ne!(generated.fingerprint(), automatic.fingerprint());
        assert_eq!(generated.origin, TlsOrigin::Administrator);
        // Names that would remake a certificate of the server's own do not touch this one.
        let served = core.tls_identity(&["hsm.example".into()]).unwrap();
        assert_eq!(served.fingerprint(), generated.fingerprint());
        // The key never shows in Debug output.
        assert!(!format!("{served:?}").contains("PRIVATE KEY"));
        assert!(!format!("{served:?}").contains(&served.key_pem[40..80]));
    }

    #[test]
    fn an_administrators_identity_is_in_backups_also_after_a_factory_reset() {
        let (_dir, core) = open_provisioned();
        core.tls_identity(&[]).unwrap();
        let generated = core
            .operational(&admin())
            .unwrap()
            .appliance()
            .generate_tls_key(TlsKeyType::Curve25519, None)
            .unwrap();
        let (_restored_dir, restored) = crate::tests::restored(&crate::tests::backup_bytes(&core));
        let served = restored.stored_tls_identity().unwrap().unwrap();
        assert_eq!(served.fingerprint(), generated.fingerprint());
        assert_eq!(served.origin, TlsOrigin::Administrator);

        core.operational(&admin())
            .unwrap()
            .system()
            .factory_reset()
            .unwrap();
        crate::tests::provision(&core);
        let (_again_dir, again) = crate::tests::restored(&crate::tests::backup_bytes(&core));
        assert_eq!(
            again.stored_tls_identity().unwrap().unwrap().fingerprint(),
            generated.fingerprint()
        );
    }

    #[test]
    fn only_root_administrators_change_the_certificate_and_bad_input_changes_nothing() {
        let (_dir, core) = open_provisioned();
        let before = core.tls_identity(&[]).unwrap();
        let op = operator("op1");
        let denied = core
            .operational(&op)
            .unwrap()
            .appliance()
            .generate_tls_key(TlsKeyType::EcP256, None);
        assert!(matches!(denied, Err(Error::Forbidden)));
        let who = admin();
        let handle = core.operational(&who).unwrap();
        for bad_key in [
            handle
                .appliance()
                .generate_tls_key(TlsKeyType::Rsa, Some(1024)),
            handle
                .appliance()
                .generate_tls_key(TlsKeyType::BrainpoolP384, None),
            handle.appliance().set_tls_certificate("garbage"),
            // Anything but certificates in the PEM (here a private key block) is refused.
            handle.appliance().set_tls_certificate(&format!(
                "{}{}",
                before.cert_pem,
                pem_of(&certificates_of(&before.cert_pem, "x").unwrap()[0])
                    .replace("CERTIFICATE", "PRIVATE KEY")
            )),
        ] {
            assert!(
                matches!(bad_key, Err(Error::InvalidInput(_))),
                "{bad_key:?}"
            );
        }
        assert_eq!(
            core.tls_identity(&[]).unwrap().fingerprint(),
            before.fingerprint()
        );
    }

    #[test]
    fn the_reported_certificate_is_what_is_served() {
        let (_dir, core) = open_provisioned();
        let served = core.tls_identity(&[]).unwrap();
        let who = admin();
        let handle = core.operational(&who).unwrap();
        let info = handle.appliance().tls_certificate_info().unwrap();
        assert_eq!(info.info.thumbprint, served.fingerprint());
        assert_eq!(info.info.subject_dn, "CN=Strongroom");
        assert_eq!(
            info.info.subject_alternative_names,
            ["localhost", "127.0.0.1", "::1"]
        );
        assert!(info.info.root);
        assert!(!info.trusted);
    }
}
