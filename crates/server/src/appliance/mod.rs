//! The appliance face (`/api/rest/configure/v1`, vrms-appliance-config-api-v2.json; seed 001;
//! notes section 2): sessions, and the appliance password with its policy and history.
//!
//! While the node is not Operational every operation answers 503 `SERVICE_UNAVAILABLE`:
//! the accounts live in the sealed identity store, so nothing can be checked; the message
//! says to unlock (or provision) through the NetHSM face.

mod error;
mod extract;
mod list_query;
mod services;
mod services_wire;
mod session;
mod settings;
mod support_bundles;
mod tasks;
pub mod wire;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::face::Face;
use crate::face::state_gate::{OPERATIONAL, StateGate};
use crate::middleware::audit;
pub use error::ApplianceError;

/// The face's route table: path, methods, handler (named after the spec's operationId).
pub fn router(state: AppState) -> Router<AppState> {
    let routes = Router::new()
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
        .route("/services", get(services::get_all_services))
        .route("/services/{service_id}", get(services::get_service))
        .route(
            "/services/{service_id}/actions/start",
            post(services::start_service),
        )
        .route(
            "/services/{service_id}/actions/stop",
            post(services::stop_service),
        )
        .route(
            "/services/{service_id}/actions/restart",
            post(services::restart_service),
        )
        .route("/tasks", get(tasks::get_all_tasks_info))
        .route("/tasks/{task_id}", get(tasks::get_task_info))
        .route(
            "/support-bundles",
            get(support_bundles::get_support_bundle_infos)
                .post(support_bundles::generate_support_bundle),
        )
        .route(
            "/support-bundles/{support_bundle_key}",
            get(support_bundles::download_support_bundle_info)
                .delete(support_bundles::delete_support_bundle),
        )
        .fallback(error::not_found);
    // The whole face, its unknown paths included, is served only while Operational.
    StateGate::<ApplianceError>::new(&state)
        .router(OPERATIONAL, routes)
        .layer(axum::middleware::from_fn(error::render_bare_errors))
        .layer(axum::middleware::from_fn_with_state(
            (state, audit::FaceAudit::new(Face::Appliance)),
            audit::record,
        ))
}
