//! `GET /appliance` and `GET /appliance/disks`: the version, how long the server has run,
//! the certificate it serves, and the data directory's file system.

use axum::Json;
use axum::extract::State;

use super::error::ApplianceError;
use super::extract::DrSession;
use super::list_query::{DrResponseList, ListQuery};
use super::time_wire::{ApplianceDisk, ApplianceInfo};
use crate::app::AppState;

/// The SHA-256 fingerprint of the certificate being served: the one accessor for it here.
fn served_certificate_fingerprint(s: &AppState) -> Option<String> {
    s.core.stored_tls_fingerprint()
}

/// `GET /appliance` (operationId `getApplianceInfo`). The spec has no fields for uptime or
/// the certificate: `system_information`, its free-text field, carries them.
#[utoipa::path(
    get,
    path = "/appliance",
    operation_id = "getApplianceInfo",
    tag = "appliance",
    responses(
        (status = 200, description = "The appliance's version and host.", body = ApplianceInfo),
        super::openapi::Session,
    )
)]
pub async fn get_appliance_info(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<Json<ApplianceInfo>, ApplianceError> {
    s.core
        .operational(&session.principal)?
        .require(strongroom_core::access::Access::RootAdministrator)?;
    let version = env!("CARGO_PKG_VERSION");
    let mut system_information = format!("Strongroom {version} ({})", std::env::consts::ARCH);
    if let Some(up) = strongroom_core::appliance::info::process_uptime() {
        system_information.push_str(&format!("; uptime {} s", up.as_secs()));
    }
    let fingerprint = {
        let s = s.clone();
        tokio::task::spawn_blocking(move || served_certificate_fingerprint(&s))
            .await
            .ok()
            .flatten()
    };
    if let Some(fp) = fingerprint {
        system_information.push_str(&format!("; TLS certificate SHA-256 {fp}"));
    }
    Ok(Json(ApplianceInfo {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
        product_name: "Strongroom".into(),
        product_build_number: version.into(),
        appliance_version: version.into(),
        appliance_build_number: version.into(),
        system_information,
    }))
}

/// `GET /appliance/disks` (operationId `getApplianceDisks`): the file system that holds the
/// data directory (the store, the device key, uploads), the one disk the appliance fills.
#[utoipa::path(
    get,
    path = "/appliance/disks",
    operation_id = "getApplianceDisks",
    tag = "appliance",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The file system of the data directory.",
            body = super::openapi::ListOf<ApplianceDisk>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_appliance_disks(
    State(s): State<AppState>,
    session: DrSession,
    query: ListQuery,
) -> Result<Json<DrResponseList>, ApplianceError> {
    // `scratch_dir` is `DATA/scratch` (AppState): its parent is the data directory.
    let data_dir = s
        .scratch_dir
        .parent()
        .unwrap_or(&s.scratch_dir)
        .to_path_buf();
    let disk = s
        .run(move |core| {
            core.operational(&session.principal)?
                .appliance()
                .disk(&data_dir)
        })
        .await?;
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let entry = ApplianceDisk {
        name: "data".into(),
        description: Some(format!(
            "Strongroom's data directory {} ({} file system from {}, mounted on {})",
            disk.path.display(),
            disk.fs_type,
            disk.source,
            disk.mount_point.display()
        )),
        partition_name: disk.mount_point.display().to_string(),
        total_space: as_i64(disk.total_bytes),
        used_space: as_i64(disk.used_bytes),
        used_space_percent: format!("{}%", disk.used_percent()),
    };
    Ok(Json(query.page(&[entry])))
}
