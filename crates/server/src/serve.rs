//! Starting and stopping the server: open the store, make or load the TLS identity, listen,
//! print the address and certificate fingerprint, serve until SIGINT/SIGTERM, close cleanly.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use strongroom_core::clock::Clock;
use strongroom_core::{Core, CoreSettings};

use crate::app::{self, AppState};
use crate::config::Config;
use crate::connection::{ConnectionAcceptor, Timeouts};

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The subdirectory of the data directory where uploads wait while they are checked. It is
/// not part of the store: everything in it is deleted at every start.
pub const SCRATCH_DIR: &str = "scratch";

/// File descriptors kept out of the connection limit: the store, the device key, uploads in
/// the scratch directory, logs, the runtime's own.
const RESERVED_DESCRIPTORS: u64 = 128;

/// Raises the soft limit on open files to the hard limit; returns the limit in force (`None`
/// if it cannot be read or is unlimited).
// `rlim_t` is not `u64` on every platform.
#[allow(clippy::unnecessary_cast)]
fn raise_descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open file limit");
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            } else {
                tracing::warn!(
                    error = %std::io::Error::last_os_error(),
                    soft = limit.rlim_cur as u64,
                    hard = limit.rlim_max as u64,
                    "cannot raise the open file limit to its hard limit"
                );
            }
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        tracing::info!("open file limit: unlimited");
        return None;
    }
    let soft = limit.rlim_cur as u64;
    tracing::info!(open_file_limit = soft, "open file limit");
    Some(soft)
}

/// The connection limit the descriptor limit can carry, leaving [`RESERVED_DESCRIPTORS`].
fn fit_connection_limit(configured: usize, open_file_limit: Option<u64>) -> usize {
    let Some(limit) = open_file_limit else {
        return configured;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS))
        .unwrap_or(usize::MAX)
        .max(1);
    if configured > room {
        tracing::warn!(
            configured,
            lowered_to = room,
            open_file_limit = limit,
            "max_connections lowered to fit the open file limit"
        );
        room
    } else {
        configured
    }
}

/// Empties the scratch directory, or makes it (mode 0700): an upload a killed server left
/// there is an encrypted copy of a backup, readable with that backup's passphrase, and must
/// not outlive the request that brought it. Also removes uploads left directly in the data
/// directory (`.tmp*`) by versions that spooled them there.
fn prepare_scratch(data_dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let scratch = data_dir.join(SCRATCH_DIR);
    match std::fs::symlink_metadata(&scratch) {
        // remove_dir_all does not follow a symbolic link; it removes the link.
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&scratch),
        Ok(_) => std::fs::remove_file(&scratch),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
    .with_context(|| format!("emptying {}", scratch.display()))?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&scratch)
        .with_context(|| format!("creating {}", scratch.display()))?;
    let mut removed = 0usize;
    for entry in
        std::fs::read_dir(data_dir).with_context(|| format!("listing {}", data_dir.display()))?
    {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(".tmp") && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed uploads left in the data directory");
    }
    Ok(scratch)
}

