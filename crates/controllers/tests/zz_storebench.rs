use api::resources::{NAMESPACES, PODS};
use serde_json::json;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_latency() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::Store::open(
        dir.path(),
        store::Options {
            synchronous_full: false,
            ..Default::default()
        },
    )
    .unwrap();
    store
        .create(&NAMESPACES, json!({"metadata":{"name":"default"}}))
        .await
        .unwrap();
    store
        .create(
            &PODS,
            json!({"metadata":{"name":"p","namespace":"default"},"status":{"n":0}}),
        )
        .await
        .unwrap();
    let t = Instant::now();
    for i in 0..1000 {
        store
            .modify(&PODS, "default", "p", |mut v| {
                v["status"]["n"] = json!(i + 1);
                Ok(Some(v))
            })
            .await
            .unwrap();
    }
    eprintln!("sequential modify: {:?} per op", t.elapsed() / 1000);
}
