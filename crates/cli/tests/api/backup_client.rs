//! The backup-client face (seed 003): login tokens, clients, passkeys, the authorization
//! window and the restore decision, in JSON and XML.

use base64::Engine;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::common::*;

const ROOT: &str = "/commandcenter/api";
const PASS: &str = "owner passphrase";
const PRIVILEGES: i64 = 587204594;
const PRIVILEGES_MESSAGE: &str = "You do not have sufficient privileges for this operation";
const TOKEN_INVALID: &str = "The authentication token is missing, invalid or expired.";
const RATE_LIMITED: &str = "Too many failed attempts; try again in a second.";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn cv(s: &Server, method: Method, path: &str) -> RequestBuilder {
    s.client.request(method, format!("{}{ROOT}/{path}", s.base))
}

pub(crate) async fn login(s: &Server, user: &str, pass: &str) -> String {
    let r = cv(s, Method::POST, "Login")
        .json(&json!({"username": user, "password": b64(pass), "mode": 4, "deviceId": "test", "clientType": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["userName"], user);
    body["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn new_client(s: &Server, name: &str, owners: &[&str]) -> u64 {
    let r = s
        .own(Method::POST, "/clients")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"name": name, "hostName": format!("{name}.example"), "owners": owners}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_u64().unwrap()
}

/// POSTs a JSON passkey request; returns the errorCode (0 on success), checking exitval agrees
/// and the message is the one docs/errors.md gives the code.
async fn passkey_json(s: &Server, token: &str, path: &str, body: Value) -> i64 {
    let r = cv(s, Method::POST, path)
        .header("Authtoken", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let code = v["error"]["errorCode"].as_i64().unwrap();
    assert_eq!(
        v["processinginstructioninfo"]["attributes"][0]["name"],
        "exitval"
    );
    assert_eq!(
        v["processinginstructioninfo"]["attributes"][0]["value"],
        code.to_string()
    );
    if code != 0 {
        let message = v["error"]["errorMessage"]
            .as_str()
            .expect("an errorMessage");
        passkey_message(code).check(message, &format!("passkey error {code}"));
    }
    code
}

/// POSTs an XML passkey request (plain-text passkeys); returns the errorCode.
async fn passkey_xml(s: &Server, token: &str, path: &str, body: &str) -> i64 {
    let r = cv(s, Method::POST, path)
        .header("Authtoken", token)
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/xml");
    let text = r.text().await.unwrap();
    assert!(text.contains("<App_SetPasskeyResponse>"), "{text}");
    let code: i64 = text
        .split("errorCode=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|c| c.parse().ok())
        .expect("an errorCode attribute");
    assert!(
        text.contains(&format!("name=\"exitval\" value=\"{code}\"")),
        "{text}"
    );
    if code != 0 {
        let error = text.split("<error ").nth(1).expect("an error element");
        let message = xml_attribute(error, "errorMessage").expect("an errorMessage");
        passkey_message(code).check(&message, &format!("passkey error {code}"));
    }
    code
}

async fn decision(s: &Server, id: u64) -> Value {
    let r = s
        .own(
            Method::GET,
            &format!("/clients/{id}/restore-authorization?operation=restore"),
        )
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn login_tokens() {
    // Ten minutes of idle time, crossed by moving the server's clock: the requests' own time
    // (Argon2 runs included) is nothing beside it.
    let s = Server::start_with(&["--session-idle-secs", "600"]);
    // The root answers 200 (clients check it first), on both roots, in any case.
    for root in [
        "/commandcenter/api/",
        "/webconsole/api/",
        "/CommandCenter/API/",
        "/commandcenter/api",
    ] {
        let r = s
            .client
            .get(format!("{}{root}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{root}");
    }
    // Locked or Unprovisioned: 503 in the errList shape.
    let r = cv(&s, Method::POST, "Login")
        .json(&json!({"username": "admin", "password": b64(ADMIN)}))
        .send()
        .await
        .unwrap();
    let unavailable = documented_says(
        "The appliance is <state>; provision or unlock it through the NetHSM API (/api/v1) first.",
    );
    backup_client_login_error(r, 503, 587204623, unavailable).await;
    s.provision().await;

    let token = login(&s, "admin", ADMIN).await;
    assert!(token.starts_with("QSDK ") && token.len() == 5 + 64);
    // XML login, XML answer.
    let r = cv(&s, Method::POST, "login")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(format!(
            r#"<DM2ContentIndexing_CheckCredentialReq username="admin" password="{}"/>"#,
            b64(ADMIN)
        ))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<DM2ContentIndexing_CheckCredentialResp") && text.contains("token=\"QSDK "),
        "{text}"
    );

    // Tokens work on either root and in any case.
    for path in ["Client", "client", "CLIENT"] {
        let r = cv(&s, Method::GET, path)
            .header("Authtoken", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = s
        .client
        .get(format!("{}/webconsole/api/Client", s.base))
        .header("Authtoken", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Wrong credentials: errList; then the rate limit shared with every face.
    let r = cv(&s, Method::POST, "Login")
        .json(&json!({"username": "admin", "password": b64("wrong")}))
        .send()
        .await
        .unwrap();
    backup_client_login_error(r, 401, 587204621, "Invalid username or password.").await;
    let r = cv(&s, Method::POST, "Login")
        .json(&json!({"username": "admin", "password": b64(ADMIN)}))
        .send()
        .await
        .unwrap();
    backup_client_login_error(r, 429, 587204622, RATE_LIMITED).await;
    let r = s
        .get("/users")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the same limiter as the NetHSM face");
    nethsm_error(r, 429, RATE_LIMITED).await;
    after_rate_limit_window(&s).await;
    let r = cv(&s, Method::POST, "Login")
        .json(&json!({"username": "admin", "password": "not base64!"}))
        .send()
        .await
        .unwrap();
    let message = "A login needs username and a base64 password.";
    backup_client_login_error(r, 400, 587204625, message).await;

    // Bad tokens: 401.
    for bad in [
        "QSDK 00",
        "QSDK zz",
        &format!("QSDK {}", "ab".repeat(32)),
        "",
    ] {
        let r = cv(&s, Method::GET, "Client")
            .header("Authtoken", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad:?}");
        backup_client_error(r, 401, 587204620, TOKEN_INVALID, false).await;
    }
    let r = cv(&s, Method::GET, "Client").send().await.unwrap();
    backup_client_error(r, 401, 587204620, TOKEN_INVALID, false).await;
    let r = cv(&s, Method::GET, "Client")
        .header("Authtoken", "QSDK 00")
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    backup_client_error(r, 401, 587204620, TOKEN_INVALID, true).await;

    // Renew: a new token, the old one ends.
    let r = cv(&s, Method::POST, "RenewLoginToken")
        .header("Authtoken", &token)
        .json(&json!({"sessionId": token, "deviceId": "test"}))
        .send()
        .await
        .unwrap();
    let renewed = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(renewed, token);
    assert_eq!(
        cv(&s, Method::GET, "Client")
            .header("Authtoken", &token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        cv(&s, Method::GET, "Client")
            .header("Authtoken", &renewed)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Logout: plain text, and the token is gone.
    let r = cv(&s, Method::POST, "Logout")
        .header("Authtoken", &renewed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "User logged out");
    assert_eq!(
        cv(&s, Method::GET, "Client")
            .header("Authtoken", &renewed)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Tokens expire after the idle time (10 min here), not before.
    let idle = login(&s, "admin", ADMIN).await;
    let used = login(&s, "admin", ADMIN).await;
    s.advance_clock(std::time::Duration::from_secs(540));
    let client_list = |token: &str| cv(&s, Method::GET, "Client").header("Authtoken", token);
    assert_eq!(client_list(&used).send().await.unwrap().status(), 200);
    s.advance_clock(std::time::Duration::from_secs(150));
    assert_eq!(client_list(&used).send().await.unwrap().status(), 200);
    assert_eq!(
        cv(&s, Method::GET, "Client")
            .header("Authtoken", &idle)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn hostile_bodies_are_refused_quickly() {
    let s = Server::start();
    s.provision().await;
    let token = login(&s, "admin", ADMIN).await;
    let id = new_client(&s, "c1", &[]).await;
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><App_SetPasskeyRequest newPasskey="&lol3;" passkeyOpType="1"/>"#;
    let r = cv(&s, Method::POST, &format!("client/{id}/Passkey"))
        .header("Authtoken", &token)
        .header("Content-Type", "application/xml")
        .body(bomb)
        .send()
        .await
        .unwrap();
    let message = "DTDs and entity definitions are not accepted";
    backup_client_error(r, 400, 587204625, message, false).await;
    let r = cv(&s, Method::POST, &format!("client/{id}/Passkey"))
        .header("Authtoken", &token)
        .header("Content-Type", "application/xml")
        .body(vec![b'<'; 10 << 20])
        .send()
        .await
        .unwrap();
    let message = "The request body is larger than 1048576 bytes.";
    backup_client_error(r, 413, 587204626, message, false).await;
    for (junk, says) in [
        ("<App_SetPasskeyRequest", starting("malformed XML: ")),
        ("{\"App_SetPasskeyRequest\": ", starting("malformed JSON: ")),
        ("<a><b></a>", starting("malformed XML: ")),
    ] {
        let r = cv(&s, Method::POST, &format!("client/{id}/Passkey"))
            .header("Authtoken", &token)
            .body(junk)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{junk}");
        backup_client_error(r, 400, 587204625, says, false).await;
    }
    // Quickly: the bomb is refused for its DTD before any entity is expanded (the message
    // above), and the flood at the body limit (413); how fast is the bench's to measure.
    assert_eq!(
        decision(&s, id).await["reason"],
        "no-passkey",
        "nothing was set"
    );
}

#[tokio::test]
async fn client_passkeys_in_every_shape() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("owner"), "Operator", PASS).await;
    s.create_user(Some("stranger"), "Operator", PASS).await;
    let c1 = new_client(&s, "db1", &["owner"]).await;
    let c2 = new_client(&s, "db2", &["owner"]).await;
    let c3 = new_client(&s, "db3", &[]).await;
    let owner = login(&s, "owner", PASS).await;
    let stranger = login(&s, "stranger", PASS).await;
    let admin = login(&s, "admin", ADMIN).await;

    // GET Client: owners see their clients, admins all, with the passkey state.
    let r = cv(&s, Method::GET, "Client")
        .header("Authtoken", &owner)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    let ids: Vec<u64> = list["clientProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"]["clientEntity"]["clientId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [c1, c2]);
    let entity = &list["clientProperties"][0]["client"]["clientEntity"];
    assert_eq!(entity["clientName"], "db1");
    assert_eq!(entity["hostName"], "db1.example");
    assert_eq!(entity["displayName"], "db1");
    assert_eq!(
        list["clientProperties"][0]["clientProps"]["passkeySettings"]["enabled"],
        false
    );
    let r = cv(&s, Method::GET, "Client")
        .header("Authtoken", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["clientProperties"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        cv(&s, Method::GET, &format!("Client/{c3}"))
            .header("Authtoken", &owner)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let p = |path: u64| format!("client/{path}/Passkey");
    // JSON, wrapped, named op types; base64 passkeys.
    let create = json!({"App_SetPasskeyRequest": {"newPasskey": b64("first passkey"), "confirmPasskey": b64("first passkey"), "passkeyOpType": "CREATE"}});
    // Privileges first: a stranger gets the original's code whatever the request.
    assert_eq!(
        passkey_json(&s, &stranger, &p(c1), create.clone()).await,
        PRIVILEGES
    );
    assert_eq!(
        passkey_json(&s, &stranger, &p(999), create.clone()).await,
        PRIVILEGES
    );
    assert_eq!(
        passkey_json(&s, &admin, &p(999), create.clone()).await,
        587204601,
        "unknown client"
    );
    assert_eq!(
        passkey_json(&s, &admin, "client/x/Passkey", create.clone()).await,
        587204601
    );
    let mismatch = json!({"App_SetPasskeyRequest": {"newPasskey": b64("first passkey"), "confirmPasskey": b64("other passkey"), "passkeyOpType": 1}});
    assert_eq!(passkey_json(&s, &owner, &p(c1), mismatch).await, 587204606);
    let weak =
        json!({"newPasskey": b64("short"), "confirmPasskey": b64("short"), "passkeyOpType": 1});
    assert_eq!(passkey_json(&s, &owner, &p(c1), weak).await, 587204610);
    let not_b64 = json!({"newPasskey": "first passkey!", "passkeyOpType": 1});
    assert_eq!(passkey_json(&s, &owner, &p(c1), not_b64).await, 587204604);
    assert_eq!(
        passkey_json(
            &s,
            &owner,
            &p(c1),
            json!({"newPasskey": b64("x"), "passkeyOpType": 9})
        )
        .await,
        587204603
    );
    assert_eq!(
        passkey_json(
            &s,
            &owner,
            &p(c1),
            json!({"newPasskey": b64("x"), "passkeyOpType": "FROB"})
        )
        .await,
        587204603
    );
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), json!({"something": "else"})).await,
        587204605
    );
    let edit_none = json!({"currentPasskey": b64("first passkey"), "newPasskey": b64("second passkey"), "passkeyOpType": "EDIT"});
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), edit_none).await,
        587204609,
        "modify when none"
    );
    assert_eq!(
        passkey_json(
            &s,
            &owner,
            &p(c1),
            json!({"currentPasskey": b64("first passkey"), "passkeyOpType": 3})
        )
        .await,
        587204609,
        "remove when none"
    );
    assert_eq!(passkey_json(&s, &owner, &p(c1), create.clone()).await, 0);
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), create.clone()).await,
        587204608,
        "create when one exists"
    );
    assert_eq!(decision(&s, c1).await["reason"], "passkey-required");

    // Flat JSON, numeric op: modify; wrong current passkey.
    let edit = |cur: &str, new: &str| json!({"currentPasskey": b64(cur), "newPasskey": b64(new), "confirmPasskey": b64(new), "passkeyOpType": 2});
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), edit("wrong passkey", "second passkey")).await,
        587204607
    );
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), edit("first passkey", "second passkey")).await,
        0
    );

    // XML: plain-text passkeys, Commvault's own create example (the passkey in currentPasskey).
    assert_eq!(
        passkey_xml(
            &s,
            &owner,
            &p(c2),
            r#"<App_SetPasskeyRequest currentPasskey="RESTAPI!12" passkeyOpType="1"/>"#
        )
        .await,
        0
    );
    assert_eq!(passkey_xml(&s, &owner, &p(c2), r#"<App_SetPasskeyRequest currentPasskey="RESTAPI!12" newPasskey="RestAPI!12x" confirmPasskey="RestAPI!12x" passkeyOpType="EDIT"/>"#).await, 0);
    assert_eq!(
        passkey_xml(
            &s,
            &stranger,
            &p(c2),
            r#"<App_SetPasskeyRequest currentPasskey="RestAPI!12x" passkeyOpType="3"/>"#
        )
        .await,
        PRIVILEGES
    );
    assert_eq!(
        passkey_xml(
            &s,
            &owner,
            &p(c2),
            r#"<App_SetPasskeyRequest currentPasskey="RestAPI!12x" passkeyOpType="3"/>"#
        )
        .await,
        0
    );
    assert_eq!(decision(&s, c2).await["reason"], "no-passkey");
    assert_eq!(
        passkey_xml(&s, &owner, &p(c2), r#"<Something/>"#).await,
        587204605
    );

    // The authorization window: the wrong passkey does not open it; the right one does.
    let auth = |pk: &str, enable: bool| json!({"App_AuthorizeForRestoreRequest": {"passkey": b64(pk), "passkeySettings": {"enableAuthorizeForRestore": enable, "passkeyExpirationInterval": {"toTime": 1800}}}});
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), auth("first passkey", true)).await,
        587204607
    );
    assert_eq!(decision(&s, c1).await["allowed"], false);
    assert_eq!(
        passkey_json(&s, &owner, &p(c1), auth("second passkey", true)).await,
        0
    );
    let d = decision(&s, c1).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["reason"].as_str()),
        (Some(true), Some("authorized"))
    );
    assert!(d["authorizedUntil"].is_string());
    let r = cv(&s, Method::GET, &format!("Client/{c1}"))
        .header("Authtoken", &owner)
        .send()
        .await
        .unwrap();
    let props: Value = r.json().await.unwrap();
    assert!(
        props["clientProperties"][0]["clientProps"]["passkeySettings"]["authorizedForRestoreUntil"]
            .is_string()
    );
    // Disabling ends it.
    assert_eq!(passkey_json(&s, &owner, &p(c1), auth("", false)).await, 0);
    assert_eq!(decision(&s, c1).await["reason"], "passkey-required");
    // XML authorization, flat.
    let xml_auth = r#"<App_AuthorizeForRestoreRequest passkey="second passkey"><passkeySettings enableAuthorizeForRestore="1"><passkeyExpirationInterval toTime="1800"/></passkeySettings></App_AuthorizeForRestoreRequest>"#;
    assert_eq!(passkey_xml(&s, &owner, &p(c1), xml_auth).await, 0);
    assert_eq!(decision(&s, c1).await["reason"], "authorized");

    // Every decision is an audit event.
    let audit: Value = s
        .own(Method::GET, "/audit?limit=1000")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let decisions = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "restore decision: restore")
        .count();
    assert!(decisions >= 6, "{decisions}");
    let text = audit.to_string();
    for secret in [
        "first passkey",
        "second passkey",
        "RESTAPI!12",
        &b64("second passkey"),
    ] {
        assert!(!text.contains(secret));
    }
}

