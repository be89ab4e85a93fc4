//! Strongroom's core: the state machine, the keys that guard the store, and identity.
//! No HTTP and no async I/O here: every face translates its protocol into calls on [`Core`]
//! (the node's lifecycle, authentication, sessions) and on the handle an Operational node gives
//! an authenticated caller ([`Core::operational`], by area: see [`handles`]).
//! Calls may block (store I/O, Argon2): async callers run them on a blocking thread.
//!
//! Keys (see `docs/security-model.md`):
//! - the device key (file, 0600) seals `meta/tls` and, only with unattended boot on,
//!   `meta/unattended` (the domain key);
//! - the unlock key, derived from the unlock passphrase with Argon2id, wraps the domain key
//!   in `meta/unlock`;
//! - the domain key seals every value outside `meta/`.

pub mod access;
mod anchor;
pub mod appliance;
pub mod audit;
pub mod auth_cache;
pub mod backup;
pub mod clients;
pub mod clock;
pub mod cluster;
pub mod cluster_health;
pub mod cluster_kit;
pub mod cluster_sync;
pub mod crypto;
pub mod device;
pub mod error;
mod followed;
pub mod handles;
pub mod identity;
pub mod keys;
pub mod names;
pub mod passkeys;
pub mod password_policy;
pub mod rehash;
pub mod rotation;
mod schema;
pub mod secret;
pub mod sessions;
pub mod state;
pub mod system;
pub mod tls;
pub mod users;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strongroom_store::engine::Engine;
use strongroom_store::sealed::{Keyring, Sealed, Sealer};
use strongroom_store::{Commit, Store, Txn};

use crate::access::Access;
use crate::auth_cache::AuthCache;
use crate::crypto::{KdfParams, Key32};
pub use crate::error::{Error, Result};
use crate::handles::System;
use crate::identity::{Principal, Role, UserId, UserRecord, namespace_path, user_path};
use crate::secret::Passphrase;
pub use crate::state::SystemState;
use crate::tls::TlsIdentity;

use schema::SCHEMA_PATH;
pub use schema::SCHEMA_VERSION;
const UNLOCK_PATH: &str = "meta/unlock";
const UNATTENDED_PATH: &str = "meta/unattended";

const DATA_PURPOSE: &str = "strongroom/data/v1";
const UNLOCK_PURPOSE: &str = "strongroom/unlock/v1";
const UNATTENDED_PURPOSE: &str = "strongroom/unattended/v1";

/// The file names inside a data directory.
pub const STORE_FILE: &str = "strongroom.redb";
pub const DEVICE_KEY_FILE: &str = "device.key";
pub use anchor::ANCHOR_FILE;

/// The user provisioning creates.
pub const ADMIN_USER: &str = "admin";

type DynStore = Arc<dyn Store>;

/// `meta/unlock`: how to turn the unlock passphrase back into the domain key. Holds no secret
/// in clear: the domain key is sealed under the derived unlock key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UnlockRecord {
    kdf: KdfParams,
    /// Hex of the domain key sealed under the unlock key, bound to `meta/unlock` (and to its
    /// version, past version 1: see [`rotation::wrap_path`]).
    wrapped_domain_key: String,
    /// The domain key's version: 1 at provisioning (and in records written before versions
    /// existed), one more at each rotation.
    #[serde(default = "rotation::first_version")]
    key_version: u8,
    /// Only while a rotation is under way: the previous domain key, wrapped the same way, so
    /// values not yet re-sealed still open after a crash or a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<rotation::WrappedKey>,
}

impl UnlockRecord {
    fn new(passphrase: &Passphrase, keys: &DomainKeys) -> Result<Self> {
        let kdf = KdfParams::new_for_key();
        let unlock_key = kdf.derive(passphrase.as_bytes())?;
        Ok(Self::with_keys(kdf, &unlock_key, keys))
    }

    /// The record that wraps `keys` under an unlock key already derived with `kdf`.
    fn with_keys(kdf: KdfParams, unlock_key: &Key32, keys: &DomainKeys) -> Self {
        let wrap = |version, key: &Key32| {
            hex::encode(
                Sealer::new(unlock_key, UNLOCK_PURPOSE)
                    .seal(&rotation::wrap_path(version), key.as_ref()),
            )
        };
        Self {
            kdf,
            wrapped_domain_key: wrap(keys.version, &keys.current),
            key_version: keys.version,
            previous: keys
                .previous
                .as_ref()
                .map(|(version, key)| rotation::WrappedKey {
                    key_version: *version,
                    wrapped_domain_key: wrap(*version, key),
                }),
        }
    }

