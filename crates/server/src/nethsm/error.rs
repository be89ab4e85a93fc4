//! NetHSM errors: `{"message": "..."}` with `application/json`, the status the spec gives,
//! and `WWW-Authenticate` on 401, in the JSON conventions of [`crate::face::json`], where
//! core errors are mapped once for this face and Strongroom's own API.

use crate::face::json::JsonError;

/// The NetHSM face, as the marker of its error type.
#[derive(Debug)]
pub enum NetHsm {}

pub type NetHsmError = JsonError<NetHsm>;
