//! Canonical OData text for every node. Output is URL text: characters that would end an
//! option or segment (`%`, `&`, `#`, and `/`, `?` inside strings) are percent-encoded, so
//! `parse(print(tree)) == tree`. Parentheses are minimal by precedence.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;

pub(crate) fn function_name(f: Function) -> &'static str {
    use Function::*;
    match f {
        Contains => "contains",
        StartsWith => "startswith",
        EndsWith => "endswith",
        Length => "length",
        IndexOf => "indexof",
        Substring => "substring",
        ToLower => "tolower",
        ToUpper => "toupper",
        Trim => "trim",
        Concat => "concat",
        MatchesPattern => "matchesPattern",
        Year => "year",
        Month => "month",
        Day => "day",
        Hour => "hour",
        Minute => "minute",
        Second => "second",
        FractionalSeconds => "fractionalseconds",
        TotalSeconds => "totalseconds",
        Date => "date",
        Time => "time",
        TotalOffsetMinutes => "totaloffsetminutes",
        Now => "now",
        MaxDateTime => "maxdatetime",
        MinDateTime => "mindatetime",
        Round => "round",
        Floor => "floor",
        Ceiling => "ceiling",
        Cast => "cast",
        IsOf => "isof",
        HasSubset => "hassubset",
        HasSubsequence => "hassubsequence",
        GeoDistance => "geo.distance",
        GeoIntersects => "geo.intersects",
        GeoLength => "geo.length",
    }
}

pub(crate) fn segment_text(s: &PathSegment) -> String {
    s.to_string()
}

/// Writes `s`, percent-encoding `%`, control characters and the characters in `extra`.
fn esc(f: &mut Formatter<'_>, s: &str, extra: &[char]) -> fmt::Result {
    for ch in s.chars() {
        if ch == '%' || ch.is_control() || extra.contains(&ch) {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                write!(f, "%{b:02X}")?;
            }
        } else {
            f.write_char(ch)?;
        }
    }
    Ok(())
}

/// Free text in option values; spaces too, since the query splitter trims around options.
const IN_VALUE: &[char] = &['&', '#', ' '];
const IN_STRING: &[char] = &['&', '#', '/', '?'];

impl Display for Function {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(function_name(*self))
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use BinaryOp::*;
        f.write_str(match self {
            Eq => "eq",
            Ne => "ne",
            Gt => "gt",
            Ge => "ge",
            Lt => "lt",
            Le => "le",
            Has => "has",
            And => "and",
            Or => "or",
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            DivBy => "divby",
            Mod => "mod",
        })
    }
}

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Not => "not ",
            UnaryOp::Neg => "-",
        })
    }
}

impl Display for LambdaKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LambdaKind::Any => "any",
            LambdaKind::All => "all",
        })
    }
}

fn json_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for ch in s.chars() {
        match ch {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => esc(f, c.encode_utf8(&mut [0u8; 4]), IN_STRING)?,
        }
    }
    f.write_char('"')
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * k)) & 63;
            out.push(char::from(A.get(idx as usize).copied().unwrap_or(b'A')));
        }
    }
    out
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Decimal(s)
            | Literal::Double(s)
            | Literal::Date(s)
            | Literal::DateTimeOffset(s)
            | Literal::TimeOfDay(s)
            | Literal::Guid(s) => f.write_str(s),
            Literal::String(s) => {
                f.write_char('\'')?;
                for part in s.split_inclusive('\'') {
                    esc(f, part, IN_STRING)?;
                    if part.ends_with('\'') {
                        f.write_char('\'')?;
                    }
                }
                f.write_char('\'')
            }
            Literal::Duration(s) => write!(f, "duration'{s}'"),
            Literal::Binary(b) => write!(f, "binary'{}'", base64url(b)),
            Literal::Enum { type_name, value } => {
                write!(f, "{type_name}'")?;
                esc(f, value, IN_STRING)?;
                f.write_char('\'')
            }
            Literal::Geography(s) => write!(f, "geography'{s}'"),
            Literal::Geometry(s) => write!(f, "geometry'{s}'"),
        }
    }
}

/// Binding strength, higher binds tighter.
fn prec(e: &Expr) -> u8 {
    use BinaryOp::*;
    match e {
        Expr::Binary(op, ..) => match op {
            Or => 1,
            And => 2,
            Eq | Ne => 3,
            Gt | Ge | Lt | Le | Has => 4,
            Add | Sub => 5,
            Mul | Div | DivBy | Mod => 6,
        },
        Expr::In(..) => 4,
        Expr::Unary(..) => 7,
        _ => 8,
    }
}

struct Paren<'a>(&'a Expr, bool);

impl Display for Paren<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn is_number(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Literal(
            Literal::Int(_) | Literal::Decimal(_) | Literal::Double(_) | Literal::Duration(_),
            _
        )
    )
}

