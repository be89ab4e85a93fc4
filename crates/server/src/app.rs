//! The application state every handler receives, and the top-level router that mounts the
//! faces and the shared middleware.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use strongroom_core::Core;
use tracing::Instrument;

use crate::face::Face;
use crate::metrics::Metrics;
use crate::rate_limit::FailureLimiter;
use crate::{admin_api, appliance, commvault, middleware, nethsm};

/// Shared by every handler: the one core of the appliance, and the server-side guards.
///
/// One pointer to [`AppStateFields`]: axum clones the state for every middleware layer and
/// handler of every request, and a profile of `GET /health/state` under load showed cloning
/// and dropping a struct of a dozen `Arc`s (two dozen atomic operations a copy, bouncing
/// between cores) as a tenth of the server's work. Fields read through `Deref`; the few
/// writes while the server is set up go through `DerefMut`, which copies the fields only if
/// a clone is already shared (it is not, before the router is built).
#[derive(Clone)]
pub struct AppState(Arc<AppStateFields>);

impl std::ops::Deref for AppState {
    type Target = AppStateFields;
    fn deref(&self) -> &AppStateFields {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut AppStateFields {
        Arc::make_mut(&mut self.0)
    }
}

/// What [`AppState`] points to.
#[derive(Clone)]
pub struct AppStateFields {
    pub core: Arc<Core>,
    /// Failed authentications, per (client address, user id), on every face.
    pub auth_limiter: Arc<FailureLimiter<crate::auth::SharedAuth>>,
    /// Failed unlock attempts, per client address.
    pub unlock_limiter: Arc<FailureLimiter>,
    /// Wrong current passphrases or passwords given to change one, per (client address,
    /// secret); see [`crate::auth::check_current`].
    pub change_limiter: Arc<FailureLimiter>,
    pub metrics: Arc<Metrics>,
    /// Asks the server to stop (`POST /system/shutdown`), as SIGTERM does.
    pub shutdown: Arc<tokio::sync::Notify>,
    /// Where uploads (restore files, which are encrypted) wait while they are verified:
    /// `DATA/scratch`, emptied at every start (see `serve::prepare_scratch`).
    pub scratch_dir: std::path::PathBuf,
    /// The largest backup file a restore accepts.
    pub restore_max_bytes: usize,
    /// Which of Strongroom's services run ([`crate::services`]).
    pub services: Arc<crate::services::Services>,
    /// Long operations of the appliance face, in memory ([`crate::tasks`]).
    pub tasks: Arc<crate::tasks::Tasks>,
    /// The support bundles made since start, in memory ([`crate::support_bundles`]).
    pub support_bundles: Arc<crate::support_bundles::SupportBundles>,
    /// The server's settings as a support bundle shows them
    /// ([`crate::diagnostics::config_summary`]); set by `serve::run`.
    pub server_config: Arc<serde_json::Value>,
    /// Swaps the served TLS certificate after an administrator changes it.
    pub tls: crate::tls_reload::TlsReload,
    /// The cluster's membership (NetHSM `/cluster/members`); `None` on the embedded store.
    pub cluster_membership: Option<crate::cluster::ClusterMembership>,
}

/// The original allows one failed attempt per second.
const FAILURE_WINDOW: Duration = Duration::from_secs(1);

impl AppState {
    pub fn new(core: Core, scratch_dir: std::path::PathBuf, restore_max_bytes: usize) -> Self {
        // The limits' windows run on the core's clock, which tests move.
        let clock = core.clock().clone();
        let services = Arc::new(crate::services::Services::load(&core));
        let core = Arc::new(core);
        let appliance_clock = Arc::downgrade(&core);
        let tasks = Arc::new(crate::tasks::Tasks::new(Arc::new(move || {
            appliance_clock.upgrade().map_or(0, |core| {
                (core.now().unix_timestamp_nanos() / 1_000_000) as i64
            })
        })));
        Self(Arc::new(AppStateFields {
            auth_limiter: Arc::new(FailureLimiter::new(FAILURE_WINDOW, clock.clone())),
            unlock_limiter: Arc::new(FailureLimiter::new(FAILURE_WINDOW, clock.clone())),
            change_limiter: Arc::new(FailureLimiter::new(FAILURE_WINDOW, clock)),
            core,
            metrics: Arc::new(Metrics::default()),
            shutdown: Arc::new(tokio::sync::Notify::new()),
            scratch_dir,
            restore_max_bytes,
            services,
            tasks,
            support_bundles: Arc::default(),
            server_config: Arc::new(serde_json::Value::Null),
            tls: Default::default(),
            cluster_membership: None,
        }))
    }

