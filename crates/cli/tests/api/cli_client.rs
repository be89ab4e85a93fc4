//! `strongroom client ...`: the real binary as a client of a real server, managing backup
//! clients through `/api/strongroom/v1/clients` (docs/cli.md, docs/admin-api.md).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::*;

const OPERATOR_PASS: &str = "operator passphrase for tests";

/// How a run of `strongroom client ...` logs in.
#[derive(Clone, Copy)]
enum Password<'a> {
    Env(&'a str),
    File(&'a Path),
}

/// Runs `strongroom client ARGS` against `s`, with the connection given as flags, a clean
/// environment (no STRONGROOM_* from the caller) and the password as `password` says.
async fn run(s: &Server, password: Password<'_>, args: &[&str]) -> Output {
    run_with(s, &s.fingerprint, password, args).await
}

async fn run_with(s: &Server, fingerprint: &str, password: Password<'_>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"));
    cmd.arg("client")
        .args(args)
        .args(["--server", &s.base, "--fingerprint", fingerprint])
        .env_remove("STRONGROOM_SERVER")
        .env_remove("STRONGROOM_FINGERPRINT")
        .env_remove("STRONGROOM_USER")
        .env_remove("STRONGROOM_PASSWORD");
    match password {
        Password::Env(p) => cmd.env("STRONGROOM_PASSWORD", p),
        Password::File(path) => cmd.arg("--password-file").arg(path),
    };
    cmd.output().await.expect("run strongroom client")
}

/// Asserts success; returns stdout.
#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Asserts exit code `code` (docs/cli.md, "Exit codes") and nothing on stdout; returns stderr.
#[track_caller]
fn failed(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    stderr
}

/// The first line of `stderr` (the failure) and the `hint: ` line after it.
#[track_caller]
fn failure_and_hint(stderr: &str) -> (&str, &str) {
    let mut lines = stderr.lines();
    let failure = lines.next().unwrap_or_else(|| panic!("{stderr}"));
    let hint = (lines.next().and_then(|h| h.strip_prefix("hint: ")))
        .unwrap_or_else(|| panic!("no hint: {stderr}"));
    (failure, hint)
}

#[track_caller]
fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("stdout is JSON")
}

fn ids(list: &Value) -> Vec<u64> {
    list["clients"]
        .as_array()
        .expect("clients array")
        .iter()
        .map(|c| c["id"].as_u64().expect("numeric id"))
        .collect()
}

