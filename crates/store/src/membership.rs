//! A cluster's membership (NetHSM's `/cluster/members`), as the engine the store runs on
//! manages it: etcd's own member API for the etcd backend
//! ([`crate::etcd::members::EtcdMembers`]). The embedded engine has no membership: a single
//! node is not a cluster of one.

use std::fmt;

/// One member as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The cluster's id of the member (etcd's member id).
    pub id: u64,
    /// Empty until the member has started (etcd learns the name from the member itself).
    pub name: String,
    pub peer_urls: Vec<String>,
    /// Empty until the member has started.
    pub client_urls: Vec<String>,
    pub learner: bool,
}

/// Why the cluster refused a membership call, sorted by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipError {
    /// No member has this id.
    NotFound,
    /// Not possible now (a learner not in sync with the leader, a member that is not a
    /// learner, a learner already waiting, a change the cluster's health forbids): the
    /// cluster's words.
    NotNow(String),
    /// The peer URLs are refused (already used by a member, or not valid): the cluster's words.
    BadUrls(String),
    /// The cluster could not be reached or failed otherwise (no quorum, timeout).
    Backend(String),
}

impl fmt::Display for MembershipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no cluster member has this id"),
            Self::NotNow(m) | Self::BadUrls(m) | Self::Backend(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for MembershipError {}

/// The membership calls. Each blocks (bounded by the engine's request timeout).
pub trait Membership: Send + Sync {
    /// Every member, voters and learners.
    fn list(&self) -> Result<Vec<Member>, MembershipError>;
    /// Declares a new member as a learner (it votes only once promoted): returns it and the
    /// members after the change.
    fn add_learner(&self, peer_urls: Vec<String>)
    -> Result<(Member, Vec<Member>), MembershipError>;
    /// Makes a learner a voting member; refused while it is not in sync with the leader.
    fn promote(&self, id: u64) -> Result<(), MembershipError>;
    /// Replaces a member's peer URLs.
    fn update(&self, id: u64, peer_urls: Vec<String>) -> Result<(), MembershipError>;
    /// Removes a member (voter or learner).
    fn remove(&self, id: u64) -> Result<(), MembershipError>;
    /// Whether each of `members` answers, asked directly and all at once, each within a short
    /// bound: a member not started yet (no client URLs) does not.
    fn health(&self, members: &[Member]) -> Vec<bool>;
}
