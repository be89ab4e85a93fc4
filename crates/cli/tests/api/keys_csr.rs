//! `POST /keys/{KeyID}/csr.pem` and the multipart (PEM) import of `POST /keys` and
//! `PUT /keys/{KeyID}` (issue 13): every CSR of every key type parsed by pyca/cryptography,
//! its signature, subject, SANs and public key checked there and by `openssl req -verify`
//! (when the machine has `openssl`); keys made by pyca imported as PEM in each form and their
//! signatures verified by pyca with pyca's own public key; the real `nethsm` client's
//! `add_key_pem` and `key_csr`; and the unhappy paths.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::keys::*;
use crate::common::python::{self, test_python};
use crate::common::*;

const MESSAGE: &[u8] = b"Strongroom signs this imported message.";

/// Checks each CSR of the JSON list argv[1] with pyca: the signature, the public key (the
/// server's `public.pem`), the subject attribute by attribute and in order, the signature
/// algorithm and hash, and the SAN extension (or its absence).
const CHECK_CSRS: &str = r#"
import json, sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from cryptography.hazmat.primitives import serialization
def der(k): return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
for c in json.loads(sys.argv[1]):
    csr = x509.load_pem_x509_csr(c["csr"].encode())
    assert csr.is_signature_valid, c["name"] + ": signature does not verify"
    assert der(csr.public_key()) == der(serialization.load_pem_public_key(c["public_pem"].encode())), c["name"] + ": public key"
    got = [[a.oid.dotted_string, a.value] for a in csr.subject]
    assert got == c["subject"], (c["name"], got, c["subject"])
    assert all(len(rdn) == 1 for rdn in csr.subject.rdns), c["name"] + ": one attribute per RDN"
    assert csr.signature_algorithm_oid.dotted_string == c["sig_oid"], (c["name"], csr.signature_algorithm_oid)
    h = csr.signature_hash_algorithm
    assert (h.name if h else None) == c["hash"], (c["name"], h)
    try:
        ext = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        assert not ext.critical, c["name"]
        sans = {"dns": ext.value.get_values_for_type(x509.DNSName),
                "ip": [str(i) for i in ext.value.get_values_for_type(x509.IPAddress)]}
    except x509.ExtensionNotFound:
        sans = None
    assert sans == c["sans"], (c["name"], sans, c["sans"])
    print("verified", c["name"])
print("all verified")
"#;

