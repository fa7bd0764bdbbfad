//! The options that shape one level of a read: `$select`, `$expand` (each expanded
//! navigation a level of its own), `$compute`, `$filter`, `$orderby`, `$search`, `$top`,
//! `$skip` and `$count`.

use super::expand_levels::{star_options, within_max_levels};
use super::expr::{pos_of, ExprBinder};
use super::next_query::next_query;
use super::{
    search, BindError, ComputedProp, Entity, Expand, Nav, Prop, Shape, TExpr, TheseInput, Ty,
};
use crate::model::MODEL;
use odata_parser::{ExpandTarget, Expr, QueryOptions, SelectItem};

/// Most distinct `$orderby` keys: each is also a paging key, and PostgreSQL takes at
/// most 100 arguments in the function that returns them.
const MAX_ORDER_KEYS: usize = 32;

/// Largest `$top`/`$skip` accepted; keeps every later integer conversion in range.
const MAX_INT_OPTION: u64 = i64::MAX as u64 / 4;

/// `$select=Name($select=...)` (4.01, for complex and collection properties) has
/// nothing to apply to in this model.
pub(super) fn no_nested_select_options(
    options: &Option<Box<QueryOptions>>,
    pos: usize,
) -> Result<(), BindError> {
    match options {
        Some(_) => Err(BindError::unsupported(
            "$select",
            Some(pos),
            "nested options in $select are not supported",
        )),
        None => Ok(()),
    }
}

/// The options of one level; inside `$expand`, `outer` is the entity type of the
/// request's resource, which `$it` names there. `these`: the level is a collection,
/// which `$these` may name.
pub(super) fn bind_shape(
    entity: Entity,
    o: &QueryOptions,
    aliases: &[(String, Expr)],
    outer: Option<Entity>,
    these: bool,
) -> Result<Shape, BindError> {
    let mut shape = Shape::default();
    let these_at = |input| these.then_some(input);
    if let Some(items) = &o.compute {
        compute_into(
            "$compute",
            entity,
            items,
            aliases,
            outer,
            these_at(TheseInput::Compute),
            &mut shape.compute,
        )?;
    }
    if let Some(items) = &o.select {
        let mut props: Vec<Prop> = Vec::new();
        let mut all = false;
        for c in &mut shape.compute {
            c.selected = false;
        }
        for item in items {
            match item {
                SelectItem::Star => all = true,
                SelectItem::AllOperations(_) => {}
                SelectItem::Path { path, options, pos } => {
                    no_nested_select_options(options, pos.0)?;
                    let [name] = path.as_slice() else {
                        // Name the first unknown segment (400) before declining a valid path (501).
                        let mut e = entity;
                        for seg in path {
                            if let Some(n) = e.nav(seg) {
                                e = MODEL.entity_type(n.target).unwrap_or(e);
                            } else if e.property(seg).is_none() {
                                return Err(BindError::invalid(
                                    "$select",
                                    Some(pos.0),
                                    format!("`{seg}` is not a property of {}", e.name),
                                ));
                            }
                        }
                        // OData selects only through complex properties, which this model has none of.
                        return Err(BindError::invalid("$select", Some(pos.0), format!("`{}`: $select cannot follow a navigation property; use $expand={}($select=...)", path.join("/"), path[0])));
                    };
                    if let Some(p) = entity.property(name) {
                        if !props.iter().any(|q| std::ptr::eq(*q, p)) {
                            props.push(p);
                        }
                    } else if let Some(c) = shape.compute.iter_mut().find(|c| c.name == *name) {
                        c.selected = true;
                    } else if let Some(n) = entity.nav(name) {
                        if !shape.select_navs.contains(&n.name) {
                            shape.select_navs.push(n.name);
                        }
                    } else {
                        return Err(BindError::invalid(
                            "$select",
                            Some(pos.0),
                            format!("`{name}` is not a property of {}", entity.name),
                        ));
                    }
                }
            }
        }
        if all {
            for c in &mut shape.compute {
                c.selected = true;
            }
        } else {
            shape.select = Some(props);
        }
    }
    if let Some(items) = &o.expand {
        for item in items {
            let navs: Vec<Nav> = match &item.target {
                ExpandTarget::Star => entity.navigation.iter().collect(),
                ExpandTarget::Path(p) => {
                    let [name] = p.as_slice() else {
                        return Err(BindError::invalid(
                            "$expand",
                            Some(item.pos.0),
                            expand_path_message(entity, p),
                        ));
                    };
                    let nav = entity.nav(name).ok_or_else(|| {
                        BindError::invalid(
                            "$expand",
                            Some(item.pos.0),
                            format!("`{name}` is not a navigation property of {}", entity.name),
                        )
                    })?;
                    vec![nav]
                }
            };
            let star = star_options(entity, item)?;
            let options = star.as_ref().unwrap_or(&item.options);
            for nav in navs {
                let target = MODEL.entity_type(nav.target).ok_or_else(|| {
                    BindError::invalid("$expand", Some(item.pos.0), "navigation target missing")
                })?;
                if shape.expand.iter().any(|e| std::ptr::eq(e.nav, nav)) {
                    return Err(BindError::invalid(
                        "$expand",
                        Some(item.pos.0),
                        format!("`{}` is expanded twice", nav.name),
                    ));
                }
                if let Some(apply) = &options.apply {
                    shape
                        .expand
                        .push(aggregated_expand(nav, target, item, apply, aliases)?);
                    continue;
                }
                let sub = bind_shape(
                    target,
                    options,
                    aliases,
                    Some(outer.unwrap_or(entity)),
                    nav.many,
                )?;
                within_max_levels(entity, item.pos.0, &sub)?;
                if !nav.many
                    && (sub.top.is_some()
                        || sub.skip.is_some()
                        || !sub.orderby.is_empty()
                        || sub.count)
                {
                    return Err(BindError::invalid(
                        "$expand",
                        Some(item.pos.0),
                        format!(
                            "`{}` is single-valued: $top, $skip, $orderby and $count do not apply",
                            nav.name
                        ),
                    ));
                }
                shape.expand.push(Expand {
                    nav,
                    target,
                    shape: sub,
                    is_ref: item.is_ref,
                    is_count: item.is_count,
                    next_query: (nav.many && !item.is_count).then(|| next_query(options, aliases)),
                    apply: None,
                });
            }
        }
    }
    if let Some(f) = &o.filter {
        shape.filter = Some(
            ExprBinder::new("$filter", aliases, entity)
                .in_expand(outer)
                .with_computed(&shape.compute)
                .with_these(these_at(TheseInput::Filter))
                .predicate(f)?,
        );
    }
    if let Some(items) = &o.orderby {
        let mut b = ExprBinder::new("$orderby", aliases, entity)
            .in_expand(outer)
            .with_computed(&shape.compute)
            .with_these(these_at(TheseInput::Order));
        for item in items {
            let t = b.expr(&item.expr)?;
            if matches!(t, TExpr::Lit(_)) {
                continue;
            }
            if t.ty() == Ty::Null {
                return Err(BindError::invalid(
                    "$orderby",
                    Some(pos_of(&item.expr)),
                    "cannot order by null",
                ));
            }
            // A key given again never decides anything: the first one already did.
            if shape.orderby.iter().any(|(k, _)| *k == t) {
                continue;
            }
            if shape.orderby.len() == MAX_ORDER_KEYS {
                return Err(BindError::invalid(
                    "$orderby",
                    Some(pos_of(&item.expr)),
                    format!("at most {MAX_ORDER_KEYS} different $orderby keys"),
                ));
            }
            shape.orderby.push((t, item.desc));
        }
    }
    for (name, v) in [("$top", o.top), ("$skip", o.skip)] {
        if v.is_some_and(|v| v > MAX_INT_OPTION) {
            return Err(BindError::invalid(
                name,
                None,
                format!("{name} must be at most {MAX_INT_OPTION}"),
            ));
        }
    }
    shape.top = o.top;
    shape.skip = o.skip;
    shape.count = o.count.unwrap_or(false);
    shape.search = search(&o.search)?;
    Ok(shape)
}

