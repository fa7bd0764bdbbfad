//! `$orderby` in SQL: a page's `ORDER BY`, its rows' order values (the keyset a
//! `$skiptoken` carries) and the predicate for the rows after a keyset.

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{Ty, Value};
use crate::db::Dialect;
use crate::model::EdmType;
use crate::plan::OrderKey;

impl Compiler {
    pub(super) fn order_by(&mut self, q: &mut Sql, order: &[OrderKey], a: &str) {
        q.sql(" ORDER BY ");
        let scopes = self.scopes(a);
        for (i, k) in order.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            self.expr(q, &k.expr, &scopes);
            q.sql(order_direction(k));
        }
    }

    /// The JSON array of a row's order values at `a`, or, with `chosen`, those the
    /// page's subquery of that alias selected (`o0`, `o1`, ...).
    pub(super) fn order_values(
        &mut self,
        q: &mut Sql,
        order: &[OrderKey],
        a: &str,
        chosen: Option<&str>,
    ) {
        self.order_values_of(q, order, a, chosen, false);
    }

    /// The order values of the row before the one at `a` in `order` (`lag`), as
    /// `order_values` writes them: where a page of an expanded collection ended.
    pub(super) fn previous_order_values(&mut self, q: &mut Sql, order: &[OrderKey], a: &str) {
        self.order_values_of(q, order, a, None, true);
    }

    fn order_values_of(
        &mut self,
        q: &mut Sql,
        order: &[OrderKey],
        a: &str,
        chosen: Option<&str>,
        previous: bool,
    ) {
        q.sql(if self.dialect == Dialect::Postgres {
            "json_build_array("
        } else {
            "json_array("
        });
        for (i, k) in order.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            if previous {
                q.sql("lag(");
            }
            // A fraction goes into the token as exact text: as a JSON number it would be
            // read back as the nearest double (or, from SQLite's JSON, with 16 digits at
            // most), and the next page would start inside its tie group again, or past
            // part of it.
            let exact = matches!(k.expr.ty(), Ty::Edm(EdmType::Decimal(..) | EdmType::Double));
            let key = |c: &mut Self, q: &mut Sql| match chosen {
                Some(p) => {
                    q.sql(&format!("{p}.o{i}"));
                }
                None => {
                    // Inside an expand `$it` (scope 1) may be an order key's.
                    let scopes = c.scopes(a);
                    c.expr(q, &k.expr, &scopes)
                }
            };
            match (exact, self.dialect) {
                (false, _) => key(self, q),
                (true, Dialect::Postgres) => {
                    q.sql("CAST(");
                    key(self, q);
                    q.sql(" AS text)");
                }
                (true, Dialect::Sqlite) => {
                    // Integers stay numbers (see db::exact_text).
                    q.sql("(CASE WHEN typeof(");
                    key(self, q);
                    q.sql(") = 'real' THEN odata_exact_text(");
                    key(self, q);
                    q.sql(") ELSE ");
                    key(self, q);
                    q.sql(" END)");
                }
            }
            if previous {
                q.sql(") OVER (");
                self.order_by(q, order, a);
                q.sql(")");
            }
        }
        q.sql(")");
    }

    /// Rows strictly after `after` in the order (nulls lowest).
    pub(super) fn keyset(&mut self, q: &mut Sql, order: &[OrderKey], after: &[Value], a: &str) {
        let scopes = [a.to_owned()];
        q.sql("(");
        // A skiptoken holds one value per key (checked when it is read); zipping keeps a
        // shorter one from reaching past its end all the same.
        for (i, (k, v)) in order.iter().zip(after).enumerate() {
            if i > 0 {
                q.sql(" OR ");
            }
            q.sql("(");
            for (j, (k, v)) in order.iter().zip(after).take(i).enumerate() {
                if j > 0 {
                    q.sql(" AND ");
                }
                self.expr(q, &k.expr, &scopes);
                if *v == Value::Null {
                    q.sql(" IS NULL");
                } else {
                    q.sql(" = ");
                    self.value(q, v);
                }
            }
            if i > 0 {
                q.sql(" AND ");
            }
            match (k.desc, v == &Value::Null) {
                // Ascending from null: any non-null value comes later.
                (false, true) => {
                    self.expr(q, &k.expr, &scopes);
                    q.sql(" IS NOT NULL");
                }
                (false, false) => {
                    self.expr(q, &k.expr, &scopes);
                    q.sql(" > ");
                    self.value(q, v);
                }
                // Descending, nulls last: nothing but more nulls after a null.
                (true, true) => {
                    q.sql("1=0");
                }
                (true, false) => {
                    q.sql("(");
                    self.expr(q, &k.expr, &scopes);
                    q.sql(" < ");
                    self.value(q, v);
                    if k.expr.nullable() {
                        q.sql(" OR ");
                        self.expr(q, &k.expr, &scopes);
                        q.sql(" IS NULL");
                    }
                    q.sql(")");
                }
            }
            q.sql(")");
        }
        q.sql(")");
    }
}

/// ` ORDER BY` the order values a subquery selected as `o0`, `o1`, ..., each named
/// after `prefix` (its alias and a dot, or nothing inside it).
pub(super) fn order_by_chosen(q: &mut Sql, order: &[OrderKey], prefix: &str) {
    q.sql(" ORDER BY ");
    for (i, k) in order.iter().enumerate() {
        if i > 0 {
            q.sql(", ");
        }
        q.sql(&format!("{prefix}o{i}")).sql(order_direction(k));
    }
}

/// ` ASC` / ` DESC` for an order key. Nulls sort lowest on both backends (SQLite's
/// natural order, which its indexes serve directly).
pub(super) fn order_direction(k: &OrderKey) -> &'static str {
    match (k.desc, k.expr.nullable()) {
        (false, false) => " ASC",
        (true, false) => " DESC",
        (false, true) => " ASC NULLS FIRST",
        (true, true) => " DESC NULLS LAST",
    }
}