    fn open(&self, passphrase: &Passphrase) -> Result<DomainKeys> {
        let unlock_key = self.kdf.derive(passphrase.as_bytes())?;
        self.open_with(&unlock_key)
    }

    fn open_with(&self, unlock_key: &Key32) -> Result<DomainKeys> {
        let unwrap = |version, wrapped: &str| {
            let wrapped = hex::decode(wrapped).map_err(Error::internal)?;
            let plain = Sealer::new(unlock_key, UNLOCK_PURPOSE)
                .open(&rotation::wrap_path(version), &wrapped)
                .map_err(|_| Error::WrongUnlockPassphrase)?;
            key_from_slice(&plain)
        };
        let keys = DomainKeys {
            current: unwrap(self.key_version, &self.wrapped_domain_key)?,
            version: self.key_version,
            previous: match &self.previous {
                Some(p) => Some((p.key_version, unwrap(p.key_version, &p.wrapped_domain_key)?)),
                None => None,
            },
        };
        keys.check()?;
        Ok(keys)
    }
}

/// The domain key in memory, with its version, and while a rotation is under way the
/// previous one (see [`rotation`]).
#[derive(Clone)]
pub(crate) struct DomainKeys {
    current: Key32,
    version: u8,
    previous: Option<(u8, Key32)>,
}

impl DomainKeys {
    fn first(current: Key32) -> Self {
        Self {
            current,
            version: rotation::first_version(),
            previous: None,
        }
    }

    /// Versions start at 1, and a rotation's two keys have different versions.
    fn check(&self) -> Result<()> {
        let bad = self.version == 0
            || self
                .previous
                .as_ref()
                .is_some_and(|(v, _)| *v == 0 || *v == self.version);
        if bad {
            return Err(Error::Internal(
                "the stored domain key versions are not valid".into(),
            ));
        }
        Ok(())
    }

    /// Whether `other` has the same current domain key, of the same version. In constant
    /// time: these are secrets.
    fn same_current(&self, other: &DomainKeys) -> bool {
        use subtle::ConstantTimeEq as _;
        self.version == other.version && bool::from(self.current.ct_eq(&*other.current))
    }

    /// The data sealing keys these domain keys give.
    fn keyring(&self) -> Keyring {
        let current = Sealer::versioned(&self.current, DATA_PURPOSE, self.version);
        match &self.previous {
            Some((version, key)) => {
                Keyring::rotating(current, Sealer::versioned(key, DATA_PURPOSE, *version))
            }
            None => Keyring::new(current),
        }
    }
}

fn key_from_slice(bytes: &[u8]) -> Result<Key32> {
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::Internal("wrapped domain key has the wrong length".into()))?;
    Ok(zeroize::Zeroizing::new(key))
}

/// What an Operational node holds in memory: the domain key and the sealed view of the store.
/// A rotation replaces both keys in place (under [`Core::key_switch`]), so requests holding
/// this seal under the new key from then on. Work that outlives a request (a backup download)
/// holds it too: `forgotten` tells it the node locked, so it stops and lets the key go.
struct Unlocked {
    keys: RwLock<DomainKeys>,
    data: Sealed<DynStore>,
    forgotten: KeyForgotten,
    /// Parsed NetHSM keys and their operation counts: dropped with the rest on lock.
    key_cache: keys::KeyCache,
    /// Cluster mode: stored sessions as read, by their token's hash ([`followed`]).
    followed_sessions: followed::Followed<sessions::StoredSession>,
    /// Cluster mode: users' tags as read, by user id ([`followed`]).
    followed_tags: followed::Followed<Vec<String>>,
}

/// Turns true when the node leaves Operational (lock, reboot, reset, full restore) for the
/// keys it held then: long work that holds those keys checks it and stops. Holds no key.
#[derive(Debug, Clone, Default)]
pub struct KeyForgotten(Arc<std::sync::atomic::AtomicBool>);

