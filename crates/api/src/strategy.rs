//! The strategy of a kind: everything that makes a kind a kind, behind one
//! trait.
//!
//! Upstream spreads a kind over `pkg/registry/<group>/<kind>/strategy.go`
//! (defaulting, `PrepareForCreate`/`PrepareForUpdate`, validation,
//! canonicalisation, graceful deletion), the printers in
//! `pkg/printers/internalversion/printers.go`, the field-label conversions in
//! `pkg/apis/<group>/<version>/conversion.go`, kubectl's describers and the
//! protobuf codec. Here each kind implements [`Strategy`] once, in its own
//! file under `crates/api/src/resources/`, and the API server, the store, the
//! controllers' writes, describe and the CLI reach it through the resource's
//! [`ResourceInfo::strategy`](crate::resources::ResourceInfo).
//!
//! [`Strategy`] is typed (it works on the `k8s-openapi` struct of the kind);
//! [`DynStrategy`] is the same contract erased, implemented for every
//! strategy, so one registry can hold all kinds. The erased side works on
//! [`Object`]: a decoded typed object behind a `Box<dyn Object>`, so a write
//! decodes its body once, runs the strategy on the typed value and encodes
//! once when the store commits it.

use std::any::Any;
use std::fmt::Debug;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::patch_schema::PatchSchema;
use crate::resources::ResourceInfo;
use crate::status::{ApiError, Cause};
use crate::validation::{
    name_is_dns_subdomain, validate_object_meta, validate_object_meta_update, FieldError, FieldPath,
};

