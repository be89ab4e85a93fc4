//! `/services` (operationIds `getAllServices`, `getService`, `startService`, `stopService`,
//! `restartService`): Strongroom's own services ([`strongroom_core::appliance::services`]).
//! Starting and stopping are the core's (root Administrators, audited, kept across restarts);
//! the server's in-memory copy ([`crate::services`]) follows once the change is committed.
//!
//! The appliance face itself may be stopped: its `/session` and `/services` stay, so the
//! administrator can start it again the way they stopped it; everything else answers 503
//! `SERVICE_STOPPED`. The NetHSM face cannot be stopped (400 `SERVICE_NOT_STOPPABLE`).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use strongroom_core::appliance::services::{SERVICES, ServiceSpec, service};

use super::error::ApplianceError;
use super::extract::DrSession;
use super::list_query::DrResponseList;
use super::list_query::ListQuery;
use super::services_wire::ServiceInfo;
use crate::app::AppState;
use crate::services::{StoppedRefusal, stopped_message};

impl StoppedRefusal for ApplianceError {
    fn service_stopped(service: &ServiceSpec) -> Self {
        ApplianceError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_STOPPED",
            stopped_message(service),
        )
    }
}

fn info(s: &AppState, spec: &ServiceSpec) -> ServiceInfo {
    let running = s.services.is_running(spec.id);
    ServiceInfo {
        id: spec.id.to_owned(),
        name: spec.name.to_owned(),
        description: spec.description.to_owned(),
        startup_type: if running { "AUTOMATIC" } else { "MANUAL" },
        is_running: running,
    }
}

/// The service a path names; 404 for an unknown id (or one that is not UTF-8 once decoded,
/// which names no service either).
pub(super) fn named(
    path: Result<Path<String>, PathRejection>,
) -> Result<&'static ServiceSpec, ApplianceError> {
    let id = path.map(|Path(id)| id).unwrap_or_default();
    service(&id).ok_or_else(|| {
        ApplianceError::new(
            StatusCode::NOT_FOUND,
            "SERVICE_NOT_FOUND",
            "There is no such service; GET /services lists them.",
        )
    })
}

/// `GET /services`.
#[utoipa::path(
    get,
    path = "/services",
    operation_id = "getAllServices",
    tag = "services",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "Strongroom's services.",
            body = super::openapi::ListOf<ServiceInfo>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_all_services(
    State(s): State<AppState>,
    _: DrSession,
    query: ListQuery,
) -> Json<DrResponseList> {
    let all: Vec<ServiceInfo> = SERVICES.iter().map(|spec| info(&s, spec)).collect();
    Json(query.page(&all))
}

/// `GET /services/{service_id}`.
#[utoipa::path(
    get,
    path = "/services/{service_id}",
    operation_id = "getService",
    tag = "services",
    params(("service_id" = String, Path, description = "The service's id.", example = "syslog")),
    responses(
        (status = 200, description = "The service.", body = ServiceInfo),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn get_service(
    State(s): State<AppState>,
    _: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ServiceInfo>, ApplianceError> {
    Ok(Json(info(&s, named(path)?)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Stop,
    Restart,
}

async fn act(
    s: AppState,
    session: DrSession,
    path: Result<Path<String>, PathRejection>,
    action: Action,
) -> Result<StatusCode, ApplianceError> {
    let spec = named(path)?;
    if action == Action::Stop && !spec.stoppable {
        return Err(ApplianceError::new(
            StatusCode::BAD_REQUEST,
            "SERVICE_NOT_STOPPABLE",
            format!(
                "The {} service cannot be stopped: it is how the appliance is unlocked and recovered.",
                spec.name
            ),
        ));
    }
    let running = action != Action::Stop;
    let who = session.principal;
    s.run(move |core| {
        core.operational(&who)?
            .appliance()
            .set_service_running(spec.id, running)
    })
    .await?;
    match action {
        Action::Restart => {
            s.services.restarted(spec.id);
            if spec.id == "syslog" {
                crate::syslog::restart(&s.core);
            }
        }
        _ => s.services.set_running(spec.id, running),
    }
    tracing::info!(service = spec.id, action = ?action, "service changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /services/{service_id}/actions/start`: a running service stays as it is.
#[utoipa::path(
    post,
    path = "/services/{service_id}/actions/start",
    operation_id = "startService",
    tag = "services",
    params(("service_id" = String, Path, description = "The service's id.", example = "syslog")),
    responses(
        (status = 204, description = "The service runs (and starts with the server)."),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn start_service(
    State(s): State<AppState>,
    session: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApplianceError> {
    act(s, session, path, Action::Start).await
}

/// `POST /services/{service_id}/actions/stop`.
#[utoipa::path(
    post,
    path = "/services/{service_id}/actions/stop",
    operation_id = "stopService",
    tag = "services",
    params(("service_id" = String, Path, description = "The service's id.", example = "syslog")),
    responses(
        (status = 204, description = "The service is stopped (and stays so across restarts)."),
        super::openapi::Session, super::openapi::Item, super::openapi::NotStoppable,
    )
)]
pub async fn stop_service(
    State(s): State<AppState>,
    session: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApplianceError> {
    act(s, session, path, Action::Stop).await
}

/// `POST /services/{service_id}/actions/restart`: a stopped service starts; a running one
/// has its restart counted, which a service holding connections (the syslog forwarder)
/// takes as the signal to reopen them. A face has nothing of its own to restart: its
/// requests in flight finish, and the next ones are served as before.
#[utoipa::path(
    post,
    path = "/services/{service_id}/actions/restart",
    operation_id = "restartService",
    tag = "services",
    params(("service_id" = String, Path, description = "The service's id.", example = "syslog")),
    responses(
        (status = 204, description = "The service runs, its restart counted."),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn restart_service(
    State(s): State<AppState>,
    session: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApplianceError> {
    act(s, session, path, Action::Restart).await
}
