//! A typed client of a running server's own API (`/api/strongroom/v1`, see
//! `docs/admin-api.md`): HTTPS pinned to the server's certificate ([`crate::pin`]), HTTP
//! Basic credentials, JSON, and the `{"message": ...}` errors of the NetHSM conventions that
//! API follows. The bodies sent and read are the server's own types, from `strongroom_proto`.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strongroom_proto::API_PREFIX;
use strongroom_proto::clients::{BackupClient, ClientChange, ClientList, ClientOwners, NewClient};
use strongroom_proto::errors::ErrorBody;
use strongroom_proto::system::{DataKey, RotateDataKey, Rotation};
use zeroize::Zeroizing;

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The server answered with an error status; `message` is its `{"message"}` (or the body
    /// as text when it is not that shape).
    #[error("{message} (HTTP {status})")]
    Api { status: StatusCode, message: String },
    /// No answer: the connection, the TLS handshake (a certificate that is not the pinned
    /// one) or the request failed. The text holds the whole chain of causes.
    #[error("no answer from the server: {cause}")]
    Transport { cause: String },
    /// The server answered 2xx with a body that is not the documented shape.
    #[error("the server's answer to {what} is not understood: {cause}")]
    Decode { what: String, cause: String },
    /// A setting that cannot work, found before anything was sent.
    #[error("{0}")]
    Setup(String),
}

/// A successful answer: the typed value and the body exactly as the server sent it (what
/// `--json` prints).
#[derive(Debug)]
pub struct Reply<T> {
    pub value: T,
    pub body: String,
}

/// The credentials of an Administrator. The password never appears in `Debug`.
pub struct Credentials {
    pub user: String,
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A connection to one server's `/api/strongroom/v1`.
#[derive(Debug)]
pub struct Remote {
    http: reqwest::Client,
    /// `https://HOST:PORT/api/strongroom/v1/`
    api: Url,
    credentials: Credentials,
}

impl Remote {
    /// `server` is `https://HOST:PORT`; `fingerprint` the certificate's SHA-256 as the server
    /// printed it (colons and case do not matter).
    pub fn new(
        server: &str,
        fingerprint: &str,
        credentials: Credentials,
    ) -> Result<Self, RemoteError> {
        let base = Url::parse(server)
            .map_err(|e| RemoteError::Setup(format!("server address {server:?}: {e}")))?;
        if base.scheme() != "https" {
            return Err(RemoteError::Setup(format!(
                "server address {server:?}: only https:// is supported"
            )));
        }
        if base.host().is_none() || base.cannot_be_a_base() {
            return Err(RemoteError::Setup(format!(
                "server address {server:?}: expected https://HOST:PORT"
            )));
        }
        let mut api = base.clone();
        api.set_path(&format!(
            "{}{API_PREFIX}/",
            base.path().trim_end_matches('/')
        ));
        api.set_query(None);
        api.set_fragment(None);
        Ok(Remote {
            http: pinned_client(fingerprint)?,
            api,
            credentials,
        })
    }

    /// `GET /clients`.
    pub async fn clients_get(&self) -> Result<Reply<ClientList>, RemoteError> {
        self.call(Method::GET, "clients", None::<&()>).await
    }

    /// `POST /clients`.
    pub async fn clients_post(&self, new: &NewClient) -> Result<Reply<BackupClient>, RemoteError> {
        self.call(Method::POST, "clients", Some(new)).await
    }

    /// `GET /clients/{id}`.
    pub async fn client_get(&self, id: u64) -> Result<Reply<BackupClient>, RemoteError> {
        self.call(Method::GET, &format!("clients/{id}"), None::<&()>)
            .await
    }

    /// `PATCH /clients/{id}`.
    pub async fn client_patch(
        &self,
        id: u64,
        changes: &ClientChange,
    ) -> Result<Reply<BackupClient>, RemoteError> {
        self.call(Method::PATCH, &format!("clients/{id}"), Some(changes))
            .await
    }

