//! User and namespace management (NetHSM `/users`, `/namespaces`), shared by every face.
//!
//! Permission rules (nethsm-api.yaml annotations):
//! - an Administrator *reads* users of its own namespace; a root Administrator reads all;
//! - an Administrator *manages* (creates, deletes, changes) users of its own namespace; a root
//!   Administrator also manages users of namespaces that do not exist yet (that is how the
//!   first administrator of a namespace is made);
//! - an Operator reads its own user and tags and changes its own passphrase;
//! - namespaces are managed by root Administrators only; deleting one deletes its users.

use strongroom_store::{Commit, Store, Txn};

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::{Namespaces, Users};
use crate::identity::{
    NAMESPACES_PREFIX, Principal, Role, USERS_PREFIX, UserId, UserRecord, is_valid_id,
    namespace_path, user_path,
};
use crate::password_policy::{self, PasswordRule};
use crate::secret::Passphrase;
use crate::{Core, Unlocked, crypto, json};

/// How many times a read-modify-write retries when another writer got there first.
const CAS_RETRIES: usize = 16;

/// Store prefixes whose entries are namespaced as `<prefix><namespace>~...` and go with the
/// namespace when it is deleted.
const NAMESPACED_PREFIXES: &[&str] = &[USERS_PREFIX, crate::keys::KEYS_PREFIX];

/// The id of a user to create.
#[derive(Debug, Clone, Copy)]
pub enum NewUserId<'a> {
    /// Generate a random id in this namespace (`None`: root).
    Generate { namespace: Option<&'a str> },
    /// Use this exact id.
    Given(&'a str),
}

/// What `GET /users/{id}` shows of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub real_name: String,
    pub role: Role,
}

fn same_namespace(who: &Principal, ns: Option<&str>) -> bool {
    who.namespace.as_deref() == ns
}

impl Core {
    fn namespace_exists(&self, u: &Unlocked, ns: &str) -> Result<bool> {
        Ok(u.data.get(&namespace_path(ns))?.is_some())
    }

    pub(crate) fn read_user(
        &self,
        u: &Unlocked,
        user_id: &str,
    ) -> Result<Option<(UserRecord, u64)>> {
        match u.data.get(&user_path(user_id))? {
            Some(e) => Ok(Some((
                serde_json::from_slice(&e.value).map_err(Error::internal)?,
                e.revision,
            ))),
            None => Ok(None),
        }
    }

    /// Whether `who` (an Administrator) may create, delete or change users in `ns`.
    fn may_manage(&self, u: &Unlocked, who: &Principal, ns: Option<&str>) -> Result<bool> {
        if same_namespace(who, ns) {
            return Ok(true);
        }
        match (who.namespace.as_deref(), ns) {
            (None, Some(ns)) => Ok(!self.namespace_exists(u, ns)?),
            _ => Ok(false),
        }
    }

