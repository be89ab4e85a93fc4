//! `/cluster/members`: the membership of the etcd cluster this node's store runs on, through
//! etcd's own member API (list, add a learner, promote it, change peer URLs, remove), root
//! Administrators only, Operational only. A node on the embedded store is not in a cluster:
//! these answer 412 saying so, never a one-member cluster. `docs/cluster.md`, "The members
//! API".

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use strongroom_core::cluster_kit::{self, JoinerKitContent, KitMember};
use strongroom_store::membership::{Member, MembershipError};

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, NetHsmPath, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Item, JsonBody, PutJsonBody};
use super::openapi_admin::ClusterGate;
use super::openapi_params::MemberId;
use crate::app::AppState;
use crate::cluster::ClusterMembership;

/// The longest peer URL the spec allows (`PeerURL`).
const URL_MAX: usize = 1024;

/// `ClusterMember`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterMember {
    pub id: String,
    pub name: String,
    pub urls: Vec<String>,
    pub learner: bool,
    /// Whether the member answered this node just now (a Strongroom addition to NetHSM's
    /// `ClusterMember`, in `GET /cluster/members` only; docs/cluster.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub healthy: Option<bool>,
}

/// `ClusterAddReq` (also the body of `PUT /cluster/members/{MemberID}`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterAddReq {
    /// Peer URLs, `https://HOST:PORT` (or `http://` where the cluster's peers speak it).
    pub urls: Vec<String>,
}

/// `ClusterMemberAddResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMemberAddResponse {
    pub members: Vec<ClusterMember>,
    pub joiner_kit: String,
}

/// A member id as this API prints it: etcd's 64-bit id in 16 lowercase hex digits.
fn print_id(id: u64) -> String {
    format!("{id:016x}")
}

/// The name a new member is to start with (`etcd --name`): etcd knows a member's name only
/// once it runs, and the others' `--initial-cluster` must name it.
fn new_member_name(id: u64) -> String {
    format!("strongroom-{}", print_id(id))
}

fn wire(m: &Member) -> ClusterMember {
    ClusterMember {
        id: print_id(m.id),
        name: m.name.clone(),
        urls: m.peer_urls.clone(),
        learner: m.learner,
        healthy: None,
    }
}

/// The cluster this node runs on; 412 on the embedded store. An extractor, after the caller's
/// 401 and 403 and before the body's checks.
pub struct ClusterNode(ClusterMembership);

impl FromRequestParts<AppState> for ClusterNode {
    type Rejection = NetHsmError;

    async fn from_request_parts(_: &mut Parts, s: &AppState) -> Result<Self, NetHsmError> {
        s.cluster_membership.clone().map(ClusterNode).ok_or_else(|| {
            NetHsmError::new(
                StatusCode::PRECONDITION_FAILED,
                "This appliance runs on its embedded store, not in a cluster: it has no cluster \
                 members. Cluster mode runs several nodes on one etcd cluster \
                 (strongroom serve --store etcd://HOST:PORT[,HOST:PORT...]); see docs/cluster.md.",
            )
        })
    }
}

/// A `MemberID` from the path: 400 if it is not an `ID` of the spec; 404 if it is one but
/// cannot be an etcd member's id.
fn member_id(raw: &str) -> Result<u64, NetHsmError> {
    if !strongroom_core::identity::is_valid_id(raw) {
        return Err(NetHsmError::new(
            StatusCode::BAD_REQUEST,
            "MemberID: an id is 1 to 128 of a-z, A-Z, 0-9, '_', '.', '-', starting with a \
             letter or digit.",
        ));
    }
    let hex16 = raw.len() == 16
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex16
        .then(|| u64::from_str_radix(raw, 16).ok())
        .flatten()
        .ok_or_else(not_found)
}

fn not_found() -> NetHsmError {
    NetHsmError::new(
        StatusCode::NOT_FOUND,
        "Cluster member not found (ids are 16 lowercase hex digits, as GET /cluster/members \
         lists them).",
    )
}

fn bad_urls(why: String) -> NetHsmError {
    NetHsmError::new(StatusCode::BAD_REQUEST, format!("urls: {why}"))
}

