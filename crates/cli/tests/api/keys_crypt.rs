//! `/keys/{KeyID}/decrypt` and `/encrypt` (issue 13): RSA ciphertexts made by pyca/cryptography
//! (RAW, PKCS1, OAEP with every hash; OAEP_MD5 by PyCryptodome, since pyca refuses MD5 for
//! OAEP) decrypted by the server, to imported and to generated
//! keys; PKCS1 implicit rejection checked against pyca's own (OpenSSL 3.2+ implicit rejection,
//! an independent implementation of the same algorithm); AES-CBC with Generic keys of every
//! size checked against pyca's AES both ways; Generic keys survive a restart; the unhappy paths.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::keys::*;
use crate::common::*;

const RSA_MECHANISMS: [&str; 8] = [
    "RSA_Decryption_RAW",
    "RSA_Decryption_PKCS1",
    "RSA_Decryption_OAEP_MD5",
    "RSA_Decryption_OAEP_SHA1",
    "RSA_Decryption_OAEP_SHA224",
    "RSA_Decryption_OAEP_SHA256",
    "RSA_Decryption_OAEP_SHA384",
    "RSA_Decryption_OAEP_SHA512",
];
const AES_MECHANISMS: [&str; 2] = ["AES_Encryption_CBC", "AES_Decryption_CBC"];

/// Makes, independently of the server: an RSA key (its primes to import; the private key with
/// d = e^-1 mod (p-1)(q-1), the d the server computes, since implicit rejection derives its
/// key from d), ciphertexts of argv[1] for every mode, malformed PKCS1 ciphertexts and what
/// pyca's decryption (with implicit rejection) answers for them; AES keys of every size, an
/// IV, and argv[2] (whole blocks) encrypted with AES-CBC under them.
const PREPARE: &str = r#"
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
msg = bytes.fromhex(sys.argv[1])
blocks = bytes.fromhex(sys.argv[2])
def b64(b): return base64.b64encode(b).decode()
def big(n): return n.to_bytes((n.bit_length() + 7) // 8, "big")
H = {"MD5": hashes.MD5, "SHA1": hashes.SHA1, "SHA224": hashes.SHA224, "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
gen = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
p, q, e = gen.p, gen.q, gen.public_numbers.e
n = p * q
d = pow(e, -1, (p - 1) * (q - 1))
key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, n)).private_key()
pub = key.public_key()
k = 256
out = {"private": {"primeP": b64(big(p)), "primeQ": b64(big(q)), "publicExponent": b64(big(e))}}
raw = b"\x00" + os.urandom(k - 1)
out["RAW"] = {"encrypted": b64(pow(int.from_bytes(raw, "big"), e, n).to_bytes(k, "big")), "plain": b64(raw)}
out["PKCS1"] = b64(pub.encrypt(msg, padding.PKCS1v15()))
for name, h in H.items():
    if name == "MD5":
        continue
    out["OAEP_" + name] = b64(pub.encrypt(msg, padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None)))
# pyca does not do OAEP with MD5; PyCryptodome does (MGF1 with the same hash, empty label).
from Cryptodome.Cipher import PKCS1_OAEP
from Cryptodome.Hash import MD5
from Cryptodome.PublicKey import RSA
out["OAEP_MD5"] = b64(PKCS1_OAEP.new(RSA.construct((n, e)), hashAlgo=MD5).encrypt(msg))
def raw_encrypt(em): return pow(int.from_bytes(em, "big"), e, n).to_bytes(k, "big")
ps = bytes(b | 1 for b in os.urandom(k - 3 - len(msg)))
bad = [
    b"\x00\x01" + ps + b"\x00" + msg,                      # block type 1, not 2
    b"\x01\x02" + ps + b"\x00" + msg,                      # first byte not zero
    b"\x00\x02" + bytes(b | 1 for b in os.urandom(k - 2)), # no separator
    b"\x00\x02" + ps[:7] + b"\x00" + os.urandom(k - 10),   # seven bytes of padding
]
out["bad_pkcs1"] = []
for em in bad:
    c = raw_encrypt(em)
    out["bad_pkcs1"].append({"encrypted": b64(c), "pyca": b64(key.decrypt(c, padding.PKCS1v15()))})
iv = os.urandom(16)
out["iv"] = b64(iv)
out["aes"] = []
for size in [16, 24, 32]:
    secret = os.urandom(size)
    enc = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    out["aes"].append({"data": b64(secret), "encrypted": b64(enc.update(blocks) + enc.finalize())})
