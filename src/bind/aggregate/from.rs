//! `aggregate(A with m from p1,...,pn with g as D)` (Data Aggregation 3.2.1.4) as the
//! levels it stands for: `groupby((p1,...,pn),aggregate(A with m as T))/aggregate(T with
//! g as D)`, each further `from` one level more, within the paths of the groupby it is in.

use super::*;
use odata_parser::{Expr, MemberPath, MemberSegment, Pos};

/// `apply` with each aggregation whose item has `from` clauses rewritten into levels.
pub(super) fn expand_from(
    apply: Vec<Transformation>,
    per_group: bool,
) -> Result<Vec<Transformation>, BindError> {
    let mut out = Vec::with_capacity(apply.len());
    for t in apply {
        let (paths, rollups, items) = match &t {
            Transformation::Aggregate(items) => (&[][..], &[][..], items),
            Transformation::GroupBy {
                paths,
                rollups,
                aggregate,
                ..
            } => (paths.as_slice(), rollups.as_slice(), aggregate),
            _ => {
                out.push(t);
                continue;
            }
        };
        if items.iter().all(|i| i.from.is_empty()) {
            out.push(t);
            continue;
        }
        let declined = |why: &str| {
            Err(BindError::unsupported(
                OPTION,
                None,
                format!("`from` {why} is not supported"),
            ))
        };
        let [item] = items.as_slice() else {
            return declined("beside other aggregates in one aggregate(...)");
        };
        if !rollups.is_empty() {
            return declined("in a groupby with rollup");
        }
        if per_group {
            return declined("after transformations per group");
        }
        out.extend(levels(paths, item));
    }
    Ok(out)
}

/// The levels of `item` within the groups of `paths`: the finest grouping first.
fn levels(paths: &[GroupPath], item: &AggregateItem) -> Vec<Transformation> {
    let temp = |n: usize| format!("_{}_{n}", item.alias);
    let mut out = Vec::new();
    // Level n groups by `paths` and the `from` paths after the n-th.
    let grouping = |n: usize| -> Vec<GroupPath> {
        let mut g: Vec<GroupPath> = paths.to_vec();
        for (from, _) in item.from[n..].iter().rev() {
            for p in from {
                let same = |q: &GroupPath| {
                    q.segments.len() == p.segments.len()
                        && starts_with_names(&q.segments, &p.segments)
                };
                if !g.iter().any(same) {
                    g.push(p.clone());
                }
            }
        }
        g
    };
    for n in 0..=item.from.len() {
        let (value, method) = match n {
            0 => (item.value.clone(), item.method),
            _ => (
                Some(column(&temp(n - 1), item.pos)),
                Some(item.from[n - 1].1),
            ),
        };
        let last = n == item.from.len();
        let aggregate = vec![AggregateItem {
            value,
            method,
            from: Vec::new(),
            alias: if last { item.alias.clone() } else { temp(n) },
            pos: item.pos,
        }];
        let groups = grouping(n);
        out.push(if groups.is_empty() {
            Transformation::Aggregate(aggregate)
        } else {
            Transformation::GroupBy {
                paths: groups,
                rollups: Vec::new(),
                aggregate,
                per_group: Vec::new(),
            }
        });
    }
    out
}

/// The expression naming result column `name`.
fn column(name: &str, pos: Pos) -> Expr {
    Expr::Member(MemberPath {
        segments: vec![MemberSegment {
            name: name.to_owned(),
            key: None,
        }],
        pos,
    })
}