#[tokio::test]
async fn create_list_rename_owners_show_delete() {
    let s = Server::start();
    s.provision().await;
    let alice = s
        .create_user(Some("alice"), "Operator", "alice passphrase")
        .await;
    let admin = Password::Env(ADMIN);

    // Without a display name or owners: the display name is the name.
    let web = json_of(
        &run(
            &s,
            admin,
            &[
                "create",
                "--name",
                "web01",
                "--host",
                "web01.example.org",
                "--json",
            ],
        )
        .await,
    );
    let web_id = web["id"].as_u64().expect("numeric id");
    assert_eq!(
        web,
        json!({"id": web_id, "name": "web01", "hostName": "web01.example.org",
               "displayName": "web01", "owners": [],
               "passkey": {"enabled": false, "authorizedUntil": null}})
    );

    let db = json_of(
        &run(
            &s,
            admin,
            &[
                "create",
                "--name",
                "db01",
                "--host",
                "db01.example.org",
                "--display-name",
                "Database 01",
                "--owner",
                &alice,
                "--json",
            ],
        )
        .await,
    );
    let db_id = db["id"].as_u64().expect("numeric id");
    assert_ne!(db_id, web_id);
    assert_eq!(db["displayName"], "Database 01");
    assert_eq!(db["owners"], json!([alice]));

    let list = json_of(&run(&s, admin, &["list", "--json"]).await);
    let mut listed = ids(&list);
    listed.sort();
    let mut both = vec![web_id, db_id];
    both.sort();
    assert_eq!(listed, both);
    let listed_db = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == db_id)
        .unwrap();
    assert_eq!(listed_db, &db);

    // The human-readable table: a header, then a row per client.
    let table = ok(&run(&s, admin, &["list"]).await);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("DISPLAY NAME"));
    assert!(table.contains("Database 01") && table.contains("web01.example.org"));

    // Rename: only the fields given change.
    let renamed = json_of(
        &run(
            &s,
            admin,
            &[
                "rename",
                &web_id.to_string(),
                "--name",
                "web02",
                "--display-name",
                "Web 02",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(renamed["name"], "web02");
    assert_eq!(renamed["displayName"], "Web 02");
    assert_eq!(renamed["hostName"], "web01.example.org");
    let shown = ok(&run(
        &s,
        admin,
        &["rename", &web_id.to_string(), "--host", "web02.example.org"],
    )
    .await);
    assert!(shown.contains("host name:    web02.example.org"), "{shown}");
    assert!(shown.contains("name:         web02\n"), "{shown}");

    // Owners: set, then cleared.
    let owned = json_of(
        &run(
            &s,
            admin,
            &["owners", &web_id.to_string(), "--owner", &alice, "--json"],
        )
        .await,
    );
    assert_eq!(owned["owners"], json!([alice]));
    let cleared = json_of(
        &run(
            &s,
            admin,
            &["owners", &db_id.to_string(), "--none", "--json"],
        )
        .await,
    );
    assert_eq!(cleared["owners"], json!([]));

    // Show, with the password from a mode-0600 file this time.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{ADMIN}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let web = json_of(
        &run(
            &s,
            Password::File(&file),
            &["show", &web_id.to_string(), "--json"],
        )
        .await,
    );
    assert_eq!(
        web,
        json!({"id": web_id, "name": "web02", "hostName": "web02.example.org",
               "displayName": "Web 02", "owners": [alice],
               "passkey": {"enabled": false, "authorizedUntil": null}})
    );
    let human = ok(&run(&s, Password::File(&file), &["show", &web_id.to_string()]).await);
    assert!(
        human.contains(&format!("owners:       {alice}\n")),
        "{human}"
    );
    assert!(human.contains("passkey:      off\n"), "{human}");

    // Delete: gone from show and from the list.
    let out = ok(&run(&s, admin, &["delete", &db_id.to_string()]).await);
    assert_eq!(out, format!("deleted client {db_id}\n"));
    let stderr = failed(&run(&s, admin, &["show", &db_id.to_string()]).await, 6);
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    let list = json_of(&run(&s, admin, &["list", "--json"]).await);
    assert_eq!(ids(&list), vec![web_id]);
}

#[tokio::test]
async fn failures_exit_with_their_documented_codes_and_the_reason_on_stderr() {
    let s = Server::start();
    s.provision().await;

    // The endpoints are there (so the 404 below is about the id, not the path).
    let list = json_of(&run(&s, Password::Env(ADMIN), &["list", "--json"]).await);
    assert_eq!(ids(&list), Vec::<u64>::new());

    // An unknown id (6): what failed, the server's message and 404, and what to do.
    let stderr = failed(&run(&s, Password::Env(ADMIN), &["show", "999999"]).await, 6);
    let (failure, hint) = failure_and_hint(&stderr);
    assert!(
        failure.starts_with("strongroom: showing backup client 999999 failed: "),
        "{stderr}"
    );
    assert!(failure.ends_with(" (HTTP 404 Not Found)"), "{stderr}");
    assert!(hint.contains("list"), "{stderr}");
    let stderr = failed(
        &run(&s, Password::Env(ADMIN), &["delete", "999999"]).await,
        6,
    );
    assert!(
        stderr.starts_with("strongroom: deleting backup client 999999 failed: "),
        "{stderr}"
    );
    let stderr = failed(
        &run(
            &s,
            Password::Env(ADMIN),
            &["rename", "999999", "--name", "x"],
        )
        .await,
        6,
    );
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    let stderr = failed(
        &run(&s, Password::Env(ADMIN), &["owners", "999999", "--none"]).await,
        6,
    );
    assert!(stderr.contains("HTTP 404"), "{stderr}");

    // Another role (5): an Operator may not manage backup clients.
    s.create_user(Some("op1"), "Operator", OPERATOR_PASS).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["client", "list", "--server", &s.base, "--user", "op1"])
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env("STRONGROOM_PASSWORD", OPERATOR_PASS)
        .env_remove("STRONGROOM_USER")
        .output()
        .await
        .unwrap();
    let stderr = failed(&out, 5);
    let (failure, hint) = failure_and_hint(&stderr);
    assert!(failure.contains("(HTTP 403 Forbidden)"), "{stderr}");
    assert!(hint.contains("op1"), "{stderr}");

    // Another certificate's fingerprint (3): the TLS handshake is refused, nothing is sent.
    let mut wrong = s.fingerprint.clone();
    let flipped = if wrong.starts_with('0') { "1" } else { "0" };
    wrong.replace_range(0..1, flipped);
    let stderr = failed(
        &run_with(&s, &wrong, Password::Env(ADMIN), &["list"]).await,
        3,
    );
    let (failure, hint) = failure_and_hint(&stderr);
    assert!(failure.contains("is not the pinned one"), "{stderr}");
    assert!(!stderr.contains("HTTP "), "{stderr}");
    assert!(hint.contains("fingerprint"), "{stderr}");

    // Nothing listening (3).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "client",
            "list",
            "--server",
            &format!("https://127.0.0.1:{port}"),
        ])
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env("STRONGROOM_PASSWORD", ADMIN)
        .output()
        .await
        .unwrap();
    let stderr = failed(&out, 3);
    assert!(
        stderr.starts_with(&format!(
            "strongroom: cannot reach https://127.0.0.1:{port}"
        )),
        "{stderr}"
    );

    // A fingerprint that is not one (2): refused before connecting.
    let stderr = failed(
        &run_with(&s, "AA:BB", Password::Env(ADMIN), &["list"]).await,
        2,
    );
    assert!(stderr.contains("fingerprint"), "{stderr}");

    // Usage errors (2): a missing argument, an id that is not a number, nothing to rename.
    for args in [&["show"][..], &["show", "seven"], &["rename", "1"]] {
        let stderr = failed(&run(&s, Password::Env(ADMIN), args).await, 2);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }

    // A password file others can read is refused, as ssh refuses such a key.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, ADMIN).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = failed(&run(&s, Password::File(&file), &["list"]).await, 1);
    assert!(stderr.contains("accessible by group or others"), "{stderr}");
    assert!(stderr.contains("0644"), "{stderr}");

    // The password given twice (file and environment) is refused.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"));
    let out = cmd
        .args(["client", "list", "--server", &s.base])
        .arg("--password-file")
        .arg(&file)
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env("STRONGROOM_PASSWORD", ADMIN)
        .output()
        .await
        .unwrap();
    let stderr = failed(&out, 2);
    assert!(stderr.contains("one way only"), "{stderr}");

    // No password at all (2), before anything is sent.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["client", "list", "--server", &s.base])
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env_remove("STRONGROOM_PASSWORD")
        .output()
        .await
        .unwrap();
    let stderr = failed(&out, 2);
    assert!(stderr.contains("no password"), "{stderr}");

    // The connection from the environment alone works.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["client", "list", "--json"])
        .env("STRONGROOM_SERVER", &s.base)
        .env("STRONGROOM_FINGERPRINT", &s.fingerprint)
        .env("STRONGROOM_USER", "admin")
        .env("STRONGROOM_PASSWORD", ADMIN)
        .output()
        .await
        .unwrap();
    assert_eq!(ids(&json_of(&out)), Vec::<u64>::new());

    // No fingerprint at all is a usage error (exit 2).
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["client", "list", "--server", &s.base])
        .env_remove("STRONGROOM_FINGERPRINT")
        .env("STRONGROOM_PASSWORD", ADMIN)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fingerprint"));

    // A wrong password (4): 401 and the server's message. Last, because a failed login makes
    // the server refuse this user from this address for a moment (rate limit).
    let stderr = failed(
        &run(&s, Password::Env("not the admin passphrase"), &["list"]).await,
        4,
    );
    let (failure, hint) = failure_and_hint(&stderr);
    let message = failure
        .strip_prefix("strongroom: listing backup clients failed: ")
        .and_then(|m| m.strip_suffix(" (HTTP 401 Unauthorized)"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(!message.is_empty(), "{stderr}");
    assert!(
        hint.contains("admin") && hint.contains("password"),
        "{stderr}"
    );
    assert!(!stderr.contains(ADMIN));
}

#[tokio::test]
async fn look_alike_names_fail_with_the_servers_reason() {
    let s = Server::start();
    s.provision().await;
    let admin = Password::Env(ADMIN);
    ok(&run(
        &s,
        admin,
        &["create", "--name", "db1", "--host", "db1.example"],
    )
    .await);

    let stderr = failed(
        &run(
            &s,
            admin,
            &["create", "--name", "db1\u{200B}", "--host", "h"],
        )
        .await,
        5,
    );
    assert_eq!(
        failure_and_hint(&stderr).0,
        "strongroom: creating a backup client failed: name must not contain invisible, control or format characters (HTTP 400 Bad Request)"
    );
    let stderr = failed(
        &run(
            &s,
            admin,
            &[
                "create",
                "--name",
                "\u{FF44}\u{FF42}\u{FF11}",
                "--host",
                "h",
            ],
        )
        .await,
        7,
    );
    assert_eq!(
        failure_and_hint(&stderr).0,
        "strongroom: creating a backup client failed: A client of that name exists. (HTTP 409 Conflict)"
    );
    let stderr = failed(
        &run(
            &s,
            admin,
            &["create", "--name", "db2", "--host", "db2\u{202E}.example"],
        )
        .await,
        5,
    );
    assert_eq!(
        failure_and_hint(&stderr).0,
        "strongroom: creating a backup client failed: hostName must not contain invisible, control or format characters (HTTP 400 Bad Request)"
    );
    let other = json_of(
        &run(
            &s,
            admin,
            &["create", "--name", "db2", "--host", "h", "--json"],
        )
        .await,
    );
    let id = other["id"].as_u64().unwrap().to_string();
    let stderr = failed(
        &run(
            &s,
            admin,
            &["rename", &id, "--name", "\u{FF24}\u{FF22}\u{FF11}"],
        )
        .await,
        7,
    );
    assert_eq!(
        failure_and_hint(&stderr).0,
        format!(
            "strongroom: renaming backup client {id} failed: A client of that name exists. (HTTP 409 Conflict)"
        )
    );
    let stderr = failed(
        &run(&s, admin, &["rename", &id, "--display-name", "DB\u{200B}2"]).await,
        5,
    );
    assert_eq!(
        failure_and_hint(&stderr).0,
        format!(
            "strongroom: renaming backup client {id} failed: displayName must not contain invisible, control or format characters (HTTP 400 Bad Request)"
        )
    );
    // A full-width name is shown as stored: normalized.
    let out = ok(&run(
        &s,
        admin,
        &["rename", &id, "--name", "\u{FF44}\u{FF42}\u{FF13}"],
    )
    .await);
    assert!(out.contains("name:         db3"), "{out}");
    let list = ok(&run(&s, admin, &["list"]).await);
    assert!(list.contains("db1") && list.contains("db3"), "{list}");
    assert!(!list.contains('\u{FF44}'), "{list}");
}
