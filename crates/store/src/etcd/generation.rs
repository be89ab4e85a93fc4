//! Generations: how a restore larger than one etcd transaction stays atomic.
//!
//! The store's paths live in a *generation*: generation 0 is the layout of stores written
//! before generations existed (`<prefix><path>`), a later one `<prefix>\0g/<16 hex>/<path>`.
//! The pointer `<prefix>\0generation` names the current one (absent: generation 0). Keys
//! starting with `\0` are the store's own and are never paths.
//!
//! - Every read is one etcd transaction reading the pointer with the data, so it reads the
//!   generation the pointer names at that revision; a store whose cached generation is
//!   behind learns the new one and reads again.
//! - Every commit compares the pointer's revision and the absence of the restore hold
//!   (`<prefix>\0restoring`): a commit racing a switch fails in etcd and is sent again on the
//!   new generation, where the caller's checks (revisions of the old generation) fail as a
//!   conflict and an unchecked write lands; a commit while a restore holds the store waits
//!   for it, up to the request timeout, then fails as unavailable, writing nothing.
//! - A restore that does not fit one transaction ([`Inner::restore`]) takes the hold (a key
//!   on a lease it keeps alive, so a restorer that dies frees the store when its lease runs
//!   out), copies the current generation into a fresh one in batches within etcd's limits,
//!   applies its own writes there in order, and switches the pointer in one transaction
//!   comparing the pointer's and the hold's revisions and the caller's checks. Until then no
//!   reader sees a staged key; after it every reader sees all of them. The old generation
//!   is deleted afterwards; staging left by a restore that died is deleted by the next.
//! - The change feed follows the pointer in the event stream: it publishes changes of the
//!   current generation only, and cuts every watcher off (lagged, so caches reload) at a
//!   switch.

use std::time::{Duration, Instant};

use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, KeyValue, PutOptions, Txn as EtcdTxn, TxnOp,
    TxnOpResponse, TxnResponse,
};

use super::{
    Inner, is_unavailable, lock, plan, range_end, range_start, retrying, revision_of,
    write_never_sent,
};
use crate::{Check, Commit, Op, Result, StoreError};

/// The pointer to the current generation, after the store's prefix.
pub(super) const POINTER: &str = "\0generation";
/// The hold a restore takes for its duration (on a lease), after the store's prefix.
pub(super) const RESTORING: &str = "\0restoring";
/// Where the generations after 0 live, after the store's prefix.
pub(super) const GENERATIONS: &str = "\0g/";

/// How long a commit waits between tries while a restore holds the store.
const HELD_PAUSE: Duration = Duration::from_millis(100);

/// A generation as a store last saw the pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Generation {
    /// Between the store's prefix and a path: empty for generation 0, else
    /// `\0g/<16 hex>/`.
    pub(super) name: String,
    /// The pointer's etcd `mod_revision`; 0 while it is absent (generation 0).
    pub(super) pointer_rev: i64,
}

impl Generation {
    /// The generation a read of the pointer found (`None`: absent, generation 0).
    pub(super) fn from_pointer(kv: Option<&KeyValue>) -> Result<Self> {
        let Some(kv) = kv else {
            return Ok(Self::default());
        };
        let name = std::str::from_utf8(kv.value())
            .ok()
            .filter(|n| n.starts_with(GENERATIONS) && n.ends_with('/'))
            .ok_or_else(|| {
                StoreError::Corrupt("the etcd generation pointer is malformed".into())
            })?;
        Ok(Self {
            name: name.to_owned(),
            pointer_rev: kv.mod_revision(),
        })
    }

    fn is_zero(&self) -> bool {
        self.name.is_empty()
    }
}

/// What the failure branch of a commit or a hold found.
struct Refusal {
    generation: Generation,
    /// The restore hold's `mod_revision`, if it exists.
    hold: Option<i64>,
}

fn kvs_of(resp: &TxnOpResponse) -> &[KeyValue] {
    match resp {
        TxnOpResponse::Get(g) => g.kvs(),
        _ => &[],
    }
}

/// A fresh generation's name: random, so two restores never stage into one place.
fn fresh_name() -> Result<String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Backend("no randomness for a generation name".into()))?;
    Ok(format!("{GENERATIONS}{:016x}/", u64::from_be_bytes(bytes)))
}

impl Inner {
    pub(super) fn meta_key(&self, name: &str) -> Vec<u8> {
        [self.prefix.as_bytes(), name.as_bytes()].concat()
    }

    /// The prefix of the generation's keys in etcd, as `plan` takes it.
    pub(super) fn data_prefix(&self, generation: &Generation) -> String {
        format!("{}{}", self.prefix, generation.name)
    }

