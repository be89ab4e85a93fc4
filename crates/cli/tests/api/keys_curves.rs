//! `/keys` for the curves beyond the NIST ones (issue 13): EC_P256K1 (secp256k1),
//! BrainpoolP256/384/512 (brainpoolP256r1/P384r1/P512r1) and BIP340 Schnorr signatures.
//! Generated and imported keys; `GET` and `public.pem` matched by pyca/cryptography against
//! the keys pyca made; every ECDSA signature verified by pyca, every BIP340 signature by the
//! BIP's own reference verification (written out below from the BIP text, and itself checked
//! against the BIP's test vector first); certificates, move, delete and a restart; the
//! unhappy paths.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::keys::*;
use crate::common::*;

const MESSAGE: &[u8] = b"Strongroom signs this message on other curves.";

/// The new types: (type, pyca curve name, scalar length, ECDSA digest).
const TYPES: [(&str, &str, usize, &str); 4] = [
    ("EC_P256K1", "secp256k1", 32, "SHA256"),
    ("BrainpoolP256", "brainpoolP256r1", 32, "SHA256"),
    ("BrainpoolP384", "brainpoolP384r1", 48, "SHA384"),
    ("BrainpoolP512", "brainpoolP512r1", 64, "SHA512"),
];

/// Independently of the server: the message's digests, a private key per type to import
/// (its scalar big-endian, without leading zeros, and its public key as pyca computes it),
/// and the public key of the scalar 1 on brainpoolP384r1 (the curve's generator).
const PREPARE: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
msg = bytes.fromhex(sys.argv[1])
def b64(b): return base64.b64encode(b).decode()
def pem(k): return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
out = {"digests": {}}
for name in ["SHA256", "SHA384", "SHA512"]:
    h = hashes.Hash(getattr(hashes, name)()); h.update(msg); out["digests"][name] = b64(h.finalize())
