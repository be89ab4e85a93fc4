//! Middleware shared by every face, in wrapping order (outermost first):
//! - [`request_id`]: mints the request's op id, opens its span, logs and counts its outcome;
//! - [`audit`] (per face): writes an audit event for every state-changing request.

pub mod audit;
pub mod request_id;
