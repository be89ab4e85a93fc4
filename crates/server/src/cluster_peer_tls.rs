//! Peer TLS for the etcd member a node supervises ([`crate::cluster_member`]): with an
//! `https://` peer URL the member authenticates its peers with the cluster CA
//! (`PUT /config/tls/cluster-ca.pem`) and presents the node's own TLS certificate, so only
//! nodes holding a certificate from that CA can be peers.
//!
//! The CA and the node's identity live in the store, which the member itself serves: the
//! member needs them before etcd answers. So the node keeps a copy in
//! `<data-dir>/etcd-peer-tls/`: the CA and the certificate as PEM (public), the private key
//! sealed under the device key (as it is in the store). The key reaches etcd through an
//! inherited, sealed memfd (`--peer-key-file=/dev/fd/N`), never a file; etcd opens that path
//! again at each handshake, which reopens the same memory.
//!
//! The copy is refreshed whenever the served identity or the CA change on this node (both
//! are node-local records, changed only through this node's API), and the member is
//! restarted with the new material, as the spec says of the CA.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use strongroom_core::Core;
use strongroom_store::sealed::Sealer;
use zeroize::Zeroizing;

/// The directory of the copy, under the data directory.
pub const PEER_TLS_DIR: &str = "etcd-peer-tls";
pub const CA_FILE: &str = "cluster-ca.pem";
pub const CERT_FILE: &str = "cert.pem";
/// The node's TLS key, sealed under the device key.
pub const KEY_FILE: &str = "key.sealed";
const KEY_PURPOSE: &str = "strongroom/etcd-peer-key/v1";

/// The CA, the node's certificate (with its chain) and its key.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerMaterial {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for PeerMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerMaterial").finish_non_exhaustive()
    }
}

fn sealer(data_dir: &Path) -> anyhow::Result<Sealer> {
    let device = strongroom_core::device::load_or_create(
        &data_dir.join(strongroom_core::DEVICE_KEY_FILE),
        false,
        false,
    )
    .context("reading the device key, which seals the etcd member's peer key")?;
    Ok(Sealer::new(&device, KEY_PURPOSE))
}

impl PeerMaterial {
    /// What the store holds now: `None` while no cluster CA is set on this node.
    pub fn from_core(core: &Core) -> anyhow::Result<Option<Self>> {
        let Some(ca_pem) = core.cluster_ca_pem()? else {
            return Ok(None);
        };
        let id = core
            .stored_tls_identity()?
            .context("no TLS identity is stored")?;
        Ok(Some(Self {
            ca_pem,
            cert_pem: id.cert_pem,
            key_pem: id.key_pem,
        }))
    }

    /// The node's copy; `None` when it has none (no CA was ever set with this feature).
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<Self>> {
        let dir = data_dir.join(PEER_TLS_DIR);
        let read = |name: &str| -> anyhow::Result<Option<Vec<u8>>> {
            match std::fs::read(dir.join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {}", dir.join(name).display())),
            }
        };
        let (Some(ca), Some(cert), Some(key)) = (read(CA_FILE)?, read(CERT_FILE)?, read(KEY_FILE)?)
        else {
            return Ok(None);
        };
        let key = sealer(data_dir)?.open(KEY_FILE, &key).map_err(|_| {
            anyhow::anyhow!(
                "{} does not open with the device key",
                dir.join(KEY_FILE).display()
            )
        })?;
        let key_pem = Zeroizing::new(
            String::from_utf8(key.to_vec()).context("the sealed peer key is not PEM text")?,
        );
        Ok(Some(Self {
            ca_pem: String::from_utf8(ca).context("the cluster CA copy is not PEM text")?,
            cert_pem: String::from_utf8(cert).context("the certificate copy is not PEM text")?,
            key_pem,
        }))
    }

    /// Writes the copy, each file whole (a rename), so etcd never reads half of one.
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = data_dir.join(PEER_TLS_DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let sealed = sealer(data_dir)?.seal(KEY_FILE, self.key_pem.as_bytes());
        for (name, bytes) in [
            (CA_FILE, self.ca_pem.as_bytes()),
            (CERT_FILE, self.cert_pem.as_bytes()),
            (KEY_FILE, &sealed[..]),
        ] {
            let next = dir.join(format!("{name}.next"));
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let _ = std::fs::remove_file(&next);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&next)?;
                f.write_all(bytes)?;
                f.sync_all()?;
                std::fs::rename(&next, dir.join(name))
            };
            write().with_context(|| format!("writing {}", dir.join(name).display()))?;
        }
        Ok(())
    }
}

/// A memfd holding `key_pem`, sealed against change, close-on-exec: the spawn clears that
/// flag in the child only ([`clear_cloexec`]).
pub fn key_memfd(key_pem: &str) -> anyhow::Result<OwnedFd> {
    let name = c"etcd-peer-key";
    // SAFETY: a valid C string; the descriptor returned is owned here.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create for the peer key");
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(owned);
    std::io::Write::write_all(&mut file, key_pem.as_bytes())
        .context("writing the peer key memfd")?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a descriptor this function owns.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error()).context("sealing the peer key memfd");
    }
    Ok(OwnedFd::from(file))
}

/// In a forked child before exec: lets descriptor `fd` through the exec.
/// Async-signal-safe (one fcntl).
pub fn clear_cloexec(fd: i32) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor the child inherited; no memory is involved.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The supervised member whose copy this process keeps, set by [`crate::cluster::open`].
static SUPERVISED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Records that this process supervises a member with its data under `data_dir`.
pub fn supervise(data_dir: &Path) {
    *SUPERVISED.lock().unwrap_or_else(|e| e.into_inner()) = Some(data_dir.to_owned());
}

/// Brings the node's copy up to the store's CA and identity, and restarts the member with it
/// when it runs with peer TLS. Nothing when this node supervises no member, or no CA is set.
/// Called at start and after every change of the served identity or of the CA.
pub fn refresh(core: &Core) -> anyhow::Result<()> {
    let guard = SUPERVISED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(data_dir) = guard.as_deref() else {
        return Ok(());
    };
    let Some(now) = PeerMaterial::from_core(core)? else {
        return Ok(());
    };
    if PeerMaterial::load(data_dir).ok().flatten().as_ref() == Some(&now) {
        return Ok(());
    }
    now.save(data_dir)?;
    tracing::info!(
        "the etcd member's peer TLS copy was updated (cluster CA or node certificate changed)"
    );
    crate::cluster_member::restart_with_peer_key(&now.key_pem);
    Ok(())
}

/// [`refresh`], logged rather than returned: the change it follows is committed already.
pub fn refresh_logged(core: &Core) {
    if let Err(e) = refresh(core) {
        tracing::error!(error = %format!("{e:#}"), "cannot update the etcd member's peer TLS material");
    }
}
