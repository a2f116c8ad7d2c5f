//! `kubectl auth can-i`: SelfSubjectAccessReview and SelfSubjectRulesReview
//! (`authorization.k8s.io/v1`), answered for the admin credentials as a
//! cluster answers `system:masters`, and never stored.

use serde_json::Value;

use crate::harness::Server;

#[test]
fn kubectl_auth_can_i_answers_yes_for_the_admin() {
    let s = Server::start();
    for v in ["1.33", "1.29", "1.27"] {
        let r = s.kubectl_v(v, &["auth", "can-i", "create", "jobs"]);
        assert_eq!(r.code(), 0, "kubectl {v}: {}\n{}", r.stdout(), r.stderr());
        assert_eq!(r.stdout().trim(), "yes", "kubectl {v}");
    }
    let out = s
        .kubectl(&["auth", "can-i", "delete", "pods", "--all-namespaces"])
        .ok();
    assert_eq!(out.trim(), "yes");
    assert_eq!(
        s.kubectl(&["auth", "can-i", "get", "/healthz"]).ok().trim(),
        "yes"
    );
    let list = s.kubectl(&["auth", "can-i", "--list"]).ok();
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][0], "Resources", "{list}");
    assert!(rows.contains(&vec!["*.*", "[]", "[]", "[*]"]), "{list}");
    assert!(rows.contains(&vec!["[*]", "[]", "[*]"]), "{list}");
    let api = s
        .kubectl(&["api-resources", "--api-group=authorization.k8s.io"])
        .ok();
    assert!(
        api.contains("selfsubjectaccessreviews") && api.contains("SelfSubjectRulesReview"),
        "{api}"
    );
}

#[test]
fn access_reviews_are_validated_answered_and_not_stored() {
    let s = Server::start();
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let ct = "Content-Type: application/json";
    let (code, body) = s.curl(
        "POST",
        path,
        &[ct],
        Some(r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"create","group":"batch","resource":"jobs","namespace":"default"}}}"#),
    );
    assert_eq!(code, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], serde_json::json!({"allowed": true}), "{v}");
    assert_eq!(v["spec"]["resourceAttributes"]["resource"], "jobs");

    let (code, body) = s.curl(
        "POST",
        path,
        &[ct],
        Some(r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#),
    );
    assert_eq!(code, 422, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["message"],
        "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );
    // Create is the only verb.
    let (code, body) = s.curl("GET", path, &[], None);
    assert_eq!(code, 405, "{body}");
}
