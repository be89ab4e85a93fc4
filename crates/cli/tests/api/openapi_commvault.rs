//! The backup-client (Commvault) face against the OpenAPI document the server publishes for
//! it (generated from the handlers by utoipa), with the helpers of `openapi_faces.rs`: the
//! document is served without credentials in every state under both roots, is valid, names
//! every route of the face and only routes it serves, and schemathesis finds no 5xx and no
//! answer that contradicts it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backup_client::{login, new_client};
use crate::common::openapi_run::conform;
use crate::common::*;
use crate::openapi::document_routes;
use crate::openapi_faces::{ADMIN_API_MD, check_document, check_routes, fetch_document};

/// The face's other root, older clients' (`BACKUP_CLIENT` is the current one).
const WEBCONSOLE: &str = "/webconsole/api";

/// Every operation the face serves (`commvault::router`), as the document writes it.
const SERVED: [(&str, &str); 15] = [
    ("GET", "/"),
    ("GET", "/openapi.json"),
    ("POST", "/Login"),
    ("POST", "/RenewLoginToken"),
    ("POST", "/Logout"),
    ("GET", "/WhoAmI"),
    ("POST", "/WhoAmI"),
    ("GET", "/Client"),
    ("GET", "/Client/{clientId}"),
    ("GET", "/Organization/{companyId}"),
    ("GET", "/Commcell/properties"),
    ("PUT", "/Commcell/properties"),
    ("POST", "/Client/{clientId}/Passkey"),
    ("POST", "/Company/{companyId}/Passkey"),
    ("POST", "/Company/{companyId}/AuthRestore"),
];

#[tokio::test]
async fn the_commvault_document_is_valid_and_served() {
    let server = Server::start();
    let doc = check_document(&server, BACKUP_CLIENT).await;
    let token = login(&server, "admin", ADMIN).await;
    check_routes(&server, BACKUP_CLIENT, &doc, &[("Authtoken", &token)]).await;
    let documented: Vec<(String, String)> = document_routes(&doc).into_iter().collect();
    let mut served: Vec<(String, String)> = (SERVED.iter())
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served, "the document names every operation");

    // The passkey examples are requests the face obeys (in this order: the company's passkey
    // is the one its authorization example gives).
    let client = new_client(&server, "example", &[]).await;
    for (path, id) in [
        ("/Client/{clientId}/Passkey", ("{clientId}", client)),
        ("/Company/{companyId}/Passkey", ("{companyId}", 0)),
        ("/Company/{companyId}/AuthRestore", ("{companyId}", 0)),
    ] {
        let operation = &doc["paths"][path]["post"];
        assert_eq!(
            operation["parameters"][0]["example"], id.1,
            "{path}'s example id"
        );
        let example = &operation["requestBody"]["content"]["application/json"]["example"];
        let r = server
            .backup_client(Method::POST, &path.replace(id.0, &id.1.to_string())[1..])
            .header("Authtoken", &token)
            .json(example)
            .answer()
            .await;
        assert_eq!(r.status(), 200, "{path}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer["error"],
            json!({"errorCode": 0}),
            "{path}: {example}"
        );
    }

    // The other root serves the same document but for its server.
    let (_, mut other) = fetch_document(&server, WEBCONSOLE).await;
    assert_eq!(other["servers"][0]["url"], WEBCONSOLE);
    other["servers"] = doc["servers"].clone();
    assert_eq!(other, doc, "both roots serve the same operations");
    assert!(
        ADMIN_API_MD.contains(&format!("`{WEBCONSOLE}/openapi.json`")),
        "docs/admin-api.md gives {WEBCONSOLE}/openapi.json"
    );
}

/// The passkey operations: Commvault's clients read every passkey failure, a request that
/// is not a passkey request included, from a 200 `App_SetPasskeyResponse` (seed 003), so
/// these operations answer invalid data 200 by design and run without
/// `negative_data_rejection`.
const PASSKEY_OPERATIONS: [&str; 3] = [
    "setClientPasskey",
    "setCompanyPasskey",
    "authorizeCompanyRestore",
];

/// `Login`'s credentials are the request body's (only valid ones when the case is valid);
/// every other operation takes the `Authtoken` header. `RenewLoginToken` ends the token it
/// renews and `Logout` the one it is sent, so each runs alone, last, with a token of its own.
#[tokio::test]
async fn the_commvault_face_conforms_to_its_document() {
    let server = Server::start();
    server.provision().await;
    let (text, doc) = fetch_document(&server, BACKUP_CLIENT).await;
    let operations = document_routes(&doc).len();
    let url = format!("{}{BACKUP_CLIENT}", server.base);
    // The client the document's examples name, so that its example passkey requests reach
    // one (the examples phase sends them).
    new_client(&server, "example", &[]).await;
    let alone = ["renewLoginToken", "logout"];
    let mut runs = Vec::new();
    let token = login(&server, "admin", ADMIN).await;
    let mut everything_else = vec![format!("--header=Authtoken: {token}")];
    for id in alone.iter().chain(&PASSKEY_OPERATIONS) {
        everything_else.push(format!("--exclude-operation-id={id}"));
    }
    runs.push((everything_else, operations - 5));
    let mut passkeys = vec![
        format!("--header=Authtoken: {token}"),
        "--exclude-checks=negative_data_rejection".into(),
    ];
    for id in PASSKEY_OPERATIONS {
        passkeys.push(format!("--include-operation-id={id}"));
    }
    runs.push((passkeys, PASSKEY_OPERATIONS.len()));
    for id in alone {
        let token = login(&server, "admin", ADMIN).await;
        runs.push((
            vec![
                format!("--header=Authtoken: {token}"),
                format!("--include-operation-id={id}"),
            ],
            1,
        ));
    }
    conform(&server, "the backup-client face", &url, &text, runs).await;
}

/// The JSON form of `PUT Commcell/properties` is the document's: the setting is a boolean, and
/// a string is refused rather than read as false; the XML form keeps its attribute strings.
#[tokio::test]
async fn commcell_properties_take_the_documented_json() {
    let server = Server::start();
    server.provision().await;
    let token = login(&server, "admin", ADMIN).await;
    let put = || {
        server
            .backup_client(Method::PUT, "Commcell/properties")
            .header("Authtoken", &token)
    };
    let allowed = || async {
        let r = server
            .backup_client(Method::GET, "Commcell/properties")
            .header("Authtoken", &token)
            .answer()
            .await;
        let v: Value = r.json().await.unwrap();
        v["commCellInfo"]["generalInfo"]["allowUsersToEnablePasskey"].clone()
    };
    let r = put()
        .header("content-type", "application/xml")
        .body(r#"<App_SetCommCellPropertiesRequest><commCellInfo><generalInfo allowUsersToEnablePasskey="1"/></commCellInfo></App_SetCommCellPropertiesRequest>"#)
        .answer()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(allowed().await, true);
    for wrong in [json!("false"), json!(0), Value::Null] {
        let body = json!({"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": wrong}}});
        let r = put().json(&body).answer().await;
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(allowed().await, true, "{body} changed nothing");
    }
    let body = json!({"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": false}}});
    let r = put().json(&body).answer().await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"response": [{"errorCode": 0}]}));
    assert_eq!(allowed().await, false);
}
