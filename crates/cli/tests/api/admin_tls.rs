//! The served TLS certificate and key (issue 14): NetHSM `/config/tls/*` and the appliance
//! face's `/appliance/certificates/*`, one identity behind both. Every change is observed by
//! a fresh TLS handshake (the certificate the server presents, pinned by fingerprint and read
//! by `openssl s_client`); CSRs, generated keys and signed certificates are checked and made
//! by pyca/cryptography, never by our own code; and what is installed survives a restart.

use std::sync::Arc;

use base64::Engine;
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::common::keys::{OPERATOR, OPERATOR_PASS, pyca};
use crate::common::*;

pub(crate) const PEM: &str = "application/x-pem-file";

/// argv[1]: a CSR (PEM). Checks it (signature, and argv[2]'s public key PEM when given), then
/// plays a CA: a root, an intermediate, the CSR's certificate (its subject and SANs, server
/// auth) signed by the intermediate, one for another key (which must be refused), and an
/// unrelated root. Prints JSON with the PEMs and what the CSR said.
const SIGN_CSR: &str = r#"
import datetime, json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID, ExtensionOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
csr = x509.load_pem_x509_csr(sys.argv[1].encode())
assert csr.is_signature_valid, "the CSR's signature does not verify"
spki = lambda k: k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
if len(sys.argv) > 2 and sys.argv[2]:
    assert spki(csr.public_key()) == spki(serialization.load_pem_public_key(sys.argv[2].encode())), "CSR key is not the served key"
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)
name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def ca(cn, key, issuer_name, issuer_key, path_length):
    return (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - 30 * day).not_valid_after(now + 365 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .sign(issuer_key, hashes.SHA256()))
root_key = ec.generate_private_key(ec.SECP256R1())
root = ca("Test Root CA", root_key, name("Test Root CA"), root_key, None)
inter_key = ec.generate_private_key(ec.SECP384R1())
inter = ca("Test Intermediate CA", inter_key, root.subject, root_key, 0)
other_key = ec.generate_private_key(ec.SECP256R1())
other_root = ca("Unrelated Root CA", other_key, name("Unrelated Root CA"), other_key, None)
try:
    san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
except x509.ExtensionNotFound:
    san = None
def leaf(public_key):
    b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(inter.subject)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - 30 * day).not_valid_after(now + 90 * day)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    if san is not None:
        b = b.add_extension(san, critical=False)
    return b.sign(inter_key, hashes.SHA256())
pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
print(json.dumps({
    "root": pem(root), "intermediate": pem(inter), "leaf": pem(leaf(csr.public_key())),
    "mismatched": pem(leaf(ec.generate_private_key(ec.SECP256R1()).public_key())),
    "other_root": pem(other_root),
    "subject": [[a.oid.dotted_string, a.value] for a in csr.subject],
    "dns": san.get_values_for_type(x509.DNSName) if san else [],
    "ip": [str(i) for i in san.get_values_for_type(x509.IPAddress)] if san else [],
    "key": type(csr.public_key()).__name__, "key_size": getattr(csr.public_key(), "key_size", 0),
}))
"#;

/// argv[1]: a certificate (PEM), argv[2]: a public key (PEM). Checks that the certificate is
/// self-signed (its signature verifies with its own key) and certifies that public key;
/// prints the key's type and size or curve.
const CHECK_SELF_SIGNED: &str = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, ed25519
cert = x509.load_pem_x509_certificate(sys.argv[1].encode())
cert.verify_directly_issued_by(cert)
spki = lambda k: k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
assert spki(cert.public_key()) == spki(serialization.load_pem_public_key(sys.argv[2].encode())), "public.pem is not the certificate's key"
k = cert.public_key()
if isinstance(k, rsa.RSAPublicKey): print("RSA", k.key_size)
elif isinstance(k, ec.EllipticCurvePublicKey): print("EC", k.curve.name)
elif isinstance(k, ed25519.Ed25519PublicKey): print("Ed25519")
else: print("other", type(k).__name__)
"#;

/// argv[1]: a password. Makes a root, an intermediate and an EC key with its certificate
/// (`p12.example`), and a PKCS#12 file of the key and the three certificates (the root
/// first: the server must put them in order), encrypted with the password (AES-256, the
/// modern default) and, for the older tools' format, with 3DES and SHA-1. Prints JSON.
const MAKE_PKCS12: &str = r#"
import base64, datetime, json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)
name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def cert(cn, key, issuer, issuer_key, ca, sans=None):
    b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - 30 * day).not_valid_after(now + 90 * day)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())
