//! The `strongroom` binary. `strongroom serve` runs the appliance; see `docs/configuration.md`
//! for every setting. Every other subcommand is a client of a running server (`docs/cli.md`):
//! `strongroom client ...` manages backup clients; `strongroom system ...` rotates the data key;
//! the others (profiles, lifecycle, users, random, backup and restore) share the options,
//! secrets, output and exit codes of `conn`, `secret` and `fail`.

mod appliance;
mod audit_cmd;
mod client;
mod conn;
mod fail;
mod help;
mod keys;
mod nethsm;
mod passkey;
mod profile;
mod profiles_cmd;
mod secret;
mod system;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use strongroom_server::config::{Config, ConfigFile, Overrides};
use strongroom_server::logging::{self, LogFormat};

use nethsm::{
    BackupArgs, BackupPassphraseArgs, ConfirmArgs, NamespacesArgs, NoArgs, ProvisionArgs,
    RandomArgs, RestoreArgs, UnlockArgs, UnlockPassphraseArgs, UsersArgs, With,
};

#[derive(Parser)]
#[command(
    name = "strongroom",
    version,
    about = "A secrets appliance speaking the NetHSM, VMware DR appliance and Commvault APIs",
    // Our own `help`, which also knows the topics (trust, profiles, secrets, exit-codes).
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server on the embedded store in DATA_DIR.
    Serve(ServeArgs),
    /// Manage backup clients on a running server, as its root Administrator.
    Client(client::ClientArgs),
    /// Node-wide operations on a running server (the domain key, system information).
    System(system::SystemArgs),
    /// Named servers, with how to trust each: add (pinning its certificate), list, remove.
    Profile(profiles_cmd::ProfileArgs),
    /// Provision an Unprovisioned server: set the unlock and admin passphrases.
    Provision(With<ProvisionArgs>),
    /// Unlock a Locked server with the unlock passphrase.
    Unlock(With<UnlockArgs>),
    /// Lock an Operational server (as an Administrator).
    Lock(With<NoArgs>),
    /// Show the server's state: Unprovisioned, Locked, Operational or Failed.
    State(With<NoArgs>),
    /// Show the vendor, product and state.
    Info(With<NoArgs>),
    /// Reboot the server (as an Administrator).
    Reboot(With<NoArgs>),
    /// Shut the server down (as an Administrator when it is Operational).
    Shutdown(With<NoArgs>),
    /// Erase every key, user and setting (as an Administrator; asks first).
    FactoryReset(With<ConfirmArgs>),
    /// Users: list, add, show, delete, tags, change a passphrase.
    Users(With<UsersArgs>),
    /// Namespaces: list, add, delete.
    Namespaces(With<NamespacesArgs>),
    /// Random bytes from the server (as an Operator): raw, or --base64/--hex.
    Random(With<RandomArgs>),
    /// Change the unlock passphrase (as an Administrator; needs the current one).
    UnlockPassphrase(With<UnlockPassphraseArgs>),
    /// Set the backup passphrase (as an Administrator).
    BackupPassphrase(With<BackupPassphraseArgs>),
    /// Write a backup of the server to FILE (as a Backup user), with a progress bar.
    Backup(With<BackupArgs>),
    /// Restore a backup FILE into the server, with a progress bar.
    Restore(With<RestoreArgs>),
    /// Keys: generate, import, list, show, public key, CSR, sign, decrypt, encrypt,
    /// certificates, labels, move, tags.
    Keys(With<keys::KeysArgs>),
    /// Passkeys guarding browse and restore of backup clients: set, change, remove,
    /// authorize, deauthorize.
    Passkey(With<passkey::PasskeyArgs>),
    /// May backup client ID browse or restore now? Exit 0 if so, 5 if not.
    RestoreDecision(With<passkey::DecisionArgs>),
    /// The appliance face: the password under its policy, TLS certificate, syslog, time,
    /// network, services, support bundles.
    Appliance(With<appliance::ApplianceArgs>),
    /// The audit trail (as the root Administrator): list with filters, verify the chain.
    Audit(With<audit_cmd::AuditArgs>),
    /// The server's counters (as a Metrics user): a table, --json, or raw --prometheus.
    Metrics(With<audit_cmd::MetricsArgs>),
    /// Help on a topic (trust, profiles, secrets, exit-codes, output) or a subcommand.
    Help {
        /// A topic, or a subcommand (and its subcommands: `help keys sign`).
        words: Vec<String>,
    },
    /// Print shell completions, e.g. `strongroom completions bash > /etc/bash_completion.d/strongroom`.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), e.g. `strongroom man | man -l -`.
    Man,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Directory of the store and the device key (created, mode 0700, if missing).
    #[arg(long, env = "STRONGROOM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8443]; port 0 picks a free one.
    #[arg(long, env = "STRONGROOM_LISTEN")]
    listen: Option<SocketAddr>,
    /// A TOML configuration file; flags and environment variables win over it.
    #[arg(long, env = "STRONGROOM_CONFIG")]
    config: Option<PathBuf>,
    /// Extra DNS name or IP address for the self-signed certificate (repeatable).
    #[arg(long = "tls-name", env = "STRONGROOM_TLS_NAMES", value_delimiter = ',')]
    tls_names: Vec<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "STRONGROOM_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `strongroom_server=debug` [default: info].
    #[arg(long, env = "STRONGROOM_LOG")]
    log_filter: Option<String>,
    /// Seconds a successful password check is remembered; 0 disables the cache [default: 30].
    #[arg(long, env = "STRONGROOM_AUTH_CACHE_TTL_SECS")]
    auth_cache_ttl_secs: Option<u64>,
    /// The largest backup file a restore accepts, in bytes [default: 1073741824].
    #[arg(long, env = "STRONGROOM_RESTORE_MAX_BYTES")]
    restore_max_bytes: Option<usize>,
    /// Seconds an appliance session or backup-client login token lives unused [default: 1800].
    #[arg(long, env = "STRONGROOM_SESSION_IDLE_SECS")]
    session_idle_secs: Option<u64>,
    /// Seconds a session lives at most after its login; renewing does not extend it
    /// [default: 43200].
    #[arg(long, env = "STRONGROOM_SESSION_MAX_SECS")]
    session_max_secs: Option<u64>,
    /// The longest a passkey authorization for browse and restore lasts, in seconds [default: 1800].
    #[arg(long, env = "STRONGROOM_PASSKEY_AUTHORIZATION_SECS")]
    passkey_authorization_secs: Option<u64>,
    /// The most events the audit trail keeps; older ones are pruned [default: 100000].
    #[arg(long, env = "STRONGROOM_AUDIT_MAX_EVENTS")]
    audit_max_events: Option<u64>,
    /// Start and unlock even if the store is older than this node's anchor (a deliberate
    /// restore of the store file); see docs/operations.md.
    #[arg(long, env = "STRONGROOM_ACCEPT_STORE_ROLLBACK")]
    accept_store_rollback: bool,
    /// Seconds a client has to finish the TLS handshake [default: 10].
    #[arg(long, env = "STRONGROOM_TLS_HANDSHAKE_TIMEOUT_SECS")]
    tls_handshake_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request line and headers [default: 10].
    #[arg(long, env = "STRONGROOM_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Seconds a request body may make no progress while it is read [default: 30].
    #[arg(long, env = "STRONGROOM_BODY_IDLE_TIMEOUT_SECS")]
    body_idle_timeout_secs: Option<u64>,
    /// Seconds a connection may sit idle between requests [default: 60].
    #[arg(long, env = "STRONGROOM_KEEP_ALIVE_IDLE_SECS")]
    keep_alive_idle_secs: Option<u64>,
    /// The most connections open at once; more are closed at once [default: 4096, lowered to
    /// what the descriptor limit allows].
    #[arg(long, env = "STRONGROOM_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// The most connections open at once from one client address (IPv6: one /64); more from
    /// it are closed at once [default: 1024].
    #[arg(long, env = "STRONGROOM_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: Option<usize>,
    /// Replace a device key file the server refuses (a symbolic link, another owner, access
    /// for group or others, missing beside a store, or not opening the stored TLS identity)
    /// with a new key and a new TLS certificate, instead of refusing to start. A flag only:
    /// give it once, for the start that needs it.
    #[arg(long)]
    regenerate_device_key: bool,
    /// Cluster mode: `etcd://HOST:PORT[,HOST:PORT...]`, the etcd cluster the nodes share
    /// (TLS and credentials in the config file's `[etcd]`; see docs/cluster.md). The data
    /// directory then keeps only this node's own things [default: the embedded store].
    #[arg(long, env = "STRONGROOM_STORE")]
    store: Option<String>,
}

