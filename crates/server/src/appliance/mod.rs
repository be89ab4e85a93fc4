//! The appliance face (`/api/rest/configure/v1`, vrms-appliance-config-api-v2.json; seed 001;
//! notes section 2): sessions, and the appliance password with its policy and history.
//!
//! While the node is not Operational every operation answers 503 `SERVICE_UNAVAILABLE`:
//! the accounts live in the sealed identity store, so nothing can be checked; the message
//! says to unlock (or provision) through the NetHSM face.

mod certificates;
mod certificates_wire;
mod error;
mod extract;
mod session;
mod settings;
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
        .route(
            "/appliance/certificates/server",
            get(certificates::get_appliance_certificate)
                .post(certificates::update_appliance_certificate),
        )
        .route(
            "/appliance/certificates/actions/generate-csr",
            post(certificates::generate_csr),
        )
        .route(
            "/appliance/certificates/ca",
            get(certificates::get_appliance_ca_certificates)
                .post(certificates::add_ca_certificates),
        )
        .route(
            "/appliance/certificates/ca/actions/remove",
            post(certificates::delete_ca_certificates),
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
