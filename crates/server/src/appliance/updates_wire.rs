//! Bodies of `/appliance/update-manager/*`, named after the spec's schemas.

use serde::Deserialize;
use strongroom_core::secret::Passphrase;

/// The spec's `UpdatesRepository`. Read only so that a malformed body is told so; no
/// repository is ever set (updates come from the package manager).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UpdatesRepository {
    pub url: Option<String>,
    pub mounted_iso: Option<bool>,
    pub username: Option<String>,
    /// A secret type, so that it is never printed and is wiped when dropped.
    #[schema(value_type = Option<String>)]
    pub password: Option<Passphrase>,
}