impl KeyForgotten {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Unlocked {
    fn new(raw: DynStore, keys: DomainKeys) -> Self {
        Self {
            data: Sealed::with_keyring(raw, keys.keyring()),
            keys: RwLock::new(keys),
            forgotten: KeyForgotten::default(),
            key_cache: keys::KeyCache::default(),
            followed_sessions: followed::Followed::default(),
            followed_tags: followed::Followed::default(),
        }
    }

    fn keys(&self) -> DomainKeys {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_keys(&self, keys: DomainKeys) {
        self.data.set_keyring(keys.keyring());
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }
}

enum Inner {
    Unprovisioned,
    Locked,
    Operational(Arc<Unlocked>),
    /// Cluster mode: the store stopped answering (see [`cluster_health`]); no key is held.
    Failed,
}

/// Provisioning input (`ProvisionRequestData`).
#[derive(Debug)]
pub struct Provision<'a> {
    pub unlock_passphrase: &'a Passphrase,
    pub admin_passphrase: &'a Passphrase,
    /// RFC 3339, UTC.
    pub system_time: &'a str,
}

/// Facts about this node (`SystemInfo`).
#[derive(Debug, Clone)]
pub struct SystemInfo {
    pub software_version: &'static str,
    pub device_id: String,
}

/// How many audit events are kept by default: at a few hundred bytes each, tens of MB.
pub const DEFAULT_AUDIT_MAX_EVENTS: u64 = 100_000;

/// Tunables of the core, set from the server's configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// How long a successful password verification is remembered (zero: not at all).
    pub auth_cache_ttl: Duration,
    /// How long a face's session (appliance, backup client) lives without being used.
    pub session_idle: Duration,
    /// How long a session lives at most, however often it is used or renewed.
    pub session_max: Duration,
    /// The longest a passkey authorization for browse and restore lasts.
    pub passkey_window: Duration,
    /// The most events the audit trail keeps; older ones are pruned (see [`audit`]).
    pub audit_max_events: u64,
    /// Become Operational even if the store is older than this node's anchor (a deliberate
    /// restore of the store file); the rollback stays reported until accepted.
    pub accept_store_rollback: bool,
    /// Replace a device key file that is refused (a link, another owner, group or other
    /// access, missing beside a store, or one that does not open the stored TLS identity)
    /// with a new key, and make a new TLS certificate. Off: such a start is refused.
    pub regenerate_device_key: bool,
    /// Where sessions, the auth cache, passkey back-off and windows, and the appliance's time
    /// read the time: the system's, unless a test moves it (see [`clock`]).
    pub clock: clock::Clock,
    /// Cluster mode: how long the store may leave reads unanswered before the node turns
    /// `Failed` (the store's request timeout; see [`cluster_health`]).
    pub cluster_failed_after: Duration,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            auth_cache_ttl: Duration::from_secs(30),
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 60 * 60),
            passkey_window: Duration::from_secs(30 * 60),
            audit_max_events: DEFAULT_AUDIT_MAX_EVENTS,
            accept_store_rollback: false,
            regenerate_device_key: false,
            clock: clock::Clock::system(),
            cluster_failed_after: Duration::from_secs(5),
        }
    }
}

/// The appliance. One per process, shared by every face.
pub struct Core {
    raw: DynStore,
    device_key: Key32,
    inner: RwLock<Inner>,
    /// Serialises state transitions (provision, unlock, lock) so two cannot interleave.
    transition: Mutex<()>,
    /// Seconds between the host clock and the appliance clock (see [`clock`]).
    time_offset: AtomicI64,
    clock: clock::Clock,
    auth_cache: AuthCache,
    sessions: sessions::Sessions,
    passkey_guard: passkeys::PasskeyGuard,
    passkey_window: Duration,
    /// Audit events recorded while Locked, appended at the next unlock.
    pending_audit: Mutex<audit::Pending>,
    /// Serialises audit appends within this process (the store's check serialises nodes).
    audit_append: Mutex<()>,
    /// Told of every audit event once it is stored (the server's syslog forwarder).
    audit_observer: std::sync::OnceLock<audit::AuditObserver>,
    audit_max_events: u64,
    /// What this node last saw of its store (see [`anchor`]).
    anchor: anchor::Anchor,
    accept_store_rollback: bool,
    /// A rollback found at unlock that this node runs with until it is accepted.
    rollback: Mutex<Option<String>>,
    /// Held (shared) from sealing a value to committing it, and (exclusive) by a rotation
    /// while it switches keys: no value sealed under a key about to be retired lands after the
    /// switch.
    key_switch: RwLock<()>,
    /// One rotation of the domain key at a time.
    rotation: Mutex<()>,
    /// In cluster mode, this node's part in it (see [`cluster`]); `None` on a single node.
    cluster: Option<cluster::Cluster>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Opens (creating if missing) the data directory: the device key and the redb store.
    /// Every start checks the directory, the store file and the key file (owner, mode, no
    /// links: see [`device`]), and that the device key opens the stored TLS identity; a check
    /// that fails refuses the start with the reason.
    pub fn open(data_dir: &Path, settings: CoreSettings) -> Result<Self> {
        prepare_data_dir(data_dir)?;
        let store_path = data_dir.join(STORE_FILE);
        let store_existed = device::prepare_store_file(&store_path)?;
        let regenerate = settings.regenerate_device_key;
        let device_key =
            device::load_or_create(&data_dir.join(DEVICE_KEY_FILE), !store_existed, regenerate)?;
        let store = Engine::Redb(store_path).open()?;
        Self::open_on(data_dir, store, device_key, settings, None)
    }

