//! Bad input against a live server: a corpus of malformed and invalid
//! requests (bodies in JSON, YAML and protobuf, every patch type, selectors,
//! quantities, index sets, query parameters, headers, sizes), each of which
//! must get upstream's 4xx `Status`, leave the server answering, and write
//! nothing.
//!
//! The corpus is data: [`corpus`] builds a table of [`Case`]s from lists of
//! bad values and the places they go. One `curl` process per case sends the
//! request, then a health probe, then lists every resource over the same
//! connection, so a case that hangs, kills the server or writes is caught at
//! the case that did it.
//!
//! Expected codes and reasons are kube-apiserver 1.33's; the rules are cited
//! where each group is built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::Server;

/// One request and the answer it must get.
struct Case {
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<String>,
    body: Option<Vec<u8>>,
    /// The expected HTTP code; `reason` is the `Status.reason`.
    code: u16,
    reason: &'static str,
}

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const FIXTURE: &str = "/apis/batch/v1/namespaces/default/jobs/fixture";
const JSON: &str = "Content-Type: application/json";
const YAML: &str = "Content-Type: application/yaml";
const PROTOBUF: &str = "Content-Type: application/vnd.kubernetes.protobuf";
const MERGE: &str = "Content-Type: application/merge-patch+json";
const JSON_PATCH: &str = "Content-Type: application/json-patch+json";
const STRATEGIC: &str = "Content-Type: application/strategic-merge-patch+json";
const APPLY: &str = "Content-Type: application/apply-patch+yaml";

/// Every collection the store holds, listed before and after each case.
const LISTS: &[&str] = &[
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/api/v1/pods",
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/api/v1/events",
    "/apis/batch/v1/jobs",
    "/apis/batch/v1/cronjobs",
    "/apis/node.k8s.io/v1/runtimeclasses",
];

fn case(
    name: impl Into<String>,
    method: &'static str,
    path: impl Into<String>,
    headers: &[&str],
    body: Option<Vec<u8>>,
    code: u16,
    reason: &'static str,
) -> Case {
    Case {
        name: name.into(),
        method,
        path: path.into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        body,
        code,
        reason,
    }
}

/// A valid Job named `name` (suspended: it runs nothing).
fn job(name: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "suspend": true,
            "completions": 4,
            "parallelism": 1,
            "completionMode": "Indexed",
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]
            }}
        }
    })
}

/// `job(name)` with the value at JSON pointer `at` replaced (or added).
fn job_with(name: &str, at: &str, value: Value) -> Vec<u8> {
    let mut j = job(name);
    set(&mut j, at, value);
    serde_json::to_vec(&j).unwrap()
}

fn set(doc: &mut Value, at: &str, value: Value) {
    let (parent, key) = at.rsplit_once('/').unwrap();
    let p = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent}"));
    match p {
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        Value::Object(m) => {
            m.insert(key.to_string(), value);
        }
        _ => panic!("{at}"),
    }
}

