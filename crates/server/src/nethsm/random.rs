//! `POST /random` (seed 002): fresh bytes from the operating system's CSPRNG, Operator only.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::NetHsmError;
use super::extract::{Caller, NetHsmJson, OperatorUser};
use super::wire::{RandomData, RandomRequestData};
use crate::app::AppState;

pub async fn random_post(
    State(s): State<AppState>,
    Caller(who, _): OperatorUser,
    NetHsmJson(req): NetHsmJson<RandomRequestData>,
) -> Result<Response, NetHsmError> {
    // Cheap and non-blocking: no need for the blocking pool.
    let bytes = s.core.operational(&who)?.system().random(req.length)?;
    let random = base64::engine::general_purpose::STANDARD.encode(bytes);
    // Random bytes must never be served from a cache.
    Ok((
        [(header::CACHE_CONTROL, "no-cache")],
        NetHsmJson(RandomData { random }),
    )
        .into_response())
}
