//! Bodies of `/appliance/settings/syslog-servers` (vrms-appliance-config-api-v2.json:
//! `SyslogServerInfo`, `SyslogServerInfoDrResponseList`, `TestMessage`), and their mapping
//! onto the core's destinations.

use serde::{Deserialize, Serialize};
use strongroom_core::appliance::syslog::{SyslogDestination, SyslogRule, Transport};

use super::error::ApplianceError;
use axum::http::StatusCode;

/// Port of an entry that names none: syslog's.
const DEFAULT_PORT: i64 = 514;
/// Entries per page when the request sets no `limit` (the spec's default).
pub const DEFAULT_LIMIT: usize = 100;

/// The spec's `SyslogServerInfo`. No field is required by the spec: a missing port is 514 and
/// a missing protocol UDP, syslog's defaults; a missing host is refused.
#[derive(Debug, Serialize, Deserialize)]
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

/// The spec's `MetadataList` (its optional `errors` and `links` are not used).
#[derive(Debug, Serialize, Deserialize)]
pub struct MetadataList {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// The spec's `SyslogServerInfoDrResponseList`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyslogServerInfoList {
    pub list: Vec<SyslogServerInfo>,
    #[serde(rename = "_meta")]
    pub meta: MetadataList,
}

/// The spec's `TestMessage`.
#[derive(Debug, Deserialize)]
pub struct TestMessage {
    pub message: String,
}

/// The list operation's query (`filter_property`, `filter` (repeated), `sort_by`, `order_by`,
/// `limit`, `offset`) over the entries' fields `host`, `port`, `protocol`.
#[derive(Debug, Default)]
pub struct ListQuery {
    filter_property: Option<String>,
    filter: Vec<String>,
    sort_by: Option<String>,
    descending: bool,
    limit: usize,
    offset: usize,
}

/// `INVALID_QUERY`.
pub fn invalid_query(detail: &str) -> ApplianceError {
    ApplianceError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
        format!("Invalid query parameter: {detail}"),
    )
}

const FIELDS: [&str; 3] = ["host", "port", "protocol"];

impl ListQuery {
    /// Reads the query's pairs; other parameters are ignored.
    pub fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApplianceError> {
        let mut q = ListQuery {
            limit: DEFAULT_LIMIT,
            ..Default::default()
        };
        let mut order_by = None;
        let field = |v: String, name: &str| {
            if FIELDS.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(invalid_query(&format!(
                    "{name} must be host, port or protocol"
                )))
            }
        };
        let count = |v: &str, name: &str| {
            v.parse::<usize>()
                .map_err(|_| invalid_query(&format!("{name} must be a whole number, 0 or more")))
        };
        for (key, value) in pairs {
            match key.as_str() {
                "filter_property" => q.filter_property = Some(field(value, "filter_property")?),
                "filter" => q.filter.push(value),
                "sort_by" => q.sort_by = Some(field(value, "sort_by")?),
                "order_by" => order_by = Some(value),
                "limit" => q.limit = count(&value, "limit")?,
                "offset" => q.offset = count(&value, "offset")?,
                _ => {}
            }
        }
        if q.filter_property.is_some() == q.filter.is_empty() {
            return Err(invalid_query(
                "filter_property and filter must be used together",
            ));
        }
        if let Some(order) = order_by {
            if q.sort_by.is_none() {
                return Err(invalid_query("order_by needs sort_by"));
            }
            q.descending = match order.to_ascii_lowercase().as_str() {
                "asc" | "ascending" => false,
                "desc" | "descending" => true,
                _ => {
                    return Err(invalid_query(
                        "order_by must be asc, ascending, desc or descending",
                    ));
                }
            };
        }
        Ok(q)
    }

    /// The page of `all` the query asks for, with its metadata.
    pub fn apply(&self, all: Vec<SyslogServerInfo>) -> SyslogServerInfoList {
        let value = |entry: &SyslogServerInfo, field: &str| match field {
            "host" => entry.host.clone().unwrap_or_default(),
            "protocol" => entry.protocol.clone().unwrap_or_default(),
            _ => entry.port.unwrap_or_default().to_string(),
        };
        let mut list: Vec<_> = match &self.filter_property {
            Some(field) => (all.into_iter())
                .filter(|e| self.filter.contains(&value(e, field)))
                .collect(),
            None => all,
        };
        if let Some(field) = &self.sort_by {
            // Ports sort as numbers; the sort is stable, so equal entries keep their order.
            list.sort_by(|a, b| match field.as_str() {
                "port" => a.port.cmp(&b.port),
                f => value(a, f).cmp(&value(b, f)),
            });
            if self.descending {
                list.reverse();
            }
        }
        let total = list.len();
        let page = list
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        SyslogServerInfoList {
            list: page,
            meta: MetadataList {
                total: total as u64,
                offset: self.offset as u64,
                limit: self.limit as u64,
            },
        }
    }
}
