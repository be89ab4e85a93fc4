//! The query parameters every list operation of the appliance spec takes: `filter_property`
//! with `filter` (repeatable; an item is kept if the property, a dotted path into the item,
//! equals one of them), `sort_by` with `order_by` (`asc`, `ascending`, `desc`, `descending`),
//! and `limit` (default 100) with `offset` (default 0). Other parameters are ignored.

use std::cmp::Ordering;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde_json::Value;

use serde::Serialize;

use super::error::ApplianceError;

/// `MetadataList`, as far as a list of this face fills it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetadataList {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// The spec's `...DrResponseList`: a page of items and where it is in the whole.
#[derive(Debug, Clone, Serialize)]
pub struct DrResponseList {
    pub list: Vec<serde_json::Value>,
    #[serde(rename = "_meta")]
    pub meta: MetadataList,
}

/// The spec's default page size.
pub const DEFAULT_LIMIT: u64 = 100;

#[derive(Debug, Default)]
pub struct ListQuery {
    filter_property: Option<String>,
    filters: Vec<String>,
    sort_by: Option<String>,
    descending: bool,
    limit: u64,
    offset: u64,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApplianceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                invalid_query(&format!(
                    "the query string does not parse ({})",
                    e.body_text()
                ))
            })?;
        ListQuery::parse(pairs)
    }
}

/// 400 `INVALID_LIST_QUERY` (`docs/errors.md`).
fn invalid_query(what: &str) -> ApplianceError {
    ApplianceError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "INVALID_LIST_QUERY",
        format!("Invalid list query: {what}"),
    )
}

fn number(name: &str, value: &str) -> Result<u64, ApplianceError> {
    value
        .parse()
        .map_err(|_| invalid_query(&format!("{name} must be a whole number of 0 or more.")))
}

impl ListQuery {
    pub fn parse(pairs: Vec<(String, String)>) -> Result<Self, ApplianceError> {
        let mut q = ListQuery {
            limit: DEFAULT_LIMIT,
            ..ListQuery::default()
        };
        let mut order_by = None;
        for (name, value) in pairs {
            match name.as_str() {
                "filter_property" => q.filter_property = Some(value),
                "filter" => q.filters.push(value),
                "sort_by" => q.sort_by = Some(value),
                "order_by" => order_by = Some(value),
                "limit" => q.limit = number("limit", &value)?,
                "offset" => q.offset = number("offset", &value)?,
                _ => {}
            }
        }
        let filtering = q.filter_property.is_some();
        if filtering == q.filters.is_empty() {
            return Err(invalid_query(
                "filter_property and filter must be given together.",
            ));
        }
        if let Some(order) = order_by {
            q.descending = match order.to_ascii_lowercase().as_str() {
                "asc" | "ascending" => false,
                "desc" | "descending" => true,
                _ => {
                    return Err(invalid_query(
                        "order_by must be asc, ascending, desc or descending.",
                    ));
                }
            };
        }
        Ok(q)
    }

    /// The page of `items` (each an object) this query asks for.
    pub fn page<T: serde::Serialize>(&self, items: &[T]) -> DrResponseList {
        let mut items: Vec<Value> = items
            .iter()
            .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
            .collect();
        if let Some(property) = &self.filter_property {
            items.retain(|item| {
                field(item, property)
                    .map(text)
                    .is_some_and(|v| self.filters.contains(&v))
            });
        }
        if let Some(property) = &self.sort_by {
            items.sort_by(|a, b| {
                let order = compare(field(a, property), field(b, property));
                if self.descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
        let total = items.len() as u64;
        let list = items
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .collect();
        DrResponseList {
            list,
            meta: MetadataList {
                total,
                offset: self.offset,
                limit: self.limit,
            },
        }
    }
}

/// The value at a dotted path (`error.message`).
fn field<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(item, |v, key| v.get(key))
}

/// A value as a filter compares it: strings as they are, other values as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Numbers by value, the rest by their text; missing and null values last.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(x), Some(y)) => text(x).cmp(&text(y)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<ListQuery, ApplianceError> {
        ListQuery::parse(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn filters_sorts_and_pages() {
        let items = vec![
            json!({"id": "b", "n": 10, "inner": {"x": "1"}}),
            json!({"id": "a", "n": 9, "inner": {"x": "2"}}),
            json!({"id": "c", "n": 11, "inner": {"x": "1"}}),
        ];
        let ids = |l: &DrResponseList| -> Vec<String> {
            l.list
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let page = q(&[("sort_by", "n")]).unwrap().page(&items);
        assert_eq!(ids(&page), ["a", "b", "c"]);
        let page = q(&[("sort_by", "id"), ("order_by", "DESC")])
            .unwrap()
            .page(&items);
        assert_eq!(ids(&page), ["c", "b", "a"]);
        let page = q(&[("filter_property", "inner.x"), ("filter", "1")])
            .unwrap()
            .page(&items);
        assert_eq!(ids(&page), ["b", "c"]);
        assert_eq!(page.meta.total, 2);
        let page = q(&[("filter_property", "n"), ("filter", "9"), ("filter", "11")])
            .unwrap()
            .page(&items);
        assert_eq!(ids(&page), ["a", "c"]);
        let page = q(&[("limit", "1"), ("offset", "1")]).unwrap().page(&items);
        assert_eq!(ids(&page), ["a"]);
        assert_eq!(
            (page.meta.total, page.meta.offset, page.meta.limit),
            (3, 1, 1)
        );
    }

    #[test]
    fn refuses_what_it_cannot_follow() {
        for bad in [
            &[("limit", "-1")][..],
            &[("offset", "x")],
            &[("order_by", "sideways")],
            &[("filter", "a")],
            &[("filter_property", "id")],
        ] {
            let e = q(bad).unwrap_err();
            assert_eq!(e.code, "INVALID_LIST_QUERY", "{bad:?}");
        }
    }
}
