//! The appliance's network: what the host really has (interfaces, addresses, default
//! gateways, resolver), and the settings an administrator asked for through either face.
//!
//! A software appliance does not own its host's network: Strongroom never changes an address,
//! a route or the resolver. A change through NetHSM's `PUT /config/network` or the appliance
//! face's `/appliance/settings/network/...` is validated and recorded (one record, both faces),
//! and reported back as the requested settings beside what the host really has; applying it is
//! the host's administrator's job (see `docs/operations.md`, "Time and network").
//!
//! NetHSM knows one interface: it is the host's primary one ([`primary_interface`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Appliance;

const RECORD: &str = "network";
const MAX_ADDRESSES: usize = 16;
const MAX_DNS_SERVERS: usize = 8;

/// How an interface gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ipv4Mode {
    Dhcp,
    Static,
    Unconfigured,
}

/// Requested IPv4 settings of one interface. Address, prefix and gateway are kept only for
/// [`Ipv4Mode::Static`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Settings {
    pub mode: Ipv4Mode,
    pub address: Option<Ipv4Addr>,
    pub prefix: Option<u8>,
    pub gateway: Option<Ipv4Addr>,
}

/// Requested IPv6 settings of one interface; all false and empty is IPv6 turned off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Settings {
    pub autoconfigure: bool,
    pub dhcp: bool,
    pub gateway: Option<Ipv6Addr>,
    pub addresses: Vec<(Ipv6Addr, u8)>,
}

impl Ipv6Settings {
    /// What NetHSM's `"ipv6": null` asks for.
    pub fn off() -> Self {
        Self {
            autoconfigure: false,
            dhcp: false,
            gateway: None,
            addresses: Vec::new(),
        }
    }
}

/// Requested settings of one interface; `None` is "nothing requested" for that protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceSettings {
    pub ipv4: Option<Ipv4Settings>,
    pub ipv6: Option<Ipv6Settings>,
}

/// How the resolver is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DnsMode {
    Dhcp,
    Static,
}

/// Resolver settings: requested ones, or the host's ([`host_dns`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsSettings {
    pub mode: DnsMode,
    pub hostname: Option<String>,
    pub servers: Vec<IpAddr>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct NetworkRecord {
    dns: Option<DnsSettings>,
    interfaces: BTreeMap<String, InterfaceSettings>,
}

/// One interface of the host as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInterface {
    pub name: String,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    pub mac: Option<[u8; 6]>,
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// The default route's gateway through this interface, if there is one.
    pub ipv4_gateway: Option<Ipv4Addr>,
    pub ipv6_gateway: Option<Ipv6Addr>,
    /// The kernel's SLAAC switch for this interface.
    pub ipv6_autoconf: bool,
}

/// One interface: what the host has, and what was requested for it.
#[derive(Debug, Clone)]
pub struct InterfaceReport {
    pub host: HostInterface,
    pub requested: InterfaceSettings,
}

/// The network as the faces report it.
#[derive(Debug, Clone)]
pub struct NetworkReport {
    pub interfaces: Vec<InterfaceReport>,
    /// The name of the interface NetHSM's `/config/network` is about.
    pub primary: String,
    pub dns_host: DnsSettings,
    pub dns_requested: Option<DnsSettings>,
}

impl NetworkReport {
    pub fn interface(&self, name: &str) -> Option<&InterfaceReport> {
        self.interfaces.iter().find(|i| i.host.name == name)
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidInput(message)
}

/// Parses an IPv4 address; `field` names it in the error.
pub fn parse_ipv4(field: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse()
        .map_err(|_| invalid(format!("{field} must be an IPv4 address, not {s:?}")))
}

/// Parses an IPv6 address; `field` names it in the error.
pub fn parse_ipv6(field: &str, s: &str) -> Result<Ipv6Addr> {
    s.parse()
        .map_err(|_| invalid(format!("{field} must be an IPv6 address, not {s:?}")))
}

/// Parses an IPv4 or IPv6 address; `field` names it in the error.
pub fn parse_ip(field: &str, s: &str) -> Result<IpAddr> {
    s.parse()
        .map_err(|_| invalid(format!("{field} must be an IP address, not {s:?}")))
}

/// Parses `address/prefix` (NetHSM's IPv6 `cidr`).
pub fn parse_ipv6_cidr(field: &str, s: &str) -> Result<(Ipv6Addr, u8)> {
    let bad = || invalid(format!("{field} must be an IPv6 address/prefix, not {s:?}"));
    let (address, prefix) = s.split_once('/').ok_or_else(bad)?;
    let address: Ipv6Addr = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 128 {
        return Err(bad());
    }
    Ok((address, prefix))
}

/// The prefix length of a contiguous netmask such as `255.255.255.0`.
pub fn prefix_of_netmask(field: &str, s: &str) -> Result<u8> {
    let mask = u32::from(parse_ipv4(field, s)?);
    let prefix = mask.leading_ones();
    if mask.checked_shl(prefix).unwrap_or(0) != 0 {
        return Err(invalid(format!(
            "{field} must be a contiguous netmask such as 255.255.255.0, not {s:?}"
        )));
    }
    Ok(prefix as u8)
}

/// The netmask of a prefix length.
pub fn netmask_of_prefix(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0),
    )
}

