//! Every face gates on the node's state first, through the one state gate, and answers in
//! its own shape (docs/errors.md): pinned at the router with no socket, on an Unprovisioned
//! node, with requests that are wrong in every other way too.

use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use serde_json::Value;
use strongroom_core::{Core, CoreSettings};
use strongroom_server::app::{self, AppState};
use tower::ServiceExt;

/// The backup-client face's code for "Unprovisioned or Locked".
const CV_UNAVAILABLE: i64 = 587204623;

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn send(state: &AppState, method: Method, path: &str, accept: &str, body: &str) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::ACCEPT, accept)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let r = app::router(state.clone()).oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer {
        status,
        content_type,
        body: String::from_utf8(body).unwrap(),
    }
}

fn unprovisioned() -> (tempfile::TempDir, AppState) {
    let tmp = tempfile::tempdir().unwrap();
    let core = Core::open(&tmp.path().join("data"), CoreSettings::default()).unwrap();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let state = AppState::new(core, scratch, 1024 * 1024);
    (tmp, state)
}

#[tokio::test]
async fn the_appliance_face_is_gated_whole_before_anything_else() {
    let (_tmp, state) = unprovisioned();
    let base = "/api/rest/configure/v1";
    // No credentials, an unsupported body, a method the path does not serve, an unknown path:
    // the state is what is wrong first.
    for (method, path) in [
        (Method::POST, "/session"),
        (Method::PATCH, "/session"),
        (Method::POST, "/appliance/settings/access/password"),
        (Method::GET, "/no/such/operation"),
    ] {
        let a = send(&state, method.clone(), &format!("{base}{path}"), "*/*", "{").await;
        assert_eq!(a.status, 503, "{method} {path}: {}", a.body);
        assert_eq!(
            a.json()["error_code"],
            "SERVICE_UNAVAILABLE",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn the_backup_client_face_is_gated_per_route_in_each_routes_shape() {
    let (_tmp, state) = unprovisioned();
    for root in ["/commandcenter/api", "/webconsole/api"] {
        // The service root answers in every state: clients look at it before logging in.
        let a = send(&state, Method::GET, &format!("{root}/"), "*/*", "").await;
        assert_eq!(a.status, 200, "{root}/");
        let a = send(&state, Method::GET, root, "*/*", "").await;
        assert_eq!(a.status, 200, "{root}");

        // Login: a malformed body, and still the state answers, in Login's errList shape.
        let a = send(&state, Method::POST, &format!("{root}/login"), "*/*", "{").await;
        assert_eq!(a.status, 503, "{}", a.body);
        assert_eq!(a.json()["errList"][0]["errorCode"], CV_UNAVAILABLE);
        let a = send(
            &state,
            Method::POST,
            &format!("{root}/login"),
            "application/xml",
            "<",
        )
        .await;
        assert_eq!(a.status, 503, "{}", a.body);
        assert!(
            a.body.contains("<DM2ContentIndexing_CheckCredentialResp")
                && a.body.contains(&format!("errorCode=\"{CV_UNAVAILABLE}\"")),
            "{}",
            a.body
        );

        // RenewLoginToken: no token at all, in its own shape.
        let a = send(
            &state,
            Method::POST,
            &format!("{root}/renewlogintoken"),
            "*/*",
            "{}",
        )
        .await;
        assert_eq!(a.status, 503, "{}", a.body);
        assert_eq!(a.json()["error"]["errorCode"], CV_UNAVAILABLE);

        // Any other operation: no token, a method the path does not serve; the general
        // shape, in the format Accept asks for.
        for method in [Method::GET, Method::DELETE] {
            let a = send(&state, method.clone(), &format!("{root}/client"), "*/*", "").await;
            assert_eq!(a.status, 503, "{method}: {}", a.body);
            assert_eq!(a.json()["errorCode"], CV_UNAVAILABLE, "{method}");
        }
        let a = send(
            &state,
            Method::POST,
            &format!("{root}/client/7/passkey"),
            "application/xml",
            "<",
        )
        .await;
        assert_eq!(a.status, 503, "{}", a.body);
        assert!(a.content_type.contains("xml"), "{}", a.content_type);
        assert!(
            a.body.contains("<CVGui_GenericResp")
                && a.body.contains(&format!("errorCode=\"{CV_UNAVAILABLE}\"")),
            "{}",
            a.body
        );

        // An unknown path is not an operation of any state.
        let a = send(&state, Method::GET, &format!("{root}/nosuch"), "*/*", "").await;
        assert_eq!(a.status, 404, "{}", a.body);
    }
}

#[tokio::test]
async fn the_json_faces_answer_412_before_anything_else() {
    let (_tmp, state) = unprovisioned();
    for path in [
        "/api/v1/users",
        "/api/v1/system/info",
        "/api/strongroom/v1/audit",
        "/api/strongroom/v1/clients/1",
    ] {
        for method in [
            Method::GET,
            Method::PATCH,
            Method::from_bytes(b"BREW").unwrap(),
        ] {
            let a = send(&state, method.clone(), path, "text/plain", "{").await;
            assert_eq!(a.status, 412, "{method} {path}: {}", a.body);
            assert_eq!(
                a.json()["message"],
                "Service not available",
                "{method} {path}"
            );
        }
        // An unknown path is not an operation of any state.
        let a = send(&state, Method::GET, &format!("{path}/x/y/z"), "*/*", "").await;
        assert_eq!(a.status, 404, "{path}/x/y/z: {}", a.body);
    }
}
