//! Interoperability with real clients: the NetHSM Python client (`nethsm` on PyPI, pinned in
//! `tests/requirements.txt`) drives two servers through `tests/interop/nethsm_client.py`.
//!
//! The Python environment comes from `scripts/test`, which creates `.venv` and exports
//! `STRONGROOM_TEST_PYTHON`. Without it this test fails (it never skips silently).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

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

fn host(server: &Server) -> &str {
    server
        .base
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("base {:?} is not https://", server.base))
}

/// Provision, users, random, backup on A; restore into an Unprovisioned B, unlock, and A's
/// users on B: all through the real `nethsm` client.
#[tokio::test]
async fn nethsm_python_client() {
    let python = test_python("nethsm");
    let a = Server::start();
    let b = Server::start();
    let script = workspace_root().join("tests/interop/nethsm_client.py");

    let mut child = tokio::process::Command::new(&python)
        .arg(&script)
        .arg("--a")
        .arg(host(&a))
        .arg("--b")
        .arg(host(&b))
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

    let passed = status.is_some_and(|s| s.success());
    if !passed {
        let outcome = match status {
            Some(s) => format!("exited with {s}"),
            None => format!("timed out after {SCRIPT_TIMEOUT:?} and was killed"),
        };
        panic!(
            "{} {outcome}\n--- script stdout ---\n{stdout}\n--- script stderr ---\n{stderr}\n\
             --- server A log ---\n{}\n--- server B log ---\n{}",
            script.display(),
            a.log(),
            b.log()
        );
    }
    print!("{stdout}");
    assert!(
        stdout.contains("nethsm interop: all checks passed"),
        "the script succeeded without its final line:\n{stdout}\n{stderr}"
    );
}
