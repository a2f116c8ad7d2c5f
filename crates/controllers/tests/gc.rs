//! Garbage collector, TTL-after-finished and namespace deletion against a
//! real store (upstream `TestOrphanPodsFinalizersClearedWithGC`,
//! e2e "should delete a job", TTLAfterFinished e2e).

mod common;

use std::time::Duration;

use api::resources::{JOBS, NAMESPACES, PODS};
use common::*;
use serde_json::json;
use store::{DeleteOptions, Propagation};

async fn running_job(env: &mut Env, name: &str) -> Vec<serde_json::Value> {
    env.kubelet(|_| Outcome::Run);
    create_job(
        &env.store,
        name,
        json!({"parallelism": 2, "completions": 2}),
    )
    .await;
    wait_for(Duration::from_secs(5), "2 running pods", || {
        let p = pods_of(&env.store, "default", name);
        (p.len() == 2 && p.iter().all(|p| p["status"]["phase"] == "Running")).then_some(p)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_removes_pods() {
    let mut env = Env::new().await;
    running_job(&mut env, "bg").await;
    let opts = DeleteOptions {
        propagation: Some(Propagation::Background),
        ..Default::default()
    };
    env.store
        .delete(&JOBS, "default", "bg", opts)
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), "pods gone", || {
        pods_of(&env.store, "default", "bg")
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_waits_for_pods() {
    let mut env = Env::new().await;
    running_job(&mut env, "fg").await;
    let opts = DeleteOptions {
        propagation: Some(Propagation::Foreground),
        ..Default::default()
    };
    let d = env
        .store
        .delete(&JOBS, "default", "fg", opts)
        .await
        .unwrap();
    assert!(!d.removed, "the job waits for its pods");
    wait_for(Duration::from_secs(5), "job and pods gone", || {
        (get_job(&env.store, "fg").is_none() && pods_of(&env.store, "default", "fg").is_empty())
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_deletion_keeps_pods_without_owner_or_finalizer() {
    let mut env = Env::new().await;
    running_job(&mut env, "or").await;
    let opts = DeleteOptions {
        propagation: Some(Propagation::Orphan),
        ..Default::default()
    };
    env.store
        .delete(&JOBS, "default", "or", opts)
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), "job gone, pods orphaned", || {
        let pods = pods_of(&env.store, "default", "or");
        let orphaned = pods.len() == 2
            && pods.iter().all(|p| {
                p["metadata"].get("ownerReferences").is_none()
                    && p["metadata"].get("finalizers").is_none()
            });
        (get_job(&env.store, "or").is_none() && orphaned).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangling_dependents_are_collected() {
    let env = Env::new().await;
    env.store
        .create(&PODS, json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "dangling", "namespace": "default",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "nope", "uid": "gone"}]},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}))
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), "dangling pod collected", || {
        env.store
            .get(&PODS, "default", "dangling")
            .is_err()
            .then_some(())
    })
    .await;
}

/// e2e TTLAfterFinished "job should be deleted once it finishes after TTL seconds".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_after_finished_deletes_job_and_pods() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Succeed);
    create_job(&env.store, "ttl", json!({"ttlSecondsAfterFinished": 0})).await;
    wait_for(Duration::from_secs(10), "job and pods deleted", || {
        (get_job(&env.store, "ttl").is_none() && pods_of(&env.store, "default", "ttl").is_empty())
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_deletion_removes_everything() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    env.store
        .create(
            &NAMESPACES,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "x"}, "spec": {"finalizers": ["kubernetes"]}}),
        )
        .await
        .unwrap();
    create_job_in(
        &env.store,
        "x",
        "j",
        json!({"parallelism": 2, "completions": 2}),
    )
    .await;
    wait_for(Duration::from_secs(5), "pods", || {
        (pods_of(&env.store, "x", "j").len() == 2).then_some(())
    })
    .await;
    env.store
        .delete(&NAMESPACES, "", "x", Default::default())
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(10),
        "namespace and content gone",
        || {
            (env.store.get(&NAMESPACES, "", "x").is_err()
                && env.store.list(&PODS, Some("x")).items.is_empty()
                && env.store.list(&JOBS, Some("x")).items.is_empty())
            .then_some(())
        },
    )
    .await;
}
