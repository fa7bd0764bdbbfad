//! `$apply`: filters, searches and computed values, then one run of `orderby`/`skip`/`top`
//! (or a `topsum`-like cut first in it) over the entities, before an aggregation; a
//! `groupby` or `aggregate`, filters after it and one run of `orderby`/`skip`/`top`
//! (with filters after that), and so on for each further `groupby` or `aggregate`,
//! which groups the result before it; then `$filter`, `$orderby`, `$top`, `$skip` and
//! `$count` over the last result. Only filters (no aggregation) are a plain read with
//! those filters.

use super::error::BindError;
use super::expr::ExprBinder;
use super::ir::*;
use crate::model::{EdmType, MODEL};
use odata_parser::{AggregateItem, AggregateMethod, GroupPath, QueryOptions, Transformation};

mod from;
mod levels;
mod per_group;
mod windows;

use levels::{aggregate, compute_level, group, level, regroup, Level, MAX_GROUPING_SETS};
use per_group::{entities_of_groups, lift_per_group};
use windows::{cut_step, ranked, steps_after, window_step};

const OPTION: &str = "$apply";

/// Most levels (the first groupby or aggregate, and each level after it) one `$apply` makes.
const MAX_LEVELS: usize = 32;

/// `rows`: without groupby or aggregate, the entities `apply` keeps are the rows (as a
/// topsum-like ranking alone keeps them).
pub(super) fn bind(
    read: Read,
    o: &QueryOptions,
    apply: &[Transformation],
    rows: bool,
) -> Result<Target, BindError> {
    if super::concat::has_concat(apply) {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "`concat` is supported in a request's `$apply`, not in an expanded collection's",
        ));
    }
    let entity = read.entity;
    let aliases = &o.aliases;
    let (apply, mut per_group) = lift_per_group(&ranked(apply))?;
    // A topsum-like ranking without groupby or aggregate (with `rows`, anything without
    // them) keeps entities: the rows of a grouping by nothing, each with its properties
    // (as a groupby's per-group ranking without an aggregate).
    let keeps_entities = !apply.iter().any(is_aggregation)
        && (rows
            || apply
                .iter()
                .any(|t| matches!(t, Transformation::TopSum { .. })));
    // With `rows`, they come in the order the ranking chose them.
    let ranked_rows = rows && keeps_entities;
    let apply = if keeps_entities {
        per_group.entities = true;
        let mut with = apply;
        with.push(Transformation::GroupBy {
            paths: Vec::new(),
            rollups: Vec::new(),
            aggregate: Vec::new(),
            per_group: Vec::new(),
        });
        with
    } else {
        apply
    };
    let apply = &from::expand_from(apply, per_group.window || per_group.entities)?;
    let split = apply.iter().position(is_aggregation).unwrap_or(apply.len());
    let (before, rest) = apply.split_at(split);
    let mut pre = None;
    // `search(...)` steps: the entities `$search` with all their terms would find.
    let mut searched: Option<odata_parser::SearchExpr> = None;
    // Values `compute(...)` names, each usable by the steps after it.
    let mut computed: Vec<ComputedProp> = Vec::new();
    // `orderby`/`skip`/`top` over the entities: the ones the aggregation then takes.
    let mut pre_window: Option<Window> = None;
    for t in before {
        if pre_window.is_some()
            && matches!(
                t,
                Transformation::Filter(_) | Transformation::Compute(_) | Transformation::Search(_)
            )
        {
            return Err(BindError::unsupported(
                OPTION,
                None,
                "before groupby or aggregate, filter, search and compute come before orderby, skip and top",
            ));
        }
        match t {
            Transformation::OrderBy(_) | Transformation::Skip(_) | Transformation::Top(_) => {
                let w = pre_window.get_or_insert_with(Window::default);
                let keys = |items: &[odata_parser::OrderItem]| {
                    order_items(items, |e| {
                        ExprBinder::new(OPTION, aliases, entity)
                            .with_computed(&computed)
                            .expr(e)
                    })
                };
                window_step(w, t, keys)?;
            }
            Transformation::TopSum { .. } => {
                let w = pre_window.get_or_insert_with(Window::default);
                cut_step(w, t, |e| {
                    ExprBinder::new(OPTION, aliases, entity)
                        .with_computed(&computed)
                        .expr(e)
                })?;
            }
            Transformation::Filter(e) => {
                let f = ExprBinder::new(OPTION, aliases, entity)
                    .with_computed(&computed)
                    .predicate(e)?;
                pre = Some(and(pre, f));
            }
            Transformation::Compute(items) => {
                super::shape::compute_into(
                    OPTION,
                    entity,
                    items,
                    aliases,
                    None,
                    None,
                    &mut computed,
                )?;
            }
            Transformation::Search(e) => {
                searched = Some(search_step(searched.take(), e)?);
            }
            _ => {}
        }
    }
    let Some((aggregation, after)) = rest.split_first() else {
        if !computed.is_empty() {
            return Err(BindError::unsupported(
                OPTION,
                None,
                "without groupby or aggregate, compute after orderby, skip or top is not supported",
            ));
        }
        // Only filters: the entities themselves, filtered before $filter.
        let mut read = read;
        if let Some(f) = pre {
            read.shape.filter = Some(match read.shape.filter.take() {
                Some(g) => TExpr::And(Box::new(f), Box::new(g)),
                None => f,
            });
        }
        if let Some(w) = pre_window {
            let shape = &mut read.shape;
            if shape.top.is_some()
                || shape.skip.is_some()
                || !shape.orderby.is_empty()
                || !w.reorder.is_empty()
            {
                return Err(BindError::unsupported(
                    OPTION,
                    None,
                    "orderby, skip and top over the entities are taken alone: without $orderby, $skip, $top or a second orderby",
                ));
            }
            shape.orderby = w.orderby;
            shape.skip = (w.skip > 0).then_some(w.skip);
            shape.top = w.top;
        }
        if let Some(s) = searched {
            read.shape.search = Some(match read.shape.search.take() {
                Some(t) => odata_parser::SearchExpr::And(Box::new(s), Box::new(t)),
                None => s,
            });
        }
        return Ok(Target::Entities(read));
    };
    if read.single {
        return Err(BindError::invalid(
            OPTION,
            None,
            "groupby and aggregate need a collection",
        ));
    }
    for (name, set) in [
        ("$expand", o.expand.is_some()),
        ("$search", o.search.is_some()),
    ] {
        if set {
            return Err(BindError::unsupported(
                name,
                None,
                format!("{name} together with groupby or aggregate is not supported"),
            ));
        }
    }
    let mut read = read;
    // What the read brings is the path's `$filter(...)` segments: the collection the
    // transformations start from.
    let start = match (read.shape.filter.take(), pre) {
        (Some(path), Some(f)) => Some(TExpr::And(Box::new(path), Box::new(f))),
        (path, f) => path.or(f),
    };
    read.shape = Shape {
        filter: start,
        search: searched,
        ..Shape::default()
    };
    let mut level = level(
        entity,
        aggregation,
        &[],
        |p| group(entity, p, &computed),
        |item| {
            aggregate(item, Some(entity), |e| {
                ExprBinder::new(OPTION, aliases, entity)
                    .with_computed(&computed)
                    .expr(e)
            })
        },
    )?;
    if let (true, Some(w)) = (per_group.window, &mut pre_window) {
        if w.cut.is_some() && (w.skip > 0 || w.top.is_some()) {
            return Err(BindError::unsupported(
                OPTION,
                None,
                "skip and top after topsum and its kin per group are not supported",
            ));
        }
        w.partition = Some(level.groups.len());
    }
    if per_group.entities {
        entities_of_groups(&mut level, entity, &computed)?;
    }
    let mut input = AggregationInput::Entities {
        read,
        window: pre_window,
    };
    // What follows the first level: filters and windows over a level's result, and the
    // levels after it (each compute item one of its own, so that the next may name it);
    // `$compute` computes over the last. `steps[i]` follow level `i`, `levels[i]` starts
    // level `i + 1`.
    let mut steps: Vec<Vec<&Transformation>> = vec![Vec::new()];
    let mut levels: Vec<Next> = Vec::new();
    for t in after {
        let starts: Vec<Next> = match t {
            Transformation::Compute(items) => {
                items.iter().map(|c| Next::Compute(c, OPTION)).collect()
            }
            t if is_aggregation(t) => vec![Next::Level(t)],
            t => {
                if let Some(last) = steps.last_mut() {
                    last.push(t);
                }
                continue;
            }
        };
        for n in starts {
            levels.push(n);
            steps.push(Vec::new());
        }
    }
    for c in o.compute.as_deref().unwrap_or_default() {
        levels.push(Next::Compute(c, "$compute"));
        steps.push(Vec::new());
    }
    // Each level is a query over the one before: bounded, as the statement's nesting is.
    if levels.len() >= MAX_LEVELS {
        return Err(BindError::unsupported(
            OPTION,
            None,
            format!("{} groupby, aggregate and compute steps after the first groupby or aggregate (a `from` counts one each) are more than the {} taken", levels.len(), MAX_LEVELS - 1),
        ));
    }
    let mut levels = levels.into_iter();
    let mut steps = steps.into_iter();
    let mut groupings = level.sets.len().max(1);
    loop {
        let columns = std::mem::take(&mut level.columns);
        let over = |option| ExprBinder::new(option, aliases, entity).over_results(columns.clone());
        let (mut filter, mut window) = steps_after(&steps.next().unwrap_or_default(), &over)?;
        let Some(stage) = levels.next() else {
            if let Some(e) = &o.filter {
                // `$these` names the result, unless a filter step already narrows it.
                let first = window
                    .as_ref()
                    .map_or(filter.is_none(), |w| w.then.is_none());
                let f = over("$filter")
                    .with_these(first.then_some(TheseInput::Result))
                    .predicate(e)?;
                match &mut window {
                    Some(w) => w.then = Some(and(w.then.take(), f)),
                    None => filter = Some(and(filter, f)),
                }
            }
            let mut orderby = order_items(o.orderby.as_deref().unwrap_or_default(), |e| {
                over("$orderby")
                    .with_these(Some(TheseInput::Result))
                    .expr(e)
            })?;
            if ranked_rows && orderby.is_empty() {
                orderby = ranking_order(&input, &columns);
            }
            let select = o
                .select
                .as_deref()
                .map(|items| select(items, &columns))
                .transpose()?
                .flatten();
            return Ok(Target::Aggregated(Aggregation {
                orderby,
                top: o.top,
                skip: o.skip,
                count: o.count.unwrap_or(false),
                select,
                ..level.over(input, filter, window)
            }));
        };
        // Another level: this one's result is its input.
        let inner = level.over(input, filter, window);
        level = match stage {
            Next::Compute(item, option) => compute_level(
                entity,
                item,
                &inner.groups,
                &columns,
                over(option).with_these(Some(TheseInput::Result)),
            )?,
            Next::Level(t) => self::level(
                entity,
                t,
                &columns,
                |p| regroup(p, &inner.groups, &columns),
                |item| aggregate(item, None, |e| over(OPTION).expr(e)),
            )?,
        };
        // A rollup's groupings each read the levels before: the statement grows with the
        // product of the groupings of every level.
        groupings = groupings.saturating_mul(level.sets.len().max(1));
        if groupings > MAX_GROUPING_SETS {
            return Err(BindError::unsupported(
                OPTION,
                None,
                format!("rollups over rollups making {groupings} groupings or more are not supported; at most {MAX_GROUPING_SETS} in all"),
            ));
        }
        input = AggregationInput::Grouped(Box::new(inner));
    }
}

