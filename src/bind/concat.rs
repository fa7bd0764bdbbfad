//! `concat(...)` in `$apply` (Data Aggregation §3.3.2): each sequence applied to the
//! same input, and their results one after the other. Each sequence binds as a request
//! of its own (the transformations before `concat`, then the sequence's), so everything
//! one aggregating `$apply` takes, a sequence takes too; one that neither groups nor
//! aggregates (`topcount(2,Value)`, `identity`) gives the entities it keeps as rows.
//! `$top`, `$skip`, `$count`, `$select`, `$compute` and `$filter` apply to the rows
//! together (a row without a member they name has it null); `$orderby`, which would need
//! the rows in one statement, and transformations after `concat` are 501.

use super::{
    first_given, starts_with_names, Aggregation, BindError, Concatenation, Layout, Target,
};
use odata_parser::{
    ComputeItem, Expr, Literal, ODataUrl, Pos, QueryOptions, SelectItem, Transformation,
};

const OPTION: &str = "$apply";

/// Whether `concat` occurs in `apply`, or in a groupby's transformations per group.
pub(super) fn has_concat(apply: &[Transformation]) -> bool {
    apply.iter().any(|t| match t {
        Transformation::Concat(_) => true,
        Transformation::GroupBy { per_group, .. } => has_concat(per_group),
        _ => false,
    })
}

/// The request `url`, whose `$apply` has a `concat`, bound sequence by sequence.
pub(super) fn bind_concat(
    url: &ODataUrl,
    apply: &[Transformation],
    bind: impl Fn(&ODataUrl) -> Result<Target, BindError>,
) -> Result<Target, BindError> {
    let Some(at) = apply
        .iter()
        .position(|t| matches!(t, Transformation::Concat(_)))
    else {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "`concat` is supported as a step of `$apply` itself, not inside groupby",
        ));
    };
    let Transformation::Concat(sequences) = &apply[at] else {
        unreachable!("position found a concat");
    };
    if at + 1 < apply.len() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "transformations after `concat` are not supported; `$top`, `$skip` and `$count` apply to its rows",
        ));
    }
    let o = &url.options;
    if o.filter.as_ref().is_some_and(Expr::names_these) {
        return Err(BindError::unsupported(
            "$filter",
            None,
            "`$these` in $filter over the result of `concat` is not supported",
        ));
    }
    if let Some(option) = first_given(&[
        ("$orderby", o.orderby.is_some()),
        ("$expand", o.expand.is_some()),
        ("$search", o.search.is_some()),
    ]) {
        return Err(BindError::unsupported(
            option,
            None,
            format!("{option} over the result of `concat` is not supported"),
        ));
    }
    // A sequence bound as a request of its own, with `filter` over its result.
    let sequence_result = |n: usize,
                           steps: Vec<Transformation>,
                           compute: Option<Vec<ComputeItem>>,
                           filter: Option<Expr>| {
        let branch = ODataUrl {
            path: url.path.clone(),
            options: QueryOptions {
                apply: Some(steps),
                compute,
                filter,
                select: None,
                top: None,
                skip: None,
                count: None,
                skiptoken: None,
                ..o.clone()
            },
        };
        match bind(&branch)? {
            Target::Aggregated(ag) => Ok((ag, false)),
            Target::AggregatedCount(ag) => Ok((ag, true)),
            Target::Concatenated(_) | Target::ConcatenatedCount(_) => Err(BindError::unsupported(
                OPTION,
                None,
                "`concat` inside a sequence of `concat` is not supported",
            )),
            _ => Err(BindError::unsupported(
                OPTION,
                None,
                format!("sequence {} of `concat` is not supported", n + 1),
            )),
        }
    };
    let mut branches = Vec::with_capacity(sequences.len());
    let mut counted = false;
    for (n, sequence) in sequences.iter().enumerate() {
        let mut steps = apply[..at].to_vec();
        steps.extend(sequence.iter().cloned());
        let (ag, count) = sequence_result(n, steps.clone(), None, None)?;
        counted |= count;
        branches.push((ag, steps));
    }
    // `$compute` and `$filter` (which may name what it computes) over each sequence's
    // rows: a member a sequence's rows lack is null in them, as an absent property.
    if o.compute.is_some() || o.filter.is_some() {
        let computed: Vec<Vec<String>> = o
            .compute
            .iter()
            .flatten()
            .map(|c| vec![c.alias.clone()])
            .collect();
        let mut members: Vec<Vec<Vec<String>>> = member_columns(branches.iter().map(|(ag, _)| ag))
            .into_iter()
            .map(|columns| columns.into_iter().map(|(names, _)| names).collect())
            .collect();
        let compute: Vec<&Expr> = o.compute.iter().flatten().map(|c| &c.expr).collect();
        known_somewhere("$compute", &compute, &members)?;
        // What `$compute` adds, every sequence's rows have.
        for columns in &mut members {
            columns.extend(computed.iter().cloned());
        }
        known_somewhere("$filter", &o.filter.iter().collect::<Vec<_>>(), &members)?;
        for (n, ((ag, steps), columns)) in branches.iter_mut().zip(&members).enumerate() {
            let compute = o.compute.as_ref().map(|items| {
                items
                    .iter()
                    .map(|c| ComputeItem {
                        expr: absent_as_null(&c.expr, columns),
                        alias: c.alias.clone(),
                    })
                    .collect()
            });
            let filter = o.filter.as_ref().map(|f| absent_as_null(f, columns));
            *ag = sequence_result(n, std::mem::take(steps), compute, filter)?.0;
        }
    }
    let mut branches: Vec<Aggregation> = branches.into_iter().map(|(ag, _)| ag).collect();
    if let Some(items) = &o.select {
        select(&mut branches, items)?;
    }
    let cc = Concatenation {
        branches,
        top: o.top,
        skip: o.skip,
        count: o.count.unwrap_or(false),
    };
    Ok(if counted {
        Target::ConcatenatedCount(cc)
    } else {
        Target::Concatenated(cc)
    })
}

