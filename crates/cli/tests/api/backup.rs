//! The backup passphrase (seed 000), and backup and restore of the whole appliance.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const BACKUP_PASS: &str = "the backup passphrase";
const PASS: &str = "a user passphrase";
/// A restore whose backup passphrase is not the backup's (docs/errors.md).
const WRONG_BACKUP_PASSPHRASE: &str =
    "the backup cannot be opened: the backup passphrase is wrong, or the file is damaged";

#[tokio::test]
async fn backup_passphrase_both_shapes_and_every_code() {
    let mut s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", PASS).await;
    let put = |body: Value| {
        s.put("/config/backup-passphrase")
            .basic_auth("admin", Some(ADMIN))
            .json(&body)
    };

    // The seed's shape sets the first passphrase.
    assert_eq!(
        put(json!({"passphrase": "first backup passphrase"}))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // ... but cannot replace it: that needs the current one.
    let r = put(json!({"passphrase": "sneaky replacement"}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "backup passphrase is incorrect.").await;
    // The current spec's shape, with the current passphrase.
    let r =
        put(json!({"newPassphrase": BACKUP_PASS, "currentPassphrase": "first backup passphrase"}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 204);
    let r = put(
        json!({"newPassphrase": "yet another one", "currentPassphrase": "first backup passphrase"}),
    )
    .send()
    .await
    .unwrap();
    nethsm_error(r, 403, "backup passphrase is incorrect.").await;
    // Within a second of a wrong current passphrase, the next is not checked.
    let r = put(json!({"newPassphrase": "yet another one", "currentPassphrase": ""}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 429, "Too many failed attempts; try again in a second.").await;
    after_rate_limit_window(&s).await;
    let r = put(json!({"newPassphrase": "yet another one", "currentPassphrase": ""}))
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "backup passphrase is incorrect.").await;

    // Body problems come before the current passphrase is checked.
    let new_length = "newPassphrase must be between 10 and 200 bytes long";
    let malformed = || starting("Malformed request body: ");
    for (what, body, says) in [
        (
            "weak new, wrong current",
            json!({"newPassphrase": "short", "currentPassphrase": "wrong"}),
            new_length.into(),
        ),
        // Its message names the field wrongly: errors::legacy_backup_passphrase_length_names_its_field.
        ("weak legacy", json!({"passphrase": "short"}), starting("")),
        (
            "too long",
            json!({"newPassphrase": "x".repeat(201), "currentPassphrase": BACKUP_PASS}),
            new_length.into(),
        ),
        (
            "missing current",
            json!({"newPassphrase": "a long enough one"}),
            malformed(),
        ),
        (
            "unknown field",
            json!({"newPassphrase": "a long enough one", "currentPassphrase": BACKUP_PASS, "x": 1}),
            malformed(),
        ),
        (
            "both shapes at once",
            json!({"passphrase": "a long enough one", "newPassphrase": "a long enough one", "currentPassphrase": BACKUP_PASS}),
            malformed(),
        ),
    ] {
        let r = put(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{what}");
        nethsm_error(r, 400, says).await;
    }
    let body = json!({"newPassphrase": "yet another one", "currentPassphrase": BACKUP_PASS});
    let r = s
        .put("/config/backup-passphrase")
        .basic_auth("op", Some(PASS))
        .json(&body)
        .send()
        .await
        .unwrap();
    nethsm_error(r, 403, "Access denied.").await;
    let r = s
        .put("/config/backup-passphrase")
        .json(&body)
        .answer()
        .await;
    nethsm_error(r, 401, "Authentication required.").await;
    let r = s
        .as_admin(Method::PUT, "/config/backup-passphrase")
        .header("accept", "text/plain")
        .json(&body)
        .answer()
        .await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;
    let r = s
        .as_admin(Method::PUT, "/config/backup-passphrase")
        .body(body.to_string())
        .answer()
        .await;
    nethsm_error(r, 415, "Content type not supported; use application/json.").await;
    s.restart();
    let r = s
        .as_admin(Method::PUT, "/config/backup-passphrase")
        .json(&body)
        .answer()
        .await;
    nethsm_error(r, 412, "Service not available").await;
    // The passphrase that counts is still the one set last.
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    s.create_user(Some("bk"), "Backup", PASS).await;
    let file = s.backup("bk", PASS).await;
    let b = Server::start();
    nethsm_error(
        b.restore(file.clone(), "first backup passphrase", None)
            .await,
        400,
        WRONG_BACKUP_PASSPHRASE,
    )
    .await;
    assert_eq!(b.restore(file, BACKUP_PASS, None).await.status(), 204);
}

#[tokio::test]
async fn backup_codes() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("bk"), "Backup", PASS).await;
    s.create_user(Some("op"), "Operator", PASS).await;
    let backup = |user: &str, pass: &str| s.post("/system/backup").basic_auth(user, Some(pass));
    let r = backup("bk", PASS).answer().await;
    nethsm_error(r, 412, "Please configure backup key before doing a backup.").await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    nethsm_error(backup("admin", ADMIN).answer().await, 403, "Access denied.").await;
    nethsm_error(backup("op", PASS).answer().await, 403, "Access denied.").await;
    let r = s.post("/system/backup").answer().await;
    nethsm_error(r, 401, "Authentication required.").await;
    let r = backup("bk", PASS)
        .header("accept", "application/json")
        .answer()
        .await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;
    assert_eq!(
        backup("bk", PASS)
            .header("accept", "application/octet-stream")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        s.backup("bk", PASS)
            .await
            .starts_with(b"STRONGROOMBACKUP\x00\x01")
    );
    s.lock().await;
    let r = backup("bk", PASS).answer().await;
    nethsm_error(r, 412, "Service not available").await;
}

/// Users of every role, namespaces, both passphrases: all of it survives the trip.
#[tokio::test]
async fn round_trip_into_a_fresh_node() {
    let a = Server::start();
    a.provision().await;
    let mut users: BTreeMap<String, String> = BTreeMap::new();
    users.insert("admin".into(), ADMIN.into());
    for role in ["Administrator", "Operator", "Metrics", "Backup"] {
        let id = format!("{}1", role.to_lowercase());
        let pass = format!("{role} passphrase");
        s_create(&a, &id, role, &pass).await;
        users.insert(id, pass);
    }
    // Root makes a namespace's first admin before the namespace exists.
    s_create(&a, "ns1~boss", "Administrator", "namespaced boss").await;
    users.insert("ns1~boss".into(), "namespaced boss".into());
    let r = a
        .put("/namespaces/ns1")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = a
        .put("/users/operator1/tags/berlin")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // A user changed its passphrase: the old one must stay refused on B too.
    let r = a
        .post("/users/operator1/passphrase")
        .basic_auth("operator1", Some("Operator passphrase"))
        .json(&json!({"passphrase": "operator's new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    users.insert("operator1".into(), "operator's new passphrase".into());
    let new_unlock = "a changed unlock passphrase";
    let r = a
        .put("/config/unlock-passphrase")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"newPassphrase": new_unlock, "currentPassphrase": UNLOCK}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    a.set_backup_passphrase(BACKUP_PASS, "").await;
    let file = a.backup("backup1", "Backup passphrase").await;

    let mut b = Server::start();
    let r = b.restore(file, BACKUP_PASS, None).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(b.state().await, "Locked");
    nethsm_error(
        b.unlock(UNLOCK).await,
        403,
        "Unlock failed: the passphrase is incorrect.",
    )
    .await;
    after_rate_limit_window(&b).await;
    assert_eq!(b.unlock(new_unlock).await.status(), 204);
    for (user, pass) in &users {
        let r = b
            .get(&format!("/users/{user}"))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        // Roles without user read rights still authenticate (403, not 401).
        assert!(
            r.status() == 200 || r.status() == 403,
            "{user} on B: {}",
            r.status()
        );
    }
    let r = b
        .get("/users/operator1")
        .basic_auth("operator1", Some("Operator passphrase"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the old passphrase stays refused");
    nethsm_error(r, 401, "Authentication required.").await;
    let ns = b.admin_json("/namespaces").await;
    assert_eq!(ns, json!([{"id": "ns1"}]));
    let tags = b.admin_json("/users/operator1/tags").await;
    assert_eq!(tags, json!(["berlin"]));
    // B has A's backup passphrase and audit trail, and the trail verifies.
    let r = b
        .own(Method::GET, "/audit/verify")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert!(report["events"].as_u64().unwrap() >= 10);
    b.create_user(Some("bk2"), "Backup", PASS).await;
    assert!(!b.backup("bk2", PASS).await.is_empty());
    // Provisioning after a restore is refused; the restored node survives a restart.
    b.restart();
    assert_eq!(b.state().await, "Locked");
    assert_eq!(b.unlock(new_unlock).await.status(), 204);
}

async fn s_create(s: &Server, id: &str, role: &str, pass: &str) {
    s.create_user(Some(id), role, pass).await;
}

/// Every byte of every file of a data directory, by path.
fn snapshot(s: &Server) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = files_under(&s.data_dir);
    files.sort();
    files
}

/// Asserts that `message` is one of the documented refusals of a backup that cannot be used
/// (docs/errors.md, `POST /system/restore`).
fn assert_unusable_backup(message: &str, what: &str) {
    let documented = [
        "not a Strongroom backup",
        "backup format version ",
        "the backup is truncated",
        "the backup has data after its end",
        WRONG_BACKUP_PASSPHRASE,
        "the backup's records are malformed (",
        "the backup's key derivation parameters are not acceptable: ",
        "the backup's unlock record has key derivation parameters that are not acceptable: ",
        "the backup's backup-key record has key derivation parameters that are not acceptable: ",
        "the backup header is malformed",
    ];
    assert!(
        documented.iter().any(|d| message.starts_with(d)),
        "{what}: {message:?} is not a documented refusal of an unusable backup"
    );
}

/// 100 single-byte flips and 100 truncations: each refused with 400, and the target's data
/// stays byte for byte what it was.
#[tokio::test]
async fn damaged_backups_are_refused_and_change_nothing() {
    let a = Server::start();
    a.provision().await;
    for i in 0..20 {
        a.create_user(Some(&format!("user{i}")), "Operator", PASS)
            .await;
    }
    a.create_user(Some("bk"), "Backup", PASS).await;
    a.set_backup_passphrase(BACKUP_PASS, "").await;
    let file = a.backup("bk", PASS).await;
    assert!(file.len() > 1000);

    let b = std::sync::Arc::new(Server::start());
    let before = snapshot(&b);
    let mut attempts: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..100 {
        let pos = i * (file.len() - 1) / 99;
        let mut damaged = file.clone();
        damaged[pos] ^= 1 << (i % 8);
        attempts.push((format!("flip at {pos}"), damaged));
    }
    for i in 0..100 {
        let len = i * (file.len() - 1) / 99;
        attempts.push((format!("truncated to {len}"), file[..len].to_vec()));
    }
    let mut wrong_version = file.clone();
    wrong_version[17] = 2;
    attempts.push(("version 2".into(), wrong_version));
    let mut extended = file.clone();
    extended.extend_from_slice(b"trailing");
    attempts.push(("trailing bytes".into(), extended));
    attempts.push((
        "not a backup".into(),
        b"hello, I am not a backup file at all".to_vec(),
    ));

    let attempts = std::sync::Arc::new(tokio::sync::Mutex::new(attempts));
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (b, attempts) = (b.clone(), attempts.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((what, bytes)) = attempts.lock().await.pop() else {
                    return;
                };
                let r = b.restore(bytes, BACKUP_PASS, None).await;
                assert_eq!(r.status(), 400, "{what}");
                let message = nethsm_error(r, 400, starting("")).await;
                assert_unusable_backup(&message, &what);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = b.restore(file.clone(), "the wrong passphrase", None).await;
    nethsm_error(r, 400, WRONG_BACKUP_PASSPHRASE).await;
    assert_eq!(b.state().await, "Unprovisioned");
    assert!(
        before == snapshot(&b),
        "a refused restore changed the target's files"
    );
    // And the undamaged file still restores.
    assert_eq!(b.restore(file, BACKUP_PASS, None).await.status(), 204);
    assert_eq!(b.state().await, "Locked");
}

#[tokio::test]
async fn restore_into_an_operational_node_replaces_the_user_data() {
    let a = Server::start();
    a.provision().await;
    a.create_user(Some("from-a"), "Operator", "A's operator passphrase")
        .await;
    a.create_user(Some("shared"), "Operator", "A's shared passphrase")
        .await;
    a.create_user(Some("bk"), "Backup", PASS).await;
    let r = a
        .put("/namespaces/only-on-a")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    a.set_backup_passphrase(BACKUP_PASS, "").await;
    let file = a.backup("bk", PASS).await;

    // B: its own unlock passphrase, users, backup passphrase and trail.
    let b = Server::start();
    let b_unlock = "B's own unlock passphrase";
    let r = b
        .post("/provision")
        .json(&json!({"unlockPassphrase": b_unlock, "adminPassphrase": ADMIN, "systemTime": TIME}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    b.create_user(Some("from-b"), "Operator", "B's operator passphrase")
        .await;
    b.create_user(Some("shared"), "Operator", "B's shared passphrase")
        .await;
    b.set_backup_passphrase("B's backup passphrase", "").await;

    // Only B's root Administrator may restore into it.
    let r = b.restore(file.clone(), BACKUP_PASS, None).await;
    nethsm_error(r, 401, "Authentication required.").await;
    let operator = Some(("from-b", "B's operator passphrase"));
    let r = b.restore(file.clone(), BACKUP_PASS, operator).await;
    nethsm_error(r, 403, "Access denied.").await;
    let r = b
        .restore(file.clone(), "not the passphrase", Some(("admin", ADMIN)))
        .await;
    nethsm_error(r, 400, WRONG_BACKUP_PASSPHRASE).await;
    let r = b.restore(file, BACKUP_PASS, Some(("admin", ADMIN))).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(b.state().await, "Operational");

    let ok = |user: &'static str, pass: &'static str| {
        let req = b
            .get(&format!("/users/{user}"))
            .basic_auth(user, Some(pass));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(ok("from-a", "A's operator passphrase").await, 200);
    assert_eq!(ok("shared", "A's shared passphrase").await, 200);
    assert_eq!(
        ok("from-b", "B's operator passphrase").await,
        401,
        "B's users are replaced"
    );
    let ns = b.admin_json("/namespaces").await;
    assert_eq!(ns, json!([{"id": "only-on-a"}]));
    // B keeps its own configuration: backup passphrase, unlock passphrase, trail.
    let r = b
        .put("/config/backup-passphrase")
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({"newPassphrase": "B's next backup passphrase", "currentPassphrase": "B's backup passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let report = audit_verify(&b).await;
    assert_eq!(report["verified"], true);
    b.lock().await;
    assert_eq!(b.unlock(b_unlock).await.status(), 204);
    assert_eq!(
        ok("from-a", "A's operator passphrase").await,
        200,
        "re-sealed under B's key"
    );
}

#[tokio::test]
async fn restore_request_errors() {
    let mut s = Server::start();
    let restore = |form: reqwest::multipart::Form| s.post("/system/restore").multipart(form);
    let r = s
        .post("/system/restore")
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; 10])
        .answer()
        .await;
    nethsm_error(
        r,
        415,
        "Content type not supported; use multipart/form-data.",
    )
    .await;
    let only_args = reqwest::multipart::Form::new().text(
        "arguments",
        json!({"backupPassphrase": BACKUP_PASS}).to_string(),
    );
    let r = restore(only_args).answer().await;
    nethsm_error(r, 400, "The backup_file part is missing.").await;
    let only_file = reqwest::multipart::Form::new().part(
        "backup_file",
        reqwest::multipart::Part::bytes(vec![1, 2, 3]),
    );
    let r = restore(only_file).answer().await;
    nethsm_error(r, 400, "The arguments part is missing.").await;
    let bad_args = reqwest::multipart::Form::new()
        .text("arguments", "{\"backupPassphrase\": \"x\", \"extra\": 1}")
        .part(
            "backup_file",
            reqwest::multipart::Part::bytes(vec![1, 2, 3]),
        );
    let r = restore(bad_args).answer().await;
    nethsm_error(r, 400, starting("Malformed arguments: ")).await;
    let unknown_part = reqwest::multipart::Form::new().text("surprise", "x");
    let r = restore(unknown_part).answer().await;
    nethsm_error(r, 400, starting("Unexpected multipart part")).await;
    let r = s.restore(b"x".to_vec(), "short", None).await;
    let length = "backupPassphrase must be between 10 and 200 bytes long";
    nethsm_error(r, 400, length).await;
    assert_eq!(s.state().await, "Unprovisioned");
    // Locked: 412.
    s.provision().await;
    s.restart();
    let r = s.restore(b"x".to_vec(), BACKUP_PASS, None).await;
    nethsm_error(r, 412, "Service not available").await;
}

/// A current passphrase given to change the unlock or backup passphrase is a guess like a
/// login: one check per (address, passphrase) in flight, and none within a second of a wrong
/// one.
#[tokio::test]
async fn wrong_current_passphrases_are_rate_limited_one_check_at_a_time() {
    let s = Server::start();
    s.provision().await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    let other = s.client_from(std::net::IpAddr::from([127, 0, 0, 2]));
    for (path, current, new, incorrect) in [
        (
            "/config/unlock-passphrase",
            UNLOCK,
            "another unlock passphrase",
            "unlock passphrase is incorrect.",
        ),
        (
            "/config/backup-passphrase",
            BACKUP_PASS,
            "another backup passphrase",
            "backup passphrase is incorrect.",
        ),
    ] {
        let body = |cur: &str| json!({"newPassphrase": new, "currentPassphrase": cur});
        let put = |cur: &str| {
            s.put(path)
                .basic_auth("admin", Some(ADMIN))
                .json(&body(cur))
        };
        let mut guesses = tokio::task::JoinSet::new();
        for i in 0..8 {
            let request = put(&format!("wrong guess number {i}"));
            guesses.spawn(async move {
                let r = request.send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap()["message"].clone())
            });
        }
        let mut checked = 0;
        while let Some(answer) = guesses.join_next().await {
            match answer.unwrap() {
                (403, m) => {
                    assert_eq!(m, incorrect);
                    checked += 1;
                }
                (429, m) => assert_eq!(m, "Too many failed attempts; try again in a second."),
                other => panic!("{path}: unexpected answer {other:?}"),
            }
        }
        assert_eq!(checked, 1, "{path}: parallel guesses were checked");
        // Even the right one waits out the second, from that address; another is not held up
        // by it, and a body that is malformed is answered as such.
        let r = put("still a wrong one").answer().await;
        nethsm_error(r, 429, "Too many failed attempts; try again in a second.").await;
        let r = s
            .as_admin(Method::PUT, path)
            .json(&json!({"newPassphrase": "short", "currentPassphrase": current}))
            .answer()
            .await;
        let length = "newPassphrase must be between 10 and 200 bytes long";
        nethsm_error(r, 400, length).await;
        let r = other
            .put(s.url(path))
            .basic_auth("admin", Some(ADMIN))
            .json(&body("wrong from elsewhere"))
            .answer()
            .await;
        nethsm_error(r, 403, incorrect).await;
        after_rate_limit_window(&s).await;
        let r = put(current).send().await.unwrap();
        assert_eq!(r.status(), 204, "{path}");
    }
}

/// `POST /lock` ends every backup download in progress: a client that reads slowly does not
/// keep receiving the backup (nor keep the domain key in memory) after the lock.
#[tokio::test]
async fn a_lock_ends_a_slow_backup_download() {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let s = Server::start();
    s.provision().await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    s.create_user(Some("backup"), "Backup", PASS).await;
    // Bulk, so the backup is far larger than what the socket buffers, hyper and the
    // download's channel can hold between them: users with long real names.
    for i in 0..8 {
        let r = s
            .put(&format!("/users/bulk{i}"))
            .basic_auth("admin", Some(ADMIN))
            .json(&json!({"realName": "x".repeat(900_000), "role": "Operator", "passphrase": PASS}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // Unlocked and read at full speed, the backup comes whole.
    let whole = s.backup("backup", PASS).await.len();
    assert!(whole > 7_000_000, "{whole}");

    // A small receive buffer, so the server cannot push the backup into the socket.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let tcp = socket.connect(raw::addr(&s)).await.unwrap();
    let mut conn = raw::connector(&s)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("backup:{PASS}"));
    conn.write_all(
        format!(
            "POST /api/v1/system/backup HTTP/1.1\r\nhost: localhost\r\n\
             authorization: Basic {credentials}\r\naccept: application/octet-stream\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while seen.len() < 8 * 1024 {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&seen[..200]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    // The client pauses; meanwhile the node locks.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    s.lock().await;
    // The download ends, broken: never the whole backup, never a clean end of the body.
    let rest = raw::read_until_closed(&mut conn, std::time::Duration::from_secs(30))
        .await
        .expect("the download was still open 30 s after the lock");
    seen.extend_from_slice(&rest);
    assert!(
        seen.len() < whole,
        "the whole backup ({whole} bytes) was sent after the lock"
    );
    assert!(
        !seen.ends_with(b"\r\n0\r\n\r\n"),
        "the body ended as if complete ({} bytes)",
        seen.len()
    );
    assert_eq!(s.state().await, "Locked");
}