    pub(super) fn key_in(&self, generation: &Generation, path: &str) -> Vec<u8> {
        [self.data_prefix(generation).as_bytes(), path.as_bytes()].concat()
    }

    pub(super) fn path_in(&self, generation: &Generation, etcd_key: &[u8]) -> Result<String> {
        let path = etcd_key
            .strip_prefix(self.data_prefix(generation).as_bytes())
            .ok_or_else(|| StoreError::Corrupt("etcd returned a key outside the prefix".into()))?;
        String::from_utf8(path.to_vec())
            .map_err(|_| StoreError::Corrupt("etcd holds a key that is not UTF-8".into()))
    }

    pub(super) fn cached_generation(&self) -> Generation {
        lock(&self.generation).clone()
    }

    /// Keeps the newer of the cached generation and `seen` (pointers only move forward).
    pub(super) fn learn(&self, seen: &Generation) {
        let mut cached = lock(&self.generation);
        if seen.pointer_rev > cached.pointer_rev {
            *cached = seen.clone();
        }
    }

    /// The compare a commit makes on the pointer: as this store last saw it.
    pub(super) fn pointer_compare(&self, generation: &Generation) -> Compare {
        let key = self.meta_key(POINTER);
        if generation.pointer_rev == 0 {
            Compare::create_revision(key, CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(key, CompareOp::Equal, generation.pointer_rev)
        }
    }

    /// The compares of a commit that may land: the pointer unchanged, no restore holding.
    pub(super) fn generation_compares(&self, generation: &Generation) -> [Compare; 2] {
        [
            self.pointer_compare(generation),
            Compare::create_revision(self.meta_key(RESTORING), CompareOp::Equal, 0),
        ]
    }

    /// The failure branch of a commit: the pointer and the hold, to tell why it failed.
    pub(super) fn refusal_reads(&self) -> [TxnOp; 2] {
        [
            TxnOp::get(self.meta_key(POINTER), None),
            TxnOp::get(self.meta_key(RESTORING), None),
        ]
    }

    fn refusal(&self, resp: &TxnResponse) -> Result<Refusal> {
        let answers = resp.op_responses();
        let pointer = answers.first().and_then(|a| kvs_of(a).first());
        let generation = Generation::from_pointer(pointer)?;
        let hold = answers
            .get(1)
            .and_then(|a| kvs_of(a).first())
            .map(|kv| kv.mod_revision());
        Ok(Refusal { generation, hold })
    }

    /// Why a commit on `generation` failed: `Ok(true)` to send it again (the generation
    /// moved, or a restore held the store and the deadline is not past), `Ok(false)` for a
    /// failed check of the caller's.
    pub(super) fn retry_refused(
        &self,
        generation: &Generation,
        resp: &TxnResponse,
        deadline: Instant,
    ) -> Result<bool> {
        let refusal = self.refusal(resp)?;
        if refusal.generation != *generation {
            self.learn(&refusal.generation);
            return Ok(true);
        }
        if refusal.hold.is_some() {
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "etcd commit at {}: a restore holds the store past the request timeout; \
                     nothing was written",
                    self.endpoints
                )));
            }
            std::thread::sleep(HELD_PAUSE);
            return Ok(true);
        }
        Ok(false)
    }

    /// Runs a read-only transaction of the pointer and the reads `reads` makes for a
    /// generation, on the generation the pointer names at that revision. `Ok(None)`: the
    /// answer was over the client's message size.
    pub(super) fn read_current(
        &self,
        reads: &dyn Fn(&Generation) -> Vec<TxnOp>,
    ) -> Result<Option<(Generation, TxnResponse)>> {
        loop {
            let generation = self.cached_generation();
            let mut ops = vec![TxnOp::get(self.meta_key(POINTER), None)];
            ops.extend(reads(&generation));
            let txn = EtcdTxn::new().and_then(ops);
            let kv = self.client.kv_client();
            let resp = self.call("read", async move {
                let got = retrying(is_unavailable, || {
                    let (mut kv, txn) = (kv.clone(), txn.clone());
                    async move { kv.txn(txn).await }
                });
                match got.await {
                    Ok(resp) => Ok(Some(resp)),
                    Err(e) if super::is_too_large(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })?;
            let Some(resp) = resp else { return Ok(None) };
            self.saw(revision_of(resp.header())?);
            let answers = resp.op_responses();
            let seen = Generation::from_pointer(answers.first().and_then(|a| kvs_of(a).first()))?;
            if seen == generation {
                return Ok(Some((generation, resp)));
            }
            self.learn(&seen);
        }
    }

    /// The key ranges of a generation: `[start, end)` pairs. Generation 0's spans the
    /// prefix but for the store's own keys (which start with `\0`).
    fn ranges_of(&self, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        if name.is_empty() {
            let prefix = self.prefix.as_bytes();
            let mut ranges = vec![([prefix, b"\x01"].concat(), range_end(prefix))];
            if !prefix.is_empty() {
                // The empty path: the prefix itself.
                let mut end = prefix.to_vec();
                end.push(0);
                ranges.push((prefix.to_vec(), end));
            }
            ranges
        } else {
            let start = self.meta_key(name);
            let end = range_end(&start);
            vec![(start, end)]
        }
    }

    /// Deletes of everything a restore on `current` may find left over: every generation
    /// but `current` (staging of restores that died, old generations whose delete failed).
    fn leftover_deletes(&self, current: &Generation) -> Vec<TxnOp> {
        let all = self.meta_key(GENERATIONS);
        let all_end = range_end(&all);
        let mut ranges = Vec::new();
        if current.is_zero() {
            ranges.push((all, all_end));
        } else {
            let (start, end) = self.ranges_of(&current.name).remove(0);
            ranges.push((all, start));
            ranges.push((end, all_end));
            ranges.extend(self.ranges_of(""));
        }
        deletes(ranges)
    }

    /// A store-wide replace of any size, atomic for every reader and writer of every
    /// node: see the module documentation. `first` are the writes already read from the
    /// stream, `rest` the others.
    pub(super) fn restore(
        &self,
        checks: Vec<Check>,
        first: Vec<Op>,
        rest: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<Commit> {
        let hold = match self.take_hold(&checks)? {
            Ok(hold) => hold,
            Err(conflict) => return Ok(conflict),
        };
        let staged = self.stage(&hold, first, rest);
        let outcome = match staged {
            Ok(()) => self.switch(&hold, &checks),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Some(revision)) => {
                self.release_lease(hold.lease);
                // The old generation is unreachable: any failure here leaves garbage the
                // next restore deletes, never a wrong answer.
                let old = deletes(self.ranges_of(&hold.generation.name));
                let _ = self.send("restore", EtcdTxn::new().and_then(old));
                self.await_feed(revision);
                Ok(Commit::Committed(revision))
            }
            Ok(None) => {
                self.abandon(&hold);
                Ok(Commit::Conflict)
            }
            #[cfg(test)]
            Err(e) if hold.died() => {
                // The test's stand-in for a restorer killed mid-way: nothing cleaned up,
                // the lease left to run out.
                Err(e)
            }
            Err(e) => {
                self.abandon(&hold);
                Err(e)
            }
        }
    }

    /// Sends a write transaction (retried only when it certainly was not applied).
    fn send(&self, what: &str, txn: EtcdTxn) -> Result<TxnResponse> {
        let kv = self.client.kv_client();
        let resp = self.call(what, async move {
            retrying(write_never_sent, || {
                let (mut kv, txn) = (kv.clone(), txn.clone());
                async move { kv.txn(txn).await }
            })
            .await
        })?;
        self.saw(revision_of(resp.header())?);
        Ok(resp)
    }

    /// Takes the restore hold on the current generation, the caller's checks holding
    /// there: `Err(Conflict)` if they do not. Waits for another restore's hold up to the
    /// request timeout.
    fn take_hold(&self, checks: &[Check]) -> Result<std::result::Result<Hold, Commit>> {
        let ttl = self.restore_lease_ttl.as_secs().max(2);
        let lease = {
            let mut leases = self.client.lease_client();
            self.call(
                "restore",
                async move { leases.grant(ttl as i64, None).await },
            )?
            .id()
        };
        let keeper = self.keep_alive(lease, Duration::from_secs(ttl) / 3);
        let staging = fresh_name()?;
        let deadline = Instant::now() + self.request_timeout;
        loop {
            let generation = self.cached_generation();
            let (mut compares, _) = self.compares(&generation, checks);
            compares.extend(self.generation_compares(&generation));
            let put = TxnOp::put(
                self.meta_key(RESTORING),
                staging.clone(),
                Some(PutOptions::new().with_lease(lease)),
            );
            let txn = EtcdTxn::new()
                .when(compares)
                .and_then([put])
                .or_else(self.refusal_reads());
            let resp = match self.send("restore", txn) {
                Ok(resp) => resp,
                Err(e) => {
                    self.release_lease(lease);
                    return Err(e);
                }
            };
            if resp.succeeded() {
                let hold = Hold {
                    generation,
                    staging: Generation {
                        name: staging,
                        pointer_rev: 0,
                    },
                    lease,
                    revision: revision_of(resp.header())? as i64,
                    _keeper: keeper,
                    #[cfg(test)]
                    died: std::sync::atomic::AtomicBool::new(false),
                };
                return Ok(Ok(hold));
            }
            match self.retry_refused(&generation, &resp, deadline) {
                Ok(true) => continue,
                Ok(false) => {
                    self.release_lease(lease);
                    return Ok(Err(Commit::Conflict));
                }
                Err(e) => {
                    self.release_lease(lease);
                    return Err(e);
                }
            }
        }
    }

    /// Keeps the lease alive until the returned sender is dropped.
    fn keep_alive(&self, lease: i64, every: Duration) -> tokio::sync::oneshot::Sender<()> {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let mut leases = self.client.lease_client();
        self.handle.spawn(async move {
            let Ok((mut keeper, mut answers)) = leases.keep_alive(lease).await else {
                return;
            };
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(every) => {
                        if keeper.keep_alive().await.is_err() {
                            return;
                        }
                        let _ = tokio::time::timeout(every, answers.message()).await;
                    }
                }
            }
        });
        stop
    }

    fn release_lease(&self, lease: i64) {
        let mut leases = self.client.lease_client();
        // Best effort: a lease not revoked runs out by itself.
        let _ = self.call("restore", async move { leases.revoke(lease).await });
    }

    /// Gives the hold up: its staging deleted, its key removed, its lease revoked. Best
    /// effort: what is left is deleted by the next restore, the hold by its lease.
    fn abandon(&self, hold: &Hold) {
        let mut ops = deletes(self.ranges_of(&hold.staging.name));
        ops.push(TxnOp::delete(self.meta_key(RESTORING), None));
        let txn = EtcdTxn::new().when([hold.compare(self)]).and_then(ops);
        let _ = self.send("restore", txn);
        self.release_lease(hold.lease);
    }

    /// Writes the new generation: leftovers deleted, the current generation copied as of
    /// the hold (no commit lands while it is held), then the restore's own writes in order.
    fn stage(
        &self,
        hold: &Hold,
        first: Vec<Op>,
        rest: &mut dyn Iterator<Item = Result<Op>>,
    ) -> Result<()> {
        let mut batch = Batch::new(self, hold);
        batch.write(self.leftover_deletes(&hold.generation))?;
        let mut after: Option<String> = None;
        loop {
            let page = self.scan_at(
                Some((hold.revision as u64, &hold.generation)),
                "",
                after.as_deref(),
                super::SCAN_BATCH,
            )?;
            let done = page.len() < super::SCAN_BATCH;
            after = page.last().map(|(k, _)| k.clone());
            for (key, mut entry) in page {
                let value = std::mem::take(&mut entry.value);
                batch.push(Op::Put { key, value })?;
            }
            if done {
                break;
            }
        }
        for op in first {
            batch.push(op)?;
        }
        for op in rest {
            batch.push(op?)?;
        }
        batch.flush()
    }

    /// Switches the pointer to the staged generation if the hold is still this restore's
    /// and the caller's checks hold: `Some(revision)`, or `None` for a failed check.
    fn switch(&self, hold: &Hold, checks: &[Check]) -> Result<Option<u64>> {
        let (mut compares, _) = self.compares(&hold.generation, checks);
        compares.push(self.pointer_compare(&hold.generation));
        compares.push(hold.compare(self));
        let txn = EtcdTxn::new()
            .when(compares)
            .and_then([
                TxnOp::put(self.meta_key(POINTER), hold.staging.name.clone(), None),
                TxnOp::delete(self.meta_key(RESTORING), None),
            ])
            .or_else(self.refusal_reads());
        let resp = self.send("restore", txn)?;
        let revision = revision_of(resp.header())?;
        if resp.succeeded() {
            self.learn(&Generation {
                name: hold.staging.name.clone(),
                pointer_rev: revision as i64,
            });
            return Ok(Some(revision));
        }
        let refusal = self.refusal(&resp)?;
        if refusal.hold != Some(hold.revision) {
            return Err(lost_hold());
        }
        Ok(None)
    }
}

