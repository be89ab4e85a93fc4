//! `docs/admin-api.md` against the wire types: every JSON example parses as the type of the
//! section it is in and serialises back to the same JSON (so no documented field is silently
//! ignored), and every request body and query the documentation lists names exactly the
//! fields of its type. A field renamed on either side fails here.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use strongroom_proto::audit::{AuditPage, AuditQuery, ChainReport};
use strongroom_proto::clients::{BackupClient, ClientChange, ClientOwners, NewClient};
use strongroom_proto::restore::{RestoreDecision, RestoreQuery, RestoreReason};
use strongroom_proto::system::{DataKey, RotateDataKey, Rotation};

const DOC: &str = include_str!("../../../docs/admin-api.md");

/// Parses `example` as `T` and checks that `T` writes it back unchanged.
fn round_trip<T: Serialize + DeserializeOwned>(example: &Value) -> T {
    let parsed: T = serde_json::from_value(example.clone())
        .unwrap_or_else(|e| panic!("{example} does not parse: {e}"));
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        &written, example,
        "a field of the example is not in the type"
    );
    parsed
}

/// Checks that an example is the type of its section.
type Check = fn(&Value);

/// The heading each example is under, and the type it must be.
const EXAMPLES: &[(&str, Check)] = &[
    ("## `GET /audit?after=N&limit=M`", |v| {
        let page: AuditPage = round_trip(v);
        assert!(!page.events.is_empty(), "the example shows events");
    }),
    ("## `GET /audit/verify`", |v| {
        round_trip::<ChainReport>(v);
    }),
    ("### `GET /system/data-key`", |v| {
        round_trip::<DataKey>(v);
    }),
    ("### `POST /system/rotate-data-key`", |v| {
        round_trip::<Rotation>(v);
    }),
    ("## Backup clients", |v| {
        round_trip::<BackupClient>(v);
    }),
    ("## `POST /password-policy/check`", |v| {
        round_trip::<strongroom_proto::password_policy::PasswordRules>(v);
    }),
    ("## `GET /clients/{id}/restore-authorization", |v| {
        let d: RestoreDecision = round_trip(v);
        assert_eq!(d.allowed, d.reason.allows(), "{v}");
    }),
];

