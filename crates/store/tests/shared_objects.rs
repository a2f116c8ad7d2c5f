//! The shared-object path: the writer decodes an object once and hands the
//! same `Arc` (and the same bytes) to its state and to every watcher.
//! Properties: a watcher never sees a write that did not commit (a refused
//! commit, a lost compare-and-swap, a taken name), everything it sees is
//! on disk, every watcher holds the very same object, and an object a
//! watcher holds never changes afterwards, whatever is written later.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use api::resources::{CONFIGMAPS, NAMESPACES, PODS};
use proptest::prelude::*;
use serde_json::{json, Value};
use store::{DeleteOptions, Event, Options, Store, WatchStream};

/// A store in `dir` with the `default` namespace created.
async fn open_with_default_namespace(dir: &std::path::Path) -> Store {
    let s = Store::open(dir, Options::default()).unwrap();
    s.create(
        &NAMESPACES,
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}),
    )
    .await
    .unwrap();
    s
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Large enough that the cache packs it (`cache.rs`): the property below
/// runs through cold entries too.
fn configmap(name: &str, data: &str) -> Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"default"},
           "data":{"v":data, "pad": format!("{name}-").repeat(80)}})
}

#[derive(Debug, Clone)]
enum Step {
    Create(u8, u8),
    /// Update from the current object.
    Update(u8, u8),
    /// Update pinned to a revision that is no longer current: a lost CAS.
    Stale(u8, u8),
    Delete(u8),
    /// Another connection fills the disk past the quota, or frees it.
    DiskFull(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..4, 0u8..8).prop_map(|(a, b)| Step::Create(a, b)),
        4 => (0u8..4, 0u8..8).prop_map(|(a, b)| Step::Update(a, b)),
        2 => (0u8..4, 0u8..8).prop_map(|(a, b)| Step::Stale(a, b)),
        2 => (0u8..4).prop_map(Step::Delete),
        1 => any::<bool>().prop_map(Step::DiskFull),
    ]
}

/// Everything a watcher has delivered up to `head`.
async fn drain(w: &mut WatchStream, head: u64) -> Vec<Arc<Event>> {
    let mut out = Vec::new();
    while w.last_revision() < head {
        match tokio::time::timeout(Duration::from_secs(5), w.next()).await {
            Ok(Some(e)) => out.push(e),
            _ => break,
        }
    }
    out
}

/// An event's decoded object as JSON bytes (what it says now).
fn encoded(e: &Event) -> Vec<u8> {
    e.decoded
        .as_ref()
        .expect("a live event carries its object")
        .to_bytes()
}

/// The cache keeps a pod decoded while it runs and while a finalizer still
/// holds it (its next writes are planned without a parse), and only its
/// bytes once it has finished and nothing will write it again; a ConfigMap
/// only its bytes; a Namespace, read by every create in it, decoded
/// (`Strategy::cache_decoded`).
#[test]
fn the_cache_keeps_running_pods_decoded_and_finished_ones_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open_with_default_namespace(dir.path()).await;
        assert!(s.get(&NAMESPACES, "", "default").unwrap().object.is_some());
        let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default",
                         "finalizers":["batch.kubernetes.io/job-tracking"]},
                         "spec":{"containers":[{"name":"c","image":"busybox"}]}});
        s.create(&PODS, pod).await.unwrap();
        assert!(s.get(&PODS, "default", "p").unwrap().object.is_some());
        s.modify(&PODS, "default", "p", |mut v| {
            v["status"] = json!({"phase": "Succeeded"});
            Ok(Some(v))
        })
        .await
        .unwrap();
        let counted = s.get(&PODS, "default", "p").unwrap();
        assert!(counted.object.is_some(), "the Job controller removes its finalizer next");
        s.modify(&PODS, "default", "p", |mut v| {
            v["metadata"]["finalizers"] = json!([]);
            Ok(Some(v))
        })
        .await
        .unwrap();
        let done = s.get(&PODS, "default", "p").unwrap();
        assert!(done.object.is_none());
        assert_eq!(done.value()["status"]["phase"], "Succeeded");
        s.create(&CONFIGMAPS, configmap("c", "1")).await.unwrap();
        assert!(s.get(&CONFIGMAPS, "default", "c").unwrap().object.is_none());
    });
}

