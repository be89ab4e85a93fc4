//! The subcommands that go through the NetHSM face (`/api/v1`, `docs/cli.md`): lifecycle,
//! users, random bytes, the backup passphrase, backup and restore.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::conn::{Api, Opts, paint};
use crate::fail::{Exit, Failure};
use crate::secret::{self, Source};

/// A subcommand's own arguments with the shared options.
#[derive(Args)]
pub struct With<T: Args> {
    #[command(flatten)]
    pub opts: Opts,
    #[command(flatten)]
    pub args: T,
}

#[derive(Args)]
pub struct NoArgs {}

#[derive(Args)]
pub struct ProvisionArgs {
    /// Read the new unlock passphrase from this file instead of
    /// STRONGROOM_UNLOCK_PASSPHRASE or a prompt.
    #[arg(long, value_name = "PATH")]
    unlock_passphrase_file: Option<PathBuf>,
    /// Read the new root Administrator's passphrase from this file instead of
    /// STRONGROOM_ADMIN_PASSPHRASE or a prompt.
    #[arg(long, value_name = "PATH")]
    admin_passphrase_file: Option<PathBuf>,
    /// The time to set, RFC 3339 [default: this machine's clock].
    #[arg(long, value_name = "TIME")]
    system_time: Option<String>,
}

#[derive(Args)]
pub struct UnlockArgs {
    /// Read the unlock passphrase from this file instead of STRONGROOM_UNLOCK_PASSPHRASE or a
    /// prompt.
    #[arg(long, value_name = "PATH")]
    unlock_passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (for scripts).
    #[arg(long)]
    yes: bool,
}

#[derive(Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Administrator,
    Operator,
    Metrics,
    Backup,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Operator => "Operator",
            Role::Metrics => "Metrics",
            Role::Backup => "Backup",
        }
    }
}

#[derive(Subcommand)]
enum UsersCommand {
    /// List the users, with their names and roles.
    List,
    /// Add a user; the server picks the id unless one is given (`NAMESPACE~ID` for a
    /// namespaced one).
    Add {
        /// The new user's id.
        id: Option<String>,
        #[arg(long, value_enum)]
        role: Role,
        /// The user's real name.
        #[arg(long, value_name = "NAME")]
        real_name: String,
        /// Read the new user's passphrase from this file instead of
        /// STRONGROOM_NEW_PASSPHRASE or a prompt.
        #[arg(long, value_name = "PATH")]
        passphrase_file: Option<PathBuf>,
    },
    /// Show one user.
    Show { id: String },
    /// Delete a user.
    Delete { id: String },
    /// List a user's tags (the tags restrict which keys an Operator may use).
    Tags { id: String },
    /// Add a tag to an Operator.
    Tag { id: String, tag: String },
    /// Remove a tag from an Operator.
    Untag { id: String, tag: String },
    /// Change a user's passphrase: the login user's own unless another id is given
    /// (Administrators only).
    Passphrase {
        id: Option<String>,
        /// Read the new passphrase from this file instead of STRONGROOM_NEW_PASSPHRASE or a
        /// prompt.
        #[arg(long, value_name = "PATH")]
        new_passphrase_file: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct RandomArgs {
    /// How many bytes.
    #[arg(value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    length: u32,
    /// Write them to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print them as base64.
    #[arg(long, conflicts_with = "hex")]
    base64: bool,
    /// Print them as hex.
    #[arg(long)]
    hex: bool,
}

#[derive(Args)]
pub struct BackupPassphraseArgs {
    /// Read the new backup passphrase from this file instead of
    /// STRONGROOM_NEW_BACKUP_PASSPHRASE or a prompt.
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    /// Read the current backup passphrase from this file instead of
    /// STRONGROOM_BACKUP_PASSPHRASE or a prompt.
    #[arg(long, value_name = "PATH", conflicts_with = "first")]
    current_passphrase_file: Option<PathBuf>,
    /// There is no backup passphrase yet (the first time it is set).
    #[arg(long)]
    first: bool,
}

#[derive(Args)]
pub struct BackupArgs {
    /// The file to write (not overwritten unless --force).
    file: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file.
    file: PathBuf,
    /// Read the backup passphrase from this file instead of STRONGROOM_BACKUP_PASSPHRASE or a
    /// prompt.
    #[arg(long, value_name = "PATH")]
    backup_passphrase_file: Option<PathBuf>,
    /// The time to set, RFC 3339 [default: this machine's clock].
    #[arg(long, value_name = "TIME")]
    system_time: Option<String>,
}

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now formats as RFC 3339")
}

pub(crate) fn source<'a>(
    what: &'a str,
    env: &'a str,
    file: Option<&'a Path>,
    flag: &'a str,
) -> Source<'a> {
    Source {
        what,
        env,
        file,
        flag,
    }
}

