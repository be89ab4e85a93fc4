//! Errors of Strongroom's own API: NetHSM's conventions (`{"message": "..."}` with
//! `application/json`, `WWW-Authenticate` on 401; [`crate::face::json`], where core errors are
//! mapped once for both faces), so one client library reads both. Its messages are listed in
//! `docs/errors.md`.

use crate::face::json::JsonError;

/// Strongroom's own API, as the marker of its error type.
#[derive(Debug)]
pub enum Strongroom {}

pub type ApiError = JsonError<Strongroom>;
