//! Negative-data decisions of the NetHSM conformance run (`conformance_nethsm`): each request
//! the vendor's spec calls invalid that the face used to take, now refused in the face's error
//! format, and tested here case by case. The run's remaining exceptions, and why each is the
//! check's error rather than ours, are in `conformance_nethsm.rs` and docs/testing.md.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const INVALID_KEY_ID: &str =
    "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.";

fn ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("a key list: {v}"))
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Found by schemathesis (negative data): `GET /keys/{KeyID}` with a `KeyID` outside the
/// spec's `ID` pattern that ends in `*` was taken as the prefix listing `/keys/{prefix}*`
/// and answered 200 `[]`. A prefix no key id can start with is refused now as an invalid key
/// id is (the spec documents 400 "Invalid character in the KeyID" on that path); a valid
/// prefix, and the empty one (every key), still list.
#[tokio::test]
async fn a_key_prefix_no_id_can_have_is_refused() {
    let s = Server::start();
    s.provision().await;
    for id in ["ab1", "ab2", "cd"] {
        let r = s
            .as_admin(Method::POST, "/keys/generate")
            .json(&json!({"id": id, "type": "Curve25519", "mechanisms": ["EdDSA_Signature"]}))
            .answer()
            .await;
        assert_eq!(
            r.status(),
            201,
            "generate {id}: {}",
            r.text().await.unwrap()
        );
    }

    // Each a character the pattern refuses, a refused first character, or too long.
    let long = format!("{}*", "a".repeat(129));
    for path in [
        "/keys/%21%21*",
        "/keys/a%20b*",
        "/keys/-a*",
        "/keys/_*",
        "/keys/.*",
        "/keys/a~b*",
        "/keys/%C3%A9*",
        &format!("/keys/{long}"),
    ] {
        let r = s.as_admin(Method::GET, path).answer().await;
        let status = r.status().as_u16();
        assert_eq!(status, 400, "GET {path}");
        nethsm_error(r, 400, INVALID_KEY_ID).await;
    }

    let list = |path: &'static str| {
        let s = &s;
        async move {
            let r = s.as_admin(Method::GET, path).answer().await;
            assert_eq!(r.status(), 200, "GET {path}");
            ids(&r.json().await.unwrap())
        }
    };
    assert_eq!(list("/keys/ab*").await, ["ab1", "ab2"]);
    assert_eq!(list("/keys/ab1*").await, ["ab1"]);
    assert_eq!(list("/keys/x*").await, Vec::<String>::new());
    assert_eq!(list("/keys/*").await, ["ab1", "ab2", "cd"]);
    // 128 characters is a valid id, so a valid prefix: it matches none of these.
    let r = s
        .as_admin(Method::GET, &format!("/keys/{}*", "a".repeat(128)))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(ids(&r.json().await.unwrap()), Vec::<String>::new());
}

