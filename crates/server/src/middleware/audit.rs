//! Records state-changing requests (any method but GET, HEAD and OPTIONS, to a route of a
//! face) in the audit trail, as the core's audit policy says (`strongroom_core::audit`):
//! a success in the same store transaction as its change, through the request's
//! [`RequestAudit`] context, which [`crate::app::AppState::run`] installs on the thread of
//! each core call; anything else once the answer is known. Requests to unknown paths are not
//! recorded. The face's authentication names the caller through [`AuditActor`], a handle
//! this middleware puts in the request's extensions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, MatchedPath, OriginalUri, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use strongroom_core::audit::{Caller, NewAuditEvent, RequestAudit};

use super::request_id::OpId;
use crate::app::AppState;
use crate::face::Face;

tokio::task_local! {
    /// The audit context of the request the current task serves.
    static CURRENT: Arc<RequestAudit>;
}

/// The audit context of the request being served by this task, if it is audited.
pub fn current() -> Option<Arc<RequestAudit>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Who made the request, as far as authentication got: the user id the credentials claimed,
/// and whether they verified.
#[derive(Clone)]
pub struct AuditActor {
    ctx: Arc<RequestAudit>,
    authenticated: Arc<Mutex<bool>>,
}

impl AuditActor {
    /// The id the request claims to act as (not verified yet).
    pub fn set(&self, user_id: &str) {
        self.ctx.set_actor(user_id);
    }

    /// The caller whose credentials verified.
    pub fn authenticated(&self, user_id: &str) {
        self.ctx.set_actor(user_id);
        *self.authenticated.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    fn caller(&self) -> Caller {
        if *self.authenticated.lock().unwrap_or_else(|e| e.into_inner()) {
            Caller::Authenticated
        } else {
            Caller::Unauthenticated
        }
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

/// A face as its audit layer sees it: its name in the trail ([`Face::name`]), and its routes
/// that change nothing although their method is not GET (`POST /random` reads random bytes;
/// auditing each would also cost a store write per read).
#[derive(Clone, Copy)]
pub struct FaceAudit {
    /// The name in the trail's `face` field.
    name: &'static str,
    read_only: &'static [&'static str],
    refusals_only: &'static [&'static str],
}

impl FaceAudit {
    pub const fn new(face: Face) -> Self {
        Self::named(face.name())
    }

    /// What is audited like a face without being one (the web console's sign-in, `console`).
    pub const fn named(name: &'static str) -> Self {
        Self {
            name,
            read_only: &[],
            refusals_only: &[],
        }
    }

    /// Route templates (relative to the face's base path) that are not state changes.
    pub const fn read_only(mut self, routes: &'static [&'static str]) -> Self {
        self.read_only = routes;
        self
    }

    /// Route templates whose successes change nothing and come too often to cost a store
    /// write each (a key's sign, decrypt, encrypt: the metrics and the key's `operations`
    /// count them): only their refusals and failures are recorded.
    pub const fn refusals_only(mut self, routes: &'static [&'static str]) -> Self {
        self.refusals_only = routes;
        self
    }
}

/// The middleware for one face.
pub async fn record(
    State((app, face)): State<(AppState, FaceAudit)>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        // An unknown path changes nothing, and is not worth a record.
        return next.run(req).await;
    };
    let read_only = face.read_only.iter().any(|ro| route.ends_with(ro));
    let refusals_only = face.refusals_only.iter().any(|r| route.ends_with(r));
    if read_only || matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
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
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "(unknown)".into());
    let ctx = RequestAudit::new(NewAuditEvent {
        actor: None,
        face: face.name.to_owned(),
        action: format!("{} {route}", req.method()),
        target,
        outcome: String::new(),
        status: None,
        request_id,
    });
    let actor = AuditActor {
        ctx: ctx.clone(),
        authenticated: Arc::default(),
    };
    req.extensions_mut().insert(actor.clone());
    let response = CURRENT.scope(ctx.clone(), next.run(req)).await;
    let status = response.status().as_u16();
    let outcome = outcome(status);
    if (ctx.written() || refusals_only) && outcome == "success" {
        return response;
    }
    // Not written with a change (or written, and the answer still says otherwise: then this
    // second event tells how the request really ended).
    let mut event = ctx.event();
    event.outcome = outcome.to_owned();
    event.status = Some(status);
    let caller = actor.caller();
    let _ = app
        .run_unaudited(move |core| {
            core.record_request(event, caller, &client);
            Ok(())
        })
        .await;
    response
}
