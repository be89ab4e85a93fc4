//! Users, roles, namespaces, the authentication cache and the rate limit, over HTTPS.

use std::collections::HashSet;
use std::net::IpAddr;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const PASS: &str = "a user passphrase";

/// Every role (and no credentials, an unknown user, a wrong passphrase) against one endpoint
/// of each class, with the code the original answers.
#[tokio::test]
async fn role_matrix() {
    let s = Server::start();
    s.provision().await;
    let operator = s.create_user(Some("operator"), "Operator", PASS).await;
    s.create_user(Some("metrics"), "Metrics", PASS).await;
    s.create_user(Some("backup"), "Backup", PASS).await;
    s.create_user(Some("ns1~admin"), "Administrator", PASS)
        .await;
    let r = s
        .put("/namespaces/ns1")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // (class, method, path, body)
    let endpoints: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            "list users (Administrator)",
            Method::GET,
            "/users".into(),
            None,
        ),
        (
            "read a user (Administrator or Operator)",
            Method::GET,
            format!("/users/{operator}"),
            None,
        ),
        (
            "read tags (Administrator or Operator)",
            Method::GET,
            format!("/users/{operator}/tags"),
            None,
        ),
        (
            "namespaces (root Administrator)",
            Method::GET,
            "/namespaces".into(),
            None,
        ),
        (
            "config (root Administrator)",
            Method::GET,
            "/config/unattended-boot".into(),
            None,
        ),
        (
            "config change (root Administrator)",
            Method::PUT,
            "/config/unattended-boot".into(),
            Some(json!({"status": "off"})),
        ),
        (
            "system (root Administrator)",
            Method::GET,
            "/system/info".into(),
            None,
        ),
        ("metrics (Metrics)", Method::GET, "/metrics".into(), None),
    ];
    // (caller, user, passphrase); `None` user: no credentials.
    let callers: Vec<(&str, Option<&str>, &str)> = vec![
        ("root Administrator", Some("admin"), ADMIN),
        ("namespaced Administrator", Some("ns1~admin"), PASS),
        ("Operator", Some("operator"), PASS),
        ("Metrics", Some("metrics"), PASS),
        ("Backup", Some("backup"), PASS),
        ("no credentials", None, ""),
        ("unknown user", Some("nobody"), PASS),
    ];
    #[rustfmt::skip]
    let expected: [[u16; 8]; 7] = [
        //  users  user  tags  ns    cfg   cfg-put sys  metrics
        [200,   200,  200,  200,  200,  204,  200,  403], // root Administrator
        [200,   403,  403,  403,  403,  403,  403,  403], // namespaced Administrator
        [403,   200,  200,  403,  403,  403,  403,  403], // Operator (reading itself)
        [403,   403,  403,  403,  403,  403,  403,  200], // Metrics
        [403,   403,  403,  403,  403,  403,  403,  403], // Backup
        [401,   401,  401,  401,  401,  401,  401,  401], // no credentials
        [401,   401,  401,  401,  401,  401,  401,  401], // unknown user (one failure per second: see below)
    ];
    for (row, (caller, user, pass)) in callers.iter().enumerate() {
        for (col, (class, method, path, body)) in endpoints.iter().enumerate() {
            if *caller == "unknown user" {
                after_rate_limit_window(&s).await;
            }
            let mut req = s.request(method.clone(), path);
            if let Some(user) = user {
                req = req.basic_auth(user, Some(pass));
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), expected[row][col], "{caller} -> {class}");
            if r.status() == 401 {
                assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"NetHSM\"");
            }
        }
    }

    // A wrong passphrase of a real user, against every class (each from its own address, so
    // the one-failure-per-second limit does not answer first).
    for (col, (class, method, path, body)) in endpoints.iter().enumerate() {
        let client = s.client_from(IpAddr::from([127, 0, 0, 10 + col as u8]));
        let mut req = client
            .request(method.clone(), s.url(path))
            .basic_auth("admin", Some("wrong passphrase"));
        if let Some(body) = body {
            req = req.json(body);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            401,
            "wrong passphrase -> {class}"
        );
    }

    // Nothing of the above is available while Locked: 412 comes first.
    after_rate_limit_window(&s).await;
    s.lock().await;
    for (class, method, path, _) in &endpoints {
        let r = s
            .request(method.clone(), path)
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap();
        assert_eq!(
            nethsm_error(r, 412, any_message()).await,
            "Service not available",
            "{class}"
        );
    }
}