fn list(f: &mut Formatter<'_>, items: &[Expr], open: char, close: char) -> fmt::Result {
    f.write_char(open)?;
    for (n, e) in items.iter().enumerate() {
        if n > 0 {
            f.write_char(',')?;
        }
        write!(f, "{e}")?;
    }
    f.write_char(close)
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(l, _) => write!(f, "{l}"),
            Expr::Member(m) => write!(f, "{m}"),
            Expr::Alias(name, _) => write!(f, "@{name}"),
            Expr::Unary(op, e) => {
                let wrap = prec(e) < 7 || (*op == UnaryOp::Neg && is_number(e));
                write!(f, "{op}{}", Paren(e, wrap))
            }
            Expr::Binary(op, l, r) => {
                let p = prec(self);
                write!(
                    f,
                    "{} {op} {}",
                    Paren(l, prec(l) < p),
                    Paren(r, prec(r) <= p)
                )
            }
            Expr::In(l, r) => {
                write!(f, "{} in ", Paren(l, prec(l) < 4))?;
                match &**r {
                    Expr::List(items)
                        if items
                            .iter()
                            .all(|e| matches!(e, Expr::Literal(..) | Expr::Alias(..))) =>
                    {
                        list(f, items, '(', ')')
                    }
                    other => write!(f, "{}", Paren(other, prec(other) <= 4)),
                }
            }
            Expr::List(items) => list(f, items, '[', ']'),
            Expr::Object(members) => {
                f.write_char('{')?;
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        f.write_char(',')?;
                    }
                    json_string(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_char('}')
            }
            Expr::Call(func, args, _) => {
                write!(f, "{func}")?;
                list(f, args, '(', ')')
            }
            Expr::TypeName(t) => f.write_str(t),
            Expr::Case(arms) => {
                f.write_str("case(")?;
                for (n, (c, v)) in arms.iter().enumerate() {
                    if n > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{c}:{v}")?;
                }
                f.write_char(')')
            }
            Expr::Lambda {
                collection,
                kind,
                variable,
                predicate,
            } => {
                write!(f, "{collection}/{kind}(")?;
                if let (Some(v), Some(p)) = (variable, predicate) {
                    write!(f, "{v}:{p}")?;
                }
                f.write_char(')')
            }
            Expr::Aggregate { collection, item } => write!(f, "{collection}/aggregate({item})"),
        }
    }
}

impl Display for KeyPredicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            KeyPredicate::Single(e) => write!(f, "({e})"),
            KeyPredicate::Named(pairs) => {
                f.write_char('(')?;
                for (n, (k, v)) in pairs.iter().enumerate() {
                    if n > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for MemberSegment {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        esc(f, &self.name, IN_VALUE)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl Display for MemberPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (n, s) in self.segments.iter().enumerate() {
            if n > 0 {
                f.write_char('/')?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Display for PathSegment {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PathSegment::Name { name, key, .. } => {
                f.write_str(name)?;
                match key {
                    Some(k) => write!(f, "{k}"),
                    None => Ok(()),
                }
            }
            PathSegment::Count => f.write_str("$count"),
            PathSegment::Value => f.write_str("$value"),
            PathSegment::Ref => f.write_str("$ref"),
            PathSegment::Filter(e) => write!(f, "$filter({e})"),
            PathSegment::Each => f.write_str("$each"),
            PathSegment::Query => f.write_str("$query"),
            PathSegment::Entity => f.write_str("$entity"),
            PathSegment::All => f.write_str("$all"),
            PathSegment::CrossJoin(sets) => write!(f, "$crossjoin({})", sets.join(",")),
            PathSegment::KeyOrIndex(s) => {
                esc(f, s, &['/', '?', '#', '(', ')', ' ', '\t', '\r', '\n'])
            }
        }
    }
}

impl Display for ResourcePath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ResourcePath::ServiceRoot => Ok(()),
            ResourcePath::Metadata => f.write_str("$metadata"),
            ResourcePath::Batch => f.write_str("$batch"),
            ResourcePath::Segments(segs) => {
                for (n, s) in segs.iter().enumerate() {
                    if n > 0 {
                        f.write_char('/')?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
        }
    }
}

impl Display for SearchExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        fn level(e: &SearchExpr) -> u8 {
            match e {
                SearchExpr::Or(..) => 1,
                SearchExpr::And(..) => 2,
                SearchExpr::Not(..) => 3,
                _ => 4,
            }
        }
        fn side(f: &mut Formatter<'_>, e: &SearchExpr, paren: bool) -> fmt::Result {
            if paren {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match self {
            // A lone `(NOT)` is a word again; bare it could turn into an operator.
            SearchExpr::Term(t) if matches!(t.as_str(), "AND" | "OR" | "NOT") => write!(f, "({t})"),
            SearchExpr::Term(t) => esc(f, t, &['&', '#', ';']),
            SearchExpr::Phrase(p) => {
                f.write_char('"')?;
                esc(f, p, &['&', '#', ';'])?;
                f.write_char('"')
            }
            SearchExpr::Not(e) => {
                f.write_str("NOT ")?;
                side(f, e, level(e) < 3)
            }
            SearchExpr::And(l, r) => {
                side(f, l, level(l) < 2)?;
                f.write_str(" AND ")?;
                side(f, r, level(r) <= 2)
            }
            SearchExpr::Or(l, r) => {
                side(f, l, level(l) < 1)?;
                f.write_str(" OR ")?;
                side(f, r, level(r) <= 1)
            }
        }
    }
}

impl Display for OrderItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if self.desc {
            f.write_str(" desc")?;
        }
        Ok(())
    }
}

impl Display for ComputeItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.expr, self.alias)
    }
}

