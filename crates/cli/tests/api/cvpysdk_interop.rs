//! Interoperability with the real Commvault Python SDK (`cvpysdk` on PyPI, pinned in
//! `tests/requirements.txt`): `tests/interop/cvpysdk_client.py` logs in to the backup-client
//! face through `cvpysdk.commcell.Commcell`, sets and uses a client passkey and the CommCell
//! passkey, and logs out. Then Strongroom's own restore decision must say what the script left:
//! the client's passkey set and restore authorized.
//!
//! The Python environment comes from `scripts/test`, which creates `.venv` and exports
//! `STRONGROOM_TEST_PYTHON`. Without it this test fails (it never skips silently).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::python::{self, test_python, workspace_root};
use crate::common::*;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
const SCRIPT: &str = "tests/interop/cvpysdk_client.py";

/// Registers a backup client owned by the root admin through Strongroom's admin API; its id.
async fn register_client(s: &Server, name: &str) -> u64 {
    let r = s
        .client
        .post(format!("{}/api/strongroom/v1/clients", s.base))
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({
            "name": name,
            "hostName": format!("{name}.example.com"),
            "owners": ["admin"],
        }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 201, "register client {name}: {body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    created["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("register client {name}: no numeric id in {body}"))
}

/// Strongroom's restore decision for a client, asked as the root admin.
async fn restore_authorization(s: &Server, id: u64) -> Value {
    let r = s
        .own(
            Method::GET,
            &format!("/clients/{id}/restore-authorization?operation=restore"),
        )
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "restore-authorization of client {id}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Login, client passkey (create, create again, authorize), CommCell passkey (enable,
/// authorize, unauthorize, change, disable, wrong passkeys) and logout, all through the real
/// `cvpysdk`; then the restore decision for the client is "authorized".
#[tokio::test]
async fn cvpysdk_client() {
    let python = test_python("cvpysdk");
    let s = Server::start();
    s.provision().await;
    let id = register_client(&s, "cvpysdk-interop").await;
    let before = restore_authorization(&s, id).await;
    assert_eq!(before["allowed"], true, "before the script: {before}");
    assert_eq!(
        before["reason"], "no-passkey",
        "before the script: {before}"
    );

    let script = workspace_root().join(SCRIPT);
    let host = s
        .base
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("base {:?} is not https://", s.base));
    let client_id = id.to_string();
    let args = [
        script.as_os_str(),
        "--host".as_ref(),
        host.as_ref(),
        "--client-id".as_ref(),
        client_id.as_ref(),
        "--user".as_ref(),
        "admin".as_ref(),
        "--password".as_ref(),
        ADMIN.as_ref(),
    ];
    let run = python::run(&python, &args, None, SCRIPT_TIMEOUT).await;
    let (stdout, stderr) = (&run.stdout, &run.stderr);

    if !run.passed() {
        let outcome = run.outcome();
        panic!(
            "{} {outcome}\n--- script stdout ---\n{stdout}\n--- script stderr ---\n{stderr}\n\
             --- server log ---\n{}",
            script.display(),
            s.log()
        );
    }
    print!("{stdout}");
    assert!(
        stdout.contains("cvpysdk interop: all checks passed"),
        "the script succeeded without its final line:\n{stdout}\n{stderr}"
    );

    // The script leaves the client's passkey set and restore authorized, and the CommCell
    // passkey disabled: the decision rests on the client's own authorization.
    let after = restore_authorization(&s, id).await;
    assert_eq!(after["allowed"], true, "after the script: {after}");
    assert_eq!(after["reason"], "authorized", "after the script: {after}");
    let until = after["authorizedUntil"]
        .as_str()
        .unwrap_or_else(|| panic!("after the script: no authorizedUntil in {after}"));
    // The appliance clock started at TIME when provisioned and the window is 30 minutes, so
    // the end lies within the hour after TIME (RFC 3339 UTC times compare as strings).
    assert_eq!(
        TIME, "2026-11-23T12:00:00Z",
        "the bound below assumes this TIME"
    );
    assert!(
        until.len() == TIME.len() && until.ends_with('Z'),
        "authorizedUntil {until:?} is not like {TIME:?}"
    );
    assert!(
        until > TIME && until <= "2026-11-23T13:00:00Z",
        "authorized until {until}, expected within the 30-minute window after {TIME}"
    );

    let r = s
        .own(Method::GET, &format!("/clients/{id}"))
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let client: Value = r.json().await.unwrap();
    assert_eq!(client["passkey"]["enabled"], true, "client after: {client}");
}