/// Prints `value` as JSON or `text` for people.
pub(crate) fn emit(opts: &Opts, value: Value, text: impl FnOnce() -> String) {
    if opts.json {
        println!("{value}");
    } else {
        print!("{}", text());
    }
}

fn paint_state(state: &str) -> String {
    match state {
        "Operational" => paint(state, "32"),
        "Locked" => paint(state, "33"),
        "Failed" => paint(state, "31"),
        _ => state.to_owned(),
    }
}

pub(crate) async fn state_of(api: &Api) -> anyhow::Result<String> {
    let v = api
        .json(
            api.public(Method::GET, "/health/state"),
            "reading the state",
        )
        .await?;
    Ok(v["state"].as_str().unwrap_or("unknown").to_owned())
}

pub fn provision(w: With<ProvisionArgs>) -> anyhow::Result<()> {
    let a = &w.args;
    // Read before anything is sent: a missing passphrase fails without a request.
    let unlock = secret::read(
        &source(
            "new unlock passphrase",
            "STRONGROOM_UNLOCK_PASSPHRASE",
            a.unlock_passphrase_file.as_deref(),
            "--unlock-passphrase-file",
        ),
        true,
    )?;
    let admin = secret::read(
        &source(
            "new admin passphrase",
            "STRONGROOM_ADMIN_PASSPHRASE",
            a.admin_passphrase_file.as_deref(),
            "--admin-passphrase-file",
        ),
        true,
    )?;
    let time = a.system_time.clone().unwrap_or_else(now);
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        let body =
            json!({"unlockPassphrase": &*unlock, "adminPassphrase": &*admin, "systemTime": time});
        api.send(
            secret::json_body(api.public(Method::POST, "/provision"), body),
            "provision",
        )
        .await?;
        emit(&w.opts, json!({"state": "Operational"}), || {
            format!(
                "provisioned {}: {}; log in as admin\n",
                api.target.server,
                paint_state("Operational")
            )
        });
        Ok(())
    })
}

pub fn unlock(w: With<UnlockArgs>) -> anyhow::Result<()> {
    let passphrase = secret::read(
        &source(
            "unlock passphrase",
            "STRONGROOM_UNLOCK_PASSPHRASE",
            w.args.unlock_passphrase_file.as_deref(),
            "--unlock-passphrase-file",
        ),
        false,
    )?;
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        let req = secret::json_body(
            api.public(Method::POST, "/unlock"),
            json!({"passphrase": &*passphrase}),
        );
        if let Err(e) = api.send(req, "unlock").await {
            // The server answers a wrong unlock passphrase with 403: for the user that is a
            // failed authentication, not a missing role.
            return Err(match e.downcast::<Failure>() {
                Ok(mut f) if matches!(f.status, Some(400 | 403)) => {
                    f.exit = Exit::Auth;
                    f.hint = Some(
                        "check the unlock passphrase (--unlock-passphrase-file, \
                         STRONGROOM_UNLOCK_PASSPHRASE or the prompt)"
                            .to_owned(),
                    );
                    f.into()
                }
                Ok(f) => f.into(),
                Err(e) => e,
            });
        }
        emit(&w.opts, json!({"state": "Operational"}), || {
            format!("unlocked: {}\n", paint_state("Operational"))
        });
        Ok(())
    })
}

/// A POST of no body that answers 204, as the login user: lock, reboot.
fn action(w: &With<NoArgs>, path: &str, what: &str, done: &str) -> anyhow::Result<()> {
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        api.send(api.authed(Method::POST, path)?, what).await?;
        emit(&w.opts, json!({"done": what}), || format!("{done}\n"));
        Ok(())
    })
}

pub fn lock(w: With<NoArgs>) -> anyhow::Result<()> {
    action(
        &w,
        "/lock",
        "lock",
        "locked: the keys are sealed until `strongroom unlock`",
    )
}

pub fn reboot(w: With<NoArgs>) -> anyhow::Result<()> {
    action(&w, "/system/reboot", "reboot", "rebooting")
}