fn b(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

/// Percent-encodes a query value.
fn q(s: &str) -> String {
    let mut out = String::new();
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Protobuf: a varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Protobuf: a length-delimited field.
fn field(n: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(n) << 3 | 2, &mut out);
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// The `k8s\0` envelope (`runtime.Unknown`) around `raw`.
fn envelope(api_version: &str, kind: &str, raw: &[u8], encoding: &str) -> Vec<u8> {
    let mut type_meta = field(1, api_version.as_bytes());
    type_meta.extend(field(2, kind.as_bytes()));
    let mut unknown = field(1, &type_meta);
    unknown.extend(field(2, raw));
    unknown.extend(field(3, encoding.as_bytes()));
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown);
    out
}

/// A protobuf `batch.v1.Job` named `name` with one container (`image`).
fn pb_job(name: &str, image: &str) -> Vec<u8> {
    let meta = field(1, name.as_bytes());
    let mut container = field(1, b"main");
    container.extend(field(2, image.as_bytes()));
    let mut pod_spec = field(2, &container);
    pod_spec.extend(field(3, b"Never"));
    let template = field(2, &pod_spec);
    let spec = field(6, &template);
    let mut job = field(1, &meta);
    job.extend(field(2, &spec));
    job
}

/// The corpus.
fn corpus(token: &str) -> Vec<Case> {
    let mut c = Vec::new();

    // Malformed JSON bodies. Upstream decodes the body before anything
    // else and answers a decode error with 400 BadRequest
    // (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go`,
    // `transformDecodeError`).
    let bad_json: &[&str] = &[
        "",
        " ",
        "{",
        "}",
        "[",
        "{\"a\":}",
        "{\"a\" 1}",
        "{'a': 1}",
        "{\"a\": 1,}",
        "[1,]",
        "{\"kind\": \"Job\"",
        "{\"apiVersion\": \"batch/v1\", \"kind\": \"Job\"}}",
        "nul",
        "tru",
        "\"unterminated",
        "{\"a\": \"\\u12\"}",
        "{\"a\": \"\\x41\"}",
        "{\"a\": 01}",
        "{\"a\": 1.}",
        "{\"a\": .5}",
        "{\"a\": -}",
        "{\"a\": NaN}",
        "{\"a\": Infinity}",
        "{\"a\": 1e}",
        "{\"a\": 1e999999}",
        "{\"a\": -1e400}",
        "{/* c */}",
        "// c\n{}",
        "{\"a\":1}{\"b\":2}",
        "{\"a\":1} x",
        "\u{feff}{}",
        "{\"a\":\"\u{1}\"}",
        "{\n\t\"a\": [1, 2\n}",
        "123",
        "\"a string\"",
        "true",
        "null",
        "[]",
        "[{}]",
        "{\"metadata\": \"x\"}",
    ];
    for (i, body) in bad_json.iter().enumerate() {
        c.push(case(
            format!("json syntax {i}: {body:?}"),
            "POST",
            JOBS,
            &[JSON],
            b(body),
            400,
            "BadRequest",
        ));
    }
    // Invalid UTF-8 inside a JSON string, in a key, and bare.
    for (i, body) in [
        b"{\"metadata\": {\"name\": \"a\xff\"}}".to_vec(),
        b"{\"meta\xc3\x28data\": {}}".to_vec(),
        b"\xff\xfe{}".to_vec(),
        b"{\"a\": \"\xed\xa0\x80\"}".to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        c.push(case(
            format!("json invalid utf-8 {i}"),
            "POST",
            JOBS,
            &[JSON],
            Some(body),
            400,
            "BadRequest",
        ));
    }
    // Deep nesting: serde_json's recursion limit, 400 like Go's decoder.
    for depth in [200, 10_000, 200_000] {
        c.push(case(
            format!("json nested arrays {depth}"),
            "POST",
            JOBS,
            &[JSON],
            b(&"[".repeat(depth)),
            400,
            "BadRequest",
        ));
        let obj = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        c.push(case(
            format!("json nested objects {depth}"),
            "POST",
            JOBS,
            &[JSON],
            b(&obj),
            400,
            "BadRequest",
        ));
    }

    // Wrong apiVersion/kind, or not an object: 400 (upstream
    // `runtime/serializer/json`, `Object 'Kind' is missing`, and the
    // create handler's kind check).
    for (i, (av, kind)) in [
        ("v1", "Job"),
        ("batch/v2", "Job"),
        ("batch/v1", "Pod"),
        ("batch/v1", "job"),
        ("", "Job"),
        ("batch/v1", ""),
        ("apps/v1", "Deployment"),
    ]
    .iter()
    .enumerate()
    {
        let mut j = job("kind-mismatch");
        j["apiVersion"] = json!(av);
        j["kind"] = json!(kind);
        // An empty string is "not set" upstream and ours; only the
        // non-empty mismatches are errors.
        if av.is_empty() || kind.is_empty() {
            j["metadata"]["name"] = json!("Bad_Name");
            c.push(case(
                format!("type meta {i} empty, bad name"),
                "POST",
                JOBS,
                &[JSON],
                Some(serde_json::to_vec(&j).unwrap()),
                422,
                "Invalid",
            ));
        } else {
            c.push(case(
                format!("type meta {i} {av} {kind}"),
                "POST",
                JOBS,
                &[JSON],
                Some(serde_json::to_vec(&j).unwrap()),
                400,
                "BadRequest",
            ));
        }
    }

    // Values of the wrong JSON type at each field: the typed decode fails,
    // 400 (`... cannot be handled as a Job: json: cannot unmarshal ...`).
    let ints = [
        "/spec/completions",
        "/spec/parallelism",
        "/spec/backoffLimit",
        "/spec/activeDeadlineSeconds",
        "/spec/ttlSecondsAfterFinished",
        "/spec/backoffLimitPerIndex",
        "/spec/maxFailedIndexes",
    ];
    let not_ints = [
        json!("4"),
        json!(true),
        json!([]),
        json!({}),
        json!(1.5),
        json!(4294967296_i64),
        json!(-9223372036854775808_i64),
        json!(1e300),
    ];
    for at in ints {
        for v in &not_ints {
            // activeDeadlineSeconds is an int64: only the int32 bounds of
            // the others are wrong for it.
            if at == "/spec/activeDeadlineSeconds" && v.is_i64() {
                continue;
            }
            c.push(case(
                format!("type {at} = {v}"),
                "POST",
                JOBS,
                &[JSON],
                Some(job_with("types", at, v.clone())),
                400,
                "BadRequest",
            ));
        }
    }
    let strings = [
        "/metadata/name",
        "/spec/completionMode",
        "/spec/template/spec/containers/0/name",
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/restartPolicy",
    ];
    for at in strings {
        for v in [json!(1), json!(true), json!([]), json!({})] {
            c.push(case(
                format!("type {at} = {v}"),
                "POST",
                JOBS,
                &[JSON],
                Some(job_with("types", at, v)),
                400,
                "BadRequest",
            ));
        }
    }
    let objects = [
        "/spec",
        "/metadata",
        "/spec/template",
        "/spec/template/spec",
        "/metadata/labels",
        "/spec/selector",
    ];
    for at in objects {
        for v in [json!("x"), json!(1), json!([1]), json!(true)] {
            c.push(case(
                format!("type {at} = {v}"),
                "POST",
                JOBS,
                &[JSON],
                Some(job_with("types", at, v)),
                400,
                "BadRequest",
            ));
        }
    }
    for at in [
        "/spec/template/spec/containers",
        "/spec/template/spec/containers/0/command",
        "/metadata/finalizers",
    ] {
        for v in [json!("x"), json!(1), json!({"a": 1}), json!(true)] {
            c.push(case(
                format!("type {at} = {v}"),
                "POST",
                JOBS,
                &[JSON],
                Some(job_with("types", at, v)),
                400,
                "BadRequest",
            ));
        }
    }
    c.push(case(
        "type label value = 1",
        "POST",
        JOBS,
        &[JSON],
        Some(job_with("types", "/metadata/labels", json!({"a": 1}))),
        400,
        "BadRequest",
    ));

    // Duplicate and unknown fields under fieldValidation=Strict: 400
    // `strict decoding error` (upstream `fieldValidation` handling in
    // `handlers/create.go`).
    let strict = format!("{JOBS}?fieldValidation=Strict");
    for (i, body) in [
        r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"d","name":"e"},"spec":{}}"#,
        r#"{"apiVersion":"batch/v1","kind":"Job","kind":"Job","metadata":{"name":"d"}}"#,
        r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"d","labels":{"a":"1","a":"2"}}}"#,
        r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"d"},"spec":{"suspend":true,"suspend":true}}"#,
    ]
    .iter()
    .enumerate()
    {
        c.push(case(format!("json duplicate key {i}"), "POST", strict.clone(), &[JSON], b(body), 400, "BadRequest"));
    }
    for (i, at) in [
        "/spec/foo",
        "/metadata/bar",
        "/spec/template/spec/containers/0/imagee",
        "/baz",
    ]
    .iter()
    .enumerate()
    {
        c.push(case(
            format!("unknown field {i} {at}"),
            "POST",
            strict.clone(),
            &[JSON],
            Some(job_with("unknown", at, json!(1))),
            400,
            "BadRequest",
        ));
    }
    c.push(case(
        "fieldValidation=Sometimes",
        "POST",
        format!("{JOBS}?fieldValidation=Sometimes"),
        &[JSON],
        Some(job_with("fv", "/spec/suspend", json!(true))),
        422,
        "Invalid",
    ));

    // Invalid objects: 422 Invalid with field causes (upstream
    // `pkg/apis/batch/validation/validation.go`,
    // `pkg/apis/core/validation/validation.go`).
    let invalid: Vec<(&str, Value)> = vec![
        ("/metadata/name", json!("Bad_Name")),
        ("/metadata/name", json!("")),
        ("/metadata/name", json!("a".repeat(254))),
        ("/metadata/name", json!("-lead")),
        ("/metadata/labels", json!({"bad key!": "v"})),
        ("/metadata/labels", json!({"k": "bad value!"})),
        ("/metadata/labels", json!({"k": "v".repeat(64)})),
        ("/metadata/annotations", json!({"": "v"})),
        ("/spec/completions", json!(-1)),
        ("/spec/parallelism", json!(-1)),
        ("/spec/backoffLimit", json!(-1)),
        ("/spec/activeDeadlineSeconds", json!(-1)),
        ("/spec/ttlSecondsAfterFinished", json!(-1)),
        ("/spec/completionMode", json!("Sometimes")),
        ("/spec/backoffLimitPerIndex", json!(-1)),
        ("/spec/maxFailedIndexes", json!(5)),
        ("/spec/template/spec/restartPolicy", json!("Always")),
        ("/spec/template/spec/containers", json!([])),
        ("/spec/template/spec/containers/0/name", json!("Bad_Name")),
        ("/spec/template/spec/containers/0/image", json!("")),
        (
            "/spec/template/spec/containers/0/env",
            json!([{"name": ""}]),
        ),
        (
            "/spec/template/spec/containers/0/env",
            json!([{"name": "A", "valueFrom": {}}]),
        ),
        (
            "/spec/template/spec/containers/0/ports",
            json!([{"containerPort": 0}]),
        ),
        (
            "/spec/template/spec/containers/0/ports",
            json!([{"containerPort": 70000}]),
        ),
        (
            "/spec/template/spec/volumes",
            json!([{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]),
        ),
        (
            "/spec/template/spec/volumes",
            json!([{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]),
        ),
        (
            "/spec/podFailurePolicy",
            json!({"rules": [{"action": "Explode", "onExitCodes": {"operator": "In", "values": [1]}}]}),
        ),
        (
            "/spec/podFailurePolicy",
            json!({"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}]}),
        ),
        (
            "/spec/podFailurePolicy",
            json!({"rules": [{"action": "FailJob"}]}),
        ),
        (
            "/spec/template/spec/containers/0/resources",
            json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
        ),
        (
            "/spec/template/spec/containers/0/resources",
            json!({"limits": {"cpu": "-1"}}),
        ),
        (
            "/spec/template/spec/containers/0/resources",
            json!({"limits": {"memory": "-5Mi"}}),
        ),
    ];
    for (at, v) in invalid {
        let name = format!(
            "invalid {at} = {}",
            v.to_string().chars().take(40).collect::<String>()
        );
        c.push(case(
            name,
            "POST",
            JOBS,
            &[JSON],
            Some(job_with("invalid", at, v)),
            422,
            "Invalid",
        ));
    }

    // Index sets in a success policy (upstream `validateIndexesFormat`,
    // `validateSuccessPolicy`): 422 naming
    // `spec.successPolicy.rules[0].succeededIndexes`.
    let bad_indexes = [
        "a",
        "1-",
        "-1",
        "3-1",
        "1,1",
        "0-2,1",
        "1--2",
        "4",
        "0-4",
        " 1",
        "1 ,2",
        "4294967296",
        "1-2-3",
        ",",
        "0,",
        ",0",
        "0-",
        "1,0",
        "0x1",
        "１",
        "2147483648",
        "0-2147483647",
        "\u{0}",
    ];
    for idx in bad_indexes {
        let policy = json!({"rules": [{"succeededIndexes": idx}]});
        c.push(case(
            format!("succeededIndexes {idx:?}"),
            "POST",
            JOBS,
            &[JSON],
            Some(job_with("idx", "/spec/successPolicy", policy)),
            422,
            "Invalid",
        ));
    }
    c.push(case(
        "successPolicy on NonIndexed",
        "POST",
        JOBS,
        &[JSON],
        Some({
            let mut j = job("idx");
            j["spec"]["completionMode"] = json!("NonIndexed");
            j["spec"]["successPolicy"] = json!({"rules": [{"succeededCount": 1}]});
            serde_json::to_vec(&j).unwrap()
        }),
        422,
        "Invalid",
    ));
    c.push(case(
        "succeededCount > completions",
        "POST",
        JOBS,
        &[JSON],
        Some(job_with(
            "idx",
            "/spec/successPolicy",
            json!({"rules": [{"succeededCount": 5}]}),
        )),
        422,
        "Invalid",
    ));
    c.push(case(
        "successPolicy rule empty",
        "POST",
        JOBS,
        &[JSON],
        Some(job_with(
            "idx",
            "/spec/successPolicy",
            json!({"rules": [{}]}),
        )),
        422,
        "Invalid",
    ));
    // ... and in status writes (`validateJobStatusUpdate`): the status
    // subresource, merge patch, 422 naming `status.completedIndexes`.
    for idx in ["a", "3-1", "0,0", "4", "0-9", "1,0", "x-y", "-"] {
        for key in ["completedIndexes", "failedIndexes"] {
            let patch = json!({"status": {key: idx}});
            c.push(case(
                format!("status {key} {idx:?}"),
                "PATCH",
                format!("{FIXTURE}/status"),
                &[MERGE],
                Some(serde_json::to_vec(&patch).unwrap()),
                422,
                "Invalid",
            ));
        }
    }

    // Quantities. Upstream decodes them with the object, so a malformed one
    // is a 400 with `quantities must match the regular expression`
    // (`apimachinery/pkg/api/resource/quantity.go`, `ErrFormatWrong`);
    // k8s-openapi keeps a quantity as its string, so joblite finds it in
    // validation: 422 Invalid naming the field, with the same message
    // (`api::validation::pod`). A known difference of code, not of outcome.
    let bad_quantities = [
        "abc",
        "1.2.3",
        "1Qi",
        "--1",
        "1e",
        "1ee3",
        "",
        " ",
        "1 Gi",
        "0x10",
        "Mi",
        "1.5.Mi",
        "∞",
        "1e1000000",
        "+-1",
        "1Gii",
        "1E+",
        ".",
        "1,5",
    ];
    for qty in bad_quantities {
        let res = json!({"limits": {"cpu": qty}});
        c.push(case(
            format!("quantity {qty:?}"),
            "POST",
            JOBS,
            &[JSON],
            Some(job_with(
                "qty",
                "/spec/template/spec/containers/0/resources",
                res,
            )),
            422,
            "Invalid",
        ));
    }

    // YAML bodies: a document that does not parse or convert to JSON is a
    // 400 (upstream `yaml.YAMLToJSON` in the YAML serializer).
    let bad_yaml: &[&str] = &[
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: y\nspec: [\n",
        "a: b: c",
        "a:\n\t- b",
        "- a\nb: c",
        "{a: 1",
        "[1, 2",
        "a: *undefined",
        "a: &x 1\nb: *y",
        "key: 'unterminated",
        "key: \"unterminated",
        "? [a, b]\n: c",
        "a: !!binary zzz",
        "a: 1\na: 2\n",
        "%YAML 9.9\n---\na: 1",
        "a: |\n b\n  c\nd",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: y\n  name: z\n",
        "[a, b]",
        "just a string",
        "42",
        "---\napiVersion: batch/v1\nkind: Job\n---\nkind: Pod\n",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: y}\nspec: {completions: 99999999999999999999999}\n",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: y}\nspec: {completions: .inf}\n",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: y}\nspec: {completions: 0x7fffffffff}\n",
    ];
    for (i, body) in bad_yaml.iter().enumerate() {
        c.push(case(
            format!("yaml {i}: {body:?}"),
            "POST",
            strict.clone(),
            &[YAML],
            b(body),
            400,
            "BadRequest",
        ));
    }
    c.push(case(
        "yaml invalid utf-8",
        "POST",
        JOBS,
        &[YAML],
        Some(b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \xff\xfe\n".to_vec()),
        400,
        "BadRequest",
    ));
    for depth in [200, 10_000, 100_000] {
        c.push(case(
            format!("yaml nested flow {depth}"),
            "POST",
            JOBS,
            &[YAML],
            b(&"[".repeat(depth)),
            400,
            "BadRequest",
        ));
        let block: String = (0..depth.min(2000))
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect();
        c.push(case(
            format!("yaml nested block {}", depth.min(2000)),
            "POST",
            JOBS,
            &[YAML],
            b(&block),
            400,
            "BadRequest",
        ));
    }
    // The billion laughs: aliases that expand exponentially.
    let mut laughs = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, next) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        laughs.push_str(&format!("{next}: &{next} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    c.push(case(
        "yaml billion laughs",
        "POST",
        JOBS,
        &[YAML],
        b(&laughs),
        400,
        "BadRequest",
    ));

    // Protobuf bodies (upstream `runtime/serializer/protobuf`): a body
    // that does not decode is a 400.
    let good = pb_job("pb", "busybox");
    let pb: Vec<(&str, Vec<u8>)> = vec![
        ("no magic", good.clone()),
        ("magic only", b"k8s\0".to_vec()),
        ("wrong magic", [b"k8s\x01".as_slice(), &good].concat()),
        (
            "truncated envelope",
            envelope("batch/v1", "Job", &good, "")[..20].to_vec(),
        ),
        (
            "bad varint",
            [b"k8s\0\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01".as_slice()].concat(),
        ),
        ("length past end", b"k8s\0\x12\x7f\x01".to_vec()),
        ("wire type 7", b"k8s\0\x0f\x00".to_vec()),
        (
            "no type meta",
            [b"k8s\0".as_slice(), &field(2, &good)].concat(),
        ),
        ("gzip encoding", envelope("batch/v1", "Job", &good, "gzip")),
        ("unknown kind", envelope("batch/v1", "Frob", &good, "")),
        (
            "truncated raw",
            envelope("batch/v1", "Job", &good[..good.len() - 3], ""),
        ),
        (
            "raw not a job",
            envelope("batch/v1", "Job", b"\x08\x96\x01\xff", ""),
        ),
        (
            "pod in a job endpoint",
            envelope("v1", "Pod", &pb_job("pb", "busybox"), ""),
        ),
        (
            "metadata is a varint",
            envelope("batch/v1", "Job", b"\x08\x01", ""),
        ),
        ("empty raw", envelope("batch/v1", "Job", b"", "")),
    ];
    for (name, body) in pb {
        let expect = if name == "empty raw" {
            (422, "Invalid")
        } else {
            (400, "BadRequest")
        };
        c.push(case(
            format!("protobuf {name}"),
            "POST",
            JOBS,
            &[PROTOBUF],
            Some(body),
            expect.0,
            expect.1,
        ));
    }
    // Deeply nested messages: field 2 (spec) of field 6 (template) ... over
    // and over, past prost's recursion limit.
    let mut nested = pb_job("deep", "busybox");
    for _ in 0..5000 {
        nested = field(2, &field(6, &nested));
    }
    c.push(case(
        "protobuf nested 10000",
        "POST",
        JOBS,
        &[PROTOBUF],
        Some(envelope("batch/v1", "Job", &nested, "")),
        400,
        "BadRequest",
    ));
    let mut bad_utf8 = pb_job("x", "busybox");
    bad_utf8.extend(field(1, &field(1, b"\xff\xfe")));
    c.push(case(
        "protobuf invalid utf-8 string",
        "POST",
        JOBS,
        &[PROTOBUF],
        Some(envelope("batch/v1", "Job", &bad_utf8, "")),
        400,
        "BadRequest",
    ));

    // Content types the server does not decode: 415 UnsupportedMediaType
    // (upstream `negotiation.NegotiateInputSerializer`).
    let valid = serde_json::to_vec(&job("ct")).unwrap();
    for ct in [
        "text/plain",
        "application/xml",
        "text/csv",
        "application/cbor",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "json",
        "application/",
        "application/json-patch+json",
        "application/merge-patch+json",
        "image/png",
        "application/jsonx",
    ] {
        c.push(case(
            format!("create content-type {ct:?}"),
            "POST",
            JOBS,
            &[&format!("Content-Type: {ct}")],
            Some(valid.clone()),
            415,
            "UnsupportedMediaType",
        ));
    }
    // Patches with a type that is no patch type.
    for ct in [
        "application/json",
        "application/yaml",
        "text/plain",
        "application/vnd.kubernetes.protobuf",
        "",
    ] {
        c.push(case(
            format!("patch content-type {ct:?}"),
            "PATCH",
            FIXTURE,
            &[&format!("Content-Type: {ct}")],
            b("{}"),
            415,
            "UnsupportedMediaType",
        ));
    }

    // Accept headers the server cannot produce: 406 NotAcceptable
    // (upstream `negotiation.NegotiateOutputMediaType`).
    for accept in [
        "application/xml",
        "text/html",
        "image/png",
        "application/json;as=Frob;g=meta.k8s.io;v=v1",
        "application/json;as=Table;g=meta.k8s.io;v=v9",
        "text/plain",
    ] {
        for path in [JOBS, FIXTURE] {
            c.push(case(
                format!("accept {accept:?} on {path}"),
                "GET",
                path,
                &[&format!("Accept: {accept}")],
                None,
                406,
                "NotAcceptable",
            ));
        }
    }

    // Credentials: 401 Unauthorized Status for reads and writes alike.
    for auth in [
        "Authorization:",
        "Authorization: Bearer",
        "Authorization: Bearer wrong",
        "Authorization: Basic dXNlcjpwYXNz",
        &format!("Authorization: Bearer {token}x"),
        &format!("Authorization: Bearer x{token}"),
        "Authorization: Token abc",
    ] {
        c.push(case(
            format!("auth {auth:?} get"),
            "GET",
            JOBS,
            &[auth],
            None,
            401,
            "Unauthorized",
        ));
        c.push(case(
            format!("auth {auth:?} create"),
            "POST",
            JOBS,
            &[auth, JSON],
            Some(valid.clone()),
            401,
            "Unauthorized",
        ));
    }
    c.push(case(
        "auth delete",
        "DELETE",
        FIXTURE,
        &["Authorization: Bearer wrong"],
        None,
        401,
        "Unauthorized",
    ));

    // Label selectors: 400 with upstream's parser message
    // (`apimachinery/pkg/labels/selector.go`).
    let bad_labels = [
        "a b",
        "a=b=c",
        "a in",
        "a in (",
        "a in (b",
        "a in b",
        "a notin",
        "a,",
        ",a",
        "!",
        "!a=b",
        "a!b",
        "=b",
        "a=(b)",
        "a>",
        "a<b",
        "a>b",
        "a gt 1",
        "bad key!=x",
        "a=bad value!",
        "a=b,,c=d",
        "a in ()x",
        "a=b)",
        "(a=b)",
        "a/b/c=d",
        &format!("{}=v", "k".repeat(64)),
        &format!("k={}", "v".repeat(64)),
    ];
    for sel in bad_labels {
        c.push(case(
            format!("labelSelector {sel:?}"),
            "GET",
            format!("{JOBS}?labelSelector={}", q(sel)),
            &[],
            None,
            400,
            "BadRequest",
        ));
    }
    c.push(case(
        "labelSelector on watch",
        "GET",
        format!("{JOBS}?watch=1&labelSelector={}", q("a in (")),
        &[],
        None,
        400,
        "BadRequest",
    ));
    // Field selectors: syntax and unsupported fields, 400
    // (`fields.ParseSelector`, the kinds' field label conversions).
    let bad_fields = [
        "a",
        "metadata.name",
        "metadata.name>1",
        "=x",
        "spec.foo=1",
        "status.phase=Running",
        "metadata.labels=x",
        "metadata.name=a\\",
        "metadata.name=a\\x",
        "x=y,metadata.name",
        "spec.nodeName=n",
    ];
    for sel in bad_fields {
        c.push(case(
            format!("fieldSelector {sel:?}"),
            "GET",
            format!("{JOBS}?fieldSelector={}", q(sel)),
            &[],
            None,
            400,
            "BadRequest",
        ));
    }
    for sel in ["spec.unknown=1", "status.nope=x", "a"] {
        c.push(case(
            format!("pod fieldSelector {sel:?}"),
            "GET",
            format!("/api/v1/pods?fieldSelector={}", q(sel)),
            &[],
            None,
            400,
            "BadRequest",
        ));
    }

    // Query parameters of lists and watches: values that do not convert
    // are 400 (upstream `DecodeParameters` in `handlers/get.go`), invalid
    // list options 422/400 per `ValidateListOptions`.
    for (p, code, reason) in [
        ("limit=abc", 400, "BadRequest"),
        ("limit=1e3", 400, "BadRequest"),
        ("limit=99999999999999999999", 400, "BadRequest"),
        ("limit=1.5", 400, "BadRequest"),
        ("continue=garbage", 400, "BadRequest"),
        ("continue=%FF%FE", 400, "BadRequest"),
        (
            "continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiYSJ9",
            400,
            "BadRequest",
        ),
        ("resourceVersion=abc", 400, "BadRequest"),
        ("resourceVersion=-1", 400, "BadRequest"),
        ("resourceVersion=1.5", 400, "BadRequest"),
        (
            "resourceVersionMatch=Frob&resourceVersion=1",
            400,
            "BadRequest",
        ),
        ("resourceVersionMatch=Exact", 400, "BadRequest"),
        ("timeoutSeconds=abc", 400, "BadRequest"),
        ("timeoutSeconds=1e9", 400, "BadRequest"),
        ("watch=1&resourceVersion=abc", 400, "BadRequest"),
        ("watch=1&timeoutSeconds=x", 400, "BadRequest"),
        ("watch=1&fieldSelector=spec.foo%3D1", 400, "BadRequest"),
        ("limit=5&continue=bad", 400, "BadRequest"),
    ] {
        c.push(case(
            format!("list ?{p}"),
            "GET",
            format!("{JOBS}?{p}"),
            &[],
            None,
            code,
            reason,
        ));
    }
    // Write options: `ValidateCreateOptions` / `ValidatePatchOptions` /
    // `ValidateDeleteOptions` (`apimachinery/pkg/apis/meta/v1/validation`)
    // are 422 Invalid on CreateOptions/PatchOptions/DeleteOptions.
    let new_job = serde_json::to_vec(&job("opts")).unwrap();
    for p in [
        "dryRun=Frob",
        "dryRun=All&dryRun=Frob",
        "dryRun=all",
        &format!("fieldManager={}", "m".repeat(129)),
        "fieldManager=a%00b",
        "fieldManager=a%0Ab",
    ] {
        c.push(case(
            format!("create ?{}", p.chars().take(40).collect::<String>()),
            "POST",
            format!("{JOBS}?{p}"),
            &[JSON],
            Some(new_job.clone()),
            422,
            "Invalid",
        ));
    }
    c.push(case(
        "update ?dryRun=Frob",
        "PUT",
        format!("{FIXTURE}?dryRun=Frob"),
        &[JSON],
        Some(serde_json::to_vec(&job("fixture")).unwrap()),
        422,
        "Invalid",
    ));
    c.push(case(
        "patch ?dryRun=Frob",
        "PATCH",
        format!("{FIXTURE}?dryRun=Frob"),
        &[MERGE],
        b(r#"{"metadata":{"labels":{"x":"y"}}}"#),
        422,
        "Invalid",
    ));
    c.push(case(
        "apply without fieldManager",
        "PATCH",
        FIXTURE,
        &[APPLY],
        b("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: fixture\n"),
        422,
        "Invalid",
    ));
    c.push(case(
        "apply fieldManager too long",
        "PATCH",
        format!("{FIXTURE}?fieldManager={}", "m".repeat(129)),
        &[APPLY],
        b("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: fixture\n"),
        422,
        "Invalid",
    ));
    c.push(case(
        "apply ?force=true without apply",
        "PATCH",
        format!("{FIXTURE}?force=true"),
        &[MERGE],
        b(r#"{"metadata":{"labels":{"x":"y"}}}"#),
        422,
        "Invalid",
    ));
    for (p, body, code, reason) in [
        ("propagationPolicy=Sideways", "", 422, "Invalid"),
        ("gracePeriodSeconds=abc", "", 400, "BadRequest"),
        ("dryRun=Frob", "", 422, "Invalid"),
        ("", "{", 400, "BadRequest"),
        ("", r#"{"propagationPolicy":"Sideways"}"#, 422, "Invalid"),
        (
            "",
            r#"{"orphanDependents":true,"propagationPolicy":"Background"}"#,
            422,
            "Invalid",
        ),
        ("", r#"{"dryRun":["Frob"]}"#, 422, "Invalid"),
        (
            "",
            r#"{"preconditions":{"uid":"not-the-uid"}}"#,
            409,
            "Conflict",
        ),
        (
            "",
            r#"{"preconditions":{"resourceVersion":"1"}}"#,
            409,
            "Conflict",
        ),
        ("", r#"{"gracePeriodSeconds":"x"}"#, 400, "BadRequest"),
        (
            "",
            r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":1}"#,
            400,
            "BadRequest",
        ),
    ] {
        let path = if p.is_empty() {
            FIXTURE.to_string()
        } else {
            format!("{FIXTURE}?{p}")
        };
        c.push(case(
            format!("delete ?{p} {body}"),
            "DELETE",
            path,
            &[JSON],
            b(body),
            code,
            reason,
        ));
    }
    c.push(case(
        "deletecollection propagationPolicy",
        "DELETE",
        format!("{JOBS}?propagationPolicy=Sideways"),
        &[JSON],
        None,
        422,
        "Invalid",
    ));
    c.push(case(
        "deletecollection bad labelSelector",
        "DELETE",
        format!("{JOBS}?labelSelector={}", q("a in (")),
        &[JSON],
        None,
        400,
        "BadRequest",
    ));

    // Writes that conflict with what is stored: 409 (upstream
    // `NewAlreadyExists`, `NewConflict`), or that name another object: 400.
    c.push(case(
        "create existing",
        "POST",
        JOBS,
        &[JSON],
        Some(serde_json::to_vec(&job("fixture")).unwrap()),
        409,
        "AlreadyExists",
    ));
    c.push(case(
        "create existing configmap",
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[JSON],
        b(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}"#),
        409,
        "AlreadyExists",
    ));
    let mut stale = job("fixture");
    stale["metadata"]["resourceVersion"] = json!("1");
    c.push(case(
        "update stale resourceVersion",
        "PUT",
        FIXTURE,
        &[JSON],
        Some(serde_json::to_vec(&stale).unwrap()),
        409,
        "Conflict",
    ));
    c.push(case(
        "update other name",
        "PUT",
        FIXTURE,
        &[JSON],
        Some(serde_json::to_vec(&job("other")).unwrap()),
        400,
        "BadRequest",
    ));
    let mut other_ns = job("fixture");
    other_ns["metadata"]["namespace"] = json!("kube-system");
    c.push(case(
        "update other namespace",
        "PUT",
        FIXTURE,
        &[JSON],
        Some(serde_json::to_vec(&other_ns).unwrap()),
        400,
        "BadRequest",
    ));
    c.push(case(
        "create other namespace",
        "POST",
        JOBS,
        &[JSON],
        Some(
            serde_json::to_vec(&{
                let mut j = job("x");
                j["metadata"]["namespace"] = json!("kube-system");
                j
            })
            .unwrap(),
        ),
        400,
        "BadRequest",
    ));
    c.push(case(
        "update not found",
        "PUT",
        format!("{JOBS}/missing"),
        &[JSON],
        Some(serde_json::to_vec(&job("missing")).unwrap()),
        404,
        "NotFound",
    ));
    c.push(case(
        "update malformed",
        "PUT",
        FIXTURE,
        &[JSON],
        b("{"),
        400,
        "BadRequest",
    ));
    c.push(case(
        "update immutable template",
        "PUT",
        FIXTURE,
        &[JSON],
        Some(job_with(
            "fixture",
            "/spec/template/spec/containers/0/image",
            json!("alpine"),
        )),
        422,
        "Invalid",
    ));
    c.push(case(
        "configmap data not strings",
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[JSON],
        b(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm2"},"data":{"a":1}}"#),
        400,
        "BadRequest",
    ));
    c.push(case(
        "configmap bad key",
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[JSON],
        b(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm2"},"data":{"a b":"1"}}"#),
        422,
        "Invalid",
    ));
    c.push(case(
        "secret data not base64",
        "POST",
        "/api/v1/namespaces/default/secrets",
        &[JSON],
        b(r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s2"},"data":{"a":"!!!"}}"#),
        400,
        "BadRequest",
    ));
    c.push(case(
        "namespace bad name",
        "POST",
        "/api/v1/namespaces",
        &[JSON],
        b(r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"Bad.Name"}}"#),
        422,
        "Invalid",
    ));
    c.push(case("cronjob bad schedule", "POST", "/apis/batch/v1/namespaces/default/cronjobs", &[JSON],
        b(r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c2"},"spec":{"schedule":"61 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}}}"#), 422, "Invalid"));
    c.push(case("cronjob bad time zone", "POST", "/apis/batch/v1/namespaces/default/cronjobs", &[JSON],
        b(r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c2"},"spec":{"schedule":"* * * * *","timeZone":"Mars/Olympus","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}}}"#), 422, "Invalid"));
    c.push(case("pod bad restartPolicy", "POST", "/api/v1/namespaces/default/pods", &[JSON],
        b(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p2"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c","image":"i"}]}}"#), 422, "Invalid"));
    c.push(case("pod in missing namespace", "POST", "/api/v1/namespaces/nope/pods", &[JSON],
        b(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p2"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#), 404, "NotFound"));

    // Patches of every type on the fixture Job.
    // JSON patch (RFC 6902): a body that is not a list of operations is
    // 400; an operation that does not apply is 422 (upstream
    // `handlers/patch.go`, `jsonPatcher.applyJSPatch`).
    for (body, code, reason) in [
        ("{", 400, "BadRequest"),
        ("{}", 400, "BadRequest"),
        ("\"x\"", 400, "BadRequest"),
        ("[1]", 400, "BadRequest"),
        (r#"[{"op":"frob","path":"/spec"}]"#, 422, "Invalid"),
        (r#"[{"op":"add"}]"#, 422, "Invalid"),
        (r#"[{"op":"remove","path":"/spec/nope"}]"#, 422, "Invalid"),
        (
            r#"[{"op":"replace","path":"/nope/deeper","value":1}]"#,
            422,
            "Invalid",
        ),
        (
            r#"[{"op":"test","path":"/metadata/name","value":"other"}]"#,
            422,
            "Invalid",
        ),
        (
            r#"[{"op":"move","from":"/nope","path":"/spec/x"}]"#,
            422,
            "Invalid",
        ),
        (
            r#"[{"op":"copy","from":"/spec","path":"/spec/template/spec/x/y"}]"#,
            422,
            "Invalid",
        ),
        (r#"[{"op":"add","path":"spec","value":1}]"#, 422, "Invalid"),
        (
            r#"[{"op":"add","path":"/spec/template/spec/containers/9","value":{}}]"#,
            422,
            "Invalid",
        ),
        (
            r#"[{"op":"replace","path":"/spec/completions","value":"x"}]"#,
            422,
            "Invalid",
        ),
        (
            r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"alpine"}]"#,
            422,
            "Invalid",
        ),
        (
            r#"[{"op":"replace","path":"/metadata/name","value":"other"}]"#,
            400,
            "BadRequest",
        ),
        (r#"[{"op":"remove","path":""}]"#, 422, "Invalid"),
        (
            r#"[{"op":"replace","path":"/spec/parallelism","value":-3}]"#,
            422,
            "Invalid",
        ),
    ] {
        c.push(case(
            format!("json patch {body}"),
            "PATCH",
            FIXTURE,
            &[JSON_PATCH],
            b(body),
            code,
            reason,
        ));
    }
    // JSON merge patch (RFC 7386): malformed 400; a result that does not
    // decode is 422 on `patch`; an invalid result 422.
    for (body, code, reason) in [
        ("{", 400, "BadRequest"),
        ("", 400, "BadRequest"),
        (r#"{"spec":{"completions":"x"}}"#, 422, "Invalid"),
        (
            r#"{"spec":{"template":{"spec":{"containers":"x"}}}}"#,
            422,
            "Invalid",
        ),
        (r#"{"spec":{"parallelism":-1}}"#, 422, "Invalid"),
        (
            r#"{"spec":{"completionMode":"NonIndexed"}}"#,
            422,
            "Invalid",
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[]}}}}"#,
            422,
            "Invalid",
        ),
        (r#"{"metadata":{"name":"other"}}"#, 400, "BadRequest"),
        (
            r#"{"metadata":{"labels":{"bad key!":"x"}}}"#,
            422,
            "Invalid",
        ),
        (r#"{"kind":"Pod"}"#, 400, "BadRequest"),
        (r#"{"apiVersion":"batch/v2"}"#, 400, "BadRequest"),
        (
            r#"{"spec":{"successPolicy":{"rules":[{"succeededIndexes":"9"}]}}}"#,
            422,
            "Invalid",
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox","resources":{"limits":{"cpu":"lots"}}}]}}}}"#,
            422,
            "Invalid",
        ),
    ] {
        c.push(case(
            format!("merge patch {body}"),
            "PATCH",
            FIXTURE,
            &[MERGE],
            b(body),
            code,
            reason,
        ));
    }
    c.push(case(
        "merge patch array",
        "PATCH",
        FIXTURE,
        &[MERGE],
        b("[]"),
        422,
        "Invalid",
    ));
    c.push(case(
        "merge patch deep nesting",
        "PATCH",
        FIXTURE,
        &[MERGE],
        b(&"{\"a\":".repeat(100_000)),
        400,
        "BadRequest",
    ));
    // Strategic merge patch: malformed documents and directives 400, lists
    // of lists 422 (upstream `interpretStrategicMergePatchError`; the other
    // merge errors are 400 here, see `patch/strategic.rs`).
    for (body, code, reason) in [
        ("{", 400, "BadRequest"),
        ("[]", 400, "BadRequest"),
        ("1", 400, "BadRequest"),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"frob","name":"main"}]}}}}"#,
            400,
            "BadRequest",
        ),
        (r#"{"spec":{"$patch":"frob"}}"#, 400, "BadRequest"),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"merge"}]}}}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":"x"}}}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"z"},{"name":"main"}],"containers":[{"name":"main"},{"name":"z","image":"x"}]}}}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"metadata":{"$deleteFromPrimitiveList":["x"]}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"spec":{"template":{"spec":{"$retainKeys":"x"}}}}"#,
            400,
            "BadRequest",
        ),
        // A value of another type replaces the list; the result does not
        // decode: 422 on `patch` (`applyPatchToObject`).
        (
            r#"{"spec":{"template":{"spec":{"containers":"x"}}}}"#,
            422,
            "Invalid",
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[1,"a"]}}}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[[1]]}}}}"#,
            400,
            "BadRequest",
        ),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"alpine"}]}}}}"#,
            422,
            "Invalid",
        ),
        (r#"{"spec":{"parallelism":-5}}"#, 422, "Invalid"),
        (r#"{"metadata":{"name":"other"}}"#, 400, "BadRequest"),
        (
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"value":"x"}]}]}}}}"#,
            400,
            "BadRequest",
        ),
    ] {
        c.push(case(
            format!("strategic patch {body}"),
            "PATCH",
            FIXTURE,
            &[STRATEGIC],
            b(body),
            code,
            reason,
        ));
    }
    // Server-side apply (`application/apply-patch+yaml`).
    let apply = format!("{FIXTURE}?fieldManager=fuzz");
    for (body, code, reason) in [
        ("a: [", 400, "BadRequest"),
        ("apiVersion: batch/v1\nkind: Pod\nmetadata:\n  name: fixture\n", 400, "BadRequest"),
        ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: other\n", 400, "BadRequest"),
        ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: fixture\nspec:\n  parallelism: -1\n", 422, "Invalid"),
        ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: fixture\nspec:\n  parallelism: x\n", 422, "Invalid"),
    ] {
        c.push(case(format!("apply {body:?}"), "PATCH", apply.clone(), &[APPLY], b(body), code, reason));
    }
    c.push(case(
        "patch not found",
        "PATCH",
        format!("{JOBS}/missing"),
        &[MERGE],
        b("{}"),
        404,
        "NotFound",
    ));
    c.push(case(
        "patch status of missing",
        "PATCH",
        format!("{JOBS}/missing/status"),
        &[MERGE],
        b("{}"),
        404,
        "NotFound",
    ));

    // Oversized bodies: 413 RequestEntityTooLarge over 3 MiB (upstream
    // `MaxRequestBodyBytes`, `handlers/rest.go limitedReadBody`).
    let big = format!("{{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{{\"name\":\"big\",\"annotations\":{{\"a\":\"{}\"}}}}}}", "x".repeat(3 * 1024 * 1024));
    c.push(case(
        "create 3 MiB + 1",
        "POST",
        JOBS,
        &[JSON],
        b(&big),
        413,
        "RequestEntityTooLarge",
    ));
    c.push(case(
        "create 8 MiB yaml",
        "POST",
        JOBS,
        &[YAML],
        b(&format!("a: {}", "x".repeat(8 << 20))),
        413,
        "RequestEntityTooLarge",
    ));
    c.push(case(
        "patch 4 MiB",
        "PATCH",
        FIXTURE,
        &[MERGE],
        b(&format!(
            "{{\"metadata\":{{\"annotations\":{{\"a\":\"{}\"}}}}}}",
            "x".repeat(4 << 20)
        )),
        413,
        "RequestEntityTooLarge",
    ));
    c.push(case(
        "update 4 MiB",
        "PUT",
        FIXTURE,
        &[JSON],
        Some(vec![b' '; 4 << 20]),
        413,
        "RequestEntityTooLarge",
    ));
    // Under the limit but over what an object may be: 422 on annotations
    // (`ValidateAnnotationsSize`, 256 KiB).
    let fat = json!({"a": "x".repeat(300 * 1024)});
    c.push(case(
        "annotations over 256 KiB",
        "POST",
        JOBS,
        &[JSON],
        Some(job_with("fat", "/metadata/annotations", fat)),
        422,
        "Invalid",
    ));

    // Paths: 404 for what does not exist, 405 for verbs a resource lacks.
    for (m, p, code, reason) in [
        (
            "GET",
            "/apis/batch/v1/namespaces/default/frobs",
            404,
            "NotFound",
        ),
        ("GET", "/apis/frob.example.com/v1/things", 404, "NotFound"),
        ("GET", "/apis/batch/v9/jobs", 404, "NotFound"),
        ("GET", &format!("{JOBS}/missing"), 404, "NotFound"),
        ("GET", &format!("{JOBS}/Bad_Name"), 404, "NotFound"),
        (
            "GET",
            &format!("{JOBS}/{}", "a".repeat(5000)),
            404,
            "NotFound",
        ),
        ("GET", &format!("{JOBS}/a%00b"), 404, "NotFound"),
        ("GET", &format!("{JOBS}/%FF%FE"), 404, "NotFound"),
        ("GET", &format!("{FIXTURE}/frob"), 404, "NotFound"),
        (
            "GET",
            "/apis/batch/v1/namespaces/default/jobs/../../../../etc/passwd",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods/missing/log",
            404,
            "NotFound",
        ),
        ("DELETE", &format!("{JOBS}/missing"), 404, "NotFound"),
        ("POST", &format!("{JOBS}/fixture"), 405, "MethodNotAllowed"),
        ("PUT", JOBS, 405, "MethodNotAllowed"),
        ("PATCH", JOBS, 405, "MethodNotAllowed"),
        ("DELETE", "/api/v1/namespaces", 405, "MethodNotAllowed"),
    ] {
        c.push(case(
            format!("path {m} {}", p.chars().take(80).collect::<String>()),
            m,
            p,
            &[JSON],
            None,
            code,
            reason,
        ));
    }
    c
}

