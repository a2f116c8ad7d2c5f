//! `joblite get`: lists and objects as server-side Tables, printed like
//! kubectl, or as `-o yaml|json|name`; `-w` keeps watching.
//!
//! Requests mirror kubectl's (`GET ...?limit=500` with the Table Accept
//! header, then `?watch=true&resourceVersion=RV` for `-w`), so the output is
//! whatever columns the server defines, for joblite's engine or a cluster.

use anyhow::bail;
use futures::{AsyncBufReadExt, TryStreamExt};
use serde_json::Value;

use super::client::{connect, Target, TargetArgs};
use super::errors::api_error;
use super::printer::{
    self, fallback_table, list_items, render_objects, render_table, Column, OutputFormat, Table,
    TableOptions, TABLE_ACCEPT,
};
use super::resource;
use super::CmdResult;
use api::resources::ResourceInfo;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GetArgs {
    /// The resource type (jobs, pods, events, nodes), or TYPE/NAME.
    pub resource: String,
    /// Names of objects to show.
    pub names: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<OutputFormat>,
    /// After listing, watch for changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Label selector, e.g. app=x,tier!=db.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Field selector, e.g. status.phase=Running.
    #[arg(long)]
    pub field_selector: Option<String>,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Accepted for old habits (kubectl's removed --show-all); changes nothing.
    #[arg(short = 'a', long = "show-all", hide = true)]
    pub show_all: bool,
    /// Don't print headers.
    #[arg(long)]
    pub no_headers: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `path?k=v&...` from the non-empty parameters.
pub(crate) fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

async fn get_json(target: &Target, url: &str, accept: &str) -> anyhow::Result<Value> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())?;
    let text = target
        .client
        .request_text(request)
        .await
        .map_err(|e| api_error(e, None))?;
    Ok(serde_json::from_str(&text)?)
}

struct Query<'a> {
    info: &'static ResourceInfo,
    namespace: Option<&'a str>,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

impl Query<'_> {
    fn collection(&self) -> String {
        resource::collection_path(self.info, self.namespace)
    }
}

pub(crate) async fn run(args: GetArgs) -> CmdResult {
    let (info, names) = resource::parse_targets(&args.resource, &args.names)?;
    if args.all_namespaces && !names.is_empty() {
        bail!("a resource cannot be retrieved by name across all namespaces");
    }
    let target = connect(&args.target).await?;
    let namespace = (!args.all_namespaces).then_some(target.namespace.as_str());
    let query = Query {
        info,
        namespace,
        label_selector: args.selector.clone(),
        field_selector: args.field_selector.clone(),
    };
    match args.output {
        None | Some(OutputFormat::Wide) => print_tables(&target, &args, &query, &names).await,
        Some(format) => print_objects(&target, &args, &query, &names, format).await,
    }
}

async fn print_objects(
    target: &Target,
    args: &GetArgs,
    query: &Query<'_>,
    names: &[String],
    format: OutputFormat,
) -> CmdResult {
    let display = resource::display_kind(query.info);
    let mut objects = Vec::new();
    if names.is_empty() {
        let url = with_query(
            &query.collection(),
            &[
                ("labelSelector", query.label_selector.clone()),
                ("fieldSelector", query.field_selector.clone()),
            ],
        );
        let list = get_json(target, &url, "application/json").await?;
        objects = list_items(&list);
        if objects.is_empty() && format == OutputFormat::Name {
            eprintln!(
                "{}",
                printer::no_resources_message(namespace_for_message(query))
            );
        }
    } else {
        for name in names {
            let url = format!("{}/{}", query.collection(), encode(name));
            objects.push(get_json(target, &url, "application/json").await?);
        }
    }
    print!(
        "{}",
        render_objects(objects, names.len() == 1, format, &display)
    );
    if args.watch {
        bail!("-w is supported with the table output only");
    }
    Ok(0)
}

fn namespace_for_message<'a>(query: &Query<'a>) -> Option<&'a str> {
    if query.info.namespaced {
        query.namespace
    } else {
        None
    }
}

/// Reads a Table reply, or builds kubectl's NAME/AGE fallback from objects.
fn as_table(value: &Value) -> anyhow::Result<Table> {
    if value.get("kind").and_then(Value::as_str) == Some("Table") {
        return Ok(serde_json::from_value(value.clone())?);
    }
    if value.get("items").is_some() {
        return Ok(fallback_table(&list_items(value)));
    }
    Ok(fallback_table(std::slice::from_ref(value)))
}

