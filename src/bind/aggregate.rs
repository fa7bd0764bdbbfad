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

const OPTION: &str = "$apply";

pub(super) fn bind(
    read: Read,
    o: &QueryOptions,
    apply: &[Transformation],
) -> Result<Target, BindError> {
    let entity = read.entity;
    let aliases = &o.aliases;
    let (apply, per_group) = lift_per_group(&ranked(apply))?;
    let apply = &apply;
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
                super::shape::compute_into(OPTION, entity, items, aliases, None, &mut computed)?;
            }
            Transformation::Search(e) => {
                // Checked as `$search` is: no term may hold U+0000.
                super::search(&Some(e.clone()))?;
                let e = e.clone();
                searched = Some(match searched.take() {
                    Some(s) => odata_parser::SearchExpr::And(Box::new(s), Box::new(e)),
                    None => e,
                });
            }
            _ => {}
        }
    }
    let Some((aggregation, after)) = rest.split_first() else {
        if !computed.is_empty() {
            return Err(BindError::unsupported(
                OPTION,
                None,
                "compute() without groupby or aggregate is not supported; use $compute",
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
            if w.cut.is_some() {
                return Err(BindError::unsupported(
                    OPTION,
                    None,
                    "topsum, bottomsum, toppercent and bottompercent are taken before or after groupby or aggregate, not alone",
                ));
            }
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
    let mut levels = levels.into_iter();
    for steps in steps {
        let columns = level.columns;
        let over = |option| ExprBinder::new(option, aliases, entity).over_results(columns.clone());
        let (mut filter, mut window) = steps_after(&steps, &over)?;
        let Some(stage) = levels.next() else {
            if let Some(e) = &o.filter {
                let f = over("$filter").predicate(e)?;
                match &mut window {
                    Some(w) => w.then = Some(and(w.then.take(), f)),
                    None => filter = Some(and(filter, f)),
                }
            }
            let orderby = order_items(o.orderby.as_deref().unwrap_or_default(), |e| {
                over("$orderby").expr(e)
            })?;
            let select = o
                .select
                .as_deref()
                .map(|items| select(items, &columns))
                .transpose()?
                .flatten();
            return Ok(Target::Aggregated(Aggregation {
                input,
                groups: level.groups,
                aggregates: level.aggregates,
                sets: level.sets,
                filter,
                window,
                orderby,
                top: o.top,
                skip: o.skip,
                count: o.count.unwrap_or(false),
                select,
            }));
        };
        // Another level: this one's result is its input.
        let inner = Aggregation {
            input,
            groups: level.groups,
            aggregates: level.aggregates,
            sets: level.sets,
            filter,
            window,
            orderby: Vec::new(),
            top: None,
            skip: None,
            count: false,
            select: None,
        };
        level = match stage {
            Next::Compute(item, option) => {
                compute_level(entity, item, &inner.groups, &columns, over(option))?
            }
            Next::Level(t) => self::level(
                entity,
                t,
                &columns,
                |p| regroup(p, &inner.groups, &columns),
                |item| aggregate(item, None, |e| over(OPTION).expr(e)),
            )?,
        };
        input = AggregationInput::Grouped(Box::new(inner));
    }
    // `steps` has one more entry than `levels`: the loop returns at its last.
    Err(BindError::invalid(
        OPTION,
        None,
        "expected a transformation",
    ))
}

/// What starts a level after the first.
enum Next<'a> {
    /// A groupby or aggregate over the level before.
    Level(&'a Transformation),
    /// One item of a `compute` (or of `$compute`, the option named).
    Compute(&'a odata_parser::ComputeItem, &'static str),
}

/// `compute(expr as Name)` over an aggregated result (Data Aggregation 3.3, one to one):
/// a level that passes every column of the result through, grouped as before (the
/// rows are distinct), and adds the value.
fn compute_level(
    entity: Entity,
    item: &odata_parser::ComputeItem,
    inner: &[GroupCol],
    columns: &[(Vec<String>, Ty)],
    mut over: ExprBinder,
) -> Result<Level, BindError> {
    let name = &item.alias;
    let taken = columns.iter().any(|(p, _)| p[0].eq_ignore_ascii_case(name))
        || entity.property(name).is_some()
        || entity.nav(name).is_some();
    if taken {
        return Err(over.err(
            super::expr::pos_of(&item.expr),
            format!("`{name}` names another property of the result"),
        ));
    }
    let value = over.expr(&item.expr)?;
    let mut groups: Vec<GroupCol> = columns
        .iter()
        .enumerate()
        .map(|(index, (path, ty))| GroupCol {
            navs: inner.get(index).map(|g| g.navs.clone()).unwrap_or_default(),
            value: GroupValue::Computed(
                path.last().cloned().unwrap_or_default(),
                TExpr::Column { index, ty: *ty },
            ),
            keyed: inner.get(index).is_some_and(|g| g.keyed),
        })
        .collect();
    let mut columns = columns.to_vec();
    columns.push((vec![name.clone()], value.ty()));
    groups.push(GroupCol {
        navs: Vec::new(),
        value: GroupValue::Computed(name.clone(), value),
        keyed: false,
    });
    Ok(Level {
        groups,
        aggregates: Vec::new(),
        columns,
        sets: Vec::new(),
    })
}

fn is_aggregation(t: &Transformation) -> bool {
    matches!(
        t,
        Transformation::Aggregate(_) | Transformation::GroupBy { .. }
    )
}

/// One `groupby` or `aggregate`: its groups and aggregates, and the result's columns
/// (each by its path) they make.
struct Level {
    groups: Vec<GroupCol>,
    aggregates: Vec<AggregateCol>,
    columns: Vec<(Vec<String>, Ty)>,
    /// The groupings of its rollups (see [`Aggregation::sets`]).
    sets: Vec<Vec<bool>>,
}

/// Binds `aggregation` over an input with the declared properties of `entity` and
/// `input` (the result columns of an aggregation before).
fn level(
    entity: Entity,
    aggregation: &Transformation,
    input: &[(Vec<String>, Ty)],
    group: impl Fn(&GroupPath) -> Result<Vec<GroupCol>, BindError>,
    aggregate: impl Fn(&AggregateItem) -> Result<AggregateCol, BindError>,
) -> Result<Level, BindError> {
    let (paths, rollups, items) = match aggregation {
        Transformation::GroupBy {
            paths,
            rollups,
            aggregate,
            ..
        } => (paths.as_slice(), rollups.as_slice(), aggregate.as_slice()),
        Transformation::Aggregate(items) => (&[][..], &[][..], items.as_slice()),
        // Only those two start a level.
        _ => (&[][..], &[][..], &[][..]),
    };
    // Each path's groups: one for a property, one per property of a navigation.
    let mut groups = Vec::new();
    let mut spans = Vec::new();
    for p in paths {
        let start = groups.len();
        groups.extend(group(p)?);
        spans.push(start..groups.len());
    }
    let sets = grouping_sets(&spans, rollups)?;
    let mut columns: Vec<(Vec<String>, Ty)> = groups
        .iter()
        .map(|g| {
            let mut path: Vec<String> = g.navs.iter().map(|n| n.name.to_owned()).collect();
            path.push(g.name().to_owned());
            (path, g.ty())
        })
        .collect();
    let mut aggregates = Vec::new();
    for item in items {
        let a = aggregate(item)?;
        // Nor a property of the input, declared or aggregated before (Data Aggregation
        // 3.1.3): the result would show, say, a sum under an Edm.Int32 key's name.
        let taken = columns
            .iter()
            .chain(input)
            .any(|(p, _)| p[0].eq_ignore_ascii_case(&a.alias))
            || entity.property(&a.alias).is_some()
            || entity.nav(&a.alias).is_some();
        if taken {
            return Err(BindError::invalid(
                OPTION,
                Some(item.pos.0),
                format!("`{}` names another property of the result", a.alias),
            ));
        }
        columns.push((vec![a.alias.clone()], a.ty));
        aggregates.push(a);
    }
    Ok(Level {
        groups,
        aggregates,
        columns,
        sets,
    })
}

/// Most groupings a groupby's rollups may make.
const MAX_GROUPING_SETS: usize = 64;

/// The groupings `rollups` make of the groups of the paths `spans` (Data Aggregation 3.2.3.2): for each
/// rollup, all its levels, then one fewer, down to the first (or none, with `$all`); one
/// grouping per combination, finest first. Empty without rollups: one grouping by all.
fn grouping_sets(
    spans: &[std::ops::Range<usize>],
    rollups: &[odata_parser::Rollup],
) -> Result<Vec<Vec<bool>>, BindError> {
    if rollups.is_empty() {
        return Ok(Vec::new());
    }
    let groups = spans.last().map_or(0, |s| s.end);
    let mut sets = vec![vec![true; groups]];
    for r in rollups {
        let lowest = if r.all { r.start } else { r.start + 1 };
        let mut next = Vec::new();
        for set in &sets {
            for kept in (lowest..=r.end).rev() {
                let mut s: Vec<bool> = set.clone();
                for span in spans.get(kept..r.end).unwrap_or_default() {
                    for present in s.get_mut(span.clone()).unwrap_or_default() {
                        *present = false;
                    }
                }
                next.push(s);
            }
        }
        if next.len() > MAX_GROUPING_SETS {
            return Err(BindError::unsupported(
                OPTION,
                None,
                format!("these rollups make {} groupings or more; at most {MAX_GROUPING_SETS} are taken", next.len()),
            ));
        }
        sets = next;
    }
    Ok(sets)
}

/// The `filter`, `orderby`, `skip` and `top` steps after a groupby or aggregate, bound
/// over its result by `over`: the filter before the window, and the window.
fn steps_after<'a>(
    steps: &[&Transformation],
    over: &impl Fn(&'static str) -> ExprBinder<'a>,
) -> Result<(Option<TExpr>, Option<Window>), BindError> {
    let mut filter = None;
    let mut window: Option<Window> = None;
    let once = || {
        BindError::unsupported(
            OPTION,
            None,
            "after groupby or aggregate, orderby, skip and top are taken as one run (an orderby after skip or top only orders what they keep)",
        )
    };
    let keys = |items: &[odata_parser::OrderItem]| order_items(items, |e| over(OPTION).expr(e));
    for &t in steps {
        match (t, &mut window) {
            (Transformation::Filter(e), None) => {
                filter = Some(and(filter, over(OPTION).predicate(e)?))
            }
            (Transformation::Filter(e), Some(w)) => {
                w.then = Some(and(w.then.take(), over(OPTION).predicate(e)?))
            }
            (Transformation::OrderBy(_) | Transformation::Skip(_) | Transformation::Top(_), _) => {
                let w = window.get_or_insert_with(Window::default);
                if w.then.is_some() {
                    return Err(once());
                }
                window_step(w, t, keys)?;
            }
            (Transformation::TopSum { .. }, _) => {
                let w = window.get_or_insert_with(Window::default);
                if w.then.is_some() {
                    return Err(once());
                }
                cut_step(w, t, |e| over(OPTION).expr(e))?;
            }
            _ => {
                return Err(BindError::unsupported(
                    OPTION,
                    None,
                    format!("`{t}` after groupby or aggregate is not supported: filter, orderby, skip, top and their kin, groupby and aggregate are"),
                ))
            }
        }
    }
    Ok((filter, window))
}

/// A grouping path over an aggregated result: one of its columns, nested under the same
/// navigation as there.
fn regroup(
    p: &GroupPath,
    inner: &[GroupCol],
    columns: &[(Vec<String>, Ty)],
) -> Result<Vec<GroupCol>, BindError> {
    let starts = |path: &[String]| {
        path.len() >= p.segments.len()
            && path
                .iter()
                .zip(&p.segments)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    let exact = columns
        .iter()
        .position(|(path, _)| path.len() == p.segments.len() && starts(path));
    // A navigation names every column under it.
    let found: Vec<usize> = match exact {
        Some(index) => vec![index],
        None => (0..columns.len())
            .filter(|&i| starts(&columns[i].0))
            .collect(),
    };
    if found.is_empty() {
        let has: Vec<String> = columns.iter().map(|(c, _)| c.join("/")).collect();
        return Err(BindError::invalid(
            OPTION,
            Some(p.pos.0),
            format!(
                "`{}` is not a property of the aggregated result; it has {}",
                p.segments.join("/"),
                has.join(", ")
            ),
        ));
    }
    Ok(found
        .into_iter()
        .map(|index| {
            let (path, ty) = &columns[index];
            GroupCol {
                navs: inner.get(index).map(|g| g.navs.clone()).unwrap_or_default(),
                value: GroupValue::Computed(
                    path.last().cloned().unwrap_or_default(),
                    TExpr::Column { index, ty: *ty },
                ),
                keyed: inner.get(index).is_some_and(|g| g.keyed),
            }
        })
        .collect())
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
                let under = |c: &Vec<String>| {
                    c.len() >= path.len()
                        && c.iter().zip(path).all(|(a, b)| a.eq_ignore_ascii_case(b))
                };
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

/// `groupby((G),T)` without an aggregate in `T`: each group's entities themselves, so
/// the level has every property (and computed value) besides the groups.
fn entities_of_groups(
    level: &mut Level,
    entity: Entity,
    computed: &[ComputedProp],
) -> Result<(), BindError> {
    if !level.sets.is_empty() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "rollup with transformations per group but no aggregate is not supported",
        ));
    }
    let grouped = |name: &str| {
        level
            .groups
            .iter()
            .any(|g| g.navs.is_empty() && g.name() == name)
    };
    let mut more = Vec::new();
    for prop in entity.properties.iter().filter(|p| !grouped(p.name)) {
        more.push(GroupCol {
            navs: Vec::new(),
            value: GroupValue::Prop(prop),
            keyed: false,
        });
    }
    for c in computed.iter().filter(|c| !grouped(&c.name)) {
        more.push(GroupCol {
            navs: Vec::new(),
            value: GroupValue::Computed(c.name.clone(), c.expr.clone()),
            keyed: false,
        });
    }
    for g in more {
        level.columns.push((vec![g.name().to_owned()], g.ty()));
        level.groups.push(g);
    }
    Ok(())
}

/// What the transformations of a `groupby((paths),...)` applied to each group made of
/// the first one.
#[derive(Clone, Copy, Default)]
struct PerGroup {
    /// Its `orderby`/`skip`/`top` or `topsum`-like run: the window before the grouping,
    /// per group.
    window: bool,
    /// No `aggregate`: each group's entities themselves.
    entities: bool,
}

/// Lifts the transformations each group of the first groupby takes into the sequence:
/// `groupby((G),filter(f)/topcount(n,v)/aggregate(a))/filter(g)` is
/// `filter(f)/topcount(n,v)/groupby((G),aggregate(a))/filter(g)` with the ranking per
/// group (Data Aggregation 3.2.3.1: a filter or compute keeps or extends instances one by
/// one; one aggregate per group makes one row per group).
fn lift_per_group(apply: &[Transformation]) -> Result<(Vec<Transformation>, PerGroup), BindError> {
    let first = apply.iter().position(is_aggregation);
    let Some(at) = first else {
        return Ok((apply.to_vec(), PerGroup::default()));
    };
    let declined = |what: String| Err(BindError::unsupported(OPTION, None, what));
    for t in &apply[at + 1..] {
        if matches!(t, Transformation::GroupBy { per_group, .. } if !per_group.is_empty()) {
            return declined("transformations per group in a groupby after another groupby or aggregate are not supported".into());
        }
    }
    let Transformation::GroupBy {
        paths,
        rollups,
        per_group,
        ..
    } = &apply[at]
    else {
        return Ok((apply.to_vec(), PerGroup::default()));
    };
    if per_group.is_empty() {
        return Ok((apply.to_vec(), PerGroup::default()));
    }
    let windowed = |t: &Transformation| {
        matches!(
            t,
            Transformation::OrderBy(_)
                | Transformation::Skip(_)
                | Transformation::Top(_)
                | Transformation::TopSum { .. }
        )
    };
    let sequence = ranked(per_group);
    let mut instance = Vec::new();
    let mut window = Vec::new();
    let mut aggregate = None;
    let mut after = Vec::new();
    for t in &sequence {
        match t {
            Transformation::Aggregate(items) if aggregate.is_none() => aggregate = Some(items.clone()),
            Transformation::Filter(_) | Transformation::Compute(_) if aggregate.is_some() => {
                after.push(t.clone())
            }
            Transformation::Filter(_) | Transformation::Compute(_) | Transformation::Search(_)
                if window.is_empty() && aggregate.is_none() =>
            {
                instance.push(t.clone())
            }
            t if windowed(t) && aggregate.is_none() => window.push(t.clone()),
            t => {
                return declined(format!(
                    "`{t}` per group, in this place, is not supported: each group takes filter, search and compute, then orderby, skip, top and their kin, then aggregate, then filter and compute"
                ))
            }
        }
    }
    if !window.is_empty() && apply[..at].iter().any(windowed) {
        return declined(
            "orderby, skip, top and their kin both before a groupby and per group are not supported".into(),
        );
    }
    let mut out: Vec<Transformation> = apply[..at].to_vec();
    out.extend(instance);
    out.extend(window.iter().cloned());
    out.push(Transformation::GroupBy {
        paths: paths.clone(),
        rollups: rollups.clone(),
        aggregate: aggregate.clone().unwrap_or_default(),
        per_group: Vec::new(),
    });
    out.extend(after);
    out.extend(apply[at + 1..].iter().cloned());
    Ok((
        out,
        PerGroup {
            window: !window.is_empty(),
            entities: aggregate.is_none(),
        },
    ))
}

/// `topcount(n,e)` and `bottomcount(n,e)` as what they are: `orderby(e desc)/top(n)` and
/// `orderby(e)/top(n)`.
fn ranked(apply: &[Transformation]) -> Vec<Transformation> {
    let mut out = Vec::with_capacity(apply.len());
    for t in apply {
        match t {
            Transformation::TopCount { n, expr, bottom } => {
                out.push(Transformation::OrderBy(vec![odata_parser::OrderItem {
                    expr: expr.clone(),
                    desc: !bottom,
                }]));
                out.push(Transformation::Top(*n));
            }
            Transformation::Identity => {}
            other => out.push(other.clone()),
        }
    }
    out
}

/// Makes the fresh window `w` a `topsum`-like one: its rows by the value, highest first
/// (lowest for the bottom forms), kept while the values before them add up to less
/// than the amount.
fn cut_step(
    w: &mut Window,
    t: &Transformation,
    bind: impl Fn(&odata_parser::Expr) -> Result<TExpr, BindError>,
) -> Result<(), BindError> {
    let Transformation::TopSum {
        amount,
        expr,
        bottom,
        percent,
    } = t
    else {
        return Ok(());
    };
    let name = t.to_string();
    let name = name.split('(').next().unwrap_or_default();
    if !w.orderby.is_empty() || w.skip > 0 || w.top.is_some() || w.cut.is_some() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            format!("`{name}` after orderby, skip, top or another ranking is not supported: it starts a run of them"),
        ));
    }
    let value = bind(expr)?;
    if !value.ty().is_numeric() {
        return Err(BindError::invalid(
            OPTION,
            None,
            format!("`{name}` adds up numbers: `{expr}` is no number"),
        ));
    }
    let amount = cut_amount(name, amount, *percent)?;
    w.orderby = vec![(value.clone(), !bottom)];
    w.cut = Some(Cut {
        value,
        amount,
        percent: *percent,
        bottom: *bottom,
    });
    Ok(())
}

