//! Middleware shared by every face, in wrapping order (outermost first):
//! - [`request_id`]: mints the request's op id, opens its span, logs its outcome.

pub mod request_id;
