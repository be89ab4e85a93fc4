//! Authentication shared by every face: credentials in, core [`Principal`] out, with the
//! failure rate limit and the audit actor applied on the way.
//!
//! This is the one place a face turns a request's credentials into a caller; faces only
//! render the outcome in their own error shape.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use strongroom_core::crypto;
use strongroom_core::identity::{Principal, UserId};
use strongroom_core::secret::Passphrase;
use strongroom_core::{Error, Result};

use crate::app::AppState;
use crate::middleware::audit::AuditActor;
use crate::rate_limit::Turn;

/// Credentials from an HTTP Basic `Authorization` header.
#[derive(Debug)]
pub struct BasicCredentials {
    pub user_id: String,
    pub passphrase: Passphrase,
}

/// Parses `Authorization: Basic base64(user:passphrase)`; `None` if absent or malformed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<BasicCredentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    );
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user_id, passphrase) = text.split_once(':')?;
    Some(BasicCredentials {
        user_id: user_id.to_owned(),
        passphrase: Passphrase::new(passphrase),
    })
}

/// The client's address (unspecified when the server was not given connection info, as in
/// router tests without a socket).
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Where a request comes from, for rate limits and the audit trail: what authentication
/// needs of the request besides the credentials. An extractor, so handlers that read
/// credentials from the body (the backup-client login) can have it too.
#[derive(Clone)]
pub struct RequestOrigin {
    pub ip: IpAddr,
    actor: Option<AuditActor>,
}