    /// `PUT /clients/{id}/owners`.
    pub async fn client_owners_put(
        &self,
        id: u64,
        owners: &ClientOwners,
    ) -> Result<Reply<BackupClient>, RemoteError> {
        self.call(Method::PUT, &format!("clients/{id}/owners"), Some(owners))
            .await
    }

    /// `DELETE /clients/{id}`.
    pub async fn client_delete(&self, id: u64) -> Result<(), RemoteError> {
        self.send(Method::DELETE, &format!("clients/{id}"), None::<&()>)
            .await
            .map(|_| ())
    }

    /// `GET /system/data-key`.
    pub async fn data_key_get(&self) -> Result<Reply<DataKey>, RemoteError> {
        self.call(Method::GET, "system/data-key", None::<&()>).await
    }

    /// `POST /system/rotate-data-key`: rotates the domain key (or finishes a rotation under
    /// way) and re-seals every value; may take a while on a large store.
    pub async fn rotate_data_key(
        &self,
        req: &RotateDataKey,
    ) -> Result<Reply<Rotation>, RemoteError> {
        self.call(Method::POST, "system/rotate-data-key", Some(req))
            .await
    }

    /// Sends a request and decodes a 2xx answer as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Reply<T>, RemoteError> {
        let what = format!("{method} {path}");
        let body = self.send(method, path, body).await?;
        let value = serde_json::from_str(&body).map_err(|e| RemoteError::Decode {
            what,
            cause: e.to_string(),
        })?;
        Ok(Reply { value, body })
    }

    /// Sends a request; returns the body of a 2xx answer, or the error the server gave.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<String, RemoteError> {
        let url = self
            .api
            .join(path)
            .map_err(|e| RemoteError::Setup(format!("path {path:?}: {e}")))?;
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&self.credentials.user, Some(&*self.credentials.password))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            req = req.json(body);
        }
        let transport = |e: reqwest::Error| RemoteError::Transport {
            cause: error_chain(&e),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let text = resp.text().await.map_err(transport)?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(RemoteError::Api {
                status,
                message: error_message(status, &text),
            })
        }
    }
}

/// The `message` of a `{"message": ...}` error body; otherwise the body itself, or the
/// status's reason when the body is empty.
fn error_message(status: StatusCode, body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => e.message,
        Err(_) if !body.trim().is_empty() => body.trim().to_owned(),
        Err(_) => status.canonical_reason().unwrap_or("no message").to_owned(),
    }
}

/// `e` and its causes, joined with `: `; reqwest's own Display stops at the first level and
/// would hide, say, the pinning failure.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// The pinned HTTPS client of the admin API.
fn pinned_client(fingerprint: &str) -> Result<reqwest::Client, RemoteError> {
    crate::pin::client_builder(fingerprint)
        .map_err(|e| RemoteError::Setup(e.to_string()))?
        // The API answers in place; a redirect would only send the credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("strongroom/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RemoteError::Setup(format!("HTTP client setup: {}", error_chain(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = crate::pin::EXAMPLE_FINGERPRINT;

    #[test]
    fn error_message_prefers_the_json_message() {
        let s = StatusCode::NOT_FOUND;
        assert_eq!(
            error_message(s, r#"{"message":"No such client."}"#),
            "No such client."
        );
        assert_eq!(error_message(s, "plain text\n"), "plain text");
        assert_eq!(error_message(s, ""), "Not Found");
    }

    #[test]
    fn only_https_servers_are_accepted() {
        let creds = || Credentials {
            user: "admin".into(),
            password: Zeroizing::new("pw-in-debug?".into()),
        };
        assert!(Remote::new("http://127.0.0.1:8443", FP, creds()).is_err());
        assert!(Remote::new("127.0.0.1:8443", FP, creds()).is_err());
        let r = Remote::new("https://127.0.0.1:8443/", FP, creds()).unwrap();
        assert_eq!(r.api.as_str(), "https://127.0.0.1:8443/api/strongroom/v1/");
        assert!(!format!("{r:?}").contains("pw-in-debug?"));
    }
}
