//! `strongroom-bench`: load figures for the release `strongroom` server over real HTTPS.
//!
//! Build the server first, then run the bench from the workspace root:
//!
//! ```sh
//! cargo build --release -p strongroom
//! cargo run --release -p strongroom-bench -- [--server-bin PATH] [--duration-secs N] \
//!     [--concurrency N] [--skip-backup | --backup-users N,N,...]
//! ```
//!
//! It starts `strongroom serve` on a temporary data directory, listening on 127.0.0.1 with a
//! free port, pins the certificate fingerprint the server prints, provisions it, creates an
//! Operator, locks it, and then runs one phase after another:
//!
//! - A (Locked): `GET /api/v1/health/alive`, unauthenticated;
//! - B (Operational, after unlocking): `GET /api/v1/users/{id}` with the Operator's Basic auth;
//! - N, H and R (Operational), interleaved (`nginx.rs`): nginx beside the server serving a
//!   static 23-byte JSON over TLS (skipped, with a message, where nginx is not installed),
//!   the server's `GET /api/v1/health/state`, and `POST /api/v1/random` of 32 bytes; with
//!   the ratios H/N and R/H and the server's peak memory under that load;
//! - C and D (Operational): `POST /api/v1/random` of 32 and of 1024 bytes, same auth;
//! - E (Operational): `POST /commandcenter/api/Login` with an XML entity bomb, refused (400).
//!
//! Each phase has `--concurrency` tasks send requests back to back for a 1-second warm-up (not
//! counted) and then `--duration-secs`. The report, printed on stdout, gives per phase the
//! successful requests, the errors, req/s and latency percentiles, then the ratios of phases
//! B, C and D to phase A's req/s. After the key section (if it runs), one table of every
//! phase with its ratio to its baseline (`table.rs`).
//!
//! Then, unless `--skip-keys`, the key store section (`keys.rs`) on the same server: key
//! generation (RSA-2048, P-256) and signing (Ed25519, ECDSA P-256, RSA-2048 PKCS1 and
//! PSS_SHA256) over HTTPS, with one cached key and over more keys than the server's parsed-key
//! cache holds; then the raw in-process aws-lc rates of the same signatures, and the ratios
//! of the HTTPS rates to `POST /random` and to the raw rates.
//!
//! With `--soak-secs N`, a soak on the same server (`soak.rs`): N seconds of a mixed load over
//! the three faces and the key operations, with every operation's figures, the mix's req/s and
//! p99, and the server's peak memory; any failed request fails the bench.
//!
//! Then, unless `--skip-backup`, the backup/restore section (`backup.rs`): for each
//! `--backup-users` size, a fresh server filled with that many users is backed up, the file
//! restored on a second fresh server, and the times, file size and server memory reported,
//! with a table of how they grow from the first size to the last.
//!
//! With `--cluster`, only the cluster section runs (`cluster.rs`): reads and writes on a single
//! redb node and on three nodes on three etcd members, with the ratio of each.
//!
//! Progress goes to stderr. Servers are killed when the bench ends, fails, panics or is
//! interrupted. See `docs/benchmarks.md`.

mod backup;
mod cluster;
mod keys;
mod memory;
mod nginx;
mod phase;
mod server;
mod soak;
mod table;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::phase::{Load, Phase, Report};
use crate::server::Server;

const UNLOCK_PASSPHRASE: &str = "strongroom bench unlock passphrase";
const ADMIN_PASSPHRASE: &str = "strongroom bench admin passphrase";
const OPERATOR_PASSPHRASE: &str = "strongroom bench operator passphrase";
const SYSTEM_TIME: &str = "2026-01-01T00:00:00Z";
const WARMUP: Duration = Duration::from_secs(1);
/// The largest `POST /random` length the API allows.
const MAX_RANDOM: u64 = 1024;
/// The backup-client face's login, which reads an XML body before any credentials.
const LOGIN_PATH: &str = "/commandcenter/api/Login";
/// "Billion laughs": a few hundred bytes that a parser expanding entities would grow to
/// gigabytes. The server must refuse it for its DTD, at once.
const XML_BOMB: &str = concat!(
    r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">"#,
    r#"<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#,
    r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">"#,
    r#"<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">"#,
    r#"<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">"#,
    r#"<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">"#,
    r#"<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">"#,
    r#"<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">"#,
    r#"<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>"#,
    r#"<DM2ContentIndexing_CheckCredentialReq username="&lol9;" password="&lol9;"/>"#,
);

