//! `authorization.k8s.io/v1` SelfSubjectRulesReview: "what may I do?", the
//! question `kubectl auth can-i --list` asks (upstream
//! `pkg/registry/authorization/selfsubjectrulesreview/rest.go`). Answered,
//! never stored: the admin's rules, as RBAC lists them for `system:masters`
//! (`cluster-admin`) plus the self-review rules of `system:basic-user`.

use k8s_openapi::api::authorization::v1::{
    NonResourceRule, ResourceRule, SelfSubjectRulesReview, SubjectRulesReviewStatus,
};
use serde_json::{Map, Value};

use super::ResourceInfo;
use crate::strategy::Strategy;
use crate::validation::FieldError;

/// `authorization.k8s.io/v1` `selfsubjectrulesreviews` (create only).
pub static SELF_SUBJECT_RULES_REVIEWS: ResourceInfo = ResourceInfo {
    group: "authorization.k8s.io",
    version: "v1",
    plural: "selfsubjectrulesreviews",
    singular: "selfsubjectrulesreview",
    kind: "SelfSubjectRulesReview",
    list_kind: "SelfSubjectRulesReviewList",
    namespaced: false,
    short_names: &[],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: &["create"],
    strategy: &SelfSubjectRulesReviewStrategy,
};

/// The SelfSubjectRulesReview strategy.
pub struct SelfSubjectRulesReviewStrategy;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Strategy for SelfSubjectRulesReviewStrategy {
    type Object = SelfSubjectRulesReview;

    fn info(&self) -> &'static ResourceInfo {
        &SELF_SUBJECT_RULES_REVIEWS
    }

    fn prepare_for_create(&self, review: &mut SelfSubjectRulesReview) {
        review.status = None;
    }

    /// Upstream validates nothing but the spec's presence.
    fn validate_create(&self, _review: &SelfSubjectRulesReview) -> Vec<FieldError> {
        Vec::new()
    }

    fn stored(&self) -> bool {
        false
    }

    fn answer(&self, review: &mut SelfSubjectRulesReview) {
        let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| ResourceRule {
            api_groups: Some(strings(groups)),
            resources: Some(strings(resources)),
            verbs: strings(verbs),
            resource_names: None,
        };
        review.status = Some(SubjectRulesReviewStatus {
            resource_rules: vec![
                rule(&["*"], &["*"], &["*"]),
                rule(
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    &["create"],
                ),
            ],
            non_resource_rules: vec![NonResourceRule {
                non_resource_urls: Some(strings(&["*"])),
                verbs: strings(&["*"]),
            }],
            incomplete: false,
            evaluation_error: None,
        });
    }

    fn decode_protobuf(&self, raw: &[u8]) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        use crate::protobuf::{convert, k8s_pb::api::authorization::v1 as pb, object_meta, Obj};
        convert(raw, |review: &pb::SelfSubjectRulesReview| {
            let spec = review.spec.clone().unwrap_or_default();
            let mut o = Obj::default();
            o.inline_msg("metadata", &review.metadata, object_meta);
            o.0.insert(
                "spec".into(),
                Obj::default().s("namespace", &spec.namespace).done(),
            );
            o.0
        })
    }
}
