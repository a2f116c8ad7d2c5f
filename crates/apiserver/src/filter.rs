//! `labelSelector` and `fieldSelector` of list and watch requests.

use api::resources::ResourceInfo;
use api::selectors::{FieldSelector, Selector};
use api::status::ApiError;
use serde_json::Value;

use crate::query::Query;

/// The selectors of one request; empty matches everything.
pub(crate) struct Filter {
    labels: Selector,
    fields: FieldSelector,
}

impl Filter {
    pub(crate) fn from_query(info: &ResourceInfo, q: &Query) -> Result<Filter, ApiError> {
        let labels = match q.get("labelSelector") {
            Some(s) if !s.trim().is_empty() => Selector::parse(s)?,
            _ => Selector::everything(),
        };
        let fields = match q.get("fieldSelector") {
            Some(s) if !s.trim().is_empty() => FieldSelector::parse_for(info, s)?,
            _ => FieldSelector::parse("")?,
        };
        Ok(Filter { labels, fields })
    }

    /// True when the request has no selectors.
    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub(crate) fn matches(&self, info: &ResourceInfo, obj: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches_object(obj))
            && (self.fields.is_empty() || self.fields.matches(info, obj))
    }
}
