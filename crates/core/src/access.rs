//! Who may do what: every role rule of every face, written once.
//!
//! The faces' extractors check a rule right after authentication (so a caller of the wrong
//! role gets the face's 403 before anything about the body is looked at), and the core checks
//! the same rule again before it acts, so a face that forgot its extractor still cannot let
//! the wrong caller through. Role checks are exact (NetHSM semantics): an Administrator is not
//! an Operator.

use crate::error::{Error, Result};
use crate::identity::{Principal, Role};

/// A rule a caller must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated user (own passphrase, own session).
    AnyUser,
    /// An Administrator of the root namespace: `/config/*`, `/system/*`, `/lock`,
    /// `/namespaces`, the audit trail, backup clients, passkeys, the appliance face.
    RootAdministrator,
    /// An Administrator of any namespace: users, tags and keys within their namespace.
    Administrator,
    /// An Administrator or an Operator of any namespace (NetHSM `/info`-style reads, and
    /// reading and listing keys).
    AdministratorOrOperator,
    /// An Operator of any namespace: random bytes, and signing with its namespace's keys.
    Operator,
    /// A Metrics user: `/metrics`.
    Metrics,
    /// A Backup user of the root namespace: backups are of the whole appliance.
    RootBackup,
    /// A root Administrator, or a Backup user of the root namespace (the account backup
    /// software uses): the restore decision. A Backup user of a namespace is refused: a
    /// namespace does not own backup clients, which belong to the whole appliance.
    RootAdministratorOrRootBackup,
}

impl Access {
    /// Passes, or [`Error::Forbidden`].
    pub fn check(self, who: &Principal) -> Result<()> {
        if self.permits(who) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    pub fn permits(self, who: &Principal) -> bool {
        let root = who.namespace.is_none();
        match self {
            Access::AnyUser => true,
            Access::RootAdministrator => who.role == Role::Administrator && root,
            Access::Administrator => who.role == Role::Administrator,
            Access::AdministratorOrOperator => {
                matches!(who.role, Role::Administrator | Role::Operator)
            }
            Access::Operator => who.role == Role::Operator,
            Access::Metrics => who.role == Role::Metrics,
            Access::RootBackup => who.role == Role::Backup && root,
            Access::RootAdministratorOrRootBackup => {
                matches!(who.role, Role::Administrator | Role::Backup) && root
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(user_id: &str, role: Role) -> Principal {
        Principal::new(user_id, role)
    }

    #[test]
    fn every_rule_against_every_caller() {
        let callers = [
            ("admin", Role::Administrator),
            ("ns~admin", Role::Administrator),
            ("op", Role::Operator),
            ("ns~op", Role::Operator),
            ("metrics", Role::Metrics),
            ("backup", Role::Backup),
            ("ns~backup", Role::Backup),
        ];
        // Which of `callers` (in order) each rule lets through.
        let table: [(Access, [bool; 7]); 8] = [
            (Access::AnyUser, [true; 7]),
            (
                Access::RootAdministrator,
                [true, false, false, false, false, false, false],
            ),
            (
                Access::Administrator,
                [true, true, false, false, false, false, false],
            ),
            (
                Access::AdministratorOrOperator,
                [true, true, true, true, false, false, false],
            ),
            (
                Access::Operator,
                [false, false, true, true, false, false, false],
            ),
            (
                Access::Metrics,
                [false, false, false, false, true, false, false],
            ),
            (
                Access::RootBackup,
                [false, false, false, false, false, true, false],
            ),
            (
                Access::RootAdministratorOrRootBackup,
                [true, false, false, false, false, true, false],
            ),
        ];
        for (rule, expected) in table {
            for ((id, role), want) in callers.iter().zip(expected) {
                assert_eq!(
                    rule.permits(&p(id, *role)),
                    want,
                    "{rule:?} for {id} ({role:?})"
                );
                assert_eq!(rule.check(&p(id, *role)).is_ok(), want);
            }
        }
    }
}
