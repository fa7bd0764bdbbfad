//! Query options: splitting the raw query string, option names (case-insensitive, `$`
//! optional), and the values of `$select`, `$expand`, `$orderby`, `$compute` and the
//! scalar options, at the top level and nested inside `(...;...)`.

use std::borrow::Cow;

use crate::ast::*;
use crate::decode::{decode, Src};
use crate::error::{backtrack, commit, fail, found, too_deep, ErrorKind, PErr, ParseError, Res};
use crate::expr::{expr, only_ws};
use crate::lex::{bws, digits, identifier, is_ws, keyword, qualified, rws};
use crate::search::search;

/// `$expand` nesting limit.
pub(crate) const MAX_EXPAND_DEPTH: u32 = 32;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opt {
    Select,
    Expand,
    Filter,
    OrderBy,
    Top,
    Skip,
    Count,
    Search,
    SkipToken,
    Format,
    Compute,
    Levels,
    Id,
    Index,
    SchemaVersion,
    DeltaToken,
    Temporal(&'static str),
    Apply,
}

pub(crate) fn opt_by_name(name: &str) -> Option<Opt> {
    let n = name.strip_prefix('$').unwrap_or(name);
    let mut buf = [0u8; 16];
    Some(match crate::lex::lower(n, &mut buf)? {
        b"select" => Opt::Select,
        b"expand" => Opt::Expand,
        b"filter" => Opt::Filter,
        b"orderby" => Opt::OrderBy,
        b"top" => Opt::Top,
        b"skip" => Opt::Skip,
        b"count" => Opt::Count,
        b"search" => Opt::Search,
        b"skiptoken" => Opt::SkipToken,
        b"format" => Opt::Format,
        b"compute" => Opt::Compute,
        b"levels" => Opt::Levels,
        b"id" => Opt::Id,
        b"index" => Opt::Index,
        b"schemaversion" => Opt::SchemaVersion,
        b"deltatoken" => Opt::DeltaToken,
        b"at" => Opt::Temporal("at"),
        b"from" => Opt::Temporal("from"),
        b"to" => Opt::Temporal("to"),
        b"toinclusive" => Opt::Temporal("toInclusive"),
        b"apply" => Opt::Apply,
        _ => return None,
    })
}

fn err(kind: ErrorKind, option: &str, offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        kind,
        option: option.to_string(),
        offset,
        message: message.into(),
    }
}

/// Converts an internal error inside `src` to the public one.
pub(crate) fn to_public(src: &Src<'_>, option: &str, e: nom::Err<PErr<'_>>) -> ParseError {
    match e {
        nom::Err::Error(p) | nom::Err::Failure(p) => {
            let message = if p.msg == "unexpected input" || p.msg == "expected a value" {
                format!("{}, found {}", p.msg, found(p.at))
            } else {
                p.msg.into_owned()
            };
            err(p.kind, option, src.off(p.at), message)
        }
        nom::Err::Incomplete(_) => err(ErrorKind::Syntax, option, src.off(""), "incomplete input"),
    }
}

/// Parses the raw query string (without `?`).
/// Percent-encoded forms of the whitespace `is_ws` accepts.
const ENCODED_WS: [&str; 6] = ["%20", "%09", "%0A", "%0a", "%0D", "%0d"];

fn trim_ws_start(mut s: &str) -> &str {
    loop {
        let t = s.trim_start_matches(is_ws);
        match ENCODED_WS.iter().find_map(|w| t.strip_prefix(w)) {
            Some(rest) => s = rest,
            None => return t,
        }
    }
}

fn trim_ws_end(mut s: &str) -> &str {
    loop {
        let t = s.trim_end_matches(is_ws);
        match ENCODED_WS.iter().find_map(|w| t.strip_suffix(w)) {
            Some(rest) => s = rest,
            None => return t,
        }
    }
}

