//! `GET /metrics` (Metrics role): the server's counters as one flat JSON object of strings.

use axum::extract::State;

use super::extract::{AcceptJson, MetricsUser, NetHsmJson};
use crate::app::AppState;

pub async fn metrics_get(
    State(s): State<AppState>,
    _: MetricsUser,
    _: AcceptJson,
) -> NetHsmJson<serde_json::Map<String, serde_json::Value>> {
    NetHsmJson(s.metrics.to_flat_json(s.core.state().as_str()))
}