/// Load figures for the release `strongroom` server (127.0.0.1 only).
#[derive(Parser, Debug)]
#[command(name = "strongroom-bench", version)]
struct Args {
    /// The server binary [default: target/release/strongroom in this workspace].
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Measured seconds per phase (after a 1-second warm-up that is not counted).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration_secs: u64,
    /// Concurrent tasks, each with one request in flight at a time.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    concurrency: u64,
    /// Run the request phases only, not the backup/restore section.
    #[arg(long)]
    skip_backup: bool,
    /// Leave out the key store section (key generation, signing, raw aws-lc rates).
    #[arg(long)]
    skip_keys: bool,
    /// Leave out phase N (nginx beside the server, the reference of phase H).
    #[arg(long)]
    skip_nginx: bool,
    /// Numbers of Operator users for the backup/restore section, comma-separated; each gets
    /// its own fresh servers.
    #[arg(
        long,
        value_name = "N,N,...",
        value_delimiter = ',',
        default_value = "1000,10000",
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
        conflicts_with = "skip_backup"
    )]
    backup_users: Vec<u64>,
    /// After the request phases (and the key section), a soak of this many seconds: a mixed
    /// load over every face and the key operations, failing on any error (`soak.rs`).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    soak_secs: u64,
    /// Run the cluster section alone (`cluster.rs`): reads and writes on a single redb node
    /// and on three nodes on three etcd members; needs a server built with `--features etcd`
    /// and Debian's etcd.
    #[arg(long)]
    cluster: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("strongroom-bench: error: starting the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strongroom-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // One process-wide crypto provider, so rustls never has to guess; the client names its
    // provider explicitly anyway. An error only means one is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let binary = args
        .server_bin
        .clone()
        .unwrap_or_else(server::default_binary);
    if !binary.is_file() {
        bail!(
            "server binary not found at {}\n\
             build it first with `cargo build --release -p strongroom` \
             (or pass --server-bin PATH)",
            binary.display()
        );
    }
    let binary = binary.canonicalize().unwrap_or(binary);

    // Ctrl-C drops the bench future, and with it the server guard, which kills the server.
    tokio::select! {
        result = bench(&args, binary) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

async fn bench(args: &Args, binary: PathBuf) -> anyhow::Result<()> {
    let load = Load {
        concurrency: usize::try_from(args.concurrency)?,
        warmup: WARMUP,
        duration: Duration::from_secs(args.duration_secs),
        server_pid: None,
    };
    let version = binary_version(&binary).await;
    if args.cluster {
        println!("server       {version}");
        return cluster::run(&binary, load).await;
    }

    progress(format!("starting {}", binary.display()));
    let server = Server::start(&binary).await?;
    let load = Load {
        server_pid: Some(server.pid()),
        ..load
    };
    let client = tls::pinned_client(&server.fingerprint, load.concurrency)?;
    progress(format!(
        "server at {} (certificate {})",
        server.base, server.fingerprint
    ));
    let api = Api {
        client: &client,
        server: &server,
    };
    let info = api.info().await?;

    // Set-up: provision, create the Operator, lock.
    api.provision().await?;
    progress("creating the Operator user");
    let created = api
        .expect(
            api.post("/users")
                .basic_auth("admin", Some(ADMIN_PASSPHRASE))
                .json(&json!({
                    "realName": "Bench Operator",
                    "role": "Operator",
                    "passphrase": OPERATOR_PASSPHRASE,
                })),
            StatusCode::CREATED,
            "POST /users (create the Operator)",
        )
        .await?;
    let operator_id = serde_json::from_slice::<Value>(&created)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .with_context(|| {
            format!(
                "POST /users: no \"id\" in the response body {:?}",
                String::from_utf8_lossy(&created)
            )
        })?;
    progress("locking");
    api.expect(
        api.post("/lock")
            .basic_auth("admin", Some(ADMIN_PASSPHRASE)),
        StatusCode::NO_CONTENT,
        "POST /lock",
    )
    .await?;
    api.expect_state("Locked").await?;

    let mut reports = Vec::new();

    // Phase A: the node is Locked; the cheapest request there is.
    let alive = server.url("/health/alive");
    let phase_a = Phase::new(
        "A (Locked)",
        "GET /api/v1/health/alive, unauthenticated",
        StatusCode::OK,
        move |c: &Client| c.get(&alive),
    );
    reports.push(run_phase(&client, &phase_a, load).await?);

    progress("unlocking");
    api.unlock("POST /unlock").await?;

    // Phase B: Operational; every request authenticates the Operator (Basic auth).
    let user = server.url(&format!("/users/{operator_id}"));
    let user_id = operator_id.clone();
    let phase_b = Phase::new(
        "B (Operational)",
        format!("GET /api/v1/users/{operator_id}, Basic auth as that Operator"),
        StatusCode::OK,
        move |c: &Client| c.get(&user).basic_auth(&user_id, Some(OPERATOR_PASSPHRASE)),
    );
    reports.push(run_phase(&client, &phase_b, load).await?);

    // Phases N, H and R: nginx's static 23-byte JSON over TLS (if installed), the server's
    // `GET /health/state` (the same 23 bytes) and `POST /random` (32 bytes, Basic auth),
    // interleaved so that the ratios the request path is held to (H/N, R/H) share the
    // machine's moods; and the server's peak memory under that load.
    let reference = nginx::run_phases(
        &server,
        &client,
        load,
        &operator_id,
        args.skip_nginx,
        &mut reports,
    )
    .await?;

    // Phases C and D: Operational; `POST /random` as the Operator, small and largest size.
    let mut random_phases = Vec::new();
    for (name, length) in [("C (Operational)", 32), ("D (Operational)", MAX_RANDOM)] {
        api.check_random(&operator_id, length).await?;
        let url = server.url("/random");
        let id = operator_id.clone();
        let phase = Phase::new(
            name,
            format!("POST /api/v1/random {{\"length\": {length}}}, Basic auth as the Operator"),
            StatusCode::OK,
            move |c: &Client| {
                c.post(&url)
                    .basic_auth(&id, Some(OPERATOR_PASSPHRASE))
                    .json(&json!({ "length": length }))
            },
        );
        reports.push(run_phase(&client, &phase, load).await?);
        random_phases.push((length, phase.name));
    }

    // Phase E: Operational; hostile input refused before any authentication. The API tests
    // check that the bomb is refused for its DTD; how fast, under load, is measured here.
    api.check_xml_bomb().await?;
    let login = format!("{}{LOGIN_PATH}", server.base);
    let phase_e = Phase::new(
        "E (Operational)",
        format!("POST {LOGIN_PATH} with an XML entity bomb (application/xml), refused: 400"),
        StatusCode::BAD_REQUEST,
        move |c: &Client| {
            c.post(&login)
                .header(reqwest::header::CONTENT_TYPE, "application/xml")
                .body(XML_BOMB)
        },
    );
    reports.push(run_phase(&client, &phase_e, load).await?);

    // More phases go here: build a `Phase`, push `run_phase(...)`'s report, and add a line
    // to `ratios` if a comparison is wanted.

    let before_keys = reports.len();
    let key_figures = if args.skip_keys {
        None
    } else {
        let random_32 = &random_phases[0].1;
        Some(keys::run(&api, &client, load, &operator_id, random_32, &mut reports).await?)
    };

    let soak = if args.soak_secs > 0 {
        let duration = Duration::from_secs(args.soak_secs);
        Some(soak::run(&api, &client, load, &operator_id, duration).await?)
    } else {
        None
    };

    let random_labels: Vec<String> = random_phases
        .iter()
        .map(|(length, _)| format!("random({length})/alive"))
        .collect();
    let mut ratios = vec![Ratio {
        label: "authenticated/unauthenticated",
        over: &phase_b.name,
        under: &phase_a.name,
    }];
    for ((_, name), label) in random_phases.iter().zip(&random_labels) {
        ratios.push(Ratio {
            label,
            over: name,
            under: &phase_a.name,
        });
    }
    ratios.push(Ratio {
        label: "refused xml bomb/alive",
        over: &phase_e.name,
        under: &phase_a.name,
    });
    print_report(&version, &info, &server, load, &reports, &ratios);
    nginx::print(&reference, &reports);
    if let Some(figures) = &key_figures {
        keys::print(figures, &reports);
    }
    table::print(
        &reports,
        &baselines(
            &reports,
            before_keys,
            &phase_a.name,
            &reference,
            &random_phases[0].1,
        ),
    );
    if let Some(soak) = &soak {
        soak::print(soak)?;
    }
    // The request phases' server is done; the backup section starts its own.
    drop(client);
    drop(server);

    let mut sizes = Vec::new();
    if !args.skip_backup {
        for &users in &args.backup_users {
            // Printed as soon as it is known, so a failure in a later size does not lose it.
            let size = backup::run_size(&binary, users).await?;
            println!();
            println!("{size}");
            sizes.push(size);
        }
        println!();
        backup::print_growth(&sizes);
    }

    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.ok == 0)
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "no successful request in phase {}; see its first error above",
            failed.join(", ")
        );
    }
    let unchecked: Vec<String> = sizes
        .iter()
        .filter(|s| !s.check_ok())
        .map(|s| s.users.to_string())
        .collect();
    if !unchecked.is_empty() {
        bail!(
            "the restored server failed its check for {} users; see above",
            unchecked.join(", ")
        );
    }
    Ok(())
}