/// The amount of `topsum(amount,...)`: a number literal, not negative, a percentage at
/// most 100; as decimal text.
fn cut_amount(name: &str, amount: &odata_parser::Expr, percent: bool) -> Result<String, BindError> {
    use odata_parser::{Expr, Literal};
    use rust_decimal::Decimal;
    let invalid = |why: &str| {
        BindError::invalid(
            OPTION,
            None,
            format!("`{name}` needs {why}, found `{amount}`"),
        )
    };
    let n: Decimal = match amount {
        Expr::Literal(Literal::Int(i), _) => Decimal::from(*i),
        Expr::Literal(Literal::Decimal(t) | Literal::Double(t), _) => t
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| invalid("a finite amount"))?,
        Expr::Literal(..) | Expr::Unary(..) => return Err(invalid("a number as its amount")),
        _ => {
            return Err(BindError::unsupported(
                OPTION,
                None,
                format!("`{name}` takes a number literal as its amount, not `{amount}`"),
            ))
        }
    };
    if n.is_sign_negative() && !n.is_zero() {
        return Err(invalid("an amount that is not negative"));
    }
    if percent && n > Decimal::ONE_HUNDRED {
        return Err(invalid("a percentage between 0 and 100"));
    }
    Ok(n.normalize().to_string())
}

