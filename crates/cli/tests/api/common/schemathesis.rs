//! Running schemathesis (`schemathesis` on PyPI, pinned in `tests/requirements.txt`) from the
//! test venv against a spec, for the conformance tests of every face.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use super::python;

/// A failed conformance test's panic message: the server's log first, then what schemathesis
/// found, last, since a CI report keeps only the end of a long output.
pub fn failure(findings: &str, server_log: &str) -> String {
    format!("--- server log ---\n{server_log}\n--- what schemathesis found ---\n{findings}")
}

/// A hard limit on each schemathesis run; their own time budgets (`--max-time`) are far lower.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// A schemathesis run: its command line and how it went.
pub struct Run {
    pub command: String,
    pub run: python::Run,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.run.passed()
    }

    pub fn report(&self) -> String {
        format!(
            "$ {}\n{}\n--- schemathesis stdout ---\n{}\n--- schemathesis stderr ---\n{}",
            self.command,
            self.run.outcome(),
            self.run.stdout,
            self.run.stderr
        )
    }
}

/// Runs `python -m schemathesis.cli run <spec> <args>` in `cwd` (where hypothesis and any
/// report would write, and where schemathesis looks for a `schemathesis.toml`) and collects
/// its output; kills it after [`RUN_TIMEOUT`].
pub async fn schemathesis(python: &Path, cwd: &Path, spec: &Path, args: &[String]) -> Run {
    schemathesis_within(python, cwd, spec, args, RUN_TIMEOUT).await
}

/// [`schemathesis`] with a hard limit of `timeout` (for runs given a longer `--max-time`).
pub async fn schemathesis_within(
    python: &Path,
    cwd: &Path,
    spec: &Path,
    args: &[String],
    timeout: Duration,
) -> Run {
    let mut all: Vec<&OsStr> = vec![
        "-m".as_ref(),
        "schemathesis.cli".as_ref(),
        "run".as_ref(),
        spec.as_os_str(),
    ];
    all.extend(args.iter().map(OsStr::new));
    let shown = format!(
        "{} -m schemathesis.cli run {} {}",
        python.display(),
        spec.display(),
        args.join(" ")
    );
    Run {
        command: shown,
        run: python::run(python, &all, Some(cwd), timeout).await,
    }
}
