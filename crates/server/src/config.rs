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
    pub passkey_authorization_secs: Option<u64>,
    pub audit_max_events: Option<u64>,
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
    pub passkey_authorization_secs: Option<u64>,
    pub audit_max_events: Option<u64>,
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
    /// The longest a passkey authorization for browse and restore lasts, in seconds.
    pub passkey_authorization_secs: u64,
    /// The most events the audit trail keeps; older ones are pruned.
    pub audit_max_events: u64,
}

pub const DEFAULT_AUTH_CACHE_TTL_SECS: u64 = 30;
pub const DEFAULT_RESTORE_MAX_BYTES: usize = 1 << 30;
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 30 * 60;
pub const DEFAULT_PASSKEY_AUTHORIZATION_SECS: u64 = 30 * 60;

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
            passkey_authorization_secs: over
                .passkey_authorization_secs
                .or(file.passkey_authorization_secs)
                .unwrap_or(DEFAULT_PASSKEY_AUTHORIZATION_SECS),
            audit_max_events: match over.audit_max_events.or(file.audit_max_events) {
                Some(0) => anyhow::bail!("audit_max_events must be at least 1"),
                Some(n) => n,
                None => strongroom_core::DEFAULT_AUDIT_MAX_EVENTS,
            },
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
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ConfigFile>("lisen = \"x\"").is_err());
    }
}
