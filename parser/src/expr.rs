//! Common expressions (`$filter`, `$orderby`, `$compute`, keys, aliases), by precedence
//! climbing over OData 4.01 §5.1.1 levels: or < and < eq/ne < gt/ge/lt/le/has/in <
//! add/sub < mul/div/divby/mod < unary (`-`, `not`) < primary.

use crate::ast::*;
use crate::decode::Src;
use crate::error::{backtrack, commit, fail, found, too_deep, Res};
use crate::lex::{bws, identifier, is_ws, keyword, qualified};
use crate::literal::literal;
use crate::options::{opt_by_name, Opt};

pub(crate) const MAX_DEPTH: u32 = 100;

/// A full expression.
pub(crate) fn expr<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    if d > MAX_DEPTH {
        return too_deep(i, "expression is nested too deeply (limit 100)");
    }
    climb(c, i, d, 0)
}

type Op = (&'static str, Option<BinaryOp>, u8);

/// Binary operator by (lower-case) keyword, with its binding strength (higher binds
/// tighter). `None` is `in`, which takes a list on its right.
fn op_by_name(word: &[u8]) -> Option<Op> {
    use BinaryOp::*;
    Some(match word {
        b"or" => ("or", Some(Or), 1),
        b"and" => ("and", Some(And), 2),
        b"eq" => ("eq", Some(Eq), 3),
        b"ne" => ("ne", Some(Ne), 3),
        b"gt" => ("gt", Some(Gt), 4),
        b"ge" => ("ge", Some(Ge), 4),
        b"lt" => ("lt", Some(Lt), 4),
        b"le" => ("le", Some(Le), 4),
        b"has" => ("has", Some(Has), 4),
        b"in" => ("in", None, 4),
        b"add" => ("add", Some(Add), 5),
        b"sub" => ("sub", Some(Sub), 5),
        b"mul" => ("mul", Some(Mul), 6),
        b"div" => ("div", Some(Div), 6),
        b"divby" => ("divby", Some(DivBy), 6),
        b"mod" => ("mod", Some(Mod), 6),
        _ => return None,
    })
}

/// Precedence climbing: one loop for all binary levels keeps the stack shallow per
/// nesting level (deep input must fail with `TooDeep`, never overflow the stack).
fn climb<'a>(c: &Src<'_>, i: &'a str, d: u32, min: u8) -> Res<'a, Expr> {
    let (mut rest, mut left) = unary(c, i, d)?;
    // Operators chained at this level: each one nests the tree a level deeper on the
    // left. `and` and `or` chains are rebuilt balanced below (clients send hundreds of
    // `or`s); any other chain counts toward the depth limit.
    let mut chained = 0;
    while let Some((after, (word, op, p))) = operator(rest) {
        if p < min {
            break;
        }
        if !matches!(op, Some(BinaryOp::And | BinaryOp::Or)) {
            chained += 1;
            if d + chained > MAX_DEPTH {
                return too_deep(after, "expression is nested too deeply (limit 100)");
            }
        }
        let (r, e) = match op {
            None => {
                let (r, right) = commit(in_rhs(c, after, d), |at| expected_after(word, at))?;
                (r, Expr::In(Box::new(left), Box::new(right)))
            }
            Some(op) => {
                // Each tighter level on the right nests a call, so it counts as depth too.
                if d >= MAX_DEPTH {
                    return too_deep(after, "expression is nested too deeply (limit 100)");
                }
                let (r, right) =
                    commit(climb(c, after, d + 1, p + 1), |at| expected_after(word, at))?;
                (r, Expr::Binary(op, Box::new(left), Box::new(right)))
            }
        };
        left = e;
        rest = r;
    }
    Ok((rest, balanced(left)))
}

/// A chain such as `((a or b) or c) or d` as `(a or b) or (c or d)`: the same
/// condition (`and` and `or` are associative), but log2(n) deep instead of n, so that
/// whatever walks the tree later needs little stack. Operands grouped by parentheses
/// join the chain too, so a printed and parsed again tree has the same shape.
fn balanced(e: Expr) -> Expr {
    let op = match &e {
        Expr::Binary(op @ (BinaryOp::And | BinaryOp::Or), _, _) => *op,
        _ => return e,
    };
    // The operands in order, taken off the tree without recursion.
    let mut operands = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            Expr::Binary(o, l, r) if o == op => {
                stack.push(*r);
                stack.push(*l);
            }
            other => operands.push(balanced(other)),
        }
    }
    let mut operands = operands.into_iter();
    match operands.next() {
        Some(first) => join(op, first, operands.collect()),
        // Never: the expression itself is one of its operands.
        None => Expr::Literal(Literal::Null, Pos(0)),
    }
}

