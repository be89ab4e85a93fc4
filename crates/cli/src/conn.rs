//! The options every client subcommand shares (server, user, trust, output), resolved from
//! flags, then environment variables, then the profile; the TLS trust they name; and the
//! HTTP calls, whose failures become [`Failure`]s with the server's message.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use rustls::pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zeroize::Zeroizing;

use strongroom_client::admin::RemoteError;

use crate::fail::{Exit, Failure};
use crate::profile::{DEFAULT_PROFILE, Profile, Profiles};
use crate::secret;

/// The server when neither a flag, the environment nor a profile names one.
pub const DEFAULT_SERVER: &str = "https://127.0.0.1:8443";

/// Connection, login and output options; accepted before or after the subcommand.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Connection")]
pub struct Opts {
    /// The profile to use (see `strongroom profile list`) [default: the one named "default",
    /// if there is one].
    #[arg(long, env = "STRONGROOM_PROFILE", global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The server, https://HOST:PORT [default: the profile's, else https://127.0.0.1:8443].
    #[arg(long, env = "STRONGROOM_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// The user to log in as [default: the profile's, else admin].
    #[arg(long, env = "STRONGROOM_USER", global = true, value_name = "USER")]
    pub user: Option<String>,
    /// Trust only the certificate with this SHA-256 fingerprint: AA:BB:... as the server
    /// prints it, or sha256:<hex> as signstar writes pins.
    #[arg(
        long,
        env = "STRONGROOM_FINGERPRINT",
        global = true,
        value_name = "FP",
        conflicts_with = "ca_file"
    )]
    pub fingerprint: Option<String>,
    /// Trust certificates issued by the CA certificates in this PEM file instead of a pin.
    #[arg(long, env = "STRONGROOM_CA_FILE", global = true, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Accept ANY certificate: anyone between you and the server can read and change what is
    /// sent, passphrases included. For a throw-away lab only; prints a warning.
    #[arg(long, global = true, conflicts_with_all = ["fingerprint", "ca_file"])]
    pub insecure_accept_any_certificate: bool,
    /// Read the login password from this file (mode 0600 or stricter) instead of
    /// STRONGROOM_PASSWORD or a prompt.
    #[arg(long, global = true, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Print JSON with stable field names instead of text for people.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
}

/// How the server's certificate is checked.
#[derive(Clone, Debug)]
pub enum Trust {
    Fingerprint(String),
    CaFile(PathBuf),
    Insecure,
}

/// The options resolved against the profile.
#[derive(Debug)]
pub struct Target {
    pub server: String,
    pub user: String,
    pub trust: Trust,
    pub password_file: Option<PathBuf>,
}

