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
    /// Tags restricting which keys an Operator may use (NetHSM `/users/{id}/tags`).
    #[serde(default)]
    pub tags: Vec<String>,
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
            tags: Vec::new(),
        }
    }

    /// Makes `verifier` the current one and keeps the last [`PASSWORD_HISTORY`] in history.
    pub fn replace_verifier(&mut self, verifier: String) {
        self.history.insert(0, verifier.clone());
        self.history.truncate(PASSWORD_HISTORY);
        self.verifier = verifier;
    }
}

/// Checks an id against NetHSM's `ID` schema: `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, 1..128 bytes.
/// Used for namespaces, tags and the name part of user ids.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    (1..=128).contains(&id.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A user id split into its namespace (`None` for root) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId<'a> {
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

impl<'a> UserId<'a> {
    /// Parses NetHSM's `UserID` (`^([ID]~)?[ID]$`, 1..128 bytes in all); 400 otherwise.
    pub fn parse(id: &'a str) -> Result<Self> {
        let invalid = || Error::InvalidInput("Invalid user ID.".into());
        if id.is_empty() || id.len() > 128 {
            return Err(invalid());
        }
        let (namespace, name) = match id.split_once('~') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, id),
        };
        if namespace.is_some_and(|ns| !is_valid_id(ns)) || !is_valid_id(name) {
            return Err(invalid());
        }
        Ok(Self { namespace, name })
    }
}

/// The store path of a user.
pub fn user_path(user_id: &str) -> String {
    format!("{USERS_PREFIX}{user_id}")
}

pub const USERS_PREFIX: &str = "users/";
pub const NAMESPACES_PREFIX: &str = "namespaces/";

/// The store path of a namespace.
pub fn namespace_path(namespace: &str) -> String {
    format!("{NAMESPACES_PREFIX}{namespace}")
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The full user id, `ns~name` for a namespaced user.
    pub user_id: String,
    pub role: Role,
    /// `None` for the root namespace.
    pub namespace: Option<String>,
    /// The user's change generation (see [`crate::auth_cache`]) read before its passphrase was
    /// checked: a session is opened only if no change came since. `None` for principals that
    /// no passphrase check produced. Not part of equality: it says when, not who.
    pub(crate) verified_at: Option<u64>,
    /// The revision of the account's record that passphrase check read, when its verifier
    /// was current (cluster mode: a session opens only if the record is still there).
    pub(crate) verified_revision: Option<u64>,
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        self.user_id == other.user_id
            && self.role == other.role
            && self.namespace == other.namespace
    }
}

impl Eq for Principal {}

impl Principal {
    pub fn new(user_id: &str, role: Role) -> Self {
        let namespace = user_id.split_once('~').map(|(ns, _)| ns.to_owned());
        Self {
            user_id: user_id.to_owned(),
            role,
            namespace,
            verified_at: None,
            verified_revision: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_principal_knows_its_namespace() {
        assert_eq!(
            Principal::new("ns1~admin", Role::Administrator)
                .namespace
                .as_deref(),
            Some("ns1")
        );
        assert_eq!(Principal::new("admin", Role::Administrator).namespace, None);
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("a"));
        assert!(is_valid_id("Abc_1.2-3"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("-a"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a~b"));
        assert!(!is_valid_id(&"a".repeat(129)));
        assert_eq!(
            UserId::parse("ns1~bob").unwrap(),
            UserId {
                namespace: Some("ns1"),
                name: "bob"
            }
        );
        assert_eq!(UserId::parse("bob").unwrap().namespace, None);
        for bad in ["", "~bob", "ns~", "a~b~c", "bob!", "ns 1~bob"] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn history_keeps_the_last_five() {
        let mut u = UserRecord::new("", Role::Operator, "v0".into());
        for i in 1..=7 {
            u.replace_verifier(format!("v{i}"));
        }
        assert_eq!(u.verifier, "v7");
        assert_eq!(u.history, ["v7", "v6", "v5", "v4", "v3"]);
    }

    #[test]
    fn debug_hides_verifiers() {
        let u = UserRecord::new("A", Role::Operator, "$argon2id$secret".into());
        assert!(!format!("{u:?}").contains("argon2id"));
    }
}
