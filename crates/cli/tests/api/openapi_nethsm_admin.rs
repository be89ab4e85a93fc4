//! The NetHSM face's administration (`/config/*`, `/system/*`, `/metrics`, `/cluster/*`)
//! against the OpenAPI document the server publishes for it, with schemathesis
//! (`openapi_nethsm.rs` checks the document itself and runs the rest of the face).
//!
//! Each operation runs in a state it is available in, with the credentials of the role it
//! needs. Those that end the server or wipe it run last on a node of their own, as
//! transitions (`openapi_nethsm::transition`): after the first valid case, every later one is
//! the state gate's 412. `POST /system/shutdown` is not run: its first valid case ends the
//! server, and every later case would find no server to answer (a connection error, not an
//! answer to check); `system.rs`'s `shutdown_stops_the_process` checks its answers.

use serde_json::Value;

use crate::common::openapi_run::{conform, conform_with};
use crate::common::*;
use crate::openapi_faces::fetch_document;
use crate::openapi_nethsm::transition;

/// The document's tags of the operations this file runs, which `openapi_nethsm.rs`'s run
/// leaves out.
const TAGS: [&str; 4] = ["config", "system", "metrics", "cluster"];

/// What a run of the rest of the face leaves out (`--exclude-tag` options), and how many
/// operations that is.
pub(crate) fn excluded(doc: &Value) -> (Vec<String>, usize) {
    let mut count = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let tagged = op["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| TAGS.contains(&t.as_str().unwrap_or(""))));
            count += usize::from(tagged);
        }
    }
    let args = TAGS.iter().map(|t| format!("--exclude-tag={t}")).collect();
    (args, count)
}

/// What a root Administrator may do while Operational, run whole (examples, coverage and
/// fuzzing, valid and invalid requests): nothing here ends the state or the server, and a
/// valid request cannot be made for what would change much (a certificate for the served key,
/// a CA that signed it, the current passphrases: all refused).
const ROOT_ADMIN: [&str; 21] = [
    "getUnattendedBoot",
    "setUnattendedBoot",
    "setBackupPassphrase",
    "setUnlockPassphrase",
    "getTime",
    "setTime",
    "getNetworkConfig",
    "setNetworkConfig",
    "getLoggingConfig",
    "getTlsPublicKey",
    "getTlsCertificate",
    "setTlsCertificate",
    "generateTlsCsr",
    "getClusterCa",
    "setClusterCa",
    "getSystemInfo",
    "uploadUpdate",
    "commitUpdate",
    "cancelUpdate",
    "joinCluster",
    "forceNewCluster",
];

/// The members calls. On the embedded store each is 412 (the document says so) once the
/// caller is checked, before the body or the member id is looked at, as NetHSM orders its
/// checks; so an invalid body is 412 too, which `negative_data_rejection` does not count as a
/// refusal of the data, and that check is left out of their run (their bodies' and ids'
/// checks are `cluster_members.rs`'s, against etcd).
const CLUSTER_MEMBERS: [&str; 5] = [
    "listClusterMembers",
    "addClusterMember",
    "updateClusterMember",
    "removeClusterMember",
    "promoteClusterMember",
];

/// Run with invalid requests (`--mode=negative`, fuzzing phase): a valid one would send this
/// server's syslog to whatever address the case names. schemathesis's negative mode may still
/// send a valid request now and then (it does for `generateTlsKey`), so the test checks
/// afterwards that no case set a destination. Valid requests are `admin_syslog.rs`'s.
const INVALID_ONLY: [&str; 1] = ["setLoggingConfig"];

const METRICS_PASSPHRASE: &str = "metrics passphrase for tests";
const BACKUP_PASSPHRASE: &str = "backup user passphrase for tests";

fn include(ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| format!("--include-operation-id={id}"))
        .collect()
}

