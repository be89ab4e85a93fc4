//! The OpenAPI document of this face as Strongroom serves it, at
//! `GET /api/rest/configure/v1/openapi.json` (a path the vendor's spec does not use): generated
//! from the handlers' `#[utoipa::path]` attributes and the wire types' schemas, so it says what
//! the server answers, where the vendor's spec says what the vendor's appliance answers.
//! Public, served in every state like our own API's (`admin_api/openapi.rs`, whose plumbing,
//! `face::openapi`, it shares). It names every operation the face serves, under the vendor's
//! operationIds (docs/admin-api.md).

use std::sync::LazyLock;

use axum::response::Response;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, response};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::error::ResponseError;
use super::extract::SESSION_HEADER;
use super::list_query::MetadataList;
use super::{
    certificates, configuration_manager, info, network, power, probe, services, session, settings,
    support_bundles, syslog, tasks, time, updates,
};
use crate::face::json::JSON;
use crate::face::openapi::{self, Refusal, refusals};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom's appliance configuration API",
        description = "The appliance face (vrms-appliance-config-api-v2) as this server \
                       answers it: log in with HTTP Basic credentials of a root \
                       Administrator at POST /session, then send the session id in \
                       `x-dr-session`. Errors are `ResponseError` (docs/errors.md), but 401 \
                       has an empty body."
    ),
    servers((url = "/api/rest/configure/v1")),
    paths(
        session::login,
        session::get_current_session,
        session::logout,
        info::get_appliance_info,
        info::get_appliance_disks,
        time::get_time_settings,
        time::get_time_zones,
        time::update_time_settings,
        services::get_all_services,
        services::get_service,
        services::start_service,
        services::stop_service,
        services::restart_service,
        tasks::get_all_tasks_info,
        tasks::get_task_info,
        settings::update_appliance_password,
        power::restart_appliance,
        power::shutdown_appliance,
        updates::get_updates,
        updates::get_updates_repository,
        updates::change_updates_repository,
        updates::install_update,
        configuration_manager::check_extension_key,
        configuration_manager::list_vc_services,
        configuration_manager::validate_connection,
        configuration_manager::get_configuration,
        configuration_manager::update_configuration,
        configuration_manager::delete_configuration,
        configuration_manager::get_reconfigure_required,
        configuration_manager::get_replication_server_settings,
        configuration_manager::update_replication_server_settings,
        network::get_all_network_settings,
        network::get_network_dns_settings,
        network::update_network_dns_settings,
        network::get_all_network_interfaces_settings,
        network::get_network_interface_settings,
        network::update_network_interface_settings,
        syslog::get_syslog_servers,
        syslog::update_syslog_servers,
        syslog::send_syslog_test_message,
        support_bundles::generate_support_bundle,
        support_bundles::get_support_bundle_infos,
        support_bundles::download_support_bundle_info,
        support_bundles::delete_support_bundle,
        certificates::get_appliance_certificate,
        certificates::update_appliance_certificate,
        certificates::generate_csr,
        certificates::get_appliance_ca_certificates,
        certificates::add_ca_certificates,
        certificates::delete_ca_certificates,
        probe::probe_ssl,
        document_get,
    ),
    components(schemas(ResponseError)),
    modifiers(&COMPONENTS),
    security(("session" = [])),
)]
struct ApplianceDoc;

/// The spec's `...DrResponseList`: a page of items and where it is in the whole
/// (`list_query::DrResponseList`, whose items are typed here).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ListOf<T: ToSchema> {
    list: Vec<T>,
    #[schema(rename = "_meta")]
    meta: MetadataList,
}

/// The query every list operation takes (`list_query::ListQuery`, which reads it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// A dotted path into each item; given with `filter`.
    filter_property: Option<String>,
    /// The values `filter_property` may equal (repeatable); given with `filter_property`.
    filter: Option<Vec<String>>,
    /// A dotted path into each item to sort by.
    sort_by: Option<String>,
    /// `asc`, `ascending`, `desc` or `descending`, in any case.
    order_by: Option<String>,
    /// The page size (100 by default).
    limit: Option<u64>,
    /// Items skipped before the page.
    offset: Option<u64>,
}

/// A tar archive, as a response body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct TarArchive(Vec<u8>);

static DOCUMENT: LazyLock<String> = LazyLock::new(|| openapi::finish(ApplianceDoc::openapi()));

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
        Stopped,
    )
)]
pub async fn document_get() -> Response {
    openapi::serve(&DOCUMENT)
}

const UNAUTHENTICATED: Refusal = Refusal {
    name: "Unauthenticated",
    status: 401,
    description: "No session, an unknown or ended one (or, at login, wrong credentials). \
                  The body is empty.",
};
const FORBIDDEN: Refusal = Refusal {
    name: "Forbidden",
    status: 403,
    description: "The account is not a root Administrator.",
};
const RATE_LIMITED: Refusal = Refusal {
    name: "RateLimited",
    status: 429,
    description: "Too many failed logins from this address; try again in a second.",
};
const UNAVAILABLE: Refusal = Refusal {
    name: "Unavailable",
    status: 503,
    description: "The node is not Operational, the cluster store is unavailable, this face's \
                  service is stopped, or too many password checks run at once.",
};
const SERVICE_STOPPED: Refusal = Refusal {
    name: "ServiceStopped",
    status: 503,
    description: "This face's service is stopped.",
};
const INVALID_REQUEST: Refusal = Refusal {
    name: "InvalidRequest",
    status: 400,
    description: "A body that is not the operation's JSON, or a value it refuses (the \
                  `error_code` says which, docs/errors.md).",
};
const TOO_LARGE: Refusal = Refusal {
    name: "TooLarge",
    status: 413,
    description: "The body is larger than 64 KiB.",
};
const UNSUPPORTED_MEDIA_TYPE: Refusal = Refusal {
    name: "UnsupportedMediaType",
    status: 415,
    description: "A body that is not application/json.",
};
const INVALID_LIST_QUERY: Refusal = Refusal {
    name: "InvalidListQuery",
    status: 400,
    description: "A list query that does not parse (`INVALID_LIST_QUERY`).",
};
const NOT_FOUND: Refusal = Refusal {
    name: "NotFound",
    status: 404,
    description: "No such item.",
};
const INTERNAL: Refusal = Refusal {
    name: "InternalError",
    status: 500,
    description: "The server failed (the cause is in its log, under the answer's op_id).",
};