root_key = ec.generate_private_key(ec.SECP256R1())
root = cert("P12 Root", root_key, name("P12 Root"), root_key, True)
inter_key = ec.generate_private_key(ec.SECP256R1())
inter = cert("P12 Intermediate", inter_key, root.subject, root_key, True)
key = ec.generate_private_key(ec.SECP256R1())
leaf = cert("p12.example", key, inter.subject, inter_key, False, ["p12.example"])
pw = sys.argv[1].encode()
modern = pkcs12.serialize_key_and_certificates(b"tls", key, leaf, [root, inter], serialization.BestAvailableEncryption(pw))
legacy_enc = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
    .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(pw))
legacy = pkcs12.serialize_key_and_certificates(b"tls", key, leaf, [root, inter], legacy_enc)
pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
scalar = key.private_numbers().private_value.to_bytes(32, "big")
print(json.dumps({"modern": base64.b64encode(modern).decode(), "legacy": base64.b64encode(legacy).decode(),
    "chain": pem(leaf) + pem(inter) + pem(root), "pkcs8": pkcs8.hex(), "scalar": scalar.hex()}))
"#;

fn der_of(pem: &str) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    pem.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|block| {
            let body = block.split("-----END CERTIFICATE-----").next().unwrap();
            let text: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            b64.decode(text).expect("base64 in a PEM certificate")
        })
        .collect()
}

fn fingerprint_of_pem(pem: &str) -> String {
    strongroom_client::pin::fingerprint_of(&der_of(pem)[0])
}

/// A new TLS connection to the server that accepts only the certificate `fingerprint`: the
/// certificates the server presents, or the handshake's error.
async fn handshake(s: &Server, fingerprint: &str) -> Result<Vec<Vec<u8>>, std::io::Error> {
    let mut config = strongroom_client::pin::pinned_tls(fingerprint).expect("a fingerprint");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(raw::addr(s)).await.expect("tcp connect");
    let tls = TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await?;
    Ok(tls
        .get_ref()
        .1
        .peer_certificates()
        .expect("the server's certificates")
        .iter()
        .map(|c| c.to_vec())
        .collect())
}

/// The SHA-256 fingerprint of the certificate a new connection gets, as `openssl s_client`
/// and `openssl x509` see it (an implementation that is not ours).
fn openssl_fingerprint(s: &Server) -> String {
    let addr = raw::addr(s);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {addr} -servername localhost </dev/null 2>/dev/null \
             | openssl x509 -noout -fingerprint -sha256"
        ))
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    text.rsplit('=').next().unwrap_or_default().to_owned()
}

/// A client for one request to learn what a server serves after a change no pinned client
/// knows yet; its answers are then checked against a pinned handshake.
fn unpinned() -> Client {
    Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// Pins `s`'s client to the certificate it serves now, after checking that a new connection
/// presents exactly `chain_pem`.
pub(crate) async fn follow(s: &mut Server, chain_pem: &str) {
    let fingerprint = fingerprint_of_pem(chain_pem);
    let presented = handshake(s, &fingerprint)
        .await
        .expect("a new connection presents the new certificate");
    assert_eq!(
        presented,
        der_of(chain_pem),
        "the chain a new connection gets"
    );
    assert!(
        handshake(s, &s.fingerprint).await.is_err() || s.fingerprint == fingerprint,
        "a new connection no longer presents the old certificate"
    );
    assert_eq!(
        openssl_fingerprint(s),
        fingerprint,
        "openssl s_client sees it"
    );
    s.fingerprint = fingerprint.clone();
    s.client = pinned_client(&fingerprint);
}

async fn pem_text(r: Response) -> String {
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], PEM);
    r.text().await.unwrap()
}

pub(crate) async fn csr_signed(csr: &str, public_pem: &str) -> Value {
    serde_json::from_str(&pyca(SIGN_CSR, &[csr.to_owned(), public_pem.to_owned()]).await).unwrap()
}

