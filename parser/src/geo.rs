//! Validation of the text inside `geography'...'` / `geometry'...'` literals
//! (`SRID=n;` followed by a WKT-like shape). The text is kept as-is in the tree.

use crate::lex::digits;

pub(crate) fn valid(s: &str) -> bool {
    let Some(rest) = strip_ci(s, "SRID=") else {
        return false;
    };
    let n = digits(rest);
    if n == 0 || n > 5 {
        return false;
    }
    match rest[n..].strip_prefix(';') {
        Some(body) => matches!(shape(body, 0), Some("")),
        None => false,
    }
}

fn strip_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    match s.get(..p.len()) {
        Some(h) if h.eq_ignore_ascii_case(p) => Some(&s[p.len()..]),
        _ => None,
    }
}

fn number(s: &str) -> Option<&str> {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let n = digits(s);
    if n == 0 {
        return None;
    }
    let mut s = &s[n..];
    if let Some(f) = s.strip_prefix('.') {
        let d = digits(f);
        if d == 0 {
            return None;
        }
        s = &f[d..];
    }
    if let Some(e) = s.strip_prefix(['e', 'E']) {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        let d = digits(e);
        if d == 0 {
            return None;
        }
        s = &e[d..];
    }
    Some(s)
}

/// `x y [z [m]]`
fn position(s: &str) -> Option<&str> {
    let mut s = number(s)?.strip_prefix(' ')?;
    s = number(s)?;
    for _ in 0..2 {
        match s.strip_prefix(' ').and_then(number) {
            Some(r) => s = r,
            None => break,
        }
    }
    Some(s)
}

/// `( item , item ... )`, possibly empty when `allow_empty`.
fn list<'a>(
    s: &'a str,
    allow_empty: bool,
    item: &dyn Fn(&'a str) -> Option<&'a str>,
) -> Option<&'a str> {
    let s = s.strip_prefix('(')?;
    if allow_empty {
        if let Some(r) = s.strip_prefix(')') {
            return Some(r);
        }
    }
    let mut s = item(s)?;
    while let Some(r) = s.strip_prefix(',') {
        s = item(r)?;
    }
    s.strip_prefix(')')
}

fn ring(s: &str) -> Option<&str> {
    list(s, false, &position)
}

fn polygon(s: &str) -> Option<&str> {
    list(s, false, &ring)
}

fn shape(s: &str, depth: u32) -> Option<&str> {
    if depth > 16 {
        return None;
    }
    if let Some(r) = strip_ci(s, "Point") {
        return list(r, false, &position);
    }
    if let Some(r) = strip_ci(s, "LineString") {
        return list(r, false, &position);
    }
    if let Some(r) = strip_ci(s, "Polygon") {
        return polygon(r);
    }
    if let Some(r) = strip_ci(s, "MultiPoint") {
        return list(r, true, &ring);
    }
    if let Some(r) = strip_ci(s, "MultiLineString") {
        return list(r, true, &ring);
    }
    if let Some(r) = strip_ci(s, "MultiPolygon") {
        return list(r, true, &polygon);
    }
    if let Some(r) = strip_ci(s, "GeometryCollection").or_else(|| strip_ci(s, "Collection")) {
        return list(r, true, &|x| shape(x, depth + 1));
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        for ok in [
            "SRID=0;Point(142.1 64.1)",
            "SRID=0;Point(142.1 64.1 10.0 -3.14)",
            "SRID=0;MultiPoint()",
            "SRID=0;MultiPoint((142.1 64.1),(1 2))",
            "SRID=0;Polygon((1 1,1 1),(1 1,2 2,3 3,1 1))",
            "SRID=0;MultiPolygon(((1 1,1 1),(1 1,2 2,3 3,1 1)))",
            "SRID=0;GeometryCollection(LineString(142.1 64.1,3.14 2.78))",
        ] {
            assert!(super::valid(ok), "{ok}");
        }
        assert!(!super::valid("Point(1 2)"));
        assert!(!super::valid("SRID=0;Point(1)"));
    }
}