/// Adds an `orderby`, `skip` or `top` step to `w`: an `orderby` before `skip` and `top`
/// orders the rows they choose from, one after them only the rows they kept.
fn window_step(
    w: &mut Window,
    t: &Transformation,
    keys: impl Fn(&[odata_parser::OrderItem]) -> Result<Vec<(TExpr, bool)>, BindError>,
) -> Result<(), BindError> {
    if !w.reorder.is_empty() {
        return Err(BindError::unsupported(
            OPTION,
            None,
            "orderby, skip and top are taken as one run (an orderby after skip or top only orders what they keep)",
        ));
    }
    match t {
        Transformation::OrderBy(items) if w.skip == 0 && w.top.is_none() && w.cut.is_none() => {
            w.orderby = keys(items)?
        }
        Transformation::OrderBy(items) => w.reorder = keys(items)?,
        Transformation::Skip(n) => {
            w.skip = w.skip.saturating_add(*n);
            w.top = w.top.map(|top| top.saturating_sub(*n));
        }
        Transformation::Top(n) => w.top = Some(w.top.map_or(*n, |top| top.min(*n))),
        _ => {}
    }
    Ok(())
}

fn and(a: Option<TExpr>, b: TExpr) -> TExpr {
    match a {
        Some(a) => TExpr::And(Box::new(a), Box::new(b)),
        None => b,
    }
}