pub(crate) fn parse_query(raw: &str) -> Result<QueryOptions, ParseError> {
    let mut q = QueryOptions::default();
    let mut start = 0;
    for piece in raw.split('&') {
        let piece_start = start;
        start += piece.len() + 1;
        // Pasted multi-line queries put line breaks around `&`, raw or percent-encoded.
        let trimmed_front = trim_ws_start(piece);
        let off = piece_start + (piece.len() - trimmed_front.len());
        let piece = trim_ws_end(trimmed_front);
        if piece.is_empty() {
            continue;
        }
        if let Some(h) = piece.find('#') {
            return Err(err(
                ErrorKind::Syntax,
                "query",
                off + h,
                "unexpected `#` in the query; write it as `%23`",
            ));
        }
        let (name_raw, value_raw) = match piece.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (piece, None),
        };
        let value_off = off + name_raw.len() + 1;
        let name =
            decode(name_raw).map_err(|(o, m)| err(ErrorKind::Syntax, "query", off + o, m))?;
        if name.is_empty() {
            return Err(err(
                ErrorKind::Syntax,
                "query",
                off,
                "expected an option name before `=`",
            ));
        }
        if let Some(alias) = name.strip_prefix('@') {
            if !matches!(identifier(alias), Ok(("", _))) {
                return Err(err(
                    ErrorKind::Syntax,
                    &name,
                    off,
                    format!("invalid parameter alias name `{name}`"),
                ));
            }
            let Some(v) = value_raw else {
                return Err(err(
                    ErrorKind::Syntax,
                    &name,
                    off + piece.len(),
                    format!("expected `=` and a value for `{name}`"),
                ));
            };
            if q.aliases.iter().any(|(n, _)| n == alias) {
                return Err(err(
                    ErrorKind::Syntax,
                    &name,
                    off,
                    format!("duplicate parameter alias `{name}`"),
                ));
            }
            let e = whole(&name, v, value_off, |c, i| expr(c, i, 0))?;
            q.aliases.push((alias.to_string(), e));
            continue;
        }
        let opt = opt_by_name(&name);
        let Some(opt) = opt else {
            if name.starts_with('$') {
                return Err(err(
                    ErrorKind::Syntax,
                    &name,
                    off,
                    format!("unknown system query option `{name}`"),
                ));
            }
            let value = match value_raw {
                Some(v) => decode(v)
                    .map_err(|(o, m)| err(ErrorKind::Syntax, &name, value_off + o, m))?
                    .into_owned(),
                None => String::new(),
            };
            q.custom.push((name.into_owned(), value));
            continue;
        };
        if opt == Opt::Levels {
            return Err(err(
                ErrorKind::Syntax,
                &name,
                off,
                "`$levels` is only allowed inside `$expand(...)`",
            ));
        }
        let Some(v) = value_raw else {
            return Err(err(
                ErrorKind::Syntax,
                &name,
                off + piece.len(),
                format!("expected `=` and a value after `{name}`"),
            ));
        };
        if is_set(&q, opt) {
            return Err(err(
                ErrorKind::Syntax,
                &name,
                off,
                format!("duplicate `{name}` option"),
            ));
        }
        let text = decode(v).map_err(|(o, m)| err(ErrorKind::Syntax, &name, value_off + o, m))?;
        let src = Src::new(&text, v, value_off);
        let r = option_value(&src, opt, &text, false, 0, &mut q)
            .map_err(|e| to_public(&src, &name, e))?;
        if !r.is_empty() {
            return Err(err(
                ErrorKind::Syntax,
                &name,
                src.off(bws(r)),
                format!("unexpected {} in `{name}`", found(r)),
            ));
        }
    }
    Ok(q)
}

/// Decodes `raw` and runs `p` over all of it.
pub(crate) fn whole<T>(
    option: &str,
    raw: &str,
    raw_off: usize,
    p: impl for<'a> Fn(&Src<'_>, &'a str) -> Res<'a, T>,
) -> Result<T, ParseError> {
    let text: Cow<'_, str> =
        decode(raw).map_err(|(o, m)| err(ErrorKind::Syntax, option, raw_off + o, m))?;
    let src = Src::new(&text, raw, raw_off);
    let (r, v) = p(&src, &text).map_err(|e| to_public(&src, option, e))?;
    if !only_ws(r) {
        return Err(err(
            ErrorKind::Syntax,
            option,
            src.off(bws(r)),
            format!("unexpected {}", found(r)),
        ));
    }
    Ok(v)
}

