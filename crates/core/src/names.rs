//! Names that people read and tell apart by eye: a backup client's name, host name and display
//! name, a user's real name. Two names that look the same must be the same name, and a name
//! must not hide anything. So every such name is put in Unicode normalization form NFKC
//! before it is compared or stored (full-width `ｄｂ１` is `db1`), and a name is refused if,
//! after that, it holds a character nobody can see or that changes how text around it shows:
//! control characters (Cc), format characters (Cf: zero-width spaces and joiners, bidi
//! controls such as U+202E, soft hyphens ...), line and paragraph separators (Zl, Zp),
//! private-use, surrogate and unassigned code points, the few invisible default-ignorable
//! characters outside Cf (fillers, variation selectors), and any whitespace but the plain
//! space. A plain space inside a name is fine; a name may not start or end with whitespace
//! (refused, not trimmed, so what is stored is exactly what was sent, normalized).
//!
//! User ids, namespace ids and tags are not names in this sense: they follow NetHSM's ASCII
//! patterns and are compared exactly (`Admin` and `admin` are two users, as on a NetHSM).

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{Error, Result};

/// Whether `c` may appear in a name (once normalized).
fn allowed(c: char) -> bool {
    use GeneralCategory as G;
    if c == ' ' {
        return true;
    }
    if c.is_whitespace() {
        return false;
    }
    if matches!(
        c.general_category(),
        G::Control
            | G::Format
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::PrivateUse
            | G::Surrogate
            | G::Unassigned
    ) {
        return false;
    }
    // Default_Ignorable_Code_Point outside Cf: invisible, yet letters or marks.
    !matches!(
        c,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// The message for a name with a character [`allowed`] refuses.
pub fn invisible_message(field: &str) -> String {
    format!("{field} must not contain invisible, control or format characters")
}

/// The message for a name that starts or ends with whitespace.
pub fn edge_space_message(field: &str) -> String {
    format!("{field} must not start or end with whitespace")
}

/// Normalizes a name (NFKC) and checks it: only visible characters and plain spaces, none at
/// either end, and, when `max_bytes` is given, 1 to `max_bytes` bytes (normalized).
/// Returns the normalized name, which is what gets stored.
pub fn readable(field: &str, value: &str, max_bytes: Option<usize>) -> Result<String> {
    let name: String = value.nfkc().collect();
    if !name.chars().all(allowed) {
        return Err(Error::InvalidInput(invisible_message(field)));
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(Error::InvalidInput(edge_space_message(field)));
    }
    if let Some(max) = max_bytes
        && (name.is_empty() || name.len() > max)
    {
        return Err(Error::InvalidInput(format!(
            "{field} must be 1 to {max} bytes of printable text"
        )));
    }
    Ok(name)
}

/// The form two names are compared in for uniqueness: NFKC, then lower case (and NFKC again,
/// as lower-casing can leave a string that is not).
pub fn comparison_key(name: &str) -> String {
    let nfkc: String = name.nfkc().collect();
    nfkc.to_lowercase().nfkc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> String {
        readable("name", v, Some(128)).unwrap()
    }

    fn refused(v: &str) -> String {
        match readable("name", v, Some(128)) {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("{v:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn look_alikes_normalize_to_one_name() {
        assert_eq!(ok("db1"), "db1");
        assert_eq!(ok("ｄｂ１"), "db1");
        assert_eq!(ok("ＤＢ１"), "DB1");
        assert_eq!(ok("e\u{301}"), "é", "composed");
        assert_eq!(ok("ﬁle"), "file");
        assert_eq!(ok("Database 01"), "Database 01", "inner spaces stay");
        assert_eq!(ok("a\u{3000}b"), "a b", "an ideographic space is a space");
        assert_eq!(ok("a\u{A0}b"), "a b");
        assert_eq!(comparison_key("ＤＢ１"), comparison_key("db1"));
        assert_ne!(comparison_key("db1"), comparison_key("db2"));
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        let invisible = invisible_message("name");
        for bad in [
            "db1\u{200B}",
            "d\u{200C}b1",
            "db\u{200D}1",
            "\u{FEFF}db1x",
            "db1\u{202E}",
            "db1\u{2066}x",
            "db1\u{00AD}x",
            "db\u{0007}1",
            "db\n1",
            "db\t1",
            "db\u{0085}1",
            "db\u{2028}1",
            "db\u{2029}1",
            "db\u{E000}1",
            "db\u{0378}1",
            "db\u{3164}1",
            "db\u{115F}1",
            "db1\u{FE0F}x",
            "db\u{034F}1",
            "db\u{1680}1",
            "db\u{E0041}1",
        ] {
            assert_eq!(refused(bad), invisible, "{bad:?}");
        }
    }

    #[test]
    fn ends_and_lengths() {
        assert_eq!(refused(" db1"), edge_space_message("name"));
        assert_eq!(refused("db1 "), edge_space_message("name"));
        assert_eq!(refused("db1\u{3000}"), edge_space_message("name"));
        assert_eq!(refused(""), "name must be 1 to 128 bytes of printable text");
        assert!(readable("name", &"x".repeat(128), Some(128)).is_ok());
        assert!(readable("name", &"x".repeat(129), Some(128)).is_err());
        // Normalization can lengthen a name: the limit applies to what is stored.
        assert!(readable("name", &"\u{FDFA}".repeat(10), Some(128)).is_err());
        assert_eq!(readable("realName", "", None).unwrap(), "");
    }
}
