//! Interned strings for the informers' views.
//!
//! The Job controller keeps a view of every pod it owns until the pod is
//! deleted: 100,000 for a large Indexed Job. Those pods repeat the same
//! label keys, the Job's name and uid, the owner reference, the condition
//! types, the phase. Held as owned `String`s in `BTreeMap`s, a finished
//! pod's view took about 3 KB (heaptrack, `bench -- scale`); with each
//! distinct string kept once and shared by `Arc`, about a third of it.
//!
//! The pool holds every interned string; strings no view uses any more are
//! swept out when the pool has doubled since the last sweep, so its size
//! stays proportional to the live views.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use serde::{Deserialize, Deserializer};

/// A shared, immutable string.
pub(crate) type Atom = Arc<str>;

struct Pool {
    set: HashSet<Atom>,
    /// Sweep when the set reaches this size.
    limit: usize,
}

static POOL: LazyLock<Mutex<Pool>> = LazyLock::new(|| {
    Mutex::new(Pool {
        set: HashSet::new(),
        limit: MIN_LIMIT,
    })
});

const MIN_LIMIT: usize = 4096;

/// The pool's copy of `s`.
pub(crate) fn atom(s: &str) -> Atom {
    let mut pool = POOL.lock();
    if let Some(a) = pool.set.get(s) {
        return a.clone();
    }
    if pool.set.len() >= pool.limit {
        pool.set.retain(|a| Arc::strong_count(a) > 1);
        pool.limit = (pool.set.len() * 2).max(MIN_LIMIT);
    }
    let a: Atom = Arc::from(s);
    pool.set.insert(a.clone());
    a
}

/// Deserializes a string (`null` as empty) into the pool.
pub(crate) fn de_atom<'de, D: Deserializer<'de>>(d: D) -> Result<Atom, D::Error> {
    Ok(atom(
        Option::<String>::deserialize(d)?.as_deref().unwrap_or(""),
    ))
}

/// Deserializes a list of strings (`null` as empty) into the pool.
pub(crate) fn de_atoms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Atom>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?
        .unwrap_or_default()
        .iter()
        .map(|s| atom(s))
        .collect())
}

/// A string map (labels, annotations) with interned keys and values,
/// sorted by key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StrMap(Box<[(Atom, Atom)]>);

impl StrMap {
    pub(crate) fn from_map(m: &BTreeMap<String, String>) -> StrMap {
        StrMap(m.iter().map(|(k, v)| (atom(k), atom(v))).collect())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    /// Sets `key` (tests build views by hand; informers never edit one).
    #[cfg(test)]
    pub(crate) fn insert(&mut self, key: &str, value: &str) {
        let mut v: Vec<(Atom, Atom)> = std::mem::take(&mut self.0).into_vec();
        match v.binary_search_by(|(k, _)| (**k).cmp(key)) {
            Ok(i) => v[i].1 = atom(value),
            Err(i) => v.insert(i, (atom(key), atom(value))),
        }
        self.0 = v.into_boxed_slice();
    }

    /// Whether `selector` selects these labels.
    pub(crate) fn matched_by(&self, selector: &api::selectors::Selector) -> bool {
        selector.matches_with(|k| self.get(k))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for StrMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'de> Deserialize<'de> for StrMap {
    /// `null` reads as empty (Go clients send `"labels": null`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StrMap, D::Error> {
        let m = Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default();
        Ok(StrMap::from_map(&m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let a = atom("batch.kubernetes.io/job-name");
        let b = atom(&String::from("batch.kubernetes.io/job-name"));
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn unused_strings_are_swept_when_the_pool_grows() {
        let kept = atom("kept-across-sweeps");
        for i in 0..3 * MIN_LIMIT {
            drop(atom(&format!("transient-{i}")));
        }
        let pool = POOL.lock();
        assert!(pool.set.len() < 2 * MIN_LIMIT, "{}", pool.set.len());
        assert!(pool.set.contains("kept-across-sweeps"));
        drop(pool);
        assert!(Arc::ptr_eq(&kept, &atom("kept-across-sweeps")));
    }

    #[test]
    fn a_map_looks_up_like_a_btreemap() {
        let src: BTreeMap<String, String> = [("b", "2"), ("a", "1"), ("c", "3")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let m = StrMap::from_map(&src);
        for (k, v) in &src {
            assert_eq!(m.get(k), Some(v.as_str()));
        }
        assert_eq!(m.get("d"), None);
        assert_eq!(m.iter().map(|(k, _)| k).collect::<String>(), "abc");
        let parsed: StrMap = serde_json::from_str(r#"{"c":"3","a":"1","b":"2"}"#).unwrap();
        assert_eq!(parsed, m);
        let null: StrMap = serde_json::from_str("null").unwrap();
        assert!(null.is_empty());
    }
}
