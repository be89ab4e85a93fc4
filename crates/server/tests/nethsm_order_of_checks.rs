//! The NetHSM face's order of checks, pinned at the router with no socket:
//! 412, 501, 405, 401, 403, 415, 413, 406, then 400 (docs/errors.md). Strongroom's own API
//! speaks the same conventions with its own error type and extractors; it is held to the
//! same order.
//!
//! Request `k` of the table passes the checks before step `k` and fails step `k` *and every
//! check after it*, so the answer it gets proves that check `k` runs before all later ones.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use strongroom_core::{Core, CoreSettings};
use strongroom_server::app::{self, AppState};
use tower::ServiceExt;

const UNLOCK: &str = "unlock passphrase for router tests";
const ADMIN: &str = "admin passphrase for router tests";
const OPERATOR: &str = "operator passphrase for router tests";

/// A route served only while Operational, only by the root Administrator, with a JSON body
/// taken by PUT.
struct Route {
    path: &'static str,
    /// A body the route accepts.
    body: &'static str,
    /// The answer to a request that passes every check.
    success: u16,
}

const NETHSM: Route = Route {
    path: "/api/v1/config/unattended-boot",
    body: r#"{"status": "off"}"#,
    success: 204,
};

/// Client 1 is created by the test before the checks run.
const STRONGROOM: Route = Route {
    path: "/api/strongroom/v1/clients/1/owners",
    body: r#"{"owners": ["admin"]}"#,
    success: 200,
};

/// The checks, in the order the face runs them.
#[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
enum Check {
    State,
    KnownMethod,
    AllowedMethod,
    Authenticated,
    Authorized,
    ContentType,
    BodySize,
    Accept,
    Body,
}

const STEPS: &[(Check, u16, &str)] = &[
    (Check::State, 412, "Service not available"),
    (Check::KnownMethod, 501, "Method not implemented."),
    (Check::AllowedMethod, 405, "Method Not Allowed."),
    (Check::Authenticated, 401, "Authentication required."),
    (Check::Authorized, 403, "Access denied."),
    (
        Check::ContentType,
        415,
        "Content type not supported; use application/json.",
    ),
    (
        Check::BodySize,
        413,
        "Request body is larger than 1048576 bytes.",
    ),
    (
        Check::Accept,
        406,
        "Content type in Accept header not supported.",
    ),
    (Check::Body, 400, "Malformed request body: "),
];

fn basic(user: &str, passphrase: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("Basic {}", b64.encode(format!("{user}:{passphrase}")))
}

/// A request that passes every check before `failing` and fails `failing` and every later one
/// (`None`: it passes them all). The state check is failed by the node's state, not by the
/// request.
fn request(route: &Route, failing: Option<Check>) -> Request<Body> {
    let bad = |c: Check| failing.is_some_and(|f| c >= f);
    let method = if bad(Check::KnownMethod) {
        Method::from_bytes(b"BREW").unwrap()
    } else if bad(Check::AllowedMethod) {
        Method::DELETE
    } else {
        Method::PUT
    };
    let mut r = Request::builder().method(method).uri(route.path);
    if !bad(Check::Authenticated) {
        let auth = if bad(Check::Authorized) {
            basic("operator", OPERATOR)
        } else {
            basic("admin", ADMIN)
        };
        r = r.header(header::AUTHORIZATION, auth);
    }
    let content_type = if bad(Check::ContentType) {
        "text/plain"
    } else {
        "application/json"
    };
    r = r.header(header::CONTENT_TYPE, content_type);
    r = r.header(
        header::ACCEPT,
        if bad(Check::Accept) {
            "text/plain"
        } else {
            "application/json"
        },
    );
    let body: Vec<u8> = match (bad(Check::BodySize), bad(Check::Body)) {
        // Over the limit and not JSON either.
        (true, _) => vec![b'{'; 1024 * 1024 + 1],
        // Cut short: not JSON.
        (false, true) => route.body.as_bytes()[..route.body.len() - 1].to_vec(),
        (false, false) => route.body.as_bytes().to_vec(),
    };
    r.body(Body::from(body)).unwrap()
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let r = app::router(state.clone()).oneshot(req).await.unwrap();
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, body)
}

async fn send_json(state: &AppState, method: Method, path: &str, auth: Option<&str>, body: Value) {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(auth) = auth {
        r = r.header(header::AUTHORIZATION, auth);
    }
    let req = r.body(Body::from(body.to_string())).unwrap();
    let (status, body) = send(state, req).await;
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        String::from_utf8_lossy(&body)
    );
}

async fn assert_step(
    state: &AppState,
    route: &Route,
    (check, status, message): (Check, u16, &str),
) {
    let req = request(route, Some(check));
    let (got, body) = send(state, req).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(got.as_u16(), status, "{} {check:?}: {text}", route.path);
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{check:?}: {text}"));
    let got_message = body["message"].as_str().expect("message string");
    if check == Check::Body {
        // The parser's detail follows the fixed prefix.
        assert!(got_message.starts_with(message), "{check:?}: {got_message}");
    } else {
        assert_eq!(got_message, message, "{check:?}");
    }
}

#[tokio::test]
async fn checks_run_in_the_originals_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let core = Core::open(&data_dir, CoreSettings::default()).unwrap();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let state = AppState::new(core, scratch, 1024 * 1024);

    // 412: Unprovisioned, and everything else about the request is wrong too.
    for route in [&NETHSM, &STRONGROOM] {
        assert_step(&state, route, STEPS[0]).await;
    }

    // The rest needs an Operational node with the root admin and an Operator.
    send_json(
        &state,
        Method::POST,
        "/api/v1/provision",
        None,
        json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN,
               "systemTime": "2026-11-23T12:00:00Z"}),
    )
    .await;
    send_json(
        &state,
        Method::PUT,
        "/api/v1/users/operator",
        Some(&basic("admin", ADMIN)),
        json!({"realName": "an operator", "role": "Operator", "passphrase": OPERATOR}),
    )
    .await;

    send_json(
        &state,
        Method::POST,
        "/api/strongroom/v1/clients",
        Some(&basic("admin", ADMIN)),
        json!({"name": "client1", "hostName": "client1.example"}),
    )
    .await;

    for route in [&NETHSM, &STRONGROOM] {
        for step in &STEPS[1..] {
            assert_step(&state, route, *step).await;
        }
        // And a request that fails none of them is served.
        let (status, body) = send(&state, request(route, None)).await;
        assert_eq!(
            status.as_u16(),
            route.success,
            "{}: {}",
            route.path,
            String::from_utf8_lossy(&body)
        );
    }
}
