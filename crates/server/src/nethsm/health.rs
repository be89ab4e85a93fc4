//! `/info` and `/health/*`: public, no authentication.

use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{AcceptJson, NetHsmJson};
use super::wire::{HealthStateData, InfoData};
use crate::app::AppState;

pub async fn info_get(_: AcceptJson) -> NetHsmJson<InfoData> {
    NetHsmJson(InfoData {
        vendor: "Strongroom".into(),
        product: "Strongroom".into(),
    })
}

/// 200 while Locked or Unprovisioned (the state gate answers 412 otherwise).
pub async fn health_alive_get(_: AcceptJson) -> StatusCode {
    StatusCode::OK
}

/// 200 while Operational (the state gate answers 412 otherwise).
pub async fn health_ready_get(_: AcceptJson) -> StatusCode {
    StatusCode::OK
}

pub async fn health_state_get(
    State(s): State<AppState>,
    _: AcceptJson,
) -> NetHsmJson<HealthStateData> {
    NetHsmJson(HealthStateData {
        state: s.core.state(),
    })
}
