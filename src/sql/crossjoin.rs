//! `$crossjoin` in SQL: the sets' tables joined on true, each confined to the workspace,
//! the filter over them all, in the request's order and then every set's key. A row is
//! a JSON object with one member per set: the expanded entity (its joins appended after
//! the sets', so they may refer to any of them), or its navigation link.

use super::compiler::Compiler;
use super::objects::Members;
use super::Sql;
use crate::bind::CrossJoin;
use crate::db::Dialect;
use diesel::sql_types::{BigInt, Text};

impl Compiler {
    /// Rows `offset..offset + limit` of `cj`, each with an empty second column (as
    /// aggregated rows have). On SQLite every candidate row checks `odata_alive()`, so
    /// the statement stops once `db::deadline`'s time is up: a cross product grows with
    /// every set.
    pub fn crossjoin_rows(&mut self, cj: &CrossJoin, offset: u64, limit: u64) -> Sql<(Text, Text)> {
        let aliases: Vec<String> = cj.sets.iter().map(|_| self.alias()).collect();
        let mut q = Sql::new();
        let mut joins = Sql::new();
        q.sql("SELECT ");
        let mut m = Members::new(&mut q, self.dialect, "json_object(");
        for (set, a) in cj.sets.iter().zip(&aliases) {
            match &set.expand {
                Some(shape) => {
                    let q = m.next(1).sql("'").sql(set.entity.set).sql("', ");
                    self.entity_json(q, &mut joins, set.entity, a, shape, false);
                }
                None => {
                    let q = m.next(1);
                    q.sql("'")
                        .sql(set.entity.set)
                        .sql("@odata.navigationLink', ");
                    self.key_url(q, set.entity, a);
                }
            }
        }
        m.finish();
        q.sql(", ''");
        self.crossjoin_from(&mut q, cj, &aliases, joins);
        q.sql(" ORDER BY ");
        for (i, (e, desc)) in cj.orderby.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            self.expr(&mut q, e, &aliases);
            q.sql(match (desc, e.nullable()) {
                (false, false) => " ASC",
                (true, false) => " DESC",
                (false, true) => " ASC NULLS FIRST",
                (true, true) => " DESC NULLS LAST",
            });
        }
        for (n, (set, a)) in cj.sets.iter().zip(&aliases).enumerate() {
            for (i, p) in set.entity.key_properties().enumerate() {
                if n + i > 0 || !cj.orderby.is_empty() {
                    q.sql(", ");
                }
                q.column(a, p.column);
            }
        }
        q.sql(" LIMIT ");
        q.bind_int(i64::try_from(limit).unwrap_or(i64::MAX));
        q.sql(" OFFSET ");
        q.bind_int(i64::try_from(offset).unwrap_or(i64::MAX));
        q.returning()
    }

    /// The number of rows of `cj`.
    pub fn crossjoin_count(&mut self, cj: &CrossJoin) -> Sql<BigInt> {
        let aliases: Vec<String> = cj.sets.iter().map(|_| self.alias()).collect();
        let mut q = Sql::new();
        q.sql("SELECT count(*)");
        self.crossjoin_from(&mut q, cj, &aliases, Sql::new());
        q.returning()
    }

    /// ` FROM` the sets at `aliases`, then `joins`, ` WHERE` each is the workspace's,
    /// the token is live and the filter holds.
    fn crossjoin_from(&mut self, q: &mut Sql, cj: &CrossJoin, aliases: &[String], joins: Sql) {
        // An inner join on true rather than `CROSS JOIN`, which on SQLite also fixes
        // the order of the loops: the planner picks the set the filter narrows best.
        q.sql(" FROM ");
        for (i, (set, a)) in cj.sets.iter().zip(aliases).enumerate() {
            if i > 0 {
                q.sql(" JOIN ");
            }
            q.sql(set.entity.table).sql(" ").sql(a);
            if i > 0 {
                q.sql(" ON 1=1");
            }
        }
        q.append(joins);
        q.sql(" WHERE ");
        if let Some(hash) = &self.guard {
            crate::auth::live_token(q, hash, self.workspace);
            q.sql(" AND ");
        }
        for (i, a) in aliases.iter().enumerate() {
            if i > 0 {
                q.sql(" AND ");
            }
            self.workspace(q, a);
        }
        if let Some(f) = &cj.filter {
            q.sql(" AND ");
            self.predicate(q, f, aliases);
        }
        if self.dialect == Dialect::Sqlite {
            q.sql(" AND odata_alive()");
        }
    }
}