fn lost_hold() -> StoreError {
    StoreError::Backend(
        "the restore lost its hold on the etcd store (its lease ran out); the old state stands"
            .into(),
    )
}

/// Deletes of `[start, end)` ranges.
fn deletes(ranges: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<TxnOp> {
    ranges
        .into_iter()
        .filter(|(start, end)| end.as_slice() == [0] || start < end)
        .map(|(start, end)| {
            TxnOp::delete(
                range_start(start),
                Some(DeleteOptions::new().with_range(end)),
            )
        })
        .collect()
}

/// A restore's hold on the store.
struct Hold {
    /// The generation being replaced.
    generation: Generation,
    /// The generation being written (its `pointer_rev` unused).
    staging: Generation,
    lease: i64,
    /// The hold key's `mod_revision`: every write of the restore compares it.
    revision: i64,
    /// Dropped with the hold: the lease is no longer kept alive.
    _keeper: tokio::sync::oneshot::Sender<()>,
    #[cfg(test)]
    died: std::sync::atomic::AtomicBool,
}

impl Hold {
    fn compare(&self, inner: &Inner) -> Compare {
        Compare::mod_revision(inner.meta_key(RESTORING), CompareOp::Equal, self.revision)
    }

    #[cfg(test)]
    fn died(&self) -> bool {
        self.died.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The writes of a restore, sent in transactions within etcd's limits, each comparing the
/// hold.
struct Batch<'a> {
    inner: &'a Inner,
    hold: &'a Hold,
    data_prefix: String,
    pending: Vec<Op>,
    bytes: usize,
    /// At most this many writes a batch: a prefix delete may become one etcd operation per
    /// key put after it (see `plan`), so half the limit.
    most_ops: usize,
    most_bytes: usize,
}

impl<'a> Batch<'a> {
    fn new(inner: &'a Inner, hold: &'a Hold) -> Self {
        Self {
            inner,
            hold,
            data_prefix: inner.data_prefix(&hold.staging),
            pending: Vec::new(),
            bytes: 0,
            most_ops: (inner.max_txn_ops / 2).max(1),
            // Room for the compare and the request's framing.
            most_bytes: inner.max_request_bytes.saturating_sub(4096).max(1),
        }
    }

    fn push(&mut self, op: Op) -> Result<()> {
        const OVERHEAD: usize = 32;
        let size = self.data_prefix.len()
            + OVERHEAD
            + match &op {
                Op::Put { key, value } => key.len() + value.len(),
                Op::Delete { key } => key.len(),
                Op::DeletePrefix { prefix } => 2 * (self.data_prefix.len() + prefix.len()),
            };
        if !self.pending.is_empty()
            && (self.pending.len() >= self.most_ops || self.bytes + size > self.most_bytes)
        {
            self.flush()?;
        }
        self.pending.push(op);
        self.bytes += size;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut bytes = 0;
        let ops = plan(
            &self.data_prefix,
            std::mem::take(&mut self.pending),
            &mut bytes,
        );
        self.bytes = 0;
        self.write(ops)
    }

    fn write(&mut self, ops: Vec<TxnOp>) -> Result<()> {
        #[cfg(test)]
        {
            use std::sync::atomic::Ordering::SeqCst;
            let left = &self.inner.die_after_batches;
            if left.load(SeqCst) > 0 && left.fetch_sub(1, SeqCst) == 1 {
                self.hold.died.store(true, SeqCst);
                return Err(StoreError::Backend("test: the restorer died".into()));
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        let txn = EtcdTxn::new()
            .when([self.hold.compare(self.inner)])
            .and_then(ops);
        let resp = self.inner.send("restore", txn)?;
        if !resp.succeeded() {
            return Err(lost_hold());
        }
        Ok(())
    }
}

/// The range a scan of `prefix` after `after` covers in a generation, as etcd keys.
pub(super) fn scan_range(
    inner: &Inner,
    generation: &Generation,
    prefix: &str,
    after: Option<&str>,
) -> (Vec<u8>, Vec<u8>) {
    let full_prefix = inner.key_in(generation, prefix);
    let end = range_end(&full_prefix);
    let mut start = match after {
        Some(after) if after >= prefix => {
            // The smallest key after `after`.
            let mut k = inner.key_in(generation, after);
            k.push(0);
            k
        }
        _ => range_start(full_prefix),
    };
    if generation.is_zero() {
        // The store's own keys (`\0...`) sort first in generation 0's range: skip them.
        let first = [inner.prefix.as_bytes(), b"\x01"].concat();
        if prefix.is_empty() && start < first {
            start = first;
        }
    }
    (start, end)
}

/// A page read's options for `[_, end)`, at most `want` keys, at `revision` if given.
pub(super) fn page_options(end: Vec<u8>, want: usize, revision: Option<u64>) -> GetOptions {
    let mut options = GetOptions::new()
        .with_range(end)
        .with_limit(i64::try_from(want).unwrap_or(i64::MAX));
    if let Some(rev) = revision {
        options = options.with_revision(rev as i64);
    }
    options
}