/// `first op rest[0] op rest[1] ...`, in order, as a balanced tree.
fn join(op: BinaryOp, first: Expr, mut rest: Vec<Expr>) -> Expr {
    if rest.is_empty() {
        return first;
    }
    // The left half keeps `first`; the right half is never empty.
    let right = rest.split_off(rest.len().div_ceil(2) - 1);
    let mut right = right.into_iter();
    match right.next() {
        Some(r) => Expr::Binary(
            op,
            Box::new(join(op, first, rest)),
            Box::new(join(op, r, right.collect())),
        ),
        None => join(op, first, rest),
    }
}

fn expected_after(op: &str, at: &str) -> String {
    format!("expected a value after `{op}`, found {}", found(at))
}

/// `RWS op RWS`; returns the input after the operator and the operator.
fn operator(i: &str) -> Option<(&str, Op)> {
    let r = bws(i);
    if r.len() == i.len() {
        return None;
    }
    let n = r
        .bytes()
        .take(6)
        .take_while(u8::is_ascii_alphabetic)
        .count();
    if !(2..=5).contains(&n) {
        return None;
    }
    let (word, after) = r.split_at(n);
    let mut buf = [0u8; 16];
    let op = op_by_name(crate::lex::lower(word, &mut buf)?)?;
    if after.starts_with(crate::lex::is_ident_char) {
        return None;
    }
    // RWS is required after the operator, but a missing operand deserves a clear
    // "expected a value after `eq`" rather than a complaint about `eq` itself.
    let t = bws(after);
    let dangling = t.is_empty() || t.starts_with([')', ',', ';']);
    let list = op.1.is_none() && t.starts_with(['(', '[']);
    (t.len() < after.len() || dangling || list).then_some((t, op))
}

fn unary<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    if let Some(r) = i.strip_prefix('-') {
        let numeric = r.starts_with(|ch: char| ch.is_ascii_digit())
            || r.strip_prefix("INF")
                .is_some_and(|t| !t.starts_with(crate::lex::is_ident_char))
            || (r.starts_with('P')
                && crate::literal::duration_value(r)
                    .is_some_and(|(t, _)| !t.starts_with(crate::lex::is_ident_char)));
        if !numeric {
            if d >= MAX_DEPTH {
                return too_deep(i, "expression is nested too deeply (limit 100)");
            }
            let (r, e) = commit(unary(c, bws(r), d + 1), |at| expected_after("-", at))?;
            return Ok((r, Expr::Unary(UnaryOp::Neg, Box::new(e))));
        }
    }
    if let Ok((r, _)) = keyword(i, "not") {
        let t = bws(r);
        if t.len() < r.len() || t.starts_with('(') {
            if d >= MAX_DEPTH {
                return too_deep(i, "expression is nested too deeply (limit 100)");
            }
            let (r, e) = commit(unary(c, t, d + 1), |at| expected_after("not", at))?;
            return Ok((r, Expr::Unary(UnaryOp::Not, Box::new(e))));
        }
    }
    primary(c, i, d)
}

