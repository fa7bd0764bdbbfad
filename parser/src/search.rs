//! `$search` expressions: terms, `"phrases"`, `NOT`, `AND` (also implicit), `OR`, grouping.
//! `AND`/`OR`/`NOT` are operators only where an operator makes sense, else plain words.

use crate::ast::SearchExpr;
use crate::decode::Src;
use crate::error::{backtrack, fail, found, too_deep, Res};
use crate::lex::{bws, is_ws};

const MAX_DEPTH: u32 = 100;

pub(crate) fn search<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, SearchExpr> {
    if d > MAX_DEPTH {
        return too_deep(i, "`$search` is nested too deeply (limit 100)");
    }
    let (mut r, left) = and_expr(c, i, d)?;
    let mut operands = vec![left];
    while let Some(after) = operator(c, r, "OR") {
        let (rest, right) = and_expr(c, after, d)?;
        operands.push(right);
        r = rest;
    }
    Ok((r, balanced(false, operands)))
}

/// `RWS op RWS` followed by a term; returns the input at that term.
fn operator<'a>(c: &Src<'_>, i: &'a str, op: &str) -> Option<&'a str> {
    let t = bws(i);
    if t.len() == i.len() {
        return None;
    }
    let after = t.strip_prefix(op)?;
    let term = bws(after);
    (term.len() < after.len() && starts_term(c, term)).then_some(term)
}

fn starts_term(c: &Src<'_>, i: &str) -> bool {
    i.starts_with(['(', '"']) || word_len(c, i) > 0
}

fn and_expr<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, SearchExpr> {
    let (mut r, left) = unary(c, i, d)?;
    let mut operands = vec![left];
    loop {
        let next = match operator(c, r, "AND") {
            Some(after) => after,
            None => {
                // Implicit AND between adjacent terms.
                let t = bws(r);
                if t.len() == r.len() || !starts_term(c, t) || operator(c, r, "OR").is_some() {
                    return Ok((r, balanced(true, operands)));
                }
                t
            }
        };
        let (rest, right) = unary(c, next, d)?;
        operands.push(right);
        r = rest;
    }
}

/// `a AND b AND ...` (or `OR`) as a balanced tree, with operands that are themselves
/// such chains (in parentheses) joined in: the same search, log2(n) deep, so later
/// stages need little stack; and a printed and parsed again tree has the same shape.
fn balanced(and: bool, operands: Vec<SearchExpr>) -> SearchExpr {
    let mut flat = Vec::with_capacity(operands.len());
    let mut stack: Vec<SearchExpr> = operands.into_iter().rev().collect();
    while let Some(x) = stack.pop() {
        match x {
            SearchExpr::And(l, r) if and => {
                stack.push(*r);
                stack.push(*l);
            }
            SearchExpr::Or(l, r) if !and => {
                stack.push(*r);
                stack.push(*l);
            }
            other => flat.push(other),
        }
    }
    join(and, flat)
}

fn join(and: bool, mut items: Vec<SearchExpr>) -> SearchExpr {
    if items.len() <= 1 {
        // Never empty: a chain has its first operand.
        return items.pop().unwrap_or(SearchExpr::Term(String::new()));
    }
    let right = items.split_off(items.len() / 2);
    let (l, r) = (Box::new(join(and, items)), Box::new(join(and, right)));
    if and {
        SearchExpr::And(l, r)
    } else {
        SearchExpr::Or(l, r)
    }
}

fn unary<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, SearchExpr> {
    if let Some(after) = i.strip_prefix("NOT") {
        let t = bws(after);
        if t.len() < after.len() && starts_term(c, t) {
            if d >= MAX_DEPTH {
                return too_deep(i, "`$search` is nested too deeply (limit 100)");
            }
            let (r, e) = unary(c, t, d + 1)?;
            return Ok((r, SearchExpr::Not(Box::new(e))));
        }
    }
    primary(c, i, d)
}

fn primary<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, SearchExpr> {
    if let Some(inner) = i.strip_prefix('(') {
        let (r, e) = search(c, bws(inner), d + 1)?;
        let r = bws(r);
        return match r.strip_prefix(')') {
            Some(r) => Ok((r, e)),
            None => fail(r, format!("expected `)` in `$search`, found {}", found(r))),
        };
    }
    if let Some(body) = i.strip_prefix('"') {
        let Some(end) = body.find('"') else {
            return fail(i, "search phrase is missing its closing `\"`");
        };
        if end == 0 {
            return fail(i, "empty search phrase");
        }
        let rest = &body[end + 1..];
        if !(rest.is_empty() || rest.starts_with(is_ws) || rest.starts_with([')', ';'])) {
            return fail(rest, "expected whitespace after a search phrase");
        }
        return Ok((rest, SearchExpr::Phrase(body[..end].to_string())));
    }
    let n = word_len(c, i);
    if n == 0 {
        return match i.chars().next() {
            None => backtrack(i, "expected a search term"),
            Some(_) => fail(i, format!("expected a search term, found {}", found(i))),
        };
    }
    Ok((&i[n..], SearchExpr::Term(i[..n].to_string())))
}

/// Length of the search word at `i`: anything but whitespace, parentheses, double quotes
/// and the raw delimiters `;` and `#` (percent-encoded they are ordinary characters).
/// A single-quoted run may contain anything.
fn word_len(c: &Src<'_>, i: &str) -> usize {
    let mut n = 0;
    let mut chars = i.char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '\'' => match i[k + 1..].find('\'') {
                Some(q) => {
                    let end = k + 1 + q + 1;
                    while chars.as_str().len() > i.len() - end {
                        chars.next();
                    }
                    n = end;
                }
                None => n = k + 1,
            },
            '(' | ')' | '"' => break,
            ';' | '#' if !c.was_encoded(&i[k..]) => break,
            _ if is_ws(ch) => break,
            _ => n = k + ch.len_utf8(),
        }
    }
    n
}
