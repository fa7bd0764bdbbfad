//! Bind stage: resolves the syntax tree against the entity model (case-insensitively)
//! and produces the typed request the planner and SQL stage work from.

mod aggregate;
mod all;
mod cast;
mod concat;
mod crossjoin;
mod error;
mod expand_levels;
mod expr;
mod functions;
pub mod ir;
mod literal;
pub mod next_query;
pub mod pattern;
mod shape;

pub use error::{BindError, BindErrorKind};
pub use expand_levels::EXPAND_MAX_LEVELS;
pub use ir::*;
pub use literal::normalize_dto;

use crate::model::{EdmType, MODEL};
use expr::ExprBinder;
use odata_parser::{
    Expr, KeyPredicate, ODataUrl, PathSegment, QueryOptions, ResourcePath, SearchExpr,
};
use shape::bind_shape;

pub fn bind(url: &ODataUrl) -> Result<Target, BindError> {
    bind_as(url, false)
}

/// `rows`: an `$apply` that neither groups nor aggregates still gives the rows of an
/// aggregated result (the entities it keeps, each with its properties), as a sequence
/// of `concat` must.
fn bind_as(url: &ODataUrl, rows: bool) -> Result<Target, BindError> {
    no_write_or_delta_options(&url.options)?;
    // Before the leading steps of `$apply` become options: each sequence takes them.
    if let (ResourcePath::Segments(_), Some(apply)) = (&url.path, &url.options.apply) {
        if concat::has_concat(apply) {
            return concat::bind_concat(url, apply, |u| bind_as(u, true));
        }
    }
    these_after_entity_filters(&url.options)?;
    let computed;
    let url = match entity_steps_as_options(&url.options).filter(|_| !rows) {
        Some(options) => {
            computed = ODataUrl {
                path: url.path.clone(),
                options,
            };
            &computed
        }
        None => url,
    };
    let segs = match &url.path {
        ResourcePath::ServiceRoot => return Ok(Target::ServiceDocument),
        ResourcePath::Metadata => return Ok(Target::Metadata),
        ResourcePath::Batch => return Ok(Target::Batch),
        ResourcePath::Segments(s) => s,
    };
    let aliases = &url.options.aliases;
    let mut iter = segs.iter().peekable();
    let (set_name, set_key, set_pos) = match iter.next() {
        Some(PathSegment::Name { name, key, pos }) => (name, key, pos.0),
        Some(PathSegment::All) => return all::bind_all(url, segs, |u| bind_as(u, false)),
        Some(PathSegment::CrossJoin(sets)) if segs.len() == 1 => {
            return crossjoin::bind_crossjoin(sets, &url.options)
        }
        Some(PathSegment::CrossJoin(_)) => {
            return Err(BindError::invalid(
                "path",
                None,
                "nothing may follow `$crossjoin(...)`",
            ))
        }
        Some(PathSegment::Entity) => {
            return Err(BindError::invalid(
                "path",
                Some(0),
                "`$entity` takes `$id` and at most a type: `$entity/Type?$id=Contacts(1)`",
            ))
        }
        Some(other) => {
            return Err(BindError::not_found(
                "path",
                Some(0),
                format!("`{}` is not an entity set", seg_text(other)),
            ))
        }
        None => return Ok(Target::ServiceDocument),
    };
    let mut entity = MODEL.entity_set(set_name).ok_or_else(|| {
        BindError::not_found(
            "path",
            Some(set_pos),
            format!("`{set_name}` is not an entity set of this service"),
        )
    })?;
    let mut key = set_key
        .as_ref()
        .map(|k| bind_key("path", 0, entity, k, aliases, set_pos))
        .transpose()?;
    let mut single = key.is_some();
    let mut context = if single {
        format!("{}/$entity", entity.set)
    } else {
        entity.set.to_owned()
    };
    let mut path: Vec<PathStep> = Vec::new();
    // `/$filter(...)` segments (4.01) narrowing the collection addressed so far.
    let mut narrowing: Vec<&Expr> = Vec::new();
    while let Some(seg) = iter.next() {
        match seg {
            PathSegment::Filter(e) if !single => narrowing.push(e),
            PathSegment::Filter(_) => {
                return Err(BindError::invalid(
                    "path",
                    None,
                    "`$filter(...)` needs a collection before it",
                ))
            }
            // Key-as-segment (URL conventions 4.3.6): after a collection, a segment is
            // the key value (`Contacts/42`, `LeadStatus/WON`), as if in parentheses. A
            // name of the entity's own properties or navigation is not taken for a key:
            // `Contacts/Leads` most likely means the leads of one contact (the error below).
            PathSegment::KeyOrIndex(text) if !single && narrowing.is_empty() => {
                key = Some(key_segment(entity, text, 0, aliases)?);
                (single, context) = (true, format!("{}/$entity", entity.set));
            }
            PathSegment::Name {
                name,
                key: None,
                pos,
            } if !single
                && narrowing.is_empty()
                && entity.nav(name).is_none()
                && entity.property(name).is_none() =>
            {
                key = Some(key_segment(entity, name, pos.0, aliases)?);
                (single, context) = (true, format!("{}/$entity", entity.set));
            }
            PathSegment::Name { pos, .. } if !narrowing.is_empty() => {
                return Err(BindError::unsupported(
                    "path",
                    Some(pos.0),
                    "only `$count`, `$ref` or another `$filter(...)` may follow `$filter(...)`",
                ))
            }
            PathSegment::Name {
                name,
                key: seg_key,
                pos,
            } => {
                if let Some(nav) = entity.nav(name) {
                    if !single {
                        return Err(collection_first(entity, name, pos.0));
                    }
                    path.push(PathStep {
                        entity,
                        key: key.take(),
                        nav,
                    });
                    entity = MODEL.entity_type(nav.target).ok_or_else(|| {
                        BindError::invalid("path", Some(pos.0), "navigation target missing")
                    })?;
                    key = seg_key
                        .as_ref()
                        .map(|k| bind_key("path", 0, entity, k, aliases, pos.0))
                        .transpose()?;
                    if seg_key.is_some() && !nav.many {
                        return Err(BindError::invalid(
                            "path",
                            Some(pos.0),
                            format!("`{name}` is single-valued and takes no key"),
                        ));
                    }
                    single = !nav.many || key.is_some();
                    context = if single {
                        format!("{}/$entity", entity.set)
                    } else {
                        entity.set.to_owned()
                    };
                } else if let Some(prop) = entity.property(name) {
                    if !single {
                        return Err(collection_first(entity, name, pos.0));
                    }
                    if seg_key.is_some() {
                        return Err(BindError::invalid(
                            "path",
                            Some(pos.0),
                            format!("property `{name}` takes no key"),
                        ));
                    }
                    let raw = match iter.next() {
                        None => false,
                        Some(PathSegment::Value) if iter.peek().is_none() => true,
                        Some(other) => {
                            return Err(BindError::invalid(
                                "path",
                                Some(pos.0),
                                format!(
                                    "`{}` cannot follow property `{}`",
                                    seg_text(other),
                                    prop.name
                                ),
                            ))
                        }
                    };
                    no_apply(&url.options, "a property")?;
                    let read = read(
                        entity,
                        path,
                        key,
                        true,
                        context_for_property(entity, prop),
                        &url.options,
                        true,
                    )?;
                    return Ok(Target::Property { read, prop, raw });
                } else {
                    return Err(BindError::not_found(
                        "path",
                        Some(pos.0),
                        format!(
                            "`{name}` is not a property or navigation property of {}",
                            entity.name
                        ),
                    ));
                }
            }
            PathSegment::Count if iter.peek().is_none() => {
                if single {
                    return Err(BindError::invalid(
                        "path",
                        None,
                        "`$count` needs a collection",
                    ));
                }
                if let Some(apply) = &url.options.apply {
                    if !rows && narrowing.is_empty() && aggregate::ranks_entities(apply) {
                        let r = read(entity, path, key, false, context, &url.options, false)?;
                        return Ok(
                            match aggregate::entity_ranking(r, &url.options.aliases, apply)? {
                                Target::Entities(r) => Target::Count(r),
                                other => other,
                            },
                        );
                    }
                    let before = before_apply(&url.options, apply, rows);
                    let before = narrowed(&before, &narrowing)?;
                    let r = read(entity, path, key, false, context, &before, false)?;
                    return Ok(match aggregate::bind(r, &url.options, apply, rows)? {
                        Target::Aggregated(ag) => Target::AggregatedCount(ag),
                        Target::Entities(r) => Target::Count(r),
                        other => other,
                    });
                }
                let o = narrowed(&url.options, &narrowing)?;
                let r = read(entity, path, key, false, context, &o, false)?;
                return Ok(Target::Count(r));
            }
            PathSegment::Ref if iter.peek().is_none() => {
                no_apply(&url.options, "entity references")?;
                // References have no properties to select, expand or compute.
                let o = &url.options;
                if let Some(option) = first_given(&[
                    ("$select", o.select.is_some()),
                    ("$expand", o.expand.is_some()),
                    ("$compute", o.compute.is_some()),
                ]) {
                    return Err(BindError::invalid(
                        option,
                        None,
                        format!("{option} does not apply to entity references (`$ref`)"),
                    ));
                }
                let context = if single { "$ref" } else { "Collection($ref)" };
                let o = narrowed(o, &narrowing)?;
                let r = read(entity, path, key, single, context.into(), &o, true)?;
                return Ok(Target::References(r));
            }
            PathSegment::Ref => {
                return Err(BindError::invalid("path", None, "`$ref` must end the path"))
            }
            PathSegment::Value => {
                return Err(BindError::invalid(
                    "path",
                    None,
                    "`$value` must follow a property",
                ))
            }
            other => {
                return Err(BindError::unsupported(
                    "path",
                    None,
                    format!("`{}` is not supported", seg_text(other)),
                ))
            }
        }
    }
    if let Some(apply) = &url.options.apply {
        // The path's `$filter(...)` segments narrow what is ranked: those take the
        // aggregation's way, which keeps them apart from `$filter`.
        if !rows && narrowing.is_empty() && !single && aggregate::ranks_entities(apply) {
            let r = read(entity, path, key, single, context, &url.options, true)?;
            return aggregate::entity_ranking(r, &url.options.aliases, apply);
        }
        let before = before_apply(&url.options, apply, rows);
        let before = narrowed(&before, &narrowing)?;
        let r = read(entity, path, key, single, context, &before, true)?;
        return aggregate::bind(r, &url.options, apply, rows);
    }
    let o = narrowed(&url.options, &narrowing)?;
    let r = read(entity, path, key, single, context, &o, true)?;
    Ok(Target::Entities(r))
}

