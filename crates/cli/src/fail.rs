//! Exit codes and errors of the client subcommands (docs/cli.md, "Exit codes"): each failure
//! has one code a script can branch on, a sentence saying what went wrong, and a hint saying
//! what to do next.

use std::fmt;

/// The documented exit codes; distinct so a script can tell "retry later" from "fix the
/// command" from "fix the credentials".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Anything else: a local file that cannot be read or written, an unexpected answer.
    Other = 1,
    /// The command line is wrong: a missing argument, an unknown profile, a secret given as
    /// an argument.
    Usage = 2,
    /// The server cannot be reached, or its certificate is not the trusted one.
    Connect = 3,
    /// The server refused the credentials (401, or 429 after failed attempts).
    Auth = 4,
    /// The server refused the request: the role or namespace may not do it (403), the node
    /// is in the wrong state (412), or a rule refused the input (400, e.g. a weak passphrase).
    Refused = 5,
    /// The thing named does not exist (404).
    NotFound = 6,
    /// It exists already (409).
    Conflict = 7,
    /// The server failed (5xx).
    Server = 8,
}

/// A failure to report: printed as `strongroom: MESSAGE` and, if any, `hint: HINT`.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
    /// The HTTP status the server answered, when the failure is its answer.
    pub status: Option<u16>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: None,
            status: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Prints `e` on stderr and exits with its code: a [`Failure`]'s, else [`Exit::Other`].
pub fn exit_with(e: anyhow::Error) -> ! {
    let (code, hint) = match e.downcast_ref::<Failure>() {
        Some(f) => (f.exit, f.hint.clone()),
        None => (Exit::Other, None),
    };
    eprintln!("strongroom: {e:#}");
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
    std::process::exit(code as i32)
}

/// Names of flags that would carry a secret's value; any of these as `--NAME` or
/// `--NAME=VALUE` is refused before parsing (argv is visible to every user of the machine in
/// `ps` and lands in shell history).
const SECRET_WORDS: [&str; 6] = [
    "password",
    "passphrase",
    "secret",
    "token",
    "pin",
    "passkey",
];

/// The refusal for an argument that looks like it carries a secret, with the way to give it
/// instead; `None` if no argument does. Arguments after `--` are values, not flags.
pub fn secret_argument(args: &[String]) -> Option<Failure> {
    for arg in args.iter().skip(1) {
        if arg == "--" {
            break;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            continue;
        };
        let name = flag.split('=').next().unwrap_or(flag);
        if name.ends_with("-file") {
            continue;
        }
        let words: Vec<&str> = name.split('-').collect();
        if words.iter().any(|w| SECRET_WORDS.contains(w)) {
            return Some(
                Failure::usage(format!(
                    "--{name} would put a secret on the command line, where other users see \
                     it (ps) and the shell keeps it (history); refused"
                ))
                .hint(format!(
                    "give it with --{name}-file PATH (mode 0600), from its environment \
                     variable, or leave it out to be asked for it (see
                     docs/cli.md, \"Secrets\")"
                )),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        std::iter::once("strongroom")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn secret_flags_are_refused_and_file_flags_are_not() {
        for bad in [
            &["unlock", "--passphrase", "x"][..],
            &["provision", "--admin-passphrase=x"],
            &["users", "list", "--password", "x"],
            &["profile", "add", "a", "--token", "x"],
            &["passkey", "set", "--client", "1", "--new-passkey=x"],
        ] {
            let f = secret_argument(&argv(bad)).expect("refused");
            assert_eq!(f.exit, Exit::Usage);
            assert!(f.hint.unwrap().contains("-file PATH"));
            assert!(!f.message.contains(" x"), "the value is not echoed");
        }
        for good in [
            &["unlock", "--unlock-passphrase-file", "/p"][..],
            &["users", "list", "--password-file=/p"],
            &["random", "32", "--hex"],
            &["users", "add", "--real-name", "--", "--password"],
            &["passkey", "authorize", "--company", "--passkey-file", "/p"],
        ] {
            assert!(secret_argument(&argv(good)).is_none(), "{good:?}");
        }
    }
}
