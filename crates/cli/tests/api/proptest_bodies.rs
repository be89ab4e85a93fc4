//! Property tests of request bodies over HTTPS, on the real server: JSON bodies of every
//! face (valid ones mutated byte by byte and token by token, arbitrary JSON, arbitrary bytes),
//! the backup-client face's XML, and the multipart body of `POST /system/restore`. No answer
//! is a server error; every refusal is in the face's own error format; and afterwards the
//! node is still Operational and its audit chain verifies.
//!
//! proptest drives the cases (and shrinks a failure to a small body); the seed of a failure
//! is printed by proptest, and `PROPTEST_CASES` changes how many cases each target gets.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::common::*;

/// Cases per target, unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 100;

/// Pieces that JSON parsers and the wire types meet badly: structure, extreme numbers, bad
/// escapes and surrogates, NUL, long strings.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "0",
    "1e309",
    "-0.0",
    "99999999999999999999999",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\x\"",
    "\u{feff}",
    "\\",
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Set(Index, u8),
    Insert(Index, &'static str),
    Delete(Index, usize),
    Cut(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<Index>().prop_map(Mutation::Cut),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        match m {
            Mutation::Set(i, byte) if !b.is_empty() => {
                let at = i.index(b.len());
                b[at] = *byte;
            }
            Mutation::Insert(i, token) => {
                let at = i.index(b.len() + 1);
                b.splice(at..at, token.bytes());
            }
            Mutation::Delete(i, n) if !b.is_empty() => {
                let at = i.index(b.len());
                let end = (at + n).min(b.len());
                b.drain(at..end);
            }
            Mutation::Cut(i) if !b.is_empty() => b.truncate(i.index(b.len())),
            _ => {}
        }
    }
    b
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-zA-Z_]{0,12}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A valid body mutated, arbitrary JSON, or arbitrary bytes.
fn body_from(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(mutation(), 1..6).prop_map(move |m| apply(&seed, &m)),
        1 => arbitrary_json().prop_map(|v| v.to_string().into_bytes()),
        1 => vec(any::<u8>(), 0..200),
    ]
}

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Which face a target belongs to, for the shape of its refusals.
#[derive(Clone, Copy, Debug)]
enum Face {
    NetHsm,
    Own,
    Appliance,
    BackupClient,
}

/// Checks one answer: never a 5xx; a refusal in the face's own format.
async fn check(face: Face, what: &str, body: &[u8], r: Response) {
    let status = r.status().as_u16();
    let shown = String::from_utf8_lossy(body).into_owned();
    assert!(status < 500, "{what}: {status} for body {shown:?}");
    if status < 400 {
        return;
    }
    match face {
        Face::NetHsm => {
            nethsm_error(r, status, any_message()).await;
        }
        Face::Own => {
            own_error(r, status, any_message()).await;
        }
        Face::Appliance if status == 401 => panic!("{what}: 401 with a valid session"),
        Face::Appliance => {
            appliance_documented_error(r, status).await;
        }
        Face::BackupClient => {
            let text = r.text().await.unwrap();
            assert!(
                text.contains("errorCode"),
                "{what}: {status} without an errorCode: {text:?} for body {shown:?}"
            );
        }
    }
}

/// Runs the cases of one target: `request` builds the request for a body.
fn run_target(what: &str, face: Face, seed: Vec<u8>, request: impl Fn(Vec<u8>) -> RequestBuilder) {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        runner()
            .run(&body_from(seed), |body| {
                handle.block_on(async {
                    let r = request(body.clone()).answer().await;
                    check(face, what, &body, r).await;
                });
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    });
}

