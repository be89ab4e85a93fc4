//! `/appliance/configuration-manager/*`: in the spec these register vSphere Replication with
//! a vCenter Server and configure its replication server. Strongroom is neither, so there is
//! nothing they could read or change; each of the nine operations answers 400
//! `NOT_VSPHERE_REPLICATION` (a status the spec lists for every one of them), the same
//! whatever the body, once the session is checked.

use axum::http::StatusCode;
use strongroom_core::access::Access;

use super::error::ApplianceError;
use super::extract::DrSession;

/// Every configuration-manager operation.
pub async fn not_vsphere_replication(session: DrSession) -> ApplianceError {
    if let Err(e) = Access::RootAdministrator.check(&session.principal) {
        return e.into();
    }
    ApplianceError::new(
        StatusCode::BAD_REQUEST,
        "NOT_VSPHERE_REPLICATION",
        "Strongroom is not vSphere Replication: it registers with no vCenter Server and has \
         no replication server, so the configuration-manager operations do not apply \
         (docs/operations.md, Power and updates).",
    )
}

/// The nine operations' routes.
pub fn routes() -> axum::Router<crate::app::AppState> {
    use axum::routing::{get, post};
    let refuse = not_vsphere_replication;
    axum::Router::new()
        .route(
            "/appliance/configuration-manager/actions/check-extension-key-registration",
            post(refuse),
        )
        .route(
            "/appliance/configuration-manager/actions/list-vc-services",
            post(refuse),
        )
        .route(
            "/appliance/configuration-manager/actions/validate-connection",
            post(refuse),
        )
        .route(
            "/appliance/configuration-manager/configuration",
            get(refuse).put(refuse),
        )
        .route(
            "/appliance/configuration-manager/configuration/actions/remove",
            post(refuse),
        )
        .route(
            "/appliance/configuration-manager/reconfigure-required",
            get(refuse),
        )
        .route(
            "/appliance/configuration-manager/replication-server-settings",
            get(refuse).put(refuse),
        )
}
