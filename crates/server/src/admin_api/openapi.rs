//! The OpenAPI document of this API, served at `GET /openapi.json`: generated from the
//! handlers' `#[utoipa::path]` attributes and the wire types' schemas (`strongroom-proto`,
//! feature `openapi`), so a route, a field or a status added to a handler is in it without
//! anyone writing it twice. Public: it says only what `docs/admin-api.md` says.
//!
//! The refusals that every route of a kind gives (the state gate's, the caller's, the JSON
//! body's) are named once, as response components, and each handler lists the groups it is
//! subject to ([`Gated`], [`Authenticated`], ...) beside its own answers.

use std::sync::LazyLock;

use axum::response::Response;
use strongroom_proto::errors::ErrorBody;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};

use super::extract::AcceptJson;
use super::{audit, clients, password_policy, system};
use crate::console::session::{COOKIE, CSRF_HEADER};
use crate::face::openapi::{
    self, INTERNAL, NOT_ACCEPTABLE, RATE_LIMITED, Refusal, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE,
    refusals,
};

/// The document: every route of this API's router (`super::router`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom's own API",
        description = "What the NetHSM, appliance and backup-client protocols have no words \
                       for: the audit trail, the domain key, backup clients and their restore \
                       decisions, metrics, the password policy. Documented in \
                       docs/admin-api.md; errors are `{\"message\": ...}` (docs/errors.md)."
    ),
    servers((url = "/api/strongroom/v1")),
    paths(
        audit::audit_get,
        audit::audit_verify_get,
        audit::accept_rollback_post,
        super::metrics_get,
        system::data_key_get,
        system::rotate_data_key_post,
        clients::clients_get,
        clients::clients_post,
        clients::client_get,
        clients::client_patch,
        clients::client_delete,
        clients::client_owners_put,
        clients::restore_authorization_get,
        password_policy::password_policy_check_post,
        document_get,
    ),
    components(schemas(ErrorBody)),
    modifiers(&COMPONENTS),
    // How every route but this document's authenticates: HTTP Basic credentials of the
    // identity store, or the web console's session cookie with its CSRF token (both
    // together); `docs/console.md`.
    security(("basic" = []), ("consoleSession" = [], "consoleCsrf" = [])),
)]
pub struct ApiDoc;

/// The document as served, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let doc = ApiDoc::openapi();
    // Routes are mounted under the API's prefix; the server object says so, and the paths are
    // the router's own (as in docs/admin-api.md).
    debug_assert_eq!(
        doc.servers.as_ref().map(|s| s[0].url.as_str()),
        Some(strongroom_proto::API_PREFIX)
    );
    openapi::finish(doc)
});

/// `GET /openapi.json`: this API's OpenAPI document. Served in every state and without
/// credentials, since it is public (what docs/admin-api.md says, as data).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "openapi",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.",
            body = Object, content_type = "application/json"),
        AnswersJson,
        Stopped,
    )
)]
pub async fn document_get(_: AcceptJson) -> Response {
    openapi::serve(&DOCUMENT)
}

const WRONG_STATE: Refusal = Refusal {
    name: "WrongState",
    status: 412,
    description: "The node is not Operational (`Service not available`), or the operation's \
                  own precondition does not hold.",
};
const UNAVAILABLE: Refusal = Refusal {
    name: "Unavailable",
    status: 503,
    description: "This API's service is stopped, or too many password checks run at once \
                  (try again shortly).",
};
const SERVICE_STOPPED: Refusal = Refusal {
    name: "ServiceStopped",
    status: 503,
    description: "This API's service is stopped.",
};
const UNAUTHENTICATED: Refusal = Refusal {
    name: "Unauthenticated",
    status: 401,
    description: "No credentials, wrong ones, or an ended console session.",
};
const FORBIDDEN: Refusal = Refusal {
    name: "Forbidden",
    status: 403,
    description: "The caller's role may not do this (or a console request failed its CSRF \
                  checks).",
};
const BAD_REQUEST: Refusal = Refusal {
    name: "BadRequest",
    status: 400,
    description: "A malformed request: its body, query or path parameter, or a value the \
                  operation refuses.",
};

const ALL: [Refusal; 11] = [
    WRONG_STATE,
    UNAVAILABLE,
    SERVICE_STOPPED,
    UNAUTHENTICATED,
    FORBIDDEN,
    RATE_LIMITED,
    NOT_ACCEPTABLE,
    BAD_REQUEST,
    TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    INTERNAL,
];

/// The refusals as response components, and the security schemes.
const COMPONENTS: openapi::Components = openapi::Components {
    refusals: &ALL,
    component: Refusal::component,
    schemes: || {
        vec![
            (
                "basic",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
            ),
            (
                "consoleSession",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    COOKIE,
                    "The web console's session (set by POST /console/api/session).",
                ))),
            ),
            (
                "consoleCsrf",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    CSRF_HEADER,
                    "The CSRF token of the console session, sent with every request it makes.",
                ))),
            ),
        ]
    },
};

refusals!(
    /// The state gate's and the service's refusals: every route served only while
    /// Operational.
    Gated: WRONG_STATE, UNAVAILABLE
);
refusals!(
    /// The caller's refusals: every route that takes credentials (`Caller`).
    Authenticated: UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, UNAVAILABLE
);
refusals!(
    /// A route that answers JSON and checks `Accept` (`AcceptJson`).
    AnswersJson: NOT_ACCEPTABLE
);
refusals!(
    /// A route with a JSON body (`ApiJson`), other than PUT.
    JsonBody: BAD_REQUEST, NOT_ACCEPTABLE, TOO_LARGE
);
refusals!(
    /// A PUT with a JSON body: its media type is checked too.
    PutJsonBody: BAD_REQUEST, NOT_ACCEPTABLE, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
);
refusals!(
    /// A route that calls the core (its store may fail).
    CoreCall: INTERNAL
);

refusals!(
    /// The service's refusal alone, for the one route not gated by state.
    Stopped: SERVICE_STOPPED
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every response a handler references is a component of the document, and every
    /// component is used.
    #[test]
    fn every_referenced_response_exists() {
        openapi::assert_responses_consistent(&DOCUMENT);
    }
}
