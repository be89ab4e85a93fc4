//! Formats of the backup-client face: how a request body is read (JSON or XML) and how a
//! reply is written (JSON or XML, as `Accept` asks). Every reply is built in both shapes.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
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

impl Body {
    /// Wipes every string value of the parsed body (names stay): it may hold passwords or
    /// passkeys, and is dropped unwiped otherwise. Call it once the secrets were taken out.
    pub fn wipe(&mut self) {
        fn xml(el: &mut Element) {
            for (_, v) in &mut el.attrs {
                zeroize::Zeroize::zeroize(v);
            }
            el.children.iter_mut().for_each(xml);
        }
        match self {
            Body::Json(v) => wipe_json(v),
            Body::Xml(el) => xml(el),
        }
    }
}

/// Wipes every string value of a JSON value (names stay).
pub fn wipe_json(v: &mut Value) {
    match v {
        Value::String(s) => zeroize::Zeroize::zeroize(s),
        Value::Array(items) => items.iter_mut().for_each(wipe_json),
        Value::Object(map) => map.iter_mut().for_each(|(_, v)| wipe_json(v)),
        _ => {}
    }
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
    /// A reply whose JSON form is a wire type (the one the OpenAPI document describes).
    pub fn typed(status: StatusCode, format: Format, json: &impl Serialize, xml: Element) -> Self {
        Self {
            status,
            json: serde_json::to_value(json).expect("the wire types serialise"),
            xml,
            format,
        }
    }

    /// [`Reply::typed`] with 200.
    pub fn ok(format: Format, json: &impl Serialize, xml: Element) -> Self {
        Self::typed(StatusCode::OK, format, json, xml)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiping_a_body_leaves_no_string_value() {
        let mut body = Body::Json(serde_json::json!({
            "App_SetPasskeyRequest": {"currentPasskey": "c2VjcmV0", "list": ["c2VjcmV0", 3]},
        }));
        body.wipe();
        let Body::Json(v) = &body else { unreachable!() };
        assert!(!v.to_string().contains("c2VjcmV0"), "{v}");
        assert!(v.to_string().contains("currentPasskey"), "names stay");
        let mut body = Body::Xml(
            Element::new("App_SetPasskeyRequest")
                .attr("currentPasskey", "RestAPI!12")
                .child(Element::new("inner").attr("newPasskey", "RestAPI!12x")),
        );
        body.wipe();
        let Body::Xml(el) = &body else { unreachable!() };
        assert_eq!(el.get("currentPasskey"), Some(""));
        assert_eq!(el.children[0].get("newPasskey"), Some(""));
    }
}
