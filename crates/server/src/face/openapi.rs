//! What every OpenAPI document the server publishes shares (our own API's,
//! `admin_api/openapi.rs`, and each face's): the refusals named once as response components
//! and referenced by groups from the handlers' `responses(...)`, and the document made once
//! and served as JSON without credentials.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use strongroom_proto::errors::ErrorBody;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::SecurityScheme;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, response};
use utoipa::{Modify, ToSchema};

use super::json::{JSON, REALM};

/// A refusal: the name of its response component, its status, and when it is given.
pub struct Refusal {
    pub name: &'static str,
    pub status: u16,
    pub description: &'static str,
}

impl Refusal {
    /// `(status, reference to the component)`, for a handler's responses.
    pub fn reference(&self) -> (String, RefOr<response::Response>) {
        (
            self.status.to_string(),
            RefOr::Ref(Ref::from_response_name(self.name)),
        )
    }
}

/// The refusals that mean the same on both JSON faces (our own API's and the NetHSM face's).
pub const RATE_LIMITED: Refusal = Refusal {
    name: "RateLimited",
    status: 429,
    description: "Too many failed attempts from this address; try again in a second.",
};

pub const NOT_ACCEPTABLE: Refusal = Refusal {
    name: "NotAcceptable",
    status: 406,
    description: "`Accept` excludes application/json.",
};

pub const TOO_LARGE: Refusal = Refusal {
    name: "TooLarge",
    status: 413,
    description: "The body is larger than 1 MiB.",
};

pub const UNSUPPORTED_MEDIA_TYPE: Refusal = Refusal {
    name: "UnsupportedMediaType",
    status: 415,
    description: "A PUT body that is not application/json.",
};

pub const INTERNAL: Refusal = Refusal {
    name: "InternalError",
    status: 500,
    description: "The server failed (the cause is in its log, under the answer's \
                  x-request-id).",
};

impl Refusal {
    /// The response component of a JSON face's refusal (our own API's, the NetHSM face's):
    /// the `{"message"}` body, and the challenge on 401 (the conventions of `face::json`).
    pub(crate) fn component(&self) -> response::Response {
        let body = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build();
        let mut r = ResponseBuilder::new()
            .description(self.description)
            .content(JSON, body);
        if self.status == 401 {
            r = r.header(
                header::WWW_AUTHENTICATE.as_str(),
                HeaderBuilder::new()
                    .schema(Some(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String)
                            .enum_values(Some([REALM])),
                    ))
                    .description(Some("The HTTP Basic challenge."))
                    .build(),
            );
        }
        r.build()
    }
}

/// A document's components beyond its schemas, for its `modifiers(...)`: every refusal as a
/// response component (drawn in the face's error shape by `component`), and the security
/// schemes its operations name.
pub struct Components {
    pub refusals: &'static [Refusal],
    pub component: fn(&Refusal) -> response::Response,
    pub schemes: fn() -> Vec<(&'static str, SecurityScheme)>,
}

impl Modify for Components {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for refusal in self.refusals {
            components
                .responses
                .insert(refusal.name.to_owned(), RefOr::T((self.component)(refusal)));
        }
        for (name, scheme) in (self.schemes)() {
            components.add_security_scheme(name, scheme);
        }
    }
}

/// Declares a group of refusals, for a handler's `responses(...)`.
macro_rules! refusals {
    ($(#[$doc:meta])* $name:ident: $($refusal:expr),+) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                [$($refusal.reference()),+].into_iter().collect()
            }
        }
    };
}
pub(crate) use refusals;

/// The document as served: this server's version, serialised once.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> String {
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_json().expect("the OpenAPI document serialises")
}

/// The answer to `GET .../openapi.json`.
pub fn serve(document: &'static str) -> Response {
    let mut r = document.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

/// Every response a document references is one of its components, and every component is
/// used: for each document's unit test.
#[cfg(test)]
pub fn assert_responses_consistent(document: &str) {
    let doc: serde_json::Value = serde_json::from_str(document).unwrap();
    let empty = serde_json::Map::new();
    let components = doc["components"]["responses"].as_object().unwrap_or(&empty);
    for name in components.keys() {
        assert!(
            document.contains(&format!("\"#/components/responses/{name}\"")),
            "{name} is not used"
        );
    }
    for rest in document.split("\"#/components/responses/").skip(1) {
        let name = &rest[..rest.find('"').unwrap()];
        assert!(components.contains_key(name), "{name} is not a component");
    }
}