fn primary<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    if d >= MAX_DEPTH && i.starts_with(['(', '[', '{']) {
        return too_deep(i, "expression is nested too deeply (limit 100)");
    }
    match i.chars().next() {
        None => backtrack(i, "expected a value"),
        Some('(') => {
            let (r, e) = commit(expr(c, bws(&i[1..]), d + 1), |at| {
                format!("expected an expression after `(`, found {}", found(at))
            })?;
            let r = bws(r);
            match r.strip_prefix(')') {
                Some(r) => Ok((r, e)),
                None if r.starts_with(',') => fail(r, "a list `(a,b)` is only allowed after `in`"),
                None => fail(r, format!("expected `)`, found {}", found(r))),
            }
        }
        Some('[') => array(c, i, d + 1),
        Some('{') => object(c, i, d + 1),
        Some('@') => at_sign(c, i, d),
        Some('$') => member(c, i, d),
        Some('\'' | '0'..='9' | '-' | '+') => {
            let (r, l) = literal(i)?;
            Ok((r, Expr::Literal(l, c.pos(i))))
        }
        Some(_) => {
            // Scan the name once and only try literals where one can start here.
            if let Ok((r, name)) = qualified(i) {
                let maybe_literal = r.starts_with('\'')
                    || matches!(name.len(), 3..=5) && is_word_literal(name)
                    || (i.len() >= 36 && i.as_bytes().get(8) == Some(&b'-'))
                    || name.starts_with('P');
                if !maybe_literal {
                    return named(c, i, name, r, d);
                }
            }
            match literal(i) {
                Ok((r, l)) => Ok((r, Expr::Literal(l, c.pos(i)))),
                Err(nom::Err::Error(_)) => match qualified(i) {
                    Ok((r, name)) => named(c, i, name, r, d),
                    Err(_) => backtrack(i, "expected a value"),
                },
                Err(e) => Err(e),
            }
        }
    }
}

/// Parameter alias `@p`, or a path starting with an annotation or alias (`@Core.Messages`,
/// `@a/Street`).
fn at_sign<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    let (r, name) = commit(qualified(&i[1..]), |at| {
        format!("expected a name after `@`, found {}", found(at))
    })?;
    if !name.contains('.') && !r.starts_with(['/', '#']) {
        return Ok((r, Expr::Alias(name.to_string(), c.pos(i))));
    }
    member(c, i, d)
}

fn is_word_literal(name: &str) -> bool {
    ["null", "true", "false"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(name))
        || name == "INF"
        || name == "NaN"
}

/// An identifier-led expression: canonical function call, `case(...)`, or a member path.
/// `name` is the qualified name at `i`, `r` what follows it.
fn named<'a>(c: &Src<'_>, i: &'a str, name: &'a str, r: &'a str, d: u32) -> Res<'a, Expr> {
    if r.starts_with('(') {
        if let Some(f) = function_by_name(name) {
            return call(c, i, f, r, d);
        }
        if name.eq_ignore_ascii_case("case") {
            return case(c, r, d);
        }
        if name.eq_ignore_ascii_case("any") || name.eq_ignore_ascii_case("all") {
            return fail(
                i,
                format!("`{name}` needs a collection before it, e.g. `Leads/{name}(l: ...)`"),
            );
        }
    }
    member(c, i, d)
}

pub(crate) fn function_by_name(name: &str) -> Option<Function> {
    use Function::*;
    const ALL: [(&str, Function); 35] = [
        ("contains", Contains),
        ("startswith", StartsWith),
        ("endswith", EndsWith),
        ("length", Length),
        ("indexof", IndexOf),
        ("substring", Substring),
        ("tolower", ToLower),
        ("toupper", ToUpper),
        ("trim", Trim),
        ("concat", Concat),
        ("matchespattern", MatchesPattern),
        ("year", Year),
        ("month", Month),
        ("day", Day),
        ("hour", Hour),
        ("minute", Minute),
        ("second", Second),
        ("fractionalseconds", FractionalSeconds),
        ("totalseconds", TotalSeconds),
        ("date", Date),
        ("time", Time),
        ("totaloffsetminutes", TotalOffsetMinutes),
        ("now", Now),
        ("maxdatetime", MaxDateTime),
        ("mindatetime", MinDateTime),
        ("round", Round),
        ("floor", Floor),
        ("ceiling", Ceiling),
        ("cast", Cast),
        ("isof", IsOf),
        ("hassubset", HasSubset),
        ("hassubsequence", HasSubsequence),
        ("geo.distance", GeoDistance),
        ("geo.intersects", GeoIntersects),
        ("geo.length", GeoLength),
    ];
    ALL.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, f)| f)
}

