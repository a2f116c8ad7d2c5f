//! Reading `-f` inputs: files, directories and stdin, each holding one or
//! more YAML or JSON documents.
//!
//! YAML is parsed with serde-saphyr straight into `serde_json::Value`, so YAML
//! and JSON manifests behave alike. Documents are split here, rather than by
//! the parser, so that every error can name the file, the document's index
//! and the line in the file, which is what a user needs to find the mistake.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

/// One object read from an input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// The file name as given (`STDIN` for `-`), as kubectl names it.
    pub source: String,
    /// 1-based index of the document in its file.
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    pub object: Value,
}

impl Document {
    pub(crate) fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub(crate) fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub(crate) fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub(crate) fn namespace(&self) -> Option<&str> {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty())
    }
    /// `"job.yaml" (document 2, line 14)`, for messages.
    pub(crate) fn location(&self) -> String {
        format!(
            "{:?} (document {}, line {})",
            self.source, self.index, self.line
        )
    }
}

/// Reads every `-f` argument in order. Directories contribute their
/// `.yaml`, `.yml` and `.json` files in name order (recursively with `-R`).
pub(crate) fn read_inputs(inputs: &[String], recursive: bool) -> anyhow::Result<Vec<Document>> {
    if inputs.is_empty() {
        bail!("must specify one of -f and -k");
    }
    let mut docs = Vec::new();
    for input in inputs {
        if input == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading stdin")?;
            docs.extend(parse("STDIN", &text)?);
            continue;
        }
        let path = Path::new(input);
        if !path.exists() {
            bail!("the path {input:?} does not exist");
        }
        if path.is_dir() {
            for file in dir_files(path, recursive)? {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                docs.extend(parse(&file.display().to_string(), &text)?);
            }
        } else {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {input}"))?;
            docs.extend(parse(input, &text)?);
        }
    }
    Ok(docs)
}

fn dir_files(dir: &Path, recursive: bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                files.extend(dir_files(&entry, true)?);
            }
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(entry);
        }
    }
    Ok(files)
}

/// Parses the documents of one input and checks each is a Kubernetes object.
pub(crate) fn parse(source: &str, text: &str) -> anyhow::Result<Vec<Document>> {
    let raw = if text.trim_start().starts_with(['{', '[']) {
        parse_json_stream(source, text)?
    } else {
        parse_yaml_stream(source, text)?
    };
    let mut docs = Vec::new();
    for (index, line, value) in raw {
        for object in expand_list(value) {
            let doc = Document {
                source: source.to_string(),
                index,
                line,
                object,
            };
            validate(&doc)?;
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// Splits a YAML stream at `---` lines; returns (index, start line, value).
fn parse_yaml_stream(source: &str, text: &str) -> anyhow::Result<Vec<(usize, usize, Value)>> {
    let mut chunks: Vec<(usize, String)> = vec![(1, String::new())];
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            // Content after the marker (`--- {a: 1}`) belongs to the new document.
            let rest = line[3..].to_string();
            chunks.push((lineno, rest + "\n"));
        } else if line == "..." {
            chunks.push((lineno + 1, String::new()));
        } else {
            let chunk = &mut chunks.last_mut().expect("never empty").1;
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    let mut out = Vec::new();
    let mut index = 0;
    for (start, chunk) in chunks {
        if is_blank_yaml(&chunk) {
            continue;
        }
        index += 1;
        let value: Value = serde_saphyr::from_str(&chunk).map_err(|err| {
            let (line, column) = err
                .location()
                .map(|l| (l.line() as usize + start - 1, l.column() as usize))
                .unwrap_or((start, 0));
            anyhow!(
                "error parsing {source:?} (document {index}, line {line}, column {column}): {}",
                first_line(&err.to_string())
            )
        })?;
        if value.is_null() {
            index -= 1;
            continue;
        }
        out.push((index, start, value));
    }
    Ok(out)
}

/// serde-saphyr renders `error: line L column C: message` and a snippet;
/// keep the message alone, since the location is reported in file terms.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match (line.starts_with("line "), line.find(": ")) {
        (true, Some(i)) if line[..i].contains(" column ") => line[i + 2..].to_string(),
        _ => line.to_string(),
    }
}

fn is_blank_yaml(chunk: &str) -> bool {
    chunk
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.starts_with('%'))
}