async fn print_tables(
    target: &Target,
    args: &GetArgs,
    query: &Query<'_>,
    names: &[String],
) -> CmdResult {
    let options = TableOptions {
        wide: args.output == Some(OutputFormat::Wide),
        namespace_column: args.all_namespaces && query.info.namespaced,
    };
    let mut columns: Vec<Column> = Vec::new();
    let mut rows = Vec::new();
    let mut resource_version = None;
    if names.is_empty() {
        let mut continue_token: Option<String> = None;
        loop {
            let url = with_query(
                &query.collection(),
                &[
                    ("labelSelector", query.label_selector.clone()),
                    ("fieldSelector", query.field_selector.clone()),
                    ("limit", Some("500".into())),
                    ("continue", continue_token.clone()),
                ],
            );
            let value = get_json(target, &url, TABLE_ACCEPT).await?;
            resource_version = value
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            continue_token = value
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            let table = as_table(&value)?;
            if columns.is_empty() {
                columns = table.column_definitions;
            }
            rows.extend(table.rows);
            if continue_token.is_none() {
                break;
            }
        }
    } else {
        for name in names {
            let url = format!("{}/{}", query.collection(), encode(name));
            let table = as_table(&get_json(target, &url, TABLE_ACCEPT).await?)?;
            if columns.is_empty() {
                columns = table.column_definitions;
            }
            rows.extend(table.rows);
        }
    }
    let mut header_printed = false;
    if rows.is_empty() {
        if !args.watch {
            eprintln!(
                "{}",
                printer::no_resources_message(namespace_for_message(query))
            );
        }
    } else {
        print!(
            "{}",
            render_table(&columns, &rows, options, !args.no_headers)
        );
        header_printed = true;
    }
    if !args.watch {
        return Ok(0);
    }
    // kubectl watches a named object through a field selector.
    let field_selector = match names {
        [] => query.field_selector.clone(),
        [one] => Some(format!("metadata.name={one}")),
        _ => bail!("watch is only supported on individual resources and resource collections, but {} resources were found", names.len()),
    };
    let url = with_query(
        &query.collection(),
        &[
            ("labelSelector", query.label_selector.clone()),
            ("fieldSelector", field_selector),
            ("resourceVersion", resource_version),
            ("watch", Some("true".into())),
        ],
    );
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, TABLE_ACCEPT)
        .body(Vec::new())?;
    let stream = target
        .client
        .request_stream(request)
        .await
        .map_err(|e| api_error(e, None))?;
    let mut lines = stream.lines();
    while let Some(line) = lines.try_next().await? {
        if line.trim().is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(&line)?;
        let object = event.get("object").cloned().unwrap_or(Value::Null);
        match event.get("type").and_then(Value::as_str) {
            Some("ERROR") => {
                let status: kube::core::Status = serde_json::from_value(object)?;
                return Err(super::errors::ServerError {
                    status: Box::new(status),
                    context: None,
                }
                .into());
            }
            Some("BOOKMARK") => continue,
            _ => {}
        }
        let table = as_table(&object)?;
        if !table.column_definitions.is_empty() && columns.is_empty() {
            columns = table.column_definitions.clone();
        }
        let header = !header_printed && !args.no_headers;
        print!("{}", render_table(&columns, &table.rows, options, header));
        header_printed = true;
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        assert_eq!(encode("team=a,app!=b"), "team%3Da%2Capp%21%3Db");
        assert_eq!(
            with_query(
                "/api/v1/pods",
                &[
                    ("labelSelector", Some("a=b".into())),
                    ("x", None),
                    ("limit", Some("500".into()))
                ]
            ),
            "/api/v1/pods?labelSelector=a%3Db&limit=500"
        );
        assert_eq!(with_query("/p", &[("x", None)]), "/p");
    }

    #[test]
    fn table_or_fallback() {
        let t = as_table(&serde_json::json!({"kind": "JobList", "apiVersion": "batch/v1", "items": [{"metadata": {"name": "a"}}]})).unwrap();
        assert_eq!(t.column_definitions.len(), 2);
        assert_eq!(t.rows[0].cells[0], "a");
        let t = as_table(&serde_json::json!({"kind": "Table", "columnDefinitions": [{"name": "Name"}], "rows": []})).unwrap();
        assert_eq!(t.column_definitions[0].name, "Name");
    }
}