    /// [`Core::open`] once the store and the device key are there: checks the key opens the
    /// stored TLS identity, reads the anchor, starts.
    fn open_on(
        data_dir: &Path,
        store: DynStore,
        device_key: Key32,
        settings: CoreSettings,
        cluster: Option<cluster::Cluster>,
    ) -> Result<Self> {
        let regenerate = settings.regenerate_device_key;
        if !regenerate {
            let sealer = Sealer::new(&device_key, tls::TLS_PURPOSE);
            tls::check_opens(&*store, &sealer, &data_dir.join(DEVICE_KEY_FILE))?;
        }
        let anchor = if regenerate {
            // The anchor was sealed under the key being replaced, so it is gone with it: the
            // operator who asked for a new key takes the store as it is at the next unlock
            // (recorded in the trail then).
            let anchor = anchor::Anchor::empty(Some(data_dir), &device_key);
            anchor.set(anchor::AnchorState {
                provisioned: true,
                adopt: true,
                ..Default::default()
            })?;
            anchor
        } else {
            match anchor::Anchor::open(Some(data_dir), &device_key) {
                Err(Error::Precondition(why)) if settings.accept_store_rollback => {
                    // The start-up check below reports the store as un-anchored.
                    tracing::warn!(%why, "ignoring the anchor: accept_store_rollback is set");
                    anchor::Anchor::empty(Some(data_dir), &device_key)
                }
                Err(Error::Precondition(why)) => {
                    return Err(Error::Precondition(format!(
                        "{why}; refusing to start. To accept the store as it is, start with --accept-store-rollback (docs/operations.md)"
                    )));
                }
                other => other?,
            }
        };
        let core = Self::start(store, device_key, settings, anchor, cluster)?;
        if regenerate {
            core.record_audit(audit::NewAuditEvent::by_core(
                None,
                "device key regenerated",
                "new device key and TLS identity; the store was taken as it is",
            ));
        }
        Ok(core)
    }

    /// Starts on any store, with its anchor in memory only (no data directory): checks the
    /// schema, then comes up Unprovisioned, Locked, or Operational if unattended boot is on.
    pub fn with_store(raw: DynStore, device_key: Key32, settings: CoreSettings) -> Result<Self> {
        let anchor = anchor::Anchor::open(None, &device_key)?;
        Self::start(raw, device_key, settings, anchor, None)
    }

    fn start(
        raw: DynStore,
        device_key: Key32,
        settings: CoreSettings,
        anchor: anchor::Anchor,
        cluster: Option<cluster::Cluster>,
    ) -> Result<Self> {
        check_schema(&*raw)?;
        let core = Self {
            raw,
            device_key,
            inner: RwLock::new(Inner::Unprovisioned),
            transition: Mutex::new(()),
            time_offset: AtomicI64::new(0),
            auth_cache: AuthCache::new(settings.auth_cache_ttl, settings.clock.clone()),
            sessions: sessions::Sessions::new(
                settings.session_idle,
                settings.session_max,
                settings.clock.clone(),
            )
            .in_store(cluster.is_some()),
            passkey_guard: passkeys::PasskeyGuard::new(settings.clock.clone()),
            clock: settings.clock,
            passkey_window: settings.passkey_window,
            pending_audit: Mutex::new(audit::Pending::default()),
            audit_append: Mutex::new(()),
            audit_observer: std::sync::OnceLock::new(),
            audit_max_events: settings.audit_max_events,
            anchor,
            accept_store_rollback: settings.accept_store_rollback,
            rollback: Mutex::new(None),
            key_switch: RwLock::new(()),
            rotation: Mutex::new(()),
            cluster,
        };
        core.check_anchor_at_start()?;
        if core.raw.get(UNLOCK_PATH)?.is_some() {
            core.set_inner(Inner::Locked);
            core.boot_unattended()?;
        }
        Ok(core)
    }

