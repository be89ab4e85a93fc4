//! `/keys` (issue 13): generate and import every supported type, read, list, delete,
//! `public.pem`, sign in every supported mode, and every signature verified by
//! pyca/cryptography (never by our own code); tag restrictions, labels, certificates (made by
//! pyca) and move; keys survive a restart; the unhappy paths.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::keys::*;
use crate::common::*;

/// Makes the material the test needs, independently of the server: the message's digests
/// (and the SHA-256 DigestInfo), and private keys to import with their public keys.
const PREPARE: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
msg = bytes.fromhex(sys.argv[1])
def b64(b): return base64.b64encode(b).decode()
def big(n, size=None): return n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
def pem(k): return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
out = {"digests": {}}
for name in ["MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512"]:
    h = hashes.Hash(getattr(hashes, name)()); h.update(msg); out["digests"][name] = b64(h.finalize())
sha256 = base64.b64decode(out["digests"]["SHA256"])
out["digestinfo_sha256"] = b64(bytes.fromhex("3031300d060960864801650304020105000420") + sha256)
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
n = r.private_numbers()
out["RSA"] = {"private": {"primeP": b64(big(n.p)), "primeQ": b64(big(n.q)), "publicExponent": b64(big(n.public_numbers.e))}, "pem": pem(r)}
e = ed25519.Ed25519PrivateKey.generate()
raw = e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
out["Curve25519"] = {"private": {"data": b64(raw)}, "pem": pem(e)}
for t, curve, size in [("EC_P256", ec.SECP256R1(), 32), ("EC_P384", ec.SECP384R1(), 48), ("EC_P521", ec.SECP521R1(), 66)]:
    k = ec.generate_private_key(curve)
    out[t] = {"private": {"data": b64(big(k.private_numbers().private_value, size))}, "pem": pem(k)}
print(json.dumps(out))
"#;

