//! `cast` in SQL, with OData's rules on both backends: numbers round half away from zero
//! and must fit the target, a string converts only when it holds a literal of the
//! target type, and whatever does not convert is null (never a database error).

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{TExpr, Ty, Value};
use crate::db::Dialect;
use crate::model::EdmType;

/// An integer literal (`int64Value`): sign and up to 19 digits.
const INTEGER: &str = "^[+-]?[0-9]{1,19}$";
/// An instant as XML Schema writes it (OData's cast rule 11): a date, a time of day, and
/// an offset or none (UTC); or a date alone, its midnight in UTC (a date's instant).
const INSTANT: &str = "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,12})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$";
/// A date literal, years 1 to 9999 (OData has no year 0; PostgreSQL would read 0000 as
/// 1 BC and refuse it).
const DATE: &str =
    "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";
/// A time-of-day literal (`timeOfDayValue`).
const TIME_OF_DAY: &str = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,12})?)?$";
/// A decimal or double literal, with the digits bounded so that neither backend's
/// conversion can overflow (`decimalValue`, `doubleValue` without INF and NaN).
const NUMBER: &str = "^[+-]?[0-9]{1,30}([.][0-9]{1,30})?([eE][+-]?[0-9]{1,2})?$";

impl Compiler {
    /// A null of `ty`, typed on PostgreSQL: there a bare null is text, which neither
    /// compares with other types nor unites with them (a union's columns take the types
    /// of its first part).
    pub(super) fn typed_null(&self, q: &mut Sql, ty: Ty) {
        match self.dialect {
            Dialect::Postgres => q.sql("CAST(NULL AS ").sql(pg_type(ty)).sql(")"),
            Dialect::Sqlite => q.sql("NULL"),
        };
    }

    pub(super) fn cast(
        &mut self,
        q: &mut Sql,
        e: &TExpr,
        to: Ty,
        range: Option<(i64, i64)>,
        scopes: &[String],
    ) {
        let pg = self.dialect == Dialect::Postgres;
        let from = e.ty();
        if matches!(e, TExpr::Lit(Value::Null)) {
            // Typed, so that PostgreSQL can compare it with anything of the type.
            self.typed_null(q, to);
            return;
        }
        match to {
            // Only widened (see `bind::cast`): every value fits.
            Ty::Edm(t)
                if t.is_integer()
                    && range.is_none()
                    && matches!(from, Ty::Edm(f) if f.is_integer()) =>
            {
                q.sql("CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS ")
                    .sql(if pg { pg_type(to) } else { "INTEGER" })
                    .sql(")");
            }
            Ty::Edm(t) if t.is_integer() || range.is_some() => {
                let (lo, hi) = range.unwrap_or((i64::MIN, i64::MAX));
                let int = if pg { pg_type(to) } else { "INTEGER" };
                if from.is_string() {
                    self.when_matches(q, e, INTEGER, scopes);
                }
                // Rounded as OData's round(): half away from zero (PostgreSQL's round
                // of a double rounds half to even, its round of a numeric does not).
                let rounded = |c: &mut Compiler, q: &mut Sql| {
                    q.sql("round(CAST(");
                    c.expr(q, e, scopes);
                    q.sql(if pg { " AS numeric))" } else { " AS REAL))" });
                };
                q.sql("(CASE WHEN ");
                rounded(self, q);
                q.sql(" BETWEEN ");
                self.value(q, &Value::Int(lo));
                q.sql(" AND ");
                self.value(q, &Value::Int(hi));
                q.sql(" THEN CAST(");
                rounded(self, q);
                q.sql(" AS ").sql(int).sql(") END)");
                if from.is_string() {
                    q.sql(" END)");
                }
            }
            Ty::Edm(EdmType::Decimal(..) | EdmType::Double) => {
                let ty = match (pg, to) {
                    (true, Ty::Edm(EdmType::Double)) => "double precision",
                    (true, _) => "numeric",
                    (false, Ty::Edm(EdmType::Double)) => "REAL",
                    (false, _) => "NUMERIC",
                };
                if from.is_string() {
                    self.when_matches(q, e, NUMBER, scopes);
                }
                // A decimal is finite: NaN and infinities do not convert (null).
                let finite =
                    from == Ty::Edm(EdmType::Double) && ty != "double precision" && ty != "REAL";
                if finite {
                    q.sql("(CASE WHEN ");
                    self.finite(q, &mut |c, q| c.expr(q, e, scopes));
                    q.sql(" THEN ");
                }
                q.sql("CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS ").sql(ty).sql(")");
                if finite {
                    q.sql(" END)");
                }
                if from.is_string() {
                    q.sql(" END)");
                }
            }
            Ty::Edm(EdmType::DateTimeOffset) | Ty::Date if from.is_string() => {
                let instant = to != Ty::Date;
                self.when_matches(q, e, if instant { INSTANT } else { DATE }, scopes);
                if pg {
                    q.sql(if instant {
                        "crm_try_timestamptz("
                    } else {
                        "crm_try_date("
                    });
                    self.expr(q, e, scopes);
                    q.sql(")");
                } else {
                    // SQLite's date functions roll 2024-02-30 over into March: the date
                    // must come back as written to be one.
                    q.sql("(CASE WHEN date(substr(");
                    self.expr(q, e, scopes);
                    q.sql(", 1, 10)) = substr(");
                    self.expr(q, e, scopes);
                    q.sql(", 1, 10) THEN ");
                    if instant {
                        q.sql("strftime('%Y-%m-%dT%H:%M:%SZ', ");
                        self.expr(q, e, scopes);
                        q.sql(")");
                    } else {
                        self.expr(q, e, scopes);
                    }
                    q.sql(" END)");
                }
                q.sql(" END)");
            }
            Ty::TimeOfDay if from.is_string() => {
                // Whole seconds, as both backends keep a time of day: the fraction is cut
                // off (SQLite's time() drops it; PostgreSQL's cast would round it).
                self.when_matches(q, e, TIME_OF_DAY, scopes);
                if pg {
                    q.sql("CAST(split_part(");
                    self.expr(q, e, scopes);
                    q.sql(", '.', 1) AS time)");
                } else {
                    q.sql("time(");
                    self.expr(q, e, scopes);
                    q.sql(")");
                }
                q.sql(" END)");
            }
            Ty::Bool => {
                // From a string: OData's Boolean literals, in any case.
                q.sql("(CASE lower(");
                self.expr(q, e, scopes);
                q.sql(if pg {
                    ") WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END)"
                } else {
                    ") WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
                });
            }
            _ => self.as_text(q, e, scopes),
        }
    }