/// `$select` over the rows of every sequence: each keeps the members it has of those
/// named; a name no sequence has is the client's error.
fn select(branches: &mut [Aggregation], items: &[SelectItem]) -> Result<(), BindError> {
    let mut named = vec![false; items.len()];
    let members = member_columns(branches.iter());
    for (ag, columns) in branches.iter_mut().zip(members) {
        let mut keep = Vec::new();
        for (n, item) in items.iter().enumerate() {
            match item {
                SelectItem::Star => {
                    named[n] = true;
                    keep.extend(columns.iter().map(|(_, i)| *i));
                }
                SelectItem::AllOperations(_) => named[n] = true,
                SelectItem::Path { path, options, pos } => {
                    super::shape::no_nested_select_options(options, pos.0)?;
                    for (names, i) in &columns {
                        if starts_with_names(names, path) {
                            named[n] = true;
                            keep.push(*i);
                        }
                    }
                }
            }
        }
        keep.sort_unstable();
        keep.dedup();
        ag.select = Some(keep);
    }
    for (item, named) in items.iter().zip(named) {
        if let (SelectItem::Path { path, pos, .. }, false) = (item, named) {
            return Err(BindError::invalid(
                "$select",
                Some(pos.0),
                format!(
                    "`{}` is a member of no sequence of `concat`",
                    path.join("/")
                ),
            ));
        }
    }
    Ok(())
}

/// The result column each member of `layout` is, with its path of names.
fn column_paths(
    layout: &[(String, Layout)],
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, usize)>,
) {
    for (name, member) in layout {
        prefix.push(name.clone());
        match member {
            Layout::Column(i) => out.push((prefix.clone(), *i)),
            Layout::Object(inner, own) => {
                out.extend(own.map(|i| (prefix.clone(), i)));
                column_paths(inner, prefix, out);
            }
        }
        prefix.pop();
    }
}

