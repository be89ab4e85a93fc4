//! Strongroom's own API against its own OpenAPI document (`GET /api/strongroom/v1/openapi.json`,
//! generated from the handlers by utoipa): the document is valid OpenAPI 3.x (checked by
//! `openapi-spec-validator` from PyPI, not by us), names exactly the routes docs/admin-api.md
//! documents and the router serves, and schemathesis finds no 5xx and no answer that
//! contradicts it (status, media type, headers, schema). It needs no vendor spec, so it runs
//! everywhere the test venv exists (`scripts/test` makes it).
//!
//! A longer run for release checks: `STRONGROOM_OPENAPI_MAX_EXAMPLES` (docs/testing.md).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::common::openapi_run::conform;
use crate::common::python::{self, test_python};
use crate::common::*;

const ADMIN_API_MD: &str = include_str!("../../../../docs/admin-api.md");

/// The methods an OpenAPI path item may hold, lowercase as the document writes them.
pub(crate) const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A Metrics user for `GET /metrics`, the one route the root Administrator may not read.
const METRICS_USER: &str = "metrics";
const METRICS_PASSPHRASE: &str = "metrics passphrase for tests";

/// `(METHOD, /path)` as a set, paths relative to the API's root.
pub(crate) type Routes = BTreeSet<(String, String)>;

/// Every route docs/admin-api.md documents: the `` `METHOD /path` `` that starts a heading or
/// a table row, without its query.
fn documented_routes() -> Routes {
    let mut routes = Routes::new();
    for line in ADMIN_API_MD.lines() {
        if !(line.starts_with('#') || line.starts_with('|')) {
            continue;
        }
        let Some(span) = line.split('`').nth(1) else {
            continue;
        };
        let Some((method, path)) = span.split_once(' ') else {
            continue;
        };
        if METHODS.contains(&method.to_lowercase().as_str()) && path.starts_with('/') {
            let path = path.split('?').next().unwrap();
            routes.insert((method.to_owned(), path.to_owned()));
        }
    }
    routes
}

/// Every operation of the document.
pub(crate) fn document_routes(doc: &Value) -> Routes {
    let mut routes = Routes::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// The document, fetched without credentials; asserts that it is served as JSON.
async fn fetch_document(server: &Server) -> (String, Value) {
    let r = server.own(Method::GET, "/openapi.json").answer().await;
    assert_eq!(r.status(), 200, "GET /openapi.json");
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE],
        "application/json",
        "media type of the document"
    );
    let text = r.text().await.unwrap();
    let doc = serde_json::from_str(&text).expect("the document is JSON");
    (text, doc)
}

/// Runs `openapi-spec-validator` (PyPI) on the document at `path`; panics with its words when
/// it finds the document invalid.
pub(crate) async fn validate(python: &Path, path: &Path) {
    let run = python::run(
        python,
        &[
            "-m".as_ref(),
            "openapi_spec_validator".as_ref(),
            path.as_os_str(),
        ],
        None,
        Duration::from_secs(120),
    )
    .await;
    assert!(
        run.passed() && run.stdout.contains("OK"),
        "openapi-spec-validator finds the document invalid ({})\n{}\n{}",
        run.outcome(),
        run.stdout,
        run.stderr
    );
}

/// A path of the document with its parameters filled in (`{id}` is 1).
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
}

#[tokio::test]
async fn the_document_is_valid_openapi_and_names_every_route() {
    let python = test_python("openapi_spec_validator");
    let server = Server::start();

    // Public and served in every state: the same document before and after provisioning.
    let (before, _) = fetch_document(&server).await;
    server.provision().await;
    let (text, doc) = fetch_document(&server).await;
    assert_eq!(before, text, "the document does not depend on the state");

    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, not {version}");
    assert_eq!(doc["servers"][0]["url"], OWN_API, "the API's root");
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("strongroom-openapi.json");
    std::fs::write(&path, &text).unwrap();
    validate(&python, &path).await;

    // The document and the documentation name the same routes.
    let in_document = document_routes(&doc);
    let in_docs = documented_routes();
    assert!(
        in_docs.len() >= 10,
        "routes found in docs/admin-api.md: {in_docs:?}"
    );
    assert_eq!(
        in_document, in_docs,
        "routes of the OpenAPI document (left) and of docs/admin-api.md (right)"
    );

    // The router serves exactly those methods on each path: a method it does not route
    // (TRACE) is 405, and `Allow` lists what it does route.
    for (path, item) in doc["paths"].as_object().unwrap() {
        let r = server
            .own_as_admin(Method::TRACE, &concrete(path))
            .answer()
            .await;
        assert_eq!(r.status(), 405, "TRACE {path}");
        let served: BTreeSet<String> = r.headers()[reqwest::header::ALLOW]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_lowercase())
            // axum answers HEAD wherever it answers GET.
            .filter(|m| m != "head")
            .collect();
        let documented: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_string())
            .collect();
        assert_eq!(served, documented, "methods of {path}: router, document");
    }
    // A path the document does not have is the API's 404.
    let r = server
        .own_as_admin(Method::GET, "/no-such-route")
        .answer()
        .await;
    assert_eq!(r.status(), 404);

    // Every error answer of every operation is `{"message"}` as application/json, and every
    // operation but the document itself takes credentials and says what it answers without.
    let components = &doc["components"];
    let error_body = &components["schemas"]["ErrorBody"];
    assert_eq!(error_body["required"], serde_json::json!(["message"]));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        let name = r.strip_prefix("#/components/responses/").unwrap();
                        &components["responses"][name]
                    }
                    None => response,
                };
                if status.as_str() >= "400" {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            let public = path == "/openapi.json";
            assert_eq!(
                responses.contains_key("401"),
                !public,
                "{method} {path}: 401 documented only where credentials are needed"
            );
        }
    }
    let schemes = components["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(
        doc["paths"]["/openapi.json"]["get"]["security"],
        serde_json::json!([{}])
    );
}

