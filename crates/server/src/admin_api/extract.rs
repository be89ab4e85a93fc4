//! Extractors of Strongroom's own API, in NetHSM's order of checks: the caller (401, 403)
//! first, then the body (415, 413, 406, 400) or, for bodiless requests, [`AcceptJson`] (406).
//! The checks are the shared plumbing's ([`crate::face`]); here are this face's names for
//! them.

use super::error::ApiError;
use crate::face::rule;

pub use crate::face::Caller;
pub use crate::face::json::{AcceptJson, Json as ApiJson, Path as ApiPath};

/// An Administrator of the root namespace: the audit trail, the data key, backup clients.
pub type RootAdmin = Caller<rule::RootAdministrator, ApiError>;
pub type MetricsUser = Caller<rule::Metrics, ApiError>;
/// Who may ask the restore decision: a root Administrator, or a Backup user of the root
/// namespace (the account backup software uses).
pub type RootAdminOrBackup = Caller<rule::RootAdministratorOrRootBackup, ApiError>;