    pub fn state(&self) -> SystemState {
        match &*self.inner.read().unwrap_or_else(|e| e.into_inner()) {
            Inner::Unprovisioned => SystemState::Unprovisioned,
            Inner::Locked => SystemState::Locked,
            Inner::Operational(_) => SystemState::Operational,
            Inner::Failed => SystemState::Failed,
        }
    }

    /// Locks: the domain key, cached verifications and sessions are dropped.
    pub(crate) fn forget_keys(&self) {
        self.set_inner(Inner::Locked);
        self.auth_cache.clear();
        self.sessions.clear();
    }

    fn set_inner(&self, inner: Inner) {
        let mut current = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Inner::Operational(u) = &*current {
            u.forgotten.set();
        }
        *current = inner;
    }

    /// The unlocked view, or `WrongState` if the node is not Operational.
    fn unlocked(&self) -> Result<Arc<Unlocked>> {
        match &*self.inner.read().unwrap_or_else(|e| e.into_inner()) {
            Inner::Operational(u) => Ok(u.clone()),
            Inner::Unprovisioned => Err(Error::WrongState(SystemState::Unprovisioned)),
            Inner::Locked => Err(Error::WrongState(SystemState::Locked)),
            Inner::Failed => Err(Error::WrongState(SystemState::Failed)),
        }
    }

    fn require_state(&self, want: SystemState) -> Result<()> {
        let state = self.state();
        if state == want {
            Ok(())
        } else {
            Err(Error::WrongState(state))
        }
    }

    fn unattended_sealer(&self) -> Sealer {
        Sealer::new(&self.device_key, UNATTENDED_PURPOSE)
    }

    /// What can be checked against the anchor before the domain key is known: a store that
    /// lost its unlock record, or an anchor file that went missing.
    fn check_anchor_at_start(&self) -> Result<()> {
        let provisioned = self.raw.get(UNLOCK_PATH)?.is_some();
        let anchored = self.raw.get(anchor::ANCHORED_PATH)?.is_some();
        let problem = match self.anchor.get() {
            // A full restore that did not complete: nothing to protect yet.
            Some(a) if a.adopt && !provisioned => {
                self.anchor.clear()?;
                None
            }
            Some(a) if a.provisioned && !provisioned => Some(
                "this node's anchor records a provisioned store, but the store has no unlock record (it was replaced or reset outside Strongroom)",
            ),
            None if anchored => Some(
                "the store records that this node keeps an anchor for it, but the anchor file is missing (it was deleted, or the store comes from another node)",
            ),
            _ => None,
        };
        let Some(problem) = problem else {
            return Ok(());
        };
        if !self.accept_store_rollback {
            return Err(Error::Precondition(format!(
                "{problem}; refusing to start. To accept the store as it is, start with --accept-store-rollback (docs/operations.md)"
            )));
        }
        tracing::warn!(problem, "starting anyway: accept_store_rollback is set");
        if provisioned {
            *self.rollback.lock().unwrap_or_else(|e| e.into_inner()) = Some(problem.to_owned());
        } else {
            // Nothing left to protect: the node starts Unprovisioned with no anchor.
            self.anchor.clear()?;
        }
        Ok(())
    }