/// What the store holds: every object's key and resourceVersion. Nodes are
/// listed by name only (the agent's heartbeat rewrites its Node).
type Dump = BTreeMap<String, String>;

fn dump_of(bodies: &[String]) -> Result<Dump, String> {
    let mut out = Dump::new();
    for (path, body) in LISTS.iter().zip(bodies) {
        let list: Value = serde_json::from_str(body).map_err(|e| format!("{path}: {e}: {body}"))?;
        let items = list["items"]
            .as_array()
            .ok_or_else(|| format!("{path}: {body}"))?;
        for item in items {
            let m = &item["metadata"];
            let key = format!(
                "{path} {}/{}",
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or("")
            );
            let rv = if path.ends_with("/nodes") {
                String::new()
            } else {
                m["resourceVersion"].as_str().unwrap_or("").to_string()
            };
            out.insert(key, rv);
        }
    }
    Ok(out)
}

/// The answer to one case: the request's code and body, the health probe's
/// code, and the store after it.
struct Answer {
    code: u16,
    body: Vec<u8>,
    health: u16,
    dump: Result<Dump, String>,
}

struct Client<'a> {
    server: &'a Server,
    dir: PathBuf,
}

impl Client<'_> {
    fn common(&self, cmd: &mut Command, url: &str, out: &Path) {
        cmd.arg("--cacert")
            .arg(self.server.data_dir.path().join("pki/ca.crt"))
            .args(["--max-time", "30", "--path-as-is", "-o"])
            .arg(out)
            .args(["-w", "%{http_code}\\n"])
            .arg(url);
    }

    fn bearer(&self) -> String {
        format!("Authorization: Bearer {}", self.server.token())
    }

    /// `case` (or none: just the probes), then `/healthz`, then the lists.
    fn run(&self, case: Option<&Case>) -> Answer {
        let base = self.server.base_url();
        let mut cmd = Command::new("curl");
        cmd.arg("-sS");
        let resp = self.dir.join("resp");
        let _ = std::fs::remove_file(&resp);
        if let Some(case) = case {
            cmd.args(["-X", case.method]);
            let sets_auth = case.headers.iter().any(|h| h.starts_with("Authorization"));
            if !sets_auth {
                cmd.arg("-H").arg(self.bearer());
            }
            for h in &case.headers {
                cmd.arg("-H").arg(h);
            }
            if !case.headers.iter().any(|h| h.starts_with("Content-Type")) {
                cmd.args(["-H", "Content-Type:"]);
            }
            if let Some(body) = &case.body {
                let f = self.dir.join("body");
                std::fs::write(&f, body).unwrap();
                cmd.arg("--data-binary").arg(format!("@{}", f.display()));
            }
            self.common(&mut cmd, &format!("{base}{}", case.path), &resp);
            cmd.arg("--next");
        }
        let health = self.dir.join("health");
        cmd.arg("-H").arg(self.bearer());
        self.common(&mut cmd, &format!("{base}/healthz"), &health);
        for (i, path) in LISTS.iter().enumerate() {
            cmd.arg("--next").arg("-H").arg(self.bearer());
            self.common(
                &mut cmd,
                &format!("{base}{path}"),
                &self.dir.join(format!("list{i}")),
            );
        }
        let out = cmd.output().expect("curl");
        let codes: Vec<u16> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().parse().unwrap_or(0))
            .collect();
        let first = usize::from(case.is_some());
        let lists: Vec<String> = (0..LISTS.len())
            .map(|i| std::fs::read_to_string(self.dir.join(format!("list{i}"))).unwrap_or_default())
            .collect();
        Answer {
            code: if case.is_some() {
                codes.first().copied().unwrap_or(0)
            } else {
                0
            },
            body: std::fs::read(&resp).unwrap_or_default(),
            health: codes.get(first).copied().unwrap_or(0),
            dump: dump_of(&lists),
        }
    }
}

