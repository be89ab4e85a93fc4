//! Lets every error reach a client that is still uploading.
//!
//! A handler may answer before it reads the request body (401, 403, 415, or 413 past the
//! limit). If the server then closed the connection with the upload unread, an HTTP/1.1
//! client still writing its body would see a broken pipe instead of the answer. So the body
//! is relayed through a small channel by a task that, once the handler stops reading, reads
//! and discards what is left (up to [`DRAIN_LIMIT`], past which the connection is closed).
//! Memory stays bounded: the channel holds at most a couple of frames.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::Service;

/// How much of an unread body is read and thrown away before giving up on the connection.
pub const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// The relay, around the whole router (a tower service outside it rather than a route
/// layer: see [`super::request_id::TraceRequest`] for why).
#[derive(Clone)]
pub struct DrainBody<S>(pub S);

impl<S, B> Service<Request<B>> for DrainBody<S>
where
    S: Service<Request<Body>>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> S::Future {
        self.0.call(relay_unread_body(req.map(Body::new)))
    }
}

fn relay_unread_body(req: Request<Body>) -> Request<Body> {
    let (parts, mut body) = req.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return Request::from_parts(parts, body);
    }
    let (tx, rx) =
        tokio::sync::mpsc::channel::<Result<http_body::Frame<bytes::Bytes>, axum::Error>>(2);
    tokio::spawn(async move {
        let mut discarded = 0u64;
        let mut relaying = true;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) if relaying => {
                    let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                    if tx.send(Ok(frame)).await.is_err() {
                        // The handler is done with the body; keep reading, to discard.
                        relaying = false;
                        discarded += len;
                    }
                }
                Ok(frame) => {
                    discarded += frame.data_ref().map_or(0, |d| d.len() as u64);
                    if discarded > DRAIN_LIMIT {
                        return;
                    }
                }
                Err(e) => {
                    if relaying {
                        let _ = tx.send(Err(e)).await;
                    }
                    return;
                }
            }
        }
    });
    let frames =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    let relayed = Body::new(http_body_util::StreamBody::new(frames));
    Request::from_parts(parts, relayed)
}
