//! Bodies of `/appliance/settings/syslog-servers` (vrms-appliance-config-api-v2.json:
//! `SyslogServerInfo`, `SyslogServerInfoDrResponseList`, `TestMessage`), and their mapping
//! onto the core's destinations.

use serde::{Deserialize, Serialize};
use strongroom_core::appliance::syslog::{SyslogDestination, SyslogRule, Transport};

use super::error::ApplianceError;
use axum::http::StatusCode;

/// Port of an entry that names none: syslog's.
const DEFAULT_PORT: i64 = 514;

/// The spec's `SyslogServerInfo`. No field is required by the spec: a missing port is 514 and
/// a missing protocol UDP, syslog's defaults; a missing host is refused.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyslogServerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Wider than a port, so an out-of-range number gets the port's own message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// `UDP`, `TCP` or `RELP` (refused: not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

impl SyslogServerInfo {
    pub fn of(d: &SyslogDestination) -> Self {
        SyslogServerInfo {
            host: Some(d.host.clone()),
            port: Some(d.port.into()),
            protocol: Some(
                match d.transport {
                    Transport::Udp => "UDP",
                    Transport::Tcp => "TCP",
                }
                .into(),
            ),
        }
    }

    /// The destination this entry (number `n`, from 1) asks for.
    pub fn destination(self, n: usize) -> Result<SyslogDestination, ApplianceError> {
        let transport = match self.protocol.as_deref() {
            None | Some("UDP") => Transport::Udp,
            Some("TCP") => Transport::Tcp,
            Some("RELP") => {
                return Err(ApplianceError::new(
                    StatusCode::BAD_REQUEST,
                    "UNSUPPORTED_SYSLOG_PROTOCOL",
                    format!("Syslog server {n} uses RELP, which is not supported; use UDP or TCP."),
                ));
            }
            Some(_) => return Err(invalid_server(n, "the protocol must be UDP or TCP")),
        };
        let host = self
            .host
            .ok_or_else(|| invalid_server(n, "it has no host"))?;
        let port = u16::try_from(self.port.unwrap_or(DEFAULT_PORT))
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid_server(n, &SyslogRule::Port.message()))?;
        Ok(SyslogDestination {
            host,
            port,
            transport,
        })
    }
}

/// `INVALID_SYSLOG_SERVER` for entry `n` (from 1).
pub fn invalid_server(n: usize, rule: &str) -> ApplianceError {
    ApplianceError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_SYSLOG_SERVER",
        format!("Syslog server {n} is not valid: {rule}."),
    )
}

/// The spec's `TestMessage`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TestMessage {
    pub message: String,
}