#[tokio::test]
async fn the_window_closes_and_wrong_passkeys_are_slowed_down() {
    // Windows here are ten minutes, crossed by moving the server's clock, so no request's own
    // time can close one early.
    let s = Server::start_with(&["--passkey-authorization-secs", "600"]);
    s.provision().await;
    let admin = login(&s, "admin", ADMIN).await;
    let c = new_client(&s, "db", &[]).await;
    let p = format!("client/{c}/Passkey");
    assert_eq!(
        passkey_json(
            &s,
            &admin,
            &p,
            json!({"newPasskey": b64("the passkey"), "passkeyOpType": 1})
        )
        .await,
        0
    );
    let auth = |pk: &str| json!({"passkey": b64(pk), "passkeySettings": {"enableAuthorizeForRestore": true}});
    assert_eq!(passkey_json(&s, &admin, &p, auth("the passkey")).await, 0);
    assert_eq!(decision(&s, c).await["reason"], "authorized");
    s.advance_clock(std::time::Duration::from_secs(540));
    assert_eq!(
        decision(&s, c).await["reason"],
        "authorized",
        "open until its end"
    );
    s.advance_clock(std::time::Duration::from_secs(150));
    assert_eq!(
        decision(&s, c).await["reason"],
        "passkey-required",
        "the window closed"
    );

    // Three wrong passkeys cost nothing; the fourth try, even right, must wait.
    for _ in 0..3 {
        assert_eq!(
            passkey_json(&s, &admin, &p, auth("a wrong passkey")).await,
            587204607
        );
    }
    assert_eq!(
        passkey_json(&s, &admin, &p, auth("the passkey")).await,
        587204612
    );
    s.advance_clock(std::time::Duration::from_millis(1100));
    assert_eq!(passkey_json(&s, &admin, &p, auth("the passkey")).await, 0);
}

