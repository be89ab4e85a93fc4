//! Keeping derived keys and verifiers at the current Argon2id cost. Parameters are stored next
//! to what they made, so raising them breaks nothing; what was made with other parameters is
//! made again the next time its passphrase is given: the unlock key at the next successful
//! unlock, a user's verifier at the user's next successful login (the backup key whenever the
//! backup passphrase is set, which needs the current one). Each upgrade is its own audited
//! commit (`upgrade key derivation`, face `strongroom`), never part of the request's own event,
//! and best effort: if it cannot be done now (the Argon2 gate is full, a concurrent change),
//! the old parameters keep working and the next time tries again.

use std::sync::Arc;

use strongroom_store::Txn;

use crate::audit::{self, NewAuditEvent, RequestAudit};
use crate::crypto;
use crate::error::{Error, Result};
use crate::identity::user_path;
use crate::secret::Passphrase;
use crate::{Core, UNLOCK_PATH, UnlockRecord, Unlocked, json};

/// The audit context of an upgrade: its own event, tied to the request that gave the
/// passphrase by its request id.
fn upgrade_event(actor: Option<&str>, target: &str) -> Arc<RequestAudit> {
    RequestAudit::new(
        NewAuditEvent::by_core(actor, "upgrade key derivation", target)
            .with_request_id(&audit::current_request_id().unwrap_or_default()),
    )
}

impl Core {
    /// After a successful unlock with `record` (read at `revision`): if its parameters are not
    /// the current ones, wraps the domain key again under a key derived with them.
    pub(crate) fn upgrade_unlock_record(
        &self,
        record: &UnlockRecord,
        revision: u64,
        passphrase: &Passphrase,
    ) {
        if record.kdf.is_current() {
            return;
        }
        let result = (|| -> Result<()> {
            let u = self.unlocked()?;
            let new_record = UnlockRecord::new(passphrase, &u.keys())?;
            let txn = Txn::new()
                .require_revision(UNLOCK_PATH, revision)
                .put(UNLOCK_PATH, json(&new_record)?);
            audit::in_request(Some(upgrade_event(None, UNLOCK_PATH)), || {
                self.commit_audited(&u.data, txn)
            })?;
            Ok(())
        })();
        match result {
            Ok(()) => tracing::info!("unlock key derived again with the current parameters"),
            Err(e) => tracing::warn!(
                error = %e,
                "could not derive the unlock key again with the current parameters; the old ones still work"
            ),
        }
    }

    /// After a successful login of `user_id` whose verifier is `old`: if it was made with
    /// other parameters, makes it again with the current ones (also in the history, where it
    /// is the newest entry).
    pub(crate) fn upgrade_verifier(
        &self,
        u: &Unlocked,
        user_id: &str,
        passphrase: &[u8],
        old: &str,
    ) {
        if crypto::verifier_is_current(old) {
            return;
        }
        let result = (|| -> Result<()> {
            let new = crypto::make_verifier(passphrase)?;
            let target = user_path(user_id);
            audit::in_request(Some(upgrade_event(Some(user_id), &target)), || {
                self.update_user(u, user_id, |user| {
                    if user.verifier != old {
                        // Changed meanwhile: nothing to upgrade.
                        return Err(Error::Conflict("the verifier changed".into()));
                    }
                    if user.history.first().map(String::as_str) == Some(old) {
                        user.history[0] = new.clone();
                    }
                    user.verifier = new.clone();
                    Ok(())
                })
            })
        })();
        match result {
            Ok(()) => {
                tracing::info!(user = %user_id, "verifier made again with the current parameters")
            }
            Err(e) => tracing::debug!(
                user = %user_id,
                error = %e,
                "verifier not upgraded now; the old one still works"
            ),
        }
    }
}
