//! Typed expressions to SQL. OData treats a comparison with null as false, where SQL
//! yields NULL; the two agree in a WHERE clause until a `not` inverts them. So
//! comparisons stay plain (and indexable) where they are not negated, and become
//! two-valued (`COALESCE(p, FALSE)`) under an odd number of negations. Everything else
//! that is Boolean keeps SQL's three values, which are OData's (Part 2 §5.1.1.3-4): a
//! function of null is null (`startswith(null,'a')`), as is a null Boolean property,
//! `not null` is null, and `and`/`or` treat null as unknown. A lambda is two-valued:
//! `any` is true when its condition is true for some member, `all` when it is for every.
//! A condition whose value is read (`contains(Email,'x') eq null`, `$compute`) keeps
//! the same three values, its comparisons made two-valued whatever the negation.

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{ArithOp, CmpOp, TExpr, Ty, Value};
use crate::db::{decimal, double, integer, Dialect};
use crate::model::EdmType;
use odata_parser::Function;

impl Compiler {
    /// A boolean expression in WHERE position.
    pub fn predicate(&mut self, q: &mut Sql, e: &TExpr, scopes: &[String]) {
        match e {
            TExpr::And(a, b) | TExpr::Or(a, b) => {
                q.sql("(");
                self.predicate(q, a, scopes);
                q.sql(if matches!(e, TExpr::And(..)) {
                    " AND "
                } else {
                    " OR "
                });
                self.predicate(q, b, scopes);
                q.sql(")");
            }
            TExpr::Not(a) => {
                q.sql("NOT ");
                self.negated = !self.negated;
                self.predicate(q, a, scopes);
                self.negated = !self.negated;
            }
            TExpr::Cmp(op, a, b) => self.comparison(q, *op, a, b, scopes),
            TExpr::In(a, items) => {
                let non_null: Vec<&TExpr> = items
                    .iter()
                    .filter(|i| !matches!(i, TExpr::Lit(Value::Null)))
                    .collect();
                let has_null = non_null.len() != items.len();
                let wrap = self.open_two_valued(q, a.nullable());
                q.sql("(");
                if !non_null.is_empty() {
                    self.expr(q, a, scopes);
                    q.sql(" IN (");
                    for (i, item) in non_null.iter().enumerate() {
                        if i > 0 {
                            q.sql(", ");
                        }
                        self.coerced(q, item, a.ty(), scopes);
                    }
                    q.sql(")");
                } else {
                    q.sql("1=0");
                }
                if has_null {
                    q.sql(" OR ");
                    self.expr(q, a, scopes);
                    q.sql(" IS NULL");
                }
                q.sql(")");
                self.close_two_valued(q, wrap);
            }
            TExpr::Lambda {
                scope,
                navs,
                all,
                body,
            } => {
                let outer = scopes[*scope].clone();
                if *all {
                    q.sql("NOT ");
                }
                q.sql("EXISTS (");
                let mut inner_scopes = scopes.to_vec();
                self.nav_chain(q, &outer, navs, &mut |c, q, alias| {
                    if let Some(body) = body {
                        inner_scopes.push(alias.to_owned());
                        q.sql(" AND ");
                        // The condition selects members, whatever negation surrounds
                        // the lambda; a member it is not true for (false or null)
                        // refutes `all`.
                        let negated = std::mem::replace(&mut c.negated, false);
                        let as_value = std::mem::replace(&mut c.as_value, false);
                        q.sql("(");
                        c.predicate(q, body, &inner_scopes);
                        q.sql(")");
                        if *all {
                            q.sql(" IS NOT TRUE");
                        }
                        (c.negated, c.as_value) = (negated, as_value);
                    }
                });
                q.sql(")");
            }
            TExpr::Call(f, args, _)
                if matches!(
                    f,
                    Function::Contains
                        | Function::StartsWith
                        | Function::EndsWith
                        | Function::MatchesPattern
                ) =>
            {
                self.string_predicate(q, *f, args, scopes)
            }
            TExpr::Lit(Value::Bool(b)) => {
                q.sql(if *b { "1=1" } else { "1=0" });
            }
            // `null` as a condition is unknown, and so is `not null`.
            TExpr::Lit(_) => {
                q.sql(if self.dialect == Dialect::Postgres {
                    "CAST(NULL AS BOOLEAN)"
                } else {
                    "NULL"
                });
            }
            other => {
                // A Boolean property or value: null stays null.
                q.sql("(");
                self.expr(q, other, scopes);
                q.sql(if self.dialect == Dialect::Postgres {
                    " = TRUE)"
                } else {
                    " = 1)"
                });
            }
        }
    }

