//! The web console (`/console/`, docs/console.md): its headers, its session cookie's flags,
//! the CSRF checks on the faces' routes a cookie reaches, sign-out, and the browser run
//! (Playwright driving Debian's chromium, `console/tests/console.test.mjs`).

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::common::*;

const COOKIE: &str = "__Host-strongroom-console";
const CSRF: &str = "x-strongroom-csrf";

/// A signed-in console: the cookie pair to send back, the CSRF token, the raw Set-Cookie.
struct Console {
    cookie: String,
    csrf: String,
    set_cookie: String,
    body: Value,
}

fn origin(s: &Server) -> String {
    s.base.clone()
}

async fn sign_in(s: &Server, user: &str, passphrase: &str) -> reqwest::Response {
    s.client
        .post(format!("{}/console/api/session", s.base))
        .header("origin", origin(s))
        .json(&json!({"userId": user, "passphrase": passphrase}))
        .send()
        .await
        .unwrap()
}

async fn signed_in(s: &Server, user: &str, passphrase: &str) -> Console {
    let r = sign_in(s, user, passphrase).await;
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().trim().to_owned();
    let body: Value = r.json().await.unwrap();
    Console {
        cookie,
        csrf: body["csrfToken"].as_str().unwrap().to_owned(),
        set_cookie,
        body,
    }
}

impl Console {
    /// The headers the console's page sends: cookie, CSRF token, same origin.
    fn headers(&self, s: &Server) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_str(&self.cookie).unwrap());
        h.insert(CSRF, HeaderValue::from_str(&self.csrf).unwrap());
        h.insert("origin", HeaderValue::from_str(&origin(s)).unwrap());
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        h
    }

    fn request(&self, s: &Server, method: Method, path: &str) -> reqwest::RequestBuilder {
        s.client
            .request(method, format!("{}{path}", s.base))
            .headers(self.headers(s))
    }
}

/// Asserts an answer of the console's session API is an error docs/errors.md documents.
async fn documented(r: reqwest::Response, status: u16) {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.unwrap();
    let message = body["message"].as_str().expect("a message").to_owned();
    let docs = documented_errors("Web console");
    assert!(
        docs.iter()
            .any(|d| d.status == status && d.message.as_deref() == Some(message.as_str())),
        "{status} {message:?} is not in docs/errors.md: {docs:?}"
    );
}

async fn ready() -> Server {
    let s = Server::start();
    s.provision().await;
    s
}

