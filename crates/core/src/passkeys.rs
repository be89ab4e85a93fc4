//! Passkeys (seed 003): a secret, separate from any password, without which nobody may browse
//! or restore a client's backups. Set per client (by its owners or a root Administrator) or
//! for the whole installation (company 0, by root Administrators). With the right passkey, an
//! authorization window opens (30 minutes by default) during which browse and restore are
//! allowed; backup software asks [`Passkeys::restore_decision`] before each.
//!
//! Passkeys are stored only as Argon2id verifiers, with the history of the previous ones, at
//! `passkeys/client/<id>` and `passkeys/company/<id>`; the company's settings at
//! `companies/<id>`. Wrong passkeys are rate limited per target with a growing delay, so a
//! passkey cannot be guessed by brute force. There is no back door: a lost passkey keeps
//! browse and restore blocked, which is the product's promise.
//!
//! Windows are measured on clocks a root Administrator cannot move: the appliance clock
//! (`PUT /config/time`) plays no part. Within the process a window ends at an
//! [`Instant`] deadline; the record keeps its ends on the host clock (so it survives a
//! restart), and a window is never open for longer than the configured length from now, even
//! if the host clock went back. Each window also carries the *window epoch* current when it
//! opened; every restore starts a new epoch, so a window brought back by a restore stays
//! closed.

pub(crate) mod shared;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use strongroom_store::sealed::Sealed;
use strongroom_store::{Commit, Store, Txn};
use time::OffsetDateTime;

use crate::access::Access;
use crate::audit::NewAuditEvent;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::handles::{Clients, Passkeys};
use crate::identity::{PASSWORD_HISTORY, Principal};
use crate::secret::Passphrase;
use crate::{Core, DynStore, Unlocked, crypto, json};

/// Whose passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasskeyTarget {
    Client(u64),
    /// A company (organization); 0 is the whole installation, the only one Strongroom has.
    Company(u64),
}

pub(crate) fn passkey_path(target: PasskeyTarget) -> String {
    match target {
        PasskeyTarget::Client(id) => format!("passkeys/client/{id:010}"),
        PasskeyTarget::Company(id) => format!("passkeys/company/{id:010}"),
    }
}

/// The window epoch: a random number a restore replaces (see the module docs). Under
/// `config/`, which a restore onto an Operational node keeps, so only the restore itself
/// writes it.
pub(crate) const WINDOW_EPOCH_PATH: &str = "config/passkey-window-epoch";

/// A new window epoch, for a restore to write.
pub(crate) fn new_window_epoch() -> String {
    let mut raw = [0u8; 8];
    crypto::fill_random(&mut raw);
    u64::from_le_bytes(raw).to_string()
}

fn company_path(id: u64) -> String {
    format!("companies/{id:010}")
}

/// `passkeyOpType`: 1/CREATE, 2/EDIT, 3/DISABLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyOp {
    Create,
    Edit,
    Disable,
}

/// Each way a passkey operation fails. A face gives each its own code and wording (the
/// backup-client face's are in `docs/errors.md`); these messages are the core's, for logs and
/// faces without their own. None of them includes a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// The caller is neither an owner of the client nor a root Administrator.
    #[error("You do not have sufficient privileges for this operation")]
    Privileges,
    #[error("Client not found")]
    UnknownClient,
    #[error("Company not found")]
    UnknownCompany,
    /// A face's request named an operation that is not create, edit or disable.
    #[error("Unknown passkey operation; use create, edit or disable")]
    UnknownOpType,
    /// A face's request carried a passkey in an encoding it does not accept.
    #[error("The passkey is not encoded as the request requires")]
    NotBase64,
    /// A field the operation needs is missing, or the request is not a passkey request.
    #[error("The request is not a valid passkey request")]
    Malformed,
    #[error("The passkey and its confirmation do not match")]
    ConfirmMismatch,
    #[error("The passkey is incorrect")]
    WrongPasskey,
    #[error("A passkey is already set; modify it instead")]
    AlreadySet,
    #[error("No passkey is set")]
    NotSet,
    /// Shorter than [`PASSKEY_MIN_CHARS`], longer than [`PASSKEY_MAX_BYTES`], or with a
    /// control character.
    #[error(
        "The passkey is too weak: it needs at least 8 characters, at most 256 bytes, and no control characters"
    )]
    TooWeak,
    /// `allow_users_to_enable_passkey` is off and the caller is an owner, not an
    /// Administrator.
    #[error("Users are not allowed to enable a passkey; ask an administrator")]
    UsersMayNotEnable,
    /// Too many wrong passkeys for this target; wait.
    #[error("Too many wrong passkeys; wait before trying again")]
    RateLimited,
}

