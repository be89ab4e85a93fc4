//! The registry of backup clients (the backup-client face's `Client`): id, name, host name,
//! display name, owners. Owners are users of the identity store; a client's owners (and root
//! Administrators) manage its passkey (see [`crate::passkeys`]).
//!
//! Store layout: `clients/<id, 10 digits>` (the client), `client-names/<name's comparison
//! key>` (the id; keeps names unique), `clients-next-id` (the next id to hand out).
//!
//! Names, host names and display names are normalized (NFKC) and checked for invisible
//! characters before anything else ([`crate::names`]); names are unique by their comparison
//! key (NFKC, then lower case), so `db1`, `DB1` and full-width `ｄｂ１` are one name.

use serde::{Deserialize, Serialize};
use strongroom_store::{Commit, Store, Txn};

use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Clients;
use crate::identity::{Principal, UserId, user_path};
use crate::{Core, Unlocked, json, names};

pub(crate) const CLIENTS_PREFIX: &str = "clients/";
const NAMES_PREFIX: &str = "client-names/";
const NEXT_ID_PATH: &str = "clients-next-id";
const CAS_RETRIES: usize = 16;

/// A backup client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupClient {
    pub id: u64,
    pub name: String,
    pub host_name: String,
    pub display_name: String,
    /// User ids of the identity store.
    pub owners: Vec<String>,
    /// Whether a passkey is set: kept here, with the client, so that deleting the passkey's
    /// own record (`passkeys/client/<id>`) never reads as "no passkey".
    #[serde(default)]
    pub(crate) passkey_set: bool,
}

/// What to create.
#[derive(Debug, Clone, Copy)]
pub struct NewClient<'a> {
    pub name: &'a str,
    pub host_name: &'a str,
    /// The name, when not given.
    pub display_name: Option<&'a str>,
    pub owners: &'a [String],
}

/// What to change; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientChange<'a> {
    pub name: Option<&'a str>,
    pub host_name: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

pub(crate) fn client_path(id: u64) -> String {
    format!("{CLIENTS_PREFIX}{id:010}")
}

fn name_path(name: &str) -> String {
    format!("{NAMES_PREFIX}{}", names::comparison_key(name))
}

/// Where builds before NFKC normalization indexed a name (its lower case), so a client stored
/// then can still be renamed or deleted cleanly.
fn legacy_name_path(name: &str) -> String {
    format!("{NAMES_PREFIX}{}", name.to_lowercase())
}

fn check_text(what: &str, value: &str, max: usize) -> Result<String> {
    names::readable(what, value, Some(max))
}

impl Core {
    pub(crate) fn read_client(&self, u: &Unlocked, id: u64) -> Result<Option<(BackupClient, u64)>> {
        match u.data.get(&client_path(id))? {
            Some(e) => Ok(Some((
                serde_json::from_slice(&e.value).map_err(Error::internal)?,
                e.revision,
            ))),
            None => Ok(None),
        }
    }

    /// Whether `who` may see and manage the passkey of `client`: its owners and root
    /// Administrators.
    pub(crate) fn is_owner_or_admin(who: &Principal, client: &BackupClient) -> bool {
        Access::RootAdministrator.permits(who) || client.owners.contains(&who.user_id)
    }

    fn check_owners(&self, u: &Unlocked, owners: &[String]) -> Result<()> {
        for owner in owners {
            UserId::parse(owner)?;
            if u.data.get(&user_path(owner))?.is_none() {
                return Err(Error::InvalidInput(format!("owner {owner} is not a user")));
            }
        }
        Ok(())
    }
}

impl Clients<'_> {
    /// Every client `who` may see: all for root Administrators, the owned ones for others.
    pub fn list(&self) -> Result<Vec<BackupClient>> {
        let (_, u, who) = self.parts();
        let mut out = Vec::new();
        for (_, e) in u.data.scan_prefix(CLIENTS_PREFIX)? {
            let c: BackupClient = serde_json::from_slice(&e.value).map_err(Error::internal)?;
            if Core::is_owner_or_admin(who, &c) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// One client, if `who` may see it (`NotFound` otherwise, so ids of others' clients do
    /// not show).
    pub fn get(&self, id: u64) -> Result<BackupClient> {
        let (core, u, who) = self.parts();
        match core.read_client(u, id)? {
            Some((c, _)) if Core::is_owner_or_admin(who, &c) => Ok(c),
            _ => Err(Error::NotFound("Client not found.".into())),
        }
    }

    /// Registers a client (root Administrator). Names are stored normalized (NFKC) and are
    /// unique regardless of case.
    pub fn create(&self, new: NewClient<'_>) -> Result<BackupClient> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let name = check_text("name", new.name, 128)?;
        let host_name = check_text("hostName", new.host_name, 253)?;
        let display_name = match new.display_name {
            Some(d) => check_text("displayName", d, 128)?,
            None => name.clone(),
        };
        core.check_owners(u, new.owners)?;
        for _ in 0..CAS_RETRIES {
            let next = u.data.get(NEXT_ID_PATH)?;
            let id: u64 = match &next {
                Some(e) => std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::Internal("client id counter is unreadable".into()))?,
                None => 1,
            };
            let client = BackupClient {
                id,
                name: name.clone(),
                host_name: host_name.clone(),
                display_name: display_name.clone(),
                owners: new.owners.to_vec(),
                passkey_set: false,
            };
            let names = name_path(&name);
            if u.data.get(&names)?.is_some() {
                return Err(Error::Conflict("A client of that name exists.".into()));
            }
            let txn = Txn::new()
                .require_unchanged(NEXT_ID_PATH, next.as_ref())
                .require_absent(&names)
                .require_absent(client_path(id))
                .put(NEXT_ID_PATH, (id + 1).to_string())
                .put(names, id.to_string())
                .put(client_path(id), json(&client)?);
            if let Commit::Committed(_) = core.commit_data(u, txn)? {
                tracing::info!(by = %who.user_id, client = id, "client created");
                return Ok(client);
            }
        }
        Err(Error::Conflict("A client of that name exists.".into()))
    }
}

