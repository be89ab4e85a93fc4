//! The NetHSM face against the OpenAPI document the server publishes for it (generated from
//! the handlers by utoipa), with the helpers of `openapi_faces.rs`: the document is served
//! without credentials in every state, is valid, names exactly the operations listed here
//! (docs/admin-api.md says which the face serves beyond them), each served, and schemathesis
//! finds no 5xx and no answer that contradicts it.
//!
//! Each operation is available in its states only, and the state gate answers 412 before
//! the method, the credentials or the body is looked at (the original's order,
//! `nethsm/mod.rs`), so each operation runs in a state it is available in. The two that leave
//! it run in two parts ([`transition`]): provisioning both, locking the second alone (its one
//! invalid request, no credentials, is `lock_needs_credentials`).

use base64::Engine;
use serde_json::Value;

use crate::common::keys::pyca;
use crate::common::openapi_run::{conform, conform_with};
use crate::common::*;
use crate::openapi::document_routes;
use crate::openapi_faces::{check_document, check_routes, fetch_document};

/// The operations the document describes, as it writes them.
const DESCRIBED: [(&str, &str); 76] = [
    ("GET", "/info"),
    ("GET", "/openapi.json"),
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/health/state"),
    ("GET", "/health/diagnose"),
    ("POST", "/provision"),
    ("POST", "/unlock"),
    ("POST", "/lock"),
    ("POST", "/random"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/{UserID}"),
    ("PUT", "/users/{UserID}"),
    ("POST", "/users/{UserID}"),
    ("DELETE", "/users/{UserID}"),
    ("POST", "/users/{UserID}/passphrase"),
    ("GET", "/users/{UserID}/tags"),
    ("PUT", "/users/{UserID}/tags/{Tag}"),
    ("DELETE", "/users/{UserID}/tags/{Tag}"),
    ("GET", "/namespaces"),
    ("PUT", "/namespaces/{NamespaceID}"),
    ("DELETE", "/namespaces/{NamespaceID}"),
    ("POST", "/keys/generate"),
    ("GET", "/keys/{KeyID}/public.pem"),
    ("POST", "/keys/{KeyID}/sign"),
    ("PUT", "/keys/{KeyID}/label"),
    ("DELETE", "/keys/{KeyID}/label"),
    ("PUT", "/keys/{KeyID}/restrictions/tags/{Tag}"),
    ("DELETE", "/keys/{KeyID}/restrictions/tags/{Tag}"),
    ("GET", "/config/unattended-boot"),
    ("PUT", "/config/unattended-boot"),
    ("PUT", "/config/backup-passphrase"),
    ("PUT", "/config/unlock-passphrase"),
    ("GET", "/config/time"),
    ("PUT", "/config/time"),
    ("GET", "/config/network"),
    ("PUT", "/config/network"),
    ("GET", "/config/logging"),
    ("PUT", "/config/logging"),
    ("GET", "/config/tls/public.pem"),
    ("GET", "/config/tls/cert.pem"),
    ("PUT", "/config/tls/cert.pem"),
    ("POST", "/config/tls/csr.pem"),
    ("POST", "/config/tls/generate"),
    ("GET", "/config/tls/cluster-ca.pem"),
    ("PUT", "/config/tls/cluster-ca.pem"),
    ("GET", "/system/info"),
    ("POST", "/system/reboot"),
    ("POST", "/system/shutdown"),
    ("POST", "/system/factory-reset"),
    ("POST", "/system/update"),
    ("POST", "/system/commit-update"),
    ("POST", "/system/cancel-update"),
    ("POST", "/system/backup"),
    ("POST", "/system/restore"),
    ("GET", "/metrics"),
    ("POST", "/cluster/join"),
    ("POST", "/cluster/force-new"),
    ("GET", "/cluster/members"),
    ("POST", "/cluster/members"),
    ("PUT", "/cluster/members/{MemberID}"),
    ("DELETE", "/cluster/members/{MemberID}"),
    ("POST", "/cluster/members/{MemberID}/promote"),
    ("GET", "/keys"),
    ("POST", "/keys"),
    ("GET", "/keys/{KeyID}"),
    ("PUT", "/keys/{KeyID}"),
    ("DELETE", "/keys/{KeyID}"),
    ("POST", "/keys/{KeyID}/csr.pem"),
    ("GET", "/keys/{KeyID}/cert"),
    ("PUT", "/keys/{KeyID}/cert"),
    ("DELETE", "/keys/{KeyID}/cert"),
    ("POST", "/keys/{KeyID}/move"),
    ("POST", "/keys/{KeyID}/encrypt"),
    ("POST", "/keys/{KeyID}/decrypt"),
];

/// Available only while Unprovisioned.
const UNPROVISIONED_ONLY: [&str; 1] = ["/provision"];
/// Available only while Locked or Unprovisioned.
const NOT_OPERATIONAL: [&str; 2] = ["/unlock", "/health/alive"];

/// The operations with a query (`filter`, `label`) ignore query parameters they do not know,
/// as every operation of the face does (the vendor's too, and clients add their own), which a
/// document cannot state: schemathesis would take an unknown one for an invalid request that
/// must be refused (it sends none to operations that declare no query). Request bodies, where
/// an unknown field is refused, are not concerned: these operations have none.
const UNKNOWN_QUERY_IGNORED: &str = "
[[operations]]
include-operation-id = [\"listKeys\", \"getKey\"]
generation = { allow-extra-parameters = false }
";

/// An Operator, for `POST /random` (the root Administrator may not).
const OPERATOR_PASSPHRASE: &str = "operator passphrase for tests";

/// The runs of the operation `id`, which leaves the state it is available in: first only
/// invalid requests (`--mode=negative`, in the fuzzing phase alone: the examples and coverage
/// phases send valid ones too), each of which must be refused while the state holds; then
/// valid ones, the first of which changes the state, so that every later case is the state
/// gate's 412, which is neither the 405 of `unsupported_method` nor a refusal
/// `negative_data_rejection` accepts (both checked by the first part and `check_routes`).
pub(crate) fn transition(id: &str, extra: &[String]) -> Vec<(Vec<String>, usize)> {
    let include = format!("--include-operation-id={id}");
    let mut negative = vec![
        include.clone(),
        "--mode=negative".to_string(),
        "--phases=fuzzing".to_string(),
    ];
    negative.extend_from_slice(extra);
    let mut positive = vec![
        include,
        "--mode=positive".to_string(),
        "--exclude-checks=unsupported_method,negative_data_rejection".to_string(),
    ];
    positive.extend_from_slice(extra);
    vec![(negative, 1), (positive, 1)]
}

/// `doc` with only the paths `keep` says.
fn paths_where(doc: &Value, keep: impl Fn(&str) -> bool) -> Value {
    let mut doc = doc.clone();
    doc["paths"]
        .as_object_mut()
        .unwrap()
        .retain(|path, _| keep(path));
    doc
}

#[tokio::test]
async fn the_nethsm_document_is_valid_and_served() {
    let server = Server::start();
    // Provisioning is served only before it.
    let (_, doc) = fetch_document(&server, NETHSM).await;
    let provision = paths_where(&doc, |p| UNPROVISIONED_ONLY.contains(&p));
    check_routes(&server, NETHSM, &provision, &[]).await;
    let doc = check_document(&server, NETHSM).await;
    let mut described: Vec<(String, String)> = (DESCRIBED.iter())
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    described.sort();
    let documented: Vec<(String, String)> = document_routes(&doc).into_iter().collect();
    assert_eq!(documented, described, "the operations of the document");
    let auth = format!("admin:{ADMIN}");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(auth)
    );
    let operational = paths_where(&doc, |p| {
        !UNPROVISIONED_ONLY.contains(&p) && !NOT_OPERATIONAL.contains(&p)
    });
    check_routes(&server, NETHSM, &operational, &[("authorization", &basic)]).await;
    server.lock().await;
    let locked = paths_where(&doc, |p| NOT_OPERATIONAL.contains(&p));
    check_routes(&server, NETHSM, &locked, &[]).await;
    let (_, locked_doc) = fetch_document(&server, NETHSM).await;
    assert_eq!(locked_doc, doc, "the document does not depend on the state");
}

/// Every operation but provisioning (on a node of its own, below), on a provisioned node: what is available while
/// Operational with the root Administrator's credentials (only ever the right ones: a wrong
/// one is rate limited, 429, and every later case would see that), `/random` and the key
/// operations of Operators with an Operator's, each key operation on a key made for it
/// (`key_operations`, `rsa_key_conforms`), then locking, then what is available while Locked.
#[tokio::test]
async fn the_nethsm_face_conforms_to_its_document() {
    let server = Server::start();
    server.provision().await;
    let (text, doc) = fetch_document(&server, NETHSM).await;
    let operations = document_routes(&doc).len();
    let url = format!("{}{NETHSM}", server.base);
    let operator = server
        .create_user(None, "Operator", OPERATOR_PASSPHRASE)
        .await;
    // The user the `/users/{UserID}...` cases name, so that they reach one and not only the
    // 404 of an unknown id: an Operator (only Operators have tags), never the caller, whose
    // passphrase a case would change and whom a case would delete.
    let target = server
        .create_user(Some("target"), "Operator", "target passphrase for tests")
        .await;
    // And the key the `/keys/{KeyID}...` cases name.
    let r = server
        .post("/keys/generate")
        .basic_auth("admin", Some(ADMIN))
        .json(&serde_json::json!({
            "mechanisms": ["EdDSA_Signature"], "type": "Curve25519", "id": "targetkey"
        }))
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate the target key");
    let config = format!(
        "\n[parameters]\n\"path.UserID\" = \"{target}\"\n\"path.KeyID\" = \"targetkey\"\n{}{UNKNOWN_QUERY_IGNORED}",
        key_operations(&server).await
    );
    let admin = format!("--auth=admin:{ADMIN}");
    let mut runs = Vec::new();
    // While Operational: everything available then.
    let later = [
        "provision",
        "getRandom",
        "signWithKey",
        "encryptWithKey",
        "decryptWithKey",
        "deleteKeyCert",
        "moveKey",
        "deleteKey",
        "deleteUser",
        "lock",
        "unlock",
        "getHealthAlive",
    ];
    let mut operational = vec![admin.clone()];
    operational.extend(
        later
            .iter()
            .map(|id| format!("--exclude-operation-id={id}")),
    );
    // `/config/*`, `/system/*`, `/metrics`, `/cluster/*` run in `openapi_nethsm_admin.rs`.
    let (admin_tags, admin_operations) = crate::openapi_nethsm_admin::excluded(&doc);
    operational.extend(admin_tags);
    runs.push((operational, operations - later.len() - admin_operations));
    // An Operator's (randomness, and signing, encrypting and decrypting with keys made for
    // it: `key_operations`).
    runs.push((
        vec![
            format!("--auth={operator}:{OPERATOR_PASSPHRASE}"),
            "--include-operation-id=getRandom".into(),
            "--include-operation-id=signWithKey".into(),
            "--include-operation-id=encryptWithKey".into(),
            "--include-operation-id=decryptWithKey".into(),
        ],
        4,
    ));
    // The operations that remove what their key parameter names (its certificate, its id,
    // the key), each on a key of its own, alone: in a run with operations that create keys,
    // the stateful phase would follow a new key's `Location` to them, the parameter would
    // replace the new key's id with theirs, and once it is gone a 404 would be taken for a
    // created key not found.
    runs.push((
        vec![
            admin.clone(),
            "--include-operation-id=deleteKeyCert".into(),
            "--include-operation-id=moveKey".into(),
            "--include-operation-id=deleteKey".into(),
        ],
        3,
    ));
    // Deleting the target makes every later case that names it 404, which the stateful phase
    // would take for a user it created and cannot find (the parameter names the target, not
    // what it created): so deleting runs after the rest, alone.
    runs.push((
        vec![admin.clone(), "--include-operation-id=deleteUser".into()],
        1,
    ));
    rsa_key_conforms(&server, &url, &text, &operator).await;
    conform_with(&server, "the NetHSM face", &url, &text, &config, runs).await;
    keys_were_changed(&server).await;
    // Locking has no body or parameter: its one invalid request is one without credentials,
    // which a negative run sends beside valid ones, so it runs its valid part alone (refused
    // without credentials: `lock_needs_credentials`).
    let mut runs = vec![transition("lock", &[admin]).pop().unwrap()];
    // While Locked: schemathesis cannot know the unlock passphrase, so unlocking is refused
    // (403, then 429 while failures come quickly) and the node stays Locked.
    runs.push((
        vec![
            "--include-operation-id=unlock".into(),
            "--include-operation-id=getHealthAlive".into(),
        ],
        2,
    ));
    conform_with(&server, "the NetHSM face", &url, &text, &config, runs).await;
    assert_eq!(server.state().await, "Locked");
}

/// The operations that change keys reached the keys made for them with valid requests (the
/// documents' examples, and requests without a body), not only refusals.
async fn keys_were_changed(server: &Server) {
    let status = |path: &'static str| async move {
        let r = server.as_admin(reqwest::Method::GET, path).answer().await;
        r.status().as_u16()
    };
    assert_eq!(status("/keys/importedkey").await, 200, "imported");
    assert_eq!(status("/keys/movekey").await, 404, "moved away");
    assert_eq!(status("/keys/movedkey").await, 200, "moved here");
    assert_eq!(status("/keys/deletekey").await, 404, "deleted");
    assert_eq!(
        status("/keys/uncertkey/cert").await,
        404,
        "certificate deleted"
    );
    assert_eq!(status("/keys/certkey/cert").await, 200, "certificate kept");
}

