//! The bench's HTTPS client: it trusts exactly the certificate whose SHA-256 fingerprint the
//! server printed at start-up ([`strongroom_client::pin`]); verification is never switched off.

use std::time::Duration;

use anyhow::Context;
use reqwest::Client;

/// How long one request may take before it counts as an error (a timeout). It also bounds how
/// long a phase can overrun its duration.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a client pinned to `fingerprint` (as the server prints it). `pool_size` is the
/// number of idle keep-alive connections kept per host: one per concurrent task, so that every
/// task reuses its own connection.
pub fn pinned_client(fingerprint: &str, pool_size: usize) -> anyhow::Result<Client> {
    strongroom_client::pin::client_builder(fingerprint)
        .context("the server's certificate fingerprint")?
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(pool_size)
        .build()
        .context("building the HTTPS client")
}
