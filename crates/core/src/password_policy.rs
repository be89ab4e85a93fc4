//! The appliance password policy (seed 001; `UpdatePasswordSpec.new_password` in
//! vrms-appliance-config-api-v2.json): at least 8 characters, at least one lower-case letter,
//! one upper-case letter, one digit and one special character (ASCII punctuation or space),
//! nothing else, and none of the account's last five passwords. The spec's pattern uses
//! look-aheads, so the rules are checked one by one here, in this order, and the first unmet
//! one is reported.

/// Each rule, with the stable code the appliance face reports (see `docs/errors.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    /// Fewer than 8 characters.
    TooShort,
    /// More than 200 bytes (the identity store's limit for any passphrase).
    TooLong,
    /// A character other than ASCII letters, digits, punctuation and space.
    InvalidCharacter,
    NoLowercase,
    NoUppercase,
    NoDigit,
    NoSpecial,
    /// One of the account's last five passwords (the current one included).
    Reused,
}

pub const MIN_CHARS: usize = 8;
pub const MAX_BYTES: usize = 200;

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            PasswordRule::TooShort => "PASSWORD_TOO_SHORT",
            PasswordRule::TooLong => "PASSWORD_TOO_LONG",
            PasswordRule::InvalidCharacter => "PASSWORD_INVALID_CHARACTER",
            PasswordRule::NoLowercase => "PASSWORD_NO_LOWERCASE",
            PasswordRule::NoUppercase => "PASSWORD_NO_UPPERCASE",
            PasswordRule::NoDigit => "PASSWORD_NO_DIGIT",
            PasswordRule::NoSpecial => "PASSWORD_NO_SPECIAL",
            PasswordRule::Reused => "PASSWORD_REUSED",
        }
    }

    /// Names the rule; never includes the password.
    pub fn message(self) -> &'static str {
        match self {
            PasswordRule::TooShort => "The new password must be at least 8 characters long.",
            PasswordRule::TooLong => "The new password must be at most 200 bytes long.",
            PasswordRule::InvalidCharacter => {
                "The new password may contain only ASCII letters, digits, punctuation and spaces."
            }
            PasswordRule::NoLowercase => "The new password must contain a lower-case letter.",
            PasswordRule::NoUppercase => "The new password must contain an upper-case letter.",
            PasswordRule::NoDigit => "The new password must contain a digit.",
            PasswordRule::NoSpecial => {
                "The new password must contain a special character (ASCII punctuation or space)."
            }
            PasswordRule::Reused => "The new password must differ from the last five passwords.",
        }
    }
}

fn is_special(c: char) -> bool {
    c == ' ' || c.is_ascii_punctuation()
}

/// The rules that need only the password itself (all but [`PasswordRule::Reused`]), in the
/// order they are checked.
pub const SHAPE_RULES: [PasswordRule; 7] = [
    PasswordRule::TooShort,
    PasswordRule::TooLong,
    PasswordRule::InvalidCharacter,
    PasswordRule::NoLowercase,
    PasswordRule::NoUppercase,
    PasswordRule::NoDigit,
    PasswordRule::NoSpecial,
];

impl PasswordRule {
    /// Whether `password` meets this rule; [`PasswordRule::Reused`] needs the account's
    /// history, so it is met here.
    pub fn met_by(self, password: &str) -> bool {
        let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
        match self {
            PasswordRule::TooShort => password.chars().count() >= MIN_CHARS,
            PasswordRule::TooLong => password.len() <= MAX_BYTES,
            PasswordRule::InvalidCharacter => password
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || is_special(c)),
            PasswordRule::NoLowercase => has(char::is_ascii_lowercase),
            PasswordRule::NoUppercase => has(char::is_ascii_uppercase),
            PasswordRule::NoDigit => has(char::is_ascii_digit),
            PasswordRule::NoSpecial => password.chars().any(is_special),
            PasswordRule::Reused => true,
        }
    }
}

/// The rules that need only the password itself: the first of [`SHAPE_RULES`] it breaks.
pub fn check_shape(password: &str) -> Result<(), PasswordRule> {
    match SHAPE_RULES.into_iter().find(|rule| !rule.met_by(password)) {
        Some(rule) => Err(rule),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_alone() {
        assert_eq!(check_shape("Aa1!aaaa"), Ok(()));
        assert_eq!(check_shape("Aa1 aaaa"), Ok(()), "space is special");
        assert_eq!(check_shape("Aa1!aaa"), Err(PasswordRule::TooShort));
        assert_eq!(check_shape("AA1!AAAA"), Err(PasswordRule::NoLowercase));
        assert_eq!(check_shape("aa1!aaaa"), Err(PasswordRule::NoUppercase));
        assert_eq!(check_shape("Aab!aaaa"), Err(PasswordRule::NoDigit));
        assert_eq!(check_shape("Aa1aaaaa"), Err(PasswordRule::NoSpecial));
        assert_eq!(check_shape("Aa1!aaaé"), Err(PasswordRule::InvalidCharacter));
        assert_eq!(
            check_shape("Aa1!aaa\t"),
            Err(PasswordRule::InvalidCharacter)
        );
        assert_eq!(
            check_shape(&format!("Aa1!{}", "a".repeat(197))),
            Err(PasswordRule::TooLong)
        );
        for special in " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".chars() {
            assert_eq!(
                check_shape(&format!("Aa1{special}aaaa")),
                Ok(()),
                "{special:?}"
            );
        }
    }
}
