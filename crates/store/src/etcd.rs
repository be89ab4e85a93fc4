//! The cluster backend: the store kept in an etcd cluster (cargo feature `etcd`).
//!
//! Layout: each path is one etcd key, `key_prefix || path`, holding the value as the layer
//! above gave it (sealed by [`crate::sealed::Sealed`] exactly as on redb: etcd never sees a
//! secret in clear). The prefix lets several stores share one etcd (nodes' local parts,
//! tests). A key's revision is etcd's `mod_revision`: etcd's revision is store-wide and each
//! transaction that writes gets one new revision for all its writes, which is what
//! [`Entry::revision`] promises (revisions grow by more than one when other prefixes are
//! written in between, which the trait allows).
//!
//! - [`Store::commit`] is one etcd transaction: the checks become compares
//!   (`create_revision == 0` for absence, `mod_revision == r` for a revision), the writes its
//!   success branch. etcd refuses a transaction over its limits (128 operations, 1.5 MiB by
//!   default) as a whole; this store refuses it before sending, with a clear error, and never
//!   splits it: nothing is half-applied.
//! - [`Store::snapshot`] reads at the etcd revision current when it was taken.
//! - [`Store::watch`]: the store keeps one etcd watch of its whole prefix (started by the
//!   first watch) feeding one [`ChangeFeed`], so every watcher gets a commit in the same
//!   publication; a watcher starts at the revision after the current one, so it gets every
//!   commit that lands after it returns. A commit that changed something returns once the
//!   feed has published it (bounded by the request timeout), as on redb. The etcd watch
//!   resumes after a lost connection from the revision after the last one it delivered, and
//!   cuts the watchers off (lagged) only if etcd compacted that history away.
//!
//! etcd-client is async and the trait is not: the store owns a small tokio runtime and hands
//! each call to it, waiting on a std channel, so the store may be called from any thread,
//! inside another runtime or not. Every call is bounded by the request timeout: etcd down or
//! without quorum is an error, never a hang.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, Identity,
    TlsOptions, Txn as EtcdTxn, TxnOp, TxnOpResponse, WatchOptions, WatchStream,
};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::watch::{ChangeFeed, ChangeKind, Watcher};
use crate::{Check, Commit, Entry, Op, Page, Result, Snapshot, Store, StoreError, Txn};
use generation::Generation;

/// etcd's default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;
/// etcd's default `--max-request-bytes` (1.5 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// Where the etcd cluster is and how to talk to it. Holds no credential in clear in its
/// `Debug` (it is printed at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdSettings {
    /// Client URLs of the members, such as `http://10.0.0.1:2379` (or `https://` with
    /// [`EtcdSettings::tls`]).
    pub endpoints: Vec<String>,
    /// Prepended to every path; empty for the whole keyspace. End it with a separator
    /// (`strongroom/`) so that one prefix is never the start of another.
    pub key_prefix: String,
    pub credentials: Option<EtcdCredentials>,
    pub tls: Option<EtcdTls>,
    /// The bound on each call, including waiting for a quorum.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// The cluster's `--max-txn-ops`: a transaction with more checks or more writes is
    /// refused before it is sent.
    pub max_txn_ops: usize,
    /// The cluster's `--max-request-bytes`: a transaction estimated larger is refused before
    /// it is sent.
    pub max_request_bytes: usize,
    /// The life of the lease on a restore's hold (see `generation`): writes wait at most
    /// this long for a restorer that died mid-way.
    pub restore_lease_ttl: Duration,
}

impl EtcdSettings {
    /// Settings for these endpoints with etcd's default limits, no prefix, no credentials,
    /// no TLS, 5 s timeouts.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            key_prefix: String::new(),
            credentials: None,
            tls: None,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            restore_lease_ttl: Duration::from_secs(10),
        }
    }

    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }
}

/// An etcd user and its password (etcd's own authentication).
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdCredentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for EtcdCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Drop for EtcdCredentials {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.password);
    }
}

/// TLS to etcd: PEM files, read when the store opens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EtcdTls {
    /// The CA that signed the members' certificates (else the platform's roots do not
    /// apply: etcd-client is built without them, so give it).
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key, for etcd's `--client-cert-auth`.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// The name to verify in the members' certificates, if not the endpoint's host.
    pub domain: Option<String>,
}

/// The store over an etcd cluster. See the module documentation.
pub struct EtcdStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.inner.endpoints)
            .field("key_prefix", &self.inner.prefix)
            .finish()
    }
}

