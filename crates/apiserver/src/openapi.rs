//! OpenAPI v3 documents (`/openapi/v3` and `/openapi/v3/<group-version>`).
//!
//! kubectl needs them for two things (kubectl-api-surface.md §4):
//! * `apply/create/replace -f` look for a PATCH operation carrying
//!   `x-kubernetes-group-version-kind` and a `fieldValidation` parameter
//!   (upstream `staging/src/k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go`);
//!   without one every `-f` command fails unless `--validate=false`;
//! * `kubectl explain` walks `components.schemas` from the schema whose
//!   `x-kubernetes-group-version-kind` matches, following `$ref`s.
//!
//! Schemas come from k8s-openapi's `schemars` impls, whose names already are
//! upstream's definition names (`io.k8s.api.batch.v1.Job`); schemars'
//! OpenAPI 3 settings turn `$ref` + description into `allOf` as upstream
//! does. List kinds (k8s-openapi's `List<T>` has no schema) and the
//! `x-kubernetes-*` extensions are added here. Documents are built once, on
//! first use, and addressed by a content hash like kube-apiserver's.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use api::resources::{ResourceInfo, ALL};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::discovery::subresource_info;
use crate::patch::strategic::PatchSchema;

const REF_PREFIX: &str = "#/components/schemas/";

/// The built documents: path (`apis/batch/v1`) → bytes, and the index.
struct Docs {
    docs: BTreeMap<String, (Vec<u8>, String)>,
    index: Vec<u8>,
}

static DOCS: LazyLock<Docs> = LazyLock::new(build_all);

/// `GET /openapi/v3`: `{"paths":{"<gv>":{"serverRelativeURL":"/openapi/v3/<gv>?hash=<HASH>"}}}`.
pub(crate) fn index() -> &'static [u8] {
    &DOCS.index
}

/// `GET /openapi/v3/<path>` for `path` such as `api/v1` or `apis/batch/v1`
/// (leading/trailing slashes ignored; the `?hash=` query is not part of it).
pub(crate) fn document(path: &str) -> Option<&'static [u8]> {
    DOCS.docs
        .get(path.trim_matches('/'))
        .map(|(b, _)| b.as_slice())
}

/// The content hash of a document (what `?hash=` carries), so a handler
/// can mark matching requests immutable as kube-apiserver does.
#[cfg(test)]
pub(crate) fn hash(path: &str) -> Option<&'static str> {
    DOCS.docs
        .get(path.trim_matches('/'))
        .map(|(_, h)| h.as_str())
}

/// The group-version paths served (`api/v1`, `apis/batch/v1`, …).
#[cfg(test)]
pub(crate) fn paths() -> Vec<&'static str> {
    DOCS.docs.keys().map(String::as_str).collect()
}

/// FNV-1a 64: stable across runs and builds, unlike `DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn build_all() -> Docs {
    let mut docs = BTreeMap::new();
    let mut add = |path: String, doc: Value| {
        let bytes = serde_json::to_vec(&doc).unwrap_or_default();
        let hash = format!("{:016X}", fnv1a64(&bytes));
        docs.insert(path, (bytes, hash));
    };
    add(
        "api".into(),
        discovery_doc(
            "/api/",
            "getCoreAPIVersions",
            "core",
            schema_ref::<meta::APIVersions>(),
        ),
    );
    add(
        "apis".into(),
        discovery_doc(
            "/apis/",
            "getAPIVersions",
            "apis",
            schema_ref::<meta::APIGroupList>(),
        ),
    );
    for (group, versions) in group_versions() {
        if group.is_empty() {
            for v in versions {
                add(format!("api/{v}"), group_version_doc(group, v));
            }
        } else {
            add(
                format!("apis/{group}"),
                discovery_doc(
                    &format!("/apis/{group}/"),
                    &format!("get{}APIGroup", camel(group)),
                    group,
                    schema_ref::<meta::APIGroup>(),
                ),
            );
            for v in versions {
                add(format!("apis/{group}/{v}"), group_version_doc(group, v));
            }
        }
    }
    let paths: Map<String, Value> = docs
        .iter()
        .map(|(p, (_, h))| {
            (
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={h}")}),
            )
        })
        .collect();
    let index = serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default();
    Docs { docs, index }
}

