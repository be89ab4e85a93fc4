//! `strongroom keys ...` (docs/cli.md, "Keys"): the real binary against a real server, the key
//! store through the CLI alone; what it signs, the public keys and CSRs it prints checked by
//! pyca/cryptography (the venv), never by our own code; keys and certificates made by pyca
//! imported as PEM and DER; human and `--json` output and the exit codes of each failure.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::cli::*;
use crate::common::keys::{OPERATOR, OPERATOR_PASS, pyca};
use crate::common::*;

/// Makes, in DIR, an EC P-256 key as PKCS#8 PEM (`ec.pem`) and its public key (`ec.pub.pem`),
/// a self-signed certificate for it (`ec.cert.pem`, `ec.cert.der`), and an RSA-2048 key as
/// PKCS#1 DER (`rsa.der`) with its public key (`rsa.pub.pem`).
const MAKE_KEYS: &str = r#"
import sys, datetime
from pathlib import Path
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, rsa
d = Path(sys.argv[1])
pub = lambda k: k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)
k = ec.generate_private_key(ec.SECP256R1())
(d / "ec.pem").write_bytes(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
(d / "ec.pub.pem").write_bytes(pub(k))
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imported")])
now = datetime.datetime(2026, 1, 1)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(k.public_key()).serial_number(7)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
        .sign(k, hashes.SHA256()))
(d / "ec.cert.pem").write_bytes(cert.public_bytes(s.Encoding.PEM))
(d / "ec.cert.der").write_bytes(cert.public_bytes(s.Encoding.DER))
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
(d / "rsa.der").write_bytes(r.private_bytes(s.Encoding.DER, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))
(d / "rsa.pub.pem").write_bytes(pub(r))
"#;

/// Verifies the signature in argv[3] of the message in argv[4] under the public key PEM in
/// argv[2], by the scheme argv[1]; prints `ok` or fails.
const VERIFY: &str = r#"
import sys
from pathlib import Path
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, padding
scheme, key, sig, msg = sys.argv[1], *(Path(p).read_bytes() for p in sys.argv[2:5])
k = s.load_pem_public_key(key)
if scheme == "ecdsa-sha256":
    k.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
elif scheme == "ed25519":
    k.verify(sig, msg)
elif scheme == "pss-sha256":
    k.verify(sig, msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
else:
    raise SystemExit("unknown scheme " + scheme)
print("ok")
"#;

/// Encrypts argv[3] to the RSA public key PEM in argv[1] with OAEP-SHA256, into argv[2].
const OAEP_ENCRYPT: &str = r#"
import sys
from pathlib import Path
from cryptography.hazmat.primitives import hashes, serialization as s
from cryptography.hazmat.primitives.asymmetric import padding
k = s.load_pem_public_key(Path(sys.argv[1]).read_bytes())
ct = k.encrypt(sys.argv[3].encode(), padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
Path(sys.argv[2]).write_bytes(ct)
"#;

/// Checks the CSR PEM in argv[1]: its signature, its subject (argv[2], RFC 4514) and that its
/// public key is the one in argv[3]; prints `ok`.
const CHECK_CSR: &str = r#"
import sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives import serialization as s
csr = x509.load_pem_x509_csr(Path(sys.argv[1]).read_bytes())
assert csr.is_signature_valid, "signature"
assert csr.subject.rfc4514_string() == sys.argv[2], csr.subject.rfc4514_string()
pub = s.load_pem_public_key(Path(sys.argv[3]).read_bytes())
spki = lambda k: k.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
assert spki(csr.public_key()) == spki(pub), "public key"
print("ok")
"#;

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The environment for `user` with `password` at `s`.
fn as_user<'a>(s: &'a Server, user: &'a str, password: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("STRONGROOM_SERVER", s.base.as_str()),
        ("STRONGROOM_FINGERPRINT", s.fingerprint.as_str()),
        ("STRONGROOM_USER", user),
        ("STRONGROOM_PASSWORD", password),
    ]
}

