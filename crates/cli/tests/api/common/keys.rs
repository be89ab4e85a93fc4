//! What the key store's API tests (`keys*.rs`) share: the Operator they sign and decrypt as,
//! Python (pyca/cryptography) as the independent checker, and the common requests.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use super::Server;
use super::python::{self, test_python};

/// The Operator the key tests create (`s.create_user(Some(OPERATOR), "Operator", ...)`).
pub const OPERATOR: &str = "op";
pub const OPERATOR_PASS: &str = "operator passphrase";

const PYCA_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `script` with `args` in the test venv's Python (pyca/cryptography there); answers its
/// stdout, failing the test if it fails.
pub async fn pyca(script: &str, args: &[String]) -> String {
    let python = test_python("cryptography");
    let mut all = vec!["-c".to_owned(), script.to_owned()];
    all.extend_from_slice(args);
    let run = python::run(&python, &all, None, PYCA_TIMEOUT).await;
    assert!(
        run.passed(),
        "python {}\n{}\n{}",
        run.outcome(),
        run.stdout,
        run.stderr
    );
    run.stdout
}

/// A request as [`OPERATOR`].
pub fn as_operator(s: &Server, method: Method, path: &str) -> RequestBuilder {
    s.request(method, path)
        .basic_auth(OPERATOR, Some(OPERATOR_PASS))
}

/// Expects 201 with the new key's id in the body and in `Location`; answers the id.
pub async fn created_key(r: Response) -> String {
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/keys/{id}"));
    id
}

/// `POST /keys/{id}/sign` as [`OPERATOR`].
pub async fn sign(s: &Server, id: &str, mode: &str, input: &str) -> Response {
    as_operator(s, Method::POST, &format!("/keys/{id}/sign"))
        .json(&json!({"mode": mode, "message": input}))
        .send()
        .await
        .unwrap()
}

/// The base64 signature of a sign that must succeed.
pub async fn signature(s: &Server, id: &str, mode: &str, input: &str) -> String {
    let r = sign(s, id, mode, input).await;
    assert_eq!(r.status(), 200, "{id} {mode}: {}", r.text().await.unwrap());
    let body: Value = r.json().await.unwrap();
    body["signature"].as_str().unwrap().to_owned()
}

/// `GET /keys/{id}/public.pem`, which must succeed as PEM.
pub async fn public_pem(s: &Server, id: &str) -> String {
    let r = as_operator(s, Method::GET, &format!("/keys/{id}/public.pem"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    r.text().await.unwrap()
}
