//! The domain's errors. No HTTP here: each face maps these to its own protocol's shape.
//! Messages never contain a secret.

use crate::state::SystemState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operation is not available in the appliance's current state.
    #[error("Service not available")]
    WrongState(SystemState),
    /// The node is in the right state but lacks something the operation needs (NetHSM
    /// answers these 412 too); the message says what.
    #[error("{0}")]
    Precondition(String),
    /// The request is well-formed but a value breaks a rule; the message names the rule.
    #[error("{0}")]
    InvalidInput(String),
    /// No valid credentials.
    #[error("authentication failed")]
    Unauthenticated,
    /// Authenticated, but the role or namespace does not allow this operation.
    #[error("access denied")]
    Forbidden,
    /// The thing named does not exist (or the caller may not know it does).
    #[error("{0}")]
    NotFound(String),
    /// The thing to create exists already.
    #[error("{0}")]
    Conflict(String),
    /// Too many failed attempts from this client; try again later.
    #[error("too many failed attempts; try again later")]
    RateLimited,
    /// Too many password checks are running or waiting; try again shortly (the Argon2 gate,
    /// see `crypto::admit`).
    #[error("the appliance is busy; try again shortly")]
    Busy,
    /// A current passphrase given to authorise a change is wrong; the message says which.
    #[error("{0}")]
    WrongPassphrase(String),
    /// A new password breaks the appliance password policy.
    #[error("{}", .0.message())]
    PasswordPolicy(crate::password_policy::PasswordRule),
    /// A passkey operation failed; each face reports it in its own terms.
    #[error(transparent)]
    Passkey(crate::passkeys::PasskeyError),
    /// The unlock passphrase did not open the domain key.
    #[error("unlock failed: passphrase is incorrect")]
    WrongUnlockPassphrase,
    /// The store failed or holds data this build cannot read.
    #[error(transparent)]
    Store(#[from] strongroom_store::StoreError),
    /// Anything else unexpected; the message is for the log, not for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }
}
