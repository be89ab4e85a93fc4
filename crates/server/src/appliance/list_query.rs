//! The query parameters the spec gives its list operations (`filter_property`, `filter`,
//! `sort_by`, `order_by`, `limit`, `offset`), applied to a list of entities, and the
//! `{list, _meta}` body (`...DrResponseList`) they answer with.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Serialize;
use serde_json::Value;

use super::error::ApplianceError;

/// The spec's default page size ("default value of 100").
const DEFAULT_LIMIT: u64 = 100;

/// A list operation's query.
#[derive(Debug, Default)]
pub struct ListQuery {
    filter_property: Option<String>,
    filter: Vec<String>,
    sort_by: Option<String>,
    descending: bool,
    limit: u64,
    offset: u64,
}

fn bad(detail: String) -> ApplianceError {
    ApplianceError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "INVALID_LIST_QUERY",
        format!("Invalid list query: {detail}"),
    )
}

fn count(name: &str, value: &str) -> Result<u64, ApplianceError> {
    value.parse().map_err(|_| {
        bad(format!(
            "{name} must be a whole number of 0 or more, not {value:?}"
        ))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApplianceError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Pairs, because `filter` may come more than once.
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| bad(e.body_text()))?;
        let mut q = ListQuery {
            limit: DEFAULT_LIMIT,
            ..ListQuery::default()
        };
        for (name, value) in pairs {
            match name.as_str() {
                "filter_property" => q.filter_property = Some(value),
                "filter" => q.filter.push(value),
                "sort_by" => q.sort_by = Some(value),
                "order_by" => {
                    q.descending = match value.to_ascii_lowercase().as_str() {
                        "asc" | "ascending" => false,
                        "desc" | "descending" => true,
                        _ => {
                            return Err(bad(format!(
                                "order_by must be asc, ascending, desc or descending, not {value:?}"
                            )));
                        }
                    }
                }
                "limit" => q.limit = count("limit", &value)?,
                "offset" => q.offset = count("offset", &value)?,
                // Parameters the spec does not name are ignored, as elsewhere on this face.
                _ => {}
            }
        }
        Ok(q)
    }
}

/// The value at a dotted path (`ipv4.address`), if there is one.
fn field<'v>(item: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(item, |v, key| v.get(key))
}

/// How a value compares with a `filter` value: strings as they are, others as JSON.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `...DrResponseList`: a page of entities, with the page's place in the whole.
#[derive(Debug, Serialize)]
pub struct DrList<T> {
    pub list: Vec<T>,
    #[serde(rename = "_meta")]
    pub meta: ListMeta,
}

/// The spec's `MetadataList` (without links: a page is named by its query).
#[derive(Debug, Serialize)]
pub struct ListMeta {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

impl ListQuery {
    /// Filters, sorts and pages `items`. `total` counts the entities the filter kept.
    pub fn apply<T: Serialize>(&self, items: Vec<T>) -> Result<DrList<Value>, ApplianceError> {
        let mut values: Vec<Value> = items
            .into_iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| strongroom_core::Error::Internal(e.to_string()))?;
        if let Some(property) = &self.filter_property
            && !self.filter.is_empty()
        {
            values.retain(|item| {
                field(item, property).is_some_and(|v| self.filter.contains(&as_text(v)))
            });
        }
        if let Some(key) = &self.sort_by {
            // Stable, so equal keys keep the listing's own order.
            values.sort_by(|a, b| {
                let (a, b) = (field(a, key), field(b, key));
                let order = match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    _ => a.map(as_text).cmp(&b.map(as_text)),
                };
                if self.descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
        let total = values.len() as u64;
        let list = values
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .collect();
        Ok(DrList {
            list,
            meta: ListMeta {
                total,
                offset: self.offset,
                limit: self.limit,
            },
        })
    }
}
