//! `/appliance/settings/network...`: the host's interfaces and resolver, and settings an
//! administrator asks for, which are recorded and reported but never applied to the host
//! ([`strongroom_core::appliance::network`]). Each entity that shows requested settings says
//! so in its `_meta.errors` (code `NOT_APPLIED_TO_HOST`), with what the host really has.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use strongroom_core::appliance::network::{
    self as net, DnsMode, DnsSettings, HostInterface, InterfaceReport, InterfaceSettings, Ipv4Mode,
    Ipv4Settings, Ipv6Settings, NetworkReport,
};

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::list_query::{DrResponseList, ListQuery};
use super::network_wire::{
    DnsInfo, DnsModeWire, DrEntity, InterfaceStatus, Ipv4Info, Ipv4ModeWire, Ipv6Address, Ipv6Info,
    MetaError, Metadata, NetworkInfoData, NetworkInterfaceInfo, UpdateNetworkInterfaceInfoSpec,
};
use crate::app::AppState;

const NOT_APPLIED: &str = "NOT_APPLIED_TO_HOST";
const HOST_RESOLVER: &str = "HOST_RESOLVER";

/// The face's rendering of the core's refusals of a network change.
fn refusal(e: strongroom_core::Error) -> ApplianceError {
    use strongroom_core::Error as E;
    match e {
        E::InvalidInput(m) => ApplianceError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_NETWORK_SETTINGS",
            format!("Invalid network settings: {m}"),
        ),
        E::NotFound(m) => ApplianceError::new(StatusCode::NOT_FOUND, "INTERFACE_NOT_FOUND", m),
        e => e.into(),
    }
}

fn no_such_interface(name: &str) -> ApplianceError {
    refusal(strongroom_core::Error::NotFound(format!(
        "The host has no network interface {name:?}."
    )))
}

