//! Secret scanning: a whole scenario on every face (NetHSM provisioning, users, passphrases,
//! key imports and generation, the backup passphrase, a backup; the appliance face's session
//! and password; the backup-client face's login and passkeys), with the most verbose log level
//! and syslog forwarding to a UDP listener here; then every secret the scenario used is
//! looked for in the data directory, the server's stdout and stderr, the syslog messages, the
//! audit trail, a support bundle and the backup file, in clear, base64 and hex. There must be
//! none.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::common::*;

const OPERATOR_PASS: &str = "operator passphrase of the scan";
const OPERATOR_PASS_2: &str = "second operator passphrase of the scan";
const BACKUP_USER_PASS: &str = "backup user passphrase of the scan";
const BACKUP_PASS: &str = "backup passphrase of the scan";
const UNLOCK_2: &str = "second unlock passphrase of the scan";
/// The root admin's password after the appliance face changes it (meets its policy).
const APPLIANCE_PASS: &str = "Scan-Appliance-Pw1!";
const WRONG_PASS: &str = "a wrong passphrase of the scan";
const PASSKEY: &str = "first passkey of the scan";
const PASSKEY_2: &str = "second passkey of the scan";
const WRONG_PASSKEY: &str = "a wrong passkey of the scan";
/// The Ed25519 private key imported as JSON (any 32 bytes are a seed).
const ED25519_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

/// Every way `secret` could be written: as is, in hex (either case), and in base64
/// (standard and URL-safe, padded or not) at each of the three alignments it can have inside
/// a longer base64 text (a Basic `Authorization` header, a PEM body): the characters that
/// depend on its bytes alone.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    for shift in 0..3usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(secret);
        // The leading characters carry bits of the filler; so does the last one when the
        // length is not a multiple of 3 (it is completed with zero bits).
        let lead = (shift * 8).div_ceil(6);
        let whole = shifted.len() / 3 * 4;
        for engine in [STANDARD, URL_SAFE] {
            let text = engine.encode(&shifted);
            let end = if shifted.len() % 3 == 0 {
                whole
            } else {
                whole + (shifted.len() % 3 * 8) / 6
            };
            out.push(text.as_bytes()[lead..end].to_vec());
        }
    }
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret).into_bytes());
    }
    out.sort();
    out.dedup();
    out
}

/// Where a secret was found.
fn scan(secrets: &[(String, Vec<u8>)], place: &str, bytes: &[u8], hits: &mut Vec<String>) {
    for (name, secret) in secrets {
        for form in encodings(secret) {
            if contains(bytes, &form) {
                hits.push(format!(
                    "{name} in {place} as {:?}",
                    String::from_utf8_lossy(&form)
                ));
            }
        }
    }
}

/// A P-256 private key from `openssl` (an implementation independent of ours): its PEM, its
/// PKCS#8 DER, and where in the DER its private scalar (32 bytes) is.
fn openssl_p256() -> (String, Vec<u8>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let pem_path = dir.path().join("key.pem");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let pem_arg = pem_path.to_str().unwrap();
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        pem_arg,
    ]);
    let pem = std::fs::read_to_string(&pem_path).unwrap();
    let der = run(&["pkey", "-in", pem_arg, "-outform", "DER"]);
    // PKCS#8 wraps RFC 5915's ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING (32) d, ... }.
    let at = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .expect("an ECPrivateKey in the PKCS#8 DER");
    (pem, der, at + 5)
}

/// Collects every datagram sent to a UDP port on loopback.
async fn udp_listener() -> (u16, mpsc::UnboundedReceiver<Vec<u8>>) {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = udp.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = udp.recv(&mut buf).await {
            let _ = tx.send(buf[..n].to_vec());
        }
    });
    (port, rx)
}

async fn status(r: reqwest::RequestBuilder, want: u16, what: &str) -> reqwest::Response {
    let r = r.answer().await;
    assert_eq!(r.status(), want, "{what}");
    r
}

/// A passkey request of the backup-client face, sent with `token`; the answer's `errorCode`.
async fn passkey_code(token: &str, request: reqwest::RequestBuilder) -> i64 {
    let r = request.header("Authtoken", token).answer().await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return v["error"]["errorCode"].as_i64().expect("an errorCode");
    }
    text.split("<error ")
        .nth(1)
        .and_then(|error| xml_attribute(&format!("<error {error}"), "errorCode"))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("an errorCode in {text}"))
}

