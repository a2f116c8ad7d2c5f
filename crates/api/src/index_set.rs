//! Sets of Job completion indexes and their interval-string form.
//!
//! Indexed Jobs report `status.completedIndexes` and `status.failedIndexes`
//! (and a success policy names `succeededIndexes`) as strings like `1,3-5,7`.
//! A Job can have 100,000 completions, so the set is kept as sorted, disjoint,
//! non-adjacent inclusive intervals rather than one entry per index, and all
//! operations work interval by interval.
//!
//! There are three parsers because upstream has three behaviours:
//! * [`IndexSet::validate`] is the API server's strict check of a `/status`
//!   write (`validateIndexesFormat` in `pkg/apis/batch/validation/validation.go`),
//!   with its exact error texts;
//! * [`IndexSet::parse_lenient`] is the Job controller's reading of its own
//!   status (`parseIndexesFromString` in `pkg/controller/job/indexed_job_utils.go`):
//!   corrupt fragments are skipped and indexes `>= completions` dropped;
//! * [`IndexSet::parse`] is for input from people (e.g. `successPolicy`
//!   rules): order and overlap are tolerated and merged, malformed fragments
//!   are errors.

use std::fmt;
use std::str::FromStr;

use crate::status::{go_quote, ApiError};

/// A set of non-negative indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IndexSet {
    /// Sorted, disjoint, non-adjacent, inclusive `(first, last)` intervals.
    intervals: Vec<(i32, i32)>,
}

fn parse_int(s: &str) -> Result<i64, ApiError> {
    // Go's strconv.Atoi: optional sign, decimal digits, nothing else.
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "cannot convert string to integer for index: {}",
            go_quote(s)
        )));
    }
    digits.parse::<i64>().map_err(|_| {
        ApiError::BadRequest(format!(
            "cannot convert string to integer for index: {}",
            go_quote(s)
        ))
    })
}

fn too_many_parts(fragment: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
        go_quote(fragment)
    ))
}

/// One `x` or `x-y` fragment, without a completions bound.
fn parse_fragment(fragment: &str) -> Result<(i64, i64), ApiError> {
    let limits: Vec<&str> = fragment.split('-').collect();
    if limits.len() > 2 {
        return Err(too_many_parts(fragment));
    }
    let x = parse_int(limits[0])?;
    if let Some(ys) = limits.get(1) {
        let y = parse_int(ys)?;
        if x >= y {
            return Err(ApiError::BadRequest(format!(
                "non-increasing order, previous: {x}, current: {y}"
            )));
        }
        return Ok((x, y));
    }
    Ok((x, x))
}

/// Upstream `parseIndexInterval`: a fragment checked against `completions`.
fn parse_index_interval(fragment: &str, completions: i32) -> Result<(i32, i32), ApiError> {
    let limits: Vec<&str> = fragment.split('-').collect();
    if limits.len() > 2 {
        return Err(too_many_parts(fragment));
    }
    let too_large = |s: &str| ApiError::BadRequest(format!("too large index: {}", go_quote(s)));
    let x = parse_int(limits[0])?;
    if x >= i64::from(completions) {
        return Err(too_large(limits[0]));
    }
    if let Some(ys) = limits.get(1) {
        let y = parse_int(ys)?;
        if y >= i64::from(completions) {
            return Err(too_large(ys));
        }
        if x >= y {
            return Err(ApiError::BadRequest(format!(
                "non-increasing order, previous: {x}, current: {y}"
            )));
        }
        return Ok((x as i32, y as i32));
    }
    Ok((x as i32, x as i32))
}

impl IndexSet {
    /// The empty set.
    pub fn new() -> Self {
        IndexSet::default()
    }

    /// The set `[0, n)`.
    pub fn range(n: i32) -> Self {
        if n <= 0 {
            IndexSet::new()
        } else {
            IndexSet {
                intervals: vec![(0, n - 1)],
            }
        }
    }

    /// Builds a set from indexes in any order, with duplicates; negative
    /// indexes are ignored.
    pub fn from_indexes(indexes: impl IntoIterator<Item = i32>) -> Self {
        let mut v: Vec<i32> = indexes.into_iter().filter(|i| *i >= 0).collect();
        v.sort_unstable();
        v.dedup();
        let mut intervals: Vec<(i32, i32)> = Vec::new();
        for i in v {
            match intervals.last_mut() {
                Some((_, last)) if *last + 1 == i => *last = i,
                _ => intervals.push((i, i)),
            }
        }
        IndexSet { intervals }
    }

