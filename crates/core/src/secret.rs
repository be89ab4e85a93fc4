//! Secrets as they arrive from clients: wiped from memory on drop, never printed.

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The byte lengths NetHSM allows for every passphrase (`Passphrase` in nethsm-api.yaml and
/// the validation notes): at least 10, at most 200.
pub const PASSPHRASE_MIN: usize = 10;
pub const PASSPHRASE_MAX: usize = 200;

/// A passphrase or password. `Debug` shows only that it is redacted.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Checks the NetHSM length rule; `what` names the field in the error message.
    pub fn check_length(&self, what: &str) -> Result<()> {
        let len = self.0.len();
        if (PASSPHRASE_MIN..=PASSPHRASE_MAX).contains(&len) {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "{what} must be between {PASSPHRASE_MIN} and {PASSPHRASE_MAX} bytes long"
            )))
        }
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let p = Passphrase::new("correct horse battery");
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn length_rule() {
        assert!(Passphrase::new("123456789").check_length("x").is_err());
        assert!(Passphrase::new("1234567890").check_length("x").is_ok());
        assert!(Passphrase::new("a".repeat(200)).check_length("x").is_ok());
        assert!(Passphrase::new("a".repeat(201)).check_length("x").is_err());
    }
}