fn is_set(q: &QueryOptions, o: Opt) -> bool {
    match o {
        Opt::Select => q.select.is_some(),
        Opt::Expand => q.expand.is_some(),
        Opt::Filter => q.filter.is_some(),
        Opt::OrderBy => q.orderby.is_some(),
        Opt::Top => q.top.is_some(),
        Opt::Skip => q.skip.is_some(),
        Opt::Count => q.count.is_some(),
        Opt::Search => q.search.is_some(),
        Opt::SkipToken => q.skiptoken.is_some(),
        Opt::Format => q.format.is_some(),
        Opt::Compute => q.compute.is_some(),
        Opt::Levels => q.levels.is_some(),
        Opt::Id => q.id.is_some(),
        Opt::Index => q.index.is_some(),
        Opt::SchemaVersion => q.schemaversion.is_some(),
        Opt::DeltaToken => q.deltatoken.is_some(),
        Opt::Temporal(n) => q.temporal.iter().any(|(k, _)| k == n),
        Opt::Apply => q.apply.is_some(),
    }
}

/// Text up to the end of a nested option (`;` or `)`), or all of it at the top level.
fn token(i: &str, nested: bool) -> (&str, &str) {
    if !nested {
        return ("", i);
    }
    let end = i.find([';', ')']).unwrap_or(i.len());
    let t = i[..end].trim_end_matches(is_ws);
    (&i[t.len()..], t)
}

pub(crate) fn unsigned(i: &str) -> Res<'_, u64> {
    let n = digits(i);
    if n == 0 {
        return fail(
            i,
            format!("expected a non-negative integer, found {}", found(i)),
        );
    }
    match i[..n].parse::<u64>() {
        Ok(v) => Ok((&i[n..], v)),
        Err(_) => fail(i, "number is too large"),
    }
}

/// Parses one option value and stores it; returns the unconsumed rest.
fn option_value<'a>(
    c: &Src<'_>,
    opt: Opt,
    i: &'a str,
    nested: bool,
    depth: u32,
    q: &mut QueryOptions,
) -> Result<&'a str, nom::Err<PErr<'a>>> {
    let r = match opt {
        Opt::Select => {
            let (r, v) = select_list(c, i, depth)?;
            q.select = Some(v);
            r
        }
        Opt::Expand => {
            let (r, v) = expand_list(c, i, depth)?;
            q.expand = Some(v);
            r
        }
        Opt::Filter => {
            let (r, e) = commit(expr(c, i, 0), |at| {
                format!("expected a condition, found {}", found(at))
            })?;
            q.filter = Some(e);
            r
        }
        Opt::OrderBy => {
            let (r, v) = list(c, i, order_item)?;
            q.orderby = Some(v);
            r
        }
        Opt::Compute => {
            let (r, v) = list(c, i, compute_item)?;
            q.compute = Some(v);
            r
        }
        Opt::Top | Opt::Skip => {
            let (r, v) = unsigned(i)?;
            if opt == Opt::Top {
                q.top = Some(v);
            } else {
                q.skip = Some(v);
            }
            r
        }
        Opt::Index => {
            let neg = i.starts_with('-');
            let (r, v) = unsigned(i.strip_prefix(['-', '+']).unwrap_or(i))?;
            let v = i64::try_from(v).map_err(|_| {
                nom::Err::Failure(PErr {
                    at: i,
                    kind: ErrorKind::Syntax,
                    msg: "number is too large".into(),
                })
            })?;
            q.index = Some(if neg { -v } else { v });
            r
        }
        Opt::Count => {
            if let Ok((r, _)) = keyword(i, "true") {
                q.count = Some(true);
                r
            } else if let Ok((r, _)) = keyword(i, "false") {
                q.count = Some(false);
                r
            } else {
                return fail::<()>(i, format!("expected `true` or `false`, found {}", found(i)))
                    .map(|(r, _)| r);
            }
        }
        Opt::Levels => {
            if let Ok((r, _)) = keyword(i, "max") {
                q.levels = Some(Levels::Max);
                r
            } else {
                let (r, v) = unsigned(i)?;
                if i.starts_with('0') {
                    let msg = if digits(i) > 1 {
                        "`$levels` must not have leading zeros"
                    } else {
                        "`$levels` is at least 1"
                    };
                    return fail::<()>(i, msg).map(|(r, _)| r);
                }
                let v = u32::try_from(v).map_err(|_| {
                    nom::Err::Failure(PErr {
                        at: i,
                        kind: ErrorKind::Syntax,
                        msg: "number is too large".into(),
                    })
                })?;
                q.levels = Some(Levels::N(v));
                r
            }
        }
        Opt::Search => {
            let (r, s) = search(c, i, 0)?;
            q.search = Some(s);
            r
        }
        Opt::Temporal(name) => {
            let (r, e) = commit(expr(c, i, 0), |at| {
                format!("expected a value, found {}", found(at))
            })?;
            q.temporal.push((name.to_string(), e));
            r
        }
        Opt::SkipToken | Opt::Format | Opt::Id | Opt::SchemaVersion | Opt::DeltaToken => {
            let (r, t) = token(i, nested);
            if t.is_empty() {
                return fail::<()>(i, "expected a value").map(|(r, _)| r);
            }
            let t = Some(t.to_string());
            match opt {
                Opt::SkipToken => q.skiptoken = t,
                Opt::Format => q.format = t,
                Opt::Id => q.id = t,
                Opt::SchemaVersion => q.schemaversion = t,
                _ => q.deltatoken = t,
            }
            r
        }
        Opt::Apply => {
            let (r, v) = crate::apply::apply(c, i)?;
            q.apply = Some(v);
            r
        }
    };
    Ok(r)
}

