//! `strongroom appliance tls|syslog|time|network|services|support-bundle` (docs/cli.md, "The
//! appliance face"): appliance administration through the appliance face's session; the real
//! binary against a real server; human and `--json` output and the exit codes of failures.

use crate::common::cli::*;
use crate::common::keys::pyca;
use crate::common::*;

const OPERATOR_PASS: &str = "operator passphrase for tests";

/// Checks the CSR PEM in argv[1] (signature, common name argv[2]); prints `ok`.
const CHECK_CSR: &str = r#"
import sys
from pathlib import Path
from cryptography import x509
from cryptography.x509.oid import NameOID
csr = x509.load_pem_x509_csr(Path(sys.argv[1]).read_bytes())
assert csr.is_signature_valid, "signature"
cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
assert cn == sys.argv[2], cn
print("ok")
"#;

/// Writes to argv[1] a PKCS#12 file (password argv[2]) of a new P-256 key and a self-signed
/// certificate for 127.0.0.1 (valid from 60 days ago: the appliance clock is the one set at
/// provisioning); prints the certificate's SHA-256 in hex.
const MAKE_P12: &str = r#"
import sys, datetime, ipaddress, hashlib
from pathlib import Path
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
k = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p12.example")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(k.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=60))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(k, hashes.SHA256()))
p12 = pkcs12.serialize_key_and_certificates(b"p12", k, cert, None,
        s.BestAvailableEncryption(sys.argv[2].encode()))
Path(sys.argv[1]).write_bytes(p12)
print(hashlib.sha256(cert.public_bytes(s.Encoding.DER)).hexdigest())
"#;

fn with<'a>(s: &'a Server, user: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("STRONGROOM_SERVER", s.base.as_str()),
        ("STRONGROOM_FINGERPRINT", s.fingerprint.as_str()),
        ("STRONGROOM_USER", user),
        ("STRONGROOM_PASSWORD", password),
    ]
}

