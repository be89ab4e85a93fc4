//! `/info` and `/health/*`: public, no authentication.

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{AcceptJson, NetHsmJson};
use super::openapi::{AnswersJson, Gated};
use super::wire::{HealthStateData, InfoData};
use crate::app::AppState;

#[utoipa::path(
    get,
    path = "/info",
    operation_id = "getInfo",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "The vendor and product.", body = InfoData),
        AnswersJson,
    )
)]
pub async fn info_get(_: AcceptJson) -> NetHsmJson<InfoData> {
    NetHsmJson(InfoData {
        vendor: "Strongroom".into(),
        product: "Strongroom".into(),
    })
}

/// 200 while Locked or Unprovisioned (the state gate answers 412 otherwise).
#[utoipa::path(
    get,
    path = "/health/alive",
    operation_id = "getHealthAlive",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Locked or Unprovisioned: alive, not ready."),
        Gated,
        AnswersJson,
    )
)]
pub async fn health_alive_get(_: AcceptJson) -> StatusCode {
    StatusCode::OK
}

/// 200 while Operational (the state gate answers 412 otherwise).
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "getHealthReady",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Operational: ready."),
        Gated,
        AnswersJson,
    )
)]
pub async fn health_ready_get(_: AcceptJson) -> StatusCode {
    StatusCode::OK
}

#[utoipa::path(
    get,
    path = "/health/state",
    operation_id = "getHealthState",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "The node's state.", body = HealthStateData),
        AnswersJson,
    )
)]
pub async fn health_state_get(
    State(s): State<AppState>,
    _: AcceptJson,
) -> NetHsmJson<HealthStateData> {
    NetHsmJson(HealthStateData {
        state: s.core.state(),
    })
}
