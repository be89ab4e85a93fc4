//! `GET /health/diagnose` (`HealthDiagnoseData`): in every state; an Administrator (of any
//! namespace) while Operational, anyone otherwise, as nethsm-api.yaml says, so a node that
//! cannot be unlocked can still be diagnosed.
//!
//! NetHSM reports its cluster store (etcd) here. On a single node Strongroom's store is
//! embedded; in cluster mode it is etcd. Either way `clusterState.running` says whether the
//! store answers reads; in cluster mode `clusterLogs` starts with the node's view of etcd
//! (its node id, how long ago etcd last answered, and whether the node is Failed), then carries
//! the checks a support bundle reports ([`crate::diagnostics::run_checks`]) that failed or
//! warn, then the most recent log lines at warning or above. `clusterSnapshot` (the spec's
//! statistics of a stopped etcd's snapshot) has no counterpart and is left out, as the spec
//! allows.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::Serialize;
use strongroom_core::SystemState;
use strongroom_core::identity::Principal;
use utoipa::ToSchema;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Admin, Caller, NetHsmJson};
use super::openapi::{AnswersJson, Authenticated, CoreCall};
use crate::app::AppState;
use crate::diagnostics::{Status, run_checks};

/// The most log lines a diagnosis carries.
pub const MAX_LOG_LINES: usize = 100;

/// `ClusterLogItem`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterLogItem {
    #[schema(value_type = String)]
    pub level: &'static str,
    pub msg: String,
}

/// `ClusterState`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterState {
    pub running: bool,
    /// How the supervised etcd member's last run ended, while it is not running
    /// ([`crate::cluster_member::local_state`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exited: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signaled: Option<i32>,
}

/// `HealthDiagnoseData`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDiagnoseData {
    pub cluster_logs: Vec<ClusterLogItem>,
    pub cluster_state: ClusterState,
}

/// The caller of `/health/diagnose`: an Administrator while Operational (401, 403 as usual),
/// nobody in particular otherwise.
pub struct DiagnoseCaller(Option<Principal>);

impl FromRequestParts<AppState> for DiagnoseCaller {
    type Rejection = NetHsmError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.core.state() != SystemState::Operational {
            return Ok(DiagnoseCaller(None));
        }
        let Caller(who, _) = Admin::from_request_parts(parts, state).await?;
        Ok(DiagnoseCaller(Some(who)))
    }
}

#[utoipa::path(
    get,
    path = "/health/diagnose",
    operation_id = "getHealthDiagnose",
    tag = "health",
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "The cluster store's state and recent problems.",
            body = HealthDiagnoseData),
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn health_diagnose_get(
    State(s): State<AppState>,
    DiagnoseCaller(who): DiagnoseCaller,
    _: AcceptJson,
) -> Result<NetHsmJson<HealthDiagnoseData>, NetHsmError> {
    let data_dir = s
        .scratch_dir
        .parent()
        .unwrap_or(&s.scratch_dir)
        .to_path_buf();
    let services = s.services.clone();
    let checks = s
        .run_unaudited(move |core| {
            Ok(run_checks(
                core,
                &data_dir,
                &services,
                who.as_ref(),
                &mut None,
            ))
        })
        .await?;
    let running = checks
        .iter()
        .any(|c| c.name == "store" && c.status == Status::Ok);
    let mut logs: Vec<ClusterLogItem> = checks
        .into_iter()
        .filter_map(|c| {
            let level = match c.status {
                Status::Failed => "error",
                Status::Warning => "warning",
                Status::Ok | Status::NotChecked => return None,
            };
            Some(ClusterLogItem {
                level,
                msg: format!("{}: {}", c.name, c.detail),
            })
        })
        .collect();
    if let Some(h) = s.core.cluster_health() {
        let failed = s.core.state() == SystemState::Failed;
        logs.insert(
            0,
            ClusterLogItem {
                level: if failed { "error" } else { "info" },
                msg: format!(
                    "cluster: node {} {}: the etcd store last answered {} ms ago (unanswered for over {} s, a node is Failed)",
                    h.node_id,
                    if failed { "is Failed" } else { "follows the cluster" },
                    h.last_answer.as_millis(),
                    h.failed_after.as_secs()
                ),
            },
        );
    }
    let recent = crate::recent_logs::global().at_least(tracing::Level::WARN);
    let skip = recent.len().saturating_sub(MAX_LOG_LINES);
    logs.extend(recent.into_iter().skip(skip).map(|line| ClusterLogItem {
        level: if line.level == tracing::Level::ERROR {
            "error"
        } else {
            "warning"
        },
        msg: line.text,
    }));
    Ok(NetHsmJson(HealthDiagnoseData {
        cluster_logs: logs,
        cluster_state: match crate::cluster_member::local_state() {
            // A node supervising its own etcd member reports that process, as NetHSM does.
            Some(member) => ClusterState {
                running: member.running,
                exited: member.exited.filter(|_| !member.running),
                signaled: member.signaled.filter(|_| !member.running),
            },
            None => ClusterState {
                running,
                exited: None,
                signaled: None,
            },
        },
    }))
}