/// A typed object of a served kind, erased.
///
/// Implemented for every `k8s-openapi` resource type; the store and the API
/// server hold objects as `Box<dyn Object>` between decoding and committing.
pub trait Object: Any + Send + Sync + Debug {
    /// `metadata`.
    fn meta(&self) -> &ObjectMeta;
    /// `metadata`, for the server-owned fields the store fills in.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// The JSON encoding (with `apiVersion` and `kind`).
    fn to_bytes(&self) -> Vec<u8>;
    /// The JSON value.
    fn to_value(&self) -> Value;
    /// A copy.
    fn clone_object(&self) -> Box<dyn Object>;
    /// Equality with another object of any kind (false across kinds).
    fn same_as(&self, other: &dyn Object) -> bool;
    /// For downcasting to the typed object.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting to the typed object.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T> Object for T
where
    T: k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + Clone
        + PartialEq
        + Debug
        + Send
        + Sync
        + 'static,
{
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("k8s-openapi objects serialize")
    }
    fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("k8s-openapi objects serialize")
    }
    fn clone_object(&self) -> Box<dyn Object> {
        Box::new(self.clone())
    }
    fn same_as(&self, other: &dyn Object) -> bool {
        other
            .as_any()
            .downcast_ref::<T>()
            .is_some_and(|o| o == self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn Object> {
    fn clone(&self) -> Self {
        self.clone_object()
    }
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateScope {
    /// `PUT`/`PATCH` of the resource: status is kept from the stored object.
    Main,
    /// `PUT`/`PATCH` of `/status`: spec is kept from the stored object.
    Status,
    /// An in-process controller's write, which may change both. It is
    /// checked as a main update followed by a status update, so it is
    /// accepted exactly when the API would accept those two requests.
    All,
}

/// One kind, as upstream's registry strategy plus its printer, field
/// selectors, describer and protobuf decoder.
///
/// Every method but [`Strategy::info`] has a default that is right for a
/// plain namespaced or cluster-scoped object with metadata only; a kind
/// overrides what it does differently. See `crates/api/src/resources/mod.rs`
/// for how to add a kind.
pub trait Strategy: Send + Sync + 'static {
    /// The `k8s-openapi` type of the kind.
    type Object: Object + Serialize + DeserializeOwned + JsonSchema + Clone + PartialEq;

    /// Identity and discovery (the kind's `ResourceInfo` static).
    fn info(&self) -> &'static ResourceInfo;

    // --- writes -------------------------------------------------------

    /// Defaulting (upstream `SetDefaults_<Kind>`), applied to every write.
    fn default(&self, _obj: &mut Self::Object) {}

    /// `PrepareForCreate`: clear what a client may not set on create. Runs
    /// after the store filled `uid`, `creationTimestamp` and the name.
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}

    /// `Validate`. The default checks metadata (name a DNS subdomain).
    fn validate_create(&self, obj: &Self::Object) -> Vec<FieldError> {
        validate_object_meta(
            obj.meta(),
            self.info().namespaced,
            name_is_dns_subdomain,
            &FieldPath::new("metadata"),
        )
    }

    /// `WarningsOnCreate`.
    fn warnings_on_create(&self, _obj: &Self::Object) -> Vec<String> {
        Vec::new()
    }

    /// `Canonicalize`: the last change before the object is stored.
    fn canonicalize(&self, _obj: &mut Self::Object) {}

    /// `PrepareForUpdate` of the main resource: keep what a main update may
    /// not change (status), bump `generation` where the kind has one. The
    /// store has already carried the server-owned metadata over.
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// `ValidateUpdate` of the main resource.
    fn validate_update(&self, new: &Self::Object, old: &Self::Object) -> Vec<FieldError> {
        validate_object_meta_update(new.meta(), old.meta(), &FieldPath::new("metadata"))
    }

    /// `WarningsOnUpdate`.
    fn warnings_on_update(&self, _new: &Self::Object, _old: &Self::Object) -> Vec<String> {
        Vec::new()
    }

    /// `PrepareForUpdate` of `/status`: keep everything but status.
    fn prepare_for_status_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// `ValidateUpdate` of `/status`.
    fn validate_status_update(&self, new: &Self::Object, old: &Self::Object) -> Vec<FieldError> {
        validate_object_meta_update(new.meta(), old.meta(), &FieldPath::new("metadata"))
    }

    /// What an in-process writer changes that the API changes through a
    /// subresource other than `/status` (the scheduler's `pods/binding`
    /// sets `spec.nodeName`): applied to a copy of the stored object before
    /// an [`UpdateScope::All`] write is checked as main and status updates.
    fn apply_subresource_writes(&self, _new: &Self::Object, _old: &mut Self::Object) {}

    /// What upstream's admission plugins look up before a create (the
    /// RuntimeClass a pod names): objects that must exist, each with the
    /// refusal when it does not. The store checks them against its current
    /// state before defaulting and validation, where mutating admission
    /// runs upstream.
    fn required_on_create(&self, _obj: &Self::Object) -> Vec<Requirement> {
        Vec::new()
    }

    // --- deletion (the store runs these atomically with the write) ------

    /// `CheckGracefulDelete`: seconds the object stays after a delete
    /// (0 removes it once its finalizers are gone).
    fn delete_grace_seconds(&self, _obj: &Self::Object, _requested: Option<i64>) -> i64 {
        0
    }

    /// Whether something besides `metadata.finalizers` still holds the
    /// object after a delete (a Namespace's `spec.finalizers`).
    fn finalizing(&self, _obj: &Self::Object) -> bool {
        false
    }

    /// Changes a delete makes to an object that is kept for now (a
    /// Namespace turns `Terminating`).
    fn prepare_for_delete(&self, _obj: &mut Self::Object) {}

    /// Whether the store's cache keeps this object decoded beside its bytes,
    /// so that its next write is planned without parsing it again. Worth it
    /// for objects written again soon (a running Pod, a Job, the Node); not
    /// for those rarely written again (a finished Pod, an Event), where a
    /// decoded copy of each nearly doubled the engine's memory.
    fn cache_decoded(&self, _obj: &Self::Object) -> bool {
        false
    }

    /// `DefaultGarbageCollectionPolicy` of `OrphanDependents`: when `Some`,
    /// a delete without a propagation policy orphans the dependents and the
    /// response carries this warning.
    fn orphan_by_default_warning(&self) -> Option<&'static str> {
        None
    }

    /// Whether a delete that removes the object answers with the object
    /// (kube-apiserver's `ReturnDeletedObject`) rather than a `Status`.
    fn returns_deleted_object(&self) -> bool {
        false
    }

    // --- kinds that are answered, not stored ------------------------------

    /// False for kinds that are answered and forgotten (access reviews),
    /// as upstream's create-only REST storages are.
    fn stored(&self) -> bool {
        true
    }

    /// For kinds that are not stored: fill in the answer.
    fn answer(&self, _obj: &mut Self::Object) {}

    // --- reads --------------------------------------------------------

    /// The `columnDefinitions` of the kind's Table (upstream's printer
    /// handlers); every column, wide ones with priority 1.
    fn columns(&self) -> Vec<Value> {
        crate::table::default_columns()
    }

    /// One row's cells, one per column.
    fn cells(&self, obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
        crate::table::default_cells(obj)
    }

    /// `rows[].conditions` of a row, if the kind has any.
    fn row_conditions(&self, _obj: &Value) -> Option<Value> {
        None
    }

    /// The field-label conversion for field selectors: the internal field
    /// name, or upstream's error for a field the kind does not select on.
    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        crate::selectors::meta_field_label(label)
    }

    /// The value of a selectable field besides `metadata.name` and
    /// `metadata.namespace`.
    fn field_value(&self, _obj: &Value, _field: &str) -> Option<String> {
        None
    }

    /// The strategic-merge-patch tags of the kind's fields.
    fn patch_schema(&self) -> &'static PatchSchema {
        PatchSchema::metadata_only()
    }

    /// Decodes a protobuf object (the `raw` of the envelope) into the JSON
    /// the same request would have carried. `None`: the kind has no
    /// protobuf form, and a protobuf body is answered 415.
    fn decode_protobuf(
        &self,
        _raw: &[u8],
    ) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        None
    }

    /// kubectl's `describe` text for the object and its events.
    fn describe(&self, obj: &Self::Object, events: &[Event]) -> String {
        crate::describe::generic(obj.meta(), events)
    }
}