    fn comparison(&mut self, q: &mut Sql, op: CmpOp, a: &TExpr, b: &TExpr, scopes: &[String]) {
        let (a_null, b_null) = (
            matches!(a, TExpr::Lit(Value::Null)),
            matches!(b, TExpr::Lit(Value::Null)),
        );
        if a_null || b_null {
            let other = if a_null { b } else { a };
            q.sql("(");
            match (op, a_null && b_null) {
                (CmpOp::Eq, true) | (CmpOp::Ge, true) | (CmpOp::Le, true) => {
                    q.sql("1=1");
                }
                (_, true) => {
                    q.sql("1=0");
                }
                (CmpOp::Eq, false) => {
                    self.expr(q, other, scopes);
                    q.sql(" IS NULL");
                }
                (CmpOp::Ne, false) => {
                    self.expr(q, other, scopes);
                    q.sql(" IS NOT NULL");
                }
                _ => {
                    q.sql("1=0");
                }
            }
            q.sql(")");
            return;
        }
        let sym = match op {
            CmpOp::Eq => " = ",
            CmpOp::Ne => " <> ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " >= ",
            CmpOp::Lt => " < ",
            CmpOp::Le => " <= ",
        };
        let ty = common_type(a.ty(), b.ty());
        let (an, bn) = (a.nullable(), b.nullable());
        q.sql("(");
        if op == CmpOp::Ne && (an || bn) {
            // null ne 'x' is true in OData.
            if an && bn {
                self.coerced(q, a, ty, scopes);
                q.sql(if self.dialect == Dialect::Postgres {
                    " IS DISTINCT FROM "
                } else {
                    " IS NOT "
                });
                self.coerced(q, b, ty, scopes);
            } else {
                let n = if an { a } else { b };
                self.expr(q, n, scopes);
                q.sql(" IS NULL OR ");
                self.coerced(q, a, ty, scopes);
                q.sql(sym);
                self.coerced(q, b, ty, scopes);
            }
        } else if op == CmpOp::Eq && an && bn {
            self.coerced(q, a, ty, scopes);
            q.sql(if self.dialect == Dialect::Postgres {
                " IS NOT DISTINCT FROM "
            } else {
                " IS "
            });
            self.coerced(q, b, ty, scopes);
        } else {
            let wrap = self.open_two_valued(q, an || bn);
            self.coerced(q, a, ty, scopes);
            q.sql(sym);
            self.coerced(q, b, ty, scopes);
            self.close_two_valued(q, wrap);
        }
        q.sql(")");
    }

    /// Opens `COALESCE(` when a comparison that may be NULL sits under a negation, or
    /// its value is read.
    fn open_two_valued(&self, q: &mut Sql, may_be_null: bool) -> bool {
        let wrap = (self.negated || self.as_value) && may_be_null;
        if wrap {
            q.sql("COALESCE(");
        }
        wrap
    }

    fn close_two_valued(&self, q: &mut Sql, wrapped: bool) {
        if wrapped {
            q.sql(if self.dialect == Dialect::Postgres {
                ", FALSE)"
            } else {
                ", 0)"
            });
        }
    }

