//! Output of `get`: server-side Tables printed as kubectl prints them, and
//! objects as YAML, JSON or `kind/name`.
//!
//! The server computes the cells (`Accept: application/json;as=Table`), so
//! joblite prints exactly what kubectl would for the same server, including
//! a real cluster's. Layout follows kubectl's `printers.HumanReadablePrinter`
//! (`staging/src/k8s.io/cli-runtime/pkg/printers/tableprinter.go`): upper-case
//! headers, wide adds priority > 0 columns, NAMESPACE first with `-A`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::yaml;

/// The Accept header kubectl sends for tables.
pub(crate) const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// `-o` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    Wide,
    Yaml,
    Json,
    Name,
}

/// A `meta.k8s.io/v1` Table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Table {
    #[serde(default, deserialize_with = "null_as_default")]
    pub column_definitions: Vec<Column>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Column {
    pub name: String,
    #[serde(default)]
    pub priority: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Row {
    #[serde(default)]
    pub cells: Vec<Value>,
    #[serde(default)]
    pub object: Option<Value>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// How to lay a table out.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TableOptions {
    pub wide: bool,
    /// Prepend NAMESPACE (from each row's object metadata), as with `-A`.
    pub namespace_column: bool,
}

/// A cell as kubectl prints it.
pub(crate) fn cell_text(cell: &Value) -> String {
    match cell {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".into(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Renders rows under `columns` (which a watch carries over from its first
/// event); with `header` the upper-cased column names come first.
pub(crate) fn render_table(
    columns: &[Column],
    rows: &[Row],
    options: TableOptions,
    header: bool,
) -> String {
    let shown: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| options.wide || c.priority == 0)
        .map(|(i, _)| i)
        .collect();
    let mut text = String::new();
    if header {
        let mut cells = Vec::new();
        if options.namespace_column {
            cells.push("NAMESPACE".to_string());
        }
        cells.extend(shown.iter().map(|&i| columns[i].name.to_uppercase()));
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    for row in rows {
        let mut cells = Vec::new();
        if options.namespace_column {
            let ns = row
                .object
                .as_ref()
                .and_then(|o| o.pointer("/metadata/namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            cells.push(ns.to_string());
        }
        cells.extend(
            shown
                .iter()
                .map(|&i| row.cells.get(i).map(cell_text).unwrap_or_default()),
        );
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    aligned(&text)
}

/// `printers.GetNewTabWriter`: Go's tabwriter with minwidth 6, padding 3,
/// spaces. The `tabwriter` crate ports Go's `text/tabwriter` column blocks,
/// but its minimum width excludes the padding (`max(minwidth, cell) +
/// padding`) where Go's includes it (`max(minwidth, cell + padding)`), so
/// Go's 6 is the crate's 3. One flush, so kubectl's `RememberWidths` flag
/// changes nothing.
fn aligned(text: &str) -> String {
    use std::io::Write as _;
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(3).padding(3);
    let _ = tw.write_all(text.as_bytes());
    String::from_utf8(tw.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// When a server answers the Table request with plain objects, kubectl
/// prints NAME and AGE; so does joblite.
pub(crate) fn fallback_table(objects: &[Value]) -> Table {
    let columns = vec![
        Column {
            name: "Name".into(),
            priority: 0,
        },
        Column {
            name: "Age".into(),
            priority: 0,
        },
    ];
    let rows = objects
        .iter()
        .map(|o| {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let age = o
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| super::duration::age(t.with_timezone(&chrono::Utc)))
                .unwrap_or_else(|| "<unknown>".into());
            Row {
                cells: vec![json!(name), json!(age)],
                object: Some(
                    json!({"metadata": o.get("metadata").cloned().unwrap_or(Value::Null)}),
                ),
            }
        })
        .collect();
    Table {
        column_definitions: columns,
        rows,
    }
}

/// Items of a list response, with `kind`/`apiVersion` filled in as kubectl
/// shows them (list items arrive without them).
pub(crate) fn list_items(list: &Value) -> Vec<Value> {
    let kind = list
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| k.strip_suffix("List"))
        .unwrap_or("")
        .to_string();
    let api_version = list.get("apiVersion").cloned().unwrap_or(Value::Null);
    list.get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let mut item = item.clone();
                    if let Some(obj) = item.as_object_mut() {
                        if !obj.contains_key("kind") && !kind.is_empty() {
                            obj.insert("kind".into(), json!(kind));
                        }
                        if !obj.contains_key("apiVersion") {
                            obj.insert("apiVersion".into(), api_version.clone());
                        }
                    }
                    item
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Removes what kubectl hides by default.
fn strip_hidden(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    object
}

/// `-o yaml|json|name` output of objects; `single` prints the one object
/// bare, otherwise kubectl's `kind: List` wrapper.
pub(crate) fn render_objects(
    objects: Vec<Value>,
    single: bool,
    format: OutputFormat,
    display_kind: &str,
) -> String {
    match format {
        OutputFormat::Name => objects
            .iter()
            .map(|o| {
                let name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!("{display_kind}/{name}\n")
            })
            .collect(),
        OutputFormat::Json | OutputFormat::Yaml => {
            let mut objects: Vec<Value> = objects.into_iter().map(strip_hidden).collect();
            let value = if single && objects.len() == 1 {
                objects.remove(0)
            } else {
                json!({
                    "apiVersion": "v1",
                    "items": objects,
                    "kind": "List",
                    "metadata": {"resourceVersion": ""},
                })
            };
            let value = yaml::sort_keys(&value);
            if format == OutputFormat::Yaml {
                yaml::to_yaml(&value)
            } else {
                to_json_4(&value) + "\n"
            }
        }
        OutputFormat::Wide => String::new(),
    }
}

/// JSON indented by four spaces, like Go's `json.MarshalIndent(v, "", "    ")`.
pub(crate) fn to_json_4(value: &Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    serde::Serialize::serialize(value, &mut ser).expect("a JSON value always serializes");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// kubectl's message for an empty result (printed on stderr).
pub(crate) fn no_resources_message(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("No resources found in {ns} namespace."),
        None => "No resources found".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn get_table_short_names_keep_the_minimum_width() {
        let text = "NAME\tA\nab\tb\n";
        assert_eq!(super::aligned(text), "NAME   A\nab     b\n");
        let text = "N\tA\nab\tb\n";
        assert_eq!(super::aligned(text), "N     A\nab    b\n");
    }

    #[test]
    fn get_table_layout() {
        let text = "NAME\tSTATUS\tCOMPLETIONS\tDURATION\tAGE\npi\tComplete\t1/1\t2s\t4s\n";
        assert_eq!(
            super::aligned(text),
            "NAME   STATUS     COMPLETIONS   DURATION   AGE\npi     Complete   1/1           2s         4s\n"
        );
    }

    use super::*;

    fn job_table() -> Table {
        serde_json::from_value(json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "5"},
            "columnDefinitions": [
                {"name": "Name", "type": "string", "format": "name", "priority": 0},
                {"name": "Status", "type": "string", "priority": 0},
                {"name": "Completions", "type": "string", "priority": 0},
                {"name": "Duration", "type": "string", "priority": 0},
                {"name": "Age", "type": "string", "priority": 0},
                {"name": "Containers", "type": "string", "priority": 1},
                {"name": "Images", "type": "string", "priority": 1},
                {"name": "Selector", "type": "string", "priority": 1}
            ],
            "rows": [
                {"cells": ["pi", "Complete", "1/1", "2s", "4s", "pi", "perl", "batch.kubernetes.io/controller-uid=1"],
                 "object": {"metadata": {"name": "pi", "namespace": "default"}}},
                {"cells": ["work-queue", "Running", "0/1 of 5", "", "10s", "w", "busybox", "batch.kubernetes.io/controller-uid=2"],
                 "object": {"metadata": {"name": "work-queue", "namespace": "team-a"}}}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn table_layouts() {
        let t = job_table();
        let cases = [
            (
                TableOptions::default(),
                "\
NAME         STATUS     COMPLETIONS   DURATION   AGE
pi           Complete   1/1           2s         4s
work-queue   Running    0/1 of 5                 10s
",
            ),
            (
                TableOptions {
                    wide: true,
                    namespace_column: false,
                },
                "\
NAME         STATUS     COMPLETIONS   DURATION   AGE   CONTAINERS   IMAGES    SELECTOR
pi           Complete   1/1           2s         4s    pi           perl      batch.kubernetes.io/controller-uid=1
work-queue   Running    0/1 of 5                 10s   w            busybox   batch.kubernetes.io/controller-uid=2
",
            ),
            (
                TableOptions {
                    wide: false,
                    namespace_column: true,
                },
                "\
NAMESPACE   NAME         STATUS     COMPLETIONS   DURATION   AGE
default     pi           Complete   1/1           2s         4s
team-a      work-queue   Running    0/1 of 5                 10s
",
            ),
        ];
        for (options, want) in cases {
            assert_eq!(
                render_table(&t.column_definitions, &t.rows, options, true),
                want
            );
        }
        // A watch event: no header, its own widths.
        assert_eq!(
            render_table(
                &t.column_definitions,
                &t.rows[..1],
                TableOptions::default(),
                false
            ),
            "pi    Complete   1/1   2s    4s\n"
        );
    }

    #[test]
    fn null_columns_in_watch_events_parse() {
        let t: Table = serde_json::from_value(
            json!({"columnDefinitions": null, "rows": [{"cells": ["a", 1, true, null]}]}),
        )
        .unwrap();
        assert!(t.column_definitions.is_empty());
        let cells: Vec<String> = t.rows[0].cells.iter().map(cell_text).collect();
        assert_eq!(cells, ["a", "1", "true", "<none>"]);
    }

    #[test]
    fn objects_as_name_json_yaml() {
        let list = json!({"kind": "JobList", "apiVersion": "batch/v1", "items": [
            {"metadata": {"name": "a", "managedFields": [{}]}},
            {"metadata": {"name": "b"}}
        ]});
        let items = list_items(&list);
        assert_eq!(items[0]["kind"], "Job");
        assert_eq!(items[0]["apiVersion"], "batch/v1");
        assert_eq!(
            render_objects(items.clone(), false, OutputFormat::Name, "job.batch"),
            "job.batch/a\njob.batch/b\n"
        );
        let one = render_objects(items[..1].to_vec(), true, OutputFormat::Json, "job.batch");
        assert_eq!(
            one,
            "{\n    \"apiVersion\": \"batch/v1\",\n    \"kind\": \"Job\",\n    \"metadata\": {\n        \"name\": \"a\"\n    }\n}\n"
        );
        let yaml = render_objects(items, false, OutputFormat::Yaml, "job.batch");
        assert!(
            yaml.starts_with("apiVersion: v1\nitems:\n- apiVersion: batch/v1\n  kind: Job\n"),
            "{yaml}"
        );
        assert!(
            yaml.ends_with("kind: List\nmetadata:\n  resourceVersion: \"\"\n"),
            "{yaml}"
        );
    }

    #[test]
    fn fallback_prints_name_and_age() {
        let t = fallback_table(&[json!({"metadata": {"name": "x"}})]);
        assert_eq!(
            render_table(
                &t.column_definitions,
                &t.rows,
                TableOptions::default(),
                true
            ),
            "NAME   AGE\nx      <unknown>\n"
        );
    }
}