/// Allowed argument counts.
fn arity(f: Function) -> (usize, usize) {
    use Function::*;
    match f {
        Now | MaxDateTime | MinDateTime => (0, 0),
        Contains | StartsWith | EndsWith | IndexOf | Concat | MatchesPattern | HasSubset
        | HasSubsequence | GeoDistance | GeoIntersects => (2, 2),
        Substring => (2, 3),
        Cast | IsOf => (1, 2),
        _ => (1, 1),
    }
}

/// Arguments `( a , b )` of a canonical function; `open` starts at `(`.
fn call<'a>(c: &Src<'_>, start: &'a str, f: Function, open: &'a str, d: u32) -> Res<'a, Expr> {
    if d >= MAX_DEPTH {
        return too_deep(start, "expression is nested too deeply (limit 100)");
    }
    let name = crate::display::function_name(f);
    let mut args = Vec::new();
    let mut r = bws(&open[1..]);
    if let Some(after) = r.strip_prefix(')') {
        r = after;
    } else {
        loop {
            let is_type_arg = matches!(f, Function::Cast | Function::IsOf)
                && (args.len() == 1 || type_name_then_close(r));
            let (after, a) = if is_type_arg {
                let (after, t) = commit(type_name(r), |at| {
                    format!("expected a type name in `{name}`, found {}", found(at))
                })?;
                (after, Expr::TypeName(t.to_string()))
            } else {
                commit(expr(c, r, d + 1), |at| {
                    format!("expected an argument of `{name}`, found {}", found(at))
                })?
            };
            args.push(a);
            let after = bws(after);
            if let Some(more) = after.strip_prefix(',') {
                r = bws(more);
            } else if let Some(done) = after.strip_prefix(')') {
                r = done;
                break;
            } else {
                return fail(
                    after,
                    format!(
                        "expected `,` or `)` in `{name}(...)`, found {}",
                        found(after)
                    ),
                );
            }
        }
    }
    let (min, max) = arity(f);
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} or {max}")
        };
        return fail(
            start,
            format!("`{name}` takes {want} argument(s), found {}", args.len()),
        );
    }
    Ok((r, Expr::Call(f, args, c.pos(start))))
}

fn type_name(i: &str) -> Res<'_, &str> {
    if let Some(inner) = i.strip_prefix("Collection(") {
        let (r, _) = qualified(inner)?;
        return match r.strip_prefix(')') {
            Some(r) => Ok((r, &i[..i.len() - r.len()])),
            None => backtrack(r, "expected `)`"),
        };
    }
    qualified(i)
}

fn type_name_then_close(i: &str) -> bool {
    matches!(type_name(i), Ok((r, _)) if bws(r).starts_with(')'))
}