#[tokio::test]
async fn the_api_conforms_to_its_document() {
    let server = Server::start();
    server.provision().await;
    server
        .create_user(Some(METRICS_USER), "Metrics", METRICS_PASSPHRASE)
        .await;
    // A few backup clients, so that the generated ids (small numbers among them) reach
    // existing ones and not only the 404 of an unknown one.
    for n in 1..=3 {
        let r = server
            .own_as_admin(Method::POST, "/clients")
            .json(
                &serde_json::json!({"name": format!("db{n}"), "hostName": "db.example.org",
                "owners": ["admin", METRICS_USER]}),
            )
            .answer()
            .await;
        assert_eq!(r.status(), 201, "create client db{n}");
    }
    let (text, doc) = fetch_document(&server).await;
    let operations = document_routes(&doc).len();
    // Only ever the right passphrases: a wrong one would be rate limited (429, documented, but
    // every later case would see it instead of the answer under test). The root
    // Administrator for everything but the metrics, then the Metrics user for them.
    let runs = vec![
        (
            vec![
                format!("--auth=admin:{ADMIN}"),
                "--exclude-operation-id=getMetrics".into(),
            ],
            operations - 1,
        ),
        (
            vec![
                format!("--auth={METRICS_USER}:{METRICS_PASSPHRASE}"),
                "--include-operation-id=getMetrics".into(),
            ],
            1,
        ),
    ];
    let url = format!("{}{OWN_API}", server.base);
    conform(&server, "Strongroom's own API", &url, &text, runs).await;
}

/// Found by schemathesis: serde reads a struct from a JSON array of its fields in order, so
/// `PATCH /clients/{id}` took `[null, null]` as an empty change (200). A body is an object of
/// named fields; an array is refused, here and on the NetHSM face, which shares the reader.
#[tokio::test]
async fn an_array_is_not_a_request_body() {
    let server = Server::start();
    server.provision().await;
    let r = server
        .own_as_admin(Method::POST, "/clients")
        .json(&serde_json::json!({"name": "db1", "hostName": "db1.example.org"}))
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let client: Value = r.json().await.unwrap();
    let id = client["id"].as_u64().unwrap();

    let refusals = [
        (Method::PATCH, format!("/clients/{id}"), "[null, null]"),
        (Method::PATCH, format!("/clients/{id}"), " \n[\"db2\"]"),
        (
            Method::POST,
            "/clients".to_owned(),
            r#"["db3", "db3.example.org"]"#,
        ),
        (
            Method::PUT,
            format!("/clients/{id}/owners"),
            r#"[["admin"]]"#,
        ),
        (
            Method::POST,
            "/password-policy/check".to_owned(),
            r#"["Passw0rd!"]"#,
        ),
    ];
    for (method, path, body) in refusals {
        let r = server
            .own_as_admin(method.clone(), &path)
            .header("content-type", "application/json")
            .body(body)
            .answer()
            .await;
        assert_eq!(r.status(), 400, "{method} {path} {body}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer["message"], "Malformed request body: expected a JSON object, not an array",
            "{method} {path} {body}"
        );
    }
    // Nothing changed, nothing was made.
    let r = server.own_as_admin(Method::GET, "/clients").answer().await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["clients"], serde_json::json!([client]));

    // The NetHSM face reads its bodies the same way.
    let r = server
        .as_admin(Method::POST, "/users")
        .header("content-type", "application/json")
        .body(r#"["Someone", "Operator", "operator passphrase"]"#)
        .answer()
        .await;
    assert_eq!(r.status(), 400);
    // The same bodies as objects are accepted.
    let r = server
        .own_as_admin(Method::PATCH, &format!("/clients/{id}"))
        .json(&serde_json::json!({"name": "db2"}))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
}