/// Passkeys: at least 8 characters, at most 256 bytes, no control characters.
pub const PASSKEY_MIN_CHARS: usize = 8;
pub const PASSKEY_MAX_BYTES: usize = 256;

impl From<PasskeyError> for Error {
    fn from(e: PasskeyError) -> Self {
        Error::Passkey(e)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasskeyRecord {
    /// Argon2id verifier of the current passkey; `None` once disabled.
    verifier: Option<String>,
    /// Verifiers of the passkeys set so far, newest first.
    history: Vec<String>,
    /// The older format's window end: Unix seconds on the appliance clock, which a root
    /// Administrator can move. Still read, so old records and backups load, but never
    /// honoured (such a window is closed) and never written again.
    #[serde(default, skip_serializing)]
    authorized_until: Option<i64>,
    /// The authorization window, if one was opened and not closed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<Window>,
}

/// An authorization window as stored: its ends on the host clock (never the appliance clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Window {
    /// Random; ties the record to the monotonic deadline kept in memory by the process that
    /// opened (or first saw) it.
    id: u64,
    /// The window epoch when it opened ([`WINDOW_EPOCH_PATH`]; 0 before any restore).
    epoch: u64,
    /// Host clock, Unix milliseconds, when it opened.
    opened_ms: i64,
    /// Host clock, Unix milliseconds, when it ends.
    until_ms: i64,
}

/// The host clock (not the appliance clock), in Unix milliseconds.
fn host_now_ms(clock: &Clock) -> i64 {
    (clock.now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl Window {
    /// How long this window stays open from now, if it is open: `None` once it ended, when
    /// a restore came after it opened (another epoch), or when the host clock reads earlier
    /// than its opening (the clock went back). Never more than `max`.
    fn remaining_on_host_clock(&self, epoch: u64, now_ms: i64, max: Duration) -> Option<Duration> {
        if self.epoch != epoch || now_ms < self.opened_ms || now_ms >= self.until_ms {
            return None;
        }
        let left = u64::try_from(self.until_ms - now_ms).ok()?;
        Some(Duration::from_millis(left).min(max))
    }
}

/// What `companies/<id>` holds: the settings, and whether a passkey is set (kept here so that
/// deleting `passkeys/company/<id>` never reads as "no passkey"). Provisioning writes it for
/// company 0; on a provisioned store its absence means someone deleted it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompanyRecord {
    allow_users_to_enable_passkey: bool,
    #[serde(default)]
    passkey_set: bool,
}

/// The value of `companies/0` a new appliance starts with.
pub(crate) fn initial_company_record() -> Vec<u8> {
    serde_json::to_vec(&CompanyRecord {
        allow_users_to_enable_passkey: CompanySettings::default().allow_users_to_enable_passkey,
        passkey_set: false,
    })
    .expect("a company record serialises")
}

pub(crate) const COMPANY_0_PATH: &str = "companies/0000000000";

fn tampered(what: &str) -> Error {
    Error::Precondition(format!(
        "{what} is missing from the store (it was deleted outside Strongroom); restore a backup"
    ))
}

/// The company's settings (`Commcell/properties` for company 0).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompanySettings {
    /// Whether client owners (not only administrators) may create passkeys.
    pub allow_users_to_enable_passkey: bool,
}

impl Default for CompanySettings {
    fn default() -> Self {
        Self {
            allow_users_to_enable_passkey: true,
        }
    }
}

/// What a passkey's state looks like from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyState {
    pub enabled: bool,
    pub authorized_until: Option<OffsetDateTime>,
}

/// A request to create, change or remove a passkey.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyChange<'a> {
    pub op: PasskeyOp,
    pub current: Option<&'a Passphrase>,
    pub new: Option<&'a Passphrase>,
    pub confirm: Option<&'a Passphrase>,
}

/// Why a browse or restore is allowed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreDecision {
    /// Neither the client nor its company has a passkey.
    NoPasskey,
    /// A passkey is set and its authorization window is open until then.
    Authorized { until: OffsetDateTime },
    /// A passkey is set (on the client, or the company) and not authorized now.
    PasskeyRequired { company_level: bool },
}

impl RestoreDecision {
    pub fn allowed(&self) -> bool {
        !matches!(self, RestoreDecision::PasskeyRequired { .. })
    }
}

