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

/// The middleware for one face; `face` names it in each event.
pub async fn record(
    State((app, face)): State<(AppState, &'static str)>,
    mut req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let actor = AuditActor::default();
    req.extensions_mut().insert(actor.clone());
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str())
            .unwrap_or("(no route)")
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
        face: face.to_owned(),
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