/// Argon2 allocates 19 to 256 MiB per run. glibc's malloc raises its mmap threshold after such
/// blocks are freed, and from then on serves them from its heap and keeps the memory: a
/// server that has checked a few passwords would hold a gigabyte. A fixed threshold keeps
/// large blocks in mmap, returned to the system when freed.
fn keep_large_allocations_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called at start, before heavy allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    keep_large_allocations_returnable();
    // Two crypto providers could be linked in; say which one rustls must use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let max_connections = fit_connection_limit(config.max_connections, raise_descriptor_limit());

    let data_dir = config.data_dir.clone();
    let tls_names = config.tls_names.clone();
    let settings = CoreSettings {
        auth_cache_ttl: Duration::from_secs(config.auth_cache_ttl_secs),
        session_idle: Duration::from_secs(config.session_idle_secs),
        session_max: Duration::from_secs(config.session_max_secs),
        passkey_window: Duration::from_secs(config.passkey_authorization_secs),
        audit_max_events: config.audit_max_events,
        accept_store_rollback: config.accept_store_rollback,
        regenerate_device_key: config.regenerate_device_key,
        clock: server_clock(),
        // The bound on each call to etcd: a store unanswered for longer makes the node Failed.
        cluster_failed_after: Duration::from_secs(
            (config.cluster.as_ref())
                .and_then(|c| c.etcd.request_timeout_secs)
                .unwrap_or(crate::cluster::DEFAULT_REQUEST_TIMEOUT_SECS),
        ),
    };
    let cluster = config.cluster.clone();
    let (core, tls, scratch_dir, _node_lock, membership) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let (core, node_lock, membership) = match &cluster {
                Some(store) => {
                    let (core, lock, members) = crate::cluster::open(&data_dir, store, settings)?;
                    (core, Some(lock), Some(members))
                }
                None => (
                    Core::open(&data_dir, settings)
                        .with_context(|| format!("opening the store in {}", data_dir.display()))?,
                    None,
                    None,
                ),
            };
            // After the store is open: its lock keeps a second server on this directory out.
            let scratch_dir = prepare_scratch(&data_dir)?;
            let tls = core
                .tls_identity(&tls_names)
                .context("loading the TLS identity")?;
            // The supervised member's copy of the cluster CA and identity, as stored.
            crate::cluster_peer_tls::refresh_logged(&core);
            Ok((core, tls, scratch_dir, node_lock, membership))
        })
        .await??;
    start_syslog(&core);
    tracing::info!(state = %core.state(), data_dir = %config.data_dir.display(), "store opened");

    let rustls_config = RustlsConfig::from_pem(
        tls.cert_pem.as_bytes().to_vec(),
        tls.key_pem.as_bytes().to_vec(),
    )
    .await
    .context("loading the TLS certificate")?;

    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("listening on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    {
        // The contract scripts and tests rely on: these two lines, on stdout, in this order.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on https://{addr}")?;
        writeln!(out, "certificate SHA-256 fingerprint {}", tls.fingerprint())?;
        out.flush()?;
    }

    let mut state =
        AppState::new(core, scratch_dir, config.restore_max_bytes).with_tls(rustls_config.clone());
    state.server_config = std::sync::Arc::new(crate::diagnostics::config_summary(&config));
    state.cluster_membership = membership;
    let core = state.core.clone();
    core.follow_cluster().context("following the cluster")?;
    tokio::spawn(flush_audit_every_minute(std::sync::Arc::downgrade(&core)));
    let handle = axum_server::Handle::new();
    // Registered before READY=1, so a stop right after the start is a clean shutdown.
    let signals = ShutdownSignals::register()?;
    tokio::spawn(shutdown_on_signal(
        handle.clone(),
        state.shutdown.clone(),
        signals,
    ));
    // After the two start lines: a unit that waits for readiness finds them in the journal.
    crate::systemd::ready(addr);
    tokio::spawn(crate::systemd::keep_watchdog_fed());

    let secs = Duration::from_secs;
    let acceptor = ConnectionAcceptor::new(
        RustlsAcceptor::new(rustls_config)
            .handshake_timeout(secs(config.tls_handshake_timeout_secs)),
        max_connections,
        config.max_connections_per_address,
        Timeouts {
            header_read: secs(config.header_read_timeout_secs),
            keep_alive_idle: secs(config.keep_alive_idle_secs),
        },
    );
    let mut server = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle)
        .accept_error_handler(|peer: Option<&SocketAddr>, e: &std::io::Error| match peer {
            Some(peer) => tracing::debug!(%peer, error = %e, "connection not accepted"),
            None => tracing::warn!(error = %e, "accepting a connection failed"),
        });
    // hyper's own HTTP/1 header timer starts when a connection goes idle, so it covers the
    // keep-alive wait and the headers together: a backstop to `connection`'s finer clock.
    server.http_builder().http1().header_read_timeout(secs(
        config.keep_alive_idle_secs + config.header_read_timeout_secs,
    ));
    // A stalled upload: no body data for this long while a handler reads it fails the body.
    let service = tower::ServiceBuilder::new()
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(secs(
            config.body_idle_timeout_secs,
        )))
        .service(app::service(state));
    server
        .serve(axum::ServiceExt::into_make_service_with_connect_info::<
            SocketAddr,
        >(service))
        .await
        .context("serving")?;

    // The router and its state are gone; this is the last handle on the store, so dropping it
    // closes the store cleanly.
    let open_handles = std::sync::Arc::strong_count(&core);
    drop(core);
    tracing::info!(open_handles, "stopped; store closed");
    Ok(())
}

/// Starts the syslog forwarder on the stored destinations (readable in any state: the node
/// may start Locked), and feeds it every audit event the core stores from now on.
fn start_syslog(core: &Core) {
    crate::syslog::reload(core);
    core.observe_audit(Box::new(|event| crate::syslog::forwarder().audit(event)));
    tokio::spawn(crate::syslog::report_every_minute());
}

/// The clock the core and the failure limits run on. A build with the `test-clock` feature
/// (tests only) may run it ahead: see [`crate::test_clock`].
#[cfg(feature = "test-clock")]
fn server_clock() -> Clock {
    crate::test_clock::server_clock()
}

#[cfg(not(feature = "test-clock"))]
fn server_clock() -> Clock {
    Clock::system()
}

/// Writes the counted failures to the audit trail once a minute (they are also written
/// before any other event).
/// Holds no strong handle, so the store still closes when the server stops.
async fn flush_audit_every_minute(core: std::sync::Weak<Core>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(core) = core.upgrade() else { return };
        let _ = tokio::task::spawn_blocking(move || core.flush_audit()).await;
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made (a signal stream is registered
/// when it is created, not when first polled).
struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("catching SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("catching SIGTERM")?,
        })
    }
}

async fn shutdown_on_signal(
    handle: axum_server::Handle<SocketAddr>,
    requested: std::sync::Arc<tokio::sync::Notify>,
    mut signals: ShutdownSignals,
) {
    tokio::select! {
        _ = signals.interrupt.recv() => tracing::info!("SIGINT received"),
        _ = signals.terminate.recv() => tracing::info!("SIGTERM received"),
        _ = requested.notified() => tracing::info!("shutdown requested over the API"),
    }
    tracing::info!("shutting down; finishing in-flight requests");
    crate::systemd::stopping();
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_leaves_room_for_other_files() {
        assert_eq!(
            fit_connection_limit(4096, Some(1024)),
            1024 - RESERVED_DESCRIPTORS as usize
        );
        assert_eq!(fit_connection_limit(100, Some(1024)), 100);
        assert_eq!(fit_connection_limit(4096, Some(1 << 20)), 4096);
        assert_eq!(fit_connection_limit(4096, None), 4096);
        assert_eq!(fit_connection_limit(10, Some(50)), 1);
    }
}
