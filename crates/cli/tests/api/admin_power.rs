//! Issue 14's power, update, configuration-manager and TLS-probe operations: the appliance
//! face's restart and stop (the NetHSM face's reboot and shutdown under other names), system
//! updates on both faces (refused: the package manager updates Strongroom), vSphere
//! Replication's configuration manager (not applicable), and probe-ssl-connection, which makes
//! a real TLS handshake.

use std::process::Command;

use base64::Engine;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::common::*;

const UPDATES_MESSAGE: &str = "Strongroom is updated by the host's package manager, not through this API: install the new package and restart the service (docs/operations.md, Power and updates).";
const NOTHING_PENDING: &str = "No update is pending: Strongroom is updated by the host's package manager, not through this API (docs/operations.md, Power and updates).";
const PROBE: &str = "/appliance/certificates/server/actions/probe-ssl-connection";

async fn empty_401(r: Response) {
    appliance_error(r, 401, "", "").await;
}

#[tokio::test]
async fn appliance_restart_is_the_nethsm_reboot() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    let restart = "/appliance/actions/restart";
    // No session (an Operator's Basic credentials are not one): 401, nothing happens.
    empty_401(s.appliance(Method::POST, restart).answer().await).await;
    let r = s
        .appliance(Method::POST, restart)
        .basic_auth("op", Some("operator passphrase"))
        .answer()
        .await;
    empty_401(r).await;
    assert_eq!(s.state().await, "Operational");

    let sid = s.admin_session().await;
    let r = s.dr(&sid, Method::POST, restart).answer().await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    // As after NetHSM's reboot: Locked, and this face is unavailable until unlocked.
    assert_eq!(s.state().await, "Locked");
    let r = s.dr(&sid, Method::POST, restart).answer().await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
    let r = s
        .dr(&sid, Method::POST, "/appliance/actions/stop")
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
    assert_eq!(s.unlock(UNLOCK).await.status(), 204);

    // With unattended boot on, Operational again at once, as NetHSM's reboot.
    let r = s
        .as_admin(Method::PUT, "/config/unattended-boot")
        .json(&json!({"status": "on"}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let sid = s.admin_session().await;
    let r = s.dr(&sid, Method::POST, restart).answer().await;
    assert_eq!(r.status(), 204);
    assert_eq!(s.state().await, "Operational");

    // Audited as the request it is.
    let events = audit_events(&s).await;
    let target = format!("{APPLIANCE}{restart}");
    assert!(
        events
            .iter()
            .any(|e| e["target"] == target.as_str() && e["outcome"] == "success"),
        "{events:?}"
    );
}

#[tokio::test]
async fn appliance_stop_ends_the_process() {
    let mut s = Server::start();
    s.provision().await;
    let stop = "/appliance/actions/stop";
    empty_401(s.appliance(Method::POST, stop).answer().await).await;
    empty_401(
        s.appliance(Method::POST, stop)
            .header("x-dr-session", "not-a-session")
            .answer()
            .await,
    )
    .await;
    assert_eq!(s.state().await, "Operational", "still running");
    let sid = s.admin_session().await;
    let r = s.dr(&sid, Method::POST, stop).answer().await;
    assert_eq!(r.status(), 204);
    let exit = s.wait_exit();
    assert!(exit.success(), "{exit:?}");
    assert!(s.log().contains("shutdown requested"));
    // It comes back as any stopped server does: Locked, from its store.
    s.start_again();
    assert_eq!(s.state().await, "Locked");
}

#[tokio::test]
async fn nethsm_system_updates_are_the_package_managers() {
    let s = Server::start();
    let update = |who: Option<(&str, &str)>| {
        let r = s
            .post("/system/update")
            .header("content-type", "application/octet-stream")
            .body(b"an update image".to_vec());
        match who {
            Some((user, pass)) => r.basic_auth(user, Some(pass)),
            None => r,
        }
    };
    // Wrong state: not Operational.
    for path in [
        "/system/update",
        "/system/commit-update",
        "/system/cancel-update",
    ] {
        let r = s.post(path).answer().await;
        nethsm_error(r, 412, "Service not available").await;
    }
    s.provision().await;
    s.create_user(Some("op"), "Operator", "operator passphrase")
        .await;
    nethsm_error(update(None).answer().await, 401, "Authentication required.").await;
    after_rate_limit_window(&s).await;
    let r = update(Some(("op", "operator passphrase"))).answer().await;
    nethsm_error(r, 403, "Access denied.").await;
    let r = update(Some(("admin", ADMIN))).answer().await;
    assert_eq!(nethsm_error(r, 400, UPDATES_MESSAGE).await, UPDATES_MESSAGE);
    // An image the size of a real one is not read into memory; the answer is the same.
    let big = vec![0u8; 8 * 1024 * 1024];
    let r = s
        .as_admin(Method::POST, "/system/update")
        .header("content-type", "application/octet-stream")
        .body(big)
        .answer()
        .await;
    nethsm_error(r, 400, UPDATES_MESSAGE).await;
    // No Content-Type counts as octet-stream; another is refused first.
    let r = s
        .as_admin(Method::POST, "/system/update")
        .body(b"image".to_vec())
        .answer()
        .await;
    nethsm_error(r, 400, UPDATES_MESSAGE).await;
    let r = s
        .as_admin(Method::POST, "/system/update")
        .json(&json!({"image": "json"}))
        .answer()
        .await;
    let message = "Content type not supported; use application/octet-stream.";
    nethsm_error(r, 415, message).await;
    let r = update(Some(("admin", ADMIN)))
        .header("accept", "text/plain")
        .answer()
        .await;
    nethsm_error(r, 406, "Content type in Accept header not supported.").await;

    for path in ["/system/commit-update", "/system/cancel-update"] {
        let r = s.as_admin(Method::POST, path).answer().await;
        nethsm_error(r, 412, NOTHING_PENDING).await;
        let r = s
            .post(path)
            .basic_auth("op", Some("operator passphrase"))
            .answer()
            .await;
        nethsm_error(r, 403, "Access denied.").await;
    }
    // Nothing was staged by the refused upload: still nothing to commit, and Operational.
    assert_eq!(s.state().await, "Operational");

    // Cross-face: the appliance face says the same.
    let sid = s.admin_session().await;
    let r = s
        .dr(
            &sid,
            Method::POST,
            "/appliance/update-manager/actions/retrieve-updates",
        )
        .answer()
        .await;
    appliance_error(r, 400, "UPDATES_BY_PACKAGE_MANAGER", UPDATES_MESSAGE).await;
}

#[tokio::test]
async fn appliance_update_manager_refuses_every_operation() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let repository = "/appliance/update-manager/repository";
    let operations = [
        (
            Method::POST,
            "/appliance/update-manager/actions/retrieve-updates",
            None,
        ),
        (Method::GET, repository, None),
        (
            Method::PUT,
            repository,
            Some(
                json!({"url": "https://updates.example/repo", "mounted_iso": false, "username": "u", "password": "repository password"}),
            ),
        ),
        (Method::PUT, repository, Some(json!({}))),
        (
            Method::POST,
            "/appliance/update-manager/updates/1.2.3/actions/install",
            None,
        ),
    ];
    for (method, path, body) in &operations {
        let request = |sid: Option<&str>| {
            let r = match sid {
                Some(sid) => s.dr(sid, method.clone(), path),
                None => s.appliance(method.clone(), path),
            };
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        };
        empty_401(request(None).answer().await).await;
        let r = request(Some(&sid)).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "UPDATES_BY_PACKAGE_MANAGER",
            "{method} {path}"
        );
    }
    // A malformed repository is told so first.
    let r = s
        .dr(&sid, Method::PUT, repository)
        .json(&json!({"url": 5}))
        .answer()
        .await;
    assert_eq!(appliance_documented_error(r, 400).await, "INVALID_REQUEST");
    // The repository password is not echoed into the log.
    assert!(!s.log().contains("repository password"));
    // Locked: the face is unavailable, as for every operation.
    s.lock().await;
    let r = s.dr(&sid, Method::GET, repository).answer().await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
}

