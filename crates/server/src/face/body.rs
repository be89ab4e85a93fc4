//! Bounded reading of request bodies, refused in the face's words.

use axum::body::Body;
use axum::http::HeaderMap;
use zeroize::Zeroizing;

use crate::http_util::{self, BodyError};

/// How a face refuses a body it cannot read.
pub trait BodyRefusal: Sized {
    /// Longer than `limit` bytes (413).
    fn too_large(limit: usize) -> Self;
    /// The connection failed while reading (400).
    fn unreadable(detail: String) -> Self;
}

/// The whole body, at most `limit` bytes, in a buffer wiped when dropped
/// ([`http_util::read_body`]).
pub async fn read<E: BodyRefusal>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, E> {
    http_util::read_body(headers, body, limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => E::too_large(limit),
            BodyError::Read(m) => E::unreadable(m),
        })
}
