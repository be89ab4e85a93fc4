//! docs/errors.md as data: the documented errors of each face, read from its tables, so tests
//! require what the docs say rather than a copy of it.

use super::Says;

const ERRORS_MD: &str = include_str!("../../../../../docs/errors.md");

/// One documented error: its status (0 where the docs give a range), its code where the face
/// has one, and its message as the docs write it (`None`: no body).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Documented {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// The documented errors of the section of docs/errors.md under the `## ` heading that
/// starts with `heading`, from every table in it whose header names `message` (or
/// `errorMessage`) and, for faces with codes, the code column.
pub fn documented_errors(heading: &str) -> Vec<Documented> {
    let start = ERRORS_MD
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("docs/errors.md has no section {heading}"));
    let section = &ERRORS_MD[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut entries = Vec::new();
    let mut columns: Option<(usize, Option<usize>, usize)> = None;
    for line in section.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            continue;
        }
        let Some((status_at, code_at, message_at)) = columns else {
            // A header: where the status, the code and the message are.
            let at = |name: &str| cells.iter().position(|c| c.trim_matches('`') == name);
            columns = match (at("status"), at("message").or(at("errorMessage"))) {
                (Some(s), Some(m)) => Some((s, at("error_code").or(at("errorCode")), m)),
                // The passkey table: no status column; the backup-client face answers 200.
                (None, Some(m)) => at("errorCode").map(|c| (usize::MAX, Some(c), m)),
                _ => None,
            };
            continue;
        };
        let status = match status_at {
            usize::MAX => 200,
            i => cells[i].parse().unwrap_or(0),
        };
        let code = code_at
            .map(|i| cells[i].trim_matches('`').to_owned())
            .filter(|c| c != "(empty body)");
        let messages = backticked(cells[message_at]);
        if messages.is_empty() {
            entries.push(Documented {
                status,
                code: code.clone(),
                message: None,
            });
        }
        for message in messages {
            entries.push(Documented {
                status,
                code: code.clone(),
                message: Some(message),
            });
        }
    }
    entries
}

/// The `code spans` of a table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// What a documented message requires of a real one: the text itself, or, where the docs
/// write a placeholder (`<...>`, `...`, `N`), the fixed pieces around it, in order.
pub fn documented_says(documented: &str) -> Says {
    let mut pieces = Vec::new();
    let mut rest = documented;
    loop {
        let next = [rest.find('<'), rest.find("..."), rest.find(" N ")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else {
            pieces.push(rest.to_owned());
            break;
        };
        pieces.push(rest[..at].to_owned());
        rest = if rest[at..].starts_with('<') {
            &rest[at + rest[at..].find('>').expect("a closed placeholder") + 1..]
        } else if rest[at..].starts_with("...") {
            &rest[at + 3..]
        } else {
            pieces.last_mut().unwrap().push(' ');
            &rest[at + 2..]
        };
    }
    if pieces.len() == 1 {
        Says::from(pieces.remove(0))
    } else {
        Says::Pieces(pieces)
    }
}

/// The message docs/errors.md gives the appliance face's `code`.
pub fn appliance_message(code: &str) -> Says {
    let documented = documented_errors("Appliance face");
    let found: Vec<_> = (documented.iter())
        .filter(|d| d.code.as_deref() == Some(code))
        .collect();
    assert_eq!(found.len(), 1, "appliance code {code} is documented once");
    let message = found[0].message.as_deref();
    documented_says(message.unwrap_or_else(|| panic!("{code} has a documented message")))
}

/// The message docs/errors.md gives the passkey operations' `errorCode`.
pub fn passkey_message(code: i64) -> Says {
    let code = code.to_string();
    let documented = documented_errors("Backup-client face");
    let found: Vec<_> = (documented.iter())
        .filter(|d| d.status == 200 && d.code.as_deref() == Some(code.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "passkey code {code} is documented once");
    let message = found[0].message.as_deref();
    documented_says(message.unwrap_or_else(|| panic!("{code} has a documented message")))
}
