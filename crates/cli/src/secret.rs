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

/// A JSON request body that holds secrets, sent without leaving them behind: `value` is
/// serialized into a buffer of exactly its size (so no grown-out copy is left unwiped), the
/// strings of `value` are wiped, and the buffer is handed to the request as a body that wipes
/// it when the request drops it (once sent). The copies TLS makes while encrypting are beyond
/// reach here.
pub fn json_body(
    req: reqwest::RequestBuilder,
    value: serde_json::Value,
) -> reqwest::RequestBuilder {
    let body = wiped_json(value);
    req.header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes::Bytes::from_owner(body))
}

/// `value` serialized into a buffer that is wiped when dropped; `value`'s strings are wiped.
pub fn wiped_json(mut value: serde_json::Value) -> Zeroizing<Vec<u8>> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut size = Count(0);
    serde_json::to_writer(&mut size, &value).expect("a JSON value serializes");
    let mut body = Zeroizing::new(Vec::with_capacity(size.0));
    serde_json::to_writer(&mut *body, &value).expect("a JSON value serializes");
    debug_assert_eq!(body.capacity(), size.0, "the buffer never grew");
    wipe_strings(&mut value);
    body
}

fn wipe_strings(value: &mut serde_json::Value) {
    use zeroize::Zeroize;
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(wipe_strings),
        _ => {}
    }
}