/// What the process keeps in memory per target: growing delays after wrong passkeys (the
/// first 3 cost nothing, then each doubles the wait, from 1 second up to 15 minutes), and the
/// monotonic deadlines of the authorization windows it opened or saw.
///
/// A check is reserved before it runs ([`PasskeyGuard::begin`]), under the same lock that
/// reads the delay: one check in flight per target, others refused at once. So parallel wrong
/// passkeys are checked one after the other, each failure counted before the next is allowed,
/// and no burst can slip past the delay.
#[derive(Default)]
pub(crate) struct PasskeyGuard {
    failures: Mutex<HashMap<PasskeyTarget, Failures>>,
    /// Window id and its deadline on the monotonic clock.
    windows: Mutex<HashMap<PasskeyTarget, (u64, Instant)>>,
    clock: Clock,
}

/// A target's wrong passkeys so far, and whether a check is in flight.
#[derive(Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
    in_flight: bool,
}

/// A reserved passkey check; dropped without [`PasskeyAttempt::finish`] (the check could not
/// run: the Argon2 gate was full), it frees its place and counts nothing.
struct PasskeyAttempt<'a> {
    guard: &'a PasskeyGuard,
    target: PasskeyTarget,
    finished: bool,
}

impl PasskeyAttempt<'_> {
    /// Records the check's outcome: a right passkey clears the failures, a wrong one counts.
    fn finish(mut self, right: bool) {
        self.finished = true;
        let mut map = self.guard.lock_failures();
        if right {
            map.remove(&self.target);
        } else {
            let f = map.entry(self.target).or_default();
            f.count = f.count.saturating_add(1);
            f.last = Some(self.guard.clock.instant());
            f.in_flight = false;
        }
    }
}

impl Drop for PasskeyAttempt<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut map = self.guard.lock_failures();
        if let Some(f) = map.get_mut(&self.target) {
            f.in_flight = false;
            if f.count == 0 {
                map.remove(&self.target);
            }
        }
    }
}

const FREE_FAILURES: u32 = 3;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

impl PasskeyGuard {
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            ..Self::default()
        }
    }

    fn delay(failures: u32) -> Duration {
        if failures < FREE_FAILURES {
            return Duration::ZERO;
        }
        let exp = (failures - FREE_FAILURES).min(20);
        Duration::from_secs(1u64 << exp).min(MAX_DELAY)
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<PasskeyTarget, Failures>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a check of a passkey for `target`: refused while another check for it is in
    /// flight or its delay runs.
    fn begin(
        &self,
        target: PasskeyTarget,
    ) -> std::result::Result<PasskeyAttempt<'_>, PasskeyError> {
        let mut map = self.lock_failures();
        let f = map.entry(target).or_default();
        let waiting = f
            .last
            .is_some_and(|last| self.clock.since(last) < Self::delay(f.count));
        if f.in_flight || waiting {
            return Err(PasskeyError::RateLimited);
        }
        f.in_flight = true;
        Ok(PasskeyAttempt {
            guard: self,
            target,
            finished: false,
        })
    }

    /// How many wrong passkeys are counted against `target` now.
    #[cfg(test)]
    pub(crate) fn failures(&self, target: PasskeyTarget) -> u32 {
        self.lock_failures().get(&target).map_or(0, |f| f.count)
    }

    fn window_opened(&self, target: PasskeyTarget, id: u64, deadline: Instant) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(target, (id, deadline));
    }

    fn window_closed(&self, target: PasskeyTarget) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&target);
    }

    /// Forgets every window (a restore: the records now come from the backup).
    pub(crate) fn forget_windows(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How long the stored `window` of `target` stays open from now. A window this process
    /// knows ends at its monotonic deadline; one it does not know yet (opened before a
    /// restart, or by another node) is judged on the host clock once, then held to a
    /// monotonic deadline from there on. Never more than `max`.
    fn remaining(
        &self,
        target: PasskeyTarget,
        window: &Window,
        epoch: u64,
        max: Duration,
    ) -> Option<Duration> {
        if window.epoch != epoch {
            return None;
        }
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.clock.instant();
        if let Some((id, deadline)) = map.get(&target)
            && *id == window.id
        {
            let left = deadline.saturating_duration_since(now).min(max);
            return (!left.is_zero()).then_some(left);
        }
        let left = window.remaining_on_host_clock(epoch, host_now_ms(&self.clock), max)?;
        map.insert(target, (window.id, now + left));
        Some(left)
    }
}

fn check_strength(passkey: &Passphrase) -> std::result::Result<(), PasskeyError> {
    let p = passkey.expose();
    if p.chars().count() < PASSKEY_MIN_CHARS
        || p.len() > PASSKEY_MAX_BYTES
        || p.chars().any(char::is_control)
    {
        return Err(PasskeyError::TooWeak);
    }
    Ok(())
}