/// `modify_meta` edits the decoded object's metadata as a main write: the
/// status is kept, an edit that declines writes nothing.
#[test]
fn modify_meta_edits_metadata_and_keeps_the_status() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let s = open_with_default_namespace(dir.path()).await;
        let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default",
                         "finalizers":["batch.kubernetes.io/job-tracking","example.com/keep"]},
                         "spec":{"containers":[{"name":"c","image":"busybox"}]}});
        s.create(&PODS, pod).await.unwrap();
        s.modify(&PODS, "default", "p", |mut v| {
            v["status"] = json!({"phase": "Succeeded"});
            Ok(Some(v))
        })
        .await
        .unwrap();
        let before = s.get(&PODS, "default", "p").unwrap().rev;
        let none = s
            .modify_meta(&PODS, "default", "p", |_| false)
            .await
            .unwrap();
        assert!(none.is_none());
        assert_eq!(s.get(&PODS, "default", "p").unwrap().rev, before);
        let written = s
            .modify_meta(&PODS, "default", "p", |m| {
                m.finalizers
                    .as_mut()
                    .unwrap()
                    .retain(|f| f != "batch.kubernetes.io/job-tracking");
                true
            })
            .await
            .unwrap()
            .expect("written");
        assert!(written.rev > before);
        let v = s.get(&PODS, "default", "p").unwrap().value();
        assert_eq!(v["metadata"]["finalizers"], json!(["example.com/keep"]));
        assert_eq!(v["status"]["phase"], "Succeeded");
    });
}