    /// Checks that `who` may read the user `id`: an Administrator of its namespace (or root),
    /// or the Operator itself.
    fn check_may_read(&self, who: &Principal, id: &UserId<'_>, user_id: &str) -> Result<()> {
        let administers = Access::Administrator.permits(who)
            && (Access::RootAdministrator.permits(who) || same_namespace(who, id.namespace));
        let itself = Access::Operator.permits(who) && who.user_id == user_id;
        if administers || itself {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Reads, changes and writes back a user, retrying if another writer changed it meanwhile.
    pub(crate) fn update_user(
        &self,
        u: &Unlocked,
        user_id: &str,
        mut change: impl FnMut(&mut UserRecord) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..CAS_RETRIES {
            let (mut user, revision) = self
                .read_user(u, user_id)?
                .ok_or_else(|| Error::NotFound("User not found.".into()))?;
            change(&mut user)?;
            let path = user_path(user_id);
            let txn = Txn::new()
                .require_revision(&path, revision)
                .put(&path, json(&user)?);
            if let Commit::Committed(_) = self.commit_data(u, txn)? {
                return Ok(());
            }
        }
        Err(Error::Internal(format!(
            "user {user_id} kept changing; gave up"
        )))
    }
}

impl Users<'_> {
    /// The user `user_id`, if the caller may read it.
    fn readable_user(&self, user_id: &str) -> Result<UserRecord> {
        let (core, u, who) = self.parts();
        let id = UserId::parse(user_id)?;
        core.check_may_read(who, &id, user_id)?;
        let (user, _) = core
            .read_user(u, user_id)?
            .ok_or_else(|| Error::NotFound("User not found.".into()))?;
        Ok(user)
    }

    /// `GET /users`: the ids of the users the caller administers.
    pub fn list(&self) -> Result<Vec<String>> {
        let (_, u, who) = self.parts();
        self.require(Access::Administrator)?;
        let prefix = match &who.namespace {
            Some(ns) => format!("{USERS_PREFIX}{ns}~"),
            None => USERS_PREFIX.to_owned(),
        };
        Ok(u.data
            .scan_prefix(&prefix)?
            .into_iter()
            .map(|(k, _)| k[USERS_PREFIX.len()..].to_owned())
            .collect())
    }

    /// `POST /users`, `POST /users/{ns~}`, `PUT /users/{id}`: creates a user; returns its id.
    pub fn create(
        &self,
        id: NewUserId<'_>,
        real_name: &str,
        role: Role,
        passphrase: &Passphrase,
    ) -> Result<String> {
        let (core, u, who) = self.parts();
        self.require(Access::Administrator)?;
        let namespace = match id {
            NewUserId::Generate { namespace } => {
                if namespace.is_some_and(|ns| !is_valid_id(ns)) {
                    return Err(Error::InvalidInput("Invalid namespace ID.".into()));
                }
                namespace
            }
            NewUserId::Given(id) => UserId::parse(id)?.namespace,
        };
        passphrase.check_length("passphrase")?;
        let real_name = crate::names::readable("realName", real_name, None)?;
        if !core.may_manage(u, who, namespace)? {
            return Err(Error::Forbidden);
        }
        let record = UserRecord::new(
            &real_name,
            role,
            crypto::make_verifier(passphrase.as_bytes())?,
        );
        let value = json(&record)?;
        for _ in 0..CAS_RETRIES {
            let user_id = match id {
                NewUserId::Given(id) => id.to_owned(),
                NewUserId::Generate { namespace } => {
                    let mut raw = [0u8; 10];
                    crypto::fill_random(&mut raw);
                    match namespace {
                        Some(ns) => format!("{ns}~{}", hex::encode(raw)),
                        None => hex::encode(raw),
                    }
                }
            };
            let path = user_path(&user_id);
            // Before the commit as well as after it (see `passphrase_changed`).
            core.auth_cache.invalidate_user(&user_id);
            match core.commit_data(
                u,
                Txn::new().require_absent(&path).put(&path, value.clone()),
            )? {
                Commit::Committed(_) => {
                    // A user of that id may have been deleted moments ago and cached since.
                    core.auth_cache.invalidate_user(&user_id);
                    tracing::info!(by = %who.user_id, user = %user_id, ?role, "user created");
                    return Ok(user_id);
                }
                Commit::Conflict if matches!(id, NewUserId::Given(_)) => {
                    return Err(Error::Conflict("User already exists.".into()));
                }
                Commit::Conflict => continue,
            }
        }
        Err(Error::Internal("could not find a free user id".into()))
    }

    /// `GET /users/{id}`.
    pub fn get(&self, user_id: &str) -> Result<UserInfo> {
        let user = self.readable_user(user_id)?;
        Ok(UserInfo {
            real_name: user.real_name,
            role: user.role,
        })
    }

    /// `DELETE /users/{id}`.
    pub fn delete(&self, user_id: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::Administrator)?;
        let id = UserId::parse(user_id)?;
        if !core.may_manage(u, who, id.namespace)? {
            return Err(Error::Forbidden);
        }
        if who.user_id == user_id {
            return Err(Error::InvalidInput("Cannot delete yourself.".into()));
        }
        let path = user_path(user_id);
        let Some(entry) = u.data.get(&path)? else {
            return Err(Error::NotFound("User not found.".into()));
        };
        core.auth_cache.invalidate_user(user_id);
        match core.commit_data(
            u,
            Txn::new()
                .require_revision(&path, entry.revision)
                .delete(&path),
        )? {
            Commit::Committed(_) => {}
            Commit::Conflict => return Err(Error::NotFound("User not found.".into())),
        }
        core.auth_cache.invalidate_user(user_id);
        core.end_user_sessions(user_id, None);
        core.drop_ownerships(u, |owner| owner == user_id)?;
        tracing::info!(by = %who.user_id, user = %user_id, "user deleted");
        Ok(())
    }