fn same(a: &Passphrase, b: &Passphrase) -> bool {
    use subtle::ConstantTimeEq;
    let (ha, hb) = (
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, a.as_bytes()),
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b.as_bytes()),
    );
    bool::from(ha.as_ref().ct_eq(hb.as_ref()))
}

impl Core {
    fn read_company(&self, u: &Unlocked, id: u64) -> Result<Option<(CompanyRecord, u64)>> {
        match u.data.get(&company_path(id))? {
            Some(e) => Ok(Some((
                serde_json::from_slice(&e.value).map_err(Error::internal)?,
                e.revision,
            ))),
            None => Ok(None),
        }
    }

    /// A target's passkey record. A target whose own record says a passkey is set, but whose
    /// passkey record is gone, is `Precondition` (tampered): never "no passkey".
    fn read_passkey(
        &self,
        u: &Unlocked,
        target: PasskeyTarget,
    ) -> Result<(PasskeyRecord, Option<u64>)> {
        let (record, revision) = match u.data.get(&passkey_path(target))? {
            Some(e) => (
                serde_json::from_slice::<PasskeyRecord>(&e.value).map_err(Error::internal)?,
                Some(e.revision),
            ),
            None => (PasskeyRecord::default(), None),
        };
        if record.verifier.is_none() {
            let set_by_owner = match target {
                PasskeyTarget::Client(id) => {
                    self.read_client(u, id)?.is_some_and(|(c, _)| c.passkey_set)
                }
                PasskeyTarget::Company(id) => match self.read_company(u, id)? {
                    Some((c, _)) => c.passkey_set,
                    None => return Err(tampered("The company record")),
                },
            };
            if set_by_owner {
                return Err(tampered("The passkey record"));
            }
        }
        Ok((record, revision))
    }

    fn write_passkey(
        &self,
        u: &Unlocked,
        target: PasskeyTarget,
        record: &PasskeyRecord,
        revision: Option<u64>,
    ) -> Result<()> {
        let path = passkey_path(target);
        let mut txn = match revision {
            Some(r) => Txn::new().require_revision(&path, r),
            None => Txn::new().require_absent(&path),
        }
        .put(&path, json(record)?);
        // Whether a passkey is set lives with its owner too, in the same transaction.
        let set = record.verifier.is_some();
        match target {
            PasskeyTarget::Client(id) => {
                let (mut client, rev) = self
                    .read_client(u, id)?
                    .ok_or(PasskeyError::UnknownClient)?;
                if client.passkey_set != set {
                    client.passkey_set = set;
                    let cpath = crate::clients::client_path(id);
                    txn = txn.require_revision(&cpath, rev).put(cpath, json(&client)?);
                }
            }
            PasskeyTarget::Company(id) => {
                let (mut company, rev) = self
                    .read_company(u, id)?
                    .ok_or_else(|| tampered("The company record"))?;
                if company.passkey_set != set {
                    company.passkey_set = set;
                    let cpath = company_path(id);
                    txn = txn
                        .require_revision(&cpath, rev)
                        .put(cpath, json(&company)?);
                }
            }
        }
        match self.commit_data(u, txn)? {
            Commit::Committed(_) => Ok(()),
            // Someone changed it meanwhile: the check this change rests on is stale.
            Commit::Conflict => Err(PasskeyError::WrongPasskey.into()),
        }
    }

    /// Brings a store from before passkey states lived with their owners up to date: the
    /// company record and the backup-key record exist, and each owner says whether its
    /// passkey is set. Runs at unlock on a store this node has not anchored yet.
    pub(crate) fn ensure_owner_records(&self, data: &Sealed<DynStore>) -> Result<()> {
        let has_verifier = |path: &str| -> Result<bool> {
            Ok(match data.get(path)? {
                Some(e) => serde_json::from_slice::<PasskeyRecord>(&e.value)
                    .map_err(Error::internal)?
                    .verifier
                    .is_some(),
                None => false,
            })
        };
        let mut txn = Txn::new();
        let mut changed = false;
        if data.get(COMPANY_0_PATH)?.is_none() {
            let record = CompanyRecord {
                allow_users_to_enable_passkey: true,
                passkey_set: has_verifier(&passkey_path(PasskeyTarget::Company(0)))?,
            };
            txn = txn
                .require_absent(COMPANY_0_PATH)
                .put(COMPANY_0_PATH, json(&record)?);
            changed = true;
        }
        if data.get(crate::system::BACKUP_KEY_PATH)?.is_none() {
            txn = txn.require_absent(crate::system::BACKUP_KEY_PATH).put(
                crate::system::BACKUP_KEY_PATH,
                crate::system::BACKUP_KEY_UNSET,
            );
            changed = true;
        }
        for (key, entry) in data.scan_prefix(crate::clients::CLIENTS_PREFIX)? {
            let mut client: crate::clients::BackupClient =
                serde_json::from_slice(&entry.value).map_err(Error::internal)?;
            let set = has_verifier(&passkey_path(PasskeyTarget::Client(client.id)))?;
            if set && !client.passkey_set {
                client.passkey_set = true;
                txn = txn
                    .require_revision(&key, entry.revision)
                    .put(&key, json(&client)?);
                changed = true;
            }
        }
        if changed {
            data.commit(txn)?;
            tracing::info!("passkey states now live with their owners");
        }
        Ok(())
    }

