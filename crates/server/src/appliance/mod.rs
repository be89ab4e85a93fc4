//! The appliance face (`/api/rest/configure/v1`, vrms-appliance-config-api-v2.json; seed 001;
//! notes section 2): sessions, and the appliance password with its policy and history.
//!
//! While the node is not Operational every operation answers 503 `SERVICE_UNAVAILABLE`:
//! the accounts live in the sealed identity store, so nothing can be checked; the message
//! says to unlock (or provision) through the NetHSM face.

mod error;
mod extract;
mod session;
mod settings;
pub mod wire;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use strongroom_core::SystemState;

use crate::app::AppState;
use crate::middleware::audit;
pub use error::ApplianceError;

/// The face's route table: path, methods, handler (named after the spec's operationId).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/session",
            post(session::login)
                .get(session::get_current_session)
                .delete(session::logout),
        )
        .route(
            "/appliance/settings/access/password",
            post(settings::update_appliance_password),
        )
        .route("/appliance", get(settings::get_appliance_info))
        .route("/appliance/settings/time", get(settings::get_time_settings))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            operational_only,
        ))
        .layer(axum::middleware::from_fn(error::render_bare_errors))
        .layer(axum::middleware::from_fn_with_state(
            (state, audit::Face::new("appliance")),
            audit::record,
        ))
}

async fn operational_only(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.core.state() {
        SystemState::Operational => next.run(req).await,
        other => ApplianceError::from(strongroom_core::Error::WrongState(other)).into_response(),
    }
}