    fn become_operational(&self, keys: DomainKeys) -> Result<()> {
        if let Some(c) = &self.cluster {
            c.note_unlock(&*self.raw)?;
        }
        let version = keys.version;
        let unlocked = Arc::new(Unlocked::new(self.raw.clone(), keys));
        let data = &unlocked.data;
        // Before anything is sealed with the keys: the owner records and the anchor below.
        self.guard_writes(data, version)?;
        if let Some(reason) = self.anchor_mismatch(data)? {
            if !self.accept_store_rollback {
                tracing::error!(%reason, "refusing to become Operational");
                return Err(Error::Precondition(format!(
                    "Refusing to unlock: {reason}. To run with this store anyway, restart with --accept-store-rollback and accept it (docs/operations.md)."
                )));
            }
            tracing::warn!(%reason, "becoming Operational anyway: accept_store_rollback is set");
            let mut pending = self.rollback.lock().unwrap_or_else(|e| e.into_inner());
            pending.get_or_insert(reason);
        }
        if self.anchor.get().is_none_or(|a| a.adopt) {
            self.ensure_owner_records(data)?;
        }
        self.anchor_to_store(data)?;
        self.load_time_offset(data)?;
        self.set_inner(Inner::Operational(unlocked.clone()));
        self.flush_pending_audit(&unlocked);
        Ok(())
    }

    /// Reads the stored offset of the appliance clock into memory.
    fn load_time_offset(&self, data: &Sealed<DynStore>) -> Result<()> {
        let offset = match data.get(clock::TIME_OFFSET_PATH)? {
            Some(e) => std::str::from_utf8(&e.value)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            None => 0,
        };
        self.time_offset.store(offset, Ordering::Relaxed);
        Ok(())
    }

    /// The appliance's current time (host clock plus the offset set at provisioning).
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now_utc() + time::Duration::seconds(self.time_offset.load(Ordering::Relaxed))
    }

    /// The clock this core reads, for the server's own time limits to read too.
    pub fn clock(&self) -> &clock::Clock {
        &self.clock
    }

    /// The TLS certificate and key to serve, made on first start.
    pub fn tls_identity(&self, extra_names: &[String]) -> Result<TlsIdentity> {
        let sealer = Sealer::new(&self.device_key, tls::TLS_PURPOSE);
        tls::load_or_create(&*self.raw, &sealer, extra_names)
    }

    /// Initial provisioning: creates the domain key, wraps it under the unlock passphrase,
    /// creates `admin` (Administrator), and ends Operational. All of it is one atomic commit,
    /// so a crash leaves the node either Unprovisioned or fully provisioned.
    pub fn provision(&self, req: Provision<'_>) -> Result<()> {
        self.require_state(SystemState::Unprovisioned)?;
        req.unlock_passphrase.check_length("unlockPassphrase")?;
        req.admin_passphrase.check_length("adminPassphrase")?;
        req.unlock_passphrase.check_strength("unlockPassphrase")?;
        let offset = self
            .clock
            .offset_to(clock::parse_utc("systemTime", req.system_time)?);

        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        self.require_state(SystemState::Unprovisioned)?;
        if let Some(c) = &self.cluster {
            c.note_unlock(&*self.raw)?;
        }
        let keys = DomainKeys::first(crypto::random_key());
        let unlock = UnlockRecord::new(req.unlock_passphrase, &keys)?;
        let admin = UserRecord::new(
            "",
            Role::Administrator,
            crypto::make_verifier(req.admin_passphrase.as_bytes())?,
        );
        let keys_version = keys.version;
        let unlocked = Unlocked::new(self.raw.clone(), keys);
        let data = &unlocked.data;
        let user_data = Txn::new()
            .put(user_path(ADMIN_USER), json(&admin)?)
            // Records whose absence would read as "open": they exist from the start.
            .put(passkeys::COMPANY_0_PATH, passkeys::initial_company_record())
            .put(system::BACKUP_KEY_PATH, system::BACKUP_KEY_UNSET)
            .put(clock::TIME_OFFSET_PATH, offset.to_string());
        // An administrator's TLS identity outlives a factory reset: backups carry it again.
        let user_data = match self.tls_backup_copy()? {
            Some(copy) => user_data.put(tls::TLS_BACKUP_PATH, copy.to_vec()),
            None => user_data,
        };
        let txn = Txn::new()
            .require_absent(UNLOCK_PATH)
            .put(UNLOCK_PATH, json(&unlock)?)
            .merge(data.seal_txn(user_data));
        let txn = self.put_guard(txn, keys_version);
        // Provisioning always starts the trail, so a provisioned store always has a head.
        let genesis = audit::NewAuditEvent::by_core(None, "provision", "");
        // The clock offset just set applies to the first event's time too.
        self.time_offset.store(offset, Ordering::Relaxed);
        match self.commit_audited_or(data, txn, genesis)? {
            Commit::Committed(revision) => self.guard_from(data, revision),
            // Another node sharing the store provisioned first.
            Commit::Conflict => {
                self.time_offset.store(0, Ordering::Relaxed);
                return Err(Error::WrongState(SystemState::Locked));
            }
        }
        self.set_inner(Inner::Operational(Arc::new(unlocked)));
        tracing::info!("provisioned");
        Ok(())
    }

    /// Brings a Locked node to Operational with the unlock passphrase.
    pub fn unlock(&self, passphrase: &Passphrase) -> Result<()> {
        self.require_state(SystemState::Locked)?;
        passphrase.check_length("passphrase")?;
        let _guard = self.transition.lock().unwrap_or_else(|e| e.into_inner());
        self.require_state(SystemState::Locked)?;
        let entry = self
            .raw
            .get(UNLOCK_PATH)?
            .ok_or_else(|| Error::Internal("provisioned store has no unlock record".into()))?;
        let record: UnlockRecord = serde_json::from_slice(&entry.value).map_err(Error::internal)?;
        let keys = record.open(passphrase)?;
        self.become_operational(keys)?;
        tracing::info!("unlocked");
        self.refresh_unattended();
        self.upgrade_unlock_record(&record, entry.revision, passphrase);
        Ok(())
    }
}