async fn sha256(data: &[u8], dir: &Path) -> Vec<u8> {
    let file = dir.join("to-hash");
    std::fs::write(&file, data).unwrap();
    let hex = pyca(
        "import sys, hashlib; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        &[path(&file)],
    )
    .await;
    hex::decode(hex.trim()).unwrap()
}

#[tokio::test]
async fn generate_sign_import_csr_certificates_labels_tags_move_and_delete() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let admin = as_user(&s, "admin", ADMIN);
    let op = as_user(&s, OPERATOR, OPERATOR_PASS);

    // Generate: an EC key of a given id (text), an RSA key of the server's id (JSON).
    let out = ok(&cli(
        c,
        &admin,
        &[
            "keys",
            "generate",
            "ec1",
            "--type",
            "EC_P256",
            "--mechanism",
            "ECDSA_Signature",
            "--label",
            "signing",
        ],
    )
    .await);
    assert_eq!(out, "generated EC_P256 key ec1\n");
    let rsa = json_of(
        &cli(
            c,
            &admin,
            &[
                "keys",
                "generate",
                "--type",
                "RSA",
                "--length",
                "2048",
                "--mechanism",
                "RSA_Signature_PSS_SHA256",
                "--mechanism",
                "RSA_Decryption_OAEP_SHA256",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(rsa["type"], "RSA");
    let rsa_id = rsa["id"].as_str().unwrap().to_owned();
    assert!(!rsa_id.is_empty());
    ok(&cli(
        c,
        &admin,
        &[
            "keys",
            "generate",
            "ed1",
            "--type",
            "Curve25519",
            "--mechanism",
            "EdDSA_Signature",
        ],
    )
    .await);

    // Show and list, for people and for scripts.
    let shown = ok(&cli(c, &op, &["keys", "show", "ec1"]).await);
    assert_eq!(
        shown,
        "id:         ec1\ntype:       EC_P256\nlabel:      signing\nmechanisms: \
         ECDSA_Signature\ntags:       -\noperations: 0\n"
    );
    let j = json_of(&cli(c, &op, &["keys", "show", rsa_id.as_str(), "--json"]).await);
    assert_eq!(j["type"], "RSA");
    assert_eq!(
        j["mechanisms"],
        serde_json::json!(["RSA_Decryption_OAEP_SHA256", "RSA_Signature_PSS_SHA256"])
    );
    assert_eq!(j["label"], "");
    assert_eq!(j["tags"], serde_json::json!([]));
    let list = json_of(&cli(c, &admin, &["keys", "list", "--json"]).await);
    let mut ids: Vec<&str> = (list.as_array().unwrap().iter())
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec!["ec1", "ed1", rsa_id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let table = ok(&cli(c, &admin, &["keys", "list"]).await);
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().eq(["ec1", "EC_P256", "signing", "-"])),
        "{table}"
    );
    let prefixed = json_of(&cli(c, &admin, &["keys", "list", "--prefix", "e", "--json"]).await);
    let mut listed: Vec<&str> = (prefixed.as_array().unwrap().iter())
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    listed.sort();
    // The server's random id may start with "e" too.
    let starting: Vec<&str> = want
        .iter()
        .copied()
        .filter(|id| id.starts_with('e'))
        .collect();
    assert_eq!(listed, starting);
    assert!(
        listed.contains(&"ec1") && listed.contains(&"ed1"),
        "{listed:?}"
    );
    let labelled =
        json_of(&cli(c, &admin, &["keys", "list", "--label", "signing", "--json"]).await);
    assert_eq!(labelled[0]["id"], "ec1");
    assert_eq!(labelled.as_array().unwrap().len(), 1);

    // Public keys: to stdout and to a file.
    let ec_pub = c.join("ec1.pub.pem");
    let out = ok(&cli(c, &op, &["keys", "public-key", "ec1", "-o", &path(&ec_pub)]).await);
    assert_eq!(
        out,
        format!("wrote the public key to {}\n", ec_pub.display())
    );
    let ed_pem = ok(&cli(c, &op, &["keys", "public-key", "ed1"]).await);
    assert!(ed_pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{ed_pem}");
    let ed_pub = c.join("ed1.pub.pem");
    std::fs::write(&ed_pub, &ed_pem).unwrap();
    let j = json_of(&cli(c, &op, &["keys", "public-key", rsa_id.as_str(), "--json"]).await);
    let rsa_pub = c.join("rsa.gen.pub.pem");
    std::fs::write(&rsa_pub, j["publicKey"].as_str().unwrap()).unwrap();

    // ECDSA of a digest from stdin, raw to a file; pyca verifies it against the message.
    let message = b"the message the CLI signs".to_vec();
    let msg_file = c.join("message");
    std::fs::write(&msg_file, &message).unwrap();
    let digest = sha256(&message, c).await;
    let sig = c.join("ec1.sig");
    let j = json_of(
        &cli_stdin(
            c,
            &op,
            &[
                "keys",
                "sign",
                "ec1",
                "--mode",
                "ECDSA",
                "-o",
                &path(&sig),
                "--json",
            ],
            &digest,
        )
        .await,
    );
    assert_eq!(j["file"], path(&sig));
    assert_eq!(j["length"], std::fs::metadata(&sig).unwrap().len());
    let args = |scheme: &str, key: &Path, sig: &Path| {
        vec![scheme.to_owned(), path(key), path(sig), path(&msg_file)]
    };
    assert_eq!(
        pyca(VERIFY, &args("ecdsa-sha256", &ec_pub, &sig))
            .await
            .trim(),
        "ok"
    );
    // EdDSA of the message from a file, as base64 on stdout.
    let b64 = ok(&cli(
        c,
        &op,
        &[
            "keys",
            "sign",
            "ed1",
            "--mode",
            "EdDSA",
            "--in",
            &path(&msg_file),
            "--base64",
        ],
    )
    .await);
    let ed_sig = c.join("ed1.sig");
    std::fs::write(&ed_sig, B64.decode(b64.trim_end()).unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&ed_sig).unwrap().len(), 64);
    assert_eq!(
        pyca(VERIFY, &args("ed25519", &ed_pub, &ed_sig))
            .await
            .trim(),
        "ok"
    );
    // PSS, raw on stdout (piped), and --json's base64.
    let raw = cli_stdin(
        c,
        &op,
        &["keys", "sign", rsa_id.as_str(), "--mode", "PSS_SHA256"],
        &digest,
    )
    .await;
    assert_eq!(
        raw.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout.len(), 256);
    let pss = c.join("rsa.sig");
    std::fs::write(&pss, &raw.stdout).unwrap();
    assert_eq!(
        pyca(VERIFY, &args("pss-sha256", &rsa_pub, &pss))
            .await
            .trim(),
        "ok"
    );
    let j = json_of(
        &cli_stdin(
            c,
            &op,
            &["keys", "sign", "ec1", "--mode", "ECDSA", "--json"],
            &digest,
        )
        .await,
    );
    std::fs::write(&sig, B64.decode(j["signature"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(j["id"], "ec1");
    assert_eq!(
        pyca(VERIFY, &args("ecdsa-sha256", &ec_pub, &sig))
            .await
            .trim(),
        "ok"
    );

    // Decrypt what pyca encrypted to the generated RSA key (OAEP-SHA256).
    let ct = c.join("oaep.bin");
    pyca(
        OAEP_ENCRYPT,
        &[path(&rsa_pub), path(&ct), "a secret for the key".to_owned()],
    )
    .await;
    let pt = c.join("oaep.out");
    let out = ok(&cli(
        c,
        &op,
        &[
            "keys",
            "decrypt",
            rsa_id.as_str(),
            "--mode",
            "OAEP_SHA256",
            "--in",
            &path(&ct),
            "--out",
            &path(&pt),
        ],
    )
    .await);
    assert_eq!(
        out,
        format!("wrote 20 bytes (decrypted) to {}\n", pt.display())
    );
    assert_eq!(std::fs::read(&pt).unwrap(), b"a secret for the key");

    // AES-CBC: encrypt under a given IV, and under the server's (said on stderr); decrypt back.
    ok(&cli(
        c,
        &admin,
        &[
            "keys",
            "generate",
            "aes1",
            "--type",
            "Generic",
            "--length",
            "256",
            "--mechanism",
            "AES_Encryption_CBC",
            "--mechanism",
            "AES_Decryption_CBC",
        ],
    )
    .await);
    let blocks = b"sixteen byte blk, and the second".to_vec();
    let iv = B64.encode([7u8; 16]);
    let j = json_of(
        &cli_stdin(
            c,
            &op,
            &["keys", "encrypt", "aes1", "--iv", &iv, "--json"],
            &blocks,
        )
        .await,
    );
    assert_eq!(j["iv"], iv);
    let encrypted = B64.decode(j["encrypted"].as_str().unwrap()).unwrap();
    assert_eq!(encrypted.len(), 32);
    assert_ne!(encrypted, blocks);
    let back = cli_stdin(
        c,
        &op,
        &["keys", "decrypt", "aes1", "--mode", "AES_CBC", "--iv", &iv],
        &encrypted,
    )
    .await;
    assert_eq!(back.stdout, blocks);
    let fresh = cli_stdin(c, &op, &["keys", "encrypt", "aes1", "--base64"], &blocks).await;
    assert_eq!(fresh.status.code(), Some(0));
    let stderr = String::from_utf8(fresh.stderr).unwrap();
    let server_iv = stderr
        .strip_prefix("iv: ")
        .expect("the IV on stderr")
        .trim_end();
    assert_eq!(B64.decode(server_iv).unwrap().len(), 16);
    let encrypted = B64
        .decode(String::from_utf8(fresh.stdout).unwrap().trim_end())
        .unwrap();
    let back = cli_stdin(
        c,
        &op,
        &[
            "keys", "decrypt", "aes1", "--mode", "AES_CBC", "--iv", server_iv,
        ],
        &encrypted,
    )
    .await;
    assert_eq!(back.stdout, blocks);

    // Import pyca's keys: PKCS#8 PEM under a given id, PKCS#1 DER under the server's.
    pyca(MAKE_KEYS, &[path(c)]).await;
    let out = ok(&cli(
        c,
        &admin,
        &[
            "keys",
            "import",
            &path(&c.join("ec.pem")),
            "--id",
            "imp1",
            "--mechanism",
            "ECDSA_Signature",
            "--tag",
            "berlin",
        ],
    )
    .await);
    assert_eq!(out, "imported EC_P256 key imp1\n");
    let j = json_of(
        &cli(
            c,
            &admin,
            &[
                "keys",
                "import",
                &path(&c.join("rsa.der")),
                "--mechanism",
                "RSA_Signature_PSS_SHA256",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(j["type"], "RSA");
    let rsa_imported = j["id"].as_str().unwrap().to_owned();
    // Their public keys are pyca's, byte for byte.
    let pem = ok(&cli(c, &admin, &["keys", "public-key", rsa_imported.as_str()]).await);
    assert_eq!(pem, std::fs::read_to_string(c.join("rsa.pub.pem")).unwrap());
    let pem = ok(&cli(c, &admin, &["keys", "public-key", "imp1"]).await);
    assert_eq!(pem, std::fs::read_to_string(c.join("ec.pub.pem")).unwrap());

    // Tag restrictions: imp1 is for Operators tagged berlin only.
    let shown = json_of(&cli(c, &admin, &["keys", "show", "imp1", "--json"]).await);
    assert_eq!(shown["tags"], serde_json::json!(["berlin"]));
    let stderr = fails(
        &cli_stdin(
            c,
            &op,
            &["keys", "sign", "imp1", "--mode", "ECDSA", "--base64"],
            &digest,
        )
        .await,
        5,
    );
    assert!(stderr.contains("HTTP 403"), "{stderr}");
    let filtered = json_of(&cli(c, &op, &["keys", "list", "--filter", "--json"]).await);
    assert!(
        !filtered
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == "imp1"),
        "{filtered}"
    );
    ok(&cli(c, &admin, &["users", "tag", OPERATOR, "berlin"]).await);
    let b64 = ok(&cli_stdin(
        c,
        &op,
        &["keys", "sign", "imp1", "--mode", "ECDSA", "--base64"],
        &digest,
    )
    .await);
    std::fs::write(&sig, B64.decode(b64.trim_end()).unwrap()).unwrap();
    let imported_pub = c.join("ec.pub.pem");
    assert_eq!(
        pyca(VERIFY, &args("ecdsa-sha256", &imported_pub, &sig))
            .await
            .trim(),
        "ok"
    );
    let out = ok(&cli(c, &admin, &["keys", "tag", "ec1", "munich"]).await);
    assert_eq!(out, "restricted key ec1 to the tag munich\n");
    let j = json_of(&cli(c, &admin, &["keys", "tag", "ec1", "munich", "--json"]).await);
    assert_eq!(j["changed"], false);
    let stderr = fails(
        &cli_stdin(
            c,
            &op,
            &["keys", "sign", "ec1", "--mode", "ECDSA", "--base64"],
            &digest,
        )
        .await,
        5,
    );
    assert!(
        stderr.contains("hint: the user op may not do this"),
        "{stderr}"
    );
    let out = ok(&cli(c, &admin, &["keys", "untag", "ec1", "munich"]).await);
    assert_eq!(out, "removed the tag munich from key ec1\n");
    fails(
        &cli(c, &admin, &["keys", "untag", "ec1", "munich"]).await,
        6,
    );

    // A CSR, checked by pyca: signature, subject, public key.
    let csr = c.join("ec1.csr");
    ok(&cli(
        c,
        &op,
        &[
            "keys",
            "csr",
            "ec1",
            "--common-name",
            "hsm.example.org",
            "--organization",
            "Example",
            "--country",
            "DE",
            "-o",
            &path(&csr),
        ],
    )
    .await);
    let checked = pyca(
        CHECK_CSR,
        &[
            path(&csr),
            "CN=hsm.example.org,O=Example,C=DE".to_owned(),
            path(&ec_pub),
        ],
    )
    .await;
    assert_eq!(checked.trim(), "ok");
    let stderr = fails(
        &cli(
            c,
            &op,
            &[
                "keys",
                "csr",
                "ec1",
                "--common-name",
                "x",
                "--country",
                "Germany",
            ],
        )
        .await,
        5,
    );
    assert!(stderr.contains("HTTP 400"), "{stderr}");

    // Certificates: pyca's, stored and read back byte for byte; a second is a conflict.
    let cert_pem = std::fs::read(c.join("ec.cert.pem")).unwrap();
    let out = ok(&cli(
        c,
        &admin,
        &["keys", "cert", "put", "imp1", &path(&c.join("ec.cert.pem"))],
    )
    .await);
    assert_eq!(out, "stored the certificate of key imp1\n");
    let got = cli(c, &op, &["keys", "cert", "get", "imp1"]).await;
    assert_eq!(got.stdout, cert_pem);
    let stderr = fails(
        &cli(
            c,
            &admin,
            &["keys", "cert", "put", "imp1", &path(&c.join("ec.cert.der"))],
        )
        .await,
        7,
    );
    assert!(stderr.contains("HTTP 409"), "{stderr}");
    ok(&cli(c, &admin, &["keys", "cert", "delete", "imp1"]).await);
    fails(&cli(c, &op, &["keys", "cert", "get", "imp1"]).await, 6);
    // A certificate of another key is refused (the server checks it is the key's own).
    fails(
        &cli(
            c,
            &admin,
            &["keys", "cert", "put", "ec1", &path(&c.join("ec.cert.der"))],
        )
        .await,
        5,
    );
    ok(&cli(
        c,
        &admin,
        &["keys", "cert", "put", "imp1", &path(&c.join("ec.cert.der"))],
    )
    .await);
    let got = json_of(&cli(c, &op, &["keys", "cert", "get", "imp1", "--json"]).await);
    assert_eq!(
        B64.decode(got["certificate"].as_str().unwrap()).unwrap(),
        std::fs::read(c.join("ec.cert.der")).unwrap()
    );

    // Labels: set, set again (unchanged), remove.
    let out = ok(&cli(c, &admin, &["keys", "label", "ed1", "code signing"]).await);
    assert_eq!(out, "labelled ed1 code signing\n");
    let out = ok(&cli(c, &admin, &["keys", "label", "ed1", "code signing"]).await);
    assert_eq!(out, "ed1 has the label code signing already\n");
    let j = json_of(&cli(c, &admin, &["keys", "show", "ed1", "--json"]).await);
    assert_eq!(j["label"], "code signing");
    ok(&cli(c, &admin, &["keys", "label", "ed1", "--remove"]).await);
    let j = json_of(&cli(c, &admin, &["keys", "show", "ed1", "--json"]).await);
    assert_eq!(j["label"], "");
    fails(
        &cli(c, &admin, &["keys", "label", "ed1", &"x".repeat(33)]).await,
        5,
    );

    // Move: the old id is gone, the key signs under the new one; a taken id is a conflict.
    let j = json_of(&cli(c, &admin, &["keys", "move", "ec1", "ec2", "--json"]).await);
    assert_eq!(j, serde_json::json!({"id": "ec2", "from": "ec1"}));
    fails(&cli(c, &op, &["keys", "show", "ec1"]).await, 6);
    let b64 = ok(&cli_stdin(
        c,
        &op,
        &["keys", "sign", "ec2", "--mode", "ECDSA", "--base64"],
        &digest,
    )
    .await);
    std::fs::write(&sig, B64.decode(b64.trim_end()).unwrap()).unwrap();
    assert_eq!(
        pyca(VERIFY, &args("ecdsa-sha256", &ec_pub, &sig))
            .await
            .trim(),
        "ok"
    );
    fails(&cli(c, &admin, &["keys", "move", "ec2", "imp1"]).await, 7);

    // Delete.
    let out = ok(&cli(c, &admin, &["keys", "delete", "ec2"]).await);
    assert_eq!(out, "deleted key ec2\n");
    fails(&cli(c, &admin, &["keys", "delete", "ec2"]).await, 6);
}

#[tokio::test]
async fn key_failures_have_their_exit_codes_and_reasons() {
    let s = Server::start();
    s.provision().await;
    s.create_user(Some(OPERATOR), "Operator", OPERATOR_PASS)
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path();
    let admin = as_user(&s, "admin", ADMIN);
    let op = as_user(&s, OPERATOR, OPERATOR_PASS);
    let gen_ec = |id: &'static str| {
        [
            "keys",
            "generate",
            id,
            "--type",
            "EC_P256",
            "--mechanism",
            "ECDSA_Signature",
        ]
    };
    ok(&cli(c, &admin, &gen_ec("k1")).await);

    // Wrong role: an Operator may not generate, an Administrator may not sign.
    let stderr = fails(&cli(c, &op, &gen_ec("k2")).await, 5);
    assert!(
        stderr.contains("generating the key failed:") && stderr.contains("HTTP 403"),
        "{stderr}"
    );
    let stderr = fails(
        &cli_stdin(
            c,
            &admin,
            &["keys", "sign", "k1", "--mode", "ECDSA", "--base64"],
            &[0; 32],
        )
        .await,
        5,
    );
    assert!(
        stderr.contains("hint: the user admin may not do this"),
        "{stderr}"
    );
    // A taken id; a key that does not exist.
    let stderr = fails(&cli(c, &admin, &gen_ec("k1")).await, 7);
    assert!(stderr.contains("HTTP 409"), "{stderr}");
    let stderr = fails(&cli(c, &op, &["keys", "show", "nope"]).await, 6);
    assert!(
        stderr.contains("reading the key nope failed:") && stderr.contains("HTTP 404"),
        "{stderr}"
    );
    fails(
        &cli_stdin(
            c,
            &op,
            &["keys", "sign", "nope", "--mode", "ECDSA"],
            &[0; 32],
        )
        .await,
        6,
    );
    // Bad input: a mode the key was not made for, a digest of the wrong length, a mechanism
    // that does not fit the type.
    let stderr = fails(
        &cli_stdin(
            c,
            &op,
            &["keys", "sign", "k1", "--mode", "EdDSA", "--base64"],
            b"m",
        )
        .await,
        5,
    );
    assert!(stderr.contains("HTTP 400"), "{stderr}");
    fails(
        &cli_stdin(
            c,
            &op,
            &["keys", "sign", "k1", "--mode", "ECDSA", "--base64"],
            &[0; 5],
        )
        .await,
        5,
    );
    fails(
        &cli(
            c,
            &admin,
            &[
                "keys",
                "generate",
                "--type",
                "EC_P256",
                "--mechanism",
                "EdDSA_Signature",
            ],
        )
        .await,
        5,
    );
    // Usage: an unknown type or mode, no mechanism, empty input.
    let out = cli(
        c,
        &admin,
        &[
            "keys",
            "generate",
            "--type",
            "DSA",
            "--mechanism",
            "ECDSA_Signature",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let out = cli(c, &admin, &["keys", "generate", "--type", "EC_P256"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = cli(c, &op, &["keys", "sign", "k1", "--mode", "SHA1"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = fails(
        &cli_stdin(c, &op, &["keys", "sign", "k1", "--mode", "ECDSA"], b"").await,
        2,
    );
    assert!(stderr.contains("the input is empty"), "{stderr}");
    // A key file that is not a key is refused before anything is sent; an input file that
    // does not exist too.
    let junk = c.join("junk.der");
    std::fs::write(&junk, b"not a key at all").unwrap();
    let stderr = fails(
        &cli(
            c,
            &admin,
            &[
                "keys",
                "import",
                &path(&junk),
                "--mechanism",
                "ECDSA_Signature",
            ],
        )
        .await,
        1,
    );
    assert!(
        stderr.contains("neither PEM nor a DER private key"),
        "{stderr}"
    );
    let stderr = fails(
        &cli(
            c,
            &op,
            &[
                "keys",
                "sign",
                "k1",
                "--mode",
                "ECDSA",
                "--in",
                &path(&c.join("missing")),
            ],
        )
        .await,
        1,
    );
    assert!(stderr.contains("reading the input"), "{stderr}");
    // A PEM the server cannot use (a public key) is its 400, with its message.
    let pub_pem = c.join("pub.pem");
    std::fs::write(
        &pub_pem,
        ok(&cli(c, &op, &["keys", "public-key", "k1"]).await),
    )
    .unwrap();
    let stderr = fails(
        &cli(
            c,
            &admin,
            &[
                "keys",
                "import",
                &path(&pub_pem),
                "--mechanism",
                "ECDSA_Signature",
            ],
        )
        .await,
        5,
    );
    assert!(stderr.contains("importing the key failed:"), "{stderr}");
    // On a terminal: raw bytes are not written to it, and it is not read as the input.
    let digest_file = c.join("digest");
    std::fs::write(&digest_file, [0u8; 32]).unwrap();
    let (code, screen) = typed(
        c,
        &op,
        &[
            "keys",
            "sign",
            "k1",
            "--mode",
            "ECDSA",
            "--in",
            &path(&digest_file),
        ],
        &[],
    );
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("refusing to write raw bytes to a terminal"),
        "{screen}"
    );
    let (code, screen) = typed(
        c,
        &op,
        &["keys", "sign", "k1", "--mode", "ECDSA", "--base64"],
        &[],
    );
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("no input: stdin is a terminal"), "{screen}");
    let (code, screen) = typed(
        c,
        &op,
        &[
            "keys",
            "sign",
            "k1",
            "--mode",
            "ECDSA",
            "--base64",
            "--in",
            &path(&digest_file),
        ],
        &[],
    );
    assert_eq!(code, 0, "{screen}");

    // Wrong password: authentication (4); Locked: refused by state (5).
    let wrong = as_user(&s, OPERATOR, "not the operator passphrase");
    fails(&cli(c, &wrong, &["keys", "list"]).await, 4);
    s.lock().await;
    let stderr = fails(&cli(c, &admin, &["keys", "list"]).await, 5);
    assert!(stderr.contains("strongroom state"), "{stderr}");
}