impl Opts {
    /// Server, user and trust: the flag or environment variable, else the profile, else the
    /// default. No trust at all is a usage failure: there is no accept-any default.
    pub fn target(&self) -> Result<Target, anyhow::Error> {
        let profile = self.profile()?;
        let server = (self.server.clone())
            .or_else(|| profile.as_ref().map(|p| p.server.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let user = (self.user.clone())
            .or_else(|| profile.as_ref().and_then(|p| p.user.clone()))
            .unwrap_or_else(|| "admin".to_owned());
        let trust = if self.insecure_accept_any_certificate {
            Trust::Insecure
        } else if let Some(fp) = &self.fingerprint {
            Trust::Fingerprint(fp.clone())
        } else if let Some(ca) = &self.ca_file {
            Trust::CaFile(ca.clone())
        } else if let Some(fp) = profile.as_ref().and_then(|p| p.fingerprint.clone()) {
            Trust::Fingerprint(fp)
        } else if let Some(ca) = profile.as_ref().and_then(|p| p.ca_file.clone()) {
            Trust::CaFile(ca)
        } else {
            return Err(Failure::usage(format!(
                "no way to trust the server {server}: no fingerprint and no CA file"
            ))
            .hint(
                "pin it once with `strongroom profile add NAME --server URL`, or pass \
                 --fingerprint FP / set STRONGROOM_FINGERPRINT (the `certificate SHA-256 \
                 fingerprint` line the server printed at start)",
            )
            .into());
        };
        Ok(Target {
            server,
            user,
            trust,
            password_file: self.password_file.clone(),
        })
    }

    /// The profile named by `--profile`/STRONGROOM_PROFILE (which must exist), else the
    /// "default" one if there is one.
    fn profile(&self) -> anyhow::Result<Option<Profile>> {
        let profiles = Profiles::load()?;
        match &self.profile {
            Some(name) => Ok(Some(profiles.get(name)?.clone())),
            None => Ok(profiles.profiles.get(DEFAULT_PROFILE).cloned()),
        }
    }

    /// A connection to the NetHSM face of the server these options name.
    pub fn api(&self) -> anyhow::Result<Api> {
        let target = self.target()?;
        Api::new(target)
    }
}

/// A connection to one server's NetHSM face (`/api/v1`), logging in lazily: the password is
/// asked for (or read) only by the first call that needs it.
pub struct Api {
    http: reqwest::Client,
    pub target: Target,
    /// `https://HOST:PORT`, where every face is mounted.
    root: String,
    base: String,
    password: Mutex<Option<Zeroizing<String>>>,
    pub runtime: tokio::runtime::Runtime,
}

impl Api {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let base = check_server(&target.server)?;
        let tls = tls_config(&target.trust, None)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            // The API answers in place; a redirect would only send the credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("strongroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Api {
            http,
            target,
            root: base.clone(),
            base: format!("{base}/api/v1"),
            password: Mutex::new(None),
            runtime,
        })
    }

    /// A request to `path` of the NetHSM face, without credentials.
    pub fn public(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request to `path` as the login user, the password read now if not yet.
    pub fn authed(&self, method: Method, path: &str) -> anyhow::Result<RequestBuilder> {
        let password = self.password()?;
        Ok(self
            .public(method, path)
            .basic_auth(&self.target.user, Some(&*password)))
    }

    /// A request to `path` from the server's root (another face: `/api/strongroom/v1/...`),
    /// without credentials.
    pub fn at_root(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.root))
    }

    /// [`Api::at_root`] as the login user (HTTP Basic).
    pub fn authed_at_root(&self, method: Method, path: &str) -> anyhow::Result<RequestBuilder> {
        let password = self.password()?;
        Ok(self
            .at_root(method, path)
            .basic_auth(&self.target.user, Some(&*password)))
    }

    /// The login user's password: read (file, environment or prompt) by the first call only.
    pub fn password(&self) -> anyhow::Result<Zeroizing<String>> {
        let mut cached = self.password.lock().expect("not poisoned");
        if cached.is_none() {
            *cached = Some(secret::read(
                &secret::Source {
                    what: &format!("password of {}", self.target.user),
                    env: secret::PASSWORD_ENV,
                    file: self.target.password_file.as_deref(),
                    flag: "--password-file",
                },
                false,
            )?);
        }
        Ok(cached.clone().expect("just set"))
    }

    /// Sends a request; a 2xx answer is returned, anything else becomes a [`Failure`] that
    /// says what `what` was, the server's message and what to do next.
    pub async fn send(&self, req: RequestBuilder, what: &str) -> anyhow::Result<Response> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(api_failure(what, status, &body, &self.target.user).into())
    }

    /// Sends a request and reads a JSON answer.
    pub async fn json(&self, req: RequestBuilder, what: &str) -> anyhow::Result<serde_json::Value> {
        let req = req.header(reqwest::header::ACCEPT, "application/json");
        let resp = self.send(req, what).await?;
        let text = resp.text().await.map_err(|e| self.transport(e))?;
        serde_json::from_str(&text)
            .with_context(|| format!("the server's answer to {what} is not JSON: {text:?}"))
    }

    /// A failure to get an answer: unreachable, or a certificate that is not the trusted one.
    pub fn transport(&self, e: reqwest::Error) -> anyhow::Error {
        transport_failure(&self.target.server, &error_chain(&e)).into()
    }
}

/// The failure for no answer from `server`, `chain` being the error and its causes: a
/// certificate that is not the pinned one, one that cannot be trusted, or no connection.
pub fn transport_failure(server: &str, chain: &str) -> Failure {
    if chain.contains("is not the pinned one") {
        Failure::new(
            Exit::Connect,
            format!("refusing to talk to {server}: {chain}"),
        )
        .hint(
            "the server's certificate is not the one trusted: someone may be in between, \
                 or the certificate was replaced; check the `certificate SHA-256 fingerprint` \
                 the server prints, then pin the new one (`strongroom profile add` or \
                 --fingerprint)",
        )
    } else if chain.contains("certificate") || chain.contains("Certificate") {
        Failure::new(Exit::Connect, format!("cannot trust {server}: {chain}"))
            .hint("check --ca-file, or pin the certificate's fingerprint instead")
    } else {
        Failure::new(Exit::Connect, format!("cannot reach {server}: {chain}"))
            .hint("check the address and port, and that the server is running")
    }
}

