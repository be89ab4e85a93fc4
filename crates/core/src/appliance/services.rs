//! Strongroom's own services (issue 14): each protocol face and the syslog forwarder, which an
//! administrator may stop and start through the appliance face's `/services`. Whether each
//! runs is one record per service (`meta/appliance/services/<id>`), so a stopped service stays
//! stopped across restarts; the server keeps an in-memory copy it checks per request.

use serde::{Deserialize, Serialize};

use crate::Core;
use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Appliance;

/// One of Strongroom's services, as the appliance face lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The id in `/services/{service_id}`; a face's id is its name in metrics and the audit
    /// trail.
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The NetHSM face cannot be stopped: it is how a node is unlocked and recovered.
    pub stoppable: bool,
}

/// Every service, in the order `/services` lists them.
pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        id: "nethsm",
        name: "NetHSM API",
        description: "The NetHSM REST API at /api/v1. It cannot be stopped: it is how the appliance is unlocked, backed up and recovered.",
        stoppable: false,
    },
    ServiceSpec {
        id: "appliance",
        name: "Appliance configuration API",
        description: "This API, at /api/rest/configure/v1. While it is stopped only /session and /services answer, so that it can be started again.",
        stoppable: true,
    },
    ServiceSpec {
        id: "backup-client",
        name: "Backup-client API",
        description: "The Commvault web service at /commandcenter/api and /webconsole/api.",
        stoppable: true,
    },
    ServiceSpec {
        id: "strongroom",
        name: "Strongroom API",
        description: "Strongroom's own API at /api/strongroom/v1 (audit trail, metrics, backup clients).",
        stoppable: true,
    },
    ServiceSpec {
        id: "syslog",
        name: "Syslog forwarder",
        description: "Sends audit events and log lines to the configured remote syslog servers.",
        stoppable: true,
    },
];

/// The service `id`, if there is one.
pub fn service(id: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.id == id)
}

/// The stored state of one service. Absent: running (every service runs on a new node).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceRecord {
    running: bool,
}

fn record_name(id: &str) -> String {
    format!("services/{id}")
}

fn unknown(id: &str) -> Error {
    Error::NotFound(format!("There is no service {id:?}."))
}

impl Core {
    /// Whether the service `id` is to run, as stored; in any state, with no caller (the
    /// server reads it at start).
    pub fn service_running(&self, id: &str) -> Result<bool> {
        let spec = service(id).ok_or_else(|| unknown(id))?;
        if !spec.stoppable {
            return Ok(true);
        }
        Ok(self
            .appliance_record::<ServiceRecord>(&record_name(id))?
            .is_none_or(|r| r.running))
    }
}

impl Appliance<'_> {
    /// Starts (`running`) or stops the service `id`: root Administrators only; unknown ids
    /// are not found; stopping one that cannot be stopped is refused. The change is written
    /// (and audited) even when the service is already in that state, so every request an
    /// administrator makes is in the trail with its outcome.
    pub fn set_service_running(&self, id: &str, running: bool) -> Result<()> {
        self.require(Access::RootAdministrator)?;
        let spec = service(id).ok_or_else(|| unknown(id))?;
        if !spec.stoppable && !running {
            return Err(Error::InvalidInput(format!(
                "The service {id} cannot be stopped: it is how the appliance is unlocked and recovered."
            )));
        }
        self.write_record(&record_name(id), &ServiceRecord { running })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{admin, open_provisioned, operator};

    #[test]
    fn services_are_changed_by_root_administrators_only_and_kept() {
        let (_dir, core) = open_provisioned();
        assert!(core.service_running("syslog").unwrap());
        let someone = operator("op");
        let by_operator = core.operational(&someone).unwrap();
        assert!(matches!(
            by_operator.appliance().set_service_running("syslog", false),
            Err(crate::Error::Forbidden)
        ));
        let root = admin();
        let op = core.operational(&root).unwrap();
        assert!(matches!(
            op.appliance().set_service_running("nethsm", false),
            Err(crate::Error::InvalidInput(_))
        ));
        assert!(matches!(
            op.appliance().set_service_running("nope", true),
            Err(crate::Error::NotFound(_))
        ));
        op.appliance().set_service_running("syslog", false).unwrap();
        assert!(!core.service_running("syslog").unwrap());
        assert!(core.service_running("nethsm").unwrap());
        op.system().lock().unwrap();
        // Read while Locked: the record is the node's, sealed under the device key.
        assert!(!core.service_running("syslog").unwrap());
    }

    #[test]
    fn ids_are_unique_and_only_the_nethsm_face_is_unstoppable() {
        for (i, a) in SERVICES.iter().enumerate() {
            assert!(SERVICES[i + 1..].iter().all(|b| b.id != a.id), "{}", a.id);
            assert_eq!(a.stoppable, a.id != "nethsm");
        }
        assert!(service("nethsm").is_some());
        assert!(service("NetHSM").is_none());
    }
}
