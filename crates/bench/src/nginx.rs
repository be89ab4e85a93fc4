//! nginx beside the server: the reference the request path is measured against.
//!
//! The bench starts the system's nginx (Debian package `nginx`) on a configuration generated
//! into a temporary directory: TLS on 127.0.0.1 with a fresh self-signed P-256 certificate,
//! serving the same 23-byte JSON that `GET /api/v1/health/state` answers on an Operational
//! node, from a static file, with its access log on (as the server's is). The client pins
//! that certificate as it pins the server's. Where nginx is not installed the phase is
//! skipped with a message; nothing else depends on it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Client, StatusCode};

use crate::phase::{Load, Phase, Report};

/// What nginx serves, at the server's path for it: 23 bytes, as `/health/state` answers.
pub const STATE_PATH: &str = "/api/v1/health/state";
pub const STATE_BODY: &str = r#"{"state":"Operational"}"#;

/// Where to look for nginx when it is not on `PATH` (Debian installs it in `/usr/sbin`,
/// which is not on an ordinary user's `PATH`).
const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// How long nginx may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The nginx binary: `STRONGROOM_BENCH_NGINX` if set, else `nginx` on `PATH` or in an sbin
/// directory; `None` if there is none.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("STRONGROOM_BENCH_NGINX") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// A running nginx. Dropping it stops the master and its workers and deletes its directory.
pub struct Nginx {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    /// `AA:BB:...`, the SHA-256 fingerprint of its certificate, as the server prints its own.
    pub fingerprint: String,
    /// `nginx -v`, for the report.
    pub version: String,
    /// Worker processes (one per logical CPU, as `worker_processes auto` would).
    pub workers: usize,
    dir: PathBuf,
    // Declared last: dropped after `Drop::drop` has stopped nginx.
    _tmp: tempfile::TempDir,
}

