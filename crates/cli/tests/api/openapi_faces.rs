//! The faces against the OpenAPI documents the server publishes for them (generated from the
//! handlers by utoipa, beside our own API's, `openapi.rs`): each document is served without
//! credentials in every state, is valid OpenAPI 3.x (`openapi-spec-validator`, PyPI), names
//! only routes the router serves, and schemathesis finds no 5xx and no answer that contradicts
//! it. They need no vendor spec, so they run everywhere the test venv exists. The same size
//! and seed settings as `openapi.rs` (docs/testing.md).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::common::python::test_python;
use crate::common::schemathesis;
use crate::common::*;
use crate::openapi::{
    METHODS, SCHEMATHESIS_TOML, document_routes, max_examples, run_options, validate,
};

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

/// Runs schemathesis against `doc` (served as `text`) at `url` in the runs `runs` (each the
/// extra options and how many operations it selects); panics with the report on a failure.
pub(crate) async fn conform(
    server: &Server,
    face: &str,
    url: &str,
    text: &str,
    runs: Vec<(Vec<String>, usize)>,
) {
    let python = test_python("schemathesis.cli");
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("face-openapi.json");
    std::fs::write(&spec, text).unwrap();
    // Schemathesis reads its configuration from the directory it runs in.
    std::fs::write(work.path().join("schemathesis.toml"), SCHEMATHESIS_TOML).unwrap();
    let timeout = Duration::from_secs(600 + 20 * u64::from(max_examples()));
    let mut outputs = Vec::new();
    for (extra, count) in runs {
        let args = run_options(url, extra);
        let run =
            schemathesis::schemathesis_within(&python, work.path(), &spec, &args, timeout).await;
        let selected = format!("{count} selected /");
        if !run.passed() || !run.run.stdout.contains(&selected) {
            panic!(
                "schemathesis found the {face} face not conforming to its OpenAPI document, \
                 or did not run (expected \"{selected}\" operations)\n{}\n\
                 --- server log ---\n{}",
                run.report(),
                server.log()
            );
        }
        outputs.push(run.report());
    }
    for output in outputs {
        println!("{output}");
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
    // Logging in takes the root Administrator's Basic credentials (only ever the right ones:
    // a wrong one is rate limited, 429, and every later case would see that); the rest the
    // session. Logging out ends it, so that runs alone and last.
    let auth = vec![
        format!("--auth=admin:{ADMIN}"),
        format!("--header=x-dr-session: {sid}"),
    ];
    let mut everything_else = auth.clone();
    everything_else.push("--exclude-operation-id=logout".into());
    let mut logout = auth;
    logout.push("--include-operation-id=logout".into());
    conform(
        &server,
        "appliance",
        &url,
        &text,
        vec![(everything_else, operations - 1), (logout, 1)],
    )
    .await;
}
