//! Primitive literals (`primitiveLiteral` in the ABNF), on decoded text.

use crate::ast::Literal;
use crate::error::{backtrack, fail, Res};
use crate::lex::{digits, is_ident_char, keyword, qualified};

/// Parses a primitive literal; a recoverable error if the input does not start with one.
pub(crate) fn literal(i: &str) -> Res<'_, Literal> {
    let Some(c) = i.chars().next() else {
        return backtrack(i, "expected a value");
    };
    match c {
        '\'' => {
            let (rest, s) = string(i)?;
            Ok((rest, Literal::String(s)))
        }
        '0'..='9' | '-' | '+' => numeric_or_temporal(i),
        _ => word_literal(i),
    }
}

/// `'...'` with `''` for a quote; returns the unescaped value.
pub(crate) fn string(i: &str) -> Res<'_, String> {
    let Some(body) = i.strip_prefix('\'') else {
        return backtrack(i, "expected `'`");
    };
    let mut out = String::new();
    let mut rest = body;
    loop {
        match rest.find('\'') {
            None => return fail(i, "string literal is missing its closing `'`"),
            Some(q) => {
                out.push_str(&rest[..q]);
                let after = &rest[q + 1..];
                if let Some(more) = after.strip_prefix('\'') {
                    out.push('\'');
                    rest = more;
                } else {
                    return Ok((after, out));
                }
            }
        }
    }
}

/// Content of a prefixed literal `prefix'...'` (no escapes inside).
fn quoted_body<'a>(i: &'a str, what: &'static str) -> Res<'a, &'a str> {
    let Some(body) = i.strip_prefix('\'') else {
        return backtrack(i, "expected `'`");
    };
    match body.find('\'') {
        Some(q) => Ok((&body[q + 1..], &body[..q])),
        None => fail(i, format!("{what} literal is missing its closing `'`")),
    }
}

fn word_literal(i: &str) -> Res<'_, Literal> {
    if let Ok((r, _)) = keyword(i, "null") {
        return Ok((r, Literal::Null));
    }
    if let Ok((r, _)) = keyword(i, "true") {
        return Ok((r, Literal::Bool(true)));
    }
    if let Ok((r, _)) = keyword(i, "false") {
        return Ok((r, Literal::Bool(false)));
    }
    for kw in ["INF", "NaN"] {
        if let Some(r) = i.strip_prefix(kw) {
            if !r.starts_with(is_ident_char) {
                return Ok((r, Literal::Double(kw.to_string())));
            }
        }
    }
    if let Ok((r, g)) = guid(i) {
        return Ok((r, Literal::Guid(g.to_string())));
    }
    if i.starts_with('P') {
        if let Some((r, d)) = duration_value(i) {
            if !r.starts_with(is_ident_char) {
                return Ok((r, Literal::Duration(d.to_string())));
            }
        }
    }
    let (rest, name) = qualified(i)?;
    if !rest.starts_with('\'') {
        return backtrack(i, "expected a value");
    }
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "duration" => {
            let (r, body) = quoted_body(rest, "duration")?;
            match duration_value(body) {
                Some(("", d)) => Ok((r, Literal::Duration(d.to_string()))),
                _ => fail(rest, "invalid duration, expected e.g. `duration'P1DT2H'`"),
            }
        }
        "binary" => {
            let (r, body) = quoted_body(rest, "binary")?;
            match base64url(body) {
                Some(bytes) => Ok((r, Literal::Binary(bytes))),
                None => fail(rest, "invalid base64url in binary literal"),
            }
        }
        "geography" | "geometry" => {
            let (r, body) = quoted_body(rest, "geo")?;
            if !crate::geo::valid(body) {
                return fail(
                    rest,
                    "invalid geo literal, expected e.g. `SRID=0;Point(1 2)`",
                );
            }
            let text = body.to_string();
            Ok((
                r,
                if lower == "geography" {
                    Literal::Geography(text)
                } else {
                    Literal::Geometry(text)
                },
            ))
        }
        // Legacy 4.0 typed literals that some clients still send.
        "guid" | "datetimeoffset" | "date" | "timeofday" => {
            let (r, body) = quoted_body(rest, "typed")?;
            match literal(body) {
                Ok(("", lit)) => Ok((r, lit)),
                _ => fail(rest, format!("invalid {name} literal")),
            }
        }
        _ if name.contains('.') => {
            let (r, body) = quoted_body(rest, "enum")?;
            if !enum_value(body) {
                return fail(
                    rest,
                    "invalid enum value, expected member names or numbers separated by `,`",
                );
            }
            Ok((
                r,
                Literal::Enum {
                    type_name: name.to_string(),
                    value: body.to_string(),
                },
            ))
        }
        _ => backtrack(i, "expected a value"),
    }
}