/// `case(cond:value, ...)`; `open` starts at `(`.
fn case<'a>(c: &Src<'_>, open: &'a str, d: u32) -> Res<'a, Expr> {
    if d >= MAX_DEPTH {
        return too_deep(open, "expression is nested too deeply (limit 100)");
    }
    let mut arms = Vec::new();
    let mut r = bws(&open[1..]);
    loop {
        let (after, cond) = commit(expr(c, r, d + 1), |at| {
            format!("expected a condition in `case`, found {}", found(at))
        })?;
        let after = bws(after);
        let Some(after) = after.strip_prefix(':') else {
            return fail(
                after,
                format!("expected `:` in `case`, found {}", found(after)),
            );
        };
        let (after, value) = commit(expr(c, bws(after), d + 1), |at| {
            format!("expected a value after `:`, found {}", found(at))
        })?;
        arms.push((cond, value));
        let after = bws(after);
        if let Some(more) = after.strip_prefix(',') {
            r = bws(more);
        } else if let Some(done) = after.strip_prefix(')') {
            return Ok((done, Expr::Case(arms)));
        } else {
            return fail(
                after,
                format!("expected `,` or `)` in `case`, found {}", found(after)),
            );
        }
    }
}

/// Right side of `in`: `(a, b)`, `[a, b]`, `@list` or a collection path.
fn in_rhs<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    let Some(inner) = i.strip_prefix('(') else {
        return climb(c, i, d, 5);
    };
    if d >= MAX_DEPTH {
        return too_deep(i, "expression is nested too deeply (limit 100)");
    }
    let mut items = Vec::new();
    let mut r = bws(inner);
    if let Some(done) = r.strip_prefix(')') {
        return Ok((done, Expr::List(items)));
    }
    loop {
        let (after, e) = commit(expr(c, r, d + 1), |at| {
            format!("expected a value in the `in` list, found {}", found(at))
        })?;
        items.push(e);
        let after = bws(after);
        let done = after.strip_prefix(')');
        if items.len() > 1 || (done.is_none() && after.starts_with(',')) {
            // Lists of more than one item hold literals only (ABNF `listExpr`).
            if items
                .iter()
                .any(|e| !matches!(e, Expr::Literal(..) | Expr::Alias(..)))
            {
                return fail(
                    r,
                    "an `in` list may only hold literals and parameter aliases",
                );
            }
        }
        if let Some(more) = after.strip_prefix(',') {
            r = bws(more);
        } else if let Some(done) = done {
            return Ok((done, Expr::List(items)));
        } else {
            return fail(
                after,
                format!(
                    "expected `,` or `)` in the `in` list, found {}",
                    found(after)
                ),
            );
        }
    }
}

/// JSON array `[v, ...]` (4.01); items may be OData expressions or JSON strings.
fn array<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    let mut items = Vec::new();
    let mut r = bws(&i[1..]);
    if let Some(done) = r.strip_prefix(']') {
        return Ok((done, Expr::List(items)));
    }
    loop {
        let (after, v) = json_value(c, r, d)?;
        items.push(v);
        let after = bws(after);
        if let Some(more) = after.strip_prefix(',') {
            r = bws(more);
        } else if let Some(done) = after.strip_prefix(']') {
            return Ok((done, Expr::List(items)));
        } else {
            return fail(
                after,
                format!("expected `,` or `]` in array, found {}", found(after)),
            );
        }
    }
}

/// JSON object `{"name": v, ...}` (4.01).
fn object<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    let mut members = Vec::new();
    let mut r = bws(&i[1..]);
    if let Some(done) = r.strip_prefix('}') {
        return Ok((done, Expr::Object(members)));
    }
    loop {
        let (after, name) = match json_string(r) {
            Ok(x) => x,
            Err(_) => {
                return fail(
                    r,
                    format!(
                        "expected a quoted member name in object, found {}",
                        found(r)
                    ),
                )
            }
        };
        let after = bws(after);
        let Some(after) = after.strip_prefix(':') else {
            return fail(
                after,
                format!("expected `:` in object, found {}", found(after)),
            );
        };
        let (after, v) = json_value(c, bws(after), d)?;
        members.push((name, v));
        let after = bws(after);
        if let Some(more) = after.strip_prefix(',') {
            r = bws(more);
        } else if let Some(done) = after.strip_prefix('}') {
            return Ok((done, Expr::Object(members)));
        } else {
            return fail(
                after,
                format!("expected `,` or `}}` in object, found {}", found(after)),
            );
        }
    }
}