/// The entities a ranking keeps, as rows (with what `$compute` adds to them), in the
/// order it chose them (as far as that order names their properties; the key orders the
/// rest).
fn ranking_order(input: &AggregationInput, columns: &[(Vec<String>, Ty)]) -> Vec<(TExpr, bool)> {
    let w = match input {
        AggregationInput::Entities {
            window: Some(w), ..
        } => w,
        AggregationInput::Grouped(inner) => return ranking_order(&inner.input, columns),
        AggregationInput::Entities { window: None, .. } => return Vec::new(),
    };
    w.orderby
        .iter()
        .map_while(|(key, desc)| {
            let TExpr::Prop {
                scope: 0,
                navs,
                prop,
            } = key
            else {
                return None;
            };
            let index = columns
                .iter()
                .position(|(names, _)| navs.is_empty() && names.as_slice() == [prop.name])?;
            let ty = columns[index].1;
            Some((TExpr::Column { index, ty }, *desc))
        })
        .collect()
}

/// What starts a level after the first.
enum Next<'a> {
    /// A groupby or aggregate over the level before.
    Level(&'a Transformation),
    /// One item of a `compute` (or of `$compute`, the option named).
    Compute(&'a odata_parser::ComputeItem, &'static str),
}

fn is_aggregation(t: &Transformation) -> bool {
    matches!(
        t,
        Transformation::Aggregate(_) | Transformation::GroupBy { .. }
    )
}