/// `Nav($apply=...)` (Data Aggregation 3.16): per instance, the result of
/// `GET Set(key)/Nav?$apply=...` with the expand's other options over it.
fn aggregated_expand(
    nav: Nav,
    target: Entity,
    item: &odata_parser::ExpandItem,
    apply: &[odata_parser::Transformation],
    aliases: &[(String, Expr)],
) -> Result<Expand, BindError> {
    let pos = Some(item.pos.0);
    let read = super::Read {
        entity: target,
        path: Vec::new(),
        key: None,
        single: !nav.many,
        shape: Shape::default(),
        context_path: target.set.to_owned(),
    };
    // Parameter aliases are the request's, wherever they are used.
    let mut options = item.options.clone();
    options.aliases = aliases.to_vec();
    match super::aggregate::bind(read, &options, apply, false)? {
        super::Target::Aggregated(ag) => Ok(Expand {
            nav,
            target,
            shape: Shape::default(),
            is_ref: false,
            is_count: false,
            next_query: None,
            apply: Some(Box::new(ag)),
        }),
        _ => Err(BindError::unsupported(
            "$expand",
            pos,
            "$apply inside $expand is supported with groupby or aggregate; use $filter, $orderby, $top and $skip for the entities themselves",
        )),
    }
}

/// Binds `expr as Name, ...` (of `$compute`, or `$apply`'s `compute(...)`) onto `out`:
/// each name new to the entity and to `out`, each expression free to use those before it.
pub(super) fn compute_into(
    option: &'static str,
    entity: Entity,
    items: &[odata_parser::ComputeItem],
    aliases: &[(String, Expr)],
    outer: Option<Entity>,
    these: Option<TheseInput>,
    out: &mut Vec<ComputedProp>,
) -> Result<(), BindError> {
    for item in items {
        let name = &item.alias;
        let taken = entity.property(name).is_some()
            || entity.nav(name).is_some()
            || out.iter().any(|c| c.name.eq_ignore_ascii_case(name));
        if taken {
            return Err(BindError::invalid(
                option,
                Some(pos_of(&item.expr)),
                format!(
                    "`{name}` is already a property of {} or computed before",
                    entity.name
                ),
            ));
        }
        let expr = ExprBinder::new(option, aliases, entity)
            .in_expand(outer)
            .with_computed(out)
            .with_these(these)
            .expr(&item.expr)?;
        out.push(ComputedProp {
            name: name.clone(),
            expr,
            selected: true,
        });
    }
    Ok(())
}

/// Why a multi-segment `$expand` path is refused: this model has no complex properties,
/// the only thing OData lets such a path pass through. A path through navigation is
/// answered with the nested form that says the same.
fn expand_path_message(entity: &crate::model::EntityType, path: &[String]) -> String {
    let joined = path.join("/");
    match path {
        [first, middle @ .., last] if entity.nav(first).is_some() => {
            let nested = middle
                .iter()
                .rev()
                .fold(last.clone(), |inner, seg| format!("{seg}($expand={inner})"));
            format!(
                "`{joined}`: an $expand path cannot pass through a navigation property; \
                 nest it instead: `$expand={first}($expand={nested})`"
            )
        }
        _ => format!("`{joined}` is not a navigation property of {}", entity.name),
    }
}