#[tokio::test]
async fn no_secret_of_a_whole_scenario_anywhere() {
    let (p256_pem, p256_der, scalar_at) = openssl_p256();
    let (udp_port, mut syslog) = udp_listener().await;
    // The most verbose level the server has, for every target.
    let mut s = Server::start_with(&["--log-filter", "trace"]);

    // NetHSM face: provisioning, syslog forwarding at its most verbose level, users and their
    // passphrases, the unlock and backup passphrases.
    s.provision().await;
    status(
        s.as_admin(Method::PUT, "/config/logging")
            .json(&json!({"ipAddress": "127.0.0.1", "port": udp_port, "logLevel": "debug"})),
        204,
        "syslog to the listener",
    )
    .await;
    s.create_user(Some("op"), "Operator", OPERATOR_PASS).await;
    s.create_user(Some("bk"), "Backup", BACKUP_USER_PASS).await;
    status(
        s.as_admin(Method::POST, "/users/op/passphrase")
            .json(&json!({"passphrase": OPERATOR_PASS_2})),
        204,
        "operator passphrase change",
    )
    .await;
    status(
        s.post("/random")
            .basic_auth("op", Some(WRONG_PASS))
            .json(&json!({"length": 8})),
        401,
        "a wrong passphrase",
    )
    .await;
    after_rate_limit_window(&s).await;
    status(
        s.as_admin(Method::PUT, "/config/unlock-passphrase")
            .json(&json!({"newPassphrase": UNLOCK_2, "currentPassphrase": UNLOCK})),
        204,
        "unlock passphrase change",
    )
    .await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    s.lock().await;
    let r = s.unlock(WRONG_PASS).await;
    assert_eq!(r.status(), 403, "a wrong unlock passphrase");
    after_rate_limit_window(&s).await;
    assert_eq!(s.unlock(UNLOCK_2).await.status(), 204);

    // Keys: an Ed25519 key imported as JSON, a P-256 key imported as a PEM file, a generated
    // one; each signs.
    status(
        s.as_admin(Method::PUT, "/keys/ed").json(
            &json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"],
                          "private": {"data": STANDARD.encode(ED25519_SEED)}}),
        ),
        204,
        "Ed25519 import (JSON)",
    )
    .await;
    let form = Form::new()
        .part(
            "arguments",
            Part::text(json!({"mechanisms": ["ECDSA_Signature"]}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "key_file",
            Part::text(p256_pem.clone())
                .mime_str("application/x-pem-file")
                .unwrap(),
        );
    status(
        s.as_admin(Method::PUT, "/keys/p256").multipart(form),
        204,
        "P-256 import (PEM)",
    )
    .await;
    status(
        s.as_admin(Method::POST, "/keys/generate")
            .json(&json!({"type": "EC_P256", "mechanisms": ["ECDSA_Signature"], "id": "gen"})),
        201,
        "generate",
    )
    .await;
    for (id, mode, message) in [
        ("ed", "EdDSA", STANDARD.encode("a message")),
        ("p256", "ECDSA", STANDARD.encode([1u8; 32])),
        ("gen", "ECDSA", STANDARD.encode([2u8; 32])),
    ] {
        status(
            s.post(&format!("/keys/{id}/sign"))
                .basic_auth("op", Some(OPERATOR_PASS_2))
                .json(&json!({"mode": mode, "message": message})),
            200,
            &format!("sign with {id}"),
        )
        .await;
    }

    // The backup-client face: login, a client's passkey set (JSON, base64), changed (XML,
    // plain text), tried wrong and right.
    let r = status(
        s.own_as_admin(Method::POST, "/clients")
            .json(&json!({"name": "db1", "hostName": "db1.example"})),
        201,
        "a backup client",
    )
    .await;
    let client = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let r = status(
        s.backup_client(Method::POST, "Login")
            .json(&json!({"username": "admin", "password": STANDARD.encode(ADMIN)})),
        200,
        "backup-client login",
    )
    .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("client/{client}/Passkey");
    let json_request = |body: Value| s.backup_client(Method::POST, &path).json(&body);
    let create = json!({"newPasskey": STANDARD.encode(PASSKEY), "passkeyOpType": 1});
    assert_eq!(passkey_code(&token, json_request(create)).await, 0);
    let edit = format!(
        r#"<App_SetPasskeyRequest currentPasskey="{PASSKEY}" newPasskey="{PASSKEY_2}" confirmPasskey="{PASSKEY_2}" passkeyOpType="EDIT"/>"#
    );
    let xml = s
        .backup_client(Method::POST, &path)
        .header("content-type", "application/xml")
        .header("accept", "application/xml")
        .body(edit);
    assert_eq!(passkey_code(&token, xml).await, 0);
    let authorize = |pk: &str| json!({"passkey": STANDARD.encode(pk), "passkeySettings": {"enableAuthorizeForRestore": true}});
    assert_ne!(
        passkey_code(&token, json_request(authorize(WRONG_PASSKEY))).await,
        0
    );
    assert_eq!(
        passkey_code(&token, json_request(authorize(PASSKEY_2))).await,
        0
    );

    // The appliance face: a session, a support bundle, the admin's password changed.
    let sid = s.admin_session().await;
    let r = status(
        s.dr(&sid, Method::POST, "/support-bundles"),
        202,
        "support bundle",
    )
    .await;
    let task = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let key = loop {
        let t: Value = status(
            s.dr(&sid, Method::GET, &format!("/tasks/{task}")),
            200,
            "task",
        )
        .await
        .json()
        .await
        .unwrap();
        if t["status"] == "SUCCESS" {
            break t["result"]["key"].as_str().unwrap().to_owned();
        }
        assert!(
            ["QUEUED", "RUNNING"].contains(&t["status"].as_str().unwrap()),
            "{t}"
        );
        assert!(std::time::Instant::now() < deadline, "bundle task: {t}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let bundle = status(
        s.dr(&sid, Method::GET, &format!("/support-bundles/{key}")),
        200,
        "bundle download",
    )
    .await
    .bytes()
    .await
    .unwrap()
    .to_vec();
    status(
        s.dr(&sid, Method::POST, "/appliance/settings/access/password")
            .json(&json!({"username": "admin", "password": ADMIN, "new_password": APPLIANCE_PASS})),
        204,
        "appliance password change",
    )
    .await;

    // A backup, by the Backup user.
    let backup = s.backup("bk", BACKUP_USER_PASS).await;
    let audit: Value = status(
        s.own(Method::GET, "/audit?limit=1000")
            .basic_auth("admin", Some(APPLIANCE_PASS)),
        200,
        "the audit trail",
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(s.terminate().success());

    // Everything the scenario left behind.
    let mut places: Vec<(String, Vec<u8>)> = files_under(&s.data_dir)
        .into_iter()
        .map(|(path, bytes)| (format!("data dir {}", path.display()), bytes))
        .collect();
    assert!(places.len() >= 2, "the store is on disk");
    places.push(("stderr (log)".into(), s.log().into_bytes()));
    places.push((
        "stdout".into(),
        std::fs::read(&s.stdout_path).unwrap_or_default(),
    ));
    places.push(("the backup file".into(), backup));
    places.push(("the audit trail".into(), audit.to_string().into_bytes()));
    places.push(("the support bundle".into(), bundle.clone()));
    let mut archive = tar::Archive::new(bundle.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        places.push((format!("support bundle file {name}"), content));
    }
    let mut messages = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), syslog.recv()).await {
        messages.push(m);
    }
    assert!(
        messages.len() > 20,
        "syslog forwarded the scenario's lines: {} messages",
        messages.len()
    );
    let log_lines = messages.iter().filter(|m| contains(m, b" log - ")).count();
    assert!(
        log_lines > 0,
        "log lines were forwarded, not only audit events"
    );
    for (i, m) in messages.into_iter().enumerate() {
        places.push((format!("syslog message {i}"), m));
    }
    // The log is at its most verbose: trace lines are in it.
    assert!(
        s.log().contains("TRACE"),
        "the server logged at trace level"
    );

    let mut secrets: Vec<(String, Vec<u8>)> = [
        ("unlock passphrase", UNLOCK),
        ("second unlock passphrase", UNLOCK_2),
        ("admin passphrase", ADMIN),
        ("appliance password", APPLIANCE_PASS),
        ("operator passphrase", OPERATOR_PASS),
        ("second operator passphrase", OPERATOR_PASS_2),
        ("backup user passphrase", BACKUP_USER_PASS),
        ("backup passphrase", BACKUP_PASS),
        ("wrong passphrase", WRONG_PASS),
        ("passkey", PASSKEY),
        ("second passkey", PASSKEY_2),
        ("wrong passkey", WRONG_PASSKEY),
    ]
    .into_iter()
    .map(|(name, secret)| (name.to_owned(), secret.as_bytes().to_vec()))
    .collect();
    secrets.push(("Ed25519 seed".into(), ED25519_SEED.to_vec()));
    secrets.push((
        "P-256 private scalar".into(),
        p256_der[scalar_at..scalar_at + 32].to_vec(),
    ));
    // The PEM file's body lines (48 bytes of DER each) that hold bytes of the scalar; the
    // others hold only the algorithm and the public key, which are no secret.
    for (i, line) in p256_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .enumerate()
    {
        if i * 48 < scalar_at + 32 && scalar_at < (i + 1) * 48 {
            secrets.push((format!("P-256 PEM line {i}"), line.as_bytes().to_vec()));
        }
    }
    secrets.push(("P-256 PKCS#8 DER".into(), p256_der));

    let mut hits = Vec::new();
    for (place, bytes) in &places {
        scan(&secrets, place, bytes, &mut hits);
    }
    assert!(
        hits.is_empty(),
        "secrets found ({} places scanned):\n{}",
        places.len(),
        hits.join("\n")
    );
    eprintln!(
        "secret scan: {} secrets in up to {} forms each, {} places, no hit",
        secrets.len(),
        secrets
            .iter()
            .map(|(_, s)| encodings(s).len())
            .max()
            .unwrap_or(0),
        places.len()
    );
}

/// The encodings cover a secret wherever it sits in a longer base64 text.
#[test]
fn encodings_find_a_secret_inside_a_basic_header() {
    for prefix in ["", "a", "ab", "abc", "admin:"] {
        let header = STANDARD.encode(format!("{prefix}{ADMIN}"));
        assert!(
            encodings(ADMIN.as_bytes())
                .iter()
                .any(|form| contains(header.as_bytes(), form)),
            "prefix {prefix:?}: {header}"
        );
    }
}
