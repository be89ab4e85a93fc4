//! NetHSM request and response bodies, named after the schemas of `nethsm-api.yaml`.
//! Requests refuse unknown fields ("All endpoints expect exactly the specified JSON").

use serde::{Deserialize, Serialize};
use strongroom_core::SystemState;
use strongroom_core::secret::Passphrase;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvisionRequestData {
    pub unlock_passphrase: Passphrase,
    pub admin_passphrase: Passphrase,
    pub system_time: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequestData {
    pub passphrase: Passphrase,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HealthStateData {
    pub state: SystemState,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InfoData {
    pub vendor: String,
    pub product: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnattendedBootConfig {
    pub status: Switch,
}

/// Attestation keys of the original's TPM; Strongroom has none, so the object is empty.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AkPub {}

/// TPM measurement registers of the original; empty for the same reason.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Pcr {}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    pub software_version: String,
    pub software_build: String,
    pub firmware_version: String,
    pub hardware_version: String,
    pub device_id: String,
    pub ak_pub: AkPub,
    pub pcr: Pcr,
}
