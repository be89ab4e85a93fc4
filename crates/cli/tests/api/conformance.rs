//! Spec conformance of the appliance face (`/api/rest/configure/v1`): schemathesis
//! (`schemathesis` on PyPI, pinned in `tests/requirements.txt`) generates requests for the
//! session and password operations of vrms-appliance-config-api-v2.json, and for its
//! administration (certificates, time, network, syslog, services, tasks, support bundles,
//! updates, configuration-manager), and checks that no response is a server error or
//! contradicts what the spec documents for it.
//!
//! The Python environment comes from `scripts/test`, which creates `.venv` and exports
//! `STRONGROOM_TEST_PYTHON`. Without it this test fails (it never skips silently). The spec
//! itself is the vendor's and not in the repository: see `common/specs.rs` for where it is
//! found (`STRONGROOM_SPEC_DIR`) and when the tests skip, loudly, without it.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::python::test_python;
use crate::common::schemathesis::{self, schemathesis};
use crate::common::specs::{APPLIANCE_SPEC, vendor_spec};
use crate::common::*;

/// Meets the appliance password policy (8+ characters, lower, upper, digit, special), so the
/// account is one the appliance face could also have set.
const ADMIN_PASSWORD: &str = "Conformance-Adm1n!";

/// Base path of the appliance face, as real clients use it.
const APPLIANCE: &str = "/api/rest/configure/v1";

/// `UpdatePasswordSpec.new_password.pattern` as the spec has it. Its escaping is doubled once
/// too often: in the special-character class `[ !"#$%&'()*+,-.\/\\:;<=>?@[\\]`, the `\\`
/// before `]` is an escaped backslash, so that `]` closes the class and the rest,
/// `^_`{|}~"]`, lies outside it: a `^` anchor in mid-pattern (nothing can match) and a lone
/// `]` (a syntax error in ECMA 262 with the `u` flag). Schemathesis rejects it as "not a
/// regex" and cannot generate a body for the operation.
const SPEC_PATTERN: &str = r##"^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.*[ !\"#$%&'()*+,-.\\/\\\\:;<=>?@[\\]^_`{|}~\"])[a-zA-Z0-9 !\"#$%&'()*+,-.\\/\\\\:;<=>?@[\\]^_`{|}~\"]{8,}$"##;

/// What [`SPEC_PATTERN`] means, as its description and notes section 2 say and the server
/// checks: 8 or more of ASCII letters, digits, punctuation and space, with at least one lower,
/// one upper, one digit and one special character.
const INTENDED_PATTERN: &str = r##"^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.*[ !"#$%&'()*+,\-./\\:;<=>?@\[\]^_`{|}~])[a-zA-Z0-9 !"#$%&'()*+,\-./\\:;<=>?@\[\]^_`{|}~]{8,}$"##;

/// A copy of the spec `original` in `dir` that schemathesis can use: the same, but for the
/// one broken pattern (see [`SPEC_PATTERN`]), replaced by what it means. A spec that no longer
/// has the broken pattern is used as it is.
fn usable_spec(original: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(original)
        .unwrap_or_else(|e| panic!("read {}: {e}", original.display()));
    let mut spec: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", original.display()));
    let pattern = spec
        .pointer_mut("/components/schemas/UpdatePasswordSpec/properties/new_password/pattern")
        .expect("UpdatePasswordSpec.new_password has a pattern");
    if *pattern == SPEC_PATTERN {
        *pattern = json!(INTENDED_PATTERN);
    }
    let path = dir.join("vrms-appliance-config-api-v2.json");
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).expect("write the spec copy");
    path
}

/// Logs in on the appliance face as the root admin; returns the session id.
async fn login(server: &Server) -> String {
    let r = server
        .client
        .request(Method::POST, format!("{}{APPLIANCE}/session", server.base))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login: {}", r.text().await.unwrap());
    let body: Value = r.json().await.unwrap();
    body["session_id"]
        .as_str()
        .expect("session_id string")
        .to_owned()
}