async fn run_phase(client: &Client, phase: &Phase, load: Load) -> anyhow::Result<Report> {
    progress(format!(
        "phase {}: {} ({} tasks, {} s warm-up + {} s)",
        phase.name,
        phase.endpoint,
        load.concurrency,
        load.warmup.as_secs(),
        load.duration.as_secs()
    ));
    let report = phase::run(client, phase, load).await?;
    progress(format!(
        "phase {}: {} ok, {} errors, {:.1} req/s",
        report.name,
        report.ok,
        report.error_count(),
        report.rate()
    ));
    Ok(report)
}

/// What each phase of the summary table is compared with: B, D and E with A (the cheapest
/// request); H with N (nginx) when N ran; C with H (the goal of the request path); the
/// signatures (from `first_key` on, but key generation) with C, the cheapest authenticated
/// request with a JSON body.
fn baselines(
    reports: &[Report],
    first_key: usize,
    alive: &str,
    reference: &nginx::Reference,
    random_32: &str,
) -> Vec<table::Baseline> {
    let mut out = Vec::new();
    for report in &reports[..first_key.min(reports.len())] {
        let name = report.name.as_str();
        if name == alive {
            continue;
        } else if name == reference.state {
            if let Ok((nginx, _)) = &reference.nginx {
                out.push(table::Baseline::new(name, nginx.as_str()));
            }
        } else if name == reference.random {
            out.push(table::Baseline::new(name, reference.state.as_str()));
        } else if !reference.nginx.as_ref().is_ok_and(|(n, _)| n == name) {
            out.push(table::Baseline::new(name, alive));
        }
    }
    for report in reports.iter().skip(first_key) {
        if !report.name.starts_with('K') {
            out.push(table::Baseline::new(report.name.as_str(), random_32));
        }
    }
    out
}