/// `$select` over the result: the columns named, or under a named navigation
/// (`Status` for `Status/Description`); `None` for `*`.
fn select(
    items: &[odata_parser::SelectItem],
    columns: &[(Vec<String>, Ty)],
) -> Result<Option<Vec<usize>>, BindError> {
    use odata_parser::SelectItem;
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Star => return Ok(None),
            SelectItem::AllOperations(_) => {}
            SelectItem::Path { path, options, pos } => {
                super::shape::no_nested_select_options(options, pos.0)?;
                let under = |c: &Vec<String>| starts_with_names(c, path);
                let found: Vec<usize> = (0..columns.len())
                    .filter(|&i| under(&columns[i].0))
                    .collect();
                if found.is_empty() {
                    return Err(BindError::invalid(
                        "$select",
                        Some(pos.0),
                        format!(
                            "`{}` is not a property of the aggregated result",
                            path.join("/")
                        ),
                    ));
                }
                for i in found {
                    if !out.contains(&i) {
                        out.push(i);
                    }
                }
            }
        }
    }
    Ok(Some(out))
}

/// The order keys of `items`, each bound by `bind`; a literal orders nothing and is
/// left out.
fn order_items(
    items: &[odata_parser::OrderItem],
    bind: impl Fn(&odata_parser::Expr) -> Result<TExpr, BindError>,
) -> Result<Vec<(TExpr, bool)>, BindError> {
    let mut out = Vec::new();
    for item in items {
        let t = bind(&item.expr)?;
        if !matches!(t, TExpr::Lit(_)) {
            out.push((t, item.desc));
        }
    }
    Ok(out)
}

