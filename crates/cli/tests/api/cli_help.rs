//! `strongroom help TOPIC` (docs/cli.md): the topics that need more than a line, a
//! subcommand's help, and an unknown word refused with the list of topics.

use crate::common::cli::*;

#[tokio::test]
async fn help_topics_and_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let listed = ok(&cli(c, &[], &["help"]).await);
    for topic in ["trust", "profiles", "secrets", "exit-codes", "output"] {
        assert!(listed.contains(&format!("  {topic} ")), "{listed}");
    }
    let trust = ok(&cli(c, &[], &["help", "trust"]).await);
    assert!(trust.starts_with("Trusting the server\n"), "{trust}");
    assert!(
        trust.contains("sha256:3a91...0c") && trust.contains("exit 3"),
        "{trust}"
    );
    // Two words or one: the same topic.
    let codes = ok(&cli(c, &[], &["help", "exit", "codes"]).await);
    assert_eq!(codes, ok(&cli(c, &[], &["help", "exit-codes"]).await));
    for code in 0..=8 {
        assert!(codes.contains(&format!("\n  {code}  ")), "{code}: {codes}");
    }
    let secrets = ok(&cli(c, &[], &["help", "secrets"]).await);
    assert!(secrets.contains("STRONGROOM_NEW_PASSKEY"), "{secrets}");
    // A subcommand's own help, as deep as it goes.
    let sign = ok(&cli(c, &[], &["help", "keys", "sign"]).await);
    assert!(sign.contains("Usage: strongroom keys sign"), "{sign}");
    assert!(sign.contains("--mode <MODE>"), "{sign}");
    let stderr = fails(&cli(c, &[], &["help", "nonsense"]).await, 2);
    assert!(
        stderr.contains("trust, profiles, secrets, exit-codes, output"),
        "{stderr}"
    );
}