/// `Status/Description`: single-valued navigation, then a property; or a computed name.
fn group(
    entity: Entity,
    p: &GroupPath,
    computed: &[ComputedProp],
) -> Result<Vec<GroupCol>, BindError> {
    let err = |m: String| BindError::invalid(OPTION, Some(p.pos.0), m);
    if let [name] = p.segments.as_slice() {
        if entity.property(name).is_none() {
            if let Some(c) = computed.iter().find(|c| c.name == *name) {
                return Ok(vec![GroupCol {
                    navs: Vec::new(),
                    value: GroupValue::Computed(c.name.clone(), c.expr.clone()),
                    keyed: false,
                }]);
            }
        }
    }
    let mut at = entity;
    let mut navs = Vec::new();
    let (last, through) = p
        .segments
        .split_last()
        .ok_or_else(|| err("expected a property to group by".into()))?;
    for name in through {
        let nav = at.nav(name).ok_or_else(|| {
            err(format!(
                "`{name}` is not a navigation property of {}",
                at.name
            ))
        })?;
        if nav.many {
            return Err(BindError::unsupported(
                OPTION,
                Some(p.pos.0),
                format!("grouping by a collection (`{name}`) is not supported"),
            ));
        }
        navs.push(nav);
        at = MODEL
            .entity_type(nav.target)
            .ok_or_else(|| err("navigation target missing".into()))?;
    }
    if let Some(prop) = at.property(last) {
        return Ok(vec![GroupCol {
            navs,
            value: GroupValue::Prop(prop),
            keyed: false,
        }]);
    }
    let Some(nav) = at.nav(last) else {
        return Err(err(format!("`{last}` is not a property of {}", at.name)));
    };
    if nav.many {
        return Err(BindError::unsupported(
            OPTION,
            Some(p.pos.0),
            format!("grouping by a collection (`{last}`) is not supported"),
        ));
    }
    // The related entity as a whole (expanded by default, Data Aggregation 3.2.3.1): by
    // every property of it, its key telling whether there is one.
    navs.push(nav);
    let target = MODEL
        .entity_type(nav.target)
        .ok_or_else(|| err("navigation target missing".into()))?;
    Ok(target
        .properties
        .iter()
        .map(|prop| GroupCol {
            navs: navs.clone(),
            value: GroupValue::Prop(prop),
            keyed: target.key.contains(&prop.name),
        })
        .collect())
}