/// Each result's columns, with their paths of names.
fn member_columns<'a>(
    results: impl Iterator<Item = &'a Aggregation>,
) -> Vec<Vec<(Vec<String>, usize)>> {
    results
        .map(|ag| {
            let mut columns = Vec::new();
            column_paths(&ag.layout(), &mut Vec::new(), &mut columns);
            columns
        })
        .collect()
}

/// Whether a row with members `members` (paths of names) has `path`.
fn has(members: &[Vec<String>], path: &[String]) -> bool {
    members.iter().any(|names| starts_with_names(names, path))
}

/// Every member `exprs` name is one of some sequence's rows: a name none has is the
/// client's error, as for any result.
fn known_somewhere(
    option: &str,
    exprs: &[&Expr],
    members: &[Vec<Vec<String>>],
) -> Result<(), BindError> {
    let unknown = std::cell::RefCell::new(None);
    for e in exprs {
        map_members(e, &|path, pos| {
            if !members.iter().any(|c| has(c, path)) && unknown.borrow().is_none() {
                *unknown.borrow_mut() = Some((path.join("/"), pos));
            }
            None
        });
    }
    match unknown.into_inner() {
        Some((name, pos)) => Err(BindError::invalid(
            option,
            Some(pos.0),
            format!("`{name}` is a member of no sequence of `concat`"),
        )),
        None => Ok(()),
    }
}

/// `e` with each member a row with `members` lacks as `null`.
fn absent_as_null(e: &Expr, members: &[Vec<String>]) -> Expr {
    map_members(e, &|path, pos| {
        (!has(members, path)).then_some(Expr::Literal(Literal::Null, pos))
    })
}

/// `e` with each member of the row itself (not `$it`, `$root`, ... nor a key) that
/// `replace` gives an expression for replaced by it.
pub(super) fn map_members(e: &Expr, replace: &dyn Fn(&[String], Pos) -> Option<Expr>) -> Expr {
    let at = |e: &Expr| Box::new(map_members(e, replace));
    let all = |items: &[Expr]| items.iter().map(|i| map_members(i, replace)).collect();
    match e {
        Expr::Member(m) => {
            let names: Vec<String> = m.segments.iter().map(|s| s.name.clone()).collect();
            let own = m.segments.iter().all(|s| s.key.is_none())
                && names.first().is_some_and(|n| !n.starts_with('$'));
            own.then(|| replace(&names, m.pos))
                .flatten()
                .unwrap_or_else(|| e.clone())
        }
        Expr::Unary(op, a) => Expr::Unary(*op, at(a)),
        Expr::Binary(op, a, b) => Expr::Binary(*op, at(a), at(b)),
        Expr::In(a, b) => Expr::In(at(a), at(b)),
        Expr::List(items) => Expr::List(all(items)),
        Expr::Call(f, args, pos) => Expr::Call(*f, all(args), *pos),
        Expr::Case(arms) => Expr::Case(
            arms.iter()
                .map(|(c, v)| (map_members(c, replace), map_members(v, replace)))
                .collect(),
        ),
        Expr::Object(members) => Expr::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), map_members(v, replace)))
                .collect(),
        ),
        // A lambda or aggregate over a collection the row lacks is null, as the
        // collection is; its predicate names the collection's members, not the row's.
        Expr::Lambda { collection, .. } | Expr::Aggregate { collection, .. } => {
            let names: Vec<String> = collection.segments.iter().map(|s| s.name.clone()).collect();
            let own = collection.segments.iter().all(|s| s.key.is_none())
                && names.first().is_some_and(|n| !n.starts_with('$'));
            own.then(|| replace(&names, collection.pos))
                .flatten()
                .unwrap_or_else(|| e.clone())
        }
        Expr::Literal(..) | Expr::Alias(..) | Expr::TypeName(_) => e.clone(),
    }
}