/// Makes keys with pyca in the PEM forms the import takes (PKCS#8, PKCS#1, SEC1), with their
/// public keys; the message's digests; and PEMs the import must refuse.
const MAKE_PEMS: &str = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
msg = bytes.fromhex(sys.argv[1])
P, E = serialization.PrivateFormat, serialization.Encoding
def b64(b): return base64.b64encode(b).decode()
def priv(k, fmt, enc=serialization.NoEncryption()): return k.private_bytes(E.PEM, fmt, enc).decode()
def pub(k): return k.public_key().public_bytes(E.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
keys = []
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
keys.append({"name": "rsa-pkcs8", "type": "RSA", "pem": priv(r, P.PKCS8), "public": pub(r)})
r = rsa.generate_private_key(public_exponent=65537, key_size=3072)
keys.append({"name": "rsa-pkcs1", "type": "RSA", "pem": priv(r, P.TraditionalOpenSSL), "public": pub(r)})
for name, t, curve, fmt in [("p256-sec1", "EC_P256", ec.SECP256R1(), P.TraditionalOpenSSL),
                            ("p384-pkcs8", "EC_P384", ec.SECP384R1(), P.PKCS8),
                            ("p521-pkcs8", "EC_P521", ec.SECP521R1(), P.PKCS8),
                            ("p521-sec1", "EC_P521", ec.SECP521R1(), P.TraditionalOpenSSL),
                            ("k1-pkcs8", "EC_P256K1", ec.SECP256K1(), P.PKCS8),
                            ("bp256-pkcs8", "BrainpoolP256", ec.BrainpoolP256R1(), P.PKCS8),
                            ("bp384-sec1", "BrainpoolP384", ec.BrainpoolP384R1(), P.TraditionalOpenSSL),
                            ("bp512-pkcs8", "BrainpoolP512", ec.BrainpoolP512R1(), P.PKCS8)]:
    k = ec.generate_private_key(curve)
    keys.append({"name": name, "type": t, "pem": priv(k, fmt), "public": pub(k)})
e = ed25519.Ed25519PrivateKey.generate()
keys.append({"name": "ed25519-pkcs8", "type": "Curve25519", "pem": priv(e, P.PKCS8), "public": pub(e)})
digests = {h: b64(hashlib.new(h, msg).digest()) for h in ["sha256", "sha384", "sha512"]}
digestinfo = b64(bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(msg).digest())
p256 = ec.generate_private_key(ec.SECP256R1())
bad = {
    "encrypted": priv(p256, P.PKCS8, serialization.BestAvailableEncryption(b"a passphrase")),
    "public": pub(p256),
    "x25519": priv(x25519.X25519PrivateKey.generate(), P.PKCS8),
    "p224": priv(ec.generate_private_key(ec.SECP224R1()), P.PKCS8),
    "rsa1024": priv(rsa.generate_private_key(public_exponent=65537, key_size=1024), P.PKCS8),
}
print(json.dumps({"keys": keys, "digests": digests, "digestinfo_sha256": digestinfo, "bad": bad}))
"#;

/// Verifies each signature of the JSON list argv[2] over the message argv[1] with pyca's own
/// public key of the imported key, and that the server's `public.pem` is that key.
const VERIFY_SIGNATURES: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
msg = bytes.fromhex(sys.argv[1])
CURVE_HASH = {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512,
              "secp256k1": hashes.SHA256, "brainpoolP256r1": hashes.SHA256,
              "brainpoolP384r1": hashes.SHA384, "brainpoolP512r1": hashes.SHA512}
def der(k): return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
for c in json.loads(sys.argv[2]):
    key = serialization.load_pem_public_key(c["pyca_public"].encode())
    assert der(key) == der(serialization.load_pem_public_key(c["server_public"].encode())), c["name"] + ": public.pem"
    sig = base64.b64decode(c["sig"])
    mode = c["mode"]
    if mode == "EdDSA":
        key.verify(sig, msg)
    elif mode == "ECDSA":
        key.verify(sig, msg, ec.ECDSA(CURVE_HASH[key.curve.name]()))
    elif mode == "PKCS1":
        key.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert mode == "PSS_SHA256", mode
        key.verify(sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    print("verified", c["name"], mode)
print("all verified")
"#;

async fn csr(who: reqwest::RequestBuilder, dn: &Value) -> String {
    let r = who.json(dn).answer().await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    let pem = r.text().await.unwrap();
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"),
        "{pem}"
    );
    assert!(
        pem.ends_with("-----END CERTIFICATE REQUEST-----\n"),
        "{pem}"
    );
    pem
}

/// The signature algorithm OID and hash pyca names for a CSR signed by a key of type `t`.
fn algorithm(t: &str) -> (&'static str, Value) {
    match t {
        "RSA" => ("1.2.840.113549.1.1.11", json!("sha256")),
        "Curve25519" => ("1.3.101.112", Value::Null),
        "EC_P256" | "EC_P256K1" | "BrainpoolP256" => ("1.2.840.10045.4.3.2", json!("sha256")),
        "EC_P384" | "BrainpoolP384" => ("1.2.840.10045.4.3.3", json!("sha384")),
        _ => ("1.2.840.10045.4.3.4", json!("sha512")),
    }
}

/// Verifies `csr` with `openssl req -verify`, if the machine has openssl.
async fn openssl_verifies(name: &str, csr: &str) -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("a temporary directory");
    };
    let path = dir.path().join("request.pem");
    std::fs::write(&path, csr).unwrap();
    let run = tokio::process::Command::new("openssl")
        .args(["req", "-in"])
        .arg(&path)
        .args(["-verify", "-noout"])
        .output()
        .await;
    let Ok(out) = run else {
        return false; // no openssl here
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl req -verify {name}: {text}");
    assert!(
        text.contains("verify OK"),
        "openssl req -verify {name}: {text}"
    );
    true
}