/// The failure for a call of the `strongroom_client` library (`client` and `system`), in the
/// same codes and sentences as the calls made here: `what` names the call, as for [`Api::send`].
pub fn remote_failure(e: RemoteError, what: &str, server: &str, user: &str) -> Failure {
    match e {
        RemoteError::Api { status, message } => status_failure(what, status, &message, user),
        RemoteError::Transport { cause } => transport_failure(server, &cause),
        RemoteError::Setup(text) => Failure::usage(text),
        RemoteError::Decode { .. } => Failure::new(Exit::Other, e.to_string()),
    }
}

/// The base URL, checked: https only, a host, no path beyond `/`.
pub fn check_server(server: &str) -> Result<String, Failure> {
    let url = reqwest::Url::parse(server)
        .map_err(|e| Failure::usage(format!("server address {server:?}: {e}")))?;
    if url.scheme() != "https" {
        return Err(Failure::usage(format!(
            "server address {server:?}: only https:// is supported"
        )));
    }
    if url.host().is_none() {
        return Err(Failure::usage(format!(
            "server address {server:?}: expected https://HOST:PORT"
        )));
    }
    Ok(server.trim_end_matches('/').to_owned())
}

/// The failure for an error answer, by status; the server's `message` kept word for word.
pub fn api_failure(what: &str, status: StatusCode, body: &str, user: &str) -> Failure {
    let message = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if v["message"].is_string() => v["message"].as_str().unwrap_or("").to_owned(),
        // The backup-client face's error shapes.
        Ok(v) if v["errorMessage"].is_string() => {
            v["errorMessage"].as_str().unwrap_or("").to_owned()
        }
        Ok(v) if v["errList"][0]["errLogMessage"].is_string() => {
            (v["errList"][0]["errLogMessage"].as_str().unwrap_or("")).to_owned()
        }
        _ if !body.trim().is_empty() => body.trim().to_owned(),
        _ => status.canonical_reason().unwrap_or("no message").to_owned(),
    };
    status_failure(what, status, &message, user)
}

/// The failure for an error answer whose message is already read, by status.
pub fn status_failure(what: &str, status: StatusCode, message: &str, user: &str) -> Failure {
    let text = format!("{what} failed: {message} (HTTP {status})");
    let (exit, hint) = match status.as_u16() {
        401 => (
            Exit::Auth,
            format!(
                "check the user ({user}) and its password (--password-file, \
                 STRONGROOM_PASSWORD or the prompt)"
            ),
        ),
        429 => (
            Exit::Auth,
            "too many failed attempts: wait a moment before trying again".to_owned(),
        ),
        403 => (
            Exit::Refused,
            format!(
                "the user {user} may not do this: log in as a user with the needed role (--user)"
            ),
        ),
        412 => (
            Exit::Refused,
            "the server is not in the state this needs: see `strongroom state`".to_owned(),
        ),
        400 | 413 | 415 | 422 => (
            Exit::Refused,
            "the server refused the input: see its message above".to_owned(),
        ),
        404 => (
            Exit::NotFound,
            "check the name or id (a list command shows what exists)".to_owned(),
        ),
        409 => (
            Exit::Conflict,
            "it exists already: pick another name, or delete the old one first".to_owned(),
        ),
        500..=599 => (
            Exit::Server,
            "the server failed: try again, and see its log if it persists".to_owned(),
        ),
        _ => (Exit::Other, "see the server's message above".to_owned()),
    };
    let mut f = Failure::new(exit, text).hint(hint);
    f.status = Some(status.as_u16());
    f
}

/// `e` and its causes, joined with `: ` (reqwest's Display stops at the first level and would
/// hide, say, the pinning failure).
pub fn error_chain(e: &dyn std::error::Error) -> String {
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

/// The TLS configuration for `trust`. `seen`, if given, receives the DER of the certificate
/// the server presents (for `profile add`, which shows it before it is trusted).
pub fn tls_config(
    trust: &Trust,
    seen: Option<Arc<Mutex<Option<Vec<u8>>>>>,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    match trust {
        Trust::Fingerprint(fp) => strongroom_client::pin::pinned_tls(fp).map_err(|e| {
            Failure::usage(e.to_string())
                .hint("give the fingerprint as AA:BB:... (64 hex digits) or sha256:<hex>")
                .into()
        }),
        Trust::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|i| i.collect())
                .map_err(|e| {
                    Failure::usage(format!("CA file {}: {e}", path.display()))
                        .hint("it must be a PEM file of CA certificates")
                })?;
            if certs.is_empty() {
                return Err(Failure::usage(format!(
                    "CA file {} holds no certificate",
                    path.display()
                ))
                .into());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("CA file {}", path.display()))?;
            }
            Ok(rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("aws-lc-rs supports the default versions")
                .with_root_certificates(roots)
                .with_no_client_auth())
        }
        Trust::Insecure => {
            if seen.is_none() {
                eprintln!(
                    "WARNING: --insecure-accept-any-certificate: the server's certificate is \
                     NOT checked; anyone on the path can read and change what is sent, \
                     passphrases included"
                );
            }
            // Deliberately unverified: asked for by name, or for `profile add` to show the
            // certificate before anything but a public request is sent.
            Ok(strongroom_client::pin::end_entity_tls(move |der| {
                if let Some(seen) = &seen {
                    *seen.lock().expect("not poisoned") = Some(der.to_vec());
                }
                Ok(())
            }))
        }
    }
}