    /// Checks that the target exists and that `who` may manage its passkey.
    fn check_passkey_access(
        &self,
        u: &Unlocked,
        who: &Principal,
        target: PasskeyTarget,
    ) -> Result<()> {
        let admin = Access::RootAdministrator.permits(who);
        match target {
            PasskeyTarget::Client(id) => match self.read_client(u, id)? {
                Some((c, _)) if Self::is_owner_or_admin(who, &c) => Ok(()),
                None if admin => Err(PasskeyError::UnknownClient.into()),
                _ => Err(PasskeyError::Privileges.into()),
            },
            PasskeyTarget::Company(0) if admin => Ok(()),
            PasskeyTarget::Company(_) if admin => Err(PasskeyError::UnknownCompany.into()),
            PasskeyTarget::Company(_) => Err(PasskeyError::Privileges.into()),
        }
    }

    /// Verifies a passkey against the target's, under the rate limit.
    fn verify_passkey(
        &self,
        target: PasskeyTarget,
        record: &PasskeyRecord,
        passkey: &Passphrase,
    ) -> Result<()> {
        let verifier = record.verifier.as_ref().ok_or(PasskeyError::NotSet)?;
        let attempt = self.passkey_guard.begin(target)?;
        let shared = self.cluster.is_some();
        if shared {
            self.shared_passkey_wait(target)?;
        }
        let right = crypto::check_verifier(passkey.as_bytes(), verifier)?;
        attempt.finish(right);
        if shared {
            self.shared_passkey_outcome(target, right)?;
        }
        if right {
            Ok(())
        } else {
            Err(PasskeyError::WrongPasskey.into())
        }
    }
}