#[tokio::test]
async fn console_pages_have_a_strict_policy_and_cache_headers() {
    let s = Server::start();
    // The pages load in any state (the console unlocks a locked node).
    let r = s
        .client
        .get(format!("{}/console/", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(!csp.contains("http"), "no other origin is allowed: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-cache");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    // No inline script or style: the policy would block them.
    assert!(
        !page.contains("<script>") && !page.contains("<style"),
        "{page}"
    );

    // The hashed assets the page names are immutable, with their own type.
    let assets: Vec<&str> = page
        .split('"')
        .filter(|p| p.starts_with("/console/assets/"))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{page}");
    for asset in assets {
        let r = s
            .client
            .get(format!("{}{asset}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let ty = r.headers()["content-type"].to_str().unwrap().to_owned();
        if asset.ends_with(".js") {
            assert_eq!(ty, "text/javascript; charset=utf-8");
        } else if asset.ends_with(".css") {
            assert_eq!(ty, "text/css; charset=utf-8");
        }
        assert!(!r.bytes().await.unwrap().is_empty());
    }

    let r = s
        .client
        .get(format!("{}/console/assets/nothing-here.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn the_session_cookie_is_host_only_secure_httponly_strict() {
    let s = ready().await;
    let c = signed_in(&s, "admin", ADMIN).await;
    let attrs: Vec<String> = c
        .set_cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(
        c.cookie.starts_with(&format!("{COOKIE}=")),
        "{}",
        c.set_cookie
    );
    for want in ["path=/", "secure", "httponly", "samesite=strict"] {
        assert!(
            attrs.iter().any(|a| a == want),
            "{want} in {}",
            c.set_cookie
        );
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "a __Host- cookie has no Domain: {}",
        c.set_cookie
    );
    assert_eq!(c.body["userId"], "admin");
    assert_eq!(c.body["role"], "Administrator");
    // The CSRF token is not the cookie's value.
    assert!(!c.cookie.contains(&c.csrf));

    // The cookie reaches the faces' own handlers, as the same principal.
    let r = c
        .request(&s, Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .request(&s, Method::GET, "/console/api/session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["csrfToken"],
        c.csrf.as_str()
    );
}

#[tokio::test]
async fn sign_in_refuses_wrong_passwords_and_other_origins() {
    let s = ready().await;
    let r = sign_in(&s, "admin", "not the passphrase").await;
    assert!(!r.headers().contains_key("set-cookie"));
    documented(r, 401).await;
    // The faces' rate limit applies: right after a failure, the same user is refused unchecked.
    documented(sign_in(&s, "admin", ADMIN).await, 429).await;
    after_rate_limit_window(&s).await;

    // Login CSRF: a sign-in posted from another site, or without an Origin, is refused.
    for origin in [Some("https://evil.example"), None] {
        let mut req = s
            .client
            .post(format!("{}/console/api/session", s.base))
            .json(&json!({"userId": "admin", "passphrase": ADMIN}));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap();
        assert!(!r.headers().contains_key("set-cookie"), "origin {origin:?}");
        documented(r, 403).await;
    }
    let r = s
        .client
        .post(format!("{}/console/api/session", s.base))
        .header("origin", origin(&s))
        .body("userId=admin")
        .send()
        .await
        .unwrap();
    documented(r, 400).await;

    // A locked node has no sessions to open.
    s.lock().await;
    documented(sign_in(&s, "admin", ADMIN).await, 412).await;
}

type CsrfCase<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let s = ready().await;
    let c = signed_in(&s, "admin", ADMIN).await;
    let before = audit_events(&s).await.len();

    // What a form on another site makes the browser send (were the cookie sent at all,
    // which SameSite=Strict prevents): the cookie, a form body, a foreign Origin, no token.
    let r = s
        .client
        .post(format!("{}/api/v1/lock", s.base))
        .header("cookie", &c.cookie)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.state().await, "Operational");

    // Each check alone refuses: no token, a wrong token, a foreign origin, no origin on a
    // change, a cross-site fetch.
    // (what, CSRF token, Origin, Sec-Fetch-Site)
    let cases: [CsrfCase; 5] = [
        ("no token", None, Some(&origin(&s)), None),
        ("wrong token", Some("AAAA"), Some(&origin(&s)), None),
        (
            "foreign origin",
            Some(&c.csrf),
            Some("https://evil.example"),
            None,
        ),
        ("no origin", Some(&c.csrf), None, None),
        (
            "cross-site",
            Some(&c.csrf),
            Some(&origin(&s)),
            Some("cross-site"),
        ),
    ];
    for (what, token, origin, site) in cases {
        let mut req = s
            .client
            .post(format!("{}{OWN_API}/clients", s.base))
            .header("cookie", &c.cookie)
            .json(&json!({"name": "db1", "hostName": "db1.example.org"}));
        if let Some(t) = token {
            req = req.header(CSRF, t);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{what}");
    }
    let clients = s.own_as_admin(Method::GET, "/clients").answer().await;
    assert_eq!(clients.json::<Value>().await.unwrap()["clients"], json!([]));
    // None of the refused requests changed anything; each is in the trail as refused.
    let events = audit_events(&s).await;
    assert!(
        events[before..].iter().all(|e| e["outcome"] != "success"),
        "{events:?}"
    );

    // The same request from the console's page goes through, audited under the user.
    let r = c
        .request(&s, Method::POST, &format!("{OWN_API}/clients"))
        .json(&json!({"name": "db1", "hostName": "db1.example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let events = audit_events(&s).await;
    let created = events
        .iter()
        .rev()
        .find(|e| e["action"] == "POST /api/strongroom/v1/clients")
        .expect("the creation is audited");
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["face"], "strongroom");
}

#[tokio::test]
async fn the_cookie_carries_the_users_role_and_no_more() {
    let s = ready().await;
    let operator = "operator passphrase for tests";
    s.create_user(Some("op1"), "Operator", operator).await;
    let c = signed_in(&s, "op1", operator).await;
    assert_eq!(c.body["role"], "Operator");
    // NetHSM's role rules: an Operator lists keys, not users.
    let r = c
        .request(&s, Method::GET, "/api/v1/keys")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .request(&s, Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The appliance face admits only root Administrators, by cookie as by its own login.
    let r = c
        .request(&s, Method::GET, &format!("{APPLIANCE}/appliance"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .request(&s, Method::GET, &format!("{OWN_API}/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The policy check is open to any user, and names the server's rules.
    let r = c
        .request(
            &s,
            Method::POST,
            &format!("{OWN_API}/password-policy/check"),
        )
        .json(&json!({"password": "short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rules: Value = r.json().await.unwrap();
    assert_eq!(rules["ok"], false);
    let unmet: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["met"] == false)
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        unmet,
        [
            "PASSWORD_TOO_SHORT",
            "PASSWORD_NO_UPPERCASE",
            "PASSWORD_NO_DIGIT",
            "PASSWORD_NO_SPECIAL"
        ]
    );
    let r = s
        .own_as_admin(Method::POST, "/password-policy/check")
        .json(&json!({"password": "Aa1!aaaa"}))
        .answer()
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["ok"], true);
}

#[tokio::test]
async fn sign_out_and_lock_end_the_session_on_the_server() {
    let s = ready().await;
    let c = signed_in(&s, "admin", ADMIN).await;
    // Sign-out is a change: it needs the token too.
    let r = s
        .client
        .delete(format!("{}/console/api/session", s.base))
        .header("cookie", &c.cookie)
        .header("origin", origin(&s))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .request(&s, Method::DELETE, "/console/api/session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let cleared = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The kept cookie is worthless: the session ended on the server.
    let r = c
        .request(&s, Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .request(&s, Method::GET, "/console/api/session")
        .send()
        .await
        .unwrap();
    documented(r, 401).await;
    let r = c
        .request(&s, Method::DELETE, "/console/api/session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Sign-in and sign-out are in the audit trail, under the user, as the console's.
    let events = audit_events(&s).await;
    for action in ["POST /console/api/session", "DELETE /console/api/session"] {
        let e = events
            .iter()
            .find(|e| e["action"] == action && e["outcome"] == "success")
            .unwrap_or_else(|| panic!("{action} is not in the trail: {events:?}"));
        assert_eq!(e["actor"], "admin");
        assert_eq!(e["face"], "console");
    }

    // Locking ends every session, the console's included.
    let c = signed_in(&s, "admin", ADMIN).await;
    let r = c
        .request(&s, Method::POST, "/api/v1/lock")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let r = c
        .request(&s, Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The browser run: Playwright drives Debian's headless chromium through the console
/// against this server (console/tests/console.test.mjs): sign in, lock and unlock, users,
/// clients and passkeys, the audit trail, a backup, sign-out; screenshots of each page go to
/// `target/console-screenshots/`, and axe-core checks each page. Needs node, the console's
/// npm packages (`npm ci` in console/) and `/usr/bin/chromium`: `.ci/run` installs them and
/// runs it with `--ignored`.
#[tokio::test]
#[ignore = "needs node, console/node_modules and chromium; run by .ci/run"]
async fn the_console_in_a_browser() {
    let s = ready().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shots = root.join("target/console-screenshots");
    let status = tokio::process::Command::new("node")
        .arg(root.join("console/tests/console.test.mjs"))
        .current_dir(root.join("console"))
        .env("STRONGROOM_URL", &s.base)
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env("STRONGROOM_ADMIN_PASSPHRASE", ADMIN)
        .env("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK)
        .env("STRONGROOM_SCREENSHOTS", &shots)
        .status()
        .await
        .expect("node runs");
    assert!(
        status.success(),
        "the browser run failed; log:\n{}",
        s.log()
    );
    for page in [
        "dashboard",
        "users",
        "clients",
        "audit",
        "backup",
        "password",
    ] {
        let file = shots.join(format!("{page}.png"));
        assert!(file.is_file(), "{} missing", file.display());
    }
}

#[tokio::test]
async fn an_idle_console_session_ends() {
    // The console's sessions are the core's: the idle time of every face's sessions (30
    // minutes by default) applies, and using one keeps it alive.
    let s = ready().await;
    let used = signed_in(&s, "admin", ADMIN).await;
    let idle = signed_in(&s, "admin", ADMIN).await;
    for _ in 0..4 {
        s.advance_clock(std::time::Duration::from_secs(10 * 60));
        let r = used
            .request(&s, Method::GET, "/api/v1/users")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = idle
        .request(&s, Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = idle
        .request(&s, Method::GET, "/console/api/session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