/// Every ```json block of the document, with the heading above it.
fn json_blocks() -> Vec<(&'static str, Vec<Value>)> {
    let mut heading = "";
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in DOC.lines() {
        match &mut block {
            None if line.starts_with('#') => heading = line,
            None if line.trim() == "```json" => block = Some(String::new()),
            None => {}
            Some(text) if line.trim() == "```" => {
                // A block may hold several answers, one after the other.
                let values = serde_json::Deserializer::from_str(text)
                    .into_iter::<Value>()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap_or_else(|e| panic!("example under {heading:?} is not JSON: {e}"));
                blocks.push((heading, values));
                block = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(block.is_none(), "a ```json block is not closed");
    blocks
}

#[test]
fn every_json_example_is_its_type() {
    let blocks = json_blocks();
    let mut used = BTreeSet::new();
    for (heading, values) in &blocks {
        let (i, (_, check)) = EXAMPLES
            .iter()
            .enumerate()
            .find(|(_, (prefix, _))| heading.starts_with(prefix))
            .unwrap_or_else(|| panic!("no type for the example under {heading:?}: add it here"));
        assert!(!values.is_empty(), "empty example under {heading:?}");
        for v in values {
            check(v);
        }
        used.insert(i);
    }
    for (i, (prefix, _)) in EXAMPLES.iter().enumerate() {
        assert!(used.contains(&i), "no example under {prefix:?} any more");
    }
}

#[test]
fn every_restore_reason_is_documented() {
    let documented: BTreeSet<String> = json_blocks()
        .into_iter()
        .filter(|(h, _)| h.contains("restore-authorization"))
        .flat_map(|(_, values)| values)
        .map(|v| v["reason"].as_str().unwrap().to_owned())
        .collect();
    let all: BTreeSet<String> = [
        RestoreReason::NoPasskey,
        RestoreReason::Authorized,
        RestoreReason::PasskeyRequired,
        RestoreReason::CompanyPasskeyRequired,
    ]
    .iter()
    .map(|r| {
        serde_json::to_value(r)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    })
    .collect();
    assert_eq!(documented, all);
}

/// The fields the documentation gives for a body, `{"a", "b"?}` or `{"a": ...}`, split into
/// (required, optional), from the `{...}` that follows `marker` in the document.
fn documented_fields(marker: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let at = DOC
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} is not in the document"));
    let rest = &DOC[at + marker.len()..];
    let spec = &rest[..rest.find("}`").expect("the body ends with }`")];
    let (mut required, mut optional) = (BTreeSet::new(), BTreeSet::new());
    for item in spec.split(',') {
        let item = item.split(':').next().unwrap().trim();
        let (name, set) = match item.strip_suffix('?') {
            Some(name) => (name, &mut optional),
            None => (item, &mut required),
        };
        set.insert(name.trim_matches('"').to_owned());
    }
    (required, optional)
}

/// The field names `value` is written with.
fn keys(value: &impl Serialize) -> BTreeSet<String> {
    match serde_json::to_value(value).unwrap() {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

/// Checks the documented body against the type: `least` written with only what it must
/// have, `most` with everything.
fn check_body<T: Serialize>(marker: &str, least: &T, most: &T) {
    let (required, optional) = documented_fields(marker);
    assert_eq!(keys(least), required, "required fields of {marker}");
    let all: BTreeSet<String> = required.union(&optional).cloned().collect();
    assert_eq!(keys(most), all, "fields of {marker}");
}

#[test]
fn every_documented_request_body_is_its_type() {
    let s = |v: &str| v.to_owned();
    check_body(
        "`POST /clients` `{",
        &NewClient {
            name: s("db1"),
            host_name: s("db1.example.org"),
            display_name: None,
            owners: vec![],
        },
        &NewClient {
            name: s("db1"),
            host_name: s("db1.example.org"),
            display_name: Some(s("DB 1")),
            owners: vec![s("alice")],
        },
    );
    check_body(
        "`PATCH /clients/{id}` `{",
        &ClientChange::default(),
        &ClientChange {
            name: Some(s("db2")),
            host_name: Some(s("db2.example.org")),
            display_name: Some(s("DB 2")),
        },
    );
    let owners = ClientOwners { owners: vec![] };
    check_body("`PUT /clients/{id}/owners` `{", &owners, &owners);
    let check = strongroom_proto::password_policy::PasswordCheck {
        password: s("Aa1!aaaa").into(),
    };
    check_body("`POST /password-policy/check` `{", &check, &check);

    // The rotation's body is written as JSON: it parses as the request.
    let marker = "`POST /system/rotate-data-key` `";
    let at = DOC.find(marker).expect("the rotation is documented") + marker.len();
    let body = &DOC[at..at + DOC[at..].find('`').unwrap()];
    let parsed: RotateDataKey = serde_json::from_str(body).unwrap();
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        serde_json::from_str::<Value>(body).unwrap()
    );
}

/// The names of the query in `## \`GET /path?a=..&b=..\``.
fn documented_query(path: &str) -> BTreeSet<String> {
    let marker = format!("`GET {path}?");
    let at = DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker:?} is not in the document"))
        + marker.len();
    DOC[at..at + DOC[at..].find('`').unwrap()]
        .split('&')
        .map(|pair| pair.split('=').next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_documented_query_is_its_type() {
    assert_eq!(
        documented_query("/audit"),
        keys(&AuditQuery {
            after: 0,
            limit: Some(100)
        })
    );
    assert_eq!(
        documented_query("/clients/{id}/restore-authorization"),
        keys(&RestoreQuery {
            operation: "browse".into()
        })
    );
}
