//! OData's canonical functions in SQL, one form per dialect where they differ, with the
//! same results on both (string positions from 0, case-sensitive comparisons, dates in UTC).

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{TExpr, Ty, Value};
use crate::db::Dialect;
use crate::model::EdmType;
use odata_parser::Function;

impl Compiler {
    pub(super) fn call(&mut self, q: &mut Sql, f: Function, args: &[TExpr], scopes: &[String]) {
        use Function::*;
        let pg = self.dialect == Dialect::Postgres;
        // Binding checked each call's arity; an argument missing all the same is NULL.
        let arg = |c: &mut Compiler, q: &mut Sql, i: usize| match args.get(i) {
            Some(a) => c.expr(q, a, scopes),
            None => {
                q.sql("NULL");
            }
        };
        let first_ty = args.first().map(TExpr::ty);
        let predicate = matches!(f, Contains | StartsWith | EndsWith | MatchesPattern);
        if !predicate && args.iter().any(|a| matches!(a, TExpr::Lit(Value::Null))) {
            // A function of null is null; PostgreSQL could not even choose the
            // function for an untyped NULL (`EXTRACT(YEAR FROM NULL)`).
            q.sql("NULL");
            return;
        }
        match f {
            // Null for a null argument, as any function (Part 2 §5.1.1.4).
            Contains | StartsWith | EndsWith | MatchesPattern => {
                q.sql("(");
                self.string_predicate(q, f, args, scopes);
                q.sql(")");
            }
            Length => {
                q.sql(self.length_fn()).sql("(");
                arg(self, q, 0);
                q.sql(")");
            }
            IndexOf => {
                q.sql(if pg { "(strpos(" } else { "(instr(" });
                arg(self, q, 0);
                q.sql(", ");
                arg(self, q, 1);
                q.sql(") - 1)");
            }
            Substring => {
                // A start or length below zero counts as zero, one past any string's
                // length as that: the databases' own readings differ (SQLite counts a
                // negative start from the end and takes a negative length backwards,
                // PostgreSQL fails the statement) and would overflow `integer`.
                // On PostgreSQL the bounds come before the cast to integer, which NaN
                // and infinities would fail (NaN sorts above every number there).
                let clamped = |c: &mut Self, q: &mut Sql, i: usize| {
                    if pg {
                        q.sql("LEAST(GREATEST(");
                        arg(c, q, i);
                        q.sql(", 0), 1073741824)");
                    } else {
                        q.sql("min(max(CAST(");
                        arg(c, q, i);
                        q.sql(" AS INTEGER), 0), 1073741824)");
                    }
                };
                q.sql("substr(");
                arg(self, q, 0);
                q.sql(", ");
                clamped(self, q, 1);
                q.sql(if pg { "::integer + 1" } else { " + 1" });
                if args.len() == 3 {
                    q.sql(", ");
                    clamped(self, q, 2);
                    if pg {
                        q.sql("::integer");
                    }
                }
                q.sql(")");
            }
            ToLower | ToUpper | Trim => {
                // SQLite's lower() and upper() map only ASCII letters; db::letter_case
                // registers the Unicode mappings PostgreSQL's have.
                q.sql(match (f, pg) {
                    (ToLower, true) => "lower(",
                    (ToLower, false) => "odata_lower(",
                    (ToUpper, true) => "upper(",
                    (ToUpper, false) => "odata_upper(",
                    _ => "trim(",
                });
                arg(self, q, 0);
                q.sql(")");
            }
            Concat => {
                q.sql("(");
                arg(self, q, 0);
                q.sql(" || ");
                arg(self, q, 1);
                q.sql(")");
            }
            Year | Month | Day | Hour | Minute | Second => {
                let (pg_part, lite) = match f {
                    Year => ("YEAR", "%Y"),
                    Month => ("MONTH", "%m"),
                    Day => ("DAY", "%d"),
                    Hour => ("HOUR", "%H"),
                    Minute => ("MINUTE", "%M"),
                    _ => ("SECOND", "%S"),
                };
                if pg {
                    q.sql(&format!("CAST(floor(EXTRACT({pg_part} FROM "));
                    arg(self, q, 0);
                    q.sql(")) AS integer)");
                } else {
                    let time_only = first_ty == Some(Ty::TimeOfDay);
                    q.sql(&format!("CAST(strftime('{lite}', "));
                    if time_only {
                        q.sql("'2000-01-01T' || ");
                    }
                    arg(self, q, 0);
                    q.sql(") AS INTEGER)");
                }
            }
            FractionalSeconds => {
                if pg {
                    q.sql("(EXTRACT(MICROSECONDS FROM ");
                    arg(self, q, 0);
                    q.sql(") % 1000000 / 1000000.0)");
                } else {
                    // Stored with whole seconds.
                    q.sql("0");
                }
            }
            // A literal's offset is bound as its minutes (see bind::functions); a stored
            // instant is UTC.
            TotalOffsetMinutes => match args.first() {
                Some(TExpr::Lit(Value::Int(minutes))) => {
                    q.bind_int(*minutes);
                }
                _ => {
                    q.sql("0");
                }
            },
            Date => {
                if pg {
                    q.sql("CAST(");
                    arg(self, q, 0);
                    q.sql(" AS date)");
                } else {
                    q.sql("substr(");
                    arg(self, q, 0);
                    q.sql(", 1, 10)");
                }
            }
            Time => {
                if pg {
                    q.sql("CAST(");
                    arg(self, q, 0);
                    q.sql(" AS time)");
                } else {
                    q.sql("substr(");
                    arg(self, q, 0);
                    q.sql(", 12, 8)");
                }
            }
            // A duration is its seconds already.
            TotalSeconds => arg(self, q, 0),
            Now => {
                q.sql(if pg {
                    "now()"
                } else {
                    "strftime('%Y-%m-%dT%H:%M:%SZ','now')"
                });
            }
            MaxDateTime => self.value(q, &Value::DateTimeOffset("9999-12-31T23:59:59Z".into())),
            MinDateTime => self.value(q, &Value::DateTimeOffset("0001-01-01T00:00:00Z".into())),
            Round | Floor | Ceiling if matches!(first_ty, Some(Ty::Edm(t)) if t.is_integer()) => {
                // Already whole, and typed as the integer it is (PostgreSQL's floor() of
                // a smallint is a double precision).
                arg(self, q, 0);
            }
            Round if pg && first_ty == Some(Ty::Edm(EdmType::Double)) => {
                // Half away from zero, as OData and SQLite round: PostgreSQL's round of a
                // double rounds half to even (2.5 to 2), its round of a numeric does not.
                // A double's NaN and infinities stay what they are.
                q.sql("(CASE WHEN ");
                self.finite(q, &mut |c, q| arg(c, q, 0));
                q.sql(" THEN CAST(round(CAST(");
                arg(self, q, 0);
                q.sql(" AS numeric)) AS double precision) ELSE ");
                arg(self, q, 0);
                q.sql(" END)");
            }
            Round => {
                q.sql("round(");
                arg(self, q, 0);
                q.sql(")");
            }
            Floor | Ceiling => {
                if pg {
                    q.sql(if f == Floor { "floor(" } else { "ceil(" });
                    arg(self, q, 0);
                    q.sql(")");
                } else {
                    // Without SQLite's optional math functions: truncate, then correct;
                    // whole doubles (and infinities) stay as they are.
                    q.sql("(CASE WHEN abs(");
                    arg(self, q, 0);
                    q.sql(") >= ").sql(super::expr::WHOLE_DOUBLES).sql(" THEN ");
                    arg(self, q, 0);
                    q.sql(" ELSE CAST(");
                    arg(self, q, 0);
                    q.sql(" AS INTEGER) ");
                    q.sql(if f == Floor { "- (" } else { "+ (" });
                    arg(self, q, 0);
                    q.sql(if f == Floor { " < CAST(" } else { " > CAST(" });
                    arg(self, q, 0);
                    q.sql(" AS INTEGER)) END)");
                }
            }
            _ => {
                q.sql("NULL");
            }
        }
    }
}
