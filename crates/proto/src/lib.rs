//! The wire types of Strongroom's own API (`/api/strongroom/v1`, documented in
//! `docs/admin-api.md`), written once for the server that answers with them and the client
//! and CLI that send and read them, as kanidm's `proto` crate is for kanidm. A field renamed
//! here is renamed on both sides; `tests/docs.rs` parses every example of the documentation,
//! so the documentation cannot drift from them either.
//!
//! Each type is exactly what is on the wire (camelCase field names, absent optional fields
//! left out); the server converts the core's types to and from them. Request bodies refuse
//! unknown fields, as the server always has; answers do not, so a client keeps working when
//! a later server adds a field.

pub mod audit;
pub mod clients;
pub mod errors;
pub mod password_policy;
pub mod restore;
pub mod system;

/// Where the API is mounted on the server; every path of this crate's docs is under it.
pub const API_PREFIX: &str = "/api/strongroom/v1";