/// Comma-separated list (whitespace allowed after commas).
pub(crate) fn list<'a, T>(
    c: &Src<'_>,
    i: &'a str,
    item: impl Fn(&Src<'_>, &'a str) -> Res<'a, T>,
) -> Res<'a, Vec<T>> {
    let mut out = Vec::new();
    let mut r = i;
    loop {
        let (rest, v) = item(c, r)?;
        out.push(v);
        match rest.strip_prefix(',') {
            Some(more) => r = bws(more),
            None => return Ok((rest, out)),
        }
    }
}

pub(crate) fn order_item<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, OrderItem> {
    let (r, e) = commit(expr(c, i, 0), |at| {
        format!(
            "expected a property or expression to order by, found {}",
            found(at)
        )
    })?;
    let t = bws(r);
    if t.len() < r.len() {
        if let Ok((after, _)) = keyword(t, "asc") {
            return Ok((
                after,
                OrderItem {
                    expr: e,
                    desc: false,
                },
            ));
        }
        if let Ok((after, _)) = keyword(t, "desc") {
            return Ok((
                after,
                OrderItem {
                    expr: e,
                    desc: true,
                },
            ));
        }
    }
    Ok((
        r,
        OrderItem {
            expr: e,
            desc: false,
        },
    ))
}

pub(crate) fn compute_item<'a>(c: &Src<'_>, i: &'a str) -> Res<'a, ComputeItem> {
    let (r, e) = commit(expr(c, i, 0), |at| {
        format!("expected an expression to compute, found {}", found(at))
    })?;
    let (r, alias) = as_alias(r)?;
    Ok((
        r,
        ComputeItem {
            expr: e,
            alias: alias.to_string(),
        },
    ))
}

/// ` as Name` after a computed or aggregated value.
pub(crate) fn as_alias(i: &str) -> Res<'_, &str> {
    word_then_name(i, "as", "name")
}

/// ` word name`: a keyword between spaces, then an identifier (`as Alias`, `with sum`).
pub(crate) fn word_then_name<'a>(i: &'a str, word: &'static str, what: &str) -> Res<'a, &'a str> {
    let (r, _) = commit(rws(i), |at| {
        format!("expected ` {word} ` and a {what}, found {}", found(at))
    })?;
    let (r, _) = commit(keyword(r, word), |at| {
        format!("expected `{word}` and a {what}, found {}", found(at))
    })?;
    let (r, _) = commit(rws(r), |at| {
        format!("expected a {what} after `{word}`, found {}", found(at))
    })?;
    commit(identifier(r), |at| {
        format!("expected a {what} after `{word}`, found {}", found(at))
    })
}