fn group_versions() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in ALL.iter() {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) if !vs.contains(&r.version) => vs.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// `batch` → `Batch`, `""` → `Core`.
fn camel(s: &str) -> String {
    if s.is_empty() {
        return "Core".into();
    }
    s.split(['.', '-'])
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn openapi_doc(paths: Value, schemas: Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// Schemas of the given types, named as upstream, with OpenAPI 3 `$ref`s.
struct Schemas {
    generator: SchemaGenerator,
}

impl Schemas {
    fn new() -> Self {
        Schemas {
            generator: SchemaSettings::openapi3().into_generator(),
        }
    }
    fn add<T: JsonSchema>(&mut self) -> &mut Self {
        self.generator.subschema_for::<T>();
        self
    }
    fn take(&mut self) -> Map<String, Value> {
        self.generator.take_definitions(true)
    }
}

fn schema_ref<T: JsonSchema>() -> String {
    T::schema_name().into_owned()
}

fn ref_to(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

fn discovery_doc(path: &str, op_id: &str, tag: &str, response_schema: String) -> Value {
    let mut s = Schemas::new();
    s.add::<meta::APIVersions>()
        .add::<meta::APIGroupList>()
        .add::<meta::APIGroup>();
    let schemas = s.take();
    let paths = json!({
        path: {"get": {
            "tags": [tag],
            "description": "get available resources",
            "operationId": op_id,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": ref_to(&response_schema)}}},
                "401": {"description": "Unauthorized"},
            },
        }}
    });
    openapi_doc(paths, schemas)
}

/// Definition name of a served kind (k8s-openapi's schema name, which is
/// upstream's definition name).
fn kind_schema(r: &ResourceInfo) -> String {
    r.strategy.schema_name()
}

fn add_kind_schema(s: &mut Schemas, r: &ResourceInfo) {
    r.strategy.add_schema(&mut s.generator);
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// The document for one group-version: every served resource's schemas and
/// REST operations.
fn group_version_doc(group: &str, version: &str) -> Value {
    let resources: Vec<&'static ResourceInfo> = ALL
        .iter()
        .copied()
        .filter(|r| r.group == group && r.version == version)
        .collect();

    let mut s = Schemas::new();
    for r in &resources {
        add_kind_schema(&mut s, r);
    }
    s.add::<meta::ListMeta>()
        .add::<meta::DeleteOptions>()
        .add::<meta::Status>()
        .add::<meta::Patch>();
    if resources
        .iter()
        .any(|r| r.subresources.contains(&"eviction"))
    {
        s.add::<k8s_openapi::api::policy::v1::Eviction>();
    }
    let mut schemas = s.take();

    for r in &resources {
        let name = kind_schema(r);
        set_gvk(&mut schemas, &name, gvk(r.group, r.version, r.kind));
        unrequire_metadata(&mut schemas, &name);
        schemas.insert(list_schema_name(r), list_schema(r, &name));
        annotate_patch_strategies(&mut schemas, &name, r.strategy.patch_schema());
    }
    // DeleteOptions and Status are served by every group-version.
    for t in ["DeleteOptions", "Status"] {
        set_gvk(
            &mut schemas,
            &format!("io.k8s.apimachinery.pkg.apis.meta.v1.{t}"),
            gvk(group, version, t),
        );
    }
    set_gvk(
        &mut schemas,
        &schema_ref::<k8s_openapi::api::policy::v1::Eviction>(),
        gvk("policy", "v1", "Eviction"),
    );

    let mut paths = Map::new();
    for r in &resources {
        resource_paths(&mut paths, r);
    }
    openapi_doc(Value::Object(paths), schemas)
}

fn set_gvk(schemas: &mut Map<String, Value>, name: &str, gvk: Value) {
    if let Some(Value::Object(s)) = schemas.get_mut(name) {
        s.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
    }
}

/// k8s-openapi marks `metadata` required (its Rust field is not optional);
/// upstream's schemas do not, and `kubectl explain` would print `-required-`.
fn unrequire_metadata(schemas: &mut Map<String, Value>, name: &str) {
    let Some(Value::Object(s)) = schemas.get_mut(name) else {
        return;
    };
    if let Some(Value::Array(req)) = s.get_mut("required") {
        req.retain(|f| f != "metadata");
        if req.is_empty() {
            s.remove("required");
        }
    }
}

fn list_schema_name(r: &ResourceInfo) -> String {
    let kind = kind_schema(r);
    format!("{}List", kind)
}

fn list_schema(r: &ResourceInfo, item: &str) -> Value {
    json!({
        "description": format!("{} is a list of {} objects.", r.list_kind, r.kind),
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."},
            "items": {"type": "array", "description": format!("List of {}.", r.plural), "items": {"allOf": [ref_to(item)], "default": {}}},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource this object represents."},
            "metadata": {"allOf": [ref_to(&schema_ref::<meta::ListMeta>())], "default": {}, "description": "Standard list metadata."},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk(r.group, r.version, r.list_kind)],
    })
}

/// The definition a property schema points at (`$ref` or `allOf[0].$ref`),
/// looking through arrays.
fn referenced(prop: &Value) -> Option<&str> {
    let target = prop.get("items").unwrap_or(prop);
    target
        .get("$ref")
        .or_else(|| target.get("allOf")?.get(0)?.get("$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(REF_PREFIX))
}

/// Publishes the strategic-merge-patch tags of `schema` as upstream's
/// `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` on the
/// property schemas they belong to.
fn annotate_patch_strategies(schemas: &mut Map<String, Value>, root: &str, schema: &PatchSchema) {
    for (path, meta) in schema.entries() {
        let Some((field, parents)) = path.split_last() else {
            continue;
        };
        // Walk to the definition owning `field`.
        let mut def = root.to_string();
        let mut ok = true;
        for seg in parents {
            let next = schemas
                .get(&def)
                .and_then(|d| d.get("properties")?.get(*seg))
                .and_then(referenced)
                .map(str::to_string);
            match next {
                Some(n) => def = n,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        let Some(prop) = schemas
            .get_mut(&def)
            .and_then(|d| d.get_mut("properties")?.get_mut(*field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if let Some(st) = meta.strategy_string() {
            prop.insert("x-kubernetes-patch-strategy".into(), Value::String(st));
        }
        if let Some(k) = meta.merge_key {
            prop.insert(
                "x-kubernetes-patch-merge-key".into(),
                Value::String(k.into()),
            );
        }
    }
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": schema, "uniqueItems": true})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true, "schema": {"type": "string", "uniqueItems": true}})
}

fn dry_run() -> Value {
    query_param("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed", json!({"type":"string"}))
}
fn field_manager() -> Value {
    query_param(
        "fieldManager",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
        json!({"type":"string"}),
    )
}
fn field_validation() -> Value {
    query_param("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict", json!({"type":"string"}))
}

fn json_content(schema: Value) -> Value {
    json!({
        "application/json": {"schema": schema.clone()},
        "application/yaml": {"schema": schema.clone()},
        "application/vnd.kubernetes.protobuf": {"schema": schema},
    })
}

fn ok_responses(codes: &[&str], schema: Value) -> Value {
    let mut m = Map::new();
    for c in codes {
        m.insert(
            (*c).to_string(),
            json!({"description": match *c { "201" => "Created", "202" => "Accepted", _ => "OK" }, "content": json_content(schema.clone())}),
        );
    }
    m.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(m)
}

struct Op<'a> {
    action: &'a str,
    verb: &'a str,
    kind_suffix: String,
    gvk: Value,
    tag: String,
}

fn operation(
    op: &Op,
    params: Vec<Value>,
    request: Option<Value>,
    responses: Value,
    description: &str,
) -> Value {
    let mut o = json!({
        "tags": [op.tag],
        "description": description,
        "operationId": format!("{}{}", op.verb, op.kind_suffix),
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk,
    });
    let m = o.as_object_mut().expect("object literal");
    if !params.is_empty() {
        m.insert("parameters".into(), Value::Array(params));
    }
    if let Some(r) = request {
        m.insert("requestBody".into(), r);
    }
    o
}

/// Paths and operations for one resource, named like upstream's
/// (`/apis/batch/v1/namespaces/{namespace}/jobs/{name}`, `patchBatchV1NamespacedJob`).
fn resource_paths(paths: &mut Map<String, Value>, r: &'static ResourceInfo) {
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let gv = format!("{}{}", camel(r.group), camel(r.version));
    let tag = if r.group.is_empty() {
        format!("core_{}", r.version)
    } else {
        format!("{}_{}", r.group, r.version)
    };
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let kind_schema = kind_schema(r);
    let list_schema = list_schema_name(r);
    let this_gvk = gvk(r.group, r.version, r.kind);
    let coll = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let item = format!("{coll}/{{name}}");
    let mk = |action: &'static str, verb: &'static str, suffix: String| Op {
        action,
        verb,
        kind_suffix: suffix,
        gvk: this_gvk.clone(),
        tag: tag.clone(),
    };
    let body =
        |schema: &str| json!({"content": {"*/*": {"schema": ref_to(schema)}}, "required": true});
    let list_params = || {
        vec![
            query_param("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", json!({"type":"boolean"})),
            query_param("continue", "The continue option should be set when retrieving more results from the server.", json!({"type":"string"})),
            query_param("fieldSelector", "A selector to restrict the list of returned objects by their fields.", json!({"type":"string"})),
            query_param("labelSelector", "A selector to restrict the list of returned objects by their labels.", json!({"type":"string"})),
            query_param("limit", "limit is a maximum number of responses to return for a list call.", json!({"type":"integer"})),
            query_param("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from.", json!({"type":"string"})),
            query_param("timeoutSeconds", "Timeout for the list/watch call.", json!({"type":"integer"})),
            query_param("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", json!({"type":"boolean"})),
        ]
    };
    let ns_params = || {
        let mut v = Vec::new();
        if r.namespaced {
            v.push(path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }
        v.push(query_param(
            "pretty",
            "If 'true', then the output is pretty printed.",
            json!({"type":"string"}),
        ));
        v
    };
    let kind = r.kind;
    let delete_options = schema_ref::<meta::DeleteOptions>();
    let status_schema = schema_ref::<meta::Status>();
    let patch_schema = schema_ref::<meta::Patch>();
    let patch_body = json!({
        "content": {
            "application/apply-patch+yaml": {"schema": ref_to(&patch_schema)},
            "application/json-patch+json": {"schema": ref_to(&patch_schema)},
            "application/merge-patch+json": {"schema": ref_to(&patch_schema)},
            "application/strategic-merge-patch+json": {"schema": ref_to(&patch_schema)},
        },
        "required": true,
    });
    let patch_params = || {
        vec![
            dry_run(),
            field_manager(),
            field_validation(),
            query_param(
                "force",
                "Force is going to \"force\" Apply requests.",
                json!({"type":"boolean"}),
            ),
        ]
    };

    // Collection: list, create, deletecollection.
    let mut c = Map::new();
    c.insert(
        "get".into(),
        operation(
            &mk("list", "list", format!("{gv}{scope}{kind}")),
            list_params(),
            None,
            ok_responses(&["200"], ref_to(&list_schema)),
            &format!("list or watch objects of kind {kind}"),
        ),
    );
    c.insert(
        "post".into(),
        operation(
            &mk("post", "create", format!("{gv}{scope}{kind}")),
            vec![dry_run(), field_manager(), field_validation()],
            Some(body(&kind_schema)),
            ok_responses(&["200", "201", "202"], ref_to(&kind_schema)),
            &format!("create a {kind}"),
        ),
    );
    if crate::discovery::verbs(r).contains(&"deletecollection") {
        let mut params = list_params();
        params.push(dry_run());
        params.push(query_param(
            "gracePeriodSeconds",
            "The duration in seconds before the object should be deleted.",
            json!({"type":"integer"}),
        ));
        params.push(query_param(
            "propagationPolicy",
            "Whether and how garbage collection will be performed.",
            json!({"type":"string"}),
        ));
        c.insert(
            "delete".into(),
            operation(
                &mk(
                    "deletecollection",
                    "delete",
                    format!("{gv}Collection{scope}{kind}"),
                ),
                params,
                Some(body(&delete_options)),
                ok_responses(&["200"], ref_to(&status_schema)),
                &format!("delete collection of {kind}"),
            ),
        );
    }
    // Only the operations the registry serves (reviews are create-only).
    let allowed = |method: &str, item: bool| match (method, item) {
        ("get", false) => r.allows("list"),
        ("post", false) => r.allows("create"),
        ("delete", false) => r.allows("deletecollection"),
        ("get", true) => r.allows("get"),
        ("put", true) => r.allows("update"),
        ("patch", true) => r.allows("patch"),
        ("delete", true) => r.allows("delete"),
        _ => true,
    };
    c.retain(|m, _| allowed(m, false));
    c.insert("parameters".into(), Value::Array(ns_params()));
    paths.insert(coll.clone(), Value::Object(c));

    // Item: read, replace, patch, delete.
    let mut i = Map::new();
    i.insert(
        "get".into(),
        operation(
            &mk("get", "read", format!("{gv}{scope}{kind}")),
            vec![],
            None,
            ok_responses(&["200"], ref_to(&kind_schema)),
            &format!("read the specified {kind}"),
        ),
    );
    i.insert(
        "put".into(),
        operation(
            &mk("put", "replace", format!("{gv}{scope}{kind}")),
            vec![dry_run(), field_manager(), field_validation()],
            Some(body(&kind_schema)),
            ok_responses(&["200", "201"], ref_to(&kind_schema)),
            &format!("replace the specified {kind}"),
        ),
    );
    i.insert(
        "patch".into(),
        operation(
            &mk("patch", "patch", format!("{gv}{scope}{kind}")),
            patch_params(),
            Some(patch_body.clone()),
            ok_responses(&["200", "201"], ref_to(&kind_schema)),
            &format!("partially update the specified {kind}"),
        ),
    );
    i.insert(
        "delete".into(),
        operation(
            &mk("delete", "delete", format!("{gv}{scope}{kind}")),
            vec![
                dry_run(),
                query_param(
                    "gracePeriodSeconds",
                    "The duration in seconds before the object should be deleted.",
                    json!({"type":"integer"}),
                ),
                query_param(
                    "propagationPolicy",
                    "Whether and how garbage collection will be performed.",
                    json!({"type":"string"}),
                ),
            ],
            Some(body(&delete_options)),
            ok_responses(&["200", "202"], ref_to(&status_schema)),
            &format!("delete a {kind}"),
        ),
    );
    let mut item_params = vec![path_param("name", &format!("name of the {kind}"))];
    item_params.extend(ns_params());
    i.retain(|m, _| allowed(m, true));
    i.insert("parameters".into(), Value::Array(item_params.clone()));
    if i.len() > 1 {
        paths.insert(item.clone(), Value::Object(i));
    }

    // All namespaces: list/watch.
    if r.namespaced && r.allows("list") {
        paths.insert(
            format!("{prefix}/{}", r.plural),
            json!({
                "get": operation(&mk("list", "list", format!("{gv}{kind}ForAllNamespaces")), list_params(), None, ok_responses(&["200"], ref_to(&list_schema)), &format!("list or watch objects of kind {kind}")),
                "parameters": [query_param("pretty", "If 'true', then the output is pretty printed.", json!({"type":"string"}))],
            }),
        );
    }

    // Subresources.
    for sub in r.subresources {
        let info = subresource_info(r, sub);
        let sub_camel = camel(sub);
        let suffix = format!("{gv}{scope}{kind}{sub_camel}");
        let mut m = Map::new();
        match *sub {
            "log" => {
                let mut op = mk("get", "read", suffix);
                op.gvk = gvk(r.group, r.version, r.kind);
                let params = [
                    "container",
                    "follow",
                    "limitBytes",
                    "previous",
                    "sinceSeconds",
                    "sinceTime",
                    "tailLines",
                    "timestamps",
                ]
                .iter()
                .map(|p| {
                    query_param(
                        p,
                        &format!("{p} option of PodLogOptions"),
                        json!({"type":"string"}),
                    )
                })
                .collect();
                m.insert(
                    "get".into(),
                    operation(&op, params, None, json!({"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}, "401": {"description": "Unauthorized"}}), &format!("read log of the specified {kind}")),
                );
            }
            "eviction" => {
                let (g, v, k) = info.response_kind;
                let mut op = mk("post", "create", suffix);
                op.gvk = gvk(g, v, k);
                let eviction = schema_ref::<k8s_openapi::api::policy::v1::Eviction>();
                m.insert(
                    "post".into(),
                    operation(
                        &op,
                        vec![dry_run(), field_manager(), field_validation()],
                        Some(body(&eviction)),
                        ok_responses(&["200", "201", "202"], ref_to(&eviction)),
                        &format!("create eviction of a {kind}"),
                    ),
                );
            }
            _ => {
                m.insert(
                    "get".into(),
                    operation(
                        &mk("get", "read", suffix.clone()),
                        vec![],
                        None,
                        ok_responses(&["200"], ref_to(&kind_schema)),
                        &format!("read {sub} of the specified {kind}"),
                    ),
                );
                m.insert(
                    "put".into(),
                    operation(
                        &mk("put", "replace", suffix.clone()),
                        vec![dry_run(), field_manager(), field_validation()],
                        Some(body(&kind_schema)),
                        ok_responses(&["200", "201"], ref_to(&kind_schema)),
                        &format!("replace {sub} of the specified {kind}"),
                    ),
                );
                m.insert(
                    "patch".into(),
                    operation(
                        &mk("patch", "patch", suffix),
                        patch_params(),
                        Some(patch_body.clone()),
                        ok_responses(&["200", "201"], ref_to(&kind_schema)),
                        &format!("partially update {sub} of the specified {kind}"),
                    ),
                );
            }
        }
        m.insert("parameters".into(), Value::Array(item_params.clone()));
        paths.insert(format!("{item}/{sub}"), Value::Object(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str) -> Value {
        serde_json::from_slice(document(path).unwrap_or_else(|| panic!("{path} missing"))).unwrap()
    }

    fn resolve<'a>(d: &'a Value, prop: &'a Value) -> &'a Value {
        let name = referenced(prop).unwrap_or_else(|| panic!("no $ref in {prop}"));
        d["components"]["schemas"]
            .get(name)
            .unwrap_or_else(|| panic!("dangling $ref {name}"))
    }

    #[test]
    fn index_points_at_hashed_documents() {
        let idx: Value = serde_json::from_slice(index()).unwrap();
        for p in ["api", "api/v1", "apis", "apis/batch", "apis/batch/v1"] {
            let url = idx["paths"][p]["serverRelativeURL"].as_str().unwrap();
            let h = hash(p).unwrap();
            assert_eq!(url, format!("/openapi/v3/{p}?hash={h}"));
            assert_eq!(h.len(), 16);
            assert!(document(&format!("/{p}/")).is_some());
        }
        assert!(document("apis/apps/v1").is_none());
        // Small enough to build on first request (api/v1 is ~320 KB).
        for p in paths() {
            assert!(document(p).unwrap().len() < 1 << 20, "{p} too large");
        }
        // Stable: the same bytes hash the same.
        assert_eq!(fnv1a64(b"abc"), 0xe71fa2190541574b);
    }

    /// What `kubectl explain job.spec.parallelism` needs: the GVK-tagged
    /// schema, then `$ref`s down to the field.
    #[test]
    fn explain_job_spec_parallelism() {
        let d = doc("apis/batch/v1");
        let schemas = d["components"]["schemas"].as_object().unwrap();
        let (name, job) = schemas
            .iter()
            .find(|(_, s)| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|a| {
                        a.contains(&json!({"group":"batch","kind":"Job","version":"v1"}))
                    })
            })
            .unwrap();
        assert_eq!(name, "io.k8s.api.batch.v1.Job");
        assert!(
            job.get("required").is_none(),
            "metadata is optional upstream"
        );
        let spec = resolve(&d, &job["properties"]["spec"]);
        assert_eq!(spec["properties"]["parallelism"]["type"], "integer");
        let template = resolve(&d, &spec["properties"]["template"]);
        let pod_spec = resolve(&d, &template["properties"]["spec"]);
        let containers = &pod_spec["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(
            pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        let container = resolve(&d, containers);
        assert_eq!(
            container["properties"]["env"]["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(
            schemas["io.k8s.api.batch.v1.JobList"]["x-kubernetes-group-version-kind"][0]["kind"],
            "JobList"
        );
    }

    fn all_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| all_refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| all_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_ref_resolves() {
        for p in paths() {
            let d = doc(p);
            let mut refs = Vec::new();
            all_refs(&d, &mut refs);
            assert!(!refs.is_empty(), "{p}");
            for r in refs {
                let name = r
                    .strip_prefix(REF_PREFIX)
                    .unwrap_or_else(|| panic!("{p}: {r}"));
                assert!(
                    d["components"]["schemas"].get(name).is_some(),
                    "{p}: dangling {r}"
                );
            }
        }
    }

    /// Mirrors `supportsQueryParamV3` in cli-runtime's
    /// query_param_verifier_v3.go: some PATCH op with the GVK and a
    /// `fieldValidation` parameter.
    fn supports_field_validation(d: &Value, want: &Value) -> bool {
        d["paths"].as_object().unwrap().values().any(|item| {
            let Some(op) = item.get("patch") else {
                return false;
            };
            op["x-kubernetes-group-version-kind"] == *want
                && op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation"))
        })
    }

    #[test]
    fn patch_operations_satisfy_kubectl_validation_probe() {
        let cases = [
            ("apis/batch/v1", gvk("batch", "v1", "Job")),
            ("api/v1", gvk("", "v1", "Pod")),
            ("api/v1", gvk("", "v1", "Namespace")),
            ("api/v1", gvk("", "v1", "Node")),
            ("api/v1", gvk("", "v1", "Event")),
        ];
        for (p, want) in cases {
            assert!(supports_field_validation(&doc(p), &want), "{p} {want}");
        }
        let d = doc("api/v1");
        assert!(d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"].is_object());
        assert_eq!(
            d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]["operationId"],
            "patchCoreV1NamespacedPod"
        );
        assert!(d["paths"]["/api/v1/namespaces/{name}"]["get"].is_object());
        assert!(d["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
            ["x-kubernetes-group-version-kind"]
            .is_array());
    }
}
