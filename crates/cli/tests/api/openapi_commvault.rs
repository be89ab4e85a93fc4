//! The backup-client (Commvault) face against the OpenAPI document the server publishes for
//! it (generated from the handlers by utoipa), with the helpers of `openapi_faces.rs`: the
//! document is served without credentials in every state under both roots, is valid, names
//! every route of the face and only routes it serves, and schemathesis finds no 5xx and no
//! answer that contradicts it.

use crate::backup_client::login;
use crate::common::*;
use crate::openapi::document_routes;
use crate::openapi_faces::{check_document, check_routes, conform, fetch_document};

const ADMIN_API_MD: &str = include_str!("../../../../docs/admin-api.md");

/// The face's other root, older clients' (`BACKUP_CLIENT` is the current one).
const WEBCONSOLE: &str = "/webconsole/api";

/// Every operation the face serves (`commvault::router`), as the document writes it.
const SERVED: [(&str, &str); 9] = [
    ("GET", "/"),
    ("GET", "/openapi.json"),
    ("POST", "/Login"),
    ("POST", "/RenewLoginToken"),
    ("POST", "/Logout"),
    ("GET", "/WhoAmI"),
    ("POST", "/WhoAmI"),
    ("GET", "/Client"),
    ("GET", "/Client/{clientId}"),
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
    let mut runs = Vec::new();
    let token = login(&server, "admin", ADMIN).await;
    runs.push((
        vec![
            format!("--header=Authtoken: {token}"),
            "--exclude-operation-id=renewLoginToken".into(),
            "--exclude-operation-id=logout".into(),
        ],
        operations - 2,
    ));
    for alone in ["renewLoginToken", "logout"] {
        let token = login(&server, "admin", ADMIN).await;
        runs.push((
            vec![
                format!("--header=Authtoken: {token}"),
                format!("--include-operation-id={alone}"),
            ],
            1,
        ));
    }
    conform(&server, "backup-client", &url, &text, runs).await;
}
