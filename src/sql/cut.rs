//! `topsum`, `toppercent`, `bottomsum` and `bottompercent` (Data Aggregation): the rows
//! in the value's order, kept while the values before them add up to less than the
//! amount. Running sums over a window, the same on both databases: nulls last (they add
//! nothing), then a total order, so both keep the same rows.

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{Cut, Kept, Ty, Window};
use crate::db::Dialect;
use crate::model::EdmType;
use rust_decimal::Decimal;

/// SQLite keeps decimals as doubles; their running sums add them as integers of this
/// many decimal places (a Lead's Value has 6), exactly as PostgreSQL's numeric does.
const SQLITE_DECIMAL_PLACES: u32 = 6;

impl Compiler {
    /// `SELECT * FROM (rows with running sums) c WHERE kept`, then `w`'s skip and top in
    /// the cut's order. `rows` has the value as column `w`; `ties` name its columns that
    /// order rows of equal value (the entity key, or the groups); `groups` name those
    /// whose every value combination is cut on its own.
    pub(super) fn cut(
        &mut self,
        q: &mut Sql,
        rows: Sql,
        cut: &Cut,
        w: &Window,
        ties: &[String],
        groups: &[String],
    ) {
        let (x, c) = (self.alias(), self.alias());
        let term = self.summand(cut.value.ty(), &format!("{x}.w"));
        q.sql("SELECT * FROM (SELECT ")
            .sql(&x)
            .sql(".*, sum(")
            .sql(&term);
        let partition: String = groups
            .iter()
            .enumerate()
            .map(|(n, g)| format!("{}{x}.{g}", if n == 0 { "PARTITION BY " } else { ", " }))
            .collect();
        q.sql(") OVER (").sql(&partition).sql(" ");
        order(q, cut, &x, ties);
        q.sql(" ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS wb");
        if cut.percent {
            q.sql(", sum(")
                .sql(&term)
                .sql(") OVER (")
                .sql(&partition)
                .sql(") AS wt");
        }
        q.sql(" FROM (").append(rows).sql(") ").sql(&x);
        q.sql(") ")
            .sql(&c)
            .sql(" WHERE coalesce(")
            .sql(&c)
            .sql(".wb, 0) < ");
        if cut.percent {
            q.sql(&c).sql(".wt * ");
            self.amount(q, cut.amount.clone());
            q.sql(" / 100");
        } else {
            let scaled = match self.scale(cut.value.ty()) {
                0 => cut.amount.clone(),
                places => cut
                    .amount
                    .parse::<Decimal>()
                    .ok()
                    .and_then(|a| a.checked_mul(Decimal::from(10_i64.pow(places))))
                    .map_or_else(|| cut.amount.clone(), |a| a.normalize().to_string()),
            };
            self.amount(q, scaled);
        }
        if w.skip > 0 || w.top.is_some() {
            q.sql(" ");
            order(q, cut, &c, ties);
            super::aggregate::limit(q, w);
        }
    }

    /// `key IN (...)`: whether the entity at `a` is one the ranking `k` keeps. The
    /// ranking runs over its own read of the entities (workspace, path, the steps
    /// before it), not correlated with `a`, so it is computed once per statement.
    pub(super) fn kept(&mut self, q: &mut Sql, k: &Kept, a: &str) {
        let entity = k.input.entity;
        let t = self.alias();
        let mut rows = Sql::new();
        rows.sql("SELECT ");
        self.expr(&mut rows, &k.cut.value, std::slice::from_ref(&t));
        rows.sql(" AS w, ");
        self.key_column(&mut rows, entity, &t);
        rows.sql(" AS k FROM ").sql(entity.table).sql(" ").sql(&t);
        rows.sql(" WHERE ");
        self.filters(&mut rows, &k.input, &t);
        let mut kept = Sql::new();
        self.cut(
            &mut kept,
            rows,
            &k.cut,
            &Window::default(),
            &["k".to_owned()],
            &[],
        );
        let x = self.alias();
        self.key_column(q, entity, a);
        q.sql(" IN (SELECT ")
            .sql(&x)
            .sql(".k FROM (")
            .append(kept)
            .sql(") ")
            .sql(&x)
            .sql(")");
    }

    /// A number bound as text and read as the backend's exact (PostgreSQL) or widest
    /// (SQLite) number.
    fn amount(&self, q: &mut Sql, text: String) {
        let ty = match self.dialect {
            Dialect::Postgres => "numeric",
            Dialect::Sqlite => "REAL",
        };
        q.sql("CAST(").bind_text(text).sql(" AS ").sql(ty).sql(")");
    }

    /// The decimal places SQLite's running sums of `ty` scale by (0: added as they are).
    fn scale(&self, ty: Ty) -> u32 {
        match (self.dialect, ty) {
            (Dialect::Sqlite, Ty::Edm(EdmType::Decimal(_, s))) => {
                u32::from(s).min(SQLITE_DECIMAL_PLACES)
            }
            _ => 0,
        }
    }

    /// The term a running sum adds for `column`.
    fn summand(&self, ty: Ty, column: &str) -> String {
        match self.scale(ty) {
            0 => column.to_owned(),
            places => format!("CAST(round({column} * 1e{places}) AS INTEGER)"),
        }
    }
}

/// The cut's order at `at`: the value (highest first for the top forms) with nulls last,
/// then `ties` with nulls first, alike on both backends.
fn order(q: &mut Sql, cut: &Cut, at: &str, ties: &[String]) {
    q.sql("ORDER BY (CASE WHEN ")
        .sql(at)
        .sql(".w IS NULL THEN 1 ELSE 0 END), ");
    q.sql(at).sql(".w");
    if !cut.bottom {
        q.sql(" DESC");
    }
    for t in ties {
        q.sql(", ");
        super::aggregate::order_key(q, &format!("{at}.{t}"), false);
    }
}