#[tokio::test]
async fn configuration_manager_does_not_apply() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let base = "/appliance/configuration-manager";
    let operations = [
        (
            Method::POST,
            "/actions/check-extension-key-registration",
            true,
        ),
        (Method::POST, "/actions/list-vc-services", true),
        (Method::POST, "/actions/validate-connection", true),
        (Method::GET, "/configuration", false),
        (Method::PUT, "/configuration", true),
        (Method::POST, "/configuration/actions/remove", true),
        (Method::GET, "/reconfigure-required", false),
        (Method::GET, "/replication-server-settings", false),
        (Method::PUT, "/replication-server-settings", true),
    ];
    for (method, path, has_body) in operations {
        let path = format!("{base}{path}");
        empty_401(s.appliance(method.clone(), &path).answer().await).await;
        let mut r = s.dr(&sid, method.clone(), &path);
        if has_body {
            r = r.json(&json!({"extension_key": "com.vmware.vcHms", "hostname": "vc.example"}));
        }
        let code = appliance_documented_error(r.answer().await, 400).await;
        assert_eq!(code, "NOT_VSPHERE_REPLICATION", "{method} {path}");
        // Whatever the body: a malformed one gets the same answer.
        if has_body {
            let r = s
                .dr(&sid, method.clone(), &path)
                .header("content-type", "application/json")
                .body("{")
                .answer()
                .await;
            let code = appliance_documented_error(r, 400).await;
            assert_eq!(code, "NOT_VSPHERE_REPLICATION", "{method} {path}");
        }
    }
    // Other methods on these paths are still the router's 405.
    let r = s
        .dr(
            &sid,
            Method::DELETE,
            "/appliance/configuration-manager/configuration",
        )
        .answer()
        .await;
    assert_eq!(
        appliance_documented_error(r, 405).await,
        "METHOD_NOT_ALLOWED"
    );
}

