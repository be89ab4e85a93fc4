//! One id per request: put in the request extensions (faces use it as `op_id` and in audit
//! events), in the `x-request-id` response header, and in the span that every log line of the
//! request is emitted in. The span records the route template, never bodies or credentials.
//! It also counts every request for the metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId(pub Uuid);

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

use crate::app::AppState;

tokio::task_local! {
    /// The id of the request the current task serves, so error renderers (which see no
    /// request) can put it in their bodies, as the appliance face's `op_id`.
    static CURRENT: OpId;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<OpId> {
    CURRENT.try_with(|id| *id).ok()
}

pub async fn trace_request(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let op_id = OpId(Uuid::new_v4());
    req.extensions_mut().insert(op_id);
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let raw_path = req.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %op_id,
        method = %req.method(),
        path = %path,
    );
    let started = Instant::now();
    let mut response = CURRENT
        .scope(op_id, next.run(req).instrument(span.clone()))
        .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request completed"
        )
    });
    app.metrics
        .record_request(&raw_path, response.status().as_u16(), started.elapsed());
    if let Ok(v) = HeaderValue::from_str(&op_id.to_string()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}
