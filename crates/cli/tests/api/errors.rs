//! docs/errors.md, row by row: every documented error is triggered for real against the
//! server and checked with its face's asserter, with the status, code and message the docs
//! give it (read from docs/errors.md itself, so the two cannot drift apart). Each face's test
//! ends by requiring that every documented entry was met, or is listed with the reason it
//! cannot be triggered here and the test that covers it instead.

use std::collections::BTreeSet;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::common::*;

const OP_PASS: &str = "operator passphrase";
const BACKUP_PASS: &str = "the backup passphrase";
/// An appliance password that meets every rule of the policy.
const GOOD_PASSWORD: &str = "Good-password-1";

/// The documented errors of one face, and which of them the test has met.
struct Face {
    name: &'static str,
    documented: Vec<Documented>,
    met: BTreeSet<Documented>,
}

impl Face {
    fn new(heading: &'static str) -> Face {
        let documented = documented_errors(heading);
        assert!(
            !documented.is_empty(),
            "no documented errors under {heading}"
        );
        Face {
            name: heading,
            documented,
            met: BTreeSet::new(),
        }
    }

    /// The documented entry with this status, code and message; marks it met.
    fn entry(&mut self, status: u16, code: Option<&str>, message: Option<&str>) -> Documented {
        let entry = Documented {
            status,
            code: code.map(str::to_owned),
            message: message.map(str::to_owned),
        };
        assert!(
            self.documented.contains(&entry),
            "{}: {entry:?} is not documented in docs/errors.md",
            self.name
        );
        self.met.insert(entry.clone());
        entry
    }

    /// A NetHSM-face request that must fail with this documented status and message.
    async fn nethsm(&mut self, status: u16, message: &str, request: RequestBuilder) {
        self.entry(status, None, Some(message));
        nethsm_error(request.answer().await, status, documented_says(message)).await;
    }

    /// The same for Strongroom's own API, which documents its errors in the NetHSM section.
    async fn own(&mut self, status: u16, message: &str, request: RequestBuilder) {
        self.entry(status, None, Some(message));
        own_error(request.answer().await, status, documented_says(message)).await;
    }

    /// An appliance-face request that must fail with this documented code (and its message).
    async fn appliance(&mut self, code: &str, request: RequestBuilder) {
        let r = request.answer().await;
        if code.is_empty() {
            self.entry(401, None, None);
            return appliance_error(r, 401, "", "").await;
        }
        let found = self.find(Some(code));
        let message = found.message.clone().expect("a documented message");
        self.entry(found.status, Some(code), Some(&message));
        appliance_error(r, found.status, code, documented_says(&message)).await;
    }

    /// A backup-client request that must fail with this documented code and message, in XML
    /// when `xml`.
    async fn backup_client(&mut self, code: i64, message: &str, xml: bool, r: RequestBuilder) {
        let status = self.find_message(code, message).status;
        self.entry(status, Some(&code.to_string()), Some(message));
        backup_client_error(
            r.answer().await,
            status,
            code,
            documented_says(message),
            xml,
        )
        .await;
    }

    fn find(&self, code: Option<&str>) -> Documented {
        let found: Vec<_> = (self.documented.iter())
            .filter(|d| d.code.as_deref() == code)
            .collect();
        assert_eq!(found.len(), 1, "{}: {code:?} is documented once", self.name);
        found[0].clone()
    }

    fn find_message(&self, code: i64, message: &str) -> Documented {
        let code = code.to_string();
        (self.documented.iter())
            .find(|d| d.code.as_deref() == Some(&code) && d.message.as_deref() == Some(message))
            .unwrap_or_else(|| panic!("{}: {code} {message:?} is not documented", self.name))
            .clone()
    }

    /// Every documented entry was met, or is in `elsewhere`: (status, code, message) and
    /// where it is covered instead (or why it cannot be).
    fn assert_all_met(&self, elsewhere: &[(u16, Option<&str>, Option<&str>, &str)]) {
        let mut missing = Vec::new();
        for d in &self.documented {
            let excused = elsewhere.iter().any(|(status, code, message, _)| {
                *status == d.status
                    && *code == d.code.as_deref()
                    && *message == d.message.as_deref()
            });
            assert!(
                !(excused && self.met.contains(d)),
                "{}: {d:?} is met here; take it off the list of those covered elsewhere",
                self.name
            );
            if !excused && !self.met.contains(d) {
                missing.push(d);
            }
        }
        assert!(
            missing.is_empty(),
            "{}: documented in docs/errors.md but not triggered by this test: {missing:#?}",
            self.name
        );
    }
}

/// A fresh node with a root Administrator, an Operator `op` and a Backup user `bk`.
async fn provisioned() -> Server {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", OP_PASS).await;
    s.create_user(Some("bk"), "Backup", OP_PASS).await;
    s
}

/// A backup of a node whose backup passphrase is [`BACKUP_PASS`].
async fn a_backup() -> Vec<u8> {
    let s = provisioned().await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    s.backup("bk", OP_PASS).await
}

fn restore_form(arguments: Value, file: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("arguments", arguments.to_string())
        .part("backup_file", reqwest::multipart::Part::bytes(file))
}

