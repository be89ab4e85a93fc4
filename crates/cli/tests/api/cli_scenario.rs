//! The issue's whole scenario through the `strongroom` command line alone (no request of the
//! test's own but the independent signature check): a profile pinned as signstar writes pins,
//! provision, users, random, the backup passphrase, a key generated and its signature verified
//! by pyca, the appliance password changed, a backup client with a passkey and the restore
//! decision, a backup to a file, the audit trail verified, and the backup restored into a
//! second server where the key signs the same.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::cli::*;
use crate::common::keys::pyca;
use crate::common::*;

const OP_PASS: &str = "scenario operator passphrase";
const BK_PASS: &str = "scenario backup user passphrase";
const BACKUP_PASS: &str = "scenario backup passphrase";
const NEW_ADMIN_PASS: &str = "N3w admin-password";
const PASSKEY: &str = "scenario client passkey";

/// Verifies the Ed25519 signature (base64, argv[2]) of argv[3] under the PEM in argv[1].
const VERIFY_ED25519: &str = r#"
import sys, base64
from cryptography.hazmat.primitives import serialization as s
k = s.load_pem_public_key(sys.argv[1].encode())
k.verify(base64.b64decode(sys.argv[2]), sys.argv[3].encode())
print("ok")
"#;

#[tokio::test]
async fn the_whole_appliance_through_the_cli_alone() {
    let one = Server::start();
    let two = Server::start();
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path();
    let pin = |fp: &str| format!("sha256:{}", fp.replace(':', "").to_lowercase());
    for (name, s) in [("one", &one), ("two", &two)] {
        let fp = pin(&s.fingerprint);
        // `profile add` shows the certificate on stderr even with --fingerprint.
        let out = cli(
            c,
            &[],
            &[
                "profile",
                "add",
                name,
                "--server",
                &s.base,
                "--fingerprint",
                &fp,
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let at = |profile: &'static str, user: &'static str, pass: &'static str| {
        vec![
            ("STRONGROOM_PROFILE", profile),
            ("STRONGROOM_USER", user),
            ("STRONGROOM_PASSWORD", pass),
        ]
    };
    let plus = |mut env: Vec<(&'static str, &'static str)>, k: &'static str, v: &'static str| {
        env.push((k, v));
        env
    };
    let admin = at("one", "admin", ADMIN);

    // Provision; users.
    let env = plus(
        plus(
            vec![("STRONGROOM_PROFILE", "one")],
            "STRONGROOM_UNLOCK_PASSPHRASE",
            UNLOCK,
        ),
        "STRONGROOM_ADMIN_PASSPHRASE",
        ADMIN,
    );
    ok(&cli(c, &env, &["provision"]).await);
    for (id, role, pass) in [("op", "operator", OP_PASS), ("bk", "backup", BK_PASS)] {
        let env = plus(admin.clone(), "STRONGROOM_NEW_PASSPHRASE", pass);
        ok(&cli(
            c,
            &env,
            &["users", "add", id, "--role", role, "--real-name", id],
        )
        .await);
    }
    let op = at("one", "op", OP_PASS);
    let random = ok(&cli(c, &op, &["random", "16", "--hex"]).await);
    assert_eq!(random.trim_end().len(), 32);
    let env = plus(
        admin.clone(),
        "STRONGROOM_NEW_BACKUP_PASSPHRASE",
        BACKUP_PASS,
    );
    ok(&cli(c, &env, &["backup-passphrase", "--first"]).await);

    // A key, and a signature pyca verifies.
    ok(&cli(
        c,
        &admin,
        &[
            "keys",
            "generate",
            "release",
            "--type",
            "Curve25519",
            "--mechanism",
            "EdDSA_Signature",
        ],
    )
    .await);
    let pem = ok(&cli(c, &op, &["keys", "public-key", "release"]).await);
    let message = "release 1.0";
    let sign = ["keys", "sign", "release", "--mode", "EdDSA", "--base64"];
    let signature = ok(&cli_stdin(c, &op, &sign, message.as_bytes()).await);
    let signature = signature.trim_end().to_owned();
    assert_eq!(B64.decode(&signature).unwrap().len(), 64);
    let verified = pyca(
        VERIFY_ED25519,
        &[pem.clone(), signature.clone(), message.to_owned()],
    )
    .await;
    assert_eq!(verified.trim(), "ok");

    // The admin's password, changed through the appliance face under its policy.
    let env = plus(admin.clone(), "STRONGROOM_NEW_PASSWORD", "weak");
    fails(&cli(c, &env, &["appliance", "password"]).await, 5);
    let env = plus(admin.clone(), "STRONGROOM_NEW_PASSWORD", NEW_ADMIN_PASS);
    ok(&cli(c, &env, &["appliance", "password"]).await);
    after_rate_limit_window(&one).await;
    fails(&cli(c, &admin, &["users", "list"]).await, 4);
    after_rate_limit_window(&one).await;
    let admin = at("one", "admin", NEW_ADMIN_PASS);

    // A backup client with a passkey: the restore decision follows it.
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
                "--json",
            ],
        )
        .await,
    );
    let id = made["id"].as_u64().unwrap().to_string();
    ok(&cli(
        c,
        &plus(admin.clone(), "STRONGROOM_NEW_PASSKEY", PASSKEY),
        &["passkey", "set", "--client", &id],
    )
    .await);
    assert_eq!(
        cli(c, &admin, &["restore-decision", &id])
            .await
            .status
            .code(),
        Some(5)
    );
    ok(&cli(
        c,
        &plus(admin.clone(), "STRONGROOM_PASSKEY", PASSKEY),
        &["passkey", "authorize", "--client", &id],
    )
    .await);
    let decision = json_of(&cli(c, &admin, &["restore-decision", &id, "--json"]).await);
    assert_eq!(decision["reason"], "authorized");

    // A backup to a file; the audit trail verifies and holds what the CLI did on every face.
    let backup = c.join("one.backup");
    ok(&cli(
        c,
        &at("one", "bk", BK_PASS),
        &["backup", backup.to_str().unwrap()],
    )
    .await);
    let out = ok(&cli(c, &admin, &["audit", "verify"]).await);
    assert!(out.starts_with("verified: "), "{out}");
    let trail = json_of(&cli(c, &admin, &["audit", "list", "--limit", "0", "--json"]).await);
    let faces: std::collections::BTreeSet<&str> = (trail["events"].as_array().unwrap().iter())
        .map(|e| e["face"].as_str().unwrap())
        .collect();
    for face in ["nethsm", "appliance", "backup-client", "strongroom"] {
        assert!(faces.contains(face), "{face}: {faces:?}");
    }

    // Restored into the second server: Locked, unlocked with the first's passphrase; the key
    // is there and signs the same (Ed25519 is deterministic).
    let env = vec![
        ("STRONGROOM_PROFILE", "two"),
        ("STRONGROOM_BACKUP_PASSPHRASE", BACKUP_PASS),
    ];
    let j = json_of(&cli(c, &env, &["restore", backup.to_str().unwrap(), "--json"]).await);
    assert_eq!(j["state"], "Locked");
    let env = vec![
        ("STRONGROOM_PROFILE", "two"),
        ("STRONGROOM_UNLOCK_PASSPHRASE", UNLOCK),
    ];
    ok(&cli(c, &env, &["unlock"]).await);
    let op2 = at("two", "op", OP_PASS);
    assert_eq!(
        ok(&cli(c, &op2, &["keys", "public-key", "release"]).await),
        pem
    );
    let again = ok(&cli_stdin(c, &op2, &sign, message.as_bytes()).await);
    assert_eq!(again.trim_end(), signature);
    let admin2 = at("two", "admin", NEW_ADMIN_PASS);
    let clients = json_of(&cli(c, &admin2, &["client", "list", "--json"]).await);
    assert_eq!(clients["clients"][0]["name"], "db1");
}