impl System<'_> {
    /// Forgets the domain key: nothing can be read until the next unlock.
    pub fn lock(&self) -> Result<()> {
        let (core, _, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        let _guard = core.transition.lock().unwrap_or_else(|e| e.into_inner());
        // The lock is recorded while the trail can still be written (read again under the
        // transition lock: another transition may have come first).
        let u = core.unlocked()?;
        match &core.cluster {
            // The other nodes follow this record and lock too. A node whose key another
            // node's rotation replaced cannot write it (the guard refuses), but locks all the
            // same: the rotation locks the others already.
            Some(c) => match core.commit_audited(&u.data, c.lock_txn()) {
                Err(Error::Store(strongroom_store::StoreError::GuardMoved(_))) => {}
                other => {
                    other?;
                }
            },
            None => {
                core.commit_data(&u, Txn::new())?;
            }
        }
        drop(u);
        core.forget_keys();
        tracing::info!(by = %who.user_id, "locked");
        Ok(())
    }
}

impl Core {
    /// The cached result of a recent successful [`Core::authenticate`], if any. Never blocks
    /// (no store I/O, no Argon2), so async callers may try it before going to a blocking
    /// thread.
    pub fn authenticate_cached(&self, user_id: &str, passphrase: &[u8]) -> Option<Principal> {
        if self.state() != SystemState::Operational || !self.caches_trusted() {
            return None;
        }
        self.auth_cache
            .get(&self.auth_cache.mac(user_id, passphrase))
    }

    /// Checks a user's passphrase, on every face. Successful checks are cached briefly (see
    /// [`auth_cache`]); unknown users cost the same time as known ones; a namespaced user can
    /// log in only once its namespace exists. `Busy` if the Argon2 gate is full.
    pub fn authenticate(&self, user_id: &str, passphrase: &[u8]) -> Result<Principal> {
        self.authenticate_admitted(crypto::admit()?, user_id, passphrase)
    }

    /// [`Core::authenticate`] with a place at the Argon2 gate taken already (async callers take
    /// it before they go to a blocking thread, so a flood is refused without a thread each).
    pub fn authenticate_admitted(
        &self,
        admission: crypto::Admission,
        user_id: &str,
        passphrase: &[u8],
    ) -> Result<Principal> {
        let unlocked = self.unlocked()?;
        let mac = self.auth_cache.mac(user_id, passphrase);
        if let Some(principal) = self.auth_cache.get(&mac) {
            if self.caches_trusted() {
                return Ok(principal);
            }
            // The change feed is not confirmed (cluster mode): the user's record, read now,
            // says whether the verification still stands.
            if self.verification_stands(&unlocked, user_id, &principal)? {
                return Ok(principal);
            }
        }
        let generation = self.auth_cache.generation(user_id);
        let user = match UserId::parse(user_id) {
            Ok(id) => {
                let namespace_ok = match id.namespace {
                    Some(ns) => unlocked.data.get(&namespace_path(ns))?.is_some(),
                    None => true,
                };
                match self.read_user(&unlocked, user_id)? {
                    Some((user, revision)) if namespace_ok => Some((user, revision)),
                    _ => None,
                }
            }
            // No user can have this id, and every caller knows that: no need to spend a check.
            Err(_) => return Err(Error::Unauthenticated),
        };
        let Some((user, revision)) = user else {
            crypto::check_dummy_verifier_admitted(admission, passphrase);
            return Err(Error::Unauthenticated);
        };
        if !crypto::check_verifier_admitted(admission, passphrase, &user.verifier) {
            return Err(Error::Unauthenticated);
        }
        let mut principal = Principal::new(user_id, user.role);
        principal.verified_at = Some(generation);
        // An upgrade of the verifier below moves the record on: then only the generation
        // guards a session opened with this check.
        principal.verified_revision =
            crypto::verifier_is_current(&user.verifier).then_some(revision);
        self.upgrade_verifier(&unlocked, user_id, passphrase, &user.verifier);
        self.auth_cache.insert(mac, principal.clone(), generation);
        Ok(principal)
    }