print(json.dumps(out))
"#;

/// Encrypts argv[1] to the public key in PEM argv[2] (a key the server generated): RAW,
/// PKCS1 and OAEP_SHA256 ciphertexts.
const ENCRYPT_TO: &str = r#"
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
msg = bytes.fromhex(sys.argv[1])
pub = serialization.load_pem_public_key(sys.argv[2].encode())
nums = pub.public_numbers()
k = (nums.n.bit_length() + 7) // 8
raw = b"\x00" + os.urandom(k - 1)
def b64(b): return base64.b64encode(b).decode()
print(json.dumps({
    "RAW": {"encrypted": b64(pow(int.from_bytes(raw, "big"), nums.e, nums.n).to_bytes(k, "big")), "plain": b64(raw)},
    "PKCS1": b64(pub.encrypt(msg, padding.PKCS1v15())),
    "OAEP_SHA256": b64(pub.encrypt(msg, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))),
}))
"#;

/// Decrypts with pyca's AES-CBC each (key, iv, ciphertext) of the JSON list argv[2] and checks
/// it is argv[1]; prints one line per check.
const AES_DECRYPT: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
blocks = bytes.fromhex(sys.argv[1])
for c in json.loads(sys.argv[2]):
    d = lambda f: base64.b64decode(c[f])
    dec = Cipher(algorithms.AES(d("data")), modes.CBC(d("iv"))).decryptor()
    assert dec.update(d("encrypted")) + dec.finalize() == blocks, c
    print("decrypted", len(d("data")))
print("all decrypted")
"#;

const MESSAGE: &[u8] = b"Strongroom decrypts this message.";
/// Three AES blocks: NetHSM's AES-CBC takes whole blocks and pads nothing.
const BLOCKS: &[u8] = b"Forty-eight bytes: three AES blocks, no padding.";

fn decrypt_as(s: &Server, user: &str, id: &str, body: Value) -> reqwest::RequestBuilder {
    s.post(&format!("/keys/{id}/decrypt"))
        .basic_auth(user, Some(OPERATOR_PASS))
        .json(&body)
}

fn decrypt(s: &Server, id: &str, body: Value) -> reqwest::RequestBuilder {
    decrypt_as(s, OPERATOR, id, body)
}

fn encrypt(s: &Server, id: &str, body: Value) -> reqwest::RequestBuilder {
    as_operator(s, Method::POST, &format!("/keys/{id}/encrypt")).json(&body)
}

