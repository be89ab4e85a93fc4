//! `strongroom help [TOPIC | SUBCOMMAND...]`: the topics that need more than a line of
//! `--help` (trust, profiles, secrets, exit codes, output), else a subcommand's own help, as
//! clap's `help` subcommand would print it.

use crate::fail::Failure;

/// The topics, by name: a one-line summary and the text.
pub const TOPICS: &[(&str, &str, &str)] = &[
    ("trust", "how the server's certificate is trusted", TRUST),
    (
        "profiles",
        "named servers, and where each setting comes from",
        PROFILES,
    ),
    (
        "secrets",
        "where passwords, passphrases and passkeys come from",
        SECRETS,
    ),
    ("exit-codes", "what each exit status means", EXIT_CODES),
    ("output", "text, --json, colours and progress bars", OUTPUT),
];

const TRUST: &str = "\
Trusting the server

Every command but `serve` talks to the server over HTTPS and checks its certificate one of
three ways, in this order: --insecure-accept-any-certificate, --fingerprint FP
(STRONGROOM_FINGERPRINT), --ca-file PATH (STRONGROOM_CA_FILE), then the profile's fingerprint
or CA file. With none of them the command refuses (exit 2): there is no accept-any default.

  Fingerprint  Only the certificate with this SHA-256 is accepted, whatever its names and
               dates. Give it as the server prints it at start (`certificate SHA-256
               fingerprint 3A:91:...:0C`, any case, colons optional) or as signstar's
               `nethsm` CLI writes host pins (`sha256:3a91...0c`): one pin works in both.
  CA file      A PEM file of CA certificates; the certificate is verified the usual way
               (issuer, name, dates).
  Insecure     --insecure-accept-any-certificate accepts any certificate and prints a
               WARNING each time: anyone on the path can read the passphrases sent. For a
               throw-away lab only.

A certificate that is not the pinned one fails before any request is sent (exit 3), saying
so: someone may be in between, or the certificate was replaced (`strongroom appliance tls
install`). Check the fingerprint the server prints, then pin the new one:

  strongroom profile add lab --server https://hsm.example.org:8443

`profile add` connects once, shows the certificate's fingerprint in both forms and asks
whether to trust it, the way ssh does on first contact (--fingerprint FP checks and stores
it without asking; --yes trusts what is shown).
";

const PROFILES: &str = "\
Profiles

A profile names a server, the user to log in as and how to trust the server, so commands
need no connection flags. They are kept in profiles.toml under the platform's config
directory ($XDG_CONFIG_HOME/strongroom/, else ~/.config/strongroom/ on Linux); nothing
secret is stored there.

  [profiles.lab]
  server = \"https://hsm.example.org:8443\"
  user = \"admin\"
  fingerprint = \"sha256:3a91...0c\"

  strongroom profile add NAME --server URL [--user USER] [--fingerprint FP | --ca-file PATH]
  strongroom profile list
  strongroom profile remove NAME

Which profile: --profile NAME, else STRONGROOM_PROFILE, else the one named `default` if
there is one. A named profile that does not exist is a usage error (exit 2) listing the
ones there are. Each setting comes from its flag, else its environment variable, else the
profile, else the default:

  --server URL       STRONGROOM_SERVER       https://127.0.0.1:8443
  --user USER        STRONGROOM_USER         admin
  --fingerprint FP   STRONGROOM_FINGERPRINT
  --ca-file PATH     STRONGROOM_CA_FILE
  --password-file    STRONGROOM_PASSWORD     the prompt (see `strongroom help secrets`)
";

const SECRETS: &str = "\
Secrets

Passwords, passphrases and passkeys never come from an argument: argv is visible to every
user of the machine (ps) and lands in shell history. Any flag whose name has the word
password, passphrase, passkey, secret, token or pin and does not end in -file is refused
before anything else happens (exit 2), without echoing its value. Each secret comes from,
in order:

  1. its --...-file PATH flag: a file its owner alone may read (mode 0600 or 0400; one
     trailing newline is dropped);
  2. its environment variable;
  3. a prompt without echo, when stdin is a terminal; a new secret is asked twice.

