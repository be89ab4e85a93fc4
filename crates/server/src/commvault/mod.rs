//! The backup-client face (the Commvault web service; seed 003; notes section 3), mounted at
//! `/commandcenter/api` and `/webconsole/api` with the same behaviour. Paths are matched
//! without regard to case (`client` and `Client` both appear in Commvault's documents): the
//! whole path under these roots is lower-cased before routing
//! ([`crate::middleware::path_case`]), so every route here is written in lower case.
//!
//! Requests are JSON or XML by `Content-Type` (sniffed when absent); responses are JSON or XML
//! as `Accept` asks (JSON by default).

mod clients;
mod error;
mod extract;
mod login;
mod passkey;
mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::middleware::audit;
pub use error::CommvaultError;
pub use login::root_get;

/// The largest request body this face reads.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The face's route table (lower case; see the module docs).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(login::root_get))
        .route("/login", post(login::login_post))
        .route("/renewlogintoken", post(login::renew_login_token_post))
        .route("/logout", post(login::logout_post))
        .route(
            "/whoami",
            post(login::who_am_i_post).get(login::who_am_i_post),
        )
        .route("/client", get(clients::client_get))
        .route("/client/{client_id}", get(clients::client_id_get))
        .route(
            "/client/{client_id}/passkey",
            post(passkey::client_passkey_post),
        )
        .route(
            "/company/{company_id}/passkey",
            post(passkey::company_passkey_post),
        )
        .route(
            "/company/{company_id}/authrestore",
            post(passkey::company_auth_restore_post),
        )
        .route("/organization/{company_id}", get(clients::organization_get))
        .route(
            "/commcell/properties",
            get(clients::commcell_properties_get).put(clients::commcell_properties_put),
        )
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(error::render_bare_errors))
        .layer(axum::middleware::from_fn_with_state(
            (
                state,
                audit::Face::new("backup-client").read_only(&["/whoami"]),
            ),
            audit::record,
        ))
}