/// Verifies every signature in the JSON list argv[2] against the message argv[1] (hashing it)
/// and the `public.pem` the server gave; checks `expect_pem` (an imported key's own public
/// key) is the same key, and that the JSON `public` of `GET /keys/{KeyID}` is that key;
/// prints one line per check.
const VERIFY: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
msg = bytes.fromhex(sys.argv[1])
H = {"MD5": hashes.MD5, "SHA1": hashes.SHA1, "SHA224": hashes.SHA224, "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
CURVE_HASH = {"secp256r1": "SHA256", "secp384r1": "SHA384", "secp521r1": "SHA512"}
def raw(k): return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
for c in json.loads(sys.argv[2]):
    key = serialization.load_pem_public_key(c["pem"].encode())
    if c.get("expect_pem"):
        assert raw(key) == raw(serialization.load_pem_public_key(c["expect_pem"].encode())), c["name"] + ": public key differs"
    public = c["public"]
    if "modulus" in public:
        numbers = key.public_numbers()
        assert base64.b64decode(public["modulus"]) == numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"), c["name"]
        assert base64.b64decode(public["publicExponent"]) == numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"), c["name"]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        assert base64.b64decode(public["data"]) == key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint), c["name"]
    else:
        assert base64.b64decode(public["data"]) == key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw), c["name"]
    sig = base64.b64decode(c["sig"])
    mode = c["mode"]
    if mode == "EdDSA":
        key.verify(sig, msg)
    elif mode == "ECDSA":
        key.verify(sig, msg, ec.ECDSA(H[CURVE_HASH[key.curve.name]]()))
    elif mode == "PKCS1":
        key.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
    else:
        h = H[mode[4:]]()
        key.verify(sig, msg, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    print("verified", c["name"], mode)
print("all verified")
"#;

const MESSAGE: &[u8] = b"Strongroom signs this message.";

const PSS: [&str; 6] = [
    "PSS_MD5",
    "PSS_SHA1",
    "PSS_SHA224",
    "PSS_SHA256",
    "PSS_SHA384",
    "PSS_SHA512",
];

/// The mechanisms and sign modes (with their inputs) of each type.
fn modes(t: &str, prep: &Value) -> (Vec<String>, Vec<(String, String)>) {
    let d = |h: &str| prep["digests"][h].as_str().unwrap().to_owned();
    match t {
        "RSA" => {
            let mut mechanisms = vec!["RSA_Signature_PKCS1".to_owned()];
            let mut signs = vec![(
                "PKCS1".to_owned(),
                prep["digestinfo_sha256"].as_str().unwrap().to_owned(),
            )];
            for mode in PSS {
                mechanisms.push(format!("RSA_Signature_{mode}"));
                signs.push((mode.to_owned(), d(&mode[4..])));
            }
            (mechanisms, signs)
        }
        "Curve25519" => (
            vec!["EdDSA_Signature".into()],
            vec![("EdDSA".into(), STANDARD.encode(MESSAGE))],
        ),
        "EC_P256" => (
            vec!["ECDSA_Signature".into()],
            vec![("ECDSA".into(), d("SHA256"))],
        ),
        "EC_P384" => (
            vec!["ECDSA_Signature".into()],
            vec![("ECDSA".into(), d("SHA384"))],
        ),
        _ => (
            vec!["ECDSA_Signature".into()],
            vec![("ECDSA".into(), d("SHA512"))],
        ),
    }
}

const TYPES: [&str; 5] = ["RSA", "Curve25519", "EC_P256", "EC_P384", "EC_P521"];

#[tokio::test]
async fn generated_and_imported_keys_sign_what_pyca_verifies_and_survive_a_restart() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let message_hex = hex::encode(MESSAGE);
    let prep: Value =
        serde_json::from_str(&pyca(PREPARE, std::slice::from_ref(&message_hex)).await).unwrap();

    let mut keys = Vec::new(); // (id, type, expected public PEM for imports)
    for t in TYPES {
        let (mechanisms, _) = modes(t, &prep);
        let mut body = json!({"type": t, "mechanisms": mechanisms});
        if t == "RSA" {
            body["length"] = json!(2048);
        }
        let r = s.as_admin(Method::POST, "/keys/generate").json(&body);
        keys.push((created_key(r.answer().await).await, t, None));

        let body = json!({"type": t, "mechanisms": mechanisms, "private": prep[t]["private"]});
        let r = s.as_admin(Method::POST, "/keys").json(&body);
        let id = created_key(r.answer().await).await;
        keys.push((id, t, Some(prep[t]["pem"].as_str().unwrap().to_owned())));
    }
    // PUT /keys/{KeyID}: an import under a chosen id.
    let body = json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"],
                      "private": prep["Curve25519"]["private"]});
    let r = s.as_admin(Method::PUT, "/keys/chosen.id-1").json(&body);
    assert_eq!(r.answer().await.status(), 204);
    let chosen_pem = prep["Curve25519"]["pem"].as_str().unwrap().to_owned();
    keys.push(("chosen.id-1".to_owned(), "Curve25519", Some(chosen_pem)));

    let mut checks = Vec::new();
    for (id, t, expect_pem) in &keys {
        let info: Value = as_operator(&s, Method::GET, &format!("/keys/{id}"))
            .answer()
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(info["type"], *t);
        assert_eq!(info["restrictions"], json!({"tags": []}));
        let (mut mechanisms, signs) = modes(t, &prep);
        mechanisms.sort();
        assert_eq!(info["mechanisms"], json!(mechanisms));
        let public = &info["public"];
        match *t {
            "RSA" => {
                assert_eq!(public["publicExponent"], "AQAB");
                let n = STANDARD
                    .decode(public["modulus"].as_str().unwrap())
                    .unwrap();
                assert_eq!(n.len(), 256);
            }
            "Curve25519" => {
                let data = STANDARD.decode(public["data"].as_str().unwrap()).unwrap();
                assert_eq!(data.len(), 32);
            }
            _ => {
                let data = STANDARD.decode(public["data"].as_str().unwrap()).unwrap();
                assert_eq!(data[0], 4, "uncompressed point");
            }
        }
        let pem = public_pem(&s, id).await;
        for (mode, input) in signs {
            let sig = signature(&s, id, &mode, &input).await;
            checks.push(json!({"name": id, "mode": mode, "sig": sig, "pem": pem,
                               "expect_pem": expect_pem, "public": public}));
        }
    }
    assert_eq!(checks.len(), 2 * (7 + 1 + 1 + 1 + 1) + 1);
    let out = pyca(VERIFY, &[message_hex.clone(), json!(checks).to_string()]).await;
    assert!(out.contains("all verified"), "{out}");
    assert_eq!(out.matches("verified ").count(), checks.len());

    // Listed, for both roles; one deleted.
    let listed = |who: reqwest::RequestBuilder| async move {
        let body: Value = who.answer().await.json().await.unwrap();
        let mut ids: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut all: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    all.sort();
    assert_eq!(listed(s.as_admin(Method::GET, "/keys")).await, all);
    assert_eq!(
        listed(as_operator(&s, Method::GET, "/keys?filter=1")).await,
        all
    );
    let gone = keys.remove(0).0;
    let r = s.as_admin(Method::DELETE, &format!("/keys/{gone}"));
    assert_eq!(r.answer().await.status(), 204);
    let r = as_operator(&s, Method::GET, &format!("/keys/{gone}"))
        .answer()
        .await;
    nethsm_error(r, 404, "Key not found.").await;

    // A restart: the same keys, and the Ed25519 key signs the same (deterministic).
    let ed = &keys
        .iter()
        .find(|k| k.1 == "Curve25519" && k.2.is_some())
        .unwrap()
        .0;
    let input = STANDARD.encode(MESSAGE);
    let before = signature(&s, ed, "EdDSA", &input).await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let after = signature(&s, ed, "EdDSA", &input).await;
    assert_eq!(before, after);
    all.retain(|id| *id != gone);
    assert_eq!(listed(s.as_admin(Method::GET, "/keys")).await, all);
}