#[tokio::test]
async fn company_passkey_organization_and_properties() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("owner"), "Operator", PASS).await;
    let c = new_client(&s, "db", &["owner"]).await;
    let admin = login(&s, "admin", ADMIN).await;
    let owner = login(&s, "owner", PASS).await;
    let org = |token: String| {
        let req = cv(&s, Method::GET, "Organization/0").header("Authtoken", token);
        async move { req.send().await.unwrap() }
    };
    let auth_type = |v: &Value| {
        v["organizationInfo"]["organizationProperties"]["advancedPrivacySettings"]["authType"]
            .as_i64()
    };
    assert_eq!(
        auth_type(&org(admin.clone()).await.json().await.unwrap()),
        Some(1)
    );
    let r = org(owner.clone()).await;
    backup_client_error(r, 403, PRIVILEGES, PRIVILEGES_MESSAGE, false).await;

    // Company 0: root Administrators only.
    let enable = json!({"newPasskey": b64("company passkey"), "confirmPasskey": b64("company passkey"), "passkeyOpType": "CREATE"});
    assert_eq!(
        passkey_json(&s, &owner, "Company/0/Passkey", enable.clone()).await,
        PRIVILEGES
    );
    assert_eq!(
        passkey_json(&s, &admin, "Company/7/Passkey", enable.clone()).await,
        587204602
    );
    assert_eq!(
        passkey_json(&s, &admin, "Company/0/Passkey", enable).await,
        0
    );
    assert_eq!(
        auth_type(&org(admin.clone()).await.json().await.unwrap()),
        Some(2)
    );
    // A client without its own passkey now needs the company's.
    assert_eq!(decision(&s, c).await["reason"], "company-passkey-required");
    let authorize = json!({"passkey": b64("company passkey"), "passkeySettings": {"enableAuthorizeForRestore": true, "passkeyExpirationInterval": {"toTime": 1800}}});
    assert_eq!(
        passkey_json(&s, &admin, "Company/0/AuthRestore", authorize).await,
        0
    );
    assert_eq!(decision(&s, c).await["reason"], "authorized");
    let disable = json!({"currentPasskey": b64("company passkey"), "confirmPasskey": b64("company passkey"), "passkeyOpType": "DISABLE"});
    assert_eq!(
        passkey_json(&s, &admin, "Company/0/Passkey", disable).await,
        0
    );
    assert_eq!(
        auth_type(&org(admin.clone()).await.json().await.unwrap()),
        Some(1)
    );
    assert_eq!(decision(&s, c).await["reason"], "no-passkey");

    // allowUsersToEnablePasskey: when false, owners cannot create; administrators still can.
    let props = |token: &str| {
        cv(&s, Method::GET, "Commcell/properties").header("Authtoken", token.to_owned())
    };
    let v: Value = props(&admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        v["commCellInfo"]["generalInfo"]["allowUsersToEnablePasskey"],
        true
    );
    let r = props(&owner).answer().await;
    backup_client_error(r, 403, PRIVILEGES, PRIVILEGES_MESSAGE, false).await;
    let off = json!({"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": false}}});
    let r = cv(&s, Method::PUT, "Commcell/properties")
        .header("Authtoken", &admin)
        .json(&off)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["response"][0]["errorCode"],
        0
    );
    let r = cv(&s, Method::PUT, "Commcell/properties")
        .header("Authtoken", &owner)
        .json(&off)
        .send()
        .await
        .unwrap();
    backup_client_error(r, 403, PRIVILEGES, PRIVILEGES_MESSAGE, false).await;
    let create = json!({"newPasskey": b64("owner passkey"), "passkeyOpType": 1});
    assert_eq!(
        passkey_json(&s, &owner, &format!("client/{c}/Passkey"), create.clone()).await,
        587204611
    );
    assert_eq!(
        passkey_json(&s, &admin, &format!("client/{c}/Passkey"), create).await,
        0
    );
    let v: Value = props(&admin)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["commCellInfo"]["generalInfo"]["allowUsersToEnablePasskey"],
        false
    );
}

