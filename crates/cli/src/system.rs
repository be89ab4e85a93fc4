//! `strongroom system ...`: node-wide operations on a running server's own API, as its root
//! Administrator: the domain key's version and its rotation (`docs/cli.md`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use strongroom_proto::system::RotateDataKey;

use crate::client::{Connection, print_raw, read_password_file};
use crate::fail::{Exit, Failure};

/// The variable the unlock passphrase is read from when no `--unlock-passphrase-file` is
/// given (never a flag, for the same reason as the password).
pub const UNLOCK_PASSPHRASE_ENV: &str = "STRONGROOM_UNLOCK_PASSPHRASE";

#[derive(Args)]
pub struct SystemArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Print the server's JSON answer as it came instead of a summary.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
    #[command(subcommand)]
    pub command: SystemCommand,
}

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show the software, firmware and hardware versions and the device id (NetHSM face).
    Info,
    /// Show the domain key's version and whether a rotation is under way.
    DataKey,
    /// Rotate the domain key: a new key, and every value re-sealed under it (or finish a
    /// rotation that was interrupted). Needs the unlock passphrase.
    RotateDataKey {
        /// Read the unlock passphrase from this file (mode 0600 or stricter) instead of the
        /// STRONGROOM_UNLOCK_PASSPHRASE environment variable.
        #[arg(long, value_name = "PATH")]
        unlock_passphrase_file: Option<PathBuf>,
    },
}

/// Runs one `system` subcommand against the server.
pub fn run(args: SystemArgs, fingerprint: &str) -> anyhow::Result<()> {
    let json = args.json;
    // Read before anything is sent: a missing passphrase fails without a request.
    let unlock = match &args.command {
        SystemCommand::RotateDataKey {
            unlock_passphrase_file,
        } => Some(unlock_passphrase(unlock_passphrase_file.as_deref())?),
        SystemCommand::DataKey => None,
        SystemCommand::Info => unreachable!("`system info` runs through the NetHSM face"),
    };
    let (remote, runtime, calls) = args.connection.connect(fingerprint)?;
    runtime.block_on(async {
        match unlock {
            None => {
                let reply = (remote.data_key_get().await)
                    .map_err(|e| calls.failed(e, "reading the data key's version"))?;
                if json {
                    print_raw(&reply.body);
                } else {
                    println!(
                        "key version: {}\nrotation:    {}",
                        reply.value.key_version,
                        if reply.value.rotation_in_progress {
                            "under way (run `strongroom system rotate-data-key` to finish it)"
                        } else {
                            "none under way"
                        }
                    );
                }
            }
            Some(unlock_passphrase) => {
                let reply = (remote
                    .rotate_data_key(&RotateDataKey { unlock_passphrase })
                    .await)
                    .map_err(|e| {
                        wrong_unlock_passphrase(calls.failed(e, "rotating the data key"))
                    })?;
                if json {
                    print_raw(&reply.body);
                } else {
                    let r = &reply.value;
                    println!(
                        "{} the domain key: now version {}, {} values re-sealed{}",
                        if r.resumed {
                            "finished rotating"
                        } else {
                            "rotated"
                        },
                        r.key_version,
                        r.resealed,
                        if r.unreadable > 0 {
                            format!(
                                "; {} values failed authentication and were left as they were",
                                r.unreadable
                            )
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
        anyhow::Ok(())
    })
}

/// A wrong unlock passphrase is a failed authentication (as for `unlock`), not a missing role:
/// both are 403, told apart by the server's documented message (docs/errors.md).
fn wrong_unlock_passphrase(mut f: Failure) -> Failure {
    if f.status == Some(403) && f.message.contains("unlock passphrase is incorrect") {
        f.exit = Exit::Auth;
        f.hint = Some(
            "check the unlock passphrase (--unlock-passphrase-file or STRONGROOM_UNLOCK_PASSPHRASE)"
                .to_owned(),
        );
    }
    f
}

/// The unlock passphrase from `--unlock-passphrase-file`, else from the environment; never
/// both.
fn unlock_passphrase(file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    let from_env = std::env::var_os(UNLOCK_PASSPHRASE_ENV).filter(|v| !v.is_empty());
    match (file, from_env) {
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "both --unlock-passphrase-file and {UNLOCK_PASSPHRASE_ENV} are set; give the unlock passphrase one way only"
        ))
        .into()),
        (Some(path), None) => read_password_file(path),
        (None, Some(value)) => match value.into_string() {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(_) => {
                Err(Failure::usage(format!("{UNLOCK_PASSPHRASE_ENV} is not valid UTF-8")).into())
            }
        },
        (None, None) => Err(Failure::usage(format!(
            "no unlock passphrase: set {UNLOCK_PASSPHRASE_ENV} or pass --unlock-passphrase-file PATH"
        ))
        .into()),
    }
}