#[tokio::test]
async fn unhappy_paths() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let generate = |body: Value| s.as_admin(Method::POST, "/keys/generate").json(&body);
    let ed = |id: &str| json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": id});

    let r = generate(ed("k1")).answer().await;
    assert_eq!(created_key(r).await, "k1");
    let r = generate(json!({"type": "EC_P256", "mechanisms": ["ECDSA_Signature"], "id": "p256"}));
    created_key(r.answer().await).await;
    let r = generate(json!({"type": "RSA", "length": 2048, "id": "rsa",
                            "mechanisms": ["RSA_Signature_PKCS1"]}));
    created_key(r.answer().await).await;

    // Unknown key.
    for (method, path) in [
        (Method::GET, "/keys/nosuch"),
        (Method::GET, "/keys/nosuch/public.pem"),
        (Method::DELETE, "/keys/nosuch"),
    ] {
        let r = s.as_admin(method, path).answer().await;
        nethsm_error(r, 404, "Key not found.").await;
    }
    let r = sign(&s, "nosuch", "EdDSA", "AA==").await;
    nethsm_error(r, 404, "Key not found.").await;

    // Wrong mechanism (not created for it, or not of its type).
    let r = sign(&s, "rsa", "PSS_SHA256", &STANDARD.encode([0u8; 32])).await;
    let m = "The key was not created for mechanism RSA_Signature_PSS_SHA256.";
    nethsm_error(r, 400, m).await;
    let r = sign(&s, "rsa", "EdDSA", "AA==").await;
    nethsm_error(
        r,
        400,
        "The key was not created for mechanism EdDSA_Signature.",
    )
    .await;
    let r = generate(json!({"type": "Curve25519", "mechanisms": ["ECDSA_Signature"]}));
    let m = "Mechanism ECDSA_Signature does not fit key type Curve25519.";
    nethsm_error(r.answer().await, 400, m).await;

    // Bad digest lengths.
    let r = sign(&s, "p256", "ECDSA", &STANDARD.encode([1u8; 31])).await;
    nethsm_error(r, 400, "ECDSA with EC_P256 takes a digest of 32 bytes.").await;
    let r = sign(&s, "rsa", "PKCS1", &STANDARD.encode([1u8; 246])).await;
    let m = "PKCS1 takes a DigestInfo-encoded digest of at most 245 bytes.";
    nethsm_error(r, 400, m).await;

    // Wrong roles: an Operator does not manage keys, an Administrator does not sign.
    let r = as_operator(&s, Method::POST, "/keys/generate").json(&ed("k2"));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = as_operator(&s, Method::DELETE, "/keys/k1").answer().await;
    nethsm_error(r, 403, "Access denied.").await;
    let r = s
        .as_admin(Method::POST, "/keys/k1/sign")
        .json(&json!({"mode": "EdDSA", "message": "AA=="}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;

    // Duplicate and bad ids.
    nethsm_error(
        generate(ed("k1")).answer().await,
        409,
        "A key with this ID exists already.",
    )
    .await;
    let invalid =
        "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.";
    nethsm_error(generate(ed("-k")).answer().await, 400, invalid).await;
    let r = s.as_admin(Method::GET, "/keys/bad!id").answer().await;
    nethsm_error(r, 400, invalid).await;

    // Tag restrictions: an Operator without the key's tag may not use it, nor sees it
    // with `filter`.
    let r = generate(
        json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"],
                            "id": "tagged", "restrictions": {"tags": ["berlin"]}}),
    );
    created_key(r.answer().await).await;
    let r = sign(&s, "tagged", "EdDSA", "AA==").await;
    nethsm_error(r, 403, "Access denied.").await;
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let filtered = ids(as_operator(&s, Method::GET, "/keys?filter=true")
        .answer()
        .await
        .json()
        .await
        .unwrap());
    assert!(!filtered.contains(&"tagged".to_owned()) && filtered.contains(&"k1".to_owned()));
    let all = ids(as_operator(&s, Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap());
    assert!(all.contains(&"tagged".to_owned()));
    let r = s
        .as_admin(Method::PUT, "/users/op/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(sign(&s, "tagged", "EdDSA", "AA==").await.status(), 200);

    // `GET /keys/{KeyPrefix}*`: the ids that start with the prefix.
    let r = as_operator(&s, Method::GET, "/keys/ta*").answer().await;
    assert_eq!(ids(r.json().await.unwrap()), vec!["tagged".to_owned()]);
    let r = as_operator(&s, Method::GET, "/keys/k*").answer().await;
    assert_eq!(ids(r.json().await.unwrap()), vec!["k1".to_owned()]);
    let mut every = ids(as_operator(&s, Method::GET, "/keys/*")
        .answer()
        .await
        .json()
        .await
        .unwrap());
    every.sort();
    assert_eq!(every, ["k1", "p256", "rsa", "tagged"]);

    // No key here has a label: a label query for one matches none; for the empty one, all.
    let r = as_operator(&s, Method::GET, "/keys?label=x").answer().await;
    assert!(ids(r.json().await.unwrap()).is_empty());
    let r = as_operator(&s, Method::GET, "/keys?label=").answer().await;
    assert_eq!(ids(r.json().await.unwrap()).len(), 4);

    // Another namespace's keys are not found, and not listed.
    // (Root makes a namespace's first Administrator before the namespace itself.)
    s.create_user(Some("ns1~admin"), "Administrator", OPERATOR_PASS)
        .await;
    assert_eq!(
        s.as_admin(Method::PUT, "/namespaces/ns1")
            .answer()
            .await
            .status(),
        204
    );
    let ns_admin = |method: Method, path: &str| {
        s.request(method, path)
            .basic_auth("ns1~admin", Some(OPERATOR_PASS))
    };
    let r = ns_admin(Method::GET, "/keys/k1").answer().await;
    nethsm_error(r, 404, "Key not found.").await;
    let r = ns_admin(Method::DELETE, "/keys/k1").answer().await;
    nethsm_error(r, 404, "Key not found.").await;
    let listed = ids(ns_admin(Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap());
    assert!(listed.is_empty());
    let r = ns_admin(Method::POST, "/keys/generate").json(&ed("k1"));
    assert_eq!(
        created_key(r.answer().await).await,
        "k1",
        "the same id in another namespace"
    );
    let listed = ids(ns_admin(Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap());
    assert_eq!(listed, vec!["k1".to_owned()]);
    // Deleting the namespace deletes its keys, not root's.
    let r = s.as_admin(Method::DELETE, "/namespaces/ns1").answer().await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.as_admin(Method::GET, "/keys/k1").answer().await.status(),
        200
    );
    s.create_user(Some("ns1~admin"), "Administrator", OPERATOR_PASS)
        .await;
    let r = s.as_admin(Method::PUT, "/namespaces/ns1").answer().await;
    assert_eq!(r.status(), 204);
    let listed = ids(ns_admin(Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap());
    assert!(
        listed.is_empty(),
        "a new ns1 does not inherit the old one's keys"
    );
}

/// `PUT`/`DELETE /keys/{KeyID}/restrictions/tags/{Tag}`: shown by `GET /keys/{KeyID}`,
/// enforced by sign; the unhappy paths.
#[tokio::test]
async fn tag_restrictions_are_set_shown_enforced_and_deleted() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    s.create_user(Some("op2"), "Operator", OPERATOR_PASS).await;
    let r = s
        .as_admin(Method::PUT, "/users/op2/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let op2 = |method: Method, path: &str| {
        s.request(method, path)
            .basic_auth("op2", Some(OPERATOR_PASS))
    };
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": "k"}));
    created_key(r.answer().await).await;
    let tags = || async {
        let r = s.as_admin(Method::GET, "/keys/k").answer().await;
        let info: Value = r.json().await.unwrap();
        info["restrictions"]["tags"].clone()
    };
    let sign_as = |who: &str| {
        s.request(Method::POST, "/keys/k/sign")
            .basic_auth(who, Some(OPERATOR_PASS))
            .json(&json!({"mode": "EdDSA", "message": "AA=="}))
    };
    assert_eq!(sign_as(OPERATOR).answer().await.status(), 200);

    let path = "/keys/k/restrictions/tags/berlin";
    let r = s.as_admin(Method::PUT, path).answer().await;
    assert_eq!(r.status(), 204);
    assert_eq!(tags().await, json!(["berlin"]));
    let r = s.as_admin(Method::PUT, path).answer().await;
    assert_eq!(r.status(), 304, "the key has the tag already");
    assert_eq!(tags().await, json!(["berlin"]));
    nethsm_error(sign_as(OPERATOR).answer().await, 403, "Access denied.").await;
    assert_eq!(sign_as("op2").answer().await.status(), 200);
    let listed: Value = op2(Method::GET, "/keys?filter=1")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([{"id": "k"}]));
    let listed: Value = as_operator(&s, Method::GET, "/keys?filter=1")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));

    // Unhappy paths: roles, bad tags, unknown keys and tags.
    nethsm_error(
        op2(Method::PUT, "/keys/k/restrictions/tags/paris")
            .answer()
            .await,
        403,
        "Access denied.",
    )
    .await;
    nethsm_error(
        op2(Method::DELETE, path).answer().await,
        403,
        "Access denied.",
    )
    .await;
    let r = s
        .as_admin(Method::PUT, "/keys/k/restrictions/tags/no~tag")
        .answer()
        .await;
    nethsm_error(r, 400, "Invalid tag.").await;
    let r = s
        .as_admin(Method::PUT, "/keys/nosuch/restrictions/tags/paris")
        .answer()
        .await;
    nethsm_error(r, 404, "Key not found.").await;
    let r = s
        .as_admin(Method::DELETE, "/keys/nosuch/restrictions/tags/berlin")
        .answer()
        .await;
    nethsm_error(r, 404, "Key not found.").await;
    let r = s
        .as_admin(Method::DELETE, "/keys/k/restrictions/tags/paris")
        .answer()
        .await;
    nethsm_error(r, 404, "Tag not found.").await;
    let r = s
        .as_admin(Method::PUT, "/keys/k/restrictions/tags/paris")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(tags().await, json!(["berlin", "paris"]));

    // Deleted, the tags no longer restrict the key.
    for tag in ["berlin", "paris"] {
        let r = s
            .as_admin(Method::DELETE, &format!("/keys/k/restrictions/tags/{tag}"))
            .answer()
            .await;
        assert_eq!(r.status(), 204);
    }
    assert_eq!(tags().await, json!([]));
    assert_eq!(sign_as(OPERATOR).answer().await.status(), 200);

    // Each change is in the audit trail, written with it (such an event carries no status);
    // the 304 changed nothing and is recorded after the fact, with its status.
    let events = audit_events(&s).await;
    let successes = |target: &str, action: &str| {
        (events.iter())
            .filter(|e| e["target"] == target && e["action"] == action)
            .filter(|e| e["outcome"] == "success")
            .map(|e| e["status"].as_u64())
            .collect::<Vec<_>>()
    };
    let route = "/api/v1/keys/{KeyID}/restrictions/tags/{Tag}";
    let target = "/api/v1/keys/k/restrictions/tags/berlin";
    let put = successes(target, &format!("PUT {route}"));
    assert_eq!(put, [None, Some(304)], "{events:?}");
    assert_eq!(successes(target, &format!("DELETE {route}")), [None]);
}