/// Creates the objects the corpus aims at and waits until the store is
/// quiet (the controllers have reacted to them).
fn fixtures(s: &Server, client: &Client<'_>) -> Dump {
    let manifest = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: fixture
spec:
  suspend: true
  completions: 4
  parallelism: 1
  completionMode: Indexed
  backoffLimitPerIndex: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["true"]
        env:
        - {name: A, value: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  a: "1"
---
apiVersion: v1
kind: Secret
metadata:
  name: sec
stringData:
  a: "1"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cron
spec:
  schedule: "*/5 * * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
"#;
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], manifest)
        .ok();
    // Quiet: two dumps a second apart agree.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = client.run(None).dump.expect("lists");
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = client.run(None).dump.expect("lists");
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "the store never settled");
        last = now;
    }
}

#[test]
fn malformed_requests_get_4xx_status_and_change_nothing() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let client = Client {
        server: &s,
        dir: dir.path().to_path_buf(),
    };
    let before = fixtures(&s, &client);
    assert!(
        before.keys().any(|k| k.ends_with("default/fixture")),
        "{before:?}"
    );
    let cases = corpus(&s.token());
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut failures = Vec::new();
    // Each case is compared with the store as the one before left it, so
    // a write is blamed on the case that made it.
    let mut prev = before.clone();
    let mut by_code: BTreeMap<u16, usize> = BTreeMap::new();
    for case in &cases {
        let a = client.run(Some(case));
        *by_code.entry(a.code).or_default() += 1;
        let text = String::from_utf8_lossy(&a.body);
        let status: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        let mut wrong = Vec::new();
        if a.code != case.code {
            wrong.push(format!("code {} (want {})", a.code, case.code));
        }
        if status["kind"] != "Status"
            || status["apiVersion"] != "v1"
            || status["status"] != "Failure"
        {
            wrong.push("not a Failure Status".into());
        } else {
            if status["code"] != json!(a.code) {
                wrong.push(format!("Status.code {}", status["code"]));
            }
            if status["reason"] != case.reason {
                wrong.push(format!(
                    "reason {} (want {})",
                    status["reason"], case.reason
                ));
            }
            if case.reason == "Invalid"
                && status["details"]["causes"]
                    .as_array()
                    .is_none_or(|c| c.is_empty())
            {
                wrong.push("Invalid without causes".into());
            }
        }
        if a.health != 200 {
            wrong.push(format!("health probe answered {}", a.health));
        }
        match &a.dump {
            Ok(d) if *d == prev => {}
            Ok(d) => {
                wrong.push(format!("the store changed: {:?}", diff(&prev, d)));
                prev = d.clone();
            }
            Err(e) => wrong.push(format!("lists failed: {e}")),
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} ({} {}): {}\n    {}",
                case.name,
                case.method,
                case.path.chars().take(120).collect::<String>(),
                wrong.join("; "),
                text.chars().take(300).collect::<String>()
            ));
        }
        if a.health != 200 {
            break;
        }
    }
    eprintln!(
        "bad input: {} requests; answers by code: {by_code:?}",
        cases.len()
    );
    let log = s.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        diff(&before, &prev),
        Vec::<String>::new(),
        "the store changed"
    );
}

fn diff(a: &Dump, b: &Dump) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("-{k}")),
            Some(w) if w != v => out.push(format!("~{k} {v}->{w}")),
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            out.push(format!("+{k}"));
        }
    }
    out
}
