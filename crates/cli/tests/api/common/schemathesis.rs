//! Running schemathesis (`schemathesis` on PyPI, pinned in `tests/requirements.txt`) from the
//! test venv against a spec and a running server, for the conformance tests of every face.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use super::python;

/// A schemathesis run: its command line and how it went.
pub struct Run {
    pub command: String,
    pub run: python::Run,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.run.passed()
    }

    /// The command, how it ended and everything it wrote, for a panic message.
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
/// report would write) and collects its output; kills it after `timeout`.
pub async fn run(
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