/// Everything but the operations that wipe the node or end the server, on a provisioned
/// node, then rebooting it ([`transition`]: the node forgets its keys and comes up Locked, as
/// unattended boot is turned off first).
#[tokio::test]
async fn nethsm_administration_conforms_to_its_document() {
    let server = Server::start();
    server.provision().await;
    let (text, _) = fetch_document(&server, NETHSM).await;
    let url = format!("{}{NETHSM}", server.base);
    // A backup passphrase, so that `POST /system/backup` answers a backup and not the 412 of
    // none set.
    server
        .set_backup_passphrase("backup passphrase for tests", "")
        .await;
    let metrics = server
        .create_user(None, "Metrics", METRICS_PASSPHRASE)
        .await;
    let backup = server.create_user(None, "Backup", BACKUP_PASSPHRASE).await;
    // The member id the `/cluster/members/{MemberID}` cases name: one of the right form, so
    // that they do not only meet the 400 of a malformed id (on this node they are 412 first).
    let config = "\n[parameters]\n\"path.MemberID\" = \"8e9e05c52164694d\"\n";
    let admin = format!("--auth=admin:{ADMIN}");
    let mut runs = Vec::new();
    let mut root_admin = vec![admin.clone()];
    root_admin.extend(include(&ROOT_ADMIN));
    runs.push((root_admin, ROOT_ADMIN.len()));
    runs.push((
        vec![
            format!("--auth={metrics}:{METRICS_PASSPHRASE}"),
            "--include-operation-id=getMetrics".into(),
        ],
        1,
    ));
    runs.push((
        vec![
            format!("--auth={backup}:{BACKUP_PASSPHRASE}"),
            "--include-operation-id=backup".into(),
        ],
        1,
    ));
    let mut members = vec![
        admin.clone(),
        "--exclude-checks=negative_data_rejection".into(),
    ];
    members.extend(include(&CLUSTER_MEMBERS));
    runs.push((members, CLUSTER_MEMBERS.len()));
    let mut invalid = vec![
        admin.clone(),
        "--mode=negative".into(),
        "--phases=fuzzing".into(),
    ];
    invalid.extend(include(&INVALID_ONLY));
    runs.push((invalid, INVALID_ONLY.len()));
    conform_with(
        &server,
        "the NetHSM face's administration",
        &url,
        &text,
        config,
        runs,
    )
    .await;
    assert_eq!(server.state().await, "Operational");
    let r = server
        .get("/config/logging")
        .basic_auth("admin", Some(ADMIN))
        .answer()
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"ipAddress": "0.0.0.0", "port": 514, "logLevel": "info"}),
        "no case set a syslog destination"
    );

    // Rebooting: like locking, its one invalid request (no credentials) would be sent beside
    // valid ones, so only its valid part runs (`lock_needs_credentials` has the same check).
    let r = server
        .put("/config/unattended-boot")
        .basic_auth("admin", Some(ADMIN))
        .json(&serde_json::json!({"status": "off"}))
        .answer()
        .await;
    assert_eq!(r.status(), 204, "unattended boot off");
    let reboot = transition("reboot", &[admin]).pop().unwrap();
    conform(&server, "NetHSM reboot", &url, &text, vec![reboot]).await;
    assert_eq!(server.state().await, "Locked", "a case rebooted");
}

/// Restoring and resetting, on a node of their own: restoring while Operational (a root
/// Administrator's), then resetting ([`transition`]: the first valid case erases the node),
/// then restoring while Unprovisioned (without credentials). schemathesis cannot make a backup
/// file that opens with the backup passphrase, so no case restores: every one is refused.
#[tokio::test]
async fn nethsm_restore_and_factory_reset_conform_to_the_document() {
    let server = Server::start();
    server.provision().await;
    let (text, _) = fetch_document(&server, NETHSM).await;
    let url = format!("{}{NETHSM}", server.base);
    let admin = format!("--auth=admin:{ADMIN}");
    let restore = "--include-operation-id=restore".to_string();
    let runs = vec![
        (vec![admin.clone(), restore.clone()], 1),
        // Like locking, resetting's one invalid request (no credentials) would be sent beside
        // valid ones: only its valid part runs.
        transition("factoryReset", &[admin]).pop().unwrap(),
        (vec![restore], 1),
    ];
    conform(&server, "NetHSM restore and reset", &url, &text, runs).await;
    assert_eq!(
        server.state().await,
        "Unprovisioned",
        "a case reset the node"
    );
}

/// A new TLS key, on a node of its own: each valid case changes the served certificate, which
/// the harness's client pins (schemathesis does not verify it), so nothing of the harness's
/// runs on this node after it. RSA keys are generated at the length the case gives (2048 when
/// none); one of 8192 bits takes seconds, but a case names it only by chance.
#[tokio::test]
async fn nethsm_tls_key_generation_conforms_to_the_document() {
    let server = Server::start();
    server.provision().await;
    let (text, _) = fetch_document(&server, NETHSM).await;
    let url = format!("{}{NETHSM}", server.base);
    let run = vec![
        format!("--auth=admin:{ADMIN}"),
        "--include-operation-id=generateTlsKey".into(),
    ];
    conform(
        &server,
        "NetHSM TLS key generation",
        &url,
        &text,
        vec![(run, 1)],
    )
    .await;
}
