//! A k-anonymity gate for grouped aggregates: only groups with at least k rows are
//! published, so no published figure describes fewer than k people (JetLink's
//! benchmarking).

use std::collections::BTreeMap;

use crate::PiiError;

/// Which aggregate to compute per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// How many rows the group holds.
    Count,
    /// The sum of the group's finite values.
    Sum,
    /// The group's sum divided by its row count.
    Average,
}

/// One published group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<K> {
    /// The grouping attributes.
    pub key: K,
    /// Rows in the group (always at least k).
    pub count: usize,
    /// The aggregate: the count, the sum or the average of the values.
    pub value: f64,
}

/// The groups that passed the gate and what was held back.
#[derive(Debug, Clone, PartialEq)]
pub struct Gated<K> {
    /// Groups with at least k rows, in key order.
    pub groups: Vec<Group<K>>,
    /// How many groups were suppressed.
    pub suppressed_groups: usize,
    /// How many rows those groups held.
    pub suppressed_rows: usize,
}

/// Groups `rows` (key, value) by key, computes `agg` per group and suppresses every group
/// with fewer than `k` rows. Non-finite values count as rows but add nothing to sums.
pub fn gated_aggregate<K: Ord + Clone>(
    rows: impl IntoIterator<Item = (K, f64)>,
    k: usize,
    agg: Aggregate,
) -> Result<Gated<K>, PiiError> {
    if k == 0 {
        return Err(PiiError::InvalidK);
    }
    let mut acc: BTreeMap<K, (usize, f64)> = BTreeMap::new();
    for (key, v) in rows {
        let e = acc.entry(key).or_insert((0, 0.0));
        e.0 += 1;
        if v.is_finite() {
            e.1 += v;
        }
    }
    let mut out = Gated {
        groups: Vec::new(),
        suppressed_groups: 0,
        suppressed_rows: 0,
    };
    for (key, (count, sum)) in acc {
        if count < k {
            out.suppressed_groups += 1;
            out.suppressed_rows += count;
            continue;
        }
        let value = match agg {
            Aggregate::Count => count as f64,
            Aggregate::Sum => sum,
            Aggregate::Average => sum / count as f64,
        };
        out.groups.push(Group { key, count, value });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<((&'static str, &'static str), f64)> {
        vec![
            (("NL", "retail"), 10.0),
            (("NL", "retail"), 20.0),
            (("NL", "retail"), 30.0),
            (("BE", "retail"), 99.0),
        ]
    }

    #[test]
    fn groups_smaller_than_k_are_suppressed() {
        let g = gated_aggregate(rows(), 3, Aggregate::Average).expect("k is positive");
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].key, ("NL", "retail"));
        assert_eq!(g.groups[0].value, 20.0);
        assert_eq!((g.suppressed_groups, g.suppressed_rows), (1, 1));
    }

    #[test]
    fn count_and_sum_are_computed_per_group() {
        let g = gated_aggregate(rows(), 1, Aggregate::Sum).expect("k is positive");
        assert_eq!(
            g.groups.iter().map(|g| g.value).collect::<Vec<_>>(),
            vec![99.0, 60.0]
        );
        let c = gated_aggregate(rows(), 1, Aggregate::Count).expect("k is positive");
        assert_eq!(c.groups[1].value, 3.0);
    }

    #[test]
    fn k_zero_is_refused() {
        assert!(matches!(
            gated_aggregate(rows(), 0, Aggregate::Count),
            Err(PiiError::InvalidK)
        ));
    }
}