#[tokio::test]
async fn tls_syslog_time_network_services_and_support_bundles() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some("op"), "Operator", OPERATOR_PASS).await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let admin = with(&s, "admin", ADMIN);
    let ap = |args: &[&'static str]| {
        let mut all = vec!["appliance"];
        all.extend_from_slice(args);
        all
    };

    // TLS: the certificate served is the one pinned; a CSR pyca checks.
    let cert = json_of(&cli(c, &admin, &ap(&["tls", "show", "--json"])).await);
    assert_eq!(cert["thumbprint"], s.fingerprint.as_str());
    let shown = ok(&cli(c, &admin, &ap(&["tls", "show"])).await);
    assert!(
        shown.contains(&format!("SHA-256:    {}\n", s.fingerprint)),
        "{shown}"
    );
    assert!(shown.starts_with("subject:    CN=Strongroom\n"), "{shown}");
    let csr = c.join("appliance.csr");
    let out = ok(&cli(
        c,
        &admin,
        &[
            "appliance",
            "tls",
            "csr",
            "--common-name",
            "hsm.example.org",
            "--fqdn",
            "hsm.example.org",
            "-o",
            csr.to_str().unwrap(),
        ],
    )
    .await);
    assert_eq!(out, format!("wrote the CSR to {}\n", csr.display()));
    let checked = pyca(
        CHECK_CSR,
        &[
            csr.to_str().unwrap().to_owned(),
            "hsm.example.org".to_owned(),
        ],
    )
    .await;
    assert_eq!(checked.trim(), "ok");
    // A certificate that is not for the CSR's key: the face's refusal (5).
    let not_a_cert = c.join("junk.pem");
    std::fs::write(
        &not_a_cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let stderr = fails(
        &cli(
            c,
            &admin,
            &[
                "appliance",
                "tls",
                "install",
                "--cert",
                not_a_cert.to_str().unwrap(),
            ],
        )
        .await,
        5,
    );
    assert!(
        stderr.contains("installing the certificate failed: "),
        "{stderr}"
    );

    // Syslog: set, show, clear; a malformed server is a usage error before any request.
    let out = ok(&cli(
        c,
        &admin,
        &ap(&["syslog", "set", "127.0.0.1:5514", "[::1]:601/tcp"]),
    )
    .await);
    assert_eq!(out, "sending the logs to 127.0.0.1:5514, [::1]:601/tcp\n");
    let list = json_of(&cli(c, &admin, &ap(&["syslog", "show", "--json"])).await);
    assert_eq!(
        list,
        serde_json::json!([
            {"host": "127.0.0.1", "port": 5514, "protocol": "UDP"},
            {"host": "::1", "port": 601, "protocol": "TCP"}
        ])
    );
    let table = ok(&cli(c, &admin, &ap(&["syslog", "show"])).await);
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().eq(["::1", "601", "TCP"])),
        "{table}"
    );
    fails(
        &cli(c, &admin, &ap(&["syslog", "set", "host:port"])).await,
        2,
    );
    ok(&cli(c, &admin, &ap(&["syslog", "set", "--none"])).await);
    assert_eq!(
        ok(&cli(c, &admin, &ap(&["syslog", "show"])).await),
        "no syslog servers\n"
    );

    // Time: show, set the zone; an unknown zone and NTP are refused with the face's sentences.
    ok(&cli(c, &admin, &ap(&["time", "set", "--zone", "Europe/Berlin"])).await);
    let t = json_of(&cli(c, &admin, &ap(&["time", "show", "--json"])).await);
    assert_eq!(t["zone"], "Europe/Berlin");
    let shown = ok(&cli(c, &admin, &ap(&["time", "show"])).await);
    assert!(
        shown.contains("zone:            Europe/Berlin\n"),
        "{shown}"
    );
    let stderr = fails(
        &cli(c, &admin, &ap(&["time", "set", "--zone", "Mars/Olympus"])).await,
        5,
    );
    assert!(
        stderr.contains("is not a time zone of the IANA database"),
        "{stderr}"
    );
    let stderr = fails(
        &cli(c, &admin, &ap(&["time", "set", "--sync", "ntp"])).await,
        5,
    );
    assert!(stderr.contains("runs no NTP client"), "{stderr}");

    // The appliance's information and its data disk.
    let info = json_of(&cli(c, &admin, &ap(&["info", "--json"])).await);
    assert_eq!(info["appliance"]["product_name"], "Strongroom");
    assert_eq!(info["disks"][0]["name"], "data");
    let shown = ok(&cli(c, &admin, &ap(&["info"])).await);
    assert!(
        shown.starts_with("product: Strongroom\nversion: "),
        "{shown}"
    );
    assert!(shown.lines().any(|l| l.starts_with("data ")), "{shown}");

    // Network, as reported.
    let net = json_of(&cli(c, &admin, &ap(&["network", "--json"])).await);
    assert!(net.is_object(), "{net}");

    // Services: listed; restarted; an unknown one is not found (6).
    let services = json_of(&cli(c, &admin, &ap(&["services", "list", "--json"])).await);
    let ids: Vec<&str> = (services.as_array().unwrap().iter())
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"nethsm") && ids.contains(&"syslog"),
        "{ids:?}"
    );
    let table = ok(&cli(c, &admin, &ap(&["services", "list"])).await);
    assert!(table.starts_with("ID "), "{table}");
    let out = ok(&cli(c, &admin, &ap(&["services", "restart", "syslog"])).await);
    assert_eq!(out, "restarted syslog\n");
    fails(
        &cli(c, &admin, &ap(&["services", "restart", "no-such-service"])).await,
        6,
    );

    // Support bundles: made, listed, downloaded (piped: no progress bar) whole, deleted.
    let made = json_of(&cli(c, &admin, &ap(&["support-bundle", "create", "--json"])).await);
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(!key.is_empty());
    let list = json_of(&cli(c, &admin, &ap(&["support-bundle", "list", "--json"])).await);
    assert_eq!(list[0]["key"], key.as_str());
    let file = c.join("bundle.tar");
    let j = json_of(
        &cli(
            c,
            &admin,
            &[
                "appliance",
                "support-bundle",
                "download",
                &key,
                file.to_str().unwrap(),
                "--json",
            ],
        )
        .await,
    );
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(j["bytes"], bytes.len() as u64);
    assert_eq!(list[0]["size"], bytes.len() as u64);
    let md5sum = std::process::Command::new("md5sum")
        .arg(&file)
        .output()
        .unwrap();
    let md5 = String::from_utf8(md5sum.stdout).unwrap();
    assert_eq!(list[0]["md5"], md5.split_whitespace().next().unwrap());
    let mut archive = tar::Archive::new(bytes.as_slice());
    assert!(archive.entries().unwrap().count() > 0);
    let stderr = fails(
        &cli(
            c,
            &admin,
            &[
                "appliance",
                "support-bundle",
                "download",
                &key,
                file.to_str().unwrap(),
            ],
        )
        .await,
        2,
    );
    assert!(stderr.contains("--force"), "{stderr}");
    // On a terminal: a progress bar with the bytes of the total and the rate.
    let shown = c.join("shown.tar");
    let screen = on_a_terminal(
        c,
        &admin,
        &[
            "appliance",
            "support-bundle",
            "download",
            &key,
            shown.to_str().unwrap(),
        ],
    );
    assert!(
        screen.contains("support bundle [") && screen.contains("B/s"),
        "{screen:?}"
    );
    assert_eq!(std::fs::read(&shown).unwrap(), bytes);
    ok(&cli(c, &admin, &["appliance", "support-bundle", "delete", &key]).await);
    let other = c.join("gone.tar");
    fails(
        &cli(
            c,
            &admin,
            &[
                "appliance",
                "support-bundle",
                "download",
                &key,
                other.to_str().unwrap(),
            ],
        )
        .await,
        6,
    );
    assert!(!other.exists());
    assert!(!c.join("gone.tar.partial").exists());

    // Not an Administrator: refused (the session or the request).
    let op = with(&s, "op", OPERATOR_PASS);
    let stderr = fails(&cli(c, &op, &ap(&["time", "show"])).await, 5);
    assert!(stderr.contains("HTTP 403"), "{stderr}");

    // A PKCS#12 file of pyca's: a wrong password is the face's refusal (5); with the right
    // one it is served at once, so the old pin no longer connects (3) and the new one does.
    let p12 = c.join("appliance.p12");
    let new_fp = pyca(
        MAKE_P12,
        &[p12.to_str().unwrap().to_owned(), "p12 password".to_owned()],
    )
    .await;
    let new_pin = format!("sha256:{}", new_fp.trim());
    let install = [
        "appliance",
        "tls",
        "install",
        "--pkcs12",
        p12.to_str().unwrap(),
    ];
    let mut wrong = admin.clone();
    wrong.push(("STRONGROOM_PKCS12_PASSWORD", "not the p12 password"));
    let stderr = fails(&cli(c, &wrong, &install).await, 5);
    assert!(stderr.contains("pkcs12_format"), "{stderr}");
    let mut right = admin.clone();
    right.push(("STRONGROOM_PKCS12_PASSWORD", "p12 password"));
    let out = cli(c, &right, &install).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = fails(&cli(c, &admin, &["state"]).await, 3);
    assert!(stderr.contains("refusing to talk to"), "{stderr}");
    let mut pinned = admin.clone();
    pinned[1] = ("STRONGROOM_FINGERPRINT", new_pin.as_str());
    assert_eq!(ok(&cli(c, &pinned, &["state"]).await), "Operational\n");
    let cert = json_of(&cli(c, &pinned, &ap(&["tls", "show", "--json"])).await);
    assert_eq!(
        cert["thumbprint"]
            .as_str()
            .unwrap()
            .replace(':', "")
            .to_lowercase(),
        new_fp.trim()
    );
    assert_eq!(cert["subject_dn"], "CN=p12.example");

    // A new self-signed certificate: installed; the pin of the PKCS#12's no longer connects.
    let j = json_of(
        &cli(
            c,
            &pinned,
            &[
                "appliance",
                "tls",
                "install",
                "--self-signed",
                "--common-name",
                "new.example",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(j["installed"], true);
    let stderr = fails(&cli(c, &pinned, &["state"]).await, 3);
    assert!(stderr.contains("refusing to talk to"), "{stderr}");
}