    /// Emits `e`, converting a Date literal compared with a DateTimeOffset.
    fn coerced(&mut self, q: &mut Sql, e: &TExpr, ty: Ty, scopes: &[String]) {
        match (e, ty) {
            (TExpr::Lit(Value::Date(d)), Ty::Edm(EdmType::DateTimeOffset)) => {
                self.value(q, &Value::DateTimeOffset(format!("{d}T00:00:00Z")))
            }
            _ => self.expr(q, e, scopes),
        }
    }

    /// A call of `contains`, `startswith`, `endswith` or `matchesPattern`; binding gave it
    /// two arguments (were one missing, it would match nothing).
    pub(super) fn string_predicate(
        &mut self,
        q: &mut Sql,
        f: Function,
        args: &[TExpr],
        scopes: &[String],
    ) {
        let [s, p] = args else {
            q.sql("1=0");
            return;
        };
        q.sql("(");
        match (f, p) {
            // A literal prefix becomes the range [prefix, next prefix): exactly the
            // strings that start with it in binary (UTF-8 code point) order, which both
            // databases compare in, and a range any index on the column serves whatever
            // the bound value (SQLite's LIKE prefix optimisation needs the planner to look
            // at the value, which would re-prepare the statement on every execution).
            (Function::StartsWith, TExpr::Lit(Value::String(v))) => {
                self.expr(q, s, scopes);
                q.sql(" >= ").bind_text(v.clone());
                if let Some(next) = prefix_successor(v) {
                    q.sql(" AND ");
                    self.expr(q, s, scopes);
                    q.sql(" < ").bind_text(next);
                }
            }
            (Function::EndsWith, TExpr::Lit(Value::String(v))) => {
                self.expr(q, s, scopes);
                q.sql(" LIKE ").bind_text(format!("%{}", escape_like(v)));
                q.sql(" ESCAPE '\\'");
            }
            (Function::StartsWith, _) => {
                q.sql("substr(");
                self.expr(q, s, scopes);
                q.sql(", 1, ").sql(self.length_fn()).sql("(");
                self.expr(q, p, scopes);
                q.sql(")) = ");
                self.expr(q, p, scopes);
            }
            (Function::EndsWith, _) => {
                q.sql(self.length_fn()).sql("(");
                self.expr(q, s, scopes);
                q.sql(") >= ").sql(self.length_fn()).sql("(");
                self.expr(q, p, scopes);
                q.sql(") AND substr(");
                self.expr(q, s, scopes);
                q.sql(", ").sql(self.length_fn()).sql("(");
                self.expr(q, s, scopes);
                q.sql(") - ").sql(self.length_fn()).sql("(");
                self.expr(q, p, scopes);
                q.sql(") + 1) = ");
                self.expr(q, p, scopes);
            }
            (Function::MatchesPattern, _) => {
                self.expr(q, s, scopes);
                q.sql(self.regexp_operator());
                match p {
                    // The binder wrote it in the form both engines read (bind::pattern).
                    TExpr::Lit(Value::String(pattern)) if self.dialect == Dialect::Postgres => {
                        q.bind_text(crate::bind::pattern::for_postgres(pattern));
                    }
                    _ => self.expr(q, p, scopes),
                }
            }
            _ => {
                q.sql(if self.dialect == Dialect::Postgres {
                    "strpos("
                } else {
                    "instr("
                });
                self.expr(q, s, scopes);
                q.sql(", ");
                self.expr(q, p, scopes);
                q.sql(") > 0");
            }
        }
        q.sql(")");
    }

