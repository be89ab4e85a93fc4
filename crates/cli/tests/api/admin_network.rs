//! Time, network, appliance information and disks (issue 14), on both faces: the appliance
//! face's `/appliance/settings/time`, `time/zones`, `/appliance/settings/network...`,
//! `/appliance`, `/appliance/disks`, and NetHSM's `/config/time` and `/config/network`. What
//! one face sets is what the other reports; network changes are recorded, never applied to
//! the host (checked against the host itself).

use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::common::*;

async fn ok_json(r: Response) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn no_content(r: Response) -> String {
    let status = r.status();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(status, 204, "{}", r.text().await.unwrap());
    id
}

fn millis(rfc3339: &str) -> i64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn host_now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Within a minute: each request takes a moment, on a busy machine more.
fn assert_near(got: i64, want: i64, what: &str) {
    assert!(
        (got - want).abs() < 60_000,
        "{what}: {got} is not within a minute of {want}"
    );
}

/// The request id of `r` is in the audit trail as a success.
async fn audited(s: &Server, request_id: &str) {
    let events = audit_events(s).await;
    assert!(
        events
            .iter()
            .any(|e| e["requestId"] == request_id && e["outcome"] == "success"),
        "request {request_id} is audited"
    );
}

async fn time_settings(s: &Server, sid: &str) -> Value {
    ok_json(
        s.dr(sid, Method::GET, "/appliance/settings/time")
            .answer()
            .await,
    )
    .await
}

fn put_time(s: &Server, sid: &str, body: Value) -> RequestBuilder {
    s.dr(sid, Method::PUT, "/appliance/settings/time")
        .json(&body)
}