#[tokio::test]
async fn passkeys_survive_restart_and_backup() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("bk"), "Backup", PASS).await;
    let c = new_client(&s, "db", &[]).await;
    let admin = login(&s, "admin", ADMIN).await;
    let p = format!("client/{c}/Passkey");
    assert_eq!(
        passkey_json(
            &s,
            &admin,
            &p,
            json!({"newPasskey": b64("kept passkey"), "passkeyOpType": 1})
        )
        .await,
        0
    );
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_eq!(decision(&s, c).await["reason"], "passkey-required");
    s.set_backup_passphrase("backup passphrase!", "").await;
    let file = s.backup("bk", PASS).await;

    let b = Server::start();
    assert_eq!(
        b.restore(file, "backup passphrase!", None).await.status(),
        204
    );
    assert_eq!(b.unlock(UNLOCK).await.status(), 204);
    let admin_b = login(&b, "admin", ADMIN).await;
    assert_eq!(decision(&b, c).await["reason"], "passkey-required");
    let auth = |pk: &str| json!({"passkey": b64(pk), "passkeySettings": {"enableAuthorizeForRestore": true}});
    assert_eq!(
        passkey_json(&b, &admin_b, &p, auth("not it")).await,
        587204607
    );
    assert_eq!(
        passkey_json(&b, &admin_b, &p, auth("kept passkey")).await,
        0
    );
    assert_eq!(decision(&b, c).await["reason"], "authorized");
}

