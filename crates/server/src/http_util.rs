//! HTTP helpers shared by the faces: content negotiation and bounded body reading.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// Whether the request's `Accept` header allows `media` (`type/subtype`). A missing or empty
/// header allows anything; `*/*` and `type/*` match; a range with `q=0` excludes.
pub fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.iter().all(|v| v.trim().is_empty()) {
        return true;
    }
    let (want_type, _) = media.split_once('/').unwrap_or((media, ""));
    values.iter().flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';');
        let range_media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (range_media == "*/*"
                || range_media == media
                || range_media == format!("{want_type}/*"))
    })
}

/// The media type of the request body (`Content-Type` without parameters), lower-cased.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// Describes why a JSON body did not parse, without quoting the offending value (it may be a
/// password sent with the wrong type): the kind of problem, the expected type or the field
/// name, and the position.
pub fn json_error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let quotes_a_value = text.starts_with("invalid type") || text.starts_with("invalid value");
    if quotes_a_value {
        let expected = text
            .split_once(", expected ")
            .map(|(_, rest)| rest.split(" at line ").next().unwrap_or(rest))
            .unwrap_or("another value");
        format!(
            "a value has the wrong type or form (expected {expected}) at line {} column {}",
            e.line(),
            e.column()
        )
    } else {
        text
    }
}

/// Gives a bodiless error response of the router's own (404, 405 with `Allow`, 413 ...) the
/// face's error shape: `render` makes the face's error for the status; its status and headers
/// win, the router's other headers (`Allow`) are kept. A response that has a body, or is no
/// error, or that `render` declines (`None`), passes unchanged. Every face's
/// `render_bare_errors` middleware is this.
pub fn fill_bare_error(
    response: axum::response::Response,
    render: impl FnOnce(axum::http::StatusCode) -> Option<axum::response::Response>,
) -> axum::response::Response {
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
    if parts.status != axum::http::StatusCode::METHOD_NOT_ALLOWED {
        parts.headers.remove(header::ALLOW);
    }
    parts.headers.extend(rendered_parts.headers);
    axum::response::Response::from_parts(parts, body)
}

#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// The connection failed while reading.
    Read(String),
}

/// Reads the whole body, refusing more than `limit` bytes; memory stays bounded by `limit`.
/// (What an oversized upload still sends is discarded by [`crate::middleware::drain`].)
pub async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn accept_negotiation() {
        let json = "application/json";
        assert!(accepts(&HeaderMap::new(), json));
        assert!(accepts(&with_accept("*/*"), json));
        assert!(accepts(&with_accept("application/*"), json));
        assert!(accepts(
            &with_accept("text/html, application/json;q=0.9"),
            json
        ));
        assert!(accepts(&with_accept("APPLICATION/JSON"), json));
        assert!(!accepts(&with_accept("text/plain"), json));
        assert!(!accepts(&with_accept("application/json;q=0"), json));
        assert!(!accepts(&with_accept("application/xml"), json));
    }

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            password: String,
        }
        let e = serde_json::from_str::<T>(r#"{"password": 987654321}"#).unwrap_err();
        let m = json_error_message(&e);
        assert!(!m.contains("987654321"), "{m}");
        assert!(m.contains("a string"), "{m}");
        let e = serde_json::from_str::<T>(r#"{"pass": "x"}"#).unwrap_err();
        assert!(
            json_error_message(&e).contains("unknown field")
                || json_error_message(&e).contains("missing field")
        );
    }

    #[test]
    fn content_type_strips_parameters() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(content_type(&h).as_deref(), Some("application/json"));
        assert_eq!(content_type(&HeaderMap::new()), None);
    }
}
