//! `/config/network` (root Administrator, Operational): the host's primary interface, as
//! NetHSM's single network configuration ([`strongroom_core::appliance::network`]). A PUT is
//! validated and recorded (the appliance face reports it as that interface's requested
//! settings), never applied to the host; see `docs/operations.md`, "Time and network".

use super::wire::not_null;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use strongroom_core::appliance::network::{
    self as net, InterfaceSettings, Ipv4Mode, Ipv4Settings, Ipv6Settings, NetworkReport,
};
use utoipa::ToSchema;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated, PutJsonBody};
use crate::app::AppState;

/// `Ipv6Config`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ipv6Config {
    /// `ADDRESS/PREFIX`.
    pub cidr: String,
    /// Required, and nullable: `null` is no gateway.
    // `deserialize_with` keeps serde from taking a missing field for `null`, as it does for a
    // plain `Option`.
    #[serde(deserialize_with = "nullable")]
    #[schema(required = true)]
    pub gateway: Option<String>,
}

fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// `NetworkConfigInput`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"ipAddress": "192.168.1.1", "netmask": "255.255.255.0", "gateway": "0.0.0.0"}))]
pub struct NetworkConfigInput {
    #[schema(format = Ipv4)]
    pub ip_address: String,
    #[schema(format = Ipv4)]
    pub netmask: String,
    /// `0.0.0.0`, or left out: no gateway.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, format = Ipv4)]
    pub gateway: Option<String>,
    /// Absent: IPv6 stays as it is; `null`: IPv6 off; an object: that address.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Ipv6Config>, required = false)]
    pub ipv6: Option<Option<Ipv6Config>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Ipv6Config>>, D::Error> {
    Option::<Ipv6Config>::deserialize(d).map(Some)
}

/// `NetworkConfigOutput`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfigOutput {
    #[schema(format = Ipv4)]
    pub ip_address: String,
    #[schema(format = Ipv4)]
    pub netmask: String,
    /// `0.0.0.0`: none.
    #[schema(format = Ipv4)]
    pub gateway: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ipv6: Option<Ipv6Config>,
}

/// NetHSM writes "no gateway" as `0.0.0.0`.
const NO_GATEWAY: &str = "0.0.0.0";

fn output(report: &NetworkReport) -> NetworkConfigOutput {
    let Some(primary) = report.interface(&report.primary) else {
        return NetworkConfigOutput {
            ip_address: NO_GATEWAY.into(),
            netmask: NO_GATEWAY.into(),
            gateway: NO_GATEWAY.into(),
            ipv6: None,
        };
    };
    let (host, requested) = (&primary.host, &primary.requested);
    let (address, prefix, gateway) = match &requested.ipv4 {
        Some(Ipv4Settings {
            mode: Ipv4Mode::Static,
            address: Some(address),
            prefix: Some(prefix),
            gateway,
        }) => (Some(*address), *prefix, *gateway),
        // DHCP, unconfigured or nothing requested: what the host has now.
        _ => match host.ipv4.first() {
            Some((address, prefix)) => (Some(*address), *prefix, host.ipv4_gateway),
            None => (None, 0, None),
        },
    };
    let ipv6 = match &requested.ipv6 {
        Some(requested) => requested
            .addresses
            .first()
            .map(|(a, p)| (*a, *p, requested.gateway)),
        None => host
            .ipv6
            .iter()
            // A link-local address (fe80::/10) is not a configuration.
            .find(|(a, _)| a.segments()[0] & 0xffc0 != 0xfe80)
            .map(|(a, p)| (*a, *p, host.ipv6_gateway)),
    };
    NetworkConfigOutput {
        ip_address: address.map_or(NO_GATEWAY.into(), |a| a.to_string()),
        netmask: net::netmask_of_prefix(prefix).to_string(),
        gateway: gateway.map_or(NO_GATEWAY.into(), |g| g.to_string()),
        ipv6: ipv6.map(|(a, p, gw)| Ipv6Config {
            cidr: format!("{a}/{p}"),
            gateway: gw.map(|g| g.to_string()),
        }),
    }
}

#[utoipa::path(
    get,
    path = "/config/network",
    operation_id = "getNetworkConfig",
    tag = "config",
    description = "The host's primary interface: the settings requested for it, or what it \
                   has now when none were (`0.0.0.0` for none).",
    responses(
        (status = 200, description = "The primary interface's configuration.",
            body = NetworkConfigOutput),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn config_network_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<NetworkConfigOutput>, NetHsmError> {
    let report = s
        .run(move |core| core.operational(&who)?.appliance().network())
        .await?;
    Ok(NetHsmJson(output(&report)))
}

fn request(req: NetworkConfigInput) -> strongroom_core::Result<InterfaceSettings> {
    let gateway = match req.gateway.as_deref() {
        None | Some(NO_GATEWAY) => None,
        Some(g) => Some(net::parse_ipv4("gateway", g)?),
    };
    let ipv4 = Ipv4Settings {
        mode: Ipv4Mode::Static,
        address: Some(net::parse_ipv4("ipAddress", &req.ip_address)?),
        prefix: Some(net::prefix_of_netmask("netmask", &req.netmask)?),
        gateway,
    };
    let ipv6 = match req.ipv6 {
        None => None,
        Some(None) => Some(Ipv6Settings::off()),
        Some(Some(c)) => Some(Ipv6Settings {
            autoconfigure: false,
            dhcp: false,
            gateway: c
                .gateway
                .map(|g| net::parse_ipv6("ipv6.gateway", &g))
                .transpose()?,
            addresses: vec![net::parse_ipv6_cidr("ipv6.cidr", &c.cidr)?],
        }),
    };
    Ok(InterfaceSettings {
        ipv4: Some(ipv4),
        ipv6,
    })
}

/// Recorded for the primary interface, not applied to the host.
#[utoipa::path(
    put,
    path = "/config/network",
    operation_id = "setNetworkConfig",
    tag = "config",
    summary = "Set the primary interface's network configuration.",
    description = "Recorded as the primary interface's requested settings (which the \
                   appliance face reports), not applied to the host: the host's own network \
                   configuration does that (docs/operations.md, \"Time and network\").",
    request_body = NetworkConfigInput,
    responses(
        (status = 204, description = "Recorded."),
        Gated,
        Authenticated,
        PutJsonBody,
        CoreCall,
    )
)]
pub async fn config_network_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<NetworkConfigInput>,
) -> Result<StatusCode, NetHsmError> {
    let change = request(req)?;
    s.run(move |core| {
        core.operational(&who)?
            .appliance()
            .set_primary_interface(change)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