fn json_value<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    if i.starts_with('"') {
        let (r, s) = json_string(i)?;
        return Ok((r, Expr::Literal(Literal::String(s), c.pos(i))));
    }
    commit(expr(c, i, d), |at| {
        format!("expected a value, found {}", found(at))
    })
}

/// A JSON string with its escapes resolved.
pub(crate) fn json_string(i: &str) -> Res<'_, String> {
    let Some(body) = i.strip_prefix('"') else {
        return backtrack(i, "expected `\"`");
    };
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((n, ch)) = chars.next() {
        match ch {
            '"' => return Ok((&body[n + 1..], out)),
            '\\' => {
                let esc = chars.next().map(|(_, e)| e);
                match esc {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            Some(u) if hex.len() == 4 => out.push(u),
                            _ => return fail(&body[n..], "invalid `\\u` escape in string"),
                        }
                    }
                    _ => return fail(&body[n..], "invalid escape in string"),
                }
            }
            _ => out.push(ch),
        }
    }
    fail(i, "string is missing its closing `\"`")
}

/// Key predicate or function parameters `( ... )`; `i` starts at `(`. In resource paths
/// (`in_expr` false) values must be literals, aliases or JSON.
pub(crate) fn key_predicate<'a>(
    c: &Src<'_>,
    i: &'a str,
    d: u32,
    in_expr: bool,
) -> Res<'a, KeyPredicate> {
    if d >= MAX_DEPTH {
        return too_deep(i, "expression is nested too deeply (limit 100)");
    }
    let r = bws(&i[1..]);
    if let Some(done) = r.strip_prefix(')') {
        return Ok((done, KeyPredicate::Named(Vec::new())));
    }
    let value = |r: &'a str| -> Res<'a, Expr> {
        if in_expr {
            return commit(expr(c, r, d + 1), |at| {
                format!("expected a value, found {}", found(at))
            });
        }
        match primary(c, r, d + 1) {
            Ok((
                rest,
                e @ (Expr::Literal(..) | Expr::Alias(..) | Expr::List(_) | Expr::Object(_)),
            )) => Ok((rest, e)),
            Ok(_) | Err(nom::Err::Error(_)) => fail(
                r,
                format!("expected a literal or parameter alias, found {}", found(r)),
            ),
            Err(e) => Err(e),
        }
    };
    let named = matches!(identifier(r), Ok((after, _)) if bws(after).starts_with('=') && !bws(after).starts_with("=="));
    if !named {
        let (after, v) = value(r)?;
        let after = bws(after);
        return match after.strip_prefix(')') {
            Some(done) => Ok((done, KeyPredicate::Single(v))),
            None => fail(
                after,
                format!("expected `)` after key value, found {}", found(after)),
            ),
        };
    }
    let mut pairs = Vec::new();
    let mut r = r;
    loop {
        let (after, name) = commit(identifier(r), |at| {
            format!("expected a name, found {}", found(at))
        })?;
        let after = bws(after);
        let Some(after) = after.strip_prefix('=') else {
            return fail(
                after,
                format!("expected `=` after `{name}`, found {}", found(after)),
            );
        };
        let (after, v) = value(bws(after))?;
        pairs.push((name.to_string(), v));
        let after = bws(after);
        if let Some(more) = after.strip_prefix(',') {
            r = bws(more);
        } else if let Some(done) = after.strip_prefix(')') {
            return Ok((done, KeyPredicate::Named(pairs)));
        } else {
            return fail(
                after,
                format!("expected `,` or `)`, found {}", found(after)),
            );
        }
    }
}