    /// `POST /users/{id}/passphrase`: an Administrator for users it manages, an Operator for
    /// itself. The old passphrase stops working at once, on every face.
    pub fn set_passphrase(&self, user_id: &str, passphrase: &Passphrase) -> Result<()> {
        let (core, u, who) = self.parts();
        let id = UserId::parse(user_id)?;
        let allowed = if Access::Administrator.permits(who) {
            core.may_manage(u, who, id.namespace)?
        } else {
            Access::Operator.permits(who) && who.user_id == user_id
        };
        if !allowed {
            return Err(Error::Forbidden);
        }
        passphrase.check_length("passphrase")?;
        let verifier = crypto::make_verifier(passphrase.as_bytes())?;
        core.update_user(u, user_id, |user| {
            user.replace_verifier(verifier.clone());
            core.auth_cache.invalidate_user(user_id);
            Ok(())
        })?;
        core.passphrase_changed(user_id, None);
        tracing::info!(by = %who.user_id, user = %user_id, "passphrase changed");
        Ok(())
    }
}

impl Core {
    /// After any change of a user's passphrase, on any face: the old one must fail on the
    /// very next request, and the account's other sessions end. The cache is also
    /// invalidated just before the commit (by the callers), so no cached check of the old
    /// passphrase is served while the change commits, and a check that read the old record
    /// after the first invalidation is dropped by this one.
    fn passphrase_changed(&self, user_id: &str, keep_session: Option<&[u8]>) {
        self.auth_cache.invalidate_user(user_id);
        self.end_user_sessions(user_id, keep_session);
    }
}

impl Users<'_> {
    /// The appliance face's password change (seed 001): the caller changes its own password,
    /// giving the current one. Checks, in order: the policy's shape rules (400), the current
    /// password (403), then reuse of any of the last five passwords (400). Concurrent changes
    /// from the same current password: exactly one wins; the others see a wrong current
    /// password. The caller's other sessions end; `keep_session` (its own) stays.
    pub fn change_own_password(
        &self,
        keep_session: Option<&[u8]>,
        current: &Passphrase,
        new: &Passphrase,
    ) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::AnyUser)?;
        password_policy::check_shape(new.expose()).map_err(Error::PasswordPolicy)?;
        let verifier = crypto::make_verifier(new.as_bytes())?;
        core.update_user(u, &who.user_id, |user| {
            if !crypto::check_verifier(current.as_bytes(), &user.verifier)? {
                return Err(Error::WrongPassphrase(
                    "The current password is incorrect.".into(),
                ));
            }
            let mut reused = false;
            for old in &user.history {
                reused |= crypto::check_verifier(new.as_bytes(), old)?;
            }
            if reused {
                return Err(Error::PasswordPolicy(PasswordRule::Reused));
            }
            user.replace_verifier(verifier.clone());
            core.auth_cache.invalidate_user(&who.user_id);
            Ok(())
        })?;
        core.passphrase_changed(&who.user_id, keep_session);
        tracing::info!(user = %who.user_id, "password changed by its owner");
        Ok(())
    }

    /// `GET /users/{id}/tags`.
    pub fn tags(&self, user_id: &str) -> Result<Vec<String>> {
        let user = self.readable_user(user_id)?;
        Ok(user.tags)
    }
}

