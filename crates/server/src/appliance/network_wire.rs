//! Bodies of the network operations, named after the schemas of
//! vrms-appliance-config-api-v2.json, and the `_meta` that entities carry.

use serde::{Deserialize, Serialize};

/// An entity with the spec's `_meta` (`...DrResponseEntity`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrEntity<T: utoipa::ToSchema> {
    #[serde(flatten)]
    pub entity: T,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
}

/// `Metadata`: the notes on fields of the entity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Metadata {
    pub errors: Vec<MetaError>,
}

/// `MetaError`: `field` is a JSONPath into the entity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetaError {
    pub code: &'static str,
    pub message: String,
    pub field: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsModeWire {
    Dhcp,
    Static,
}

/// `DnsInfo`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DnsInfo {
    pub mode: DnsModeWire,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub servers: Option<Vec<Option<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Ipv4ModeWire {
    Dhcp,
    Static,
    Unconfigured,
}

/// `Ipv4Info`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ipv4Info {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub default_gateway: Option<String>,
    pub assignment_mode: Ipv4ModeWire,
    /// Wider than a prefix, so that an out-of-range one is refused by name, not as a type.
    #[serde(default)]
    pub prefix: Option<i64>,
}

/// `Ipv6Address`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ipv6Address {
    pub address: String,
    pub prefix: i64,
}

/// `Ipv6Info`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ipv6Info {
    pub autoconfigure: bool,
    pub dhcp: bool,
    #[serde(default)]
    pub default_gateway: Option<String>,
    #[serde(default)]
    pub addresses: Option<Vec<Option<Ipv6Address>>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum InterfaceStatus {
    Up,
    Down,
}

/// `NetworkInterfaceInfo`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NetworkInterfaceInfo {
    pub status: InterfaceStatus,
    /// Absent for an interface without a link-layer address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    pub name: String,
    pub ipv4: Ipv4Info,
    pub ipv6: Ipv6Info,
}

/// `UpdateNetworkInterfaceInfoSpec`: what is absent stays as it was requested before.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateNetworkInterfaceInfoSpec {
    #[serde(default)]
    pub ipv4: Option<Ipv4Info>,
    #[serde(default)]
    pub ipv6: Option<Ipv6Info>,
}

/// `NetworkInfoData`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NetworkInfoData {
    pub dns: DnsInfo,
    pub interfaces: Vec<NetworkInterfaceInfo>,
}
