//! Middleware shared by every face, in wrapping order (outermost first); the first three are
//! tower services around the router ([`crate::app::service`]), not route layers:
//! - [`path_case`]: before routing, lower-cases backup-client paths (case-insensitive face);
//! - [`request_id`]: mints the request's op id, opens its span, logs and counts its outcome
//!   (and, on every route, records the route template in the span);
//! - [`drain`]: relays the request body so an early answer still reaches an uploading client;
//! - [`audit`] (per face): writes an audit event for every state-changing request.

pub mod audit;
pub mod drain;
pub mod path_case;
pub mod request_id;
