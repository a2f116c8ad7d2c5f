//! Success policy (upstream `pkg/controller/job/success_policy.go`, KEP-3998).
//!
//! An Indexed Job may declare success before every index succeeded: the
//! first rule whose `succeededIndexes`/`succeededCount` is satisfied wins.

use api::index_set::IndexSet;

use crate::kit::objects::SuccessPolicy;

/// Upstream `matchSuccessPolicy`: the condition message when a rule matches.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &IndexSet,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(s) = &rule.succeeded_indexes {
            let required = IndexSet::parse_lenient(s, completions);
            if required.is_empty() {
                continue;
            }
            let contained = required.intersection(succeeded).count();
            contained == required.count()
                || rule
                    .succeeded_count
                    .is_some_and(|c| contained >= i64::from(c))
        } else if let Some(c) = rule.succeeded_count {
            succeeded.count() >= i64::from(c)
        } else {
            false
        };
        if matched {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Cases after upstream `TestMatchSuccessPolicy` (`success_policy_test.go`).
    #[test]
    fn match_success_policy_table() {
        let cases: Vec<(&str, serde_json::Value, i32, &str, Option<&str>)> = vec![
            (
                "nothing succeeded",
                json!([{"succeededCount": 0}]),
                5,
                "",
                None,
            ),
            (
                "succeededIndexes all present",
                json!([{"succeededIndexes": "0-2"}]),
                5,
                "0-3",
                Some("Matched rules at index 0"),
            ),
            (
                "succeededIndexes missing one",
                json!([{"succeededIndexes": "0-2"}]),
                5,
                "0,1,3",
                None,
            ),
            (
                "succeededCount reached",
                json!([{"succeededCount": 2}]),
                5,
                "1,4",
                Some("Matched rules at index 0"),
            ),
            (
                "succeededCount not reached",
                json!([{"succeededCount": 3}]),
                5,
                "1,4",
                None,
            ),
            (
                "both: count within the listed indexes",
                json!([{"succeededIndexes": "1-4", "succeededCount": 3}]),
                6,
                "1,3,5",
                None,
            ),
            (
                "both: enough listed indexes",
                json!([{"succeededIndexes": "1-4", "succeededCount": 2}]),
                6,
                "1,3,5",
                Some("Matched rules at index 0"),
            ),
            (
                "second rule matches",
                json!([{"succeededIndexes": "3"}, {"succeededCount": 1}]),
                5,
                "0",
                Some("Matched rules at index 1"),
            ),
            (
                "indexes beyond completions are dropped",
                json!([{"succeededIndexes": "7-9"}, {"succeededIndexes": "0"}]),
                5,
                "0",
                Some("Matched rules at index 1"),
            ),
        ];
        for (name, rules, completions, succeeded, want) in cases {
            let policy: SuccessPolicy = serde_json::from_value(json!({ "rules": rules })).unwrap();
            let got = match_success_policy(
                Some(&policy),
                completions,
                &IndexSet::parse_lenient(succeeded, completions),
            );
            assert_eq!(got.as_deref(), want, "{name}");
        }
        assert_eq!(match_success_policy(None, 3, &IndexSet::range(3)), None);
    }
}
