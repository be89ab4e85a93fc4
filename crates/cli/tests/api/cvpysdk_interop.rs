//! Interoperability with the real Commvault Python SDK (`cvpysdk` on PyPI, pinned in
//! `tests/requirements.txt`): `tests/interop/cvpysdk_client.py` logs in to the backup-client
//! face through `cvpysdk.commcell.Commcell`, sets and uses a client passkey and the CommCell
//! passkey, and logs out. Then Strongroom's own restore decision must say what the script left:
//! the client's passkey set and restore authorized.
//!
//! The Python environment comes from `scripts/test`, which creates `.venv` and exports
//! `STRONGROOM_TEST_PYTHON`. Without it this test fails (it never skips silently).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
const SCRIPT: &str = "tests/interop/cvpysdk_client.py";

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The interpreter with the test requirements installed: `STRONGROOM_TEST_PYTHON`, else the
/// workspace's `.venv`. Panics, telling how to get one, when there is none or it lacks `module`.
fn test_python(module: &str) -> PathBuf {
    const HOW: &str = "run the tests through `scripts/test` (it creates .venv from \
                       tests/requirements.txt and sets STRONGROOM_TEST_PYTHON)";
    let python = match std::env::var_os("STRONGROOM_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = workspace_root().join(".venv/bin/python");
            assert!(
                venv.exists(),
                "no Python for the interop tests: STRONGROOM_TEST_PYTHON is not set and {} \
                 does not exist; {HOW}",
                venv.display()
            );
            venv
        }
    };
    let probe = std::process::Command::new(&python)
        .arg("-c")
        .arg(format!("import {module}"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HOW}", python.display()));
    assert!(
        probe.status.success(),
        "{} cannot import {module}: {}; {HOW}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    python
}

async fn read_all(mut pipe: impl tokio::io::AsyncRead + Unpin) -> String {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let _ = pipe.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

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
    let mut child = tokio::process::Command::new(&python)
        .arg(&script)
        .arg("--host")
        .arg(host)
        .arg("--client-id")
        .arg(id.to_string())
        .arg("--user")
        .arg("admin")
        .arg("--password")
        .arg(ADMIN)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {} {}: {e}", python.display(), script.display()));

    // Read both pipes while the script runs, so a timed-out run still shows how far it got.
    let stdout = tokio::spawn(read_all(child.stdout.take().expect("stdout")));
    let stderr = tokio::spawn(read_all(child.stderr.take().expect("stderr")));
    let status = match tokio::time::timeout(SCRIPT_TIMEOUT, child.wait()).await {
        Ok(status) => Some(status.expect("wait for the interop script")),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let stdout = stdout.await.expect("stdout reader");
    let stderr = stderr.await.expect("stderr reader");

    let passed = status.is_some_and(|st| st.success());
    if !passed {
        let outcome = match status {
            Some(st) => format!("exited with {st}"),
            None => format!("timed out after {SCRIPT_TIMEOUT:?} and was killed"),
        };
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
