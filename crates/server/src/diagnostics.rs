//! The appliance's health checks, and the support bundle built on them. NetHSM's
//! `/health/diagnose` and the appliance face's support bundles report the same checks
//! ([`run_checks`]), so what one says the other says.
//!
//! A support bundle is a tar archive of what whoever helps an administrator needs, and
//! nothing secret: the version, the server's configuration (which holds no secret: secrets
//! live in the store), the appliance's configuration records that are listed as not secret
//! (the others by name only; `strongroom_core::appliance::support`), the services, the recent
//! log lines ([`crate::recent_logs`]), the metrics in Prometheus text, and the checks with the
//! audit chain's verification. See `docs/operations.md`.

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};
use strongroom_core::appliance::services::SERVICES;
use strongroom_core::identity::Principal;
use strongroom_core::{Core, SystemState};

use crate::metrics::Metrics;
use crate::recent_logs::RecentLogs;
use crate::services::Services;

/// Below this much free space in the data directory's file system, the check fails.
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but wants an administrator's attention (a stopped service).
    Warning,
    Failed,
    /// Could not be run by this caller or in this state.
    NotChecked,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name,
            status,
            detail: detail.into(),
        }
    }
}

/// The audit chain's verification as a bundle reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditChain {
    pub verified: bool,
    pub events: u64,
    pub pruned_through: Option<u64>,
    pub broken_at: Option<u64>,
    pub reason: Option<String>,
}

/// Every check, in a fixed order: the store, the data directory's file system, a store
/// rollback found at unlock, the services, the audit chain. The audit chain is verified for a
/// root Administrator of an Operational node only (it is sealed under the domain key, and
/// verifying it is theirs to ask); `chain` receives its full report then.
pub fn run_checks(
    core: &Core,
    data_dir: &Path,
    services: &Services,
    caller: Option<&Principal>,
    chain: &mut Option<AuditChain>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match core.service_running("appliance") {
        Ok(_) => Check::new("store", Status::Ok, "the store answers reads"),
        Err(e) => Check::new(
            "store",
            Status::Failed,
            format!("reading the store failed: {e}"),
        ),
    });
    checks.push(match free_space(data_dir) {
        Ok((free, total)) => {
            let status = if free < MIN_FREE_BYTES {
                Status::Failed
            } else {
                Status::Ok
            };
            Check::new(
                "data-directory",
                status,
                format!(
                    "{} MiB free of {} MiB in the file system of the data directory",
                    free / (1024 * 1024),
                    total / (1024 * 1024)
                ),
            )
        }
        Err(e) => Check::new(
            "data-directory",
            Status::Failed,
            format!("the data directory's file system cannot be read: {e}"),
        ),
    });
    checks.push(match core.pending_rollback() {
        None => Check::new(
            "store-rollback",
            Status::Ok,
            "no rollback of the store was found",
        ),
        Some(reason) => Check::new("store-rollback", Status::Failed, reason),
    });
    let stopped: Vec<&str> = SERVICES
        .iter()
        .filter(|s| !services.is_running(s.id))
        .map(|s| s.id)
        .collect();
    checks.push(if stopped.is_empty() {
        Check::new("services", Status::Ok, "every service runs")
    } else {
        Check::new(
            "services",
            Status::Warning,
            format!("stopped by an administrator: {}", stopped.join(", ")),
        )
    });
    checks.push(audit_check(core, caller, chain));
    checks
}

fn audit_check(core: &Core, caller: Option<&Principal>, chain: &mut Option<AuditChain>) -> Check {
    const NAME: &str = "audit-chain";
    if core.state() != SystemState::Operational {
        return Check::new(
            NAME,
            Status::NotChecked,
            format!("the node is {}: the trail is sealed", core.state()),
        );
    }
    let Some(who) = caller else {
        return Check::new(
            NAME,
            Status::NotChecked,
            "verified for a root Administrator only",
        );
    };
    let report = match core.operational(who).and_then(|op| op.audit().verify()) {
        Ok(r) => r,
        Err(strongroom_core::Error::Forbidden) => {
            return Check::new(
                NAME,
                Status::NotChecked,
                "verified for a root Administrator only",
            );
        }
        Err(e) => {
            return Check::new(
                NAME,
                Status::Failed,
                format!("verifying the trail failed: {e}"),
            );
        }
    };
    let check = if report.verified {
        Check::new(
            NAME,
            Status::Ok,
            format!("{} events verified", report.events),
        )
    } else {
        Check::new(
            NAME,
            Status::Failed,
            format!(
                "the chain breaks at event {}: {}",
                report.broken_at.unwrap_or_default(),
                report.reason.clone().unwrap_or_default()
            ),
        )
    };
    *chain = Some(AuditChain {
        verified: report.verified,
        events: report.events,
        pruned_through: report.pruned_through,
        broken_at: report.broken_at,
        reason: report.reason,
    });
    check
}

/// Free and total bytes of the file system holding `dir`.
fn free_space(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("the path has a NUL byte"))?;
    // SAFETY: statvfs writes only into the zeroed struct it is given; the path is a valid C
    // string that outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    let block = st.f_frsize as u64;
    #[allow(clippy::unnecessary_cast)]
    Ok((st.f_bavail as u64 * block, st.f_blocks as u64 * block))
}

