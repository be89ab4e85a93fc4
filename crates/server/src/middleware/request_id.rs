//! One id per request: put in the request extensions (faces use it as `op_id` and in audit
//! events), in the `x-request-id` response header, and in the span that every log line of the
//! request is emitted in. The span records the route template, never bodies or credentials.
//! It also counts every request for the metrics.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{HeaderValue, Request};
use axum::response::Response;
use futures_util::future::BoxFuture;
use tower::Service;
use tracing::Instrument;
use uuid::Uuid;

use crate::metrics::Metrics;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpId(pub Uuid);

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

tokio::task_local! {
    /// The id of the request the current task serves, so error renderers (which see no
    /// request) can put it in their bodies, as the appliance face's `op_id`.
    static CURRENT: OpId;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<OpId> {
    CURRENT.try_with(|id| *id).ok()
}

/// The request's span, id and access log line, around the whole application: a tower
/// service outside the router rather than a route layer, since axum clones every route's
/// stack of layers for each request (a profile of `GET /health/state` showed those clones
/// as a seventh of the server's work). The span's `path`, the route template, is known only
/// once the router has matched: [`RecordRoute`], the one layer left on the routes, records it.
#[derive(Clone)]
pub struct TraceRequest<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> TraceRequest<S> {
    pub fn new(inner: S, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<S, B> Service<Request<B>> for TraceRequest<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone that was made ready is the one called (tower's rule); a fresh one stays.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let metrics = self.metrics.clone();
        let op_id = OpId(Uuid::new_v4());
        req.extensions_mut().insert(op_id);
        // The id as text once, for the span and the header.
        let mut text = Uuid::encode_buffer();
        let id = op_id.0.hyphenated().encode_lower(&mut text);
        let header = HeaderValue::from_str(id).ok();
        let face = crate::metrics::face_of(req.uri().path());
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = tracing::field::Empty,
        );
        let started = Instant::now();
        let response = span.in_scope(|| inner.call(req)).instrument(span.clone());
        Box::pin(CURRENT.scope(op_id, async move {
            let Ok(mut response) = response.await;
            let status = response.status().as_u16();
            // Written before the response is returned: whoever reads the log after an
            // answer finds its line.
            span.in_scope(|| {
                tracing::info!(
                    status,
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "request completed"
                )
            });
            metrics.record_request_of(face, status, started.elapsed());
            if let Some(header) = header {
                response.headers_mut().insert(REQUEST_ID_HEADER, header);
            }
            Ok(response)
        }))
    }
}

/// Records the route template (or, for a request no route matched, its path) as the `path`
/// of the request's span. Applied to every route and fallback of the router: cheap, since it
/// neither boxes nor clones what it wraps.
#[derive(Clone)]
pub struct RecordRoute<S>(S);

impl<S> RecordRoute<S> {
    pub fn layer() -> tower::layer::LayerFn<fn(S) -> RecordRoute<S>> {
        tower::layer::layer_fn(RecordRoute as fn(S) -> RecordRoute<S>)
    }
}

impl<S, B> Service<Request<B>> for RecordRoute<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> S::Future {
        let path = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| req.uri().path(), MatchedPath::as_str);
        // Called within the request's span, which [`TraceRequest`] enters around the router.
        tracing::Span::current().record("path", tracing::field::display(path));
        self.0.call(req)
    }
}