/// Whether to colour: stdout is a terminal and NO_COLOR is unset or empty.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in the ANSI colour `code` when colouring.
pub fn paint(text: &str, code: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_librarys_errors_get_the_same_codes_and_sentences() {
        let server = "https://hsm.example:8443";
        let api = RemoteError::Api {
            status: StatusCode::CONFLICT,
            message: "A client of that name exists.".into(),
        };
        let f = remote_failure(api, "creating a backup client", server, "admin");
        let same = status_failure(
            "creating a backup client",
            StatusCode::CONFLICT,
            "A client of that name exists.",
            "admin",
        );
        assert_eq!(
            (f.exit, &f.message, &f.hint),
            (Exit::Conflict, &same.message, &same.hint)
        );
        assert_eq!(f.status, Some(409));
        let pin = RemoteError::Transport {
            cause: "error sending request: the server's certificate AA is not the pinned one BB"
                .into(),
        };
        let f = remote_failure(pin, "listing", server, "admin");
        assert_eq!(f.exit, Exit::Connect);
        assert!(
            f.message
                .starts_with("refusing to talk to https://hsm.example:8443: ")
        );
        let down = RemoteError::Transport {
            cause: "error sending request: Connection refused".into(),
        };
        let f = remote_failure(down, "listing", server, "admin");
        assert_eq!(f.exit, Exit::Connect);
        assert!(
            f.message
                .starts_with("cannot reach https://hsm.example:8443: ")
        );
        let setup = RemoteError::Setup("server address \"http://x\": only https://".into());
        assert_eq!(
            remote_failure(setup, "x", server, "admin").exit,
            Exit::Usage
        );
        let decode = RemoteError::Decode {
            what: "GET clients".into(),
            cause: "expected value".into(),
        };
        assert_eq!(
            remote_failure(decode, "x", server, "admin").exit,
            Exit::Other
        );
    }

    #[test]
    fn each_refusal_has_its_exit_code_and_keeps_the_servers_message() {
        for (status, exit) in [
            (401, Exit::Auth),
            (429, Exit::Auth),
            (403, Exit::Refused),
            (412, Exit::Refused),
            (400, Exit::Refused),
            (404, Exit::NotFound),
            (409, Exit::Conflict),
            (500, Exit::Server),
            (503, Exit::Server),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            let f = api_failure("doing it", status, r#"{"message":"The reason."}"#, "op1");
            assert_eq!(f.exit, exit, "{status}");
            assert_eq!(f.status, Some(status.as_u16()));
            assert_eq!(
                f.message,
                format!("doing it failed: The reason. (HTTP {status})")
            );
            assert!(f.hint.is_some());
        }
        let f = api_failure("x", StatusCode::NOT_FOUND, "", "u");
        assert_eq!(f.message, "x failed: Not Found (HTTP 404 Not Found)");
        let f = api_failure("x", StatusCode::FORBIDDEN, "", "op1");
        assert!(f.hint.unwrap().contains("op1"));
        // The backup-client face's shapes: its errors, and a failed login's errList.
        let f = api_failure(
            "x",
            StatusCode::BAD_REQUEST,
            r#"{"errorCode": 587204625, "errorMessage": "malformed JSON"}"#,
            "u",
        );
        assert_eq!(f.message, "x failed: malformed JSON (HTTP 400 Bad Request)");
        let f = api_failure(
            "x",
            StatusCode::UNAUTHORIZED,
            r#"{"errList": [{"errLogMessage": "Invalid username or password.", "errorCode": 587204621}]}"#,
            "u",
        );
        assert_eq!(
            f.message,
            "x failed: Invalid username or password. (HTTP 401 Unauthorized)"
        );
    }

    #[test]
    fn only_https_servers_with_a_host_are_accepted() {
        assert_eq!(
            check_server("https://h.example:8443/").unwrap(),
            "https://h.example:8443"
        );
        for bad in ["http://h:8443", "h:8443", "https://", "not a url"] {
            assert_eq!(check_server(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }
}
