//! `/system/*`: information, reboot, shutdown, factory reset, backup and restore. What each
//! means for a process (there is no hardware to reboot) is in `docs/operations.md`.

use std::io::Write;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use strongroom_core::SystemState;
use strongroom_core::backup::Restore;
use strongroom_core::identity::Principal;
use tokio::io::AsyncWriteExt;

use super::error::NetHsmError;
use super::extract::{
    AcceptJson, AcceptOctetStream, BackupUser, Caller, NetHsmJson, RootAdmin, check_accept,
};
use super::wire::{AkPub, Pcr, RestoreArguments, SystemInfo};
use crate::app::AppState;
use crate::auth;
use crate::http_util;

pub async fn system_info_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<SystemInfo>, NetHsmError> {
    let info = s.run(move |core| core.system_info(&who)).await?;
    Ok(NetHsmJson(SystemInfo {
        software_version: info.software_version.to_owned(),
        software_build: info.software_version.to_owned(),
        firmware_version: "n/a (software appliance)".into(),
        hardware_version: "n/a (software appliance)".into(),
        device_id: info.device_id,
        ak_pub: AkPub::default(),
        pcr: Pcr::default(),
    }))
}

/// Forgets the keys and boots again from the store (see `Core::reboot`).
pub async fn system_reboot_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.reboot(&who).map(|_| ())).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn system_factory_reset_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.factory_reset(&who)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops the server as SIGTERM does: in-flight requests (this one included) finish, the store
/// is closed, the process exits. Operational: root Administrator; otherwise no credentials.
pub async fn system_shutdown_post(
    State(s): State<AppState>,
    req: Request,
) -> Result<StatusCode, NetHsmError> {
    let (parts, _) = req.into_parts();
    if s.core.state() == SystemState::Operational {
        auth::authenticate_basic(&s, &parts)
            .await?
            .require_root_admin()?;
    }
    check_accept(&parts.headers)?;
    tracing::info!("shutdown requested");
    s.shutdown.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

/// Streams the backup as it is written, through a small channel: memory stays bounded
/// whatever the size of the store.
pub async fn system_backup_post(
    State(s): State<AppState>,
    Caller(who, _): BackupUser,
    _: AcceptOctetStream,
) -> Result<Response, NetHsmError> {
    let job = s.run(move |core| core.prepare_backup(&who)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let errors = tx.clone();
        if let Err(e) = job.write_to(ChannelWriter { tx }) {
            tracing::error!(error = %e, "backup failed while streaming");
            // Ends the response with an error, so the client sees a broken transfer rather
            // than a short file.
            let _ = errors.blocking_send(Err(std::io::Error::other("backup failed")));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `std::io::Write` into the response body channel (from a blocking thread).
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const ARGUMENTS_LIMIT: usize = 64 * 1024;

fn bad_request(msg: impl Into<String>) -> NetHsmError {
    NetHsmError::new(StatusCode::BAD_REQUEST, msg)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> NetHsmError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        NetHsmError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The backup file is too large.",
        )
    } else {
        bad_request(format!("Malformed multipart body: {}", e.body_text()))
    }
}

/// `multipart/form-data` with `arguments` (JSON) and `backup_file`. Unprovisioned: no
/// credentials, full restore, the node ends Locked. Operational: root Administrator, the user
/// data is replaced. The upload goes to a temporary file in the scratch directory (it is
/// encrypted; the file is deleted when the request ends, and the directory is emptied at every
/// start, so a killed server leaves no copy behind) and is verified whole before anything
/// changes.
pub async fn system_restore_post(
    State(s): State<AppState>,
    req: Request,
) -> Result<StatusCode, NetHsmError> {
    let (parts, body) = req.into_parts();
    let who: Option<Principal> = if s.core.state() == SystemState::Operational {
        let who = auth::authenticate_basic(&s, &parts).await?;
        who.require_root_admin()?;
        Some(who)
    } else {
        None
    };
    if http_util::content_type(&parts.headers).as_deref() != Some("multipart/form-data") {
        return Err(NetHsmError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type not supported; use multipart/form-data.",
        ));
    }
    let headers = parts.headers.clone();
    let mut multipart = Multipart::from_request(Request::from_parts(parts, body), &s)
        .await
        .map_err(|e| bad_request(format!("Malformed multipart body: {}", e.body_text())))?;

    let mut arguments: Option<RestoreArguments> = None;
    let mut upload: Option<tempfile::NamedTempFile> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("arguments") => {
                let mut raw = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    raw.extend_from_slice(&chunk);
                    if raw.len() > ARGUMENTS_LIMIT {
                        return Err(bad_request("The arguments part is too large."));
                    }
                }
                arguments = Some(serde_json::from_slice(&raw).map_err(|e| {
                    bad_request(format!(
                        "Malformed arguments: {}",
                        http_util::json_error_message(&e)
                    ))
                })?);
            }
            Some("backup_file") => {
                let file = tempfile::NamedTempFile::new_in(&s.scratch_dir).map_err(|e| {
                    strongroom_core::Error::Internal(format!("temporary file: {e}"))
                })?;
                let mut out = tokio::fs::File::from_std(file.reopen().map_err(|e| {
                    strongroom_core::Error::Internal(format!("temporary file: {e}"))
                })?);
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    out.write_all(&chunk).await.map_err(|e| {
                        strongroom_core::Error::Internal(format!("temporary file: {e}"))
                    })?;
                }
                out.flush().await.map_err(|e| {
                    strongroom_core::Error::Internal(format!("temporary file: {e}"))
                })?;
                upload = Some(file);
            }
            other => {
                return Err(bad_request(format!(
                    "Unexpected multipart part {:?}; expected arguments and backup_file.",
                    other.unwrap_or("")
                )));
            }
        }
    }
    check_accept(&headers)?;
    let arguments = arguments.ok_or_else(|| bad_request("The arguments part is missing."))?;
    let upload = upload.ok_or_else(|| bad_request("The backup_file part is missing."))?;
    s.run(move |core| {
        core.restore(
            who.as_ref(),
            upload.path(),
            Restore {
                backup_passphrase: &arguments.backup_passphrase,
                system_time: arguments.system_time.as_deref(),
            },
        )
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
