//! The bodies of joblite's fuzz targets, one function per target.
//!
//! Each takes the fuzzer's bytes and drives one decoder the way the server
//! does with a request's input; a panic (including a failed invariant
//! below), an overflow, or runaway recursion or allocation is a finding.
//! `fuzz_targets/*.rs` wrap them for libFuzzer (`cargo +nightly fuzz run`),
//! and the stable test `crates/joblite/tests/reliability/fuzz_regressions.rs`
//! includes this file to replay the committed corpus through the same
//! functions, so CI catches regressions without nightly.

use api::index_set::IndexSet;
use api::quantity::parse_quantity;
use api::resources::ResourceInfo;
use api::selectors::{FieldSelector, Selector};
use serde_json::{json, Map, Value};

/// The Content-Types a body arrives with; the first byte picks one.
const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/yaml"),
    Some("application/vnd.kubernetes.protobuf"),
    None,
    Some("application/json; charset=utf-8"),
    Some("application/x-yaml"),
];

/// The request-body decoders: JSON, YAML and protobuf to every kind's object.
pub fn decode_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ct = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    if let Err(e) = apiserver::decode_body(ct, body) {
        assert!((400..500).contains(&e.code()), "{e:?}");
    }
}

/// The kind whose patch schema a selector byte picks.
fn kind(pick: u8) -> &'static ResourceInfo {
    let all = api::resources::ALL;
    all[usize::from(pick) % all.len()]
}

/// Strategic merge patch: the patch (JSON when the input is JSON, else built
/// from the bytes with the directives' vocabulary) applied to a Job, to
/// nothing, and to itself.
pub fn strategic_merge_patch(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let patch = match serde_json::from_slice::<Value>(rest) {
        Ok(v) => v,
        Err(_) => build(&mut Bytes(rest), 0),
    };
    let schema = kind(pick).strategy.patch_schema();
    for original in [job_fixture(), Value::Null, patch.clone()] {
        match apiserver::patch::strategic::apply(&original, &patch, schema) {
            Ok(merged) => {
                assert!(merged.is_object());
                assert_no_directives(&merged);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

fn assert_no_directives(v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                assert!(
                    !(k == "$patch"
                        || k == "$retainKeys"
                        || k.starts_with("$setElementOrder/")
                        || k.starts_with("$deleteFromPrimitiveList/")),
                    "directive {k} left in a merged object"
                );
                assert_no_directives(v);
            }
        }
        Value::Array(a) => a.iter().for_each(assert_no_directives),
        _ => {}
    }
}

/// Label and field selectors (the first byte picks), matched against a Job
/// and printed; a printed selector parses back to itself.
pub fn selectors(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let job = job_fixture();
    if pick & 1 == 0 {
        if let Ok(sel) = Selector::parse(text) {
            let _ = sel.matches_object(&job);
            let printed = sel.to_string();
            let again = Selector::parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e:?}"));
            assert_eq!(again, sel, "{text:?} printed as {printed:?}");
        }
    } else {
        let info = kind(pick / 2);
        if let Ok(sel) = FieldSelector::parse(text) {
            // The same terms come back, maybe in another order: the parser
            // sorts the raw terms before unescaping, as upstream's
            // `fields.ParseSelector` does, and a conjunction has no order.
            let printed = sel.to_string();
            let again = FieldSelector::parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e:?}"));
            let terms = |s: &FieldSelector| {
                let mut t: Vec<String> = s.terms().iter().map(|t| format!("{t:?}")).collect();
                t.sort();
                t
            };
            assert_eq!(
                terms(&again),
                terms(&sel),
                "{text:?} printed as {printed:?}"
            );
        }
        if let Ok(sel) = FieldSelector::parse_for(info, text) {
            let _ = sel.matches(info, &job);
        }
    }
}

/// Quantities: parse, the integer views, and the canonical spelling, which
/// parses back to the same value.
pub fn quantity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = parse_quantity(text) else {
        return;
    };
    let _ = (q.millis(), q.value());
    let canonical = q.canonical();
    let again = parse_quantity(&canonical)
        .unwrap_or_else(|e| panic!("{canonical:?} (from {text:?}) does not parse: {e}"));
    assert_eq!(again.nanos, q.nanos, "{text:?} printed as {canonical:?}");
}

