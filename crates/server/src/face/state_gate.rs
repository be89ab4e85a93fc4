//! The state gate: which states of the node a route (or a whole face) is served in. It runs
//! before method routing and before any extractor, so a request in the wrong state gets the
//! face's wrong-state answer (NetHSM 412, the others 503) before anything else is looked at.
//! Every face gates this way; each renders the refusal in its own shape ([`FaceError`]).

use std::marker::PhantomData;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::MethodRouter;
use strongroom_core::SystemState;

use super::FaceError;
use crate::app::AppState;

/// Every state.
pub const ANY_STATE: &[SystemState] = &[
    SystemState::Unprovisioned,
    SystemState::Locked,
    SystemState::Operational,
    SystemState::Failed,
];

/// Only while Operational.
pub const OPERATIONAL: &[SystemState] = &[SystemState::Operational];

/// The states a face's routes are served in, refusals in the face's error `E`.
pub struct StateGate<E> {
    app: AppState,
    error: PhantomData<fn() -> E>,
}

impl<E: FaceError> StateGate<E> {
    pub fn new(app: &AppState) -> Self {
        Self {
            app: app.clone(),
            error: PhantomData,
        }
    }

    /// A route (its handlers and its 405 fallback) served only in `states`.
    pub fn route(
        &self,
        states: &'static [SystemState],
        routes: MethodRouter<AppState>,
    ) -> MethodRouter<AppState> {
        routes.layer(axum::middleware::from_fn_with_state(
            (self.app.clone(), states),
            gate::<E>,
        ))
    }

    /// A whole router (its routes and its fallback) served only in `states`.
    pub fn router(
        &self,
        states: &'static [SystemState],
        router: Router<AppState>,
    ) -> Router<AppState> {
        router.layer(axum::middleware::from_fn_with_state(
            (self.app.clone(), states),
            gate::<E>,
        ))
    }
}

async fn gate<E: FaceError>(
    State((app, states)): State<(AppState, &'static [SystemState])>,
    req: Request,
    next: Next,
) -> Response {
    let current = app.core.state();
    if states.contains(&current) {
        return next.run(req).await;
    }
    let (parts, _) = req.into_parts();
    E::from(strongroom_core::Error::WrongState(current)).answer(&parts)
}