struct Inner {
    /// Taken out on drop, to be shut down off the caller's thread (see `Drop`).
    runtime: Option<Runtime>,
    handle: Handle,
    client: Client,
    /// How the client connected (TLS, credentials, timeouts), for the membership's health
    /// checks, which reach each member on its own. Never printed: it holds the password.
    connect_options: ConnectOptions,
    prefix: String,
    endpoints: String,
    request_timeout: Duration,
    max_txn_ops: usize,
    max_request_bytes: usize,
    restore_lease_ttl: Duration,
    /// The generation this store last saw the pointer name (see `generation`).
    generation: Mutex<Generation>,
    /// A test's stand-in for a restorer killed mid-way: the restore stops, cleaning
    /// nothing, at this batch (0: never).
    #[cfg(test)]
    die_after_batches: std::sync::atomic::AtomicUsize,
    /// The highest etcd revision this store has seen in a response: on drop, its watchers
    /// get everything up to it before they learn the store closed.
    seen: AtomicU64,
    /// Every watcher's feed, fed by one etcd watch of the whole prefix, so a commit reaches
    /// all watchers in one publication, as on redb.
    feed: Arc<ChangeFeed>,
    feed_task: FeedTask,
    published: Arc<Published>,
    /// Tells the watch tasks the store is closing, and up to which revision to deliver.
    closing: tokio::sync::watch::Sender<Option<u64>>,
    /// Tells the watch task to reopen its etcd watch ([`Store::restart_watch`]).
    restart: Arc<tokio::sync::Notify>,
}

/// The store's own key written by [`Store::sync_point`] when the feed has no event to show.
const SYNC_MARK: &str = "\0sync";
/// How long [`Store::sync_point`] waits for the feed before it writes the mark instead.
const SYNC_PATIENCE: Duration = Duration::from_millis(100);

/// How long a closing store waits for its watchers to catch up before cutting them.
const CLOSE_PATIENCE: Duration = Duration::from_secs(3);

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.closing.send(Some(self.seen.load(Ordering::Acquire)));
        // Kept alive until the drain ends: a dropped sender tells the tasks to stop at once.
        let closing = std::mem::replace(&mut self.closing, tokio::sync::watch::channel(None).0);
        let tasks: Vec<_> = lock(&self.feed_task).take().into_iter().collect();
        if let Some(runtime) = self.runtime.take() {
            // Waiting here would block (or panic, inside another runtime) whoever dropped
            // the store: a thread of its own lets the watchers drain, then ends the runtime.
            let spawned = std::thread::Builder::new()
                .name("etcd-store-close".into())
                .spawn(move || {
                    runtime.block_on(async {
                        let all = futures_join(tasks);
                        let _ = tokio::time::timeout(CLOSE_PATIENCE, all).await;
                    });
                    drop(closing);
                    runtime.shutdown_background();
                });
            if let Err(e) = spawned {
                // No thread: the runtime (and the watchers) end now, without draining.
                eprintln!("etcd store: cannot start its closing thread: {e}");
            }
        }
    }
}

/// How far the feed has published, for commits to wait on: a commit returns once every
/// watcher has its changes, as on redb, so a watcher never sees a change that another
/// watcher of the same store does not have yet.
#[derive(Default)]
struct Published {
    revision: Mutex<u64>,
    advanced: std::sync::Condvar,
}

impl Published {
    fn advance(&self, revision: u64) {
        let mut r = lock(&self.revision);
        if revision > *r {
            *r = revision;
            self.advanced.notify_all();
        }
    }
}

/// The task following etcd for the feed: `None` before the first watch, and after the task
/// stopped because etcd compacted the history it was to resume from (the next watch starts
/// it again). Its lock orders that stop against new watchers.
type FeedTask = Arc<Mutex<Option<JoinHandle<()>>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

fn etcd_error(what: &str, endpoints: &str, e: etcd_client::Error) -> StoreError {
    // etcd's messages name keys at most, never values.
    let message = format!("etcd {what} at {endpoints}: {e}");
    if is_unavailable(&e) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Backend(message)
    }
}

/// Runs the call `make` gives until it succeeds or fails otherwise than `retry` says may be
/// retried, backing off between tries; the caller's timeout bounds the whole. A member that
/// stopped, or an election under way, fails a call that another try, on another member or
/// after the election, answers: etcd's own client retries the same way.
async fn retrying<T, F, Fut>(
    retry: fn(&etcd_client::Error) -> bool,
    mut make: F,
) -> std::result::Result<T, etcd_client::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let mut pause = Duration::from_millis(50);
    loop {
        match make().await {
            Err(e) if retry(&e) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// Whether a write that failed so certainly was not applied, so it may be sent again: the
/// member refused it for want of a leader (`--require-leader`: before it looked at it), or
/// no connection could be made. A write whose answer was lost is not retried.
fn write_never_sent(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            i32::from(s.code()) == 14
                && (s.message().contains("no leader") || s.message().contains("connect"))
        }
        _ => false,
    }
}

/// Whether etcd could not be reached or could not answer (down, no leader, no quorum, a
/// timeout), as opposed to refusing the request itself.
fn is_unavailable(e: &etcd_client::Error) -> bool {
    /// gRPC's codes for a call that did not reach an answer: CANCELLED, UNKNOWN (a broken
    /// connection), DEADLINE_EXCEEDED, UNAVAILABLE (etcd's "no leader", "request timed out").
    const UNANSWERED: [i32; 4] = [1, 2, 4, 14];
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => UNANSWERED.contains(&i32::from(s.code())),
        _ => false,
    }
}