/// What a support bundle is made of; gathered on the blocking pool, then packed.
pub struct BundleSources<'a> {
    pub core: &'a Core,
    pub data_dir: &'a Path,
    pub services: &'a Services,
    pub metrics: &'a Metrics,
    pub logs: &'a RecentLogs,
    /// The server's configuration, as [`config_summary`] wrote it.
    pub server_config: &'a Value,
    /// Who asked for the bundle (the audit chain is verified as them).
    pub caller: &'a Principal,
    /// The appliance's time, as RFC 3339 and as seconds since the epoch.
    pub created: time::OffsetDateTime,
}

/// The archive's top directory, which every file is under.
pub const BUNDLE_DIR: &str = "strongroom-support";

const README: &str = "\
Strongroom support bundle. It holds nothing secret: no passphrase, password, passkey or key.

version.json              the build, the node's state, when this bundle was made
config/server.json        the server's settings (strongroom.toml, environment, flags)
config/appliance.json     the appliance's configuration records: their names, and the
                          content of those that hold nothing secret (the others: null)
config/services.json      each service and whether it runs
diagnostics.json          the health checks (as NetHSM's /health/diagnose reports them)
audit-chain.json          the audit trail's verification, as the requesting administrator
metrics.prom              the metrics, in Prometheus text format
logs/recent.log           the most recent log lines (at most 2000), oldest first
";

/// Builds a support bundle: the tar archive's bytes. `progress` hears how far it got, in
/// percent (the checks, the audit chain's walk above all, take most of the time).
pub fn build_bundle(src: &BundleSources<'_>, progress: &dyn Fn(u8)) -> std::io::Result<Vec<u8>> {
    let mut chain = None;
    let checks = run_checks(
        src.core,
        src.data_dir,
        src.services,
        Some(src.caller),
        &mut chain,
    );
    progress(70);
    let state = src.core.state();
    let created = src
        .created
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let version = json!({
        "product": "Strongroom",
        "version": env!("CARGO_PKG_VERSION"),
        "arch": std::env::consts::ARCH,
        "os": std::env::consts::OS,
        "state": state.as_str(),
        "created": created,
    });
    let records: Vec<Value> = match src.core.appliance_records_for_support() {
        Ok(records) => records
            .into_iter()
            .map(|r| json!({"name": r.name, "content": r.content}))
            .collect(),
        Err(e) => vec![json!({"error": format!("the records could not be read: {e}")})],
    };
    let services: Vec<Value> = SERVICES
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "running": src.services.is_running(s.id)}))
        .collect();
    let audit = match chain {
        Some(c) => serde_json::to_value(c).unwrap_or(Value::Null),
        None => json!({"verified": Value::Null, "reason": "not verified (see diagnostics.json)"}),
    };
    let mut log = String::new();
    for line in src.logs.lines() {
        log.push_str(&line.text);
        log.push('\n');
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("README.txt", README.as_bytes().to_vec()),
        ("version.json", pretty(&version)),
        ("config/server.json", pretty(src.server_config)),
        ("config/appliance.json", pretty(&Value::Array(records))),
        ("config/services.json", pretty(&Value::Array(services))),
        ("diagnostics.json", pretty(&json!({"checks": checks}))),
        ("audit-chain.json", pretty(&audit)),
        (
            "metrics.prom",
            src.metrics.to_prometheus(state.as_str()).into_bytes(),
        ),
        ("logs/recent.log", log.into_bytes()),
    ];
    progress(90);
    let mtime = src.created.unix_timestamp().max(0) as u64;
    let mut archive = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        archive.append_data(
            &mut header,
            format!("{BUNDLE_DIR}/{name}"),
            bytes.as_slice(),
        )?;
    }
    archive.into_inner()
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The server's settings as a support bundle shows them. Every field of [`crate::Config`] is
/// named (none is secret), so a new one is a decision here.
pub fn config_summary(config: &crate::Config) -> Value {
    let crate::Config {
        data_dir,
        listen,
        tls_names,
        log_format,
        log_filter,
        auth_cache_ttl_secs,
        restore_max_bytes,
        session_idle_secs,
        session_max_secs,
        passkey_authorization_secs,
        audit_max_events,
        accept_store_rollback,
        tls_handshake_timeout_secs,
        header_read_timeout_secs,
        body_idle_timeout_secs,
        keep_alive_idle_secs,
        max_connections,
        max_connections_per_address,
        regenerate_device_key,
        cluster,
    } = config;
    json!({
        "data_dir": data_dir.display().to_string(),
        "listen": listen.to_string(),
        "tls_names": tls_names,
        "log_format": format!("{log_format:?}").to_lowercase(),
        "log_filter": log_filter,
        "auth_cache_ttl_secs": auth_cache_ttl_secs,
        "restore_max_bytes": restore_max_bytes,
        "session_idle_secs": session_idle_secs,
        "session_max_secs": session_max_secs,
        "passkey_authorization_secs": passkey_authorization_secs,
        "audit_max_events": audit_max_events,
        "accept_store_rollback": accept_store_rollback,
        "tls_handshake_timeout_secs": tls_handshake_timeout_secs,
        "header_read_timeout_secs": header_read_timeout_secs,
        "body_idle_timeout_secs": body_idle_timeout_secs,
        "keep_alive_idle_secs": keep_alive_idle_secs,
        "max_connections": max_connections,
        "max_connections_per_address": max_connections_per_address,
        "regenerate_device_key": regenerate_device_key,
        "store": cluster.as_ref().map_or_else(|| "redb".to_owned(), |c| c.to_string()),
    })
}
