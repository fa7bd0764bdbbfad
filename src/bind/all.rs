//! `$all` (URL Conventions "Addressing All Entities in a Service"): every entity of the
//! workspace, entity set after entity set in the container's order, each in key order.
//! `$search`, `$filter`, `$select`, `$top`, `$skip` and `$count` apply to them all; a
//! property a type lacks is null in `$filter` and left out by `$select`, as an absent
//! property is. `$all/Type` is that type's entity set with every option.

use super::concat::map_members;
use super::{first_given, AllEntities, BindError, Target};
use crate::model::{EntityType, MODEL};
use odata_parser::{
    BinaryOp, Expr, Function, Literal, ODataUrl, PathSegment, QueryOptions, ResourcePath,
    SelectItem, UnaryOp,
};

const PATH: &str = "path";

/// `url`, whose path starts with `$all`, bound; `bind` binds a request for one entity set.
pub(super) fn bind_all(
    url: &ODataUrl,
    segs: &[PathSegment],
    bind: impl Fn(&ODataUrl) -> Result<Target, BindError>,
) -> Result<Target, BindError> {
    match segs {
        [PathSegment::All] => {}
        [PathSegment::All, PathSegment::Name {
            name,
            key: None,
            pos,
        }] => {
            let entity = entity_type(name).ok_or_else(|| {
                BindError::not_found(
                    PATH,
                    Some(pos.0),
                    format!("`{name}` is not an entity type of this service"),
                )
            })?;
            let set = ODataUrl {
                path: ResourcePath::Segments(vec![PathSegment::Name {
                    name: entity.set.to_owned(),
                    key: None,
                    pos: *pos,
                }]),
                options: url.options.clone(),
            };
            return bind(&set);
        }
        _ => {
            return Err(BindError::invalid(
                PATH,
                None,
                "`$all` takes at most an entity type: `$all/Prospect.Crm.Contact`",
            ))
        }
    }
    let o = &url.options;
    if let Some(option) = first_given(&[
        ("$orderby", o.orderby.is_some()),
        ("$expand", o.expand.is_some()),
        ("$compute", o.compute.is_some()),
        ("$apply", o.apply.is_some()),
    ]) {
        return Err(BindError::unsupported(
            option,
            None,
            format!(
                "{option} over the entities of every type is not supported; \
                 name a type (`$all/Prospect.Crm.Contact`) or read its entity set"
            ),
        ));
    }
    if let Some(filter) = &o.filter {
        if let Some((name, pos)) = unknown_member(filter) {
            return Err(BindError::invalid(
                "$filter",
                Some(pos),
                format!("`{name}` is a property of no entity type of this service"),
            ));
        }
    }
    if let Some(items) = &o.select {
        for item in items {
            if let SelectItem::Path { path, pos, .. } = item {
                if !MODEL.types.iter().any(|t| has_member(t, path)) {
                    return Err(BindError::invalid(
                        "$select",
                        Some(pos.0),
                        format!(
                            "`{}` is a property of no entity type of this service",
                            path.join("/")
                        ),
                    ));
                }
            }
        }
    }
    let mut reads = Vec::with_capacity(MODEL.types.len());
    for entity in &MODEL.types {
        let select = o.select.as_ref().map(|items| {
            items
                .iter()
                .filter(|item| match item {
                    SelectItem::Path { path, .. } => has_member(entity, path),
                    SelectItem::Star | SelectItem::AllOperations(_) => true,
                })
                .cloned()
                .collect::<Vec<_>>()
        });
        // None of the names is this type's: its entities come with no properties.
        let none_selected = select.as_ref().is_some_and(Vec::is_empty);
        let set = ODataUrl {
            path: ResourcePath::Segments(vec![PathSegment::Name {
                name: entity.set.to_owned(),
                key: None,
                pos: Default::default(),
            }]),
            options: QueryOptions {
                filter: o.filter.as_ref().map(|f| absent_as_null(f, entity)),
                select: select.filter(|s| !s.is_empty()),
                top: None,
                skip: None,
                count: None,
                skiptoken: None,
                ..o.clone()
            },
        };
        match bind(&set)? {
            Target::Entities(mut read) => {
                if none_selected {
                    read.shape.select = Some(Vec::new());
                }
                reads.push(read);
            }
            _ => {
                return Err(BindError::unsupported(
                    PATH,
                    None,
                    format!("`$all` with these options over {}", entity.set),
                ))
            }
        }
    }
    Ok(Target::All(AllEntities {
        reads,
        top: o.top,
        skip: o.skip,
        count: o.count.unwrap_or(false),
    }))
}

/// The entity type named `name`, qualified or not, in any letter case.
fn entity_type(name: &str) -> Option<&'static EntityType> {
    let unqualified = match name.rsplit_once('.') {
        Some((ns, n)) if ns.eq_ignore_ascii_case(MODEL.namespace) => n,
        Some(_) => return None,
        None => name,
    };
    MODEL
        .types
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(unqualified))
}

/// Whether `path` starts with a property or navigation property of `entity`.
fn has_member(entity: &EntityType, path: &[String]) -> bool {
    path.first()
        .is_some_and(|n| entity.property(n).is_some() || entity.nav(n).is_some())
}

/// `e` with each member `entity` lacks as `null`.
fn absent_as_null(e: &Expr, entity: &EntityType) -> Expr {
    typed_boolean_nulls(map_members(e, &|path, pos| {
        (!has_member(entity, path)).then_some(Expr::Literal(Literal::Null, pos))
    }))
}

/// `e` with a `null` where a Boolean stands (the filter itself, an operand of `and`,
/// `or` or `not`) written as a Boolean null, which a bare `null` literal is not there.
fn typed_boolean_nulls(e: Expr) -> Expr {
    match e {
        Expr::Literal(Literal::Null, pos) => Expr::Call(
            Function::Cast,
            vec![
                Expr::Literal(Literal::Null, pos),
                Expr::TypeName("Edm.Boolean".into()),
            ],
            pos,
        ),
        Expr::Binary(op @ (BinaryOp::And | BinaryOp::Or), a, b) => Expr::Binary(
            op,
            Box::new(typed_boolean_nulls(*a)),
            Box::new(typed_boolean_nulls(*b)),
        ),
        Expr::Unary(UnaryOp::Not, a) => {
            Expr::Unary(UnaryOp::Not, Box::new(typed_boolean_nulls(*a)))
        }
        other => other,
    }
}

/// The first member of `e` no entity type has, with its position.
fn unknown_member(e: &Expr) -> Option<(String, usize)> {
    let unknown = std::cell::RefCell::new(None);
    map_members(e, &|path, pos| {
        let known = MODEL.types.iter().any(|t| has_member(t, path));
        if !known && unknown.borrow().is_none() {
            *unknown.borrow_mut() = Some((path.join("/"), pos.0));
        }
        None
    });
    unknown.into_inner()
}