const WRONG_PASSWORD: Refusal = Refusal {
    name: "WrongPassword",
    status: 403,
    description: "The current password is wrong (`WRONG_PASSWORD`), or the account is not a \
                  root Administrator (`ACCESS_DENIED`).",
};
const PASSWORD_REFUSED: Refusal = Refusal {
    name: "PasswordRefused",
    status: 400,
    description: "A body that is not the operation's JSON (`INVALID_REQUEST`), or a new \
                  password the policy refuses (its rule's `error_code`, docs/errors.md).",
};
const NOT_VSPHERE_REPLICATION: Refusal = Refusal {
    name: "NotVsphereReplication",
    status: 400,
    description: "Always, whatever the body, once the session is checked: Strongroom is not \
                  vSphere Replication (`NOT_VSPHERE_REPLICATION`).",
};
const UPDATES_BY_PACKAGE_MANAGER: Refusal = Refusal {
    name: "UpdatesByPackageManager",
    status: 400,
    description: "Always, once the session (and any body: `INVALID_REQUEST`) is checked: \
                  Strongroom is updated by the host's package manager \
                  (`UPDATES_BY_PACKAGE_MANAGER`).",
};
const NOT_STOPPABLE: Refusal = Refusal {
    name: "NotStoppable",
    status: 400,
    description: "The service cannot be stopped (`SERVICE_NOT_STOPPABLE`): the NetHSM face is \
                  how the appliance is unlocked and recovered.",
};
const PROBE_REFUSED: Refusal = Refusal {
    name: "ProbeRefused",
    status: 400,
    description: "A body that is not the operation's JSON or a `uri` that names no endpoint \
                  (`INVALID_REQUEST`), or a probe that failed: no connection, or no TLS \
                  handshake within 8 seconds (`PROBE_FAILED`).",
};

const ALL: [Refusal; 17] = [
    INVALID_REQUEST,
    TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    UNAUTHENTICATED,
    FORBIDDEN,
    RATE_LIMITED,
    UNAVAILABLE,
    SERVICE_STOPPED,
    INVALID_LIST_QUERY,
    NOT_FOUND,
    INTERNAL,
    WRONG_PASSWORD,
    PASSWORD_REFUSED,
    NOT_VSPHERE_REPLICATION,
    UPDATES_BY_PACKAGE_MANAGER,
    NOT_STOPPABLE,
    PROBE_REFUSED,
];

impl Refusal {
    /// This face's response component: a `ResponseError`, or nothing on 401.
    fn appliance_component(&self) -> response::Response {
        let r = ResponseBuilder::new().description(self.description);
        if self.status == 401 {
            return r.build();
        }
        r.content(
            JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ResponseError::name())))
                .build(),
        )
        .build()
    }
}

/// The refusals as response components, and the security schemes.
const COMPONENTS: openapi::Components = openapi::Components {
    refusals: &ALL,
    component: Refusal::appliance_component,
    schemes: || {
        vec![
            (
                "basic",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
            ),
            (
                "session",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    SESSION_HEADER,
                    "The session id POST /session answers (or the web console's session \
                     cookie, docs/console.md).",
                ))),
            ),
        ]
    },
};

refusals!(
    /// Logging in: the credentials' refusals, and the node's state.
    Login: UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, UNAVAILABLE, INTERNAL
);
refusals!(
    /// Every operation that takes a session: the session's refusals, and the node's state.
    Session: UNAUTHENTICATED, FORBIDDEN, UNAVAILABLE, INTERNAL
);
refusals!(
    /// An operation with a JSON body (`ApplianceJson`).
    JsonBody: INVALID_REQUEST, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
);
refusals!(
    /// A list operation's query.
    ListQuery: INVALID_LIST_QUERY
);
refusals!(
    /// An operation on an item named in the path.
    Item: NOT_FOUND
);
refusals!(
    /// Changing the password: the session's refusals, a wrong current password (rate limited
    /// as a failed login), and the body's and the policy's refusals.
    PasswordChange: UNAUTHENTICATED, WRONG_PASSWORD, RATE_LIMITED, UNAVAILABLE, INTERNAL,
        PASSWORD_REFUSED, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
);
refusals!(
    /// The size and media type of a JSON body, where its 400 is described with the operation's.
    JsonBodyLimits: TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
);
refusals!(
    /// The configuration-manager operations' one answer.
    NotVsphereReplication: NOT_VSPHERE_REPLICATION
);
refusals!(
    /// The update-manager operations' one answer.
    UpdatesByPackageManager: UPDATES_BY_PACKAGE_MANAGER
);
refusals!(
    /// Stopping a service that cannot be stopped.
    NotStoppable: NOT_STOPPABLE
);
refusals!(
    /// Probing a TLS endpoint: the body's refusals and the probe's failure.
    ProbeRefused: PROBE_REFUSED
);
refusals!(
    /// The service's refusal alone, for the document, which is not gated by state.
    Stopped: SERVICE_STOPPED
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_response_exists() {
        openapi::assert_responses_consistent(&DOCUMENT);
    }
}