/// `($filter=cond)` after `$count` in an expression; `open` starts at `(`. `$search`
/// there is not supported.
fn count_options<'a>(c: &Src<'_>, open: &'a str, d: u32) -> Res<'a, Expr> {
    let r = bws(&open[1..]);
    let named = identifier(r.strip_prefix('$').unwrap_or(r))
        .ok()
        .and_then(|(after, name)| Some((after.strip_prefix('=')?, opt_by_name(name)?)));
    match named {
        Some((cond, Opt::Filter)) => condition_in_parens(c, cond, d, "`$count($filter=...)`"),
        Some((_, Opt::Search)) => Err(nom::Err::Failure(crate::error::PErr {
            at: r,
            kind: crate::ErrorKind::NotImplemented,
            msg: "`$search` inside `$count(...)` is not supported".into(),
        })),
        _ => fail(
            r,
            format!("expected `$filter=` in `$count(...)`, found {}", found(r)),
        ),
    }
}

/// A condition and the `)` that closes it: `$filter(cond)`, `$count($filter=cond)`.
fn condition_in_parens<'a>(c: &Src<'_>, i: &'a str, d: u32, within: &str) -> Res<'a, Expr> {
    let (a, e) = commit(expr(c, bws(i), d + 1), |at| {
        format!("expected a condition in {within}, found {}", found(at))
    })?;
    let a = bws(a);
    match a.strip_prefix(')') {
        Some(a) => Ok((a, e)),
        None => fail(a, format!("expected `)`, found {}", found(a))),
    }
}

/// A member path, possibly ending in a lambda: `Status/DeadFlag`, `$it/Name`,
/// `$root/Contacts(1)/Name`, `Leads/any(l: l/Flag eq 'A')`, `Model.Fn(a=1)/Name`.
fn member<'a>(c: &Src<'_>, i: &'a str, d: u32) -> Res<'a, Expr> {
    let pos = c.pos(i);
    let mut segments: Vec<MemberSegment> = Vec::new();
    let mut r = i;
    loop {
        let first = segments.is_empty();
        let seg_start = r;
        let (after, name) = segment_name(r, first)?;
        if !first
            && (name.eq_ignore_ascii_case("any") || name.eq_ignore_ascii_case("all"))
            && after.starts_with('(')
        {
            let kind = if name.eq_ignore_ascii_case("any") {
                LambdaKind::Any
            } else {
                LambdaKind::All
            };
            return lambda(c, after, d, kind, MemberPath { segments, pos });
        }
        let mut after = after;
        let mut key = None;
        if name == "$filter" {
            let Some(open) = after.strip_prefix('(') else {
                return fail(after, "expected `(` after `$filter`");
            };
            let (a, e) = condition_in_parens(c, open, d, "`$filter(...)`")?;
            key = Some(KeyPredicate::Single(e));
            after = a;
        } else if !first && name == "aggregate" && after.starts_with('(') {
            let (a, item) = commit(
                crate::apply::aggregate_function(c, bws(&after[1..]), d + 1),
                |at| {
                    format!(
                        "expected what to aggregate in `aggregate(...)`, found {}",
                        found(at)
                    )
                },
            )?;
            let a = bws(a);
            let Some(a) = a.strip_prefix(')') else {
                return fail(
                    a,
                    format!("expected `)` to close `aggregate(...)`, found {}", found(a)),
                );
            };
            let collection = MemberPath { segments, pos };
            let item = Box::new(item);
            return Ok((a, Expr::Aggregate { collection, item }));
        } else if name == "$count" && after.starts_with('(') {
            // `Nav/$count($filter=cond)` (4.01) is `Nav/$filter(cond)/$count`.
            let (a, cond) = count_options(c, after, d)?;
            segments.push(MemberSegment {
                name: "$filter".to_string(),
                key: Some(KeyPredicate::Single(cond)),
            });
            after = a;
        } else if after.starts_with('(') && !name.starts_with('$') {
            let (a, k) = key_predicate(c, after, d, true)?;
            key = Some(k);
            after = a;
        } else if first && name.contains('.') && !name.starts_with('@') && !after.starts_with('/') {
            return fail(after, format!("expected `(` after function `{name}`"));
        }
        if first && name == "$root" && !after.starts_with('/') {
            return fail(after, "expected `/` and an entity set after `$root`");
        }
        let _ = seg_start;
        segments.push(MemberSegment {
            name: name.to_string(),
            key,
        });
        match after.strip_prefix('/') {
            Some(next)
                if next.starts_with(|ch: char| {
                    crate::lex::is_ident_start(ch) || ch == '$' || ch == '@'
                }) =>
            {
                r = next
            }
            Some(_) => {
                return fail(
                    after,
                    format!("expected a name after `/`, found {}", found(&after[1..])),
                )
            }
            None => return Ok((after, Expr::Member(MemberPath { segments, pos }))),
        }
    }
}