/// The options both runs share. `operations` are operationIds of the spec.
fn options(server: &Server, session_id: &str, operations: &[&str], max_time: u32) -> Vec<String> {
    let mut args = vec![
        format!("--url={}{APPLIANCE}", server.base),
        // The server's certificate is self-signed; the harness pins it, schemathesis cannot.
        "--tls-verify=false".into(),
        // Credentials for both security schemes the operations use: `BasicAuth` (POST
        // /session) and `SessionHeader` (the rest). Requests schemathesis makes without them
        // on purpose get 401, which no check below judges (see `--checks`). Basic auth only
        // ever carries the right password (or none): a wrong one would be rate limited (429).
        format!("--auth=admin:{ADMIN_PASSWORD}"),
        format!("--header=x-dr-session: {session_id}"),
    ];
    for op in operations {
        args.push(format!("--include-operation-id={op}"));
    }
    args.extend([
        // `status_code_conformance` is deliberately left out: requests without credentials,
        // or with a missing, unknown or ended session, get 401 with an empty body on every
        // operation (the issue and notes section 2 require it), but the spec lists no 401 for
        // `POST /session` and `GET /session`, so that check fails on them (ST103 "Undocumented
        // status code"). The checks below skip a status the spec does not list (401 there,
        // 429) and judge every documented one: body schema, media type, headers.
        "--checks=not_a_server_error,response_schema_conformance,content_type_conformance,\
         response_headers_conformance"
            .into(),
        // At most 50 cases per operation in each cycle of generation; with `--max-time`,
        // schemathesis repeats fuzzing cycles until the budget is spent, so the run takes
        // that long, whatever the machine.
        "--max-examples=50".into(),
        format!("--max-time={max_time}"),
        "--seed=20261123".into(),
        "--request-timeout=10".into(),
        "--generation-database=none".into(),
        "--no-color".into(),
    ]);
    args
}