/// A `/`-separated path of names in `$select`/`$expand`: identifiers, qualified names
/// (type casts, actions), annotations `@Ns.Term`, and `*` as the last segment.
fn name_path(i: &str) -> Res<'_, Vec<String>> {
    let mut out = Vec::new();
    let mut r = i;
    loop {
        let (rest, seg) = if let Some(after) = r.strip_prefix('*') {
            (after, "*")
        } else if let Some(after) = r.strip_prefix('@') {
            let (rest, _) = commit(qualified(after), |at| {
                format!("expected an annotation name, found {}", found(at))
            })?;
            (rest, &r[..r.len() - rest.len()])
        } else if r.starts_with("$value") && out.is_empty() {
            (&r[6..], "$value")
        } else {
            match qualified(r) {
                Ok(x) => x,
                Err(_) if out.is_empty() => return backtrack(r, "expected a property name"),
                Err(_) => return fail(r, format!("expected a name after `/`, found {}", found(r))),
            }
        };
        let rest = match rest.strip_prefix(".*") {
            Some(after) if seg != "*" => {
                out.push(format!("{seg}.*"));
                return Ok((after, out));
            }
            _ => rest,
        };
        out.push(seg.to_string());
        if seg == "*" {
            return Ok((rest, out));
        }
        match rest.strip_prefix('/') {
            Some(after) if !after.starts_with('$') => r = after,
            _ => return Ok((rest, out)),
        }
    }
}

fn select_list<'a>(c: &Src<'_>, i: &'a str, depth: u32) -> Res<'a, Vec<SelectItem>> {
    list(c, i, |c, i| select_item(c, i, depth))
}

fn select_item<'a>(c: &Src<'_>, i: &'a str, depth: u32) -> Res<'a, SelectItem> {
    let pos = c.pos(i);
    let (r, mut path) = commit(name_path(i), |at| {
        format!("expected a property name or `*`, found {}", found(at))
    })?;
    if path.len() == 1 && path.first().is_some_and(|s| s == "*") {
        return Ok((r, SelectItem::Star));
    }
    if let Some(ns) = path.last().and_then(|s| s.strip_suffix(".*")) {
        if path.len() == 1 {
            return Ok((r, SelectItem::AllOperations(ns.to_string())));
        }
        return fail(i, "`Namespace.*` must stand alone in `$select`");
    }
    if r.starts_with('(') {
        // `Fn(Param1,Param2)` names an overload; keep the signature with the name.
        if let Some((rest, sig)) = signature(r) {
            if let Some(last) = path.last_mut() {
                last.push_str(sig);
            }
            return Ok((
                rest,
                SelectItem::Path {
                    path,
                    options: None,
                    pos,
                },
            ));
        }
        let (rest, opts) = nested(c, r, depth + 1, false)?;
        return Ok((
            rest,
            SelectItem::Path {
                path,
                options: Some(Box::new(opts)),
                pos,
            },
        ));
    }
    Ok((
        r,
        SelectItem::Path {
            path,
            options: None,
            pos,
        },
    ))
}

/// `(A,B)` — a function signature in `$select`.
fn signature(i: &str) -> Option<(&str, &str)> {
    let mut r = i.strip_prefix('(')?;
    loop {
        let (rest, _) = qualified(r).ok()?;
        if let Some(more) = rest.strip_prefix(',') {
            r = more;
        } else {
            let done = rest.strip_prefix(')')?;
            return Some((done, &i[..i.len() - done.len()]));
        }
    }
}

fn expand_list<'a>(c: &Src<'_>, i: &'a str, depth: u32) -> Res<'a, Vec<ExpandItem>> {
    list(c, i, |c, i| expand_item(c, i, depth))
}

fn expand_item<'a>(c: &Src<'_>, i: &'a str, depth: u32) -> Res<'a, ExpandItem> {
    let pos = c.pos(i);
    let (mut r, path) = commit(name_path(i), |at| {
        format!("expected a navigation property or `*`, found {}", found(at))
    })?;
    if path.last().is_some_and(|s| s.ends_with(".*")) {
        return fail(i, "`Namespace.*` is not allowed in `$expand`");
    }
    let target = if path.len() == 1 && path.first().is_some_and(|s| s == "*") {
        ExpandTarget::Star
    } else {
        ExpandTarget::Path(path)
    };
    let (mut is_ref, mut is_count) = (false, false);
    if let Some(after) = r.strip_prefix("/$ref") {
        is_ref = true;
        r = after;
    } else if let Some(after) = r.strip_prefix("/$count") {
        is_count = true;
        r = after;
    }
    if let Some(after) = r.strip_prefix('/') {
        return fail(r, format!("unexpected {} in `$expand` path", found(after)));
    }
    let mut options = QueryOptions::default();
    if r.starts_with('(') {
        let open = r;
        let (rest, o) = nested(c, r, depth + 1, true)?;
        let bad = if is_ref {
            o.select.is_some()
                || o.expand.is_some()
                || o.levels.is_some()
                || o.compute.is_some()
                || o.apply.is_some()
        } else if is_count {
            o != QueryOptions {
                filter: o.filter.clone(),
                search: o.search.clone(),
                ..Default::default()
            }
        } else {
            false
        };
        if bad {
            let which = if is_ref { "$ref" } else { "$count" };
            return fail(
                open,
                format!(
                    "only `$filter` and `$search`{} are allowed after `/{which}`",
                    if is_ref {
                        ", `$orderby`, `$top`, `$skip` and `$count`"
                    } else {
                        ""
                    }
                ),
            );
        }
        options = o;
        r = rest;
    }
    Ok((
        r,
        ExpandItem {
            target,
            is_ref,
            is_count,
            options,
            pos,
        },
    ))
}

