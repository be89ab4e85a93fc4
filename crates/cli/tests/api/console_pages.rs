//! The console's keys, namespaces and tags, administration and restore-authorization pages
//! (docs/console.md): the latency the dashboard charts, read from the metrics, and the browser
//! run (`console/tests/pages.test.mjs`), whose effects are checked here through the faces'
//! APIs and a syslog listener of our own.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::net::UdpSocket;

use crate::common::*;

const METRICS_PASS: &str = "metrics passphrase of the console pages";

async fn metrics(s: &Server) -> serde_json::Map<String, Value> {
    let r = s
        .get("/metrics")
        .basic_auth("metrics", Some(METRICS_PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>()
        .await
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn number(m: &serde_json::Map<String, Value>, key: &str) -> u64 {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} in {m:?}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_metrics_sum_the_time_spent_answering_per_face() {
    // The dashboard's latency chart divides the growth of this sum by the growth of the
    // request count between two readings.
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("metrics"), "Metrics", METRICS_PASS)
        .await;
    let before = metrics(&s).await;
    let spent = number(&before, "http_request_duration_microseconds_total.nethsm");
    assert!(spent > 0, "{before:?}");
    // Each answered request adds its time (no bound on it is asserted: a shared machine).
    let r = s
        .get("/users")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = s.appliance(Method::GET, "/appliance").send().await.unwrap();
    let after = metrics(&s).await;
    assert!(number(&after, "http_request_duration_microseconds_total.nethsm") > spent);
    assert!(
        number(&after, "http_requests_total.nethsm.2xx")
            > number(&before, "http_requests_total.nethsm.2xx")
    );
    // Every face that answered has its sum, and every value is a string, as NetHSM's are.
    assert!(after.contains_key("http_request_duration_microseconds_total.appliance"));
    assert!(after.values().all(Value::is_string));
    let text = s
        .own(Method::GET, "/metrics")
        .basic_auth("metrics", Some(METRICS_PASS))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        text.matches("# TYPE strongroom_http_request_duration_microseconds_total counter")
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("strongroom_http_request_duration_microseconds_total{face=\"nethsm\"} "));
}

/// The browser run of the new pages; needs what `the_console_in_a_browser` needs, and
/// openssl. `.ci/run` runs it with `--ignored`.
#[tokio::test]
#[ignore = "needs node, console/node_modules, chromium and openssl; run by .ci/run"]
async fn the_console_pages_in_a_browser() {
    let s = Server::start();
    s.provision().await;
    let syslog = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = syslog.local_addr().unwrap().port();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shots = root.join("target/console-screenshots");
    let status = tokio::process::Command::new("node")
        .arg(root.join("console/tests/pages.test.mjs"))
        .current_dir(root.join("console"))
        .env("STRONGROOM_URL", &s.base)
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env("STRONGROOM_ADMIN_PASSPHRASE", ADMIN)
        .env("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK)
        .env("STRONGROOM_SCREENSHOTS", &shots)
        .env("STRONGROOM_SYSLOG_PORT", port.to_string())
        .status()
        .await
        .expect("node runs");
    assert!(
        status.success(),
        "the browser run failed; log:\n{}",
        s.log()
    );
    for page in [
        "dashboard-admin",
        "dashboard-cluster",
        "keys",
        "users-namespaces",
        "admin",
        "clients-authorized",
    ] {
        for shot in [format!("{page}.png"), format!("{page}-narrow.png")] {
            let file = shots.join(shot);
            assert!(file.is_file(), "{} missing", file.display());
        }
    }

    // The test message the page asked for reached the syslog server it set.
    let mut buf = vec![0u8; 65536];
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let n = syslog.recv(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains("Test message from the Strongroom console") {
                return;
            }
            seen.push(text);
        }
    })
    .await;
    assert!(found.is_ok(), "no test message; received {seen:?}");

    // What the run left, as the faces report it: the deleted key is gone, the other stays
    // with no certificate; the Operator's tags and the namespace; the syslog server and the
    // time settings; no support bundle; the client's passkey, its restore authorization ended.
    let r = s
        .get("/keys/conkey1")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .get("/keys/conkey2/cert")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let key = s.admin_json("/keys/conkey2").await;
    assert_eq!(key["type"], "RSA");
    assert_eq!(
        s.admin_json("/users/op2/tags").await,
        serde_json::json!(["blue"])
    );
    let namespaces = s.admin_json("/namespaces").await;
    assert_eq!(namespaces, serde_json::json!([{"id": "ns1"}]));
    let sid = s.admin_session().await;
    let get = |path: &'static str| {
        let req = s.dr(&sid, Method::GET, path);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    let servers = get("/appliance/settings/syslog-servers").await;
    assert_eq!(
        servers["list"],
        serde_json::json!([{"host": "127.0.0.1", "port": port, "protocol": "UDP"}])
    );
    let time = get("/appliance/settings/time").await;
    assert_eq!(time["zone"], "Europe/Berlin");
    assert_eq!(time["synchronization"]["mode"], "HOST");
    let bundles = get("/support-bundles").await;
    assert_eq!(bundles["list"], serde_json::json!([]));
    let clients = s
        .own_as_admin(Method::GET, "/clients")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let db2 = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "db2")
        .expect("db2 registered");
    assert_eq!(db2["passkey"]["enabled"], true);
    assert!(db2["passkey"]["authorizedUntil"].is_null(), "{db2}");
}