Both a file and the variable is an error; neither, without a terminal, fails before
anything is sent (exit 2). The variables:

  STRONGROOM_PASSWORD               the login password (--password-file)
  STRONGROOM_UNLOCK_PASSPHRASE      the unlock passphrase (provision, unlock)
  STRONGROOM_ADMIN_PASSPHRASE       the new admin passphrase (provision)
  STRONGROOM_NEW_PASSPHRASE         a user's new passphrase (users add, users passphrase)
  STRONGROOM_NEW_UNLOCK_PASSPHRASE  the new unlock passphrase (unlock-passphrase)
  STRONGROOM_BACKUP_PASSPHRASE      the current backup passphrase (backup-passphrase, restore)
  STRONGROOM_NEW_BACKUP_PASSPHRASE  the new backup passphrase (backup-passphrase)
  STRONGROOM_PASSKEY                a passkey (passkey change, remove, authorize)
  STRONGROOM_NEW_PASSKEY            a new passkey (passkey set, change)
  STRONGROOM_NEW_PASSWORD           the new appliance password (appliance password)
  STRONGROOM_PKCS12_PASSWORD        a PKCS#12 file's password (appliance tls install)
";

const EXIT_CODES: &str = "\
Exit codes

  0  done
  1  anything else: a local file that cannot be read or written, an answer not understood;
     `audit verify` when the chain does not verify
  2  usage: an unknown option or missing argument, a profile that does not exist, no way to
     trust the server, a secret given as an argument or that cannot be read, a
     confirmation not given
  3  cannot reach the server, or cannot trust it (not the pinned certificate, or not issued
     by the CA file)
  4  authentication failed: wrong user or password (401), too many failed attempts (429), a
     wrong unlock passphrase, passkey or current password
  5  refused: the role or namespace may not do it (403), the server is not in the state it
     needs (412), a rule refused the input (400: a weak passphrase, a key mode the key was
     not made for); `restore-decision` when the client may not restore
  6  not found (404)
  7  conflict: it exists already (409)
  8  the server failed (5xx)

Errors go to stderr: `strongroom: WHAT failed: THE SERVER'S MESSAGE (HTTP STATUS)`, then
`hint: ...` saying what to do next; stdout is then empty. `client` and `system data-key`,
`system rotate-data-key` exit 1 for every failure.
";

const OUTPUT: &str = "\
Output

Text for people by default: tables with a header row, or a field per line; control
characters in names are printed escaped. Colours only when stdout is a terminal and
NO_COLOR is unset or empty. --json prints one JSON value per command on stdout, with stable
field names (docs/cli.md lists them).

Bytes (random, keys sign/decrypt/encrypt, a binary certificate) go raw to stdout or to
--out FILE (mode 0600), or as --base64; raw bytes to a terminal are refused (exit 2).
backup, restore and support-bundle download draw a progress bar on stderr when it is a
terminal, and none when it is piped or with --json.
";

/// Prints the topic, the help of the subcommand path, or the list of topics.
pub fn run(mut command: clap::Command, words: &[String]) -> anyhow::Result<()> {
    if words.is_empty() {
        command.print_help()?;
        println!("\nTopics (strongroom help TOPIC):");
        for (name, summary, _) in TOPICS {
            println!("  {name:<12}{summary}");
        }
        return Ok(());
    }
    let wanted = words.join("-").to_ascii_lowercase();
    if let Some((_, _, text)) = TOPICS.iter().find(|(name, _, _)| *name == wanted) {
        print!("{text}");
        return Ok(());
    }
    command.build();
    let mut sub = &mut command;
    for word in words {
        sub = match sub.find_subcommand_mut(word) {
            Some(s) => s,
            None => {
                let topics: Vec<&str> = TOPICS.iter().map(|(n, _, _)| *n).collect();
                return Err(Failure::usage(format!(
                    "no help topic or subcommand {:?}",
                    words.join(" ")
                ))
                .hint(format!(
                    "the topics are: {}; `strongroom --help` lists the subcommands",
                    topics.join(", ")
                ))
                .into());
            }
        };
    }
    sub.print_help()?;
    Ok(())
}