/// `Member` / `42` / `Red,Blue`.
fn enum_value(s: &str) -> bool {
    s.split(',').all(|m| {
        let m = m.strip_prefix(['+', '-']).unwrap_or(m);
        if m.starts_with(|c: char| c.is_ascii_digit()) {
            digits(m) == m.len()
        } else {
            matches!(crate::lex::identifier(m), Ok(("", _)))
        }
    })
}

/// 8-4-4-4-12 hex digits.
pub(crate) fn guid(i: &str) -> Res<'_, &str> {
    let b = i.as_bytes();
    if b.len() < 36 {
        return backtrack(i, "expected a GUID");
    }
    for (n, &c) in b.iter().take(36).enumerate() {
        let ok = if matches!(n, 8 | 13 | 18 | 23) {
            c == b'-'
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return backtrack(i, "expected a GUID");
        }
    }
    let rest = &i[36..];
    if rest.starts_with(is_ident_char) || rest.starts_with('-') {
        return backtrack(i, "expected a GUID");
    }
    Ok((rest, &i[..36]))
}

fn two_digits(i: &str, max: u32) -> Option<&str> {
    let b = i.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(h), Some(l)) if h.is_ascii_digit() && l.is_ascii_digit() => {
            let v = u32::from(h - b'0') * 10 + u32::from(l - b'0');
            (v <= max).then(|| &i[2..])
        }
        _ => None,
    }
}

/// `-?YYYY-MM-DD`; returns the rest.
fn date(i: &str) -> Option<&str> {
    let s = i.strip_prefix('-').unwrap_or(i);
    let n = digits(s);
    if n < 4 || (n > 4 && s.starts_with('0')) {
        return None;
    }
    let s = s[n..].strip_prefix('-')?;
    let month = two_digits(s, 12)?;
    if s.starts_with("00") {
        return None;
    }
    let s = month.strip_prefix('-')?;
    let day = two_digits(s, 31)?;
    if s.starts_with("00") {
        return None;
    }
    Some(day)
}

/// `HH:MM[:SS[.fff]]`; `max_second` is 60 for date-times (leap seconds), 59 for times.
fn time(i: &str, max_second: u32) -> Option<&str> {
    let s = two_digits(i, 23)?.strip_prefix(':')?;
    let mut s = two_digits(s, 59)?;
    if let Some(sec) = s.strip_prefix(':') {
        s = two_digits(sec, max_second)?;
        if let Some(frac) = s.strip_prefix('.') {
            let n = digits(frac);
            if n == 0 {
                return None;
            }
            s = &frac[n..];
        }
    }
    Some(s)
}

fn offset(i: &str) -> Option<&str> {
    if let Some(r) = i.strip_prefix(['Z', 'z']) {
        return Some(r);
    }
    let s = i.strip_prefix(['+', '-'])?;
    let s = two_digits(s, 23)?.strip_prefix(':')?;
    two_digits(s, 59)
}

