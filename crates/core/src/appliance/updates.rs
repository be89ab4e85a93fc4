//! Software updates (NetHSM `/system/update`, `commit-update`, `cancel-update`; the appliance
//! face's `/appliance/update-manager/*`). Strongroom is a software appliance: its binary comes
//! from the host's package manager (or whoever deploys it), which verifies and installs it.
//! Neither face takes an update image or an update repository, so no update is ever staged
//! here. Both faces ask the core, which checks the caller, and answer from what it says.

use crate::access::Access;
use crate::error::Result;
use crate::handles::Appliance;

/// Where this appliance's updates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateSource {
    /// The host's package manager; nothing is uploaded, staged or installed through the API.
    PackageManager,
}

impl UpdateSource {
    /// What a client is told when it tries to update through the API.
    pub fn message(self) -> &'static str {
        match self {
            UpdateSource::PackageManager => {
                "Strongroom is updated by the host's package manager, not through this API: \
                 install the new package and restart the service (docs/operations.md, \
                 Power and updates)."
            }
        }
    }

    /// What `commit-update` and `cancel-update` are told: there is never a staged update.
    pub fn nothing_pending(self) -> &'static str {
        match self {
            UpdateSource::PackageManager => {
                "No update is pending: Strongroom is updated by the host's package manager, \
                 not through this API (docs/operations.md, Power and updates)."
            }
        }
    }
}

impl Appliance<'_> {
    /// Where updates come from (root Administrator: only they may update the appliance).
    pub fn update_source(&self) -> Result<UpdateSource> {
        self.require(Access::RootAdministrator)?;
        Ok(UpdateSource::PackageManager)
    }
}
