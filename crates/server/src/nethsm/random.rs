//! `POST /random` (seed 002): fresh bytes from the operating system's CSPRNG, Operator only.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::NetHsmError;
use super::extract::{Caller, NetHsmJson, OperatorUser};
use super::openapi::{Authenticated, CoreCall, Gated, JsonBody};
use super::wire::{RandomData, RandomRequestData};
use crate::app::AppState;

/// An Operator's.
#[utoipa::path(
    post,
    path = "/random",
    operation_id = "getRandom",
    tag = "random",
    request_body = RandomRequestData,
    responses(
        (status = 200, description = "`length` random bytes, base64.", body = RandomData,
            headers(("cache-control" = String, description = "`no-cache`."))),
        Gated,
        Authenticated,
        JsonBody,
        CoreCall,
    )
)]
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
