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

/// The least strength [`Passphrase::check_strength`] accepts, in bits of its estimate.
pub const STRENGTH_MIN_BITS: f64 = 40.0;

impl Passphrase {
    /// The strength rule for passphrases that guard material an attacker can take away and
    /// guess offline (the unlock and backup passphrases), beyond the length rule: the estimate
    /// is the number of *different* characters times log2 of the pool their kinds span (ASCII
    /// lower case 26, upper case 26, digits 10, punctuation and space 33, anything else 100),
    /// and must reach [`STRENGTH_MIN_BITS`]; a straight run (`abcdefghij`, `9876543210`) is
    /// refused whatever its estimate. Checked when such a passphrase is *set*, never when one
    /// is given, so passphrases set before this rule still open what they guard.
    pub fn check_strength(&self, what: &str) -> Result<()> {
        let s = self.expose();
        let mut distinct: Vec<char> = s.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let has = |f: fn(&char) -> bool| distinct.iter().any(f);
        let pool = [
            (has(char::is_ascii_lowercase), 26),
            (has(char::is_ascii_uppercase), 26),
            (has(char::is_ascii_digit), 10),
            (has(|c| c.is_ascii_punctuation() || *c == ' '), 33),
            (
                has(|c| !c.is_ascii_alphanumeric() && !c.is_ascii_punctuation() && *c != ' '),
                100,
            ),
        ]
        .iter()
        .filter(|(present, _)| *present)
        .map(|(_, size)| size)
        .sum::<u32>();
        let bits = distinct.len() as f64 * f64::from(pool.max(1)).log2();
        let codes: Vec<i64> = s.chars().map(|c| i64::from(u32::from(c))).collect();
        let straight_run = codes.len() > 2
            && codes.windows(2).all(|w| w[1] - w[0] == codes[1] - codes[0])
            && (codes[1] - codes[0]).abs() <= 1;
        if bits < STRENGTH_MIN_BITS || straight_run {
            return Err(Error::InvalidInput(format!(
                "{what} is too weak: use more different characters, of more than one kind, or several words"
            )));
        }
        Ok(())
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
    fn strength_rule() {
        let weak = [
            "aaaaaaaaaa",                // one character
            "abababababababab",          // two
            "passphrase",                // 6 different lower-case letters: 28 bits
            "1234567890",                // digits only: 33 bits
            "0000011111222223333344444", // a tiny alphabet, however long
            "abcdefghijklmnop",          // a straight run
            "zyxwvutsrqponmlk",          // backwards
        ];
        for p in weak {
            let e = Passphrase::new(p)
                .check_strength("unlockPassphrase")
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "unlockPassphrase is too weak: use more different characters, of more than one kind, or several words"
            );
            assert!(!e.to_string().contains(p));
        }
        let fine = [
            // The fixed passphrases of the NetHSM client interop test and the harness.
            "interop unlock passphrase",
            "interop backup passphrase",
            "unlock passphrase for tests",
            "backup passphrase for tests",
            "a long enough one",
            "yet another one",
            "kq7vz2mw9x", // 10 random lower-case letters and digits
            "correct horse battery staple",
            "Ünïcödé pässphräse",
        ];
        for p in fine {
            assert!(Passphrase::new(p).check_strength("x").is_ok(), "{p}");
        }
    }

    #[test]
    fn length_rule() {
        assert!(Passphrase::new("123456789").check_length("x").is_err());
        assert!(Passphrase::new("1234567890").check_length("x").is_ok());
        assert!(Passphrase::new("a".repeat(200)).check_length("x").is_ok());
        assert!(Passphrase::new("a".repeat(201)).check_length("x").is_err());
    }
}