/// A property or navigation named after a collection, where one entity must come first.
fn collection_first(entity: Entity, name: &str, at: usize) -> BindError {
    BindError::invalid(
        "path",
        Some(at),
        format!(
            "`{0}` is a collection: address one entity with a key before `{name}`, e.g. \
             `{0}(1)/{name}` or `{0}/1/{name}`",
            entity.set
        ),
    )
}

/// The key a path segment after a collection gives (`Contacts/42`): its text is the
/// value itself, a string key's unquoted.
fn key_segment(
    entity: Entity,
    text: &str,
    at: usize,
    aliases: &[(String, Expr)],
) -> Result<Vec<(Prop, Value)>, BindError> {
    let key = entity.key_properties().next();
    let literal = match key.map(|p| p.ty) {
        Some(EdmType::String) => odata_parser::Literal::String(text.to_owned()),
        _ => odata_parser::Literal::Int(text.parse::<i64>().map_err(|_| {
            let digits = text.strip_prefix('-').unwrap_or(text);
            match key {
                // A number, just too large for any integer key: no value of the key's type.
                Some(p) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    BindError::invalid(
                        "path",
                        Some(at),
                        format!(
                            "key {} of {} must be {}, found {text}",
                            p.name,
                            entity.name,
                            p.ty.name()
                        ),
                    )
                }
                _ => BindError::not_found(
                    "path",
                    Some(at),
                    format!(
                        "`{text}` is neither a key of {} nor something that may follow a collection",
                        entity.set
                    ),
                ),
            }
        })?),
    };
    let k = KeyPredicate::Single(Expr::Literal(literal, odata_parser::Pos(at)));
    bind_key("path", 0, entity, &k, aliases, at)
}