    /// Builds a set from inclusive intervals in any order, merging overlaps
    /// and neighbours; empty (`first > last`) and negative parts are dropped.
    pub fn from_intervals(intervals: impl IntoIterator<Item = (i32, i32)>) -> Self {
        let mut v: Vec<(i32, i32)> = intervals
            .into_iter()
            .map(|(a, b)| (a.max(0), b))
            .filter(|(a, b)| a <= b)
            .collect();
        v.sort_unstable();
        let mut out: Vec<(i32, i32)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some((_, last)) if i64::from(a) <= i64::from(*last) + 1 => *last = (*last).max(b),
                _ => out.push((a, b)),
            }
        }
        IndexSet { intervals: out }
    }

    /// Parses an interval string leniently about order: fragments may come in
    /// any order, overlap or touch, and are merged. Malformed fragments are
    /// errors with upstream's wording. `""` is the empty set.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        if s.is_empty() {
            return Ok(IndexSet::new());
        }
        let mut parts = Vec::new();
        for fragment in s.split(',') {
            let (x, y) = parse_fragment(fragment)?;
            if y > i64::from(i32::MAX) {
                return Err(ApiError::BadRequest(format!(
                    "too large index: {}",
                    go_quote(fragment)
                )));
            }
            parts.push((x as i32, y as i32));
        }
        Ok(IndexSet::from_intervals(parts))
    }

    /// [`IndexSet::parse`], then drops indexes `>= completions`.
    pub fn parse_truncated(s: &str, completions: i32) -> Result<Self, ApiError> {
        let mut set = Self::parse(s)?;
        set.truncate(completions);
        Ok(set)
    }

    /// The Job controller's reading of its own status string (upstream
    /// `parseIndexesFromString`): corrupt fragments are skipped, parsing
    /// stops at the first fragment starting at or past `completions`, and an
    /// interval running past it is clamped.
    pub fn parse_lenient(s: &str, completions: i32) -> Self {
        let mut parts = Vec::new();
        if s.is_empty() {
            return IndexSet::new();
        }
        for fragment in s.split(',') {
            let limits: Vec<&str> = fragment.split('-').collect();
            let Ok(first) = parse_int(limits[0]) else {
                continue;
            };
            if first >= i64::from(completions) {
                break;
            }
            let last = match limits.get(1) {
                Some(ys) => match parse_int(ys) {
                    Ok(y) => y.min(i64::from(completions) - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            parts.push((first as i32, last as i32));
        }
        IndexSet::from_intervals(parts)
    }

    /// The API server's strict check (upstream `validateIndexesFormat`):
    /// increasing, well-formed fragments below `completions`. Returns the
    /// number of indexes.
    pub fn validate(s: &str, completions: i32) -> Result<i64, ApiError> {
        if s.is_empty() {
            return Ok(0);
        }
        let mut last: Option<i32> = None;
        let mut total: i64 = 0;
        for fragment in s.split(',') {
            let (x, y) = parse_index_interval(fragment, completions)?;
            if let Some(prev) = last {
                if prev >= x {
                    return Err(ApiError::BadRequest(format!(
                        "non-increasing order, previous: {prev}, current: {x}"
                    )));
                }
            }
            total += i64::from(y) - i64::from(x) + 1;
            last = Some(y);
        }
        Ok(total)
    }

    /// Upstream `validateFailedIndexesNotOverlapCompleted`: the error names
    /// the first shared index. Malformed fragments are skipped here (they are
    /// reported by [`IndexSet::validate`]).
    pub fn validate_no_overlap(
        completed: &str,
        failed: &str,
        completions: i32,
    ) -> Result<(), ApiError> {
        if completed.is_empty() || failed.is_empty() {
            return Ok(());
        }
        let c: Vec<(i32, i32)> = completed
            .split(',')
            .filter_map(|f| parse_index_interval(f, completions).ok())
            .collect();
        let f: Vec<(i32, i32)> = failed
            .split(',')
            .filter_map(|f| parse_index_interval(f, completions).ok())
            .collect();
        let (mut i, mut j) = (0, 0);
        while i < c.len() && j < f.len() {
            let ((cx, cy), (fx, fy)) = (c[i], f[j]);
            if cx <= fy && fx <= cy {
                return Err(ApiError::BadRequest(format!(
                    "failedIndexes and completedIndexes overlap at index: {}",
                    cx.max(fx)
                )));
            }
            if cx <= fx {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ok(())
    }

    /// The intervals, sorted, inclusive.
    pub fn intervals(&self) -> &[(i32, i32)] {
        &self.intervals
    }

    /// True when no index is in the set.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Number of indexes (upstream `orderedIntervals.total`).
    pub fn count(&self) -> i64 {
        self.intervals
            .iter()
            .map(|(a, b)| i64::from(*b) - i64::from(*a) + 1)
            .sum()
    }

    /// Whether `index` is in the set (upstream `orderedIntervals.has`).
    pub fn contains(&self, index: i32) -> bool {
        let pos = self.intervals.partition_point(|(_, last)| *last < index);
        self.intervals
            .get(pos)
            .is_some_and(|(first, _)| *first <= index)
    }

    /// Smallest index.
    pub fn first(&self) -> Option<i32> {
        self.intervals.first().map(|(a, _)| *a)
    }

    /// Largest index.
    pub fn last(&self) -> Option<i32> {
        self.intervals.last().map(|(_, b)| *b)
    }

    /// Adds one index; returns whether it was new.
    pub fn insert(&mut self, index: i32) -> bool {
        if index < 0 || self.contains(index) {
            return false;
        }
        let pos = self.intervals.partition_point(|(_, last)| *last < index);
        let joins_prev = pos > 0 && self.intervals[pos - 1].1 + 1 == index;
        let joins_next = pos < self.intervals.len() && self.intervals[pos].0 - 1 == index;
        match (joins_prev, joins_next) {
            (true, true) => {
                self.intervals[pos - 1].1 = self.intervals[pos].1;
                self.intervals.remove(pos);
            }
            (true, false) => self.intervals[pos - 1].1 = index,
            (false, true) => self.intervals[pos].0 = index,
            (false, false) => self.intervals.insert(pos, (index, index)),
        }
        true
    }

    /// Removes one index; returns whether it was present.
    pub fn remove(&mut self, index: i32) -> bool {
        if !self.contains(index) {
            return false;
        }
        let pos = self.intervals.partition_point(|(_, last)| *last < index);
        let (a, b) = self.intervals[pos];
        match (a == index, b == index) {
            (true, true) => {
                self.intervals.remove(pos);
            }
            (true, false) => self.intervals[pos].0 = index + 1,
            (false, true) => self.intervals[pos].1 = index - 1,
            (false, false) => {
                self.intervals[pos].1 = index - 1;
                self.intervals.insert(pos + 1, (index + 1, b));
            }
        }
        true
    }

    /// Adds many indexes (upstream `withOrderedIndexes`).
    pub fn extend(&mut self, indexes: impl IntoIterator<Item = i32>) {
        let other = IndexSet::from_indexes(indexes);
        *self = self.union(&other);
    }

    /// Indexes in either set (upstream `orderedIntervals.merge`).
    pub fn union(&self, other: &IndexSet) -> IndexSet {
        IndexSet::from_intervals(self.intervals.iter().chain(other.intervals.iter()).copied())
    }

    /// Indexes in both sets.
    pub fn intersection(&self, other: &IndexSet) -> IndexSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.intervals.len() && j < other.intervals.len() {
            let (a1, b1) = self.intervals[i];
            let (a2, b2) = other.intervals[j];
            let (lo, hi) = (a1.max(a2), b1.min(b2));
            if lo <= hi {
                out.push((lo, hi));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        IndexSet { intervals: out }
    }

    /// Indexes in `self` but not in `other`.
    pub fn difference(&self, other: &IndexSet) -> IndexSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(a, b) in &self.intervals {
            let mut start = a;
            while j < other.intervals.len() && other.intervals[j].1 < start {
                j += 1;
            }
            let mut k = j;
            while start <= b {
                match other.intervals.get(k) {
                    Some(&(oa, ob)) if oa <= b => {
                        if oa > start {
                            out.push((start, oa - 1));
                        }
                        if ob >= b {
                            break;
                        }
                        start = ob + 1;
                        k += 1;
                    }
                    _ => {
                        out.push((start, b));
                        break;
                    }
                }
            }
        }
        IndexSet { intervals: out }
    }

    /// Indexes in `[0, completions)` that are not in the set, e.g. the
    /// indexes still to run.
    pub fn complement(&self, completions: i32) -> IndexSet {
        IndexSet::range(completions).difference(self)
    }

    /// Drops indexes `>= completions` (elastic Indexed Jobs scaled down).
    pub fn truncate(&mut self, completions: i32) {
        if completions <= 0 {
            self.intervals.clear();
            return;
        }
        let limit = completions - 1;
        self.intervals.retain(|(a, _)| *a <= limit);
        if let Some(last) = self.intervals.last_mut() {
            last.1 = last.1.min(limit);
        }
    }

    /// Every index, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i32> + '_ {
        self.intervals.iter().flat_map(|(a, b)| *a..=*b)
    }
}

impl fmt::Display for IndexSet {
    /// Upstream `orderedIntervals.String`: runs of three or more are `a-b`,
    /// a run of two is `a,b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for &(a, b) in &self.intervals {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if a == b {
                write!(f, "{a}")?;
            } else if i64::from(b) == i64::from(a) + 1 {
                write!(f, "{a},{b}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for IndexSet {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndexSet::parse(s)
    }
}

impl FromIterator<i32> for IndexSet {
    fn from_iter<T: IntoIterator<Item = i32>>(iter: T) -> Self {
        IndexSet::from_indexes(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn err(r: Result<impl fmt::Debug, ApiError>) -> String {
        match r {
            Err(e) => e.message(),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    /// Examples from job-semantics.md §15.1 and the `completedIndexes` API doc.
    #[test]
    fn formats_like_ordered_intervals_string() {
        let cases: &[(&[i32], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[0, 1], "0,1"),
            (&[0, 1, 2], "0-2"),
            (&[0, 1, 2, 3], "0-3"),
            (&[1, 3], "1,3"),
            (&[1, 3, 4, 5, 7], "1,3-5,7"),
            (&[5, 1, 3, 4, 7, 3], "1,3-5,7"),
            (&[0, 1, 3, 4, 5, 9, 10], "0,1,3-5,9,10"),
        ];
        for (idx, want) in cases {
            assert_eq!(
                IndexSet::from_indexes(idx.iter().copied()).to_string(),
                *want
            );
        }
    }

    #[test]
    fn tolerant_parse_merges() {
        let cases = [
            ("", ""),
            ("1,3-5,7", "1,3-5,7"),
            ("0,1", "0,1"),
            ("0,1,2", "0-2"),
            ("3-5,1", "1,3-5"),
            ("1-4,2-6", "1-6"),
            ("1-2,3-4", "1-4"),
            ("2,2,2", "2"),
            ("+3", "3"),
        ];
        for (input, want) in cases {
            assert_eq!(IndexSet::parse(input).unwrap().to_string(), want, "{input}");
        }
        assert_eq!(
            IndexSet::parse_truncated("1,3-9,12", 5)
                .unwrap()
                .to_string(),
            "1,3,4"
        );
    }

    #[test]
    fn parse_errors_use_upstream_wording() {
        let cases = [
            ("a", "cannot convert string to integer for index: \"a\""),
            ("1,,2", "cannot convert string to integer for index: \"\""),
            ("1-", "cannot convert string to integer for index: \"\""),
            ("1-2-3", "the fragment \"1-2-3\" violates the requirement that an index interval can have at most two parts separated by '-'"),
            ("5-3", "non-increasing order, previous: 5, current: 3"),
            ("3-3", "non-increasing order, previous: 3, current: 3"),
            (" 1", "cannot convert string to integer for index: \" 1\""),
        ];
        for (input, want) in cases {
            assert_eq!(err(IndexSet::parse(input)), want, "{input}");
        }
    }

    /// `pkg/apis/batch/validation/validation.go` `validateIndexesFormat`.
    #[test]
    fn strict_validation_table() {
        let ok = [
            ("", 10, 0),
            ("0", 1, 1),
            ("1,3-5,7", 8, 5),
            ("0-99999", 100000, 100000),
        ];
        for (input, completions, total) in ok {
            assert_eq!(
                IndexSet::validate(input, completions).unwrap(),
                total,
                "{input}"
            );
        }
        let bad = [
            ("1,3-5,7", 7, "too large index: \"7\""),
            ("1-7", 5, "too large index: \"7\""),
            ("3,1", 5, "non-increasing order, previous: 3, current: 1"),
            ("1-3,3", 5, "non-increasing order, previous: 3, current: 3"),
            ("1,x", 5, "cannot convert string to integer for index: \"x\""),
            ("1-2-3", 5, "the fragment \"1-2-3\" violates the requirement that an index interval can have at most two parts separated by '-'"),
        ];
        for (input, completions, want) in bad {
            assert_eq!(err(IndexSet::validate(input, completions)), want, "{input}");
        }
    }

    #[test]
    fn overlap_check_names_the_first_shared_index() {
        assert!(IndexSet::validate_no_overlap("0-2,5", "3,4,6", 10).is_ok());
        assert!(IndexSet::validate_no_overlap("", "1", 10).is_ok());
        assert_eq!(
            err(IndexSet::validate_no_overlap("0-2,5-8", "3,6", 10)),
            "failedIndexes and completedIndexes overlap at index: 6"
        );
        assert_eq!(
            err(IndexSet::validate_no_overlap("4", "1-5", 10)),
            "failedIndexes and completedIndexes overlap at index: 4"
        );
    }

    /// `pkg/controller/job/indexed_job_utils.go` `parseIndexesFromString`.
    #[test]
    fn lenient_parse_like_the_controller() {
        let cases = [
            ("", 5, ""),
            ("1,3-5,7", 10, "1,3-5,7"),
            ("1,x,3", 10, "1,3"),
            ("1,3-x,4", 10, "1,4"),
            ("1,3-9,12", 5, "1,3,4"),
            ("1,7,2", 5, "1"),
            ("0,1,2-3", 10, "0-3"),
        ];
        for (input, completions, want) in cases {
            assert_eq!(
                IndexSet::parse_lenient(input, completions).to_string(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn set_operations() {
        let a = IndexSet::parse("0-4,10-12").unwrap();
        let b = IndexSet::parse("3-11").unwrap();
        assert_eq!(a.union(&b).to_string(), "0-12");
        assert_eq!(a.intersection(&b).to_string(), "3,4,10,11");
        assert_eq!(a.difference(&b).to_string(), "0-2,12");
        assert_eq!(b.difference(&a).to_string(), "5-9");
        assert_eq!(a.complement(15).to_string(), "5-9,13,14");
        assert_eq!(a.count(), 8);
        assert!(a.contains(11) && !a.contains(5) && !a.contains(-1));
        let mut c = IndexSet::new();
        for i in [5, 3, 4, 7, 6] {
            assert!(c.insert(i));
        }
        assert!(!c.insert(4));
        assert_eq!(c.to_string(), "3-7");
        assert!(c.remove(5));
        assert_eq!(c.to_string(), "3,4,6,7");
        assert!(c.remove(3) && c.remove(7) && !c.remove(7));
        assert_eq!(c.to_string(), "4,6");
        c.extend([5, 100]);
        assert_eq!(c.to_string(), "4-6,100");
        c.truncate(6);
        assert_eq!(c.to_string(), "4,5");
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn large_sets_stay_compact() {
        let s = IndexSet::range(100_000);
        assert_eq!(s.intervals().len(), 1);
        assert_eq!(s.to_string(), "0-99999");
        let mut evens = IndexSet::new();
        evens.extend((0..100_000).step_by(2));
        assert_eq!(evens.count(), 50_000);
        assert_eq!(evens.union(&s.difference(&evens)), s);
    }

    fn model(v: &[i32]) -> BTreeSet<i32> {
        v.iter().copied().collect()
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(v in proptest::collection::vec(0i32..300, 0..80)) {
            let s = IndexSet::from_indexes(v.iter().copied());
            let text = s.to_string();
            prop_assert_eq!(&IndexSet::parse(&text).unwrap(), &s);
            // The formatted string is what the API server accepts.
            prop_assert_eq!(IndexSet::validate(&text, 300).unwrap(), s.count());
            prop_assert_eq!(IndexSet::parse_lenient(&text, 300), s.clone());
            prop_assert_eq!(s.iter().collect::<BTreeSet<_>>(), model(&v));
        }

        #[test]
        fn operations_agree_with_a_btreeset(
            a in proptest::collection::vec(0i32..200, 0..60),
            b in proptest::collection::vec(0i32..200, 0..60),
            probe in 0i32..200,
        ) {
            let (sa, sb) = (IndexSet::from_indexes(a.clone()), IndexSet::from_indexes(b.clone()));
            let (ma, mb) = (model(&a), model(&b));
            prop_assert_eq!(sa.union(&sb).iter().collect::<BTreeSet<_>>(), &ma | &mb);
            prop_assert_eq!(sa.intersection(&sb).iter().collect::<BTreeSet<_>>(), &ma & &mb);
            prop_assert_eq!(sa.difference(&sb).iter().collect::<BTreeSet<_>>(), &ma - &mb);
            prop_assert_eq!(sa.contains(probe), ma.contains(&probe));
            prop_assert_eq!(sa.count(), ma.len() as i64);
            let mut ins = sa.clone();
            ins.insert(probe);
            prop_assert_eq!(ins, IndexSet::from_indexes(a.iter().copied().chain([probe])));
            let mut rem = sa.clone();
            rem.remove(probe);
            prop_assert_eq!(rem, IndexSet::from_indexes(a.iter().copied().filter(|i| *i != probe)));
        }
    }
}