/// `POST /session`, `GET /session`, `DELETE /session` and `POST
/// /appliance/settings/access/password` against the spec: no 5xx, and every documented status
/// answered with its documented media type, headers and schema.
#[tokio::test]
async fn appliance_session_and_password_conform_to_the_spec() {
    let Some(original) = vendor_spec(
        APPLIANCE_SPEC,
        "appliance_session_and_password_conform_to_the_spec",
    ) else {
        return;
    };
    let python = test_python("schemathesis.cli");
    let work = tempfile::tempdir().expect("temp dir");
    let spec = usable_spec(&original, work.path());

    let server = Server::start();
    let r = server
        .post("/provision")
        .json(&json!({
            "unlockPassphrase": UNLOCK,
            "adminPassphrase": ADMIN_PASSWORD,
            "systemTime": TIME,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "provision: {}", r.text().await.unwrap());

    let mut outputs = Vec::new();
    // Two runs, because `DELETE /session` ends the one session the `x-dr-session` header
    // carries: in a single run, every operation tested after it would only see 401. The
    // password operation cannot end it: its generated current passwords are wrong (403), so
    // the password never changes and the admin can still log in for the second run (a
    // password change would also lock schemathesis's own `--auth` out). That is also why
    // schemathesis warns that the password operation "returned only 401/403 responses" and
    // "mostly rejected generated data" (400 for bodies that are not an `UpdatePasswordSpec`);
    // warnings do not fail a run.
    let runs: [(&[&str], u32); 2] = [
        (
            &["login", "getCurrentSession", "updateAppliancePassword"],
            20,
        ),
        (&["logout"], 5),
    ];
    for (operations, max_time) in runs {
        let session_id = login(&server).await;
        let args = options(&server, &session_id, operations, max_time);
        let run = schemathesis(&python, work.path(), &spec, &args).await;
        let selected = format!("{} selected /", operations.len());
        if !run.passed() || !run.run.stdout.contains(&selected) {
            panic!(
                "{}",
                schemathesis::failure(
                    &format!(
                        "schemathesis found the appliance face not conforming to the spec, or \
                         did not run (expected \"{selected}\" operations)\n{}",
                        run.report()
                    ),
                    &server.log()
                )
            );
        }
        outputs.push(run.report());
    }
    for output in outputs {
        println!("{output}");
    }
}

/// The administration operations (issue 14) against the spec. Left out: `restartAppliance`
/// and `shutdownAppliance` (they lock the node or stop the server under the run), and
/// `stopService` (it stops the faces under test, so every later case would be a 503;
/// `admin_services.rs` tests it). `updateTimeSettings` has a run of its own with a session of
/// its own: a clock moved far ahead ends the session, and every later case would be a 401.
/// It runs first, because the other run may replace the server's certificate
/// (`updateApplianceCertificate`), after which the harness's pinned client cannot log in.
#[tokio::test]
async fn appliance_administration_conforms_to_the_spec() {
    let Some(original) = vendor_spec(
        APPLIANCE_SPEC,
        "appliance_administration_conforms_to_the_spec",
    ) else {
        return;
    };
    let python = test_python("schemathesis.cli");
    let work = tempfile::tempdir().expect("temp dir");
    let spec = usable_spec(&original, work.path());

    let server = Server::start();
    let r = server
        .post("/provision")
        .json(&json!({
            "unlockPassphrase": UNLOCK,
            "adminPassphrase": ADMIN_PASSWORD,
            "systemTime": TIME,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "provision: {}", r.text().await.unwrap());

    let operations = [
        "getApplianceInfo",
        "getApplianceDisks",
        "getApplianceCertificate",
        "generateCsr",
        "getApplianceCaCertificates",
        "addCaCertificates",
        "deleteCaCertificates",
        "updateApplianceCertificate",
        "probeSsl",
        "getTimeSettings",
        "getTimeZones",
        "getAllNetworkSettings",
        "getNetworkDnsSettings",
        "updateNetworkDnsSettings",
        "getAllNetworkInterfacesSettings",
        "getNetworkInterfaceSettings",
        "updateNetworkInterfaceSettings",
        "getSyslogServers",
        "updateSyslogServers",
        "sendSyslogTestMessage",
        "getAllServices",
        "getService",
        "startService",
        "restartService",
        "getAllTasksInfo",
        "getTaskInfo",
        "getSupportBundleInfos",
        "generateSupportBundle",
        "downloadSupportBundleInfo",
        "deleteSupportBundle",
        "getUpdates",
        "getUpdatesRepository",
        "changeUpdatesRepository",
        "installUpdate",
        "checkExtensionKey",
        "listVcServices",
        "validateConnection",
        "getConfiguration",
        "updateConfiguration",
        "deleteConfiguration",
        "getReconfigureRequired",
        "getReplicationServerSettings",
        "updateReplicationServerSettings",
    ];
    let runs: [(&[&str], u32); 2] = [
        (&["updateTimeSettings", "getTimeSettings"], 10),
        (&operations, 90),
    ];
    let mut outputs = Vec::new();
    for (operations, max_time) in runs {
        let session_id = login(&server).await;
        let args = options(&server, &session_id, operations, max_time);
        let run = schemathesis(&python, work.path(), &spec, &args).await;
        let selected = format!("{} selected /", operations.len());
        if !run.passed() || !run.run.stdout.contains(&selected) {
            panic!(
                "{}",
                schemathesis::failure(
                    &format!(
                        "schemathesis found the appliance administration not conforming to \
                         the spec, or did not run (expected \"{selected}\" operations)\n{}",
                        run.report()
                    ),
                    &server.log()
                )
            );
        }
        outputs.push(run.report());
    }
    for output in outputs {
        println!("{output}");
    }
}
