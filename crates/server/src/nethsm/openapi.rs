//! The OpenAPI document of this face as Strongroom serves it, at `GET /api/v1/openapi.json`
//! (a path nethsm-api.yaml does not use): generated from the handlers' `#[utoipa::path]`
//! attributes and the wire types' schemas, so it says what this server answers, where the
//! vendor's spec says what a NetHSM answers. Public, served in every state like the other
//! documents (`face::openapi` is the shared plumbing). It does not yet name every operation
//! the face serves: docs/admin-api.md says which it names.
//!
//! Errors are `{"message"}` with `WWW-Authenticate` on 401, the JSON conventions this face
//! shares with Strongroom's own API, so the refusals' components are built as that API's are.

use std::sync::LazyLock;

use axum::response::Response;
use strongroom_proto::errors::ErrorBody;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::openapi_keys::COMPONENTS as KEYS_COMPONENTS;
use super::{diagnose, health, keys, keys_crypt, keys_csr, namespaces, provision, random, users};
use crate::face::openapi::{
    self, INTERNAL, NOT_ACCEPTABLE, RATE_LIMITED, Refusal, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE,
    refusals,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom's NetHSM API",
        description = "The NetHSM face (nethsm-api.yaml) as this server answers it: HTTP \
                       Basic credentials of a user of the identity store (`user` or \
                       `namespace~user`). Errors are `{\"message\": ...}` (docs/errors.md). \
                       Each operation is available in the states it names; in any other it \
                       is 412, before its method, credentials or body are looked at."
    ),
    servers((url = "/api/v1")),
    paths(
        health::info_get,
        health::health_alive_get,
        health::health_ready_get,
        health::health_state_get,
        diagnose::health_diagnose_get,
        provision::provision_post,
        provision::unlock_post,
        provision::lock_post,
        random::random_post,
        users::users_get,
        users::users_post,
        users::user_get,
        users::user_put,
        users::user_post,
        users::user_delete,
        users::user_passphrase_post,
        users::user_tags_get,
        users::user_tag_put,
        users::user_tag_delete,
        namespaces::namespaces_get,
        namespaces::namespace_put,
        namespaces::namespace_delete,
        keys::keys_generate_post,
        keys::key_public_pem_get,
        keys::key_sign_post,
        keys::key_label_put,
        keys::key_label_delete,
        keys::key_tag_put,
        keys::key_tag_delete,
        document_get,
        keys::keys_get,
        keys::keys_post,
        keys::key_get,
        keys::key_put,
        keys::key_delete,
        keys_csr::key_csr_post,
        keys::key_cert_get,
        keys::key_cert_put,
        keys::key_cert_delete,
        keys::key_move_post,
        keys_crypt::key_encrypt_post,
        keys_crypt::key_decrypt_post,
    ),
    components(schemas(ErrorBody)),
    modifiers(&COMPONENTS, &KEYS_COMPONENTS),
    security(("basic" = [])),
)]
struct NetHsmDoc;

pub(super) static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    openapi::finish(NetHsmDoc::openapi().merge_from(super::openapi_admin::AdminDoc::openapi()))
});

/// `GET /openapi.json`: this document, without credentials and in every state.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "openapi",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this face as served here.",
            body = Object, content_type = "application/json"),
    )
)]
pub async fn document_get() -> Response {
    openapi::serve(&DOCUMENT)
}

const WRONG_STATE: Refusal = Refusal {
    name: "WrongState",
    status: 412,
    description: "The node is not in a state this operation is available in (`Service not \
                  available`, or Failed: the cluster store is unavailable).",
};
pub(super) const UNAUTHENTICATED: Refusal = Refusal {
    name: "Unauthenticated",
    status: 401,
    description: "No credentials, or wrong ones.",
};
const FORBIDDEN: Refusal = Refusal {
    name: "Forbidden",
    status: 403,
    description: "The caller's role or namespace may not do this.",
};
pub(super) const UNAVAILABLE: Refusal = Refusal {
    name: "Unavailable",
    status: 503,
    description: "Too many password checks run at once (try again shortly), or the cluster \
                  store is unavailable.",
};
pub(super) const BAD_REQUEST: Refusal = Refusal {
    name: "BadRequest",
    status: 400,
    description: "A body that is not the operation's JSON (unknown fields included), or a \
                  value the operation refuses.",
};
pub(super) const NOT_ACCEPTABLE_PEM: Refusal = Refusal {
    name: "NotAcceptablePem",
    status: 406,
    description: "`Accept` excludes application/x-pem-file.",
};
const WRONG_UNLOCK_PASSPHRASE: Refusal = Refusal {
    name: "WrongUnlockPassphrase",
    status: 403,
    description: "The unlock passphrase is wrong.",
};
pub(super) const NOT_FOUND: Refusal = Refusal {
    name: "NotFound",
    status: 404,
    description: "No such item (in the caller's namespace).",
};
pub(super) const CONFLICT: Refusal = Refusal {
    name: "Conflict",
    status: 409,
    description: "An item with this id exists.",
};

const ALL: [Refusal; 14] = [
    NOT_ACCEPTABLE_PEM,
    CONFLICT,
    NOT_FOUND,
    UNSUPPORTED_MEDIA_TYPE,
    WRONG_STATE,
    UNAUTHENTICATED,
    FORBIDDEN,
    RATE_LIMITED,
    UNAVAILABLE,
    NOT_ACCEPTABLE,
    BAD_REQUEST,
    TOO_LARGE,
    WRONG_UNLOCK_PASSPHRASE,
    INTERNAL,
];

/// The refusals as response components, and the security scheme.
const COMPONENTS: openapi::Components = openapi::Components {
    refusals: &ALL,
    component: Refusal::component,
    schemes: || {
        vec![(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        )]
    },
};

refusals!(
    /// An operation available in some states only.
    Gated: WRONG_STATE
);
refusals!(
    /// An operation that takes credentials: theirs and the password checks' refusals.
    Authenticated: UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, UNAVAILABLE
);
refusals!(
    /// An operation that answers JSON, or nothing, but refuses an `Accept` without JSON.
    AnswersJson: NOT_ACCEPTABLE
);
refusals!(
    /// An operation that answers PEM.
    AnswersPem: NOT_ACCEPTABLE_PEM
);
refusals!(
    /// An operation with a JSON body.
    JsonBody: BAD_REQUEST, NOT_ACCEPTABLE, TOO_LARGE
);
refusals!(
    /// A PUT with a JSON body (only PUT bodies must say they are JSON).
    PutJsonBody: BAD_REQUEST, NOT_ACCEPTABLE, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
);
refusals!(
    /// An operation on an item named in the path: none by that name, or a name that is not
    /// one (a malformed id or tag).
    Item: NOT_FOUND, BAD_REQUEST
);
refusals!(
    /// Creating an item under an id the caller gives.
    Exists: CONFLICT
);
refusals!(
    /// Unlocking: a wrong passphrase, rate limited as a failed login.
    Unlocking: WRONG_UNLOCK_PASSPHRASE, RATE_LIMITED, UNAVAILABLE
);
refusals!(
    /// An operation that calls the store.
    CoreCall: INTERNAL
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_response_exists() {
        openapi::assert_responses_consistent(&DOCUMENT);
    }

    /// The schema's bounds are the core's.
    #[test]
    fn random_length_bounds_are_the_cores() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let length = &doc["components"]["schemas"]["RandomRequestData"]["properties"]["length"];
        assert_eq!(length["minimum"], 1);
        assert_eq!(length["maximum"], strongroom_core::system::RANDOM_MAX);
    }
}
