//! `GET /clients/{id}/restore-authorization?operation=browse|restore`: the decision backup
//! software asks for before each browse or restore of a client.

use serde::{Deserialize, Serialize};

/// The query of the restore decision.
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreQuery {
    /// `browse` or `restore`. Kept a string so that any other word is answered with the
    /// API's own message rather than the query parser's.
    #[cfg_attr(feature = "openapi", param(required = true, schema_with = operation_schema))]
    pub operation: String,
}

/// The schema of [`RestoreQuery::operation`]: the two words it accepts.
#[cfg(feature = "openapi")]
fn operation_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["browse", "restore"]))
        .description(Some("`browse` or `restore`."))
        .build()
}

/// The answer of the restore decision.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDecision {
    pub allowed: bool,
    pub reason: RestoreReason,
    /// Present when `reason` is `authorized`: the end of the window (RFC 3339, appliance
    /// clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_until: Option<String>,
}

/// Why a browse or restore is allowed or not.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreReason {
    /// Neither the client nor the company has a passkey.
    NoPasskey,
    /// The passkey that decides has an open authorization.
    Authorized,
    /// The client's own passkey decides and no authorization is open.
    PasskeyRequired,
    /// The company passkey decides and no authorization is open.
    CompanyPasskeyRequired,
}

impl RestoreReason {
    /// Whether the browse or restore may go ahead.
    pub fn allows(self) -> bool {
        matches!(self, RestoreReason::NoPasskey | RestoreReason::Authorized)
    }
}
