//! The body of every error answer: NetHSM's `{"message": ...}`, which this API follows.

use serde::{Deserialize, Serialize};

/// `{"message": "..."}`, with any 4xx or 5xx status.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}
