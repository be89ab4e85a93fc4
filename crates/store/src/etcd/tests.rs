//! The etcd backend against a real etcd: each test starts its own `etcd` process on loopback
//! ports with its data in a temporary directory, and kills it at the end.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::test_member::{Etcd, TEST_MAX_TXN_OPS, free_port};
use super::{EtcdSettings, EtcdStore};
use crate::{Commit, DynStore, Op, Store, StoreError, Txn};

/// Retries a call that may fail while etcd elects a leader, for up to 30 s.
fn retrying<T>(mut call: impl FnMut() -> crate::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call() {
            Ok(v) => return v,
            Err(e) => {
                assert!(Instant::now() < deadline, "still failing after 30 s: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn open(etcd: &Etcd, prefix: &str) -> Arc<EtcdStore> {
    Arc::new(EtcdStore::open(&etcd.settings(prefix)).unwrap())
}

#[test]
fn conformance() {
    let etcd = Etcd::start();
    let n = AtomicUsize::new(0);
    // A fresh prefix for each check: an empty store on the one etcd.
    crate::conformance::run_all(&|| -> DynStore {
        open(
            &etcd,
            &format!("conformance/{}/", n.fetch_add(1, Ordering::Relaxed)),
        )
    });
}

#[test]
fn sealed_conformance() {
    use crate::sealed::{Sealed, Sealer};
    let etcd = Etcd::start();
    let n = AtomicUsize::new(0);
    crate::conformance::run_all(&|| -> DynStore {
        let raw = open(
            &etcd,
            &format!("sealed/{}/", n.fetch_add(1, Ordering::Relaxed)),
        );
        Arc::new(Sealed::new(raw, Sealer::new(&[7; 32], "data")))
    });
}

#[test]
fn prefixes_keep_stores_apart() {
    let etcd = Etcd::start();
    let a = open(&etcd, "a/");
    let b = open(&etcd, "b/");
    let whole = open(&etcd, "");
    a.put("k", b"in a").unwrap();
    assert!(b.get("k").unwrap().is_none());
    b.put("k", b"in b").unwrap();
    assert_eq!(a.get("k").unwrap().unwrap().value, b"in a");
    committed(b.commit(Txn::new().delete_prefix("")).unwrap());
    assert!(b.scan_prefix("").unwrap().is_empty());
    assert_eq!(a.scan_prefix("").unwrap().len(), 1);
    // The empty prefix is the whole keyspace: the health probe's key prefix too.
    let keys: Vec<_> = whole
        .scan_prefix("a/")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a/k"]);
}

fn committed(c: Commit) -> u64 {
    match c {
        Commit::Committed(rev) => rev,
        Commit::Conflict => panic!("the commit conflicted"),
    }
}

/// The trait applies a transaction's writes in order; etcd refuses a transaction that writes
/// a key twice or puts inside a range it deletes. The store must give the trait's result.
#[test]
fn writes_of_one_key_in_one_transaction_apply_in_order() {
    let etcd = Etcd::start();
    let s = open(&etcd, "order/");
    for k in ["p/1", "p/2", "p/3", "q"] {
        s.put(k, b"old").unwrap();
    }
    committed(
        s.commit(
            Txn::new()
                .put("x", b"1")
                .put("x", b"2")
                .delete("y")
                .put("y", b"3")
                .put("z", b"gone")
                .delete("z")
                .delete_prefix("p/")
                .put("p/2", b"new")
                .put("p/0", b"new too")
                .delete("q")
                .delete("q"),
        )
        .unwrap(),
    );
    let all: Vec<(String, Vec<u8>)> = s
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .map(|(k, e)| (k, e.value.clone()))
        .collect();
    let want: Vec<(String, Vec<u8>)> = [
        ("p/0", &b"new too"[..]),
        ("p/2", b"new"),
        ("x", b"2"),
        ("y", b"3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_vec()))
    .collect();
    assert_eq!(all, want);
    // A prefix delete after a put of a key under it deletes that key too.
    committed(
        s.commit(Txn::new().put("p/9", b"x").delete_prefix("p/"))
            .unwrap(),
    );
    assert!(s.scan_prefix("p/").unwrap().is_empty());
}

fn assert_refused(result: crate::Result<Commit>, says: &str) {
    match result {
        Err(StoreError::Backend(message)) => {
            assert!(message.contains(says), "{message}");
            assert!(message.contains("nothing was written"), "{message}");
        }
        other => panic!("expected a refusal naming {says}, got {other:?}"),
    }
}

/// A transaction etcd cannot take whole is refused whole: nothing half-applied.
#[test]
fn transactions_over_etcds_limits_are_refused_whole() {
    let etcd = Etcd::start();
    // The store told etcd's default operation limit, the etcd above it: refused here.
    let mut settings = etcd.settings("limits/");
    settings.max_txn_ops = super::DEFAULT_MAX_TXN_OPS;
    let s = EtcdStore::open(&settings).unwrap();
    let many =
        (0..=super::DEFAULT_MAX_TXN_OPS).fold(Txn::new(), |t, i| t.put(format!("k/{i}"), b"v"));
    assert_refused(s.commit(many), "--max-txn-ops");
    // Past the etcd's own limit though the store was told more: etcd refuses it as a whole.
    let mut settings = etcd.settings("limits/");
    settings.max_txn_ops = 100_000;
    let lax = EtcdStore::open(&settings).unwrap();
    let too_many = (0..=TEST_MAX_TXN_OPS).fold(Txn::new(), |t, i| t.put(format!("k/{i}"), b"v"));
    assert!(lax.commit(too_many).is_err());
    // Over the request size, through commit.
    let big = vec![0u8; 512 * 1024];
    let heavy = (0..4).fold(Txn::new(), |t, i| t.put(format!("k/{i}"), big.clone()));
    assert_refused(s.commit(heavy), "--max-request-bytes");
    assert!(s.scan_prefix("").unwrap().is_empty());
    // commit_iter (a restore) goes past the limits through a new generation, atomically
    // (`restore_tests.rs`).
    let mut stream = (0..6).map(|i| {
        Ok(Op::Put {
            key: format!("big/{i}"),
            value: big.clone(),
        })
    });
    committed(s.commit_iter(vec![], &mut stream).unwrap());
    assert_eq!(s.scan_prefix("big/").unwrap().len(), 6);
    s.commit(Txn::new().delete_prefix("big/")).unwrap();
    // Within the limits, it lands.
    committed(
        s.commit((0..100).fold(Txn::new(), |t, i| t.put(format!("k/{i}"), b"v")))
            .unwrap(),
    );
    assert_eq!(s.scan_prefix("k/").unwrap().len(), 100);
}

/// etcd down: calls fail within their timeout, with a message naming etcd, and work again
/// when it is back, on the same store; a watcher resumes without losing a change.
#[test]
fn etcd_down_is_an_error_and_its_return_is_recovered() {
    let mut etcd = Etcd::start();
    let s = open(&etcd, "outage/");
    let w = s.watch("").unwrap();
    let r0 = s.put("before", b"x").unwrap();
    etcd.stop();

    let began = Instant::now();
    let err = s.put("during", b"x").unwrap_err();
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the failed commit took {took:?}"
    );
    match &err {
        StoreError::Unavailable(message) => {
            assert!(message.contains("etcd"), "{message}");
            assert!(message.contains(&etcd.endpoint()), "{message}");
        }
        other => panic!("not an unavailable store: {other:?}"),
    }
    assert!(s.get("before").is_err());

    etcd.launch();
    let deadline = Instant::now() + Duration::from_secs(30);
    let r1 = loop {
        match s.put("after", b"y") {
            Ok(rev) => break rev,
            Err(e) => {
                assert!(Instant::now() < deadline, "no recovery: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert!(r1 > r0);
    assert_eq!(s.get("before").unwrap().unwrap().value, b"x");
    // The commit that failed did not land (the outage hit before it reached etcd).
    assert!(s.get("during").unwrap().is_none());
    let first = w.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!((first.key.as_str(), first.revision), ("before", r0));
    let second = w.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!((second.key.as_str(), second.revision), ("after", r1));
}

#[test]
fn opening_an_unreachable_etcd_fails_with_a_clear_message() {
    let port = free_port();
    let mut settings = EtcdSettings::new([format!("http://127.0.0.1:{port}")]);
    settings.request_timeout = Duration::from_secs(1);
    settings.connect_timeout = Duration::from_secs(1);
    let began = Instant::now();
    let err = EtcdStore::open(&settings).unwrap_err();
    assert!(began.elapsed() < Duration::from_secs(10));
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn credentials_are_not_printed() {
    let mut settings = EtcdSettings::new(["http://127.0.0.1:1"]);
    settings.credentials = Some(super::EtcdCredentials {
        user: "node".into(),
        password: "hunter2-secret".into(),
    });
    let printed = format!("{settings:?}");
    assert!(printed.contains("node"));
    assert!(!printed.contains("hunter2"));
}

#[test]
fn the_engine_opens_an_etcd_store() {
    let etcd = Etcd::start();
    let engine = crate::engine::Engine::Etcd(Box::new(etcd.settings("engine/")));
    assert_eq!(engine.name(), "etcd");
    let rev = engine.open().unwrap().put("k", b"v").unwrap();
    // Another opener of the same description sees it: the state is in etcd, not the handle.
    assert_eq!(
        engine.open().unwrap().get("k").unwrap().unwrap().revision,
        rev
    );
}

/// A watch is a long-lived stream: it outlives the per-request timeout and keeps
/// delivering, whether the stream stays open or the store resumes it.
#[test]
fn a_watch_outlives_the_request_timeout() {
    let etcd = Etcd::start();
    let s = open(&etcd, "long/");
    let w = s.watch("").unwrap();
    std::thread::sleep(etcd.settings("").request_timeout * 2);
    let rev = s.put("late", b"x").unwrap();
    let c = w.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!((c.key.as_str(), c.revision), ("late", rev));
    assert_eq!(w.try_recv(), Ok(None));
}

/// Two of three members gone: no quorum. A write and a read through the survivor fail within
/// their timeout, saying so, and nothing is half-written; with the members back, the same
/// store works again and has every acknowledged write.
#[test]
fn without_quorum_calls_fail_and_recover() {
    let mut members = Etcd::cluster(3);
    let mut settings = members[0].settings("quorum/");
    settings.endpoints = members.iter().map(Etcd::endpoint).collect();
    let s = EtcdStore::open(&settings).unwrap();
    let r0 = s.put("k", b"acknowledged").unwrap();
    members[1].stop();
    // One member down: a majority remains, so it still works (once it has a leader, if the
    // stopped member led).
    let r1 = retrying(|| s.put("k2", b"with two of three"));
    assert!(r1 > r0);
    members[2].stop();

    let began = Instant::now();
    let err = s.commit(Txn::new().put("k3", b"x").put("k4", b"y"));
    let took = began.elapsed();
    assert!(err.is_err(), "a write without quorum: {err:?}");
    assert!(
        took < Duration::from_secs(10),
        "the failed commit took {took:?}"
    );
    assert!(err.unwrap_err().to_string().contains("etcd"));
    assert!(s.get("k").is_err(), "a linearizable read without quorum");

    members[1].launch_member();
    members[2].launch_member();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match s.get("k") {
            Ok(entry) => {
                assert_eq!(entry.unwrap().value, b"acknowledged");
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "no recovery: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    // The members that came back may still be choosing a leader: calls are retried, no
    // restart of the store is needed.
    assert_eq!(
        retrying(|| s.get("k2")).unwrap().value,
        b"with two of three"
    );
    // The commit that failed landed whole or not at all (etcd may have applied it after
    // our timeout once quorum returned: never one key without the other).
    assert_eq!(
        retrying(|| s.get("k3")).is_some(),
        retrying(|| s.get("k4")).is_some()
    );
    assert!(retrying(|| s.put("k5", b"after")) > r1);
}

/// Values up to etcd's request size: a page of them is larger than one gRPC answer may be,
/// and must still come whole, in order, from the store and from a snapshot.
#[test]
fn a_page_of_large_values_is_read_whole() {
    let etcd = Etcd::start();
    let s = open(&etcd, "large/");
    let value = |i: usize| vec![i as u8; 300 * 1024];
    for i in 0..40 {
        s.put(&format!("v/{i:02}"), &value(i)).unwrap();
    }
    let snap = s.snapshot().unwrap();
    s.put("v/99", b"later").unwrap();
    let now = s.scan("v/", None, 1000).unwrap();
    let then = snap.scan("v/", None, 1000).unwrap();
    assert_eq!(now.len(), 41);
    assert_eq!(now[40].0, "v/99");
    assert_eq!(then.len(), 40, "the snapshot does not see the later put");
    for page in [&now[..40], &then[..]] {
        for (i, (key, entry)) in page.iter().enumerate() {
            assert_eq!(key, &format!("v/{i:02}"));
            assert!(entry.value == value(i), "the value of {key}");
        }
    }
    assert_eq!(s.scan("v/", Some("v/10"), 5).unwrap()[0].0, "v/11");
}

/// A watcher that resumes after its member was away catches up on what the others
/// committed meanwhile, however large: etcd sends such a catch-up as one answer unless told to
/// fragment it, and the store must not get stuck on an answer it cannot read.
#[test]
fn a_watcher_catches_up_on_large_commits_made_while_its_member_was_away() {
    let mut members = Etcd::cluster(3);
    let watching = open(&members[0], "catchup/");
    let mut others = members[1].settings("catchup/");
    others.endpoints = vec![members[1].endpoint(), members[2].endpoint()];
    let writer = EtcdStore::open(&others).unwrap();
    let w = watching.watch("").unwrap();
    members[0].stop();
    let big = vec![7u8; 1400 * 1024];
    // If the stopped member led, the others elect a leader first.
    let revisions: Vec<u64> = (0..8)
        .map(|i| retrying(|| writer.put(&format!("big/{i}"), &big)))
        .collect();
    members[0].launch_member();
    for (i, rev) in revisions.iter().enumerate() {
        let c = w
            .recv_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap_or_else(|| panic!("change {i} did not come"));
        assert_eq!((c.key, c.revision), (format!("big/{i}"), *rev));
    }
}

/// etcdctl against this member, which must succeed.
fn etcdctl(etcd: &Etcd, args: &[&str]) {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", etcd.endpoint()))
        .args(args)
        .output()
        .expect("etcdctl (Debian: apt-get install etcd-client)");
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// etcd's own authentication: a user limited to its prefix works there (its token renewed
/// when it expires), is refused elsewhere, and a wrong password fails at open.
#[test]
fn etcd_users_and_their_tokens() {
    let etcd = Etcd::start_with(&["--auth-token-ttl=1"]);
    etcdctl(&etcd, &["user", "add", "root:root-password"]);
    etcdctl(&etcd, &["user", "add", "node:node-password"]);
    etcdctl(&etcd, &["role", "add", "strongroom"]);
    etcdctl(
        &etcd,
        &[
            "role",
            "grant-permission",
            "strongroom",
            "--prefix=true",
            "readwrite",
            "sr/",
        ],
    );
    etcdctl(&etcd, &["user", "grant-role", "node", "strongroom"]);
    etcdctl(&etcd, &["auth", "enable"]);

    let as_node = |prefix: &str, password: &str| {
        let mut settings = etcd.settings(prefix);
        settings.credentials = Some(super::EtcdCredentials {
            user: "node".into(),
            password: password.into(),
        });
        EtcdStore::open(&settings)
    };
    let s = as_node("sr/", "node-password").unwrap();
    let w = s.watch("").unwrap();
    let rev = s.put("k", b"v").unwrap();
    assert_eq!(
        w.recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap()
            .revision,
        rev
    );
    // Past the token's life: renewed, not refused.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.get("k").unwrap().unwrap().value, b"v");
    s.put("k2", b"v").unwrap();

    let wrong = as_node("sr/", "not-the-password").unwrap_err().to_string();
    assert!(wrong.contains("etcd"), "{wrong}");
    // Outside its permission: the open (a read of the prefix) is refused.
    let denied = as_node("elsewhere/", "node-password")
        .unwrap_err()
        .to_string();
    assert!(denied.contains("permission denied"), "{denied}");
    // Without credentials at all, nothing.
    assert!(EtcdStore::open(&etcd.settings("sr/")).is_err());
}

/// Writes a CA, a certificate for 127.0.0.1 and a client certificate, all signed by it, into
/// `dir`; returns the paths (ca, server cert, server key, client cert, client key).
fn certificates(dir: &std::path::Path) -> [PathBuf; 5] {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["node".to_string()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    let files = [
        ("ca.pem", ca.pem()),
        ("server.pem", server.pem()),
        ("server.key", server_key.serialize_pem()),
        ("client.pem", client.pem()),
        ("client.key", client_key.serialize_pem()),
    ];
    files.map(|(name, pem)| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path
    })
}

/// TLS to etcd with client certificates: the store verifies etcd against the CA it is given
/// and shows its own certificate; without either, it cannot open.
#[test]
fn tls_to_etcd_with_client_certificates() {
    let certs = tempfile::tempdir().unwrap();
    let [ca, server_cert, server_key, client_cert, client_key] = certificates(certs.path());
    let tls = super::EtcdTls {
        ca_file: Some(ca.clone()),
        client_cert_file: Some(client_cert),
        client_key_file: Some(client_key),
        domain: None,
    };
    let mut etcd = Etcd {
        child: None,
        dir: tempfile::tempdir().unwrap(),
        name: "tls".into(),
        client_port: free_port(),
        peer_port: free_port(),
        initial_cluster: String::new(),
        extra: vec![
            format!("--cert-file={}", server_cert.display()),
            format!("--key-file={}", server_key.display()),
            format!("--trusted-ca-file={}", ca.display()),
            "--client-cert-auth".into(),
        ],
        tls: Some(tls.clone()),
    };
    etcd.initial_cluster = format!("tls={}", etcd.peer_url());
    etcd.launch();

    let s = open(&etcd, "tls/");
    let w = s.watch("").unwrap();
    let rev = s.put("k", b"v").unwrap();
    assert_eq!(s.get("k").unwrap().unwrap().value, b"v");
    assert_eq!(
        w.recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap()
            .revision,
        rev
    );

    // No client certificate: etcd refuses the connection.
    let mut settings = etcd.settings("tls/");
    settings.tls = Some(super::EtcdTls {
        client_cert_file: None,
        client_key_file: None,
        ..tls.clone()
    });
    assert!(EtcdStore::open(&settings).is_err());
    // Another CA: the store refuses etcd's certificate.
    let other = tempfile::tempdir().unwrap();
    let [other_ca, ..] = certificates(other.path());
    let mut settings = etcd.settings("tls/");
    settings.tls = Some(super::EtcdTls {
        ca_file: Some(other_ca),
        ..tls.clone()
    });
    assert!(EtcdStore::open(&settings).is_err());
    // A key without its certificate is a setting error, said as such.
    let mut settings = etcd.settings("tls/");
    settings.tls = Some(super::EtcdTls {
        client_cert_file: None,
        ..tls
    });
    let err = EtcdStore::open(&settings).unwrap_err().to_string();
    assert!(err.contains("client certificate"), "{err}");
}

/// etcd compacted the history a watcher was to resume from: its watchers are told they
/// lagged (so caches reload), and a new watch works.
#[test]
fn a_watcher_whose_history_was_compacted_is_told() {
    let mut members = Etcd::cluster(3);
    let watching = open(&members[0], "compact/");
    let mut others = members[1].settings("compact/");
    others.endpoints = vec![members[1].endpoint(), members[2].endpoint()];
    let writer = EtcdStore::open(&others).unwrap();
    let w = watching.watch("").unwrap();
    members[0].stop();
    let missed = retrying(|| writer.put("a", b"1"));
    let last = retrying(|| writer.put("b", b"2"));
    etcdctl(&members[1], &["compact", &last.to_string()]);
    members[0].launch_member();
    match w.recv_timeout(Duration::from_secs(30)) {
        Err(crate::WatchError::Lagged { missed_from }) => assert!(missed_from <= missed),
        other => panic!("expected the watcher to be told it lagged, got {other:?}"),
    }
    let again = retrying(|| watching.watch(""));
    let rev = retrying(|| watching.put("c", b"3"));
    let c = again
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!((c.key.as_str(), c.revision), ("c", rev));
}

/// A snapshot older than etcd's last compaction fails, rather than reading a mix.
#[test]
fn a_snapshot_past_a_compaction_fails() {
    let etcd = Etcd::start();
    let s = open(&etcd, "snap/");
    s.put("k", b"old").unwrap();
    let snap = s.snapshot().unwrap();
    let now = s.put("k", b"new").unwrap();
    assert_eq!(snap.scan("", None, 10).unwrap()[0].1.value, b"old");
    etcdctl(&etcd, &["compact", &now.to_string()]);
    let err = snap.scan("", None, 10).unwrap_err().to_string();
    assert!(err.contains("compacted"), "{err}");
}

/// Waits up to 30 s for `done` (no timed assertion: a bound, so a broken feed fails).
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A sync point covers every acknowledged commit, another store's included, and the feed
/// reaches it: once a watcher's `through` is there, the commits' changes are queued. When
/// etcd's revision moved by a write under another prefix only, the point is the store's own
/// mark, which the watcher reaches without a change for it.
#[test]
fn the_feed_reaches_every_sync_point() {
    let etcd = Etcd::start();
    let one = open(&etcd, "sync/");
    let two = open(&etcd, "sync/");
    let other = open(&etcd, "elsewhere/");
    let watcher = one.watch("").unwrap();

    let rev = committed(two.commit(Txn::new().put("k", b"v".to_vec())).unwrap());
    let point = one.sync_point().unwrap();
    assert!(
        point >= rev,
        "sync point {point} before the commit at {rev}"
    );
    eventually("the feed reaches the point", || watcher.through() >= point);
    let change = watcher.try_recv().unwrap().expect("the change is queued");
    assert_eq!((change.key.as_str(), change.revision), ("k", rev));

    let foreign = other.put("x", b"y").unwrap();
    let point = one.sync_point().unwrap();
    assert!(point > foreign, "sync point {point} not past {foreign}");
    eventually("the feed reaches the mark", || watcher.through() >= point);
    assert_eq!(watcher.try_recv(), Ok(None), "the mark is no change");
    let paths: Vec<_> = one
        .scan_prefix("")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(paths, ["k"], "the mark is not a path");

    // Nothing new anywhere: the point is where the feed already is, and nothing is written.
    let point = one.sync_point().unwrap();
    assert_eq!(one.sync_point().unwrap(), point);
}
