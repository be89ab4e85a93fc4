//! The `strongroom` command line through the NetHSM face (docs/cli.md): profiles and trust,
//! provision, users, random, the backup passphrase, backup to a file and restore into a second
//! server; human and `--json` output; the documented exit codes; the progress bar on a
//! terminal only. The real binary against real servers, with the CLI alone.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use base64::Engine;
use serde_json::Value;

use crate::common::cli::*;
use crate::common::*;

const BACKUP_USER_PASS: &str = "backup user passphrase for tests";
const OPERATOR_PASS: &str = "operator passphrase for tests";
const OPERATOR_NEW_PASS: &str = "operator's second passphrase for tests";
const BACKUP_PASS: &str = "backup passphrase for tests";

/// `FP` in the form signstar writes pins: `sha256:<lower-case hex>`.
fn signstar(fp: &str) -> String {
    format!("sha256:{}", fp.replace(':', "").to_lowercase())
}

fn admin() -> (&'static str, &'static str) {
    ("STRONGROOM_PASSWORD", ADMIN)
}

#[tokio::test]
async fn provision_users_random_backup_and_restore_into_a_second_server() {
    let one = Server::start();
    let mut two = Server::start();
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path();

    // Profiles: one pinned as the server prints it, one as signstar writes it.
    let out = cli(
        c,
        &[],
        &[
            "profile",
            "add",
            "one",
            "--server",
            &one.base,
            "--fingerprint",
            &one.fingerprint,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&one.fingerprint));
    let added = cli(
        c,
        &[],
        &[
            "profile",
            "add",
            "two",
            "--server",
            &two.base,
            "--fingerprint",
            &signstar(&two.fingerprint),
            "--json",
        ],
    )
    .await;
    assert!(added.status.success());
    let added: Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(added["profile"]["fingerprint"], signstar(&two.fingerprint));
    let list = json_of(&cli(c, &[], &["profile", "list", "--json"]).await);
    assert_eq!(list["one"]["server"], one.base);
    assert_eq!(list["one"]["fingerprint"], signstar(&one.fingerprint));
    let stored = std::fs::read_to_string(c.join("strongroom/profiles.toml")).unwrap();
    assert!(stored.contains("[profiles.two]"), "{stored}");

    // State and provision; STRONGROOM_PROFILE picks the profile like --profile.
    let p1 = [("STRONGROOM_PROFILE", "one")];
    let state = json_of(&cli(c, &p1, &["state", "--json"]).await);
    assert_eq!(state, serde_json::json!({"state": "Unprovisioned"}));
    let out = cli(
        c,
        &[
            ("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK),
            ("STRONGROOM_ADMIN_PASSPHRASE", ADMIN),
        ],
        &["provision", "--profile", "one"],
    )
    .await;
    assert!(ok(&out).starts_with("provisioned "));
    assert_eq!(one.state().await, "Operational");
    assert_eq!(ok(&cli(c, &p1, &["state"]).await), "Operational\n");
    let info = json_of(&cli(c, &p1, &["info", "--json"]).await);
    assert_eq!(info["state"], "Operational");
    assert!(info["vendor"].is_string() && info["product"].is_string());
    let sys = json_of(&cli(c, &[p1[0], admin()], &["system", "info", "--json"]).await);
    assert!(sys["softwareVersion"].is_string(), "{sys}");

    // The older `client` and `system` subcommands follow the profile too.
    let clients = json_of(&cli(c, &[p1[0], admin()], &["client", "list", "--json"]).await);
    assert_eq!(clients, serde_json::json!({"clients": []}));
    let key = json_of(&cli(c, &[p1[0], admin()], &["system", "data-key", "--json"]).await);
    assert!(key["keyVersion"].is_u64(), "{key}");

    // Users: one of a given id, one of an id the server picks.
    let with = |pass: &'static str| [p1[0], admin(), ("STRONGROOM_NEW_PASSPHRASE", pass)];
    let out = ok(&cli(
        c,
        &with(BACKUP_USER_PASS),
        &[
            "users",
            "add",
            "bk",
            "--role",
            "backup",
            "--real-name",
            "Back Up",
        ],
    )
    .await);
    assert_eq!(out, "added user bk (Back Up, Backup)\n");
    let op = json_of(
        &cli(
            c,
            &with(OPERATOR_PASS),
            &[
                "users",
                "add",
                "--role",
                "operator",
                "--real-name",
                "Op Erator",
                "--json",
            ],
        )
        .await,
    );
    let op_id = op["user"].as_str().unwrap().to_owned();
    assert_eq!(op["role"], "Operator");
    let users = json_of(&cli(c, &[p1[0], admin()], &["users", "list", "--json"]).await);
    let mut roles: Vec<(String, String)> = (users.as_array().unwrap().iter())
        .map(|u| {
            (
                u["user"].as_str().unwrap().into(),
                u["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    roles.sort();
    let mut want = vec![
        ("admin".to_owned(), "Administrator".to_owned()),
        ("bk".to_owned(), "Backup".to_owned()),
        (op_id.clone(), "Operator".to_owned()),
    ];
    want.sort();
    assert_eq!(roles, want);
    let table = ok(&cli(c, &[p1[0], admin()], &["users", "list"]).await);
    assert!(table.starts_with("USER "), "{table}");
    assert!(
        table.lines().any(|l| l
            .split("  ")
            .filter(|c| !c.is_empty())
            .map(str::trim)
            .eq(["bk", "Back Up", "Backup"])),
        "{table}"
    );
    let shown = ok(&cli(c, &[p1[0], admin()], &["users", "show", "bk"]).await);
    assert_eq!(
        shown,
        "user:      bk\nreal name: Back Up\nrole:      Backup\n"
    );

    // Random, as the Operator: hex, base64 (more than one request's worth), a file, raw.
    let as_op = [
        p1[0],
        ("STRONGROOM_USER", op_id.as_str()),
        ("STRONGROOM_PASSWORD", OPERATOR_PASS),
    ];
    let hex_out = ok(&cli(c, &as_op, &["random", "100", "--hex"]).await);
    assert_eq!(hex_out.trim_end().len(), 200);
    assert!(hex::decode(hex_out.trim_end()).is_ok());
    let b64 = ok(&cli(c, &as_op, &["random", "1500", "--base64"]).await);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim_end())
        .unwrap();
    assert_eq!(bytes.len(), 1500);
    let raw = cli(c, &as_op, &["random", "32"]).await;
    assert_eq!(raw.status.code(), Some(0));
    assert_eq!(raw.stdout.len(), 32);
    let file = cfg.path().join("random.bin");
    let j = json_of(
        &cli(
            c,
            &as_op,
            &["random", "64", "--out", file.to_str().unwrap(), "--json"],
        )
        .await,
    );
    assert_eq!(j["length"], 64);
    assert_eq!(std::fs::read(&file).unwrap().len(), 64);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let j = json_of(&cli(c, &as_op, &["random", "16", "--json"]).await);
    assert_eq!(j["length"], 16);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(j["base64"].as_str().unwrap())
            .unwrap()
            .len(),
        16
    );

    // The backup passphrase, then a backup as the Backup user, to a file only its owner reads.
    let out = cli(
        c,
        &[
            p1[0],
            admin(),
            ("STRONGROOM_NEW_BACKUP_PASSPHRASE", BACKUP_PASS),
        ],
        &["backup-passphrase", "--first"],
    )
    .await;
    assert!(ok(&out).starts_with("set the backup passphrase"));
    let backup = cfg.path().join("one.backup");
    let as_bk = [
        p1[0],
        ("STRONGROOM_USER", "bk"),
        ("STRONGROOM_PASSWORD", BACKUP_USER_PASS),
    ];
    let j = json_of(&cli(c, &as_bk, &["backup", backup.to_str().unwrap(), "--json"]).await);
    let size = std::fs::metadata(&backup).unwrap().len();
    assert!(size > 0);
    assert_eq!(j["bytes"], size);
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // An existing file is not overwritten without --force.
    let stderr = fails(
        &cli(c, &as_bk, &["backup", backup.to_str().unwrap()]).await,
        2,
    );
    assert!(stderr.contains("--force"), "{stderr}");

    // Restore into the second, Unprovisioned server: it comes up Locked.
    let p2 = ("STRONGROOM_PROFILE", "two");
    let j = json_of(
        &cli(
            c,
            &[p2, ("STRONGROOM_BACKUP_PASSPHRASE", BACKUP_PASS)],
            &["restore", backup.to_str().unwrap(), "--json"],
        )
        .await,
    );
    assert_eq!(j["state"], "Locked");
    assert_eq!(j["bytes"], size);

    // Unlock: a wrong passphrase is an authentication failure (4); the right one works.
    let stderr = fails(
        &cli(
            c,
            &[
                p2,
                ("STRONGROOM_UNLOCK_PASSPHRASE", "not the unlock passphrase"),
            ],
            &["unlock"],
        )
        .await,
        4,
    );
    assert!(
        stderr.contains("HTTP 403") && stderr.contains("hint: check the unlock passphrase"),
        "{stderr}"
    );
    after_rate_limit_window(&two).await;
    let out = ok(&cli(
        c,
        &[p2, ("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK)],
        &["unlock"],
    )
    .await);
    assert!(out.starts_with("unlocked"), "{out}");
    assert_eq!(two.state().await, "Operational");
    let users = json_of(&cli(c, &[p2, admin()], &["users", "list", "--json"]).await);
    assert_eq!(
        users.as_array().unwrap().len(),
        3,
        "the restored users: {users}"
    );

    // The unlock passphrase: changed (current and new), then the next unlock needs the new one.
    let new_unlock = "second unlock passphrase for tests";
    let out = ok(&cli(
        c,
        &[
            p2,
            admin(),
            ("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK),
            ("STRONGROOM_NEW_UNLOCK_PASSPHRASE", new_unlock),
        ],
        &["unlock-passphrase"],
    )
    .await);
    assert!(out.starts_with("changed the unlock passphrase"), "{out}");
    ok(&cli(c, &[p2, admin()], &["lock"]).await);
    fails(
        &cli(
            c,
            &[p2, ("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK)],
            &["unlock"],
        )
        .await,
        4,
    );
    after_rate_limit_window(&two).await;
    ok(&cli(
        c,
        &[p2, ("STRONGROOM_UNLOCK_PASSPHRASE", new_unlock)],
        &["unlock"],
    )
    .await);

    // Passphrases: an Administrator changes the Operator's; the Operator then changes its own.
    let out = ok(&cli(
        c,
        &[
            p1[0],
            admin(),
            ("STRONGROOM_NEW_PASSPHRASE", OPERATOR_NEW_PASS),
        ],
        &["users", "passphrase", &op_id],
    )
    .await);
    assert_eq!(out, format!("changed the passphrase of {op_id}\n"));
    let stderr = fails(&cli(c, &as_op, &["random", "8", "--hex"]).await, 4);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    after_rate_limit_window(&one).await;
    let as_op2 = [
        p1[0],
        ("STRONGROOM_USER", op_id.as_str()),
        ("STRONGROOM_PASSWORD", OPERATOR_NEW_PASS),
    ];
    ok(&cli(c, &as_op2, &["random", "8", "--hex"]).await);
    let mut own = as_op2.to_vec();
    own.push(("STRONGROOM_NEW_PASSPHRASE", OPERATOR_PASS));
    let j = json_of(&cli(c, &own, &["users", "passphrase", "--json"]).await);
    assert_eq!(
        j,
        serde_json::json!({"user": op_id, "passphraseChanged": true})
    );
    ok(&cli(c, &as_op, &["random", "8", "--hex"]).await);

    // Delete, then not found (6); adding it twice is a conflict (7).
    ok(&cli(c, &[p1[0], admin()], &["users", "delete", "bk"]).await);
    fails(
        &cli(c, &[p1[0], admin()], &["users", "show", "bk"]).await,
        6,
    );
    let stderr = fails(
        &cli(
            c,
            &with(OPERATOR_PASS),
            &[
                "users",
                "add",
                &op_id,
                "--role",
                "operator",
                "--real-name",
                "x",
            ],
        )
        .await,
        7,
    );
    assert!(stderr.contains("HTTP 409"), "{stderr}");

    // Tags on the Operator: added, listed, removed.
    let a1 = [p1[0], admin()];
    let out = ok(&cli(c, &a1, &["users", "tag", &op_id, "berlin"]).await);
    assert_eq!(out, format!("tagged {op_id} with berlin\n"));
    let tags = json_of(&cli(c, &a1, &["users", "tags", &op_id, "--json"]).await);
    assert_eq!(tags, serde_json::json!({"user": op_id, "tags": ["berlin"]}));
    ok(&cli(c, &a1, &["users", "untag", &op_id, "berlin"]).await);
    let out = ok(&cli(c, &a1, &["users", "tags", &op_id]).await);
    assert_eq!(out, format!("{op_id} has no tags\n"));

    // Namespaces: a user in a namespace not created yet, then the namespace.
    assert_eq!(
        ok(&cli(c, &a1, &["namespaces", "list"]).await),
        "no namespaces\n"
    );
    ok(&cli(
        c,
        &with(OPERATOR_PASS),
        &[
            "users",
            "add",
            "ns1~alice",
            "--role",
            "operator",
            "--real-name",
            "Alice",
        ],
    )
    .await);
    ok(&cli(c, &a1, &["namespaces", "add", "ns1"]).await);
    let list = json_of(&cli(c, &a1, &["namespaces", "list", "--json"]).await);
    assert_eq!(list, serde_json::json!([{"id": "ns1"}]));
    // The NetHSM face answers an existing namespace with 400, so it is a refusal (5).
    let stderr = fails(&cli(c, &a1, &["namespaces", "add", "ns1"]).await, 5);
    assert!(stderr.contains("Namespace already exists"), "{stderr}");
    ok(&cli(c, &a1, &["namespaces", "delete", "ns1"]).await);
    assert_eq!(
        ok(&cli(c, &a1, &["namespaces", "list"]).await),
        "no namespaces\n"
    );

    // Lock; factory reset needs --yes where it cannot ask.
    ok(&cli(c, &[p2, admin()], &["lock"]).await);
    assert_eq!(two.state().await, "Locked");
    // Reboot: this server comes back Locked.
    let j = json_of(&cli(c, &[p1[0], admin()], &["reboot", "--json"]).await);
    assert_eq!(j, serde_json::json!({"done": "reboot"}));
    assert_eq!(one.state().await, "Locked");
    ok(&cli(
        c,
        &[p1[0], ("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK)],
        &["unlock"],
    )
    .await);
    let stderr = fails(&cli(c, &[p1[0], admin()], &["factory-reset"]).await, 2);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(one.state().await, "Operational");
    ok(&cli(c, &[p1[0], admin()], &["factory-reset", "--yes"]).await);
    assert_eq!(one.state().await, "Unprovisioned");

    // Shutdown of the Locked second server: no credentials needed; the process ends.
    assert_eq!(ok(&cli(c, &[p2], &["shutdown"]).await), "shutting down\n");
    assert!(two.wait_exit().success());

    // Removing a profile.
    ok(&cli(c, &[], &["profile", "remove", "two"]).await);
    let list = json_of(&cli(c, &[], &["profile", "list", "--json"]).await);
    assert!(list.get("two").is_none(), "{list}");
}

#[tokio::test]
async fn failures_have_distinct_exit_codes_and_say_what_to_do() {
    let s = Server::start();
    let other = Server::start();
    s.provision().await;
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path();
    let at = |fp: &str| {
        vec![
            ("STRONGROOM_SERVER", s.base.clone()),
            ("STRONGROOM_FINGERPRINT", fp.to_owned()),
        ]
    };
    let env = |extra: &[(&'static str, &'static str)], fp: &str| {
        let mut v: Vec<(String, String)> =
            at(fp).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    };
    async fn run(c: &Path, env: &[(String, String)], args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli(c, &env, args).await
    }

    // Wrong role: the admin may not draw random bytes (5, with the server's message).
    let stderr = fails(
        &run(
            c,
            &env(&[admin()], &s.fingerprint),
            &["random", "8", "--hex"],
        )
        .await,
        5,
    );
    assert!(
        stderr.contains("(HTTP 403 Forbidden)") && stderr.contains("hint: the user admin may not"),
        "{stderr}"
    );

    // Policy: a weak passphrase is refused (5) with the server's reason.
    let stderr = fails(
        &run(
            c,
            &env(
                &[admin(), ("STRONGROOM_NEW_PASSPHRASE", "short")],
                &s.fingerprint,
            ),
            &["users", "add", "--role", "operator", "--real-name", "x"],
        )
        .await,
        5,
    );
    assert!(stderr.contains("HTTP 400"), "{stderr}");

    // A certificate that does not match the pin (3): refused before any request, and why.
    let stderr = fails(
        &run(c, &env(&[admin()], &other.fingerprint), &["users", "list"]).await,
        3,
    );
    assert!(stderr.contains("is not the pinned one"), "{stderr}");
    assert!(
        stderr.contains("hint: the server's certificate is not the one trusted"),
        "{stderr}"
    );
    assert!(!stderr.contains("HTTP "), "{stderr}");
    // profile add with a fingerprint that does not match stores nothing.
    let stderr = fails(
        &cli(
            c,
            &[],
            &[
                "profile",
                "add",
                "p",
                "--server",
                &s.base,
                "--fingerprint",
                &other.fingerprint,
            ],
        )
        .await,
        3,
    );
    assert!(stderr.contains("not the one expected"), "{stderr}");
    assert!(!c.join("strongroom/profiles.toml").exists());
    // Without a terminal and without --yes or a fingerprint, it cannot ask: nothing stored.
    let stderr = fails(
        &cli(c, &[], &["profile", "add", "p", "--server", &s.base]).await,
        2,
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(!c.join("strongroom/profiles.toml").exists());

    // Unreachable (3): a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = cli(
        c,
        &[
            ("STRONGROOM_SERVER", &format!("https://127.0.0.1:{port}")),
            ("STRONGROOM_FINGERPRINT", &s.fingerprint),
        ],
        &["state"],
    )
    .await;
    let stderr = fails(&out, 3);
    assert!(
        stderr.contains("cannot reach https://127.0.0.1:"),
        "{stderr}"
    );

    // A profile that does not exist (2), naming how to add one.
    let stderr = fails(
        &cli(c, &[("STRONGROOM_PROFILE", "nowhere")], &["state"]).await,
        2,
    );
    assert!(
        stderr.contains("there is no profile \"nowhere\"") && stderr.contains("profile add"),
        "{stderr}"
    );
    fails(&cli(c, &[], &["state", "--profile", "nowhere"]).await, 2);

    // No trust at all (2): there is no accept-any default.
    let stderr = fails(
        &cli(c, &[("STRONGROOM_SERVER", &s.base)], &["state"]).await,
        2,
    );
    assert!(stderr.contains("no way to trust"), "{stderr}");
    // The loudly named insecure mode works, and warns.
    let out = cli(
        c,
        &[("STRONGROOM_SERVER", &s.base)],
        &["state", "--insecure-accept-any-certificate"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Operational\n");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("WARNING: "));

    // A CA file: the server's own (self-signed) certificate verifies it, name and all; as the
    // CA of another server (same name, other key) it does not (3); a file with no certificate
    // is a usage error.
    let r = s
        .as_admin(reqwest::Method::GET, "/config/tls/cert.pem")
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    let ca = c.join("ca.pem");
    std::fs::write(&ca, r.text().await.unwrap()).unwrap();
    let ca = ca.to_str().unwrap();
    let out = cli(
        c,
        &[("STRONGROOM_SERVER", &s.base)],
        &["state", "--ca-file", ca],
    )
    .await;
    assert_eq!(ok(&out), "Operational\n");
    let out = cli(
        c,
        &[
            ("STRONGROOM_SERVER", &other.base),
            ("STRONGROOM_CA_FILE", ca),
        ],
        &["state"],
    )
    .await;
    let stderr = fails(&out, 3);
    assert!(
        stderr.contains("cannot trust") && stderr.contains("invalid peer certificate"),
        "{stderr}"
    );
    let not_pem = c.join("empty.pem");
    std::fs::write(&not_pem, "no certificate here\n").unwrap();
    let out = cli(
        c,
        &[("STRONGROOM_SERVER", &s.base)],
        &["state", "--ca-file", not_pem.to_str().unwrap()],
    )
    .await;
    assert!(fails(&out, 2).contains("holds no certificate"));

    // A secret as an argument (2), refused with a hint, the value not echoed.
    for args in [
        &["unlock", "--unlock-passphrase", "my secret value"][..],
        &["users", "list", "--password=my secret value"],
        &["provision", "--admin-passphrase", "my secret value"],
    ] {
        let stderr = fails(&run(c, &env(&[], &s.fingerprint), args).await, 2);
        assert!(
            stderr.contains("would put a secret on the command line"),
            "{stderr}"
        );
        assert!(stderr.contains("-file PATH"), "{stderr}");
        assert!(!stderr.contains("my secret value"), "{stderr}");
    }
    // No secret at all, and no terminal to ask on (2).
    let stderr = fails(
        &run(c, &env(&[], &s.fingerprint), &["users", "list"]).await,
        2,
    );
    assert!(
        stderr.contains("no password of admin") && stderr.contains("STRONGROOM_PASSWORD"),
        "{stderr}"
    );

    // Wrong password (4). Last: the server then refuses this user for a moment.
    let stderr = fails(
        &run(
            c,
            &env(
                &[("STRONGROOM_PASSWORD", "not the admin passphrase")],
                &s.fingerprint,
            ),
            &["users", "list"],
        )
        .await,
        4,
    );
    assert!(stderr.contains("(HTTP 401 Unauthorized)"), "{stderr}");
    assert!(!stderr.contains("not the admin passphrase"), "{stderr}");
}

#[tokio::test]
async fn progress_bars_on_a_terminal_and_not_when_piped() {
    let one = Server::start();
    let two = Server::start();
    one.provision().await;
    one.create_user(Some("bk"), "Backup", BACKUP_USER_PASS)
        .await;
    one.set_backup_passphrase(BACKUP_PASS, "").await;
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path();
    let as_bk = [
        ("STRONGROOM_SERVER", one.base.as_str()),
        ("STRONGROOM_FINGERPRINT", one.fingerprint.as_str()),
        ("STRONGROOM_USER", "bk"),
        ("STRONGROOM_PASSWORD", BACKUP_USER_PASS),
    ];

    // Colours on a terminal only, and never with NO_COLOR.
    let at_one = &as_bk[..2];
    let screen = on_a_terminal(c, at_one, &["state"]);
    assert!(screen.contains("\x1b[32mOperational\x1b[0m"), "{screen:?}");
    let mut no_color = at_one.to_vec();
    no_color.push(("NO_COLOR", "1"));
    let screen = on_a_terminal(c, &no_color, &["state"]);
    assert!(
        screen.contains("Operational") && !screen.contains('\x1b'),
        "{screen:?}"
    );
    assert_eq!(ok(&cli(c, at_one, &["state"]).await), "Operational\n");

    // Raw random bytes are not written to a terminal.
    let (code, screen) = typed(c, at_one, &["random", "8"], &[]);
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("refusing to write raw bytes to a terminal"),
        "{screen}"
    );

    // Piped: no bar, stderr empty (checked by `ok`).
    let piped = c.join("piped.backup");
    ok(&cli(c, &as_bk, &["backup", piped.to_str().unwrap()]).await);
    // On a terminal: the bar shows the bytes and the rate.
    let shown = c.join("shown.backup");
    let screen = on_a_terminal(c, &as_bk, &["backup", shown.to_str().unwrap()]);
    assert!(
        screen.contains("backup ") && screen.contains("B/s"),
        "{screen:?}"
    );
    // --json on a terminal: no bar either.
    let quiet = c.join("quiet.backup");
    let screen = on_a_terminal(c, &as_bk, &["backup", quiet.to_str().unwrap(), "--json"]);
    assert!(!screen.contains("B/s"), "{screen:?}");

    // Restore on a terminal: bytes of the total, rate and time left.
    let to_two = [
        ("STRONGROOM_SERVER", two.base.as_str()),
        ("STRONGROOM_FINGERPRINT", two.fingerprint.as_str()),
        ("STRONGROOM_BACKUP_PASSPHRASE", BACKUP_PASS),
    ];
    let size = std::fs::metadata(&shown).unwrap().len();
    let screen = on_a_terminal(c, &to_two, &["restore", shown.to_str().unwrap()]);
    assert!(
        screen.contains("restore [") && screen.contains(" left"),
        "{screen:?}"
    );
    assert!(
        screen.contains(&format!("restored {} ({size} bytes)", shown.display())),
        "{screen:?}"
    );
    assert_eq!(two.state().await, "Locked");
}

#[tokio::test]
async fn completions_and_the_man_page_come_from_the_command_definitions() {
    let cfg = tempfile::tempdir().unwrap();
    let bash = ok(&cli(cfg.path(), &[], &["completions", "bash"]).await);
    assert!(bash.contains("complete -F _strongroom"), "{bash}");
    for command in [
        "backup-passphrase",
        "factory-reset",
        "profile",
        "--insecure-accept-any-certificate",
    ] {
        assert!(bash.contains(command), "{command} is completed");
    }
    let zsh = ok(&cli(cfg.path(), &[], &["completions", "zsh"]).await);
    assert!(zsh.starts_with("#compdef strongroom"), "{zsh}");
    let man = ok(&cli(cfg.path(), &[], &["man"]).await);
    assert!(man.contains(".TH strongroom 1"), "{man}");
    assert!(man.contains("factory\\-reset"), "{man}");
    let out = cli(cfg.path(), &[], &["completions", "no-such-shell"]).await;
    assert_eq!(out.status.code(), Some(2), "a usage error");
}

#[tokio::test]
async fn secrets_are_asked_for_without_echo_and_new_ones_twice() {
    let s = Server::start();
    let cfg = tempfile::tempdir().unwrap();
    let at = [
        ("STRONGROOM_SERVER", s.base.as_str()),
        ("STRONGROOM_FINGERPRINT", s.fingerprint.as_str()),
    ];
    let mut env = at.to_vec();
    env.push(("STRONGROOM_ADMIN_PASSPHRASE", ADMIN));

    // Two different answers: nothing is sent.
    let (code, screen) = typed(
        cfg.path(),
        &env,
        &["provision"],
        &[
            ("new unlock passphrase:", UNLOCK),
            ("new unlock passphrase (again):", "a typo of it"),
        ],
    );
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("the two new unlock passphrases differ; nothing was changed"),
        "{screen}"
    );
    assert_eq!(s.state().await, "Unprovisioned");

    // The same twice: provisioned; neither answer was echoed.
    let (code, screen) = typed(
        cfg.path(),
        &env,
        &["provision"],
        &[
            ("new unlock passphrase:", UNLOCK),
            ("new unlock passphrase (again):", UNLOCK),
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains(UNLOCK), "no echo: {screen}");
    assert_eq!(s.state().await, "Operational");

    // The login password: asked once, when the first request needs it.
    let (code, screen) = typed(
        cfg.path(),
        &at,
        &["users", "list"],
        &[("password of admin:", ADMIN)],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Administrator") && !screen.contains(ADMIN),
        "{screen}"
    );
}
