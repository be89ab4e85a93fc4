//! What every face shares, so that no face imports another: which face a request is for
//! ([`Face`]), the caller and the rule it must pass ([`caller`]), the state gate
//! ([`state_gate`]), bounded body reading ([`body`]), the `{"message"}` JSON conventions the
//! NetHSM face and Strongroom's own API both speak ([`json`]), and the rendering of the
//! router's own bodiless errors ([`bare_errors`]).
//!
//! Each face keeps its own `error` (its protocol's shape, and the [`FaceError`] that lets this
//! plumbing answer in it), `extract` (its role aliases and its own extractors) and `wire`.

pub mod bare_errors;
pub mod body;
pub mod caller;
pub mod json;
pub mod openapi;
pub mod state_gate;

use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

pub use caller::{Caller, Rule, rule};

/// The appliance and backup-client faces' message while the cluster store (etcd) is
/// unavailable, or this node is `Failed` (cluster mode: `strongroom_core::cluster_health`).
pub const CLUSTER_UNAVAILABLE: &str = "The cluster store (etcd) is unavailable (quorum lost or unreachable); this node serves again by itself once it is back. A change asked for meanwhile may or may not have been made: read before retrying.";

/// A protocol face of the server: where it is mounted, and the name it goes by in metrics
/// labels and in the audit trail. Set here once; the router, the metrics and the audit
/// middleware all read it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    /// The NetHSM API (`nethsm-api.yaml`).
    NetHsm,
    /// The VMware appliance configuration API.
    Appliance,
    /// The backup-client (Commvault) web service, mounted twice.
    BackupClient,
    /// Strongroom's own API.
    Strongroom,
}

impl Face {
    pub const ALL: [Face; 4] = [
        Face::NetHsm,
        Face::Appliance,
        Face::BackupClient,
        Face::Strongroom,
    ];

    /// The face's name in metrics labels (`face="..."`) and audit events.
    pub const fn name(self) -> &'static str {
        match self {
            Face::NetHsm => "nethsm",
            Face::Appliance => "appliance",
            Face::BackupClient => "backup-client",
            Face::Strongroom => "strongroom",
        }
    }

    /// Where the face is mounted (the backup-client face is served at both of its roots).
    pub const fn base_paths(self) -> &'static [&'static str] {
        match self {
            Face::NetHsm => &["/api/v1"],
            Face::Appliance => &["/api/rest/configure/v1"],
            Face::BackupClient => &["/commandcenter/api", "/webconsole/api"],
            Face::Strongroom => &["/api/strongroom/v1"],
        }
    }

    /// The face a request path is under, if any.
    pub fn of_path(path: &str) -> Option<Face> {
        Face::ALL.into_iter().find(|face| {
            face.base_paths().iter().any(|base| {
                path.strip_prefix(base)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        })
    }
}

/// A face's error type, as the shared plumbing uses it: made from a core error, and rendered
/// in the face's shape.
pub trait FaceError: From<strongroom_core::Error> + IntoResponse + Send + 'static {
    /// This error as the answer to `request`. A face whose error shape depends on the request
    /// (the reply format `Accept` asks for, a route with its own error shape) says so here.
    fn answer(self, _request: &Parts) -> Response {
        self.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_the_face_mounted_there() {
        for (path, face) in [
            ("/api/v1/health/state", Some(Face::NetHsm)),
            ("/api/v1", Some(Face::NetHsm)),
            ("/api/rest/configure/v1/session", Some(Face::Appliance)),
            ("/commandcenter/api/login", Some(Face::BackupClient)),
            ("/webconsole/api/client", Some(Face::BackupClient)),
            ("/api/strongroom/v1/audit", Some(Face::Strongroom)),
            ("/api/v10/x", None),
            ("/", None),
        ] {
            assert_eq!(Face::of_path(path), face, "{path}");
        }
        // Every face has its own name and its own roots.
        for a in Face::ALL {
            for b in Face::ALL {
                if a != b {
                    assert_ne!(a.name(), b.name());
                }
            }
            for base in a.base_paths() {
                assert_eq!(Face::of_path(base), Some(a));
            }
        }
    }
}
