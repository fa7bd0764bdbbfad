//! Context URL fragments (`$metadata#Customers(Name,Orders())/$entity`, OData Protocol
//! §10), checked without a model. Fragments are not percent-encoded (`#` is literal).

use crate::error::{ErrorKind, ParseError};
use crate::lex::{identifier, qualified};

type R<'a> = Result<&'a str, &'a str>;

fn err(full: &str, at: &str, message: &str) -> ParseError {
    ParseError {
        kind: ErrorKind::Syntax,
        option: "context".into(),
        offset: full.len() - at.len(),
        message: message.into(),
    }
}

/// Checks a context URL: `#fragment`, optionally preceded by a URL ending in `$metadata`.
pub fn check_context_url(url: &str) -> Result<(), ParseError> {
    let Some((before, frag)) = url.split_once('#') else {
        return Err(err(url, url, "expected `#` and a context fragment"));
    };
    if !(before.is_empty() || before.ends_with("$metadata")) {
        return Err(err(url, url, "a context URL is `$metadata#...`"));
    }
    match fragment(frag) {
        Ok("") => Ok(()),
        Ok(rest) => Err(err(url, rest, "unexpected text in context fragment")),
        Err(at) => Err(err(url, at, "invalid context fragment")),
    }
}

fn fragment(s: &str) -> R<'_> {
    for fixed in [
        "Collection($ref)",
        "$ref",
        "Collection(Edm.EntityType)",
        "Collection(Edm.ComplexType)",
    ] {
        if s == fixed {
            return Ok("");
        }
    }
    if let Some(inner) = s.strip_prefix("Collection(") {
        let (rest, _) = qualified(inner).map_err(|_| inner)?;
        let rest = rest.strip_prefix(')').ok_or(rest)?;
        return opt_select(rest, 0);
    }
    // Path of names with keys / select lists, then an optional `/$entity`-style suffix.
    let mut r = s;
    loop {
        let (rest, _) = qualified(r).map_err(|_| r)?;
        let mut rest = rest;
        if rest.starts_with('(') {
            rest = match key(rest) {
                Some(after) => after,
                None => select_list(rest, 0)?,
            };
        }
        match rest.strip_prefix('/') {
            Some(next) => {
                for suffix in [
                    "$entity",
                    "$delta",
                    "$deletedEntity",
                    "$link",
                    "$deletedLink",
                ] {
                    if next == suffix {
                        return Ok("");
                    }
                }
                r = next;
            }
            None => return Ok(rest),
        }
    }
}

/// A key predicate such as `('ALFKI')`, `(3)` or `(A=1,B='x')`.
fn key(s: &str) -> Option<&str> {
    let close = s.find(')')?;
    let inner = s.get(1..close)?;
    let is_value = |v: &str| {
        matches!(
            crate::parse_expr(v),
            Ok(crate::Expr::Literal(..) | crate::Expr::Alias(..))
        )
    };
    let ok = inner.split(',').all(|part| match part.split_once('=') {
        Some((k, v)) => matches!(identifier(k), Ok(("", _))) && is_value(v),
        None => is_value(part),
    });
    ok.then(|| &s[close + 1..])
}

fn opt_select(s: &str, depth: u32) -> R<'_> {
    if s.starts_with('(') {
        select_list(s, depth)
    } else {
        Ok(s)
    }
}

fn select_list(s: &str, depth: u32) -> R<'_> {
    if depth > 32 {
        return Err(s);
    }
    let mut r = s.strip_prefix('(').ok_or(s)?;
    if let Some(done) = r.strip_prefix(')') {
        return Ok(done);
    }
    loop {
        r = item(r, depth)?;
        if let Some(more) = r.strip_prefix(',') {
            r = more;
        } else {
            return r.strip_prefix(')').ok_or(r);
        }
    }
}

fn item(s: &str, depth: u32) -> R<'_> {
    if let Some(rest) = s.strip_prefix('*') {
        return Ok(rest);
    }
    let mut r = s;
    loop {
        let rest = if let Some(a) = r.strip_prefix('@') {
            let (mut rest, _) = qualified(a).map_err(|_| a)?;
            if let Some(q) = rest.strip_prefix('#') {
                rest = identifier(q).map_err(|_| q)?.0;
            }
            rest
        } else {
            let (rest, name) = qualified(r).map_err(|_| r)?;
            if let Some(after) = rest.strip_prefix(".*") {
                return Ok(after);
            }
            let _ = name;
            rest
        };
        let rest = rest.strip_prefix('+').unwrap_or(rest);
        let rest = opt_select(rest, depth + 1)?;
        match rest.strip_prefix('/') {
            Some(next) => r = next,
            None => return Ok(rest),
        }
    }
}