#[tokio::test]
async fn every_documented_error_of_the_nethsm_face_and_the_own_api() {
    let mut face = Face::new("NetHSM face");
    let provision =
        json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME});
    let with_time = |time: &str| json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": time});

    // Unprovisioned: the request-level checks, and restores (of at most a little more than a
    // real backup, so that one over that is refused).
    let file = a_backup().await;
    let s = Server::start_with(&["--restore-max-bytes", &(file.len() + 4096).to_string()]);
    face.nethsm(412, "Service not available", s.post("/lock"))
        .await;
    let brew = Method::from_bytes(b"BREW").unwrap();
    face.nethsm(
        501,
        "Method not implemented.",
        s.request(brew, "/provision"),
    )
    .await;
    face.nethsm(405, "Method Not Allowed.", s.get("/provision"))
        .await;
    face.nethsm(404, "Resource not found.", s.get("/no/such/thing"))
        .await;
    let big = vec![b' '; 1024 * 1024 + 1];
    let r = s
        .post("/provision")
        .header("content-type", "application/json");
    face.nethsm(
        413,
        "Request body is larger than 1048576 bytes.",
        r.body(big),
    )
    .await;
    let r = s.post("/provision").header("accept", "text/plain");
    face.nethsm(
        406,
        "Content type in Accept header not supported.",
        r.json(&provision),
    )
    .await;
    let r = s
        .post("/provision")
        .header("content-type", "application/json");
    face.nethsm(400, "Malformed request body: <parser detail>", r.body("{"))
        .await;
    let short =
        json!({"unlockPassphrase": "too short", "adminPassphrase": ADMIN, "systemTime": TIME});
    let r = s.post("/provision").json(&short);
    face.nethsm(400, "<field> must be between 10 and 200 bytes long", r)
        .await;
    let weak =
        json!({"unlockPassphrase": "aaaaaaaaaaaa", "adminPassphrase": ADMIN, "systemTime": TIME});
    let message = "<field> is too weak: use more different characters, of more than one kind, or several words";
    face.nethsm(400, message, s.post("/provision").json(&weak))
        .await;
    let r = s.post("/provision").json(&with_time("yesterday"));
    face.nethsm(400, "<field> must be an RFC 3339 date-time in UTC", r)
        .await;
    let r = s
        .post("/provision")
        .json(&with_time("2026-11-23T12:00:00+02:00"));
    face.nethsm(400, "<field> must be in UTC (ending in Z)", r)
        .await;

    let restore = || s.post("/system/restore");
    let args = json!({"backupPassphrase": BACKUP_PASS, "systemTime": TIME});
    let r = restore().header("content-type", "application/octet-stream");
    let message = "Content type not supported; use multipart/form-data.";
    face.nethsm(415, message, r.body(file.clone())).await;
    let too_large = [file.clone(), vec![0; 8192]].concat();
    let r = restore().multipart(restore_form(args.clone(), too_large));
    face.nethsm(413, "The backup file is too large.", r).await;
    let only_file = reqwest::multipart::Form::new()
        .part("backup_file", reqwest::multipart::Part::bytes(vec![1]));
    let r = restore().multipart(only_file);
    face.nethsm(400, "The arguments part is missing.", r).await;
    let only_args = reqwest::multipart::Form::new().text("arguments", args.to_string());
    let r = restore().multipart(only_args);
    face.nethsm(400, "The backup_file part is missing.", r)
        .await;
    let form = restore_form(args.clone(), vec![1]).text("surprise", "x");
    let r = restore().multipart(form);
    face.nethsm(400, "Unexpected multipart part ...", r).await;
    let r = restore().multipart(restore_form(json!({"backupPassphrase": 1}), vec![1]));
    face.nethsm(400, "Malformed arguments: <parser detail>", r)
        .await;
    let unusable = |bytes: Vec<u8>| restore().multipart(restore_form(args.clone(), bytes));
    let r = unusable(b"hello, I am not a backup file at all".to_vec());
    face.nethsm(400, "not a Strongroom backup", r).await;
    let mut version_2 = file.clone();
    version_2[17] = 2;
    let message = "backup format version N is not supported (this build reads 1)";
    face.nethsm(400, message, unusable(version_2)).await;
    let r = unusable(file[..file.len() - 10].to_vec());
    face.nethsm(400, "the backup is truncated", r).await;
    let r = unusable([file.clone(), b"trailing".to_vec()].concat());
    face.nethsm(400, "the backup has data after its end", r)
        .await;
    let wrong = json!({"backupPassphrase": "not the backup passphrase", "systemTime": TIME});
    let r = restore().multipart(restore_form(wrong, file.clone()));
    let message =
        "the backup cannot be opened: the backup passphrase is wrong, or the file is damaged";
    face.nethsm(400, message, r).await;
    assert_eq!(s.state().await, "Unprovisioned");

    // Operational: authentication, roles, users, namespaces, tags, passphrases.
    drop(s);
    let s = provisioned().await;
    let admin = |method: Method, path: &str| s.as_admin(method, path);
    let r = s.get("/users");
    face.nethsm(401, "Authentication required.", r).await;
    let r = s.get("/users").basic_auth("op", Some(OP_PASS));
    face.nethsm(403, "Access denied.", r).await;
    let r = admin(Method::PUT, "/config/unattended-boot").body(r#"{"status": "on"}"#);
    let message = "Content type not supported; use application/json.";
    face.nethsm(415, message, r).await;
    face.nethsm(404, "User not found.", admin(Method::GET, "/users/nobody"))
        .await;
    let r = admin(Method::DELETE, "/users/op/tags/nosuch");
    face.nethsm(404, "Tag not found.", r).await;
    let r = admin(Method::DELETE, "/namespaces/nosuch");
    face.nethsm(404, "Namespace not found.", r).await;
    let user = |name: &str| json!({"realName": name, "role": "Operator", "passphrase": OP_PASS});
    let r = admin(Method::PUT, "/users/op").json(&user("again"));
    face.nethsm(409, "User already exists.", r).await;
    let r = admin(Method::PUT, "/users/not_valid!").json(&user("x"));
    face.nethsm(400, "Invalid user ID.", r).await;
    let r = admin(Method::PUT, "/namespaces/not_valid!");
    face.nethsm(400, "Invalid namespace ID.", r).await;
    let r = admin(Method::PUT, "/users/op/tags/not_valid!");
    face.nethsm(400, "Invalid tag.", r).await;
    let r = admin(Method::PUT, "/users/zw").json(&user("zero\u{200b}width"));
    let message = "realName must not contain invisible, control or format characters";
    face.nethsm(400, message, r).await;
    let r = admin(Method::PUT, "/users/ws").json(&user(" padded"));
    let message = "realName must not start or end with whitespace";
    face.nethsm(400, message, r).await;
    let r = admin(Method::PUT, "/namespaces/ns1").answer().await;
    assert_eq!(r.status(), 204);
    let r = admin(Method::PUT, "/namespaces/ns1");
    face.nethsm(400, "Namespace already exists.", r).await;
    let r = admin(Method::DELETE, "/users/admin");
    face.nethsm(400, "Cannot delete yourself.", r).await;
    let r = admin(Method::PUT, "/users/bk/tags/berlin");
    face.nethsm(400, "Tags can only be set on Operator users.", r)
        .await;
    let r = admin(Method::POST, "/users/ns1").json(&user("x"));
    let message =
        "POST /users/{UserID} takes a namespace prefix ending in ~, e.g. /users/namespace1~.";
    face.nethsm(400, message, r).await;
    let r = admin(Method::PUT, "/users/op/tags/berlin").answer().await;
    assert_eq!(r.status(), 204);
    face.entry(304, None, None);
    let r = admin(Method::PUT, "/users/op/tags/berlin").answer().await;
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty(), "a 304 has no body");
    let r = s.post("/random").basic_auth("op", Some(OP_PASS));
    let r = r.json(&json!({"length": 0}));
    face.nethsm(400, "length must be between 1 and 1024", r)
        .await;
    // Syslog (admin_syslog.rs tests the rest).
    let logging = |ip: &str, port: i64| {
        admin(Method::PUT, "/config/logging")
            .json(&json!({"ipAddress": ip, "port": port, "logLevel": "info"}))
    };
    let r = logging("syslog.example.com", 514);
    face.nethsm(400, "ipAddress must be an IPv4 or IPv6 address", r)
        .await;
    let r = logging("192.0.2.1", 0);
    face.nethsm(400, "port must be between 1 and 65535", r)
        .await;

    // The key store.
    use base64::Engine;
    let generate = |body: Value| admin(Method::POST, "/keys/generate").json(&body);
    let import = |body: Value| admin(Method::POST, "/keys").json(&body);
    let ed = |id: &str| json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": id});
    let r = generate(ed("k1")).answer().await;
    assert_eq!(r.status(), 201);
    let r = generate(
        json!({"type": "EC_P256", "mechanisms": ["ECDSA_Signature"], "id": "p256",
                            "restrictions": {"tags": ["paris"]}}),
    );
    assert_eq!(r.answer().await.status(), 201);
    let sign = |id: &str, mode: &str, message: &str| {
        s.post(&format!("/keys/{id}/sign"))
            .basic_auth("op", Some(OP_PASS))
            .json(&json!({"mode": mode, "message": message}))
    };
    face.nethsm(404, "Key not found.", admin(Method::GET, "/keys/nosuch"))
        .await;
    let r = generate(ed("k1"));
    face.nethsm(409, "A key with this ID exists already.", r)
        .await;
    let message =
        "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.";
    face.nethsm(400, message, admin(Method::GET, "/keys/-k"))
        .await;
    let message = "The key ID generate is reserved (POST /keys/generate).";
    face.nethsm(400, message, generate(ed("generate"))).await;
    let r = generate(json!({"type": "DSA", "mechanisms": []}));
    face.nethsm(400, "Unknown key type <name>.", r).await;
    let r = generate(json!({"type": "RSA", "length": 2048, "mechanisms": ["RSA_Magic"]}));
    face.nethsm(400, "Unknown mechanism <name>.", r).await;
    let r = sign("k1", "Magic", "AA==");
    face.nethsm(400, "Unknown sign mode <mode>.", r).await;
    let r = generate(json!({"type": "RSA", "length": 2048, "mechanisms": ["EdDSA_Signature"]}));
    let message = "Mechanism <mechanism> does not fit key type <type>.";
    face.nethsm(400, message, r).await;
    let r = generate(json!({"type": "RSA", "length": 1000, "mechanisms": []}));
    let message = "RSA keys are 2048, 3072, 4096 or 8192 bits long (length).";
    face.nethsm(400, message, r).await;
    let r = import(json!({"type": "RSA", "mechanisms": [], "private": {"primeP": "AQ=="}}));
    let message = "An RSA key needs primeP, primeQ and publicExponent.";
    face.nethsm(400, message, r).await;
    let r = import(json!({"type": "Curve25519", "mechanisms": [], "private": {"data": "AQ=="}}));
    let message = "A Curve25519 private key (data) is 32 bytes.";
    face.nethsm(400, message, r).await;
    let big = base64::engine::general_purpose::STANDARD.encode([1u8; 33]);
    let r = import(json!({"type": "EC_P256", "mechanisms": [], "private": {"data": big}}));
    let message = "The EC private key (data) must be the raw scalar of at most N bytes.";
    face.nethsm(400, message, r).await;
    let over = base64::engine::general_purpose::STANDARD.encode([0xffu8; 32]);
    let r = import(json!({"type": "EC_P256", "mechanisms": [], "private": {"data": over}}));
    face.nethsm(400, "The private key is not a valid <type> key.", r)
        .await;
    // Two Mersenne primes, 2^127 - 1 and 2^89 - 1: a valid RSA key of 216 bits.
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let p = b64([vec![0x7f], vec![0xff; 15]].concat());
    let q = b64([vec![0x01], vec![0xff; 11]].concat());
    let small = json!({"primeP": p, "primeQ": q, "publicExponent": "AQAB"});
    let r = import(json!({"type": "RSA", "mechanisms": [], "private": small}));
    face.nethsm(400, "RSA keys are 2048 to 8192 bits long.", r)
        .await;
    let r =
        import(json!({"type": "Curve25519", "mechanisms": [], "private": {"data": "not base64!"}}));
    face.nethsm(400, "<field> is not valid base64.", r).await;
    let r = import(json!({"type": "Curve25519", "mechanisms": [], "private": {"data": ""}}));
    face.nethsm(400, "<field> is empty.", r).await;
    let r = generate(json!({"type": "Curve25519", "mechanisms": [], "label": "a".repeat(33)}));
    face.nethsm(400, "A key label is at most 32 bytes of UTF-8.", r)
        .await;
    let r = sign("k1", "ECDSA", "AA==");
    let message = "The key was not created for mechanism <mechanism>.";
    face.nethsm(400, message, r).await;
    let r = admin(Method::POST, "/keys/generate").json(&json!({"type": "EC_P256",
        "mechanisms": ["ECDSA_Signature"], "id": "p256free"}));
    assert_eq!(r.answer().await.status(), 201);
    let r = sign("p256free", "ECDSA", "AA==");
    face.nethsm(400, "ECDSA with <type> takes a digest of N bytes.", r)
        .await;
    let r = admin(Method::POST, "/keys/generate").json(&json!({"type": "RSA", "length": 2048,
        "mechanisms": ["RSA_Signature_PKCS1", "RSA_Signature_PSS_SHA256"], "id": "rsa"}));
    assert_eq!(r.answer().await.status(), 201);
    let r = sign("rsa", "PSS_SHA256", "AA==");
    face.nethsm(400, "<mechanism> takes a digest of N bytes.", r)
        .await;
    // Longer than a 2048-bit key's 256 bytes less 11 (an empty one is `<field> is empty.`).
    let r = sign("rsa", "PKCS1", &b64(vec![0u8; 246]));
    let message = "PKCS1 takes a DigestInfo-encoded digest of at most N bytes.";
    face.nethsm(400, message, r).await;
    // The Operator carries "berlin", the key asks for "paris".
    let digest = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
    face.nethsm(403, "Access denied.", sign("p256", "ECDSA", &digest))
        .await;
    // Decrypt and encrypt (keys_crypt.rs has every case).
    let std_b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let crypt = |id: &str, what: &str, body: Value| {
        s.post(&format!("/keys/{id}/{what}"))
            .basic_auth("op", Some(OP_PASS))
            .json(&body)
    };
    let r = generate(json!({"type": "Generic", "length": 128, "id": "aes",
        "mechanisms": ["AES_Encryption_CBC", "AES_Decryption_CBC"]}));
    assert_eq!(r.answer().await.status(), 201);
    let r = generate(json!({"type": "RSA", "length": 2048, "id": "rsa-dec",
        "mechanisms": ["RSA_Decryption_OAEP_SHA256"]}));
    assert_eq!(r.answer().await.status(), 201);
    let (block, iv) = (std_b64(&[1; 16]), std_b64(&[2; 16]));
    let r = crypt("aes", "decrypt", json!({"mode": "CTR", "encrypted": block}));
    face.nethsm(400, "Unknown decrypt mode <mode>.", r).await;
    let r = crypt("aes", "encrypt", json!({"mode": "CTR", "message": block}));
    face.nethsm(400, "Unknown encrypt mode <mode>.", r).await;
    let r = crypt(
        "aes",
        "decrypt",
        json!({"mode": "AES_CBC", "encrypted": block}),
    );
    face.nethsm(400, "AES_CBC decryption needs the IV (iv).", r)
        .await;
    let r = crypt(
        "aes",
        "encrypt",
        json!({"mode": "AES_CBC", "message": block, "iv": block[..8]}),
    );
    face.nethsm(400, "The IV (iv) is 16 bytes.", r).await;
    let r = crypt(
        "aes",
        "encrypt",
        json!({"mode": "AES_CBC", "message": std_b64(&[1; 15])}),
    );
    let message = "AES_CBC takes whole blocks: a non-empty multiple of 16 bytes (no padding is added or removed).";
    face.nethsm(400, message, r).await;
    let r = crypt(
        "rsa-dec",
        "decrypt",
        json!({"mode": "OAEP_SHA256", "encrypted": block}),
    );
    let message =
        "<mechanism> decryption takes a ciphertext of exactly N bytes (the key's modulus length).";
    face.nethsm(400, message, r).await;
    let r = crypt(
        "rsa-dec",
        "decrypt",
        json!({"mode": "OAEP_SHA256", "encrypted": std_b64(&[0xff; 256])}),
    );
    face.nethsm(400, "The ciphertext is not less than the key's modulus.", r)
        .await;
    let r = crypt(
        "rsa-dec",
        "decrypt",
        json!({"mode": "OAEP_SHA256", "encrypted": std_b64(&[1; 256])}),
    );
    face.nethsm(400, "The ciphertext does not decrypt with <mechanism>.", r)
        .await;
    let r = generate(json!({"type": "Generic", "length": 512, "mechanisms": []}));
    face.nethsm(
        400,
        "Generic keys are 128, 192 or 256 bits long (length).",
        r,
    )
    .await;
    let r = import(json!({"type": "Generic", "mechanisms": [], "private": {"data": iv[..8]}}));
    let message = "A Generic private key (data) is an AES key of 16, 24 or 32 bytes.";
    face.nethsm(400, message, r).await;
    let r = admin(Method::GET, "/keys/aes/public.pem");
    face.nethsm(400, "A Generic key has no public key.", r)
        .await;
    // Tag restrictions of a key: bad and unknown tags, and one the key has already.
    let r = admin(Method::PUT, "/keys/p256/restrictions/tags/not_valid!");
    face.nethsm(400, "Invalid tag.", r).await;
    let r = admin(Method::DELETE, "/keys/p256/restrictions/tags/nosuch");
    face.nethsm(404, "Tag not found.", r).await;
    let r = admin(Method::PUT, "/keys/p256/restrictions/tags/paris")
        .answer()
        .await;
    assert_eq!(r.status(), 304, "the key was generated with paris");
    assert!(r.bytes().await.unwrap().is_empty(), "a 304 has no body");
    // A key's certificate (keys.rs stores real ones, made by pyca).
    let cert = |media: &str, body: &[u8]| {
        admin(Method::PUT, "/keys/k1/cert")
            .header("content-type", media)
            .body(body.to_vec())
    };
    let r = admin(Method::GET, "/keys/k1/cert");
    face.nethsm(404, "Certificate not found.", r).await;
    let r = cert("text/plain", b"-----BEGIN CERTIFICATE-----");
    let message = "Content type not supported; use application/octet-stream.";
    face.nethsm(415, message, r).await;
    let r = cert("application/octet-stream", b"");
    face.nethsm(400, "The certificate is empty.", r).await;
    let r = cert("application/octet-stream", b"garbage");
    let message =
        "The certificate is neither an X.509 certificate (PEM or DER) nor an OpenPGP certificate.";
    face.nethsm(400, message, r).await;
    let r = cert("application/pkix-cert", &[0x30, 0x03, 0x02, 0x01, 0x01]);
    let message = "The certificate is not a valid X.509 certificate.";
    face.nethsm(400, message, r).await;
    // OpenPGP certificates are kept opaque: an armored block is taken as it is.
    let pgp = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n";
    assert_eq!(
        cert("application/pgp-keys", pgp).answer().await.status(),
        201
    );
    let r = cert("application/pgp-keys", pgp);
    face.nethsm(409, "A certificate exists already for this key.", r)
        .await;
    // Certificate signing requests and PEM imports (keys_csr.rs makes real ones, checked by
    // pyca and openssl).
    let csr = |dn: Value| admin(Method::POST, "/keys/k1/csr.pem").json(&dn);
    let r = csr(json!({"commonName": ""}));
    face.nethsm(400, "commonName must not be empty.", r).await;
    let r = csr(json!({"commonName": "x", "countryName": "DEU"}));
    let message = "countryName must be a two-letter country code.";
    face.nethsm(400, message, r).await;
    let r = csr(json!({"commonName": "x", "emailAddress": "ä@example.com"}));
    face.nethsm(400, "emailAddress must be ASCII.", r).await;
    let r = csr(json!({"commonName": "Schlüssel"}));
    let message =
        "The commonName is not a DNS name (ASCII); give subjectAltNames (an empty list for none).";
    face.nethsm(400, message, r).await;
    let r = csr(json!({"commonName": "x", "subjectAltNames": ["IP:1.2.3"]}));
    let message = "subjectAltNames: <name> is not an IP address.";
    face.nethsm(400, message, r).await;
    let r = csr(json!({"commonName": "x", "subjectAltNames": [""]}));
    let message = "subjectAltNames: <name> is not a DNS name (ASCII, not empty).";
    face.nethsm(400, message, r).await;
    let pem_import = |arguments: &str, key_file: &str| {
        let form = reqwest::multipart::Form::new()
            .text("arguments", arguments.to_owned())
            .text("key_file", key_file.to_owned());
        admin(Method::POST, "/keys").multipart(form)
    };
    let args = r#"{"mechanisms": []}"#;
    let r = pem_import(args, "not a key");
    let message = "The key_file is not an unencrypted PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY).";
    face.nethsm(400, message, r).await;
    // An X25519 key (RFC 8410): a key, but not one of a type the key store has.
    let x25519 = [
        &[
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e,
        ][..],
        &[0x04, 0x22, 0x04, 0x20],
        &[0x42; 32],
    ]
    .concat();
    let x25519 = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(x25519)
    );
    let r = pem_import(args, &x25519);
    let message = "The key_file holds a key of a type this build does not import.";
    face.nethsm(400, message, r).await;
    let only_key = reqwest::multipart::Form::new().text("key_file", x25519.clone());
    let r = admin(Method::POST, "/keys").multipart(only_key);
    face.nethsm(400, "The arguments part is missing.", r).await;
    let only_arguments = reqwest::multipart::Form::new().text("arguments", args);
    let r = admin(Method::POST, "/keys").multipart(only_arguments);
    face.nethsm(400, "The key_file part is missing.", r).await;
    let twice = reqwest::multipart::Form::new()
        .text("arguments", args)
        .text("arguments", args);
    let r = admin(Method::POST, "/keys").multipart(twice);
    face.nethsm(400, "The <part> part is given twice.", r).await;
    let r = admin(Method::POST, "/keys")
        .header("content-type", "multipart/form-data")
        .body("no boundary");
    face.nethsm(400, "Malformed multipart body: <detail>", r)
        .await;
    let r = pem_import(&"x".repeat(64 * 1024 + 1), &x25519);
    let message = "The <part> part is larger than 65536 bytes.";
    face.nethsm(413, message, r).await;
    let r = s.post("/system/backup").basic_auth("bk", Some(OP_PASS));
    let message = "Please configure backup key before doing a backup.";
    face.nethsm(412, message, r).await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    let change = |path: &str, current: &str| {
        let body = json!({"newPassphrase": "a new passphrase 2", "currentPassphrase": current});
        admin(Method::PUT, path).json(&body)
    };
    let r = change("/config/backup-passphrase", "not the current one");
    face.nethsm(403, "backup passphrase is incorrect.", r).await;
    let r = change("/config/backup-passphrase", BACKUP_PASS);
    let message = "Too many failed attempts; try again in a second.";
    face.nethsm(429, message, r).await;
    let r = change("/config/unlock-passphrase", "not the current one");
    face.nethsm(403, "unlock passphrase is incorrect.", r).await;

    // System updates come from the package manager (admin_power.rs has the rest).
    let r = admin(Method::POST, "/system/update")
        .header("content-type", "application/octet-stream")
        .body(b"an update image".to_vec());
    let message = "Strongroom is updated by the host's package manager, not through this API: install the new package and restart the service (docs/operations.md, Power and updates).";
    face.nethsm(400, message, r).await;
    let r = admin(Method::POST, "/system/commit-update");
    let message = "No update is pending: Strongroom is updated by the host's package manager, not through this API (docs/operations.md, Power and updates).";
    face.nethsm(412, message, r).await;

    // Strongroom's own API: backup clients, the domain key, the audit trail.
    let own = |method: Method, path: &str| s.own_as_admin(method, path);
    let client = |name: &str| json!({"name": name, "hostName": "db.example", "owners": []});
    let r = own(Method::POST, "/clients")
        .json(&client("db1"))
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let r = own(Method::POST, "/clients").json(&client("zero\u{200b}width"));
    let message = "<field> must not contain invisible, control or format characters";
    face.own(400, message, r).await;
    let r = own(Method::POST, "/clients").json(&client("db2 "));
    face.own(400, "<field> must not start or end with whitespace", r)
        .await;
    let r = own(Method::POST, "/clients").json(&client(""));
    face.own(400, "<field> must be 1 to <max> bytes of printable text", r)
        .await;
    let r = own(Method::POST, "/clients").json(&client("DB1"));
    face.own(409, "A client of that name exists.", r).await;
    let r = own(Method::POST, "/clients")
        .json(&json!({"name": "db3", "hostName": "h", "owners": ["nobody"]}));
    face.own(400, "owner <id> is not a user", r).await;
    face.own(404, "Client not found.", own(Method::GET, "/clients/999"))
        .await;
    let r = own(
        Method::GET,
        "/clients/1/restore-authorization?operation=delete",
    );
    face.own(400, "operation must be browse or restore", r)
        .await;
    let rotate = |unlock: &str| {
        own(Method::POST, "/system/rotate-data-key").json(&json!({"unlockPassphrase": unlock}))
    };
    let message = "unlockPassphrase must be between 10 and 200 bytes long";
    face.own(400, message, rotate("short")).await;
    let r = own(Method::POST, "/audit/accept-rollback");
    face.own(409, "There is no store rollback to accept.", r)
        .await;

    // The network configuration (admin_network.rs covers both faces in full).
    let network = |body: Value| s.as_admin(Method::PUT, "/config/network").json(&body);
    let v4 = |address: &str, netmask: &str| json!({"ipAddress": address, "netmask": netmask});
    let with = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        body
    };
    let mask = "255.255.255.0";
    for (body, message) in [
        (
            v4("300.1.1.1", mask),
            r#"<field> must be an IPv4 address, not "<value>""#,
        ),
        (
            v4("10.0.0.5", "255.0.255.0"),
            r#"<field> must be a contiguous netmask such as 255.255.255.0, not "<value>""#,
        ),
        (
            with(
                v4("10.0.0.5", mask),
                "ipv6",
                json!({"cidr": "fd00::5", "gateway": null}),
            ),
            r#"<field> must be an IPv6 address/prefix, not "<value>""#,
        ),
        (
            with(
                v4("10.0.0.5", mask),
                "ipv6",
                json!({"cidr": "fd00::5/64", "gateway": "nope"}),
            ),
            r#"<field> must be an IPv6 address, not "<value>""#,
        ),
        (
            v4("0.0.0.0", mask),
            "<what> <address> is not a unicast address",
        ),
        (
            v4("10.0.0.5", "255.255.255.255"),
            "the ipv4 prefix must be 8 to 31, not <prefix>",
        ),
        (
            with(v4("10.0.0.5", mask), "gateway", json!("10.9.0.1")),
            "the ipv4 default gateway <gateway> is not in <address>/<prefix>",
        ),
        (
            with(v4("10.0.0.5", mask), "gateway", json!("10.0.0.5")),
            "the ipv4 default gateway <gateway> is the interface's own address",
        ),
    ] {
        face.nethsm(400, message, network(body)).await;
    }

    // Locked: a wrong unlock passphrase, and what is not available.
    s.lock().await;
    face.own(412, "Service not available", rotate(UNLOCK)).await;
    let message = "Unlock failed: the passphrase is incorrect.";
    let r = s
        .post("/unlock")
        .json(&json!({"passphrase": "a wrong unlock passphrase"}));
    face.nethsm(403, message, r).await;
    assert_eq!(s.state().await, "Locked");

    face.assert_all_met(&[
        (
            503,
            None,
            Some("Too many password checks at once; try again shortly."),
            "exhaustion.rs: needs a flood of password checks",
        ),
        (
            412,
            None,
            Some(
                "This node is Failed: the cluster store (etcd) is unavailable (quorum lost or unreachable); it serves again by itself once the store is back.",
            ),
            "cluster_failure.rs: needs etcd losing its quorum (feature etcd-test)",
        ),
        (
            503,
            None,
            Some(
                "The cluster store (etcd) is unavailable (quorum lost or unreachable); a change asked for may or may not have been made: read before retrying.",
            ),
            "cluster_failure.rs: needs etcd losing its quorum (feature etcd-test)",
        ),
        (
            412,
            None,
            Some(
                "Refusing to unlock: <the reason>. To run with this store anyway, restart with --accept-store-rollback and accept it (docs/operations.md).",
            ),
            "rollback.rs: needs a store put back to an older copy",
        ),
        (
            409,
            None,
            Some(
                "The data key changed while unlocking (a rotation on another node); unlock again.",
            ),
            "crates/core cluster.rs tests: needs another node's rotation between two reads of one unlock",
        ),
        (
            412,
            None,
            Some(
                "<The record> is missing from the store (it was deleted outside Strongroom); restore a backup",
            ),
            "needs a record deleted from the store file behind the server's back (rollback.rs does, for the restore decision)",
        ),
        (
            500,
            None,
            Some("Internal server error."),
            "no request makes a healthy server fail",
        ),
        (
            400,
            None,
            Some("The certificate's public key is not the key's."),
            "keys.rs certificates_are_stored_answered_and_deleted: needs a certificate made by pyca for another key",
        ),
        (
            400,
            None,
            Some("the backup's records are malformed (...)"),
            "needs a backup sealed with its own key around malformed records",
        ),
        (
            400,
            None,
            Some("the backup's key derivation parameters are not acceptable: <which bound>"),
            "kdf.rs: a backup asking for parameters beyond the bounds",
        ),
        (
            400,
            None,
            Some(
                "the backup's unlock record has key derivation parameters that are not acceptable: <which bound>",
            ),
            "crates/core backup.rs tests: needs records sealed under the backup's own key",
        ),
        (
            400,
            None,
            Some(
                "the backup's backup-key record has key derivation parameters that are not acceptable: <which bound>",
            ),
            "crates/core backup.rs tests: needs records sealed under the backup's own key",
        ),
        (
            400,
            None,
            Some("the backup header is malformed"),
            "needs a header that parses as a header but not as its fields",
        ),
        (
            409,
            None,
            Some("A rotation of the data key is already running."),
            "needs two rotations at once, the second started while the first runs",
        ),
        (
            409,
            None,
            Some("The store kept changing under the rotation; run it again."),
            "needs 100 writes racing one batch of a rotation",
        ),
        (
            503,
            None,
            Some("The <name> service (<id>) is stopped; an administrator can start it again through the appliance API (POST /api/rest/configure/v1/services/<id>/actions/start)."),
            "admin_services.rs: a stopped service",
        ),
    ]);
}