    /// Opens `(CASE WHEN e matches pattern THEN`; the caller closes it with ` END)`.
    fn when_matches(&mut self, q: &mut Sql, e: &TExpr, pattern: &'static str, scopes: &[String]) {
        q.sql("(CASE WHEN ");
        self.expr(q, e, scopes);
        q.sql(self.regexp_operator());
        q.bind_text(pattern.to_owned());
        q.sql(" THEN ");
    }

    /// A value as the literal the JSON payload writes for it.
    fn as_text(&mut self, q: &mut Sql, e: &TExpr, scopes: &[String]) {
        let pg = self.dialect == Dialect::Postgres;
        match e.ty() {
            Ty::Bool => {
                q.sql("(CASE ");
                self.expr(q, e, scopes);
                q.sql(if pg {
                    " WHEN TRUE THEN 'true' WHEN FALSE THEN 'false' END)"
                } else {
                    " WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)"
                });
            }
            Ty::Edm(EdmType::DateTimeOffset) if pg => {
                q.sql("to_char(");
                self.expr(q, e, scopes);
                q.sql(super::compiler::PG_UTC_TEXT);
            }
            Ty::Duration => self.duration_text(q, &mut |c, q| c.expr(q, e, scopes)),
            Ty::Date if pg => {
                q.sql("to_char(");
                self.expr(q, e, scopes);
                q.sql(", 'YYYY-MM-DD')");
            }
            Ty::Edm(EdmType::Decimal(..)) if pg => {
                // 5872.40 is written 5872.4, as the JSON number is. The value may be a
                // double in SQL (`totalseconds`), which trim_scale does not take.
                q.sql("CAST(trim_scale(CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS numeric)) AS text)");
            }
            Ty::Edm(EdmType::Double) if !pg => {
                // A whole double as PostgreSQL writes it, `19` rather than SQLite's `19.0`.
                q.sql("(CASE WHEN abs(");
                self.expr(q, e, scopes);
                q.sql(") < ").sql(super::expr::WHOLE_DOUBLES).sql(" AND ");
                self.expr(q, e, scopes);
                q.sql(" = CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS INTEGER) THEN CAST(CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS INTEGER) AS TEXT) ELSE CAST(");
                self.expr(q, e, scopes);
                q.sql(" AS TEXT) END)");
            }
            _ => {
                // SQLite keeps dates and times as the text OData writes.
                q.sql("CAST(");
                self.expr(q, e, scopes);
                q.sql(if pg { " AS text)" } else { " AS TEXT)" });
            }
        }
    }
}

pub(super) fn pg_type(to: Ty) -> &'static str {
    match to {
        Ty::Bool => "boolean",
        Ty::Date => "date",
        Ty::TimeOfDay => "time",
        Ty::Edm(EdmType::Int64) => "bigint",
        Ty::Edm(EdmType::Byte | EdmType::Int32) => "integer",
        Ty::Edm(EdmType::Decimal(..)) => "numeric",
        Ty::Edm(EdmType::Double) => "double precision",
        Ty::Edm(EdmType::String) => "text",
        Ty::Edm(EdmType::DateTimeOffset) => "timestamptz",
        Ty::Edm(EdmType::Boolean) => "boolean",
        Ty::Duration => "double precision",
        Ty::Null => "text",
    }
}
