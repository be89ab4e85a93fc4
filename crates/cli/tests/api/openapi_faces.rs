//! The faces against the OpenAPI documents the server publishes for them (generated from the
//! handlers by utoipa, beside our own API's, `openapi.rs`): each document is served without
//! credentials in every state, is valid OpenAPI 3.x (`openapi-spec-validator`, PyPI), names
//! only routes the router serves, and schemathesis finds no 5xx and no answer that contradicts
//! it. They need no vendor spec, so they run everywhere the test venv exists. The same size
//! and seed settings as `openapi.rs` (`common::openapi_run`, docs/testing.md).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::common::openapi_run::conform_with;
use crate::common::python::test_python;
use crate::common::specs::{APPLIANCE_SPEC, vendor_spec};
use crate::common::*;
use crate::openapi::{METHODS, document_routes, validate};

pub(crate) const ADMIN_API_MD: &str = include_str!("../../../../docs/admin-api.md");

/// The document of the face at `root`, fetched without credentials; asserts it is JSON.
pub(crate) async fn fetch_document(server: &Server, root: &str) -> (String, Value) {
    let r = server
        .client
        .get(format!("{}{root}/openapi.json", server.base))
        .answer()
        .await;
    assert_eq!(r.status(), 200, "GET {root}/openapi.json");
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE],
        "application/json",
        "media type of {root}'s document"
    );
    let text = r.text().await.unwrap();
    let doc = serde_json::from_str(&text).expect("the document is JSON");
    (text, doc)
}

/// A path of a document with its parameters filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push('x');
        rest = &rest[rest.find('}').unwrap() + 1..];
    }
    out.push_str(rest);
    out
}

/// The document of the face at `root` is public and the same before and after
/// provisioning (which this does), valid, and at the path docs/admin-api.md gives.
pub(crate) async fn check_document(server: &Server, root: &str) -> Value {
    let python = test_python("openapi_spec_validator");
    let (before, _) = fetch_document(server, root).await;
    server.provision().await;
    let (text, doc) = fetch_document(server, root).await;
    assert_eq!(before, text, "the document does not depend on the state");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], root, "the face's root");
    assert!(
        ADMIN_API_MD.contains(&format!("`{root}/openapi.json`")),
        "docs/admin-api.md gives {root}/openapi.json"
    );
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("face-openapi.json");
    std::fs::write(&path, &text).unwrap();
    validate(&python, &path).await;
    doc
}

/// The document names only methods the router serves on each path: a method it does not
/// route (TRACE), sent with `headers` (the credentials), is 405 and `Allow` lists the rest.
pub(crate) async fn check_routes(
    server: &Server,
    root: &str,
    doc: &Value,
    headers: &[(&str, &str)],
) {
    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = format!("{}{root}{}", server.base, concrete(path));
        let mut request = server.client.request(Method::TRACE, url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let r = request.answer().await;
        assert_eq!(r.status(), 405, "TRACE {path}");
        let served: BTreeSet<String> = r.headers()[reqwest::header::ALLOW]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_lowercase())
            .collect();
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            assert!(
                served.contains(*method),
                "{method} {path} is in the document but not served ({served:?})"
            );
        }
    }
}

#[tokio::test]
async fn the_appliance_document_is_valid_and_served() {
    let server = Server::start();
    let doc = check_document(&server, APPLIANCE).await;
    let sid = server.admin_session().await;
    check_routes(&server, APPLIANCE, &doc, &[("x-dr-session", &sid)]).await;
    assert!(
        document_routes(&doc).len() >= 10,
        "operations of the document"
    );
}