/// The key just after every key that starts with `prefix`, as etcd's range end; `[0]` (to
/// the end of the keyspace) for the empty prefix or one of all 0xff bytes.
fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// etcd refuses the empty key: the start of "everything" is the smallest key there is.
fn range_start(key: Vec<u8>) -> Vec<u8> {
    if key.is_empty() { vec![0] } else { key }
}

fn revision_of(header: Option<&etcd_client::ResponseHeader>) -> Result<u64> {
    header
        .map(|h| h.revision() as u64)
        .ok_or_else(|| StoreError::Backend("etcd answered without a response header".into()))
}

impl EtcdStore {
    /// Connects to the cluster and reads its current revision, so an unreachable cluster or
    /// a wrong setting fails here, with the endpoints named.
    pub fn open(settings: &EtcdSettings) -> Result<Self> {
        if settings.endpoints.is_empty() {
            return Err(StoreError::Backend("etcd store: no endpoints given".into()));
        }
        let endpoints = settings.endpoints.join(",");
        let mut options = ConnectOptions::new()
            .with_timeout(settings.request_timeout)
            .with_connect_timeout(settings.connect_timeout)
            // A member that lost its quorum answers "no leader" rather than waiting.
            .with_require_leader(true)
            .with_keep_alive(Duration::from_secs(10), settings.request_timeout);
        if let Some(c) = &settings.credentials {
            // etcd's tokens expire (5 minutes by default): a long-running node must renew.
            options = options
                .with_user(c.user.clone(), c.password.clone())
                .with_auto_token_refresh(true);
        }
        if let Some(tls) = &settings.tls {
            options = options.with_tls(tls_options(tls)?);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("etcd-store")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Backend(format!("etcd store: cannot start its runtime: {e}"))
            })?;
        let handle = runtime.handle().clone();
        let eps = settings.endpoints.clone();
        let connect_options = options.clone();
        let connect = async move { Client::connect(eps, Some(options)).await };
        let client = match call(
            &handle,
            settings.connect_timeout,
            &endpoints,
            "connect",
            connect,
        ) {
            Ok(client) => client,
            Err(e) => {
                // Dropping a runtime blocks, which panics inside another runtime.
                runtime.shutdown_background();
                return Err(e);
            }
        };
        let (closing, _) = tokio::sync::watch::channel(None);
        let store = Self {
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                handle,
                client,
                connect_options,
                prefix: settings.key_prefix.clone(),
                endpoints,
                request_timeout: settings.request_timeout,
                max_txn_ops: settings.max_txn_ops,
                max_request_bytes: settings.max_request_bytes,
                restore_lease_ttl: settings.restore_lease_ttl,
                generation: Mutex::new(Generation::default()),
                #[cfg(test)]
                die_after_batches: std::sync::atomic::AtomicUsize::new(0),
                seen: AtomicU64::new(0),
                feed: Arc::new(ChangeFeed::new()),
                feed_task: Arc::new(Mutex::new(None)),
                published: Arc::new(Published::default()),
                closing,
                restart: Arc::new(tokio::sync::Notify::new()),
            }),
        };
        store.inner.current_revision()?;
        Ok(store)
    }
}

fn tls_options(tls: &EtcdTls) -> Result<TlsOptions> {
    let read = |what: &str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| {
            StoreError::Backend(format!(
                "etcd TLS: cannot read the {what} {}: {e}",
                path.display()
            ))
        })
    };
    let mut options = TlsOptions::new();
    if let Some(ca) = &tls.ca_file {
        options = options.ca_certificate(Certificate::from_pem(read("CA file", ca)?));
    }
    match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => {
            options = options.identity(Identity::from_pem(
                read("client certificate", cert)?,
                read("client key", key)?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(StoreError::Backend(
                "etcd TLS: a client certificate needs its key, and a key its certificate".into(),
            ));
        }
    }
    if let Some(domain) = &tls.domain {
        options = options.domain_name(domain.clone());
    }
    Ok(options)
}

/// Runs `fut` on the store's runtime and waits for it on this thread, up to `timeout`.
fn call<T, F>(handle: &Handle, timeout: Duration, endpoints: &str, what: &str, fut: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = std::result::Result<T, etcd_client::Error>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(tokio::time::timeout(timeout, fut).await);
    });
    match rx.recv() {
        Ok(Ok(Ok(v))) => Ok(v),
        Ok(Ok(Err(e))) => Err(etcd_error(what, endpoints, e)),
        Ok(Err(_)) => Err(StoreError::Unavailable(format!(
            "etcd {what} at {endpoints}: no answer within {timeout:?} (etcd down or without quorum?)"
        ))),
        Err(_) => Err(StoreError::Backend(
            "etcd store: its runtime has stopped".into(),
        )),
    }
}

