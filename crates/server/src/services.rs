//! Which of Strongroom's services run ([`strongroom_core::appliance::services`]), as the
//! request path checks it: one atomic per service, loaded from the store at start and set
//! after each change the appliance face commits, so no request reads the store to know.
//!
//! A stopped face answers 503 in its own error shape ([`StoppedRefusal`]) from [`gate`],
//! which runs before the face's own middleware: a refused request is not audited (a stopped
//! service does no work, and writing the store per refusal would be work). The appliance face
//! keeps `/session` and `/services` while stopped, so an administrator can start it again
//! through it; the NetHSM face cannot be stopped at all.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use strongroom_core::Core;
use strongroom_core::appliance::services::{SERVICES, ServiceSpec, service};

use crate::app::AppState;
use crate::face::json::JsonError;
use crate::face::{Face, FaceError};

/// The running state of every service of [`SERVICES`], in its order.
#[derive(Debug)]
pub struct Services {
    running: Vec<AtomicBool>,
}

impl Default for Services {
    /// Every service running (a node whose records have not been read yet).
    fn default() -> Self {
        Self {
            running: SERVICES.iter().map(|_| AtomicBool::new(true)).collect(),
        }
    }
}

fn index(id: &str) -> Option<usize> {
    SERVICES.iter().position(|s| s.id == id)
}

impl Services {
    /// The states stored in `core`. A record that cannot be read leaves its service running
    /// (and says so in the log): a service that stays up is recoverable, one that cannot be
    /// started again through a face that is down might not be.
    pub fn load(core: &Core) -> Self {
        let services = Self::default();
        services.reload(core);
        let stopped: Vec<&str> = SERVICES
            .iter()
            .filter(|s| !services.is_running(s.id))
            .map(|s| s.id)
            .collect();
        if !stopped.is_empty() {
            tracing::warn!(
                ?stopped,
                "services stopped by an administrator stay stopped"
            );
        }
        services
    }

    /// Reads the states again from `core` (after a factory reset erased them).
    pub fn reload(&self, core: &Core) {
        for (spec, running) in SERVICES.iter().zip(&self.running) {
            match core.service_running(spec.id) {
                Ok(on) => {
                    running.store(on, Ordering::Relaxed);
                    follow(spec.id, on);
                }
                Err(e) => {
                    running.store(true, Ordering::Relaxed);
                    tracing::error!(service = spec.id, error = %e, "cannot read whether the service is stopped; it runs")
                }
            }
        }
    }

    /// Whether the service `id` runs (an unknown id does not). The syslog forwarder asks
    /// `is_running("syslog")` before it sends.
    pub fn is_running(&self, id: &str) -> bool {
        index(id).is_some_and(|i| self.running[i].load(Ordering::Relaxed))
    }

    /// Records a change the core has committed.
    pub fn set_running(&self, id: &str, running: bool) {
        if let Some(i) = index(id) {
            self.running[i].store(running, Ordering::Relaxed);
            follow(id, running);
        }
    }

    /// Records a restart the core has committed: the service runs. What a restart reopens
    /// is the service's own business (the syslog forwarder's is `syslog::restart`).
    pub fn restarted(&self, id: &str) {
        self.set_running(id, true);
    }
}

/// The services that are not a face act on their state themselves: the syslog forwarder
/// stops sending while `syslog` is stopped. (A face is gated per request by [`gate`].)
fn follow(id: &str, running: bool) {
    if id == "syslog" {
        crate::syslog::forwarder().set_paused(!running);
    }
}

/// A face's answer while its service is stopped: 503 in the face's own shape.
pub trait StoppedRefusal: FaceError {
    fn service_stopped(service: &ServiceSpec) -> Self;
}

/// The message every face gives while its service is stopped.
pub fn stopped_message(service: &ServiceSpec) -> String {
    format!(
        "The {} service ({}) is stopped; an administrator can start it again through the appliance API (POST /api/rest/configure/v1/services/{}/actions/start).",
        service.name, service.id, service.id
    )
}

/// The NetHSM face and Strongroom's own API share `{"message"}` errors.
impl<F: 'static> StoppedRefusal for JsonError<F> {
    fn service_stopped(service: &ServiceSpec) -> Self {
        JsonError::new(StatusCode::SERVICE_UNAVAILABLE, stopped_message(service))
    }
}

/// The paths of the appliance face (relative to its base) that answer while it is stopped:
/// logging in and out, and the services, so it can be started again through itself.
fn kept_while_stopped(face: Face, path: &str) -> bool {
    face == Face::Appliance
        && ["/session", "/services"].iter().any(|kept| {
            path.strip_prefix(kept)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// `router` (the face `face`'s routes), answering [`StoppedRefusal`] while its service is
/// stopped.
pub fn gate<E: StoppedRefusal>(
    face: Face,
    state: &AppState,
    router: Router<AppState>,
) -> Router<AppState> {
    let spec = service(face.name()).expect("every face is a service");
    router.layer(axum::middleware::from_fn_with_state(
        (state.clone(), face, spec),
        refuse_while_stopped::<E>,
    ))
}

async fn refuse_while_stopped<E: StoppedRefusal>(
    State((app, face, spec)): State<(AppState, Face, &'static ServiceSpec)>,
    req: Request,
    next: Next,
) -> Response {
    if app.services.is_running(spec.id) || kept_while_stopped(face, req.uri().path()) {
        return next.run(req).await;
    }
    let (parts, _) = req.into_parts();
    E::service_stopped(spec).answer(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_face_is_a_service_and_only_the_nethsm_face_cannot_stop() {
        for face in Face::ALL {
            let spec = service(face.name()).expect("a service per face");
            assert_eq!(spec.stoppable, face != Face::NetHsm, "{}", spec.id);
        }
        assert!(service("syslog").is_some());
    }

    #[test]
    fn the_appliance_face_keeps_its_session_and_services_while_stopped() {
        for (face, path, kept) in [
            (Face::Appliance, "/session", true),
            (Face::Appliance, "/services", true),
            (Face::Appliance, "/services/appliance/actions/start", true),
            (Face::Appliance, "/servicesx", false),
            (Face::Appliance, "/appliance", false),
            (Face::Appliance, "/tasks", false),
            (Face::BackupClient, "/session", false),
            (Face::Strongroom, "/services", false),
        ] {
            assert_eq!(kept_while_stopped(face, path), kept, "{face:?} {path}");
        }
    }

    #[test]
    fn states_change_by_id() {
        let s = Services::default();
        assert!(s.is_running("backup-client"));
        s.set_running("backup-client", false);
        assert!(!s.is_running("backup-client"));
        assert!(s.is_running("strongroom"));
        s.restarted("backup-client");
        assert!(s.is_running("backup-client"));
        assert!(!s.is_running("no-such-service"));
    }
}
