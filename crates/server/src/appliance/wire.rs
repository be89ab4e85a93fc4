//! Appliance request and response bodies, named after the schemas of
//! vrms-appliance-config-api-v2.json. Unknown fields are ignored, as the spec does not forbid
//! them.

use serde::{Deserialize, Serialize};
use strongroom_core::secret::Passphrase;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdatePasswordSpec {
    /// Required, but not taken into account: the session's own account changes (seed 001).
    #[allow(dead_code)]
    pub username: String,
    /// The current password.
    #[schema(value_type = String)]
    pub password: Passphrase,
    #[schema(value_type = String)]
    pub new_password: Passphrase,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionIdData {
    pub session_id: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub username: String,
}