    /// `text ~ pattern`: SQLite's REGEXP is the function db::regexp registers on each
    /// connection.
    pub(super) fn regexp_operator(&self) -> &'static str {
        if self.dialect == Dialect::Postgres {
            " ~ "
        } else {
            " REGEXP "
        }
    }

    pub(super) fn length_fn(&self) -> &'static str {
        if self.dialect == Dialect::Postgres {
            "char_length"
        } else {
            "length"
        }
    }

    /// A value expression.
    pub fn expr(&mut self, q: &mut Sql, e: &TExpr, scopes: &[String]) {
        match e {
            TExpr::Prop { scope, navs, prop } => {
                let alias = scopes[*scope].clone();
                self.prop_value(q, &alias, navs, prop);
            }
            TExpr::Lit(v) => self.value(q, v),
            TExpr::Neg(a) if self.dialect == Dialect::Sqlite && is_integer(a) => {
                // SQLite's `-` would make `-(minimum)` a double (see db::integer).
                q.sql(integer::NEGATE).sql("(");
                self.expr(q, a, scopes);
                q.sql(")");
            }
            TExpr::Neg(a) => {
                q.sql("(-");
                if self.dialect == Dialect::Postgres && a.ty() != Ty::Null {
                    // Typed: PostgreSQL cannot choose a `-` for an untyped NULL
                    // (`-(length(null))`).
                    q.sql("CAST(");
                    self.expr(q, a, scopes);
                    let ty = match a.ty() {
                        // Integer arithmetic runs in 64 bits (see `arith`).
                        Ty::Edm(t) if t.is_integer() => "bigint",
                        other => super::cast::pg_type(other),
                    };
                    q.sql(" AS ").sql(ty).sql(")");
                } else if a.ty() == Ty::Null {
                    q.sql("CAST(NULL AS numeric)");
                } else {
                    self.expr(q, a, scopes);
                }
                q.sql(")");
            }
            TExpr::Arith(op, a, b) => self.arith(q, *op, a, b, scopes),
            TExpr::Shift { base, by, back } => self.shift(q, base, by, *back, scopes),
            TExpr::Elapsed(a, b) => self.elapsed(q, a, b, scopes),
            TExpr::Call(f, args, _) => self.call(q, *f, args, scopes),
            TExpr::Cast { expr, to, range } => self.cast(q, expr, *to, *range, scopes),
            TExpr::Case(pairs, _) => {
                // A condition that is null is not true: SQL's CASE and OData agree.
                q.sql("(CASE");
                for (c, r) in pairs {
                    q.sql(" WHEN ");
                    self.predicate(q, c, scopes);
                    q.sql(" THEN ");
                    self.expr(q, r, scopes);
                }
                q.sql(" END)");
            }
            TExpr::Column { index, .. } => {
                // Named by the aggregation's own alias and column position, never by the client.
                q.sql(&scopes[0]).sql(&format!(".c{index}"));
            }
            TExpr::Root {
                entity,
                key,
                navs,
                prop,
            } => self.root(q, entity, key, navs, *prop),
            TExpr::Count {
                scope,
                navs,
                filter,
            } => {
                let outer = scopes[*scope].clone();
                q.sql("(");
                match filter {
                    None => self.nav_chain_select(q, &outer, navs, "count(*)"),
                    Some(cond) => {
                        self.nav_chain_where(q, &outer, navs, "count(*)", &mut |c, q, alias| {
                            // The condition's own scope is the related entity alone, and
                            // it selects rows whatever negation surrounds the count.
                            q.sql(" AND ");
                            let negated = std::mem::replace(&mut c.negated, false);
                            let as_value = std::mem::replace(&mut c.as_value, false);
                            c.predicate(q, cond, &[alias.to_owned()]);
                            (c.negated, c.as_value) = (negated, as_value);
                        })
                    }
                }
                q.sql(")");
            }
            TExpr::Aggregate {
                scope,
                it,
                navs,
                method,
                value,
                ty,
                from,
            } => {
                let outer = scopes[*scope].clone();
                let it = scopes[*it].clone();
                q.sql("(");
                self.collection_aggregate(
                    q,
                    *method,
                    value.as_deref(),
                    *ty,
                    from,
                    &it,
                    |c, q, what| c.nav_chain_value(q, &outer, navs, what),
                );
                q.sql(")");
            }
            TExpr::These { it, .. } => {
                let it = scopes[*it].clone();
                self.these_aggregate(q, e, &it);
            }
            TExpr::Not(_)
            | TExpr::And(..)
            | TExpr::Or(..)
            | TExpr::Cmp(..)
            | TExpr::In(..)
            | TExpr::Lambda { .. } => {
                // A condition used as a value (`(A eq 1) eq true`): its comparisons are
                // false or true, while a function of null stays null.
                let as_value = std::mem::replace(&mut self.as_value, true);
                q.sql("(");
                self.predicate(q, e, scopes);
                q.sql(")");
                self.as_value = as_value;
            }
        }
    }

    /// `a op b`. A zero divisor fails the statement with "division by zero" (a 400)
    /// except for a Double `div` and for `divby`, which give INF, -INF, or NaN (URL
    /// conventions 5.1.1.2): SQLite's operators would give null, so it uses functions
    /// there (db::integer, db::decimal, db::double), PostgreSQL the `crm_*` ones of
    /// the migrations where its own would fail.
    fn arith(&mut self, q: &mut Sql, op: ArithOp, a: &TExpr, b: &TExpr, scopes: &[String]) {
        let ty = crate::bind::arith_type(op, a.ty(), b.ty());
        let pg = self.dialect == Dialect::Postgres;
        // A null operand makes the result null (URL conventions 5.1.1.2), typed:
        // PostgreSQL cannot choose an operator for two untyped NULLs (`null div null`).
        if [a, b].iter().any(|e| matches!(e, TExpr::Lit(Value::Null))) {
            if pg {
                let t = match ty {
                    Ty::Edm(t) if t.is_integer() => "bigint",
                    other => super::cast::pg_type(other),
                };
                q.sql("CAST(NULL AS ").sql(t).sql(")");
            } else {
                q.sql("NULL");
            }
            return;
        }
        let f = if pg {
            postgres_division(op, ty)
        } else {
            sqlite_function(op, a, b, ty)
        };
        if let Some((f, cast)) = f {
            q.sql(f).sql("(");
            self.operand(q, a, cast, scopes);
            q.sql(", ");
            self.operand(q, b, cast, scopes);
            q.sql(")");
            return;
        }
        q.sql("(");
        if pg && integers(a, b) {
            // In 64 bits, as on SQLite: `integer` arithmetic would fail the
            // statement past 2^31 (`Guttometer mul Guttometer mul ...`), and the
            // smallest Int32 divided by -1 is 2147483648.
            self.operand(q, a, Some("bigint"), scopes);
        } else {
            self.expr(q, a, scopes);
        }
        q.sql(match op {
            ArithOp::Add => " + ",
            ArithOp::Sub => " - ",
            ArithOp::Mul => " * ",
            // PostgreSQL's own fail for a zero divisor.
            ArithOp::Div | ArithOp::DivBy => " / ",
            ArithOp::Mod => " % ",
        });
        self.expr(q, b, scopes);
        q.sql(")");
    }

    /// An operand, cast to `cast` when given.
    fn operand(&mut self, q: &mut Sql, e: &TExpr, cast: Option<&str>, scopes: &[String]) {
        match cast {
            Some(t) => {
                q.sql("CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS ").sql(t).sql(")");
            }
            None => self.expr(q, e, scopes),
        }
    }

    /// An instant or date moved by a duration in seconds; null when that leaves years 1
    /// to 9999 (SQLite has no date there, PostgreSQL would fail the statement). SQLite
    /// keeps instants as UTC text with whole seconds (see `bind::literal::normalize_dto`)
    /// and dates as `YYYY-MM-DD`; the result is written the same way, so it compares
    /// with them.
    fn shift(&mut self, q: &mut Sql, base: &TExpr, by: &TExpr, back: bool, scopes: &[String]) {
        let pg = self.dialect == Dialect::Postgres;
        let sign = if back { " - " } else { " + " };
        let date = base.ty() == Ty::Date;
        let seconds = |c: &mut Compiler, q: &mut Sql| {
            q.sql(if pg {
                "(EXTRACT(EPOCH FROM "
            } else {
                "(unixepoch("
            });
            c.expr(q, base, scopes);
            q.sql(")").sql(sign).sql(if pg { "CAST(" } else { "(" });
            c.expr(q, by, scopes);
            q.sql(if pg { " AS double precision))" } else { "))" });
        };
        // From seconds back to the base's type, as each database writes it.
        let (open, close) = match (pg, date) {
            (true, true) => ("CAST(to_timestamp(", ") AT TIME ZONE 'UTC' AS date)"),
            // Whole seconds, as SQLite keeps instants (its `%S` drops the fraction).
            (true, false) => ("to_timestamp(floor(", "))"),
            (false, true) => ("date(", ", 'unixepoch')"),
            (false, false) => ("strftime('%Y-%m-%dT%H:%M:%SZ', ", ", 'unixepoch')"),
        };
        q.sql("(CASE WHEN ");
        seconds(self, q);
        // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
        q.sql(" BETWEEN -62135596800 AND 253402300799 THEN ")
            .sql(open);
        seconds(self, q);
        q.sql(close).sql(" END)");
    }

    /// Seconds from `b` to `a`, both instants or both dates, as a fractional number so
    /// that dividing the duration does not truncate it.
    fn elapsed(&mut self, q: &mut Sql, a: &TExpr, b: &TExpr, scopes: &[String]) {
        let (open, between, close) = match (self.dialect, a.ty() == Ty::Date) {
            (Dialect::Postgres, true) => ("(CAST((", " - ", ") AS numeric) * 86400)"),
            (Dialect::Postgres, false) => ("EXTRACT(EPOCH FROM (", " - ", "))"),
            (Dialect::Sqlite, _) => ("(CAST(unixepoch(", ") - unixepoch(", ") AS REAL))"),
        };
        q.sql(open);
        self.expr(q, a, scopes);
        q.sql(between);
        self.expr(q, b, scopes);
        q.sql(close);
    }

    /// A duration (seconds) as OData's text for it, in seconds alone (`-PT93600.5S`),
    /// the same on both backends.
    pub(super) fn duration_text(
        &mut self,
        q: &mut Sql,
        value: &mut dyn FnMut(&mut Compiler, &mut Sql),
    ) {
        q.sql("(CASE WHEN ");
        value(self, q);
        q.sql(" < 0 THEN '-' ELSE '' END || 'PT' || CAST(");
        self.plain_number(q, &mut |c, q| {
            q.sql("abs(");
            value(c, q);
            q.sql(")");
        });
        q.sql(" AS TEXT) || 'S')");
    }

    /// A number as the shortest text of its value, the same on both backends:
    /// PostgreSQL's numeric without the zeros of its scale (4339.350000 is 4339.35),
    /// SQLite's REAL without `.0` when whole (97582.0 is 97582).
    pub(super) fn plain_number(
        &mut self,
        q: &mut Sql,
        value: &mut dyn FnMut(&mut Compiler, &mut Sql),
    ) {
        if self.dialect == Dialect::Postgres {
            q.sql("trim_scale(CAST(");
            value(self, q);
            q.sql(" AS numeric))");
        } else {
            q.sql("(CASE WHEN ");
            value(self, q);
            q.sql(" = CAST(");
            value(self, q);
            q.sql(" AS INTEGER) THEN CAST(");
            value(self, q);
            q.sql(" AS INTEGER) ELSE ");
            value(self, q);
            q.sql(" END)");
        }
    }

    /// Binds a literal with the cast each backend needs.
    pub fn value(&mut self, q: &mut Sql, v: &Value) {
        let pg = self.dialect == Dialect::Postgres;
        match v {
            Value::Null => {
                q.sql("NULL");
            }
            Value::Bool(b) => {
                q.sql(match (pg, b) {
                    (true, true) => "TRUE",
                    (true, false) => "FALSE",
                    (false, true) => "1",
                    (false, false) => "0",
                });
            }
            Value::Int(i) => {
                q.bind_int(*i);
            }
            Value::Double(d) => {
                q.bind(super::Bind::Double(*d));
            }
            Value::Decimal(d) => {
                if pg {
                    q.sql("CAST(").bind_text(d.clone()).sql(" AS numeric)");
                } else {
                    q.bind(super::Bind::Double(d.parse().unwrap_or(0.0)));
                }
            }
            Value::String(s) => {
                q.bind_text(s.clone());
            }
            Value::DateTimeOffset(s) => {
                if pg {
                    q.sql("CAST(").bind_text(s.clone()).sql(" AS timestamptz)");
                } else {
                    q.bind_text(s.clone());
                }
            }
            Value::Date(s) => {
                if pg {
                    q.sql("CAST(").bind_text(s.clone()).sql(" AS date)");
                } else {
                    q.bind_text(s.clone());
                }
            }
            Value::TimeOfDay(s) => {
                if pg {
                    q.sql("CAST(").bind_text(s.clone()).sql(" AS time)");
                } else {
                    q.bind_text(s.clone());
                }
            }
            Value::Duration(seconds) => {
                // Seconds, as the other durations of a statement are (see `elapsed`).
                if pg {
                    q.sql("CAST(")
                        .bind(super::Bind::Double(*seconds))
                        .sql(" AS double precision)");
                } else {
                    q.bind(super::Bind::Double(*seconds));
                }
            }
        }
    }
}

