//! The appliance face (`/api/rest/configure/v1`, vrms-appliance-config-api-v2.json; seed 001;
//! notes section 2): sessions, and the appliance password with its policy and history.
//!
//! While the node is not Operational every operation answers 503 `SERVICE_UNAVAILABLE`:
//! the accounts live in the sealed identity store, so nothing can be checked; the message
//! says to unlock (or provision) through the NetHSM face.

mod certificates;
mod certificates_wire;
mod configuration_manager;
mod error;
mod extract;
mod info;
mod list_query;
mod network;
mod network_wire;
mod openapi;
mod power;
mod probe;
mod probe_wire;
mod services;
mod services_wire;
mod session;
mod settings;
mod support_bundles;
mod syslog;
mod syslog_wire;
mod tasks;
mod time;
mod time_wire;
mod updates;
mod updates_wire;
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
        .route("/appliance/actions/restart", post(power::restart_appliance))
        .route("/appliance/actions/stop", post(power::shutdown_appliance))
        .route(
            "/appliance/update-manager/actions/retrieve-updates",
            post(updates::get_updates),
        )
        .route(
            "/appliance/update-manager/repository",
            get(updates::get_updates_repository).put(updates::change_updates_repository),
        )
        .route(
            "/appliance/update-manager/updates/{update_version}/actions/install",
            post(updates::install_update),
        )
        .route(
            "/appliance/certificates/server/actions/probe-ssl-connection",
            post(probe::probe_ssl),
        )
        .merge(configuration_manager::routes())
        .route("/appliance", get(info::get_appliance_info))
        .route("/appliance/disks", get(info::get_appliance_disks))
        .route(
            "/appliance/settings/time",
            get(time::get_time_settings).put(time::update_time_settings),
        )
        .route("/appliance/settings/time/zones", get(time::get_time_zones))
        .route(
            "/appliance/settings/network",
            get(network::get_all_network_settings),
        )
        .route(
            "/appliance/settings/network/dns",
            get(network::get_network_dns_settings).put(network::update_network_dns_settings),
        )
        .route(
            "/appliance/settings/network/interfaces",
            get(network::get_all_network_interfaces_settings),
        )
        .route(
            "/appliance/settings/network/interfaces/{interface_name}",
            get(network::get_network_interface_settings)
                .post(network::update_network_interface_settings),
        )
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
        .route(
            "/appliance/settings/syslog-servers",
            get(syslog::get_syslog_servers).put(syslog::update_syslog_servers),
        )
        .route(
            "/appliance/settings/syslog-servers/actions/send-test-message",
            post(syslog::send_syslog_test_message),
        )
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
        // Public, in every state, like our own API's document.
        .route("/openapi.json", get(openapi::document_get))
        .layer(axum::middleware::from_fn(error::render_bare_errors))
        .layer(axum::middleware::from_fn_with_state(
            (state, audit::FaceAudit::new(Face::Appliance)),
            audit::record,
        ))
}
