//! `/support-bundles` (operationIds `generateSupportBundle`, `getSupportBundleInfos`,
//! `downloadSupportBundleInfo`, `deleteSupportBundle`): a tar archive of what helps diagnose
//! the appliance and nothing secret ([`crate::diagnostics`]), made by a task and kept in
//! memory ([`crate::support_bundles`]).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use strongroom_core::access::Access;

use super::error::ApplianceError;
use super::extract::DrSession;
use super::list_query::DrResponseList;
use super::list_query::ListQuery;
use super::services_wire::{SupportBundleInfo, Task};
use super::tasks::task;
use crate::app::AppState;
use crate::diagnostics::{BundleSources, build_bundle};
use crate::support_bundles::Bundle;

/// The spec's content type of a bundle.
pub const TAR: &str = "application/x-tar";

fn bundle_info(b: &Bundle) -> SupportBundleInfo {
    SupportBundleInfo {
        key: b.key.clone(),
        time_created: b.time_created,
        size: b.tar.len() as u64,
        md5: b.md5.clone(),
    }
}

/// `POST /support-bundles`: 202 with the task that makes the bundle; its `result` names the
/// bundle (`key`, with its `size` and `md5`) once it succeeds.
#[utoipa::path(
    post,
    path = "/support-bundles",
    operation_id = "generateSupportBundle",
    tag = "support-bundles",
    responses(
        (status = 202, description = "The task making the bundle (`GET /tasks/{task_id}`).",
            body = Task),
        super::openapi::Session,
    )
)]
pub async fn generate_support_bundle(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<(StatusCode, Json<Task>), ApplianceError> {
    let who = session.principal;
    s.core
        .operational(&who)?
        .require(Access::RootAdministrator)?;
    let handle = s
        .tasks
        .start("generate-support-bundle", "Generate a support bundle");
    let accepted = task(handle.info());
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _in = span.enter();
        let _turn = s.support_bundles.turn();
        handle.running();
        let data_dir = s
            .scratch_dir
            .parent()
            .unwrap_or(&s.scratch_dir)
            .to_path_buf();
        let logs = crate::recent_logs::global();
        let created = s.core.now();
        let progress = |percent| handle.progress(percent);
        let built = build_bundle(
            &BundleSources {
                core: &s.core,
                data_dir: &data_dir,
                services: &s.services,
                metrics: &s.metrics,
                logs: &logs,
                server_config: &s.server_config,
                caller: &who,
                created,
            },
            &progress,
        );
        match built {
            Ok(tar) => {
                let bundle = Bundle::new(created, tar);
                let info = bundle_info(&bundle);
                tracing::info!(key = %info.key, size = info.size, "support bundle made");
                s.support_bundles.add(bundle);
                handle.succeed(json!({
                    "key": info.key,
                    "size": info.size,
                    "md5": info.md5,
                    "time_created": info.time_created,
                }));
            }
            Err(e) => {
                tracing::error!(error = %e, "making a support bundle failed");
                handle.fail(format!("Making the support bundle failed: {e}"));
            }
        }
    });
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// `GET /support-bundles`: those made since the server started and still kept, oldest first.
#[utoipa::path(
    get,
    path = "/support-bundles",
    operation_id = "getSupportBundleInfos",
    tag = "support-bundles",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The bundles kept.", body = super::openapi::ListOf<SupportBundleInfo>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_support_bundle_infos(
    State(s): State<AppState>,
    _: DrSession,
    query: ListQuery,
) -> Json<DrResponseList> {
    let all: Vec<SupportBundleInfo> = s.support_bundles.list().iter().map(bundle_info).collect();
    Json(query.page(&all))
}

fn not_found() -> ApplianceError {
    ApplianceError::new(
        StatusCode::NOT_FOUND,
        "SUPPORT_BUNDLE_NOT_FOUND",
        "There is no such support bundle; bundles are kept in memory, the last 5 made since the server started.",
    )
}

/// The key a path names (a path that does not decode names no bundle: the empty key).
fn key(path: Result<Path<String>, PathRejection>) -> Result<String, ApplianceError> {
    Ok(path.map(|Path(key)| key).unwrap_or_default())
}

/// `GET /support-bundles/{support_bundle_key}`: the tar archive.
#[utoipa::path(
    get,
    path = "/support-bundles/{support_bundle_key}",
    operation_id = "downloadSupportBundleInfo",
    tag = "support-bundles",
    params(("support_bundle_key" = String, Path, description = "The bundle's key.")),
    responses(
        (status = 200, description = "The bundle.", content_type = "application/x-tar",
            body = super::openapi::TarArchive,
            headers(("Content-Disposition" = String,
                description = "`attachment`, with the file name `<key>.tar`."))),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn download_support_bundle_info(
    State(s): State<AppState>,
    _: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApplianceError> {
    let bundle = s.support_bundles.get(&key(path)?).ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, TAR.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.tar\"", bundle.key),
            ),
        ],
        Body::from(bundle.tar),
    )
        .into_response())
}

/// `DELETE /support-bundles/{support_bundle_key}`.
#[utoipa::path(
    delete,
    path = "/support-bundles/{support_bundle_key}",
    operation_id = "deleteSupportBundle",
    tag = "support-bundles",
    params(("support_bundle_key" = String, Path, description = "The bundle's key.")),
    responses(
        (status = 204, description = "The bundle is deleted."),
        super::openapi::Session, super::openapi::Item,
    )
)]
pub async fn delete_support_bundle(
    State(s): State<AppState>,
    _: DrSession,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApplianceError> {
    if s.support_bundles.remove(&key(path)?) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
