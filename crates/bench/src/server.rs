//! Starting the release `strongroom` binary on a throw-away data directory, and making sure it
//! goes away again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::sync::mpsc;

/// How long the server may take to print its address and fingerprint.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The default server binary: `target/release/strongroom` at the workspace root.
pub fn default_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/strongroom")
}

/// A running server. Dropping it (normally, on an error, or while unwinding from a panic)
/// kills the process and then deletes its temporary directory.
pub struct Server {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    /// `AA:BB:...`, the SHA-256 fingerprint of the server's certificate.
    pub fingerprint: String,
    pub log_path: PathBuf,
    // Declared last: dropped after `Drop::drop` has killed the child.
    _tmp: tempfile::TempDir,
}

impl Server {
    /// Runs `BINARY serve --data-dir <tempdir>/data --listen 127.0.0.1:0`, stdout piped, stderr
    /// to `<tempdir>/server.log`, and waits for its two start-up lines.
    pub async fn start(binary: &Path) -> anyhow::Result<Server> {
        Self::start_with(binary, &[]).await
    }

    /// [`Server::start`] with more arguments for `serve` (such as `--store etcd://...`).
    pub async fn start_with(binary: &Path, extra: &[String]) -> anyhow::Result<Server> {
        let tmp = tempfile::Builder::new()
            .prefix("strongroom-bench-")
            .tempdir()
            .context("creating a temporary directory")?;
        let data_dir = tmp.path().join("data");
        let log_path = tmp.path().join("server.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut child = Command::new(binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut server = Server {
            child,
            base: String::new(),
            fingerprint: String::new(),
            log_path,
            _tmp: tmp,
        };

        // A thread reads stdout for the whole life of the server, so that it never blocks on
        // a full pipe (or dies of SIGPIPE) if it prints more than the two expected lines.
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once nobody listens any more, lines are dropped; draining goes on.
                let _ = tx.send(line);
            }
        });
        let started = async {
            let base = line_after(&mut rx, "listening on ", "first").await?;
            let fingerprint =
                line_after(&mut rx, "certificate SHA-256 fingerprint ", "second").await?;
            anyhow::Ok((base, fingerprint))
        }
        .await;
        match started {
            Ok((base, fingerprint)) => {
                if !base.starts_with("https://127.0.0.1:") {
                    bail!("the server listens on {base}, not on 127.0.0.1");
                }
                server.base = base;
                server.fingerprint = fingerprint;
                Ok(server)
            }
            Err(e) => Err(anyhow!("{e:#}\n--- server log ---\n{}", server.log())),
        }
    }

    /// `https://127.0.0.1:PORT/api/v1{path}`
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// The process id of the server (a child of the bench), for `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

/// The next line the server prints on stdout, within [`START_TIMEOUT`].
async fn next_line(rx: &mut mpsc::UnboundedReceiver<String>) -> anyhow::Result<String> {
    match tokio::time::timeout(START_TIMEOUT, rx.recv()).await {
        Ok(Some(line)) => Ok(line),
        Ok(None) => bail!("the server exited during start-up"),
        Err(_) => bail!(
            "the server printed nothing for {} s",
            START_TIMEOUT.as_secs()
        ),
    }
}

/// The rest of the server's next line, which must start with `prefix` (`which` line it is,
/// for the error).
async fn line_after(
    rx: &mut mpsc::UnboundedReceiver<String>,
    prefix: &str,
    which: &str,
) -> anyhow::Result<String> {
    let line = next_line(rx).await?;
    Ok(line
        .strip_prefix(prefix)
        .with_context(|| format!("unexpected {which} line from the server: {line:?}"))?
        .trim()
        .to_owned())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