/// `value with method as alias`: `value` bound by `bind`; a bare path through the
/// navigation of `paths_from` aggregates the entities it reaches.
fn aggregate(
    item: &AggregateItem,
    paths_from: Option<Entity>,
    bind: impl Fn(&odata_parser::Expr) -> Result<TExpr, BindError>,
) -> Result<AggregateCol, BindError> {
    let pos = Some(item.pos.0);
    let (Some(value), Some(method)) = (&item.value, item.method) else {
        return Ok(AggregateCol {
            alias: item.alias.clone(),
            method: None,
            value: None,
            ty: Ty::Edm(EdmType::Int64),
            through: Vec::new(),
        });
    };
    let path = match paths_from {
        Some(entity) => navigation_path(entity, value, pos)?,
        None => None,
    };
    let (through, value) = match path {
        Some((navs, prop)) => (
            navs,
            prop.map(|prop| TExpr::Prop {
                scope: 0,
                navs: Vec::new(),
                prop,
            }),
        ),
        None => (Vec::new(), Some(bind(value)?)),
    };
    let Some(value) = value else {
        // A path to entities: only their number is an aggregate of them.
        if method != AggregateMethod::CountDistinct {
            return Err(BindError::invalid(
                OPTION,
                pos,
                "a path to entities is aggregated with countdistinct; name a property of them for other methods",
            ));
        }
        return Ok(AggregateCol {
            alias: item.alias.clone(),
            method: Some(method),
            value: None,
            ty: Ty::Edm(EdmType::Int64),
            through,
        });
    };
    let t = value.ty();
    let numeric = t.is_numeric();
    let ty = match method {
        AggregateMethod::Sum | AggregateMethod::Average if !numeric => {
            return Err(BindError::invalid(
                OPTION,
                pos,
                format!("sum and average need numbers, found {}", t.name()),
            ))
        }
        AggregateMethod::Sum => match t {
            Ty::Edm(e) if e.is_integer() => Ty::Edm(EdmType::Int64),
            other => other,
        },
        AggregateMethod::Average => match t {
            Ty::Edm(EdmType::Double) => t,
            _ => Ty::Edm(EdmType::Decimal(38, 10)),
        },
        AggregateMethod::Min | AggregateMethod::Max if matches!(t, Ty::Bool | Ty::Null) => {
            return Err(BindError::invalid(
                OPTION,
                pos,
                format!("min and max need ordered values, found {}", t.name()),
            ))
        }
        AggregateMethod::Min | AggregateMethod::Max => t,
        AggregateMethod::CountDistinct => Ty::Edm(EdmType::Int64),
    };
    Ok(AggregateCol {
        alias: item.alias.clone(),
        method: Some(method),
        value: Some(value),
        ty,
        through,
    })
}