#[tokio::test]
async fn the_registry_of_clients() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("alice"), "Operator", PASS).await;
    let admin = |r: RequestBuilder| r.basic_auth("admin", Some(ADMIN));
    let id = new_client(&s, "web", &["alice"]).await;
    let r = admin(s.own(Method::POST, "/clients"))
        .json(&json!({"name": "WEB", "hostName": "x"}))
        .send()
        .await
        .unwrap();
    own_error(r, 409, "A client of that name exists.").await;
    let r = admin(s.own(Method::POST, "/clients"))
        .json(&json!({"name": "n", "hostName": "h", "owners": ["nobody"]}))
        .send()
        .await
        .unwrap();
    own_error(r, 400, "owner nobody is not a user").await;
    let r = admin(s.own(Method::PATCH, &format!("/clients/{id}")))
        .json(&json!({"name": "web2", "displayName": "Web server"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["name"].as_str(), v["displayName"].as_str()),
        (Some("web2"), Some("Web server"))
    );
    let r = admin(s.own(Method::PUT, &format!("/clients/{id}/owners")))
        .json(&json!({"owners": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["owners"], json!([]));
    let r = s
        .own(Method::GET, "/clients")
        .basic_auth("alice", Some(PASS))
        .send()
        .await
        .unwrap();
    own_error(r, 403, "Access denied.").await;
    // Deleting a user drops its ownerships.
    let r = admin(s.own(Method::PUT, &format!("/clients/{id}/owners")))
        .json(&json!({"owners": ["alice"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.delete("/users/alice")
            .basic_auth("admin", Some(ADMIN))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let v: Value = admin(s.own(Method::GET, &format!("/clients/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["owners"], json!([]));
    assert_eq!(
        admin(s.own(Method::DELETE, &format!("/clients/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let r = admin(s.own(Method::GET, &format!("/clients/{id}")))
        .answer()
        .await;
    own_error(r, 404, "Client not found.").await;
    let r = s
        .own(
            Method::GET,
            "/clients/1/restore-authorization?operation=restore",
        )
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    own_error(r, 404, "Client not found.").await;
    let r = s
        .own(
            Method::GET,
            "/clients/1/restore-authorization?operation=delete",
        )
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    own_error(r, 400, "operation must be browse or restore").await;
}

// --- The authorization window and the appliance clock (review issue 10, finding 6) ---------

/// The appliance clock (`GET /config/time`).
async fn appliance_time(s: &Server) -> time::OffsetDateTime {
    let v = s.admin_json("/config/time").await;
    rfc3339(v["time"].as_str().unwrap())
}

fn rfc3339(t: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{t:?} is not RFC 3339: {e}"))
}

/// Moves the appliance clock by `delta` (negative: back), as a root Administrator may.
async fn move_clock(s: &Server, delta: time::Duration) {
    let to = (appliance_time(s).await + delta)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = s
        .put("/config/time")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"time": to}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "PUT /config/time {to}");
}

const MINUTE_BACK: time::Duration = time::Duration::seconds(-60);
const YEAR_BACK: time::Duration = time::Duration::days(-365);

/// A client with passkey `the passkey`, set by the root admin; returns (id, admin token).
async fn client_with_passkey(s: &Server, name: &str) -> (u64, String) {
    let admin = login(s, "admin", ADMIN).await;
    let c = new_client(s, name, &[]).await;
    let create = json!({"newPasskey": b64("the passkey"), "passkeyOpType": 1});
    assert_eq!(
        passkey_json(s, &admin, &format!("client/{c}/Passkey"), create).await,
        0
    );
    (c, admin)
}

async fn authorize(s: &Server, token: &str, c: u64) {
    let auth = json!({"passkey": b64("the passkey"), "passkeySettings": {"enableAuthorizeForRestore": true}});
    assert_eq!(
        passkey_json(s, token, &format!("client/{c}/Passkey"), auth).await,
        0
    );
}

/// Asserts the restore decision is a refusal for want of the client's passkey, on our API
/// and in what the backup-client face shows.
async fn assert_closed(s: &Server, token: &str, c: u64, when: &str) {
    let d = decision(s, c).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["reason"].as_str()),
        (Some(false), Some("passkey-required")),
        "{when}: {d}"
    );
    assert!(d.get("authorizedUntil").is_none(), "{when}: {d}");
    let props: Value = cv(s, Method::GET, &format!("Client/{c}"))
        .header("Authtoken", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let settings = &props["clientProperties"][0]["clientProps"]["passkeySettings"];
    assert_eq!(settings["enabled"], true, "{when}: {props}");
    assert!(
        settings["authorizedForRestoreUntil"].is_null(),
        "{when}: {props}"
    );
}

/// Asserts the window is open, and that it ends no later than `window_secs` from now on the
/// appliance clock (with a second for rounding to whole seconds); returns the seconds left.
async fn assert_open_within(s: &Server, c: u64, window_secs: i64, when: &str) -> i64 {
    let d = decision(s, c).await;
    assert_eq!(
        (d["allowed"].as_bool(), d["reason"].as_str()),
        (Some(true), Some("authorized")),
        "{when}: {d}"
    );
    let until = rfc3339(d["authorizedUntil"].as_str().unwrap());
    let left = (until - appliance_time(s).await).whole_seconds();
    assert!(
        (-1..=window_secs + 1).contains(&left),
        "{when}: authorized until {until}, {left} s from now; the window is {window_secs} s"
    );
    left
}

#[tokio::test]
async fn moving_the_clock_back_does_not_reopen_an_expired_window() {
    // A ten-minute window, crossed by moving the server's clock (`advance_clock`, the host's
    // clocks) before the appliance's clock is moved back (`move_clock`, PUT /config/time).
    let s = Server::start_with(&["--passkey-authorization-secs", "600"]);
    s.provision().await;
    let (c, admin) = client_with_passkey(&s, "db").await;
    authorize(&s, &admin, c).await;
    assert_open_within(&s, c, 600, "just authorized").await;
    s.advance_clock(std::time::Duration::from_secs(690));
    assert_closed(&s, &admin, c, "expired").await;
    move_clock(&s, MINUTE_BACK).await;
    assert_closed(&s, &admin, c, "expired, then the clock back 60 s").await;
    move_clock(&s, YEAR_BACK).await;
    assert_closed(&s, &admin, c, "expired, then the clock back a year").await;
    // The passkey itself still opens a fresh window on the moved clock.
    authorize(&s, &admin, c).await;
    assert_open_within(&s, c, 600, "authorized again").await;
}

#[tokio::test]
async fn a_window_never_outlasts_its_configured_length() {
    // A fifteen-minute window, crossed by moving the server's clock.
    let s = Server::start_with(&["--passkey-authorization-secs", "900"]);
    s.provision().await;
    let (c, admin) = client_with_passkey(&s, "db").await;
    authorize(&s, &admin, c).await;
    move_clock(&s, YEAR_BACK).await;
    assert_open_within(&s, c, 900, "authorized, then the clock back a year").await;
    move_clock(&s, MINUTE_BACK).await;
    assert_open_within(&s, c, 900, "and back another minute").await;
    s.advance_clock(std::time::Duration::from_secs(840));
    assert_open_within(&s, c, 900, "14 of its 15 minutes have passed").await;
    s.advance_clock(std::time::Duration::from_secs(150));
    assert_closed(&s, &admin, c, "the configured 15 minutes have passed").await;

    // Across a restart the window is judged on the host clock, still within its length.
    let mut long = Server::start_with(&["--passkey-authorization-secs", "600"]);
    long.provision().await;
    let (c, admin) = client_with_passkey(&long, "db").await;
    authorize(&long, &admin, c).await;
    long.restart();
    assert_eq!(long.unlock(UNLOCK).await.status(), 204);
    let left = assert_open_within(&long, c, 600, "after a restart").await;
    assert!(
        left > 500,
        "the window kept its end across the restart: {left} s left"
    );
    move_clock(&long, YEAR_BACK).await;
    assert_open_within(&long, c, 600, "after a restart and the clock back a year").await;
}

#[tokio::test]
async fn a_restore_does_not_revive_a_disabled_passkey_window() {
    let s = Server::start_with(&["--passkey-authorization-secs", "600"]);
    s.provision().await;
    s.create_user(Some("bk"), "Backup", PASS).await;
    s.set_backup_passphrase("backup passphrase!", "").await;
    let (c, admin) = client_with_passkey(&s, "db").await;
    authorize(&s, &admin, c).await;
    assert_open_within(&s, c, 600, "authorized").await;
    // A backup taken while the window is open ...
    let file = s.backup("bk", PASS).await;
    // ... then the owner disables the passkey, which ends the window.
    let disable = json!({"currentPasskey": b64("the passkey"), "passkeyOpType": "DISABLE"});
    assert_eq!(
        passkey_json(&s, &admin, &format!("client/{c}/Passkey"), disable).await,
        0
    );
    assert_eq!(decision(&s, c).await["reason"], "no-passkey");

    // Restoring the backup brings the passkey back, but not its window, whatever the clock.
    let r = s
        .restore(file, "backup passphrase!", Some(("admin", ADMIN)))
        .await;
    assert_eq!(r.status(), 204, "restore: {}", r.text().await.unwrap());
    let admin = login(&s, "admin", ADMIN).await;
    assert_closed(&s, &admin, c, "restored").await;
    move_clock(&s, MINUTE_BACK).await;
    assert_closed(&s, &admin, c, "restored, then the clock back 60 s").await;
    move_clock(&s, YEAR_BACK).await;
    assert_closed(&s, &admin, c, "restored, then the clock back a year").await;
    // After a restart too (the window is then judged on the host clock).
    let mut s = s;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let admin = login(&s, "admin", ADMIN).await;
    assert_closed(&s, &admin, c, "restored, then restarted").await;
    // The restored passkey opens a new window.
    authorize(&s, &admin, c).await;
    assert_open_within(&s, c, 600, "authorized after the restore").await;
}

// --- Look-alike names (review issue 10, finding 10) -----------------------------------------

const INVISIBLE_NAME: &str = "name must not contain invisible, control or format characters";
const TAKEN: &str = "A client of that name exists.";

#[tokio::test]
async fn look_alike_client_names_are_refused() {
    let s = Server::start();
    s.provision().await;
    let admin = |r: RequestBuilder| r.basic_auth("admin", Some(ADMIN));
    let db1 = new_client(&s, "db1", &[]).await;
    let other = new_client(&s, "other", &[]).await;
    let create = |body: Value| admin(s.own(Method::POST, "/clients")).json(&body).send();
    let rename = |body: Value| {
        admin(s.own(Method::PATCH, &format!("/clients/{other}")))
            .json(&body)
            .send()
    };

    // (name, the message creating it, or renaming `other` to it, gets)
    let cases: [(&str, u16, &str); 9] = [
        ("db1\u{200B}", 400, INVISIBLE_NAME),
        ("\u{FF44}\u{FF42}\u{FF11}", 409, TAKEN), // ｄｂ１
        ("\u{FF24}\u{FF22}\u{FF11}", 409, TAKEN), // ＤＢ１: names ignore case, as before
        ("db1\u{202E}", 400, INVISIBLE_NAME),
        ("d\u{200D}b1", 400, INVISIBLE_NAME),
        ("db\u{0007}1", 400, INVISIBLE_NAME),
        ("db\u{2028}1", 400, INVISIBLE_NAME),
        ("\u{FEFF}db1", 400, INVISIBLE_NAME),
        (" db1", 400, "name must not start or end with whitespace"),
    ];
    for (name, status, message) in cases {
        let r = create(json!({"name": name, "hostName": "h.example"}))
            .await
            .unwrap();
        let got = own_error(r, status, any_message()).await;
        assert_eq!(got, message, "create {name:?}");
        let r = rename(json!({"name": name})).await.unwrap();
        let got = own_error(r, status, any_message()).await;
        assert_eq!(got, message, "rename to {name:?}");
    }
    // Host names and display names: the same characters are refused, each field named.
    for (field, bad) in [
        ("hostName", "db1.example\u{200B}"),
        ("hostName", "db1\u{202E}elpmaxe"),
        ("hostName", "db1.exa\u{0000}mple"),
        ("displayName", "Database\u{200C} 1"),
        ("displayName", "Data\u{061C}base"),
    ] {
        let mut body = json!({"name": "fresh", "hostName": "fresh.example"});
        body[field] = json!(bad);
        let r = create(body).await.unwrap();
        let want = format!("{field} must not contain invisible, control or format characters");
        let got = own_error(r, 400, any_message()).await;
        assert_eq!(got, want, "create with {field} {bad:?}");
        let r = rename(json!({field: bad})).await.unwrap();
        let got = own_error(r, 400, any_message()).await;
        assert_eq!(got, want, "change {field} to {bad:?}");
    }
    let r = rename(json!({"displayName": "Other "})).await.unwrap();
    let message = "displayName must not start or end with whitespace";
    own_error(r, 400, message).await;
    // Nothing of the above was stored.
    let list: Value = admin(s.own(Method::GET, "/clients"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db1", "other"]);

    // Full-width input is stored, and shown on every face, in its normalized form.
    let r = create(json!({
        "name": "\u{FF57}\u{FF45}\u{FF42}\u{FF11}",              // ｗｅｂ１
        "hostName": "\u{FF57}\u{FF45}\u{FF42}\u{FF11}.example",  // ｗｅｂ１.example
        "displayName": "\u{FF37}\u{FF45}\u{FF42}\u{3000}\u{FF11}", // Ｗｅｂ　１
    }))
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let web: Value = r.json().await.unwrap();
    assert_eq!(
        (&web["name"], &web["hostName"], &web["displayName"]),
        (&json!("web1"), &json!("web1.example"), &json!("Web 1"))
    );
    let id = web["id"].as_u64().unwrap();
    let token = login(&s, "admin", ADMIN).await;
    let props: Value = cv(&s, Method::GET, &format!("Client/{id}"))
        .header("Authtoken", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entity = &props["clientProperties"][0]["client"]["clientEntity"];
    assert_eq!(
        (
            &entity["clientName"],
            &entity["hostName"],
            &entity["displayName"]
        ),
        (&json!("web1"), &json!("web1.example"), &json!("Web 1"))
    );
    let r = create(json!({"name": "WEB1", "hostName": "h"}))
        .await
        .unwrap();
    own_error(r, 409, TAKEN).await;

    // A rename to a full-width name moves the name's index with it.
    let r = rename(json!({"name": "\u{FF4F}\u{FF54}\u{FF48}\u{FF45}\u{FF52}\u{FF12}"})) // ｏｔｈｅｒ２
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "other2");
    let r = create(json!({"name": "other2", "hostName": "h"}))
        .await
        .unwrap();
    own_error(r, 409, TAKEN).await;
    let r = create(json!({"name": "other", "hostName": "h"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the old name is free again");
    // Deleting frees the normalized name.
    assert_eq!(
        admin(s.own(Method::DELETE, &format!("/clients/{db1}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let r = create(json!({"name": "\u{FF44}\u{FF42}\u{FF11}", "hostName": "h"}))
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "db1");
}

/// The restore decision is for root Administrators and the root namespace's Backup user (the
/// account backup software uses). A namespace owns no backup clients: its Backup user is
/// refused, and the refusal is no decision (no decision event is written for it).
#[tokio::test]
async fn a_namespace_s_backup_user_gets_no_restore_decision() {
    let s = Server::start();
    s.provision().await;
    let id = new_client(&s, "db", &[]).await;
    s.create_user(Some("backup"), "Backup", PASS).await;
    // Root makes the namespace's user before the namespace exists, then the namespace.
    s.create_user(Some("ns1~backup"), "Backup", PASS).await;
    let r = s
        .put("/namespaces/ns1")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let path = format!("/clients/{id}/restore-authorization?operation=restore");
    let r = s
        .own(Method::GET, &path)
        .basic_auth("backup", Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["reason"], "no-passkey");
    let r = s
        .own(Method::GET, &path)
        .basic_auth("ns1~backup", Some(PASS))
        .send()
        .await
        .unwrap();
    own_error(r, 403, "Access denied.").await;
    let decisions: Vec<Value> = audit_events(&s)
        .await
        .into_iter()
        .filter(|e| e["action"] == "restore decision: restore")
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["actor"], "backup");
    assert_eq!(decisions[0]["outcome"], "allowed");
}
