//! `GET /metrics` (Metrics role): the server's counters as one flat JSON object of strings.

use axum::extract::State;

use super::extract::{AcceptJson, MetricsUser, NetHsmJson};
use super::openapi::{AnswersJson, Authenticated, Gated};
use crate::app::AppState;

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "metrics",
    description = "A Metrics user's. Names are the counters' with their labels' values \
                   after dots (`http_requests_total.nethsm.2xx`), as docs/admin-api.md lists them; the \
                   Prometheus text of the same counters is `GET /api/strongroom/v1/metrics`.",
    responses(
        (status = 200, description = "Every counter, its value as a decimal string; \
            `state` and `uptime_seconds` too.",
            body = std::collections::HashMap<String, String>),
        Gated,
        Authenticated,
        AnswersJson,
    )
)]
pub async fn metrics_get(
    State(s): State<AppState>,
    _: MetricsUser,
    _: AcceptJson,
) -> NetHsmJson<serde_json::Map<String, serde_json::Value>> {
    NetHsmJson(s.metrics.to_flat_json(s.core.state().as_str()))
}
