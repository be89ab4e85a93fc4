//! `/system/data-key` and `POST /system/rotate-data-key`: the domain key's version and its
//! rotation.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The answer to `GET /system/data-key`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataKey {
    pub key_version: u8,
    /// From the start of a rotation until every value is re-sealed.
    pub rotation_in_progress: bool,
}

/// The body of `POST /system/rotate-data-key`. The passphrase never appears in `Debug` and
/// is wiped from memory when the request is dropped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateDataKey {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    pub unlock_passphrase: Zeroizing<String>,
}

impl fmt::Debug for RotateDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotateDataKey { unlock_passphrase: <redacted> }")
    }
}

/// The answer to `POST /system/rotate-data-key`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// The domain key's version now.
    pub key_version: u8,
    /// Whether this run finished a rotation an earlier run had started.
    pub resumed: bool,
    /// Values re-sealed by all runs of this rotation.
    pub resealed: u64,
    /// Values that failed authentication and were left as they were.
    pub unreadable: u64,
}
