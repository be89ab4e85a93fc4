//! The web console at `/console/` (see `docs/console.md`): its built assets, embedded in the
//! binary at build time (`build.rs`), served with a strict Content-Security-Policy; and the
//! console's sign-in, which opens a core session ([`SessionKind::Console`]) carried by a
//! cookie. The console has no API of its own besides its session: every page calls the faces'
//! routes, whose extractors accept the cookie as they accept their own credentials
//! ([`session::cookie_principal`]), with the same handlers and the same role rules.
//!
//! [`SessionKind::Console`]: strongroom_core::sessions::SessionKind::Console

pub mod session;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::app::AppState;

/// Where the console is mounted.
pub const BASE: &str = "/console";

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// The console's built files (`console/dist/`), by path relative to it.
fn asset(path: &str) -> Option<&'static [u8]> {
    embedded::ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

/// Scripts and styles only from the console's own files: no inline script or style, nothing
/// from another origin, no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A built file. Files under `assets/` carry a hash of their content in their name (Vite), so
/// they never change: cached for a year. Anything else (the page itself) is revalidated on
/// every load, so a new build is picked up at once.
fn serve_file(path: &str) -> Response {
    let Some(bytes) = asset(path) else {
        return (StatusCode::NOT_FOUND, "Not found.").into_response();
    };
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}

async fn index_get() -> Response {
    serve_file("index.html")
}

async fn asset_get(Path(file): Path<String>) -> Response {
    serve_file(&format!("assets/{file}"))
}

/// The headers every console answer carries, its API's included.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

/// The console's routes, mounted at [`BASE`] by the top-level router.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            BASE,
            get(|| async { Redirect::permanent(&format!("{BASE}/")) }),
        )
        .route(&format!("{BASE}/"), get(index_get))
        .route(&format!("{BASE}/index.html"), get(index_get))
        .route(&format!("{BASE}/assets/{{file}}"), get(asset_get))
        .route(
            &format!("{BASE}/api/session"),
            get(session::session_get)
                .post(session::session_post)
                .delete(session::session_delete),
        )
        // Sign-in and sign-out are in the audit trail (face `console`), as the faces' logins.
        .layer(axum::middleware::from_fn_with_state(
            (
                state.clone(),
                crate::middleware::audit::FaceAudit::named("console"),
            ),
            crate::middleware::audit::record,
        ))
        .layer(axum::middleware::from_fn(security_headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_embedded() {
        let index = asset("index.html").expect("console/dist/index.html is embedded");
        let text = std::str::from_utf8(index).unwrap();
        // The page loads its script from a file, never inline (the CSP forbids inline).
        assert!(text.contains("src=\"/console/assets/"), "{text}");
        assert!(!text.contains("<script>"), "{text}");
        assert!(!text.contains("<style"), "{text}");
    }
}