/// A `search(...)` step after those before it: the entities all their terms find.
fn search_step(
    before: Option<odata_parser::SearchExpr>,
    e: &odata_parser::SearchExpr,
) -> Result<odata_parser::SearchExpr, BindError> {
    // Checked as `$search` is: no term may hold U+0000.
    super::search(&Some(e.clone()))?;
    let e = e.clone();
    Ok(match before {
        Some(s) => odata_parser::SearchExpr::And(Box::new(s), Box::new(e)),
        None => e,
    })
}

fn and(a: Option<TExpr>, b: TExpr) -> TExpr {
    match a {
        Some(a) => TExpr::And(Box::new(a), Box::new(b)),
        None => b,
    }
}

/// What `Nav/aggregate(...)` in an expression aggregates: `item` over the entities of
/// `target`, its value bound by `bind` (over those entities alone). Errors name
/// `option`, the expression's own query option.
pub(super) fn of_collection(
    option: &str,
    target: Entity,
    item: &AggregateItem,
    bind: impl Fn(&odata_parser::Expr) -> Result<TExpr, BindError>,
) -> Result<(AggregateCol, Vec<AggregateFrom>), BindError> {
    let pos = Some(item.pos.0);
    let declined = |what: &str| Err(BindError::unsupported(option, pos, what));
    // A bare path through navigation would aggregate the distinct entities it reaches
    // (Data Aggregation 3.2.1.1), which this form does not do.
    if let Some(value) = &item.value {
        if levels::navigation_path(target, value, pos)?.is_some_and(|(navs, _)| !navs.is_empty()) {
            return declined(
                "a path through navigation inside `aggregate(...)` of a collection is not supported",
            );
        }
    }
    let named = |mut e: BindError| {
        e.option = option.to_owned();
        e
    };
    let col = aggregate(item, None, bind).map_err(named)?;
    let mut ty = col.ty;
    let mut from = Vec::new();
    for (paths, method) in &item.from {
        let mut props = Vec::new();
        for p in paths {
            let prop = match p.segments.as_slice() {
                [name] => target.property(name),
                _ => {
                    return declined(
                        "`from` a path through navigation inside `aggregate(...)` of a collection is not supported",
                    )
                }
            };
            let Some(prop) = prop else {
                return Err(BindError::invalid(
                    option,
                    Some(p.pos.0),
                    format!(
                        "`{}` is not a property of {}",
                        p.segments.join("/"),
                        target.name
                    ),
                ));
            };
            props.push(prop);
        }
        ty = levels::method_type(*method, ty, pos).map_err(named)?;
        from.push(AggregateFrom {
            props,
            method: *method,
            ty,
        });
    }
    Ok((col, from))
}