/// An object a create needs to exist (see [`Strategy::required_on_create`]).
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The kind of the object.
    pub resource: &'static ResourceInfo,
    /// Its namespace (`""` for a cluster-scoped kind).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// What the client gets when it is missing.
    pub refusal: ApiError,
}

/// The name admission errors give an object being created (upstream
/// `extractResourceName`): its name, else its `generateName` (names are
/// generated after admission), else `Unknown`.
pub fn admission_name(meta: &ObjectMeta) -> String {
    [meta.name.as_deref(), meta.generate_name.as_deref()]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty())
        .unwrap_or("Unknown")
        .to_string()
}

/// [`Strategy`] erased, for the registry. Implemented for every strategy;
/// errors are `Status` errors ready for the client.
pub trait DynStrategy: Send + Sync {
    /// Identity and discovery.
    fn info(&self) -> &'static ResourceInfo;
    /// Decodes a JSON value; fields the type lacks are dropped.
    fn decode(&self, value: Value) -> Result<Box<dyn Object>, ApiError>;
    /// Decodes a JSON value and names the fields the type lacks
    /// (`spec.template.spec.containers[0].foo`), for `fieldValidation`.
    fn decode_strict(&self, value: Value) -> Result<(Box<dyn Object>, Vec<String>), ApiError>;
    /// Decodes a stored object.
    fn decode_stored(&self, bytes: &[u8]) -> Result<Box<dyn Object>, ApiError>;
    /// Defaulting, `PrepareForCreate`, validation and canonicalisation;
    /// returns the warnings.
    fn create(&self, obj: &mut dyn Object) -> Result<Vec<String>, ApiError>;
    /// See [`Strategy::required_on_create`].
    fn required_on_create(&self, obj: &dyn Object) -> Vec<Requirement>;
    /// Defaulting, the `PrepareForUpdate` and validation of `scope`;
    /// returns the warnings.
    fn update(
        &self,
        new: &mut dyn Object,
        old: &dyn Object,
        scope: UpdateScope,
    ) -> Result<Vec<String>, ApiError>;
    /// See [`Strategy::delete_grace_seconds`].
    fn delete_grace_seconds(&self, obj: &dyn Object, requested: Option<i64>) -> i64;
    /// See [`Strategy::finalizing`].
    fn finalizing(&self, obj: &dyn Object) -> bool;
    /// See [`Strategy::prepare_for_delete`].
    fn prepare_for_delete(&self, obj: &mut dyn Object);
    /// See [`Strategy::cache_decoded`].
    fn cache_decoded(&self, obj: &dyn Object) -> bool;
    /// See [`Strategy::orphan_by_default_warning`].
    fn orphan_by_default_warning(&self) -> Option<&'static str>;
    /// See [`Strategy::returns_deleted_object`].
    fn returns_deleted_object(&self) -> bool;
    /// See [`Strategy::stored`].
    fn stored(&self) -> bool;
    /// See [`Strategy::answer`].
    fn answer(&self, obj: &mut dyn Object);
    /// See [`Strategy::columns`].
    fn columns(&self) -> Vec<Value>;
    /// See [`Strategy::cells`].
    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value>;
    /// See [`Strategy::row_conditions`].
    fn row_conditions(&self, obj: &Value) -> Option<Value>;
    /// See [`Strategy::field_label`].
    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError>;
    /// See [`Strategy::field_value`].
    fn field_value(&self, obj: &Value, field: &str) -> Option<String>;
    /// See [`Strategy::patch_schema`].
    fn patch_schema(&self) -> &'static PatchSchema;
    /// See [`Strategy::decode_protobuf`].
    fn decode_protobuf(&self, raw: &[u8])
        -> Option<Result<Map<String, Value>, prost::DecodeError>>;
    /// `describe` of a stored object (as JSON) and its events.
    fn describe(&self, obj: &Value, events: &[Event]) -> Result<String, ApiError>;
    /// The OpenAPI definition name of the kind (`io.k8s.api.batch.v1.Job`).
    fn schema_name(&self) -> String;
    /// Adds the kind's schema (and what it references) to `generator`.
    fn add_schema(&self, generator: &mut SchemaGenerator);
}

