//! Remote syslog (issue 14): NetHSM's `/config/logging` is the first entry of the appliance
//! face's `/appliance/settings/syslog-servers`; messages are really sent, and a UDP and a TCP
//! listener here receive them: the test message, audit events, log lines, as RFC 5424, with no
//! secret of the scenario in any of them.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use crate::common::*;

const SYSLOG: &str = "/appliance/settings/syslog-servers";
const TEST_MESSAGE: &str = "/appliance/settings/syslog-servers/actions/send-test-message";
const USER_PASS: &str = "passphrase of the syslog user";
const BACKUP_PASS: &str = "backup passphrase of the syslog test";
const OP_PASS: &str = "operator passphrase for syslog";

/// One received message: which listener, and its text.
#[derive(Debug, Clone)]
struct Received {
    via: &'static str,
    text: String,
}

/// A UDP and a TCP syslog receiver on loopback; every message lands on one channel.
struct Receivers {
    udp_port: u16,
    tcp_port: u16,
    rx: mpsc::UnboundedReceiver<Received>,
    /// Closes the TCP connection the server has open (the next one is accepted as usual).
    drop_tcp: mpsc::UnboundedSender<()>,
    all: Vec<Received>,
}

impl Receivers {
    async fn start() -> Receivers {
        let (tx, rx) = mpsc::unbounded_channel();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        let udp_tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = udp.recv(&mut buf).await {
                let text = String::from_utf8(buf[..n].to_vec()).expect("UTF-8");
                let _ = udp_tx.send(Received { via: "udp", text });
            }
        });
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_port = tcp.local_addr().unwrap().port();
        let (drop_tcp, mut drops) = mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                // RFC 6587 octet counting: "LEN SP MSG", until the peer closes or the test
                // asks to drop the connection.
                loop {
                    let mut len = Vec::new();
                    tokio::select! {
                        _ = drops.recv() => break,
                        read = reader.read_until(b' ', &mut len) => {
                            if read.unwrap_or(0) == 0 {
                                break;
                            }
                        }
                    }
                    let len: usize = std::str::from_utf8(&len[..len.len() - 1])
                        .unwrap()
                        .parse()
                        .expect("an octet count");
                    let mut msg = vec![0u8; len];
                    reader.read_exact(&mut msg).await.unwrap();
                    let text = String::from_utf8(msg).expect("UTF-8");
                    let _ = tx.send(Received { via: "tcp", text });
                }
            }
        });
        Receivers {
            udp_port,
            tcp_port,
            rx,
            drop_tcp,
            all: Vec::new(),
        }
    }

    /// Waits (up to 20 s) for a message through `via` that `matches`; returns it.
    async fn wait_for(&mut self, via: &str, what: &str, matches: impl Fn(&str) -> bool) -> String {
        if let Some(r) = self.all.iter().find(|r| r.via == via && matches(&r.text)) {
            return r.text.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = tokio::time::timeout(left, self.rx.recv()).await;
            let Ok(Some(r)) = got else {
                panic!("no {what} through {via}; received: {:#?}", self.all);
            };
            self.all.push(r.clone());
            if r.via == via && matches(&r.text) {
                return r.text;
            }
        }
    }

    /// What arrives within `quiet`.
    async fn drain(&mut self, quiet: Duration) -> Vec<Received> {
        let mut got = Vec::new();
        while let Ok(Some(r)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            self.all.push(r.clone());
            got.push(r);
        }
        got
    }
}

/// An RFC 5424 header, parsed.
#[derive(Debug)]
struct Header<'a> {
    facility: u8,
    severity: u8,
    hostname: &'a str,
    app: &'a str,
    procid: &'a str,
    msgid: &'a str,
    structured: &'a str,
    msg: &'a str,
}