/// Labels: set at generate and by `PUT /keys/{KeyID}/label`, shown by `GET /keys/{KeyID}`,
/// matched by `GET /keys?label=`, deleted; the unhappy paths.
#[tokio::test]
async fn labels_are_set_shown_listed_and_deleted() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let generate = |id: &str, label: &str| {
        s.as_admin(Method::POST, "/keys/generate").json(&json!({
            "type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": id, "label": label}))
    };
    // 32 bytes of UTF-8 (ü and ✓ are 2 and 3 bytes): the longest label.
    let long = "Schlüssel ✓ abcdefghijklmnopq";
    assert_eq!(long.len(), 32);
    created_key(generate("a", long).answer().await).await;
    created_key(generate("b", "").answer().await).await;
    let label = |id: &str| {
        let r = as_operator(&s, Method::GET, &format!("/keys/{id}"));
        async move {
            let info: Value = r.answer().await.json().await.unwrap();
            info["label"].clone()
        }
    };
    assert_eq!(label("a").await, json!(long));
    assert_eq!(label("b").await, json!(""), "the spec's default label");
    let listed = |query: &str| {
        let r = as_operator(&s, Method::GET, &format!("/keys{query}"));
        async move {
            let v: Value = r.answer().await.json().await.unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let encoded = "Schl%C3%BCssel%20%E2%9C%93%20abcdefghijklmnopq";
    assert_eq!(listed(&format!("?label={encoded}")).await, ["a"]);
    assert_eq!(listed(&format!("/a*?label={encoded}")).await, ["a"]);
    assert_eq!(
        listed(&format!("/b*?label={encoded}")).await,
        Vec::<String>::new()
    );
    assert_eq!(listed("?label=").await, ["b"]);
    assert_eq!(listed("?label=other").await, Vec::<String>::new());
    assert_eq!(listed("").await, ["a", "b"]);

    let put = |id: &str, label: &str| {
        s.as_admin(Method::PUT, &format!("/keys/{id}/label"))
            .json(&json!({ "label": label }))
    };
    assert_eq!(put("b", "other").answer().await.status(), 204);
    assert_eq!(
        put("b", "other").answer().await.status(),
        304,
        "the same label"
    );
    assert_eq!(label("b").await, json!("other"));
    assert_eq!(listed("?label=other").await, ["b"]);
    assert_eq!(listed("?label=other&filter=1").await, ["b"]);
    assert_eq!(listed("?label=").await, Vec::<String>::new());

    let delete = |id: &str| s.as_admin(Method::DELETE, &format!("/keys/{id}/label"));
    assert_eq!(delete("b").answer().await.status(), 204);
    assert_eq!(label("b").await, json!(""));
    assert_eq!(delete("b").answer().await.status(), 204, "idempotent");
    assert_eq!(listed("?label=").await, ["b"]);

    // Unhappy paths.
    let too_long = format!("{long}x");
    let m = "A key label is at most 32 bytes of UTF-8.";
    nethsm_error(put("a", &too_long).answer().await, 400, m).await;
    nethsm_error(generate("c", &too_long).answer().await, 400, m).await;
    nethsm_error(put("nosuch", "x").answer().await, 404, "Key not found.").await;
    nethsm_error(delete("nosuch").answer().await, 404, "Key not found.").await;
    let r = as_operator(&s, Method::PUT, "/keys/a/label").json(&json!({"label": "x"}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = as_operator(&s, Method::DELETE, "/keys/a/label")
        .answer()
        .await;
    nethsm_error(r, 403, "Access denied.").await;
    let r = s
        .as_admin(Method::PUT, "/keys/a/label")
        .json(&json!({"name": "x"}))
        .answer()
        .await;
    assert_eq!(r.status(), 400, "a body without label");
    assert_eq!(
        label("a").await,
        json!(long),
        "unchanged by what was refused"
    );
}

/// `POST /keys/{KeyID}/move`: the same key (it signs the same) with its restrictions and
/// label under the new id, the old one gone; the unhappy paths.
#[tokio::test]
async fn a_moved_key_is_the_same_key_under_its_new_id() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let r = s
        .as_admin(Method::PUT, "/users/op/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    for id in ["k", "other"] {
        let r = s.as_admin(Method::POST, "/keys/generate").json(&json!({
            "type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": id,
            "label": "the label", "restrictions": {"tags": ["berlin"]}}));
        created_key(r.answer().await).await;
    }
    let input = STANDARD.encode(MESSAGE);
    let before = signature(&s, "k", "EdDSA", &input).await;
    let info: Value = s
        .as_admin(Method::GET, "/keys/k")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    let mv = |id: &str, body: Value| {
        s.as_admin(Method::POST, &format!("/keys/{id}/move"))
            .json(&body)
    };

    let r = mv("k", json!({"newId": "moved"})).answer().await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"id": "moved"}));
    nethsm_error(
        s.as_admin(Method::GET, "/keys/k").answer().await,
        404,
        "Key not found.",
    )
    .await;
    let moved: Value = s
        .as_admin(Method::GET, "/keys/moved")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved, info, "the same key, restrictions and label");
    assert_eq!(
        signature(&s, "moved", "EdDSA", &input).await,
        before,
        "Ed25519 is deterministic"
    );
    let listed: Value = as_operator(&s, Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([{"id": "moved"}, {"id": "other"}]));

    // Unhappy paths: the target exists (or is the key itself), no source, bad ids, roles.
    let exists = "A key with this ID exists already.";
    nethsm_error(
        mv("moved", json!({"newId": "other"})).answer().await,
        409,
        exists,
    )
    .await;
    nethsm_error(
        mv("moved", json!({"newId": "moved"})).answer().await,
        409,
        exists,
    )
    .await;
    nethsm_error(
        mv("k", json!({"newId": "k2"})).answer().await,
        404,
        "Key not found.",
    )
    .await;
    let invalid =
        "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.";
    nethsm_error(
        mv("moved", json!({"newId": ""})).answer().await,
        400,
        invalid,
    )
    .await;
    nethsm_error(
        mv("moved", json!({"newId": "-x"})).answer().await,
        400,
        invalid,
    )
    .await;
    let reserved = "The key ID generate is reserved (POST /keys/generate).";
    nethsm_error(
        mv("moved", json!({"newId": "generate"})).answer().await,
        400,
        reserved,
    )
    .await;
    assert_eq!(
        mv("moved", json!({})).answer().await.status(),
        400,
        "no newId"
    );
    let r = as_operator(&s, Method::POST, "/keys/moved/move").json(&json!({"newId": "mine"}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let listed: Value = as_operator(&s, Method::GET, "/keys")
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!([{"id": "moved"}, {"id": "other"}]),
        "nothing moved"
    );

    // The move is in the audit trail (written with it), and so are the refusals.
    let events = audit_events(&s).await;
    let outcomes = |target: &str| -> Vec<String> {
        (events.iter())
            .filter(|e| e["target"] == target && e["action"] == "POST /api/v1/keys/{KeyID}/move")
            .map(|e| e["outcome"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(outcomes("/api/v1/keys/k/move").len(), 2, "{events:?}");
    assert_eq!(outcomes("/api/v1/keys/k/move")[0], "success");
    assert!(!outcomes("/api/v1/keys/moved/move").contains(&"success".to_owned()));
}

/// Makes certificates with pyca/cryptography for the public key in argv[1] (PEM): one in
/// PEM, the same in DER, one for another key; and an OpenPGP public-key packet (v4, Ed25519)
/// of the same key, as signstar stores OpenPGP certificates. Prints them as JSON.
pub(crate) const CERTS: &str = r#"
import base64, datetime, json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = serialization.load_pem_public_key(sys.argv[1].encode())
ca = ec.generate_private_key(ec.SECP256R1())
def cert(public):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strongroom test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(ca, hashes.SHA256()))
c = cert(key)
other = cert(ec.generate_private_key(ec.SECP256R1()).public_key())
raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
oid = bytes.fromhex("2b06010401da470f01")
body = bytes([4]) + (1700000000).to_bytes(4, "big") + bytes([22, len(oid)]) + oid + (263).to_bytes(2, "big") + bytes([0x40]) + raw
pgp = bytes([0xc6, len(body)]) + body
print(json.dumps({
    "pem": c.public_bytes(serialization.Encoding.PEM).decode(),
    "der": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode(),
    "other": other.public_bytes(serialization.Encoding.PEM).decode(),
    "pgp": base64.b64encode(pgp).decode(),
}))
"#;

/// `GET/PUT/DELETE /keys/{KeyID}/cert`: X.509 certificates made by pyca for the key's
/// public key (PEM and DER) and an OpenPGP certificate are stored and answered byte for byte
/// with their media type; the unhappy paths.
#[tokio::test]
async fn certificates_are_stored_answered_and_deleted() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": "k"}));
    created_key(r.answer().await).await;
    let certs: Value =
        serde_json::from_str(&pyca(CERTS, &[public_pem(&s, "k").await]).await).unwrap();
    let pem = certs["pem"].as_str().unwrap().as_bytes().to_vec();
    let der = STANDARD.decode(certs["der"].as_str().unwrap()).unwrap();
    let pgp = STANDARD.decode(certs["pgp"].as_str().unwrap()).unwrap();
    let put = |media: &str, body: Vec<u8>| {
        s.as_admin(Method::PUT, "/keys/k/cert")
            .header("content-type", media)
            .body(body)
    };
    let get = |accept: &str| as_operator(&s, Method::GET, "/keys/k/cert").header("accept", accept);
    let delete = || s.as_admin(Method::DELETE, "/keys/k/cert");

    nethsm_error(get("*/*").answer().await, 404, "Certificate not found.").await;
    nethsm_error(delete().answer().await, 404, "Certificate not found.").await;
    for (media, body) in [
        ("application/octet-stream", pem.clone()),
        ("application/x-pem-file", pem.clone()),
        ("application/octet-stream", der.clone()),
        ("application/pkix-cert", der.clone()),
        ("application/pgp-keys", pgp.clone()),
    ] {
        let r = put(media, body.clone()).answer().await;
        assert_eq!(r.status(), 201, "{media}: {}", r.text().await.unwrap());
        let r = put(media, body.clone()).answer().await;
        nethsm_error(r, 409, "A certificate exists already for this key.").await;
        let r = get("*/*").answer().await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], media);
        assert_eq!(r.bytes().await.unwrap().to_vec(), body, "{media}");
        // The spec's type is always acceptable: the same bytes.
        let r = get("application/octet-stream").answer().await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_eq!(r.bytes().await.unwrap().to_vec(), body);
        let r = delete().answer().await;
        assert_eq!(r.status(), 204);
        nethsm_error(get("*/*").answer().await, 404, "Certificate not found.").await;
    }

    // pyca parses what the server answers: the certificate of the key.
    assert_eq!(
        put("application/x-pem-file", pem.clone())
            .answer()
            .await
            .status(),
        201
    );
    let r = get("application/x-pem-file").answer().await;
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    let answered = String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap();
    let check = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