/// The operations on a key that take its type into account, on the RSA key `key_operations`
/// makes (the run above uses Curve25519 and AES keys): signing and decrypting as an Operator,
/// a CSR and the key's description as the Administrator.
async fn rsa_key_conforms(server: &Server, url: &str, text: &str, operator: &str) {
    let config = format!("\n[parameters]\n\"path.KeyID\" = \"rsakey\"\n{UNKNOWN_QUERY_IGNORED}");
    let runs = vec![
        (
            vec![
                format!("--auth={operator}:{OPERATOR_PASSPHRASE}"),
                "--include-operation-id=signWithKey".into(),
                "--include-operation-id=decryptWithKey".into(),
            ],
            2,
        ),
        (
            vec![
                format!("--auth=admin:{ADMIN}"),
                "--include-operation-id=createKeyCsr".into(),
                "--include-operation-id=getKey".into(),
            ],
            2,
        ),
    ];
    conform_with(server, "the NetHSM face (RSA)", url, text, &config, runs).await;
}

/// Generates the key `body` describes, as the root Administrator.
async fn generate_key(server: &Server, body: Value) {
    let r = server
        .post("/keys/generate")
        .basic_auth("admin", Some(ADMIN))
        .json(&body)
        .answer()
        .await;
    assert_eq!(r.status(), 201, "generate {body}");
}