fn check_unicast_v4(field: &str, a: Ipv4Addr) -> Result<()> {
    if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
        return Err(invalid(format!("{field} {a} is not a unicast address")));
    }
    Ok(())
}

fn check_unicast_v6(field: &str, a: Ipv6Addr) -> Result<()> {
    if a.is_unspecified() || a.is_multicast() {
        return Err(invalid(format!("{field} {a} is not a unicast address")));
    }
    Ok(())
}

impl Ipv4Settings {
    /// Checks a request and drops what its mode does not use.
    pub fn checked(self) -> Result<Self> {
        if self.mode != Ipv4Mode::Static {
            return Ok(Self {
                mode: self.mode,
                address: None,
                prefix: None,
                gateway: None,
            });
        }
        let address = self
            .address
            .ok_or_else(|| invalid("a STATIC ipv4 needs an address".into()))?;
        check_unicast_v4("ipv4 address", address)?;
        let prefix = self
            .prefix
            .ok_or_else(|| invalid("a STATIC ipv4 needs a prefix".into()))?;
        if !(8..=31).contains(&prefix) {
            return Err(invalid(format!(
                "the ipv4 prefix must be 8 to 31, not {prefix}"
            )));
        }
        if let Some(gateway) = self.gateway {
            check_unicast_v4("ipv4 default gateway", gateway)?;
            let mask = u32::from(netmask_of_prefix(prefix));
            if u32::from(gateway) & mask != u32::from(address) & mask {
                return Err(invalid(format!(
                    "the ipv4 default gateway {gateway} is not in {address}/{prefix}"
                )));
            }
            if gateway == address {
                return Err(invalid(format!(
                    "the ipv4 default gateway {gateway} is the interface's own address"
                )));
            }
        }
        Ok(self)
    }
}

impl Ipv6Settings {
    pub fn checked(self) -> Result<Self> {
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(invalid(format!(
                "at most {MAX_ADDRESSES} ipv6 addresses per interface"
            )));
        }
        for (address, prefix) in &self.addresses {
            check_unicast_v6("ipv6 address", *address)?;
            if *prefix > 128 {
                return Err(invalid(format!(
                    "an ipv6 prefix must be 0 to 128, not {prefix}"
                )));
            }
        }
        if let Some(gateway) = self.gateway {
            check_unicast_v6("ipv6 default gateway", gateway)?;
        }
        Ok(self)
    }
}