#[tokio::test]
async fn time_settings_zones_and_the_clock_on_both_faces() {
    let mut s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;

    // Provisioning set the clock; the appliance face reads the same clock.
    let t = time_settings(&s, &sid).await;
    assert_near(
        t["current_time"].as_i64().unwrap(),
        millis(TIME),
        "provisioned time",
    );
    assert_eq!(t["zone"], "UTC");
    assert_eq!(t["synchronization"], json!({"mode": "DISABLED"}));

    // Set through NetHSM, read through the appliance face.
    let r = s
        .as_admin(Method::PUT, "/config/time")
        .json(&json!({"time": "2031-05-06T07:08:09Z"}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let t = time_settings(&s, &sid).await;
    assert_near(
        t["current_time"].as_i64().unwrap(),
        millis("2031-05-06T07:08:09Z"),
        "time set through NetHSM",
    );

    // The zone: a tz database name, stored as the database spells it.
    let id = no_content(
        put_time(&s, &sid, json!({"zone": "europe/berlin"}))
            .answer()
            .await,
    )
    .await;
    audited(&s, &id).await;
    assert_eq!(time_settings(&s, &sid).await["zone"], "Europe/Berlin");
    let r = put_time(&s, &sid, json!({"zone": "Mars/Olympus_Mons"}))
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 400).await,
        "UNKNOWN_TIME_ZONE"
    );
    let r = put_time(&s, &sid, json!({"zone": ""})).answer().await;
    assert_eq!(
        appliance_documented_error(r, 400).await,
        "UNKNOWN_TIME_ZONE"
    );

    // NTP cannot be done: refused, and nothing changes.
    let ntp = json!({"zone": "Asia/Tokyo", "synchronization": {"mode": "NTP", "ntp_servers": ["pool.ntp.org"]}});
    let r = put_time(&s, &sid, ntp).answer().await;
    assert_eq!(
        appliance_documented_error(r, 400).await,
        "TIME_SYNC_UNSUPPORTED"
    );
    let t = time_settings(&s, &sid).await;
    assert_eq!(t["zone"], "Europe/Berlin");
    assert_eq!(t["synchronization"]["mode"], "DISABLED");
    for bad in [
        json!({"synchronization": {"mode": "SUNDIAL"}}),
        json!({"synchronization": {}}),
        json!({"zone": 7}),
    ] {
        let r = put_time(&s, &sid, bad).answer().await;
        assert_eq!(appliance_documented_error(r, 400).await, "INVALID_REQUEST");
    }

    // HOST: the appliance's clock is the host's again, on both faces.
    no_content(
        put_time(&s, &sid, json!({"synchronization": {"mode": "HOST"}}))
            .answer()
            .await,
    )
    .await;
    let t = time_settings(&s, &sid).await;
    assert_eq!(t["synchronization"]["mode"], "HOST");
    assert_eq!(
        t["zone"], "Europe/Berlin",
        "a change of mode keeps the zone"
    );
    assert_near(
        t["current_time"].as_i64().unwrap(),
        host_now_millis(),
        "HOST time",
    );
    let nethsm_time = s.admin_json("/config/time").await;
    assert_near(
        millis(nethsm_time["time"].as_str().unwrap()),
        host_now_millis(),
        "NetHSM's time under HOST",
    );

    // Setting the time by hand ends following the host.
    let r = s
        .as_admin(Method::PUT, "/config/time")
        .json(&json!({"time": "2030-01-01T00:00:00Z"}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let t = time_settings(&s, &sid).await;
    assert_eq!(t["synchronization"]["mode"], "DISABLED");
    assert_near(
        t["current_time"].as_i64().unwrap(),
        millis("2030-01-01T00:00:00Z"),
        "hand-set time",
    );

    // The settings are the appliance's own record: they survive a restart.
    no_content(
        put_time(
            &s,
            &sid,
            json!({"zone": "America/New_York", "synchronization": {"mode": "DISABLED"}}),
        )
        .answer()
        .await,
    )
    .await;
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let sid = s.admin_session().await;
    let t = ok_json(
        s.dr(&sid, Method::GET, "/appliance/settings/time")
            .answer()
            .await,
    )
    .await;
    assert_eq!(t["zone"], "America/New_York");
    assert_eq!(t["synchronization"]["mode"], "DISABLED");

    // Wrong state: Locked, the whole face answers 503.
    s.lock().await;
    let r = s
        .dr(&sid, Method::GET, "/appliance/settings/time")
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
    let r = s
        .dr(&sid, Method::PUT, "/appliance/settings/time")
        .json(&json!({"zone": "UTC"}))
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
}

#[tokio::test]
async fn a_restore_sets_the_clock_by_hand() {
    let s = Server::start();
    s.provision().await;
    s.set_backup_passphrase("the backup passphrase", "").await;
    s.create_user(Some("bk"), "Backup", "backup user passphrase")
        .await;
    let file = s.backup("bk", "backup user passphrase").await;
    let sid = s.admin_session().await;
    no_content(
        put_time(&s, &sid, json!({"synchronization": {"mode": "HOST"}}))
            .answer()
            .await,
    )
    .await;
    assert_eq!(
        time_settings(&s, &sid).await["synchronization"]["mode"],
        "HOST"
    );
    // A restore onto this Operational node sets the clock from its systemTime (TIME).
    let r = s
        .restore(file, "the backup passphrase", Some(("admin", ADMIN)))
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let sid = s.admin_session().await;
    let t = time_settings(&s, &sid).await;
    assert_eq!(t["synchronization"]["mode"], "DISABLED", "{t}");
    assert_near(
        t["current_time"].as_i64().unwrap(),
        millis(TIME),
        "restored time",
    );
}

#[tokio::test]
async fn time_zones_list_with_paging_filter_and_sort() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let zones = |query: &str| {
        s.dr(
            &sid,
            Method::GET,
            &format!("/appliance/settings/time/zones{query}"),
        )
    };

    let page = ok_json(zones("").answer().await).await;
    let total = page["_meta"]["total"].as_u64().unwrap();
    assert!(total > 300, "the whole tz database: {total}");
    assert_eq!(page["_meta"]["offset"], 0);
    assert_eq!(page["_meta"]["limit"], 100, "the spec's default page");
    assert_eq!(page["list"].as_array().unwrap().len(), 100);

    let all = ok_json(zones(&format!("?limit={total}")).answer().await).await;
    let names: Vec<&str> = all["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len() as u64, total);
    for known in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"] {
        assert!(names.contains(&known), "{known} is listed");
    }
    // Every zone listed is one the PUT accepts (a sample across the list).
    for name in names.iter().step_by(names.len() / 7) {
        let r = s
            .dr(&sid, Method::PUT, "/appliance/settings/time")
            .json(&json!({"zone": name}))
            .answer()
            .await;
        no_content(r).await;
    }

    let page = ok_json(zones("?limit=5&offset=10").answer().await).await;
    assert_eq!(page["list"].as_array().unwrap().len(), 5);
    assert_eq!(page["list"][0]["name"], names[10]);
    assert_eq!(page["_meta"]["offset"], 10);
    assert_eq!(page["_meta"]["limit"], 5);
    assert_eq!(page["_meta"]["total"], total);

    let filtered = ok_json(
        zones("?filter_property=name&filter=UTC&filter=Europe/Berlin")
            .answer()
            .await,
    )
    .await;
    assert_eq!(
        filtered["list"],
        json!([{"name": "Europe/Berlin"}, {"name": "UTC"}])
    );
    assert_eq!(filtered["_meta"]["total"], 2);

    let sorted = ok_json(zones("?sort_by=name&order_by=desc&limit=2").answer().await).await;
    let last_two: Vec<&str> = names.iter().rev().take(2).copied().collect();
    assert_eq!(sorted["list"][0]["name"], last_two[0]);
    assert_eq!(sorted["list"][1]["name"], last_two[1]);

    for bad in [
        "?limit=-1",
        "?offset=ten",
        "?sort_by=name&order_by=sideways",
    ] {
        let r = zones(bad).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_LIST_QUERY",
            "{bad}"
        );
    }
    let r = s
        .appliance(Method::GET, "/appliance/settings/time/zones")
        .answer()
        .await;
    appliance_error(r, 401, "", "").await;
}