const FULL_SUBJECT: [(&str, &str, &str); 7] = [
    ("countryName", "2.5.4.6", "DE"),
    ("stateOrProvinceName", "2.5.4.8", "Berlin"),
    ("localityName", "2.5.4.7", "Berlin"),
    ("organizationName", "2.5.4.10", "Nitrokey Ä GmbH"),
    ("organizationalUnitName", "2.5.4.11", "Keys"),
    ("commonName", "2.5.4.3", "nethsm.local"),
    ("emailAddress", "1.2.840.113549.1.9.1", "info@nitrokey.com"),
];

#[tokio::test]
async fn csrs_of_every_key_type_verify_in_pyca_and_openssl() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    // Each type; the keys have no mechanisms at all (a CSR does not need one, as in NetHSM),
    // except the RSA key, made for PSS only (the CSR is still PKCS#1 v1.5 with SHA-256).
    let types = [
        (
            "RSA",
            json!({"type": "RSA", "length": 2048, "id": "rsa",
                       "mechanisms": ["RSA_Signature_PSS_SHA256"]}),
        ),
        (
            "Curve25519",
            json!({"type": "Curve25519", "id": "ed", "mechanisms": []}),
        ),
        (
            "EC_P256",
            json!({"type": "EC_P256", "id": "p256", "mechanisms": []}),
        ),
        (
            "EC_P384",
            json!({"type": "EC_P384", "id": "p384", "mechanisms": []}),
        ),
        (
            "EC_P521",
            json!({"type": "EC_P521", "id": "p521", "mechanisms": []}),
        ),
        (
            "EC_P256K1",
            json!({"type": "EC_P256K1", "id": "k1", "mechanisms": []}),
        ),
        (
            "BrainpoolP256",
            json!({"type": "BrainpoolP256", "id": "bp256", "mechanisms": []}),
        ),
        (
            "BrainpoolP384",
            json!({"type": "BrainpoolP384", "id": "bp384", "mechanisms": []}),
        ),
        (
            "BrainpoolP512",
            json!({"type": "BrainpoolP512", "id": "bp512", "mechanisms": []}),
        ),
    ];
    let mut full = json!({"subjectAltNames": ["example.com", "www.example.com",
                                              "IP:192.168.1.1", "IP:2001:db8::1"]});
    for (field, _, value) in FULL_SUBJECT {
        full[field] = json!(value);
    }
    let full_subject: Vec<Value> = FULL_SUBJECT
        .iter()
        .map(|(_, oid, value)| json!([oid, value]))
        .collect();
    let full_sans = json!({"dns": ["example.com", "www.example.com"],
                           "ip": ["192.168.1.1", "2001:db8::1"]});

    let mut cases = Vec::new();
    for (t, body) in &types {
        let r = s.as_admin(Method::POST, "/keys/generate").json(body);
        assert_eq!(r.answer().await.status(), 201);
        let id = body["id"].as_str().unwrap();
        let public = public_pem(&s, id).await;
        let (sig_oid, hash) = algorithm(t);
        let path = format!("/keys/{id}/csr.pem");
        let pem = csr(s.as_admin(Method::POST, &path), &full).await;
        cases.push(
            json!({"name": format!("{id} full"), "csr": pem, "public_pem": public,
                          "subject": full_subject, "sans": full_sans,
                          "sig_oid": sig_oid, "hash": hash}),
        );
        // An Operator may ask too (the key has no tags), with only the common name: the SAN
        // is then the common name.
        let dn = json!({"commonName": format!("{id}.example")});
        let pem = csr(as_operator(&s, Method::POST, &path), &dn).await;
        cases.push(json!({"name": format!("{id} by the operator"), "csr": pem,
                          "public_pem": public,
                          "subject": [["2.5.4.3", format!("{id}.example")]],
                          "sans": {"dns": [format!("{id}.example")], "ip": []},
                          "sig_oid": sig_oid, "hash": hash}));
    }
    // An empty list of SANs: no SAN extension. Empty optional fields are left out. A common
    // name that is no DNS name is fine when the SANs are given.
    let public = public_pem(&s, "p256").await;
    let (sig_oid, hash) = algorithm("EC_P256");
    let dn = json!({"commonName": "My signing key ✓", "countryName": "", "organizationName": "",
                    "subjectAltNames": []});
    let pem = csr(s.as_admin(Method::POST, "/keys/p256/csr.pem"), &dn).await;
    cases.push(json!({"name": "no SANs", "csr": pem, "public_pem": public,
                      "subject": [["2.5.4.3", "My signing key ✓"]], "sans": null,
                      "sig_oid": sig_oid, "hash": hash}));
    let r = s
        .as_admin(Method::POST, "/keys/p256/csr.pem")
        .header("accept", "application/x-pem-file")
        .json(&json!({"commonName": "accept.example", "subjectAltNames": ["IP:::1"]}));
    let pem = csr(
        r,
        &json!({"commonName": "accept.example", "subjectAltNames": ["IP:::1"]}),
    )
    .await;
    cases.push(
        json!({"name": "IPv6 only, Accept: application/x-pem-file", "csr": pem,
                      "public_pem": public, "subject": [["2.5.4.3", "accept.example"]],
                      "sans": {"dns": [], "ip": ["::1"]}, "sig_oid": sig_oid, "hash": hash}),
    );

    let out = pyca(CHECK_CSRS, &[json!(cases).to_string()]).await;
    assert!(out.contains("all verified"), "{out}");
    assert_eq!(out.matches("verified ").count(), cases.len());
    assert_eq!(cases.len(), 2 * types.len() + 2);

    let mut with_openssl = 0;
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        if openssl_verifies(name, c["csr"].as_str().unwrap()).await {
            with_openssl += 1;
        }
    }
    let has_openssl = tokio::process::Command::new("openssl")
        .arg("version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    let want = if has_openssl { cases.len() } else { 0 };
    assert_eq!(
        with_openssl, want,
        "openssl verified every request, if it is here"
    );
}

