//! What a caller may ask of an Operational node, by area.
//!
//! A face authenticates a caller, then asks [`Core::operational`] once for the request: that
//! checks the node is Operational and holds the unlocked view and the caller for the call.
//! Each area of the API is a part of the handle ([`Operational::users`],
//! [`Operational::clients`], ...), and each operation states its role rule once, through
//! [`Access`], before it acts. What is not an Operational node's business (provisioning,
//! unlocking, a restore onto an Unprovisioned node, authentication, sessions, the state) stays
//! on [`Core`]. A new area (the key store: `keys()`) is one more part here, its operations in
//! its own module.

use std::sync::Arc;

use crate::access::Access;
use crate::error::Result;
use crate::identity::Principal;
use crate::{Core, Unlocked};

/// An Operational node, for one caller and one request. It holds the unlocked view (the
/// domain key) it was made with, as each call did for its own length before: made for a
/// request and dropped with it, never kept across requests, so a lock reaches the next one
/// (which gets `WrongState` from [`Core::operational`]).
pub struct Operational<'a> {
    core: &'a Core,
    unlocked: Arc<Unlocked>,
    who: &'a Principal,
}

impl std::fmt::Debug for Operational<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operational")
            .field("who", &self.who.user_id)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// The node's API for `who`, or `WrongState` if the node is not Operational.
    pub fn operational<'a>(&'a self, who: &'a Principal) -> Result<Operational<'a>> {
        Ok(Operational {
            core: self,
            unlocked: self.unlocked()?,
            who,
        })
    }
}

impl<'a> Operational<'a> {
    /// The caller.
    pub fn who(&self) -> &'a Principal {
        self.who
    }

    /// Passes if the caller passes `rule`; [`crate::Error::Forbidden`] otherwise.
    pub fn require(&self, rule: Access) -> Result<()> {
        rule.check(self.who)
    }

    /// Whether the caller passes `rule` (for operations whose answer, not whether they run,
    /// depends on it).
    pub fn permits(&self, rule: Access) -> bool {
        rule.permits(self.who)
    }

    /// Users and their tags (NetHSM `/users`), and the caller's own password.
    pub fn users(&self) -> Users<'_> {
        Users(self)
    }

    /// Namespaces (NetHSM `/namespaces`).
    pub fn namespaces(&self) -> Namespaces<'_> {
        Namespaces(self)
    }

    /// The registry of backup clients.
    pub fn clients(&self) -> Clients<'_> {
        Clients(self)
    }

    /// Passkeys, their authorization windows, and the restore decision.
    pub fn passkeys(&self) -> Passkeys<'_> {
        Passkeys(self)
    }

    /// Node-wide settings and operations: lock, reboot, reset, passphrases, the clock,
    /// unattended boot, random bytes, the data key.
    pub fn system(&self) -> System<'_> {
        System(self)
    }

    /// The audit trail.
    pub fn audit(&self) -> Audit<'_> {
        Audit(self)
    }

    /// Backups and a restore onto this Operational node.
    pub fn backup(&self) -> Backup<'_> {
        Backup(self)
    }

    /// The key store (NetHSM `/keys`).
    pub fn keys(&self) -> Keys<'_> {
        Keys(self)
    }

    /// The appliance's own configuration (TLS, syslog, network, time, services); see
    /// [`crate::appliance`].
    pub fn appliance(&self) -> Appliance<'_> {
        Appliance(self)
    }
}

macro_rules! area {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'h>(pub(crate) &'h Operational<'h>);

        impl<'h> $name<'h> {
            /// Passes if the caller passes `rule`; [`crate::Error::Forbidden`] otherwise.
            pub(crate) fn require(&self, rule: Access) -> Result<()> {
                self.0.require(rule)
            }

            pub(crate) fn parts(&self) -> (&'h Core, &'h Unlocked, &'h Principal) {
                let op: &'h Operational<'h> = self.0;
                (op.core, &op.unlocked, op.who)
            }
        }
    };
}

area!(
    /// Users and their tags; see [`crate::users`].
    Users
);
area!(
    /// Namespaces; see [`crate::users`].
    Namespaces
);
area!(
    /// Backup clients; see [`crate::clients`].
    Clients
);
area!(
    /// Passkeys; see [`crate::passkeys`].
    Passkeys
);
area!(
    /// Node-wide settings and operations; see [`crate::system`] and [`crate::rotation`].
    System
);
area!(
    /// The audit trail; see [`crate::audit`].
    Audit
);
area!(
    /// Backup and restore; see [`crate::backup`].
    Backup
);
area!(
    /// The key store; see [`crate::keys`].
    Keys
);
area!(
    /// The appliance's own configuration; see [`crate::appliance`].
    Appliance
);