impl Display for Transformation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Transformation::Filter(e) => write!(f, "filter({e})"),
            Transformation::Compute(items) => {
                f.write_str("compute(")?;
                comma_list(f, items)?;
                f.write_char(')')
            }
            Transformation::Aggregate(items) => {
                f.write_str("aggregate(")?;
                comma_list(f, items)?;
                f.write_char(')')
            }
            Transformation::GroupBy {
                paths,
                rollups,
                aggregate,
                per_group,
            } => {
                f.write_str("groupby((")?;
                for (n, p) in paths.iter().enumerate() {
                    let rollup = rollups.iter().find(|r| r.start <= n && n < r.end);
                    match rollup {
                        Some(r) if r.start == n => {
                            if n > 0 {
                                f.write_char(',')?;
                            }
                            f.write_str(if r.all { "rollup($all," } else { "rollup(" })?;
                        }
                        _ if n > 0 => f.write_char(',')?,
                        _ => {}
                    }
                    path(f, &p.segments)?;
                    if rollup.is_some_and(|r| r.end == n + 1) {
                        f.write_char(')')?;
                    }
                }
                f.write_char(')')?;
                if !aggregate.is_empty() {
                    f.write_str(",aggregate(")?;
                    comma_list(f, aggregate)?;
                    f.write_char(')')?;
                }
                for (n, t) in per_group.iter().enumerate() {
                    f.write_char(if n == 0 { ',' } else { '/' })?;
                    write!(f, "{t}")?;
                }
                f.write_char(')')
            }
            Transformation::OrderBy(items) => {
                f.write_str("orderby(")?;
                comma_list(f, items)?;
                f.write_char(')')
            }
            Transformation::Skip(n) => write!(f, "skip({n})"),
            Transformation::Top(n) => write!(f, "top({n})"),
            Transformation::Search(e) => write!(f, "search({e})"),
            Transformation::TopCount { n, expr, bottom } => {
                let name = if *bottom { "bottomcount" } else { "topcount" };
                write!(f, "{name}({n},{expr})")
            }
            Transformation::TopSum {
                amount,
                expr,
                bottom,
                percent,
            } => {
                let name = match (bottom, percent) {
                    (false, false) => "topsum",
                    (false, true) => "toppercent",
                    (true, false) => "bottomsum",
                    (true, true) => "bottompercent",
                };
                write!(f, "{name}({amount},{expr})")
            }
            Transformation::Identity => f.write_str("identity"),
            Transformation::Concat(sequences) => {
                f.write_str("concat(")?;
                for (n, seq) in sequences.iter().enumerate() {
                    if n > 0 {
                        f.write_char(',')?;
                    }
                    for (m, t) in seq.iter().enumerate() {
                        if m > 0 {
                            f.write_char('/')?;
                        }
                        write!(f, "{t}")?;
                    }
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for AggregateItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (&self.value, self.method) {
            (Some(v), Some(m)) => write!(f, "{v} with {m}")?,
            _ => f.write_str("$count")?,
        }
        for (paths, m) in &self.from {
            f.write_str(" from ")?;
            for (n, p) in paths.iter().enumerate() {
                if n > 0 {
                    f.write_char(',')?;
                }
                path(f, &p.segments)?;
            }
            write!(f, " with {m}")?;
        }
        if self.alias.is_empty() {
            return Ok(());
        }
        write!(f, " as {}", self.alias)
    }
}

impl Display for AggregateMethod {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AggregateMethod::Sum => "sum",
            AggregateMethod::Min => "min",
            AggregateMethod::Max => "max",
            AggregateMethod::Average => "average",
            AggregateMethod::CountDistinct => "countdistinct",
        })
    }
}