#[tokio::test]
async fn every_documented_error_of_the_appliance_face() {
    let mut face = Face::new("Appliance face");
    let s = Server::start();
    let login = |user: &str, pass: &str| {
        s.appliance(Method::POST, "/session")
            .basic_auth(user, Some(pass))
    };
    face.appliance("SERVICE_UNAVAILABLE", login("admin", ADMIN))
        .await;
    s.provision().await;
    s.create_user(Some("op"), "Operator", OP_PASS).await;
    face.appliance("", s.appliance(Method::GET, "/session"))
        .await;
    face.appliance("ACCESS_DENIED", login("op", OP_PASS)).await;
    let r = login("admin", ADMIN).answer().await;
    assert_eq!(r.status(), 200);
    let sid = r.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let password = |current: &str, new: &str| {
        s.appliance(Method::POST, "/appliance/settings/access/password")
            .header("x-dr-session", &sid)
            .json(&json!({"username": "admin", "password": current, "new_password": new}))
    };
    for (code, new) in [
        ("PASSWORD_TOO_SHORT", "Ab1!".to_owned()),
        ("PASSWORD_TOO_LONG", format!("Ab1!{}", "a".repeat(200))),
        ("PASSWORD_INVALID_CHARACTER", "Abcdef1!é".to_owned()),
        ("PASSWORD_NO_LOWERCASE", "ABCDEF1!".to_owned()),
        ("PASSWORD_NO_UPPERCASE", "abcdef1!".to_owned()),
        ("PASSWORD_NO_DIGIT", "Abcdefg!".to_owned()),
        ("PASSWORD_NO_SPECIAL", "Abcdefg1".to_owned()),
    ] {
        face.appliance(code, password(ADMIN, &new)).await;
    }
    let r = password(ADMIN, GOOD_PASSWORD).answer().await;
    assert_eq!(r.status(), 204);
    face.appliance("PASSWORD_REUSED", password(GOOD_PASSWORD, GOOD_PASSWORD))
        .await;
    face.appliance("WRONG_PASSWORD", password(ADMIN, "Another-password-2"))
        .await;
    face.appliance("TOO_MANY_REQUESTS", password(ADMIN, "Another-password-2"))
        .await;
    let path = "/appliance/settings/access/password";
    let post = || s.appliance(Method::POST, path).header("x-dr-session", &sid);
    let r = post().header("content-type", "application/json").body("{");
    face.appliance("INVALID_REQUEST", r).await;
    let r = post().header("content-type", "text/plain").body("{}");
    face.appliance("UNSUPPORTED_MEDIA_TYPE", r).await;
    let r = post().body(vec![b' '; 64 * 1024 + 1]);
    face.appliance("PAYLOAD_TOO_LARGE", r).await;
    let r = s.appliance(Method::GET, "/no/such/operation");
    face.appliance("NOT_FOUND", r).await;
    let r = s
        .appliance(Method::PUT, "/session")
        .header("x-dr-session", &sid);
    face.appliance("METHOD_NOT_ALLOWED", r).await;
    // Syslog (admin_syslog.rs tests the rest).
    let syslog = "/appliance/settings/syslog-servers";
    let servers = |list: Value| {
        s.appliance(Method::PUT, syslog)
            .header("x-dr-session", &sid)
            .json(&list)
    };
    let r = servers(json!([{"host": "bad host", "port": 514, "protocol": "UDP"}]));
    face.appliance("INVALID_SYSLOG_SERVER", r).await;
    let r = servers(json!([{"host": "192.0.2.1", "port": 514, "protocol": "RELP"}]));
    face.appliance("UNSUPPORTED_SYSLOG_PROTOCOL", r).await;
    let r = s
        .appliance(Method::POST, &format!("{syslog}/actions/send-test-message"))
        .header("x-dr-session", &sid)
        .json(&json!({"message": "test"}));
    face.appliance("NO_SYSLOG_SERVERS", r).await;

    // Updates, vSphere Replication's configuration, and a TLS probe of a closed port
    // (admin_power.rs has the rest).
    let r = s
        .appliance(
            Method::POST,
            "/appliance/update-manager/actions/retrieve-updates",
        )
        .header("x-dr-session", &sid);
    face.appliance("UPDATES_BY_PACKAGE_MANAGER", r).await;
    let r = s
        .appliance(
            Method::GET,
            "/appliance/configuration-manager/configuration",
        )
        .header("x-dr-session", &sid);
    face.appliance("NOT_VSPHERE_REPLICATION", r).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let r = s
        .appliance(
            Method::POST,
            "/appliance/certificates/server/actions/probe-ssl-connection",
        )
        .header("x-dr-session", &sid)
        .json(&json!({ "uri": uri }));
    face.appliance("PROBE_FAILED", r).await;
    // Time, network and lists (admin_network.rs covers them in full).
    let dr = |method: Method, path: &str| s.appliance(method, path).header("x-dr-session", &sid);
    let r = dr(Method::PUT, "/appliance/settings/time").json(&json!({"zone": "Nowhere/Special"}));
    face.appliance("UNKNOWN_TIME_ZONE", r).await;
    let r = dr(Method::PUT, "/appliance/settings/time")
        .json(&json!({"synchronization": {"mode": "NTP"}}));
    face.appliance("TIME_SYNC_UNSUPPORTED", r).await;
    let r = dr(Method::PUT, "/appliance/settings/network/dns")
        .json(&json!({"mode": "STATIC", "servers": []}));
    face.appliance("INVALID_NETWORK_SETTINGS", r).await;
    let r = dr(
        Method::GET,
        "/appliance/settings/network/interfaces/nosuch0",
    );
    face.appliance("INTERFACE_NOT_FOUND", r).await;
    let r = dr(Method::GET, "/appliance/settings/time/zones?limit=many");
    face.appliance("INVALID_LIST_QUERY", r).await;

    let found = |code: &str| face.find(Some(code));
    let elsewhere = [
        (
            found("SERVICE_BUSY"),
            "exhaustion.rs: needs a flood of password checks",
        ),
        (
            found("INTERNAL_ERROR"),
            "no request makes a healthy server fail",
        ),
        (
            found("CONFLICT"),
            "needs two certificate changes to race; the check is in the core's store commit",
        ),
        (
            found("REQUEST_FAILED"),
            "a safety net: the router answers no other bodiless error on this face",
        ),
        (
            found("SERVICE_STOPPED"),
            "admin_services.rs: a stopped service",
        ),
        (found("SERVICE_NOT_FOUND"), "admin_services.rs: services"),
        (
            found("SERVICE_NOT_STOPPABLE"),
            "admin_services.rs: services",
        ),
        (found("TASK_NOT_FOUND"), "admin_services.rs: tasks"),
        (
            found("CLUSTER_STORE_UNAVAILABLE"),
            "cluster_failure.rs: needs etcd losing its quorum (feature etcd-test)",
        ),
        (
            found("SUPPORT_BUNDLE_NOT_FOUND"),
            "admin_services.rs: support bundles",
        ),
    ];
    let elsewhere: Vec<_> = (elsewhere.iter())
        .map(|(d, why)| (d.status, d.code.as_deref(), d.message.as_deref(), *why))
        .collect();
    face.assert_all_met(&elsewhere);
}