pub fn shutdown(w: With<NoArgs>) -> anyhow::Result<()> {
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        // Only an Operational node asks for credentials to shut down.
        let req = if state_of(&api).await? == "Operational" {
            api.authed(Method::POST, "/system/shutdown")?
        } else {
            api.public(Method::POST, "/system/shutdown")
        };
        api.send(req, "shutdown").await?;
        emit(&w.opts, json!({"done": "shutdown"}), || {
            "shutting down\n".to_owned()
        });
        Ok(())
    })
}

pub fn factory_reset(w: With<ConfirmArgs>) -> anyhow::Result<()> {
    let server = w.opts.target()?.server;
    if !w.args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::usage(format!(
                "factory-reset erases every key, user and setting of {server}; refusing without confirmation"
            ))
            .hint("pass --yes to confirm in a script")
            .into());
        }
        eprint!(
            "This erases every key, user and setting of {server}.\nType `factory-reset` to go on: "
        );
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if line.trim() != "factory-reset" {
            return Err(Failure::usage("not confirmed; nothing was changed").into());
        }
    }
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        api.send(
            api.authed(Method::POST, "/system/factory-reset")?,
            "factory-reset",
        )
        .await?;
        emit(&w.opts, json!({"done": "factory-reset"}), || {
            "reset to factory settings: the node is Unprovisioned\n".to_owned()
        });
        Ok(())
    })
}

pub fn state(w: With<NoArgs>) -> anyhow::Result<()> {
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        let state = state_of(&api).await?;
        emit(&w.opts, json!({"state": state}), || {
            format!("{}\n", paint_state(&state))
        });
        Ok(())
    })
}

pub fn info(w: With<NoArgs>) -> anyhow::Result<()> {
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        let v = api.json(api.public(Method::GET, "/info"), "info").await?;
        let state = state_of(&api).await?;
        let vendor = v["vendor"].as_str().unwrap_or("").to_owned();
        let product = v["product"].as_str().unwrap_or("").to_owned();
        emit(
            &w.opts,
            json!({"vendor": vendor, "product": product, "state": state}),
            || {
                format!(
                    "vendor:  {vendor}\nproduct: {product}\nstate:   {}\n",
                    paint_state(&state)
                )
            },
        );
        Ok(())
    })
}

/// `system info`: the server's system information, as the login Administrator.
pub fn system_info(opts: Opts) -> anyhow::Result<()> {
    let api = opts.api()?;
    api.runtime.block_on(async {
        let v = api
            .json(api.authed(Method::GET, "/system/info")?, "system info")
            .await?;
        emit(&opts, v.clone(), || {
            let mut out = String::new();
            for (k, label) in [
                ("softwareVersion", "software version"),
                ("softwareBuild", "software build"),
                ("firmwareVersion", "firmware version"),
                ("hardwareVersion", "hardware version"),
                ("deviceId", "device id"),
            ] {
                if let Some(s) = v[k].as_str() {
                    out.push_str(&format!("{:<18}{}\n", format!("{label}:"), safe(s)));
                }
            }
            out
        });
        Ok(())
    })
}