/// Nested options `( opt=value ; ... )`; `i` starts at `(`.
fn nested<'a>(c: &Src<'_>, i: &'a str, depth: u32, in_expand: bool) -> Res<'a, QueryOptions> {
    if depth > MAX_EXPAND_DEPTH {
        return too_deep(i, "`$expand`/`$select` nested too deeply (limit 32)");
    }
    let mut q = QueryOptions::default();
    let mut r = bws(&i[1..]);
    if let Some(done) = r.strip_prefix(')') {
        return Ok((done, q));
    }
    loop {
        let name_start = r;
        if let Some(alias) = r.strip_prefix('@') {
            let (after, name) = commit(identifier(alias), |at| {
                format!("expected an alias name, found {}", found(at))
            })?;
            let Some(after) = after.strip_prefix('=') else {
                return fail(after, format!("expected `=` after `@{name}`"));
            };
            let (after, e) = commit(expr(c, after, 0), |at| {
                format!("expected a value, found {}", found(at))
            })?;
            q.aliases.push((name.to_string(), e));
            r = after;
        } else {
            let body = r.strip_prefix('$').unwrap_or(r);
            let (after, name) = commit(identifier(body), |at| {
                format!(
                    "expected a query option such as `$select=`, found {}",
                    found(at)
                )
            })?;
            let Some(opt) = opt_by_name(name) else {
                return fail(
                    name_start,
                    format!(
                        "unknown query option `{}`",
                        &name_start[..name_start.len() - after.len()]
                    ),
                );
            };
            // Data Aggregation adds `$apply` to `$expand`'s options, not to `$select`'s.
            if opt == Opt::Apply && !in_expand {
                return Err(nom::Err::Failure(PErr {
                    at: name_start,
                    kind: ErrorKind::NotImplemented,
                    msg: "$apply inside $select is not implemented".into(),
                }));
            }
            if matches!(
                opt,
                Opt::SkipToken
                    | Opt::Format
                    | Opt::Id
                    | Opt::Index
                    | Opt::SchemaVersion
                    | Opt::DeltaToken
            ) {
                // Not an `expandOption`/`selectOption` in the ABNF: a request's own
                // options, which a nested resource would otherwise silently ignore.
                return fail(
                    name_start,
                    format!(
                        "`{}` is not allowed inside `$expand(...)` or `$select(...)`",
                        &name_start[..name_start.len() - after.len()]
                    ),
                );
            }
            if opt == Opt::Levels && !in_expand {
                return fail(
                    name_start,
                    "`$levels` is only allowed inside `$expand(...)`",
                );
            }
            if is_set(&q, opt) {
                return fail(name_start, "duplicate option");
            }
            let Some(after) = after.strip_prefix('=') else {
                return fail(
                    after,
                    format!("expected `=` after the option name, found {}", found(after)),
                );
            };
            r = option_value(c, opt, after, true, depth, &mut q)?;
        }
        let t = bws(r);
        if let Some(more) = t.strip_prefix(';') {
            r = bws(more);
            if let Some(done) = r.strip_prefix(')') {
                return Ok((done, q));
            }
        } else if let Some(done) = t.strip_prefix(')') {
            return Ok((done, q));
        } else {
            return fail(t, format!("expected `;` or `)`, found {}", found(t)));
        }
    }
}
