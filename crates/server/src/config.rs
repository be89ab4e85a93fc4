//! Configuration: defaults < TOML file < `STRONGROOM_*` environment < command-line flags,
//! merged into one validated [`Config`]. Every setting is documented in
//! `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::logging::LogFormat;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_LOG_FILTER: &str = "info";

/// The shape of `strongroom.toml`. Unknown keys are refused, so a typo is an error rather than
/// a silently ignored setting.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The format version of this file; only 1 exists.
    pub version: Option<u32>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub tls_names: Option<Vec<String>>,
    pub log_format: Option<LogFormat>,
    pub log_filter: Option<String>,
    pub auth_cache_ttl_secs: Option<u64>,
    pub restore_max_bytes: Option<usize>,
    pub session_idle_secs: Option<u64>,
    pub session_max_secs: Option<u64>,
    pub passkey_authorization_secs: Option<u64>,
    pub audit_max_events: Option<u64>,
    pub accept_store_rollback: Option<bool>,
    pub tls_handshake_timeout_secs: Option<u64>,
    pub header_read_timeout_secs: Option<u64>,
    pub body_idle_timeout_secs: Option<u64>,
    pub keep_alive_idle_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    /// `etcd://HOST:PORT[,HOST:PORT...]`: cluster mode (see [`crate::cluster`]).
    pub store: Option<String>,
    /// How to reach etcd in cluster mode: TLS, credentials, limits.
    pub etcd: Option<crate::cluster::EtcdFile>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let file: ConfigFile = toml::from_str(&text)
            .with_context(|| format!("parsing config file {}", path.display()))?;
        if let Some(v) = file.version
            && v != 1
        {
            anyhow::bail!(
                "config file {}: version {v} is not supported (1 is)",
                path.display()
            );
        }
        Ok(file)
    }
}

/// Settings given by flags or environment variables (clap merges those two); each wins over
/// the file.
#[derive(Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    /// Empty means "not given".
    pub tls_names: Vec<String>,
    pub log_format: Option<LogFormat>,
    pub log_filter: Option<String>,
    pub auth_cache_ttl_secs: Option<u64>,
    pub restore_max_bytes: Option<usize>,
    pub session_idle_secs: Option<u64>,
    pub session_max_secs: Option<u64>,
    pub passkey_authorization_secs: Option<u64>,
    pub audit_max_events: Option<u64>,
    pub accept_store_rollback: Option<bool>,
    pub tls_handshake_timeout_secs: Option<u64>,
    pub header_read_timeout_secs: Option<u64>,
    pub body_idle_timeout_secs: Option<u64>,
    pub keep_alive_idle_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    /// `--store etcd://...`.
    pub store: Option<String>,
    /// `--regenerate-device-key` (a flag only: never in the file or the environment, where it
    /// would stay set and silently replace a tampered key at every start).
    pub regenerate_device_key: bool,
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the store and the device key; created (mode 0700) if missing.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Extra subject alternative names for the self-signed certificate.
    pub tls_names: Vec<String>,
    pub log_format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `strongroom_server=debug`.
    pub log_filter: String,
    /// How long a successful password check is remembered, in seconds; 0 turns the cache off.
    pub auth_cache_ttl_secs: u64,
    /// The largest backup file `POST /system/restore` accepts, in bytes.
    pub restore_max_bytes: usize,
    /// Seconds an appliance session or backup-client login token lives unused.
    pub session_idle_secs: u64,
    /// Seconds a session lives at most after its login, however often it is used or renewed.
    pub session_max_secs: u64,
    /// The longest a passkey authorization for browse and restore lasts, in seconds.
    pub passkey_authorization_secs: u64,
    /// The most events the audit trail keeps; older ones are pruned.
    pub audit_max_events: u64,
    /// Start, and unlock, even if the store is older than this node's anchor (a deliberate
    /// restore of the store file); the rollback is reported until a root Administrator
    /// accepts it.
    pub accept_store_rollback: bool,
    /// Seconds a client has, once connected, to finish the TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Seconds a client has to send a request line and headers: after the handshake for the
    /// first request, and from its first byte for a later one.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may make no progress while the server is reading it.
    pub body_idle_timeout_secs: u64,
    /// Seconds a connection may sit idle between requests.
    pub keep_alive_idle_secs: u64,
    /// The most connections open at once (handshaking or not); more are closed at once. The
    /// server lowers it at start if the descriptor limit cannot carry it.
    pub max_connections: usize,
    /// The most of those from one client address (IPv6: one /64) at once; more from it are
    /// closed at once, so one host cannot take every slot.
    pub max_connections_per_address: usize,
    /// Replace a refused device key file (a link, another owner, group or other access,
    /// missing beside a store, not opening the stored TLS identity) with a new key and make a
    /// new TLS certificate, instead of refusing to start.
    pub regenerate_device_key: bool,
    /// Cluster mode: the etcd store shared with the other nodes; `None` for the embedded
    /// store in the data directory.
    pub cluster: Option<crate::cluster::ClusterStore>,
}