impl Passkeys<'_> {
    /// `POST client/{id}/Passkey` and `POST Company/{id}/Passkey` with `App_SetPasskeyRequest`.
    /// Create takes the passkey from `new` (or, as in Commvault's own example, `current`).
    /// Checks, in order: who may, the request's fields, the new passkey's strength, whether a
    /// passkey is set, and only then the current passkey (rate limited).
    pub fn set(&self, target: PasskeyTarget, change: PasskeyChange<'_>) -> Result<()> {
        let (core, u, who) = self.parts();
        core.check_passkey_access(u, who, target)?;
        let (mut record, revision) = core.read_passkey(u, target)?;
        match change.op {
            PasskeyOp::Create => {
                if !self.0.permits(Access::RootAdministrator)
                    && !core
                        .company_settings_of(u, 0)?
                        .allow_users_to_enable_passkey
                {
                    return Err(PasskeyError::UsersMayNotEnable.into());
                }
                let passkey = change
                    .new
                    .or(change.current)
                    .ok_or(PasskeyError::Malformed)?;
                if change.confirm.is_some_and(|c| !same(c, passkey)) {
                    return Err(PasskeyError::ConfirmMismatch.into());
                }
                check_strength(passkey)?;
                if record.verifier.is_some() {
                    return Err(PasskeyError::AlreadySet.into());
                }
                let verifier = crypto::make_verifier(passkey.as_bytes())?;
                record.history.insert(0, verifier.clone());
                record.history.truncate(PASSWORD_HISTORY);
                record.verifier = Some(verifier);
                record.authorized_until = None;
                record.window = None;
            }
            PasskeyOp::Edit => {
                let current = change.current.ok_or(PasskeyError::Malformed)?;
                let new = change.new.ok_or(PasskeyError::Malformed)?;
                if change.confirm.is_some_and(|c| !same(c, new)) {
                    return Err(PasskeyError::ConfirmMismatch.into());
                }
                check_strength(new)?;
                core.verify_passkey(target, &record, current)?;
                let verifier = crypto::make_verifier(new.as_bytes())?;
                record.history.insert(0, verifier.clone());
                record.history.truncate(PASSWORD_HISTORY);
                record.verifier = Some(verifier);
            }
            PasskeyOp::Disable => {
                let current = change.current.ok_or(PasskeyError::Malformed)?;
                if change.confirm.is_some_and(|c| !same(c, current)) {
                    return Err(PasskeyError::ConfirmMismatch.into());
                }
                core.verify_passkey(target, &record, current)?;
                record.verifier = None;
                record.authorized_until = None;
                record.window = None;
            }
        }
        core.write_passkey(u, target, &record, revision)?;
        if record.window.is_none() {
            core.passkey_guard.window_closed(target);
        }
        tracing::info!(by = %who.user_id, ?target, op = ?change.op, "passkey changed");
        Ok(())
    }

    /// `App_AuthorizeForRestoreRequest` (and `POST Company/{id}/AuthRestore`): with the right
    /// passkey, opens the authorization window for `requested` (seconds, or a Unix time when
    /// larger than a year, on the appliance clock) but never longer than the configured
    /// window; with `enable` false, closes it (no passkey needed to close). The window itself
    /// is measured on the monotonic and host clocks (see the module docs). Returns the end of
    /// the window on the appliance clock.
    pub fn authorize_restore(
        &self,
        target: PasskeyTarget,
        passkey: Option<&Passphrase>,
        enable: bool,
        requested: Option<i64>,
    ) -> Result<Option<OffsetDateTime>> {
        let (core, u, who) = self.parts();
        core.check_passkey_access(u, who, target)?;
        let (mut record, revision) = core.read_passkey(u, target)?;
        if record.verifier.is_none() {
            return Err(PasskeyError::NotSet.into());
        }
        // Only to read a requested end given as a time, which the client means on the
        // appliance clock; the window's length is what counts from here on.
        let now = core.now().unix_timestamp();
        let max = core.passkey_window.as_secs() as i64;
        let opened = if enable {
            let passkey = passkey.ok_or(PasskeyError::Malformed)?;
            core.verify_passkey(target, &record, passkey)?;
            let asked = match requested {
                Some(t) if t > 0 && t <= 366 * 24 * 3600 => t,
                Some(t) if t > now => t - now,
                _ => max,
            };
            let length = Duration::from_secs(asked.min(max).max(0) as u64);
            let mut raw = [0u8; 8];
            crypto::fill_random(&mut raw);
            let opened_ms = host_now_ms(&core.clock);
            let window = Window {
                id: u64::from_le_bytes(raw),
                epoch: core.window_epoch(u)?,
                opened_ms,
                until_ms: opened_ms.saturating_add(length.as_millis() as i64),
            };
            Some((window, core.clock.instant() + length, length))
        } else {
            None
        };
        record.authorized_until = None;
        record.window = opened.map(|(w, _, _)| w);
        core.write_passkey(u, target, &record, revision)?;
        match opened {
            Some((w, deadline, _)) => core.passkey_guard.window_opened(target, w.id, deadline),
            None => core.passkey_guard.window_closed(target),
        }
        tracing::info!(by = %who.user_id, ?target, enable, "restore authorization changed");
        Ok(opened.map(|(_, _, length)| core.appliance_time_after(length)))
    }
}

impl Core {
    /// The window epoch now: 0 until the first restore.
    fn window_epoch(&self, u: &Unlocked) -> Result<u64> {
        Ok(match u.data.get(WINDOW_EPOCH_PATH)? {
            Some(e) => std::str::from_utf8(&e.value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Internal("passkey window epoch is unreadable".into()))?,
            None => 0,
        })
    }

    /// The appliance-clock time `length` from now, in whole seconds (as clients are told).
    fn appliance_time_after(&self, length: Duration) -> OffsetDateTime {
        let t = self.now() + length;
        OffsetDateTime::from_unix_timestamp(t.unix_timestamp()).unwrap_or(t)
    }

    fn passkey_state_of(&self, u: &Unlocked, target: PasskeyTarget) -> Result<PasskeyState> {
        let record = match self.read_passkey(u, target) {
            Ok((record, _)) => record,
            // A missing record is closed: a passkey is set, and no window is open.
            Err(Error::Precondition(why)) => {
                tracing::error!(?target, %why, "passkey state unreadable; treated as closed");
                return Ok(PasskeyState {
                    enabled: true,
                    authorized_until: None,
                });
            }
            Err(e) => return Err(e),
        };
        let enabled = record.verifier.is_some();
        // A record of the older format (`authorized_until` alone) counts as closed.
        let left = match (&record.window, enabled) {
            (Some(window), true) => {
                let epoch = self.window_epoch(u)?;
                self.passkey_guard
                    .remaining(target, window, epoch, self.passkey_window)
            }
            _ => None,
        };
        Ok(PasskeyState {
            enabled,
            authorized_until: left.map(|l| self.appliance_time_after(l)),
        })
    }
}

