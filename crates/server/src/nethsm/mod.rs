//! The NetHSM face (`/api/v1`, `nethsm-api.yaml`; notes section 1).
//!
//! Every route declares the states it is available in; the state gate
//! ([`crate::face::state_gate`]) runs before method routing, so the order of checks is the
//! original's: 412 wrong state, 501 unknown method, 405 method not allowed (with `Allow`),
//! then in the handler's extractors 401, 403, 415, 413, 406, and finally body parsing (400).

mod cluster;
mod cluster_join;
mod config;
mod config_logging;
mod config_network;
mod config_tls;
mod diagnose;
mod error;
mod extract;
mod health;
mod keys;
mod keys_crypt;
mod keys_csr;
mod keys_metrics;
mod keys_pem;
mod metrics;
mod namespaces;
mod openapi;
mod openapi_admin;
mod openapi_keys;
mod openapi_params;
mod provision;
mod random;
mod system;
mod system_update;
mod users;
pub mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use strongroom_core::SystemState::{Locked, Operational, Unprovisioned};

use crate::app::AppState;
use crate::face::state_gate::{ANY_STATE, StateGate};
use crate::face::{Face, json};
use crate::middleware::audit;
pub use error::NetHsmError;

/// The face's route table: path, states, methods, handler.
pub fn router(state: AppState) -> Router<AppState> {
    let gate = StateGate::<NetHsmError>::new(&state);
    let at = |states, routes| gate.route(states, routes);
    Router::new()
        .route("/info", at(ANY_STATE, get(health::info_get)))
        .route("/openapi.json", at(ANY_STATE, get(openapi::document_get)))
        .route(
            "/health/alive",
            at(&[Locked, Unprovisioned], get(health::health_alive_get)),
        )
        .route(
            "/health/ready",
            at(&[Operational], get(health::health_ready_get)),
        )
        .route(
            "/health/state",
            at(ANY_STATE, get(health::health_state_get)),
        )
        .route(
            "/health/diagnose",
            at(ANY_STATE, get(diagnose::health_diagnose_get)),
        )
        .route(
            "/provision",
            at(&[Unprovisioned], post(provision::provision_post)),
        )
        .route("/unlock", at(&[Locked], post(provision::unlock_post)))
        .route("/lock", at(&[Operational], post(provision::lock_post)))
        .route(
            "/config/unattended-boot",
            at(
                &[Operational],
                get(config::config_unattended_boot_get).put(config::config_unattended_boot_put),
            ),
        )
        .route(
            "/system/info",
            at(&[Operational], get(system::system_info_get)),
        )
        .route(
            "/system/reboot",
            at(&[Operational], post(system::system_reboot_post)),
        )
        .route(
            "/system/shutdown",
            at(ANY_STATE, post(system::system_shutdown_post)),
        )
        .route(
            "/system/factory-reset",
            at(&[Operational], post(system::system_factory_reset_post)),
        )
        .route(
            "/system/update",
            at(&[Operational], post(system_update::system_update_post)),
        )
        .route(
            "/system/commit-update",
            at(
                &[Operational],
                post(system_update::system_commit_update_post),
            ),
        )
        .route(
            "/system/cancel-update",
            at(
                &[Operational],
                post(system_update::system_cancel_update_post),
            ),
        )
        .route(
            "/system/backup",
            at(&[Operational], post(system::system_backup_post)),
        )
        .route(
            "/system/restore",
            at(
                &[Unprovisioned, Operational],
                post(system::system_restore_post),
            )
            .layer(DefaultBodyLimit::max(state.restore_max_bytes)),
        )
        .route("/random", at(&[Operational], post(random::random_post)))
        .route(
            "/config/backup-passphrase",
            at(&[Operational], put(config::config_backup_passphrase_put)),
        )
        .route(
            "/config/unlock-passphrase",
            at(&[Operational], put(config::config_unlock_passphrase_put)),
        )
        .route(
            "/config/network",
            at(
                &[Operational],
                get(config_network::config_network_get).put(config_network::config_network_put),
            ),
        )
        .route(
            "/config/time",
            at(
                &[Operational],
                get(config::config_time_get).put(config::config_time_put),
            ),
        )
        .route(
            "/config/logging",
            at(
                &[Operational],
                get(config_logging::config_logging_get).put(config_logging::config_logging_put),
            ),
        )
        .route(
            "/config/tls/public.pem",
            at(&[Operational], get(config_tls::tls_public_pem_get)),
        )
        .route(
            "/config/tls/cert.pem",
            at(
                &[Operational],
                get(config_tls::tls_cert_pem_get).put(config_tls::tls_cert_pem_put),
            ),
        )
        .route(
            "/config/tls/csr.pem",
            at(&[Operational], post(config_tls::tls_csr_pem_post)),
        )
        .route(
            "/config/tls/generate",
            at(&[Operational], post(config_tls::tls_generate_post)),
        )
        .route(
            "/config/tls/cluster-ca.pem",
            at(
                &[Operational],
                get(config_tls::tls_cluster_ca_get).put(config_tls::tls_cluster_ca_put),
            ),
        )
        .route(
            "/cluster/join",
            at(&[Operational], post(cluster_join::cluster_join_post)),
        )
        .route(
            "/cluster/force-new",
            at(ANY_STATE, post(cluster_join::cluster_force_new_post)),
        )
        .route("/metrics", at(&[Operational], get(metrics::metrics_get)))
        .route(
            "/users",
            at(
                &[Operational],
                get(users::users_get).post(users::users_post),
            ),
        )
        .route(
            "/users/{UserID}",
            at(
                &[Operational],
                get(users::user_get)
                    .put(users::user_put)
                    .post(users::user_post)
                    .delete(users::user_delete),
            ),
        )
        .route(
            "/users/{UserID}/passphrase",
            at(&[Operational], post(users::user_passphrase_post)),
        )
        .route(
            "/users/{UserID}/tags",
            at(&[Operational], get(users::user_tags_get)),
        )
        .route(
            "/users/{UserID}/tags/{Tag}",
            at(
                &[Operational],
                put(users::user_tag_put).delete(users::user_tag_delete),
            ),
        )
        .route(
            "/namespaces",
            at(&[Operational], get(namespaces::namespaces_get)),
        )
        .route(
            "/namespaces/{NamespaceID}",
            at(
                &[Operational],
                put(namespaces::namespace_put).delete(namespaces::namespace_delete),
            ),
        )
        .route(
            "/keys",
            at(&[Operational], get(keys::keys_get).post(keys::keys_post)),
        )
        .route(
            "/keys/generate",
            at(&[Operational], post(keys::keys_generate_post)),
        )
        .route(
            "/keys/{KeyID}",
            at(
                &[Operational],
                get(keys::key_get)
                    .put(keys::key_put)
                    .delete(keys::key_delete),
            ),
        )
        .route(
            "/keys/{KeyID}/public.pem",
            at(&[Operational], get(keys::key_public_pem_get)),
        )
        .route(
            "/keys/{KeyID}/csr.pem",
            at(&[Operational], post(keys_csr::key_csr_post)),
        )
        .route(
            "/keys/{KeyID}/sign",
            at(&[Operational], post(keys::key_sign_post)),
        )
        .route(
            "/keys/{KeyID}/decrypt",
            at(&[Operational], post(keys_crypt::key_decrypt_post)),
        )
        .route(
            "/keys/{KeyID}/encrypt",
            at(&[Operational], post(keys_crypt::key_encrypt_post)),
        )
        .route(
            "/keys/{KeyID}/move",
            at(&[Operational], post(keys::key_move_post)),
        )
        .route(
            "/keys/{KeyID}/label",
            at(
                &[Operational],
                put(keys::key_label_put).delete(keys::key_label_delete),
            ),
        )
        .route(
            "/keys/{KeyID}/cert",
            at(
                &[Operational],
                get(keys::key_cert_get)
                    .put(keys::key_cert_put)
                    .delete(keys::key_cert_delete),
            ),
        )
        .route(
            "/keys/{KeyID}/restrictions/tags/{Tag}",
            at(
                &[Operational],
                put(keys::key_tag_put).delete(keys::key_tag_delete),
            ),
        )
        .route(
            "/cluster/members",
            at(
                &[Operational],
                get(cluster::members_get).post(cluster::members_post),
            ),
        )
        .route(
            "/cluster/members/{MemberID}",
            at(
                &[Operational],
                put(cluster::member_put).delete(cluster::member_delete),
            ),
        )
        .route(
            "/cluster/members/{MemberID}/promote",
            at(&[Operational], post(cluster::member_promote_post)),
        )
        .fallback(json::not_found::<error::NetHsm>)
        .layer(axum::middleware::from_fn(
            json::render_bare_errors::<NetHsmError>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (
                state.clone(),
                audit::FaceAudit::new(Face::NetHsm)
                    .read_only(&["/random"])
                    .refusals_only(&[
                        "/keys/{KeyID}/sign",
                        "/keys/{KeyID}/decrypt",
                        "/keys/{KeyID}/encrypt",
                    ]),
            ),
            audit::record,
        ))
}

/// The answer of a `PUT` that may find nothing to change (a tag or a label already there):
/// 204 when it changed something, 304 when it did not.
fn changed_or_not_modified(changed: bool) -> axum::http::StatusCode {
    if changed {
        axum::http::StatusCode::NO_CONTENT
    } else {
        axum::http::StatusCode::NOT_MODIFIED
    }
}