#[tokio::test]
async fn nethsm_certificate_replaced_live_checked_and_kept() {
    let mut s = Server::start();
    // Operational only.
    nethsm_error(
        s.as_admin(Method::GET, "/config/tls/cert.pem")
            .answer()
            .await,
        412,
        "Service not available",
    )
    .await;
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;

    // The served certificate and its key, as PEM, to the root Administrator only.
    let cert = pem_text(
        s.as_admin(Method::GET, "/config/tls/cert.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(fingerprint_of_pem(&cert), s.fingerprint);
    let public = pem_text(
        s.as_admin(Method::GET, "/config/tls/public.pem")
            .answer()
            .await,
    )
    .await;
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    assert!(
        pyca(CHECK_SELF_SIGNED, &[cert.clone(), public.clone()])
            .await
            .starts_with("EC secp256r1")
    );
    for path in [
        "/config/tls/cert.pem",
        "/config/tls/public.pem",
        "/config/tls/cluster-ca.pem",
    ] {
        let r = s
            .get(path)
            .basic_auth(OPERATOR, Some(OPERATOR_PASS))
            .answer()
            .await;
        nethsm_error(r, 403, "Access denied.").await;
        nethsm_error(s.get(path).answer().await, 401, "Authentication required.").await;
    }
    let r = s
        .as_admin(Method::GET, "/config/tls/cert.pem")
        .header("accept", "application/json")
        .answer()
        .await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;

    // A CSR for the served key, with the subject and SANs asked for; pyca signs it.
    let dn = json!({
        "countryName": "DE", "localityName": "Berlin", "organizationName": "Strongroom Test",
        "commonName": "tls.example", "emailAddress": "ops@example.com",
        "subjectAltNames": ["tls.example", "www.tls.example", "IP:192.0.2.7"],
    });
    let r = s
        .as_admin(Method::POST, "/config/tls/csr.pem")
        .json(&dn)
        .answer()
        .await;
    let csr = pem_text(r).await;
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr}"
    );
    let ca = csr_signed(&csr, &public).await;
    assert_eq!(ca["dns"], json!(["tls.example", "www.tls.example"]));
    assert_eq!(ca["ip"], json!(["192.0.2.7"]));
    assert_eq!(
        ca["subject"],
        json!([
            ["2.5.4.6", "DE"],
            ["2.5.4.7", "Berlin"],
            ["2.5.4.10", "Strongroom Test"],
            ["2.5.4.3", "tls.example"],
            ["1.2.840.113549.1.9.1", "ops@example.com"]
        ])
    );
    // A CSR by an Operator, or with a bad subject, is refused.
    let r = s
        .post("/config/tls/csr.pem")
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
        .json(&dn)
        .answer()
        .await;
    nethsm_error(r, 403, "Access denied.").await;
    let r = s
        .as_admin(Method::POST, "/config/tls/csr.pem")
        .json(&json!({"commonName": "x", "countryName": "DEU"}))
        .answer()
        .await;
    nethsm_error(r, 400, "countryName must be a two-letter country code.").await;

    let put = |s: &Server, body: String, content_type: &str| {
        s.as_admin(Method::PUT, "/config/tls/cert.pem")
            .header("content-type", content_type)
            .body(body)
    };
    // A certificate for another key is refused, and nothing changes.
    let r = put(&s, ca["mismatched"].as_str().unwrap().to_owned(), PEM)
        .answer()
        .await;
    nethsm_error(
        r,
        400,
        starting("The certificate does not match the TLS key"),
    )
    .await;
    nethsm_error(
        put(&s, "not a certificate".into(), PEM).answer().await,
        400,
        starting("The certificate: no PEM certificate found"),
    )
    .await;
    let r = put(
        &s,
        ca["leaf"].as_str().unwrap().to_owned(),
        "application/json",
    )
    .answer()
    .await;
    nethsm_error(
        r,
        415,
        "Content type not supported; use application/x-pem-file.",
    )
    .await;
    // The issuer first is a certificate for another key; a chain out of order is refused.
    let backwards = format!(
        "{}{}",
        ca["intermediate"].as_str().unwrap(),
        ca["leaf"].as_str().unwrap()
    );
    let r = put(&s, backwards, PEM).answer().await;
    nethsm_error(
        r,
        400,
        starting("The certificate does not match the TLS key"),
    )
    .await;
    let skipped = format!(
        "{}{}",
        ca["leaf"].as_str().unwrap(),
        ca["root"].as_str().unwrap()
    );
    let r = put(&s, skipped, PEM).answer().await;
    nethsm_error(
        r,
        400,
        starting("Certificate 1 of the chain is not signed by the one after it"),
    )
    .await;
    let r = s
        .put("/config/tls/cert.pem")
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
        .header("content-type", PEM)
        .body(ca["leaf"].as_str().unwrap().to_owned())
        .answer()
        .await;
    nethsm_error(r, 403, "Access denied.").await;
    assert_eq!(
        handshake(&s, &s.fingerprint).await.unwrap(),
        der_of(&cert),
        "still the old one"
    );

    // The signed certificate with its intermediate: served to the very next connection.
    let chain = format!(
        "{}{}",
        ca["leaf"].as_str().unwrap(),
        ca["intermediate"].as_str().unwrap()
    );
    let r = put(&s, chain.clone(), PEM).answer().await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    follow(&mut s, &chain).await;
    let served = pem_text(
        s.as_admin(Method::GET, "/config/tls/cert.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(der_of(&served), der_of(&chain));
    // The key did not change.
    assert_eq!(
        pem_text(
            s.as_admin(Method::GET, "/config/tls/public.pem")
                .answer()
                .await
        )
        .await,
        public
    );

    // The appliance face reports the same certificate; trusted once its root is a trusted CA.
    let sid = s.admin_session().await;
    let info: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/server")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["thumbprint"], s.fingerprint.as_str());
    assert_eq!(
        der_of(info["certificate"].as_str().unwrap())[0],
        der_of(&chain)[0]
    );
    assert_eq!(
        info["subject_alternative_names"],
        json!(["tls.example", "www.tls.example", "192.0.2.7"])
    );
    assert_eq!(info["issuer_dn"], "CN=Test Intermediate CA");
    assert_eq!(info["extended_key_usage"], json!(["1.3.6.1.5.5.7.3.1"]));
    assert_eq!(info["public_key_algorithm"], "EC");
    assert_eq!(info["sig_alg_name"], "SHA256withECDSA");
    assert_eq!(info["version"], 3);
    assert_eq!(info["trusted"], false);
    let r = s
        .dr(&sid, Method::POST, "/appliance/certificates/ca")
        .json(&json!([{"value": ca["root"]}]))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let info: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/server")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["trusted"], true);

    // The cluster CA: none, then only a CA that signed the served certificate.
    let r = s
        .as_admin(Method::GET, "/config/tls/cluster-ca.pem")
        .answer()
        .await;
    nethsm_error(r, 404, "No cluster CA has been set.").await;
    let put_ca = |body: &Value| {
        s.as_admin(Method::PUT, "/config/tls/cluster-ca.pem")
            .header("content-type", PEM)
            .body(body.as_str().unwrap().to_owned())
    };
    nethsm_error(
        put_ca(&ca["leaf"]).answer().await,
        400,
        starting("The certificate is not a CA certificate"),
    )
    .await;
    nethsm_error(
        put_ca(&ca["other_root"]).answer().await,
        412,
        starting("The installed TLS certificate is not signed by this CA"),
    )
    .await;
    assert_eq!(put_ca(&ca["root"]).answer().await.status(), 201);
    let got = pem_text(
        s.as_admin(Method::GET, "/config/tls/cluster-ca.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(der_of(&got), der_of(ca["root"].as_str().unwrap()));
    // With a cluster CA set, a certificate for the key from another CA is refused (412).
    let elsewhere = csr_signed(&csr, &public).await;
    let r = put(&s, elsewhere["leaf"].as_str().unwrap().to_owned(), PEM)
        .answer()
        .await;
    nethsm_error(
        r,
        412,
        "The certificate is not signed by the cluster CA (cluster-ca.pem).",
    )
    .await;

    // Restart, even with other configured names: the administrator's certificate stays.
    s.set_args(&["--tls-name", "another.example"]);
    let expected = s.fingerprint.clone();
    s.restart();
    assert_eq!(
        s.fingerprint, expected,
        "the installed certificate survives a restart"
    );
    assert_eq!(handshake(&s, &expected).await.unwrap(), der_of(&chain));
    let unlock = s.unlock(UNLOCK).await;
    assert_eq!(unlock.status(), 204);
    let got = pem_text(
        s.as_admin(Method::GET, "/config/tls/cluster-ca.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(
        der_of(&got),
        der_of(ca["root"].as_str().unwrap()),
        "the cluster CA too"
    );

    // Each change is in the audit trail.
    let events = audit_events(&s).await;
    let changed = |path: &str| {
        events
            .iter()
            .any(|e| e.to_string().contains(path) && e.to_string().contains("success"))
    };
    assert!(changed("/config/tls/cert.pem"), "{events:?}");
    assert!(changed("/config/tls/cluster-ca.pem"));
}

#[tokio::test]
async fn nethsm_generates_each_tls_key_type_and_serves_it() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let generate =
        |s: &Server, body: Value| s.as_admin(Method::POST, "/config/tls/generate").json(&body);
    for (body, expect) in [
        (json!({"type": "EC_P384"}), "EC secp384r1"),
        (json!({"type": "EC_P521"}), "EC secp521r1"),
        (json!({"type": "Curve25519"}), "Ed25519"),
        (json!({"type": "RSA", "length": 3072}), "RSA 3072"),
        (json!({"type": "EC_P256"}), "EC secp256r1"),
    ] {
        let r = generate(&s, body.clone()).answer().await;
        assert_eq!(r.status(), 204, "{body}: {}", r.text().await.unwrap());
        // Learn what is served now, then prove it with a pinned handshake.
        let cert = unpinned()
            .get(s.url("/config/tls/cert.pem"))
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        follow(&mut s, &cert).await;
        let public = pem_text(
            s.as_admin(Method::GET, "/config/tls/public.pem")
                .answer()
                .await,
        )
        .await;
        let kind = pyca(CHECK_SELF_SIGNED, &[cert.clone(), public.clone()]).await;
        assert_eq!(kind.trim(), expect, "{body}");
        // A CSR with the new key verifies with it.
        let r = s
            .as_admin(Method::POST, "/config/tls/csr.pem")
            .json(&json!({"commonName": "gen.example"}))
            .answer()
            .await;
        let signed = csr_signed(&pem_text(r).await, &public).await;
        assert_eq!(signed["dns"], json!(["gen.example"]));
    }
    for (body, says) in [
        (
            json!({"type": "BrainpoolP256"}),
            starting("Brainpool curves are not usable for TLS"),
        ),
        (
            json!({"type": "RSA", "length": 1000}),
            "length 1000: an RSA TLS key is 2048, 3072, 4096 or 8192 bits.".into(),
        ),
        (json!({"type": "DSA"}), starting("Malformed request body")),
        (json!({"length": 2048}), starting("Malformed request body")),
    ] {
        nethsm_error(generate(&s, body).answer().await, 400, says).await;
    }
    let r = s
        .post("/config/tls/generate")
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
        .json(&json!({"type": "EC_P256"}))
        .answer()
        .await;
    nethsm_error(r, 403, "Access denied.").await;
    // The refused requests changed nothing.
    assert!(handshake(&s, &s.fingerprint).await.is_ok());
    // Locked: 412 on NetHSM, 503 on the appliance face.
    s.lock().await;
    nethsm_error(
        generate(&s, json!({"type": "EC_P256"})).answer().await,
        412,
        "Service not available",
    )
    .await;
    for (method, path) in [
        (Method::GET, "/appliance/certificates/server"),
        (Method::POST, "/appliance/certificates/actions/generate-csr"),
        (Method::GET, "/appliance/certificates/ca"),
    ] {
        let r = s.appliance(method, path).answer().await;
        assert_eq!(
            appliance_documented_error(r, 503).await,
            "SERVICE_UNAVAILABLE"
        );
    }
    // A generated key is the administrator's, kept over a restart.
    let expected = s.fingerprint.clone();
    s.restart();
    assert_eq!(s.fingerprint, expected);
}

#[tokio::test]
async fn appliance_certificates_and_trusted_cas() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let sid = s.admin_session().await;
    // No session: 401; an Operator cannot open one.
    appliance_error(
        s.appliance(Method::GET, "/appliance/certificates/server")
            .answer()
            .await,
        401,
        "",
        "",
    )
    .await;
    appliance_error(
        s.appliance(Method::GET, "/appliance/certificates/ca")
            .answer()
            .await,
        401,
        "",
        "",
    )
    .await;
    let r = s
        .appliance(Method::POST, "/session")
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
        .answer()
        .await;
    appliance_error(r, 403, "ACCESS_DENIED", "Access denied.").await;

    let info: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/server")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["thumbprint"], s.fingerprint.as_str());
    assert_eq!(info["subject_dn"], "CN=Strongroom");
    assert_eq!(info["public_key_format"], "X.509");
    assert_eq!(info["trusted"], false);
    let spki = base64::engine::general_purpose::STANDARD
        .decode(info["public_key"].as_str().unwrap())
        .unwrap();
    let public = pem_text(
        s.as_admin(Method::GET, "/config/tls/public.pem")
            .answer()
            .await,
    )
    .await;
    assert!(public.contains(&base64::engine::general_purpose::STANDARD.encode(&spki)[..40]));

    // A CSR for a new key; the served certificate does not change until its certificate comes.
    let input = json!({
        "common_name": "dr.example", "organization": "Strongroom Test", "organization_unit": "Ops",
        "fqdn": "dr.example, dr2.example", "ip": "192.0.2.9, 2001:db8::9",
        "locality": "Berlin", "state": "Berlin", "country": "DE", "email": "ops@example.com",
    });
    let r = s
        .dr(
            &sid,
            Method::POST,
            "/appliance/certificates/actions/generate-csr",
        )
        .json(&input)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let csr = r.json::<Value>().await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca = csr_signed(&csr, "").await;
    assert_eq!(ca["key"], "RSAPublicKey");
    assert_eq!(ca["key_size"], 2048);
    assert_eq!(ca["dns"], json!(["dr.example", "dr2.example"]));
    assert_eq!(ca["ip"], json!(["192.0.2.9", "2001:db8::9"]));
    assert_eq!(
        ca["subject"],
        json!([
            ["2.5.4.6", "DE"],
            ["2.5.4.8", "Berlin"],
            ["2.5.4.7", "Berlin"],
            ["2.5.4.10", "Strongroom Test"],
            ["2.5.4.11", "Ops"],
            ["2.5.4.3", "dr.example"],
            ["1.2.840.113549.1.9.1", "ops@example.com"]
        ])
    );
    assert!(
        handshake(&s, &s.fingerprint).await.is_ok(),
        "nothing served changed yet"
    );
    let r = s
        .dr(
            &sid,
            Method::POST,
            "/appliance/certificates/actions/generate-csr",
        )
        .json(&json!({"country": "Germany"}))
        .answer()
        .await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        "countryName must be a two-letter country code.",
    )
    .await;

    // Bad installs change nothing.
    let install = |s: &Server, sid: &str, body: Value| {
        s.dr(sid, Method::POST, "/appliance/certificates/server")
            .json(&body)
    };
    let r = install(
        &s,
        &sid,
        json!({"csr_format": {"certificate": ca["mismatched"]}}),
    )
    .answer()
    .await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        starting("The certificate matches neither"),
    )
    .await;
    let r = install(&s, &sid, json!({})).answer().await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        "Set exactly one of selfsigned_format, csr_format and pkcs12_format.",
    )
    .await;
    let r = install(
        &s,
        &sid,
        json!({"pkcs12_format": {"certificate": "AAAA", "password": "secret"}}),
    )
    .answer()
    .await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        "pkcs12_format: not a PKCS#12 file with a private key that this password opens.",
    )
    .await;
    let r = install(&s, &sid, json!({"csr_format": {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}})).answer().await;
    appliance_error(r, 400, "INVALID_REQUEST", starting("certificate: ")).await;

    // The signed certificate and its intermediate: served at once; NetHSM reports it.
    let r = install(
        &s,
        &sid,
        json!({"csr_format": {"certificate": ca["leaf"], "ca_chain": [ca["intermediate"]]}}),
    )
    .answer()
    .await;
    assert_eq!(r.status(), 204);
    let chain = format!(
        "{}{}",
        ca["leaf"].as_str().unwrap(),
        ca["intermediate"].as_str().unwrap()
    );
    follow(&mut s, &chain).await;
    let served = pem_text(
        s.as_admin(Method::GET, "/config/tls/cert.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(
        der_of(&served),
        der_of(&chain),
        "NetHSM's cert.pem is what the appliance face installed"
    );
    let public_after = pem_text(
        s.as_admin(Method::GET, "/config/tls/public.pem")
            .answer()
            .await,
    )
    .await;
    assert_ne!(public_after, public, "the CSR's new key is served");
    let info: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/server")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["public_key_algorithm"], "RSA");
    assert_eq!(
        info["subject_alternative_names"],
        json!(["dr.example", "dr2.example", "192.0.2.9", "2001:db8::9"])
    );

    // The trusted CA list: add, list (paged), remove.
    let list = |q: &str| s.dr(&sid, Method::GET, &format!("/appliance/certificates/ca{q}"));
    let body: Value = list("").answer().await.json().await.unwrap();
    assert_eq!(body["list"], json!([]));
    assert_eq!(body["_meta"]["total"], 0);
    let add = |v: Value| {
        s.dr(&sid, Method::POST, "/appliance/certificates/ca")
            .json(&v)
    };
    assert_eq!(
        add(json!([{"value": ca["root"]}, {"value": ca["intermediate"]}]))
            .answer()
            .await
            .status(),
        204
    );
    assert_eq!(
        add(json!([{"value": ca["root"]}])).answer().await.status(),
        204,
        "adding one again keeps one"
    );
    let body: Value = list("").answer().await.json().await.unwrap();
    assert_eq!(body["_meta"]["total"], 2);
    let cas = body["list"].as_array().unwrap();
    assert_eq!(cas[0]["subject_dn"], "CN=Test Root CA");
    assert_eq!(cas[0]["root"], true);
    assert_eq!(cas[0]["trusted_issuer"], "CN=Test Root CA");
    assert_eq!(cas[1]["subject_dn"], "CN=Test Intermediate CA");
    assert_eq!(cas[1]["root"], false);
    assert_eq!(
        cas[1]["key_usage"],
        json!([false, false, false, false, false, true, true, false, false])
    );
    let page: Value = list("?limit=1&offset=1")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["list"].as_array().unwrap().len(), 1);
    assert_eq!(page["list"][0]["subject_dn"], "CN=Test Intermediate CA");
    let subjects = |body: Value| -> Vec<String> {
        (body["list"].as_array().unwrap().iter())
            .map(|c| c["subject_dn"].as_str().unwrap().to_owned())
            .collect()
    };
    let body: Value = list("?sort_by=subject_dn&order_by=desc")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        subjects(body),
        ["CN=Test Root CA", "CN=Test Intermediate CA"]
    );
    let body: Value = list("?filter_property=root&filter=false")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subjects(body.clone()), ["CN=Test Intermediate CA"]);
    assert_eq!(
        body["_meta"]["total"], 1,
        "total counts what the filter keeps"
    );
    let body: Value =
        list("?filter_property=subject_dn&filter=CN%3DTest%20Root%20CA&filter=CN%3Dnone")
            .answer()
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(subjects(body), ["CN=Test Root CA"]);
    // The face's list query (list_query::ListQuery): its code and messages, `order_by` in
    // any case.
    let body: Value = list("?sort_by=subject_dn&order_by=ASCENDING")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        subjects(body),
        ["CN=Test Intermediate CA", "CN=Test Root CA"]
    );
    for (query, says) in [
        (
            "?sort_by=subject_dn&order_by=sideways",
            "Invalid list query: order_by must be asc, ascending, desc or descending.",
        ),
        (
            "?filter=x",
            "Invalid list query: filter_property and filter must be given together.",
        ),
        (
            "?filter_property=root",
            "Invalid list query: filter_property and filter must be given together.",
        ),
        (
            "?limit=ten",
            "Invalid list query: limit must be a whole number of 0 or more.",
        ),
        (
            "?offset=-1",
            "Invalid list query: offset must be a whole number of 0 or more.",
        ),
    ] {
        appliance_error(list(query).answer().await, 400, "INVALID_LIST_QUERY", says).await;
    }
    appliance_error(
        list("?limit=ten").answer().await,
        400,
        "INVALID_LIST_QUERY",
        appliance_message("INVALID_LIST_QUERY"),
    )
    .await;
    appliance_error(
        add(json!([{"value": "nope"}])).answer().await,
        400,
        "INVALID_REQUEST",
        "[0].value: no PEM certificate found.",
    )
    .await;
    appliance_error(
        add(json!({"value": "nope"})).answer().await,
        400,
        "INVALID_REQUEST",
        starting("Invalid request body"),
    )
    .await;
    let info: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/server")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["trusted"], true, "its chain ends at a trusted CA");
    let remove = |v: Value| {
        s.dr(
            &sid,
            Method::POST,
            "/appliance/certificates/ca/actions/remove",
        )
        .json(&v)
    };
    assert_eq!(
        remove(json!([{"value": ca["intermediate"]}]))
            .answer()
            .await
            .status(),
        204
    );
    let r = remove(json!([{"value": ca["intermediate"]}]))
        .answer()
        .await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        "[0].value: this CA certificate is not installed.",
    )
    .await;

    // A PKCS#12 file: its key and certificates, the chain put in order; the wrong password
    // changes nothing.
    let p12: Value =
        serde_json::from_str(&pyca(MAKE_PKCS12, &["p12 password".to_owned()]).await).unwrap();
    let r = install(
        &s,
        &sid,
        json!({"pkcs12_format": {"certificate": p12["modern"], "password": "not the password"}}),
    )
    .answer()
    .await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        "pkcs12_format: not a PKCS#12 file with a private key that this password opens.",
    )
    .await;
    for format in ["legacy", "modern"] {
        let r = install(
            &s,
            &sid,
            json!({"pkcs12_format": {"certificate": p12[format], "password": "p12 password"}}),
        )
        .answer()
        .await;
        assert_eq!(r.status(), 204, "{format}: {}", r.text().await.unwrap());
        follow(&mut s, p12["chain"].as_str().unwrap()).await;
        // Back to a certificate of another key, so the next format is a change too.
        let r = s
            .as_admin(Method::POST, "/config/tls/generate")
            .json(&json!({"type": "EC_P256"}))
            .answer()
            .await;
        assert_eq!(r.status(), 204);
        let fingerprint = openssl_fingerprint(&s);
        s.fingerprint = fingerprint.clone();
        s.client = pinned_client(&fingerprint);
    }

    // The installed private key is nowhere on disk or in the log in clear (raw, PKCS#8, as
    // PEM's base64, as hex).
    let b64 = base64::engine::general_purpose::STANDARD;
    let pkcs8 = hex::decode(p12["pkcs8"].as_str().unwrap()).unwrap();
    let scalar = hex::decode(p12["scalar"].as_str().unwrap()).unwrap();
    let needles: Vec<Vec<u8>> = vec![
        pkcs8.clone(),
        scalar.clone(),
        b64.encode(&pkcs8).as_bytes()[..48].to_vec(),
        hex::encode(&scalar).into_bytes(),
    ];
    let mut haystacks = files_under(&s.data_dir);
    haystacks.push((s.log_path.clone(), s.log().into_bytes()));
    for (path, bytes) in &haystacks {
        for needle in &needles {
            assert!(
                !contains(bytes, needle),
                "{} holds the TLS key",
                path.display()
            );
        }
    }

    // A new self-signed certificate with the subject asked for.
    let r = install(
        &s,
        &sid,
        json!({"selfsigned_format": {"common_name": "self.example", "fqdn": "self.example"}}),
    )
    .answer()
    .await;
    assert_eq!(r.status(), 204);
    let cert = unpinned()
        .get(s.url("/config/tls/cert.pem"))
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    follow(&mut s, &cert).await;
    let info: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/server")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["subject_dn"], "CN=self.example");
    assert_eq!(info["issuer_dn"], "CN=self.example");
    assert_eq!(info["trusted"], false);
    let public = pem_text(
        s.as_admin(Method::GET, "/config/tls/public.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(
        pyca(CHECK_SELF_SIGNED, &[cert, public]).await.trim(),
        "RSA 2048"
    );

    // Over a restart: the certificate and the CA list.
    let expected = s.fingerprint.clone();
    s.restart();
    assert_eq!(s.fingerprint, expected);
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let sid = s.admin_session().await;
    let body: Value = s
        .dr(&sid, Method::GET, "/appliance/certificates/ca")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["_meta"]["total"], 1);
    assert_eq!(body["list"][0]["subject_dn"], "CN=Test Root CA");
}