impl Nginx {
    /// Starts `binary` in the foreground (`daemon off`) on a generated configuration and waits
    /// until it accepts connections.
    pub async fn start(binary: &Path) -> anyhow::Result<Nginx> {
        let tmp = tempfile::Builder::new()
            .prefix("strongroom-bench-nginx-")
            .tempdir()
            .context("creating a temporary directory for nginx")?;
        let dir = tmp.path().to_path_buf();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("generating nginx's key")?;
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .context("nginx's certificate parameters")?
            .self_signed(&key)
            .context("signing nginx's certificate")?;
        let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        write(&dir.join("cert.pem"), &cert.pem())?;
        write(&dir.join("key.pem"), &key.serialize_pem())?;
        write(&dir.join("state.json"), STATE_BODY)?;
        // A free port: bound and released, then nginx binds it (a small race, on loopback).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for nginx")?
            .port();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        write(&dir.join("nginx.conf"), &config(&dir, port, workers))?;
        let version = version(binary);

        let log = std::fs::File::create(dir.join("stderr.log")).context("nginx's stderr log")?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut nginx = Nginx {
            child,
            base: format!("https://127.0.0.1:{port}"),
            fingerprint,
            version,
            workers,
            dir,
            _tmp: tmp,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = nginx.child.try_wait()? {
                bail!("nginx exited at start ({status}):\n{}", nginx.logs());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(nginx);
            }
            if Instant::now() > deadline {
                bail!(
                    "nginx did not listen within {} s:\n{}",
                    START_TIMEOUT.as_secs(),
                    nginx.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `https://127.0.0.1:PORT/api/v1/health/state`
    pub fn state_url(&self) -> String {
        format!("{}{STATE_PATH}", self.base)
    }

    /// nginx's stderr and error log, for error messages.
    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers; SIGKILL would leave them running.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid, which `wait` has not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The slices each reference phase is cut into, run in turn (N, H, R, N, H, R, ...), so that
/// what other processes do to the shared machine falls on all three alike.
const ROUNDS: u32 = 5;
/// The warm-up of each slice: the connections stay open between slices.
const SLICE_WARMUP: Duration = Duration::from_millis(200);

/// What the reference phases left for the report.
pub struct Reference {
    /// Phase N's name and nginx's version, or why it did not run.
    pub nginx: Result<(String, String), String>,
    /// Phase H's name: the server's `GET /health/state`.
    pub state: String,
    /// Phase R's name: `POST /random` of 32 bytes, Basic auth.
    pub random: String,
    /// Whether the server's peak resident set was reset just before the phases.
    pub peak_reset: bool,
    /// The server's memory read just after them.
    pub memory: Option<crate::memory::Memory>,
}

/// Phases N (nginx, if installed and not `skip`ped), H (the server's `GET /health/state`,
/// Operational) and R (`POST /random` of 32 bytes as `operator`), interleaved in [`ROUNDS`]
/// slices each of `load.duration / ROUNDS`, pushed to `reports`. The server's peak resident
/// set is reset before and read after them: its peak under that load.
pub async fn run_phases(
    server: &crate::server::Server,
    client: &Client,
    load: Load,
    operator: &str,
    skip: bool,
    reports: &mut Vec<Report>,
) -> anyhow::Result<Reference> {
    let started = if skip {
        Err("skipped (--skip-nginx)".to_owned())
    } else {
        match find_binary() {
            None => Err(
                "skipped: nginx not found on PATH or in /usr/sbin (install Debian's \
                 `nginx` package, or set STRONGROOM_BENCH_NGINX to its binary)"
                    .to_owned(),
            ),
            Some(binary) => Nginx::start(&binary)
                .await
                .map_err(|e| format!("skipped: nginx failed to start: {e:#}")),
        }
    };
    if let Err(why) = &started {
        crate::progress(format!("phase N (nginx) {why}"));
    }
    let mut phases: Vec<(Client, Phase)> = Vec::new();
    if let Ok(nginx) = &started {
        let nginx_client = crate::tls::pinned_client(&nginx.fingerprint, load.concurrency)?;
        let url = nginx.state_url();
        let body = body_of(&nginx_client, &url).await?;
        if body != STATE_BODY {
            bail!("nginx answered {body:?}, expected {STATE_BODY:?}");
        }
        let phase = Phase::new(
            "N (nginx)",
            format!(
                "GET {STATE_PATH} from nginx {} ({} workers): a static 23-byte JSON over TLS, \
                 access log on",
                nginx.version, nginx.workers
            ),
            StatusCode::OK,
            move |c: &Client| c.get(&url),
        );
        phases.push((nginx_client, phase));
    }

    let url = server.url("/health/state");
    let body = body_of(client, &url).await?;
    if body != STATE_BODY {
        bail!("GET /health/state answered {body:?}, expected {STATE_BODY:?}");
    }
    let state = Phase::new(
        "H (Operational)",
        "GET /api/v1/health/state, unauthenticated",
        StatusCode::OK,
        move |c: &Client| c.get(&url),
    );
    phases.push((client.clone(), state.clone()));
    let url = server.url("/random");
    let id = operator.to_owned();
    let random = Phase::new(
        "R (Operational)",
        "POST /api/v1/random {\"length\": 32}, Basic auth as the Operator (as phase C)",
        StatusCode::OK,
        move |c: &Client| {
            c.post(&url)
                .basic_auth(&id, Some(crate::OPERATOR_PASSPHRASE))
                .json(&serde_json::json!({ "length": 32 }))
        },
    );
    phases.push((client.clone(), random.clone()));

    let peak_reset = crate::memory::reset_peak(server.pid());
    let slice = Load {
        concurrency: load.concurrency,
        warmup: SLICE_WARMUP,
        duration: load.duration / ROUNDS,
        server_pid: Some(server.pid()),
    };
    let mut merged: Vec<Option<Report>> = phases.iter().map(|_| None).collect();
    for round in 1..=ROUNDS {
        crate::progress(format!(
            "reference phases N, H, R: round {round} of {ROUNDS}"
        ));
        for (i, ((client, phase), total)) in phases.iter().zip(merged.iter_mut()).enumerate() {
            // nginx's CPU is in its worker processes, not in the server's: none is counted.
            let load = if i == 0 && started.is_ok() {
                Load {
                    server_pid: None,
                    ..slice
                }
            } else {
                slice
            };
            let report = crate::phase::run(client, phase, load).await?;
            *total = Some(match total.take() {
                Some(total) => total.merge(report),
                None => report,
            });
        }
    }
    let memory = crate::memory::try_read(server.pid());
    for report in merged.into_iter().flatten() {
        crate::progress(format!(
            "phase {}: {} ok, {} errors, {:.1} req/s",
            report.name,
            report.ok,
            report.error_count(),
            report.rate()
        ));
        reports.push(report);
    }
    Ok(Reference {
        nginx: started.map(|nginx| (phases[0].1.name.clone(), nginx.version.clone())),
        state: state.name,
        random: random.name,
        peak_reset,
        memory,
    })
}

async fn body_of(client: &Client, url: &str) -> anyhow::Result<String> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .with_context(|| format!("GET {url}"))?;
    if status != StatusCode::OK {
        bail!("GET {url}: {status}: {body}");
    }
    Ok(body)
}

/// The ratios the request path is held to, with their goals, and the server's memory under
/// the load of the reference phases.
pub fn print(reference: &Reference, reports: &[Report]) {
    let rate_of = |name: &str| reports.iter().find(|r| r.name == name).map(Report::rate);
    let ratio = |over: &str, under: &str, goal: f64| match (rate_of(over), rate_of(under)) {
        (Some(o), Some(u)) if u > 0.0 => {
            let v = o / u;
            let verdict = if v >= goal { "met" } else { "NOT met" };
            format!("{v:.2} (goal >= {goal:.1}: {verdict})")
        }
        _ => "n/a".to_owned(),
    };
    println!();
    match &reference.nginx {
        Ok((name, version)) => {
            println!(
                "reference    nginx {version}, phase {name}; phases N, H and R interleaved \
                 in {ROUNDS} slices each"
            );
            println!(
                "ratio health/state / nginx req/s: {}",
                ratio(&reference.state, name, 0.8)
            );
        }
        Err(why) => println!("reference    nginx {why}"),
    }
    println!(
        "ratio random(32) / health/state req/s: {}",
        ratio(&reference.random, &reference.state, 0.7)
    );
    if let Some(m) = reference.memory {
        let peak = if reference.peak_reset {
            "peak during phases N, H and R (reset just before them)"
        } else {
            "lifetime peak of the process: could not be reset"
        };
        let verdict = if m.hwm_kib < 100 * 1024 {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "server memory under load: VmHWM {} ({peak}; goal < 100 MiB: {verdict}), VmRSS after {}",
            crate::memory::Mib(m.hwm_kib),
            crate::memory::Mib(m.rss_kib)
        );
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `nginx -v` (it prints to stderr), or a note saying why it is unknown.
fn version(binary: &Path) -> String {
    match Command::new(binary).arg("-v").output() {
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .trim()
            .trim_start_matches("nginx version: ")
            .to_owned(),
        Err(e) => format!("version unknown ({e})"),
    }
}

/// The configuration: everything under `dir`, one worker per CPU, TLS 1.2 and 1.3, keep-alive
/// without a request limit (the bench's connections stay open, as with the server), the
/// access log on, and the 23-byte JSON from a file at [`STATE_PATH`].
fn config(dir: &Path, port: u16, workers: usize) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process on;
worker_processes {workers};
pid {d}/nginx.pid;
events {{
    worker_connections 4096;
}}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = {STATE_PATH} {{
            default_type application/json;
            alias {d}/state.json;
        }}
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_what_health_state_answers() {
        assert_eq!(STATE_BODY.len(), 23);
        let v: serde_json::Value = serde_json::from_str(STATE_BODY).unwrap();
        assert_eq!(v["state"], "Operational");
    }

    #[test]
    fn the_config_keeps_everything_in_its_directory() {
        let text = config(Path::new("/tmp/x"), 4433, 2);
        assert!(text.contains("listen 127.0.0.1:4433 ssl;"));
        assert!(text.contains("worker_processes 2;"));
        assert!(text.contains("access_log /tmp/x/access.log;"));
        assert!(text.contains("location = /api/v1/health/state {"));
        let paths = text
            .lines()
            .filter(|l| l.contains('/') && !l.contains("default_type"));
        for line in paths {
            assert!(
                line.contains("/tmp/x/") || line.contains(STATE_PATH),
                "{line}"
            );
        }
    }
}