impl Passkeys<'_> {
    /// The passkey state of a client the caller may see.
    pub fn client_state(&self, client_id: u64) -> Result<PasskeyState> {
        Clients(self.0).get(client_id)?;
        let (core, u, _) = self.parts();
        core.passkey_state_of(u, PasskeyTarget::Client(client_id))
    }
}

impl Clients<'_> {
    /// Every client the caller may see ([`Clients::list`]), each with its passkey state.
    pub fn list_with_passkeys(&self) -> Result<Vec<(crate::clients::BackupClient, PasskeyState)>> {
        let clients = self.list()?;
        let (core, u, _) = self.parts();
        clients
            .into_iter()
            .map(|c| {
                let state = core.passkey_state_of(u, PasskeyTarget::Client(c.id))?;
                Ok((c, state))
            })
            .collect()
    }
}

impl Passkeys<'_> {
    /// The passkey state of a company (root Administrators; only company 0 exists).
    pub fn company_state(&self, company_id: u64) -> Result<PasskeyState> {
        let (core, u, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        if company_id != 0 {
            return Err(Error::NotFound("Company not found.".into()));
        }
        core.passkey_state_of(u, PasskeyTarget::Company(0))
    }
}

impl Core {
    fn company_settings_of(&self, u: &Unlocked, id: u64) -> Result<CompanySettings> {
        match self.read_company(u, id)? {
            Some((c, _)) => Ok(CompanySettings {
                allow_users_to_enable_passkey: c.allow_users_to_enable_passkey,
            }),
            None => Err(tampered("The company record")),
        }
    }
}

