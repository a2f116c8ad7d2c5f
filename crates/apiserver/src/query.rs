//! Query-string parameters.

use std::collections::HashMap;

/// Decoded query parameters; the last value of a repeated key wins.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(q: Option<&str>) -> Query {
        let mut m = HashMap::new();
        for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            m.insert(decode(k), decode(v));
        }
        Query(m)
    }

    /// Every `key=value` pair in order, repeated keys included (the
    /// streaming subresources take one `command=` per argument).
    pub(crate) fn pairs(q: Option<&str>) -> Vec<(String, String)> {
        q.unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// `true`/`1` (kube-apiserver accepts both for booleans).
    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1" | "True"))
    }

    pub(crate) fn int(&self, k: &str) -> Result<Option<i64>, api::status::ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                api::status::ApiError::BadRequest(format!("invalid value for {k}: {v:?}"))
            }),
        }
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_selectors() {
        let q = Query::parse(Some(
            "labelSelector=batch.kubernetes.io%2Fcontroller-uid%3Dabc&watch=1&limit=500",
        ));
        assert_eq!(
            q.get("labelSelector"),
            Some("batch.kubernetes.io/controller-uid=abc")
        );
        assert!(q.flag("watch"));
        assert_eq!(q.int("limit").unwrap(), Some(500));
    }

    #[test]
    fn pairs_keep_repeated_keys_in_order() {
        assert_eq!(
            Query::pairs(Some("command=sh&command=-c&command=echo+hi%21&stdin=true")),
            [
                ("command", "sh"),
                ("command", "-c"),
                ("command", "echo hi!"),
                ("stdin", "true")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }
}
