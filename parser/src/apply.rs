//! `$apply` (OData Data Aggregation): `filter`, `search`, `compute`, `aggregate`,
//! `groupby`, `orderby`, `skip`, `top`, `topcount`, `bottomcount`, `topsum`,
//! `bottomsum`, `toppercent`, `bottompercent`, `identity` and `concat` transformations
//! separated by `/`; the other
//! transformations parse as far as their name and are declined (501).

use crate::ast::*;
use crate::decode::Src;
use crate::error::{commit, fail, found, ErrorKind, PErr, Res};
use crate::expr::expr;
use crate::lex::{bws, identifier, keyword, rws};
use crate::options::{as_alias, compute_item, list, order_item, unsigned};
use crate::search::search;

/// Transformations the specification defines that this parser does not take.
const DECLINED: &[&str] = &[
    "expand",
    "nest",
    "join",
    "outerjoin",
    "ancestors",
    "descendants",
    "traverse",
];

pub(crate) fn apply<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, Vec<Transformation>> {
    let mut out = Vec::new();
    let mut r = i;
    loop {
        let (rest, t) = transformation(c, bws(r))?;
        out.push(t);
        match bws(rest).strip_prefix('/') {
            Some(after) => r = after,
            None => return Ok((rest, out)),
        }
    }
}

fn open<'a>(i: &'a str, name: &str) -> Res<'a, ()> {
    match bws(i).strip_prefix('(') {
        Some(r) => Ok((bws(r), ())),
        None => fail(
            i,
            format!("expected `(` after `{name}`, found {}", found(i)),
        ),
    }
}

/// `(`, what `inner` reads, `)`.
fn in_parens<'a, T>(
    i: &'a str,
    name: &str,
    inner: impl FnOnce(&'a str) -> Res<'a, T>,
) -> Res<'a, T> {
    let (r, _) = open(i, name)?;
    let (r, v) = inner(r)?;
    let (r, _) = close(r)?;
    Ok((r, v))
}

fn close(i: &str) -> Res<'_, ()> {
    match bws(i).strip_prefix(')') {
        Some(r) => Ok((r, ())),
        None => fail(i, format!("expected `)`, found {}", found(i))),
    }
}