pub fn users(w: With<UsersArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    let new_passphrase = |file: Option<&Path>| {
        secret::read(
            &source(
                "new passphrase",
                "STRONGROOM_NEW_PASSPHRASE",
                file,
                "--passphrase-file",
            ),
            true,
        )
    };
    // Secrets first, before any request.
    let passphrase = match &w.args.command {
        UsersCommand::Add {
            passphrase_file, ..
        } => Some(new_passphrase(passphrase_file.as_deref())?),
        UsersCommand::Passphrase {
            new_passphrase_file,
            ..
        } => Some(secret::read(
            &source(
                "new passphrase",
                "STRONGROOM_NEW_PASSPHRASE",
                new_passphrase_file.as_deref(),
                "--new-passphrase-file",
            ),
            true,
        )?),
        _ => None,
    };
    let api = opts.api()?;
    api.runtime.block_on(async {
        match w.args.command {
            UsersCommand::List => {
                let list = api
                    .json(api.authed(Method::GET, "/users")?, "listing users")
                    .await?;
                let mut users = Vec::new();
                for item in list.as_array().into_iter().flatten() {
                    let id = item["user"].as_str().unwrap_or_default().to_owned();
                    let u = api
                        .json(
                            api.authed(Method::GET, &user_path(&id))?,
                            &format!("reading user {id}"),
                        )
                        .await?;
                    users.push(json!({"user": id, "realName": u["realName"], "role": u["role"]}));
                }
                emit(opts, Value::Array(users.clone()), || {
                    let rows = users.iter().map(|u| {
                        ["user", "realName", "role"].map(|k| u[k].as_str().unwrap_or("").to_owned())
                    });
                    table(&["USER", "REAL NAME", "ROLE"], rows)
                });
            }
            UsersCommand::Add {
                id,
                role,
                real_name,
                ..
            } => {
                let body = json!({"realName": real_name, "role": role.name(),
                                  "passphrase": passphrase.as_deref().map(|p| p.as_str())});
                let req = match &id {
                    Some(id) => api.authed(Method::PUT, &user_path(id))?,
                    None => api.authed(Method::POST, "/users")?,
                };
                let resp = api
                    .send(secret::json_body(req, body), "adding the user")
                    .await?;
                let text = resp.text().await.unwrap_or_default();
                // PUT answers 201 with no body; POST with the id the server chose.
                let id = match id {
                    Some(id) => id,
                    None => serde_json::from_str::<Value>(&text)?["id"]
                        .as_str()
                        .context("the server's answer names no id")?
                        .to_owned(),
                };
                emit(
                    opts,
                    json!({"user": id, "realName": real_name, "role": role.name()}),
                    || {
                        format!(
                            "added user {} ({}, {})\n",
                            safe(&id),
                            safe(&real_name),
                            role.name()
                        )
                    },
                );
            }
            UsersCommand::Show { id } => {
                let u = api
                    .json(
                        api.authed(Method::GET, &user_path(&id))?,
                        &format!("reading user {id}"),
                    )
                    .await?;
                let (name, role) = (
                    u["realName"].as_str().unwrap_or(""),
                    u["role"].as_str().unwrap_or(""),
                );
                emit(
                    opts,
                    json!({"user": id, "realName": name, "role": role}),
                    || {
                        format!(
                            "user:      {}\nreal name: {}\nrole:      {role}\n",
                            safe(&id),
                            safe(name)
                        )
                    },
                );
            }
            UsersCommand::Delete { id } => {
                api.send(
                    api.authed(Method::DELETE, &user_path(&id))?,
                    &format!("deleting user {id}"),
                )
                .await?;
                emit(opts, json!({"deleted": id}), || {
                    format!("deleted user {}\n", safe(&id))
                });
            }
            UsersCommand::Tags { id } => {
                let path = format!("{}/tags", user_path(&id));
                let tags = api
                    .json(
                        api.authed(Method::GET, &path)?,
                        &format!("reading the tags of {id}"),
                    )
                    .await?;
                let names: Vec<String> = (tags.as_array().into_iter().flatten())
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect();
                emit(opts, json!({"user": id, "tags": names}), || {
                    if names.is_empty() {
                        format!("{} has no tags\n", safe(&id))
                    } else {
                        names.iter().map(|t| format!("{}\n", safe(t))).collect()
                    }
                });
            }
            UsersCommand::Tag { id, tag } => {
                let path = format!("{}/tags/{}", user_path(&id), path_segment(&tag));
                api.send(
                    api.authed(Method::PUT, &path)?,
                    &format!("tagging {id} with {tag}"),
                )
                .await?;
                emit(opts, json!({"user": id, "tagged": tag}), || {
                    format!("tagged {} with {}\n", safe(&id), safe(&tag))
                });
            }
            UsersCommand::Untag { id, tag } => {
                let path = format!("{}/tags/{}", user_path(&id), path_segment(&tag));
                api.send(
                    api.authed(Method::DELETE, &path)?,
                    &format!("removing the tag {tag} from {id}"),
                )
                .await?;
                emit(opts, json!({"user": id, "untagged": tag}), || {
                    format!("removed the tag {} from {}\n", safe(&tag), safe(&id))
                });
            }
            UsersCommand::Passphrase { id, .. } => {
                let id = id.unwrap_or_else(|| api.target.user.clone());
                let body = json!({"passphrase": passphrase.as_deref().map(|p| p.as_str())});
                let path = format!("{}/passphrase", user_path(&id));
                api.send(
                    secret::json_body(api.authed(Method::POST, &path)?, body),
                    &format!("changing the passphrase of {id}"),
                )
                .await?;
                emit(opts, json!({"user": id, "passphraseChanged": true}), || {
                    format!("changed the passphrase of {}\n", safe(&id))
                });
            }
        }
        Ok(())
    })
}

