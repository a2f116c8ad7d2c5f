//! Store properties: revisions strictly increase, compare-and-swap admits
//! one winner, a list plus the replayed watch equals the final state, and
//! committed writes survive reopening.

use std::collections::BTreeMap;

use api::resources::{JOBS, NAMESPACES};
use proptest::prelude::*;
use serde_json::{json, Value};
use store::{DeleteOptions, EventType, Options, Store};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn open(dir: &std::path::Path) -> Store {
    let s = Store::open(dir, Options::default()).unwrap();
    if s.get(&NAMESPACES, "", "default").is_err() {
        s.create(
            &NAMESPACES,
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}),
        )
        .await
        .unwrap();
    }
    s
}

/// A valid Job: the store runs the Job strategy's validation on every write.
fn job(name: &str, n: i64) -> Value {
    json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":name,"namespace":"default"},"spec":{"parallelism":n,"template":template()}})
}

fn template() -> Value {
    json!({"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}})
}

#[derive(Debug, Clone)]
enum Step {
    Create(u8),
    Update(u8, i64),
    Delete(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..6).prop_map(Step::Create),
        (0u8..6, 0i64..5).prop_map(|(a, b)| Step::Update(a, b)),
        (0u8..6).prop_map(Step::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Watching from before any step and replaying every event onto the
    /// initial list reproduces the final list; revisions strictly increase.
    #[test]
    fn list_plus_replayed_watch_equals_final_state(
        steps in proptest::collection::vec(step(), 1..40),
        split in 0usize..40,
    ) {
        let dir = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let s = open(dir.path()).await;
            let split = split.min(steps.len());
            let run = |st: Step| {
                let s = s.clone();
                async move {
                    let name = |i: u8| format!("j{i}");
                    match st {
                        Step::Create(i) => { let _ = s.create(&JOBS, job(&name(i), 1)).await; }
                        Step::Update(i, n) => {
                            let _ = s.modify(&JOBS, "default", &name(i), |mut v| {
                                v["spec"]["parallelism"] = json!(n);
                                Ok(Some(v))
                            }).await;
                        }
                        Step::Delete(i) => { let _ = s.delete(&JOBS, "default", &name(i), DeleteOptions::default()).await; }
                    }
                }
            };
            for st in &steps[..split] { run(st.clone()).await; }
            let (list, mut watch) = s.list_and_watch(&JOBS, Some("default")).unwrap();
            for st in &steps[split..] { run(st.clone()).await; }
            let head = s.revision();
            let mut state: BTreeMap<String, Value> = list.items.iter().map(|i| {
                let v = i.value();
                (v["metadata"]["name"].as_str().unwrap().to_string(), v)
            }).collect();
            let mut last = list.rev;
            while last < head {
                let Ok(Some(e)) = tokio::time::timeout(std::time::Duration::from_millis(200), watch.next()).await else { break };
                prop_assert!(e.rev > last, "revisions must increase: {} after {}", e.rev, last);
                last = e.rev;
                let v: Value = serde_json::from_slice(&e.object).unwrap();
                let n = v["metadata"]["name"].as_str().unwrap().to_string();
                match e.kind {
                    EventType::Deleted => { state.remove(&n); }
                    _ => { state.insert(n, v); }
                }
            }
            let final_list: BTreeMap<String, Value> = s.list(&JOBS, Some("default")).items.iter().map(|i| {
                let v = i.value();
                (v["metadata"]["name"].as_str().unwrap().to_string(), v)
            }).collect();
            prop_assert_eq!(state, final_list);
            Ok(())
        })?;
    }
}

#[test]
fn compare_and_swap_admits_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open(dir.path()).await;
        let created = s.create(&JOBS, job("cas", 1)).await.unwrap();
        let base = created.value();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = s.clone();
            let mut v = base.clone();
            v["spec"]["parallelism"] = json!(i + 2);
            tasks.push(tokio::spawn(async move { s.update(&JOBS, v).await }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(store::Error::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((ok, conflicts), (1, 15));
    });
}

#[test]
fn identity_generation_and_generate_name() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open(dir.path()).await;
        let j = s.create(&JOBS, job("g", 1)).await.unwrap().value();
        assert_eq!(j["metadata"]["generation"], 1);
        assert!(j["metadata"]["uid"].as_str().unwrap().len() == 36);
        assert!(j["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        // Status-only changes keep the generation; spec changes bump it.
        let mut v = j.clone();
        v["status"] = json!({"active": 1});
        let v = s.update(&JOBS, v).await.unwrap().value();
        assert_eq!(v["metadata"]["generation"], 1);
        let mut v2 = v.clone();
        v2["spec"]["parallelism"] = json!(3);
        let v2 = s.update(&JOBS, v2).await.unwrap().value();
        assert_eq!(v2["metadata"]["generation"], 2);
        assert_eq!(v2["metadata"]["uid"], j["metadata"]["uid"]);
        let gen = s
            .create(
                &JOBS,
                json!({"metadata":{"generateName":"x-","namespace":"default"},"spec":{"template":template()}}),
            )
            .await
            .unwrap()
            .value();
        assert!(gen["metadata"]["name"].as_str().unwrap().starts_with("x-"));
        let err = s.create(&JOBS, job("g", 1)).await.unwrap_err();
        assert!(matches!(err, store::Error::AlreadyExists(_)));
        let err = s
            .create(&JOBS, json!({"metadata":{"name":"n","namespace":"nope"}}))
            .await
            .unwrap_err();
        assert!(matches!(err, store::Error::NamespaceNotFound(_)));
    });
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open(dir.path()).await;
        let mut j = job("f", 1);
        j["metadata"]["finalizers"] = json!(["example.com/hold"]);
        s.create(&JOBS, j).await.unwrap();
        let d = s
            .delete(&JOBS, "default", "f", DeleteOptions::default())
            .await
            .unwrap();
        assert!(!d.removed);
        let v = s.get(&JOBS, "default", "f").unwrap().value();
        assert!(v["metadata"]["deletionTimestamp"].is_string());
        let mut v2 = v.clone();
        v2["metadata"]["finalizers"] = json!([]);
        s.update(&JOBS, v2).await.unwrap();
        assert!(s.get(&JOBS, "default", "f").is_err());
    });
}