/// A line `ratio LABEL req/s: X.XX` comparing the req/s of two phases, named by `Phase::name`.
struct Ratio<'a> {
    label: &'a str,
    over: &'a str,
    under: &'a str,
}

fn print_report(
    version: &str,
    info: &str,
    server: &Server,
    load: Load,
    reports: &[Report],
    ratios: &[Ratio<'_>],
) {
    println!("strongroom-bench");
    println!("server       {version} ({info})");
    println!("listening    {}", server.base);
    println!(
        "load         {} concurrent tasks, {} s per phase after a {} s warm-up (not counted)",
        load.concurrency,
        load.duration.as_secs(),
        load.warmup.as_secs()
    );
    println!("client       reqwest, HTTP/1.1 over TLS, keep-alive, pinned certificate");
    println!("host         {} logical CPUs", host_cpus());
    for report in reports {
        println!();
        println!("{report}");
    }
    if !ratios.is_empty() {
        println!();
    }
    let rate_of = |name: &str| reports.iter().find(|r| r.name == name).map(Report::rate);
    for ratio in ratios {
        let value = match (rate_of(ratio.over), rate_of(ratio.under)) {
            (Some(over), Some(under)) if under > 0.0 => format!("{:.2}", over / under),
            _ => "n/a".to_owned(),
        };
        println!("ratio {} req/s: {value}", ratio.label);
    }
}

/// The number of bytes that standard, padded base64 `text` decodes to, or `None` if it is not
/// such base64.
fn base64_len(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    // Whole groups of 4 (not `is_multiple_of`, newer than the workspace's rust-version).
    if !bytes.chunks_exact(4).remainder().is_empty() {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &bytes[..bytes.len() - padding];
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    if padding > 2 || !body.iter().all(alphabet) {
        return None;
    }
    Some((bytes.len() / 4 * 3 - padding) as u64)
}

fn host_cpus() -> String {
    std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// `strongroom --version`, or a note saying why it is unknown.
async fn binary_version(binary: &std::path::Path) -> String {
    match tokio::process::Command::new(binary)
        .arg("--version")
        .output()
        .await
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => format!("version unknown (--version exited with {})", out.status),
        Err(e) => format!("version unknown ({e})"),
    }
}

/// The last lines of the server's log, for error messages.
fn log_tail(server: &Server) -> String {
    let log = server.log();
    let tail: Vec<&str> = log.lines().rev().take(10).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    tail.join("\n")
}

/// The set-up calls of the NetHSM API.
struct Api<'a> {
    client: &'a Client,
    server: &'a Server,
}

impl Api<'_> {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.server.url(path))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.server.url(path))
    }

    fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.server.url(path))
    }

    /// Sends `request` and returns its body if the status is `expected`; otherwise fails,
    /// naming `what`, the status, the body and the end of the server log.
    async fn expect(
        &self,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
        what: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let response = self.expect_status(request, expected, what).await?;
        let body = response.bytes().await.with_context(|| what.to_owned())?;
        Ok(body.to_vec())
    }

    /// Sends `request` and returns the response, its body not read yet, if the status is
    /// `expected`; otherwise fails as [`Api::expect`] does.
    async fn expect_status(
        &self,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
        what: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.with_context(|| what.to_owned())?;
        let status = response.status();
        if status != expected {
            let body = response.bytes().await.unwrap_or_default();
            bail!(
                "{what}: expected {expected}, got {status}: {}\n\
                 the server does not support this step yet, or refused it; \
                 last lines of the server log:\n{}",
                String::from_utf8_lossy(&body),
                log_tail(self.server)
            );
        }
        Ok(response)
    }

    /// `POST /provision` with the bench's passphrases.
    async fn provision(&self) -> anyhow::Result<()> {
        progress("provisioning");
        self.expect(
            self.post("/provision").json(&json!({
                "unlockPassphrase": UNLOCK_PASSPHRASE,
                "adminPassphrase": ADMIN_PASSPHRASE,
                "systemTime": SYSTEM_TIME,
            })),
            StatusCode::NO_CONTENT,
            "POST /provision",
        )
        .await?;
        Ok(())
    }

    /// `POST /api/rest/configure/v1/session` as the Administrator: a new appliance session's id.
    async fn appliance_session(&self) -> anyhow::Result<String> {
        let body = self
            .expect(
                self.client
                    .post(format!("{}{}/session", self.server.base, soak::APPLIANCE))
                    .basic_auth("admin", Some(ADMIN_PASSPHRASE)),
                StatusCode::OK,
                "POST /api/rest/configure/v1/session",
            )
            .await?;
        soak::json_field(&body, "session_id", "the appliance login")
    }

    /// `POST /unlock` with the bench's unlock passphrase (`what` names it in errors); the
    /// server must then be Operational.
    async fn unlock(&self, what: &str) -> anyhow::Result<()> {
        self.expect(
            self.post("/unlock")
                .json(&json!({ "passphrase": UNLOCK_PASSPHRASE })),
            StatusCode::NO_CONTENT,
            what,
        )
        .await?;
        self.expect_state("Operational").await
    }

    /// Checks `GET /health/state`.
    async fn expect_state(&self, want: &str) -> anyhow::Result<()> {
        let body = self
            .expect(
                self.get("/health/state"),
                StatusCode::OK,
                "GET /health/state",
            )
            .await?;
        let state: Value = serde_json::from_slice(&body).context("GET /health/state")?;
        if state["state"] != want {
            bail!("the server is in state {}, expected {want}", state["state"]);
        }
        Ok(())
    }

    /// One `POST /random` of `length` bytes as the Operator, before its phase: the answer
    /// must be `{"random": <standard padded base64 of length bytes>}`. The phase itself only
    /// checks the status.
    async fn check_random(&self, operator: &str, length: u64) -> anyhow::Result<()> {
        let what = format!("POST /random {{\"length\": {length}}}");
        let body = self
            .expect(
                self.post("/random")
                    .basic_auth(operator, Some(OPERATOR_PASSPHRASE))
                    .json(&json!({ "length": length })),
                StatusCode::OK,
                &what,
            )
            .await?;
        let answer: Value = serde_json::from_slice(&body).with_context(|| what.clone())?;
        let random = answer["random"]
            .as_str()
            .with_context(|| format!("{what}: no \"random\" string in {answer}"))?;
        let decoded = base64_len(random)
            .with_context(|| format!("{what}: \"random\" is not standard base64: {random:?}"))?;
        if decoded != length {
            bail!("{what}: \"random\" holds {decoded} bytes, not {length}");
        }
        Ok(())
    }

    /// One XML entity bomb to the backup-client login, before its phase: it must be refused
    /// (400) for its DTD, so the phase measures that refusal and nothing else. The phase
    /// itself only checks the status.
    async fn check_xml_bomb(&self) -> anyhow::Result<()> {
        let what = format!("POST {LOGIN_PATH} (an XML entity bomb)");
        let body = self
            .expect(
                self.client
                    .post(format!("{}{LOGIN_PATH}", self.server.base))
                    .header(reqwest::header::CONTENT_TYPE, "application/xml")
                    .body(XML_BOMB),
                StatusCode::BAD_REQUEST,
                &what,
            )
            .await?;
        let text = String::from_utf8_lossy(&body);
        if !text.contains("DTD") {
            bail!("{what}: refused, but not for its DTD: {text}");
        }
        Ok(())
    }

    /// `GET /info`, as `vendor product`.
    async fn info(&self) -> anyhow::Result<String> {
        let body = self
            .expect(self.get("/info"), StatusCode::OK, "GET /info")
            .await?;
        let info: Value = serde_json::from_slice(&body).context("GET /info")?;
        Ok(format!(
            "/info: vendor {}, product {}",
            info["vendor"].as_str().unwrap_or("?"),
            info["product"].as_str().unwrap_or("?")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lengths() {
        assert_eq!(base64_len(""), Some(0));
        assert_eq!(base64_len("QQ=="), Some(1));
        assert_eq!(base64_len("QUI="), Some(2));
        assert_eq!(base64_len("QUJD"), Some(3));
        assert_eq!(base64_len(&format!("{}=", "A".repeat(43))), Some(32));
        assert_eq!(base64_len(&"A".repeat(1368)), Some(1026));
        assert_eq!(base64_len("QUJD="), None);
        assert_eq!(base64_len("QQ-_"), None);
        assert_eq!(base64_len("Q==="), None);
        assert_eq!(base64_len("Q=Q="), None);
    }

    #[test]
    fn options() {
        let args = Args::try_parse_from(["bench"]).unwrap();
        assert_eq!(args.backup_users, [1000, 10_000]);
        assert!(!args.skip_backup);
        let args = Args::try_parse_from(["bench", "--backup-users", "5,50"]).unwrap();
        assert_eq!(args.backup_users, [5, 50]);
        assert!(Args::try_parse_from(["bench", "--backup-users", "0"]).is_err());
        assert!(
            Args::try_parse_from(["bench", "--skip-backup"])
                .unwrap()
                .skip_backup
        );
        assert!(Args::try_parse_from(["bench", "--skip-backup", "--backup-users", "5"]).is_err());
    }
}
