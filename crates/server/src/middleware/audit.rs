//! Writes an audit event for every state-changing request (any method but GET, HEAD and
//! OPTIONS) of a face, whatever its outcome. The face's authentication fills in the actor
//! through [`AuditActor`], a slot this middleware puts in the request's extensions.

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use strongroom_core::audit::NewAuditEvent;

use super::request_id::OpId;
use crate::app::AppState;

/// Who made the request, as far as authentication got: the authenticated user, or the user id
/// the credentials claimed.
#[derive(Clone, Default)]
pub struct AuditActor(Arc<Mutex<Option<String>>>);

impl AuditActor {
    pub fn set(&self, user_id: &str) {
        // A claimed id is attacker-controlled: keep it short enough for a log entry.
        let bounded: String = user_id.chars().take(128).collect();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(bounded);
    }

    fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How an HTTP status reads in the trail.
fn outcome(status: u16) -> &'static str {
    match status {
        200..=399 => "success",
        401 | 403 | 429 => "denied",
        400..=499 => "refused",
        _ => "error",
    }
}

/// A face, as the audit trail names it, and its routes that change nothing although their
/// method is not GET (`POST /random` reads random bytes; auditing each would also cost a
/// store write per read).
#[derive(Clone, Copy)]
pub struct Face {
    name: &'static str,
    read_only: &'static [&'static str],
}

impl Face {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            read_only: &[],
        }
    }

    /// Route templates (relative to the face's base path) that are not state changes.
    pub const fn read_only(mut self, routes: &'static [&'static str]) -> Self {
        self.read_only = routes;
        self
    }
}

/// The middleware for one face.
pub async fn record(
    State((app, face)): State<(AppState, Face)>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let read_only = route
        .as_deref()
        .is_some_and(|r| face.read_only.iter().any(|ro| r.ends_with(ro)));
    if read_only || matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let actor = AuditActor::default();
    req.extensions_mut().insert(actor.clone());
    let action = format!(
        "{} {}",
        req.method(),
        route.as_deref().unwrap_or("(no route)")
    );
    // Inside a face the URI has lost the face's base path; the original has it.
    let target = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let request_id = req
        .extensions()
        .get::<OpId>()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let event = NewAuditEvent {
        actor: actor.get(),
        face: face.name.to_owned(),
        action,
        target,
        outcome: outcome(status).to_owned(),
        status,
        request_id,
    };
    let _ = app
        .run(move |core| {
            core.record_audit(event);
            Ok(())
        })
        .await;
    response
}