/// 2^52: from here on every double is a whole number (and a cast to a 64-bit integer
/// may clamp or overflow), so rounding leaves such values as they are.
pub(super) const WHOLE_DOUBLES: &str = "4503599627370496";

impl Compiler {
    /// `value is a finite number`: neither NaN nor an infinity; null for null. SQLite
    /// has no NaN (it is null there), and writes an infinity as 9e999.
    pub(super) fn finite(&mut self, q: &mut Sql, value: &mut dyn FnMut(&mut Compiler, &mut Sql)) {
        match self.dialect {
            Dialect::Postgres => {
                value(self, q);
                q.sql(" NOT IN ('NaN', 'Infinity', '-Infinity')");
            }
            Dialect::Sqlite => {
                q.sql("abs(");
                value(self, q);
                q.sql(") < 9e999");
            }
        }
    }
}

fn is_integer(e: &TExpr) -> bool {
    matches!(e.ty(), Ty::Edm(t) if t.is_integer())
}

fn integers(a: &TExpr, b: &TExpr) -> bool {
    is_integer(a) && is_integer(b)
}

/// The function that computes `a op b` on SQLite, where its operators would not:
/// integers whose result leaves 64 bits (SQLite's operators would turn it into a
/// double, see db::integer), Edm.Decimal results (SQLite's operators would compute them
/// in binary floating point, and divide whole decimals, stored as integers, as
/// integers), Double results (past a double's range SQLite's operators give infinity
/// where PostgreSQL's fail), and every division and remainder (a zero divisor).
/// Durations stay SQLite's. No cast: the functions take their operands as they are.
fn sqlite_function(
    op: ArithOp,
    a: &TExpr,
    b: &TExpr,
    ty: Ty,
) -> Option<(&'static str, Option<&'static str>)> {
    let int = matches!(ty, Ty::Edm(t) if t.is_integer());
    let f = match op {
        ArithOp::Add | ArithOp::Sub | ArithOp::Mul if integers(a, b) => match op {
            ArithOp::Add => integer::Op::Add,
            ArithOp::Sub => integer::Op::Sub,
            _ => integer::Op::Mul,
        }
        .sqlite_function(),
        ArithOp::Add if ty == Ty::Edm(EdmType::Double) => double::ADD,
        ArithOp::Sub if ty == Ty::Edm(EdmType::Double) => double::SUBTRACT,
        ArithOp::Mul if ty == Ty::Edm(EdmType::Double) => double::MULTIPLY,
        ArithOp::Add | ArithOp::Sub | ArithOp::Mul => {
            let inexact = |t: Ty| matches!(t, Ty::Edm(EdmType::Double) | Ty::Duration);
            let is_decimal = |t: Ty| matches!(t, Ty::Edm(EdmType::Decimal(..)));
            let (ta, tb) = (a.ty(), b.ty());
            if inexact(ta) || inexact(tb) || !(is_decimal(ta) || is_decimal(tb)) {
                return None;
            }
            decimal::sqlite_function(op)
        }
        ArithOp::Div if int => integer::Op::Div.sqlite_function(),
        ArithOp::Div if ty == Ty::Edm(EdmType::Double) => double::DIVIDE,
        ArithOp::Div if ty == Ty::Duration => double::DIVIDE_DURATION,
        ArithOp::Div => decimal::sqlite_function(op),
        // A decimal quotient of any numbers, as PostgreSQL's numeric one.
        ArithOp::DivBy => decimal::sqlite_function(op),
        ArithOp::Mod if int => integer::Op::Mod.sqlite_function(),
        // SQLite's % truncates both operands to integers first; OData's remainder keeps
        // the fraction (5.5 mod 2 is 1.5), with the dividend's sign as on PostgreSQL,
        // which computes it in numeric.
        ArithOp::Mod => decimal::sqlite_function(op),
    };
    Some((f, None))
}

