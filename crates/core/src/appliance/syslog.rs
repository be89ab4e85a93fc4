//! Remote syslog (issue 14): ONE list of destinations and one log level, kept as the
//! appliance record `syslog`. NetHSM's `/config/logging` is the first destination and the
//! level; the appliance face's `/appliance/settings/syslog-servers` is the whole list. The
//! server's forwarder (`crates/server/src/syslog.rs`) sends to them; this module only keeps
//! and checks the setting.

use std::net::IpAddr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::Core;
use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Appliance;

/// The record's name under [`super::RECORD_PREFIX`].
pub const SYSLOG_RECORD: &str = "syslog";

/// The most destinations the list holds: every message goes to each, so the list is short.
pub const MAX_DESTINATIONS: usize = 16;

/// How messages reach a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One datagram per message (RFC 5426).
    Udp,
    /// A stream with octet-counting framing (RFC 6587).
    Tcp,
}

/// One remote syslog receiver.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyslogDestination {
    /// An IP address or a DNS name.
    pub host: String,
    pub port: u16,
    pub transport: Transport,
}

/// The least severe log lines that are sent (NetHSM's `LogLevel`); audit events are always
/// sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warning,
    Error,
}

/// The whole setting, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyslogConfig {
    /// In order: the first is NetHSM's single destination.
    pub destinations: Vec<SyslogDestination>,
    pub level: LogLevel,
}

/// Why a destination or a list is refused; each face words and codes it in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogRule {
    /// The host is neither an IP address nor a DNS name (or is `0.0.0.0`/`::`).
    Host,
    /// The port is 0.
    Port,
    /// The same host, port and transport twice.
    Duplicate,
    /// More than [`MAX_DESTINATIONS`].
    TooMany,
}

impl SyslogRule {
    pub fn message(&self) -> String {
        match self {
            SyslogRule::Host => "the host must be an IP address (not 0.0.0.0 or ::) or a DNS \
                                 name of at most 253 bytes"
                .into(),
            SyslogRule::Port => "the port must be between 1 and 65535".into(),
            SyslogRule::Duplicate => "it is listed twice".into(),
            SyslogRule::TooMany => format!("at most {MAX_DESTINATIONS} syslog servers are kept"),
        }
    }
}

/// Whether `host` is a DNS name: labels of 1 to 63 letters, digits and hyphens, not starting
/// or ending with a hyphen, 253 bytes at most (an optional final dot aside), the last label
/// not all digits (so a mistyped address such as `999.1.1.1` is not taken for a name).
fn is_dns_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Checks one destination.
pub fn check_destination(d: &SyslogDestination) -> std::result::Result<(), SyslogRule> {
    let host_ok = match d.host.parse::<IpAddr>() {
        // The unspecified address is NetHSM's "no destination", never a receiver.
        Ok(ip) => !ip.is_unspecified(),
        Err(_) => is_dns_name(&d.host),
    };
    if !host_ok {
        return Err(SyslogRule::Host);
    }
    if d.port == 0 {
        return Err(SyslogRule::Port);
    }
    Ok(())
}

/// Checks a whole list: each destination, no duplicates, not too many. The error carries
/// the 0-based index of the destination that breaks a rule.
pub fn check_destinations(
    list: &[SyslogDestination],
) -> std::result::Result<(), (usize, SyslogRule)> {
    for (i, d) in list.iter().enumerate() {
        check_destination(d).map_err(|rule| (i, rule))?;
        if list[..i].contains(d) {
            return Err((i, SyslogRule::Duplicate));
        }
        if i >= MAX_DESTINATIONS {
            return Err((i, SyslogRule::TooMany));
        }
    }
    Ok(())
}

fn invalid((i, rule): (usize, SyslogRule)) -> Error {
    Error::InvalidInput(format!("syslog server {}: {}", i + 1, rule.message()))
}

/// Serialises read-modify-write changes of the record within this process, so a NetHSM
/// change of the first destination cannot lose an appliance change of the list made at the
/// same moment.
static CHANGE: Mutex<()> = Mutex::new(());

