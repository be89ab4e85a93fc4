//! `POST /cluster/join` and `POST /cluster/force-new` (nethsm-api.yaml).
//!
//! Neither can be carried out by this build, and both say so in the spec's own answer (412,
//! `{"message": ...}`) with what to do instead (docs/cluster.md, "Joining and forcing a new
//! cluster"):
//!
//! - join needs the joiner kit of `POST /cluster/members` (built elsewhere) to wipe this
//!   node and restart its etcd member as a learner of the cluster; the same result is had by
//!   starting the node with `[etcd.member]` and `initial_cluster_state = "existing"`. The
//!   request is still checked as the spec says first: the caller (401, 403), the body (400),
//!   and that a cluster CA is set (412).
//! - force-new rebuilds a `Failed` node's etcd member as a cluster of one. A node that is not
//!   Failed answers 412 as the spec says; a Failed one answers 412 too, since this build does
//!   not restart its member with `--force-new-cluster` itself, and says how to do it by hand.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use strongroom_core::secret::Passphrase;

use super::error::NetHsmError;
use super::extract::{Caller, NetHsmJson, RootAdmin};
use super::openapi::{Authenticated, CoreCall, JsonBody};
use super::openapi_admin::{ForceNewRefused, JoinRefused};
use crate::app::AppState;

/// `ClusterInitialMember`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterInitialMember {
    pub name: String,
    pub urls: Vec<String>,
}

/// `ClusterJoinReq`. No `Debug`: the kit and passphrase are not for logs.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterJoinReq {
    pub members: Vec<ClusterInitialMember>,
    pub joiner_kit: String,
    #[schema(value_type = String)]
    pub backup_passphrase: Passphrase,
}

/// The spec's `PeerURL`: `^https://.+`, at most 1024 bytes.
const PEER_URL_MAX: usize = 1024;

fn bad_request(message: String) -> NetHsmError {
    NetHsmError::new(StatusCode::BAD_REQUEST, message)
}

impl ClusterJoinReq {
    fn check(&self) -> Result<(), NetHsmError> {
        if self.members.is_empty() {
            return Err(bad_request(
                "members must list the cluster's members, as POST /cluster/members returned them"
                    .into(),
            ));
        }
        for (i, m) in self.members.iter().enumerate() {
            if m.name.is_empty() {
                return Err(bad_request(format!("members[{i}].name must not be empty")));
            }
            if m.urls.is_empty() {
                return Err(bad_request(format!("members[{i}].urls must not be empty")));
            }
            for url in &m.urls {
                if url.len() <= "https://".len()
                    || url.len() > PEER_URL_MAX
                    || !url.starts_with("https://")
                {
                    return Err(bad_request(format!(
                        "members[{i}].urls: each must be https://... and at most {PEER_URL_MAX} bytes"
                    )));
                }
            }
        }
        if self.joiner_kit.is_empty() {
            return Err(bad_request("joinerKit must not be empty".into()));
        }
        self.backup_passphrase.check_length("backupPassphrase")?;
        Ok(())
    }
}

/// What to do instead of `/cluster/join` in this build.
pub const JOIN_INSTEAD: &str = "This node cannot join a cluster through /cluster/join in this build. \
    Instead: add it on a member with POST /cluster/members, then start this node with \
    --store etcd://... and the configuration file's [etcd.member] table with \
    initial_cluster_state = \"existing\" and a fresh data directory; it comes up Locked and \
    is unlocked with the cluster's unlock passphrase (docs/cluster.md).";

/// `POST /cluster/join`: checked as the spec says, then 412 (see the module's note).
#[utoipa::path(
    post,
    path = "/cluster/join",
    operation_id = "joinCluster",
    tag = "cluster",
    summary = "Join a cluster (checked, then refused here).",
    description = "Checked as the spec says (the caller, the body, that a cluster CA is \
                   set), then refused: this build does not join a cluster through this call, \
                   and the 412's message says how to join instead (docs/cluster.md, \"Joining \
                   and forcing a new cluster\"). So the spec's 204 and 409 are never answered.",
    request_body = ClusterJoinReq,
    responses(
        JoinRefused,
        Authenticated,
        JsonBody,
        CoreCall,
    )
)]
pub async fn cluster_join_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<ClusterJoinReq>,
) -> Result<StatusCode, NetHsmError> {
    req.check()?;
    let ca = s
        .run(move |core| core.operational(&who)?.appliance().tls_cluster_ca())
        .await?;
    if ca.is_none() {
        return Err(NetHsmError::new(
            StatusCode::PRECONDITION_FAILED,
            "No cluster CA has been set: set one with PUT /config/tls/cluster-ca.pem before joining.",
        ));
    }
    Err(NetHsmError::new(
        StatusCode::PRECONDITION_FAILED,
        JOIN_INSTEAD,
    ))
}

/// How to force a new cluster by hand, which `/cluster/force-new` does not do itself.
const FORCE_NEW_BY_HAND: &str = "To force a new single-member cluster from this node's etcd \
    data, stop the server, run etcd once with --force-new-cluster on <data-dir>/etcd, stop it, \
    and start the server with initial_cluster listing this member only (docs/cluster.md).";

/// `POST /cluster/force-new`: 412 in every state (see the module's note), saying why.
#[utoipa::path(
    post,
    path = "/cluster/force-new",
    operation_id = "forceNewCluster",
    tag = "cluster",
    summary = "Rebuild this node's etcd member as a new cluster (refused here).",
    description = "Refused in every state, without credentials: this build does not rebuild \
                   its etcd member as a new cluster itself, and the 412's message says how to \
                   do it by hand (docs/cluster.md). The spec's 204 and 401 are never answered.",
    security(()),
    responses(ForceNewRefused)
)]
pub async fn cluster_force_new_post(State(s): State<AppState>) -> NetHsmError {
    let why = if s.core.state() == strongroom_core::SystemState::Failed {
        "This build does not rebuild the etcd member itself."
    } else {
        "This node is not in the Failed state: /cluster/force-new only rebuilds a node whose \
         etcd cluster has lost its quorum."
    };
    NetHsmError::new(
        StatusCode::PRECONDITION_FAILED,
        format!("{why} {FORCE_NEW_BY_HAND}"),
    )
}