/// `$these` in `$compute` or `$filter` names what `$apply` left; filter steps of an
/// `$apply` that keeps entities join `$filter` itself, so that could not be told apart.
fn these_after_entity_filters(o: &QueryOptions) -> Result<(), BindError> {
    use odata_parser::Transformation as T;
    let Some(apply) = &o.apply else {
        return Ok(());
    };
    let entities = !apply
        .iter()
        .any(|t| matches!(t, T::Aggregate(_) | T::GroupBy { .. }));
    let filters = apply.iter().any(|t| matches!(t, T::Filter(_)));
    if entities && filters && options_name_these(o) {
        return Err(BindError::unsupported(
            "$apply",
            None,
            "`$these` in $compute or $filter after `$apply` filter steps over entities is not supported",
        ));
    }
    Ok(())
}

/// Whether `$these` occurs in `$filter` or `$compute` (or in an alias they may name).
fn options_name_these(o: &QueryOptions) -> bool {
    o.filter.as_ref().is_some_and(Expr::names_these)
        || o.compute.iter().flatten().any(|c| c.expr.names_these())
        || o.aliases.iter().any(|(_, v)| v.names_these())
}

/// `o` with the path's `$filter(...)` segments joined to its own `$filter` by `and`:
/// they narrow the collection the options then apply to.
fn narrowed<'o>(
    o: &'o QueryOptions,
    narrowing: &[&Expr],
) -> Result<std::borrow::Cow<'o, QueryOptions>, BindError> {
    if narrowing.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(o));
    }
    // `$these` in `$compute` and `$filter` names the collection before `$filter`, which
    // holds these segments: joined into it, they could not be told apart.
    if options_name_these(o) {
        return Err(BindError::unsupported(
            "path",
            None,
            "`$these` in $compute or $filter after `/$filter(...)` path segments is not supported",
        ));
    }
    let mut all = narrowing
        .iter()
        .map(|e| (*e).clone())
        .chain(o.filter.clone());
    let first = all.next();
    let joined = all.fold(first, |acc, e| {
        acc.map(|a| Expr::Binary(odata_parser::BinaryOp::And, Box::new(a), Box::new(e)))
    });
    Ok(std::borrow::Cow::Owned(QueryOptions {
        filter: joined,
        ..o.clone()
    }))
}

