//! The router's own errors (404 of an unknown path, 405 with `Allow`, 413 of a body limit)
//! have no body; each face's `render_bare_errors` middleware gives them the face's shape
//! through [`fill`].

use axum::http::{StatusCode, header};
use axum::response::Response;

/// Gives a bodiless error response of the router's own the face's error shape: `render` makes
/// the face's error for the status; its status and headers win, the router's other headers
/// (`Allow`) are kept. A response that has a body, or is no error, or that `render` declines
/// (`None`), passes unchanged.
pub fn fill(response: Response, render: impl FnOnce(StatusCode) -> Option<Response>) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let Some(rendered) = render(status) else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let (rendered_parts, body) = rendered.into_parts();
    parts.status = rendered_parts.status;
    if parts.status != StatusCode::METHOD_NOT_ALLOWED {
        parts.headers.remove(header::ALLOW);
    }
    parts.headers.extend(rendered_parts.headers);
    Response::from_parts(parts, body)
}