#[test]
fn committed_writes_survive_reopen_and_history_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (rev, uid) = rt().block_on(async {
        let s = open(dir.path()).await;
        let j = s.create(&JOBS, job("d", 1)).await.unwrap();
        let rev = j.rev;
        s.modify(&JOBS, "default", "d", |mut v| {
            v["spec"]["parallelism"] = json!(7);
            Ok(Some(v))
        })
        .await
        .unwrap();
        (rev, j.value()["metadata"]["uid"].clone())
    });
    rt().block_on(async {
        let s = open(dir.path()).await;
        let v = s.get(&JOBS, "default", "d").unwrap().value();
        assert_eq!(v["metadata"]["uid"], uid);
        assert_eq!(v["spec"]["parallelism"], 7);
        let mut w = s.watch(&JOBS, None, rev).unwrap();
        let e = w.next().await.unwrap();
        assert_eq!(e.kind, EventType::Modified);
        assert!(e.prev.is_some());
    });
}

#[test]
fn watch_below_compaction_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open(dir.path()).await;
        for i in 0..10 {
            s.create(&JOBS, job(&format!("c{i}"), 1)).await.unwrap();
        }
        let compacted = s.compact(2).unwrap();
        assert!(compacted > 1);
        assert!(matches!(
            s.watch(&JOBS, None, 1),
            Err(store::Error::Expired { .. })
        ));
        assert!(s.watch(&JOBS, None, compacted).is_ok());
    });
}

