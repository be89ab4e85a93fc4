//! `strongroom passkey ...` and `strongroom restore-decision`: the passkeys that guard browse
//! and restore of backup clients, through the face that owns them, the backup-client face
//! (`/commandcenter/api`: a login, then `App_SetPasskeyRequest` and
//! `App_AuthorizeForRestoreRequest`), and the decision backup software asks for, through
//! Strongroom's own API (`GET /api/strongroom/v1/clients/{id}/restore-authorization`).
//! Passkeys come from a file, an environment variable or a prompt only (`secret`).

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::conn::Api;
use crate::fail::{Exit, Failure};
use crate::nethsm::{With, emit, source};
use crate::secret;

const BACKUP_CLIENT: &str = "/commandcenter/api";
const OWN_API: &str = "/api/strongroom/v1";

/// Which passkey: a client's, or the company's (company 0, the whole installation).
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Whose {
    /// The backup client's id (as `strongroom client list` shows it).
    #[arg(long, value_name = "ID")]
    client: Option<u64>,
    /// The company passkey, which decides for clients without their own.
    #[arg(long)]
    company: bool,
}

impl Whose {
    fn path(&self, company_route: &str) -> String {
        match self.client {
            Some(id) => format!("{BACKUP_CLIENT}/client/{id}/passkey"),
            None => format!("{BACKUP_CLIENT}/company/0/{company_route}"),
        }
    }

    fn name(&self) -> String {
        match self.client {
            Some(id) => format!("client {id}"),
            None => "the company".to_owned(),
        }
    }
}

#[derive(Args)]
pub struct PasskeyArgs {
    #[command(subcommand)]
    command: PasskeyCommand,
}

#[derive(Subcommand)]
enum PasskeyCommand {
    /// Set a passkey where there is none (asked twice).
    Set {
        #[command(flatten)]
        whose: Whose,
        /// Read the new passkey from this file instead of STRONGROOM_NEW_PASSKEY or a prompt.
        #[arg(long, value_name = "PATH")]
        new_passkey_file: Option<PathBuf>,
    },
    /// Change a passkey: the current one, then the new one.
    Change {
        #[command(flatten)]
        whose: Whose,
        /// Read the current passkey from this file instead of STRONGROOM_PASSKEY or a prompt.
        #[arg(long, value_name = "PATH")]
        passkey_file: Option<PathBuf>,
        /// Read the new passkey from this file instead of STRONGROOM_NEW_PASSKEY or a prompt.
        #[arg(long, value_name = "PATH")]
        new_passkey_file: Option<PathBuf>,
    },
    /// Remove a passkey (it needs the current one); browse and restore are then decided by
    /// the company passkey, or allowed.
    Remove {
        #[command(flatten)]
        whose: Whose,
        /// Read the current passkey from this file instead of STRONGROOM_PASSKEY or a prompt.
        #[arg(long, value_name = "PATH")]
        passkey_file: Option<PathBuf>,
    },
    /// Open a window for browse and restore with the passkey.
    Authorize {
        #[command(flatten)]
        whose: Whose,
        /// Read the passkey from this file instead of STRONGROOM_PASSKEY or a prompt.
        #[arg(long, value_name = "PATH")]
        passkey_file: Option<PathBuf>,
        /// How long, in minutes [default and most: the server's limit, 30 minutes unless
        /// configured otherwise].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=527_040))]
        minutes: Option<u32>,
    },
    /// Close the window again (no passkey needed).
    Deauthorize {
        #[command(flatten)]
        whose: Whose,
    },
}

fn passkey(file: Option<&std::path::Path>, new: bool) -> anyhow::Result<Zeroizing<String>> {
    let (what, env, flag) = if new {
        (
            "new passkey",
            "STRONGROOM_NEW_PASSKEY",
            "--new-passkey-file",
        )
    } else {
        ("passkey", "STRONGROOM_PASSKEY", "--passkey-file")
    };
    secret::read(&source(what, env, file, flag), new)
}

/// The backup-client face's JSON passkeys are base64.
fn b64(p: &Zeroizing<String>) -> Zeroizing<String> {
    Zeroizing::new(B64.encode(p.as_bytes()))
}

