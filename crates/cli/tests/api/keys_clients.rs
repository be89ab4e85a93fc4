//! `/keys` (issue 13) through real clients: the NetHSM Python SDK (`nethsm`) and
//! `nitropy nethsm` (`pynitrokey`), both from PyPI and pinned in `tests/requirements.txt`,
//! driven by `tests/interop/nethsm_keys.py` and `tests/interop/nitropy_client.py`. Every
//! signature, certificate, CSR and ciphertext they get back is checked there by
//! pyca/cryptography, never by our own code. Both clients verify TLS against the server's
//! certificate, checked against the fingerprint the server printed (`pinned_tls.py`).
//!
//! A script exits 3 ("MISSING") when the server answers that a route, key type, mechanism
//! or request media type does not exist; such a test fails saying so, apart from a wrong
//! answer.

use std::path::Path;
use std::time::Duration;

use crate::common::python::{self, test_python, workspace_root};
use crate::common::*;

/// `nitropy nethsm test` generates this many RSA-2048 keys: its own default. With aws-lc
/// optimised even in debug builds (Cargo.toml) a key costs the server about 0.08 s.
const NITROPY_TEST_KEYS: u32 = 1000;

/// Generous: `nitropy nethsm test` makes 1000 RSA keys, on a machine that runs other tests too.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(900);

fn host(server: &Server) -> &str {
    server
        .base
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("base {:?} is not https://", server.base))
}

/// Runs `script` on a fresh (Unprovisioned) server with `args` after the host and pinned
/// fingerprint; panics with the script's and server's output unless it printed `done`.
async fn drive(s: &Server, module: &str, script: &str, args: &[&str]) -> String {
    let python = test_python(module);
    let script = workspace_root().join("tests/interop").join(script);
    let mut all = vec![
        script.to_string_lossy().into_owned(),
        "--host".into(),
        host(s).into(),
        "--fingerprint".into(),
        s.fingerprint.clone(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let run = python::run(&python, &all, None, SCRIPT_TIMEOUT).await;
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    if run.status.and_then(|s| s.code()) == Some(3) {
        panic!(
            "{}: MISSING: the server answered that it lacks a route, key type, mechanism or \
             media type this test drives\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            script.display()
        );
    }
    if !run.passed() {
        panic!(
            "{} {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- server log ---\n{}",
            script.display(),
            run.outcome(),
            s.log()
        );
    }
    print!("{stdout}");
    assert!(
        stdout.lines().any(|l| l.ends_with("] all checks passed")),
        "the script succeeded without its final line:\n{stdout}\n{stderr}"
    );
    stdout.clone()
}

async fn sdk(part: &str) -> String {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    drive(&s, "nethsm", "nethsm_keys.py", &["--ca-file", ca, part]).await
}

async fn nitropy_on(s: &Server, work: &Path, args: &[&str]) -> String {
    let mut all = vec!["--work-dir", work.to_str().unwrap()];
    all.extend_from_slice(args);
    drive(s, "pynitrokey", "nitropy_client.py", &all).await
}

async fn nitropy(part: &str) -> String {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    nitropy_on(&s, dir.path(), &[part]).await
}

/// The SDK's key workflows on what the server has: generate (RSA, EC P-256, Ed25519), import
/// pyca's keys (PUT and POST), list with filter, prefix and label, get and public.pem, tag
/// restrictions, labels, certificates, sign in every mode, move, delete; and the errors with
/// their status codes. The SDK refuses the server without the pinned certificate.
#[tokio::test]
async fn nethsm_sdk_key_workflows() {
    sdk("keys").await;
}

/// RSA decryption (RAW, PKCS1, OAEP_MD5..SHA512) of pyca's ciphertexts, generated and
/// imported keys. Waits for the crypt part of issue 13.
#[tokio::test]
async fn nethsm_sdk_rsa_decrypt() {
    sdk("decrypt").await;
}

/// AES-CBC encrypt and decrypt with Generic keys: an imported key checked against pyca both
/// ways, generated AES-128/192/256 keys round-trip. Waits for the crypt part of issue 13.
#[tokio::test]
async fn nethsm_sdk_aes_cbc() {
    sdk("aes").await;
}

/// `csr.pem` for RSA, EC P-256 and Ed25519 keys, as Administrator and Operator: pyca checks
/// the CSR's signature, key and subject. Waits for the csr part of issue 13.
#[tokio::test]
async fn nethsm_sdk_key_csr() {
    sdk("csr").await;
}

/// `nitropy nethsm test` passes: provision, an Operator, [`NITROPY_TEST_KEYS`] RSA-2048 keys
/// (with `RSA_Decryption_RAW`: waits for the crypt part of issue 13), the key list, random
/// data, factory reset; the server is Unprovisioned after it. Prints how long each step took.
#[tokio::test]
async fn nitropy_nethsm_test_command() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let count = NITROPY_TEST_KEYS.to_string();
    let out = nitropy_on(&s, dir.path(), &["--key-generations", &count, "test"]).await;
    assert!(
        out.contains(&format!("Generated {count} RSA2048 keys.")),
        "{out}"
    );
    assert_eq!(s.state().await, "Unprovisioned");
}

/// nitropy's key commands on what the server has: generate-key, add-key, list-keys (details,
/// filter, prefix, label), get-key (and --public-key), sign (pyca verifies), key tags, key
/// labels, set/get/delete-certificate, move-key, delete-key; and their failures. nitropy
/// refuses the server without `--ca-certs`.
#[tokio::test]
async fn nitropy_key_commands() {
    nitropy("keys").await;
}

/// import-key (PEM files) and import-pkcs12: multipart import. Waits for the csr part of
/// issue 13 (multipart import).
#[tokio::test]
async fn nitropy_import_key_and_pkcs12() {
    nitropy("import").await;
}

/// csr --key-id: pyca checks signature, key, subject and SAN. Waits for the csr part.
#[tokio::test]
async fn nitropy_key_csr() {
    nitropy("csr").await;
}

/// encrypt and decrypt: AES-CBC (checked by pyca) and RSA PKCS1/OAEP. Waits for the crypt
/// part of issue 13.
#[tokio::test]
async fn nitropy_encrypt_decrypt() {
    nitropy("crypt").await;
}
