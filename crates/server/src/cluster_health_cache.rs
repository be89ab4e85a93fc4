//! The members' health answers of `GET /cluster/members`, kept for [`FRESH_FOR`]: the console
//! polls that call, and each round asks every member's `Status` on a connection of its own,
//! so without this every polling client would add its own round of calls to etcd. One round
//! runs at a time: a call that comes while one is under way waits for it and takes its
//! answers; a call within [`FRESH_FOR`] of a round's start takes that round's answers.
//! docs/cluster.md, "The members API".

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strongroom_store::membership::{Member, Membership};

/// How long a round's answers are given again without asking the members.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct MemberHealthCache {
    /// Rounds of checks run so far.
    rounds: AtomicU64,
    /// The last round; its lock is held while a round runs, so rounds never overlap.
    last: Mutex<Option<Round>>,
}

struct Round {
    /// The number of this round (see `rounds`).
    number: u64,
    started: Instant,
    /// Which members were asked, where: answers are reused only for the same ones.
    asked: Vec<(u64, Vec<String>)>,
    healthy: Vec<bool>,
}

fn asked(members: &[Member]) -> Vec<(u64, Vec<String>)> {
    members
        .iter()
        .map(|m| (m.id, m.client_urls.clone()))
        .collect()
}

impl MemberHealthCache {
    /// Whether each of `members` answers (as [`Membership::health`] says), and whether this
    /// call ran a round of checks to know it (rather than taking a recent round's answers).
    pub fn health(&self, membership: &dyn Membership, members: &[Member]) -> (Vec<bool>, bool) {
        // A round that ends after this call began is as fresh as one it would run itself.
        let before = self.rounds.load(Ordering::Acquire);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let asked = asked(members);
        if let Some(round) = last.as_ref()
            && round.asked == asked
            && (round.number > before || round.started.elapsed() < FRESH_FOR)
        {
            return (round.healthy.clone(), false);
        }
        let started = Instant::now();
        let healthy = membership.health(members);
        let number = self.rounds.fetch_add(1, Ordering::AcqRel) + 1;
        *last = Some(Round {
            number,
            started,
            asked,
            healthy: healthy.clone(),
        });
        (healthy, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use strongroom_store::membership::MembershipError;

    /// Counts health rounds; each round takes `pause`, answers all healthy.
    struct Counting {
        rounds: AtomicU64,
        pause: Duration,
    }

    impl Membership for Counting {
        fn list(&self) -> Result<Vec<Member>, MembershipError> {
            unreachable!()
        }
        fn add_learner(&self, _: Vec<String>) -> Result<(Member, Vec<Member>), MembershipError> {
            unreachable!()
        }
        fn promote(&self, _: u64) -> Result<(), MembershipError> {
            unreachable!()
        }
        fn update(&self, _: u64, _: Vec<String>) -> Result<(), MembershipError> {
            unreachable!()
        }
        fn remove(&self, _: u64) -> Result<(), MembershipError> {
            unreachable!()
        }
        fn health(&self, members: &[Member]) -> Vec<bool> {
            self.rounds.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.pause);
            vec![true; members.len()]
        }
    }

    fn member(id: u64, url: &str) -> Member {
        Member {
            id,
            name: String::new(),
            peer_urls: Vec::new(),
            client_urls: vec![url.to_owned()],
            learner: false,
        }
    }

    /// Calls that arrive while a round runs wait for it and take its answers, whatever its
    /// length: eight at once make one round (a round far longer than the freshness, so only
    /// the waiting, not the age, explains it).
    #[test]
    fn calls_during_a_round_share_it() {
        let membership = Arc::new(Counting {
            rounds: AtomicU64::new(0),
            pause: FRESH_FOR + Duration::from_secs(2),
        });
        let cache = Arc::new(MemberHealthCache::default());
        let members = vec![member(1, "http://a:2379"), member(2, "http://b:2379")];
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (membership, cache, members, barrier) = (
                    membership.clone(),
                    cache.clone(),
                    members.clone(),
                    barrier.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    cache.health(membership.as_ref(), &members)
                })
            })
            .collect();
        let answers: Vec<_> = calls.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(membership.rounds.load(Ordering::SeqCst), 1);
        assert_eq!(answers.iter().filter(|(_, ran)| *ran).count(), 1);
        assert!(answers.iter().all(|(h, _)| h == &vec![true, true]));
    }

    /// Other members (one added, one's URLs changed) are asked afresh at once.
    #[test]
    fn other_members_are_asked_afresh() {
        let membership = Counting {
            rounds: AtomicU64::new(0),
            pause: Duration::ZERO,
        };
        let cache = MemberHealthCache::default();
        let one = vec![member(1, "http://a:2379")];
        let moved = vec![member(1, "http://c:2379")];
        let two = vec![member(1, "http://a:2379"), member(2, "http://b:2379")];
        assert!(cache.health(&membership, &one).1);
        assert!(cache.health(&membership, &two).1);
        assert!(cache.health(&membership, &moved).1);
        assert_eq!(membership.rounds.load(Ordering::SeqCst), 3);
    }
}