/// `$apply` without groupby or aggregate but with `compute`: its leading `compute`,
/// `filter` and `search` steps as `$compute`, `$filter` and `$search` (each keeps or
/// extends entities one by one, so they read the same: Data Aggregation 3.3), the rest
/// left to `$apply`. `None` where there is nothing to move.
fn entity_steps_as_options(o: &QueryOptions) -> Option<QueryOptions> {
    use odata_parser::Transformation as T;
    let apply = o.apply.as_ref()?;
    let grouped = apply
        .iter()
        .any(|t| matches!(t, T::Aggregate(_) | T::GroupBy { .. }));
    let lead = apply
        .iter()
        .take_while(|t| matches!(t, T::Compute(_) | T::Filter(_) | T::Search(_) | T::Identity))
        .count();
    let ranked = apply.iter().any(|t| matches!(t, T::TopSum { .. }));
    if grouped || ranked || !apply[..lead].iter().any(|t| matches!(t, T::Compute(_))) {
        return None;
    }
    // `$these` in a step names what the steps before it left, which the options see
    // only for a `compute` before any filter or search and a `filter` before any other
    // filter (`bind::TheseInput`); otherwise the steps stay `$apply`'s (501 there).
    let in_aliases = o.aliases.iter().any(|(_, v)| v.names_these());
    let mut narrowed = (false, false);
    for t in &apply[..lead] {
        let (these, moved) = match t {
            T::Compute(items) => (
                items.iter().any(|i| i.expr.names_these()),
                narrowed.0 || narrowed.1,
            ),
            T::Filter(e) => (e.names_these(), narrowed.1),
            _ => (false, false),
        };
        if (these || in_aliases) && moved {
            return None;
        }
        match t {
            T::Search(_) => narrowed.0 = true,
            T::Filter(_) => narrowed.1 = true,
            _ => {}
        }
    }
    let mut out = o.clone();
    let mut compute = Vec::new();
    for t in &apply[..lead] {
        match t {
            T::Compute(items) => compute.extend(items.iter().cloned()),
            T::Filter(e) => {
                out.filter = Some(match out.filter.take() {
                    Some(f) => Expr::Binary(
                        odata_parser::BinaryOp::And,
                        Box::new(e.clone()),
                        Box::new(f),
                    ),
                    None => e.clone(),
                })
            }
            T::Search(s) => {
                out.search = Some(match out.search.take() {
                    Some(t) => SearchExpr::And(Box::new(s.clone()), Box::new(t)),
                    None => s.clone(),
                })
            }
            _ => {}
        }
    }
    compute.extend(out.compute.take().unwrap_or_default());
    out.compute = Some(compute);
    let rest = apply[lead..].to_vec();
    out.apply = (!rest.is_empty()).then_some(rest);
    Some(out)
}