/// The peer URLs' form, before etcd sees them: `scheme://host:port` (etcd takes no path),
/// at least one, no repeat.
fn check_urls(urls: &[String]) -> Result<(), NetHsmError> {
    if urls.is_empty() {
        return Err(bad_urls("at least one peer URL is needed".into()));
    }
    for (i, url) in urls.iter().enumerate() {
        let shown: String = url.chars().take(64).collect();
        if url.is_empty() || url.len() > URL_MAX {
            return Err(bad_urls(format!("a peer URL is 1 to {URL_MAX} characters")));
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad_urls(format!("{shown:?} is not https://HOST:PORT")))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad_urls(format!("{shown:?} has no port (https://HOST:PORT)")))?;
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'.' | b'-' | b'_')
                    || (host.starts_with('[') && matches!(b, b'[' | b']' | b':'))
            });
        let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0) && !port.starts_with('+');
        if !host_ok || !port_ok {
            return Err(bad_urls(format!(
                "{shown:?} is not scheme://HOST:PORT (no path, no user, a port from 1 to 65535)"
            )));
        }
        if urls[..i].contains(url) {
            return Err(bad_urls(format!("{shown:?} is given twice")));
        }
    }
    Ok(())
}

/// Peer traffic speaks one scheme across the cluster: the new URLs must use the one the
/// other members use (https with a cluster CA, as NetHSM's spec requires; http where the
/// operator runs etcd's peer traffic in clear). `except` is the member whose URLs change.
fn check_scheme(
    urls: &[String],
    members: &[Member],
    except: Option<u64>,
) -> Result<(), NetHsmError> {
    let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_owned());
    let theirs: std::collections::BTreeSet<String> = members
        .iter()
        .filter(|m| Some(m.id) != except)
        .flat_map(|m| m.peer_urls.iter().filter_map(|u| scheme(u)))
        .collect();
    if theirs.len() != 1 {
        // No other member, or the others already mix schemes: nothing to match.
        return Ok(());
    }
    let expected = theirs.into_iter().next().unwrap_or_default();
    match urls
        .iter()
        .find(|u| scheme(u).as_deref() != Some(expected.as_str()))
    {
        Some(u) => Err(bad_urls(format!(
            "{:?}: the cluster's members speak {expected}:// to each other; use {expected}://HOST:PORT",
            u.chars().take(64).collect::<String>()
        ))),
        None => Ok(()),
    }
}

fn refused(e: MembershipError) -> NetHsmError {
    match e {
        MembershipError::NotFound => not_found(),
        MembershipError::NotNow(m) => NetHsmError::new(
            StatusCode::PRECONDITION_FAILED,
            format!(
                "The cluster refused this for now ({m}); for a learner, promote it again once it has caught up with the leader."
            ),
        ),
        MembershipError::BadUrls(m) => bad_urls(m),
        MembershipError::Backend(m) => {
            tracing::error!(error = %m, "cluster membership call");
            NetHsmError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The cluster's etcd did not answer the membership call (no quorum, or \
                 unreachable); try again once it is healthy.",
            )
        }
    }
}

impl From<MembershipError> for NetHsmError {
    fn from(e: MembershipError) -> Self {
        refused(e)
    }
}

/// What every members call does: runs `call` on the cluster's membership off the async
/// threads (each membership call blocks, bounded by etcd's request timeout), with etcd's
/// refusals (`?` on a [`MembershipError`]) answered as [`refused`] says.
async fn member_call<T: Send + 'static>(
    cluster: ClusterMembership,
    call: impl FnOnce(&ClusterMembership) -> Result<T, NetHsmError> + Send + 'static,
) -> Result<T, NetHsmError> {
    tokio::task::spawn_blocking(move || call(&cluster))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cluster membership task");
            NetHsmError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
        })?
}