fn transformation<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, Transformation> {
    let (r, name) = commit(identifier(i), |at| {
        format!(
            "expected a transformation (filter, search, compute, aggregate, groupby, orderby, skip, top, topcount, bottomcount, topsum, bottomsum, toppercent, bottompercent, identity or concat), found {}",
            found(at)
        )
    })?;
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "filter" => in_parens(r, name, |r| {
            commit(expr(c, r, 0), |at| {
                format!("expected a condition, found {}", found(at))
            })
        })
        .map(|(r, e)| (r, Transformation::Filter(e))),
        "compute" => in_parens(r, name, |r| list(c, r, compute_item))
            .map(|(r, items)| (r, Transformation::Compute(items))),
        "aggregate" => in_parens(r, name, |r| list(c, r, aggregate_item))
            .map(|(r, items)| (r, Transformation::Aggregate(items))),
        "groupby" => {
            let (r, _) = open(r, name)?;
            let (r, _) = open(r, "groupby(")?;
            let (r, (paths, rollups)) = group_paths(c, r)?;
            let (r, _) = close(r)?;
            let r = bws(r);
            let (r, sequence) = match r.strip_prefix(',') {
                Some(after) => apply(c, bws(after))?,
                None => (r, Vec::new()),
            };
            // The usual form, one aggregate per group, apart from the rest.
            let (aggregate, per_group) = match <[_; 1]>::try_from(sequence) {
                Ok([Transformation::Aggregate(items)]) => (items, Vec::new()),
                Ok([other]) => (Vec::new(), vec![other]),
                Err(sequence) => (Vec::new(), sequence),
            };
            let (r, _) = close(r)?;
            Ok((
                r,
                Transformation::GroupBy {
                    paths,
                    rollups,
                    aggregate,
                    per_group,
                },
            ))
        }
        "orderby" => in_parens(r, name, |r| list(c, r, order_item))
            .map(|(r, items)| (r, Transformation::OrderBy(items))),
        "search" => in_parens(r, name, |r| search(c, r, 0))
            .map(|(r, e)| (r, Transformation::Search(e))),
        "topcount" | "bottomcount" => in_parens(r, name, |r| {
            let (r, n) = unsigned(r)?;
            let r = match bws(r).strip_prefix(',') {
                Some(after) => bws(after),
                None => return fail(r, format!("expected `,` after the count, found {}", found(r))),
            };
            let (r, e) = commit(expr(c, r, 0), |at| {
                format!("expected an expression to rank by, found {}", found(at))
            })?;
            let bottom = lower == "bottomcount";
            Ok((r, Transformation::TopCount { n, expr: e, bottom }))
        }),
        "topsum" | "bottomsum" | "toppercent" | "bottompercent" => in_parens(r, name, |r| {
            let (r, amount) = commit(expr(c, r, 0), |at| {
                format!("expected the amount to reach, found {}", found(at))
            })?;
            let r = match bws(r).strip_prefix(',') {
                Some(after) => bws(after),
                None => return fail(r, format!("expected `,` after the amount, found {}", found(r))),
            };
            let (r, e) = commit(expr(c, r, 0), |at| {
                format!("expected an expression to add up, found {}", found(at))
            })?;
            let t = Transformation::TopSum {
                amount,
                expr: e,
                bottom: lower.starts_with("bottom"),
                percent: lower.ends_with("percent"),
            };
            Ok((r, t))
        }),
        "identity" => Ok((r, Transformation::Identity)),
        "concat" => in_parens(r, name, |r| {
            let (mut r, first) = apply(c, r)?;
            let mut sequences = vec![first];
            while let Some(after) = bws(r).strip_prefix(',') {
                let (rest, next) = apply(c, bws(after))?;
                sequences.push(next);
                r = rest;
            }
            if sequences.len() < 2 {
                return fail(
                    r,
                    format!("`concat` takes two or more sequences: expected `,`, found {}", found(r)),
                );
            }
            Ok((r, Transformation::Concat(sequences)))
        }),
        "skip" => in_parens(r, name, unsigned).map(|(r, n)| (r, Transformation::Skip(n))),
        "top" => in_parens(r, name, unsigned).map(|(r, n)| (r, Transformation::Top(n))),
        other if DECLINED.contains(&other) => declined(i, &format!("the `{name}` transformation")),
        _ => fail(
            i,
            format!(
                "unknown transformation `{name}`: expected filter, search, compute, aggregate, groupby, orderby, skip, top, topcount, bottomcount, topsum, bottomsum, toppercent, bottompercent, identity or concat"
            ),
        ),
    }
}

/// Valid OData this service does not take: 501.
fn declined<'a, T>(at: &'a str, what: &str) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr {
        at,
        kind: ErrorKind::NotImplemented,
        msg: format!("{what} is not supported").into(),
    }))
}

/// A groupby's grouping properties, with `rollup(...)` levels in their place.
fn group_paths<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, (Vec<GroupPath>, Vec<Rollup>)> {
    let mut paths = Vec::new();
    let mut rollups = Vec::new();
    let mut r = i;
    loop {
        r = bws(r);
        let call = |name: &str| {
            r.get(..name.len())
                .filter(|h| h.eq_ignore_ascii_case(name))
                .map(|h| bws(&r[h.len()..]))
                .filter(|after| after.starts_with('('))
        };
        if call("rolluprecursive").is_some() {
            return declined(r, "`rolluprecursive` in groupby");
        }
        if let Some(after) = call("rollup") {
            let (mut rest, _) = open(after, "rollup")?;
            let start = paths.len();
            let all = match rest.strip_prefix("$all") {
                Some(after) => {
                    rest = match bws(after).strip_prefix(',') {
                        Some(after) => bws(after),
                        None => {
                            return fail(
                                after,
                                format!("expected `,` after `$all`, found {}", found(after)),
                            )
                        }
                    };
                    true
                }
                None => false,
            };
            let (rest, levels) = list(c, rest, group_path)?;
            if levels.len() < 2 && !all {
                // `rollup(Name)` names a hierarchy annotation; this model declares none.
                return fail(
                    after,
                    "`rollup` with one name takes a leveled hierarchy, and this service declares none: give at least two properties, coarsest first".to_owned(),
                );
            }
            paths.extend(levels);
            rollups.push(Rollup {
                start,
                end: paths.len(),
                all,
            });
            r = close(rest)?.0;
        } else {
            let (rest, p) = group_path(c, r)?;
            paths.push(p);
            r = rest;
        }
        match bws(r).strip_prefix(',') {
            Some(after) => r = after,
            None => return Ok((bws(r), (paths, rollups))),
        }
    }
}

