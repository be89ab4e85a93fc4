//! Running Python tools from the project's venv: the interpreter `scripts/test` prepares, and
//! a runner that collects a child's output and kills it when it runs too long.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

/// The root of the Cargo workspace (where `.venv`, `scripts/` and `tests/` are).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The interpreter with the test requirements installed: `STRONGROOM_TEST_PYTHON`, else the
/// workspace's `.venv`. Panics, telling how to get one, when there is none or it lacks `module`.
pub fn test_python(module: &str) -> PathBuf {
    const HOW: &str = "run the tests through `scripts/test` (it creates .venv from \
                       tests/requirements.txt and sets STRONGROOM_TEST_PYTHON)";
    let python = match std::env::var_os("STRONGROOM_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = workspace_root().join(".venv/bin/python");
            assert!(
                venv.exists(),
                "no Python for the interop tests: STRONGROOM_TEST_PYTHON is not set and {} \
                 does not exist; {HOW}",
                venv.display()
            );
            venv
        }
    };
    let probe = std::process::Command::new(&python)
        .arg("-c")
        .arg(format!("import {module}"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HOW}", python.display()));
    assert!(
        probe.status.success(),
        "{} cannot import {module}: {}; {HOW}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    python
}

/// A finished (or killed) run of a child process and everything it wrote.
pub struct Run {
    /// `None` when the run timed out and was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    timeout: Duration,
}

impl Run {
    /// Whether the child exited, successfully, within the time limit.
    pub fn passed(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// How the run ended, for panic messages: "exited with …" or "timed out after … and was
    /// killed".
    pub fn outcome(&self) -> String {
        match self.status {
            Some(s) => format!("exited with {s}"),
            None => format!("timed out after {:?} and was killed", self.timeout),
        }
    }
}

/// Runs `program args…` (in `cwd` when given) with stdin closed and Python unbuffered and not
/// writing bytecode, and collects its output. Kills it when it runs longer than `timeout`.
///
/// It also sets `NO_COLOR=1` and removes `SCHEMATHESIS_HOOKS`: the output is read, not shown on
/// a terminal, and a hooks module from the caller's environment must not change a run.
pub async fn run(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    cwd: Option<&Path>,
    timeout: Duration,
) -> Run {
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    command
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_COLOR", "1")
        .env_remove("SCHEMATHESIS_HOOKS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let shown = std::iter::once(program.as_os_str())
        .chain(args.iter().map(AsRef::as_ref))
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {shown}: {e}"));
    // Read both pipes while it runs, so a timed-out run still shows how far it got.
    let stdout = tokio::spawn(read_all(child.stdout.take().expect("stdout")));
    let stderr = tokio::spawn(read_all(child.stderr.take().expect("stderr")));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => Some(status.unwrap_or_else(|e| panic!("wait for {shown}: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    Run {
        status,
        stdout: stdout.await.expect("stdout reader"),
        stderr: stderr.await.expect("stderr reader"),
        timeout,
    }
}

async fn read_all(mut pipe: impl tokio::io::AsyncRead + Unpin) -> String {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let _ = pipe.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}
