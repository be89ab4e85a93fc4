//! Formats of the backup-client face: how a request body is read (JSON or XML) and how a
//! reply is written (JSON or XML, as `Accept` asks). Every reply is built in both shapes.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::http_util;
use crate::xml::{self, Element};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The reply format: XML when `Accept` asks for XML and not for JSON, else JSON.
    pub fn of_accept(headers: &HeaderMap) -> Format {
        let wants = |m: &str| {
            headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.to_ascii_lowercase().contains(m))
        };
        if (wants("application/xml") || wants("text/xml")) && !wants("application/json") {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

/// A request body, parsed by its `Content-Type` (or, without one, by its first character).
pub enum Body {
    Json(Value),
    Xml(Element),
}

/// Parses a body; the error names the problem, never the content.
pub fn parse_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Body, String> {
    let ct = http_util::content_type(headers);
    let looks_xml = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    let is_xml = match ct.as_deref() {
        Some("application/xml") | Some("text/xml") => true,
        Some("application/json") => false,
        _ => looks_xml,
    };
    if is_xml {
        xml::parse(bytes).map(Body::Xml)
    } else {
        serde_json::from_slice(bytes)
            .map(Body::Json)
            .map_err(|e| format!("malformed JSON: {}", http_util::json_error_message(&e)))
    }
}

/// A reply in both shapes; rendered as the request's `Accept` asks.
pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub xml: Element,
    pub format: Format,
}

impl Reply {
    pub fn ok(format: Format, json: Value, xml: Element) -> Self {
        Self {
            status: StatusCode::OK,
            json,
            xml,
            format,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self.format {
            Format::Json => (self.status, axum::Json(self.json)).into_response(),
            Format::Xml => {
                let mut r = (self.status, self.xml.to_document()).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml"),
                );
                r
            }
        }
    }
}

/// A string field of a JSON object.
pub fn json_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