/// A path's navigations and the property it ends in, if any.
type NavPath = (Vec<Nav>, Option<Prop>);

/// A bare path through navigation properties (`Status/DeadFlag`, `Leads/Value`,
/// `Status`): its navigations and the property it ends in, if any. Data Aggregation
/// 3.2.1.1 aggregates such a path over the distinct entities it reaches, each once,
/// unlike an expression (`Status/DeadFlag add 0`), which is evaluated per input entity.
/// `None` for anything else.
fn navigation_path(
    entity: Entity,
    value: &odata_parser::Expr,
    pos: Option<usize>,
) -> Result<Option<NavPath>, BindError> {
    let odata_parser::Expr::Member(path) = value else {
        return Ok(None);
    };
    let mut at = entity;
    let mut navs: Vec<Nav> = Vec::new();
    let mut segments = path.segments.iter().peekable();
    while let Some(s) = segments.peek() {
        let nav = match at.nav(&s.name) {
            Some(nav) if s.key.is_none() => nav,
            _ => break,
        };
        navs.push(nav);
        segments.next();
        at = MODEL
            .entity_type(nav.target)
            .ok_or_else(|| BindError::invalid(OPTION, pos, "navigation target missing"))?;
    }
    if navs.is_empty() {
        return Ok(None);
    }
    match (segments.next(), segments.next()) {
        (None, _) => Ok(Some((navs, None))),
        (Some(s), None) if s.key.is_none() && !s.name.starts_with('$') => {
            match at.property(&s.name) {
                Some(prop) => Ok(Some((navs, Some(prop)))),
                None => Err(BindError::invalid(
                    OPTION,
                    pos,
                    format!("`{}` is not a property of {}", s.name, at.name),
                )),
            }
        }
        // `Leads/$count`, a function or a longer path: an expression.
        _ => Ok(None),
    }
}
