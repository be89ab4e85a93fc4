//! The served TLS certificate, swapped live: after an administrator changes the identity in
//! the core, [`TlsReload::reload`] reads the stored identity and hands it to rustls, so the
//! next TLS handshake presents it; connections already open keep theirs.

use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use strongroom_core::{Core, Error, Result};

/// The handle on the configuration the listener serves from. Empty where no listener serves
/// (a router built in a test without one), where a reload does nothing.
#[derive(Clone, Default)]
pub struct TlsReload {
    config: Option<RustlsConfig>,
    /// One reload at a time, each reading the store when it runs: two changes close together
    /// end with the last one stored being served, whatever order their requests finish in.
    serial: Arc<tokio::sync::Mutex<()>>,
}

impl TlsReload {
    pub fn new(config: RustlsConfig) -> Self {
        Self {
            config: Some(config),
            serial: Arc::default(),
        }
    }

    /// Serves the identity stored now to new connections.
    pub async fn reload(&self, core: &Arc<Core>) -> Result<()> {
        let Some(config) = &self.config else {
            return Ok(());
        };
        let _one_at_a_time = self.serial.lock().await;
        let stored = core.clone();
        let identity = tokio::task::spawn_blocking(move || stored.stored_tls_identity())
            .await
            .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))??
            .ok_or_else(|| Error::Internal("no TLS identity is stored".into()))?;
        config
            .reload_from_pem(
                identity.cert_pem.as_bytes().to_vec(),
                identity.key_pem.as_bytes().to_vec(),
            )
            .await
            .map_err(|e| {
                Error::Internal(format!("the new TLS certificate cannot be served: {e}"))
            })?;
        tracing::info!(fingerprint = %identity.fingerprint(), "serving the new TLS certificate");
        // The supervised etcd member presents the same certificate to its peers.
        let core = core.clone();
        let _ = tokio::task::spawn_blocking(move || crate::cluster_peer_tls::refresh_logged(&core))
            .await;
        Ok(())
    }
}