/// A host name as RFC 1123 allows: dot-separated labels of letters, digits and hyphens.
fn check_hostname(name: &str) -> Result<()> {
    let bad = || invalid(format!("{name:?} is not a valid host name"));
    if name.is_empty() || name.len() > 253 {
        return Err(bad());
    }
    for label in name.strip_suffix('.').unwrap_or(name).split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

impl DnsSettings {
    /// Checks a request; servers are kept only for [`DnsMode::Static`], which needs one.
    pub fn checked(self) -> Result<Self> {
        if let Some(name) = &self.hostname {
            check_hostname(name)?;
        }
        if self.mode == DnsMode::Dhcp {
            return Ok(Self {
                servers: Vec::new(),
                ..self
            });
        }
        if self.servers.is_empty() {
            return Err(invalid("STATIC DNS needs at least one server".into()));
        }
        if self.servers.len() > MAX_DNS_SERVERS {
            return Err(invalid(format!("at most {MAX_DNS_SERVERS} DNS servers")));
        }
        for server in &self.servers {
            match server {
                IpAddr::V4(a) => check_unicast_v4("DNS server", *a)?,
                IpAddr::V6(a) => check_unicast_v6("DNS server", *a)?,
            }
        }
        Ok(self)
    }
}

impl crate::Core {
    fn network_record(&self) -> Result<NetworkRecord> {
        Ok(self.appliance_record(RECORD)?.unwrap_or_default())
    }
}

impl Appliance<'_> {
    /// The host's network and the requested settings (root Administrator).
    pub fn network(&self) -> Result<NetworkReport> {
        let (core, _, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        let mut record = core.network_record()?;
        let hosts = host_interfaces()?;
        let primary = primary_interface(&hosts);
        let interfaces = hosts
            .into_iter()
            .map(|host| {
                let requested = record.interfaces.remove(&host.name).unwrap_or_default();
                InterfaceReport { host, requested }
            })
            .collect();
        Ok(NetworkReport {
            interfaces,
            primary,
            dns_host: host_dns(),
            dns_requested: record.dns,
        })
    }

    /// Records requested settings for the host's interface `name` (root Administrator): what
    /// `change` leaves `None` stays as it was requested before. [`Error::NotFound`] when the
    /// host has no such interface.
    pub fn set_interface(&self, name: &str, change: InterfaceSettings) -> Result<()> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let ipv4 = change.ipv4.map(Ipv4Settings::checked).transpose()?;
        let ipv6 = change.ipv6.map(Ipv6Settings::checked).transpose()?;
        if !host_interfaces()?.iter().any(|i| i.name == name) {
            return Err(Error::NotFound(format!(
                "The host has no network interface {name:?}."
            )));
        }
        let mut record = core.network_record()?;
        let entry = record.interfaces.entry(name.to_owned()).or_default();
        if ipv4.is_some() {
            entry.ipv4 = ipv4;
        }
        if ipv6.is_some() {
            entry.ipv6 = ipv6;
        }
        self.write_record(RECORD, &record)?;
        tracing::info!(by = %who.user_id, interface = name, "network settings recorded (not applied to the host)");
        Ok(())
    }

    /// NetHSM's `PUT /config/network`: the primary interface's settings.
    pub fn set_primary_interface(&self, change: InterfaceSettings) -> Result<()> {
        self.require(Access::RootAdministrator)?;
        let primary = primary_interface(&host_interfaces()?);
        self.set_interface(&primary, change)
    }

    /// Records requested resolver settings (root Administrator).
    pub fn set_dns(&self, dns: DnsSettings) -> Result<()> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let dns = dns.checked()?;
        let mut record = core.network_record()?;
        record.dns = Some(dns);
        self.write_record(RECORD, &record)?;
        tracing::info!(by = %who.user_id, "DNS settings recorded (not applied to the host)");
        Ok(())
    }
}

/// The interface NetHSM's single network configuration is about: the one the IPv4 default
/// route leaves through, else the first one that is up and not loopback, else `lo`.
pub fn primary_interface(hosts: &[HostInterface]) -> String {
    hosts
        .iter()
        .find(|i| i.ipv4_gateway.is_some())
        .or_else(|| {
            hosts
                .iter()
                .find(|i| i.up && !i.ipv4.iter().any(|(a, _)| a.is_loopback()) && i.name != "lo")
        })
        .map(|i| i.name.clone())
        .unwrap_or_else(|| "lo".into())
}

fn prefix_len(mask: &[u8]) -> u8 {
    mask.iter().map(|b| b.leading_ones()).sum::<u32>().min(128) as u8
}

/// The host's interfaces now, in the kernel's order (getifaddrs, `/proc/net/route`,
/// `/proc/net/ipv6_route`, `/proc/sys/net/ipv6/conf`).
pub fn host_interfaces() -> Result<Vec<HostInterface>> {
    use nix::net::if_::InterfaceFlags;
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| Error::Internal(format!("reading the host's interfaces: {e}")))?;
    let mut out: Vec<HostInterface> = Vec::new();
    for a in addrs {
        let index = match out.iter().position(|i| i.name == a.interface_name) {
            Some(i) => i,
            None => {
                out.push(HostInterface {
                    name: a.interface_name.clone(),
                    up: false,
                    mac: None,
                    ipv4: Vec::new(),
                    ipv6: Vec::new(),
                    ipv4_gateway: None,
                    ipv6_gateway: None,
                    ipv6_autoconf: false,
                });
                out.len() - 1
            }
        };
        let iface = &mut out[index];
        iface.up |= a.flags.contains(InterfaceFlags::IFF_UP);
        let Some(address) = a.address else { continue };
        if let Some(link) = address.as_link_addr() {
            iface.mac = iface.mac.or(link.addr());
        } else if let Some(v4) = address.as_sockaddr_in() {
            let prefix = a
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map_or(32, |m| prefix_len(&m.ip().octets()));
            iface.ipv4.push((v4.ip(), prefix));
        } else if let Some(v6) = address.as_sockaddr_in6() {
            let prefix = a
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in6())
                .map_or(128, |m| prefix_len(&m.ip().octets()));
            iface.ipv6.push((v6.ip(), prefix));
        }
    }
    let v4_routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let v6_routes = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    for iface in &mut out {
        iface.ipv4_gateway = ipv4_default_gateway(&v4_routes, &iface.name);
        iface.ipv6_gateway = ipv6_default_gateway(&v6_routes, &iface.name);
        iface.ipv6_autoconf =
            std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{}/autoconf", iface.name))
                .is_ok_and(|s| s.trim() == "1");
    }
    Ok(out)
}