/// Found by schemathesis (negative data): a CSR request (`DistinguishedName`, for `POST
/// /keys/{KeyID}/csr.pem` and `POST /config/tls/csr.pem`) with `"subjectAltNames": null` was
/// taken for one without the field (a CSR with the common name as its one SAN), because
/// serde reads `null` as `None`. The spec's fields are a string or an array and not nullable;
/// NetHSM's own difference between the two (left out: the common name; `[]`: no SAN) is about
/// the field left out, not `null`. Refused now for every field of it, on both operations.
#[tokio::test]
async fn a_csr_field_sent_as_null_is_refused() {
    let s = Server::start();
    s.provision().await;
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"id": "csr1", "type": "EC_P256", "mechanisms": ["ECDSA_Signature"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let fields = [
        "countryName",
        "stateOrProvinceName",
        "localityName",
        "organizationName",
        "organizationalUnitName",
        "emailAddress",
        "subjectAltNames",
    ];
    for path in ["/keys/csr1/csr.pem", "/config/tls/csr.pem"] {
        for field in fields {
            let mut body = json!({"commonName": "nethsm.local"});
            body[field] = Value::Null;
            let r = s
                .as_admin(Method::POST, path)
                .header("accept", "application/x-pem-file")
                .json(&body)
                .answer()
                .await;
            let message = nethsm_error(r, 400, starting("Malformed request body: ")).await;
            assert!(
                message.contains("wrong type"),
                "POST {path} {field}: {message}"
            );
        }
        // Left out, the fields are still optional; `[]` is still "no SAN".
        for body in [
            json!({"commonName": "nethsm.local"}),
            json!({"commonName": "nethsm.local", "subjectAltNames": []}),
            json!({"commonName": "nethsm.local", "countryName": "DE",
                   "subjectAltNames": ["a.example", "IP:10.0.0.1"]}),
        ] {
            let r = s
                .as_admin(Method::POST, path)
                .header("accept", "application/x-pem-file")
                .json(&body)
                .answer()
                .await;
            let status = r.status();
            let text = r.text().await.unwrap();
            assert_eq!(status, 200, "POST {path} {body}: {text}");
            assert!(
                text.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
                "{text}"
            );
        }
    }
}

/// Found by schemathesis (negative data): a key generated or imported with `"label": null`
/// was taken for one without a label. `KeyLabel` is a string, not nullable: refused now (400),
/// and no key is made.
#[tokio::test]
async fn a_key_label_sent_as_null_is_refused() {
    let s = Server::start();
    s.provision().await;
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(
            &json!({"id": "l1", "type": "Curve25519", "mechanisms": ["EdDSA_Signature"],
                      "label": null}),
        )
        .answer()
        .await;
    let message = nethsm_error(r, 400, starting("Malformed request body: ")).await;
    assert!(message.contains("wrong type"), "{message}");
    let r = s
        .as_admin(Method::PUT, "/keys/l2")
        .json(
            &json!({"type": "Generic", "mechanisms": ["AES_Encryption_CBC"],
                      "private": {"data": "AAAAAAAAAAAAAAAAAAAAAA=="}, "label": null}),
        )
        .answer()
        .await;
    let message = nethsm_error(r, 400, starting("Malformed request body: ")).await;
    assert!(message.contains("wrong type"), "{message}");
    assert_eq!(s.admin_json("/keys").await, json!([]), "no key was made");

    // Left out, no label; a string, that label.
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"id": "l1", "type": "Curve25519", "mechanisms": ["EdDSA_Signature"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = s
        .as_admin(Method::PUT, "/keys/l2")
        .json(
            &json!({"type": "Generic", "mechanisms": ["AES_Encryption_CBC"],
                      "private": {"data": "AAAAAAAAAAAAAAAAAAAAAA=="}, "label": "two"}),
        )
        .answer()
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(s.admin_json("/keys/l2").await["label"], "two");
}

/// Found by schemathesis (negative data): `"id": null` on `POST /keys/generate` made a key
/// with a generated id, and `"length": null` on `POST /config/tls/generate` made a key of the
/// default length. Neither field is nullable in the spec; every optional field that is not
/// refuses `null` by one rule, and left out keeps its meaning.
#[tokio::test]
async fn optional_fields_sent_as_null_are_refused() {
    let s = Server::start();
    s.provision().await;
    for (path, body) in [
        (
            "/keys/generate",
            json!({"id": null, "type": "Curve25519", "mechanisms": ["EdDSA_Signature"]}),
        ),
        (
            "/keys/generate",
            json!({"type": "RSA", "mechanisms": ["RSA_Signature_PSS_SHA256"], "length": null}),
        ),
        (
            "/keys/generate",
            json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"],
                   "restrictions": null}),
        ),
        (
            "/config/tls/generate",
            json!({"type": "RSA", "length": null}),
        ),
    ] {
        let r = s.as_admin(Method::POST, path).json(&body).answer().await;
        let message = nethsm_error(r, 400, starting("Malformed request body: ")).await;
        assert!(message.contains("wrong type"), "{path} {body}: {message}");
    }
    assert_eq!(s.admin_json("/keys").await, json!([]), "no key was made");
    let before = tls_public_key(&s).await;

    // Left out: a generated id, and the TLS key's default length.
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(s.admin_json("/keys").await.as_array().unwrap().len(), 1);
    assert_eq!(
        tls_public_key(&s).await,
        before,
        "the refused TLS generate changed nothing"
    );
}

/// The served TLS public key (PEM), as the root Administrator.
async fn tls_public_key(s: &Server) -> String {
    let r = s
        .as_admin(Method::GET, "/config/tls/public.pem")
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}
