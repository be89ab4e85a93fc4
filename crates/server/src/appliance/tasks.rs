//! `/tasks` (operationIds `getAllTasksInfo`, `getTaskInfo`): the long operations of this face
//! ([`crate::tasks`]), in memory: a restart forgets them.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::error::ApplianceError;
use super::extract::DrSession;
use super::list_query::DrResponseList;
use super::list_query::ListQuery;
use super::services_wire::{Task, TaskError};
use crate::app::AppState;
use crate::tasks::TaskInfo;

/// A task as the spec's `Task` has it.
pub fn task(t: TaskInfo) -> Task {
    Task {
        id: t.id,
        description: t.description,
        kind: t.kind.to_owned(),
        status: t.status.as_str(),
        error: t.error.map(|message| TaskError {
            message: Some(message),
            details: None,
        }),
        result: t.result,
        progress: t.progress,
        start_time: t.start_time,
        complete_time: t.complete_time,
    }
}

/// `GET /tasks`: oldest first.
#[utoipa::path(
    get,
    path = "/tasks",
    operation_id = "getAllTasksInfo",
    tag = "tasks",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The tasks since the server started, oldest first.",
            body = super::openapi::ListOf<super::services_wire::Task>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_all_tasks_info(
    State(s): State<AppState>,
    _: DrSession,
    query: ListQuery,
) -> Json<DrResponseList> {
    let all: Vec<Task> = s.tasks.list().into_iter().map(task).collect();
    Json(query.page(&all))
}

/// `GET /tasks/{task_id}`.
#[utoipa::path(
    get,
    path = "/tasks/{task_id}",
    operation_id = "getTaskInfo",
    tag = "tasks",
    params(("task_id" = String, Path, description = "The task's id.")),
    responses(
        (status = 200, description = "The task.", body = Task),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn get_task_info(
    State(s): State<AppState>,
    _: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Task>, ApplianceError> {
    // A path that does not decode names no task either.
    let id = path.map(|Path(id)| id).unwrap_or_default();
    let found = s.tasks.get(&id).ok_or_else(|| {
        ApplianceError::new(
            StatusCode::NOT_FOUND,
            "TASK_NOT_FOUND",
            "There is no such task; tasks are kept in memory and a restart forgets them.",
        )
    })?;
    Ok(Json(task(found)))
}