impl Display for Levels {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Levels::N(n) => write!(f, "{n}"),
            Levels::Max => f.write_str("max"),
        }
    }
}

fn path(f: &mut Formatter<'_>, p: &[String]) -> fmt::Result {
    for (n, s) in p.iter().enumerate() {
        if n > 0 {
            f.write_char('/')?;
        }
        esc(f, s, IN_VALUE)?;
    }
    Ok(())
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectItem::Star => f.write_char('*'),
            SelectItem::AllOperations(ns) => write!(f, "{ns}.*"),
            SelectItem::Path {
                path: p, options, ..
            } => {
                path(f, p)?;
                if let Some(o) = options {
                    f.write_char('(')?;
                    write_options(f, o, ';')?;
                    f.write_char(')')?;
                }
                Ok(())
            }
        }
    }
}

impl Display for ExpandTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ExpandTarget::Star => f.write_char('*'),
            ExpandTarget::Path(p) => path(f, p),
        }
    }
}

impl Display for ExpandItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.target)?;
        if self.is_ref {
            f.write_str("/$ref")?;
        }
        if self.is_count {
            f.write_str("/$count")?;
        }
        if self.options != QueryOptions::default() {
            f.write_char('(')?;
            write_options(f, &self.options, ';')?;
            f.write_char(')')?;
        }
        Ok(())
    }
}

fn comma_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (n, it) in items.iter().enumerate() {
        if n > 0 {
            f.write_char(',')?;
        }
        write!(f, "{it}")?;
    }
    Ok(())
}

/// Options in a fixed order, joined by `sep` (`&` at the top, `;` inside parentheses).
fn write_options(f: &mut Formatter<'_>, q: &QueryOptions, sep: char) -> fmt::Result {
    let mut first = true;
    let mut next = |f: &mut Formatter<'_>, name: &str| -> fmt::Result {
        if !first {
            f.write_char(sep)?;
        }
        first = false;
        f.write_str(name)?;
        f.write_char('=')
    };
    if let Some(v) = &q.select {
        next(f, "$select")?;
        comma_list(f, v)?;
    }
    if let Some(v) = &q.expand {
        next(f, "$expand")?;
        comma_list(f, v)?;
    }
    if let Some(v) = &q.filter {
        next(f, "$filter")?;
        write!(f, "{v}")?;
    }
    if let Some(v) = &q.orderby {
        next(f, "$orderby")?;
        comma_list(f, v)?;
    }
    if let Some(v) = q.top {
        next(f, "$top")?;
        write!(f, "{v}")?;
    }
    if let Some(v) = q.skip {
        next(f, "$skip")?;
        write!(f, "{v}")?;
    }
    if let Some(v) = q.count {
        next(f, "$count")?;
        write!(f, "{v}")?;
    }
    if let Some(v) = &q.search {
        next(f, "$search")?;
        write!(f, "{v}")?;
    }
    if let Some(v) = &q.compute {
        next(f, "$compute")?;
        comma_list(f, v)?;
    }
    if let Some(v) = &q.apply {
        next(f, "$apply")?;
        for (n, t) in v.iter().enumerate() {
            if n > 0 {
                f.write_char('/')?;
            }
            write!(f, "{t}")?;
        }
    }
    if let Some(v) = q.levels {
        next(f, "$levels")?;
        write!(f, "{v}")?;
    }
    for (name, v) in [
        ("$skiptoken", &q.skiptoken),
        ("$format", &q.format),
        ("$id", &q.id),
        ("$schemaversion", &q.schemaversion),
        ("$deltatoken", &q.deltatoken),
    ] {
        if let Some(v) = v {
            next(f, name)?;
            esc(f, v, IN_VALUE)?;
        }
    }
    if let Some(v) = q.index {
        next(f, "$index")?;
        write!(f, "{v}")?;
    }
    for (name, e) in &q.temporal {
        next(f, &format!("${name}"))?;
        write!(f, "{e}")?;
    }
    for (name, e) in &q.aliases {
        next(f, &format!("@{name}"))?;
        write!(f, "{e}")?;
    }
    for (name, v) in &q.custom {
        if !first {
            f.write_char(sep)?;
        }
        first = false;
        esc(f, name, &['&', '#', '=', ' '])?;
        // Whitespace at the end of a piece is dropped when parsing, so a name ending in
        // whitespace keeps its `=`.
        if !v.is_empty() || name.ends_with(|c: char| c.is_whitespace()) {
            f.write_char('=')?;
            esc(f, v, IN_VALUE)?;
        }
    }
    Ok(())
}

impl Display for QueryOptions {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_options(f, self, '&')
    }
}

impl Display for ODataUrl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if self.options != QueryOptions::default() {
            write!(f, "?{}", self.options)?;
        }
        Ok(())
    }
}
