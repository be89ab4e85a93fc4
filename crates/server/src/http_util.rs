//! HTTP helpers shared by the faces: content negotiation and bounded body reading (refused in
//! each face's words through [`crate::face`]).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use zeroize::Zeroizing;

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
/// Whether a JSON text is an array. serde also reads a struct from an array of its fields in
/// order (`[null, "x"]`); the bodies of the JSON faces are all objects of named fields, so
/// their reader refuses an array before it gets that far.
pub fn is_json_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b'[')
}

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

#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// The connection failed while reading.
    Read(String),
}

/// Reads the whole body, refusing more than `limit` bytes; memory stays bounded by `limit`.
/// (What an oversized upload still sends is discarded by [`crate::middleware::drain`].)
///
/// Bodies may hold passphrases: the whole body is returned in a buffer wiped when dropped,
/// sized from `content-length` when given, and otherwise grown by copying into a larger one
/// and wiping the smaller, so no reallocation leaves an unwiped copy. (The frames hyper reads
/// the body into are its own, and are not wiped.)
pub async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0) as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        extend_wiping(&mut buf, &data, limit);
    }
    Ok(buf)
}

/// Appends to a buffer that may hold secrets without leaving a copy behind: when it is full,
/// the contents move to a larger buffer (twice the size, at most `limit`) and the old one is
/// wiped as it drops.
pub fn extend_wiping(buf: &mut Zeroizing<Vec<u8>>, data: &[u8], limit: usize) {
    let needed = buf.len() + data.len();
    if needed > buf.capacity() {
        let mut bigger = Vec::with_capacity(needed.max(2 * buf.capacity()).min(limit.max(needed)));
        bigger.extend_from_slice(buf);
        *buf = Zeroizing::new(bigger);
    }
    buf.extend_from_slice(data);
}

/// Headers of one header, for tests.
#[cfg(test)]
pub(crate) fn one_header(name: header::HeaderName, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(name, value.parse().unwrap());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_accept(v: &str) -> HeaderMap {
        one_header(header::ACCEPT, v)
    }

    #[test]
    fn wiping_growth_keeps_the_contents_and_the_limit() {
        let mut buf = Zeroizing::new(Vec::new());
        let mut expected = Vec::new();
        for i in 0..100u8 {
            let piece = vec![i; 7 + usize::from(i)];
            extend_wiping(&mut buf, &piece, 10_000);
            expected.extend_from_slice(&piece);
            assert!(buf.capacity() <= 10_000);
        }
        assert_eq!(*buf, expected);
        // Sized from the start, it never moves.
        let mut sized = Zeroizing::new(Vec::with_capacity(64));
        let at = sized.as_ptr();
        extend_wiping(&mut sized, &[1; 40], 64);
        extend_wiping(&mut sized, &[2; 24], 64);
        assert_eq!(sized.as_ptr(), at);
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