impl Passkeys<'_> {
    /// `GET Commcell/properties` (root Administrators).
    pub fn company_settings(&self) -> Result<CompanySettings> {
        let (core, u, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        core.company_settings_of(u, 0)
    }

    /// `PUT Commcell/properties` (root Administrators).
    pub fn set_company_settings(&self, settings: &CompanySettings) -> Result<()> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let (current, revision) = core
            .read_company(u, 0)?
            .ok_or_else(|| tampered("The company record"))?;
        let record = CompanyRecord {
            allow_users_to_enable_passkey: settings.allow_users_to_enable_passkey,
            passkey_set: current.passkey_set,
        };
        let txn = Txn::new()
            .require_revision(company_path(0), revision)
            .put(company_path(0), json(&record)?);
        if let Commit::Conflict = core.commit_data(u, txn)? {
            return Err(Error::Conflict(
                "The company's settings changed meanwhile; try again.".into(),
            ));
        }
        tracing::info!(by = %who.user_id, ?settings, "company settings changed");
        Ok(())
    }

    /// May backup software browse or restore this client now? Asked by a root Administrator or
    /// a Backup user of the root namespace before each browse or restore; every answer is an
    /// audit event (`request_id` ties it to the request that asked).
    pub fn restore_decision(
        &self,
        client_id: u64,
        operation: &str,
        request_id: &str,
    ) -> Result<RestoreDecision> {
        let (core, u, who) = self.parts();
        self.require(Access::RootAdministratorOrRootBackup)?;
        if core.read_client(u, client_id)?.is_none() {
            return Err(Error::NotFound("Client not found.".into()));
        }
        let client = core.passkey_state_of(u, PasskeyTarget::Client(client_id))?;
        let company = core.passkey_state_of(u, PasskeyTarget::Company(0))?;
        let decision = match (
            client.enabled,
            client.authorized_until,
            company.enabled,
            company.authorized_until,
        ) {
            (true, Some(until), _, _) => RestoreDecision::Authorized { until },
            (true, None, _, _) => RestoreDecision::PasskeyRequired {
                company_level: false,
            },
            (false, _, true, Some(until)) => RestoreDecision::Authorized { until },
            (false, _, true, None) => RestoreDecision::PasskeyRequired {
                company_level: true,
            },
            (false, _, false, _) => RestoreDecision::NoPasskey,
        };
        let event = NewAuditEvent::by_core(
            Some(&who.user_id),
            format!("restore decision: {operation}"),
            format!("client {client_id}"),
        )
        .with_outcome(if decision.allowed() {
            "allowed"
        } else {
            "denied"
        })
        .with_request_id(request_id);
        // The decision stores nothing else: its event is its whole transaction, and it is
        // answered only once that is stored.
        core.commit_data_with_event(u, Txn::new(), event)?;
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_three_failures() {
        assert_eq!(PasskeyGuard::delay(0), Duration::ZERO);
        assert_eq!(PasskeyGuard::delay(2), Duration::ZERO);
        assert_eq!(PasskeyGuard::delay(3), Duration::from_secs(1));
        assert_eq!(PasskeyGuard::delay(4), Duration::from_secs(2));
        assert_eq!(PasskeyGuard::delay(40), MAX_DELAY);
        let (clock, manual) = Clock::manual();
        let g = PasskeyGuard::new(clock);
        let t = PasskeyTarget::Client(1);
        for _ in 0..3 {
            g.begin(t).unwrap().finish(false);
        }
        assert!(matches!(g.begin(t), Err(PasskeyError::RateLimited)));
        assert_eq!(g.failures(t), 3);
        let other = g.begin(PasskeyTarget::Client(2)).expect("per target");
        // One check in flight per target; dropped unfinished, it counts nothing.
        assert!(matches!(
            g.begin(PasskeyTarget::Client(2)),
            Err(PasskeyError::RateLimited)
        ));
        drop(other);
        assert_eq!(g.failures(PasskeyTarget::Client(2)), 0);
        g.begin(PasskeyTarget::Client(2)).unwrap().finish(true);
        manual.advance(Duration::from_millis(900));
        assert!(
            matches!(g.begin(t), Err(PasskeyError::RateLimited)),
            "within the delay"
        );
        manual.advance(Duration::from_millis(100));
        g.begin(t).unwrap().finish(true);
        assert_eq!(g.failures(t), 0, "a right passkey clears the count");
    }

    #[test]
    fn old_records_load_and_their_window_is_closed() {
        // Written by an earlier build: the window's end on the appliance clock.
        let old = br#"{"verifier":"v","history":["v"],"authorizedUntil":99999999999}"#;
        let record: PasskeyRecord = serde_json::from_slice(old).unwrap();
        assert_eq!(record.authorized_until, Some(99999999999));
        assert_eq!(record.window, None, "no window: closed");
        let rewritten = String::from_utf8(serde_json::to_vec(&record).unwrap()).unwrap();
        assert!(!rewritten.contains("authorizedUntil"), "{rewritten}");
        let back: PasskeyRecord = serde_json::from_slice(rewritten.as_bytes()).unwrap();
        assert_eq!((back.authorized_until, back.window), (None, None));
    }

    #[test]
    fn host_clock_windows_never_outlive_their_length() {
        let max = Duration::from_secs(30);
        let w = Window {
            id: 7,
            epoch: 1,
            opened_ms: 1_000_000,
            until_ms: 1_030_000,
        };
        assert_eq!(
            w.remaining_on_host_clock(1, 1_010_000, max),
            Some(Duration::from_secs(20))
        );
        assert_eq!(w.remaining_on_host_clock(1, 1_030_000, max), None, "ended");
        assert_eq!(
            w.remaining_on_host_clock(2, 1_010_000, max),
            None,
            "restored"
        );
        assert_eq!(
            w.remaining_on_host_clock(1, 999_999, max),
            None,
            "the host clock went back"
        );
        assert_eq!(
            w.remaining_on_host_clock(1, 1_000_000, Duration::from_secs(5)),
            Some(Duration::from_secs(5)),
            "capped at the configured length"
        );
    }

    #[test]
    fn the_monotonic_deadline_wins_over_the_stored_one() {
        let g = PasskeyGuard::default();
        let t = PasskeyTarget::Client(1);
        let max = Duration::from_secs(60);
        let now = host_now_ms(&Clock::system());
        // Stored as if the host clock said the window lasts an hour more.
        let w = Window {
            id: 1,
            epoch: 0,
            opened_ms: now - 1000,
            until_ms: now + 3_600_000,
        };
        let left = g.remaining(t, &w, 0, max).unwrap();
        assert!(left <= max, "capped: {left:?}");
        // This process opened it with a deadline that has passed: closed, whatever the record.
        g.window_opened(t, 1, Instant::now());
        assert_eq!(g.remaining(t, &w, 0, max), None);
        assert_eq!(g.remaining(t, &w, 0, max), None, "stays closed");
        // Another window id: judged afresh on the host clock.
        let other = Window { id: 2, ..w };
        assert!(g.remaining(t, &other, 0, max).is_some());
        // Another epoch (a restore came since): closed.
        assert_eq!(g.remaining(t, &other, 5, max), None);
        g.forget_windows();
        g.window_opened(t, 2, Instant::now() + Duration::from_secs(10));
        let left = g.remaining(t, &other, 0, max).unwrap();
        assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(8));
    }

    #[test]
    fn strength() {
        assert!(check_strength(&Passphrase::new("12345678")).is_ok());
        assert!(check_strength(&Passphrase::new("1234567")).is_err());
        assert!(check_strength(&Passphrase::new("1234567\n")).is_err());
        assert!(check_strength(&Passphrase::new("x".repeat(257))).is_err());
    }
}
