//! The appliance's states (NetHSM's state machine, `SystemState` in nethsm-api.yaml).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SystemState {
    /// No domain key yet: only provisioning (or restore) is possible.
    Unprovisioned,
    /// Provisioned, but the domain key is not in memory: nothing can be read until unlock.
    Locked,
    /// The domain key is in memory: the appliance serves requests.
    Operational,
}

impl SystemState {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemState::Unprovisioned => "Unprovisioned",
            SystemState::Locked => "Locked",
            SystemState::Operational => "Operational",
        }
    }
}

impl std::fmt::Display for SystemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