/// What `/etc/resolv.conf` lists, read here independently of the server.
fn resolv_conf_servers() -> Vec<String> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|a| a.trim().split('%').next().unwrap().to_owned())
        .collect()
}

/// Whether the host has `address` on one of its interfaces: only then can a socket bind it.
fn host_has(address: &str) -> bool {
    let ip: IpAddr = address.parse().unwrap();
    UdpSocket::bind((ip, 0)).is_ok()
}

#[tokio::test]
async fn network_settings_are_recorded_on_both_faces_and_never_applied() {
    let mut s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let get = |path: &str| s.dr(&sid, Method::GET, path);
    let interface = |name: &str| format!("/appliance/settings/network/interfaces/{name}");

    // The host's real interfaces; lo with 127.0.0.1/8 on every Linux host.
    let list = ok_json(get("/appliance/settings/network/interfaces").answer().await).await;
    let items = list["list"].as_array().unwrap();
    assert_eq!(list["_meta"]["total"], items.len());
    let lo = items
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo is listed");
    assert_eq!(lo["status"], "UP");
    assert_eq!(lo["mac"], "00:00:00:00:00:00");
    assert_eq!(lo["ipv4"]["address"], "127.0.0.1");
    assert_eq!(lo["ipv4"]["prefix"], 8);
    let lo_one = ok_json(get(&interface("lo")).answer().await).await;
    assert_eq!(&lo_one, lo, "nothing requested for lo: no notes");
    let r = get(&interface("nosuch0")).answer().await;
    assert_eq!(
        appliance_documented_error(r, 404).await,
        "INTERFACE_NOT_FOUND"
    );
    let r = s
        .dr(&sid, Method::POST, &interface("nosuch0"))
        .json(&json!({"ipv4": {"assignment_mode": "DHCP"}}))
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 404).await,
        "INTERFACE_NOT_FOUND"
    );

    // NetHSM's configuration is the primary interface's, as the host has it.
    let before = s.admin_json("/config/network").await;
    let host_address = before["ipAddress"].as_str().unwrap().to_owned();
    assert!(host_has(&host_address), "{before}");
    let primary = items
        .iter()
        .find(|i| i["ipv4"]["address"] == host_address.as_str())
        .unwrap_or_else(|| panic!("no interface has {host_address}: {list}"));
    let name = primary["name"].as_str().unwrap().to_owned();
    // A /32 host address has no prefix the spec allows: it is shown as null.
    let prefix = primary["ipv4"]["prefix"].as_u64().unwrap_or(32);
    let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
    assert_eq!(
        before["netmask"],
        std::net::Ipv4Addr::from(mask).to_string()
    );
    let gateway = primary["ipv4"]["default_gateway"]
        .as_str()
        .unwrap_or("0.0.0.0");
    assert_eq!(before["gateway"], gateway);

    // Set through NetHSM: recorded, reported by both faces, not applied.
    let r = s
        .as_admin(Method::PUT, "/config/network")
        .json(&json!({
            "ipAddress": "10.20.30.40", "netmask": "255.255.255.0", "gateway": "10.20.30.1",
            "ipv6": {"cidr": "fd00:abcd::40/64", "gateway": "fd00:abcd::1"}
        }))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    audited(&s, &id).await;
    assert_eq!(
        s.admin_json("/config/network").await,
        json!({"ipAddress": "10.20.30.40", "netmask": "255.255.255.0", "gateway": "10.20.30.1",
               "ipv6": {"cidr": "fd00:abcd::40/64", "gateway": "fd00:abcd::1"}})
    );
    let seen = ok_json(get(&interface(&name)).answer().await).await;
    assert_eq!(
        seen["ipv4"],
        json!({"address": "10.20.30.40", "default_gateway": "10.20.30.1", "assignment_mode": "STATIC", "prefix": 24})
    );
    assert_eq!(
        seen["ipv6"],
        json!({"autoconfigure": false, "dhcp": false, "default_gateway": "fd00:abcd::1",
               "addresses": [{"address": "fd00:abcd::40", "prefix": 64}]})
    );
    let notes = seen["_meta"]["errors"].as_array().unwrap();
    let fields: Vec<&str> = notes.iter().map(|n| n["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["$.ipv4", "$.ipv6"]);
    for note in notes {
        assert_eq!(note["code"], "NOT_APPLIED_TO_HOST");
        assert!(
            note["message"]
                .as_str()
                .unwrap()
                .starts_with("Recorded, not applied")
        );
    }
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{host_address}/{prefix}")),
        "the note says what the host really has: {}",
        notes[0]
    );
    assert!(host_has(&host_address), "the host keeps its address");
    assert!(
        !host_has("10.20.30.40"),
        "the requested address is not applied"
    );

    // Set through the appliance face: NetHSM reports it; IPv6, left out, stays.
    let post = |body: Value| s.dr(&sid, Method::POST, &interface(&name)).json(&body);
    let ipv4 = json!({"ipv4": {"assignment_mode": "STATIC", "address": "172.16.5.9", "prefix": 16, "default_gateway": "172.16.0.1"}});
    no_content(post(ipv4).answer().await).await;
    assert_eq!(
        s.admin_json("/config/network").await,
        json!({"ipAddress": "172.16.5.9", "netmask": "255.255.0.0", "gateway": "172.16.0.1",
               "ipv6": {"cidr": "fd00:abcd::40/64", "gateway": "fd00:abcd::1"}})
    );

    // NetHSM's `"ipv6": null` turns IPv6 off; an absent gateway is 0.0.0.0.
    let r = s
        .as_admin(Method::PUT, "/config/network")
        .json(&json!({"ipAddress": "172.16.5.9", "netmask": "255.255.0.0", "ipv6": null}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.admin_json("/config/network").await,
        json!({"ipAddress": "172.16.5.9", "netmask": "255.255.0.0", "gateway": "0.0.0.0"})
    );
    let seen = ok_json(get(&interface(&name)).answer().await).await;
    assert_eq!(
        seen["ipv6"],
        json!({"autoconfigure": false, "dhcp": false, "default_gateway": null, "addresses": []})
    );

    // The whole network: the same interfaces, with notes at their places.
    let all = ok_json(get("/appliance/settings/network").answer().await).await;
    let at = all["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .position(|i| i["name"] == name.as_str())
        .unwrap();
    assert_eq!(all["interfaces"][at]["ipv4"]["address"], "172.16.5.9");
    let fields: Vec<&str> = all["_meta"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&format!("$.interfaces[{at}].ipv4").as_str()),
        "{fields:?}"
    );
    assert!(fields.contains(&"$.dns.mode"), "{fields:?}");

    // The requests survive a restart (one sealed record).
    s.restart();
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);
    let sid = s.admin_session().await;
    assert_eq!(
        s.admin_json("/config/network").await["ipAddress"],
        "172.16.5.9"
    );

    // DHCP: nothing static is requested, so NetHSM shows what the host has.
    let r = s
        .dr(&sid, Method::POST, &interface(&name))
        .json(&json!({"ipv4": {"assignment_mode": "DHCP", "address": "ignored"}}))
        .answer()
        .await;
    no_content(r).await;
    assert_eq!(
        s.admin_json("/config/network").await["ipAddress"],
        host_address
    );
    let seen = ok_json(s.dr(&sid, Method::GET, &interface(&name)).answer().await).await;
    assert_eq!(
        seen["ipv4"],
        json!({"address": null, "default_gateway": null, "assignment_mode": "DHCP", "prefix": null})
    );

    // Bad input, on each face in its own shape; nothing is recorded.
    for (body, says) in [
        (
            json!({"ipAddress": "300.1.1.1", "netmask": "255.255.255.0"}),
            "ipAddress must be an IPv4 address, not \"300.1.1.1\"",
        ),
        (
            json!({"ipAddress": "10.0.0.5", "netmask": "255.0.255.0"}),
            "netmask must be a contiguous netmask such as 255.255.255.0, not \"255.0.255.0\"",
        ),
        (
            json!({"ipAddress": "10.0.0.5", "netmask": "255.255.255.0", "gateway": "10.9.0.1"}),
            "the ipv4 default gateway 10.9.0.1 is not in 10.0.0.5/24",
        ),
        (
            json!({"ipAddress": "10.0.0.5", "netmask": "255.255.255.255"}),
            "the ipv4 prefix must be 8 to 31, not 32",
        ),
        (
            json!({"ipAddress": "0.0.0.0", "netmask": "255.255.255.0"}),
            "ipv4 address 0.0.0.0 is not a unicast address",
        ),
        (
            json!({"ipAddress": "10.0.0.5", "netmask": "255.255.255.0", "ipv6": {"cidr": "fd00::5", "gateway": null}}),
            "ipv6.cidr must be an IPv6 address/prefix, not \"fd00::5\"",
        ),
    ] {
        let r = s
            .as_admin(Method::PUT, "/config/network")
            .json(&body)
            .answer()
            .await;
        nethsm_error(r, 400, says).await;
    }
    let r = s
        .as_admin(Method::PUT, "/config/network")
        .json(&json!({"ipAddress": "10.0.0.5", "netmask": "255.255.255.0", "mtu": 9000}))
        .answer()
        .await;
    nethsm_error(r, 400, starting("Malformed request body: ")).await;
    let post = |body: Value| s.dr(&sid, Method::POST, &interface(&name)).json(&body);
    for body in [
        json!({"ipv4": {"assignment_mode": "STATIC", "prefix": 24}}),
        json!({"ipv4": {"assignment_mode": "STATIC", "address": "10.0.0.5", "prefix": 33}}),
        json!({"ipv4": {"assignment_mode": "STATIC", "address": "10.0.0.5", "prefix": 24, "default_gateway": "fe80::1"}}),
        json!({"ipv6": {"autoconfigure": true, "dhcp": false, "addresses": [{"address": "ff02::1", "prefix": 64}]}}),
        json!({"ipv6": {"autoconfigure": true, "dhcp": false, "addresses": [{"address": "fd00::1", "prefix": 129}]}}),
    ] {
        let r = post(body.clone()).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_NETWORK_SETTINGS",
            "{body}"
        );
    }
    for body in [
        json!({"ipv4": {"assignment_mode": "MANUAL"}}),
        json!({"ipv6": {"dhcp": true}}),
    ] {
        let r = post(body.clone()).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_REQUEST",
            "{body}"
        );
    }
    assert_eq!(
        s.admin_json("/config/network").await["ipAddress"],
        host_address
    );

    // Wrong role, wrong state.
    s.create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    for method in [Method::GET, Method::PUT] {
        let r = s
            .request(method, "/config/network")
            .basic_auth("op", Some("operator passphrase"))
            .json(&json!({"ipAddress": "10.0.0.5", "netmask": "255.255.255.0"}))
            .answer()
            .await;
        nethsm_error(r, 403, "Access denied.").await;
    }
    let r = s
        .appliance(Method::POST, "/session")
        .basic_auth("op", Some("operator passphrase"))
        .answer()
        .await;
    assert_eq!(appliance_documented_error(r, 403).await, "ACCESS_DENIED");
    s.lock().await;
    for method in [Method::GET, Method::PUT] {
        let r = s
            .as_admin(method, "/config/network")
            .json(&json!({"ipAddress": "10.0.0.5", "netmask": "255.255.255.0"}))
            .answer()
            .await;
        nethsm_error(r, 412, "Service not available").await;
    }
    let r = s
        .dr(&sid, Method::GET, "/appliance/settings/network")
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
}

