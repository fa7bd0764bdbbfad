//! `$crossjoin(A,B,...)` (URL Conventions "Addressing the Cross Join of Entity Sets"):
//! every combination of the sets' entities, each row one single-valued navigation
//! property per set, named after it. `$filter` and `$orderby` name properties through
//! those (`Contacts/ContactId eq Leads/ContactId`); `$expand` names the sets, with
//! `$select` and `$expand` of their own; `$top`, `$skip` and `$count` as for any collection.

use super::concat::map_members;
use super::expr::ExprBinder;
use super::shape::bind_shape;
use super::{first_given, BindError, CrossJoin, CrossJoinSet, TExpr, Target, Ty};
use crate::model::MODEL;
use odata_parser::{ExpandTarget, Expr, QueryOptions};

/// Most sets one cross join combines: the rows multiply with each.
pub const MAX_SETS: usize = 4;

const PATH: &str = "path";

pub(super) fn bind_crossjoin(names: &[String], o: &QueryOptions) -> Result<Target, BindError> {
    if names.len() > MAX_SETS {
        return Err(BindError::invalid(
            PATH,
            None,
            format!("`$crossjoin` combines at most {MAX_SETS} entity sets"),
        ));
    }
    let mut sets: Vec<CrossJoinSet> = Vec::with_capacity(names.len());
    for name in names {
        let entity = MODEL.entity_set(name).ok_or_else(|| {
            BindError::not_found(
                PATH,
                None,
                format!("`{name}` is not an entity set of this service"),
            )
        })?;
        if sets.iter().any(|s| std::ptr::eq(s.entity, entity)) {
            return Err(BindError::invalid(
                PATH,
                None,
                format!("`{}` is named twice in `$crossjoin`", entity.set),
            ));
        }
        sets.push(CrossJoinSet {
            entity,
            expand: None,
        });
    }
    if let Some(option) = first_given(&[
        ("$select", o.select.is_some()),
        ("$search", o.search.is_some()),
        ("$compute", o.compute.is_some()),
        ("$apply", o.apply.is_some()),
    ]) {
        return Err(BindError::unsupported(
            option,
            None,
            format!("{option} over `$crossjoin` is not supported; use $expand with $select"),
        ));
    }
    let scopes: Vec<(String, super::Entity)> = sets
        .iter()
        .map(|s| (s.entity.set.to_owned(), s.entity))
        .collect();
    let filter = match &o.filter {
        Some(f) => {
            through_sets("$filter", f, &scopes)?;
            Some(binder("$filter", o, &scopes).predicate(f)?)
        }
        None => None,
    };
    let mut orderby: Vec<(TExpr, bool)> = Vec::new();
    for item in o.orderby.iter().flatten() {
        through_sets("$orderby", &item.expr, &scopes)?;
        let t = binder("$orderby", o, &scopes).expr(&item.expr)?;
        if matches!(t, TExpr::Lit(_)) || orderby.iter().any(|(k, _)| *k == t) {
            continue;
        }
        if t.ty() == Ty::Null {
            return Err(BindError::invalid("$orderby", None, "cannot order by null"));
        }
        orderby.push((t, item.desc));
    }
    for item in o.expand.iter().flatten() {
        let ExpandTarget::Path(path) = &item.target else {
            // `*`: every set.
            for set in &mut sets {
                set.expand.get_or_insert_with(Default::default);
            }
            continue;
        };
        let set = match path.as_slice() {
            [name] => sets
                .iter_mut()
                .find(|s| s.entity.set.eq_ignore_ascii_case(name)),
            _ => None,
        }
        .ok_or_else(|| {
            BindError::invalid(
                "$expand",
                Some(item.pos.0),
                format!(
                    "`{}` is not one of the entity sets of this `$crossjoin`",
                    path.join("/")
                ),
            )
        })?;
        if item.is_ref || item.is_count {
            return Err(BindError::unsupported(
                "$expand",
                Some(item.pos.0),
                "`/$ref` and `/$count` of a joined set are not supported",
            ));
        }
        let io = &item.options;
        if let Some(option) = first_given(&[
            ("$filter", io.filter.is_some()),
            ("$orderby", io.orderby.is_some()),
            ("$top", io.top.is_some()),
            ("$skip", io.skip.is_some()),
            ("$count", io.count.is_some()),
            ("$search", io.search.is_some()),
            ("$apply", io.apply.is_some()),
            ("$levels", io.levels.is_some()),
        ]) {
            return Err(BindError::invalid(
                "$expand",
                Some(item.pos.0),
                format!(
                    "`{}` is single-valued: {option} does not apply",
                    set.entity.set
                ),
            ));
        }
        set.expand = Some(bind_shape(set.entity, io, &o.aliases, None, false)?);
    }
    Ok(Target::CrossJoin(CrossJoin {
        sets,
        filter,
        orderby,
        top: o.top,
        skip: o.skip,
        count: o.count.unwrap_or(false),
    }))
}

/// A binder whose names start with one of the joined sets.
fn binder<'a>(
    option: &'static str,
    o: &'a QueryOptions,
    scopes: &[(String, super::Entity)],
) -> ExprBinder<'a> {
    ExprBinder::over_sets(option, &o.aliases, scopes)
}

/// Whether each member of `e` starts with one of the joined sets: one that names none
/// is the client's error.
fn through_sets(
    option: &'static str,
    e: &Expr,
    scopes: &[(String, super::Entity)],
) -> Result<(), BindError> {
    let unknown = std::cell::RefCell::new(None);
    map_members(e, &|path, pos| {
        let known = path
            .first()
            .is_some_and(|n| scopes.iter().any(|(s, _)| s.eq_ignore_ascii_case(n)));
        if !known && unknown.borrow().is_none() {
            *unknown.borrow_mut() = Some((path.join("/"), pos.0));
        }
        None
    });
    match unknown.into_inner() {
        Some((name, pos)) => Err(BindError::invalid(
            option,
            Some(pos),
            format!(
                "`{name}` does not start with a joined entity set: write `{}/...`",
                scopes.first().map_or("Set", |(s, _)| s.as_str())
            ),
        )),
        None => Ok(()),
    }
}
