//! `strongroom client ...`: manage backup clients through a running server's own API
//! (`/api/strongroom/v1/clients`, see `docs/admin-api.md`), as its root Administrator.
//! Usage, environment and exit codes are in `docs/cli.md`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use strongroom_client::admin::{Credentials, Remote, RemoteError};
use strongroom_proto::clients::{BackupClient, ClientChange, ClientOwners, NewClient};

use crate::conn::remote_failure;
use crate::fail::Failure;
use crate::nethsm::safe;

/// The variable the password is read from when no `--password-file` is given. There is
/// deliberately no `--password` flag: a value on the command line lands in shell history and
/// in `ps` output.
pub const PASSWORD_ENV: &str = "STRONGROOM_PASSWORD";

#[derive(Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Print the server's JSON answer as it came instead of a summary.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Where the server is and how to log in; accepted before or after the subcommand.
#[derive(Args)]
#[command(next_help_heading = "Connection")]
pub struct Connection {
    /// The server's address, https://HOST:PORT [default: the profile's, else
    /// https://127.0.0.1:8443].
    #[arg(long, env = "STRONGROOM_SERVER", hide_env_values = true, global = true)]
    pub server: Option<String>,
    /// SHA-256 fingerprint of the server's certificate, as it printed at start (AA:BB:...)
    /// or as signstar writes pins (sha256:<hex>); only that certificate is trusted. Required,
    /// here or in the profile (STRONGROOM_PROFILE, else the one named "default").
    #[arg(
        long,
        env = "STRONGROOM_FINGERPRINT",
        hide_env_values = true,
        value_name = "FP",
        global = true
    )]
    pub fingerprint: Option<String>,
    /// The Administrator to log in as [default: the profile's, else admin].
    #[arg(long, env = "STRONGROOM_USER", hide_env_values = true, global = true)]
    pub user: Option<String>,
    /// Read the password from this file (mode 0600 or stricter; one trailing newline is
    /// ignored) instead of the STRONGROOM_PASSWORD environment variable.
    #[arg(long, value_name = "PATH", global = true)]
    pub password_file: Option<PathBuf>,
}

