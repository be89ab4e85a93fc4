//! Cluster mode: the count of wrong passkeys, and when the last came, kept in the store, so
//! that guesses spread over several nodes meet one back-off. Each node still lets one check
//! of a target run at a time (its own [`PasskeyGuard`](super::PasskeyGuard)); the delay after
//! wrong passkeys is the cluster's, read from the store before a check and counted after it.
//!
//! Record: `meta/passkey-failures/<passkey path>`, sealed under the domain key (the count and
//! a time: nothing secret, but sealed like every value the core writes through its data
//! view), kept out of backups by `meta/`. Times are the appliance clock's wall time.

use serde::{Deserialize, Serialize};
use strongroom_store::{Commit, Store, Txn};

use super::{PasskeyError, PasskeyGuard, PasskeyTarget, passkey_path};
use crate::error::{Error, Result};
use crate::{Core, Unlocked};

pub(crate) const FAILURES_PREFIX: &str = "meta/passkey-failures/";
/// Read-modify-write attempts before a count is given up (each conflict is another node's
/// count landing first).
const TRIES: usize = 8;

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Failures {
    count: u32,
    last_ms: i64,
}

fn path(target: PasskeyTarget) -> String {
    format!("{FAILURES_PREFIX}{}", passkey_path(target))
}

impl Core {
    fn wall_ms(&self) -> i64 {
        i64::try_from(self.clock.now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    fn stored_failures(
        &self,
        u: &Unlocked,
        target: PasskeyTarget,
    ) -> Result<(Failures, Option<u64>)> {
        Ok(match u.data.get(&path(target))? {
            Some(e) => (
                serde_json::from_slice(&e.value).map_err(Error::internal)?,
                Some(e.revision),
            ),
            None => (Failures::default(), None),
        })
    }

    /// Refuses a check while the cluster's delay after wrong passkeys runs.
    pub(super) fn shared_passkey_wait(&self, target: PasskeyTarget) -> Result<()> {
        let u = self.unlocked()?;
        let (f, _) = self.stored_failures(&u, target)?;
        let delay = i64::try_from(PasskeyGuard::delay(f.count).as_millis()).unwrap_or(i64::MAX);
        if f.count > 0 && self.wall_ms().saturating_sub(f.last_ms) < delay {
            return Err(PasskeyError::RateLimited.into());
        }
        Ok(())
    }

    /// Counts a check's outcome in the store: a right passkey clears the count, a wrong one
    /// adds to it.
    pub(super) fn shared_passkey_outcome(&self, target: PasskeyTarget, right: bool) -> Result<()> {
        let u = self.unlocked()?;
        let key = path(target);
        for _ in 0..TRIES {
            let (mut f, revision) = self.stored_failures(&u, target)?;
            let txn = match (right, revision) {
                (true, None) => return Ok(()),
                (true, Some(r)) => Txn::new().require_revision(&key, r).delete(&key),
                (false, _) => {
                    f.count = f.count.saturating_add(1);
                    f.last_ms = self.wall_ms();
                    let txn = match revision {
                        Some(r) => Txn::new().require_revision(&key, r),
                        None => Txn::new().require_absent(&key),
                    };
                    txn.put(&key, crate::json(&f)?)
                }
            };
            let _sealing = self.sealing();
            if let Commit::Committed(_) = u.data.commit(txn)? {
                return Ok(());
            }
        }
        Err(Error::Internal(
            "counting a passkey check kept conflicting".into(),
        ))
    }
}