c = x509.load_pem_x509_certificate(sys.argv[1].encode())
k = serialization.load_pem_public_key(sys.argv[2].encode())
f, p = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
assert c.public_key().public_bytes(f, p) == k.public_bytes(f, p)
print("ok")
"#;
    let out = pyca(check, &[answered, public_pem(&s, "k").await]).await;
    assert_eq!(out.trim(), "ok");
    let r = get("application/json").answer().await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;

    // Unhappy paths: garbage, another key's certificate, wrong media types, roles, no key.
    assert_eq!(delete().answer().await.status(), 204);
    let r = put("application/octet-stream", b"garbage".to_vec())
        .answer()
        .await;
    let m =
        "The certificate is neither an X.509 certificate (PEM or DER) nor an OpenPGP certificate.";
    nethsm_error(r, 400, m).await;
    let mut broken = der.clone();
    broken.truncate(der.len() - 10);
    let r = put("application/octet-stream", broken).answer().await;
    nethsm_error(r, 400, "The certificate is not a valid X.509 certificate.").await;
    let r = put(
        "application/x-pem-file",
        certs["other"].as_str().unwrap().into(),
    )
    .answer()
    .await;
    nethsm_error(r, 400, "The certificate's public key is not the key's.").await;
    let r = put("application/octet-stream", Vec::new()).answer().await;
    nethsm_error(r, 400, "The certificate is empty.").await;
    let r = put("text/plain", pem.clone()).answer().await;
    nethsm_error(
        r,
        415,
        "Content type not supported; use application/octet-stream.",
    )
    .await;
    let r = as_operator(&s, Method::PUT, "/keys/k/cert")
        .header("content-type", "application/octet-stream")
        .body(pem.clone())
        .answer()
        .await;
    nethsm_error(r, 403, "Access denied.").await;
    nethsm_error(
        as_operator(&s, Method::DELETE, "/keys/k/cert")
            .answer()
            .await,
        403,
        "Access denied.",
    )
    .await;
    let r = s
        .as_admin(Method::PUT, "/keys/nosuch/cert")
        .header("content-type", "application/octet-stream")
        .body(pem.clone())
        .answer()
        .await;
    nethsm_error(r, 404, "Key not found.").await;
    nethsm_error(
        as_operator(&s, Method::GET, "/keys/nosuch/cert")
            .answer()
            .await,
        404,
        "Key not found.",
    )
    .await;
    nethsm_error(get("*/*").answer().await, 404, "Certificate not found.").await;

    // The certificate lives in the key's record: gone with the key, back with a restart.
    assert_eq!(
        put("application/pkix-cert", der.clone())
            .answer()
            .await
            .status(),
        201
    );
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let r = s
        .request(Method::GET, "/keys/k/cert")
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), der);
    assert_eq!(
        s.as_admin(Method::DELETE, "/keys/k")
            .answer()
            .await
            .status(),
        204
    );
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": "k"}));
    created_key(r.answer().await).await;
    let r = s.as_admin(Method::GET, "/keys/k/cert").answer().await;
    nethsm_error(r, 404, "Certificate not found.").await;
}