#[test]
fn list_at_an_older_revision_is_that_snapshot_even_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open(dir.path()).await;
        s.create(&JOBS, job("a", 1)).await.unwrap();
        s.create(&JOBS, job("b", 1)).await.unwrap();
        let at = s.revision();
        s.modify(&JOBS, "default", "a", |mut v| {
            v["spec"]["parallelism"] = json!(9);
            Ok(Some(v))
        })
        .await
        .unwrap();
        s.delete(&JOBS, "default", "b", DeleteOptions::default())
            .await
            .unwrap();
        s.create(&JOBS, job("c", 1)).await.unwrap();
        let names = |l: &store::List| -> Vec<(String, i64)> {
            l.items
                .iter()
                .map(|i| {
                    let v = i.value();
                    (
                        v["metadata"]["name"].as_str().unwrap().to_string(),
                        v["spec"]["parallelism"].as_i64().unwrap(),
                    )
                })
                .collect()
        };
        let old = s.list_at(&JOBS, Some("default"), at).unwrap();
        assert_eq!(names(&old), [("a".to_string(), 1), ("b".to_string(), 1)]);
        // Compacting up to `at` keeps what was current there.
        s.compact(s.revision() - at).unwrap();
        let old = s.list_at(&JOBS, Some("default"), at).unwrap();
        assert_eq!(names(&old), [("a".to_string(), 1), ("b".to_string(), 1)]);
        assert!(matches!(
            s.list_at(&JOBS, None, at - 1),
            Err(store::Error::Expired { .. })
        ));
        let now = s.list_at(&JOBS, Some("default"), s.revision()).unwrap();
        assert_eq!(names(&now), [("a".to_string(), 9), ("c".to_string(), 1)]);
    });
}

fn configmap(name: &str, bytes: usize) -> Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"default"},
           "data":{"payload":"x".repeat(bytes)}})
}

/// A full disk (the database past its quota, as etcd's `database space
/// exceeded`): the write fails with `SpaceExceeded`, nothing of it is in
/// memory or published, and once space is back the same store commits the
/// next write with the next revision.
#[test]
fn a_refused_commit_leaves_memory_and_the_writer_as_they_were() {
    use api::resources::CONFIGMAPS;
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            quota_bytes: Some(4 << 20),
            ..Options::default()
        };
        let s = Store::open(dir.path(), options.clone()).unwrap();
        s.create(
            &NAMESPACES,
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}),
        )
        .await
        .unwrap();
        s.create(&CONFIGMAPS, configmap("kept", 100)).await.unwrap();
        let head = s.revision();
        let mut watch = s.watch(&CONFIGMAPS, None, head).unwrap();

        // Another connection takes the space: the store's next write is past
        // its quota.
        let other = rusqlite::Connection::open(dir.path().join("joblite.db")).unwrap();
        other
            .execute_batch(
                "PRAGMA busy_timeout = 5000;
                 CREATE TABLE filler (b BLOB);
                 INSERT INTO filler VALUES (zeroblob(8 * 1024 * 1024));",
            )
            .unwrap();
        let err = s
            .create(&CONFIGMAPS, configmap("refused", 64 << 10))
            .await
            .unwrap_err();
        assert!(matches!(err, store::Error::SpaceExceeded(_)), "{err}");
        assert!(
            err.to_string().starts_with("database space exceeded"),
            "{err}"
        );
        assert_eq!(s.revision(), head);
        assert!(s.get(&CONFIGMAPS, "default", "refused").is_err());
        assert_eq!(s.list(&CONFIGMAPS, None).items.len(), 1);

        // Space comes back: the same store, the next revision.
        other.execute_batch("DROP TABLE filler; VACUUM;").unwrap();
        let written = s
            .create(&CONFIGMAPS, configmap("after", 100))
            .await
            .unwrap();
        assert_eq!(written.rev, head + 1);
        let ev = tokio::time::timeout(std::time::Duration::from_secs(5), watch.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((ev.rev, ev.key.name.as_str()), (head + 1, "after"));
        drop(s);

        // What the disk holds is what memory held.
        let s = Store::open(dir.path(), options).unwrap();
        let mut names: Vec<String> = s
            .list(&CONFIGMAPS, None)
            .items
            .iter()
            .map(|i| i.value()["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["after", "kept"]);
        assert_eq!(s.revision(), head + 1);
    });
}
