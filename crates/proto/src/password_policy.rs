//! `POST /password-policy/check`: the appliance password policy's rules, each met or not by
//! a candidate password, so a form (the web console's) can show them as the user types,
//! with the server's own rules and messages rather than a copy of them.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The candidate password; wiped from memory when the request is dropped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordCheck {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordCheck { password: <redacted> }")
    }
}

/// Every rule that needs only the password, in the order the server checks them; `ok` when
/// all are met. Reuse of a previous password is checked only by the change itself.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRules {
    pub ok: bool,
    pub rules: Vec<PasswordRuleResult>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRuleResult {
    /// The stable code the appliance face reports when the rule is broken (`docs/errors.md`).
    pub code: String,
    /// The server's message for the broken rule.
    pub message: String,
    pub met: bool,
}
