//! Issue 14's services, tasks, support bundles and NetHSM's `/health/diagnose`: each
//! operation's codes and bodies; a stopped face answering 503 in its own shape until it is
//! started again, across a restart; a support bundle unpacked and searched for every secret
//! of the scenario.

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::common::*;

const OPERATOR_PASS: &str = "operator passphrase of the scenario";
const METRICS_PASS: &str = "metrics passphrase of the scenario";
const BACKUP_PASS: &str = "backup passphrase of the scenario";
const PASSKEY: &str = "client passkey of the scenario";

fn at(s: &Server, method: Method, path: &str, sid: &str) -> RequestBuilder {
    s.appliance(method, path).header("x-dr-session", sid)
}

async fn json_ok(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn action(s: &Server, sid: &str, id: &str, verb: &str) -> Response {
    at(
        s,
        Method::POST,
        &format!("/services/{id}/actions/{verb}"),
        sid,
    )
    .answer()
    .await
}

async fn service(s: &Server, sid: &str, id: &str) -> Value {
    json_ok(
        at(s, Method::GET, &format!("/services/{id}"), sid)
            .answer()
            .await,
    )
    .await
}

/// The message of a stopped service, as docs/errors.md writes it for every face.
fn stopped(name: &str, id: &str) -> String {
    format!(
        "The {name} service ({id}) is stopped; an administrator can start it again through the appliance API (POST /api/rest/configure/v1/services/{id}/actions/start)."
    )
}

fn cv_login(s: &Server, root: &str) -> RequestBuilder {
    let password = base64::engine::general_purpose::STANDARD.encode(ADMIN);
    s.client
        .post(format!("{}{root}/Login", s.base))
        .json(&json!({"username": "admin", "password": password, "mode": 4}))
}

/// The backup-client face, the way a stopped one answers: every route (the service root, a
/// login in its own shape), JSON and XML, at both roots.
async fn assert_backup_client_stopped(s: &Server) {
    let message = stopped("Backup-client API", "backup-client");
    for root in ["/commandcenter/api", "/webconsole/api"] {
        let r = cv_login(s, root).answer().await;
        backup_client_login_error(r, 503, 587204631, message.as_str()).await;
        for (accept, xml) in [("application/json", false), ("application/xml", true)] {
            let r = s
                .client
                .get(format!("{}{root}/Client", s.base))
                .header("accept", accept)
                .answer()
                .await;
            backup_client_error(r, 503, 587204631, message.as_str(), xml).await;
        }
        let r = s.client.get(format!("{}{root}/", s.base)).answer().await;
        backup_client_error(r, 503, 587204631, message.as_str(), false).await;
    }
}

#[tokio::test]
async fn services_stop_and_start_faces_in_their_own_shapes_across_restarts() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", OPERATOR_PASS).await;
    let sid = s.admin_session().await;

    // The list, in the spec's ServiceInfoDrResponseList shape.
    let all = json_ok(at(&s, Method::GET, "/services", &sid).answer().await).await;
    let ids: Vec<&str> = all["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "nethsm",
            "appliance",
            "backup-client",
            "strongroom",
            "syslog"
        ]
    );
    for x in all["list"].as_array().unwrap() {
        assert_eq!(x["is_running"], true, "{x}");
        assert_eq!(x["startup_type"], "AUTOMATIC", "{x}");
        assert!(x["name"].is_string() && x["description"].is_string(), "{x}");
    }
    assert_eq!(all["_meta"]["total"], 5);
    let one = service(&s, &sid, "backup-client").await;
    assert_eq!(one["id"], "backup-client");
    assert_eq!(one["name"], "Backup-client API");
    let filtered = json_ok(
        at(
            &s,
            Method::GET,
            "/services?filter_property=id&filter=syslog&filter=nethsm",
            &sid,
        )
        .answer()
        .await,
    )
    .await;
    assert_eq!(filtered["_meta"]["total"], 2);
    let page = json_ok(
        at(
            &s,
            Method::GET,
            "/services?sort_by=id&order_by=desc&limit=2&offset=1",
            &sid,
        )
        .answer()
        .await,
    )
    .await;
    let ids: Vec<&str> = page["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["strongroom", "nethsm"]);
    for bad in ["limit=ten", "offset=-1", "order_by=up", "filter=x"] {
        let r = at(&s, Method::GET, &format!("/services?{bad}"), &sid)
            .answer()
            .await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_LIST_QUERY"
        );
    }

    // Unknown services, the one that cannot stop, no session, a non-administrator.
    let r = at(&s, Method::GET, "/services/no-such", &sid)
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 404).await,
        "SERVICE_NOT_FOUND"
    );
    for verb in ["start", "stop", "restart"] {
        let r = action(&s, &sid, "no-such", verb).await;
        assert_eq!(
            appliance_documented_error(r, 404).await,
            "SERVICE_NOT_FOUND"
        );
        let r = s
            .appliance(Method::POST, &format!("/services/syslog/actions/{verb}"))
            .answer()
            .await;
        appliance_error(r, 401, "", "").await;
    }
    for path in ["/services", "/services/nethsm"] {
        let r = s.appliance(Method::GET, path).answer().await;
        appliance_error(r, 401, "", "").await;
    }
    let r = action(&s, &sid, "nethsm", "stop").await;
    appliance_error(
        r,
        400,
        "SERVICE_NOT_STOPPABLE",
        "The NetHSM API service cannot be stopped: it is how the appliance is unlocked and recovered.",
    )
    .await;
    assert_eq!(service(&s, &sid, "nethsm").await["is_running"], true);
    for verb in ["start", "restart"] {
        assert_eq!(action(&s, &sid, "nethsm", verb).await.status(), 204);
    }
    // Only root Administrators have appliance sessions.
    let r = s
        .appliance(Method::POST, "/session")
        .basic_auth("op", Some(OPERATOR_PASS))
        .answer()
        .await;
    assert_eq!(appliance_documented_error(r, 403).await, "ACCESS_DENIED");

    // Stop the backup-client face, our own API and the appliance face itself.
    for id in ["backup-client", "strongroom", "appliance"] {
        let r = action(&s, &sid, id, "stop").await;
        assert_eq!(r.status(), 204, "stop {id}: {}", r.text().await.unwrap());
    }
    assert_backup_client_stopped(&s).await;
    let own = s.own_as_admin(Method::GET, "/audit/verify").answer().await;
    own_error(own, 503, stopped("Strongroom API", "strongroom")).await;
    // The appliance face keeps its sessions and its services, and nothing else.
    let r = at(&s, Method::GET, "/appliance", &sid).answer().await;
    appliance_error(
        r,
        503,
        "SERVICE_STOPPED",
        stopped("Appliance configuration API", "appliance"),
    )
    .await;
    let r = at(&s, Method::GET, "/tasks", &sid).answer().await;
    assert_eq!(appliance_documented_error(r, 503).await, "SERVICE_STOPPED");
    let other = s.admin_session().await;
    let who = json_ok(at(&s, Method::GET, "/session", &other).answer().await).await;
    assert_eq!(who["username"], "admin");
    for id in ["backup-client", "strongroom", "appliance"] {
        let x = service(&s, &other, id).await;
        assert_eq!(
            (&x["is_running"], &x["startup_type"]),
            (&json!(false), &json!("MANUAL"))
        );
    }
    // The NetHSM face answers all along.
    assert!(s.admin_json("/system/info").await["softwareVersion"].is_string());

    // Stopped services stay stopped across a restart, before and after unlocking.
    s.restart();
    assert_eq!(s.state().await, "Locked");
    assert_backup_client_stopped(&s).await;
    // The appliance face's own state gate still holds for what a stopped face keeps.
    let r = at(&s, Method::GET, "/services", &other).answer().await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
    let own = s.own_as_admin(Method::GET, "/audit/verify").answer().await;
    own_error(own, 503, stopped("Strongroom API", "strongroom")).await;
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    assert_backup_client_stopped(&s).await;
    let sid = s.admin_session().await;
    let r = at(&s, Method::GET, "/appliance", &sid).answer().await;
    assert_eq!(appliance_documented_error(r, 503).await, "SERVICE_STOPPED");

    // Started again, each face answers as before.
    for (id, verb) in [
        ("appliance", "start"),
        ("strongroom", "restart"),
        ("backup-client", "start"),
    ] {
        assert_eq!(
            action(&s, &sid, id, verb).await.status(),
            204,
            "{verb} {id}"
        );
        assert_eq!(service(&s, &sid, id).await["is_running"], true);
    }
    json_ok(at(&s, Method::GET, "/appliance", &sid).answer().await).await;
    let r = cv_login(&s, "/commandcenter/api").answer().await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let verified = audit_verify(&s).await;
    assert_eq!(verified["verified"], true, "{verified}");
    // Stopping and starting the syslog forwarder is kept too.
    assert_eq!(action(&s, &sid, "syslog", "stop").await.status(), 204);
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let sid = s.admin_session().await;
    assert_eq!(service(&s, &sid, "syslog").await["is_running"], false);
    assert_eq!(action(&s, &sid, "syslog", "restart").await.status(), 204);
    assert_eq!(service(&s, &sid, "syslog").await["is_running"], true);

    // Every change is in the audit trail, with its caller and outcome.
    let events = audit_events(&s).await;
    let changes: Vec<(String, String)> = events
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .contains("/services/{service_id}/actions/")
                && e["status"] != 401
        })
        .map(|e| {
            assert_eq!(e["actor"], "admin", "{e}");
            (
                e["target"]
                    .as_str()
                    .unwrap()
                    .rsplit("/services/")
                    .next()
                    .unwrap()
                    .to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (target, outcome) in [
        ("nethsm/actions/stop", "refused"),
        ("backup-client/actions/stop", "success"),
        ("appliance/actions/stop", "success"),
        ("strongroom/actions/restart", "success"),
        ("syslog/actions/restart", "success"),
    ] {
        assert!(
            changes.contains(&(target.to_owned(), outcome.to_owned())),
            "{target} {outcome} in {changes:?}"
        );
    }
}

/// Polls `GET /tasks/{id}` until the task is finished; returns it.
async fn finished_task(s: &Server, sid: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = json_ok(
            at(s, Method::GET, &format!("/tasks/{id}"), sid)
                .answer()
                .await,
        )
        .await;
        if t["status"] != "QUEUED" && t["status"] != "RUNNING" {
            return t;
        }
        assert!(Instant::now() < deadline, "task {id} did not finish: {t}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every way a secret could be written: in clear, in base64 (standard, URL-safe, with and
/// without padding) and in hex (either case).
fn encodings(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let b = secret.as_bytes();
    vec![
        secret.to_owned(),
        STANDARD.encode(b),
        STANDARD_NO_PAD.encode(b),
        URL_SAFE.encode(b),
        URL_SAFE_NO_PAD.encode(b),
        hex::encode(b),
        hex::encode_upper(b),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn support_bundles_hold_the_diagnosis_and_no_secret() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", OPERATOR_PASS).await;
    s.create_user(
        Some("bk"),
        "Backup",
        "backup user passphrase of the scenario",
    )
    .await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    // A backup client with a passkey, set through the backup-client face (base64 in JSON).
    let r = s
        .own_as_admin(Method::POST, "/clients")
        .json(&json!({"name": "db1", "hostName": "db1.example", "owners": []}))
        .answer()
        .await;
    assert_eq!(r.status(), 201);
    let client = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let r = cv_login(&s, "/commandcenter/api").answer().await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b64 = |x: &str| base64::engine::general_purpose::STANDARD.encode(x);
    let r = s
        .backup_client(Method::POST, &format!("client/{client}/Passkey"))
        .header("Authtoken", &token)
        .json(&json!({"newPasskey": b64(PASSKEY), "passkeyOpType": 1}))
        .answer()
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["errorCode"], 0, "{body}");
    // Authentication with the secrets, right and wrong, on every face, so the log has them
    // all around it.
    assert!(
        !s.backup("bk", "backup user passphrase of the scenario")
            .await
            .is_empty()
    );
    let r = s
        .as_admin(Method::POST, "/random")
        .json(&json!({"length": 8}))
        .answer()
        .await;
    assert_eq!(r.status(), 403);
    let r = s
        .post("/random")
        .basic_auth("op", Some(OPERATOR_PASS))
        .json(&json!({"length": 8}))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let sid = s.admin_session().await;

    // No task, no bundle yet.
    let tasks = json_ok(at(&s, Method::GET, "/tasks", &sid).answer().await).await;
    assert_eq!(tasks["list"], json!([]));
    assert_eq!(tasks["_meta"]["total"], 0);
    let bundles = json_ok(at(&s, Method::GET, "/support-bundles", &sid).answer().await).await;
    assert_eq!(bundles["list"], json!([]));

    // POST: 202 with the task that makes it.
    let r = at(&s, Method::POST, "/support-bundles", &sid)
        .answer()
        .await;
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert!(
        ["QUEUED", "RUNNING", "SUCCESS"].contains(&accepted["status"].as_str().unwrap()),
        "{accepted}"
    );
    assert_eq!(accepted["type"], "generate-support-bundle");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let done = finished_task(&s, &sid, &id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["progress"], 100);
    assert!(done["start_time"].as_i64().unwrap() <= done["complete_time"].as_i64().unwrap());
    let key = done["result"]["key"].as_str().unwrap().to_owned();
    let tasks = json_ok(at(&s, Method::GET, "/tasks", &sid).answer().await).await;
    assert_eq!(tasks["list"][0]["id"], id.as_str());
    for list in ["/tasks", "/support-bundles"] {
        let r = at(&s, Method::GET, &format!("{list}?limit=1&offset=x"), &sid)
            .answer()
            .await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_LIST_QUERY"
        );
        let page = json_ok(
            at(&s, Method::GET, &format!("{list}?limit=0"), &sid)
                .answer()
                .await,
        )
        .await;
        assert_eq!(
            (&page["list"], &page["_meta"]["total"]),
            (&json!([]), &json!(1)),
            "{list}"
        );
    }
    let r = at(&s, Method::GET, "/tasks/no-such-task", &sid)
        .answer()
        .await;
    assert_eq!(appliance_documented_error(r, 404).await, "TASK_NOT_FOUND");

    // Listed with its size and checksum; downloaded as a tar whose MD5 the `md5sum` command
    // agrees with.
    let bundles = json_ok(at(&s, Method::GET, "/support-bundles", &sid).answer().await).await;
    let info = &bundles["list"][0];
    assert_eq!(info["key"], key.as_str());
    assert!(info["time_created"].as_i64().unwrap() > 0);
    let r = at(&s, Method::GET, &format!("/support-bundles/{key}"), &sid)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let tar_bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(info["size"], tar_bytes.len() as u64);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bundle.tar");
    std::fs::write(&path, &tar_bytes).unwrap();
    let md5sum = std::process::Command::new("md5sum")
        .arg(&path)
        .output()
        .unwrap();
    let md5 = String::from_utf8(md5sum.stdout).unwrap();
    assert_eq!(
        info["md5"],
        md5.split_whitespace().next().unwrap(),
        "{info}"
    );

    // Unpacked: every file the docs name, with what it should hold.
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        files.insert(name, content);
    }
    let file = |name: &str| -> &[u8] {
        files
            .get(&format!("strongroom-support/{name}"))
            .unwrap_or_else(|| panic!("{name} in {:?}", files.keys()))
    };
    let json_file = |name: &str| -> Value { serde_json::from_slice(file(name)).unwrap() };
    assert_eq!(json_file("version.json")["state"], "Operational");
    assert!(json_file("version.json")["version"].is_string());
    assert_eq!(json_file("config/server.json")["listen"], "127.0.0.1:0");
    let services = json_file("config/services.json");
    assert_eq!(services.as_array().unwrap().len(), 5);
    let audit = json_file("audit-chain.json");
    assert_eq!(audit["verified"], true, "{audit}");
    assert!(audit["events"].as_u64().unwrap() > 5, "{audit}");
    let checks = json_file("diagnostics.json")["checks"].clone();
    let check = |name: &str| -> Value {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {checks}"))
            .clone()
    };
    for name in [
        "store",
        "data-directory",
        "store-rollback",
        "services",
        "audit-chain",
    ] {
        assert_eq!(check(name)["status"], "ok", "{checks}");
    }
    let metrics = String::from_utf8(file("metrics.prom").to_vec()).unwrap();
    assert!(metrics.contains("# TYPE"), "{metrics}");
    let log = String::from_utf8(file("logs/recent.log").to_vec()).unwrap();
    assert!(
        log.contains("/api/v1/random"),
        "the log has the requests:\n{log}"
    );
    assert!(file("README.txt").starts_with(b"Strongroom support bundle"));
    let records = json_file("config/appliance.json");
    assert!(records.is_array(), "{records}");

    // No secret of the scenario, in any encoding, in any file or in the archive itself.
    let session_token = sid.clone();
    let secrets = [
        UNLOCK,
        ADMIN,
        BACKUP_PASS,
        OPERATOR_PASS,
        METRICS_PASS,
        "backup user passphrase of the scenario",
        PASSKEY,
        token.trim_start_matches("QSDK "),
        &session_token,
    ];
    for secret in secrets {
        for form in encodings(secret) {
            assert!(
                !contains(&tar_bytes, form.as_bytes()),
                "{form:?} ({secret:?}) in the archive"
            );
            for (name, content) in &files {
                assert!(
                    !contains(content, form.as_bytes()),
                    "{form:?} ({secret:?}) in {name}"
                );
            }
        }
    }

    // Deleted, it is gone.
    let r = at(&s, Method::DELETE, &format!("/support-bundles/{key}"), &sid)
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    for method in [Method::GET, Method::DELETE] {
        let r = at(&s, method, &format!("/support-bundles/{key}"), &sid)
            .answer()
            .await;
        assert_eq!(
            appliance_documented_error(r, 404).await,
            "SUPPORT_BUNDLE_NOT_FOUND"
        );
    }
    let r = s.appliance(Method::POST, "/support-bundles").answer().await;
    appliance_error(r, 401, "", "").await;
    let r = s.appliance(Method::GET, "/support-bundles").answer().await;
    appliance_error(r, 401, "", "").await;

    // The generate and delete requests are in the audit trail.
    let events = audit_events(&s).await;
    for action in [
        "POST /api/rest/configure/v1/support-bundles",
        "DELETE /api/rest/configure/v1/support-bundles/{support_bundle_key}",
    ] {
        assert!(
            events.iter().any(|e| e["action"] == action
                && e["outcome"] == "success"
                && e["actor"] == "admin"),
            "{action}"
        );
    }

    // Tasks and bundles live in memory: a restart forgets them.
    let r = at(&s, Method::POST, "/support-bundles", &sid)
        .answer()
        .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    finished_task(&s, &sid, &id).await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let sid = s.admin_session().await;
    let r = at(&s, Method::GET, &format!("/tasks/{id}"), &sid)
        .answer()
        .await;
    assert_eq!(appliance_documented_error(r, 404).await, "TASK_NOT_FOUND");
    let bundles = json_ok(at(&s, Method::GET, "/support-bundles", &sid).answer().await).await;
    assert_eq!(bundles["list"], json!([]));
}

#[tokio::test]
async fn health_diagnose_in_every_state_for_its_roles() {
    let mut s = Server::start();
    let diagnose = |s: &Server| s.get("/health/diagnose");
    // Unprovisioned: anyone.
    let d = json_ok(diagnose(&s).answer().await).await;
    assert_eq!(d["clusterState"]["running"], true, "{d}");
    assert!(d["clusterLogs"].is_array(), "{d}");
    let r = diagnose(&s).header("accept", "text/plain").answer().await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;

    // Operational: Administrators only.
    s.provision().await;
    s.create_user(Some("op"), "Operator", OPERATOR_PASS).await;
    s.create_user(Some("mx"), "Metrics", METRICS_PASS).await;
    let r = diagnose(&s).answer().await;
    nethsm_error(r, 401, "Authentication required.").await;
    for (user, pass) in [("op", OPERATOR_PASS), ("mx", METRICS_PASS)] {
        let r = diagnose(&s).basic_auth(user, Some(pass)).answer().await;
        nethsm_error(r, 403, "Access denied.").await;
    }
    // An Administrator of a namespace may diagnose too (the spec's caller namespaces).
    // Its first Administrator is made before the namespace, as NetHSM does.
    s.create_user(Some("ns1~adm"), "Administrator", OPERATOR_PASS)
        .await;
    let r = s.as_admin(Method::PUT, "/namespaces/ns1").answer().await;
    assert_eq!(r.status(), 204);
    let d = json_ok(
        diagnose(&s)
            .basic_auth("ns1~adm", Some(OPERATOR_PASS))
            .answer()
            .await,
    )
    .await;
    assert_eq!(d["clusterState"]["running"], true);
    let d = json_ok(diagnose(&s).basic_auth("admin", Some(ADMIN)).answer().await).await;
    assert_eq!(d["clusterState"]["running"], true);
    // A healthy node reports no check; the test build's warning about its clock is a log line.
    let checks = [
        "store:",
        "data-directory:",
        "store-rollback:",
        "services:",
        "audit-chain:",
    ];
    for item in d["clusterLogs"].as_array().unwrap() {
        let msg = item["msg"].as_str().unwrap();
        assert!(
            !checks.iter().any(|c| msg.starts_with(c)),
            "a healthy node: {d}"
        );
    }
    let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["clusterLogs", "clusterState"]);

    // A stopped service is reported, as a support bundle reports it.
    let sid = s.admin_session().await;
    assert_eq!(
        action(&s, &sid, "backup-client", "stop").await.status(),
        204
    );
    let d = json_ok(diagnose(&s).basic_auth("admin", Some(ADMIN)).answer().await).await;
    assert_eq!(
        d["clusterLogs"][0],
        json!({"level": "warning", "msg": "services: stopped by an administrator: backup-client"}),
        "{d}"
    );
    // Locked: anyone again. After a restart, the warning the server logs at start about the
    // stopped service is reported after the checks.
    s.lock().await;
    let d = json_ok(diagnose(&s).answer().await).await;
    assert_eq!(d["clusterState"]["running"], true, "{d}");
    assert_eq!(d["clusterLogs"][0]["level"], "warning", "{d}");
    s.restart();
    let d = json_ok(diagnose(&s).answer().await).await;
    let logs = d["clusterLogs"].as_array().unwrap();
    assert_eq!(
        logs[0]["msg"],
        "services: stopped by an administrator: backup-client"
    );
    assert!(
        logs[1..].iter().any(|l| l["level"] == "warning"
            && l["msg"]
                .as_str()
                .unwrap()
                .contains("services stopped by an administrator stay stopped")),
        "{d}"
    );
    for item in logs {
        assert!(
            ["warning", "error"].contains(&item["level"].as_str().unwrap()),
            "{item}"
        );
    }
}

#[tokio::test]
async fn a_factory_reset_starts_every_service_again() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    for id in ["backup-client", "strongroom"] {
        assert_eq!(action(&s, &sid, id, "stop").await.status(), 204);
    }
    assert_backup_client_stopped(&s).await;
    let r = s
        .as_admin(Method::POST, "/system/factory-reset")
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    // Unprovisioned: the faces answer with their state refusals, not as stopped services.
    let r = cv_login(&s, "/commandcenter/api").answer().await;
    backup_client_login_error(
        r,
        503,
        587204623,
        starting("The appliance is Unprovisioned"),
    )
    .await;
    let r = s.own_as_admin(Method::GET, "/audit/verify").answer().await;
    own_error(r, 412, "Service not available").await;
}