/// Index sets (`completedIndexes`, `failedIndexes`, success-policy
/// `succeededIndexes`): the three parsers, against a completions count
/// taken from the first four bytes, and the set operations.
pub fn index_set(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let completions = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let Ok(text) = std::str::from_utf8(&data[4..]) else {
        return;
    };
    let (a, b) = text.split_once('|').unwrap_or((text, ""));
    let lenient = IndexSet::parse_lenient(a, completions);
    assert!(lenient.last().is_none_or(|l| l < completions.max(0)));
    let _ = IndexSet::validate(a, completions);
    let _ = IndexSet::validate_no_overlap(a, b, completions);
    if let Ok(n) = IndexSet::validate(a, completions) {
        let set = IndexSet::parse(a).expect("a valid index list parses");
        assert_eq!(set.count(), n);
    }
    if let (Ok(x), Ok(y)) = (IndexSet::parse(a), IndexSet::parse(b)) {
        let printed = x.to_string();
        assert_eq!(IndexSet::parse(&printed).ok().as_ref(), Some(&x));
        let u = x.union(&y);
        let i = x.intersection(&y);
        let d = x.difference(&y);
        assert_eq!(u.count(), x.count() + y.count() - i.count());
        assert_eq!(d.count(), x.count() - i.count());
        let mut t = x.clone();
        t.truncate(completions);
        let _ = x.complement(completions);
        let _ = IndexSet::parse_truncated(a, completions);
    }
}

/// The supervisor protocol: request lines, events, journal lines, stream
/// frames and CRI log records.
pub fn supervisor_protocol(data: &[u8]) {
    node::supervisor_protocol(data);
}

/// A Job as the store holds it, with the lists a strategic merge patch merges.
fn job_fixture() -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "pi", "namespace": "default", "labels": {"app": "pi", "tier": "batch"},
            "finalizers": ["batch.kubernetes.io/job-tracking"],
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "u1"}]
        },
        "spec": {
            "completions": 5, "parallelism": 2, "completionMode": "Indexed",
            "successPolicy": {"rules": [{"succeededIndexes": "0-2", "succeededCount": 1}]},
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]},
            "template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "busybox", "command": ["sh", "-c", "true"],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                         "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}},
                        {"name": "side", "image": "busybox"}
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "k", "operator": "Exists"}]
                }
            }
        },
        "status": {"completedIndexes": "0,2", "succeeded": 2, "conditions": [{"type": "Complete", "status": "False"}]}
    })
}

/// The fuzzer's bytes, consumed one at a time.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
}

/// Keys and strings that steer a strategic merge patch.
const VOCABULARY: &[&str] = &[
    "spec",
    "template",
    "metadata",
    "containers",
    "initContainers",
    "name",
    "image",
    "env",
    "value",
    "volumes",
    "ports",
    "containerPort",
    "protocol",
    "finalizers",
    "labels",
    "annotations",
    "$patch",
    "replace",
    "merge",
    "delete",
    "$retainKeys",
    "$setElementOrder/containers",
    "$setElementOrder/env",
    "$setElementOrder/finalizers",
    "$deleteFromPrimitiveList/finalizers",
    "$deleteFromPrimitiveList/args",
    "args",
    "command",
    "volumeMounts",
    "mountPath",
    "tolerations",
    "key",
    "imagePullSecrets",
    "ownerReferences",
    "uid",
    "conditions",
    "type",
    "status",
    "completedIndexes",
    "successPolicy",
    "rules",
    "podFailurePolicy",
    "onExitCodes",
    "values",
    "operator",
    "main",
    "side",
    "A",
    "B",
    "data",
    "resources",
    "limits",
    "cpu",
    "emptyDir",
];

/// A JSON value built from bytes, so most inputs are patches that reach the
/// merge logic rather than the JSON parser.
fn build(b: &mut Bytes<'_>, depth: u32) -> Value {
    let op = if depth >= 6 {
        b.next() % 4
    } else {
        b.next() % 8
    };
    match op {
        0 => Value::Null,
        1 => Value::Bool(b.next() & 1 == 0),
        2 => json!(i64::from(b.next() as i8)),
        3 => json!(VOCABULARY[usize::from(b.next()) % VOCABULARY.len()]),
        4 => Value::Array((0..b.next() % 4).map(|_| build(b, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..b.next() % 5 {
                let k = VOCABULARY[usize::from(b.next()) % VOCABULARY.len()].to_string();
                m.insert(k, build(b, depth + 1));
            }
            Value::Object(m)
        }
    }
}