impl Connection {
    /// The server this names, trusting only the certificate of `fingerprint`, with the
    /// password read (before anything is sent), and a runtime to talk to it on.
    pub(crate) fn connect(
        self,
        fingerprint: &str,
    ) -> anyhow::Result<(Remote, tokio::runtime::Runtime, Calls)> {
        let password = password(self.password_file.as_deref())?;
        let calls = Calls {
            server: (self.server).unwrap_or_else(|| crate::conn::DEFAULT_SERVER.to_owned()),
            user: self.user.unwrap_or_else(|| "admin".to_owned()),
        };
        let remote = Remote::new(
            &calls.server,
            fingerprint,
            Credentials {
                user: calls.user.clone(),
                password,
            },
        )
        .map_err(|e| calls.failed(e, "connecting"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok((remote, runtime, calls))
    }
}

/// The server and user calls go to, for what their failures say.
pub(crate) struct Calls {
    server: String,
    user: String,
}

impl Calls {
    /// The failure of the call `what`, with the exit code and hint of the newer commands.
    pub(crate) fn failed(&self, e: RemoteError, what: &str) -> Failure {
        remote_failure(e, what, &self.server, &self.user)
    }
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// List every backup client.
    List,
    /// Show one backup client.
    Show {
        /// The client's id.
        id: u64,
    },
    /// Create a backup client.
    Create {
        /// The client's name.
        #[arg(long)]
        name: String,
        /// The host name of the machine it backs up.
        #[arg(long = "host", value_name = "HOST")]
        host_name: String,
        /// The name shown to people [default: the name].
        #[arg(long)]
        display_name: Option<String>,
        /// A user id that owns the client (repeatable).
        #[arg(long = "owner", value_name = "USER")]
        owners: Vec<String>,
    },
    /// Change a client's name, host name or display name.
    Rename {
        /// The client's id.
        id: u64,
        #[command(flatten)]
        changes: Renames,
    },
    /// Set a client's owners, replacing the list.
    Owners {
        /// The client's id.
        id: u64,
        /// A user id that owns the client (repeatable).
        #[arg(long = "owner", value_name = "USER", required_unless_present = "none")]
        owners: Vec<String>,
        /// Remove every owner.
        #[arg(long, conflicts_with = "owners")]
        none: bool,
    },
    /// Delete a client.
    Delete {
        /// The client's id.
        id: u64,
    },
}

#[derive(Args)]
#[group(required = true, multiple = true)]
pub struct Renames {
    /// The new name.
    #[arg(long)]
    name: Option<String>,
    /// The new host name.
    #[arg(long = "host", value_name = "HOST")]
    host_name: Option<String>,
    /// The new display name.
    #[arg(long)]
    display_name: Option<String>,
}

/// Runs one `client` subcommand against the server. `fingerprint` is the checked
/// `--fingerprint`. Output goes to stdout; the caller prints the error.
pub fn run(args: ClientArgs, fingerprint: &str) -> anyhow::Result<()> {
    let (remote, runtime, calls) = args.connection.connect(fingerprint)?;
    runtime.block_on(execute(&remote, &calls, args.command, args.json))
}

async fn execute(
    remote: &Remote,
    calls: &Calls,
    command: ClientCommand,
    json: bool,
) -> anyhow::Result<()> {
    let failed = |what: String| move |e| calls.failed(e, &what);
    let one = |reply: strongroom_client::admin::Reply<BackupClient>| {
        if json {
            print_raw(&reply.body);
        } else {
            print!("{}", details(&reply.value));
        }
    };
    match command {
        ClientCommand::List => {
            let reply =
                (remote.clients_get().await).map_err(failed("listing backup clients".into()))?;
            if json {
                print_raw(&reply.body);
            } else {
                print!("{}", table(&reply.value.clients));
            }
        }
        ClientCommand::Show { id } => {
            one((remote.client_get(id).await)
                .map_err(failed(format!("showing backup client {id}")))?)
        }
        ClientCommand::Create {
            name,
            host_name,
            display_name,
            owners,
        } => {
            let new = NewClient {
                name,
                host_name,
                display_name,
                owners,
            };
            // Not named: a refused name may hold characters that drive the terminal.
            one((remote.clients_post(&new).await)
                .map_err(failed("creating a backup client".into()))?)
        }
        ClientCommand::Rename { id, changes } => {
            let changes = ClientChange {
                name: changes.name,
                host_name: changes.host_name,
                display_name: changes.display_name,
            };
            one((remote.client_patch(id, &changes).await)
                .map_err(failed(format!("renaming backup client {id}")))?)
        }
        ClientCommand::Owners { id, owners, none } => {
            let owners = if none { Vec::new() } else { owners };
            one(
                (remote.client_owners_put(id, &ClientOwners { owners }).await)
                    .map_err(failed(format!("setting the owners of backup client {id}")))?,
            )
        }
        ClientCommand::Delete { id } => {
            (remote.client_delete(id).await)
                .map_err(failed(format!("deleting backup client {id}")))?;
            // 204 has no body, so there is no JSON to print.
            if !json {
                println!("deleted client {id}");
            }
        }
    }
    Ok(())
}

/// The password from `--password-file`, else from `STRONGROOM_PASSWORD`; never both.
pub(crate) fn password(file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    let from_env = std::env::var_os(PASSWORD_ENV).filter(|v| !v.is_empty());
    match (file, from_env) {
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "both --password-file and {PASSWORD_ENV} are set; give the password one way only"
        ))
        .into()),
        (Some(path), None) => read_password_file(path),
        (None, Some(value)) => match value.into_string() {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(_) => Err(Failure::usage(format!("{PASSWORD_ENV} is not valid UTF-8")).into()),
        },
        (None, None) => Err(Failure::usage(format!(
            "no password: set {PASSWORD_ENV} or pass --password-file PATH"
        ))
        .into()),
    }
}