fn user_path(id: &str) -> String {
    format!("/users/{}", path_segment(id))
}

/// `id` for a URL path: ids' characters need no escaping (letters, digits, `_.-~`); anything
/// else the server refuses with its own message, so it is passed through percent-encoded.
pub(crate) fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Args)]
pub struct NamespacesArgs {
    #[command(subcommand)]
    command: NamespacesCommand,
}

#[derive(Subcommand)]
enum NamespacesCommand {
    /// List the namespaces.
    List,
    /// Create a namespace (its users are added with `users add NAMESPACE~ID`).
    Add { id: String },
    /// Delete a namespace and its keys.
    Delete { id: String },
}

pub fn namespaces(w: With<NamespacesArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    let api = opts.api()?;
    api.runtime.block_on(async {
        match w.args.command {
            NamespacesCommand::List => {
                let list = api
                    .json(
                        api.authed(Method::GET, "/namespaces")?,
                        "listing namespaces",
                    )
                    .await?;
                let ids: Vec<String> = (list.as_array().into_iter().flatten())
                    .filter_map(|n| n["id"].as_str().map(str::to_owned))
                    .collect();
                emit(
                    opts,
                    json!(ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()),
                    || {
                        if ids.is_empty() {
                            "no namespaces\n".to_owned()
                        } else {
                            ids.iter().map(|id| format!("{}\n", safe(id))).collect()
                        }
                    },
                );
            }
            NamespacesCommand::Add { id } => {
                let path = format!("/namespaces/{}", path_segment(&id));
                api.send(
                    api.authed(Method::PUT, &path)?,
                    &format!("creating namespace {id}"),
                )
                .await?;
                emit(opts, json!({"id": id}), || {
                    format!("created namespace {}\n", safe(&id))
                });
            }
            NamespacesCommand::Delete { id } => {
                let path = format!("/namespaces/{}", path_segment(&id));
                api.send(
                    api.authed(Method::DELETE, &path)?,
                    &format!("deleting namespace {id}"),
                )
                .await?;
                emit(opts, json!({"deleted": id}), || {
                    format!("deleted namespace {}\n", safe(&id))
                });
            }
        }
        Ok(())
    })
}

/// The most bytes one `POST /random` gives.
const RANDOM_MAX: u32 = 1024;

pub fn random(w: With<RandomArgs>) -> anyhow::Result<()> {
    let a = &w.args;
    refuse_raw_to_terminal(&w.opts, a.out.as_deref(), a.base64 || a.hex)?;
    let api = w.opts.api()?;
    let bytes = api.runtime.block_on(async {
        let mut bytes = Vec::with_capacity(a.length as usize);
        while bytes.len() < a.length as usize {
            let n = (a.length - bytes.len() as u32).min(RANDOM_MAX);
            let req = api
                .authed(Method::POST, "/random")?
                .json(&json!({"length": n}));
            let v = api.json(req, "random").await?;
            let chunk = B64
                .decode(v["random"].as_str().unwrap_or(""))
                .context("the server's random bytes are not base64")?;
            anyhow::ensure!(
                chunk.len() == n as usize,
                "the server sent {} bytes, not {n}",
                chunk.len()
            );
            bytes.extend(chunk);
        }
        anyhow::Ok(bytes)
    })?;
    if let Some(path) = &a.out {
        // Random bytes are often key material: readable by their owner only.
        new_private_file(path)?
            .write_all(&bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        emit(
            &w.opts,
            json!({"length": bytes.len(), "file": path}),
            || format!("wrote {} random bytes to {}\n", bytes.len(), path.display()),
        );
    } else if w.opts.json {
        println!(
            "{}",
            json!({"length": bytes.len(), "base64": B64.encode(&bytes)})
        );
    } else if a.base64 {
        println!("{}", B64.encode(&bytes));
    } else if a.hex {
        println!("{}", hex::encode(&bytes));
    } else {
        std::io::stdout().write_all(&bytes)?;
    }
    Ok(())
}

pub fn backup_passphrase(w: With<BackupPassphraseArgs>) -> anyhow::Result<()> {
    let a = &w.args;
    let current = if a.first {
        zeroize::Zeroizing::new(String::new())
    } else {
        secret::read(
            &source(
                "current backup passphrase",
                "STRONGROOM_BACKUP_PASSPHRASE",
                a.current_passphrase_file.as_deref(),
                "--current-passphrase-file",
            ),
            false,
        )
        .map_err(|e| match e.downcast::<Failure>() {
            Ok(f) => f
                .hint("the first time, when there is none, pass --first")
                .into(),
            Err(e) => e,
        })?
    };
    let new = secret::read(
        &source(
            "new backup passphrase",
            "STRONGROOM_NEW_BACKUP_PASSPHRASE",
            a.new_passphrase_file.as_deref(),
            "--new-passphrase-file",
        ),
        true,
    )?;
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        let body = json!({"newPassphrase": &*new, "currentPassphrase": &*current});
        let req = secret::json_body(api.authed(Method::PUT, "/config/backup-passphrase")?, body);
        api.send(req, "setting the backup passphrase").await?;
        emit(&w.opts, json!({"backupPassphraseSet": true}), || {
            "set the backup passphrase: keep it safe, restoring a backup needs it\n".to_owned()
        });
        Ok(())
    })
}