fn group_path<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, GroupPath> {
    let pos = c.pos(i);
    let mut segments = Vec::new();
    let mut r = i;
    loop {
        let (rest, seg) = commit(identifier(r), |at| {
            format!("expected a property to group by, found {}", found(at))
        })?;
        segments.push(seg.to_owned());
        match rest.strip_prefix('/') {
            Some(after) => r = after,
            None => return Ok((bws(rest), GroupPath { segments, pos })),
        }
    }
}

fn aggregate_item<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, AggregateItem> {
    let (r, mut item) = aggregate_function(c, i, 0)?;
    let (r, alias) = as_alias(r)?;
    item.alias = alias.to_owned();
    Ok((bws(r), item))
}

/// What `aggregate(...)` aggregates, without its alias: `value with method`, `$count`,
/// each with any `from`s. The alias is left empty; `Nav/aggregate(...)` in an
/// expression has none.
pub(crate) fn aggregate_function<'a>(
    c: &Src<'_>,
    i: &'a str,
    depth: u32,
) -> Res<'a, AggregateItem> {
    let pos = c.pos(i);
    let (r, value, method) = if let Some(after) = i.strip_prefix("$count") {
        (after, None, None)
    } else {
        let (r, e) = commit(expr(c, i, depth), |at| {
            format!(
                "expected a value to aggregate or `$count`, found {}",
                found(at)
            )
        })?;
        let (r, method) = with_method(r)?;
        (r, Some(e), Some(method))
    };
    // `from p1,...,pn with method`, any number of times.
    let mut from = Vec::new();
    let mut r = r;
    while let Ok((after, _)) = rws(r).and_then(|(a, _)| keyword(a, "from")) {
        let (mut rest, _) = commit(rws(after), |at| {
            format!(
                "expected properties to group by after `from`, found {}",
                found(at)
            )
        })?;
        let mut paths = Vec::new();
        loop {
            let (next, p) = group_path(c, rest)?;
            paths.push(p);
            match bws(next).strip_prefix(',') {
                Some(after) => rest = bws(after),
                None => {
                    rest = next;
                    break;
                }
            }
        }
        // The paths end with their blanks read.
        let (next, method) = method_after(rest)?;
        from.push((paths, method));
        r = next;
    }
    Ok((
        r,
        AggregateItem {
            value,
            method,
            from,
            alias: String::new(),
            pos,
        },
    ))
}

/// ` with method`.
fn with_method(i: &str) -> Res<'_, AggregateMethod> {
    let (r, _) = commit(rws(i), |at| {
        format!("expected ` with ` and a method, found {}", found(at))
    })?;
    method_after(r)
}

/// `with method`, its leading blanks read.
fn method_after(i: &str) -> Res<'_, AggregateMethod> {
    let (r, _) = commit(keyword(i, "with"), |at| {
        format!("expected `with` and a method, found {}", found(at))
    })?;
    let (r, _) = commit(rws(r), |at| {
        format!("expected a method after `with`, found {}", found(at))
    })?;
    let (r, m) = commit(identifier(r), |at| {
        format!("expected a method after `with`, found {}", found(at))
    })?;
    let method = match m.to_ascii_lowercase().as_str() {
        "sum" => AggregateMethod::Sum,
        "min" => AggregateMethod::Min,
        "max" => AggregateMethod::Max,
        "average" => AggregateMethod::Average,
        "countdistinct" => AggregateMethod::CountDistinct,
        _ => {
            return fail(
                r,
                format!(
                    "unknown aggregation method `{m}`: expected sum, min, max, average or countdistinct"
                ),
            )
        }
    };
    Ok((r, method))
}