pub fn passkey_cmd(w: With<PasskeyArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    // Every passkey is read before anything is sent.
    let (whose, body, route, done): (&Whose, Value, &str, String) = match &w.args.command {
        PasskeyCommand::Set {
            whose,
            new_passkey_file,
        } => {
            let new = b64(&passkey(new_passkey_file.as_deref(), true)?);
            let body = json!({"App_SetPasskeyRequest": {
                "passkeyOpType": "CREATE", "newPasskey": &*new, "confirmPasskey": &*new}});
            (
                whose,
                body,
                "passkey",
                format!("set the passkey of {}", whose.name()),
            )
        }
        PasskeyCommand::Change {
            whose,
            passkey_file,
            new_passkey_file,
        } => {
            let current = b64(&passkey(passkey_file.as_deref(), false)?);
            let new = b64(&passkey(new_passkey_file.as_deref(), true)?);
            let body = json!({"App_SetPasskeyRequest": {
                "passkeyOpType": "EDIT", "currentPasskey": &*current,
                "newPasskey": &*new, "confirmPasskey": &*new}});
            (
                whose,
                body,
                "passkey",
                format!("changed the passkey of {}", whose.name()),
            )
        }
        PasskeyCommand::Remove {
            whose,
            passkey_file,
        } => {
            let current = b64(&passkey(passkey_file.as_deref(), false)?);
            let body = json!({"App_SetPasskeyRequest": {
                "passkeyOpType": "DISABLE", "currentPasskey": &*current}});
            (
                whose,
                body,
                "passkey",
                format!("removed the passkey of {}", whose.name()),
            )
        }
        PasskeyCommand::Authorize {
            whose,
            passkey_file,
            minutes,
        } => {
            let key = b64(&passkey(passkey_file.as_deref(), false)?);
            let mut settings = json!({"enableAuthorizeForRestore": true});
            if let Some(m) = minutes {
                // A duration in seconds (the server takes a length up to a year as one).
                settings["passkeyExpirationInterval"] = json!({"toTime": u64::from(*m) * 60});
            }
            let body = json!({"App_AuthorizeForRestoreRequest": {
                "passkey": &*key, "passkeySettings": settings}});
            (
                whose,
                body,
                "authrestore",
                format!("authorized browse and restore for {}", whose.name()),
            )
        }
        PasskeyCommand::Deauthorize { whose } => {
            let body = json!({"App_AuthorizeForRestoreRequest": {
                "passkeySettings": {"enableAuthorizeForRestore": false}}});
            (
                whose,
                body,
                "authrestore",
                format!("closed the authorization of {}", whose.name()),
            )
        }
    };
    // Passkeys: serialized into wiped memory, and the value's copies wiped (see json_body).
    let body = secret::wiped_json(body);
    let api = opts.api()?;
    api.runtime.block_on(async {
        let token = login(&api).await?;
        let req = api
            .at_root(Method::POST, &whose.path(route))
            .header("Authtoken", &*token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(bytes::Bytes::from_owner(body));
        let answer = api.json(req, &done_to_what(&done)).await;
        logout(&api, &token).await;
        passkey_answer(&answer?, &done_to_what(&done))?;
        emit(opts, json!({"done": done}), || format!("{done}\n"));
        Ok(())
    })
}

/// "set the passkey of client 7" as "setting the passkey of client 7", for messages.
fn done_to_what(done: &str) -> String {
    let (verb, rest) = done.split_once(' ').unwrap_or((done, ""));
    let verb = match verb {
        "set" => "setting",
        "changed" => "changing",
        "removed" => "removing",
        "authorized" => "authorizing",
        "closed" => "closing",
        other => other,
    };
    format!("{verb} {rest}")
}

/// An `App_SetPasskeyResponse`: `errorCode` 0 is done; any other is the passkey's failure,
/// with its own sentence and an exit code by what it means.
fn passkey_answer(v: &Value, what: &str) -> anyhow::Result<()> {
    let code = v["error"]["errorCode"].as_i64().unwrap_or(-1);
    if code == 0 {
        return Ok(());
    }
    let message = v["error"]["errorMessage"]
        .as_str()
        .unwrap_or("the server gave no reason");
    // docs/errors.md, "Passkeys": the codes of PasskeyError.
    let (exit, hint) = match code {
        587204607 => (
            Exit::Auth,
            "check the passkey (--passkey-file, STRONGROOM_PASSKEY or the prompt)",
        ),
        587204612 => (Exit::Auth, "wait a moment before trying again"),
        587204594 | 587204611 => (
            Exit::Refused,
            "log in as the root Administrator or an owner of the client (--user)",
        ),
        587204601 | 587204602 => (Exit::NotFound, "see `strongroom client list`"),
        587204608 => (Exit::Conflict, "change it with `strongroom passkey change`"),
        587204609 => (
            Exit::NotFound,
            "set one first with `strongroom passkey set`",
        ),
        587204610 | 587204606 => (Exit::Refused, "choose a longer passkey"),
        _ => (Exit::Other, "see the server's message above"),
    };
    Err(
        Failure::new(exit, format!("{what} failed: {message} (error {code})"))
            .hint(hint)
            .into(),
    )
}

/// Logs the user in on the backup-client face; its login token.
async fn login(api: &Api) -> anyhow::Result<Zeroizing<String>> {
    let password = api.password()?;
    let req = secret::json_body(
        api.at_root(Method::POST, &format!("{BACKUP_CLIENT}/login")),
        json!({"username": api.target.user, "password": &*b64(&password)}),
    );
    let v = api.json(req, "logging in").await?;
    let token = v["token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| anyhow::anyhow!("the login answer carries no token"))?;
    Ok(Zeroizing::new(token.to_owned()))
}

/// Ends the login; a failure to is not the command's failure (the token expires anyway).
async fn logout(api: &Api, token: &str) {
    let req = api
        .at_root(Method::POST, &format!("{BACKUP_CLIENT}/logout"))
        .header("Authtoken", token);
    let _ = req.send().await;
}

#[derive(Clone, Copy, ValueEnum)]
enum Operation {
    Browse,
    Restore,
}

#[derive(Args)]
pub struct DecisionArgs {
    /// The backup client's id.
    client: u64,
    #[arg(long, value_enum, default_value = "restore")]
    operation: Operation,
}

/// `GET /clients/{id}/restore-authorization`; the decision as the server answered it.
async fn decision(api: &Api, id: u64, operation: &str) -> anyhow::Result<Value> {
    let path = format!("{OWN_API}/clients/{id}/restore-authorization?operation={operation}");
    api.json(
        api.authed_at_root(Method::GET, &path)?,
        &format!("asking whether client {id} may {operation}"),
    )
    .await
}

/// `strongroom restore-decision ID`: may the client browse or restore now? Exit 0 if so, 5 if
/// not (the answer on stdout either way).
pub fn restore_decision(w: With<DecisionArgs>) -> anyhow::Result<()> {
    let a = &w.args;
    let operation = match a.operation {
        Operation::Browse => "browse",
        Operation::Restore => "restore",
    };
    let api = w.opts.api()?;
    let v = api.runtime.block_on(decision(&api, a.client, operation))?;
    let allowed = v["allowed"].as_bool().unwrap_or(false);
    let reason = v["reason"].as_str().unwrap_or("").to_owned();
    emit(&w.opts, v.clone(), || {
        let why = match reason.as_str() {
            "no-passkey" => "neither the client nor the company has a passkey".to_owned(),
            "authorized" => format!(
                "authorized until {}",
                v["authorizedUntil"].as_str().unwrap_or("?")
            ),
            "passkey-required" => {
                "the client's passkey must authorize it first (`strongroom passkey authorize`)"
                    .to_owned()
            }
            "company-passkey-required" => {
                "the company passkey must authorize it first (`strongroom passkey authorize \
                 --company`)"
                    .to_owned()
            }
            other => other.to_owned(),
        };
        format!(
            "client {} may {}{operation}: {why}\n",
            a.client,
            if allowed { "" } else { "not " }
        )
    });
    if !allowed {
        // The answer is printed; the status is for scripts (`if strongroom restore-decision 7`).
        std::process::exit(Exit::Refused as i32);
    }
    Ok(())
}