fn main() -> anyhow::Result<()> {
    // Refused before parsing, so even a misspelt subcommand does not echo the secret.
    if let Some(f) = fail::secret_argument(&std::env::args().collect::<Vec<_>>()) {
        fail::exit_with(f.into());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let file = args.config.as_deref().map(ConfigFile::load).transpose()?;
            let config = Config::resolve(
                Overrides {
                    data_dir: args.data_dir,
                    listen: args.listen,
                    tls_names: args.tls_names,
                    log_format: args.log_format,
                    log_filter: args.log_filter,
                    auth_cache_ttl_secs: args.auth_cache_ttl_secs,
                    restore_max_bytes: args.restore_max_bytes,
                    session_idle_secs: args.session_idle_secs,
                    session_max_secs: args.session_max_secs,
                    passkey_authorization_secs: args.passkey_authorization_secs,
                    audit_max_events: args.audit_max_events,
                    accept_store_rollback: args.accept_store_rollback.then_some(true),
                    tls_handshake_timeout_secs: args.tls_handshake_timeout_secs,
                    header_read_timeout_secs: args.header_read_timeout_secs,
                    body_idle_timeout_secs: args.body_idle_timeout_secs,
                    keep_alive_idle_secs: args.keep_alive_idle_secs,
                    max_connections: args.max_connections,
                    max_connections_per_address: args.max_connections_per_address,
                    regenerate_device_key: args.regenerate_device_key,
                    store: args.store,
                },
                file,
            )?;
            logging::init(config.log_format, &config.log_filter)?;
            logging::log_config(&config);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(strongroom_server::run(config))
        }
        Command::Client(args) => {
            let mut args = args;
            let fingerprint = legacy_target(&mut args.connection, "client");
            exit_on_error(client::run(args, &fingerprint));
            Ok(())
        }
        Command::System(args) if matches!(args.command, system::SystemCommand::Info) => {
            // The newer command on the older options, resolved as the newer commands do.
            let c = args.connection;
            let opts = conn::Opts {
                profile: std::env::var("STRONGROOM_PROFILE")
                    .ok()
                    .filter(|p| !p.is_empty()),
                server: c.server,
                user: c.user,
                fingerprint: c.fingerprint,
                ca_file: None,
                insecure_accept_any_certificate: false,
                password_file: c.password_file,
                json: args.json,
            };
            client_result(nethsm::system_info(opts))
        }
        Command::System(args) => {
            let mut args = args;
            let fingerprint = legacy_target(&mut args.connection, "system");
            exit_on_error(system::run(args, &fingerprint));
            Ok(())
        }
        Command::Profile(args) => client_result(profiles_cmd::run(args)),
        Command::Provision(w) => client_result(nethsm::provision(w)),
        Command::Unlock(w) => client_result(nethsm::unlock(w)),
        Command::Lock(w) => client_result(nethsm::lock(w)),
        Command::State(w) => client_result(nethsm::state(w)),
        Command::Info(w) => client_result(nethsm::info(w)),
        Command::Reboot(w) => client_result(nethsm::reboot(w)),
        Command::Shutdown(w) => client_result(nethsm::shutdown(w)),
        Command::FactoryReset(w) => client_result(nethsm::factory_reset(w)),
        Command::Users(w) => client_result(nethsm::users(w)),
        Command::Namespaces(w) => client_result(nethsm::namespaces(w)),
        Command::Random(w) => client_result(nethsm::random(w)),
        Command::UnlockPassphrase(w) => client_result(nethsm::unlock_passphrase(w)),
        Command::BackupPassphrase(w) => client_result(nethsm::backup_passphrase(w)),
        Command::Backup(w) => client_result(nethsm::backup(w)),
        Command::Restore(w) => client_result(nethsm::restore(w)),
        Command::Keys(w) => client_result(keys::run(w)),
        Command::Passkey(w) => client_result(passkey::passkey_cmd(w)),
        Command::RestoreDecision(w) => client_result(passkey::restore_decision(w)),
        Command::Appliance(w) => client_result(appliance::run(w)),
        Command::Audit(w) => client_result(audit_cmd::audit(w)),
        Command::Metrics(w) => client_result(audit_cmd::metrics(w)),
        Command::Help { words } => client_result(help::run(Cli::command(), &words)),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "strongroom", &mut text);
            print_quietly(&text)
        }
        Command::Man => {
            let mut text = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut text)?;
            print_quietly(&text)
        }
    }
}

