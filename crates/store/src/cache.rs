//! The in-memory copy of each live object, kept compact.
//!
//! Most objects of a busy store are cold: a finished Pod is read by a list
//! now and then and written once more at most. Kept as plain JSON they were
//! most of the engine's memory (10,000 finished Pods: 41 MB of a 76 MB
//! heap). So the cache keeps two kinds of entry:
//! - hot: the bytes, and the decoded object where the kind's
//!   `Strategy::cache_decoded` says it will be written again soon;
//! - cold: the bytes compressed with zstd against a *raw-content
//!   dictionary*, which is simply the JSON of another object of the same
//!   resource. Pods of one Job differ in a few names, uids and times, so a
//!   2.4 KB finished Pod packs into about 140 bytes, and reading it back
//!   costs a few microseconds.
//!
//! Dictionaries: each resource has a current one, the first object packed;
//! when an object packs worse than [`MIN_RATIO`], it becomes the resource's
//! new dictionary (a Job with a different template, say). An entry holds
//! its dictionary by `Arc`, so an old dictionary lives as long as an entry
//! that needs it, and every entry unpacks on its own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::Stored;

/// zstd's fastest level; a dictionary does most of the work.
const LEVEL: i32 = 1;
/// An object that packs to more than 1/`MIN_RATIO` of its size becomes
/// its resource's dictionary.
const MIN_RATIO: usize = 4;
/// Objects smaller than this are kept as they are.
const MIN_PACKED: usize = 256;

/// One live object in the store's state.
#[derive(Clone)]
pub(crate) enum Entry {
    Hot(Stored),
    Cold(Cold),
}

/// An object's bytes, compressed against a dictionary.
#[derive(Clone)]
pub(crate) struct Cold {
    rev: u64,
    len: u32,
    data: Bytes,
    dict: Arc<Dict>,
}

/// A raw-content dictionary: the JSON of an object of the same resource.
pub(crate) struct Dict {
    raw: Vec<u8>,
}

impl Entry {
    /// The object, unpacked if need be.
    pub(crate) fn stored(&self) -> Stored {
        match self {
            Entry::Hot(s) => s.clone(),
            Entry::Cold(c) => DCTX.with(|d| unpack(&mut d.borrow_mut(), c)),
        }
    }
}

thread_local! {
    /// Each thread's zstd context, made once. Making one allocates about
    /// 160 KB, and freeing that made glibc consolidate its free lists: both
    /// showed in profiles while reads alternated between resources (a create
    /// reads its Namespace, the writer the Pod it updates). A raw-content
    /// dictionary costs nothing to set per call.
    static DCTX: RefCell<zstd::zstd_safe::DCtx<'static>> =
        RefCell::new(zstd::zstd_safe::DCtx::create());
}

fn unpack(d: &mut zstd::zstd_safe::DCtx<'static>, c: &Cold) -> Stored {
    let mut bytes = Vec::with_capacity(c.len as usize);
    // Packed here, from bytes this process holds: unpacking cannot fail
    // short of memory corruption.
    d.decompress_using_dict(&mut bytes, &c.data, &c.dict.raw)
        .expect("a cold cache entry unpacks");
    Stored::from_bytes(c.rev, Bytes::from(bytes))
}

/// Packs cold objects; owned by the one thread that fills the cache (the
/// store's writer, and the start-up load before it).
#[derive(Default)]
pub(crate) struct Packer {
    by_resource: HashMap<&'static str, (Arc<Dict>, zstd::bulk::Compressor<'static>)>,
}

impl Packer {
    /// The cache entry for an object: hot as it is, or cold and packed.
    pub(crate) fn entry(&mut self, resource: &'static str, stored: Stored, hot: bool) -> Entry {
        if hot {
            return Entry::Hot(stored);
        }
        let len = stored.bytes.len();
        let packed = (MIN_PACKED..=u32::MAX as usize)
            .contains(&len)
            .then(|| self.pack(resource, &stored.bytes))
            .flatten();
        match packed {
            Some((data, dict)) => Entry::Cold(Cold {
                rev: stored.rev,
                len: len as u32,
                data,
                dict,
            }),
            None => Entry::Hot(Stored::from_bytes(stored.rev, stored.bytes)),
        }
    }