fn typed<'a, T: 'static>(info: &ResourceInfo, obj: &'a dyn Object) -> Result<&'a T, ApiError> {
    obj.as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| wrong_kind(info))
}

fn typed_mut<'a, T: 'static>(
    info: &ResourceInfo,
    obj: &'a mut dyn Object,
) -> Result<&'a mut T, ApiError> {
    obj.as_any_mut()
        .downcast_mut::<T>()
        .ok_or_else(|| wrong_kind(info))
}

fn wrong_kind(info: &ResourceInfo) -> ApiError {
    ApiError::InternalError(format!("object is not a {}", info.kind))
}

/// The 400 upstream answers for a body that does not decode as the kind.
pub fn decode_error(info: &ResourceInfo, e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "{kind} in version \"{ver}\" cannot be handled as a {kind}: {e}",
        kind = info.kind,
        ver = info.version
    ))
}

/// A 422 `Invalid` for `obj` from field errors (`Ok` when there are none).
pub fn invalid(
    info: &ResourceInfo,
    meta: &ObjectMeta,
    errs: Vec<FieldError>,
) -> Result<(), ApiError> {
    if errs.is_empty() {
        return Ok(());
    }
    let causes = errs
        .iter()
        .map(|e| Cause {
            reason: e.reason_type.reason().to_string(),
            field: e.field.clone(),
            message: e.message(),
        })
        .collect();
    Err(ApiError::invalid(
        info,
        meta.name.as_deref().unwrap_or_default(),
        causes,
    ))
}

