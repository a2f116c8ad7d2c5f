//! `authorization.k8s.io/v1` SelfSubjectAccessReview: "may I do this?", the
//! question `kubectl auth can-i` asks (upstream
//! `pkg/registry/authorization/selfsubjectaccessreview/rest.go`,
//! `ValidateSelfSubjectAccessReview`). Answered, never stored.
//!
//! joblite has one credential, the admin's (a bearer token or a client
//! certificate signed by its CA), and it may do everything, as
//! `system:masters` may on a cluster (the privileged-group authorizer
//! allows without a reason).

use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SubjectAccessReviewStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

use super::ResourceInfo;
use crate::strategy::Strategy;
use crate::validation::{FieldError, FieldPath};

/// `authorization.k8s.io/v1` `selfsubjectaccessreviews` (create only).
pub static SELF_SUBJECT_ACCESS_REVIEWS: ResourceInfo = ResourceInfo {
    group: "authorization.k8s.io",
    version: "v1",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    kind: "SelfSubjectAccessReview",
    list_kind: "SelfSubjectAccessReviewList",
    namespaced: false,
    short_names: &[],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: &["create"],
    strategy: &SelfSubjectAccessReviewStrategy,
};

/// The SelfSubjectAccessReview strategy.
pub struct SelfSubjectAccessReviewStrategy;

impl Strategy for SelfSubjectAccessReviewStrategy {
    type Object = SelfSubjectAccessReview;

    fn info(&self) -> &'static ResourceInfo {
        &SELF_SUBJECT_ACCESS_REVIEWS
    }

    fn prepare_for_create(&self, review: &mut SelfSubjectAccessReview) {
        review.status = None;
    }

    /// `ValidateSelfSubjectAccessReview`: exactly one kind of attributes,
    /// and no metadata.
    fn validate_create(&self, review: &SelfSubjectAccessReview) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = FieldPath::new("spec");
        match (
            &review.spec.resource_attributes,
            &review.spec.non_resource_attributes,
        ) {
            (None, None) => errs.push(FieldError::required(
                &spec.child("resourceAttributes"),
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )),
            (Some(_), Some(n)) => errs.push(FieldError::invalid(
                &spec.child("nonResourceAttributes"),
                serde_json::to_value(n).unwrap_or_default(),
                "cannot be specified in combination with resourceAttributes",
            )),
            _ => {}
        }
        let mut meta = review.metadata.clone();
        meta.managed_fields = None;
        if meta != ObjectMeta::default() {
            errs.push(FieldError::invalid(
                &FieldPath::new("metadata"),
                serde_json::to_value(&review.metadata).unwrap_or_default(),
                "must be empty",
            ));
        }
        errs
    }

    fn stored(&self) -> bool {
        false
    }

    fn answer(&self, review: &mut SelfSubjectAccessReview) {
        review.status = Some(SubjectAccessReviewStatus {
            allowed: true,
            ..Default::default()
        });
    }

    fn decode_protobuf(&self, raw: &[u8]) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        use crate::protobuf::{convert, k8s_pb::api::authorization::v1 as pb, object_meta, Obj};
        convert(raw, |review: &pb::SelfSubjectAccessReview| {
            let spec = review.spec.clone().unwrap_or_default();
            let mut s = Obj::default();
            s.msg("resourceAttributes", &spec.resource_attributes, |a| {
                Obj::default()
                    .s("namespace", &a.namespace)
                    .s("verb", &a.verb)
                    .s("group", &a.group)
                    .s("version", &a.version)
                    .s("resource", &a.resource)
                    .s("subresource", &a.subresource)
                    .s("name", &a.name)
                    .done()
            })
            .msg("nonResourceAttributes", &spec.non_resource_attributes, |a| {
                Obj::default().s("path", &a.path).s("verb", &a.verb).done()
            });
            let mut o = Obj::default();
            o.inline_msg("metadata", &review.metadata, object_meta);
            o.0.insert("spec".into(), s.done());
            o.0
        })
    }
}