    fn pack(&mut self, resource: &'static str, bytes: &[u8]) -> Option<(Bytes, Arc<Dict>)> {
        if let Some((dict, c)) = self.by_resource.get_mut(resource) {
            if let Ok(data) = c.compress(bytes) {
                if data.len() * MIN_RATIO <= bytes.len() {
                    return Some((exact(data), dict.clone()));
                }
            }
        }
        // No dictionary yet, or this object is unlike it: it becomes the
        // dictionary (and packs against itself to a few bytes).
        let dict = Arc::new(Dict {
            raw: bytes.to_vec(),
        });
        let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, &dict.raw).ok()?;
        let data = c.compress(bytes).ok()?;
        self.by_resource.insert(resource, (dict.clone(), c));
        Some((exact(data), dict))
    }
}

/// A packed buffer without the spare capacity zstd reserved (its bound is
/// about the object's own size: kept, it undid most of the packing).
fn exact(data: Vec<u8>) -> Bytes {
    Bytes::from(data.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, uid: &str) -> Bytes {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": uid,
                "labels": {"job-name": "pi", "batch.kubernetes.io/job-name": "pi"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 30},
            "status": {"phase": "Succeeded", "conditions": [{"type": "Ready", "status": "False",
                "reason": "PodCompleted", "lastTransitionTime": "2026-12-04T18:38:29Z"}]}
        });
        Bytes::from(serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn cold_entries_unpack_to_the_same_bytes_and_siblings_pack_small() {
        let mut p = Packer::default();
        let entries: Vec<(Bytes, Entry)> = (0..50)
            .map(|i| {
                let b = pod(&format!("pi-{i:05}"), &format!("uid-{i:032}"));
                let e = p.entry("pods", Stored::from_bytes(i + 1, b.clone()), false);
                (b, e)
            })
            .collect();
        for (i, (b, e)) in entries.iter().enumerate() {
            let Entry::Cold(c) = e else {
                panic!("entry {i} not packed")
            };
            if i > 0 {
                assert!(
                    c.data.len() * 4 < b.len(),
                    "{} of {}",
                    c.data.len(),
                    b.len()
                );
            }
            assert_eq!(e.stored().rev, i as u64 + 1);
            assert_eq!(e.stored().bytes, *b);
        }
    }

    #[test]
    fn an_unlike_object_becomes_the_dictionary_and_old_entries_still_unpack() {
        let mut p = Packer::default();
        let first = pod("a", "1");
        let a = p.entry("pods", Stored::from_bytes(1, first.clone()), false);
        let other = Bytes::from(
            serde_json::to_vec(&serde_json::json!({
                "kind": "ConfigMap", "data": (0..40).map(|i| (format!("k{i}"), serde_json::Value::from(format!("{i:x}").repeat(9))))
                    .collect::<serde_json::Map<String, serde_json::Value>>()
            }))
            .unwrap(),
        );
        let b = p.entry("pods", Stored::from_bytes(2, other.clone()), false);
        let (Entry::Cold(ca), Entry::Cold(cb)) = (&a, &b) else {
            panic!("not packed")
        };
        assert!(!Arc::ptr_eq(&ca.dict, &cb.dict));
        assert_eq!(a.stored().bytes, first);
        assert_eq!(b.stored().bytes, other);
        assert_eq!(a.stored().bytes, first);
    }

    #[test]
    fn hot_and_small_objects_stay_as_they_are() {
        let mut p = Packer::default();
        let b = pod("a", "1");
        assert!(matches!(
            p.entry("pods", Stored::from_bytes(1, b), true),
            Entry::Hot(_)
        ));
        let small = Bytes::from_static(b"{\"kind\":\"Namespace\"}");
        assert!(matches!(
            p.entry("namespaces", Stored::from_bytes(1, small), false),
            Entry::Hot(_)
        ));
    }
}