/// The options that bind to the entities under `$apply`: after a groupby or aggregate
/// the others apply to its result, so the read carries only the parameter aliases.
fn before_apply(
    o: &QueryOptions,
    apply: &[odata_parser::Transformation],
    rows: bool,
) -> QueryOptions {
    use odata_parser::Transformation as T;
    // A topsum-like ranking alone keeps rows of the entities too (see aggregate::bind).
    let aggregates = rows
        || apply.iter().any(|t| {
            matches!(
                t,
                T::Aggregate(_) | T::GroupBy { .. } | T::Compute(_) | T::TopSum { .. }
            )
        });
    if aggregates {
        QueryOptions {
            aliases: o.aliases.clone(),
            ..QueryOptions::default()
        }
    } else {
        o.clone()
    }
}

/// Options a read has no use for are refused rather than ignored: `$id` belongs to
/// `$entity` (which takes it off before binding), `$index` to inserts, and
/// `$deltatoken` to delta links, which this service does not issue. The schema has one
/// version, so `$schemaversion` other than `*` names one that does not exist (404,
/// Protocol §11.2.12).
/// The first of `options` (a name, and whether the request gives it) that is given.
fn first_given(options: &[(&'static str, bool)]) -> Option<&'static str> {
    options
        .iter()
        .find(|(_, given)| *given)
        .map(|(name, _)| *name)
}

fn no_write_or_delta_options(o: &QueryOptions) -> Result<(), BindError> {
    if o.id.is_some() {
        return Err(BindError::invalid(
            "$id",
            None,
            "`$id` addresses an entity only with `$entity`: `$entity?$id=Contacts(1)`",
        ));
    }
    if o.index.is_some() {
        return Err(BindError::invalid(
            "$index",
            None,
            "`$index` places an inserted entity in an ordered collection; a read takes none",
        ));
    }
    if o.deltatoken.is_some() {
        return Err(BindError::unsupported(
            "$deltatoken",
            None,
            "delta links are not supported: this service issues no delta tokens",
        ));
    }
    match o.schemaversion.as_deref() {
        None | Some("*") => Ok(()),
        Some(v) => Err(BindError::not_found(
            "$schemaversion",
            None,
            format!("schema version `{v}` does not exist: this service's schema has no versions (use `*`)"),
        )),
    }
}

fn no_apply(o: &QueryOptions, what: &str) -> Result<(), BindError> {
    match o.apply {
        Some(_) => Err(BindError::unsupported(
            "$apply",
            None,
            format!("$apply on {what} is not supported"),
        )),
        None => Ok(()),
    }
}

fn context_for_property(entity: Entity, prop: Prop) -> String {
    format!("{}/{}", entity.set, prop.name)
}

fn seg_text(s: &PathSegment) -> String {
    match s {
        PathSegment::Name { name, .. } => name.clone(),
        PathSegment::Count => "$count".into(),
        PathSegment::Value => "$value".into(),
        PathSegment::Ref => "$ref".into(),
        PathSegment::KeyOrIndex(k) => k.clone(),
        PathSegment::Filter(e) => format!("$filter({e})"),
        PathSegment::Each => "$each".into(),
        PathSegment::Query => "$query".into(),
        PathSegment::Entity => "$entity".into(),
        PathSegment::All => "$all".into(),
        PathSegment::CrossJoin(sets) => format!("$crossjoin({})", sets.join(",")),
    }
}

fn read(
    entity: Entity,
    path: Vec<PathStep>,
    key: Option<Vec<(Prop, Value)>>,
    single: bool,
    context_path: String,
    options: &QueryOptions,
    shaped: bool,
) -> Result<Read, BindError> {
    let shape = if shaped {
        bind_shape(entity, options, &options.aliases, None, true)?
    } else {
        // `/$count` honours only $filter and $search, the filter naming what `$compute`
        // (or `$apply`'s compute) names.
        let mut s = Shape::default();
        let mut computed = Vec::new();
        if let Some(items) = &options.compute {
            shape::compute_into(
                "$compute",
                entity,
                items,
                &options.aliases,
                None,
                Some(TheseInput::Compute),
                &mut computed,
            )?;
        }
        if let Some(f) = &options.filter {
            s.filter = Some(
                ExprBinder::new("$filter", &options.aliases, entity)
                    .with_computed(&computed)
                    .with_these(Some(TheseInput::Filter))
                    .predicate(f)?,
            );
        }
        s.search = search(&options.search)?;
        s
    };
    Ok(Read {
        entity,
        path,
        key,
        single,
        shape,
        context_path,
    })
}

pub(super) fn bind_key(
    option: &'static str,
    alias_depth: usize,
    entity: Entity,
    key: &KeyPredicate,
    aliases: &[(String, Expr)],
    pos: usize,
) -> Result<Vec<(Prop, Value)>, BindError> {
    let pairs: Vec<(Prop, &Expr)> = match key {
        KeyPredicate::Single(e) => {
            let [k] = entity.key else {
                return Err(BindError::invalid(
                    option,
                    Some(pos),
                    format!(
                        "{} has a composite key; name each key property",
                        entity.name
                    ),
                ));
            };
            let prop = entity
                .property(k)
                .ok_or_else(|| BindError::invalid(option, Some(pos), "key property missing"))?;
            vec![(prop, e)]
        }
        KeyPredicate::Named(named) => {
            let mut out = Vec::new();
            for (name, e) in named {
                let prop = entity
                    .key_properties()
                    .find(|p| p.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        BindError::invalid(
                            option,
                            Some(pos),
                            format!("`{name}` is not a key property of {}", entity.name),
                        )
                    })?;
                out.push((prop, e));
            }
            if out.len() != entity.key.len() {
                return Err(BindError::invalid(
                    option,
                    Some(pos),
                    format!("the key of {} is ({})", entity.name, entity.key.join(",")),
                ));
            }
            out
        }
    };
    let mut b = ExprBinder::new(option, aliases, entity).within_aliases(alias_depth);
    pairs
        .into_iter()
        .map(|(prop, e)| {
            let v = match b.expr(e)? {
                TExpr::Lit(v) => v,
                _ => {
                    return Err(BindError::invalid(
                        option,
                        Some(pos),
                        "a key value must be a literal",
                    ))
                }
            };
            let ok = match (&v, prop.ty) {
                (Value::Int(i), EdmType::Int32) => i32::try_from(*i).is_ok(),
                (Value::Int(_), EdmType::Int64) => true,
                (Value::String(s), EdmType::String) => prop
                    .max_length
                    .is_none_or(|m| s.chars().count() <= m as usize),
                _ => false,
            };
            if !ok {
                // A string longer than its property's MaxLength cannot exist: not found.
                // A number outside its key type's range is no value of it: a 400, like
                // a number too large for Int64 or one with a fraction.
                if matches!((&v, prop.ty), (Value::String(_), EdmType::String)) {
                    return Err(BindError::not_found(
                        option,
                        Some(pos),
                        format!("no {} with {} {}", entity.name, prop.name, fmt_value(&v)),
                    ));
                }
                return Err(BindError::invalid(
                    option,
                    Some(pos),
                    format!(
                        "key {} of {} must be {}, found {}",
                        prop.name,
                        entity.name,
                        prop.ty.name(),
                        fmt_value(&v)
                    ),
                ));
            }
            Ok((prop, v))
        })
        .collect()
}

pub fn fmt_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => d.clone(),
        Value::Double(d) => d.to_string(),
        Value::Duration(d) if *d < 0.0 => format!("duration'-PT{}S'", -d),
        Value::Duration(d) => format!("duration'PT{d}S'"),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::DateTimeOffset(s) | Value::Date(s) | Value::TimeOfDay(s) => s.clone(),
    }
}

/// `$search` as given, unless a term holds U+0000, which no property can hold (see
/// `literal::convert`).
pub(super) fn search(s: &Option<SearchExpr>) -> Result<Option<SearchExpr>, BindError> {
    fn has_nul(s: &SearchExpr) -> bool {
        match s {
            SearchExpr::Term(t) | SearchExpr::Phrase(t) => t.contains('\0'),
            SearchExpr::Not(a) => has_nul(a),
            SearchExpr::And(a, b) | SearchExpr::Or(a, b) => has_nul(a) || has_nul(b),
        }
    }
    match s {
        Some(e) if has_nul(e) => Err(BindError::invalid(
            "$search",
            None,
            "a search term may not contain the character U+0000",
        )),
        _ => Ok(s.clone()),
    }
}
