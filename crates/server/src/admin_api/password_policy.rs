//! `POST /password-policy/check`: which of the appliance password policy's rules a candidate
//! password meets, from the core's own rules and messages (the web console shows them live
//! as the user types). It changes nothing and is not audited; any user of the identity store
//! may ask, since the policy is no secret.

use strongroom_core::password_policy::SHAPE_RULES;
use strongroom_proto::password_policy as wire;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, Caller};
use super::openapi::{Authenticated, Gated, JsonBody};
use crate::face::rule;

pub type AnyUser = Caller<rule::AnyUser, ApiError>;

/// Which rules of the appliance password policy a candidate password meets (any user).
#[utoipa::path(
    post,
    path = "/password-policy/check",
    operation_id = "checkPasswordPolicy",
    tag = "password-policy",
    request_body = wire::PasswordCheck,
    responses(
        (status = 200, description = "Each rule, met or not, in the order the server checks \
            them.", body = wire::PasswordRules),
        Gated, Authenticated, JsonBody,
    )
)]
pub async fn password_policy_check_post(
    Caller(_, _): AnyUser,
    _: AcceptJson,
    ApiJson(req): ApiJson<wire::PasswordCheck>,
) -> ApiJson<wire::PasswordRules> {
    let rules: Vec<_> = SHAPE_RULES
        .into_iter()
        .map(|rule| wire::PasswordRuleResult {
            code: rule.code().to_owned(),
            message: rule.message().to_owned(),
            met: rule.met_by(&req.password),
        })
        .collect();
    ApiJson(wire::PasswordRules {
        ok: rules.iter().all(|r| r.met),
        rules,
    })
}
