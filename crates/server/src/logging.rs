//! Structured logs with `tracing`: text by default, JSON on request. Every line of a request
//! carries its `request_id` (see [`crate::middleware::request_id`]).

use std::str::FromStr;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "log format must be `text` or `json`, not {other:?}"
            )),
        }
    }
}

/// Installs the global subscriber. Logs go to stderr; stdout carries only the start-up lines
/// (address and certificate fingerprint) that scripts read. The lines that pass `filter` also
/// reach the syslog forwarder ([`crate::syslog::SyslogLayer`]), which sends those at or above
/// its own level.
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid log filter {filter:?}: {e}"))?;
    let recent = crate::recent_logs::global();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(crate::syslog::SyslogLayer);
    // The recent lines are kept for support bundles too (`recent_logs`), past the same filter:
    // a plain text line is formatted once for both; another form needs a second formatting.
    let result = match format {
        LogFormat::Text if !ansi => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(recent.stderr_and_buffer()),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(true)
                    .with_writer(std::io::stderr),
            )
            .with(recent.layer())
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .with(recent.layer())
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}

/// Logs the resolved settings at start. None is a secret: secrets live in the store.
pub fn log_config(config: &crate::Config) {
    tracing::info!(
        data_dir = %config.data_dir.display(),
        listen = %config.listen,
        tls_names = ?config.tls_names,
        log_format = ?config.log_format,
        log_filter = %config.log_filter,
        auth_cache_ttl_secs = config.auth_cache_ttl_secs,
        restore_max_bytes = config.restore_max_bytes,
        session_idle_secs = config.session_idle_secs,
        session_max_secs = config.session_max_secs,
        passkey_authorization_secs = config.passkey_authorization_secs,
        audit_max_events = config.audit_max_events,
        accept_store_rollback = config.accept_store_rollback,
        tls_handshake_timeout_secs = config.tls_handshake_timeout_secs,
        header_read_timeout_secs = config.header_read_timeout_secs,
        body_idle_timeout_secs = config.body_idle_timeout_secs,
        keep_alive_idle_secs = config.keep_alive_idle_secs,
        max_connections = config.max_connections,
        max_connections_per_address = config.max_connections_per_address,
        regenerate_device_key = config.regenerate_device_key,
        store = %config.cluster.as_ref().map_or_else(|| "redb".to_owned(), |c| c.to_string()),
        "configuration"
    );
}
