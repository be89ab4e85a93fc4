//! Strongroom's HTTPS server: one router per protocol face over the shared [`Core`], plus the
//! middleware every face shares (request id, logging), TLS and configuration.
//!
//! Faces: [`nethsm`] at `/api/v1`; [`appliance`] at `/api/rest/configure/v1`;
//! [`commvault`] (the backup-client face) at `/commandcenter/api` and `/webconsole/api`; our
//! own [`admin_api`] at `/api/strongroom/v1` (each face's name and base paths are set once,
//! in [`face::Face`]). What the faces share (caller and role, state gate, bodies, error
//! rendering) is in [`face`]; no face imports another.
//! Start reading at [`app::router`].
//!
//! [`Core`]: strongroom_core::Core

pub mod admin_api;
pub mod app;
pub mod appliance;
pub mod auth;
pub mod cluster;
pub mod cluster_health_cache;
pub mod cluster_member;
pub mod cluster_peer_tls;
pub mod commvault;
pub mod config;
pub mod connection;
pub mod console;
pub mod diagnostics;
pub mod face;
pub mod http_util;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod nethsm;
pub mod rate_limit;
pub mod recent_logs;
pub mod serve;
pub mod services;
pub mod support_bundles;
pub mod syslog;
pub mod systemd;
pub mod tasks;
#[cfg(feature = "test-clock")]
pub mod test_clock;
pub mod tls_reload;
pub mod xml;

pub use config::Config;
pub use serve::run;
