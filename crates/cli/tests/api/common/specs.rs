//! Vendors' API specifications the repository cannot carry (their licences do not let us
//! redistribute them): tests that need one find it here, or skip loudly.
//!
//! Where they are looked for:
//! - `STRONGROOM_SPEC_DIR`, when set: the directory holding the vendor files. Set means
//!   required: a file missing from it fails the test, so a CI that sets it (`.ci/run` does)
//!   always runs these tests.
//! - Otherwise `shared/reference/` beside the clone (`<clone>/../shared/reference`), where the
//!   project's own machines keep them; when that is absent too, the test prints why it skips
//!   and passes, so `scripts/test` works on a fresh clone.

use std::path::{Path, PathBuf};

/// The environment variable naming the directory of vendor specifications.
pub const SPEC_DIR_VAR: &str = "STRONGROOM_SPEC_DIR";

/// The VMware DR appliance configuration API (the appliance face).
pub const APPLIANCE_SPEC: &str = "vrms-appliance-config-api-v2.json";

/// The path of the vendor specification `file`, or `None` (after saying loudly on stderr and
/// stdout that `test` skips, and why) when it is not available and was not required.
pub fn vendor_spec(file: &str, test: &str) -> Option<PathBuf> {
    match std::env::var_os(SPEC_DIR_VAR) {
        Some(dir) => {
            let path = Path::new(&dir).join(file);
            assert!(
                path.is_file(),
                "{SPEC_DIR_VAR}={} is set, but {} does not exist: the vendor specification \
                 {file} is required when {SPEC_DIR_VAR} is set",
                Path::new(&dir).display(),
                path.display()
            );
            Some(path.canonicalize().unwrap_or(path))
        }
        None => {
            let path = default_dir().join(file);
            if path.is_file() {
                return Some(path.canonicalize().unwrap_or(path));
            }
            let why = format!(
                "SKIPPED {test}: the vendor specification {file} is not available \
                 ({SPEC_DIR_VAR} is not set and {} does not exist). Set {SPEC_DIR_VAR} to the \
                 directory that holds it to run this test; CI (.ci/run) always does.",
                path.display()
            );
            // Both streams: `cargo test` shows stdout only for failures or with
            // `--nocapture`, stderr of a passing test only with `--nocapture` too, so the
            // line is also kept for `--show-output`.
            eprintln!("\n*** {why} ***\n");
            println!("*** {why} ***");
            None
        }
    }
}

/// `shared/reference/` beside the clone.
fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}

/// The Nitrokey NetHSM API (the NetHSM face, `/api/v1`).
pub const NETHSM_SPEC: &str = "nethsm-api.yaml";

/// The 2023 shape of the Nitrokey NetHSM API, which older clients were written against.
pub const LEGACY_NETHSM_SPEC: &str = "nethsm-api-2023-legacy.yaml";