/// The gateway of the IPv4 default route through `name`, from `/proc/net/route`'s text
/// (addresses are hex of the bytes in network order read as a native-endian word).
fn ipv4_default_gateway(table: &str, name: &str) -> Option<Ipv4Addr> {
    const RTF_UP: u32 = 0x1;
    const RTF_GATEWAY: u32 = 0x2;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let word = |i: usize| f.get(i).and_then(|h| u32::from_str_radix(h, 16).ok());
        let (dest, gateway, flags, mask) = (word(1)?, word(2)?, word(3)?, word(7)?);
        let is_default = f[0] == name && dest == 0 && mask == 0;
        (is_default && flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY)
            .then(|| Ipv4Addr::from(gateway.to_ne_bytes()))
    })
}

/// The next hop of the IPv6 default route through `name`, from `/proc/net/ipv6_route`.
fn ipv6_default_gateway(table: &str, name: &str) -> Option<Ipv6Addr> {
    table.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[9] != name || f[1] != "00" || f[0].bytes().any(|b| b != b'0') {
            return None;
        }
        let hop = u128::from_str_radix(f[4], 16).ok()?;
        (hop != 0).then(|| Ipv6Addr::from(hop))
    })
}

/// The host's resolver (`/etc/resolv.conf`) and host name. How the host got its resolver
/// (DHCP or by hand) cannot be seen from here: servers listed in a file read as `Static`.
pub fn host_dns() -> DnsSettings {
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    DnsSettings {
        mode: DnsMode::Static,
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty()),
        servers: resolv_conf_servers(&conf),
    }
}

fn resolv_conf_servers(conf: &str) -> Vec<IpAddr> {
    conf.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
                // A link-local IPv6 server may carry a zone (`fe80::1%eth0`).
                .and_then(|a| a.split('%').next()?.parse().ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_tables_give_default_gateways() {
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                ipv4_default_gateway(v4, "eth0"),
                Some(Ipv4Addr::new(192, 0, 2, 1))
            );
        }
        assert_eq!(ipv4_default_gateway(v4, "lo"), None);
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n\
                  fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert_eq!(
            ipv6_default_gateway(v6, "eth0"),
            Some("fd00::1".parse().unwrap())
        );
        assert_eq!(ipv6_default_gateway(v6, "lo"), None);
    }

    #[test]
    fn netmasks_and_prefixes() {
        assert_eq!(prefix_of_netmask("netmask", "255.255.255.0").unwrap(), 24);
        assert_eq!(prefix_of_netmask("netmask", "255.255.254.0").unwrap(), 23);
        assert!(prefix_of_netmask("netmask", "255.0.255.0").is_err());
        assert!(prefix_of_netmask("netmask", "banana").is_err());
        assert_eq!(netmask_of_prefix(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask_of_prefix(0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(netmask_of_prefix(32), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn requests_are_checked() {
        let v4 = |a: &str, p: u8, g: Option<&str>| Ipv4Settings {
            mode: Ipv4Mode::Static,
            address: Some(a.parse().unwrap()),
            prefix: Some(p),
            gateway: g.map(|g| g.parse().unwrap()),
        };
        assert!(v4("10.0.0.5", 24, Some("10.0.0.1")).checked().is_ok());
        assert!(v4("10.0.0.5", 24, Some("10.0.1.1")).checked().is_err());
        assert!(v4("10.0.0.5", 32, None).checked().is_err());
        assert!(v4("0.0.0.0", 24, None).checked().is_err());
        assert!(v4("224.0.0.1", 24, None).checked().is_err());
        let dhcp = Ipv4Settings {
            mode: Ipv4Mode::Dhcp,
            ..v4("10.0.0.5", 24, None)
        };
        assert_eq!(dhcp.checked().unwrap().address, None);
        assert!(check_hostname("vault-01.example.org").is_ok());
        assert!(check_hostname("-bad").is_err());
        assert!(check_hostname("a..b").is_err());
        assert!(check_hostname("under_score").is_err());
        assert_eq!(
            resolv_conf_servers("# x\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nsearch x\n"),
            vec![
                "10.0.0.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn the_host_has_a_loopback_interface() {
        let hosts = host_interfaces().unwrap();
        let lo = hosts.iter().find(|i| i.name == "lo").expect("lo");
        assert!(lo.ipv4.contains(&(Ipv4Addr::LOCALHOST, 8)), "{lo:?}");
    }
}
