//! Interoperability with real clients: the NetHSM Python client (`nethsm` on PyPI, pinned in
//! `tests/requirements.txt`) drives two servers through `tests/interop/nethsm_client.py`.
//!
//! The Python environment comes from `scripts/test`, which creates `.venv` and exports
//! `STRONGROOM_TEST_PYTHON`. Without it this test fails (it never skips silently).

use std::time::Duration;

use crate::common::python::{self, test_python, workspace_root};
use crate::common::*;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

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

    let args = [
        script.as_os_str(),
        "--a".as_ref(),
        host(&a).as_ref(),
        "--b".as_ref(),
        host(&b).as_ref(),
    ];
    let run = python::run(&python, &args, None, SCRIPT_TIMEOUT).await;
    let (stdout, stderr) = (&run.stdout, &run.stderr);

    if !run.passed() {
        let outcome = run.outcome();
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
