//! Starting and stopping the server: open the store, make or load the TLS identity, listen,
//! print the address and certificate fingerprint, serve until SIGINT/SIGTERM, close cleanly.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use strongroom_core::{Core, CoreSettings};

use crate::app::{self, AppState};
use crate::config::Config;

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Argon2 allocates 19 to 64 MiB per run. glibc's malloc raises its mmap threshold after such
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

    let data_dir = config.data_dir.clone();
    let tls_names = config.tls_names.clone();
    let settings = CoreSettings {
        auth_cache_ttl: Duration::from_secs(config.auth_cache_ttl_secs),
        session_idle: Duration::from_secs(config.session_idle_secs),
        passkey_window: Duration::from_secs(config.passkey_authorization_secs),
        audit_max_events: config.audit_max_events,
    };
    let (core, tls) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let core = Core::open(&data_dir, settings)
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        let tls = core
            .tls_identity(&tls_names)
            .context("loading the TLS identity")?;
        Ok((core, tls))
    })
    .await??;
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

    let state = AppState::new(core, config.data_dir.clone(), config.restore_max_bytes);
    let core = state.core.clone();
    tokio::spawn(flush_audit_every_minute(std::sync::Arc::downgrade(&core)));
    let handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone(), state.shutdown.clone()));

    axum_server::from_tcp_rustls(listener, rustls_config)?
        .handle(handle)
        .serve(axum::ServiceExt::into_make_service_with_connect_info::<
            SocketAddr,
        >(app::service(state)))
        .await
        .context("serving")?;

    // The router and its state are gone; this is the last handle on the store, so dropping it
    // closes the store cleanly.
    let open_handles = std::sync::Arc::strong_count(&core);
    drop(core);
    tracing::info!(open_handles, "stopped; store closed");
    Ok(())
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

async fn shutdown_on_signal(
    handle: axum_server::Handle<SocketAddr>,
    requested: std::sync::Arc<tokio::sync::Notify>,
) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
        _ = requested.notified() => tracing::info!("shutdown requested over the API"),
    }
    tracing::info!("shutting down; finishing in-flight requests");
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}
