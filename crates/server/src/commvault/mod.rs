//! The backup-client face (the Commvault web service; seed 003; notes section 3), mounted at
//! `/commandcenter/api` and `/webconsole/api` with the same behaviour. Paths are matched
//! without regard to case (`client` and `Client` both appear in Commvault's documents): the
//! whole path under these roots is lower-cased before routing
//! ([`crate::middleware::path_case`]), so every route here is written in lower case.
//!
//! Every route but the service root is served only while Operational (the accounts are in the
//! sealed store); otherwise the answer is 503, before anything else is looked at.
//!
//! Requests are JSON or XML by `Content-Type` (sniffed when absent); responses are JSON or XML
//! as `Accept` asks (JSON by default).

mod clients;
mod error;
mod extract;
mod login;
mod openapi;
mod passkey;
mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::face::Face;
use crate::face::state_gate::{ANY_STATE, OPERATIONAL, StateGate};
use crate::middleware::audit;
pub use error::CommvaultError;
pub use login::root_get;

/// The largest request body this face reads.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The face's route table (lower case; see the module docs).
pub fn router(state: AppState) -> Router<AppState> {
    let gate = StateGate::<CommvaultError>::new(&state);
    let at = |routes| gate.route(OPERATIONAL, routes);
    Router::new()
        .route("/", gate.route(ANY_STATE, get(login::root_get)))
        .route("/login", at(post(login::login_post)))
        .route("/renewlogintoken", at(post(login::renew_login_token_post)))
        .route("/logout", at(post(login::logout_post)))
        .route(
            "/whoami",
            at(post(login::who_am_i_post).get(login::who_am_i_get)),
        )
        .route("/client", at(get(clients::client_get)))
        .route("/client/{client_id}", at(get(clients::client_id_get)))
        .route(
            "/client/{client_id}/passkey",
            at(post(passkey::client_passkey_post)),
        )
        .route(
            "/company/{company_id}/passkey",
            at(post(passkey::company_passkey_post)),
        )
        .route(
            "/company/{company_id}/authrestore",
            at(post(passkey::company_auth_restore_post)),
        )
        .route(
            "/organization/{company_id}",
            at(get(clients::organization_get)),
        )
        .route(
            "/commcell/properties",
            at(get(clients::commcell_properties_get).put(clients::commcell_properties_put)),
        )
        // Public, in every state, like the other faces' documents (a path Commvault's API
        // does not use).
        .route(
            "/openapi.json",
            gate.route(ANY_STATE, get(openapi::document_get)),
        )
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(error::render_bare_errors))
        .layer(axum::middleware::from_fn_with_state(
            (
                state,
                audit::FaceAudit::new(Face::BackupClient).read_only(&["/whoami"]),
            ),
            audit::record,
        ))
}