fn parse(text: &str) -> Header<'_> {
    let rest = text.strip_prefix('<').expect("<PRI>");
    let (pri, rest) = rest.split_once('>').expect("<PRI>");
    assert!(
        pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()),
        "{text}"
    );
    let pri: u8 = pri.parse().unwrap();
    let mut fields = rest.splitn(8, ' ');
    let mut next = || fields.next().unwrap_or_else(|| panic!("a field in {text}"));
    assert_eq!(next(), "1", "version 1: {text}");
    let time = next();
    let at = OffsetDateTime::parse(time, &Rfc3339).unwrap_or_else(|_| panic!("RFC 3339: {time}"));
    assert!(at.offset().is_utc() && time.ends_with('Z'), "UTC: {text}");
    // RFC 5424's TIME-SECFRAC: at most 6 digits.
    let fraction = time
        .split_once('.')
        .map_or("", |(_, f)| f.trim_end_matches('Z'));
    assert!(fraction.len() <= 6, "{text}");
    let header = Header {
        facility: pri / 8,
        severity: pri % 8,
        hostname: next(),
        app: next(),
        procid: next(),
        msgid: next(),
        structured: next(),
        msg: fields.next().unwrap_or(""),
    };
    for f in [header.hostname, header.app, header.procid, header.msgid] {
        assert!(
            !f.is_empty() && f.bytes().all(|b| b.is_ascii_graphic()),
            "{text}"
        );
    }
    header
}

fn get(s: &Server, sid: &str) -> RequestBuilder {
    s.appliance(Method::GET, SYSLOG).header("x-dr-session", sid)
}

fn put(s: &Server, sid: &str, list: Value) -> RequestBuilder {
    s.appliance(Method::PUT, SYSLOG)
        .header("x-dr-session", sid)
        .json(&list)
}

fn test_message(s: &Server, sid: &str, message: &str) -> RequestBuilder {
    s.appliance(Method::POST, TEST_MESSAGE)
        .header("x-dr-session", sid)
        .json(&json!({ "message": message }))
}

async fn logging(s: &Server) -> Value {
    s.admin_json("/config/logging").await
}

fn put_logging(s: &Server, body: Value) -> RequestBuilder {
    s.as_admin(Method::PUT, "/config/logging").json(&body)
}

async fn ok(r: RequestBuilder, status: u16) -> Response {
    let r = r.answer().await;
    assert_eq!(r.status(), status, "{:?}", r.url().clone());
    r
}

