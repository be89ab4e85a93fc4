//! Cluster mode: `serve --store etcd://HOST:PORT[,HOST:PORT...]` runs this node on an etcd
//! cluster shared with the other nodes (see `docs/cluster.md` and `strongroom_core::cluster`).
//! The settings are read in every build; opening the store needs the cargo feature `etcd`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use strongroom_core::{Core, CoreSettings};

/// The key prefix in etcd when the configuration file gives none.
pub const DEFAULT_KEY_PREFIX: &str = "strongroom/";
/// The lock file in the data directory that keeps a second server off this node.
pub const NODE_LOCK_FILE: &str = "node.lock";
/// The bound on each call to etcd when the configuration file gives none (the etcd
/// backend's own default).
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 5;

/// The `[etcd]` table of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdFile {
    /// Prefix of every key the cluster writes in etcd [default: `strongroom/`]; end it with `/`.
    pub key_prefix: Option<String>,
    /// An etcd user (etcd's own authentication), with its password in `password_file`.
    pub user: Option<String>,
    /// A file holding the etcd user's password (one line): never the password itself, so it
    /// is never in the configuration the server prints.
    pub password_file: Option<PathBuf>,
    /// The CA of the members' certificates: TLS to etcd (`https://`) when given.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key, for etcd's `--client-cert-auth`.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The name to verify in the members' certificates, if not the endpoint's host.
    pub tls_domain: Option<String>,
    /// The bound on each call to etcd, in seconds [default: 5].
    pub request_timeout_secs: Option<u64>,
    /// etcd's `--max-txn-ops` [default: 128] and `--max-request-bytes` [default: 1572864].
    pub max_txn_ops: Option<usize>,
    pub max_request_bytes: Option<usize>,
    /// `[etcd.member]`: this node runs its own etcd member ([`crate::cluster_member`]).
    pub member: Option<crate::cluster_member::MemberFile>,
}

/// Where the shared store is: the members' `host:port` and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStore {
    pub members: Vec<String>,
    pub etcd: EtcdFile,
}

impl fmt::Display for ClusterStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcd://{}", self.members.join(","))
    }
}

impl ClusterStore {
    /// The store a `--store` value names: `None` (the embedded store) without one.
    pub fn resolve(store: Option<&str>, etcd: Option<EtcdFile>) -> anyhow::Result<Option<Self>> {
        let Some(store) = store else {
            if etcd.is_some() {
                anyhow::bail!("the config file has an [etcd] table but no store = \"etcd://...\"");
            }
            return Ok(None);
        };
        let list = store.strip_prefix("etcd://").with_context(|| {
            format!("store {store:?}: only etcd://HOST:PORT[,HOST:PORT...] is known")
        })?;
        let mut members = Vec::new();
        for member in list.split(',') {
            let (host, port) = member
                .rsplit_once(':')
                .filter(|(h, _)| !h.is_empty() && !h.contains('/'))
                .with_context(|| format!("store {store:?}: {member:?} is not HOST:PORT"))?;
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .with_context(|| format!("store {store:?}: {port:?} is not a port"))?;
            members.push(format!("{host}:{port}"));
        }
        let etcd = etcd.unwrap_or_default();
        if etcd.user.is_some() != etcd.password_file.is_some() {
            anyhow::bail!("[etcd]: user and password_file go together");
        }
        if etcd.cert_file.is_some() != etcd.key_file.is_some() {
            anyhow::bail!("[etcd]: cert_file and key_file go together");
        }
        if let Some(prefix) = &etcd.key_prefix
            && !prefix.ends_with('/')
        {
            anyhow::bail!("[etcd]: key_prefix {prefix:?} must end with '/'");
        }
        if etcd.request_timeout_secs == Some(0) {
            anyhow::bail!("[etcd]: request_timeout_secs must be at least 1");
        }
        if let Some(member) = &etcd.member {
            member.validate(&members)?;
        }
        Ok(Some(Self { members, etcd }))
    }

    /// The members' client URLs: `https://` when TLS is set up, else `http://`.
    pub fn endpoints(&self) -> Vec<String> {
        let scheme = if self.etcd.ca_file.is_some() || self.etcd.cert_file.is_some() {
            "https"
        } else {
            "http"
        };
        self.members
            .iter()
            .map(|m| format!("{scheme}://{m}"))
            .collect()
    }
}

/// Held while the server runs: a second server on the same data directory (the same node)
/// is refused. The embedded store's own file lock does this on a single node.
#[derive(Debug)]
pub struct NodeLock(
    #[allow(dead_code)] std::fs::File,
    /// The etcd member this node supervises, stopped when the lock is dropped.
    #[allow(dead_code)]
    Option<crate::cluster_member::LocalMember>,
);

fn lock_node(data_dir: &Path) -> anyhow::Result<NodeLock> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let path = data_dir.join(NODE_LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        anyhow::bail!(
            "{} is locked: another server runs on this data directory",
            path.display()
        );
    }
    Ok(NodeLock(file, None))
}

