//! Clients of a running Strongroom server, shared by the `strongroom` CLI, the integration
//! tests and the bench: HTTPS pinned to the server's self-signed certificate ([`pin`]), and a
//! typed client of the server's own API ([`admin`]).

pub mod admin;
pub mod pin;