/// Imported private keys (and one refused as invalid) are neither on disk nor in the log in
/// clear, in raw, base64 or hex form.
#[tokio::test]
async fn private_keys_never_reach_the_disk_or_the_log_in_clear() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let seed: &[u8; 32] = b"strongroom test seed 0123456789!";
    let scalar: &[u8; 32] = b"an EC P-256 scalar for the test.";
    let import = |t: &str, mechanism: &str, data: &[u8]| {
        s.as_admin(Method::POST, "/keys").json(
            &json!({"type": t, "mechanisms": [mechanism], "private": {"data": STANDARD.encode(data)}}),
        )
    };
    let ed = created_key(import("Curve25519", "EdDSA_Signature", seed).answer().await).await;
    let ec = created_key(import("EC_P256", "ECDSA_Signature", scalar).answer().await).await;
    // Not a P-256 scalar (above the group order): refused, and not logged either.
    let refused: &[u8; 32] = b"\xff\xff\xff\xffabove the P-256 group order!";
    let r = import("EC_P256", "ECDSA_Signature", refused).answer().await;
    assert_eq!(r.status(), 400);
    signature(&s, &ed, "EdDSA", "AA==").await;
    signature(&s, &ec, "ECDSA", &STANDARD.encode([3u8; 32])).await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    signature(&s, &ed, "EdDSA", "AA==").await;
    s.terminate();

    let mut needles = Vec::new();
    for secret in [&seed[..], &scalar[..], &refused[..]] {
        needles.push(secret.to_vec());
        needles.push(STANDARD.encode(secret).into_bytes());
        needles.push(hex::encode(secret).into_bytes());
    }
    let files = files_under(&s.data_dir);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        for needle in &needles {
            assert!(
                !contains(&bytes, needle),
                "{} holds a private key in clear: {}",
                path.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    let log = s.log();
    for needle in &needles {
        assert!(
            !contains(log.as_bytes(), needle),
            "the log holds a private key"
        );
    }
}

/// `DELETE /keys/{KeyID}` refuses an `Accept` without JSON (406, as the spec and the other
/// deletions do) before it deletes, so the key is still there (it deleted and answered 204).
#[tokio::test]
async fn deleting_a_key_refuses_an_accept_without_json() {
    let s = Server::start();
    s.provision().await;
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": "k"}));
    created_key(r.answer().await).await;
    let r = s
        .as_admin(Method::DELETE, "/keys/k")
        .header("accept", "application/x-pem-file")
        .answer()
        .await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;
    let r = s.as_admin(Method::GET, "/keys/k").answer().await;
    assert_eq!(r.status(), 200, "the key is still there");
    let r = s.as_admin(Method::DELETE, "/keys/k").answer().await;
    assert_eq!(r.status(), 204);
}

/// The spec's `Base64` has at least one character: an empty base64 field is 400, never read
/// as nothing (an RSA import with `"data": ""` was imported, schemathesis found it), and no
/// key is made.
#[tokio::test]
async fn an_empty_base64_field_is_refused() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    // The fields are read before the key is built, so they need not make a key.
    let private =
        json!({"primeP": "AQAB", "primeQ": "AQAB", "publicExponent": "AQAB", "data": "AQAB"});
    for field in ["primeP", "primeQ", "publicExponent", "data"] {
        let mut body = private.clone();
        body[field] = json!("");
        let r = s.as_admin(Method::PUT, "/keys/e").json(&json!({
            "type": "RSA", "mechanisms": ["RSA_Signature_PKCS1"], "private": body
        }));
        nethsm_error(r.answer().await, 400, format!("{field} is empty.")).await;
    }
    let r = s.as_admin(Method::GET, "/keys/e").answer().await;
    assert_eq!(r.status(), 404, "no key was made");
    let r = s
        .as_admin(Method::POST, "/keys/generate")
        .json(&json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": "ed"}));
    created_key(r.answer().await).await;
    let r = as_operator(&s, Method::POST, "/keys/ed/sign")
        .json(&json!({"mode": "EdDSA", "message": ""}))
        .answer()
        .await;
    nethsm_error(r, 400, "message is empty.").await;
}