/// Cold objects (finished pods, ConfigMaps) are packed in the cache; every
/// read returns the committed bytes exactly: get, list, a paged visit, a
/// write planned from the cold copy, and the same after a reopen.
#[test]
fn cold_objects_read_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let mut want = std::collections::BTreeMap::new();
        {
            let s = open_with_default_namespace(dir.path()).await;
            for i in 0..60 {
                let name = format!("p{i:03}");
                let image = if i % 7 == 0 { format!("img{i}:{}", "v".repeat(i)) } else { "busybox".into() };
                let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":"default",
                                 "labels":{"job-name":"j","i":i.to_string()}},
                                 "spec":{"containers":[{"name":"c","image":image,"command":["true"]}]}});
                s.create(&PODS, pod).await.unwrap();
                let done = s
                    .modify(&PODS, "default", &name, |mut v| {
                        v["status"] = json!({"phase": "Succeeded", "message": "x".repeat(i * 13)});
                        Ok(Some(v))
                    })
                    .await
                    .unwrap()
                    .unwrap();
                want.insert(name, done.bytes);
            }
            // A write planned from a cold copy.
            let relabelled = s
                .modify(&PODS, "default", "p007", |mut v| {
                    v["metadata"]["labels"]["done"] = json!("yes");
                    Ok(Some(v))
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(relabelled.value()["status"]["message"], "x".repeat(7 * 13));
            want.insert("p007".into(), relabelled.bytes);
            check(&s, &want);
        }
        let s = Store::open(dir.path(), Options::default()).unwrap();
        check(&s, &want);
    });

    fn check(s: &Store, want: &std::collections::BTreeMap<String, bytes::Bytes>) {
        for (name, b) in want {
            assert_eq!(
                &s.get(&PODS, "default", name).unwrap().bytes,
                b,
                "get {name}"
            );
        }
        let listed: Vec<_> = s
            .list(&PODS, Some("default"))
            .items
            .into_iter()
            .map(|i| i.bytes)
            .collect();
        assert_eq!(listed, want.values().cloned().collect::<Vec<_>>());
        // The lazy listing the informers and the node agent start from.
        let listing = s.listing(&PODS, Some("default"));
        assert_eq!(listing.iter().len(), want.len());
        let lazily: Vec<_> = listing.iter().map(|i| i.bytes).collect();
        assert_eq!(lazily, listed);
        let mut visited = Vec::new();
        s.visit_after(&PODS, Some("default"), Some(("default", "p029")), |k, v| {
            visited.push((k.name.clone(), v.bytes.clone()));
            visited.len() < 10
        });
        let expect: Vec<_> = want
            .range("p030".to_string()..)
            .take(10)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(visited, expect);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn watchers_share_committed_objects_that_never_change(
        steps in proptest::collection::vec(step(), 1..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = Options { quota_bytes: Some(4 << 20), ..Options::default() };
        rt().block_on(async {
            let s = Store::open(dir.path(), options.clone()).unwrap();
            s.create(&NAMESPACES, json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}))
                .await
                .unwrap();
            let start = s.revision();
            let mut a = s.watch(&CONFIGMAPS, None, start).unwrap();
            let mut b = s.watch(&CONFIGMAPS, Some("default"), start).unwrap();
            let filler = rusqlite::Connection::open(dir.path().join("joblite.db")).unwrap();
            filler.execute_batch("PRAGMA busy_timeout = 5000;").unwrap();
            let mut full = false;
            let mut committed = BTreeSet::new();
            // What the first watcher got, with the object's encoding at receipt.
            let mut held: Vec<(Arc<Event>, Vec<u8>)> = Vec::new();
            let mut held_b: Vec<Arc<Event>> = Vec::new();
            let name = |i: u8| format!("c{i}");
            for st in steps {
                let res = match st {
                    Step::Create(i, d) => s.create(&CONFIGMAPS, configmap(&name(i), &d.to_string())).await.map(Some),
                    Step::Update(i, d) => s.modify(&CONFIGMAPS, "default", &name(i), |mut v| {
                        v["data"]["v"] = json!(format!("u{d}"));
                        Ok(Some(v))
                    }).await,
                    Step::Stale(i, d) => match s.get(&CONFIGMAPS, "default", &name(i)) {
                        Ok(cur) if cur.rev > 1 => {
                            let mut v = cur.value();
                            v["data"]["v"] = json!(format!("s{d}"));
                            v["metadata"]["resourceVersion"] = json!((cur.rev - 1).to_string());
                            let r = s.update(&CONFIGMAPS, v).await;
                            prop_assert!(r.is_err(), "a stale resourceVersion must not commit");
                            r.map(Some)
                        }
                        _ => Ok(None),
                    },
                    Step::Delete(i) => s
                        .delete(&CONFIGMAPS, "default", &name(i), DeleteOptions::default())
                        .await
                        .map(|d| Some(d.object)),
                    Step::DiskFull(on) => {
                        if on && !full {
                            filler.execute_batch("CREATE TABLE filler (b BLOB);
                                INSERT INTO filler VALUES (zeroblob(6 * 1024 * 1024));").unwrap();
                        } else if !on && full {
                            filler.execute_batch("DROP TABLE filler; VACUUM;").unwrap();
                        }
                        full = on;
                        Ok(None)
                    }
                };
                if let Ok(Some(stored)) = res {
                    committed.insert(stored.rev);
                }
                // Take what has arrived so far, so later writes happen while
                // the watcher holds these objects.
                let head = s.revision();
                for e in drain(&mut a, head).await {
                    let bytes = encoded(&e);
                    held.push((e, bytes));
                }
                held_b.extend(drain(&mut b, head).await);
            }
            // Only committed writes were published, each exactly once.
            let seen: BTreeSet<u64> = held.iter().map(|(e, _)| e.rev).collect();
            prop_assert_eq!(seen.len(), held.len());
            prop_assert_eq!(&seen, &committed);
            // Both watchers hold the very same objects, not copies.
            prop_assert_eq!(held.len(), held_b.len());
            for ((e, _), f) in held.iter().zip(&held_b) {
                prop_assert!(Arc::ptr_eq(e, f));
                prop_assert!(Arc::ptr_eq(e.decoded.as_ref().unwrap(), f.decoded.as_ref().unwrap()));
            }
            // Nothing a watcher holds changed after it got it: the object
            // still encodes to its bytes as published and as received.
            for (e, at_receipt) in &held {
                prop_assert_eq!(&encoded(e), at_receipt);
                prop_assert_eq!(&e.object[..], &at_receipt[..]);
            }
            // The store's state holds the bytes the watchers got (packed:
            // these ConfigMaps are cold) and not their decoded form.
            for cur in s.list(&CONFIGMAPS, None).items {
                let e = held.iter().rev().find(|(e, _)| e.rev == cur.rev).map(|(e, _)| e);
                prop_assert!(e.is_some(), "the state's object was published");
                prop_assert_eq!(&e.unwrap().object, &cur.bytes);
                prop_assert!(cur.object.is_none());
            }
            drop(s);
            if full {
                filler.execute_batch("DROP TABLE filler;").unwrap();
            }
            // Everything a watcher saw is on disk, byte for byte.
            let s = Store::open(dir.path(), options).unwrap();
            let mut replay = s.watch(&CONFIGMAPS, None, start).unwrap();
            let head = s.revision();
            let on_disk = drain(&mut replay, head).await;
            prop_assert_eq!(on_disk.len(), held.len());
            for (d, (e, _)) in on_disk.iter().zip(&held) {
                prop_assert_eq!((d.rev, d.kind, &d.object), (e.rev, e.kind, &e.object));
            }
            Ok(())
        })?;
    }
}
