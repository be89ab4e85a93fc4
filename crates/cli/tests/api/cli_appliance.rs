//! `strongroom appliance ...` (docs/cli.md, "The appliance face"): the password change through
//! the appliance face's session, its policy's refusals as the face's sentences; the real binary
//! against a real server.

use crate::common::cli::*;
use crate::common::*;

const OPS_PASS: &str = "ops passphrase for tests";
const FIRST: &str = "Fir5t-appliance pass";
const SECOND: &str = "Sec0nd-appliance pass";

fn with<'a>(s: &'a Server, password: &'a str, new: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("STRONGROOM_SERVER", s.base.as_str()),
        ("STRONGROOM_FINGERPRINT", s.fingerprint.as_str()),
        ("STRONGROOM_USER", "ops"),
        ("STRONGROOM_PASSWORD", password),
        ("STRONGROOM_NEW_PASSWORD", new),
    ]
}

#[tokio::test]
async fn password_change_under_the_policy_with_its_sentences() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("ops"), "Administrator", OPS_PASS).await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();

    // Each rule of the policy, refused with the face's own sentence (5) and the rules as a hint.
    for (new, says) in [
        (
            "Sh0rt!",
            "The new password must be at least 8 characters long.",
        ),
        (
            "no-upper-case-1",
            "The new password must contain an upper-case letter.",
        ),
        ("No-digits-here", "The new password must contain a digit."),
        (
            "NoSpecial1234",
            "The new password must contain a special character",
        ),
    ] {
        let stderr = fails(
            &cli(c, &with(&s, OPS_PASS, new), &["appliance", "password"]).await,
            5,
        );
        assert!(
            stderr.contains(&format!("strongroom: changing the password failed: {says}"))
                && stderr.contains("HTTP 400"),
            "{new}: {stderr}"
        );
        assert!(stderr.contains("hint: the password policy"), "{stderr}");
        assert!(
            !stderr.contains(new),
            "the refused password is not echoed: {stderr}"
        );
    }

    // A good one: changed; the old password no longer logs in on any face, the new one does.
    let out = ok(&cli(c, &with(&s, OPS_PASS, FIRST), &["appliance", "password"]).await);
    assert_eq!(
        out,
        "changed the password of ops: its other sessions ended; use the new one from now on\n"
    );
    after_rate_limit_window(&s).await;
    fails(
        &cli(c, &with(&s, OPS_PASS, ""), &["users", "show", "ops"]).await,
        4,
    );
    after_rate_limit_window(&s).await;
    ok(&cli(c, &with(&s, FIRST, ""), &["users", "show", "ops"]).await);
    let j = json_of(
        &cli(
            c,
            &with(&s, FIRST, SECOND),
            &["appliance", "password", "--json"],
        )
        .await,
    );
    assert_eq!(
        j,
        serde_json::json!({"user": "ops", "passwordChanged": true})
    );
    // One of the last five: refused.
    let stderr = fails(
        &cli(c, &with(&s, SECOND, FIRST), &["appliance", "password"]).await,
        5,
    );
    assert!(
        stderr.contains("The new password must differ from the last five passwords."),
        "{stderr}"
    );
    // A wrong login password: authentication failed (4), nothing changed.
    after_rate_limit_window(&s).await;
    fails(
        &cli(
            c,
            &with(&s, FIRST, "Thi3d-appliance pass"),
            &["appliance", "password"],
        )
        .await,
        4,
    );
    after_rate_limit_window(&s).await;
    ok(&cli(c, &with(&s, SECOND, ""), &["users", "show", "ops"]).await);
    // The new password on the command line: refused before anything else (2).
    let stderr = fails(
        &cli(
            c,
            &with(&s, SECOND, ""),
            &[
                "appliance",
                "password",
                "--new-password",
                "Thi3d-appliance pass",
            ],
        )
        .await,
        2,
    );
    assert!(stderr.contains("--new-password-file PATH"), "{stderr}");
}