impl RequestOrigin {
    pub fn of(parts: &Parts) -> Self {
        Self {
            ip: client_ip(parts),
            actor: parts.extensions.get::<AuditActor>().cloned(),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// The outcome of a password check, as shared with requests that carried the same
/// credentials while it ran.
pub type SharedAuth = std::result::Result<Principal, SharedAuthError>;

#[derive(Debug, Clone, Copy)]
pub enum SharedAuthError {
    Unauthenticated,
    WrongState(strongroom_core::SystemState),
    /// Busy, or anything else: the sharer may simply try again.
    Busy,
}

impl From<&Error> for SharedAuthError {
    fn from(e: &Error) -> Self {
        match e {
            Error::Unauthenticated => Self::Unauthenticated,
            Error::WrongState(s) => Self::WrongState(*s),
            _ => Self::Busy,
        }
    }
}

impl From<SharedAuthError> for Error {
    fn from(e: SharedAuthError) -> Self {
        match e {
            SharedAuthError::Unauthenticated => Error::Unauthenticated,
            SharedAuthError::WrongState(s) => Error::WrongState(s),
            SharedAuthError::Busy => Error::Busy,
        }
    }
}

/// Authenticates a user id and passphrase from any face.
///
/// In order: an id no user can have is refused at once (it costs no check and leaves no
/// trace in memory); within a second of a failure for the same (address, user) the answer is
/// `RateLimited` without a check; a recent success is answered from the cache; while a check
/// for the same (address, user) is in flight, one with the same credentials shares its
/// outcome and one with others is `RateLimited`; a check beyond the Argon2 gate's queue is
/// `Busy`. A failure starts the second.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    state: &AppState,
    origin: &RequestOrigin,
    user_id: String,
    passphrase: Passphrase,
) -> Result<Principal> {
    if let Some(actor) = &origin.actor {
        actor.set(&user_id);
    }
    if UserId::parse(&user_id).is_err() {
        state.metrics.inc("auth_failures_total", &[]);
        return Err(Error::Unauthenticated);
    }
    let ip = origin.ip;
    if state.auth_limiter.is_limited(ip, &user_id) {
        return Err(rate_limited(state, "authentication"));
    }
    if let Some(principal) = state
        .core
        .authenticate_cached(&user_id, passphrase.as_bytes())
    {
        return authenticated(origin, principal);
    }
    let credentials = state
        .core
        .credentials_digest(&user_id, passphrase.as_bytes());
    let attempt = match state.auth_limiter.begin(ip, &user_id, Some(credentials)) {
        Turn::Mine(attempt) => attempt,
        Turn::Shared(outcome) => {
            return match Turn::shared(outcome).await {
                Some(Ok(principal)) => authenticated(origin, principal),
                Some(Err(e)) => Err(e.into()),
                None => Err(Error::Busy),
            };
        }
        Turn::Refused => return Err(rate_limited(state, "authentication")),
    };
    let admission = match crypto::admit() {
        Ok(a) => a,
        Err(e) => {
            state
                .metrics
                .inc("busy_total", &[("what", "authentication")]);
            return Err(e);
        }
    };
    state.metrics.inc("password_checks_total", &[]);
    let id = user_id.clone();
    let metrics = state.metrics.clone();
    // The outcome is recorded on the blocking thread, so a client that hangs up before the
    // answer still has its failure counted.
    let result = state
        .run(move |core| {
            let result = core.authenticate_admitted(admission, &id, passphrase.as_bytes());
            let failed = matches!(result, Err(Error::Unauthenticated));
            if failed {
                metrics.inc("auth_failures_total", &[]);
            }
            attempt.finish(
                result
                    .as_ref()
                    .map(Clone::clone)
                    .map_err(SharedAuthError::from),
                failed,
            );
            result
        })
        .await;
    authenticated(origin, result?)
}

fn rate_limited(state: &AppState, what: &'static str) -> Error {
    state.metrics.inc("rate_limited_total", &[("what", what)]);
    Error::RateLimited
}

/// Marks the request's audit actor as authenticated.
fn authenticated(origin: &RequestOrigin, principal: Principal) -> Result<Principal> {
    if let Some(actor) = &origin.actor {
        actor.authenticated(&principal.user_id);
    }
    Ok(principal)
}

/// Authenticates the request's HTTP Basic credentials. Missing or malformed credentials are
/// `Unauthenticated`, like wrong ones (but, naming no user, start no rate limit).
pub async fn authenticate_basic(state: &AppState, parts: &Parts) -> Result<Principal> {
    let Some(creds) = basic_credentials(&parts.headers) else {
        // The web console's session cookie stands for the same principal (docs/console.md).
        return match crate::console::session::cookie_principal(state, parts) {
            Some(result) => result.map(|(principal, _)| principal),
            None => Err(Error::Unauthenticated),
        };
    };
    authenticate(
        state,
        &RequestOrigin::of(parts),
        creds.user_id,
        creds.passphrase,
    )
    .await
}

/// Unlocks the node, one failed attempt per second per client address, one attempt in flight
/// per address.
#[tracing::instrument(skip_all)]
pub async fn unlock(state: &AppState, ip: IpAddr, passphrase: Passphrase) -> Result<()> {
    let attempt = match state.unlock_limiter.begin(ip, "", None) {
        Turn::Mine(attempt) => attempt,
        Turn::Shared(_) | Turn::Refused => return Err(rate_limited(state, "unlock")),
    };
    state
        .run(move |core| {
            let result = core.unlock(&passphrase);
            attempt.finish((), matches!(result, Err(Error::WrongUnlockPassphrase)));
            result
        })
        .await
}

/// The secret a change checks before it is made, for [`check_current`]; each is limited
/// apart, per client address.
pub enum CurrentSecret<'a> {
    /// The unlock passphrase (NetHSM `PUT /config/unlock-passphrase`).
    UnlockPassphrase,
    /// The backup passphrase (NetHSM `PUT /config/backup-passphrase`).
    BackupPassphrase,
    /// A user's own password (the appliance's password change).
    Password(&'a str),
}

/// Runs a change that first checks a current passphrase or password, under the failure
/// limit: after a wrong one (`WrongPassphrase`), further changes of the same secret from the
/// same address within a second are `RateLimited` without a check, and only one check per
/// (address, secret) is in flight at once. Callers check what the request's body must look
/// like first, so a malformed request is answered as such rather than limited.
pub async fn check_current<T, F>(
    state: &AppState,
    origin: &RequestOrigin,
    secret: CurrentSecret<'_>,
    change: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&strongroom_core::Core) -> Result<T> + Send + 'static,
{
    let key = match secret {
        CurrentSecret::UnlockPassphrase => "unlock passphrase".to_owned(),
        CurrentSecret::BackupPassphrase => "backup passphrase".to_owned(),
        CurrentSecret::Password(user_id) => format!("password {user_id}"),
    };
    let attempt = match state.change_limiter.begin(origin.ip, &key, None) {
        Turn::Mine(attempt) => attempt,
        Turn::Shared(_) | Turn::Refused => return Err(rate_limited(state, "current passphrase")),
    };
    state
        .run(move |core| {
            let result = change(core);
            attempt.finish((), matches!(result, Err(Error::WrongPassphrase(_))));
            result
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_util::one_header;

    fn header(v: &str) -> HeaderMap {
        one_header(header::AUTHORIZATION, v)
    }

    #[test]
    fn parses_basic() {
        // admin:pass:with:colons
        let c = basic_credentials(&header("Basic YWRtaW46cGFzczp3aXRoOmNvbG9ucw==")).unwrap();
        assert_eq!(c.user_id, "admin");
        assert_eq!(c.passphrase.expose(), "pass:with:colons");
        assert!(!format!("{c:?}").contains("colons"));
        assert!(basic_credentials(&header("Bearer abc")).is_none());
        assert!(basic_credentials(&header("Basic !!!")).is_none());
        assert!(basic_credentials(&header("Basic YWRtaW4=")).is_none()); // no colon
        assert!(basic_credentials(&HeaderMap::new()).is_none());
    }
}
