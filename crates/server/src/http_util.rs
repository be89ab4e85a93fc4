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

/// Whether a JSON text is an array. serde also reads a struct from an array of its fields in
/// order (`[null, "x"]`); the bodies of the JSON faces are all objects of named fields, so
/// their reader refuses an array before it gets that far.
pub fn is_json_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b'[')
}

/// `T` from a JSON text, where every struct, at any depth, must be a JSON object: serde would
/// also read a struct from an array of its fields in order (`["admin", "old", "new"]`), which
/// no client means and which slips past every field name. Arrays stay arrays where `T` has a
/// sequence (the appliance face's syslog servers are a list).
pub fn from_json_objects<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(objects_only::Structs(&mut de))?;
    de.end()?;
    Ok(value)
}

mod objects_only {
    //! A deserializer wrapper that hands every struct visitor only maps (see
    //! [`super::from_json_objects`]), and wraps what it hands on so nested structs are held
    //! to the same rule.
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    pub struct Structs<D>(pub D);

    /// A visitor or seed passed through, with the deserializers it meets wrapped.
    struct Wrap<X>(X);

    /// A struct's visitor: a map is read as the struct; a sequence is refused.
    struct MapOnly<V>(V);

    macro_rules! forward {
        ($($method:ident),*) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(Wrap(visitor))
            }
        )*};
    }

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Structs<D> {
        type Error = D::Error;

        forward!(
            deserialize_any,
            deserialize_bool,
            deserialize_i8,
            deserialize_i16,
            deserialize_i32,
            deserialize_i64,
            deserialize_i128,
            deserialize_u8,
            deserialize_u16,
            deserialize_u32,
            deserialize_u64,
            deserialize_u128,
            deserialize_f32,
            deserialize_f64,
            deserialize_char,
            deserialize_str,
            deserialize_string,
            deserialize_bytes,
            deserialize_byte_buf,
            deserialize_option,
            deserialize_unit,
            deserialize_seq,
            deserialize_map,
            deserialize_identifier,
            deserialize_ignored_any
        );

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_unit_struct(name, Wrap(visitor))
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_newtype_struct(name, Wrap(visitor))
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_tuple(len, Wrap(visitor))
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_tuple_struct(name, len, Wrap(visitor))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_struct(name, fields, MapOnly(visitor))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            // Enum access is not wrapped: the faces' enums are unit variants (strings).
            self.0.deserialize_enum(name, variants, visitor)
        }

        fn is_human_readable(&self) -> bool {
            self.0.is_human_readable()
        }
    }

    impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<S> {
        type Value = S::Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
            self.0.deserialize(Structs(d))
        }
    }

    impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<A> {
        type Error = A::Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, A::Error> {
            self.0.next_element_seed(Wrap(seed))
        }

        fn size_hint(&self) -> Option<usize> {
            self.0.size_hint()
        }
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            self.0.next_key_seed(seed)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, A::Error> {
            self.0.next_value_seed(Wrap(seed))
        }

        fn size_hint(&self) -> Option<usize> {
            self.0.size_hint()
        }
    }

    macro_rules! visit_forward {
        ($($method:ident: $ty:ty),*) => {$(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.0.$method(v)
            }
        )*};
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.expecting(f)
        }

        visit_forward!(
            visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64,
            visit_i128: i128, visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64,
            visit_u128: u128, visit_f32: f32, visit_f64: f64, visit_char: char,
            visit_str: &str, visit_borrowed_str: &'de str, visit_string: String,
            visit_bytes: &[u8], visit_borrowed_bytes: &'de [u8], visit_byte_buf: Vec<u8>
        );

        fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
            self.0.visit_none()
        }

        fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
            self.0.visit_unit()
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
            self.0.visit_some(Structs(d))
        }

        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
            self.0.visit_newtype_struct(Structs(d))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
            self.0.visit_seq(Wrap(seq))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
            self.0.visit_map(Wrap(map))
        }

        fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
            self.0.visit_enum(data)
        }
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
            self.0.visit_map(Wrap(map))
        }
    }
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

#[cfg(test)]
mod objects_only_tests {
    use serde::Deserialize;

    use super::from_json_objects;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: u8,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        list: Vec<Inner>,
    }

    #[test]
    fn structs_come_only_from_objects_at_any_depth() {
        let good = r#"{"name": "x", "inner": {"a": 1}, "list": [{"a": 2}]}"#;
        assert_eq!(
            from_json_objects::<Outer>(good.as_bytes()).unwrap(),
            Outer {
                name: "x".into(),
                inner: Some(Inner { a: 1 }),
                list: vec![Inner { a: 2 }],
            }
        );
        for bad in [
            r#"["x", null, []]"#,
            r#"{"name": "x", "inner": [1], "list": []}"#,
            r#"{"name": "x", "inner": null, "list": [[2]]}"#,
        ] {
            let e = from_json_objects::<Outer>(bad.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("a JSON object"), "{bad}: {e}");
        }
        // A list body stays a list; trailing text is still refused.
        assert_eq!(
            from_json_objects::<Vec<Inner>>(br#"[{"a": 3}]"#).unwrap(),
            vec![Inner { a: 3 }]
        );
        assert!(from_json_objects::<Inner>(br#"{"a": 1} x"#).is_err());
    }
}
