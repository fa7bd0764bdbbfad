//! The levels of an `$apply`: each `groupby` or `aggregate` (and each `compute` after
//! one) with the result columns it makes, its groups through navigation or over the
//! result before, and its aggregates.

use super::*;

/// `compute(expr as Name)` over an aggregated result (Data Aggregation 3.3, one to one):
/// a level that passes every column of the result through, grouped as before (the
/// rows are distinct), and adds the value.
pub(super) fn compute_level(
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
            crate::bind::expr::pos_of(&item.expr),
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
        distinct: true,
    })
}

/// One `groupby` or `aggregate`: its groups and aggregates, and the result's columns
/// (each by its path) they make.
pub(super) struct Level {
    pub(super) groups: Vec<GroupCol>,
    pub(super) aggregates: Vec<AggregateCol>,
    pub(super) columns: Vec<(Vec<String>, Ty)>,
    /// The groupings of its rollups (see [`Aggregation::sets`]).
    pub(super) sets: Vec<Vec<bool>>,
    /// See [`Aggregation::distinct`].
    pub(super) distinct: bool,
}

impl Level {
    /// The aggregation of `input` this level makes, its filter and window after it; no
    /// options of its own.
    pub(super) fn over(
        self,
        input: AggregationInput,
        filter: Option<TExpr>,
        window: Option<Window>,
    ) -> Aggregation {
        Aggregation {
            input,
            groups: self.groups,
            aggregates: self.aggregates,
            sets: self.sets,
            distinct: self.distinct,
            filter,
            window,
            orderby: Vec::new(),
            top: None,
            skip: None,
            count: false,
            select: None,
        }
    }
}

/// Binds `aggregation` over an input with the declared properties of `entity` and
/// `input` (the result columns of an aggregation before).
pub(super) fn level(
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
        distinct: false,
    })
}

/// Most groupings a groupby's rollups, and those of all levels together, may make.
pub(super) const MAX_GROUPING_SETS: usize = 64;

/// The groupings `rollups` make of the groups of the paths `spans` (Data Aggregation 3.2.3.2): for each
/// rollup, all its levels, then one fewer, down to the first (or none, with `$all`); one
/// grouping per combination, finest first. Empty without rollups: one grouping by all.
pub(super) fn grouping_sets(
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

/// A grouping path over an aggregated result: one of its columns, nested under the same
/// navigation as there.
pub(super) fn regroup(
    p: &GroupPath,
    inner: &[GroupCol],
    columns: &[(Vec<String>, Ty)],
) -> Result<Vec<GroupCol>, BindError> {
    let starts = |path: &[String]| starts_with_names(path, &p.segments);
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

/// `Status/Description`: single-valued navigation, then a property; or a computed name.
pub(super) fn group(
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
pub(super) fn aggregate(
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
    let ty = method_type(method, value.ty(), pos)?;
    Ok(AggregateCol {
        alias: item.alias.clone(),
        method: Some(method),
        value: Some(value),
        ty,
        through,
    })
}

/// The type of `method` over values of type `t`.
pub(super) fn method_type(
    method: AggregateMethod,
    t: Ty,
    pos: Option<usize>,
) -> Result<Ty, BindError> {
    Ok(match method {
        AggregateMethod::Sum | AggregateMethod::Average if !t.is_numeric() => {
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
    })
}

/// A path's navigations and the property it ends in, if any.
type NavPath = (Vec<Nav>, Option<Prop>);

/// A bare path through navigation properties (`Status/DeadFlag`, `Leads/Value`,
/// `Status`): its navigations and the property it ends in, if any. Data Aggregation
/// 3.2.1.1 aggregates such a path over the distinct entities it reaches, each once,
/// unlike an expression (`Status/DeadFlag add 0`), which is evaluated per input entity.
/// `None` for anything else.
pub(super) fn navigation_path(
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
