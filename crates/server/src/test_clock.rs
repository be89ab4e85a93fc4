//! For the API tests only, compiled in with the cargo feature `test-clock` (which
//! `crates/cli`'s dev-dependencies turn on for test builds; never a release build): the
//! server's clocks (see [`strongroom_core::clock`]) run ahead of the host's by the number of
//! milliseconds written in the file that `STRONGROOM_TEST_CLOCK_FILE` names, so a test moves
//! time forward instead of sleeping. The file is read at every reading of the clock; a smaller
//! number than one already read is ignored, since monotonic time does not go back. There is
//! no other way in: no setting, no endpoint.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strongroom_core::clock::{Ahead, Clock};

/// The environment variable that names the file.
pub const CLOCK_FILE_VAR: &str = "STRONGROOM_TEST_CLOCK_FILE";

/// How far ahead the file says, in whole milliseconds.
struct FileAhead {
    path: PathBuf,
    ahead_ms: AtomicU64,
}

impl Ahead for FileAhead {
    fn ahead(&self) -> Duration {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(ms) => {
                    self.ahead_ms.fetch_max(ms, Ordering::SeqCst);
                }
                Err(_) => tracing::warn!(path = %self.path.display(), "test clock file unreadable"),
            },
            // Not written yet: the host's clocks.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "test clock file unreadable")
            }
        }
        Duration::from_millis(self.ahead_ms.load(Ordering::SeqCst))
    }
}

/// The clock the server runs on in a build with the feature: moved by the file if the
/// variable names one, else the system's. Says loudly that this build is for tests.
pub fn server_clock() -> Clock {
    match std::env::var_os(CLOCK_FILE_VAR) {
        Some(path) => {
            let path = PathBuf::from(path);
            tracing::warn!(
                path = %path.display(),
                "test build: the clocks run ahead by what this file says (feature test-clock)"
            );
            Clock::ahead_by(Arc::new(FileAhead {
                path,
                ahead_ms: AtomicU64::new(0),
            }))
        }
        None => {
            tracing::warn!(
                "test build (feature test-clock): not for production; {CLOCK_FILE_VAR} is not set, so the system clock is used"
            );
            Clock::system()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_moves_the_clock_forward_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        let ahead = FileAhead {
            path: path.clone(),
            ahead_ms: AtomicU64::new(0),
        };
        assert_eq!(ahead.ahead(), Duration::ZERO, "no file yet");
        std::fs::write(&path, "90000\n").unwrap();
        assert_eq!(ahead.ahead(), Duration::from_secs(90));
        std::fs::write(&path, "1000").unwrap();
        assert_eq!(ahead.ahead(), Duration::from_secs(90), "never back");
        std::fs::write(&path, "soon").unwrap();
        assert_eq!(ahead.ahead(), Duration::from_secs(90), "garbage is ignored");
        let clock = Clock::ahead_by(Arc::new(ahead));
        let before = std::time::Instant::now();
        assert!(clock.instant() >= before + Duration::from_secs(90));
    }
}