#[derive(Args)]
pub struct UnlockPassphraseArgs {
    /// Read the new unlock passphrase from this file instead of
    /// STRONGROOM_NEW_UNLOCK_PASSPHRASE or a prompt.
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,
    /// Read the current unlock passphrase from this file instead of
    /// STRONGROOM_UNLOCK_PASSPHRASE or a prompt.
    #[arg(long, value_name = "PATH")]
    current_passphrase_file: Option<PathBuf>,
}

pub fn unlock_passphrase(w: With<UnlockPassphraseArgs>) -> anyhow::Result<()> {
    let a = &w.args;
    let current = secret::read(
        &source(
            "current unlock passphrase",
            "STRONGROOM_UNLOCK_PASSPHRASE",
            a.current_passphrase_file.as_deref(),
            "--current-passphrase-file",
        ),
        false,
    )?;
    let new = secret::read(
        &source(
            "new unlock passphrase",
            "STRONGROOM_NEW_UNLOCK_PASSPHRASE",
            a.new_passphrase_file.as_deref(),
            "--new-passphrase-file",
        ),
        true,
    )?;
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        let body = json!({"newPassphrase": &*new, "currentPassphrase": &*current});
        let req = secret::json_body(api.authed(Method::PUT, "/config/unlock-passphrase")?, body);
        api.send(req, "changing the unlock passphrase").await?;
        emit(&w.opts, json!({"unlockPassphraseSet": true}), || {
            "changed the unlock passphrase: the next unlock needs the new one\n".to_owned()
        });
        Ok(())
    })
}

