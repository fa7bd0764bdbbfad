//! A groupby's transformations per group, lifted into the sequence around it.

use super::*;

/// `groupby((G),T)` without an aggregate in `T`: each group's entities themselves, so
/// the level has every property (and computed value) besides the groups.
pub(super) fn entities_of_groups(
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
    // The entity key is among them.
    level.distinct = level.aggregates.is_empty();
    Ok(())
}

/// What the transformations of a `groupby((paths),...)` applied to each group made of
/// the first one.
#[derive(Clone, Copy, Default)]
pub(super) struct PerGroup {
    /// Its `orderby`/`skip`/`top` or `topsum`-like run: the window before the grouping,
    /// per group.
    pub(super) window: bool,
    /// No `aggregate`: each group's entities themselves.
    pub(super) entities: bool,
}

/// Lifts the transformations each group of the first groupby takes into the sequence:
/// `groupby((G),filter(f)/topcount(n,v)/aggregate(a))/filter(g)` is
/// `filter(f)/topcount(n,v)/groupby((G),aggregate(a))/filter(g)` with the ranking per
/// group, and `groupby((G),groupby((H),aggregate(a))/aggregate(b))` is
/// `groupby((G,H),aggregate(a))/groupby((G),aggregate(b))` (Data Aggregation 3.2.3.1: a
/// filter or compute keeps or extends rows one by one; each group's rows carry its paths).
pub(super) fn lift_per_group(
    apply: &[Transformation],
) -> Result<(Vec<Transformation>, PerGroup), BindError> {
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
    // From the first aggregation on: the levels, each within the groups of `paths`.
    let mut levels: Vec<Transformation> = Vec::new();
    let within = |more: &[GroupPath]| {
        let mut p = paths.clone();
        p.extend(more.iter().cloned());
        p
    };
    for t in &sequence {
        let grouped = !levels.is_empty();
        match t {
            Transformation::Aggregate(items) => levels.push(Transformation::GroupBy {
                paths: paths.clone(),
                rollups: rollups.clone(),
                aggregate: items.clone(),
                per_group: Vec::new(),
            }),
            // A groupby within each group groups by both (Data Aggregation 3.2.3.1: the
            // group's paths are added to each row).
            Transformation::GroupBy {
                paths: more,
                rollups: inner,
                aggregate,
                per_group,
            } if per_group.is_empty() && rollups.is_empty() => {
                let shift = paths.len();
                levels.push(Transformation::GroupBy {
                    paths: within(more),
                    rollups: inner
                        .iter()
                        .map(|r| odata_parser::Rollup {
                            start: r.start + shift,
                            end: r.end + shift,
                            all: r.all,
                        })
                        .collect(),
                    aggregate: aggregate.clone(),
                    per_group: Vec::new(),
                })
            }
            Transformation::Filter(_) | Transformation::Compute(_) if grouped => {
                levels.push(t.clone())
            }
            Transformation::Filter(_) | Transformation::Compute(_) | Transformation::Search(_)
                if window.is_empty() && !grouped =>
            {
                instance.push(t.clone())
            }
            t if windowed(t) && !grouped => window.push(t.clone()),
            t => {
                return declined(format!(
                    "`{t}` per group, in this place, is not supported: each group takes filter, search and compute, then orderby, skip, top and their kin, then groupby or aggregate (each with filter and compute after it)"
                ))
            }
        }
    }
    let aggregations = levels.iter().filter(|t| is_aggregation(t)).count();
    if !rollups.is_empty() && aggregations > 1 {
        return declined("rollup with more than one aggregation per group is not supported".into());
    }
    if !window.is_empty() && apply[..at].iter().any(windowed) {
        return declined(
            "orderby, skip, top and their kin both before a groupby and per group are not supported".into(),
        );
    }
    let entities = levels.is_empty();
    if entities {
        levels.push(Transformation::GroupBy {
            paths: paths.clone(),
            rollups: rollups.clone(),
            aggregate: Vec::new(),
            per_group: Vec::new(),
        });
    }
    let mut out: Vec<Transformation> = apply[..at].to_vec();
    out.extend(instance);
    out.extend(window.iter().cloned());
    out.extend(levels);
    out.extend(apply[at + 1..].iter().cloned());
    Ok((
        out,
        PerGroup {
            window: !window.is_empty(),
            entities,
        },
    ))
}
