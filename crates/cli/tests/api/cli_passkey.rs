//! `strongroom passkey ...` and `strongroom restore-decision` (docs/cli.md, "Backup clients
//! and passkeys"): passkeys through the backup-client face, the decision through Strongroom's
//! own API; the real binary against a real server, with the CLI alone; human and `--json`
//! output and the exit codes of each failure.

use serde_json::json;

use crate::common::cli::*;
use crate::common::*;

const CLIENT_PASSKEY: &str = "client passkey for tests";
const CLIENT_PASSKEY_2: &str = "second client passkey for tests";
const COMPANY_PASSKEY: &str = "company passkey for tests";
const OWNER_PASS: &str = "owner passphrase for tests";
const OTHER_PASS: &str = "other backup user passphrase";

fn with<'a>(s: &'a Server, user: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("STRONGROOM_SERVER", s.base.as_str()),
        ("STRONGROOM_FINGERPRINT", s.fingerprint.as_str()),
        ("STRONGROOM_USER", user),
        ("STRONGROOM_PASSWORD", password),
    ]
}

fn plus<'a>(env: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    env.iter().chain(extra).copied().collect()
}

#[tokio::test]
async fn passkeys_decide_whether_a_client_may_restore() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("alice"), "Backup", OWNER_PASS).await;
    s.create_user(Some("bob"), "Backup", OTHER_PASS).await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let admin = with(&s, "admin", ADMIN);
    let alice = with(&s, "alice", OWNER_PASS);
    let bob = with(&s, "bob", OTHER_PASS);

    // A client owned by alice, made with the CLI.
    let made = json_of(
        &cli(
            c,
            &admin,
            &[
                "client",
                "create",
                "--name",
                "db1",
                "--host",
                "db1.example.org",
                "--owner",
                "alice",
                "--json",
            ],
        )
        .await,
    );
    let id = made["id"].as_u64().unwrap().to_string();
    let id = id.as_str();

    // No passkey anywhere: allowed (exit 0).
    let out = ok(&cli(c, &admin, &["restore-decision", id]).await);
    assert_eq!(
        out,
        format!("client {id} may restore: neither the client nor the company has a passkey\n")
    );
    let j = json_of(
        &cli(
            c,
            &admin,
            &["restore-decision", id, "--operation", "browse", "--json"],
        )
        .await,
    );
    assert_eq!(j, json!({"allowed": true, "reason": "no-passkey"}));

    // The owner sets the client's passkey: restore now needs an authorization (exit 5, the
    // answer on stdout).
    let out = ok(&cli(
        c,
        &plus(&alice, &[("STRONGROOM_NEW_PASSKEY", CLIENT_PASSKEY)]),
        &["passkey", "set", "--client", id],
    )
    .await);
    assert_eq!(out, format!("set the passkey of client {id}\n"));
    let denied = cli(c, &admin, &["restore-decision", id, "--json"]).await;
    assert_eq!(denied.status.code(), Some(5));
    let j: serde_json::Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(j, json!({"allowed": false, "reason": "passkey-required"}));
    let denied = cli(c, &admin, &["restore-decision", id]).await;
    assert_eq!(denied.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&denied.stdout).starts_with(&format!(
            "client {id} may not restore: the client's passkey"
        )),
        "{denied:?}"
    );

    // Set again: it exists (7), with the face's sentence.
    let stderr = fails(
        &cli(
            c,
            &plus(&alice, &[("STRONGROOM_NEW_PASSKEY", CLIENT_PASSKEY)]),
            &["passkey", "set", "--client", id],
        )
        .await,
        7,
    );
    assert!(
        stderr.contains("A passkey is already set; modify it instead (error 587204608)"),
        "{stderr}"
    );
    // Another Backup user, not an owner, may not touch it (5).
    let stderr = fails(
        &cli(
            c,
            &plus(&bob, &[("STRONGROOM_PASSKEY", CLIENT_PASSKEY)]),
            &["passkey", "authorize", "--client", id],
        )
        .await,
        5,
    );
    assert!(stderr.contains("sufficient privileges"), "{stderr}");
    // A wrong passkey is an authentication failure (4).
    let stderr = fails(
        &cli(
            c,
            &plus(&alice, &[("STRONGROOM_PASSKEY", "not the passkey at all")]),
            &["passkey", "authorize", "--client", id],
        )
        .await,
        4,
    );
    assert!(stderr.contains("The passkey is incorrect"), "{stderr}");
    after_rate_limit_window(&s).await;

    // Authorize for five minutes: allowed until then.
    let j = json_of(
        &cli(
            c,
            &plus(&alice, &[("STRONGROOM_PASSKEY", CLIENT_PASSKEY)]),
            &[
                "passkey",
                "authorize",
                "--client",
                id,
                "--minutes",
                "5",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(
        j,
        json!({"done": format!("authorized browse and restore for client {id}")})
    );
    let j = json_of(&cli(c, &admin, &["restore-decision", id, "--json"]).await);
    assert_eq!(j["allowed"], true);
    assert_eq!(j["reason"], "authorized");
    // The window is on the appliance clock (set at provisioning), not this machine's.
    let rfc3339 = |v: &serde_json::Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let now = rfc3339(&s.admin_json("/config/time").await["time"]);
    let left = rfc3339(&j["authorizedUntil"]) - now;
    assert!(
        left <= time::Duration::minutes(5) && left > time::Duration::minutes(3),
        "{left}"
    );
    // The Backup user backup software runs as may ask too.
    let out = ok(&cli(c, &bob, &["restore-decision", id]).await);
    assert!(
        out.starts_with(&format!("client {id} may restore: authorized until ")),
        "{out}"
    );

    // Deauthorize: denied again.
    ok(&cli(c, &alice, &["passkey", "deauthorize", "--client", id]).await);
    assert_eq!(
        cli(c, &admin, &["restore-decision", id])
            .await
            .status
            .code(),
        Some(5)
    );

    // Change it: the old one no longer authorizes, the new one does.
    let out = ok(&cli(
        c,
        &plus(
            &alice,
            &[
                ("STRONGROOM_PASSKEY", CLIENT_PASSKEY),
                ("STRONGROOM_NEW_PASSKEY", CLIENT_PASSKEY_2),
            ],
        ),
        &["passkey", "change", "--client", id],
    )
    .await);
    assert_eq!(out, format!("changed the passkey of client {id}\n"));
    fails(
        &cli(
            c,
            &plus(&alice, &[("STRONGROOM_PASSKEY", CLIENT_PASSKEY)]),
            &["passkey", "authorize", "--client", id],
        )
        .await,
        4,
    );
    after_rate_limit_window(&s).await;
    // From a file, mode 0600.
    let file = c.join("passkey");
    std::fs::write(&file, format!("{CLIENT_PASSKEY_2}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    ok(&cli(
        c,
        &alice,
        &[
            "passkey",
            "authorize",
            "--client",
            id,
            "--passkey-file",
            file.to_str().unwrap(),
        ],
    )
    .await);
    assert_eq!(
        cli(c, &admin, &["restore-decision", id])
            .await
            .status
            .code(),
        Some(0)
    );

    // The company passkey: a weak one is refused with the policy's sentence (5); only the
    // root Administrator sets it.
    let stderr = fails(
        &cli(
            c,
            &plus(&admin, &[("STRONGROOM_NEW_PASSKEY", "short")]),
            &["passkey", "set", "--company"],
        )
        .await,
        5,
    );
    assert!(stderr.contains("The passkey is too weak"), "{stderr}");
    fails(
        &cli(
            c,
            &plus(&alice, &[("STRONGROOM_NEW_PASSKEY", COMPANY_PASSKEY)]),
            &["passkey", "set", "--company"],
        )
        .await,
        5,
    );
    ok(&cli(
        c,
        &plus(&admin, &[("STRONGROOM_NEW_PASSKEY", COMPANY_PASSKEY)]),
        &["passkey", "set", "--company"],
    )
    .await);
    // Removing the client's passkey hands the decision to the company's.
    ok(&cli(
        c,
        &plus(&alice, &[("STRONGROOM_PASSKEY", CLIENT_PASSKEY_2)]),
        &["passkey", "remove", "--client", id],
    )
    .await);
    let denied = cli(c, &admin, &["restore-decision", id, "--json"]).await;
    assert_eq!(denied.status.code(), Some(5));
    let j: serde_json::Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(j["reason"], "company-passkey-required");
    ok(&cli(
        c,
        &plus(&admin, &[("STRONGROOM_PASSKEY", COMPANY_PASSKEY)]),
        &["passkey", "authorize", "--company"],
    )
    .await);
    assert_eq!(
        cli(c, &admin, &["restore-decision", id])
            .await
            .status
            .code(),
        Some(0)
    );
    // Removing a passkey there is none of: not found (6).
    fails(
        &cli(
            c,
            &plus(&alice, &[("STRONGROOM_PASSKEY", CLIENT_PASSKEY_2)]),
            &["passkey", "remove", "--client", id],
        )
        .await,
        6,
    );
}

#[tokio::test]
async fn passkey_failures_have_their_exit_codes() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", OWNER_PASS).await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let admin = with(&s, "admin", ADMIN);

    // A passkey on the command line is refused before anything else (2), without echoing it.
    for flag in ["--passkey", "--new-passkey"] {
        let out = cli(
            c,
            &admin,
            &["passkey", "set", "--client", "1", flag, "a secret value"],
        )
        .await;
        let stderr = fails(&out, 2);
        assert!(!stderr.contains("a secret value"), "{stderr}");
        assert!(stderr.contains(&format!("{flag}-file PATH")), "{stderr}");
    }
    // No passkey anywhere and no terminal: a usage error before anything is sent.
    let stderr = fails(
        &cli(c, &admin, &["passkey", "set", "--client", "1"]).await,
        2,
    );
    assert!(stderr.contains("no new passkey"), "{stderr}");
    // On a terminal: asked for without echo, a new one twice; two different answers change
    // nothing.
    let (code, screen) = typed(
        c,
        &admin,
        &["passkey", "set", "--company"],
        &[
            ("new passkey:", COMPANY_PASSKEY),
            ("new passkey (again):", "a different passkey"),
        ],
    );
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("the two new passkeys differ"), "{screen}");
    assert!(!screen.contains(COMPANY_PASSKEY), "echoed: {screen}");
    let (code, screen) = typed(
        c,
        &admin,
        &["passkey", "set", "--company"],
        &[
            ("new passkey:", COMPANY_PASSKEY),
            ("new passkey (again):", COMPANY_PASSKEY),
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("set the passkey of the company"),
        "{screen}"
    );
    assert!(!screen.contains(COMPANY_PASSKEY), "echoed: {screen}");

    // Exactly one of --client and --company.
    let out = cli(c, &admin, &["passkey", "deauthorize"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        c,
        &admin,
        &["passkey", "deauthorize", "--client", "1", "--company"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    // An unknown client: not found (6) on both faces.
    let stderr = fails(
        &cli(
            c,
            &plus(&admin, &[("STRONGROOM_NEW_PASSKEY", CLIENT_PASSKEY)]),
            &["passkey", "set", "--client", "99"],
        )
        .await,
        6,
    );
    assert!(stderr.contains("Client not found"), "{stderr}");
    let stderr = fails(&cli(c, &admin, &["restore-decision", "99"]).await, 6);
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    // The wrong role for the decision (5); a wrong login password (4).
    let op = with(&s, "op", OWNER_PASS);
    fails(&cli(c, &op, &["restore-decision", "1"]).await, 5);
    let wrong = with(&s, "admin", "not the admin passphrase");
    fails(
        &cli(
            c,
            &plus(&wrong, &[("STRONGROOM_NEW_PASSKEY", CLIENT_PASSKEY)]),
            &["passkey", "set", "--company"],
        )
        .await,
        4,
    );
}