impl Inner {
    fn call<T, F>(&self, what: &str, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = std::result::Result<T, etcd_client::Error>> + Send + 'static,
    {
        call(
            &self.handle,
            self.request_timeout,
            &self.endpoints,
            what,
            fut,
        )
    }

    /// Waits (bounded) until the feed has published `revision`, if anyone watches.
    fn await_feed(&self, revision: u64) {
        if lock(&self.feed_task)
            .as_ref()
            .is_none_or(|t| t.is_finished())
        {
            return;
        }
        let published = lock(&self.published.revision);
        // On timeout the commit stands; its watchers get it a little later.
        let _ = self
            .published
            .advanced
            .wait_timeout_while(published, self.request_timeout, |r| *r < revision);
    }

    /// Whether the feed has published `revision`, waiting a little for it (a commit that
    /// just landed); true if nothing watches, since then no watcher waits for it.
    fn feed_reaches(&self, revision: u64) -> bool {
        if lock(&self.feed_task)
            .as_ref()
            .is_none_or(|t| t.is_finished())
        {
            return true;
        }
        let deadline = std::time::Instant::now() + SYNC_PATIENCE;
        loop {
            if self.feed.published() >= revision {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Writes the store's sync mark (an empty value, never a path: the feed publishes its
    /// revision and no change) and gives its revision.
    fn sync_mark(&self) -> Result<u64> {
        let kv = self.client.kv_client();
        let key = self.meta_key(SYNC_MARK);
        let resp = self.call("sync mark", async move {
            retrying(write_never_sent, || {
                let (mut kv, key) = (kv.clone(), key.clone());
                async move { kv.put(key, Vec::new(), None).await }
            })
            .await
        })?;
        let revision = revision_of(resp.header())?;
        self.saw(revision);
        Ok(revision)
    }

    fn saw(&self, revision: u64) {
        self.seen.fetch_max(revision, Ordering::AcqRel);
    }

    /// The cluster's current revision and the generation current at it, by a linearizable
    /// read (so the revision is at least that of every commit acknowledged before this
    /// call).
    fn current_revision(&self) -> Result<(u64, Generation)> {
        let kv = self.client.kv_client();
        let key = self.meta_key(generation::POINTER);
        let mut resp = self.call("read", async move {
            retrying(is_unavailable, || {
                let (mut kv, key) = (kv.clone(), key.clone());
                async move { kv.get(key, None).await }
            })
            .await
        })?;
        let revision = revision_of(resp.header())?;
        self.saw(revision);
        let generation = Generation::from_pointer(resp.take_kvs().first())?;
        self.learn(&generation);
        Ok((revision, generation))
    }

    /// A page of `prefix` in the generation current at `at`'s revision (`at` gives both),
    /// or now.
    fn scan_at(
        &self,
        at: Option<(u64, &Generation)>,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        // etcd reads a limit of 0 as "no limit".
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A page is fetched in batches, all at one revision and generation (the first
        // batch's, read with the pointer, unless the caller fixed them), so it is as
        // consistent as one read. A batch whose answer is over the client's message size
        // (4 MiB: values are up to 1.5 MiB each) is halved and fetched again; without this a
        // page of large values could not be read at all.
        let mut pinned = at.map(|(r, g)| (r, g.clone()));
        let mut batch = limit.min(SCAN_BATCH);
        let mut after = start_after.map(str::to_owned);
        let mut page = Vec::new();
        while page.len() < limit {
            let want = batch.min(limit - page.len());
            let fetched = match &pinned {
                None => {
                    let read = |g: &Generation| {
                        let (start, end) =
                            generation::scan_range(self, g, prefix, after.as_deref());
                        vec![TxnOp::get(
                            start,
                            Some(generation::page_options(end, want, None)),
                        )]
                    };
                    self.read_current(&read)?.map(|(g, resp)| {
                        let revision = revision_of(resp.header());
                        let kvs = match resp.op_responses().into_iter().nth(1) {
                            Some(TxnOpResponse::Get(mut got)) => got.take_kvs(),
                            _ => Vec::new(),
                        };
                        (revision, g, kvs)
                    })
                }
                Some((revision, g)) => {
                    let (start, end) = generation::scan_range(self, g, prefix, after.as_deref());
                    if end != [0] && start >= end {
                        return Ok(page);
                    }
                    let options = generation::page_options(end, want, Some(*revision));
                    let kv = self.client.kv_client();
                    let got = self.call("scan", async move {
                        let got = retrying(is_unavailable, || {
                            let (mut kv, start, options) =
                                (kv.clone(), start.clone(), options.clone());
                            async move { kv.get(start, Some(options)).await }
                        });
                        match got.await {
                            Ok(resp) => Ok(Some(resp)),
                            Err(e) if is_too_large(&e) && want > 1 => Ok(None),
                            Err(e) => Err(e),
                        }
                    })?;
                    got.map(|mut resp| (revision_of(resp.header()), g.clone(), resp.take_kvs()))
                }
            };
            let Some((at, generation, kvs)) = fetched else {
                if want <= 1 {
                    return Err(StoreError::Backend(
                        "etcd scan: one value is over the client's message size".into(),
                    ));
                }
                batch = want / 2;
                continue;
            };
            let at = at?;
            self.saw(at);
            pinned.get_or_insert((at, generation.clone()));
            let got = kvs.len();
            for kv in kvs {
                let path = self.path_in(&generation, kv.key())?;
                let revision = kv.mod_revision() as u64;
                let (_, value) = kv.into_key_value();
                after = Some(path.clone());
                page.push((path, Entry { value, revision }));
            }
            if got < want {
                break;
            }
        }
        Ok(page)
    }

    /// The compares of the caller's checks on `generation`, and their estimated size.
    fn compares(&self, generation: &Generation, checks: &[Check]) -> (Vec<Compare>, usize) {
        // Per compare: the key, its field and target, and protobuf's framing.
        const OVERHEAD: usize = 16;
        let mut bytes = 0;
        let compares = checks
            .iter()
            .map(|check| match check {
                Check::Absent(key) => {
                    let key = self.key_in(generation, key);
                    bytes += key.len() + OVERHEAD;
                    Compare::create_revision(key, CompareOp::Equal, 0)
                }
                Check::Revision(key, rev) => {
                    let key = self.key_in(generation, key);
                    bytes += key.len() + OVERHEAD;
                    Compare::mod_revision(
                        key,
                        CompareOp::Equal,
                        i64::try_from(*rev).unwrap_or(i64::MAX),
                    )
                }
            })
            .collect();
        (compares, bytes)
    }

    /// The etcd transaction for `txn` on `generation` (see `generation` for the compares
    /// every commit adds), or a clear refusal if etcd could not take it whole.
    fn etcd_txn(&self, generation: &Generation, txn: Txn) -> Result<EtcdTxn> {
        let (mut compares, mut bytes) = self.compares(generation, &txn.checks);
        let checks = compares.len();
        compares.extend(self.generation_compares(generation));
        bytes += 2 * (self.prefix.len() + 32);
        let ops = plan(&self.data_prefix(generation), txn.ops, &mut bytes);
        let most = compares.len().max(ops.len());
        if most > self.max_txn_ops {
            return Err(StoreError::Backend(format!(
                "a transaction of {checks} checks and {} etcd operations exceeds etcd's limit of {} \
                 operations per transaction (etcd --max-txn-ops); nothing was written",
                ops.len(),
                self.max_txn_ops
            )));
        }
        if bytes > self.max_request_bytes {
            return Err(StoreError::Backend(format!(
                "a transaction of about {bytes} bytes exceeds etcd's request limit of {} bytes \
                 (etcd --max-request-bytes); nothing was written",
                self.max_request_bytes
            )));
        }
        Ok(EtcdTxn::new()
            .when(compares)
            .and_then(ops)
            .or_else(self.refusal_reads()))
    }
}

/// One surviving write of a transaction, before it becomes etcd operations.
enum Planned {
    Put {
        key: String,
        value: Vec<u8>,
    },
    Delete {
        key: String,
    },
    /// A prefix delete, sparing the keys the transaction puts after it.
    DeletePrefix {
        prefix: String,
        spare: BTreeSet<String>,
    },
}

/// The transaction's writes as etcd operations with the same effect. etcd refuses a
/// transaction that puts a key twice, or puts a key inside a range it deletes; the trait
/// applies writes in order, so the later write of a key wins: a put or delete superseded by
/// a later write of its key is dropped, and a prefix delete spares the keys put after it
/// (split around them). Adds the estimated request size to `bytes`.
fn plan(prefix: &str, ops: Vec<Op>, bytes: &mut usize) -> Vec<TxnOp> {
    let mut slots: Vec<Option<Planned>> = Vec::with_capacity(ops.len());
    let mut put_at: HashMap<String, usize> = HashMap::new();
    let mut delete_at: HashMap<String, usize> = HashMap::new();
    for op in ops {
        match op {
            Op::Put { key, value } => {
                if let Some(i) = put_at.remove(&key) {
                    slots[i] = None;
                }
                if let Some(i) = delete_at.remove(&key) {
                    slots[i] = None;
                }
                for slot in slots.iter_mut().flatten() {
                    if let Planned::DeletePrefix { prefix, spare } = slot
                        && key.starts_with(prefix.as_str())
                    {
                        spare.insert(key.clone());
                    }
                }
                put_at.insert(key.clone(), slots.len());
                slots.push(Some(Planned::Put { key, value }));
            }
            Op::Delete { key } => {
                if let Some(i) = put_at.remove(&key) {
                    slots[i] = None;
                }
                if delete_at.contains_key(&key) {
                    continue;
                }
                delete_at.insert(key.clone(), slots.len());
                slots.push(Some(Planned::Delete { key }));
            }
            Op::DeletePrefix { prefix } => {
                put_at.retain(|key, i| {
                    let doomed = key.starts_with(prefix.as_str());
                    if doomed {
                        slots[*i] = None;
                    }
                    !doomed
                });
                slots.push(Some(Planned::DeletePrefix {
                    prefix,
                    spare: BTreeSet::new(),
                }));
            }
        }
    }
    let full = |key: &str| [prefix.as_bytes(), key.as_bytes()].concat();
    const OVERHEAD: usize = 16;
    let mut out = Vec::new();
    for slot in slots.into_iter().flatten() {
        match slot {
            Planned::Put { key, value } => {
                *bytes += prefix.len() + key.len() + value.len() + OVERHEAD;
                out.push(TxnOp::put(full(&key), value, None));
            }
            Planned::Delete { key } => {
                *bytes += prefix.len() + key.len() + OVERHEAD;
                out.push(TxnOp::delete(full(&key), None));
            }
            Planned::DeletePrefix { prefix: p, spare } => {
                let start = full(&p);
                let end = range_end(&start);
                let mut from = range_start(start);
                let mut range = |from: Vec<u8>, to: Vec<u8>| {
                    *bytes += from.len() + to.len() + OVERHEAD;
                    out.push(TxnOp::delete(
                        from,
                        Some(DeleteOptions::new().with_range(to)),
                    ));
                };
                for key in spare {
                    let k = full(&key);
                    if from < k {
                        range(from, k.clone());
                    }
                    from = k;
                    from.push(0);
                }
                // `[0]` as the end is "to the end of the keyspace", not an empty range.
                if end == [0] || from < end {
                    range(from, end);
                }
            }
        }
    }
    out
}

impl Store for EtcdStore {
    fn get(&self, key: &str) -> Result<Option<Entry>> {
        let inner = &self.inner;
        let read = |g: &Generation| vec![TxnOp::get(inner.key_in(g, key), None)];
        let (_, resp) = inner.read_current(&read)?.ok_or_else(|| {
            StoreError::Backend("etcd read: the value is over the client's message size".into())
        })?;
        let kv = match resp.op_responses().into_iter().nth(1) {
            Some(TxnOpResponse::Get(mut got)) => got.take_kvs().into_iter().next(),
            _ => None,
        };
        Ok(kv.map(|kv| {
            let revision = kv.mod_revision() as u64;
            let (_, value) = kv.into_key_value();
            Entry { value, revision }
        }))
    }

    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        self.inner.scan_at(None, prefix, start_after, limit)
    }

    fn commit(&self, txn: Txn) -> Result<Commit> {
        let inner = &self.inner;
        // Bounds the wait for a restore holding the store.
        let deadline = std::time::Instant::now() + inner.request_timeout;
        loop {
            let generation = inner.cached_generation();
            let etcd_txn = inner.etcd_txn(&generation, txn.clone())?;
            let kv = inner.client.kv_client();
            let resp = inner.call("commit", async move {
                retrying(write_never_sent, || {
                    let (mut kv, txn) = (kv.clone(), etcd_txn.clone());
                    async move { kv.txn(txn).await }
                })
                .await
            })?;
            let revision = revision_of(resp.header())?;
            inner.saw(revision);
            if !resp.succeeded() {
                if inner.retry_refused(&generation, &resp, deadline)? {
                    continue;
                }
                return Ok(Commit::Conflict);
            }
            // A commit that changed nothing (deletes of absent keys) has no event to wait for.
            let changed = resp.op_responses().iter().any(|r| match r {
                TxnOpResponse::Delete(d) => d.deleted() > 0,
                _ => true,
            });
            if changed {
                inner.await_feed(revision);
            }
            return Ok(Commit::Committed(revision));
        }
    }

    fn restart_watch(&self) {
        // Only the task waiting on its stream hears it: one reopening already is not
        // asked twice.
        self.inner.restart.notify_waiters();
    }

    fn sync_point(&self) -> Result<u64> {
        let inner = &self.inner;
        // Linearizable: at least the revision of every commit acknowledged before this call.
        let (current, _) = inner.current_revision()?;
        if inner.feed_reaches(current) {
            return Ok(current);
        }
        // etcd's revision moved on without an event under this store's prefix (another
        // prefix's write), or the feed lags: a write of the store's own mark gives the feed
        // an event at a later revision, which it publishes in order, after every earlier one.
        // (etcd's progress notifications would cost no write, but etcd before 3.4.25 may send
        // one ahead of events it has yet to send: etcd-io/etcd#15220.)
        inner.sync_mark()
    }

    fn commit_iter(
        &self,
        checks: Vec<Check>,
        ops: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        // What fits one etcd transaction is one; past etcd's limits (a large restore) the
        // writes go through a new generation and one switch (see `generation`), reading
        // the stream as they go, so memory stays bounded.
        let mut collected = Vec::new();
        let mut raw = 0usize;
        while let Some(op) = ops.next() {
            let op = op?;
            raw += match &op {
                Op::Put { key, value } => key.len() + value.len(),
                Op::Delete { key } => key.len(),
                Op::DeletePrefix { prefix } => prefix.len(),
            };
            collected.push(op);
            if raw > self.inner.max_request_bytes || collected.len() > self.inner.max_txn_ops {
                return self.inner.restore(checks, collected, ops);
            }
        }
        let txn = Txn {
            checks,
            ops: collected,
        };
        let generation = self.inner.cached_generation();
        if self.inner.etcd_txn(&generation, txn.clone()).is_err() {
            return self
                .inner
                .restore(txn.checks, txn.ops, &mut std::iter::empty());
        }
        self.commit(txn)
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let (revision, generation) = self.inner.current_revision()?;
        Ok(Box::new(EtcdSnapshot {
            inner: self.inner.clone(),
            revision,
            generation,
        }))
    }

    fn watch(&self, prefix: &str) -> Result<Watcher> {
        let inner = &self.inner;
        // Every commit acknowledged before this has a revision up to `from - 1`, every one
        // that lands after it returns a later one.
        let (current, generation) = inner.current_revision()?;
        let from = current + 1;
        let mut task = lock(&inner.feed_task);
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            let full_prefix = inner.meta_key("");
            let end = range_end(&full_prefix);
            let start = range_start(full_prefix);
            let stream = {
                let (client, start, end) = (inner.client.clone(), start.clone(), end.clone());
                // Another try reaches another endpoint: the client's balancer may first pick
                // one that is down (a cluster test saw a node fail to start that way).
                inner.call("watch", async move {
                    retrying(write_never_sent, || {
                        open_watch(client.clone(), start.clone(), end.clone(), from)
                    })
                    .await
                })?
            };
            let follower = WatchTask {
                client: inner.client.clone(),
                start,
                end,
                prefix: inner.prefix.clone(),
                generation: generation.name,
                next: from,
                feed: inner.feed.clone(),
                task: inner.feed_task.clone(),
                published: inner.published.clone(),
                closing: inner.closing.subscribe(),
                restart: inner.restart.clone(),
                request_timeout: inner.request_timeout,
            };
            inner.feed.set_live(true);
            *task = Some(inner.handle.spawn(follower.run(stream)));
        }
        // The feed may still publish commits acknowledged before `from`: not for this one.
        Ok(inner.feed.watch_from(prefix, from))
    }
}

/// An etcd watch of `[start, end)` from revision `from`, once etcd has confirmed it.
async fn open_watch(
    client: Client,
    start: Vec<u8>,
    end: Vec<u8>,
    from: u64,
) -> std::result::Result<WatchStream, etcd_client::Error> {
    // Fragmented: a catch-up after a reconnect can hold many commits' values (a watch
    // answer carries them), more than one gRPC message may; etcd then splits it into parts
    // of at most its request size, each well under the client's limit.
    let options = WatchOptions::new()
        .with_range(end)
        .with_start_revision(from as i64)
        .with_progress_notify()
        .with_fragment();
    let mut stream = client
        .watch_client()
        .max_decoding_message_size(WATCH_MESSAGE_LIMIT)
        .watch(start, Some(options))
        .await?;
    match stream.message().await? {
        Some(resp) if resp.created() && !resp.canceled() => Ok(stream),
        Some(resp) if resp.compact_revision() > 0 => Err(etcd_client::Error::WatchError(format!(
            "{COMPACTED}: the history from revision {from} is gone (compacted up to {})",
            resp.compact_revision()
        ))),
        Some(resp) => Err(etcd_client::Error::WatchError(format!(
            "etcd refused the watch: {}",
            resp.cancel_reason()
        ))),
        None => Err(etcd_client::Error::WatchError(
            "etcd closed the watch as it opened".into(),
        )),
    }
}

/// Feeds the store's watchers from its one etcd watch, resuming it after a lost connection.
struct WatchTask {
    client: Client,
    start: Vec<u8>,
    end: Vec<u8>,
    prefix: String,
    /// The generation whose changes are published (see `generation`), as the pointer
    /// named it at the revision before `next`.
    generation: String,
    /// The first revision not yet delivered.
    next: u64,
    feed: Arc<ChangeFeed>,
    task: FeedTask,
    published: Arc<Published>,
    closing: tokio::sync::watch::Receiver<Option<u64>>,
    restart: Arc<tokio::sync::Notify>,
    request_timeout: Duration,
}

/// How a watch stream ended.
enum Ended {
    /// The store closed, or the history is gone: stop.
    Done,
    /// The connection broke: resume from `next`.
    Broken,
}

impl WatchTask {
    async fn run(mut self, first: WatchStream) {
        let mut stream = Some(first);
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Some(s) = stream.take() {
                match self.follow(s).await {
                    Ended::Done => return,
                    // Commits made meanwhile reach the watchers only once it is reopened.
                    Ended::Broken => self.feed.set_live(false),
                }
            }
            if self.closing.borrow().is_some() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            let (client, start, end) = (self.client.clone(), self.start.clone(), self.end.clone());
            // Bounded, so a cluster that stopped answering is retried, and a close noticed.
            let reopen = tokio::time::timeout(
                self.request_timeout,
                open_watch(client, start, end, self.next),
            );
            match reopen.await {
                Err(_) => {} // no answer: try again.
                Ok(Ok(s)) => {
                    // Resumed from the first revision not delivered: nothing is missed.
                    self.feed.set_live(true);
                    stream = Some(s);
                    backoff = Duration::from_millis(100);
                }
                Ok(Err(e)) if is_compacted(&e) => {
                    self.compacted();
                    return;
                }
                Ok(Err(_)) => {} // etcd still away: try again.
            }
        }
    }

    async fn follow(&mut self, mut stream: WatchStream) -> Ended {
        let mut idle = tokio::time::interval(Duration::from_secs(1));
        loop {
            let closing_target = *self.closing.borrow();
            if let Some(target) = closing_target
                && self.next > target
            {
                return Ended::Done;
            }
            tokio::select! {
                msg = stream.message() => match msg {
                    Ok(Some(resp)) => {
                        if resp.canceled() {
                            if resp.compact_revision() > 0 {
                                self.compacted();
                                return Ended::Done;
                            }
                            return Ended::Broken;
                        }
                        self.deliver(resp.events());
                        // A response without events is progress: etcd sent every event up
                        // to its header's revision.
                        if resp.events().is_empty()
                            && !resp.created()
                            && let Some(h) = resp.header()
                        {
                            self.next = self.next.max(h.revision() as u64 + 1);
                            self.published.advance(self.next - 1);
                        }
                    }
                    Ok(None) | Err(_) => return Ended::Broken,
                },
                // Asked to (a follower found the stream stalled): reopened from `next`, as
                // after a lost connection, perhaps on another member.
                _ = self.restart.notified() => return Ended::Broken,
                changed = self.closing.changed() => {
                    if changed.is_err() {
                        return Ended::Done;
                    }
                    // Ask etcd to tell how far it has sent, so the drain can end.
                    if stream.request_progress().await.is_err() {
                        return Ended::Done;
                    }
                }
                _ = idle.tick() => {
                    if self.closing.borrow().is_some() && stream.request_progress().await.is_err() {
                        return Ended::Done;
                    }
                }
            }
        }
    }

    /// The history to resume from is gone: every watcher is cut off (lagged, so its cache
    /// reloads), and this task stops; the next watch starts a new one from then on.
    fn compacted(&self) {
        let mut task = lock(&self.task);
        self.feed.set_live(false);
        self.feed.cut_off(self.next);
        *task = None;
    }

    /// Publishes the events, one feed write per revision (one commit).
    fn deliver(&mut self, events: &[etcd_client::Event]) {
        let mut i = 0;
        while i < events.len() {
            let Some(revision) = events[i].kv().map(|kv| kv.mod_revision() as u64) else {
                i += 1;
                continue;
            };
            let mut write = self.feed.begin_write();
            let mut switched = None;
            while let Some(ev) = events.get(i) {
                let Some(kv) = ev.kv() else {
                    i += 1;
                    continue;
                };
                if kv.mod_revision() as u64 != revision {
                    break;
                }
                let kind = match ev.event_type() {
                    EventType::Put => ChangeKind::Put,
                    EventType::Delete => ChangeKind::Delete,
                };
                // A key outside the prefix or not UTF-8 is none of this store's.
                let key = kv
                    .key()
                    .strip_prefix(self.prefix.as_bytes())
                    .and_then(|p| std::str::from_utf8(p).ok());
                match key {
                    Some(generation::POINTER) => {
                        // A restore switched generations.
                        switched = Some(match kind {
                            ChangeKind::Put => String::from_utf8_lossy(kv.value()).into_owned(),
                            ChangeKind::Delete => String::new(),
                        });
                    }
                    // Only the current generation's keys are paths: not the store's own
                    // (`\0...`), not a restore's staging, not an old generation's deletion.
                    Some(key) => {
                        let path = if self.generation.is_empty() {
                            (!key.starts_with('\0')).then_some(key)
                        } else {
                            key.strip_prefix(self.generation.as_str())
                        };
                        if let Some(path) = path {
                            write.record(path, kind);
                        }
                    }
                    None => {}
                }
                i += 1;
            }
            write.publish(revision);
            if let Some(name) = switched.take() {
                // Every path may have changed: the watchers are cut off, so that their
                // caches reload, as after a lost history.
                self.generation = name;
                self.feed.cut_off(revision);
            }
            self.next = self.next.max(revision + 1);
            self.published.advance(revision);
        }
    }
}

/// The most entries one read of a scan asks etcd for.
const SCAN_BATCH: usize = 256;

/// An answer over the gRPC client's message size limit.
fn is_too_large(e: &etcd_client::Error) -> bool {
    matches!(e, etcd_client::Error::GRpcStatus(s) if s.message().contains("message length too large"))
}

/// The largest watch answer the client reads: above etcd's largest fragment (its request
/// size, 1.5 MiB by default, plus one event's framing), with room for a raised limit.
const WATCH_MESSAGE_LIMIT: usize = 16 * 1024 * 1024;

/// How [`open_watch`] says etcd compacted the history it was to start from.
const COMPACTED: &str = "etcd compacted the watched history";

fn is_compacted(e: &etcd_client::Error) -> bool {
    matches!(e, etcd_client::Error::WatchError(m) if m.starts_with(COMPACTED))
}

/// A read view at one etcd revision.
struct EtcdSnapshot {
    inner: Arc<Inner>,
    revision: u64,
    generation: Generation,
}

impl Snapshot for EtcdSnapshot {
    fn scan(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<Page> {
        self.inner.scan_at(
            Some((self.revision, &self.generation)),
            prefix,
            start_after,
            limit,
        )
    }
}

/// Generations, the restore past etcd's transaction limits.
mod generation;
/// etcd's membership API (NetHSM's `/cluster/members`).
pub mod members;
#[cfg(test)]
mod restore_tests;
#[cfg(any(test, feature = "etcd-test"))]
pub mod test_member;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod watch_restart_tests;
