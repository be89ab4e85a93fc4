//! `/keys` with the parsed-key cache (issue 13): a key deleted and imported again under the
//! same id signs with the new key, a moved key is gone from its old id, a lock forgets
//! everything; `PublicKey.operations` counts this node's uses since unlock; and the key
//! operation counters of both metrics renderings; only refused uses of a key are audited.
//! Every signature is checked by pyca/cryptography: verified under the key it must be of, and refused under the one it
//! must not be of.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::keys::*;
use crate::common::*;

const METRICS: &str = "watcher";
const METRICS_PASS: &str = "metrics passphrase";
const MESSAGE: &[u8] = b"Strongroom signs this message, twice over.";

/// Two Ed25519 and two RSA-2048 keys to import (the NetHSM import format) with their public
/// keys, and the message's SHA-256 DigestInfo for PKCS1.
const PREPARE: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
msg = bytes.fromhex(sys.argv[1])
def b64(b): return base64.b64encode(b).decode()
def big(n): return n.to_bytes((n.bit_length() + 7) // 8, "big")
def pem(k): return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
h = hashes.Hash(hashes.SHA256()); h.update(msg)
out = {"digestinfo": b64(bytes.fromhex("3031300d060960864801650304020105000420") + h.finalize())}
for name in ["edA", "edB"]:
    k = ed25519.Ed25519PrivateKey.generate()
    raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    out[name] = {"private": {"data": b64(raw)}, "pem": pem(k)}
for name in ["rsaA", "rsaB"]:
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = k.private_numbers()
    out[name] = {"private": {"primeP": b64(big(n.p)), "primeQ": b64(big(n.q)), "publicExponent": b64(big(n.public_numbers.e))}, "pem": pem(k)}
print(json.dumps(out))
"#;

/// Checks each `{pem, mode, sig, valid}` of the JSON list argv[2] against the message argv[1]:
/// the signature must verify under the key exactly when `valid`.
const CHECK: &str = r#"
import base64, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
msg = bytes.fromhex(sys.argv[1])
for i, c in enumerate(json.loads(sys.argv[2])):
    key = serialization.load_pem_public_key(c["pem"].encode())
    sig = base64.b64decode(c["sig"])
    try:
        if c["mode"] == "EdDSA":
            key.verify(sig, msg)
        else:
            key.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
        ok = True
    except InvalidSignature:
        ok = False
    assert ok == c["valid"], f"check {i}: verified {ok}, expected {c['valid']}"
print("all checked")
"#;

async fn import(s: &Server, id: &str, key_type: &str, mechanism: &str, private: &Value) {
    let body = json!({"type": key_type, "mechanisms": [mechanism], "private": private});
    let r = s
        .as_admin(Method::PUT, &format!("/keys/{id}"))
        .json(&body)
        .answer()
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

async fn operations(s: &Server, id: &str) -> Value {
    s.admin_json(&format!("/keys/{id}")).await["operations"].clone()
}

async fn nethsm_metrics(s: &Server) -> Value {
    let r = s
        .get("/metrics")
        .basic_auth(METRICS, Some(METRICS_PASS))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn prometheus(s: &Server) -> String {
    let r = s
        .own(Method::GET, "/metrics")
        .basic_auth(METRICS, Some(METRICS_PASS))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn replaced_moved_and_locked_keys_are_never_signed_with_and_uses_are_counted() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    s.create_user(Some(METRICS), "Metrics", METRICS_PASS).await;
    let message_hex = hex::encode(MESSAGE);
    let prep: Value =
        serde_json::from_str(&pyca(PREPARE, std::slice::from_ref(&message_hex)).await).unwrap();
    let message = STANDARD.encode(MESSAGE);
    let info = prep["digestinfo"].as_str().unwrap();
    let pem = |name: &str| prep[name]["pem"].as_str().unwrap().to_owned();
    let mut checks = Vec::new();
    let mut check = |pem: String, mode: &str, sig: &str, valid: bool| {
        checks.push(json!({"pem": pem, "mode": mode, "sig": sig, "valid": valid}));
    };

    // Ed25519 "ed": signed with (parsed, kept), deleted, then imported again with another key.
    import(
        &s,
        "ed",
        "Curve25519",
        "EdDSA_Signature",
        &prep["edA"]["private"],
    )
    .await;
    let a1 = signature(&s, "ed", "EdDSA", &message).await;
    let a2 = signature(&s, "ed", "EdDSA", &message).await;
    assert_eq!(a1, a2, "Ed25519 is deterministic");
    check(pem("edA"), "EdDSA", &a1, true);
    assert_eq!(operations(&s, "ed").await, 2);
    let r = s.as_admin(Method::DELETE, "/keys/ed").answer().await;
    assert_eq!(r.status(), 204);
    assert_eq!(sign(&s, "ed", "EdDSA", &message).await.status(), 404);
    import(
        &s,
        "ed",
        "Curve25519",
        "EdDSA_Signature",
        &prep["edB"]["private"],
    )
    .await;
    assert_eq!(
        operations(&s, "ed").await,
        0,
        "a new key's count starts at 0"
    );
    let ed_b = signature(&s, "ed", "EdDSA", &message).await;
    check(pem("edB"), "EdDSA", &ed_b, true);
    check(pem("edA"), "EdDSA", &ed_b, false);
    assert_eq!(operations(&s, "ed").await, 1);

    // RSA "rsa": the same, then moved: gone from its old id, signing under the new one.
    import(
        &s,
        "rsa",
        "RSA",
        "RSA_Signature_PKCS1",
        &prep["rsaA"]["private"],
    )
    .await;
    let a = signature(&s, "rsa", "PKCS1", info).await;
    check(pem("rsaA"), "PKCS1", &a, true);
    let r = s.as_admin(Method::DELETE, "/keys/rsa").answer().await;
    assert_eq!(r.status(), 204);
    import(
        &s,
        "rsa",
        "RSA",
        "RSA_Signature_PKCS1",
        &prep["rsaB"]["private"],
    )
    .await;
    let b = signature(&s, "rsa", "PKCS1", info).await;
    check(pem("rsaB"), "PKCS1", &b, true);
    check(pem("rsaA"), "PKCS1", &b, false);
    let r = s
        .as_admin(Method::POST, "/keys/rsa/move")
        .json(&json!({"newId": "moved"}))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(sign(&s, "rsa", "PKCS1", info).await.status(), 404);
    let moved = signature(&s, "moved", "PKCS1", info).await;
    check(pem("rsaB"), "PKCS1", &moved, true);
    check(pem("rsaA"), "PKCS1", &moved, false);
    assert_eq!(
        operations(&s, "moved").await,
        2,
        "the count moves with the key"
    );

    // Refused uses are not operations: a mode the key was not made for, and (the very next
    // signature after it is set, with the key's parse kept) a tag restriction.
    assert_eq!(sign(&s, "moved", "PSS_SHA256", info).await.status(), 400);
    let r = s
        .as_admin(Method::PUT, "/keys/moved/restrictions/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(sign(&s, "moved", "PKCS1", info).await.status(), 403);
    assert_eq!(operations(&s, "moved").await, 2);

    pyca(
        CHECK,
        &[message_hex, serde_json::to_string(&checks).unwrap()],
    )
    .await;

    // The key operation counters, in both renderings.
    let m = nethsm_metrics(&s).await;
    assert_eq!(m["keys_imported_total.Curve25519"], "2");
    assert_eq!(m["keys_imported_total.RSA"], "2");
    assert_eq!(m["key_signatures_total.EdDSA"], "3");
    assert_eq!(m["key_signatures_total.PKCS1"], "3");
    assert_eq!(m["key_operation_failures_total.sign.404"], "2");
    assert_eq!(m["key_operation_failures_total.sign.403"], "1");
    assert_eq!(m["key_operation_failures_total.sign.400"], "1");
    assert!(m.get("keys_generated_total.EC_P256").is_none());
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "EC_P256", "mechanisms": ["ECDSA_Signature"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "RSA", "mechanisms": ["RSA_Signature_PKCS1"], "length": 1000}))
        .answer()
        .await;
    assert_eq!(r.status(), 400);
    let m = nethsm_metrics(&s).await;
    assert_eq!(m["keys_generated_total.EC_P256"], "1");
    assert_eq!(m["key_operation_failures_total.generate.400"], "1");
    let text = prometheus(&s).await;
    for line in [
        "# TYPE strongroom_key_signatures_total counter\n",
        "strongroom_key_signatures_total{mode=\"EdDSA\"} 3\n",
        "strongroom_key_signatures_total{mode=\"PKCS1\"} 3\n",
        "strongroom_keys_generated_total{type=\"EC_P256\"} 1\n",
        "strongroom_keys_imported_total{type=\"RSA\"} 2\n",
        "strongroom_key_operation_failures_total{operation=\"sign\",status=\"404\"} 2\n",
        "strongroom_key_operation_failures_total{operation=\"generate\",status=\"400\"} 1\n",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }

    // Successful signatures are not in the audit trail (they change nothing; the metrics
    // and `operations` count them); refused ones are, with their status.
    let events = audit_events(&s).await;
    let signs: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "POST /api/v1/keys/{KeyID}/sign")
        .collect();
    assert!(signs.iter().all(|e| e["outcome"] != "success"), "{signs:?}");
    let refused = |target: &str, status: u64| {
        signs
            .iter()
            .any(|e| e["target"] == target && e["status"] == status)
    };
    assert!(refused("/api/v1/keys/moved/sign", 403), "{signs:?}");
    assert!(refused("/api/v1/keys/moved/sign", 400), "{signs:?}");
    assert!(refused("/api/v1/keys/rsa/sign", 404), "{signs:?}");

    // A lock forgets the parsed keys and the counts: after unlocking, the key is read and
    // parsed again and its count starts over (per node, since unlock).
    s.lock().await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_eq!(operations(&s, "ed").await, 0);
    let again = signature(&s, "ed", "EdDSA", &message).await;
    assert_eq!(again, ed_b, "the same key (edB) after the lock");
    assert_eq!(operations(&s, "ed").await, 1);
}

/// Decryptions and encryptions are uses of a key like signatures: counted in `operations` and
/// in the metrics, and audited only when refused.
#[tokio::test]
async fn decryptions_and_encryptions_are_counted_and_only_refusals_audited() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    s.create_user(Some(METRICS), "Metrics", METRICS_PASS).await;
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Generic", "length": 128, "id": "aes",
                      "mechanisms": ["AES_Encryption_CBC", "AES_Decryption_CBC"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let blocks = STANDARD.encode([7u8; 32]);
    let r = as_operator(&s, Method::POST, "/keys/aes/encrypt")
        .json(&json!({"mode": "AES_CBC", "message": blocks}))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let r = as_operator(&s, Method::POST, "/keys/aes/decrypt")
        .json(&json!({"mode": "AES_CBC", "encrypted": body["encrypted"], "iv": body["iv"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let decrypted: Value = r.json().await.unwrap();
    assert_eq!(decrypted["decrypted"], blocks.as_str());
    // Refused: no IV to decrypt with.
    let r = as_operator(&s, Method::POST, "/keys/aes/decrypt")
        .json(&json!({"mode": "AES_CBC", "encrypted": body["encrypted"]}))
        .answer()
        .await;
    assert_eq!(r.status(), 400);

    assert_eq!(operations(&s, "aes").await, 2);
    let m = nethsm_metrics(&s).await;
    assert_eq!(m["key_encryptions_total.AES_CBC"], "1");
    assert_eq!(m["key_decryptions_total.AES_CBC"], "1");
    assert_eq!(m["key_operation_failures_total.decrypt.400"], "1");
    let events = audit_events(&s).await;
    let uses: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["action"] == "POST /api/v1/keys/{KeyID}/decrypt"
                || e["action"] == "POST /api/v1/keys/{KeyID}/encrypt"
        })
        .collect();
    assert_eq!(uses.len(), 1, "{uses:?}");
    assert_eq!(uses[0]["status"], 400, "{uses:?}");
}