impl Core {
    /// The stored setting (the default, no destination at level info, when never set).
    /// Needs no caller: the server loads it at start, in any state.
    pub fn syslog_config(&self) -> Result<SyslogConfig> {
        Ok(self
            .appliance_record::<SyslogConfig>(SYSLOG_RECORD)?
            .unwrap_or_default())
    }
}

impl Appliance<'_> {
    /// The setting (root Administrator).
    pub fn syslog(&self) -> Result<SyslogConfig> {
        self.require(Access::RootAdministrator)?;
        let (core, _, _) = self.parts();
        core.syslog_config()
    }

    /// Replaces the whole list, keeping the level (the appliance face); returns the new
    /// setting. Root Administrator.
    pub fn set_syslog_destinations(
        &self,
        destinations: Vec<SyslogDestination>,
    ) -> Result<SyslogConfig> {
        self.require(Access::RootAdministrator)?;
        check_destinations(&destinations).map_err(invalid)?;
        self.change(|config| config.destinations = destinations)
    }

    /// Sets the first destination (or, with `None`, removes it) and the level, keeping the
    /// other destinations (NetHSM's `/config/logging`); returns the new setting. Root
    /// Administrator.
    pub fn set_syslog_first(
        &self,
        first: Option<SyslogDestination>,
        level: LogLevel,
    ) -> Result<SyslogConfig> {
        self.require(Access::RootAdministrator)?;
        if let Some(d) = &first {
            check_destination(d).map_err(|rule| invalid((0, rule)))?;
        }
        self.change(|config| {
            config.level = level;
            match first {
                Some(d) if config.destinations.is_empty() => config.destinations.push(d),
                Some(d) => config.destinations[0] = d,
                None if config.destinations.is_empty() => {}
                None => {
                    config.destinations.remove(0);
                }
            }
            // The new first entry may equal a later one: keep one of them.
            let mut seen = Vec::new();
            config.destinations.retain(|d| {
                let new = !seen.contains(d);
                seen.push(d.clone());
                new
            });
        })
    }

    fn change(&self, edit: impl FnOnce(&mut SyslogConfig)) -> Result<SyslogConfig> {
        let (core, _, _) = self.parts();
        let _one_at_a_time = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
        let mut config = core.syslog_config()?;
        edit(&mut config);
        self.write_record(SYSLOG_RECORD, &config)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(host: &str, port: u16) -> SyslogDestination {
        SyslogDestination {
            host: host.into(),
            port,
            transport: Transport::Udp,
        }
    }

    #[test]
    fn hosts_are_addresses_or_dns_names() {
        for ok in [
            "192.0.2.1",
            "2001:db8::1",
            "syslog.example.com",
            "log-1",
            "a.b.",
        ] {
            assert_eq!(check_destination(&d(ok, 514)), Ok(()), "{ok}");
        }
        let long = format!("{}.com", "a".repeat(250));
        for bad in [
            "",
            "0.0.0.0",
            "::",
            "999.1.1.1",
            "10.0.0",
            "-a.com",
            "a-.com",
            "a..b",
            "a b",
            "[::1]",
            "x:1",
            &long,
        ] {
            assert_eq!(
                check_destination(&d(bad, 514)),
                Err(SyslogRule::Host),
                "{bad}"
            );
        }
        assert_eq!(check_destination(&d("h", 0)), Err(SyslogRule::Port));
    }

    #[test]
    fn lists_refuse_duplicates_and_length() {
        assert_eq!(
            check_destinations(&[d("a", 1), d("b", 1), d("a", 1)]),
            Err((2, SyslogRule::Duplicate))
        );
        let many: Vec<_> = (1..=17).map(|p| d("h", p)).collect();
        assert_eq!(check_destinations(&many), Err((16, SyslogRule::TooMany)));
        assert_eq!(check_destinations(&many[..16]), Ok(()));
    }
}