pub const DEFAULT_AUTH_CACHE_TTL_SECS: u64 = 30;
pub const DEFAULT_RESTORE_MAX_BYTES: usize = 1 << 30;
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 30 * 60;
pub const DEFAULT_SESSION_MAX_SECS: u64 = 12 * 60 * 60;
pub const DEFAULT_PASSKEY_AUTHORIZATION_SECS: u64 = 30 * 60;
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_BODY_IDLE_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_KEEP_ALIVE_IDLE_SECS: u64 = 60;
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 1024;
/// The longest any connection timeout may be: a day. Zero makes no sense for any of them.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// A timeout setting: in 1..=[`MAX_TIMEOUT_SECS`].
fn timeout_secs(name: &str, value: Option<u64>, default: u64) -> anyhow::Result<u64> {
    let value = value.unwrap_or(default);
    if !(1..=MAX_TIMEOUT_SECS).contains(&value) {
        anyhow::bail!("{name} must be between 1 and {MAX_TIMEOUT_SECS} seconds, not {value}");
    }
    Ok(value)
}

impl Config {
    pub fn resolve(over: Overrides, file: Option<ConfigFile>) -> anyhow::Result<Self> {
        let file = file.unwrap_or_default();
        let data_dir = over.data_dir.or(file.data_dir).context(
            "no data directory: give --data-dir, STRONGROOM_DATA_DIR or data_dir in the config file",
        )?;
        let listen = match over.listen.or(file.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN
                .parse()
                .expect("default listen address parses"),
        };
        let tls_names = if over.tls_names.is_empty() {
            file.tls_names.unwrap_or_default()
        } else {
            over.tls_names
        };
        let max_connections = over
            .max_connections
            .or(file.max_connections)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if max_connections == 0 {
            anyhow::bail!("max_connections must be at least 1");
        }
        let max_connections_per_address = over
            .max_connections_per_address
            .or(file.max_connections_per_address)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
        if max_connections_per_address == 0 {
            anyhow::bail!("max_connections_per_address must be at least 1");
        }
        Ok(Self {
            data_dir,
            listen,
            tls_names,
            log_format: over.log_format.or(file.log_format).unwrap_or_default(),
            log_filter: over
                .log_filter
                .or(file.log_filter)
                .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
            auth_cache_ttl_secs: over
                .auth_cache_ttl_secs
                .or(file.auth_cache_ttl_secs)
                .unwrap_or(DEFAULT_AUTH_CACHE_TTL_SECS),
            restore_max_bytes: over
                .restore_max_bytes
                .or(file.restore_max_bytes)
                .unwrap_or(DEFAULT_RESTORE_MAX_BYTES),
            session_idle_secs: over
                .session_idle_secs
                .or(file.session_idle_secs)
                .unwrap_or(DEFAULT_SESSION_IDLE_SECS),
            session_max_secs: match over.session_max_secs.or(file.session_max_secs) {
                Some(0) => anyhow::bail!("session_max_secs must be at least 1"),
                Some(n) => n,
                None => DEFAULT_SESSION_MAX_SECS,
            },
            passkey_authorization_secs: over
                .passkey_authorization_secs
                .or(file.passkey_authorization_secs)
                .unwrap_or(DEFAULT_PASSKEY_AUTHORIZATION_SECS),
            audit_max_events: match over.audit_max_events.or(file.audit_max_events) {
                Some(0) => anyhow::bail!("audit_max_events must be at least 1"),
                Some(n) => n,
                None => strongroom_core::DEFAULT_AUDIT_MAX_EVENTS,
            },
            accept_store_rollback: over
                .accept_store_rollback
                .or(file.accept_store_rollback)
                .unwrap_or(false),
            tls_handshake_timeout_secs: timeout_secs(
                "tls_handshake_timeout_secs",
                over.tls_handshake_timeout_secs
                    .or(file.tls_handshake_timeout_secs),
                DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS,
            )?,
            header_read_timeout_secs: timeout_secs(
                "header_read_timeout_secs",
                over.header_read_timeout_secs
                    .or(file.header_read_timeout_secs),
                DEFAULT_HEADER_READ_TIMEOUT_SECS,
            )?,
            body_idle_timeout_secs: timeout_secs(
                "body_idle_timeout_secs",
                over.body_idle_timeout_secs.or(file.body_idle_timeout_secs),
                DEFAULT_BODY_IDLE_TIMEOUT_SECS,
            )?,
            keep_alive_idle_secs: timeout_secs(
                "keep_alive_idle_secs",
                over.keep_alive_idle_secs.or(file.keep_alive_idle_secs),
                DEFAULT_KEEP_ALIVE_IDLE_SECS,
            )?,
            max_connections,
            max_connections_per_address,
            regenerate_device_key: over.regenerate_device_key,
            cluster: crate::cluster::ClusterStore::resolve(
                over.store.or(file.store).as_deref(),
                file.etcd,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_defaults_fill_in() {
        let file: ConfigFile = toml::from_str(
            "version = 1\ndata_dir = \"/from/file\"\nlisten = \"0.0.0.0:9000\"\nlog_format = \"json\"",
        )
        .unwrap();
        let over = Overrides {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::resolve(over, Some(file)).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.log_filter, "info");
        assert_eq!(c.auth_cache_ttl_secs, DEFAULT_AUTH_CACHE_TTL_SECS);
        assert!(Config::resolve(Overrides::default(), None).is_err());
    }

    #[test]
    fn connection_limits_default_and_refuse_zero() {
        let file: ConfigFile =
            toml::from_str("data_dir = \"/d\"\nkeep_alive_idle_secs = 5\nmax_connections = 7")
                .unwrap();
        let c = Config::resolve(Overrides::default(), Some(file)).unwrap();
        assert_eq!(c.keep_alive_idle_secs, 5);
        assert_eq!(c.max_connections, 7);
        assert_eq!(
            c.tls_handshake_timeout_secs,
            DEFAULT_TLS_HANDSHAKE_TIMEOUT_SECS
        );
        assert_eq!(c.header_read_timeout_secs, DEFAULT_HEADER_READ_TIMEOUT_SECS);
        assert_eq!(c.body_idle_timeout_secs, DEFAULT_BODY_IDLE_TIMEOUT_SECS);
        assert_eq!(c.session_max_secs, DEFAULT_SESSION_MAX_SECS);

        let with = |over: Overrides| {
            Config::resolve(
                Overrides {
                    data_dir: Some("/d".into()),
                    ..over
                },
                None,
            )
        };
        for bad in [
            Overrides {
                tls_handshake_timeout_secs: Some(0),
                ..Default::default()
            },
            Overrides {
                header_read_timeout_secs: Some(0),
                ..Default::default()
            },
            Overrides {
                body_idle_timeout_secs: Some(0),
                ..Default::default()
            },
            Overrides {
                keep_alive_idle_secs: Some(MAX_TIMEOUT_SECS + 1),
                ..Default::default()
            },
            Overrides {
                max_connections: Some(0),
                ..Default::default()
            },
            Overrides {
                session_max_secs: Some(0),
                ..Default::default()
            },
        ] {
            assert!(with(bad).is_err());
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ConfigFile>("lisen = \"x\"").is_err());
    }
}