/// The decimal form of a big-endian unsigned integer given in hex (openssl's serial).
fn hex_to_decimal(hex: &str) -> String {
    let mut digits: Vec<u8> = Vec::new(); // little-endian base-10 digits
    for c in hex.chars() {
        let mut carry = c.to_digit(16).expect("hex digit");
        for d in digits.iter_mut() {
            let v = *d as u32 * 16 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.iter().rev().map(|d| (b'0' + d) as char).collect()
}

/// `openssl x509 <args>` on a PEM certificate; its standard output.
fn openssl_x509(pem: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cert.pem");
    std::fs::write(&path, pem).unwrap();
    let out = Command::new("openssl")
        .arg("x509")
        .arg("-in")
        .arg(&path)
        .arg("-noout")
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn probe_reports_the_certificate_a_real_handshake_shows() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let probe = |uri: &str| s.dr(&sid, Method::POST, PROBE).json(&json!({ "uri": uri }));
    let port = raw::addr(&s).port();

    // The test server itself: the certificate it printed at start.
    let r = probe(&format!("https://127.0.0.1:{port}")).answer().await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let cert: Value = r.json().await.unwrap();
    assert_eq!(cert["thumbprint"], s.fingerprint.as_str(), "{cert}");
    assert_eq!(cert["trusted"], false, "a self-signed certificate");
    assert_eq!(cert["version"], 3);
    assert_eq!(cert["subject_dn"], "CN=Strongroom");
    assert_eq!(cert["issuer_dn"], "CN=Strongroom");
    assert_eq!(cert["sig_alg_name"], "SHA256withECDSA");
    assert_eq!(cert["sig_alg_oid"], "1.2.840.10045.4.3.2");
    assert_eq!(cert["public_key_algorithm"], "EC");
    assert_eq!(cert["public_key_format"], "X.509");
    let sans: Vec<&str> = (cert["subject_alternative_names"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        sans.contains(&"localhost") && sans.contains(&"127.0.0.1"),
        "{sans:?}"
    );
    // Checked by openssl against the PEM the probe returned.
    let pem = cert["certificate"].as_str().unwrap();
    let fingerprint = openssl_x509(pem, &["-fingerprint", "-sha256"]);
    assert_eq!(
        fingerprint.trim().rsplit('=').next().unwrap(),
        s.fingerprint,
        "openssl sees the served certificate"
    );
    let serial = openssl_x509(pem, &["-serial"]);
    let serial_hex = serial.trim().strip_prefix("serial=").unwrap();
    assert_eq!(cert["serial_number"], hex_to_decimal(serial_hex).as_str());
    let dates = openssl_x509(pem, &["-startdate", "-enddate", "-dateopt", "iso_8601"]);
    let date = |key: &str| {
        let line = dates.lines().find(|l| l.starts_with(key)).unwrap();
        let text = line.split_once('=').unwrap().1.trim();
        time::OffsetDateTime::parse(
            &text.replace(' ', "T"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unix_timestamp()
            * 1000
    };
    assert_eq!(cert["not_before"], date("notBefore"));
    assert_eq!(cert["not_after"], date("notAfter"));
    // The public key is the certificate's SubjectPublicKeyInfo, as openssl extracts it.
    let spki_pem = openssl_x509(pem, &["-pubkey"]);
    let spki_b64: String = (spki_pem.lines())
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(cert["public_key"], spki_b64.as_str());
    let sig = base64::engine::general_purpose::STANDARD
        .decode(cert["signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(sig[0], 0x30, "an ECDSA signature is a DER SEQUENCE");

    // The same endpoint by name, without a scheme.
    let r = probe(&format!("localhost:{port}")).answer().await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["thumbprint"],
        s.fingerprint.as_str()
    );

    // Audited, with the caller.
    let events = audit_events(&s).await;
    let target = format!("{APPLIANCE}{PROBE}");
    assert!(
        events.iter().any(|e| e["target"] == target.as_str()),
        "{events:?}"
    );
}

#[tokio::test]
async fn probe_fails_cleanly() {
    let s = Server::start();
    s.provision().await;
    let sid = s.admin_session().await;
    let probe = |body: Value| s.dr(&sid, Method::POST, PROBE).json(&body);

    // A closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = probe(json!({"uri": format!("https://127.0.0.1:{closed_port}")}))
        .answer()
        .await;
    appliance_error(
        r,
        400,
        "PROBE_FAILED",
        starting(&format!(
            "The TLS probe of 127.0.0.1:{closed_port} failed: cannot connect"
        )),
    )
    .await;

    // A peer that answers, but not in TLS.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut conn, _)) = plain.accept().await {
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let r = probe(json!({"uri": format!("127.0.0.1:{plain_port}")}))
        .answer()
        .await;
    appliance_error(
        r,
        400,
        "PROBE_FAILED",
        starting(&format!(
            "The TLS probe of 127.0.0.1:{plain_port} failed: no TLS handshake"
        )),
    )
    .await;

    // A peer that accepts the connection and says nothing: given up on in time.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    let started = std::time::Instant::now();
    let r = probe(json!({"uri": format!("https://127.0.0.1:{silent_port}")}))
        .answer()
        .await;
    appliance_error(
        r,
        400,
        "PROBE_FAILED",
        format!(
            "The TLS probe of 127.0.0.1:{silent_port} failed: no TLS handshake within 8 seconds"
        ),
    )
    .await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(8));
    held.abort();

    // Bad input.
    for bad in [
        json!({"uri": "http://127.0.0.1:443"}),
        json!({"uri": ""}),
        json!({"uri": "https://127.0.0.1:0"}),
        json!({"uri": "https://user@127.0.0.1"}),
        json!({"url": "https://127.0.0.1"}),
        json!({"uri": 443}),
    ] {
        let r = probe(bad.clone()).answer().await;
        assert_eq!(
            appliance_documented_error(r, 400).await,
            "INVALID_REQUEST",
            "{bad}"
        );
    }
    // No session: 401; Locked: 503.
    let r = s
        .appliance(Method::POST, PROBE)
        .json(&json!({"uri": "https://127.0.0.1"}))
        .answer()
        .await;
    empty_401(r).await;
    s.lock().await;
    let r = probe(json!({"uri": "https://127.0.0.1"})).answer().await;
    assert_eq!(
        appliance_documented_error(r, 503).await,
        "SERVICE_UNAVAILABLE"
    );
}

/// Runs `openssl` with these arguments in `dir`; asserts it succeeds.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA (EC P-256) and a server certificate it issued (RSA 2048, for `localhost` only), made
/// by openssl in `dir`: `ca.pem`, `leaf.pem`, `leaf.key`.
fn ca_and_leaf(dir: &std::path::Path) {
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/O=Probe Test/CN=Probe Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "20",
            "-sha256",
            "-extfile",
            "leaf.ext",
        ],
    );
}

/// A TLS server on an ephemeral port presenting `leaf.pem` and the CA after it; completes
/// handshakes and closes. Returns the port.
async fn tls_listener(dir: &std::path::Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = ["leaf.pem", "ca.pem"]
        .iter()
        .map(|f| CertificateDer::from_pem_file(dir.join(f)).unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    port
}

/// A server process, killed when dropped (a failing test included).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server with `SSL_CERT_FILE` naming `ca.pem`, as the host's trust store; returns
/// it with its base URL and a client pinned to its certificate.
fn server_trusting(dir: &std::path::Path) -> (Running, String, reqwest::Client) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .env("SSL_CERT_DIR", dir.join("no-such-dir"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn strongroom");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines.next().unwrap().unwrap();
    let base = base.strip_prefix("listening on ").unwrap().to_owned();
    let fingerprint = lines.next().unwrap().unwrap();
    let fingerprint = fingerprint
        .strip_prefix("certificate SHA-256 fingerprint ")
        .unwrap()
        .to_owned();
    (Running(child), base, pinned_client(&fingerprint))
}

/// `trusted` is the host's trust store's verdict, for the name probed, at the appliance's
/// time: a certificate from a CA the host trusts is trusted for its name, once the appliance
/// clock is within its validity, and not for another name.
#[tokio::test]
async fn probe_trusts_what_the_host_trusts() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path());
    let port = tls_listener(dir.path()).await;
    let (_server, base, client) = server_trusting(dir.path());
    let url = |face: &str, path: &str| format!("{base}{face}{path}");
    // Provisioned with a time a year before the certificates were made.
    let r = client
        .post(url(NETHSM, "/provision"))
        .json(&json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": "2025-11-23T12:00:00Z"}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let r = client
        .post(url(APPLIANCE, "/session"))
        .basic_auth("admin", Some(ADMIN))
        .answer()
        .await;
    let sid = r.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let probe = |uri: String| {
        let client = client.clone();
        let (url, sid) = (url(APPLIANCE, PROBE), sid.clone());
        async move {
            let r = client
                .post(url)
                .header("x-dr-session", sid)
                .json(&json!({ "uri": uri }))
                .answer()
                .await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let by_name = format!("https://localhost:{port}");
    let cert = probe(by_name.clone()).await;
    assert_eq!(
        cert["trusted"], false,
        "not yet valid at the appliance's time"
    );
    // The appliance clock set to now: within the validity.
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = client
        .put(url(NETHSM, "/config/time"))
        .basic_auth("admin", Some(ADMIN))
        .json(&json!({ "time": now }))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let cert = probe(by_name).await;
    assert_eq!(cert["trusted"], true, "{cert}");
    assert_eq!(cert["subject_dn"], "CN=localhost");
    assert_eq!(cert["issuer_dn"], "O=Probe Test, CN=Probe Test CA");
    assert_eq!(cert["public_key_algorithm"], "RSA");
    assert_eq!(
        cert["sig_alg_name"], "SHA256withECDSA",
        "signed by the EC CA"
    );
    assert_eq!(
        cert["key_usage"],
        json!([true, false, true, false, false, false, false, false, false])
    );
    assert_eq!(cert["extended_key_usage"], json!(["1.3.6.1.5.5.7.3.1"]));
    assert_eq!(cert["subject_alternative_names"], json!(["localhost"]));
    let leaf = std::fs::read_to_string(dir.path().join("leaf.pem")).unwrap();
    let fingerprint = openssl_x509(&leaf, &["-fingerprint", "-sha256"]);
    assert_eq!(
        cert["thumbprint"],
        fingerprint.trim().rsplit('=').next().unwrap()
    );
    assert_eq!(
        cert["certificate"],
        leaf.as_str(),
        "the leaf, as openssl wrote it"
    );
    // The same certificate for a name it was not issued for: reported, not trusted.
    let cert = probe(format!("https://127.0.0.1:{port}")).await;
    assert_eq!(cert["subject_dn"], "CN=localhost");
    assert_eq!(cert["trusted"], false);
}

/// The appliance's own trusted CAs (`/appliance/certificates/ca`) count beside the host's: a
/// certificate from a CA the host does not trust is trusted once an administrator adds that
/// CA, and no longer once it is removed.
#[tokio::test]
async fn probe_trusts_the_appliance_ca_list() {
    let dir = tempfile::tempdir().unwrap();
    ca_and_leaf(dir.path());
    let port = tls_listener(dir.path()).await;
    // The host trusts only an unrelated CA.
    let host = tempfile::tempdir().unwrap();
    ca_and_leaf(host.path());
    let (_server, base, client) = server_trusting(host.path());
    let url = |face: &str, path: &str| format!("{base}{face}{path}");
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = client
        .post(url(NETHSM, "/provision"))
        .json(&json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": now}))
        .answer()
        .await;
    assert_eq!(r.status(), 204);
    let r = client
        .post(url(APPLIANCE, "/session"))
        .basic_auth("admin", Some(ADMIN))
        .answer()
        .await;
    let sid = r.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = |path: &'static str, body: Value| {
        let client = client.clone();
        let (url, sid) = (url(APPLIANCE, path), sid.clone());
        async move {
            client
                .post(url)
                .header("x-dr-session", sid)
                .json(&body)
                .answer()
                .await
        }
    };
    let uri = json!({ "uri": format!("https://localhost:{port}") });
    let trusted = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["trusted"].clone()
    };
    assert_eq!(trusted(call(PROBE, uri.clone()).await).await, false);
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let entry = json!([{ "value": ca }]);
    let r = call("/appliance/certificates/ca", entry.clone()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(trusted(call(PROBE, uri.clone()).await).await, true);
    let r = call("/appliance/certificates/ca/actions/remove", entry).await;
    assert_eq!(r.status(), 204);
    assert_eq!(trusted(call(PROBE, uri).await).await, false);
}
