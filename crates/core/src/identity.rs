//! Users, roles and the authenticated caller (`Principal`) that every face hands to the core.
//!
//! A user lives at `users/<id>` in the sealed store. Its passphrase is kept only as an
//! Argon2id verifier, with the verifiers of its last passwords as history.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Exactly one role per user; role checks are exact (NetHSM semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Administrator,
    Operator,
    Metrics,
    Backup,
}

/// How many previous password verifiers a user keeps (the appliance face refuses reuse of
/// any of the last five).
pub const PASSWORD_HISTORY: usize = 5;

/// A user as stored (sealed) at `users/<id>`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserRecord {
    pub real_name: String,
    pub role: Role,
    /// Argon2id PHC string of the current passphrase.
    pub verifier: String,
    /// Verifiers of the current and previous passphrases, newest first, at most
    /// [`PASSWORD_HISTORY`].
    pub history: Vec<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("real_name", &self.real_name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    pub fn new(real_name: &str, role: Role, verifier: String) -> Self {
        Self {
            real_name: real_name.to_owned(),
            role,
            history: vec![verifier.clone()],
            verifier,
        }
    }
}

/// The store path of a user.
pub fn user_path(user_id: &str) -> String {
    format!("users/{user_id}")
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The full user id, `ns~name` for a namespaced user.
    pub user_id: String,
    pub role: Role,
    /// `None` for the root namespace.
    pub namespace: Option<String>,
}

impl Principal {
    pub fn new(user_id: &str, role: Role) -> Self {
        let namespace = user_id.split_once('~').map(|(ns, _)| ns.to_owned());
        Self {
            user_id: user_id.to_owned(),
            role,
            namespace,
        }
    }

    /// Passes only for exactly this role.
    pub fn require_role(&self, role: Role) -> Result<()> {
        if self.role == role {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Passes only for an Administrator of the root namespace (`/config/*`, `/system/*`,
    /// `/lock`, `/namespaces` in NetHSM).
    pub fn require_root_admin(&self) -> Result<()> {
        self.require_role(Role::Administrator)?;
        if self.namespace.is_none() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_checks_are_exact() {
        let admin = Principal::new("admin", Role::Administrator);
        assert!(admin.require_root_admin().is_ok());
        assert!(admin.require_role(Role::Operator).is_err());
        let ns_admin = Principal::new("ns1~admin", Role::Administrator);
        assert_eq!(ns_admin.namespace.as_deref(), Some("ns1"));
        assert!(ns_admin.require_role(Role::Administrator).is_ok());
        assert!(ns_admin.require_root_admin().is_err());
        assert!(
            Principal::new("op", Role::Operator)
                .require_root_admin()
                .is_err()
        );
    }

    #[test]
    fn debug_hides_verifiers() {
        let u = UserRecord::new("A", Role::Operator, "$argon2id$secret".into());
        assert!(!format!("{u:?}").contains("argon2id"));
    }
}