/// `PUT Commcell/properties` as `token`, in JSON.
fn commcell_properties(s: &Server, token: &str, allow: bool) -> RequestBuilder {
    let body = json!({"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": allow}}});
    s.backup_client(Method::PUT, "Commcell/properties")
        .header("Authtoken", token)
        .json(&body)
}

async fn backup_client_login(s: &Server, user: &str, pass: &str) -> Response {
    use base64::Engine;
    let password = base64::engine::general_purpose::STANDARD.encode(pass);
    s.backup_client(Method::POST, "Login")
        .json(&json!({"username": user, "password": password}))
        .answer()
        .await
}

#[tokio::test]
async fn every_documented_error_of_the_backup_client_face() {
    let mut face = Face::new("Backup-client face");
    let s = Server::start();
    let some_token = format!("QSDK {}", "ab".repeat(32));
    let message =
        "The appliance is <state>; provision or unlock it through the NetHSM API (/api/v1) first.";
    let r = s
        .backup_client(Method::GET, "Client")
        .header("Authtoken", &some_token);
    face.backup_client(587204623, message, false, r).await;
    s.provision().await;
    s.create_user(Some("op"), "Operator", OP_PASS).await;

    let message = "The authentication token is missing, invalid or expired.";
    let r = s.backup_client(Method::GET, "Client");
    face.backup_client(587204620, message, false, r).await;
    let r = s
        .backup_client(Method::GET, "Client")
        .header("Accept", "application/xml");
    face.backup_client(587204620, message, true, r).await;

    let token = |r: Value| r["token"].as_str().unwrap().to_owned();
    let admin = token(
        backup_client_login(&s, "admin", ADMIN)
            .await
            .json()
            .await
            .unwrap(),
    );
    let op = token(
        backup_client_login(&s, "op", OP_PASS)
            .await
            .json()
            .await
            .unwrap(),
    );
    let get = |path: &str, token: &str| {
        s.backup_client(Method::GET, path)
            .header("Authtoken", token)
    };
    let message = "You do not have sufficient privileges for this operation";
    face.backup_client(587204594, message, false, get("Organization/0", &op))
        .await;
    let r = get("No/Such/Thing", &admin);
    face.backup_client(587204624, "No such operation.", false, r)
        .await;
    let r = get("Client/999", &admin).header("Accept", "application/xml");
    face.backup_client(587204624, "<What> not found.", true, r)
        .await;

    let put = || {
        s.backup_client(Method::PUT, "Commcell/properties")
            .header("Authtoken", &admin)
    };
    let r = put().header("content-type", "application/json").body("{");
    face.backup_client(587204625, "malformed JSON: <parser detail>", false, r)
        .await;
    let r = put()
        .header("content-type", "application/xml")
        .body("<a><b></a>");
    face.backup_client(587204625, "malformed XML: <parser detail>", false, r)
        .await;
    let doctype = "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>";
    let r = put()
        .header("content-type", "application/xml")
        .header("Accept", "application/xml")
        .body(doctype);
    let message = "DTDs and entity definitions are not accepted";
    face.backup_client(587204625, message, true, r).await;
    let r = put().json(&json!({"commCellInfo": {}}));
    let message = "Expected commCellInfo.generalInfo.allowUsersToEnablePasskey.";
    face.backup_client(587204625, message, false, r).await;
    let r = put()
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024 + 1]);
    let message = "The request body is larger than 1048576 bytes.";
    face.backup_client(587204626, message, false, r).await;

    // Settings changed by many writers at once: each write that read the settings before
    // another's commit is refused as a conflict, never half applied.
    let message = "The company's settings changed meanwhile; try again.";
    face.entry(409, Some("587204629"), Some(message));
    let mut conflicts = 0;
    for _round in 0..50 {
        let mut writers = tokio::task::JoinSet::new();
        for i in 0..8 {
            let request = commcell_properties(&s, &admin, i % 2 == 0);
            writers.spawn(async move { request.answer().await });
        }
        while let Some(r) = writers.join_next().await {
            let r = r.unwrap();
            if r.status() == 200 {
                continue;
            }
            backup_client_error(r, 409, 587204629, message, false).await;
            conflicts += 1;
        }
        if conflicts > 0 {
            break;
        }
    }
    assert!(conflicts > 0, "no write of the settings met another");

    // Login answers in its own errList shape, with the face's general codes.
    let r = s
        .backup_client(Method::POST, "Login")
        .json(&json!({"username": "op", "password": "not base64!"}))
        .answer()
        .await;
    let message = "A login needs username and a base64 password.";
    face.entry(400, Some("587204625"), Some(message));
    backup_client_login_error(r, 400, 587204625, message).await;
    let r = backup_client_login(&s, "op", "not the passphrase").await;
    backup_client_login_error(r, 401, 587204621, "Invalid username or password.").await;
    let r = backup_client_login(&s, "op", "not the passphrase").await;
    let message = "Too many failed attempts; try again in a second.";
    face.entry(429, Some("587204622"), Some(message));
    backup_client_login_error(r, 429, 587204622, message).await;
    // A body refused before it is read, too (the documented entry is the parser's, above).
    let r = s
        .backup_client(Method::POST, "Login")
        .header("content-type", "application/json")
        .body("{")
        .answer()
        .await;
    let says = documented_says("malformed JSON: <parser detail>");
    backup_client_login_error(r, 400, 587204625, says).await;

    // RenewLoginToken answers in its own `error` shape: a body it cannot read is refused,
    // never read as one without sessionId (which would renew the header's token).
    let message = "A RenewLoginToken body is an object whose sessionId is a string.";
    face.entry(400, Some("587204625"), Some(message));
    for body in [json!({"sessionId": 5}), json!(["QSDK"])] {
        let r = s
            .backup_client(Method::POST, "RenewLoginToken")
            .header("Authtoken", &admin)
            .json(&body)
            .answer()
            .await;
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer,
            json!({"error": {"errLogMessage": message, "errorCode": 587204625}})
        );
    }
    let r = get("WhoAmI", &admin).answer().await;
    assert_eq!(r.status(), 200, "the token was not renewed");

    let mut elsewhere = vec![
        (
            503,
            Some("587204630"),
            Some("Too many password checks at once; try again shortly."),
            "exhaustion.rs: needs a flood of password checks",
        ),
        (
            500,
            Some("587204628"),
            Some("Internal server error; the request id is in the x-request-id header."),
            "no request makes a healthy server fail",
        ),
        (
            503,
            Some("587204631"),
            Some(
                "The <name> service (<id>) is stopped; an administrator can start it again through the appliance API (POST /api/rest/configure/v1/services/<id>/actions/start).",
            ),
            "admin_services.rs: a stopped service",
        ),
        (
            503,
            Some("587204632"),
            Some(
                "The cluster store (etcd) is unavailable (quorum lost or unreachable); this node serves again by itself once it is back. A change asked for meanwhile may or may not have been made: read before retrying.",
            ),
            "cluster_failure.rs: needs etcd losing its quorum (feature etcd-test)",
        ),
    ];
    // The passkey operations' codes answer in their own shape: backup_client.rs.
    let passkeys: Vec<_> = (face.documented.iter())
        .filter(|d| d.status == 200)
        .map(|d| (d.code.clone(), d.message.clone()))
        .collect();
    for (code, message) in &passkeys {
        elsewhere.push((
            200,
            code.as_deref(),
            message.as_deref(),
            "backup_client.rs: passkey operations",
        ));
    }
    face.assert_all_met(&elsewhere);
}

