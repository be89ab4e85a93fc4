//! The OpenAPI document of this face as Strongroom serves it, at `GET openapi.json` under
//! either root (`/commandcenter/api` and `/webconsole/api` serve the same operations, so each
//! serves the same document with itself as `servers`; Commvault's API has no such path):
//! generated from the handlers' `#[utoipa::path]` attributes and the wire types' schemas.
//! Public, served in every state like the other documents (`face::openapi` is the shared
//! plumbing). It describes the JSON form; the description says how XML relates.

use std::sync::LazyLock;

use axum::extract::OriginalUri;
use axum::response::Response;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Server, response};
use utoipa::{OpenApi, ToSchema};

use super::error::GenericResponse;
use super::{clients, login, passkey};
use crate::face::Face;
use crate::face::json::JSON;
use crate::face::openapi::{self, Refusal, refusals};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom's backup-client (Commvault) web service",
        description = "The backup-client face as this server answers it. Log in with \
                       POST /Login (a user of the identity store, the password base64) and \
                       send the token it gives as the `Authtoken` header (`QSDK <hex>`). \
                       Paths are matched without regard to case (`Client` and `client` are \
                       the same operation). This document describes the JSON form. Every \
                       operation also takes and gives XML: a request is XML when its \
                       Content-Type is application/xml or text/xml (or, without one, when \
                       it starts with `<`), and an answer is XML when `Accept` asks for XML \
                       and not for JSON. The XML form is Commvault's: each schema's \
                       description names its XML root element; scalar members are \
                       attributes, object members and array items child elements (a member \
                       the XML form lacks is said so); passkeys are plain text in XML and \
                       base64 in JSON. Errors are `GenericResponse` (`CVGui_GenericResp` in \
                       XML; codes in docs/errors.md), but Login and RenewLoginToken answer \
                       errors in their own shapes, and the passkey operations answer every \
                       passkey failure 200 with its code in the `App_SetPasskeyResponse`."
    ),
    paths(
        login::root_get,
        login::login_post,
        login::renew_login_token_post,
        login::logout_post,
        login::who_am_i_post,
        login::who_am_i_get,
        clients::client_get,
        clients::client_id_get,
        clients::organization_get,
        clients::commcell_properties_get,
        clients::commcell_properties_put,
        passkey::client_passkey_post,
        passkey::company_passkey_post,
        passkey::company_auth_restore_post,
        document_get,
    ),
    components(schemas(GenericResponse)),
    modifiers(&COMPONENTS),
    security(("authtoken" = [])),
)]
struct CommvaultDoc;

/// The document served under `root`: the same operations, with `root` as its server.
fn document_at(root: &str) -> String {
    let mut doc = CommvaultDoc::openapi();
    doc.servers = Some(vec![Server::new(root)]);
    openapi::finish(doc)
}

static DOCUMENTS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    Face::BackupClient
        .base_paths()
        .iter()
        .map(|root| (*root, document_at(root)))
        .collect()
});

/// `GET openapi.json`: this document, without credentials and in every state.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "openapi",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this face as served here.",
            body = Object, content_type = "application/json"),
        Stopped,
    )
)]
pub async fn document_get(OriginalUri(uri): OriginalUri) -> Response {
    // Paths under the roots are lower-cased before routing, so the prefix is exact.
    let (_, document) = DOCUMENTS
        .iter()
        .find(|(root, _)| uri.path().starts_with(root))
        .unwrap_or(&DOCUMENTS[0]);
    openapi::serve(document)
}

const INVALID_REQUEST: Refusal = Refusal {
    name: "InvalidRequest",
    status: 400,
    description: "A body that is neither JSON nor XML that parses, XML with a DTD, or a \
                  request the operation cannot read (docs/errors.md).",
};
const TOO_LARGE: Refusal = Refusal {
    name: "TooLarge",
    status: 413,
    description: "The body is larger than 1 MiB.",
};
const UNAUTHENTICATED: Refusal = Refusal {
    name: "Unauthenticated",
    status: 401,
    description: "No `Authtoken`, or an unknown, ended or expired token.",
};
const FORBIDDEN: Refusal = Refusal {
    name: "Forbidden",
    status: 403,
    description: "The user may not do this (root Administrators only, or owners of the client).",
};
const NOT_FOUND: Refusal = Refusal {
    name: "NotFound",
    status: 404,
    description: "No such item (an id that is not a number is none).",
};
const UNAVAILABLE: Refusal = Refusal {
    name: "Unavailable",
    status: 503,
    description: "The node is not Operational, the cluster store is unavailable, or this \
                  face's service is stopped.",
};
const SERVICE_STOPPED: Refusal = Refusal {
    name: "ServiceStopped",
    status: 503,
    description: "This face's service is stopped.",
};
const INTERNAL: Refusal = Refusal {
    name: "InternalError",
    status: 500,
    description: "The server failed (the cause is in its log, under the x-request-id).",
};

const ALL: [Refusal; 8] = [
    INVALID_REQUEST,
    TOO_LARGE,
    UNAUTHENTICATED,
    FORBIDDEN,
    NOT_FOUND,
    UNAVAILABLE,
    SERVICE_STOPPED,
    INTERNAL,
];

/// This face's response component: a `GenericResponse`.
fn commvault_component(refusal: &Refusal) -> response::Response {
    ResponseBuilder::new()
        .description(refusal.description)
        .content(
            JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(GenericResponse::name())))
                .build(),
        )
        .build()
}

/// The refusals as response components, and the token's security scheme.
const COMPONENTS: openapi::Components = openapi::Components {
    refusals: &ALL,
    component: commvault_component,
    schemes: || {
        vec![(
            "authtoken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authtoken",
                "The token POST /Login answers, `QSDK <hex>` (or the web console's session \
                 cookie, docs/console.md).",
            ))),
        )]
    },
};

refusals!(
    /// Every operation that takes a token: the token's refusals, and the node's state.
    Session: UNAUTHENTICATED, UNAVAILABLE, INTERNAL
);
refusals!(
    /// An operation only some users may run.
    Privileged: FORBIDDEN
);
refusals!(
    /// An operation with a JSON or XML body.
    RequestBody: INVALID_REQUEST, TOO_LARGE
);
refusals!(
    /// An operation on an item named in the path.
    Item: NOT_FOUND
);
refusals!(
    /// The service's refusal alone, for what is not gated by state.
    Stopped: SERVICE_STOPPED
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Login and RenewLoginToken answer every failure in their own shapes (`error.rs`); a
    /// shared refusal given for the same status would replace theirs in the document.
    #[test]
    fn login_and_renewal_failures_keep_their_shapes() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENTS[0].1).unwrap();
        for (path, shape) in [
            ("/Login", "LoginFailure"),
            ("/RenewLoginToken", "RenewFailure"),
        ] {
            let responses = doc["paths"][path]["post"]["responses"].as_object().unwrap();
            for (status, response) in responses.iter().filter(|(s, _)| *s != "200") {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema.as_str(),
                    Some(format!("#/components/schemas/{shape}").as_str()),
                    "{path} {status}"
                );
            }
        }
    }

    #[test]
    fn every_referenced_response_exists() {
        for (_, document) in DOCUMENTS.iter() {
            openapi::assert_responses_consistent(document);
        }
    }
}
