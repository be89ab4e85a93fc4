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
async fn not_vsphere_replication(session: DrSession) -> ApplianceError {
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

/// One configuration-manager operation: its handler, named after its operationId, and its
/// place in the OpenAPI document. The spec's bodies are not read (the answer is the same
/// whatever they are), so the document declares none.
macro_rules! operation {
    ($handler:ident, $method:ident, $path:tt, $operation_id:tt) => {
        #[doc = concat!("`", stringify!($method), " ", $path, "` (operationId `", $operation_id, "`).")]
        #[utoipa::path(
                    $method,
                    path = $path,
                    operation_id = $operation_id,
                    tag = "configuration-manager",
                    responses(super::openapi::Session, super::openapi::NotVsphereReplication)
                )]
        pub async fn $handler(session: DrSession) -> ApplianceError {
            not_vsphere_replication(session).await
        }
    };
}

operation!(
    check_extension_key,
    post,
    "/appliance/configuration-manager/actions/check-extension-key-registration",
    "checkExtensionKey"
);
operation!(
    list_vc_services,
    post,
    "/appliance/configuration-manager/actions/list-vc-services",
    "listVcServices"
);
operation!(
    validate_connection,
    post,
    "/appliance/configuration-manager/actions/validate-connection",
    "validateConnection"
);
operation!(
    get_configuration,
    get,
    "/appliance/configuration-manager/configuration",
    "getConfiguration"
);
operation!(
    update_configuration,
    put,
    "/appliance/configuration-manager/configuration",
    "updateConfiguration"
);
operation!(
    delete_configuration,
    post,
    "/appliance/configuration-manager/configuration/actions/remove",
    "deleteConfiguration"
);
operation!(
    get_reconfigure_required,
    get,
    "/appliance/configuration-manager/reconfigure-required",
    "getReconfigureRequired"
);
operation!(
    get_replication_server_settings,
    get,
    "/appliance/configuration-manager/replication-server-settings",
    "getReplicationServerSettings"
);
operation!(
    update_replication_server_settings,
    put,
    "/appliance/configuration-manager/replication-server-settings",
    "updateReplicationServerSettings"
);

/// The nine operations' routes.
pub fn routes() -> axum::Router<crate::app::AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/appliance/configuration-manager/actions/check-extension-key-registration",
            post(check_extension_key),
        )
        .route(
            "/appliance/configuration-manager/actions/list-vc-services",
            post(list_vc_services),
        )
        .route(
            "/appliance/configuration-manager/actions/validate-connection",
            post(validate_connection),
        )
        .route(
            "/appliance/configuration-manager/configuration",
            get(get_configuration).put(update_configuration),
        )
        .route(
            "/appliance/configuration-manager/configuration/actions/remove",
            post(delete_configuration),
        )
        .route(
            "/appliance/configuration-manager/reconfigure-required",
            get(get_reconfigure_required),
        )
        .route(
            "/appliance/configuration-manager/replication-server-settings",
            get(get_replication_server_settings).put(update_replication_server_settings),
        )
}