impl Core {
    fn update_client(
        &self,
        u: &Unlocked,
        id: u64,
        mut change: impl FnMut(&mut BackupClient) -> Result<()>,
    ) -> Result<BackupClient> {
        for _ in 0..CAS_RETRIES {
            let (before, revision) = self
                .read_client(u, id)?
                .ok_or_else(|| Error::NotFound("Client not found.".into()))?;
            let mut after = before.clone();
            change(&mut after)?;
            let path = client_path(id);
            let mut txn = Txn::new()
                .require_revision(&path, revision)
                .put(&path, json(&after)?);
            let (old_key, new_key) = (name_path(&before.name), name_path(&after.name));
            let legacy_key = legacy_name_path(&before.name);
            // A new name, or one stored (before normalization) under another index key.
            if after.name != before.name && (new_key != old_key || legacy_key != old_key) {
                let taken = u.data.get(&new_key)?;
                if taken
                    .as_ref()
                    .is_some_and(|e| e.value != id.to_string().as_bytes())
                {
                    return Err(Error::Conflict("A client of that name exists.".into()));
                }
                for stale in [old_key, legacy_key] {
                    if stale != new_key {
                        txn = txn.delete(stale);
                    }
                }
                txn = txn
                    .require_unchanged(&new_key, taken.as_ref())
                    .put(new_key, id.to_string());
            }
            if let Commit::Committed(_) = self.commit_data(u, txn)? {
                return Ok(after);
            }
        }
        Err(Error::Internal(format!(
            "client {id} kept changing; gave up"
        )))
    }
}

impl Clients<'_> {
    /// Renames a client or changes its host or display name (root Administrator).
    pub fn change(&self, id: u64, change: ClientChange<'_>) -> Result<BackupClient> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let name = change
            .name
            .map(|n| check_text("name", n, 128))
            .transpose()?;
        let host_name = change
            .host_name
            .map(|h| check_text("hostName", h, 253))
            .transpose()?;
        let display_name = change
            .display_name
            .map(|d| check_text("displayName", d, 128))
            .transpose()?;
        let client = core.update_client(u, id, |c| {
            if let Some(n) = &name {
                c.name = n.clone();
            }
            if let Some(h) = &host_name {
                c.host_name = h.clone();
            }
            if let Some(d) = &display_name {
                c.display_name = d.clone();
            }
            Ok(())
        })?;
        tracing::info!(by = %who.user_id, client = id, "client changed");
        Ok(client)
    }

    /// Sets a client's owners (root Administrator); each must be a user.
    pub fn set_owners(&self, id: u64, owners: &[String]) -> Result<BackupClient> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        core.check_owners(u, owners)?;
        let mut unique: Vec<String> = Vec::new();
        for o in owners {
            if !unique.contains(o) {
                unique.push(o.clone());
            }
        }
        let client = core.update_client(u, id, |c| {
            c.owners = unique.clone();
            Ok(())
        })?;
        tracing::info!(by = %who.user_id, client = id, owners = ?client.owners, "client owners set");
        Ok(client)
    }

    /// Deletes a client and its passkey (root Administrator).
    pub fn delete(&self, id: u64) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let (client, revision) = core
            .read_client(u, id)?
            .ok_or_else(|| Error::NotFound("Client not found.".into()))?;
        let path = client_path(id);
        let txn = Txn::new()
            .require_revision(&path, revision)
            .delete(&path)
            .delete(name_path(&client.name))
            .delete(legacy_name_path(&client.name))
            .delete(crate::passkeys::passkey_path(
                crate::passkeys::PasskeyTarget::Client(id),
            ));
        match core.commit_data(u, txn)? {
            Commit::Committed(_) => {
                tracing::info!(by = %who.user_id, client = id, "client deleted");
                Ok(())
            }
            Commit::Conflict => Err(Error::NotFound("Client not found.".into())),
        }
    }
}

impl Core {
    /// A deleted user (or the users of a deleted namespace: `prefix` `ns~`) owns nothing any
    /// more, so a user later made with the same id does not inherit its clients.
    pub(crate) fn drop_ownerships(
        &self,
        u: &Unlocked,
        matches: impl Fn(&str) -> bool,
    ) -> Result<()> {
        for (_, e) in u.data.scan_prefix(CLIENTS_PREFIX)? {
            let c: BackupClient = serde_json::from_slice(&e.value).map_err(Error::internal)?;
            if c.owners.iter().any(|o| matches(o)) {
                self.update_client(u, c.id, |c| {
                    c.owners.retain(|o| !matches(o));
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}