async fn list(s: &Server, sid: &str, query: &str) -> Value {
    let r = s
        .appliance(Method::GET, &format!("{SYSLOG}{query}"))
        .header("x-dr-session", sid)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

#[tokio::test]
async fn syslog_messages_reach_udp_and_tcp_receivers_without_secrets() {
    let mut s = Server::start();
    // Wrong state: NetHSM 412, the appliance face 503.
    nethsm_error(
        s.as_admin(Method::GET, "/config/logging").answer().await,
        412,
        "Service not available",
    )
    .await;
    s.provision().await;
    let mut rx = Receivers::start().await;
    let sid = s.admin_session().await;

    // Nothing set: NetHSM's default, an empty list.
    assert_eq!(
        logging(&s).await,
        json!({"ipAddress": "0.0.0.0", "port": 514, "logLevel": "info"})
    );
    assert_eq!(
        list(&s, &sid, "").await,
        json!({"list": [], "_meta": {"total": 0, "offset": 0, "limit": 100}})
    );

    // Set through NetHSM, read through the appliance face.
    let udp = json!({"ipAddress": "127.0.0.1", "port": rx.udp_port, "logLevel": "info"});
    ok(put_logging(&s, udp.clone()), 204).await;
    assert_eq!(logging(&s).await, udp);
    assert_eq!(
        list(&s, &sid, "").await["list"],
        json!([{"host": "127.0.0.1", "port": rx.udp_port, "protocol": "UDP"}])
    );

    // Set through the appliance face (the whole list), read through NetHSM (its first entry).
    let both = json!([
        {"host": "127.0.0.1", "port": rx.udp_port, "protocol": "UDP"},
        {"host": "127.0.0.1", "port": rx.tcp_port, "protocol": "TCP"},
    ]);
    ok(put(&s, &sid, both.clone()), 204).await;
    assert_eq!(list(&s, &sid, "").await["list"], both);
    assert_eq!(logging(&s).await, udp);
    // NetHSM's PUT changes the first entry and the level, and keeps the rest.
    let debug = json!({"ipAddress": "127.0.0.1", "port": rx.udp_port, "logLevel": "debug"});
    ok(put_logging(&s, debug.clone()), 204).await;
    assert_eq!(logging(&s).await, debug);
    assert_eq!(list(&s, &sid, "").await["list"], both);

    // The test message, to both.
    ok(test_message(&s, &sid, "hello from the syslog test"), 204).await;
    let pid = s.pid().to_string();
    for via in ["udp", "tcp"] {
        let text = rx
            .wait_for(via, "test message", |t| {
                t.contains("hello from the syslog test")
            })
            .await;
        let h = parse(&text);
        assert_eq!((h.app, h.msgid, h.structured), ("strongroom", "test", "-"));
        assert_eq!(h.procid, pid);
        assert_eq!(h.msg, "hello from the syslog test");
        assert_eq!((h.facility, h.severity), (3, 5), "daemon.notice: {text}");
    }

    // An audit event: a user created (its passphrase must not travel).
    s.create_user(Some("sysloguser"), "Operator", USER_PASS)
        .await;
    s.set_backup_passphrase(BACKUP_PASS, "").await;
    for via in ["udp", "tcp"] {
        let text = rx
            .wait_for(via, "the user creation's audit event", |t| {
                t.contains("target=/api/v1/users/sysloguser")
            })
            .await;
        let h = parse(&text);
        assert_eq!(
            (h.app, h.msgid, h.procid),
            ("strongroom", "audit", pid.as_str())
        );
        assert_eq!(
            (h.facility, h.severity),
            (13, 5),
            "log audit, notice: {text}"
        );
        for part in [
            "actor=admin",
            "face=nethsm",
            "action=\"PUT /api/v1/users/{UserID}\"",
            "outcome=success",
            "request_id=",
        ] {
            assert!(h.msg.contains(part), "{part} in {text}");
        }
    }
    // A refusal is audited too, with its outcome and status.
    ok(
        s.request(Method::PUT, "/config/logging")
            .basic_auth("sysloguser", Some(USER_PASS))
            .json(&debug),
        403,
    )
    .await;
    let denied = rx
        .wait_for("udp", "the refusal's audit event", |t| {
            t.contains(" audit ") && t.contains("actor=sysloguser") && t.contains("outcome=denied")
        })
        .await;
    assert!(denied.contains("status=403"), "{denied}");
    assert_eq!(parse(&denied).severity, 4, "warning: {denied}");

    // A log line (level debug or above passes): the request log, with its request id.
    let line = rx
        .wait_for("tcp", "a log line", |t| {
            t.contains(" log - ") && t.contains("request completed")
        })
        .await;
    let h = parse(&line);
    assert_eq!((h.app, h.msgid), ("strongroom", "log"));
    assert!(h.msg.contains("request_id="), "{line}");

    // The level filters log lines, never audit events.
    let error_only = json!({"ipAddress": "127.0.0.1", "port": rx.udp_port, "logLevel": "error"});
    ok(put_logging(&s, error_only), 204).await;
    rx.drain(Duration::from_millis(300)).await;
    s.create_user(Some("second"), "Operator", USER_PASS).await;
    rx.wait_for("udp", "the second user's audit event", |t| {
        t.contains("target=/api/v1/users/second")
    })
    .await;
    let after = rx.drain(Duration::from_millis(500)).await;
    assert!(
        after.iter().all(|r| parse(&r.text).msgid != "log"),
        "no info line at level error: {after:#?}"
    );

    // TCP: a dropped connection is made again.
    rx.drop_tcp.send(()).unwrap();
    let mut reconnected = false;
    for i in 0..20 {
        ok(test_message(&s, &sid, &format!("after the drop {i}")), 204).await;
        let got = rx.drain(Duration::from_millis(300)).await;
        if got
            .iter()
            .any(|r| r.via == "tcp" && r.text.contains("after the drop"))
        {
            reconnected = true;
            break;
        }
    }
    assert!(reconnected, "no message over a new TCP connection");

    // Started again, Locked: the destinations and the level are loaded from the record, so
    // the start's own info lines are sent.
    ok(put_logging(&s, debug.clone()), 204).await;
    s.restart();
    assert_eq!(s.state().await, "Locked");
    let pid = s.pid().to_string();
    for via in ["udp", "tcp"] {
        let text = rx
            .wait_for(via, "the restarted server's start line", |t| {
                let h = parse(t);
                h.procid == pid && h.msgid == "log" && h.msg.contains("store opened")
            })
            .await;
        assert!(text.contains("state=Locked"), "{text}");
    }
    nethsm_error(
        s.as_admin(Method::GET, "/config/logging").answer().await,
        412,
        "Service not available",
    )
    .await;
    let r = s.unlock(UNLOCK).await;
    assert_eq!(r.status(), 204);
    rx.wait_for("tcp", "the unlock's audit event", |t| {
        t.contains("action=\"POST /api/v1/unlock\"")
    })
    .await;

    // The forwarder's counts are metrics: messages were sent, and the TCP drop cost some.
    s.create_user(Some("metrics"), "Metrics", OP_PASS).await;
    let metrics: Value = s
        .get("/metrics")
        .basic_auth("metrics", Some(OP_PASS))
        .answer()
        .await
        .json()
        .await
        .unwrap();
    let count = |outcome: &str| -> u64 {
        metrics[format!("syslog_messages_total.{outcome}")]
            .as_str()
            .unwrap_or_else(|| panic!("syslog_messages_total.{outcome} in {metrics}"))
            .parse()
            .unwrap()
    };
    assert!(count("sent") >= 4, "{metrics}");
    assert_eq!(count("dropped"), 0, "{metrics}");

    // No secret of the scenario in any message: in clear, base64 or hex.
    rx.drain(Duration::from_millis(300)).await;
    assert!(rx.all.len() > 10, "{:#?}", rx.all);
    let b64 = base64::engine::general_purpose::STANDARD;
    for secret in [ADMIN, UNLOCK, USER_PASS, BACKUP_PASS, OP_PASS] {
        for form in [secret.to_owned(), b64.encode(secret), hex::encode(secret)] {
            for r in &rx.all {
                assert!(!r.text.contains(&form), "{secret} ({form}) in {}", r.text);
            }
        }
    }
}

/// Destinations follow each change at once (no restart); an empty list sends nothing.
#[tokio::test]
async fn the_list_follows_changes_live_and_an_empty_list_sends_nothing() {
    let s = Server::start();
    s.provision().await;
    let mut rx = Receivers::start().await;
    let sid = s.admin_session().await;
    ok(
        put(
            &s,
            &sid,
            json!([{"host": "127.0.0.1", "port": rx.tcp_port, "protocol": "TCP"}]),
        ),
        204,
    )
    .await;
    ok(test_message(&s, &sid, "first"), 204).await;
    rx.wait_for("tcp", "the first test message", |t| t.ends_with(" first"))
        .await;
    // Only UDP now: TCP gets nothing more.
    ok(
        put(
            &s,
            &sid,
            json!([{"host": "127.0.0.1", "port": rx.udp_port}]),
        ),
        204,
    )
    .await;
    // A missing protocol is UDP, a missing port 514 (here given).
    assert_eq!(
        list(&s, &sid, "").await["list"],
        json!([{"host": "127.0.0.1", "port": rx.udp_port, "protocol": "UDP"}])
    );
    rx.drain(Duration::from_millis(300)).await;
    ok(test_message(&s, &sid, "second"), 204).await;
    rx.wait_for("udp", "the second test message", |t| t.ends_with(" second"))
        .await;
    let later = rx.drain(Duration::from_millis(500)).await;
    assert!(later.iter().all(|r| r.via == "udp"), "{later:#?}");

    // Empty: NetHSM reports its default, nothing is sent, and a test message has nowhere to go.
    ok(put(&s, &sid, json!([])), 204).await;
    // The change's own audit event is stored with it, while the old list is in force: it is
    // the last message sent.
    rx.wait_for("udp", "the emptying's audit event", |t| {
        t.contains("action=\"PUT /api/rest/configure/v1/appliance/settings/syslog-servers\"")
    })
    .await;
    rx.drain(Duration::from_millis(300)).await;
    assert_eq!(
        logging(&s).await,
        json!({"ipAddress": "0.0.0.0", "port": 514, "logLevel": "info"})
    );
    let r = test_message(&s, &sid, "third").answer().await;
    appliance_error(
        r,
        400,
        "NO_SYSLOG_SERVERS",
        appliance_message("NO_SYSLOG_SERVERS"),
    )
    .await;
    s.create_user(Some("quiet"), "Operator", USER_PASS).await;
    let silent = rx.drain(Duration::from_millis(700)).await;
    assert!(silent.is_empty(), "{silent:#?}");

    // NetHSM's 0.0.0.0 removes the first entry and keeps the others.
    ok(
        put(
            &s,
            &sid,
            json!([
                {"host": "192.0.2.1", "port": 514, "protocol": "UDP"},
                {"host": "syslog.example.com", "port": 6514, "protocol": "TCP"},
            ]),
        ),
        204,
    )
    .await;
    ok(
        put_logging(
            &s,
            json!({"ipAddress": "0.0.0.0", "port": 514, "logLevel": "warning"}),
        ),
        204,
    )
    .await;
    assert_eq!(
        list(&s, &sid, "").await["list"],
        json!([{"host": "syslog.example.com", "port": 6514, "protocol": "TCP"}])
    );
    assert_eq!(
        logging(&s).await,
        json!({"ipAddress": "syslog.example.com", "port": 6514, "logLevel": "warning"})
    );

    // A first entry set by NetHSM that equals a later one is kept once.
    ok(
        put(
            &s,
            &sid,
            json!([
                {"host": "192.0.2.1", "port": 514, "protocol": "UDP"},
                {"host": "192.0.2.2", "port": 514, "protocol": "UDP"},
                {"host": "192.0.2.3", "port": 514, "protocol": "TCP"},
            ]),
        ),
        204,
    )
    .await;
    ok(
        put_logging(
            &s,
            json!({"ipAddress": "192.0.2.2", "port": 514, "logLevel": "info"}),
        ),
        204,
    )
    .await;
    assert_eq!(
        list(&s, &sid, "").await["list"],
        json!([
            {"host": "192.0.2.2", "port": 514, "protocol": "UDP"},
            {"host": "192.0.2.3", "port": 514, "protocol": "TCP"},
        ])
    );

    // A factory reset erases the setting: sending stops at once.
    let udp = json!({"ipAddress": "127.0.0.1", "port": rx.udp_port, "logLevel": "debug"});
    ok(put_logging(&s, udp), 204).await;
    s.state().await;
    rx.wait_for("udp", "a log line", |t| t.contains("request completed"))
        .await;
    ok(s.as_admin(Method::POST, "/system/factory-reset"), 204).await;
    rx.drain(Duration::from_millis(300)).await;
    for _ in 0..3 {
        s.state().await;
    }
    let after_reset = rx.drain(Duration::from_millis(500)).await;
    assert!(after_reset.is_empty(), "{after_reset:#?}");
}

#[tokio::test]
async fn the_list_query_filters_sorts_and_pages() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let entries = json!([
        {"host": "b.example", "port": 600, "protocol": "TCP"},
        {"host": "a.example", "port": 514, "protocol": "UDP"},
        {"host": "c.example", "port": 70, "protocol": "TCP"},
    ]);
    ok(put(&s, &sid, entries.clone()), 204).await;
    let hosts = |v: Value| -> Vec<String> {
        (v["list"].as_array().unwrap().iter())
            .map(|e| e["host"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        hosts(list(&s, &sid, "").await),
        ["b.example", "a.example", "c.example"]
    );
    assert_eq!(
        hosts(list(&s, &sid, "?sort_by=port").await),
        ["c.example", "a.example", "b.example"]
    );
    assert_eq!(
        hosts(list(&s, &sid, "?sort_by=host&order_by=desc").await),
        ["c.example", "b.example", "a.example"]
    );
    let tcp = list(&s, &sid, "?filter_property=protocol&filter=TCP").await;
    assert_eq!(tcp["_meta"], json!({"total": 2, "offset": 0, "limit": 100}));
    assert_eq!(hosts(tcp), ["b.example", "c.example"]);
    let page = list(
        &s,
        &sid,
        "?filter_property=host&filter=a.example&filter=c.example&limit=1&offset=1",
    )
    .await;
    assert_eq!(page["_meta"], json!({"total": 2, "offset": 1, "limit": 1}));
    assert_eq!(hosts(page), ["c.example"]);
    for query in [
        "?sort_by=host&order_by=sideways",
        "?limit=-1",
        "?offset=x",
        "?filter_property=host",
        "?filter=a.example",
    ] {
        let r = s
            .appliance(Method::GET, &format!("{SYSLOG}{query}"))
            .header("x-dr-session", &sid)
            .answer()
            .await;
        appliance_error(
            r,
            400,
            "INVALID_LIST_QUERY",
            appliance_message("INVALID_LIST_QUERY"),
        )
        .await;
    }
}

#[tokio::test]
async fn bad_input_wrong_role_and_wrong_state() {
    let s = Server::start();
    // The appliance face while Unprovisioned: 503 before the session is looked at.
    let r = get(&s, "no-session").answer().await;
    appliance_error(
        r,
        503,
        "SERVICE_UNAVAILABLE",
        appliance_message("SERVICE_UNAVAILABLE"),
    )
    .await;
    s.provision().await;
    s.create_user(Some("op"), "Operator", OP_PASS).await;
    // A namespace's users are created before the namespace (NetHSM's order).
    s.create_user(Some("ns~admin"), "Administrator", OP_PASS)
        .await;
    ok(s.as_admin(Method::PUT, "/namespaces/ns"), 204).await;
    let sid = s.admin_session().await;

    // NetHSM: 400 in its shape, nothing changed.
    for (body, says) in [
        (
            json!({"ipAddress": "syslog.example.com", "port": 514, "logLevel": "info"}),
            Says::from("ipAddress must be an IPv4 or IPv6 address"),
        ),
        (
            json!({"ipAddress": "192.0.2.1", "port": 0, "logLevel": "info"}),
            Says::from("port must be between 1 and 65535"),
        ),
        (
            json!({"ipAddress": "192.0.2.1", "port": 65536, "logLevel": "info"}),
            Says::from("port must be between 1 and 65535"),
        ),
        (
            json!({"ipAddress": "192.0.2.1", "port": 514, "logLevel": "verbose"}),
            starting("Malformed request body: "),
        ),
        (
            json!({"ipAddress": "192.0.2.1", "port": 514}),
            starting("Malformed request body: "),
        ),
        (
            json!({"ipAddress": "192.0.2.1", "port": 514, "logLevel": "info", "x": 1}),
            starting("Malformed request body: "),
        ),
    ] {
        nethsm_error(put_logging(&s, body).answer().await, 400, says).await;
    }
    assert_eq!(
        logging(&s).await,
        json!({"ipAddress": "0.0.0.0", "port": 514, "logLevel": "info"})
    );

    // The appliance face: 400 in its shape.
    let entry = |host: &str, port: i64, protocol: &str| json!({"host": host, "port": port, "protocol": protocol});
    let invalid = appliance_message("INVALID_SYSLOG_SERVER");
    for list in [
        json!([entry("bad host", 514, "UDP")]),
        json!([entry("0.0.0.0", 514, "UDP")]),
        json!([entry("a.example", 0, "UDP")]),
        json!([entry("a.example", 65536, "UDP")]),
        json!([entry("a.example", 514, "SCTP")]),
        json!([{"port": 514}]),
        json!([
            entry("a.example", 514, "UDP"),
            entry("a.example", 514, "UDP")
        ]),
        Value::Array((1..=17).map(|p| entry("a.example", p, "TCP")).collect()),
    ] {
        let r = put(&s, &sid, list.clone()).answer().await;
        appliance_error(r, 400, "INVALID_SYSLOG_SERVER", invalid.clone()).await;
    }
    let r = put(
        &s,
        &sid,
        json!([
            entry("a.example", 514, "UDP"),
            entry("b.example", 2514, "RELP")
        ]),
    )
    .answer()
    .await;
    appliance_error(
        r,
        400,
        "UNSUPPORTED_SYSLOG_PROTOCOL",
        appliance_message("UNSUPPORTED_SYSLOG_PROTOCOL"),
    )
    .await;
    let r = put(&s, &sid, json!({"host": "a.example"})).answer().await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        starting("Invalid request body: "),
    )
    .await;
    let r = s
        .appliance(Method::POST, TEST_MESSAGE)
        .header("x-dr-session", &sid)
        .json(&json!({}))
        .answer()
        .await;
    appliance_error(
        r,
        400,
        "INVALID_REQUEST",
        starting("Invalid request body: "),
    )
    .await;
    assert_eq!(list(&s, &sid, "").await["list"], json!([]));
    // The message names which entry and which rule.
    let r = put(
        &s,
        &sid,
        json!([entry("a.example", 514, "UDP"), entry("a.example", 0, "UDP")]),
    )
    .answer()
    .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Syslog server 2 is not valid: the port must be between 1 and 65535."
    );

    // Wrong role: only root Administrators, on either face.
    for (user, pass) in [("op", OP_PASS), ("ns~admin", OP_PASS)] {
        for r in [
            s.request(Method::GET, "/config/logging"),
            s.request(Method::PUT, "/config/logging")
                .json(&json!({"ipAddress": "192.0.2.1", "port": 514, "logLevel": "info"})),
        ] {
            let r = r.basic_auth(user, Some(pass)).answer().await;
            nethsm_error(r, 403, "Access denied.").await;
        }
        let r = s
            .appliance(Method::POST, "/session")
            .basic_auth(user, Some(pass))
            .answer()
            .await;
        appliance_error(r, 403, "ACCESS_DENIED", "Access denied.").await;
    }
    // No session: 401, empty.
    for r in [
        s.appliance(Method::GET, SYSLOG),
        s.appliance(Method::PUT, SYSLOG).json(&json!([])),
        s.appliance(Method::POST, TEST_MESSAGE)
            .json(&json!({"message": "x"})),
    ] {
        appliance_error(r.answer().await, 401, "", "").await;
    }
    // Locked: 412 on NetHSM, 503 on the appliance face.
    s.lock().await;
    for r in [
        s.as_admin(Method::GET, "/config/logging"),
        s.as_admin(Method::PUT, "/config/logging")
            .json(&json!({"ipAddress": "192.0.2.1", "port": 514, "logLevel": "info"})),
    ] {
        nethsm_error(r.answer().await, 412, "Service not available").await;
    }
    let r = get(&s, &sid).answer().await;
    appliance_error(
        r,
        503,
        "SERVICE_UNAVAILABLE",
        appliance_message("SERVICE_UNAVAILABLE"),
    )
    .await;
}