fn pem_form(arguments: &Value, key_file: &str) -> Form {
    Form::new()
        .text("arguments", arguments.to_string())
        .text("key_file", key_file.to_owned())
}

#[tokio::test]
async fn pem_imports_of_keys_made_by_pyca_sign_what_pyca_verifies() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let r = s
        .as_admin(Method::PUT, "/users/op/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let message_hex = hex::encode(MESSAGE);
    let made: Value =
        serde_json::from_str(&pyca(MAKE_PEMS, std::slice::from_ref(&message_hex)).await).unwrap();
    let digest = |h: &str| made["digests"][h].as_str().unwrap().to_owned();
    let message_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(MESSAGE)
    };

    let mut checks = Vec::new();
    for (i, key) in made["keys"].as_array().unwrap().iter().enumerate() {
        let (name, t) = (key["name"].as_str().unwrap(), key["type"].as_str().unwrap());
        let signs: Vec<(&str, String)> = match t {
            "RSA" => vec![
                (
                    "PKCS1",
                    made["digestinfo_sha256"].as_str().unwrap().to_owned(),
                ),
                ("PSS_SHA256", digest("sha256")),
            ],
            "Curve25519" => vec![("EdDSA", message_b64.clone())],
            "EC_P256" | "EC_P256K1" | "BrainpoolP256" => vec![("ECDSA", digest("sha256"))],
            "EC_P384" | "BrainpoolP384" => vec![("ECDSA", digest("sha384"))],
            _ => vec![("ECDSA", digest("sha512"))],
        };
        let mechanisms: Vec<String> = signs
            .iter()
            .map(|(mode, _)| match *mode {
                "PKCS1" => "RSA_Signature_PKCS1".to_owned(),
                "PSS_SHA256" => "RSA_Signature_PSS_SHA256".to_owned(),
                "EdDSA" => "EdDSA_Signature".to_owned(),
                _ => "ECDSA_Signature".to_owned(),
            })
            .collect();
        let arguments = json!({"mechanisms": mechanisms, "restrictions": {"tags": ["berlin"]},
                               "label": format!("pem {name}")});
        let form = pem_form(&arguments, key["pem"].as_str().unwrap());
        // Every other key under a chosen id (PUT, 204), the rest with a generated one (POST).
        let id = if i % 2 == 0 {
            let r = s
                .as_admin(Method::POST, "/keys")
                .multipart(form)
                .answer()
                .await;
            assert_eq!(r.status(), 201, "{name}: {}", r.text().await.unwrap());
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            let body: Value = r.json().await.unwrap();
            let id = body["id"].as_str().unwrap().to_owned();
            assert_eq!(location, format!("/api/v1/keys/{id}"));
            id
        } else {
            let r = s.as_admin(Method::PUT, &format!("/keys/{name}"));
            let r = r.multipart(form).answer().await;
            assert_eq!(r.status(), 204, "{name}: {}", r.text().await.unwrap());
            name.to_owned()
        };
        let info: Value = s
            .as_admin(Method::GET, &format!("/keys/{id}"))
            .answer()
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(info["type"], t, "{name}: the type is the key's own");
        let mut sorted = mechanisms.clone();
        sorted.sort();
        assert_eq!(info["mechanisms"], json!(sorted), "{name}");
        assert_eq!(info["restrictions"], json!({"tags": ["berlin"]}), "{name}");
        assert_eq!(info["label"], format!("pem {name}"), "{name}");
        let server_public = public_pem(&s, &id).await;
        for (mode, input) in signs {
            let r = as_operator(&s, Method::POST, &format!("/keys/{id}/sign"))
                .json(&json!({"mode": mode, "message": input}))
                .answer()
                .await;
            assert_eq!(
                r.status(),
                200,
                "{name} {mode}: {}",
                r.text().await.unwrap()
            );
            let body: Value = r.json().await.unwrap();
            checks.push(json!({"name": name, "mode": mode, "sig": body["signature"],
                               "pyca_public": key["public"], "server_public": server_public}));
        }
    }
    assert_eq!(checks.len(), 2 * 2 + 4 + 4 + 1);
    let out = pyca(VERIFY_SIGNATURES, &[message_hex, json!(checks).to_string()]).await;
    assert!(out.contains("all verified"), "{out}");
    assert_eq!(out.matches("verified ").count(), checks.len());

    // The private keys never reach the log, not even a line of them.
    let log = s.log();
    assert!(!log.is_empty());
    for key in made["keys"].as_array().unwrap() {
        let pem = key["pem"].as_str().unwrap();
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!log.contains(line), "a line of a private key is in the log");
        }
    }
}

