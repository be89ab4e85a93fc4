//! The application state every handler receives, and the top-level router that mounts the
//! faces and the shared middleware.

use std::sync::Arc;

use axum::Router;
use strongroom_core::Core;
use tracing::Instrument;

use crate::{middleware, nethsm};

/// Shared by every handler: the one core of the appliance.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        Self {
            core: Arc::new(core),
        }
    }

    /// Runs a blocking core call (store I/O, Argon2) on the blocking pool, inside the
    /// current request's span so its log lines carry the request id.
    pub async fn run<T, F>(&self, f: F) -> strongroom_core::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> strongroom_core::Result<T> + Send + 'static,
    {
        let core = self.core.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| f(&core)))
            .instrument(tracing::Span::current())
            .await
            .map_err(|e| strongroom_core::Error::Internal(format!("blocking task failed: {e}")))?
    }
}

/// Every face, mounted at its base path, wrapped in the shared middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", nethsm::router(state.clone()))
        .layer(axum::middleware::from_fn(
            middleware::request_id::trace_request,
        ))
        .with_state(state)
}