/// A members call that changes one member: [`member_call`], then the change logged and 204.
async fn member_change(
    cluster: ClusterMembership,
    id: u64,
    done: &'static str,
    call: impl FnOnce(&ClusterMembership) -> Result<(), NetHsmError> + Send + 'static,
) -> Result<StatusCode, NetHsmError> {
    member_call(cluster, call).await?;
    tracing::info!(member = %print_id(id), "{done}");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/cluster/members",
    operation_id = "listClusterMembers",
    tag = "cluster",
    responses(
        (status = 200, description = "The etcd cluster's members, with whether each answered \
            this node just now (`healthy`, a Strongroom addition).", body = Vec<ClusterMember>),
        ClusterGate,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn members_get(
    State(s): State<AppState>,
    Caller(_, _): RootAdmin,
    ClusterNode(cluster): ClusterNode,
    _: AcceptJson,
) -> Result<NetHsmJson<Vec<ClusterMember>>, NetHsmError> {
    let (members, health) = member_call(cluster, |c| {
        let members = c.members.list()?;
        let (health, asked) = c.health.health(c.members.as_ref(), &members);
        Ok((members, (health, asked)))
    })
    .await?;
    let (health, asked) = health;
    if asked {
        s.metrics.inc("cluster_member_health_rounds_total", &[]);
    }
    Ok(NetHsmJson(
        members
            .iter()
            .zip(health)
            .map(|(m, healthy)| ClusterMember {
                healthy: Some(healthy),
                ..wire(m)
            })
            .collect(),
    ))
}

#[utoipa::path(
    post,
    path = "/cluster/members",
    operation_id = "addClusterMember",
    tag = "cluster",
    request_body = ClusterAddReq,
    responses(
        (status = 201, description = "Added as a learner; the joiner kit, sealed under the \
            backup passphrase, is for the new node.", body = ClusterMemberAddResponse),
        ClusterGate,
        Authenticated,
        JsonBody,
        CoreCall,
    )
)]
pub async fn members_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    ClusterNode(cluster): ClusterNode,
    NetHsmJson(req): NetHsmJson<ClusterAddReq>,
) -> Result<(StatusCode, NetHsmJson<ClusterMemberAddResponse>), NetHsmError> {
    check_urls(&req.urls)?;
    // Before etcd changes: no backup passphrase, no kit, no new member.
    let key = s
        .run(move |core| core.operational(&who)?.system().joiner_kit_key())
        .await?;
    let urls = req.urls;
    let (added, members) = member_call(cluster.clone(), move |c| {
        let before = c.members.list()?;
        check_scheme(&urls, &before, None)?;
        Ok(c.members.add_learner(urls)?)
    })
    .await?;
    let name = new_member_name(added.id);
    let mut listed: Vec<ClusterMember> = members.iter().map(wire).collect();
    for m in &mut listed {
        if m.id == print_id(added.id) && m.name.is_empty() {
            m.name = name.clone();
        }
    }
    let content = JoinerKitContent {
        endpoints: cluster.endpoints,
        key_prefix: cluster.key_prefix,
        member_id: print_id(added.id),
        member_name: name,
        members: listed
            .iter()
            .map(|m| KitMember {
                id: m.id.clone(),
                name: m.name.clone(),
                urls: m.urls.clone(),
                learner: m.learner,
            })
            .collect(),
    };
    let joiner_kit = cluster_kit::seal(&key, &content)?;
    tracing::info!(member = %print_id(added.id), "cluster member added as a learner");
    Ok((
        StatusCode::CREATED,
        NetHsmJson(ClusterMemberAddResponse {
            members: listed,
            joiner_kit,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/cluster/members/{MemberID}/promote",
    operation_id = "promoteClusterMember",
    tag = "cluster",
    params(MemberId),
    responses(
        (status = 204, description = "The learner is a voting member."),
        ClusterGate,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn member_promote_post(
    NetHsmPath(raw): NetHsmPath<String>,
    Caller(_, _): RootAdmin,
    ClusterNode(cluster): ClusterNode,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let id = member_id(&raw)?;
    member_change(cluster, id, "cluster learner promoted", move |c| {
        Ok(c.members.promote(id)?)
    })
    .await
}

#[utoipa::path(
    put,
    path = "/cluster/members/{MemberID}",
    operation_id = "updateClusterMember",
    tag = "cluster",
    params(MemberId),
    request_body = ClusterAddReq,
    responses(
        (status = 204, description = "The member's peer URLs are changed."),
        ClusterGate,
        Authenticated,
        PutJsonBody,
        Item,
        CoreCall,
    )
)]
pub async fn member_put(
    NetHsmPath(raw): NetHsmPath<String>,
    Caller(_, _): RootAdmin,
    ClusterNode(cluster): ClusterNode,
    NetHsmJson(req): NetHsmJson<ClusterAddReq>,
) -> Result<StatusCode, NetHsmError> {
    let id = member_id(&raw)?;
    check_urls(&req.urls)?;
    member_change(
        cluster,
        id,
        "cluster member's peer URLs changed",
        move |c| {
            let members = c.members.list()?;
            if !members.iter().any(|m| m.id == id) {
                return Err(not_found());
            }
            check_scheme(&req.urls, &members, Some(id))?;
            Ok(c.members.update(id, req.urls)?)
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/cluster/members/{MemberID}",
    operation_id = "removeClusterMember",
    tag = "cluster",
    params(MemberId),
    responses(
        (status = 204, description = "Removed from the cluster."),
        ClusterGate,
        Authenticated,
        AnswersJson,
        Item,
        CoreCall,
    )
)]
pub async fn member_delete(
    NetHsmPath(raw): NetHsmPath<String>,
    Caller(_, _): RootAdmin,
    ClusterNode(cluster): ClusterNode,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    let id = member_id(&raw)?;
    member_change(cluster, id, "cluster member removed", move |c| {
        Ok(c.members.remove(id)?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u64, urls: &[&str]) -> Member {
        Member {
            id,
            name: String::new(),
            peer_urls: urls.iter().map(|u| u.to_string()).collect(),
            client_urls: Vec::new(),
            learner: false,
        }
    }

    #[test]
    fn member_ids_are_16_lowercase_hex_digits() {
        assert_eq!(member_id("8e9e05c52164694d").unwrap(), 0x8e9e05c52164694d);
        assert_eq!(print_id(0x8e9e05c52164694d), "8e9e05c52164694d");
        assert_eq!(print_id(1), "0000000000000001");
        for unknown in [
            "8E9E05C52164694D",
            "abc",
            "8e9e05c52164694d0",
            "zzzzzzzzzzzzzzzz",
        ] {
            assert_eq!(
                member_id(unknown).unwrap_err().status,
                StatusCode::NOT_FOUND
            );
        }
        for bad in ["", "-a", "a~b", "a b", &"a".repeat(129)] {
            assert_eq!(member_id(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn peer_urls_are_scheme_host_port() {
        let ok = |u: &[&str]| check_urls(&u.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok(&["https://192.168.1.2:2380"]).is_ok());
        assert!(ok(&["http://127.0.0.1:2380", "http://[::1]:2380"]).is_ok());
        for bad in [
            &[][..],
            &[""],
            &["192.168.1.2:2380"],
            &["https://192.168.1.2"],
            &["https://192.168.1.2:0"],
            &["https://192.168.1.2:99999"],
            &["https://192.168.1.2:2380/path"],
            &["https://user@host:2380"],
            &["ftp://host:2380"],
            &["https://:2380"],
            &["https://h:1", "https://h:1"],
        ] {
            assert_eq!(
                ok(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn new_urls_speak_the_clusters_scheme() {
        let members = [m(1, &["https://a:2380"]), m(2, &["https://b:2380"])];
        let urls = |u: &str| vec![u.to_string()];
        assert!(check_scheme(&urls("https://c:2380"), &members, None).is_ok());
        assert!(check_scheme(&urls("http://c:2380"), &members, None).is_err());
        let plain = [m(1, &["http://a:2380"]), m(2, &["http://b:2380"])];
        assert!(check_scheme(&urls("http://c:2380"), &plain, None).is_ok());
        assert!(check_scheme(&urls("https://c:2380"), &plain, None).is_err());
        // A lone member may change scheme: no other member to match.
        assert!(check_scheme(&urls("https://a:2380"), &plain[..1], Some(1)).is_ok());
    }
}