/// ISO 8601 duration restricted to days and time, as OData allows: `-P1DT2H3M4.5S`.
pub(crate) fn duration_value(i: &str) -> Option<(&str, &str)> {
    let s = i.strip_prefix('-').unwrap_or(i);
    let mut s = s.strip_prefix('P')?;
    let mut any = false;
    let n = digits(s);
    if n > 0 && s[n..].starts_with('D') {
        s = &s[n + 1..];
        any = true;
    }
    if let Some(t) = s.strip_prefix('T') {
        s = t;
        let mut any_t = false;
        for unit in ['H', 'M'] {
            let n = digits(s);
            if n > 0 && s[n..].starts_with(unit) {
                s = &s[n + 1..];
                any_t = true;
            }
        }
        let n = digits(s);
        if n > 0 {
            let mut r = &s[n..];
            if let Some(frac) = r.strip_prefix('.') {
                let f = digits(frac);
                if f == 0 {
                    return None;
                }
                r = &frac[f..];
            }
            s = r.strip_prefix('S')?;
            any_t = true;
        }
        if !any_t {
            return None;
        }
        any = true;
    }
    any.then(|| (s, &i[..i.len() - s.len()]))
}

fn numeric_or_temporal(i: &str) -> Res<'_, Literal> {
    if let Ok((r, g)) = guid(i) {
        return Ok((r, Literal::Guid(g.to_string())));
    }
    if let Some(r) = date(i) {
        if let Some(t) = r.strip_prefix(['T', 't']) {
            let Some(after) = time(t, 60).and_then(offset) else {
                return fail(
                    i,
                    "invalid date-time, expected e.g. `2024-01-31T10:00:00Z` (hours 00-23, with offset)",
                );
            };
            let text = &i[..i.len() - after.len()];
            return Ok((after, Literal::DateTimeOffset(text.to_string())));
        }
        if !r.starts_with(is_ident_char) {
            return Ok((r, Literal::Date(i[..i.len() - r.len()].to_string())));
        }
    }
    if let Some(r) = time(i, 59) {
        if !r.starts_with(is_ident_char) {
            return Ok((r, Literal::TimeOfDay(i[..i.len() - r.len()].to_string())));
        }
    }
    if i.starts_with("-P") {
        if let Some((r, d)) = duration_value(i) {
            if !r.starts_with(is_ident_char) {
                return Ok((r, Literal::Duration(d.to_string())));
            }
        }
    }
    number(i)
}

/// Integers, decimals and doubles, with an optional sign; `-INF`.
pub(crate) fn number(i: &str) -> Res<'_, Literal> {
    let unsigned = i.strip_prefix(['-', '+']).unwrap_or(i);
    if let Some(r) = unsigned.strip_prefix("INF") {
        if i.starts_with('-') && !r.starts_with(is_ident_char) {
            return Ok((r, Literal::Double("-INF".to_string())));
        }
    }
    let n = digits(unsigned);
    if n == 0 {
        return backtrack(i, "expected a number");
    }
    let mut s = &unsigned[n..];
    let mut frac = false;
    let mut exp = false;
    if let Some(f) = s.strip_prefix('.') {
        let d = digits(f);
        if d == 0 {
            return fail(s, "expected digits after the decimal point");
        }
        s = &f[d..];
        frac = true;
    }
    if let Some(e) = s.strip_prefix(['e', 'E']) {
        let e2 = e.strip_prefix(['+', '-']).unwrap_or(e);
        let d = digits(e2);
        if d == 0 {
            return fail(s, "expected digits in the exponent");
        }
        s = &e2[d..];
        exp = true;
    }
    if s.starts_with(is_ident_char) || s.starts_with('.') {
        return fail(
            s,
            format!("unexpected {} after a number", crate::error::found(s)),
        );
    }
    let text = &i[..i.len() - s.len()];
    let lit = if exp {
        Literal::Double(text.to_string())
    } else if frac {
        Literal::Decimal(text.to_string())
    } else {
        match text.parse::<i64>() {
            Ok(v) => Literal::Int(v),
            Err(_) => Literal::Decimal(text.to_string()),
        }
    };
    Ok((s, lit))
}

