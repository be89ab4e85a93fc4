//! Secrets (passwords and passphrases): from a file, an environment variable or a no-echo
//! prompt, never from an argument (argv is visible to every user of the machine); refused
//! flags are in [`crate::fail::secret_argument`].

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::client::read_password_file;
use crate::fail::Failure;

/// The login password's variable.
pub const PASSWORD_ENV: &str = "STRONGROOM_PASSWORD";

/// Where one secret may come from.
pub struct Source<'a> {
    /// What it is, for the prompt and messages: "unlock passphrase".
    pub what: &'a str,
    /// The environment variable it may be in.
    pub env: &'a str,
    /// The file given with `flag`, if any.
    pub file: Option<&'a Path>,
    pub flag: &'a str,
}

/// The secret from the file, else the environment variable, else a prompt on the terminal
/// (asked twice when `new`, so a typo does not set a passphrase nobody knows). Both a file
/// and the variable is an error, as is none of the three.
pub fn read(source: &Source<'_>, new: bool) -> anyhow::Result<Zeroizing<String>> {
    let Source {
        what,
        env,
        file,
        flag,
    } = source;
    let from_env = std::env::var_os(env).filter(|v| !v.is_empty());
    match (file, from_env) {
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "both {flag} and {env} are set; give the {what} one way only"
        ))
        .into()),
        (Some(path), None) => Ok(read_password_file(path)?),
        (None, Some(value)) => match value.into_string() {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(_) => Err(Failure::usage(format!("{env} is not valid UTF-8")).into()),
        },
        (None, None) if std::io::stdin().is_terminal() => prompt(what, new),
        (None, None) => Err(Failure::usage(format!("no {what}"))
            .hint(format!(
                "pass {flag} PATH, set {env}, or run on a terminal to be asked for it"
            ))
            .into()),
    }
}

fn prompt(what: &str, new: bool) -> anyhow::Result<Zeroizing<String>> {
    let first = Zeroizing::new(rpassword::prompt_password(format!("{what}: "))?);
    if first.is_empty() {
        return Err(Failure::usage(format!("the {what} is empty")).into());
    }
    if new {
        let again = Zeroizing::new(rpassword::prompt_password(format!("{what} (again): "))?);
        if *first != *again {
            return Err(
                Failure::usage(format!("the two {what}s differ; nothing was changed")).into(),
            );
        }
    }
    Ok(first)
}
