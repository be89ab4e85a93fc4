//! `/system/*`: information, reboot, shutdown, factory reset, backup and restore. What each
//! means for a process (there is no hardware to reboot) is in `docs/operations.md`.

use std::io::Write;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use strongroom_core::SystemState;
use strongroom_core::access::Access;
use strongroom_core::backup::Restore;
use strongroom_core::identity::Principal;
use tokio::io::AsyncWriteExt;

use super::error::NetHsmError;
use super::extract::{
    AcceptJson, AcceptOctetStream, BackupUser, Caller, NetHsmJson, RootAdmin, check_accept,
};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated};
use super::openapi_admin::{AnswersOctetStream, BackupGate, RestoreForm, RestoreUpload};
use super::wire::{AkPub, Pcr, RestoreArguments, SystemInfo};
use crate::app::AppState;
use crate::auth;
use crate::http_util;

#[utoipa::path(
    get,
    path = "/system/info",
    operation_id = "getSystemInfo",
    tag = "system",
    description = "A software appliance: the firmware and hardware versions say so, and \
                   `akPub` and `pcr` (a TPM's) are empty objects.",
    responses(
        (status = 200, description = "The node's versions and id.", body = SystemInfo),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn system_info_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<SystemInfo>, NetHsmError> {
    let info = s
        .run(move |core| core.operational(&who)?.system().info())
        .await?;
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

/// Forgets the keys and boots again from the store (see `System::reboot` in the core).
#[utoipa::path(
    post,
    path = "/system/reboot",
    operation_id = "reboot",
    tag = "system",
    summary = "Reboot: forget the keys and boot again from the store.",
    description = "There is no machine to restart: the node forgets its keys and boots \
                   again from its store, Locked (or Operational with unattended boot); \
                   docs/operations.md.",
    responses(
        (status = 204, description = "Rebooted."),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn system_reboot_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.system().reboot().map(|_| ()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/system/factory-reset",
    operation_id = "factoryReset",
    tag = "system",
    responses(
        (status = 204, description = "Every key, user and setting is erased: the node is \
            Unprovisioned."),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn system_factory_reset_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.system().factory_reset())
        .await?;
    // The reset erased the services' records too: every service runs again.
    s.services.reload(&s.core);
    // The reset erased the syslog setting too: stop sending.
    crate::syslog::reload(&s.core);
    Ok(StatusCode::NO_CONTENT)
}

/// Stops the server as SIGTERM does: in-flight requests (this one included) finish, the store
/// is closed, the process exits. Operational: root Administrator; otherwise no credentials.
#[utoipa::path(
    post,
    path = "/system/shutdown",
    operation_id = "shutdown",
    tag = "system",
    summary = "Stop the server.",
    description = "Stops the server process as SIGTERM does, in every state: a root \
                   Administrator's credentials while Operational (401, 403 otherwise), none \
                   in any other state (the spec's 412 is never answered).",
    security((), ("basic" = [])),
    responses(
        (status = 204, description = "The server stops once in-flight requests end."),
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn system_shutdown_post(
    State(s): State<AppState>,
    req: Request,
) -> Result<StatusCode, NetHsmError> {
    let (parts, _) = req.into_parts();
    let who = if s.core.state() == SystemState::Operational {
        let who = auth::authenticate_basic(&s, &parts).await?;
        Access::RootAdministrator.check(&who)?;
        Some(who)
    } else {
        None
    };
    check_accept(&parts.headers)?;
    s.shutdown_by(who.as_ref())?;
    Ok(StatusCode::NO_CONTENT)
}

/// How often a backup download waiting on its client (or the client on it) looks whether the
/// node locked meanwhile.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Streams the backup as it is written, through a small channel: memory stays bounded
/// whatever the size of the store. When the node locks (`POST /lock`, reboot, reset), the
/// download ends with an error at once, even if its client reads slowly or not at all: the
/// writer stops waiting for room in the channel and drops the keys, and the response ends
/// broken (never as a complete file) the next time it is polled.
#[utoipa::path(
    post,
    path = "/system/backup",
    operation_id = "backup",
    tag = "system",
    summary = "Download a backup.",
    description = "A Backup user's of the root namespace: the backup of the store, \
                   encrypted under the backup passphrase, streamed (docs/backup-format.md). \
                   If the node locks meanwhile, the transfer breaks off rather than ending \
                   as a short file.",
    responses(
        (status = 200, description = "The backup file.", body = String,
            content_type = "application/octet-stream"),
        BackupGate,
        Authenticated,
        AnswersOctetStream,
        CoreCall,
    )
)]
pub async fn system_backup_post(
    State(s): State<AppState>,
    Caller(who, _): BackupUser,
    _: AcceptOctetStream,
) -> Result<Response, NetHsmError> {
    let job = s
        .run(move |core| core.operational(&who)?.backup().prepare())
        .await?;
    let forgotten = job.key_forgotten();
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let span = tracing::Span::current();
    let writer = ChannelWriter {
        tx,
        forgotten: forgotten.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    let writer_failed = failed.clone();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        // Keeps the channel open until the outcome is recorded, so the response never sees
        // its end before it can tell a failure from success.
        let keep_open = writer.tx.clone();
        let locked = writer.forgotten.clone();
        match job.write_to(writer) {
            Ok(_) => {}
            Err(_) if locked.is_set() => {
                tracing::info!("backup download stopped: the node locked");
                writer_failed.store(true, std::sync::atomic::Ordering::Release);
            }
            Err(e) => {
                tracing::error!(error = %e, "backup failed while streaming");
                writer_failed.store(true, std::sync::atomic::Ordering::Release);
            }
        }
        drop(keep_open);
    });
    // The state: the channel, and whether the stream has ended (after an error).
    let stream = futures_util::stream::unfold(Some(rx), move |rx| {
        let (forgotten, failed) = (forgotten.clone(), failed.clone());
        async move {
            let mut rx = rx?;
            loop {
                if forgotten.is_set() {
                    // Ends the response with an error, so the client sees a broken transfer
                    // rather than a short file.
                    return Some((Err(std::io::Error::other("the node locked")), None));
                }
                tokio::select! {
                    item = rx.recv() => {
                        return match item {
                            Some(bytes) => Some((Ok(bytes), Some(rx))),
                            None if failed.load(std::sync::atomic::Ordering::Acquire) => {
                                Some((Err(std::io::Error::other("backup failed")), None))
                            }
                            None => None,
                        };
                    }
                    _ = tokio::time::sleep(LOCK_POLL) => {}
                }
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `std::io::Write` into the response body channel (from a blocking thread). While the
/// channel is full it waits for room, but gives up as soon as the node locks.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    forgotten: strongroom_core::KeyForgotten,
    runtime: tokio::runtime::Handle,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            if self.forgotten.is_set() {
                return Err(std::io::Error::other("the node locked"));
            }
            let room = self
                .runtime
                .block_on(tokio::time::timeout(LOCK_POLL, self.tx.reserve()));
            match room {
                Ok(Ok(permit)) => {
                    permit.send(Bytes::copy_from_slice(buf));
                    return Ok(buf.len());
                }
                Ok(Err(_)) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "client went away",
                    ));
                }
                Err(_) => continue,
            }
        }
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
#[utoipa::path(
    post,
    path = "/system/restore",
    operation_id = "restore",
    tag = "system",
    summary = "Restore a backup.",
    description = "Unprovisioned: no credentials, a full restore, and the node ends Locked. \
                   Operational: a root Administrator's credentials (401, 403 otherwise), and \
                   the user data (users, keys, namespaces) is replaced. The file is verified \
                   whole before anything changes.",
    security((), ("basic" = [])),
    request_body(content = RestoreForm, content_type = "multipart/form-data"),
    responses(
        (status = 204, description = "Restored."),
        Gated,
        Authenticated,
        RestoreUpload,
        CoreCall,
    )
)]
pub async fn system_restore_post(
    State(s): State<AppState>,
    req: Request,
) -> Result<StatusCode, NetHsmError> {
    let (parts, body) = req.into_parts();
    let who: Option<Principal> = if s.core.state() == SystemState::Operational {
        let who = auth::authenticate_basic(&s, &parts).await?;
        Access::RootAdministrator.check(&who)?;
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
                // Holds the backup passphrase: wiped when dropped, never reallocated unwiped.
                let mut raw = zeroize::Zeroizing::new(Vec::new());
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if raw.len() + chunk.len() > ARGUMENTS_LIMIT {
                        return Err(bad_request("The arguments part is too large."));
                    }
                    http_util::extend_wiping(&mut raw, &chunk, ARGUMENTS_LIMIT);
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
        let restore = Restore {
            backup_passphrase: &arguments.backup_passphrase,
            system_time: arguments.system_time.as_deref(),
        };
        match &who {
            Some(who) => core
                .operational(who)?
                .backup()
                .restore(upload.path(), restore),
            None => core.restore(upload.path(), restore),
        }
    })
    .await?;
    // A full restore may bring the backup's TLS certificate: served from the next connection.
    // The restore is done either way; a certificate that cannot be served is the log's news.
    if let Err(e) = s.tls.reload(&s.core).await {
        tracing::error!(error = %e, "serving the restored TLS certificate failed");
    }
    Ok(StatusCode::NO_CONTENT)
}