fn parse_json_stream(source: &str, text: &str) -> anyhow::Result<Vec<(usize, usize, Value)>> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                index += 1;
                let skipped = text[offset..]
                    .find(|c: char| !c.is_whitespace())
                    .map(|i| offset + i)
                    .unwrap_or(offset);
                let line = text[..skipped].matches('\n').count() + 1;
                out.push((index, line, value));
            }
            Some(Err(err)) => bail!(
                "error parsing {source:?} (document {}, line {}, column {}): {}",
                index + 1,
                err.line(),
                err.column(),
                strip_json_position(&err.to_string())
            ),
        }
    }
    Ok(out)
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A `kind: List` (or `JobList`) holds its objects in `items`.
fn expand_list(value: Value) -> Vec<Value> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![value];
    }
    let api_version = value.get("apiVersion").cloned();
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| k.strip_suffix("List"))
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|mut item| {
                    // Typed lists (JobList) may leave kind/apiVersion off items.
                    if let (Some(obj), Some(kind)) = (item.as_object_mut(), &kind) {
                        obj.entry("kind")
                            .or_insert_with(|| Value::String(kind.clone()));
                        if let Some(av) = &api_version {
                            obj.entry("apiVersion").or_insert_with(|| av.clone());
                        }
                    }
                    item
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// kubectl's client-side checks: an object with apiVersion, kind and a name.
fn validate(doc: &Document) -> anyhow::Result<()> {
    if !doc.object.is_object() {
        bail!(
            "error validating {}: expected a Kubernetes object (a mapping), found {}",
            doc.location(),
            type_name(&doc.object)
        );
    }
    let mut problems = Vec::new();
    if doc.api_version().is_empty() {
        problems.push("apiVersion not set");
    }
    if doc.kind().is_empty() {
        problems.push("kind not set");
    }
    let generate_name = doc
        .object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .is_some_and(|g| !g.is_empty());
    if doc.name().is_empty() && !generate_name {
        problems.push("metadata.name not set");
    }
    if !problems.is_empty() {
        bail!(
            "error validating {}: error validating data: [{}]",
            doc.location(),
            problems.join(", ")
        );
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TWO_JOBS: &str = "\
# leading comment
apiVersion: batch/v1
kind: Job
metadata:
  name: a
spec:
  completions: 3
---
---
# empty document above is skipped
apiVersion: batch/v1
kind: Job
metadata:
  name: b
  labels: {team: x}
";

    #[test]
    fn multi_document_yaml() {
        let docs = parse("jobs.yaml", TWO_JOBS).unwrap();
        let got: Vec<(usize, usize, &str)> =
            docs.iter().map(|d| (d.index, d.line, d.name())).collect();
        assert_eq!(got, [(1, 1, "a"), (2, 9, "b")]);
        assert_eq!(docs[0].object["spec"]["completions"], json!(3));
        assert_eq!(docs[1].object["metadata"]["labels"]["team"], json!("x"));
    }

    #[test]
    fn yaml_error_names_file_document_and_line() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [unclosed\n";
        let err = parse("bad.yaml", text).unwrap_err().to_string();
        assert!(
            err.starts_with("error parsing \"bad.yaml\" (document 2, line "),
            "{err}"
        );
        let line: usize = err
            .split("line ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!((9..=10).contains(&line), "{err}");
        assert!(!err.contains("error: line"), "{err}");
    }

    #[test]
    fn json_stream_and_lists() {
        let text = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"List","items":[
  {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}},
  {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"}}]}"#;
        let docs = parse("x.json", text).unwrap();
        let got: Vec<(usize, usize, &str, &str)> = docs
            .iter()
            .map(|d| (d.index, d.line, d.kind(), d.name()))
            .collect();
        assert_eq!(
            got,
            [(1, 1, "Job", "a"), (2, 2, "Pod", "p"), (2, 2, "Job", "j")]
        );
    }

    #[test]
    fn typed_list_items_get_kind() {
        let text = "apiVersion: batch/v1\nkind: JobList\nitems:\n- metadata: {name: a}\n";
        let docs = parse("l.yaml", text).unwrap();
        assert_eq!((docs[0].kind(), docs[0].api_version()), ("Job", "batch/v1"));
    }

    #[test]
    fn json_error_location() {
        let err = parse("x.json", "{\"kind\": \"Job\",\n \"apiVersion\": }")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("error parsing \"x.json\" (document 1, line 2, column"),
            "{err}"
        );
    }

    #[test]
    fn validation_messages() {
        let cases = [
            ("kind: Job\nmetadata: {name: a}\n", "[apiVersion not set]"),
            ("apiVersion: v1\nmetadata: {name: a}\n", "[kind not set]"),
            ("apiVersion: v1\nkind: Pod\n", "[metadata.name not set]"),
            ("- a\n- b\n", "found a sequence"),
        ];
        for (text, want) in cases {
            let err = parse("f.yaml", text).unwrap_err().to_string();
            assert!(err.contains("\"f.yaml\" (document 1, line 1)"), "{err}");
            assert!(err.contains(want), "{err}");
        }
        let ok = parse(
            "f.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {generateName: x-}\n",
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn inputs_from_directory() {
        let dir = tempfile::tempdir().unwrap();
        let job = |n: &str| format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {n}\n");
        std::fs::write(dir.path().join("b.yaml"), job("b")).unwrap();
        std::fs::write(dir.path().join("a.yml"), job("a")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/c.json"),
            r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"c"}}"#,
        )
        .unwrap();
        let arg = dir.path().display().to_string();
        let names = |docs: Vec<Document>| {
            docs.iter()
                .map(|d| d.name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(read_inputs(std::slice::from_ref(&arg), false).unwrap()),
            ["a", "b"]
        );
        assert_eq!(names(read_inputs(&[arg], true).unwrap()), ["a", "b", "c"]);
        let err = read_inputs(&["/nonexistent.yaml".into()], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the path \"/nonexistent.yaml\" does not exist"
        );
    }
}