curves = {"EC_P256K1": ec.SECP256K1(), "BrainpoolP256": ec.BrainpoolP256R1(), "BrainpoolP384": ec.BrainpoolP384R1(), "BrainpoolP512": ec.BrainpoolP512R1()}
for t, curve in curves.items():
    k = ec.generate_private_key(curve)
    v = k.private_numbers().private_value
    out[t] = {"private": {"data": b64(v.to_bytes((v.bit_length() + 7) // 8, "big"))}, "pem": pem(k)}
out["one_p384"] = pem(ec.derive_private_key(1, ec.BrainpoolP384R1()))
print(json.dumps(out))
"#;

/// Verifies every signature in the JSON list argv[1]: the `public.pem` is of the expected
/// curve, is the imported key's own public key (`expect_pem`), and its point is the `public`
/// of `GET /keys/{KeyID}`; ECDSA by pyca with the curve's hash; BIP340 by the BIP's reference
/// `schnorr_verify` against the x-only key (the x of the point pyca read), after checking that
/// verifier accepts the BIP's test vector 0 and refuses it altered. Prints one line per check.
const VERIFY: &str = r#"
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# BIP340 reference verification (bips/bip-0340/reference.py), unchanged in substance.
p = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798, 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
def tagged_hash(tag, msg):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + msg).digest()
def point_add(P1, P2):
    if P1 is None: return P2
    if P2 is None: return P1
    if P1[0] == P2[0] and P1[1] != P2[1]: return None
    if P1 == P2: lam = (3 * P1[0] * P1[0] * pow(2 * P1[1], p - 2, p)) % p
    else: lam = ((P2[1] - P1[1]) * pow(P2[0] - P1[0], p - 2, p)) % p
    x3 = (lam * lam - P1[0] - P2[0]) % p
    return (x3, (lam * (P1[0] - x3) - P1[1]) % p)
def point_mul(P, k):
    R = None
    for i in range(256):
        if (k >> i) & 1: R = point_add(R, P)
        P = point_add(P, P)
    return R
def lift_x(x):
    if x >= p: return None
    y_sq = (pow(x, 3, p) + 7) % p
    y = pow(y_sq, (p + 1) // 4, p)
    if pow(y, 2, p) != y_sq: return None
    return (x, y if y & 1 == 0 else p - y)
def num(b): return int.from_bytes(b, "big")
def schnorr_verify(msg, pubkey, sig):
    assert len(pubkey) == 32 and len(sig) == 64
    P = lift_x(num(pubkey))
    r = num(sig[0:32]); s = num(sig[32:64])
    if P is None or r >= p or s >= n: return False
    e = num(tagged_hash("BIP0340/challenge", sig[0:32] + pubkey + msg)) % n
    R = point_add(point_mul(G, s), point_mul(P, n - e))
    if R is None or R[1] % 2 != 0 or R[0] != r: return False
    return True

# The verifier itself: BIP340 test vector 0 passes, altered it fails; G is pyca's generator.
v0_pub = bytes.fromhex("F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9")
v0_sig = bytes.fromhex("E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0")
assert schnorr_verify(bytes(32), v0_pub, v0_sig)
assert not schnorr_verify(b"\x01" + bytes(31), v0_pub, v0_sig)
g = ec.derive_private_key(1, ec.SECP256K1()).public_key().public_numbers()
assert (g.x, g.y) == G

H = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
def raw(k): return k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
for c in json.loads(sys.argv[1]):
    key = serialization.load_pem_public_key(c["pem"].encode())
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == c["curve"], c["name"] + ": " + key.curve.name
    if c.get("expect_pem"):
        assert raw(key) == raw(serialization.load_pem_public_key(c["expect_pem"].encode())), c["name"] + ": public key differs"
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert base64.b64decode(c["public"]) == point, c["name"] + ": GET's point differs"
    sig = base64.b64decode(c["sig"])
    msg = base64.b64decode(c["input"])
    if c["mode"] == "ECDSA":
        # The server signed the digest; pyca hashes the message itself.
        key.verify(sig, base64.b64decode(c["message"]), ec.ECDSA(H[c["hash"]]()))
    else:
        assert len(sig) == 64, c["name"]
        xonly = key.public_numbers().x.to_bytes(32, "big")
        assert schnorr_verify(msg, xonly, sig), c["name"] + ": BIP340 signature refused"
        assert not schnorr_verify(msg + b"!", xonly, sig), c["name"] + ": BIP340 verifies anything"
    print("verified", c["name"], c["mode"], len(msg))
print("all verified")
"#;

/// Makes an X.509 certificate (PEM) with pyca for the public key in argv[1], and one for
/// another key of the same curve; prints them as JSON.
const CERTS: &str = r#"
import datetime, json, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = serialization.load_pem_public_key(sys.argv[1].encode())
ca = ec.generate_private_key(ec.SECP256R1())
def cert(public):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strongroom curves test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(ca, hashes.SHA256()))
other = ec.generate_private_key(key.curve).public_key()
print(json.dumps({"mine": cert(key).public_bytes(serialization.Encoding.PEM).decode(),
                  "other": cert(other).public_bytes(serialization.Encoding.PEM).decode()}))
"#;

fn mechanisms(t: &str) -> Vec<&'static str> {
    if t == "EC_P256K1" {
        vec!["BIP340_Signature", "ECDSA_Signature"]
    } else {
        vec!["ECDSA_Signature"]
    }
}

/// BIP340 messages: the spec's "any message": the test message, 32 bytes (BIP340's original
/// length) and 100 bytes.
fn bip340_messages() -> Vec<Vec<u8>> {
    vec![MESSAGE.to_vec(), vec![0x42; 32], (0u8..100).collect()]
}

/// Signs with every mode of key `id` and adds the checks for VERIFY.
async fn sign_all(
    s: &Server,
    prep: &Value,
    id: &str,
    (t, curve, len, hash): (&str, &str, usize, &str),
    expect_pem: Option<&str>,
    checks: &mut Vec<Value>,
) {
    let info: Value = as_operator(s, Method::GET, &format!("/keys/{id}"))
        .answer()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["type"], t);
    assert_eq!(info["mechanisms"], json!(mechanisms(t)));
    let public = info["public"]["data"].as_str().unwrap().to_owned();
    let point = STANDARD.decode(&public).unwrap();
    assert_eq!(point.len(), 2 * len + 1, "{t}");
    assert_eq!(point[0], 4, "uncompressed point");
    let pem = public_pem(s, id).await;
    let base = json!({"name": id, "curve": curve, "pem": pem, "expect_pem": expect_pem,
                      "public": public, "hash": hash, "message": STANDARD.encode(MESSAGE)});
    let digest = prep["digests"][hash].as_str().unwrap();
    let mut check = base.clone();
    check["mode"] = json!("ECDSA");
    check["input"] = json!(digest);
    check["sig"] = json!(signature(s, id, "ECDSA", digest).await);
    checks.push(check);
    if t == "EC_P256K1" {
        for message in bip340_messages() {
            let input = STANDARD.encode(&message);
            let mut check = base.clone();
            check["mode"] = json!("BIP340");
            check["sig"] = json!(signature(s, id, "BIP340", &input).await);
            check["input"] = json!(input);
            checks.push(check);
        }
    }
}

#[tokio::test]
async fn new_curves_sign_what_pyca_and_the_bip340_reference_verify() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let prep: Value = serde_json::from_str(&pyca(PREPARE, &[hex::encode(MESSAGE)]).await).unwrap();

    let mut checks = Vec::new();
    let mut generated = Vec::new();
    for spec in TYPES {
        let t = spec.0;
        let body = json!({"type": t, "mechanisms": mechanisms(t)});
        let r = s.as_admin(Method::POST, "/keys/generate").json(&body);
        let id = created_key(r.answer().await).await;
        sign_all(&s, &prep, &id, spec, None, &mut checks).await;
        generated.push(id);

        let body = json!({"type": t, "mechanisms": mechanisms(t), "private": prep[t]["private"]});
        let r = s
            .as_admin(Method::PUT, &format!("/keys/imported-{t}"))
            .json(&body);
        assert_eq!(r.answer().await.status(), 204);
        let expect = prep[t]["pem"].as_str().unwrap();
        sign_all(
            &s,
            &prep,
            &format!("imported-{t}"),
            spec,
            Some(expect),
            &mut checks,
        )
        .await;
    }
    // The scalar 1, one byte long (padded to the curve's length): the generator.
    let body = json!({"type": "BrainpoolP384", "mechanisms": ["ECDSA_Signature"],
                      "private": {"data": STANDARD.encode([1u8])}});
    let r = s.as_admin(Method::PUT, "/keys/one").json(&body);
    assert_eq!(r.answer().await.status(), 204);
    let one = prep["one_p384"].as_str().unwrap();
    sign_all(&s, &prep, "one", TYPES[2], Some(one), &mut checks).await;

    assert_eq!(checks.len(), 2 * (4 + 3) + 1);
    let out = pyca(VERIFY, &[json!(checks).to_string()]).await;
    assert!(out.contains("all verified"), "{out}");
    assert_eq!(out.matches("verified ").count(), checks.len());

    // Certificates: pyca's certificate of the key is taken, of another key refused.
    for id in &generated {
        let certs: Value =
            serde_json::from_str(&pyca(CERTS, &[public_pem(&s, id).await]).await).unwrap();
        let put = |cert: &str| {
            s.as_admin(Method::PUT, &format!("/keys/{id}/cert"))
                .header("content-type", "application/x-pem-file")
                .body(cert.to_owned())
        };
        let r = put(certs["other"].as_str().unwrap()).answer().await;
        nethsm_error(r, 400, "The certificate's public key is not the key's.").await;
        let mine = certs["mine"].as_str().unwrap();
        assert_eq!(put(mine).answer().await.status(), 201, "{id}");
        let r = as_operator(&s, Method::GET, &format!("/keys/{id}/cert"))
            .header("accept", "application/x-pem-file")
            .answer()
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), mine);
    }

    // Move, restart, delete: the keys are the same keys afterwards (same public key, and
    // their signatures verify against it).
    let moved_from = &generated[3];
    let before_pem = public_pem(&s, moved_from).await;
    let r = s
        .as_admin(Method::POST, &format!("/keys/{moved_from}/move"))
        .json(&json!({"newId": "moved512"}));
    assert_eq!(r.answer().await.status(), 200);
    let r = as_operator(&s, Method::GET, &format!("/keys/{moved_from}"))
        .answer()
        .await;
    nethsm_error(r, 404, "Key not found.").await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_eq!(public_pem(&s, "moved512").await, before_pem);
    let mut after = Vec::new();
    sign_all(
        &s,
        &prep,
        "moved512",
        TYPES[3],
        Some(&before_pem),
        &mut after,
    )
    .await;
    sign_all(
        &s,
        &prep,
        "imported-EC_P256K1",
        TYPES[0],
        Some(prep["EC_P256K1"]["pem"].as_str().unwrap()),
        &mut after,
    )
    .await;
    let out = pyca(VERIFY, &[json!(after).to_string()]).await;
    assert_eq!(out.matches("verified ").count(), 1 + 4, "{out}");
    for id in ["moved512", "imported-EC_P256K1"] {
        let r = s.as_admin(Method::DELETE, &format!("/keys/{id}"));
        assert_eq!(r.answer().await.status(), 204);
        let r = as_operator(&s, Method::GET, &format!("/keys/{id}"))
            .answer()
            .await;
        nethsm_error(r, 404, "Key not found.").await;
    }
}