#[tokio::test]
async fn unhappy_paths() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    s.create_user(Some("bk"), "Backup", OPERATOR_PASS).await;
    let made: Value =
        serde_json::from_str(&pyca(MAKE_PEMS, &[hex::encode(MESSAGE)]).await).unwrap();
    let rsa_pem = made["keys"][0]["pem"].as_str().unwrap().to_owned();
    let p256_pem = made["keys"][2]["pem"].as_str().unwrap().to_owned();
    let r = s.as_admin(Method::POST, "/keys/generate").json(
        &json!({"type": "EC_P256", "id": "tagged", "mechanisms": ["ECDSA_Signature"],
                "restrictions": {"tags": ["paris"]}}),
    );
    assert_eq!(r.answer().await.status(), 201);
    let cn = json!({"commonName": "tagged.example"});
    let admin_csr = |id: &str, dn: Value| {
        s.as_admin(Method::POST, &format!("/keys/{id}/csr.pem"))
            .json(&dn)
    };

    // CSRs: an unknown key, a key with no public key, wrong roles, the tag restriction.
    nethsm_error(
        admin_csr("nosuch", cn.clone()).answer().await,
        404,
        "Key not found.",
    )
    .await;
    let r = s.as_admin(Method::POST, "/keys/generate").json(
        &json!({"type": "Generic", "length": 128, "id": "aes", "mechanisms": ["AES_Encryption_CBC"]}),
    );
    assert_eq!(r.answer().await.status(), 201);
    nethsm_error(
        admin_csr("aes", cn.clone()).answer().await,
        400,
        "A Generic key has no public key.",
    )
    .await;
    let r = s.as_admin(Method::DELETE, "/keys/aes").answer().await;
    assert_eq!(r.status(), 204);
    let r = s
        .post("/keys/tagged/csr.pem")
        .basic_auth("bk", Some(OPERATOR_PASS))
        .json(&cn);
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = as_operator(&s, Method::POST, "/keys/tagged/csr.pem").json(&cn);
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = s
        .as_admin(Method::PUT, "/users/op/tags/paris")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let r = as_operator(&s, Method::POST, "/keys/tagged/csr.pem").json(&cn);
    assert_eq!(
        r.answer().await.status(),
        200,
        "an Operator with the key's tag"
    );
    let r = s.post("/keys/tagged/csr.pem").json(&cn);
    nethsm_error(r.answer().await, 401, "Authentication required.").await;

    // CSRs: the subject.
    let r = admin_csr("tagged", json!({"organizationName": "x"}))
        .answer()
        .await;
    nethsm_error(r, 400, starting("Malformed request body: ")).await;
    let r = admin_csr("tagged", json!({"commonName": "x", "surname": "y"}));
    nethsm_error(r.answer().await, 400, starting("Malformed request body: ")).await;
    let r = admin_csr("tagged", json!({"commonName": 7}));
    nethsm_error(r.answer().await, 400, starting("Malformed request body: ")).await;
    let r = admin_csr("tagged", json!({"commonName": ""}));
    nethsm_error(r.answer().await, 400, "commonName must not be empty.").await;
    for country in ["DEU", "D1", "Ü"] {
        let r = admin_csr("tagged", json!({"commonName": "x", "countryName": country}));
        let message = "countryName must be a two-letter country code.";
        nethsm_error(r.answer().await, 400, message).await;
    }
    let r = admin_csr(
        "tagged",
        json!({"commonName": "x", "emailAddress": "ä@example.com"}),
    );
    nethsm_error(r.answer().await, 400, "emailAddress must be ASCII.").await;
    let r = admin_csr("tagged", json!({"commonName": "Schlüssel"}));
    let message =
        "The commonName is not a DNS name (ASCII); give subjectAltNames (an empty list for none).";
    nethsm_error(r.answer().await, 400, message).await;
    let r = admin_csr(
        "tagged",
        json!({"commonName": "x", "subjectAltNames": ["IP:300.1.1.1"]}),
    );
    let message = "subjectAltNames: \"IP:300.1.1.1\" is not an IP address.";
    nethsm_error(r.answer().await, 400, message).await;
    for name in ["", "bücher.example"] {
        let r = admin_csr(
            "tagged",
            json!({"commonName": "x", "subjectAltNames": [name]}),
        );
        let message = format!("subjectAltNames: {name:?} is not a DNS name (ASCII, not empty).");
        nethsm_error(r.answer().await, 400, message).await;
    }
    let r = admin_csr("tagged", cn.clone()).header("accept", "application/json");
    let message = "Content type in Accept header not supported.";
    nethsm_error(r.answer().await, 406, message).await;
    let r = admin_csr("tagged", cn.clone()).header("content-type", "application/json");
    let r = r.body(vec![b' '; 1024 * 1024 + 1]);
    let message = "Request body is larger than 1048576 bytes.";
    nethsm_error(r.answer().await, 413, message).await;
    let r = s
        .as_admin(Method::GET, "/keys/tagged/csr.pem")
        .answer()
        .await;
    assert_eq!(r.status(), 405);

    // Multipart imports.
    let args = json!({"mechanisms": ["ECDSA_Signature"]});
    let post = |form: Form| s.as_admin(Method::POST, "/keys").multipart(form);
    let put = |id: &str, form: Form| {
        s.as_admin(Method::PUT, &format!("/keys/{id}"))
            .multipart(form)
    };
    let r = put("p", pem_form(&args, &p256_pem)).answer().await;
    assert_eq!(r.status(), 204);
    let r = put("p", pem_form(&args, &p256_pem));
    nethsm_error(r.answer().await, 409, "A key with this ID exists already.").await;
    let r = as_operator(&s, Method::POST, "/keys").multipart(pem_form(&args, &p256_pem));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = put("-bad", pem_form(&args, &p256_pem));
    let message =
        "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.";
    nethsm_error(r.answer().await, 400, message).await;
    let not_a_key = "The key_file is not an unencrypted PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY).";
    for (what, pem) in [
        ("garbage", "not a key".to_owned()),
        ("an empty file", String::new()),
        (
            "a public key",
            made["bad"]["public"].as_str().unwrap().to_owned(),
        ),
        (
            "an encrypted key",
            made["bad"]["encrypted"].as_str().unwrap().to_owned(),
        ),
        ("a truncated key", p256_pem[..p256_pem.len() / 2].to_owned()),
    ] {
        let r = post(pem_form(&args, &pem)).answer().await;
        assert_eq!(r.status(), 400, "{what}");
        nethsm_error(r, 400, not_a_key).await;
    }
    let unsupported = "The key_file holds a key of a type this build does not import.";
    for what in ["x25519", "p224"] {
        let pem = made["bad"][what].as_str().unwrap();
        nethsm_error(post(pem_form(&args, pem)).answer().await, 400, unsupported).await;
    }
    let pem = made["bad"]["rsa1024"].as_str().unwrap();
    let r = post(pem_form(&json!({"mechanisms": []}), pem));
    nethsm_error(
        r.answer().await,
        400,
        "RSA keys are 2048 to 8192 bits long.",
    )
    .await;
    let r = post(pem_form(&args, &rsa_pem));
    let message = "Mechanism ECDSA_Signature does not fit key type RSA.";
    nethsm_error(r.answer().await, 400, message).await;
    let r = post(pem_form(&json!({"mechanisms": ["Magic"]}), &rsa_pem));
    nethsm_error(r.answer().await, 400, "Unknown mechanism Magic.").await;
    let r = post(pem_form(
        &json!({"mechanisms": [], "label": "x".repeat(33)}),
        &rsa_pem,
    ));
    nethsm_error(
        r.answer().await,
        400,
        "A key label is at most 32 bytes of UTF-8.",
    )
    .await;
    for arguments in [
        "{",
        "{\"restrictions\": {\"tags\": []}}",
        "{\"mechanisms\": [], \"type\": \"RSA\"}",
    ] {
        let form = Form::new()
            .text("arguments", arguments)
            .text("key_file", rsa_pem.clone());
        let r = post(form).answer().await;
        nethsm_error(r, 400, starting("Malformed arguments: ")).await;
    }
    let only = |name: &'static str, value: String| Form::new().text(name, value);
    let r = post(only("arguments", args.to_string()));
    nethsm_error(r.answer().await, 400, "The key_file part is missing.").await;
    let r = post(only("key_file", p256_pem.clone()));
    nethsm_error(r.answer().await, 400, "The arguments part is missing.").await;
    let r = post(pem_form(&args, &p256_pem).text("other", "x"));
    let message = "Unexpected multipart part \"other\"; expected arguments and key_file.";
    nethsm_error(r.answer().await, 400, message).await;
    let r = post(pem_form(&args, &p256_pem).text("key_file", p256_pem.clone()));
    nethsm_error(r.answer().await, 400, "The key_file part is given twice.").await;
    let r = post(pem_form(&args, &"A".repeat(64 * 1024 + 1)));
    let message = "The key_file part is larger than 65536 bytes.";
    nethsm_error(r.answer().await, 413, message).await;
    let r = s
        .as_admin(Method::POST, "/keys")
        .header("content-type", "multipart/form-data")
        .body("no boundary");
    nethsm_error(
        r.answer().await,
        400,
        starting("Malformed multipart body: "),
    )
    .await;
    let r = post(pem_form(&args, &p256_pem)).header("accept", "application/xml");
    let message = "Content type in Accept header not supported.";
    nethsm_error(r.answer().await, 406, message).await;
    // A PUT that is neither JSON nor multipart is still 415.
    let r = s
        .as_admin(Method::PUT, "/keys/q")
        .header("content-type", "text/plain")
        .body(p256_pem.clone());
    let message = "Content type not supported; use application/json.";
    nethsm_error(r.answer().await, 415, message).await;
    // Nothing of the refused imports was stored.
    let body: Value = s
        .as_admin(Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["p", "tagged"]);
}

