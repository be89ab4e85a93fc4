//! Bodies of the time, appliance information and disk operations, named after the schemas
//! of vrms-appliance-config-api-v2.json.

use serde::{Deserialize, Serialize};

/// The spec's `TimeSynchronization.mode`. `NTP` is read so that it can be refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SyncModeWire {
    Disabled,
    Ntp,
    Host,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeSynchronization {
    pub mode: SyncModeWire,
    /// Only meaningful for NTP, which the appliance does not do: never answered, and ignored
    /// in a request (whose NTP mode is refused anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp_servers: Option<Vec<Option<String>>>,
}

/// `TimeSettingsDrResponseEntity`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeSettings {
    /// Milliseconds since the Unix epoch, appliance time.
    pub current_time: i64,
    pub zone: String,
    pub synchronization: TimeSynchronization,
}

/// `UpdateTimeSettingsSpec`: what is absent stays as it is.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateTimeSettingsSpec {
    pub zone: Option<String>,
    pub synchronization: Option<TimeSynchronization>,
}

/// `TimeZone`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeZone {
    pub name: String,
}

/// `ApplianceInfoDrResponseEntity`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplianceInfo {
    pub hostname: String,
    pub product_name: String,
    pub product_build_number: String,
    pub appliance_version: String,
    pub appliance_build_number: String,
    pub system_information: String,
}

/// `ApplianceDisk`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplianceDisk {
    pub name: String,
    pub description: Option<String>,
    pub partition_name: String,
    pub total_space: i64,
    pub used_space: i64,
    pub used_space_percent: String,
}
