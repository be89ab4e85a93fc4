//! Bodies of `/services`, `/tasks` and `/support-bundles`, named after the schemas of
//! vrms-appliance-config-api-v2.json (`ServiceInfo`, `Task`, `SupportBundleInfo`, and the
//! `...DrResponseList` wrappers with their `MetadataList`).

use serde::Serialize;

/// `ServiceInfo` (and `ServiceInfoDrResponseEntity`, which adds only an optional `_meta`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `AUTOMATIC` while the service starts with the server, `MANUAL` once an administrator
    /// stopped it (it stays stopped across restarts until started again).
    pub startup_type: &'static str,
    pub is_running: bool,
}

/// `TaskError`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskError {
    pub message: Option<String>,
    pub details: Option<String>,
}

/// `Task` (and `TaskDrResponseEntity`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: &'static str,
    pub error: Option<TaskError>,
    pub result: Option<serde_json::Value>,
    pub progress: u8,
    pub start_time: Option<i64>,
    pub complete_time: Option<i64>,
}

/// `SupportBundleInfo`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SupportBundleInfo {
    pub key: String,
    pub time_created: i64,
    pub size: u64,
    pub md5: String,
}