/// Writes `text` to stdout; a reader that stopped early (`| head`) is not an error.
fn print_quietly(text: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().write_all(text) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Ends the process with the documented exit code of a failure (`fail::Exit`).
fn client_result(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => fail::exit_with(e),
    }
}

/// Ends the process with status 1 if a client subcommand failed, its error on stderr.
fn exit_on_error(result: anyhow::Result<()>) {
    if let Err(e) = result {
        eprintln!("strongroom: {e:#}");
        std::process::exit(1);
    }
}

/// The server, user and pinned fingerprint of `client` and `system`: the flags and environment
/// variables, else the profile (STRONGROOM_PROFILE, else "default"), as the newer commands
/// resolve them. These subcommands trust by pin only; without one it is a usage error.
fn legacy_target(c: &mut client::Connection, subcommand: &str) -> String {
    let opts = conn::Opts {
        profile: std::env::var("STRONGROOM_PROFILE")
            .ok()
            .filter(|p| !p.is_empty()),
        server: c.server.clone(),
        user: c.user.clone(),
        fingerprint: c.fingerprint.clone(),
        ca_file: None,
        insecure_accept_any_certificate: false,
        password_file: None,
        json: false,
    };
    match opts.target() {
        Ok(conn::Target {
            server,
            user,
            trust: conn::Trust::Fingerprint(fingerprint),
            ..
        }) => {
            c.server = Some(server);
            c.user = Some(user);
            fingerprint
        }
        // No pin anywhere (or only a CA file): the usage error these subcommands always gave.
        Ok(_) => require_fingerprint(None, subcommand),
        Err(e)
            if e.downcast_ref::<fail::Failure>()
                .is_some_and(|f| f.message.starts_with("no way to trust")) =>
        {
            require_fingerprint(None, subcommand)
        }
        Err(e) => fail::exit_with(e),
    }
}

/// The `--fingerprint` of a client subcommand, or a usage error (exit 2) naming `subcommand`.
fn require_fingerprint(fingerprint: Option<String>, subcommand: &str) -> String {
    let Some(fingerprint) = fingerprint else {
        // Global arguments cannot be `required` in clap, so this is checked here.
        let mut cli = Cli::command();
        cli.build();
        cli.find_subcommand_mut(subcommand)
            .expect("a client subcommand")
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "the server's certificate fingerprint is required: pass --fingerprint FP \
                 or set STRONGROOM_FINGERPRINT (the `certificate SHA-256 fingerprint` \
                 line the server printed at start)",
            )
            .exit()
    };
    fingerprint
}