    /// Stops the server as SIGTERM does (NetHSM `POST /system/shutdown`, the appliance face's
    /// `POST /appliance/actions/stop`): in-flight requests finish, the store is closed, the
    /// process exits. While Operational only a root Administrator may; in the other states
    /// anyone may, as NetHSM allows (`who` is then `None`).
    pub fn shutdown_by(
        &self,
        who: Option<&strongroom_core::identity::Principal>,
    ) -> strongroom_core::Result<()> {
        if self.core.state() == strongroom_core::SystemState::Operational {
            let who = who.ok_or(strongroom_core::Error::Unauthenticated)?;
            strongroom_core::access::Access::RootAdministrator.check(who)?;
        }
        tracing::info!(by = who.map(|w| w.user_id.as_str()), "shutdown requested");
        self.shutdown.notify_one();
        Ok(())
    }

    /// The state of a server whose listener serves from `tls`.
    pub fn with_tls(mut self, tls: axum_server::tls_rustls::RustlsConfig) -> Self {
        self.tls = crate::tls_reload::TlsReload::new(tls);
        self
    }

    /// Runs a blocking core call (store I/O, Argon2) on the blocking pool, inside the
    /// current request's span so its log lines carry the request id, and with the request's
    /// audit context, so a change it commits carries its audit event.
    pub async fn run<T, F>(&self, f: F) -> strongroom_core::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> strongroom_core::Result<T> + Send + 'static,
    {
        let audit = middleware::audit::current();
        self.run_unaudited(move |core| strongroom_core::audit::in_request(audit, || f(core)))
            .await
    }

    /// A core call that is cheap enough to make on the request's own worker (tens of
    /// microseconds: an Ed25519 or P-256 signature, store reads from memory), with the
    /// request's audit context; the hop to the blocking pool would cost more than the call.
    pub fn run_inline<T>(
        &self,
        f: impl FnOnce(&Core) -> strongroom_core::Result<T>,
    ) -> strongroom_core::Result<T> {
        let audit = middleware::audit::current();
        strongroom_core::audit::in_request(audit, || f(&self.core))
            .map_err(|e| self.core.settle_error(e))
    }

    /// [`AppState::run`] without the request's audit context.
    ///
    /// An error of the call, as of one in [`AppState::run_inline`], goes through
    /// [`strongroom_core::Core::settle_error`]: a cluster node that finds the store re-sealed
    /// by another node's rotation answers as Locked rather than with a 500.
    pub async fn run_unaudited<T, F>(&self, f: F) -> strongroom_core::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> strongroom_core::Result<T> + Send + 'static,
    {
        let core = self.core.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| f(&core).map_err(|e| core.settle_error(e)))
        })
        .instrument(tracing::Span::current())
        .await
        .map_err(|e| strongroom_core::Error::Internal(format!("blocking task failed: {e}")))?
    }
}

/// A face's router.
fn face_router(face: Face, state: &AppState) -> Router<AppState> {
    // Every face but NetHSM's (the one that cannot be stopped) answers 503 while stopped.
    use crate::services::gate;
    match face {
        Face::NetHsm => nethsm::router(state.clone()),
        Face::Appliance => {
            gate::<appliance::ApplianceError>(face, state, appliance::router(state.clone()))
        }
        Face::BackupClient => {
            gate::<commvault::CommvaultError>(face, state, commvault::router(state.clone()))
        }
        Face::Strongroom => {
            gate::<admin_api::ApiError>(face, state, admin_api::router(state.clone()))
        }
    }
}

/// Every face, mounted at its base paths (the shared middleware wraps it in [`service`]).
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for face in Face::ALL {
        for base in face.base_paths() {
            app = app.nest(base, face_router(face, &state));
        }
    }
    // A nested "/" does not match the root with its trailing slash, which backup clients use.
    for base in Face::BackupClient.base_paths() {
        let root =
            Router::new().route(&format!("{base}/"), axum::routing::get(commvault::root_get));
        app = app.merge(crate::services::gate::<commvault::CommvaultError>(
            Face::BackupClient,
            &state,
            root,
        ));
    }
    // The web console: its pages and its sign-in; it calls the faces above for the rest.
    app = app.merge(crate::console::router(&state));
    // The shared middleware is outside the router ([`service`]); only the span's route
    // template is recorded on the routes.
    app.layer(middleware::request_id::RecordRoute::layer())
        .with_state(state)
}

/// The router behind the shared middleware: a rewrite of each request before routing, the
/// request's span and log line, the body relay.
pub type AppService<B> = tower::util::MapRequest<
    middleware::request_id::TraceRequest<middleware::drain::DrainBody<Router>>,
    fn(Request<B>) -> Request<B>,
>;

/// The whole application as the server runs it: [`router`], behind the middleware shared by
/// every request ([`middleware`]), which runs outside the router, before routing. Generic
/// over the body type, which the HTTP server chooses.
pub fn service<B>(state: AppState) -> AppService<B> {
    let metrics = state.metrics.clone();
    tower::util::MapRequest::new(
        middleware::request_id::TraceRequest::new(
            middleware::drain::DrainBody(router(state)),
            metrics,
        ),
        middleware::path_case::lowercase_backup_client_paths::<B> as fn(_) -> _,
    )
}