/// The orders of the new curves (a scalar must be below them).
const ORDERS: [(&str, &str); 4] = [
    (
        "EC_P256K1",
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
    ),
    (
        "BrainpoolP256",
        "a9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7",
    ),
    (
        "BrainpoolP384",
        "8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565",
    ),
    (
        "BrainpoolP512",
        "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069",
    ),
];

#[tokio::test]
async fn unhappy_paths_of_the_new_curves() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let generate = |body: Value| s.as_admin(Method::POST, "/keys/generate").json(&body);
    let import = |t: &str, data: &[u8]| {
        s.as_admin(Method::POST, "/keys").json(&json!({"type": t,
            "mechanisms": ["ECDSA_Signature"], "private": {"data": STANDARD.encode(data)}}))
    };

    // Bad scalars: zero, the order itself, longer than the curve, for every new type.
    for (t, order) in ORDERS {
        let order = hex::decode(order).unwrap();
        let len = order.len();
        let too_long =
            format!("The EC private key (data) must be the raw scalar of at most {len} bytes.");
        nethsm_error(import(t, &vec![0; len]).answer().await, 400, &*too_long).await;
        nethsm_error(import(t, &vec![1; len + 1]).answer().await, 400, &*too_long).await;
        let invalid = format!("The private key is not a valid {t} key.");
        nethsm_error(import(t, &order).answer().await, 400, &*invalid).await;
        // One below the order is a key.
        let mut below = order.clone();
        below[len - 1] -= 1;
        created_key(import(t, &below).answer().await).await;
    }

    // ECDSA digests of the wrong length.
    for (t, _, _, hash) in TYPES {
        let id = format!("ecdsa-{t}");
        let r = generate(json!({"type": t, "id": id, "mechanisms": ["ECDSA_Signature"]}));
        created_key(r.answer().await).await;
        let right = match hash {
            "SHA256" => 32,
            "SHA384" => 48,
            _ => 64,
        };
        let m = format!("ECDSA with {t} takes a digest of {right} bytes.");
        for wrong in [right - 1, right + 1] {
            let r = sign(&s, &id, "ECDSA", &STANDARD.encode(vec![1u8; wrong])).await;
            nethsm_error(r, 400, &*m).await;
        }
        // BIP340 with a key not created for it.
        let r = sign(&s, &id, "BIP340", &STANDARD.encode(MESSAGE)).await;
        let m = "The key was not created for mechanism BIP340_Signature.";
        nethsm_error(r, 400, m).await;
    }

    // BIP340 does not fit any type but secp256k1.
    for t in [
        "BrainpoolP256",
        "BrainpoolP384",
        "BrainpoolP512",
        "EC_P256",
        "Curve25519",
    ] {
        let r = generate(json!({"type": t, "mechanisms": ["BIP340_Signature"]}));
        let m = format!("Mechanism BIP340_Signature does not fit key type {t}.");
        nethsm_error(r.answer().await, 400, &*m).await;
    }
    let r = generate(json!({"type": "EC_P256K1", "mechanisms": ["EdDSA_Signature"]}));
    let m = "Mechanism EdDSA_Signature does not fit key type EC_P256K1.";
    nethsm_error(r.answer().await, 400, m).await;

    // Wrong roles: an Operator does not generate or import, an Administrator does not sign.
    let k1 = json!({"type": "EC_P256K1", "id": "k1",
                    "mechanisms": ["BIP340_Signature", "ECDSA_Signature"]});
    let r = as_operator(&s, Method::POST, "/keys/generate").json(&k1);
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = as_operator(&s, Method::POST, "/keys").json(&json!({"type": "BrainpoolP256",
        "mechanisms": ["ECDSA_Signature"], "private": {"data": STANDARD.encode([7u8; 32])}}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    created_key(generate(k1).answer().await).await;
    for (mode, input) in [
        ("BIP340", STANDARD.encode(MESSAGE)),
        ("ECDSA", STANDARD.encode([1u8; 32])),
    ] {
        let r = s
            .as_admin(Method::POST, "/keys/k1/sign")
            .json(&json!({"mode": mode, "message": input}));
        nethsm_error(r.answer().await, 403, "Access denied.").await;
    }
    // A key restricted to a tag the Operator lacks.
    let r = s
        .as_admin(Method::PUT, "/keys/k1/restrictions/tags/vault")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let r = sign(&s, "k1", "BIP340", &STANDARD.encode(MESSAGE)).await;
    nethsm_error(r, 403, "Access denied.").await;
}
