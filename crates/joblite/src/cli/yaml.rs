//! YAML output in the shape `kubectl get -o yaml` produces.
//!
//! kubectl marshals through `sigs.k8s.io/yaml` (go-yaml v2): keys sorted,
//! block style, sequences not indented under their key, strings quoted only
//! when a plain scalar would read back as something else. A small emitter
//! over `serde_json::Value` gives that shape exactly, which a general YAML
//! serializer does not.

use serde_json::Value;

/// Serializes a JSON value as kubectl-style YAML (ends with a newline).
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => write_seq(items, 0, &mut out),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn sorted(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(map: &serde_json::Map<String, Value>, level: usize, out: &mut String) {
    for (i, (key, value)) in sorted(map).into_iter().enumerate() {
        // The first key of a map inside a sequence item follows the "- ".
        if i > 0 || !out.ends_with("- ") {
            indent(out, level);
        }
        out.push_str(&string_text(key, level));
        out.push(':');
        write_value_after_key(value, level, out);
    }
}

fn write_value_after_key(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(map, level + 2, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(items, level, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, level + 2));
            out.push('\n');
        }
    }
}

fn write_seq(items: &[Value], level: usize, out: &mut String) {
    for item in items {
        if !out.ends_with("- ") {
            indent(out, level);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(map, level + 2, out),
            Value::Array(inner) if !inner.is_empty() => write_seq(inner, level + 2, out),
            scalar => {
                out.push_str(&scalar_text(scalar, level + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value, level: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, level),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// go-yaml v2's choice of style for a string.
fn string_text(s: &str, level: usize) -> String {
    if s.contains('\n') && s.chars().all(|c| c == '\n' || !c.is_control()) && !s.starts_with(' ') {
        return literal_block(s, level);
    }
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if plain_is_safe(s) {
        return s.to_string();
    }
    if s.chars().any(|c| c.is_control()) {
        return double_quoted(s);
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn literal_block(s: &str, level: usize) -> String {
    let chomp = if s.ends_with("\n\n") {
        "+"
    } else if s.ends_with('\n') {
        ""
    } else {
        "-"
    };
    let mut out = format!("|{chomp}");
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(&mut out, level);
            out.push_str(line);
        }
    }
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// YAML 1.1 plain scalars that go-yaml resolves to bool, null, int or float.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN",
    ];
    if WORDS.contains(&s) || looks_like_timestamp(s) {
        return true;
    }
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    let t = t.replace('_', "");
    if t.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = t.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    // Floats: digits with one dot and an optional exponent.
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t.as_str(), None),
    };
    let dots = mantissa.matches('.').count();
    let digits_ok = mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        && mantissa.chars().any(|c| c.is_ascii_digit());
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    digits_ok && dots <= 1 && exp_ok && (dots == 1 || exponent.is_some())
}

/// go-yaml's timestamp forms all start with a `YYYY-M-D` date.
fn looks_like_timestamp(s: &str) -> bool {
    let date = s.split(['T', 't', ' ']).next().unwrap_or("");
    let parts: Vec<&str> = date.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Whether the emitter may write `s` as a plain scalar.
fn plain_is_safe(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // "-" and "?" and ":" are fine when followed by a non-space, except
        // at the very start they still need quotes in go-yaml for "- " forms.
        let second = s.chars().nth(1);
        let indicator_ok = matches!(first, '-' | '?' | ':')
            && second.is_some_and(|c| c != ' ')
            && !matches!(first, '?' | ':');
        if !indicator_ok {
            return false;
        }
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

/// Sorts object keys recursively, as Go's encoding of maps does, so
/// `-o json` matches kubectl too.
pub(crate) fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in sorted(map) {
                out.insert(k.clone(), sort_keys(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_shape() {
        let job = json!({
            "kind": "Job",
            "apiVersion": "batch/v1",
            "metadata": {"name": "pi", "labels": {"team": "a"}, "annotations": {}},
            "spec": {"completions": 3, "suspend": false, "template": {"spec": {
                "containers": [{"name": "pi", "image": "perl", "command": ["echo", "hi: there", "true", "07"]}],
                "restartPolicy": "Never"}}},
            "status": {}
        });
        let want = "\
apiVersion: batch/v1
kind: Job
metadata:
  annotations: {}
  labels:
    team: a
  name: pi
spec:
  completions: 3
  suspend: false
  template:
    spec:
      containers:
      - command:
        - echo
        - 'hi: there'
        - \"true\"
        - \"07\"
        image: perl
        name: pi
      restartPolicy: Never
status: {}
";
        assert_eq!(to_yaml(&job), want);
    }

    #[test]
    fn string_styles() {
        let cases = [
            ("plain", "plain"),
            ("", "\"\""),
            ("123", "\"123\""),
            ("1.5", "\"1.5\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
            ("*star", "'*star'"),
            ("it's: x", "'it''s: x'"),
            ("a-b", "a-b"),
            ("-x", "-x"),
            (
                "batch.kubernetes.io/job-name",
                "batch.kubernetes.io/job-name",
            ),
            // go-yaml v2 resolves timestamps, so kubectl quotes them.
            ("2024-01-01T00:00:00Z", "\"2024-01-01T00:00:00Z\""),
            ("2024-1-2", "\"2024-1-2\""),
        ];
        for (input, want) in cases {
            assert_eq!(string_text(input, 0), want, "{input:?}");
        }
    }

    #[test]
    fn literal_blocks_and_nested_sequences() {
        let v = json!({"a": "x\ny\n", "b": [[1, 2], []], "c": "x\ny"});
        assert_eq!(
            to_yaml(&v),
            "a: |\n  x\n  y\nb:\n- - 1\n  - 2\n- []\nc: |-\n  x\n  y\n"
        );
    }

    #[test]
    fn sort_keys_recurses() {
        let v = json!({"b": {"z": 1, "a": [ {"y": 1, "x": 2} ]}, "a": 0});
        assert_eq!(
            serde_json::to_string(&sort_keys(&v)).unwrap(),
            r#"{"a":0,"b":{"a":[{"x":2,"y":1}],"z":1}}"#
        );
    }
}