/// Pins `s`'s client to what a new connection is served now (as openssl reads it), for
/// after a change whose certificate the test does not know beforehand.
async fn served_now(s: &mut Server) -> String {
    let fingerprint = openssl_fingerprint(s);
    assert!(handshake(s, &fingerprint).await.is_ok());
    s.fingerprint = fingerprint.clone();
    s.client = pinned_client(&fingerprint);
    fingerprint
}

#[tokio::test]
async fn an_administrators_certificate_is_in_the_backup_and_a_full_restore_serves_it() {
    const BACKUP_PASS: &str = "the backup passphrase";
    const BACKUP_USER_PASS: &str = "backup user passphrase";
    let mut a = Server::start();
    a.provision().await;
    a.set_backup_passphrase(BACKUP_PASS, "").await;
    a.create_user(Some("bk"), "Backup", BACKUP_USER_PASS).await;
    let generate = |s: &Server, kind: &str| {
        s.as_admin(Method::POST, "/config/tls/generate")
            .json(&json!({"type": kind}))
    };
    assert_eq!(generate(&a, "EC_P384").answer().await.status(), 204);
    let backed_up = served_now(&mut a).await;
    let cert = pem_text(
        a.as_admin(Method::GET, "/config/tls/cert.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(fingerprint_of_pem(&cert), backed_up);
    let file = a.backup("bk", BACKUP_USER_PASS).await;

    // A restore onto an Operational node keeps that node's configuration: its certificate.
    assert_eq!(generate(&a, "EC_P256").answer().await.status(), 204);
    let own = served_now(&mut a).await;
    assert_ne!(own, backed_up);
    let r = a
        .restore(file.clone(), BACKUP_PASS, Some(("admin", ADMIN)))
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(
        openssl_fingerprint(&a),
        own,
        "a partial restore keeps the node's certificate"
    );

    // A full restore onto a new node serves the backup's certificate at once, and after a
    // restart; NetHSM reports it once the node is unlocked.
    let mut b = Server::start();
    let r = b.restore(file, BACKUP_PASS, None).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    follow(&mut b, &cert).await;
    assert_eq!(b.unlock(UNLOCK).await.status(), 204);
    let served = pem_text(
        b.as_admin(Method::GET, "/config/tls/cert.pem")
            .answer()
            .await,
    )
    .await;
    assert_eq!(der_of(&served), der_of(&cert));
    b.restart();
    assert_eq!(b.fingerprint, backed_up);
}

/// The real NetHSM Python client (`nethsm` on PyPI) drives every `/config/tls/*` operation
/// (`tests/interop/nethsm_tls.py`), pyca signs its CSR, Python's ssl reads what is served.
#[tokio::test]
async fn the_real_nethsm_client_manages_the_tls_certificate() {
    use crate::common::python::{self, test_python, workspace_root};
    let python = test_python("nethsm");
    let s = Server::start();
    let script = workspace_root().join("tests/interop/nethsm_tls.py");
    let host = s.base.strip_prefix("https://").unwrap().to_owned();
    let args = [script.as_os_str(), "--host".as_ref(), host.as_ref()];
    let run = python::run(&python, &args, None, std::time::Duration::from_secs(180)).await;
    assert!(
        run.passed(),
        "{} {}\n{}\n{}\n--- server log ---\n{}",
        script.display(),
        run.outcome(),
        run.stdout,
        run.stderr,
        s.log()
    );
    assert!(
        run.stdout.contains("nethsm tls interop: all checks passed"),
        "{}",
        run.stdout
    );
}
