//! The test harness: starts the real binary, reads the address and certificate fingerprint
//! it prints, and gives a client that pins that certificate.

#![allow(dead_code)]

pub mod cli;
mod docs;
mod errors;
pub mod keys;
pub mod openapi_run;
pub mod python;
pub mod raw;
pub mod schemathesis;
pub mod specs;

pub use docs::*;
pub use errors::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

pub const UNLOCK: &str = "unlock passphrase for tests";
pub const ADMIN: &str = "admin passphrase for tests";
pub const TIME: &str = "2026-11-23T12:00:00Z";

/// Where each face is mounted, after the server's base URL.
pub const NETHSM: &str = "/api/v1";
pub const OWN_API: &str = "/api/strongroom/v1";
pub const APPLIANCE: &str = "/api/rest/configure/v1";
pub const BACKUP_CLIENT: &str = "/commandcenter/api";

/// A running server and the data directory it owns.
pub struct Server {
    child: Option<Child>,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    pub fingerprint: String,
    pub client: Client,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    /// Everything the server wrote to stdout (the address and fingerprint lines the harness
    /// reads, and anything after them), appended across restarts.
    pub stdout_path: PathBuf,
    /// How far ahead the server's clocks run, in milliseconds ([`Server::advance_clock`]).
    clock_path: PathBuf,
    extra_args: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh temporary data directory.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        let log_path = tmp.path().join("server.log");
        let stdout_path = tmp.path().join("server.stdout");
        let clock_path = tmp.path().join("clock-ahead-ms");
        let mut s = Server {
            child: None,
            base: String::new(),
            fingerprint: String::new(),
            client: Client::new(),
            data_dir,
            log_path,
            stdout_path,
            clock_path,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            _tmp: Some(tmp),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(&self.extra_args)
            .env("STRONGROOM_LOG", "debug")
            .env(
                strongroom_server::test_clock::CLOCK_FILE_VAR,
                &self.clock_path,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn strongroom");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut next_line = || match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!(
                "server exited before printing its address; log:\n{}",
                std::fs::read_to_string(&self.log_path).unwrap_or_default()
            ),
        };
        let listen = next_line();
        let base = listen
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {listen:?}"))
            .to_owned();
        let fp_line = next_line();
        let fingerprint = fp_line
            .strip_prefix("certificate SHA-256 fingerprint ")
            .unwrap_or_else(|| panic!("unexpected second line {fp_line:?}"))
            .to_owned();
        // The rest of stdout is kept too (and read, so the server never blocks on a full pipe).
        let mut kept = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stdout_path)
            .expect("stdout file");
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = writeln!(kept, "{listen}\n{fp_line}");
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(kept, "{line}");
            }
        });
        self.client = pinned_client(&fingerprint);
        self.base = base;
        self.fingerprint = fingerprint;
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// A request to Strongroom's own API (`/api/strongroom/v1`).
    pub fn own(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{OWN_API}{path}", self.base))
    }

    /// A NetHSM-face request as the root Administrator.
    pub fn as_admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).basic_auth("admin", Some(ADMIN))
    }

    /// A request to Strongroom's own API as the root Administrator.
    pub fn own_as_admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.own(method, path).basic_auth("admin", Some(ADMIN))
    }

    /// A request to the appliance face (`/api/rest/configure/v1`).
    pub fn appliance(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{APPLIANCE}{path}", self.base))
    }

    /// Logs the root `admin` in on the appliance face; returns the session id.
    pub async fn admin_session(&self) -> String {
        let r = self
            .appliance(Method::POST, "/session")
            .basic_auth("admin", Some(ADMIN))
            .answer()
            .await;
        assert_eq!(r.status(), 200, "appliance login");
        r.json::<serde_json::Value>().await.unwrap()["session_id"]
            .as_str()
            .expect("a session_id")
            .to_owned()
    }

    /// A request to the appliance face with the session `sid`.
    pub fn dr(&self, sid: &str, method: Method, path: &str) -> RequestBuilder {
        self.appliance(method, path).header("x-dr-session", sid)
    }

    /// A request to the backup-client face (`/commandcenter/api`); `path` without its `/`.
    pub fn backup_client(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{BACKUP_CLIENT}/{path}", self.base))
    }

    /// `GET path` of the NetHSM face as the root Administrator; asserts 200, returns the JSON.
    pub async fn admin_json(&self, path: &str) -> Value {
        let r = self.as_admin(Method::GET, path).answer().await;
        assert_eq!(r.status(), 200, "GET {path}: {}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// `POST /lock` as the root Administrator; asserts 204.
    pub async fn lock(&self) {
        let r = self.as_admin(Method::POST, "/lock").answer().await;
        assert_eq!(r.status(), 204, "lock: {}", r.text().await.unwrap());
    }

    /// A client whose connections come from another loopback address, so per-address rate
    /// limits see a different client.
    pub fn client_from(&self, local: std::net::IpAddr) -> Client {
        pinned_client_from(&self.fingerprint, Some(local))
    }

    /// Creates a user as the root admin; returns its id.
    pub async fn create_user(&self, id: Option<&str>, role: &str, passphrase: &str) -> String {
        let body =
            json!({"realName": format!("{role} user"), "role": role, "passphrase": passphrase});
        let r = match id {
            Some(id) => self.put(&format!("/users/{id}")),
            None => self.post("/users"),
        }
        .basic_auth("admin", Some(ADMIN))
        .json(&body)
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 201, "create user: {}", r.text().await.unwrap());
        let created: Value = r.json().await.unwrap();
        created["id"].as_str().unwrap().to_owned()
    }

    pub async fn state(&self) -> String {
        let body: Value = self
            .get("/health/state")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["state"].as_str().unwrap().to_owned()
    }

    pub async fn provision(&self) {
        let r = self
            .post("/provision")
            .json(
                &json!({"unlockPassphrase": UNLOCK, "adminPassphrase": ADMIN, "systemTime": TIME}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "provision: {}", r.text().await.unwrap());
    }

    pub async fn unlock(&self, passphrase: &str) -> Response {
        self.post("/unlock")
            .json(&json!({"passphrase": passphrase}))
            .send()
            .await
            .unwrap()
    }

    /// Sets the backup passphrase as the root admin (`current` is "" the first time).
    pub async fn set_backup_passphrase(&self, new: &str, current: &str) {
        let r = self
            .put("/config/backup-passphrase")
            .basic_auth("admin", Some(ADMIN))
            .json(&json!({"newPassphrase": new, "currentPassphrase": current}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            204,
            "set backup passphrase: {}",
            r.text().await.unwrap()
        );
    }

    /// Takes a backup as the given Backup user.
    pub async fn backup(&self, user: &str, passphrase: &str) -> Vec<u8> {
        let r = self
            .post("/system/backup")
            .basic_auth(user, Some(passphrase))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        r.bytes().await.unwrap().to_vec()
    }

    /// `POST /system/restore` as the NetHSM clients send it; `auth` is (user, passphrase).
    pub async fn restore(
        &self,
        file: Vec<u8>,
        passphrase: &str,
        auth: Option<(&str, &str)>,
    ) -> Response {
        let arguments = json!({"backupPassphrase": passphrase, "systemTime": TIME}).to_string();
        let form = reqwest::multipart::Form::new()
            .part(
                "arguments",
                reqwest::multipart::Part::text(arguments)
                    .mime_str("application/json")
                    .unwrap(),
            )
            .part(
                "backup_file",
                reqwest::multipart::Part::bytes(file)
                    .mime_str("application/octet-stream")
                    .unwrap(),
            );
        let mut req = self.post("/system/restore").multipart(form);
        if let Some((user, pass)) = auth {
            req = req.basic_auth(user, Some(pass));
        }
        req.send().await.unwrap()
    }

    /// Sends SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server is running");
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the server to exit by itself (after `POST /system/shutdown`).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop by itself");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM) and starts it again on the same data directory.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            assert!(self.terminate().success());
        }
        self.spawn();
    }

    /// Replaces the extra command-line arguments the server is started with from now on.
    pub fn set_args(&mut self, extra_args: &[&str]) {
        self.extra_args = extra_args.iter().map(|s| s.to_string()).collect();
    }

    /// Starts the server again after [`Server::kill`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Moves the server's clocks (sessions, tokens, failure limits, passkey back-off and
    /// windows, the appliance's time) forward by `by`, at once, as waiting would; across
    /// restarts too. Written whole (rename), so the server never reads half a number.
    pub fn advance_clock(&self, by: Duration) {
        let ahead: u64 = match std::fs::read_to_string(&self.clock_path) {
            Ok(text) => text
                .trim()
                .parse()
                .expect("the clock file holds milliseconds"),
            Err(_) => 0,
        };
        let next = self.clock_path.with_extension("next");
        std::fs::write(&next, (ahead + by.as_millis() as u64).to_string()).unwrap();
        std::fs::rename(&next, &self.clock_path).unwrap();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every byte of every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A client that trusts exactly the certificate with this SHA-256 fingerprint, as an operator
/// pinning the fingerprint the server printed would.
pub fn pinned_client(fingerprint: &str) -> Client {
    pinned_client_from(fingerprint, None)
}

fn pinned_client_from(fingerprint: &str, local: Option<std::net::IpAddr>) -> Client {
    strongroom_client::pin::client_builder(fingerprint)
        .expect("the fingerprint the server printed")
        .local_address(local)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Sends a request that must get an HTTP answer (any status): a failure to get one is the
/// test's failure, not a case to handle.
pub trait Answer {
    fn answer(self) -> impl std::future::Future<Output = Response> + Send;
}

impl Answer for RequestBuilder {
    async fn answer(self) -> Response {
        self.send().await.expect("an HTTP answer")
    }
}

/// The first 1000 events of the audit trail, as the root Administrator reads them.
pub async fn audit_events(s: &Server) -> Vec<Value> {
    let page: Value = s
        .own(Method::GET, "/audit?limit=1000")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["events"].as_array().unwrap().clone()
}

/// `GET /audit/verify` as the root Administrator; asserts 200.
pub async fn audit_verify(s: &Server) -> Value {
    let r = s
        .own(Method::GET, "/audit/verify")
        .basic_auth("admin", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Moves the server's clock past the one-second window in which, after a failed attempt, the
/// same attempt is refused with 429.
pub async fn after_rate_limit_window(s: &Server) {
    s.advance_clock(Duration::from_millis(1100));
}