/// Expects 200 and answers the body.
async fn ok(r: reqwest::RequestBuilder) -> Value {
    let r = r.answer().await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// The decrypted bytes of a 200 answer.
async fn decrypted(r: reqwest::RequestBuilder) -> Vec<u8> {
    let body = ok(r).await;
    STANDARD
        .decode(body["decrypted"].as_str().unwrap())
        .unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

async fn created(r: reqwest::RequestBuilder) {
    let r = r.answer().await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// `PUT /keys/{KeyID}`: 204.
async fn imported(r: reqwest::RequestBuilder) {
    let r = r.answer().await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn what_pyca_encrypts_the_server_decrypts_and_aes_cbc_agrees_with_pyca() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let prep: Value =
        serde_json::from_str(&pyca(PREPARE, &[hex::encode(MESSAGE), hex::encode(BLOCKS)]).await)
            .unwrap();

    // An imported RSA key: every mode.
    let body = json!({"type": "RSA", "mechanisms": RSA_MECHANISMS, "private": prep["private"]});
    imported(s.as_admin(Method::PUT, "/keys/rsa").json(&body)).await;
    let raw = decrypted(decrypt(
        &s,
        "rsa",
        json!({"mode": "RAW",
        "encrypted": prep["RAW"]["encrypted"]}),
    ))
    .await;
    assert_eq!(
        raw,
        b64(&prep["RAW"]["plain"]),
        "RAW answers the modulus length"
    );
    let pkcs1 = decrypted(decrypt(
        &s,
        "rsa",
        json!({"mode": "PKCS1", "encrypted": prep["PKCS1"]}),
    ))
    .await;
    assert_eq!(pkcs1, MESSAGE);
    for hash in ["MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512"] {
        let mode = format!("OAEP_{hash}");
        let r = decrypt(&s, "rsa", json!({"mode": mode, "encrypted": prep[&mode]}));
        assert_eq!(decrypted(r).await, MESSAGE, "{mode}");
    }

    // PKCS1 implicit rejection: a malformed padding answers 200 with the synthetic message
    // pyca (OpenSSL's implicit rejection) answers too; the same each time, and different for
    // different ciphertexts.
    let mut synthetic = Vec::new();
    for bad in prep["bad_pkcs1"].as_array().unwrap() {
        let body = json!({"mode": "PKCS1", "encrypted": bad["encrypted"]});
        let first = decrypted(decrypt(&s, "rsa", body.clone())).await;
        let again = decrypted(decrypt(&s, "rsa", body)).await;
        assert_eq!(first, again, "the same ciphertext, the same answer");
        assert_eq!(first, b64(&bad["pyca"]), "what pyca answers for it");
        assert_ne!(first, MESSAGE);
        synthetic.push(first);
    }
    for (i, a) in synthetic.iter().enumerate() {
        for b in &synthetic[i + 1..] {
            assert_ne!(a, b, "different ciphertexts, different synthetic messages");
        }
    }

    // A key the server generated: pyca encrypts to its public.pem.
    let body = json!({"type": "RSA", "length": 2048, "id": "genrsa",
        "mechanisms": ["RSA_Decryption_RAW", "RSA_Decryption_PKCS1", "RSA_Decryption_OAEP_SHA256"]});
    created(s.as_admin(Method::POST, "/keys/generate").json(&body)).await;
    let pem = as_operator(&s, Method::GET, "/keys/genrsa/public.pem")
        .answer()
        .await
        .text()
        .await
        .unwrap();
    let to_gen: Value =
        serde_json::from_str(&pyca(ENCRYPT_TO, &[hex::encode(MESSAGE), pem]).await).unwrap();
    let r = decrypt(
        &s,
        "genrsa",
        json!({"mode": "RAW", "encrypted": to_gen["RAW"]["encrypted"]}),
    );
    assert_eq!(decrypted(r).await, b64(&to_gen["RAW"]["plain"]));
    for mode in ["PKCS1", "OAEP_SHA256"] {
        let r = decrypt(
            &s,
            "genrsa",
            json!({"mode": mode, "encrypted": to_gen[mode]}),
        );
        assert_eq!(decrypted(r).await, MESSAGE, "{mode}");
    }

    // AES-CBC with imported Generic keys of every size: the server decrypts what pyca
    // encrypted, and encrypts (under a given IV, and under one it picks) what pyca decrypts.
    let iv = &prep["iv"];
    let blocks = STANDARD.encode(BLOCKS);
    let mut for_pyca = Vec::new();
    for (i, aes) in prep["aes"].as_array().unwrap().iter().enumerate() {
        let id = format!("aes{i}");
        let body = json!({"type": "Generic", "mechanisms": AES_MECHANISMS,
                          "private": {"data": aes["data"]}});
        imported(s.as_admin(Method::PUT, &format!("/keys/{id}")).json(&body)).await;
        let r = decrypt(
            &s,
            &id,
            json!({"mode": "AES_CBC", "encrypted": aes["encrypted"],
                                        "iv": iv}),
        );
        assert_eq!(
            decrypted(r).await,
            BLOCKS,
            "{id}: pyca encrypted, the server decrypts"
        );
        let given = ok(encrypt(
            &s,
            &id,
            json!({"mode": "AES_CBC", "message": blocks, "iv": iv}),
        ))
        .await;
        assert_eq!(given["iv"], *iv, "the IV it was given");
        assert_eq!(
            given["encrypted"], aes["encrypted"],
            "{id}: pyca's ciphertext"
        );
        let picked = ok(encrypt(
            &s,
            &id,
            json!({"mode": "AES_CBC", "message": blocks}),
        ))
        .await;
        assert_eq!(b64(&picked["iv"]).len(), 16);
        assert_ne!(picked["iv"], *iv, "a fresh IV");
        for_pyca.push(json!({"data": aes["data"], "iv": picked["iv"],
                             "encrypted": picked["encrypted"]}));
    }
    let out = pyca(
        AES_DECRYPT,
        &[hex::encode(BLOCKS), json!(for_pyca).to_string()],
    )
    .await;
    assert_eq!(out.matches("decrypted ").count(), 3, "{out}");
    assert!(out.contains("all decrypted"), "{out}");

    // Generated Generic keys of every size: round trips, and GET shows no public part.
    for bits in [128, 192, 256] {
        let id = format!("gen{bits}");
        let body = json!({"type": "Generic", "length": bits, "mechanisms": AES_MECHANISMS,
                          "id": id});
        created(s.as_admin(Method::POST, "/keys/generate").json(&body)).await;
        let info = ok(as_operator(&s, Method::GET, &format!("/keys/{id}"))).await;
        assert_eq!(info["type"], "Generic");
        assert_eq!(
            info["mechanisms"],
            json!(["AES_Decryption_CBC", "AES_Encryption_CBC"])
        );
        assert!(
            info.get("public").is_none(),
            "a Generic key has no public part: {info}"
        );
        let e = ok(encrypt(
            &s,
            &id,
            json!({"mode": "AES_CBC", "message": blocks}),
        ))
        .await;
        assert_ne!(b64(&e["encrypted"]), BLOCKS);
        let r = decrypt(
            &s,
            &id,
            json!({"mode": "AES_CBC", "encrypted": e["encrypted"],
                                        "iv": e["iv"]}),
        );
        assert_eq!(decrypted(r).await, BLOCKS);
    }

    // A restart: the Generic and RSA keys are the same keys.
    let aes0 = &prep["aes"][0];
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let r = decrypt(
        &s,
        "aes0",
        json!({"mode": "AES_CBC", "encrypted": aes0["encrypted"],
                                       "iv": iv}),
    );
    assert_eq!(decrypted(r).await, BLOCKS);
    let r = decrypt(
        &s,
        "rsa",
        json!({"mode": "OAEP_SHA256", "encrypted": prep["OAEP_SHA256"]}),
    );
    assert_eq!(decrypted(r).await, MESSAGE);
    let e = ok(encrypt(
        &s,
        "gen256",
        json!({"mode": "AES_CBC", "message": blocks}),
    ))
    .await;
    let r = decrypt(
        &s,
        "gen256",
        json!({"mode": "AES_CBC", "encrypted": e["encrypted"],
                                         "iv": e["iv"]}),
    );
    assert_eq!(decrypted(r).await, BLOCKS);
}

#[tokio::test]
async fn decrypt_and_encrypt_unhappy_paths() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let generate = |body: Value| s.as_admin(Method::POST, "/keys/generate").json(&body);
    created(generate(json!({"type": "RSA", "length": 2048, "id": "rsa",
                            "mechanisms": ["RSA_Decryption_OAEP_SHA256"]})))
    .await;
    created(generate(
        json!({"type": "Generic", "length": 128, "id": "aes",
                            "mechanisms": AES_MECHANISMS}),
    ))
    .await;
    created(generate(
        json!({"type": "Generic", "length": 256, "id": "aes-dec",
                            "mechanisms": ["AES_Decryption_CBC"]}),
    ))
    .await;
    let k256 = STANDARD.encode([1u8; 256]);
    let block = STANDARD.encode([1u8; 16]);
    let iv = STANDARD.encode([2u8; 16]);

    // Unknown key; another namespace's key.
    let r = decrypt(&s, "nosuch", json!({"mode": "RAW", "encrypted": k256}));
    nethsm_error(r.answer().await, 404, "Key not found.").await;
    let r = encrypt(&s, "nosuch", json!({"mode": "AES_CBC", "message": block}));
    nethsm_error(r.answer().await, 404, "Key not found.").await;
    s.create_user(Some("ns1~admin"), "Administrator", OPERATOR_PASS)
        .await;
    s.create_user(Some("ns1~op"), "Operator", OPERATOR_PASS)
        .await;
    let r = s.as_admin(Method::PUT, "/namespaces/ns1").answer().await;
    assert_eq!(r.status(), 204);
    let body = json!({"mode": "AES_CBC", "encrypted": block, "iv": iv});
    let r = decrypt_as(&s, "ns1~op", "aes", body.clone()).answer().await;
    nethsm_error(r, 404, "Key not found.").await;
    let r = s
        .post("/keys/aes/encrypt")
        .basic_auth("ns1~op", Some(OPERATOR_PASS))
        .json(&json!({"mode": "AES_CBC", "message": block}));
    nethsm_error(r.answer().await, 404, "Key not found.").await;
    assert_eq!(
        decrypt(&s, "aes", body).answer().await.status(),
        200,
        "root's Operator can"
    );

    // Wrong role: an Administrator does not decrypt or encrypt.
    let r = s
        .as_admin(Method::POST, "/keys/aes/encrypt")
        .json(&json!({"mode": "AES_CBC", "message": block}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = s
        .as_admin(Method::POST, "/keys/rsa/decrypt")
        .json(&json!({"mode": "OAEP_SHA256", "encrypted": k256}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;

    // Unknown modes; modes the key was not created for, and modes of another key type.
    let r = decrypt(&s, "rsa", json!({"mode": "OAEP_SHA3", "encrypted": k256}));
    nethsm_error(r.answer().await, 400, "Unknown decrypt mode OAEP_SHA3.").await;
    let r = encrypt(&s, "aes", json!({"mode": "RAW", "message": block}));
    nethsm_error(r.answer().await, 400, "Unknown encrypt mode RAW.").await;
    for (id, mode, mechanism) in [
        ("rsa", "PKCS1", "RSA_Decryption_PKCS1"),
        ("rsa", "RAW", "RSA_Decryption_RAW"),
        ("rsa", "AES_CBC", "AES_Decryption_CBC"),
        ("aes", "OAEP_SHA256", "RSA_Decryption_OAEP_SHA256"),
        ("aes", "RAW", "RSA_Decryption_RAW"),
    ] {
        let r = decrypt(&s, id, json!({"mode": mode, "encrypted": k256, "iv": iv}));
        let message = format!("The key was not created for mechanism {mechanism}.");
        nethsm_error(r.answer().await, 400, message.as_str()).await;
    }
    let r = encrypt(&s, "aes-dec", json!({"mode": "AES_CBC", "message": block}));
    let message = "The key was not created for mechanism AES_Encryption_CBC.";
    nethsm_error(r.answer().await, 400, message).await;
    let r = encrypt(&s, "rsa", json!({"mode": "AES_CBC", "message": block}));
    nethsm_error(r.answer().await, 400, message).await;
    let r = generate(json!({"type": "RSA", "length": 2048, "mechanisms": ["AES_Decryption_CBC"]}));
    let message = "Mechanism AES_Decryption_CBC does not fit key type RSA.";
    nethsm_error(r.answer().await, 400, message).await;
    let r = generate(json!({"type": "Generic", "length": 128,
                            "mechanisms": ["RSA_Decryption_PKCS1"]}));
    let message = "Mechanism RSA_Decryption_PKCS1 does not fit key type Generic.";
    nethsm_error(r.answer().await, 400, message).await;

    // IVs: missing for decrypt, of the wrong length, not base64.
    let r = decrypt(&s, "aes", json!({"mode": "AES_CBC", "encrypted": block}));
    nethsm_error(
        r.answer().await,
        400,
        "AES_CBC decryption needs the IV (iv).",
    )
    .await;
    for bad in [STANDARD.encode([0u8; 15]), STANDARD.encode([0u8; 17])] {
        let r = decrypt(
            &s,
            "aes",
            json!({"mode": "AES_CBC", "encrypted": block, "iv": bad}),
        );
        nethsm_error(r.answer().await, 400, "The IV (iv) is 16 bytes.").await;
        let r = encrypt(
            &s,
            "aes",
            json!({"mode": "AES_CBC", "message": block, "iv": bad}),
        );
        nethsm_error(r.answer().await, 400, "The IV (iv) is 16 bytes.").await;
    }

    // Bad base64.
    let r = decrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "encrypted": "no base64!", "iv": iv}),
    );
    nethsm_error(r.answer().await, 400, "encrypted is not valid base64.").await;
    let r = decrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "encrypted": block, "iv": "*"}),
    );
    nethsm_error(r.answer().await, 400, "iv is not valid base64.").await;
    let r = encrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "message": "no base64!"}),
    );
    nethsm_error(r.answer().await, 400, "message is not valid base64.").await;

    // Empty base64: the spec's `Base64` has at least one character, so "" is refused as such
    // (not read as no IV, nor as nothing to encrypt).
    let r = decrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "encrypted": block, "iv": ""}),
    );
    nethsm_error(r.answer().await, 400, "iv is empty.").await;
    let r = encrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "message": block, "iv": ""}),
    );
    nethsm_error(r.answer().await, 400, "iv is empty.").await;
    let r = encrypt(&s, "aes", json!({"mode": "AES_CBC", "message": ""}));
    nethsm_error(r.answer().await, 400, "message is empty.").await;
    let r = decrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "encrypted": "", "iv": iv}),
    );
    nethsm_error(r.answer().await, 400, "encrypted is empty.").await;

    // Whole AES blocks only, and something to encrypt.
    let blocks = "AES_CBC takes whole blocks: a non-empty multiple of 16 bytes (no padding is added or removed).";
    for bad in [STANDARD.encode([1u8; 15]), STANDARD.encode([1u8; 17])] {
        let r = encrypt(&s, "aes", json!({"mode": "AES_CBC", "message": bad}));
        nethsm_error(r.answer().await, 400, blocks).await;
        let r = decrypt(
            &s,
            "aes",
            json!({"mode": "AES_CBC", "encrypted": bad, "iv": iv}),
        );
        nethsm_error(r.answer().await, 400, blocks).await;
    }

    // RSA ciphertexts: exactly the modulus length, less than the modulus; OAEP that fails.
    for len in [255, 257] {
        let r = decrypt(
            &s,
            "rsa",
            json!({"mode": "OAEP_SHA256",
                                          "encrypted": STANDARD.encode(vec![1u8; len])}),
        );
        let message = "RSA_Decryption_OAEP_SHA256 decryption takes a ciphertext of exactly 256 bytes (the key's modulus length).";
        nethsm_error(r.answer().await, 400, message).await;
    }
    let r = decrypt(
        &s,
        "rsa",
        json!({"mode": "OAEP_SHA256",
                                      "encrypted": STANDARD.encode([0xffu8; 256])}),
    );
    let message = "The ciphertext is not less than the key's modulus.";
    nethsm_error(r.answer().await, 400, message).await;
    let r = decrypt(&s, "rsa", json!({"mode": "OAEP_SHA256", "encrypted": k256}));
    let message = "The ciphertext does not decrypt with RSA_Decryption_OAEP_SHA256.";
    nethsm_error(r.answer().await, 400, message).await;
    let r = decrypt(&s, "rsa", json!({"mode": "OAEP_SHA256"}));
    assert_eq!(r.answer().await.status(), 400, "encrypted is required");

    // Generic keys: their length; an import's key size; no public key, so no certificate.
    let message = "Generic keys are 128, 192 or 256 bits long (length).";
    for length in [512, 64] {
        let r = generate(json!({"type": "Generic", "length": length,
                                "mechanisms": AES_MECHANISMS}));
        nethsm_error(r.answer().await, 400, message).await;
    }
    // `null` is not a length (`length` is not nullable in the spec): a malformed body.
    let r = generate(json!({"type": "Generic", "length": null, "mechanisms": AES_MECHANISMS}));
    nethsm_error(r.answer().await, 400, starting("Malformed request body: ")).await;
    let message = "A Generic private key (data) is an AES key of 16, 24 or 32 bytes.";
    for len in [15, 20, 33] {
        let body = json!({"type": "Generic", "mechanisms": AES_MECHANISMS,
                          "private": {"data": STANDARD.encode(vec![3u8; len])}});
        let r = s.as_admin(Method::POST, "/keys").json(&body);
        nethsm_error(r.answer().await, 400, message).await;
    }
    let r = as_operator(&s, Method::GET, "/keys/aes/public.pem")
        .answer()
        .await;
    nethsm_error(r, 400, "A Generic key has no public key.").await;
    let r = s
        .as_admin(Method::PUT, "/keys/aes/cert")
        .header("content-type", "application/octet-stream")
        .body(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    nethsm_error(r.answer().await, 400, "A Generic key has no public key.").await;
    let r = s.as_admin(Method::GET, "/keys/aes/cert").answer().await;
    nethsm_error(r, 404, "Certificate not found.").await;

    // Tag restrictions: an Operator without the key's tag may not use it.
    let r = s
        .as_admin(Method::PUT, "/keys/aes/restrictions/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let r = encrypt(&s, "aes", json!({"mode": "AES_CBC", "message": block}));
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = decrypt(
        &s,
        "aes",
        json!({"mode": "AES_CBC", "encrypted": block, "iv": iv}),
    );
    nethsm_error(r.answer().await, 403, "Access denied.").await;
    let r = s
        .as_admin(Method::PUT, "/users/op/tags/berlin")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let r = encrypt(&s, "aes", json!({"mode": "AES_CBC", "message": block}));
    assert_eq!(r.answer().await.status(), 200, "with the tag it may");
}