/// Decodes base64url (also accepts the standard alphabet); padding optional.
pub(crate) fn base64url(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover sextet cannot encode a byte.
    (body.len() % 4 != 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(s: &str) -> bool {
        !matches!(literal(s), Ok(("", _)))
    }

    fn lit(s: &str) -> Literal {
        match literal(s) {
            Ok(("", l)) => l,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn primitives() {
        assert_eq!(lit("null"), Literal::Null);
        assert_eq!(lit("tRUe"), Literal::Bool(true));
        assert_eq!(lit("42"), Literal::Int(42));
        assert_eq!(lit("+42"), Literal::Int(42));
        assert_eq!(lit("-7"), Literal::Int(-7));
        assert_eq!(lit("3.14"), Literal::Decimal("3.14".into()));
        assert_eq!(
            lit("99999999999999999999"),
            Literal::Decimal("99999999999999999999".into())
        );
        assert_eq!(lit("-0.314e1"), Literal::Double("-0.314e1".into()));
        assert_eq!(lit("INF"), Literal::Double("INF".into()));
        assert_eq!(lit("-INF"), Literal::Double("-INF".into()));
        assert_eq!(lit("NaN"), Literal::Double("NaN".into()));
        assert_eq!(lit("'O''Neil'"), Literal::String("O'Neil".into()));
        assert_eq!(lit("''"), Literal::String(String::new()));
    }

    #[test]
    fn temporal() {
        assert_eq!(lit("2024-01-31"), Literal::Date("2024-01-31".into()));
        assert_eq!(lit("-10000-04-01"), Literal::Date("-10000-04-01".into()));
        assert_eq!(
            lit("2012-09-03T14:53+02:00"),
            Literal::DateTimeOffset("2012-09-03T14:53+02:00".into())
        );
        assert_eq!(
            lit("1972-06-30T23:59:60Z"),
            Literal::DateTimeOffset("1972-06-30T23:59:60Z".into())
        );
        assert!(bad("2011-12-31T24:00Z"));
        assert!(bad("2011-12-31T10:00"));
        assert_eq!(
            lit("11:22:33.4444444"),
            Literal::TimeOfDay("11:22:33.4444444".into())
        );
        assert!(bad("24:00:00"));
        assert_eq!(
            lit("duration'P6DT23H59M59.9999S'"),
            Literal::Duration("P6DT23H59M59.9999S".into())
        );
        assert_eq!(lit("P1D"), Literal::Duration("P1D".into()));
        assert_eq!(lit("-PT1H"), Literal::Duration("-PT1H".into()));
        assert!(bad("duration'P1Y'"));
    }

    #[test]
    fn others() {
        assert_eq!(
            lit("01234567-89ab-cdef-0123-456789abcdef"),
            Literal::Guid("01234567-89ab-cdef-0123-456789abcdef".into())
        );
        assert_eq!(
            lit("abcdef01-89ab-cdef-0123-456789abcdef"),
            Literal::Guid("abcdef01-89ab-cdef-0123-456789abcdef".into())
        );
        assert_eq!(lit("binary'Zm9vYg'"), Literal::Binary(b"foob".to_vec()));
        assert_eq!(lit("binary''"), Literal::Binary(vec![]));
        assert!(bad("X'1a2B'"));
        assert_eq!(
            lit("Sales.Pattern'Yellow,32'"),
            Literal::Enum {
                type_name: "Sales.Pattern".into(),
                value: "Yellow,32".into()
            }
        );
        assert_eq!(
            lit("geography'SRID=0;Point(142.1 64.1)'"),
            Literal::Geography("SRID=0;Point(142.1 64.1)".into())
        );
        assert!(bad("42."));
        assert!(bad(".1"));
        assert!(bad("-0.314e1e2"));
    }
}
