//! Strongroom's own API (`/api/strongroom/v1`): what the three protocols have no words for.
//! It speaks NetHSM's conventions (HTTP Basic, `{"message"}` errors, the same order of
//! checks), so one client library covers both. Documented in `docs/admin-api.md`.

mod audit;
mod clients;
mod error;
mod extract;
mod openapi;
mod password_policy;
mod system;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use strongroom_core::SystemState::Operational;

use crate::app::AppState;
use crate::face::state_gate::StateGate;
use crate::face::{Face, json};
use crate::middleware::audit as audit_layer;
pub use error::ApiError;
use extract::{Caller, MetricsUser};

pub fn router(state: AppState) -> Router<AppState> {
    let gate = StateGate::<ApiError>::new(&state);
    let at = |states, routes| gate.route(states, routes);
    Router::new()
        .route("/audit", at(&[Operational], get(audit::audit_get)))
        .route(
            "/audit/verify",
            at(&[Operational], get(audit::audit_verify_get)),
        )
        .route(
            "/audit/accept-rollback",
            at(&[Operational], post(audit::accept_rollback_post)),
        )
        .route("/metrics", at(&[Operational], get(metrics_get)))
        .route(
            "/system/data-key",
            at(&[Operational], get(system::data_key_get)),
        )
        .route(
            "/system/rotate-data-key",
            at(&[Operational], post(system::rotate_data_key_post)),
        )
        .route(
            "/clients",
            at(
                &[Operational],
                get(clients::clients_get).post(clients::clients_post),
            ),
        )
        .route(
            "/clients/{id}",
            at(
                &[Operational],
                get(clients::client_get)
                    .patch(clients::client_patch)
                    .delete(clients::client_delete),
            ),
        )
        .route(
            "/clients/{id}/owners",
            at(&[Operational], put(clients::client_owners_put)),
        )
        .route(
            "/clients/{id}/restore-authorization",
            at(&[Operational], get(clients::restore_authorization_get)),
        )
        .route(
            "/password-policy/check",
            at(
                &[Operational],
                post(password_policy::password_policy_check_post),
            ),
        )
        // Public, in every state: the document says only what docs/admin-api.md says.
        .route("/openapi.json", get(openapi::document_get))
        .fallback(json::not_found::<error::Strongroom>)
        .layer(axum::middleware::from_fn(
            json::render_bare_errors::<ApiError>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (
                state.clone(),
                // A check of a candidate password changes nothing.
                audit_layer::FaceAudit::new(Face::Strongroom)
                    .read_only(&["/password-policy/check"]),
            ),
            audit_layer::record,
        ))
}

/// Prometheus text exposition of the same counters as NetHSM's `/api/v1/metrics` (Metrics
/// role).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "metrics",
    responses(
        (status = 200, description = "The counters, in the Prometheus text format 0.0.4.",
            body = String, content_type = "text/plain; version=0.0.4"),
        openapi::Gated, openapi::Authenticated,
    )
)]
async fn metrics_get(State(s): State<AppState>, Caller(_, _): MetricsUser) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.to_prometheus(s.core.state().as_str()),
    )
}