/// The `syslog` service of `/services`: stopped, nothing is sent (not even audit events)
/// while the destinations stay configured; started, sending resumes; restarted, the TCP
/// connection is opened anew.
#[tokio::test]
async fn the_syslog_service_stops_and_starts_sending() {
    let s = Server::start();
    s.provision().await;
    let mut rx = Receivers::start().await;
    let sid = s.admin_session().await;
    ok(
        put(
            &s,
            &sid,
            json!([{"host": "127.0.0.1", "port": rx.tcp_port, "protocol": "TCP"}]),
        ),
        204,
    )
    .await;
    ok(test_message(&s, &sid, "before"), 204).await;
    rx.wait_for("tcp", "the first test message", |t| t.ends_with(" before"))
        .await;

    let service = |action: &str| {
        s.appliance(Method::POST, &format!("/services/syslog/actions/{action}"))
            .header("x-dr-session", &sid)
    };
    ok(service("stop"), 204).await;
    rx.drain(Duration::from_millis(300)).await;
    // The list is kept, so a test message is accepted; it goes nowhere.
    ok(test_message(&s, &sid, "while stopped"), 204).await;
    s.create_user(Some("unheard"), "Operator", USER_PASS).await;
    let silent = rx.drain(Duration::from_millis(700)).await;
    assert!(silent.is_empty(), "sent while stopped: {silent:#?}");
    assert_eq!(list(&s, &sid, "").await["_meta"]["total"], 1);

    ok(service("start"), 204).await;
    ok(test_message(&s, &sid, "after start"), 204).await;
    rx.wait_for("tcp", "the test message after start", |t| {
        t.ends_with(" after start")
    })
    .await;

    // A restart drops the connection and opens a new one: the message after it arrives.
    ok(service("restart"), 204).await;
    ok(test_message(&s, &sid, "after restart"), 204).await;
    rx.wait_for("tcp", "the test message after restart", |t| {
        t.ends_with(" after restart")
    })
    .await;
    let all = rx.all.iter().map(|r| r.text.as_str()).collect::<Vec<_>>();
    assert!(
        !all.iter()
            .any(|t| t.ends_with(" while stopped") || t.contains("unheard")),
        "{all:#?}"
    );
}