/// The key of a new support bundle, once its task has made it.
async fn support_bundle(server: &Server, sid: &str) -> String {
    let r = server
        .dr(sid, Method::POST, "/support-bundles")
        .answer()
        .await;
    assert_eq!(r.status(), 202, "POST /support-bundles");
    let task = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A bound on a hung task only, far above what making a bundle takes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r = server
            .dr(sid, Method::GET, &format!("/tasks/{task}"))
            .answer()
            .await;
        assert_eq!(r.status(), 200, "GET /tasks/{task}");
        let t: Value = r.json().await.unwrap();
        if t["status"] == "SUCCESS" {
            return t["result"]["key"].as_str().unwrap().to_owned();
        }
        assert!(
            ["QUEUED", "RUNNING"].contains(&t["status"].as_str().unwrap()),
            "{t}"
        );
        assert!(std::time::Instant::now() < deadline, "bundle task: {t}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_appliance_face_conforms_to_its_document() {
    let server = Server::start();
    server.provision().await;
    let (text, doc) = fetch_document(&server, APPLIANCE).await;
    let operations = document_routes(&doc).len();
    let sid = server.admin_session().await;
    let url = format!("{}{APPLIANCE}", server.base);
    // A support bundle, so that downloading and deleting one reach one and not only the 404
    // of an unknown key (its key is made at run time, so the document cannot give it).
    let bundle = support_bundle(&server, &sid).await;
    let config = format!("\n[parameters]\n\"path.support_bundle_key\" = \"{bundle}\"\n");
    // Logging in takes the root Administrator's Basic credentials (only ever the right ones:
    // a wrong one is rate limited, 429, and every later case would see that); the rest the
    // session.
    let auth = [
        format!("--auth=admin:{ADMIN}"),
        format!("--header=x-dr-session: {sid}"),
    ];
    // In the document, not in the run: restarting the appliance locks the node (every later
    // case would be 503) and stopping it ends the server.
    let not_run = ["restartAppliance", "shutdownAppliance"];
    // Changing the password with a wrong current one (schemathesis cannot know the right one)
    // counts as a failed login: 429 to the logins after it, so it runs after them. Logging out
    // ends the session, so that runs alone and last.
    let last = ["updateAppliancePassword", "logout"];
    let exclude = (not_run.iter().chain(&last)).map(|id| format!("--exclude-operation-id={id}"));
    let mut runs = vec![(
        auth.iter().cloned().chain(exclude).collect(),
        operations - not_run.len() - last.len(),
    )];
    for id in last {
        let include = format!("--include-operation-id={id}");
        runs.push((auth.iter().cloned().chain([include]).collect(), 1));
    }
    conform_with(&server, "the appliance face", &url, &text, &config, runs).await;
}

/// Found by schemathesis: a body of whitespace alone was taken for no body where the body is
/// optional (`POST /appliance/certificates/actions/generate-csr` made a CSR). Whitespace is
/// not JSON: it is refused like any body that does not parse, and nothing is made; no body at
/// all still means the defaults.
#[tokio::test]
async fn whitespace_is_not_an_optional_json_body() {
    let server = Server::start();
    server.provision().await;
    let sid = server.admin_session().await;
    for body in ["\n", " \r\n\t "] {
        for path in [
            "/appliance/certificates/actions/generate-csr",
            "/appliance/certificates/server",
        ] {
            let r = server
                .dr(&sid, Method::POST, path)
                .header("content-type", "application/json")
                .body(body)
                .answer()
                .await;
            appliance_error(
                r,
                400,
                "INVALID_REQUEST",
                Says::StartsWith("Invalid request body: ".into()),
            )
            .await;
        }
    }
    let r = server
        .dr(
            &sid,
            Method::POST,
            "/appliance/certificates/actions/generate-csr",
        )
        .answer()
        .await;
    assert_eq!(r.status(), 200, "no body: a CSR for the host name");
    let csr: Value = r.json().await.unwrap();
    assert!(
        csr["value"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
}

/// The appliance document names every operation of the vendor's specification (the face
/// serves them all), under the vendor's operationId, and nothing else but itself. Needs the
/// vendor's specification (`common::specs`): skipped loudly where it is absent.
#[tokio::test]
async fn the_appliance_document_names_every_vendor_operation() {
    let Some(spec) = vendor_spec(
        APPLIANCE_SPEC,
        "the_appliance_document_names_every_vendor_operation",
    ) else {
        return;
    };
    let vendor: Value = serde_json::from_str(&std::fs::read_to_string(spec).unwrap()).unwrap();
    let server = Server::start();
    let (_, doc) = fetch_document(&server, APPLIANCE).await;
    let operation_ids = |doc: &Value| -> BTreeSet<(String, String, String)> {
        let mut all = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
                let id = item[*method]["operationId"].as_str().unwrap().to_owned();
                all.insert((method.to_uppercase(), path.clone(), id));
            }
        }
        all
    };
    let mut expected = operation_ids(&vendor);
    expected.insert((
        "GET".into(),
        "/openapi.json".into(),
        "getOpenApiDocument".into(),
    ));
    assert_eq!(
        operation_ids(&doc),
        expected,
        "operations of our document (left) and of the vendor's with ours (right)"
    );
}