/// Raw bytes would garble a terminal: refused before anything is sent, unless they go to a
/// file or are printed as text (`text`: --base64, --hex) or JSON.
pub(crate) fn refuse_raw_to_terminal(
    opts: &Opts,
    out: Option<&Path>,
    text: bool,
) -> Result<(), Failure> {
    if out.is_none() && !text && !opts.json && std::io::stdout().is_terminal() {
        return Err(Failure::usage("refusing to write raw bytes to a terminal")
            .hint("pass --out FILE or --base64 (random: also --hex), or redirect stdout"));
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal and the output is not JSON; otherwise a
/// hidden one, so pipes and scripts see nothing.
pub(crate) fn progress(opts: &Opts, total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    if opts.json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}, {eta} left"
    } else {
        "{msg} {bytes} {binary_bytes_per_sec}, {elapsed}"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

pub fn backup(w: With<BackupArgs>) -> anyhow::Result<()> {
    let path = &w.args.file;
    if path.exists() && !w.args.force {
        return Err(Failure::usage(format!("{} exists", path.display()))
            .hint("pick another file, or pass --force to replace it")
            .into());
    }
    let api = w.opts.api()?;
    let mut partial = path.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = api.runtime.block_on(async {
        let req = (api.authed(Method::POST, "/system/backup")?)
            .header(reqwest::header::ACCEPT, "application/octet-stream");
        let mut resp = api.send(req, "backup").await?;
        let bar = progress(&w.opts, resp.content_length(), "backup");
        let mut file = new_private_file(&partial)?;
        let mut written = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| api.transport(e))? {
            file.write_all(&chunk)
                .with_context(|| format!("writing {}", partial.display()))?;
            written += chunk.len() as u64;
            bar.inc(chunk.len() as u64);
        }
        file.sync_all()?;
        bar.finish();
        anyhow::Ok(written)
    });
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    // Only a whole backup gets the name asked for.
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    emit(&w.opts, json!({"file": path, "bytes": written}), || {
        format!("wrote the backup to {} ({written} bytes)\n", path.display())
    });
    Ok(())
}

/// A new file readable by its owner only (a backup is encrypted, but it is still the node's
/// every key).
pub(crate) fn new_private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

pub fn restore(w: With<RestoreArgs>) -> anyhow::Result<()> {
    let a = &w.args;
    let mut file = std::fs::File::open(&a.file)
        .with_context(|| format!("opening the backup file {}", a.file.display()))?;
    let len = file.metadata()?.len();
    let passphrase = secret::read(
        &source(
            "backup passphrase",
            "STRONGROOM_BACKUP_PASSPHRASE",
            a.backup_passphrase_file.as_deref(),
            "--backup-passphrase-file",
        ),
        false,
    )?;
    let time = a.system_time.clone().unwrap_or_else(now);
    let api = w.opts.api()?;
    api.runtime.block_on(async {
        // An Unprovisioned node takes a whole restore without credentials; an Operational one
        // a partial restore as an Administrator.
        let operational = state_of(&api).await? == "Operational";
        let bar = progress(&w.opts, Some(len), "restore");
        let counter = bar.clone();
        let chunks = futures_util::stream::iter(std::iter::from_fn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    counter.inc(n as u64);
                    Some(Ok::<_, std::io::Error>(bytes::Bytes::from(buf)))
                }
                Err(e) => Some(Err(e)),
            }
        }));
        let arguments =
            secret::wiped_json(json!({"backupPassphrase": &*passphrase, "systemTime": time}));
        let len_of_arguments = arguments.len() as u64;
        let form = reqwest::multipart::Form::new()
            .part(
                "arguments",
                reqwest::multipart::Part::stream_with_length(
                    bytes::Bytes::from_owner(arguments),
                    len_of_arguments,
                )
                .mime_str("application/json")?,
            )
            .part(
                "backup_file",
                reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::wrap_stream(chunks),
                    len,
                )
                .mime_str("application/octet-stream")?,
            );
        let req = if operational {
            api.authed(Method::POST, "/system/restore")?
        } else {
            api.public(Method::POST, "/system/restore")
        };
        let sent = api.send(req.multipart(form), "restore").await;
        bar.finish();
        sent?;
        let state = state_of(&api).await?;
        emit(
            &w.opts,
            json!({"file": a.file, "bytes": len, "state": state}),
            || {
                format!(
                    "restored {} ({len} bytes); the node is {}{}\n",
                    a.file.display(),
                    paint_state(&state),
                    if state == "Locked" {
                        ": unlock it with the backed-up node's unlock passphrase"
                    } else {
                        ""
                    }
                )
            },
        );
        Ok(())
    })
}

/// Rows in aligned columns under a header; `-` for empty cells.
pub fn table<const N: usize>(
    header: &[&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    all.extend(rows.map(|r| {
        r.iter()
            .map(|c| {
                if c.is_empty() {
                    "-".to_owned()
                } else {
                    safe(c)
                }
            })
            .collect()
    }));
    aligned(&all)
}

/// Rows of equal length in columns as wide as their widest cell, two spaces apart.
pub(crate) fn aligned<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.first().map_or(0, |r| r.as_ref().len());
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r.as_ref()[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .as_ref()
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `s` with control characters escaped, so a name cannot drive the terminal.
pub(crate) fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_escapes() {
        let rows = [
            [
                "admin".to_owned(),
                "Admin".to_owned(),
                "Administrator".to_owned(),
            ],
            ["op\u{1b}".to_owned(), String::new(), "Operator".to_owned()],
        ];
        assert_eq!(
            table(&["USER", "REAL NAME", "ROLE"], rows.into_iter()),
            "USER      REAL NAME  ROLE\n\
             admin     Admin      Administrator\n\
             op\\u{1b}  -          Operator\n"
        );
    }

    #[test]
    fn user_ids_are_escaped_in_paths() {
        assert_eq!(user_path("ns1~alice"), "/users/ns1~alice");
        assert_eq!(user_path("a/../b"), "/users/a%2F..%2Fb");
    }
}