/// The dotted path of an ignored field as upstream's strict decoder names
/// it: `spec.containers[0].foo`.
fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let p = ignored_path(parent);
            if p.is_empty() {
                key.clone()
            } else {
                format!("{p}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// Bumps `generation` when `changed`, as the strategies of kinds with a
/// generation do in `PrepareForUpdate` (the store has carried the old one).
pub fn bump_generation(new: &mut ObjectMeta, old: &ObjectMeta, changed: bool) {
    if changed {
        new.generation = Some(old.generation.unwrap_or(0) + 1);
    }
}

impl<S: Strategy> DynStrategy for S {
    fn info(&self) -> &'static ResourceInfo {
        Strategy::info(self)
    }

    fn decode(&self, value: Value) -> Result<Box<dyn Object>, ApiError> {
        let t: S::Object =
            serde_json::from_value(value).map_err(|e| decode_error(Strategy::info(self), e))?;
        Ok(Box::new(t))
    }

    fn decode_strict(&self, value: Value) -> Result<(Box<dyn Object>, Vec<String>), ApiError> {
        let mut unknown = Vec::new();
        let t: S::Object = serde_ignored::deserialize(value, |p| {
            let p = ignored_path(&p);
            if !unknown.contains(&p) {
                unknown.push(p);
            }
        })
        .map_err(|e| decode_error(Strategy::info(self), e))?;
        unknown.sort();
        Ok((Box::new(t), unknown))
    }

    fn decode_stored(&self, bytes: &[u8]) -> Result<Box<dyn Object>, ApiError> {
        let t: S::Object = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::InternalError(format!("stored object does not decode: {e}")))?;
        Ok(Box::new(t))
    }

    fn create(&self, obj: &mut dyn Object) -> Result<Vec<String>, ApiError> {
        let info = Strategy::info(self);
        let t = typed_mut::<S::Object>(info, obj)?;
        self.default(t);
        self.prepare_for_create(t);
        invalid(info, t.meta(), self.validate_create(t))?;
        let warnings = self.warnings_on_create(t);
        self.canonicalize(t);
        Ok(warnings)
    }

    fn required_on_create(&self, obj: &dyn Object) -> Vec<Requirement> {
        obj.as_any()
            .downcast_ref::<S::Object>()
            .map(|t| Strategy::required_on_create(self, t))
            .unwrap_or_default()
    }

    fn update(
        &self,
        new: &mut dyn Object,
        old: &dyn Object,
        scope: UpdateScope,
    ) -> Result<Vec<String>, ApiError> {
        let info = Strategy::info(self);
        let old = typed::<S::Object>(info, old)?;
        let new = typed_mut::<S::Object>(info, new)?;
        self.default(new);
        match scope {
            UpdateScope::Main => {
                self.prepare_for_update(new, old);
                invalid(info, new.meta(), self.validate_update(new, old))?;
                Ok(self.warnings_on_update(new, old))
            }
            UpdateScope::Status => {
                self.prepare_for_status_update(new, old);
                invalid(info, new.meta(), self.validate_status_update(new, old))?;
                Ok(Vec::new())
            }
            UpdateScope::All => {
                // Subresource writes (a binding) on the stored object, a
                // main update to `mid`, then a status update to `new`; a
                // step that changes nothing needs no validation.
                let mut base = old.clone();
                self.apply_subresource_writes(new, &mut base);
                let old = &base;
                let mut mid = new.clone();
                self.prepare_for_update(&mut mid, old);
                let mut warnings = Vec::new();
                if mid != *old {
                    invalid(info, mid.meta(), self.validate_update(&mid, old))?;
                    warnings = self.warnings_on_update(&mid, old);
                }
                self.prepare_for_status_update(new, &mid);
                new.meta_mut().generation = mid.meta().generation;
                if *new != mid {
                    invalid(info, new.meta(), self.validate_status_update(new, &mid))?;
                }
                Ok(warnings)
            }
        }
    }

    fn delete_grace_seconds(&self, obj: &dyn Object, requested: Option<i64>) -> i64 {
        typed::<S::Object>(Strategy::info(self), obj)
            .map(|t| Strategy::delete_grace_seconds(self, t, requested))
            .unwrap_or(0)
    }

    fn finalizing(&self, obj: &dyn Object) -> bool {
        typed::<S::Object>(Strategy::info(self), obj).is_ok_and(|t| Strategy::finalizing(self, t))
    }

    fn prepare_for_delete(&self, obj: &mut dyn Object) {
        if let Ok(t) = typed_mut::<S::Object>(Strategy::info(self), obj) {
            Strategy::prepare_for_delete(self, t);
        }
    }

    fn cache_decoded(&self, obj: &dyn Object) -> bool {
        typed::<S::Object>(Strategy::info(self), obj)
            .is_ok_and(|t| Strategy::cache_decoded(self, t))
    }

    fn orphan_by_default_warning(&self) -> Option<&'static str> {
        Strategy::orphan_by_default_warning(self)
    }

    fn returns_deleted_object(&self) -> bool {
        Strategy::returns_deleted_object(self)
    }

    fn stored(&self) -> bool {
        Strategy::stored(self)
    }

    fn answer(&self, obj: &mut dyn Object) {
        if let Ok(t) = typed_mut::<S::Object>(Strategy::info(self), obj) {
            Strategy::answer(self, t);
        }
    }

    fn columns(&self) -> Vec<Value> {
        Strategy::columns(self)
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        Strategy::cells(self, obj, now)
    }

    fn row_conditions(&self, obj: &Value) -> Option<Value> {
        Strategy::row_conditions(self, obj)
    }

    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        Strategy::field_label(self, label)
    }

    fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        Strategy::field_value(self, obj, field)
    }

    fn patch_schema(&self) -> &'static PatchSchema {
        Strategy::patch_schema(self)
    }

    fn decode_protobuf(
        &self,
        raw: &[u8],
    ) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        Strategy::decode_protobuf(self, raw)
    }

    fn describe(&self, obj: &Value, events: &[Event]) -> Result<String, ApiError> {
        let t: S::Object = serde_json::from_value(obj.clone())
            .map_err(|e| decode_error(Strategy::info(self), e))?;
        Ok(Strategy::describe(self, &t, events))
    }

    fn schema_name(&self) -> String {
        S::Object::schema_name().into_owned()
    }

    fn add_schema(&self, generator: &mut SchemaGenerator) {
        generator.subschema_for::<S::Object>();
    }
}