async fn report(s: &AppState, session: DrSession) -> Result<NetworkReport, ApplianceError> {
    Ok(
        s.run(move |core| core.operational(&session.principal)?.appliance().network())
            .await?,
    )
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn host_ipv4_text(host: &HostInterface) -> String {
    let mut text = match host.ipv4.as_slice() {
        [] => "no IPv4 address".to_owned(),
        addrs => addrs
            .iter()
            .map(|(a, p)| format!("{a}/{p}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    if let Some(gw) = host.ipv4_gateway {
        text.push_str(&format!(" (default gateway {gw})"));
    }
    text
}

fn host_ipv6_text(host: &HostInterface) -> String {
    let mut text = match host.ipv6.as_slice() {
        [] => "no IPv6 address".to_owned(),
        addrs => addrs
            .iter()
            .map(|(a, p)| format!("{a}/{p}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    if let Some(gw) = host.ipv6_gateway {
        text.push_str(&format!(" (default gateway {gw})"));
    }
    text
}

fn not_applied(field: String, host_has: String) -> MetaError {
    MetaError {
        code: NOT_APPLIED,
        message: format!(
            "Recorded, not applied: Strongroom does not change the host's network. The host has {host_has}."
        ),
        field,
    }
}

fn ipv4_info(r: &InterfaceReport) -> Ipv4Info {
    match &r.requested.ipv4 {
        Some(req) => Ipv4Info {
            address: req.address.map(|a| a.to_string()),
            default_gateway: req.gateway.map(|g| g.to_string()),
            assignment_mode: match req.mode {
                Ipv4Mode::Dhcp => Ipv4ModeWire::Dhcp,
                Ipv4Mode::Static => Ipv4ModeWire::Static,
                Ipv4Mode::Unconfigured => Ipv4ModeWire::Unconfigured,
            },
            prefix: req.prefix.map(i64::from),
        },
        // The host's own: how it got the address (DHCP or not) cannot be seen from here.
        None => match r.host.ipv4.first() {
            Some((address, prefix)) => Ipv4Info {
                address: Some(address.to_string()),
                default_gateway: r.host.ipv4_gateway.map(|g| g.to_string()),
                assignment_mode: Ipv4ModeWire::Static,
                // The spec allows 8 to 31; a host route (/32) has no prefix to show there.
                prefix: (8..=31).contains(prefix).then_some(i64::from(*prefix)),
            },
            None => Ipv4Info {
                address: None,
                default_gateway: None,
                assignment_mode: Ipv4ModeWire::Unconfigured,
                prefix: None,
            },
        },
    }
}

fn ipv6_info(r: &InterfaceReport) -> Ipv6Info {
    let addresses = |list: &[(std::net::Ipv6Addr, u8)]| {
        Some(
            list.iter()
                .map(|(a, p)| {
                    Some(Ipv6Address {
                        address: a.to_string(),
                        prefix: i64::from(*p),
                    })
                })
                .collect(),
        )
    };
    match &r.requested.ipv6 {
        Some(req) => Ipv6Info {
            autoconfigure: req.autoconfigure,
            dhcp: req.dhcp,
            default_gateway: req.gateway.map(|g| g.to_string()),
            addresses: addresses(&req.addresses),
        },
        None => Ipv6Info {
            autoconfigure: r.host.ipv6_autoconf,
            // Whether the host runs a DHCPv6 client cannot be seen from here.
            dhcp: false,
            default_gateway: r.host.ipv6_gateway.map(|g| g.to_string()),
            addresses: addresses(&r.host.ipv6),
        },
    }
}

fn interface_info(r: &InterfaceReport) -> NetworkInterfaceInfo {
    NetworkInterfaceInfo {
        status: if r.host.up {
            InterfaceStatus::Up
        } else {
            InterfaceStatus::Down
        },
        mac: r.host.mac.map(mac_text),
        name: r.host.name.clone(),
        ipv4: ipv4_info(r),
        ipv6: ipv6_info(r),
    }
}

/// The notes on an interface's entity, with `at` the JSONPath of the interface.
fn interface_notes(r: &InterfaceReport, at: &str) -> Vec<MetaError> {
    let mut notes = Vec::new();
    if r.requested.ipv4.is_some() {
        notes.push(not_applied(format!("{at}.ipv4"), host_ipv4_text(&r.host)));
    }
    if r.requested.ipv6.is_some() {
        notes.push(not_applied(format!("{at}.ipv6"), host_ipv6_text(&r.host)));
    }
    notes
}

fn dns_info(dns: &DnsSettings) -> DnsInfo {
    DnsInfo {
        mode: match dns.mode {
            DnsMode::Dhcp => DnsModeWire::Dhcp,
            DnsMode::Static => DnsModeWire::Static,
        },
        hostname: dns.hostname.clone(),
        servers: Some(dns.servers.iter().map(|s| Some(s.to_string())).collect()),
    }
}

/// The DNS entity and its note: requested settings, or the host's resolver.
fn dns_view(report: &NetworkReport, at: &str) -> (DnsInfo, MetaError) {
    match &report.dns_requested {
        Some(requested) => {
            let servers = report.dns_host.servers.iter().map(IpAddr::to_string);
            let host_has = format!(
                "the resolver of /etc/resolv.conf ({})",
                servers.collect::<Vec<_>>().join(", ")
            );
            (dns_info(requested), not_applied(at.to_owned(), host_has))
        }
        None => (
            dns_info(&report.dns_host),
            MetaError {
                code: HOST_RESOLVER,
                message:
                    "The host's resolver, from /etc/resolv.conf; whether the host got it by DHCP \
                          cannot be seen by the appliance."
                        .into(),
                field: format!("{at}.mode"),
            },
        ),
    }
}

fn meta(errors: Vec<MetaError>) -> Option<Metadata> {
    (!errors.is_empty()).then_some(Metadata { errors })
}

/// `GET /appliance/settings/network` (operationId `getAllNetworkSettings`).
#[utoipa::path(
    get,
    path = "/appliance/settings/network",
    operation_id = "getAllNetworkSettings",
    tag = "network",
    responses(
        (status = 200, description = "The resolver and every interface: what was requested, \
            or the host's own; `_meta.errors` says which (`NOT_APPLIED_TO_HOST`, \
            `HOST_RESOLVER`).", body = DrEntity<NetworkInfoData>),
        super::openapi::Session,
    )
)]
pub async fn get_all_network_settings(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<Json<DrEntity<NetworkInfoData>>, ApplianceError> {
    let report = report(&s, session).await?;
    let (dns, dns_note) = dns_view(&report, "$.dns");
    let mut notes = vec![dns_note];
    for (i, r) in report.interfaces.iter().enumerate() {
        notes.extend(interface_notes(r, &format!("$.interfaces[{i}]")));
    }
    Ok(Json(DrEntity {
        entity: NetworkInfoData {
            dns,
            interfaces: report.interfaces.iter().map(interface_info).collect(),
        },
        meta: meta(notes),
    }))
}

/// `GET /appliance/settings/network/dns` (operationId `getNetworkDnsSettings`).
#[utoipa::path(
    get,
    path = "/appliance/settings/network/dns",
    operation_id = "getNetworkDnsSettings",
    tag = "network",
    responses(
        (status = 200, description = "The resolver settings requested, or the host's; \
            `_meta.errors` says which.", body = DrEntity<DnsInfo>),
        super::openapi::Session,
    )
)]
pub async fn get_network_dns_settings(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<Json<DrEntity<DnsInfo>>, ApplianceError> {
    let report = report(&s, session).await?;
    let (dns, note) = dns_view(&report, "$");
    Ok(Json(DrEntity {
        entity: dns,
        meta: meta(vec![note]),
    }))
}

/// `PUT /appliance/settings/network/dns` (operationId `updateNetworkDnsSettings`): recorded,
/// not applied to the host. Servers are kept for STATIC only (the spec ignores them for DHCP).
#[utoipa::path(
    put,
    path = "/appliance/settings/network/dns",
    operation_id = "updateNetworkDnsSettings",
    tag = "network",
    request_body(content = DnsInfo, content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded (not applied to the host)."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn update_network_dns_settings(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(spec): ApplianceJson<DnsInfo>,
) -> Result<StatusCode, ApplianceError> {
    let mode = match spec.mode {
        DnsModeWire::Dhcp => DnsMode::Dhcp,
        DnsModeWire::Static => DnsMode::Static,
    };
    let mut servers = Vec::new();
    if mode == DnsMode::Static {
        for server in spec.servers.into_iter().flatten().flatten() {
            servers.push(net::parse_ip("servers", &server).map_err(refusal)?);
        }
    }
    let dns = DnsSettings {
        mode,
        hostname: spec.hostname,
        servers,
    };
    s.run(move |core| {
        core.operational(&session.principal)?
            .appliance()
            .set_dns(dns)
    })
    .await
    .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /appliance/settings/network/interfaces` (operationId `getAllNetworkInterfacesSettings`).
#[utoipa::path(
    get,
    path = "/appliance/settings/network/interfaces",
    operation_id = "getAllNetworkInterfacesSettings",
    tag = "network",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The host's interfaces, with the settings requested for \
            each.", body = super::openapi::ListOf<NetworkInterfaceInfo>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_all_network_interfaces_settings(
    State(s): State<AppState>,
    session: DrSession,
    query: ListQuery,
) -> Result<Json<DrResponseList>, ApplianceError> {
    let report = report(&s, session).await?;
    let interfaces: Vec<_> = report.interfaces.iter().map(interface_info).collect();
    Ok(Json(query.page(&interfaces)))
}

/// `GET /appliance/settings/network/interfaces/{interface_name}`
/// (operationId `getNetworkInterfaceSettings`).
#[utoipa::path(
    get,
    path = "/appliance/settings/network/interfaces/{interface_name}",
    operation_id = "getNetworkInterfaceSettings",
    tag = "network",
    params(("interface_name" = String, Path, description = "The interface's name on the host.",
        example = "lo")),
    responses(
        (status = 200, description = "The interface; `_meta.errors` notes the settings \
            requested but not applied.", body = DrEntity<NetworkInterfaceInfo>),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn get_network_interface_settings(
    State(s): State<AppState>,
    session: DrSession,
    Path(name): Path<String>,
) -> Result<Json<DrEntity<NetworkInterfaceInfo>>, ApplianceError> {
    let report = report(&s, session).await?;
    let r = report
        .interface(&name)
        .ok_or_else(|| no_such_interface(&name))?;
    Ok(Json(DrEntity {
        entity: interface_info(r),
        meta: meta(interface_notes(r, "$")),
    }))
}

fn prefix(field: &str, p: Option<i64>, max: u8) -> Result<Option<u8>, strongroom_core::Error> {
    p.map(|p| {
        u8::try_from(p).ok().filter(|p| *p <= max).ok_or_else(|| {
            strongroom_core::Error::InvalidInput(format!("{field} must be 0 to {max}, not {p}"))
        })
    })
    .transpose()
}

fn ipv4_request(w: Ipv4Info) -> Result<Ipv4Settings, strongroom_core::Error> {
    let mode = match w.assignment_mode {
        Ipv4ModeWire::Dhcp => Ipv4Mode::Dhcp,
        Ipv4ModeWire::Static => Ipv4Mode::Static,
        Ipv4ModeWire::Unconfigured => Ipv4Mode::Unconfigured,
    };
    // Address, prefix and gateway are read for STATIC only ("not needed when DHCP mode").
    if mode != Ipv4Mode::Static {
        return Ok(Ipv4Settings {
            mode,
            address: None,
            prefix: None,
            gateway: None,
        });
    }
    Ok(Ipv4Settings {
        mode,
        address: w
            .address
            .map(|a| net::parse_ipv4("ipv4.address", &a))
            .transpose()?,
        prefix: prefix("ipv4.prefix", w.prefix, 32)?,
        gateway: w
            .default_gateway
            .map(|g| net::parse_ipv4("ipv4.default_gateway", &g))
            .transpose()?,
    })
}

fn ipv6_request(w: Ipv6Info) -> Result<Ipv6Settings, strongroom_core::Error> {
    let mut addresses = Vec::new();
    for a in w.addresses.into_iter().flatten().flatten() {
        let address = net::parse_ipv6("ipv6.addresses.address", &a.address)?;
        let p = prefix("ipv6.addresses.prefix", Some(a.prefix), 128)?.unwrap_or(128);
        addresses.push((address, p));
    }
    Ok(Ipv6Settings {
        autoconfigure: w.autoconfigure,
        dhcp: w.dhcp,
        gateway: w
            .default_gateway
            .map(|g| net::parse_ipv6("ipv6.default_gateway", &g))
            .transpose()?,
        addresses,
    })
}

/// `POST /appliance/settings/network/interfaces/{interface_name}`
/// (operationId `updateNetworkInterfaceSettings`): recorded, not applied to the host; what
/// the body leaves out stays as it was requested before.
#[utoipa::path(
    post,
    path = "/appliance/settings/network/interfaces/{interface_name}",
    operation_id = "updateNetworkInterfaceSettings",
    tag = "network",
    params(("interface_name" = String, Path, description = "The interface's name on the host.",
        example = "lo")),
    request_body(content = UpdateNetworkInterfaceInfoSpec, content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded (not applied to the host)."),
        super::openapi::Session, super::openapi::JsonBody, super::openapi::Item,
    )
)]
pub async fn update_network_interface_settings(
    State(s): State<AppState>,
    session: DrSession,
    Path(name): Path<String>,
    ApplianceJson(spec): ApplianceJson<UpdateNetworkInterfaceInfoSpec>,
) -> Result<StatusCode, ApplianceError> {
    let change = InterfaceSettings {
        ipv4: spec.ipv4.map(ipv4_request).transpose().map_err(refusal)?,
        ipv6: spec.ipv6.map(ipv6_request).transpose().map_err(refusal)?,
    };
    s.run(move |core| {
        core.operational(&session.principal)?
            .appliance()
            .set_interface(&name, change)
    })
    .await
    .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}
