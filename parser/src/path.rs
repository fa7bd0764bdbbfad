//! Resource paths: `Contacts(1)/Leads/$count`, `$metadata`, `Customers/1`, ...
//! Split on raw `/` first (an encoded `%2F` belongs to a key), then decode each segment.

use crate::ast::*;
use crate::decode::{decode, Src};
use crate::error::{fail, found, ErrorKind, ParseError, Res};
use crate::expr::{expr, key_predicate};
use crate::lex::{bws, is_ws, qualified};
use crate::options::to_public;

fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        kind: ErrorKind::Syntax,
        option: "path".to_string(),
        offset,
        message: message.into(),
    }
}

/// Splits on `/` outside parentheses, so `$filter(A/B eq 1)` stays one segment.
fn split(raw: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (k, b) in raw.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'/' if depth <= 0 => {
                out.push((start, &raw[start..k]));
                start = k + 1;
            }
            _ => {}
        }
    }
    out.push((start, &raw[start..]));
    out
}

pub(crate) fn parse_path(path: &str) -> Result<ResourcePath, ParseError> {
    let front = path.trim_start_matches(is_ws);
    let mut base = path.len() - front.len();
    let mut p = front.trim_end_matches(is_ws);
    if let Some(r) = p.strip_prefix('/') {
        p = r;
        base += 1;
    }
    // `Products(1)/?$select=...` — a trailing slash is harmless.
    p = p.strip_suffix('/').unwrap_or(p);
    if p.is_empty() {
        return Ok(ResourcePath::ServiceRoot);
    }
    let parts = split(p);
    let mut segs: Vec<PathSegment> = Vec::with_capacity(parts.len());
    for (n, &(off, raw)) in parts.iter().enumerate() {
        let at = base + off;
        if raw.is_empty() {
            return Err(err(at, "empty path segment (`//`)"));
        }
        if let Some(last) = segs.last() {
            if matches!(
                last,
                PathSegment::Count | PathSegment::Value | PathSegment::Ref | PathSegment::Query
            ) {
                return Err(err(
                    at,
                    format!(
                        "nothing may follow `{}`",
                        crate::display::segment_text(last)
                    ),
                ));
            }
        }
        let text = decode(raw).map_err(|(o, m)| err(at + o, m))?;
        // `$`-segments in any case, as names are matched (OData 4.01 asks services to
        // accept system names case-insensitively).
        let dollar = text.starts_with('$').then(|| text.to_ascii_lowercase());
        match dollar.as_deref().unwrap_or(&text) {
            "$metadata" | "$batch" if n == 0 => {
                if parts.len() > 1 {
                    return Err(err(
                        at + raw.len(),
                        "nothing may follow `$metadata` or `$batch`",
                    ));
                }
                return Ok(if dollar.as_deref() == Some("$metadata") {
                    ResourcePath::Metadata
                } else {
                    ResourcePath::Batch
                });
            }
            "$count" | "$value" | "$ref" | "$each" | "$query" if n > 0 => {
                segs.push(match dollar.as_deref().unwrap_or_default() {
                    "$count" => PathSegment::Count,
                    "$value" => PathSegment::Value,
                    "$ref" => PathSegment::Ref,
                    "$each" => PathSegment::Each,
                    _ => PathSegment::Query,
                });
                continue;
            }
            "$entity" if n == 0 => {
                segs.push(PathSegment::Entity);
                continue;
            }
            "$all" if n <= 1 => {
                segs.push(PathSegment::All);
                continue;
            }
            _ => {}
        }
        let src = Src::new(&text, raw, at);
        let seg = segment(&src, &text, n == 0).map_err(|e| to_public(&src, "path", e))?;
        if let (PathSegment::Name { key: Some(_), .. }, Some(slash)) = (&seg, raw.find('/')) {
            return Err(err(
                at + slash,
                "a `/` inside a key must be percent-encoded as `%2F`",
            ));
        }
        segs.push(seg);
    }
    Ok(ResourcePath::Segments(segs))
}

fn segment<'a>(
    c: &Src<'_>,
    i: &'a str,
    first: bool,
) -> Result<PathSegment, nom::Err<crate::error::PErr<'a>>> {
    let (r, seg) = segment_inner(c, i, first)?;
    if !r.is_empty() {
        return fail(r, format!("unexpected {} in path segment", found(r))).map(|(_, s)| s);
    }
    Ok(seg)
}

fn segment_inner<'a>(c: &Src<'_>, i: &'a str, first: bool) -> Res<'a, PathSegment> {
    if let Some(r) = i.strip_prefix("$filter(") {
        let (r, e) = expr(c, bws(r), 0)?;
        let r = bws(r);
        return match r.strip_prefix(')') {
            Some(r) => Ok((r, PathSegment::Filter(e))),
            None => fail(r, format!("expected `)`, found {}", found(r))),
        };
    }
    if first {
        if let Some(r) = i.strip_prefix("$crossjoin(") {
            let mut sets = Vec::new();
            let mut r = r;
            loop {
                let (rest, name) =
                    qualified(r).or_else(|_| fail(r, "expected an entity set name"))?;
                sets.push(name.to_string());
                if let Some(more) = rest.strip_prefix(',') {
                    r = more;
                } else if let Some(done) = rest.strip_prefix(')') {
                    return Ok((done, PathSegment::CrossJoin(sets)));
                } else {
                    return fail(rest, format!("expected `,` or `)`, found {}", found(rest)));
                }
            }
        }
    }
    if i.starts_with('$') {
        return fail(i, format!("unknown or misplaced path segment {}", found(i)));
    }
    let pos = c.pos(i);
    match qualified(i) {
        Ok((r, name)) if r.is_empty() || r.starts_with('(') => {
            let (r, key) = if r.starts_with('(') {
                let (r, k) = key_predicate(c, r, 0, false)?;
                (r, Some(k))
            } else {
                (r, None)
            };
            Ok((
                r,
                PathSegment::Name {
                    name: name.to_string(),
                    key,
                    pos,
                },
            ))
        }
        _ if first => fail(
            i,
            format!(
                "expected an entity set or function name, found {}",
                found(i)
            ),
        ),
        // Key-as-segment (`Customers/1`, `People/O'Neil`) or ordinal index.
        _ => {
            if let Some((k, _)) = i
                .char_indices()
                .find(|&(k, ch)| is_ws(ch) && !c.was_encoded(&i[k..]))
            {
                return fail(&i[k..], "unexpected whitespace in path segment");
            }
            Ok(("", PathSegment::KeyOrIndex(i.to_string())))
        }
    }
}