#[tokio::test]
async fn dns_settings_are_recorded_and_the_resolver_is_left_alone() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let dns = || s.dr(&sid, Method::GET, "/appliance/settings/network/dns");
    let put = |body: Value| {
        s.dr(&sid, Method::PUT, "/appliance/settings/network/dns")
            .json(&body)
    };
    let resolv_before = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();

    // Nothing requested: the host's resolver, said to be the host's.
    let host = ok_json(dns().answer().await).await;
    assert_eq!(host["mode"], "STATIC");
    let servers: Vec<String> = host["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(servers, resolv_conf_servers());
    assert_eq!(
        host["hostname"].as_str(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .as_deref()
            .map(str::trim)
    );
    assert_eq!(host["_meta"]["errors"][0]["code"], "HOST_RESOLVER");
    assert_eq!(host["_meta"]["errors"][0]["field"], "$.mode");

    let id = no_content(
        put(json!({"mode": "STATIC", "hostname": "vault-01.example.org", "servers": ["192.0.2.53", "2001:db8::53"]}))
            .answer()
            .await,
    )
    .await;
    audited(&s, &id).await;
    let seen = ok_json(dns().answer().await).await;
    assert_eq!(seen["mode"], "STATIC");
    assert_eq!(seen["hostname"], "vault-01.example.org");
    assert_eq!(seen["servers"], json!(["192.0.2.53", "2001:db8::53"]));
    assert_eq!(seen["_meta"]["errors"][0]["code"], "NOT_APPLIED_TO_HOST");
    assert_eq!(seen["_meta"]["errors"][0]["field"], "$");
    let all = ok_json(
        s.dr(&sid, Method::GET, "/appliance/settings/network")
            .answer()
            .await,
    )
    .await;
    assert_eq!(all["dns"]["servers"], seen["servers"]);
    assert_eq!(
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        resolv_before,
        "the host's resolver is not touched"
    );

    // DHCP: servers are ignored, as the spec says.
    no_content(
        put(json!({"mode": "DHCP", "servers": ["192.0.2.99"]}))
            .answer()
            .await,
    )
    .await;
    let seen = ok_json(dns().answer().await).await;
    assert_eq!(
        (&seen["mode"], &seen["servers"]),
        (&json!("DHCP"), &json!([]))
    );
    assert_eq!(seen["hostname"], Value::Null);

    for body in [
        json!({"mode": "STATIC", "servers": []}),
        json!({"mode": "STATIC", "servers": ["dns.example.org"]}),
        json!({"mode": "STATIC", "servers": ["224.0.0.251"]}),
        json!({"mode": "DHCP", "hostname": "-bad-"}),
        json!({"mode": "DHCP", "hostname": "a".repeat(64)}),
    ] {
        let r = put(body.clone()).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_NETWORK_SETTINGS",
            "{body}"
        );
    }
    for body in [
        json!({"servers": ["192.0.2.53"]}),
        json!({"mode": "MANUAL"}),
    ] {
        let r = put(body.clone()).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_REQUEST",
            "{body}"
        );
    }
    assert_eq!(
        ok_json(dns().answer().await).await["mode"],
        "DHCP",
        "nothing bad was recorded"
    );
    let r = s
        .appliance(Method::GET, "/appliance/settings/network/dns")
        .answer()
        .await;
    appliance_error(r, 401, "", "").await;
}

