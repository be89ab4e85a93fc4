//! The appliance's states (NetHSM's state machine, `SystemState` in nethsm-api.yaml).

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SystemState {
    /// No domain key yet: only provisioning (or restore) is possible.
    Unprovisioned,
    /// Provisioned, but the domain key is not in memory: nothing can be read until unlock.
    Locked,
    /// The domain key is in memory: the appliance serves requests.
    Operational,
    /// Cluster mode only: the cluster store (etcd) has not answered for longer than its
    /// request timeout (quorum lost, or unreachable), so the node holds no key and serves
    /// nothing that needs the store, until the store answers again (see `cluster_health`).
    Failed,
}

impl SystemState {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemState::Unprovisioned => "Unprovisioned",
            SystemState::Locked => "Locked",
            SystemState::Operational => "Operational",
            SystemState::Failed => "Failed",
        }
    }
}

impl std::fmt::Display for SystemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