/// The older body of `PUT /config/backup-passphrase` (`{"passphrase": ...}`): its length and
/// strength errors name the field sent, as docs/errors.md's `<field>` says.
#[tokio::test]
async fn legacy_backup_passphrase_length_names_its_field() {
    let s = Server::start();
    s.provision().await;
    let r = s
        .as_admin(Method::PUT, "/config/backup-passphrase")
        .json(&json!({"passphrase": "short"}))
        .answer()
        .await;
    nethsm_error(r, 400, "passphrase must be between 10 and 200 bytes long").await;
    let r = s
        .as_admin(Method::PUT, "/config/backup-passphrase")
        .json(&json!({"passphrase": "aaaaaaaaaaaa"}))
        .answer()
        .await;
    let weak = "passphrase is too weak: use more different characters, of more than one kind, or several words";
    nethsm_error(r, 400, weak).await;
}

/// `PUT /config/time` names its own field, `time`, in its errors.
#[tokio::test]
async fn config_time_errors_name_their_field() {
    let s = Server::start();
    s.provision().await;
    let r = s
        .as_admin(Method::PUT, "/config/time")
        .json(&json!({"time": "soon"}))
        .answer()
        .await;
    nethsm_error(r, 400, "time must be an RFC 3339 date-time in UTC").await;
    let r = s
        .as_admin(Method::PUT, "/config/time")
        .json(&json!({"time": "2026-11-23T12:00:00+02:00"}))
        .answer()
        .await;
    nethsm_error(r, 400, "time must be in UTC (ending in Z)").await;
}
