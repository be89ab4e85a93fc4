//! A typed client of a running server's own API (`/api/strongroom/v1`, see
//! `docs/admin-api.md`): HTTPS pinned to one certificate, HTTP Basic credentials, JSON, and
//! the `{"message": ...}` errors of the NetHSM conventions that API follows.
//!
//! The server's certificate is self-signed, so there is no CA to verify it against: the
//! operator gives the SHA-256 fingerprint the server printed at start
//! (`certificate SHA-256 fingerprint AA:BB:...`) and exactly that certificate is trusted.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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

/// A backup client, as `GET /clients/{id}` returns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupClient {
    pub id: u64,
    pub name: String,
    pub host_name: String,
    pub display_name: String,
    pub owners: Vec<String>,
    pub passkey: Passkey,
}

/// Whether the client's passkey is set, and until when it is authorized (RFC 3339).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Passkey {
    pub enabled: bool,
    pub authorized_until: Option<String>,
}

/// `GET /clients`.
#[derive(Debug, Deserialize)]
pub struct ClientList {
    pub clients: Vec<BackupClient>,
}

/// `POST /clients`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewClient {
    pub name: String,
    pub host_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
}

/// `PATCH /clients/{id}`: only the fields given change.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `PUT /clients/{id}/owners`.
#[derive(Debug, Serialize)]
pub struct ClientOwners {
    pub owners: Vec<String>,
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
            "{}/api/strongroom/v1/",
            base.path().trim_end_matches('/')
        ));
        api.set_query(None);
        api.set_fragment(None);
        Ok(Remote {
            http: pinned_client(parse_fingerprint(fingerprint)?)?,
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
        changes: &ClientChanges,
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
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
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

/// Parses a SHA-256 fingerprint: 32 bytes of hex, in pairs separated by colons (as the
/// server and `openssl x509 -fingerprint -sha256` print it) or not separated at all.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], RemoteError> {
    let bad = || {
        RemoteError::Setup(format!(
            "fingerprint {text:?}: expected the 32-byte SHA-256 the server printed, \
             as AA:BB:... hex pairs"
        ))
    };
    let text = text.trim();
    let hex: String = if text.contains(':') {
        let pairs: Vec<&str> = text.split(':').collect();
        if pairs.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        pairs.concat()
    } else {
        text.to_owned()
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// `bytes` as upper-case hex pairs joined by colons, the form the server prints.
pub fn format_fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An HTTPS-only client that trusts exactly the certificate whose DER has this SHA-256.
fn pinned_client(fingerprint: [u8; 32]) -> Result<reqwest::Client, RemoteError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedCert {
        fingerprint,
        provider: provider.clone(),
    });
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RemoteError::Setup(format!("TLS setup: {e}")))?
        // "Dangerous" only in that it replaces CA verification: the pinned certificate is the
        // sole trust anchor, and handshake signatures are still verified against it.
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        // The API answers in place; a redirect would only send the credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("strongroom/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RemoteError::Setup(format!("HTTP client setup: {}", error_chain(&e))))
}

/// Trusts one certificate, named by the SHA-256 of its DER, whatever name or dates it has: the
/// server's certificate is self-signed, and pinning it is how clients trust it
/// (ARCHITECTURE.md, security model).
#[derive(Debug)]
struct PinnedCert {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, end_entity);
        if seen.as_ref() == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate {} is not the pinned one {}",
                format_fingerprint(seen.as_ref()),
                format_fingerprint(&self.fingerprint)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:\
                      00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

    #[test]
    fn fingerprint_round_trips_in_the_printed_form() {
        let bytes = parse_fingerprint(FP).unwrap();
        assert_eq!(format_fingerprint(&bytes), FP);
        assert_eq!(parse_fingerprint(&FP.to_lowercase()).unwrap(), bytes);
        assert_eq!(parse_fingerprint(&FP.replace(':', "")).unwrap(), bytes);
    }

    #[test]
    fn fingerprint_of_the_wrong_length_or_shape_is_refused() {
        assert!(parse_fingerprint(&FP[3..]).is_err());
        assert!(parse_fingerprint(&format!("{FP}:00")).is_err());
        assert!(parse_fingerprint(&FP.replacen(":", "", 1)).is_err());
        assert!(parse_fingerprint(&FP.replace("FF", "FG")).is_err());
        assert!(parse_fingerprint("").is_err());
    }

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