    /// Whether a cached verification of `user_id` still holds by the store as it is now: the
    /// user's record at the revision the passphrase was checked against, and its namespace
    /// there. `false` when that revision is unknown (the verifier was upgraded since).
    fn verification_stands(
        &self,
        unlocked: &Unlocked,
        user_id: &str,
        principal: &Principal,
    ) -> Result<bool> {
        let Some(verified) = principal.verified_revision else {
            return Ok(false);
        };
        let Ok(id) = UserId::parse(user_id) else {
            return Ok(false);
        };
        if let Some(ns) = id.namespace
            && unlocked.data.get(&namespace_path(ns))?.is_none()
        {
            return Ok(false);
        }
        Ok(
            matches!(self.read_user(unlocked, user_id)?, Some((_, revision)) if revision == verified),
        )
    }

    /// A digest that stands for (user id, passphrase) in this process only, so callers can
    /// tell that two requests carry the same credentials without keeping them.
    pub fn credentials_digest(&self, user_id: &str, passphrase: &[u8]) -> [u8; 32] {
        self.auth_cache.mac(user_id, passphrase)
    }
}

impl System<'_> {
    /// Whether unattended boot is on: the domain key is also sealed under the device key, so
    /// the node starts Operational without the unlock passphrase.
    pub fn unattended_boot(&self) -> Result<bool> {
        let (core, _, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        Ok(core.raw.get(UNATTENDED_PATH)?.is_some())
    }

    pub fn set_unattended_boot(&self, on: bool) -> Result<()> {
        let (core, unlocked, who) = self.parts();
        self.require(Access::RootAdministrator)?;
        // A rotation switches the keys under this lock: the key sealed here is the one in use.
        let _guard = core.transition.lock().unwrap_or_else(|e| e.into_inner());
        let txn = if on {
            let sealed = core.seal_unattended(&unlocked.keys());
            Txn::new().put(UNATTENDED_PATH, sealed)
        } else {
            Txn::new().delete(UNATTENDED_PATH)
        };
        core.commit_audited(&unlocked.data, txn)?;
        tracing::info!(by = %who.user_id, on, "unattended boot changed");
        Ok(())
    }

    pub fn info(&self) -> Result<SystemInfo> {
        let (core, _, _) = self.parts();
        self.require(Access::RootAdministrator)?;
        let id = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &[b"strongroom device id".as_slice(), core.device_key.as_ref()].concat(),
        );
        Ok(SystemInfo {
            software_version: env!("CARGO_PKG_VERSION"),
            device_id: hex::encode_upper(&id.as_ref()[..5]),
        })
    }
}

impl Core {
    #[cfg(test)]
    fn domain_key_for_test(&self) -> Option<[u8; 32]> {
        self.unlocked().ok().map(|u| *u.keys().current)
    }
}

/// Creates the data directory (mode 0700) if missing, and checks it (see [`device`]).
fn prepare_data_dir(data_dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(|e| Error::Internal(format!("creating {}: {e}", data_dir.display())))?;
    device::check_data_dir(data_dir)
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::internal)
}

/// Writes the schema version into a new store, moves an older one forward, or refuses one
/// this build cannot read (see [`schema`]).
fn check_schema(store: &dyn Store) -> Result<()> {
    schema::check_and_migrate(store)
}

#[cfg(test)]
mod tests;
