//! The appliance face (seed 001): sessions, the password policy and history, over HTTPS.

use base64::Engine;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::common::*;

const BASE: &str = "/api/rest/configure/v1";

fn at(s: &Server, method: Method, path: &str) -> RequestBuilder {
    s.client.request(method, format!("{}{BASE}{path}", s.base))
}

async fn login(s: &Server, user: &str, pass: &str) -> Response {
    at(s, Method::POST, "/session")
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap()
}

async fn session(s: &Server, user: &str, pass: &str) -> String {
    let r = login(s, user, pass).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["session_id"].as_str().unwrap().to_owned()
}

async fn change(s: &Server, sid: &str, current: &str, new: &str) -> Response {
    at(s, Method::POST, "/appliance/settings/access/password")
        .header("x-dr-session", sid)
        .json(&json!({"username": "ignored", "password": current, "new_password": new}))
        .send()
        .await
        .unwrap()
}

/// A ResponseError with a UUID op_id equal to the request id and the message docs/errors.md
/// gives its code; returns the error_code.
async fn response_error(r: Response, status: u16) -> String {
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 36);
    appliance_documented_error(r, status).await
}

async fn assert_empty_401(r: Response) {
    appliance_error(r, 401, "", "").await;
}

#[tokio::test]
async fn sessions() {
    // Ten minutes of idle time, crossed by moving the server's clock: the requests' own time
    // (Argon2 runs included) is nothing beside it, so a slow machine cannot expire a session
    // early.
    let s = Server::start_with(&["--session-idle-secs", "600"]);
    // Before provisioning, and while Locked: 503 with a ResponseError.
    let code = response_error(login(&s, "admin", ADMIN).await, 503).await;
    assert_eq!(code, "SERVICE_UNAVAILABLE");
    s.provision().await;

    let sid = session(&s, "admin", ADMIN).await;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&sid)
        .unwrap();
    assert_eq!(raw.len(), 32, "256-bit session ids");
    let r = at(&s, Method::GET, "/session")
        .header("x-dr-session", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"username": "admin"})
    );
    assert_ne!(
        sid,
        session(&s, "admin", ADMIN).await,
        "each login is a new session"
    );

    // Missing, unknown, malformed sessions: 401, empty.
    assert_empty_401(at(&s, Method::GET, "/session").send().await.unwrap()).await;
    let unknown = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", unknown)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", "!!!")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_empty_401(change(&s, "", ADMIN, "Whatever1!").await).await;

    // Logins: wrong credentials 401 (then 429 within the second), other roles 403.
    s.create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    s.create_user(Some("ns1~admin"), "Administrator", "namespaced admin")
        .await;
    let r = s
        .put("/namespaces/ns1")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        response_error(login(&s, "op", "operator passphrase").await, 403).await,
        "ACCESS_DENIED"
    );
    assert_eq!(
        response_error(login(&s, "ns1~admin", "namespaced admin").await, 403).await,
        "ACCESS_DENIED"
    );
    assert_empty_401(at(&s, Method::POST, "/session").send().await.unwrap()).await;
    assert_empty_401(login(&s, "admin", "wrong password").await).await;
    assert_eq!(
        response_error(login(&s, "admin", ADMIN).await, 429).await,
        "TOO_MANY_REQUESTS"
    );
    after_rate_limit_window(&s).await;

    // Logout ends it.
    let sid = session(&s, "admin", ADMIN).await;
    let r = at(&s, Method::DELETE, "/session")
        .header("x-dr-session", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", &sid)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_empty_401(
        at(&s, Method::DELETE, "/session")
            .header("x-dr-session", &sid)
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Idle sessions expire (10 min here); using one keeps it alive.
    let used = session(&s, "admin", ADMIN).await;
    let idle = session(&s, "admin", ADMIN).await;
    // Used every 2.5 minutes for 12.5 minutes: the used session lives on, the idle one does
    // not.
    for _ in 0..5 {
        s.advance_clock(std::time::Duration::from_secs(150));
        let r = at(&s, Method::GET, "/session")
            .header("x-dr-session", &used)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", &idle)
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Locking ends every session; Locked answers 503.
    s.lock().await;
    let r = at(&s, Method::GET, "/session")
        .header("x-dr-session", &used)
        .send()
        .await
        .unwrap();
    assert_eq!(response_error(r, 503).await, "SERVICE_UNAVAILABLE");
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", &used)
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Unknown operation and method, in the face's shape.
    let r = at(&s, Method::GET, "/nothing").send().await.unwrap();
    assert_eq!(response_error(r, 404).await, "NOT_FOUND");
    let r = at(&s, Method::PUT, "/session").send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST,GET,HEAD,DELETE");
    assert_eq!(response_error(r, 405).await, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn password_policy_each_rule_and_history() {
    let s = Server::start();
    s.provision().await;
    let sid = session(&s, "admin", ADMIN).await;
    for (what, new, code) in [
        ("7 characters", "Aa1!aaa", "PASSWORD_TOO_SHORT"),
        ("no lower-case letter", "AA1!AAAA", "PASSWORD_NO_LOWERCASE"),
        ("no upper-case letter", "aa1!aaaa", "PASSWORD_NO_UPPERCASE"),
        ("no digit", "Aab!aaaa", "PASSWORD_NO_DIGIT"),
        ("no special character", "Aa1aaaaa", "PASSWORD_NO_SPECIAL"),
        (
            "a non-ASCII character",
            "Aa1!aaaé",
            "PASSWORD_INVALID_CHARACTER",
        ),
        ("a tab", "Aa1!aaa\t", "PASSWORD_INVALID_CHARACTER"),
        (
            "over 200 bytes",
            &format!("Aa1!{}", "a".repeat(197)),
            "PASSWORD_TOO_LONG",
        ),
    ] {
        let r = change(&s, &sid, ADMIN, new).await;
        let got = response_error(r, 400).await;
        assert_eq!(got, code, "{what}");
    }
    // Messages name the rule, never the password.
    let r = change(&s, &sid, ADMIN, "Secretpw1").await;
    let body: Value = r.json().await.unwrap();
    assert!(!body.to_string().contains("Secretpw1") && !body.to_string().contains(ADMIN));

    // Wrong current password: 403. Bad bodies: 400 INVALID_REQUEST.
    assert_eq!(
        response_error(
            change(&s, &sid, "not the password", "Fresh1!pass").await,
            403
        )
        .await,
        "WRONG_PASSWORD"
    );
    // Within a second of a wrong current password, the next change is not checked, even with
    // the right one; parallel guesses are checked one at a time.
    assert_eq!(
        response_error(change(&s, &sid, ADMIN, "Fresh1!pass").await, 429).await,
        "TOO_MANY_REQUESTS"
    );
    after_rate_limit_window(&s).await;
    let wrong: Vec<String> = (0..6).map(|i| format!("wrong guess {i}")).collect();
    let guesses =
        futures_util::future::join_all(wrong.iter().map(|w| change(&s, &sid, w, "Fresh1!pass")))
            .await;
    let mut statuses: Vec<u16> = guesses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [403, 429, 429, 429, 429, 429]);
    let post = |body: String| {
        at(&s, Method::POST, "/appliance/settings/access/password")
            .header("x-dr-session", &sid)
            .header("content-type", "application/json")
            .body(body)
    };
    for (what, body) in [
        ("malformed JSON", "{\"password\": ".to_string()),
        (
            "missing field",
            json!({"username": "u", "password": ADMIN}).to_string(),
        ),
        (
            "wrong type",
            json!({"username": "u", "password": ADMIN, "new_password": 12345678}).to_string(),
        ),
        ("not an object", "[]".to_string()),
        // serde would read the struct from its fields in order, and change the password.
        (
            "fields as an array",
            json!(["u", ADMIN, "Fresh1!pass"]).to_string(),
        ),
    ] {
        let r = post(body).send().await.unwrap();
        assert_eq!(response_error(r, 400).await, "INVALID_REQUEST", "{what}");
    }
    let r = post(json!({"username": "u", "password": ADMIN, "new_password": 12345678}).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        !r.text().await.unwrap().contains("12345678"),
        "a wrongly-typed password is not echoed"
    );
    let r = at(&s, Method::POST, "/appliance/settings/access/password")
        .header("x-dr-session", &sid)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response_error(r, 415).await, "UNSUPPORTED_MEDIA_TYPE");

    after_rate_limit_window(&s).await;
    // History: P0..P5 in turn; then each of the last five (P5 is current) is refused, and the
    // sixth-oldest (P0) is accepted again.
    let passwords: Vec<String> = (0..6).map(|i| format!("History{i}!pw")).collect();
    let mut current = ADMIN.to_string();
    for p in &passwords {
        let r = change(&s, &sid, &current, p).await;
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        assert!(r.headers().get("content-type").is_none());
        current = p.clone();
    }
    for p in passwords[1..].iter().rev() {
        assert_eq!(
            response_error(change(&s, &sid, &current, p).await, 400).await,
            "PASSWORD_REUSED",
            "{p}"
        );
    }
    assert_eq!(
        change(&s, &sid, &current, &passwords[0]).await.status(),
        204
    );
}

#[tokio::test]
async fn a_change_takes_effect_on_every_face_and_ends_other_sessions() {
    let s = Server::start();
    s.provision().await;
    let mine = session(&s, "admin", ADMIN).await;
    let other = session(&s, "admin", ADMIN).await;
    let new = "Brand new 1!";
    assert_eq!(change(&s, &mine, ADMIN, new).await.status(), 204);
    // NetHSM face.
    assert_eq!(
        s.get("/users/admin")
            .basic_auth("admin", Some(new))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.get("/users/admin")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    after_rate_limit_window(&s).await;
    // Appliance face.
    assert_eq!(login(&s, "admin", new).await.status(), 200);
    assert_empty_401(login(&s, "admin", ADMIN).await).await;
    // The session that changed it stays; the others end.
    let r = at(&s, Method::GET, "/session")
        .header("x-dr-session", &mine)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", &other)
            .send()
            .await
            .unwrap(),
    )
    .await;

    // A change on the NetHSM face ends appliance sessions too, and feeds the same history.
    after_rate_limit_window(&s).await;
    let r = s
        .post("/users/admin/passphrase")
        .basic_auth("admin", Some(new))
        .json(&json!({"passphrase": "Set on nethsm 1!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_empty_401(
        at(&s, Method::GET, "/session")
            .header("x-dr-session", &mine)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let sid = session(&s, "admin", "Set on nethsm 1!").await;
    assert_eq!(
        response_error(change(&s, &sid, "Set on nethsm 1!", new).await, 400).await,
        "PASSWORD_REUSED"
    );
}

#[tokio::test]
async fn concurrent_changes_from_the_same_password() {
    let s = std::sync::Arc::new(Server::start());
    s.provision().await;
    let sid = session(&s, "admin", ADMIN).await;
    // From two addresses: from one, the second change would wait for the first's check.
    let candidates = [("Winner one 1!", 1u8), ("Winner two 2!", 2)];
    let mut tasks = Vec::new();
    for (c, host) in candidates {
        let (s, sid) = (s.clone(), sid.clone());
        tasks.push(tokio::spawn(async move {
            let client = s.client_from(std::net::IpAddr::from([127, 0, 0, host]));
            let r = client
                .post(format!(
                    "{}{BASE}/appliance/settings/access/password",
                    s.base
                ))
                .header("x-dr-session", &sid)
                .json(&json!({"username": "ignored", "password": ADMIN, "new_password": c}))
                .send()
                .await
                .unwrap();
            (c, r.status().as_u16())
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let winners: Vec<&str> = outcomes
        .iter()
        .filter(|(_, st)| *st == 204)
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|(_, st)| *st == 403), "{outcomes:?}");
    let r = s
        .get("/users/admin")
        .basic_auth("admin", Some(winners[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the winner's password works");
}

#[tokio::test]
async fn errors_are_audited_and_logged_with_their_op_id() {
    let s = Server::start();
    s.provision().await;
    let sid = session(&s, "admin", ADMIN).await;
    let r = change(&s, &sid, ADMIN, "short").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let op_id = body["op_id"].as_str().unwrap().to_owned();
    let audit: Value = s
        .own(Method::GET, "/audit?limit=100")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["requestId"] == op_id.as_str())
        .expect("an audit event with the op_id");
    assert_eq!(event["face"], "appliance");
    assert_eq!(event["actor"], "admin");
    assert_eq!(event["outcome"], "refused");
    assert_eq!(
        event["action"],
        "POST /api/rest/configure/v1/appliance/settings/access/password"
    );
    assert!(
        s.log()
            .lines()
            .any(|l| l.contains(&op_id) && l.contains("status=400"))
    );

    // Read-only extras.
    let r = at(&s, Method::GET, "/appliance")
        .header("x-dr-session", &sid)
        .send()
        .await
        .unwrap();
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["product_name"], "Strongroom");
    let r = at(&s, Method::GET, "/appliance/settings/time")
        .header("x-dr-session", &sid)
        .send()
        .await
        .unwrap();
    let time: Value = r.json().await.unwrap();
    assert!(time["current_time"].as_i64().unwrap() > 1_700_000_000_000);
}