/// The real `nethsm` client (PyPI, pinned): `add_key_pem` (multipart, with and without an id)
/// of keys made by pyca, and `key_csr`, whose request pyca checks against pyca's own key.
const NETHSM_SDK: &str = r#"
import json, sys
import nethsm
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
host, password = sys.argv[1], sys.argv[2]
def der(k): return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
P = serialization.PrivateFormat
def pem(k, fmt): return k.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
M = nethsm.KeyMechanism
keys = [
    ("sdk-rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048), P.TraditionalOpenSSL, [M.RSA_SIGNATURE_PKCS1], nethsm.KeyType.RSA),
    (None, ec.generate_private_key(ec.SECP384R1()), P.PKCS8, [M.ECDSA_SIGNATURE], nethsm.KeyType.EC_P384),
    ("sdk-ed", ed25519.Ed25519PrivateKey.generate(), P.PKCS8, [M.EDDSA_SIGNATURE], nethsm.KeyType.CURVE25519),
]
n = nethsm.NetHSM(host, auth=nethsm.Authentication(username="admin", password=password), verify_tls=False)
for key_id, key, fmt, mechanisms, key_type in keys:
    got = n.add_key_pem(key_id, mechanisms, pem(key, fmt), tags=["sdk"], label="from the sdk")
    assert key_id is None or got == key_id, (got, key_id)
    info = n.get_key(got)
    assert info.type == key_type, (got, info.type)
    assert info.tags == ["sdk"], info.tags
    csr = x509.load_pem_x509_csr(n.key_csr(got, common_name="sdk.example", country="DE",
                                            organization="Strongroom",
                                            subject_alt_names=["sdk.example", "IP:127.0.0.1"]).encode())
    assert csr.is_signature_valid, got
    assert der(csr.public_key()) == der(key.public_key()), got
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sdk.example"
    assert csr.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    print("sdk checked", got)
print("sdk all checked")
"#;

#[tokio::test]
async fn the_nethsm_sdk_imports_pem_keys_and_makes_csrs() {
    let s = Server::start();
    s.provision().await;
    let host = s.base.strip_prefix("https://").unwrap().to_owned();
    let python = test_python("nethsm");
    let args = [
        "-c".to_owned(),
        NETHSM_SDK.to_owned(),
        host,
        ADMIN.to_owned(),
    ];
    let run = python::run(&python, &args, None, Duration::from_secs(120)).await;
    assert!(
        run.passed(),
        "python {}\n{}\n{}\n--- server log ---\n{}",
        run.outcome(),
        run.stdout,
        run.stderr,
        s.log()
    );
    assert!(run.stdout.contains("sdk all checked"), "{}", run.stdout);
    assert_eq!(run.stdout.matches("sdk checked ").count(), 3);
}