/// One path segment's name: identifier, qualified name, `$it`-style keyword or annotation.
fn segment_name(i: &str, first: bool) -> Res<'_, &str> {
    if let Some(r) = i.strip_prefix('$') {
        let (after, kw) = identifier(r).map_err(|_| {
            nom::Err::Failure(crate::error::PErr {
                at: i,
                kind: crate::ErrorKind::Syntax,
                msg: "expected a name after `$`".into(),
            })
        })?;
        let ok = match kw {
            "it" | "this" | "root" => first,
            // Only as `$these/aggregate(...)` or `$these/$count`: the collection an
            // option applies to, never one of its instances.
            "these" => first && (after.starts_with("/aggregate(") || after.starts_with("/$count")),
            "count" | "filter" => !first,
            _ => false,
        };
        if !ok {
            return fail(i, format!("`${kw}` is not allowed here"));
        }
        return Ok((after, &i[..1 + kw.len()]));
    }
    if let Some(r) = i.strip_prefix('@') {
        let (mut after, _) = commit(qualified(r), |at| {
            format!("expected an annotation name after `@`, found {}", found(at))
        })?;
        if let Some(q) = after.strip_prefix('#') {
            after = identifier(q)?.0;
        }
        return Ok((after, &i[..i.len() - after.len()]));
    }
    match qualified(i) {
        Ok(x) => Ok(x),
        Err(_) => backtrack(i, "expected a value"),
    }
}

/// `any(v: pred)`, `any()`, `all(v: pred)`; `open` starts at `(`.
fn lambda<'a>(
    c: &Src<'_>,
    open: &'a str,
    d: u32,
    kind: LambdaKind,
    collection: MemberPath,
) -> Res<'a, Expr> {
    if d >= MAX_DEPTH {
        return too_deep(open, "expression is nested too deeply (limit 100)");
    }
    let word = if kind == LambdaKind::Any {
        "any"
    } else {
        "all"
    };
    let r = bws(&open[1..]);
    if let Some(done) = r.strip_prefix(')') {
        if kind == LambdaKind::All {
            return fail(r, "`all()` needs a lambda, e.g. `all(l: l/Flag eq 'A')`");
        }
        return Ok((
            done,
            Expr::Lambda {
                collection,
                kind,
                variable: None,
                predicate: None,
            },
        ));
    }
    let (r, var) = commit(identifier(r), |at| {
        format!(
            "expected a range variable in `{word}(...)`, found {}",
            found(at)
        )
    })?;
    let r = bws(r);
    let Some(r) = r.strip_prefix(':') else {
        return fail(
            r,
            format!("expected `:` after the range variable, found {}", found(r)),
        );
    };
    let (r, pred) = commit(expr(c, bws(r), d + 1), |at| {
        format!("expected a condition after `:`, found {}", found(at))
    })?;
    let r = bws(r);
    let Some(r) = r.strip_prefix(')') else {
        return fail(
            r,
            format!("expected `)` to close `{word}(...)`, found {}", found(r)),
        );
    };
    Ok((
        r,
        Expr::Lambda {
            collection,
            kind,
            variable: Some(var.to_string()),
            predicate: Some(Box::new(pred)),
        },
    ))
}

/// Skips trailing whitespace-only remainder check helper for callers.
pub(crate) fn only_ws(i: &str) -> bool {
    i.chars().all(is_ws)
}