#[tokio::test]
async fn user_management_and_namespace_isolation() {
    let s = Server::start();
    s.provision().await;
    let admin = |r: reqwest::RequestBuilder| r.basic_auth("admin", Some(ADMIN));

    // POST /users: generated id, Location, and the user works at once.
    let body = json!({"realName": "Jane", "role": "Operator", "passphrase": PASS});
    let r = admin(s.post("/users")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(location, format!("/api/v1/users/{id}"));
    let r = s
        .get(&format!("/users/{id}"))
        .basic_auth(&id, Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"realName": "Jane", "role": "Operator"})
    );

    // PUT /users/{id}: that id; twice is a conflict; bad input is 400.
    s.create_user(Some("alice"), "Operator", PASS).await;
    let r = admin(s.put("/users/alice"))
        .json(&body)
        .send()
        .await
        .unwrap();
    nethsm_error(r, 409, "User already exists.").await;
    for (what, path, body) in [
        ("bad id", "/users/-alice", body.clone()),
        (
            "weak passphrase",
            "/users/bob",
            json!({"realName": "", "role": "Operator", "passphrase": "short"}),
        ),
        (
            "unknown role",
            "/users/bob",
            json!({"realName": "", "role": "Root", "passphrase": PASS}),
        ),
        (
            "unknown field",
            "/users/bob",
            json!({"realName": "", "role": "Operator", "passphrase": PASS, "x": 1}),
        ),
    ] {
        let r = admin(s.put(path)).json(&body).send().await.unwrap();
        nethsm_error(r, 400, starting("")).await;
        assert_eq!(
            admin(s.get("/users/bob")).send().await.unwrap().status(),
            404,
            "{what}"
        );
    }

    // Tags.
    assert_eq!(
        admin(s.put("/users/alice/tags/berlin"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        admin(s.put("/users/alice/tags/berlin"))
            .send()
            .await
            .unwrap()
            .status(),
        304
    );
    nethsm_error(
        admin(s.put("/users/admin/tags/berlin"))
            .send()
            .await
            .unwrap(),
        400,
        "Tags can only be set on Operator users.",
    )
    .await;
    let tags: Value = s
        .get("/users/alice/tags")
        .basic_auth("alice", Some(PASS))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags, json!(["berlin"]));
    assert_eq!(
        admin(s.delete("/users/alice/tags/berlin"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    nethsm_error(
        admin(s.delete("/users/alice/tags/berlin"))
            .send()
            .await
            .unwrap(),
        404,
        "Tag not found.",
    )
    .await;

    // Namespaces: root makes ns1's first admin before ns1 exists; it logs in once ns1 exists.
    s.create_user(Some("ns1~boss"), "Administrator", PASS).await;
    s.create_user(Some("ns2~boss"), "Administrator", PASS).await;
    let boss = |r: reqwest::RequestBuilder| r.basic_auth("ns1~boss", Some(PASS));
    nethsm_error(
        boss(s.get("/users")).send().await.unwrap(),
        401,
        "Authentication required.",
    )
    .await;
    after_rate_limit_window(&s).await;
    for ns in ["ns1", "ns2"] {
        assert_eq!(
            admin(s.put(&format!("/namespaces/{ns}")))
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
    }
    nethsm_error(
        admin(s.put("/namespaces/ns1")).send().await.unwrap(),
        400,
        "Namespace already exists.",
    )
    .await;
    nethsm_error(
        admin(s.put("/namespaces/bad~ns")).send().await.unwrap(),
        400,
        "Invalid namespace ID.",
    )
    .await;
    let namespaces: Value = admin(s.get("/namespaces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(namespaces, json!([{"id": "ns1"}, {"id": "ns2"}]));

    // The namespaced admin creates users in its namespace, by POST /users and POST /users/ns1~.
    let r = boss(s.post("/users")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let inherited = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(inherited.starts_with("ns1~"), "{inherited}");
    let r = boss(s.post("/users/ns1~"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    nethsm_error(
        boss(s.post("/users/ns2~"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        403,
        "Access denied.",
    )
    .await;
    nethsm_error(
        boss(s.post("/users/ns1")).json(&body).send().await.unwrap(),
        400,
        "POST /users/{UserID} takes a namespace prefix ending in ~, e.g. /users/namespace1~.",
    )
    .await;
    nethsm_error(
        boss(s.put("/users/ns2~intruder"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        403,
        "Access denied.",
    )
    .await;
    nethsm_error(
        boss(s.put("/users/intruder"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        403,
        "Access denied.",
    )
    .await;
    // ... and sees only its namespace.
    let users: Value = boss(s.get("/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users: HashSet<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    assert_eq!(users.len(), 3);
    assert!(users.iter().all(|u| u.starts_with("ns1~")));
    for (method, path) in [
        (Method::GET, "/users/alice"),
        (Method::GET, "/users/ns2~boss"),
        (Method::GET, "/users/admin/tags"),
        (Method::DELETE, "/users/alice"),
        (Method::DELETE, "/users/ns2~boss"),
        (Method::PUT, "/users/alice/tags/x"),
        (Method::GET, "/namespaces"),
        (Method::PUT, "/namespaces/ns3"),
        (Method::DELETE, "/namespaces/ns2"),
        (Method::GET, "/config/unattended-boot"),
        (Method::POST, "/lock"),
    ] {
        let r = boss(s.request(method.clone(), path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        nethsm_error(r, 403, "Access denied.").await;
    }
    let r = boss(s.post("/users/alice/passphrase"))
        .json(&json!({"passphrase": "taken over!!"}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "Access denied.").await;
    // Root still reads, but no longer manages, ns1's users.
    assert_eq!(
        admin(s.get(&format!("/users/{inherited}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    nethsm_error(
        admin(s.delete(&format!("/users/{inherited}")))
            .send()
            .await
            .unwrap(),
        403,
        "Access denied.",
    )
    .await;
    assert_eq!(
        boss(s.delete(&format!("/users/{inherited}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    nethsm_error(
        boss(s.delete("/users/ns1~boss")).send().await.unwrap(),
        400,
        "Cannot delete yourself.",
    )
    .await;

    // Deleting a namespace deletes its users.
    assert_eq!(
        admin(s.delete("/namespaces/ns1"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    nethsm_error(
        admin(s.delete("/namespaces/ns1")).send().await.unwrap(),
        404,
        "Namespace not found.",
    )
    .await;
    nethsm_error(
        boss(s.get("/users")).send().await.unwrap(),
        401,
        "Authentication required.",
    )
    .await;
    let users: Value = admin(s.get("/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !u["user"].as_str().unwrap().starts_with("ns1~"))
    );
    nethsm_error(
        admin(s.delete("/users/admin")).send().await.unwrap(),
        400,
        "Cannot delete yourself.",
    )
    .await;
}

#[tokio::test]
async fn cache_follows_passphrase_changes_and_deletion() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("carol"), "Operator", PASS).await;
    let get = |pass: &str| s.get("/users/carol").basic_auth("carol", Some(pass)).send();
    // Warm the cache.
    for _ in 0..3 {
        assert_eq!(get(PASS).await.unwrap().status(), 200);
    }
    let new = "carol's new passphrase";
    let r = s
        .post("/users/carol/passphrase")
        .basic_auth("carol", Some(PASS))
        .json(&json!({"passphrase": new}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        get(new).await.unwrap().status(),
        200,
        "the new passphrase works at once"
    );
    assert_eq!(
        get(PASS).await.unwrap().status(),
        401,
        "the old one fails at once"
    );

    // An administrator's change and a deletion take effect on the very next request too.
    after_rate_limit_window(&s).await;
    assert_eq!(get(new).await.unwrap().status(), 200);
    let r = s
        .post("/users/carol/passphrase")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"passphrase": "set by the admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get("set by the admin").await.unwrap().status(), 200);
    assert_eq!(
        s.delete("/users/carol")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let r = get("set by the admin").await.unwrap();
    nethsm_error(r, 401, "Authentication required.").await;
    // Re-creating the user with another passphrase does not revive the cached one.
    after_rate_limit_window(&s).await;
    s.create_user(Some("carol"), "Operator", "a different one")
        .await;
    let r = get("set by the admin").await.unwrap();
    nethsm_error(r, 401, "Authentication required.").await;
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_address_and_user() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("dave"), "Operator", PASS).await;
    let get = |user: &str, pass: &str| {
        s.get(&format!("/users/{user}"))
            .basic_auth(user, Some(pass))
            .send()
    };
    let r = get("dave", "wrong passphrase").await.unwrap();
    nethsm_error(r, 401, "Authentication required.").await;
    let r = get("dave", PASS).await.unwrap();
    nethsm_error(r, 429, "Too many failed attempts; try again in a second.").await;
    // Another user from the same address, and the same user from another address, are fine.
    assert_eq!(get("admin", ADMIN).await.unwrap().status(), 200);
    let other = s.client_from(IpAddr::from([127, 0, 0, 2]));
    let r = other
        .get(s.url("/users/dave"))
        .basic_auth("dave", Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    after_rate_limit_window(&s).await;
    assert_eq!(get("dave", PASS).await.unwrap().status(), 200);
}

#[tokio::test]
async fn concurrent_creations_and_passphrase_changes() {
    let s = std::sync::Arc::new(Server::start());
    s.provision().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let body =
                json!({"realName": format!("user {i}"), "role": "Operator", "passphrase": PASS});
            let r = s
                .post("/users")
                .basic_auth("admin", Some(ADMIN))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len(), 50, "distinct ids");
    let listed = s.admin_json("/users").await;
    let listed: HashSet<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.is_subset(&listed));

    // Ten parallel changes of one user's passphrase: exactly one of them works afterwards.
    s.create_user(Some("erin"), "Operator", PASS).await;
    let candidates: Vec<String> = (0..10).map(|i| format!("erin passphrase {i}")).collect();
    let mut tasks = Vec::new();
    for c in candidates.clone() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let r = s
                .post("/users/erin/passphrase")
                .basic_auth("admin", Some(ADMIN))
                .json(&json!({"passphrase": c}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut working = 0;
    for (i, c) in candidates
        .iter()
        .chain([PASS.to_owned()].iter())
        .enumerate()
    {
        // Each try from its own address: a failure must not rate-limit the next candidate.
        let client = s.client_from(IpAddr::from([127, 0, 1, i as u8 + 1]));
        let r = client
            .get(s.url("/users/erin"))
            .basic_auth("erin", Some(c))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            working += 1;
        } else {
            nethsm_error(r, 401, "Authentication required.").await;
        }
    }
    assert_eq!(working, 1);
}

#[tokio::test]
async fn metrics_in_both_shapes() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("metrics"), "Metrics", PASS).await;
    let _ = s.get("/users").send().await.unwrap(); // a 401
    let r = s
        .get("/metrics")
        .basic_auth("metrics", Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    let m = m.as_object().unwrap();
    assert!(
        m.values().all(|v| v.is_string()),
        "flat object of strings: {m:?}"
    );
    assert_eq!(m["state"], "Operational");
    assert!(
        m["http_requests_total.nethsm.4xx"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(
        m["http_requests_total.nethsm.2xx"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 2
    );

    let r = s
        .own(Method::GET, "/metrics")
        .basic_auth("metrics", Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(text.contains("# TYPE strongroom_http_requests_total counter"));
    assert!(text.contains("strongroom_http_requests_total{face=\"nethsm\",status_class=\"4xx\"}"));
    assert!(text.contains("strongroom_state{state=\"Operational\"} 1"));
    let r = s
        .own(Method::GET, "/metrics")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "Access denied.").await;
}

/// Real names are names people read: normalized (NFKC), no invisible characters. User ids are
/// NetHSM's ASCII pattern, compared exactly: `Admin` is not `admin`.
#[tokio::test]
async fn real_names_are_normalized_and_user_ids_are_exact() {
    let s = Server::start();
    s.provision().await;
    let put = |id: &str, real_name: &str| {
        s.put(&format!("/users/{id}"))
            .basic_auth("admin", Some(ADMIN))
            .json(&json!({"realName": real_name, "role": "Operator", "passphrase": "operator passphrase"}))
            .send()
    };
    for (bad, message) in [
        (
            "Alice\u{202E}ecilA",
            "realName must not contain invisible, control or format characters",
        ),
        (
            "Ali\u{200B}ce",
            "realName must not contain invisible, control or format characters",
        ),
        (
            "Alice\nBob",
            "realName must not contain invisible, control or format characters",
        ),
        ("Alice ", "realName must not start or end with whitespace"),
    ] {
        let r = put("alice", bad).await.unwrap();
        assert_eq!(
            nethsm_error(r, 400, any_message()).await,
            message,
            "{bad:?}"
        );
    }
    let r = s
        .get("/users/alice")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(
        nethsm_error(r, 404, any_message()).await,
        "User not found.",
        "none was made"
    );

    // Full-width in, normalized out; inner spaces stay.
    let r = put("alice", "\u{FF21}lice \u{FF22}").await.unwrap(); // Ａlice Ｂ
    assert_eq!(r.status(), 201);
    let v = s.admin_json("/users/alice").await;
    assert_eq!(v["realName"], "Alice B");

    // Ids: ASCII only, and case matters, as on a NetHSM.
    assert_eq!(put("Admin", "Second admin").await.unwrap().status(), 201);
    let r = put("adm\u{0131}n", "dotless i").await.unwrap();
    nethsm_error(r, 400, "Invalid user ID.").await;
    let r = put("\u{FF41}dmin", "full-width a").await.unwrap();
    nethsm_error(r, 400, "Invalid user ID.").await;
}