fn json_request(r: RequestBuilder, body: Vec<u8>) -> RequestBuilder {
    r.header("content-type", "application/json").body(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_xml_bodies_of_every_face_never_fail_the_server() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let r = s
        .own_as_admin(Method::POST, "/clients")
        .json(&json!({"name": "db1", "hostName": "db1.example"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let client = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let r = s
        .backup_client(Method::POST, "Login")
        .json(&json!({"username": "admin", "password": STANDARD.encode(ADMIN)}))
        .answer()
        .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let seed = |v: Value| v.to_string().into_bytes();
    let nethsm: [(&str, Method, &str, Value); 5] = [
        (
            "POST /users",
            Method::POST,
            "/users",
            json!({"realName": "Prop Test", "role": "Operator", "passphrase": "a passphrase of the proptest"}),
        ),
        (
            "POST /keys/generate",
            Method::POST,
            "/keys/generate",
            json!({"type": "EC_P256", "mechanisms": ["ECDSA_Signature"]}),
        ),
        (
            "PUT /keys/{KeyID} (JSON import)",
            Method::PUT,
            "/keys/imported",
            json!({"type": "Curve25519", "mechanisms": ["EdDSA_Signature"],
                   "private": {"data": STANDARD.encode([9u8; 32])}}),
        ),
        (
            "POST /keys (RSA JSON import)",
            Method::POST,
            "/keys",
            json!({"type": "RSA", "mechanisms": ["RSA_Signature_PKCS1"],
                   "private": {"primeP": "AQAB", "primeQ": "AQAB", "publicExponent": "AQAB"}}),
        ),
        (
            "PUT /config/logging",
            Method::PUT,
            "/config/logging",
            json!({"ipAddress": "127.0.0.1", "port": 514, "logLevel": "info"}),
        ),
    ];
    for (what, method, path, body) in nethsm {
        run_target(what, Face::NetHsm, seed(body), |b| {
            json_request(s.as_admin(method.clone(), path), b)
        });
    }
    run_target(
        "POST /api/strongroom/v1/clients",
        Face::Own,
        seed(json!({"name": "db2", "hostName": "db2.example", "owners": []})),
        |b| json_request(s.own_as_admin(Method::POST, "/clients"), b),
    );
    run_target(
        "PUT syslog-servers (appliance)",
        Face::Appliance,
        seed(json!([{"host": "127.0.0.1", "port": 514, "protocol": "UDP"}])),
        |b| {
            json_request(
                s.dr(&sid, Method::PUT, "/appliance/settings/syslog-servers"),
                b,
            )
        },
    );
    let passkey = format!("client/{client}/Passkey");
    run_target(
        "Passkey (backup client, JSON)",
        Face::BackupClient,
        seed(
            json!({"App_SetPasskeyRequest": {"newPasskey": STANDARD.encode("a proptest passkey"),
            "confirmPasskey": STANDARD.encode("a proptest passkey"), "passkeyOpType": "CREATE"}}),
        ),
        |b| json_request(s.backup_client(Method::POST, &passkey), b).header("Authtoken", &token),
    );
    run_target(
        "Passkey (backup client, XML)",
        Face::BackupClient,
        br#"<?xml version="1.0" encoding="UTF-8"?><App_SetPasskeyRequest currentPasskey="a proptest passkey" newPasskey="another passkey" confirmPasskey="another passkey" passkeyOpType="EDIT"><passkeySettings enableAuthorizeForRestore="1"/></App_SetPasskeyRequest>"#.to_vec(),
        |b| {
            s.backup_client(Method::POST, &passkey)
                .header("Authtoken", &token)
                .header("content-type", "application/xml")
                .header("accept", "application/xml")
                .body(b)
        },
    );

    // Nothing broke: the node serves, and its audit trail is whole.
    assert_eq!(s.state().await, "Operational");
    assert_eq!(audit_verify(&s).await["verified"], true);
}

/// The multipart body of `POST /system/restore` (no credentials while Unprovisioned): the
/// boundary, the part headers, the `arguments` JSON and the `backup_file`, mutated. Its
/// backup file is never a real backup (a real one would cost an Argon2 derivation per case;
/// the decoder has property tests of its own in crates/core/tests/backup_proptest.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_multipart_bodies_never_fail_the_server() {
    let s = Server::start();
    let boundary = "proptestboundary0123";
    let mut file = b"STRONGROOMBACKUP\x00\x01\x00\x00\x00\x04{\"x\"".to_vec();
    file.extend_from_slice(&[0xA5; 24]);
    let mut seed = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"arguments\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"backup_file\"; filename=\"b.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        json!({"backupPassphrase": "a backup passphrase", "systemTime": TIME})
    )
    .into_bytes();
    seed.extend_from_slice(&file);
    seed.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    run_target("POST /system/restore", Face::NetHsm, seed, |b| {
        s.post("/system/restore")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(b)
    });
    assert_eq!(s.state().await, "Unprovisioned");
}
