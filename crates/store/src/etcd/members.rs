//! etcd's own membership API (NetHSM's `/cluster/members`): list the members, add one as a
//! learner, promote it, change its peer URLs, remove it. Nothing here is ours: every call is
//! one of etcd's `Cluster` RPCs on the cluster the store runs on, through the store's own
//! client and runtime, and etcd decides (a learner not yet in sync cannot be promoted, an
//! unknown id is not found, a peer URL already used is refused).

use std::fmt;

use etcd_client::{Client, ConnectOptions, MemberAddOptions};
use tokio::runtime::Handle;

use super::{EtcdStore, call};
use crate::membership::{Member, Membership, MembershipError};

type Result<T> = std::result::Result<T, MembershipError>;

/// The membership calls of the cluster an [`EtcdStore`] runs on. Cheap to clone; it works as
/// long as its store is open.
#[derive(Clone)]
pub struct EtcdMembers {
    client: Client,
    connect_options: ConnectOptions,
    handle: Handle,
    endpoints: String,
    timeout: std::time::Duration,
}

impl fmt::Debug for EtcdMembers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdMembers")
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl EtcdStore {
    /// The membership API of the cluster this store runs on (same client, same runtime).
    pub fn members(&self) -> EtcdMembers {
        EtcdMembers {
            client: self.inner.client.clone(),
            connect_options: self.inner.connect_options.clone(),
            handle: self.inner.handle.clone(),
            endpoints: self.inner.endpoints.clone(),
            timeout: self.inner.request_timeout,
        }
    }
}

impl EtcdMembers {
    /// Runs one membership RPC, keeping etcd's refusal apart from a failure to reach etcd.
    fn rpc<T, F>(&self, what: &str, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = std::result::Result<T, etcd_client::Error>> + Send + 'static,
    {
        let wrapped = async move { Ok::<_, etcd_client::Error>(fut.await) };
        match call(&self.handle, self.timeout, &self.endpoints, what, wrapped) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(what, &self.endpoints, e)),
            Err(e) => Err(MembershipError::Backend(e.to_string())),
        }
    }
}

impl Membership for EtcdMembers {
    /// Every member, voters and learners, in etcd's order.
    fn list(&self) -> Result<Vec<Member>> {
        let mut client = self.client.clone();
        let resp = self.rpc("member list", async move { client.member_list().await })?;
        Ok(resp.members().iter().map(member).collect())
    }

    /// Declares a new member as a learner (it votes only once promoted): returns it and the
    /// members after the change.
    fn add_learner(&self, peer_urls: Vec<String>) -> Result<(Member, Vec<Member>)> {
        let mut client = self.client.clone();
        let resp = self.rpc("member add", async move {
            client
                .member_add(peer_urls, Some(MemberAddOptions::new().with_is_learner()))
                .await
        })?;
        let added = resp.member().map(member).ok_or_else(|| {
            MembershipError::Backend("etcd member add: the answer names no member".into())
        })?;
        Ok((added, resp.member_list().iter().map(member).collect()))
    }

    /// Makes a learner a voting member; etcd refuses while it is not in sync with the leader.
    fn promote(&self, id: u64) -> Result<()> {
        let mut client = self.client.clone();
        self.rpc(
            "member promote",
            async move { client.member_promote(id).await },
        )?;
        Ok(())
    }

    /// Replaces a member's peer URLs.
    fn update(&self, id: u64, peer_urls: Vec<String>) -> Result<()> {
        let mut client = self.client.clone();
        self.rpc("member update", async move {
            client.member_update(id, peer_urls).await
        })?;
        Ok(())
    }

    /// Each member asked on its own client URLs, all at once; a member not started has none.
    fn health(&self, members: &[Member]) -> Vec<bool> {
        let checks: Vec<_> = members
            .iter()
            .map(|m| {
                let (urls, options) = (m.client_urls.clone(), self.connect_options.clone());
                self.handle.spawn(async move {
                    if urls.is_empty() {
                        false
                    } else {
                        answers(urls, options).await
                    }
                })
            })
            .collect();
        // Answered through a channel, as every call of the store is: this may run on a thread
        // of another runtime.
        let count = checks.len();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let mut healthy = Vec::with_capacity(count);
            for check in checks {
                healthy.push(check.await.unwrap_or(false));
            }
            let _ = tx.send(healthy);
        });
        rx.recv().unwrap_or_else(|_| vec![false; count])
    }

    /// Removes a member (voter or learner) from the cluster.
    fn remove(&self, id: u64) -> Result<()> {
        let mut client = self.client.clone();
        self.rpc(
            "member remove",
            async move { client.member_remove(id).await },
        )?;
        Ok(())
    }
}

/// How long a health check waits for one member.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the member at `urls` answers a status request with no error of its own (etcd's
/// `Status.errors`: an alarm such as NOSPACE or CORRUPT).
async fn answers(urls: Vec<String>, options: ConnectOptions) -> bool {
    let check = async move {
        let options = options
            .with_connect_timeout(HEALTH_TIMEOUT)
            .with_timeout(HEALTH_TIMEOUT);
        let mut client = Client::connect(urls, Some(options)).await.ok()?;
        let status = client.status().await.ok()?;
        Some(status.errors().is_empty())
    };
    tokio::time::timeout(2 * HEALTH_TIMEOUT, check)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn member(m: &etcd_client::Member) -> Member {
    Member {
        id: m.id(),
        name: m.name().to_owned(),
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
        learner: m.is_learner(),
    }
}

/// etcd's refusals by their messages (`api/v3rpc/rpctypes`, stable since etcd 3.4); anything
/// else is a failure to reach or use etcd.
fn classify(what: &str, endpoints: &str, e: etcd_client::Error) -> MembershipError {
    let etcd_client::Error::GRpcStatus(status) = &e else {
        return MembershipError::Backend(format!("etcd {what} at {endpoints}: {e}"));
    };
    let message = status.message().to_owned();
    match message.as_str() {
        "etcdserver: member not found" => MembershipError::NotFound,
        "etcdserver: can only promote a learner member which is in sync with leader"
        | "etcdserver: can only promote a learner member"
        | "etcdserver: too many learner members in cluster"
        | "etcdserver: unhealthy cluster"
        | "etcdserver: re-configuration failed due to not enough started members" => {
            MembershipError::NotNow(message)
        }
        "etcdserver: Peer URLs already exists" | "etcdserver: given member URLs are invalid" => {
            MembershipError::BadUrls(message)
        }
        _ => MembershipError::Backend(format!("etcd {what} at {endpoints}: {e}")),
    }
}