/// What NetHSM's `/cluster/members` reaches on a node of a cluster: the membership of the
/// etcd cluster its store runs on, and what a joining node needs to find that store.
#[derive(Clone)]
pub struct ClusterMembership {
    pub members: std::sync::Arc<dyn strongroom_store::membership::Membership>,
    /// The etcd members' client URLs this node uses.
    pub endpoints: Vec<String>,
    /// The prefix of every key the cluster writes in etcd.
    pub key_prefix: String,
    /// The members' recent health answers (`GET /cluster/members`).
    pub health: std::sync::Arc<crate::cluster_health_cache::MemberHealthCache>,
}

/// Opens this node on the cluster's store (see [`Core::open_cluster`]).
pub fn open(
    data_dir: &Path,
    store: &ClusterStore,
    settings: CoreSettings,
) -> anyhow::Result<(Core, NodeLock, ClusterMembership)> {
    // Made by the core if missing; locked before anything in it is written (the local etcd
    // member's data included).
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut lock = lock_node(data_dir)?;
    let shared = match &store.etcd.member {
        Some(member) => {
            let limits = (store.etcd.max_txn_ops, store.etcd.max_request_bytes);
            let local = crate::cluster_member::LocalMember::start(data_dir, member, limits)?;
            let shared = local.wait_until(member.start_timeout(), || open_shared(store))?;
            lock.1 = Some(local);
            shared
        }
        None => open_shared(store)?,
    };
    let (shared, members) = shared;
    let membership = ClusterMembership {
        members,
        endpoints: store.endpoints(),
        key_prefix: key_prefix(store).to_owned(),
        health: Default::default(),
    };
    let core = Core::open_cluster(data_dir, shared, settings)
        .with_context(|| format!("opening this node of {store} in {}", data_dir.display()))?;
    Ok((core, lock, membership))
}

fn key_prefix(store: &ClusterStore) -> &str {
    store
        .etcd
        .key_prefix
        .as_deref()
        .unwrap_or(DEFAULT_KEY_PREFIX)
}

/// The store and its membership API.
type Shared = (
    strongroom_store::DynStore,
    std::sync::Arc<dyn strongroom_store::membership::Membership>,
);

#[cfg(feature = "etcd")]
fn open_shared(store: &ClusterStore) -> anyhow::Result<Shared> {
    use strongroom_store::etcd::{EtcdCredentials, EtcdSettings, EtcdStore, EtcdTls};

    let e = &store.etcd;
    let mut settings = EtcdSettings::new(store.endpoints()).with_key_prefix(key_prefix(store));
    if let (Some(user), Some(file)) = (&e.user, &e.password_file) {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the etcd password file {}", file.display()))?,
        );
        settings.credentials = Some(EtcdCredentials {
            user: user.clone(),
            password: text.trim_end_matches(['\r', '\n']).to_owned(),
        });
    }
    if e.ca_file.is_some() || e.cert_file.is_some() {
        settings.tls = Some(EtcdTls {
            ca_file: e.ca_file.clone(),
            client_cert_file: e.cert_file.clone(),
            client_key_file: e.key_file.clone(),
            domain: e.tls_domain.clone(),
        });
    }
    if let Some(secs) = e.request_timeout_secs {
        settings.request_timeout = std::time::Duration::from_secs(secs);
    }
    if let Some(n) = e.max_txn_ops {
        settings.max_txn_ops = n;
    }
    if let Some(n) = e.max_request_bytes {
        settings.max_request_bytes = n;
    }
    // Opened as the engine would (`Engine::Etcd`), keeping its membership API at hand.
    let etcd = EtcdStore::open(&settings).with_context(|| format!("opening the store {store}"))?;
    let members = std::sync::Arc::new(etcd.members());
    Ok((std::sync::Arc::new(etcd), members))
}

#[cfg(not(feature = "etcd"))]
fn open_shared(store: &ClusterStore) -> anyhow::Result<Shared> {
    anyhow::bail!(
        "store {store}: this build has no etcd backend; build with the cargo feature `etcd` (docs/cluster.md)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_parse_or_are_refused() {
        let s = ClusterStore::resolve(Some("etcd://10.0.0.1:2379,h2:2380"), None)
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoints(), ["http://10.0.0.1:2379", "http://h2:2380"]);
        assert_eq!(s.to_string(), "etcd://10.0.0.1:2379,h2:2380");
        let tls = EtcdFile {
            ca_file: Some("/ca.pem".into()),
            ..Default::default()
        };
        let s = ClusterStore::resolve(Some("etcd://h:1"), Some(tls))
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoints(), ["https://h:1"]);
        assert!(ClusterStore::resolve(None, None).unwrap().is_none());
        for bad in [
            "redb://x",
            "etcd://",
            "etcd://h",
            "etcd://h:0",
            "etcd://h:x",
            "etcd://:1",
            "etcd://h:1,",
        ] {
            assert!(ClusterStore::resolve(Some(bad), None).is_err(), "{bad}");
        }
        let half = EtcdFile {
            user: Some("u".into()),
            ..Default::default()
        };
        assert!(ClusterStore::resolve(Some("etcd://h:1"), Some(half)).is_err());
        let prefix = EtcdFile {
            key_prefix: Some("sr".into()),
            ..Default::default()
        };
        assert!(ClusterStore::resolve(Some("etcd://h:1"), Some(prefix)).is_err());
        assert!(ClusterStore::resolve(None, Some(EtcdFile::default())).is_err());
    }
}
