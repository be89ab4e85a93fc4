//! [`Store::restart_watch`] on a real etcd: the store's one etcd watch is reopened (etcd's own
//! count of watch streams says so) from the first revision it had not delivered, so a
//! watcher gets every commit once, in order, across restarts asked for while commits land.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::EtcdStore;
use super::test_member::Etcd;
use crate::{Commit, Store, Txn};

fn open(etcd: &Etcd, prefix: &str) -> Arc<EtcdStore> {
    Arc::new(EtcdStore::open(&etcd.settings(prefix)).unwrap())
}

fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The watch streams the member has started, by etcd's own count.
fn watch_streams_started(etcd: &Etcd) -> u64 {
    etcd.grpc_calls_started(&["Watch"])
}

#[test]
fn a_restarted_watch_resumes_where_it_stopped() {
    let etcd = Etcd::start();
    let one = open(&etcd, "restart/");
    let two = open(&etcd, "restart/");
    let watcher = one.watch("").unwrap();
    let live = watcher.liveness();
    let started = watch_streams_started(&etcd);

    // One restart alone: a new stream, and the feed live again.
    one.restart_watch();
    eventually("a new watch stream", || {
        watch_streams_started(&etcd) > started
    });
    eventually("the feed is live again", || live.load(Ordering::Acquire));

    // Restarts asked for again and again while another store commits.
    let done = Arc::new(AtomicBool::new(false));
    let restarter = {
        let (one, done) = (one.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                one.restart_watch();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut revisions = Vec::new();
    for i in 0..60 {
        match two
            .commit(Txn::new().put(format!("k{i:02}"), b"v".to_vec()))
            .unwrap()
        {
            Commit::Committed(r) => revisions.push(r),
            Commit::Conflict => panic!("no check to fail"),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done.store(true, Ordering::Release);
    restarter.join().unwrap();
    assert!(
        watch_streams_started(&etcd) > started + 2,
        "the restarts reopened the stream"
    );

    let point = one.sync_point().unwrap();
    eventually("the feed reaches the point", || watcher.through() >= point);
    let mut got = Vec::new();
    while let Some(change) = watcher.try_recv().unwrap() {
        got.push((change.key, change.revision));
    }
    let want: Vec<_> = (0..60).map(|i| format!("k{i:02}")).zip(revisions).collect();
    assert_eq!(got, want, "every commit once, in order");
    eventually("the feed is live", || live.load(Ordering::Acquire));
}