impl Core {
    fn check_may_tag(&self, u: &Unlocked, who: &Principal, user_id: &str, tag: &str) -> Result<()> {
        Access::Administrator.check(who)?;
        let id = UserId::parse(user_id)?;
        if !self.may_manage(u, who, id.namespace)? {
            return Err(Error::Forbidden);
        }
        if !is_valid_id(tag) {
            return Err(Error::InvalidInput("Invalid tag.".into()));
        }
        Ok(())
    }
}

impl Users<'_> {
    /// `PUT /users/{id}/tags/{tag}`: `false` if the tag was already there (304).
    pub fn add_tag(&self, user_id: &str, tag: &str) -> Result<bool> {
        let (core, u, who) = self.parts();
        core.check_may_tag(u, who, user_id, tag)?;
        let mut added = false;
        core.update_user(u, user_id, |user| {
            if user.role != Role::Operator {
                return Err(Error::InvalidInput(
                    "Tags can only be set on Operator users.".into(),
                ));
            }
            added = !user.tags.iter().any(|t| t == tag);
            if added {
                user.tags.push(tag.to_owned());
            }
            Ok(())
        })?;
        Ok(added)
    }

    /// `DELETE /users/{id}/tags/{tag}`.
    pub fn remove_tag(&self, user_id: &str, tag: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        core.check_may_tag(u, who, user_id, tag)?;
        core.update_user(u, user_id, |user| {
            let before = user.tags.len();
            user.tags.retain(|t| t != tag);
            if user.tags.len() == before {
                return Err(Error::NotFound("Tag not found.".into()));
            }
            Ok(())
        })
    }
}

impl Namespaces<'_> {
    /// The store path of the namespace `namespace`, for a root Administrator managing it; an
    /// invalid ID is refused.
    fn managed_namespace_path(&self, namespace: &str) -> Result<String> {
        self.require(Access::RootAdministrator)?;
        if !is_valid_id(namespace) {
            return Err(Error::InvalidInput("Invalid namespace ID.".into()));
        }
        Ok(namespace_path(namespace))
    }

    /// `GET /namespaces`.
    pub fn list(&self) -> Result<Vec<String>> {
        let (_, u, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        Ok(u.data
            .scan_prefix(NAMESPACES_PREFIX)?
            .into_iter()
            .map(|(k, _)| k[NAMESPACES_PREFIX.len()..].to_owned())
            .collect())
    }

    /// `PUT /namespaces/{id}`: from now on the namespace's users can log in, and only its own
    /// administrators manage them.
    pub fn create(&self, namespace: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        let path = self.managed_namespace_path(namespace)?;
        match core.commit_data(
            u,
            Txn::new().require_absent(&path).put(&path, b"{}".to_vec()),
        )? {
            Commit::Committed(_) => {
                tracing::info!(by = %who.user_id, %namespace, "namespace created");
                Ok(())
            }
            Commit::Conflict => Err(Error::InvalidInput("Namespace already exists.".into())),
        }
    }

    /// `DELETE /namespaces/{id}`: deletes the namespace and everything in it.
    pub fn delete(&self, namespace: &str) -> Result<()> {
        let (core, u, who) = self.parts();
        let path = self.managed_namespace_path(namespace)?;
        let Some(entry) = u.data.get(&path)? else {
            return Err(Error::NotFound("Namespace not found.".into()));
        };
        let mut txn = Txn::new()
            .require_revision(&path, entry.revision)
            .delete(&path);
        for prefix in NAMESPACED_PREFIXES {
            txn = txn.delete_prefix(format!("{prefix}{namespace}~"));
        }
        core.auth_cache.invalidate_namespace(namespace);
        match core.commit_data(u, txn)? {
            Commit::Committed(_) => {}
            Commit::Conflict => return Err(Error::NotFound("Namespace not found.".into())),
        }
        core.auth_cache.invalidate_namespace(namespace);
        core.end_namespace_sessions(namespace);
        let members = format!("{namespace}~");
        core.drop_ownerships(u, |owner| owner.starts_with(&members))?;
        tracing::info!(by = %who.user_id, %namespace, "namespace deleted");
        Ok(())
    }
}