/// The system_information part after `label`, up to the next `;`.
fn part<'a>(info: &'a str, label: &str) -> &'a str {
    let start = info
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {info:?}"))
        + label.len();
    info[start..].split(';').next().unwrap().trim()
}

#[tokio::test]
async fn appliance_info_and_the_data_directory_disk() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;

    let info = ok_json(s.dr(&sid, Method::GET, "/appliance").answer().await).await;
    assert_eq!(info["product_name"], "Strongroom");
    assert_eq!(info["appliance_version"], env!("CARGO_PKG_VERSION"));
    let text = info["system_information"].as_str().unwrap();
    assert_eq!(
        part(text, "TLS certificate SHA-256 "),
        s.fingerprint,
        "the certificate the client was served"
    );
    let up: u64 = part(text, "uptime ")
        .trim_end_matches(" s")
        .parse()
        .unwrap();
    assert!(up < 600, "the server started moments ago: {up} s");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = ok_json(s.dr(&sid, Method::GET, "/appliance").answer().await).await;
    let later: u64 = part(later["system_information"].as_str().unwrap(), "uptime ")
        .trim_end_matches(" s")
        .parse()
        .unwrap();
    assert!(later > up, "uptime runs: {up} then {later}");

    let disks = ok_json(s.dr(&sid, Method::GET, "/appliance/disks").answer().await).await;
    assert_eq!(disks["_meta"]["total"], 1);
    let disk = &disks["list"][0];
    assert_eq!(disk["name"], "data");
    let (total, used) = (
        disk["total_space"].as_u64().unwrap(),
        disk["used_space"].as_u64().unwrap(),
    );
    // df, an independent reader of the same file system.
    let df = std::process::Command::new("df")
        .args(["-B1", "--output=size,used,target"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(df.status.success());
    let df = String::from_utf8(df.stdout).unwrap();
    let row: Vec<&str> = df.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(total, row[0].parse::<u64>().unwrap(), "{df}");
    let df_used: u64 = row[1].parse().unwrap();
    assert!(
        used.abs_diff(df_used) < total / 50 + 1,
        "used {used} vs df {df_used}"
    );
    assert_eq!(disk["partition_name"], row[2], "the mount point");
    let percent: u64 = disk["used_space_percent"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert_eq!(percent, (used * 100).div_ceil(total));
    assert!(
        disk["description"]
            .as_str()
            .unwrap()
            .contains(&*s.data_dir.canonicalize().unwrap().to_string_lossy()),
        "{disk}"
    );

    let r = s.appliance(Method::GET, "/appliance/disks").answer().await;
    appliance_error(r, 401, "", "").await;
    s.lock().await;
    for path in ["/appliance", "/appliance/disks"] {
        let r = s.dr(&sid, Method::GET, path).answer().await;
        assert_eq!(
            appliance_documented_error(r, 503).await,
            "SERVICE_UNAVAILABLE"
        );
    }
}