/// Reads a password file, refusing one that group or others may access (as ssh refuses such
/// a private key): a password others can read is no longer a secret. The mode is checked on
/// the opened file, so it cannot be swapped between check and read.
pub(crate) fn read_password_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let shown = path.display();
    let mut file = File::open(path).with_context(|| format!("opening password file {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading password file {shown}"))?;
    if !meta.is_file() {
        bail!("password file {shown} is not a regular file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            bail!(
                "password file {shown} is accessible by group or others (mode {mode:04o}); \
                 refusing it, run `chmod 600 {shown}`"
            );
        }
    }
    // Sized up front so reading does not leave reallocated copies of the secret behind.
    let mut password = Zeroizing::new(String::with_capacity(meta.len() as usize + 1));
    file.read_to_string(&mut password)
        .with_context(|| format!("reading password file {shown} (it must be UTF-8 text)"))?;
    if password.ends_with('\n') {
        password.pop();
        if password.ends_with('\r') {
            password.pop();
        }
    }
    if password.is_empty() {
        bail!("password file {shown} is empty");
    }
    Ok(password)
}

pub(crate) fn print_raw(body: &str) {
    if body.ends_with('\n') {
        print!("{body}");
    } else {
        println!("{body}");
    }
}

/// One client, a field per line.
fn details(c: &BackupClient) -> String {
    let rows = [
        ("id", c.id.to_string()),
        ("name", c.name.clone()),
        ("host name", c.host_name.clone()),
        ("display name", c.display_name.clone()),
        ("owners", owners(c)),
        ("passkey", passkey(c)),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<14}{}\n", format!("{k}:"), safe(v)))
        .collect()
}

/// Every client, a row each, in aligned columns.
fn table(clients: &[BackupClient]) -> String {
    if clients.is_empty() {
        return "no clients\n".to_owned();
    }
    let header = ["ID", "NAME", "HOST", "DISPLAY NAME", "OWNERS", "PASSKEY"].map(String::from);
    let mut rows = vec![header];
    for c in clients {
        rows.push(
            [
                c.id.to_string(),
                c.name.clone(),
                c.host_name.clone(),
                c.display_name.clone(),
                owners(c),
                passkey(c),
            ]
            .map(|cell| safe(&cell)),
        );
    }
    crate::nethsm::aligned(&rows)
}

fn owners(c: &BackupClient) -> String {
    if c.owners.is_empty() {
        "-".to_owned()
    } else {
        c.owners.join(",")
    }
}

fn passkey(c: &BackupClient) -> String {
    match (c.passkey.enabled, &c.passkey.authorized_until) {
        (false, _) => "off".to_owned(),
        (true, None) => "on".to_owned(),
        (true, Some(until)) => format!("on, authorized until {until}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_proto::clients::Passkey;

    fn client(id: u64, name: &str, owners: &[&str]) -> BackupClient {
        BackupClient {
            id,
            name: name.into(),
            host_name: format!("{name}.example.org"),
            display_name: name.to_uppercase(),
            owners: owners.iter().map(|s| s.to_string()).collect(),
            passkey: Passkey {
                enabled: false,
                authorized_until: None,
            },
        }
    }

    #[test]
    fn table_aligns_columns() {
        let out = table(&[
            client(1, "web", &[]),
            client(12, "database", &["alice", "bob"]),
        ]);
        assert_eq!(
            out,
            "ID  NAME      HOST                  DISPLAY NAME  OWNERS     PASSKEY\n\
             1   web       web.example.org       WEB           -          off\n\
             12  database  database.example.org  DATABASE      alice,bob  off\n"
        );
        assert_eq!(table(&[]), "no clients\n");
    }

    #[test]
    fn control_characters_are_escaped() {
        let c = client(1, "evil\u{1b}[2Jname", &[]);
        assert!(details(&c).contains("evil\\u{1b}[2Jname"));
    }

    #[test]
    fn password_file_loses_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, " spaced pass \r\n").unwrap();
        set_mode(&path, 0o600);
        assert_eq!(&*read_password_file(&path).unwrap(), " spaced pass ");
    }

    #[cfg(unix)]
    #[test]
    fn password_file_open_to_group_or_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "pw").unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660, 0o610] {
            set_mode(&path, mode);
            let e = read_password_file(&path).unwrap_err().to_string();
            assert!(e.contains("accessible by group or others"), "{mode:o}: {e}");
        }
        set_mode(&path, 0o400);
        assert_eq!(&*read_password_file(&path).unwrap(), "pw");
    }

    fn set_mode(path: &Path, mode: u32) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}
