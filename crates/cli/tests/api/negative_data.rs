//! Negative-data decisions of the NetHSM conformance run (`conformance_nethsm`): each request
//! the vendor's spec calls invalid that the face used to take, now refused in the face's error
//! format, and tested here case by case. The run's remaining exceptions, and why each is the
//! check's error rather than ours, are in `conformance_nethsm.rs` and docs/testing.md.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const INVALID_KEY_ID: &str =
    "Invalid key ID: 1 to 128 of a-z, A-Z, 0-9, _ . -, starting with a letter or digit.";

fn ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("a key list: {v}"))
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Found by schemathesis (negative data): `GET /keys/{KeyID}` with a `KeyID` outside the
/// spec's `ID` pattern that ends in `*` was taken as the prefix listing `/keys/{prefix}*`
/// and answered 200 `[]`. A prefix no key id can start with is refused now as an invalid key
/// id is (the spec documents 400 "Invalid character in the KeyID" on that path); a valid
/// prefix, and the empty one (every key), still list.
#[tokio::test]
async fn a_key_prefix_no_id_can_have_is_refused() {
    let s = Server::start();
    s.provision().await;
    for id in ["ab1", "ab2", "cd"] {
        let r = s
            .as_admin(Method::POST, "/keys/generate")
            .json(&json!({"id": id, "type": "Curve25519", "mechanisms": ["EdDSA_Signature"]}))
            .answer()
            .await;
        assert_eq!(
            r.status(),
            201,
            "generate {id}: {}",
            r.text().await.unwrap()
        );
    }

    // Each a character the pattern refuses, a refused first character, or too long.
    let long = format!("{}*", "a".repeat(129));
    for path in [
        "/keys/%21%21*",
        "/keys/a%20b*",
        "/keys/-a*",
        "/keys/_*",
        "/keys/.*",
        "/keys/a~b*",
        "/keys/%C3%A9*",
        &format!("/keys/{long}"),
    ] {
        let r = s.as_admin(Method::GET, path).answer().await;
        let status = r.status().as_u16();
        assert_eq!(status, 400, "GET {path}");
        nethsm_error(r, 400, INVALID_KEY_ID).await;
    }

    let list = |path: &'static str| {
        let s = &s;
        async move {
            let r = s.as_admin(Method::GET, path).answer().await;
            assert_eq!(r.status(), 200, "GET {path}");
            ids(&r.json().await.unwrap())
        }
    };
    assert_eq!(list("/keys/ab*").await, ["ab1", "ab2"]);
    assert_eq!(list("/keys/ab1*").await, ["ab1"]);
    assert_eq!(list("/keys/x*").await, Vec::<String>::new());
    assert_eq!(list("/keys/*").await, ["ab1", "ab2", "cd"]);
    // 128 characters is a valid id, so a valid prefix: it matches none of these.
    let r = s
        .as_admin(Method::GET, &format!("/keys/{}*", "a".repeat(128)))
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(ids(&r.json().await.unwrap()), Vec::<String>::new());
}