/// Stores certificate `data` for key `id`, as `media`.
async fn store_cert(server: &Server, id: &str, media: &str, data: Vec<u8>) {
    let r = server
        .as_admin(reqwest::Method::PUT, &format!("/keys/{id}/cert"))
        .header("content-type", media)
        .body(data)
        .answer()
        .await;
    assert_eq!(r.status(), 201, "certificate of {id}");
}

/// Certificates of key `id` made by pyca (the key tests' script).
async fn certificates(server: &Server, id: &str) -> Value {
    let r = server
        .as_admin(reqwest::Method::GET, &format!("/keys/{id}/public.pem"))
        .answer()
        .await;
    assert_eq!(r.status(), 200, "public key of {id}");
    let public = r.text().await.unwrap();
    serde_json::from_str(&pyca(crate::keys::CERTS, &[public]).await).unwrap()
}

/// The keys the `/keys/{KeyID}...` operations that are not about the target key name, each
/// made for its operation, so that its cases reach a key it can be used on (an operation
/// that changes or removes its key only ever reaches its own): the `[[operations]]` sections
/// of schemathesis.toml that name them.
async fn key_operations(server: &Server) -> String {
    let rsa = serde_json::json!({
        "type": "RSA", "length": 2048, "id": "rsakey",
        "mechanisms": ["RSA_Decryption_RAW", "RSA_Decryption_PKCS1",
            "RSA_Decryption_OAEP_SHA256", "RSA_Signature_PKCS1", "RSA_Signature_PSS_SHA256"],
    });
    let aes = serde_json::json!({
        "type": "Generic", "length": 128, "id": "aeskey",
        "mechanisms": ["AES_Encryption_CBC", "AES_Decryption_CBC"],
    });
    generate_key(server, rsa).await;
    generate_key(server, aes).await;
    for id in ["signkey", "certkey", "uncertkey", "movekey", "deletekey"] {
        let ed25519 = serde_json::json!({
            "type": "Curve25519", "mechanisms": ["EdDSA_Signature"], "id": id,
        });
        generate_key(server, ed25519).await;
    }
    // A certificate to answer, and one to delete.
    let pem = certificates(server, "certkey").await["pem"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    store_cert(server, "certkey", "application/x-pem-file", pem).await;
    let certs = certificates(server, "uncertkey").await;
    let der = base64::engine::general_purpose::STANDARD
        .decode(certs["der"].as_str().unwrap())
        .unwrap();
    store_cert(server, "uncertkey", "application/pkix-cert", der).await;
    [
        ("encryptWithKey", "aeskey"),
        // The target key gets tags an Operator lacks (`addKeyTag`).
        ("signWithKey", "signkey"),
        // Its example decrypts (AES-CBC has no padding); RSA: `rsa_key_conforms`.
        ("decryptWithKey", "aeskey"),
        ("getKeyCert", "certkey"),
        ("setKeyCert", "certkey"),
        ("deleteKeyCert", "uncertkey"),
        ("moveKey", "movekey"),
        ("deleteKey", "deletekey"),
        // Imported by the first valid case, then 409.
        ("importKeyWithId", "importedkey"),
    ]
    .iter()
    .map(|(operation, key)| {
        format!(
            "\n[[operations]]\ninclude-operation-id = \"{operation}\"\n\
             parameters = {{ \"path.KeyID\" = \"{key}\" }}\n"
        )
    })
    .collect()
}

/// Provisioning on an unprovisioned node of its own ([`transition`]); the document's example
/// is valid, so a case provisions it.
#[tokio::test]
async fn nethsm_provisioning_conforms_to_its_document() {
    let server = Server::start();
    let (text, _) = fetch_document(&server, NETHSM).await;
    let url = format!("{}{NETHSM}", server.base);
    let runs = transition("provision", &[]);
    conform(&server, "NetHSM provisioning", &url, &text, runs).await;
    assert_eq!(server.state().await, "Operational", "a case provisioned");
}

/// Locking without credentials, or with an Operator's, is refused and leaves the node
/// Operational (the part of locking the run above leaves out).
#[tokio::test]
async fn lock_needs_credentials() {
    let server = Server::start();
    server.provision().await;
    let operator = server
        .create_user(None, "Operator", OPERATOR_PASSPHRASE)
        .await;
    let r = server.post("/lock").answer().await;
    assert_eq!(r.status(), 401);
    let r = server
        .post("/lock")
        .basic_auth(&operator, Some(OPERATOR_PASSPHRASE))
        .answer()
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(server.state().await, "Operational");
}