/// The function, and the type its operands are cast to, that computes a division or
/// remainder on PostgreSQL where its operators would not do what OData says.
fn postgres_division(op: ArithOp, ty: Ty) -> Option<(&'static str, Option<&'static str>)> {
    let int = matches!(ty, Ty::Edm(t) if t.is_integer());
    match op {
        ArithOp::Div if ty == Ty::Edm(EdmType::Double) => {
            Some(("crm_double_div", Some("double precision")))
        }
        // Quotients to the digits SQLite's give (db::decimal).
        ArithOp::Div if matches!(ty, Ty::Edm(EdmType::Decimal(..))) => {
            Some(("crm_decimal_div", Some("numeric")))
        }
        ArithOp::DivBy => Some(("crm_divby", Some("numeric"))),
        // PostgreSQL's mod() has no double precision form.
        ArithOp::Mod if !int => Some(("mod", Some("numeric"))),
        _ => None,
    }
}

fn common_type(a: Ty, b: Ty) -> Ty {
    if a == Ty::Date || a == Ty::Null {
        b
    } else {
        a
    }
}

/// The least string greater than every string that starts with `prefix`: the prefix up
/// to its last character that has a successor, with that character incremented. `None`
/// when every character is the last one (`U+10FFFF`), so no upper bound exists.
pub fn prefix_successor(prefix: &str) -> Option<String> {
    let chars: Vec<char> = prefix.chars().collect();
    for i in (0..chars.len()).rev() {
        let next = match chars[i] {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(n) = next {
            let mut out: String = chars[..i].iter().collect();
            out.push(n);
            return Some(out);
        }
    }
    None
}

/// Escapes LIKE wildcards so `%` and `_` in a value match themselves.
pub fn escape_like(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn prefix_successor_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_successor("Sm").as_deref(), Some("Sn"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("é").as_deref(), Some("ê"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor(""), None);
        // Byte order of UTF-8 is code point order: every extension of the prefix sorts
        // inside [prefix, successor), and the successor's own extensions outside.
        for p in ["Sm", "x\u{7F}", "\u{FFFF}", "a\u{10FFFF}"] {
            let next = prefix_successor(p).unwrap();
            for tail in ["", "a", "\u{10FFFF}\u{10FFFF}", "\u{0}"] {
                let s = format!("{p}{tail}");
                assert!(
                    s.as_bytes() >= p.as_bytes() && s.as_bytes() < next.as_bytes(),
                    "{s:?}"
                );
            }
            assert!(!next.starts_with(p));
        }
    }
}