/// Whether `apply` ranks entities and keeps them as entities: `filter`/`search` steps,
/// one `topsum`-like ranking, then `filter` steps. Such a read stays a read of the
/// entity set (ids, `$expand`, keyset pages), narrowed to what the ranking keeps.
pub(super) fn ranks_entities(apply: &[Transformation]) -> bool {
    use Transformation as T;
    let before = apply
        .iter()
        .take_while(|t| matches!(t, T::Filter(_) | T::Search(_) | T::Identity))
        .count();
    match &apply[before..] {
        [T::TopSum { .. }, after @ ..] => after
            .iter()
            .all(|t| matches!(t, T::Filter(_) | T::Identity)),
        _ => false,
    }
}

/// The read of a [`ranks_entities`] `$apply`: `read` (bound with every other option) keeps
/// the entities the ranking keeps; filters after it join `$filter`; without `$orderby`
/// the entities come in the ranking's order.
pub(super) fn entity_ranking(
    mut read: Read,
    aliases: &[(String, odata_parser::Expr)],
    apply: &[Transformation],
) -> Result<Target, BindError> {
    let entity = read.entity;
    let bind = |e: &odata_parser::Expr| ExprBinder::new(OPTION, aliases, entity).expr(e);
    let mut input = Shape::default();
    let mut after: Option<TExpr> = None;
    let mut window = Window::default();
    for t in apply {
        match t {
            Transformation::Filter(e) => {
                let f = ExprBinder::new(OPTION, aliases, entity).predicate(e)?;
                match window.cut {
                    Some(_) => after = Some(and(after, f)),
                    None => input.filter = Some(and(input.filter.take(), f)),
                }
            }
            Transformation::Search(e) => {
                input.search = Some(search_step(input.search.take(), e)?);
            }
            Transformation::TopSum { .. } => cut_step(&mut window, t, bind)?,
            _ => {}
        }
    }
    let Some(cut) = window.cut else {
        return Err(BindError::invalid(OPTION, None, "expected a ranking"));
    };
    let shape = &mut read.shape;
    if let Some(f) = after {
        shape.filter = Some(match shape.filter.take() {
            Some(g) => TExpr::And(Box::new(f), Box::new(g)),
            None => f,
        });
    }
    if shape.orderby.is_empty() {
        // The top forms' order (highest first) has nulls last, as OData's descending
        // order; the bottom forms put them last by a key of their own.
        if cut.bottom {
            let null = TExpr::Cmp(
                CmpOp::Eq,
                Box::new(cut.value.clone()),
                Box::new(TExpr::Lit(Value::Null)),
            );
            shape.orderby.push((null, false));
        }
        shape.orderby.push((cut.value.clone(), !cut.bottom));
    }
    let input = Read {
        entity,
        path: read.path.clone(),
        key: read.key.clone(),
        single: false,
        shape: input,
        context_path: String::new(),
    };
    read.shape.kept = Some(Box::new(Kept { input, cut }));
    Ok(Target::Entities(read))
}
