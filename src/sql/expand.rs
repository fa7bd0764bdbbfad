//! `$expand` in SQL: a single-valued navigation as a LEFT JOIN (or a correlated
//! subquery when it is filtered), a collection as a correlated JSON aggregate, ordered
//! and paged with its own options; in PostgreSQL's values form, as arrays of text.

use super::compiler::Compiler;
use super::navigation::entity_of;
use super::Sql;
use crate::bind::Expand;
use crate::db::Dialect;
use crate::format::row::Field;
use crate::plan::order_keys;
use diesel::sql_types::Text;

impl Compiler {
    /// ` FROM target b <joins> WHERE <workspace, join to outer, expand filters>`.
    fn expand_from(&mut self, q: &mut Sql, outer: &str, e: &Expand, b: &str, joins: Sql) {
        q.sql(" FROM ").sql(e.target.table).sql(" ").sql(b);
        q.append(joins);
        q.sql(" WHERE ");
        self.workspace(q, b);
        q.sql(" AND ");
        self.join(q, outer, e.nav, b);
        self.shape_filters(q, e.target, &e.shape, b);
    }

    pub(super) fn expand_count(&mut self, q: &mut Sql, outer: &str, e: &Expand) {
        q.sql("SELECT count(*)");
        let b = self.alias();
        self.expand_from(q, outer, e, &b, Sql::new());
    }

    /// A single-valued expand as `LEFT JOIN target b ON <workspace, join, filters>`: its
    /// object is built in the enclosing expression, so neither a subquery nor a JSON
    /// round trip through text is needed. No matching row gives `null`.
    pub(super) fn expand_joined(&mut self, q: &mut Sql, joins: &mut Sql, outer: &str, e: &Expand) {
        let target = entity_of(e.nav);
        let b = self.join_single(joins, outer, e);
        // Every table's `workspace_id` is NOT NULL, so NULL here means no row joined.
        q.sql("CASE WHEN ")
            .column(&b, "workspace_id")
            .sql(" IS NULL THEN NULL ELSE ");
        self.entity_json(q, joins, target, &b, &e.shape, false);
        q.sql(" END");
    }

    /// Appends `LEFT JOIN target b ON <workspace, join, filters>` for a single-valued
    /// expand; returns `b`.
    pub(super) fn join_single(&mut self, joins: &mut Sql, outer: &str, e: &Expand) -> String {
        let target = entity_of(e.nav);
        let b = self.alias();
        joins
            .sql(" LEFT JOIN ")
            .sql(target.table)
            .sql(" ")
            .sql(&b)
            .sql(" ON ");
        self.workspace(joins, &b);
        joins.sql(" AND ");
        self.join(joins, outer, e.nav, &b);
        if e.shape.filter.is_none() && e.shape.search.is_none() {
            // Then the join holds the related row whenever there is one, just as the
            // subquery of a path through this navigation would find it.
            self.joined.push((outer.to_owned(), e.nav, b.clone()));
        } else {
            self.shape_filters(joins, target, &e.shape, &b);
        }
        b
    }

    /// A collection-valued expand in the values form: a JSON array (as text) with an
    /// array of the values as text per related entity. `to_json` of a text array finds
    /// the element type's output function once per array, not once per value.
    pub(super) fn collection_values(&mut self, q: &mut Sql, outer: &str, e: &Expand) -> Vec<Field> {
        let target = entity_of(e.nav);
        let b = self.alias();
        let mut joins = Sql::new();
        let mut fields = Vec::new();
        self.timed |= self.collections > 0;
        self.collections += 1;
        q.sql("(SELECT coalesce(json_agg(s.j), '[]'::json)::text FROM (SELECT to_json(ARRAY[");
        self.values(q, &mut joins, target, &b, &e.shape, &mut fields, &mut 0);
        self.collections -= 1;
        q.sql("]::text[]) AS j");
        self.expand_from(q, outer, e, &b, joins);
        self.page_of_expand(q, e, &b);
        q.sql(") s)");
        fields
    }

    /// Order, `$top` and `$skip` of a collection-valued expand over alias `b`.
    fn page_of_expand(&mut self, q: &mut Sql, e: &Expand, b: &str) {
        let order = order_keys(&e.shape.orderby, entity_of(e.nav));
        self.order_by(q, &order, b);
        if let Some(top) = e.shape.top {
            q.sql(" LIMIT ").bind_int(top.min(i64::MAX as u64) as i64);
        } else if e.shape.skip.is_some() && self.dialect == Dialect::Sqlite {
            q.sql(" LIMIT -1");
        }
        if let Some(skip) = e.shape.skip {
            q.sql(" OFFSET ").bind_int(skip.min(i64::MAX as u64) as i64);
        }
    }

    pub(super) fn expand_json(&mut self, q: &mut Sql, outer: &str, e: &Expand) {
        let pg = self.dialect == Dialect::Postgres;
        let target = entity_of(e.nav);
        let b = self.alias();
        // Without $top/$skip, SQLite aggregates the related objects in order directly
        // (`json_group_array(x ORDER BY ...)`): they stay JSON text from start to end. A
        // page of them needs a subquery, whose column would lose the objects' JSON
        // subtype, so that form carries them as JSONB.
        // A collection inside a collection: its rows multiply, so it is skipped once the
        // statement's time or size is up (see db::deadline); in the JSONB form, as a
        // function keeps no JSON subtype.
        let nested = e.nav.many && self.collections > 0;
        self.timed |= nested;
        let timed = !pg && nested;
        let direct = !pg && e.nav.many && e.shape.top.is_none() && e.shape.skip.is_none() && !timed;
        let mut body = Sql::<Text>::new();
        let mut joins = Sql::new();
        self.collections += usize::from(e.nav.many);
        if e.is_ref {
            body.sql(match (pg, direct) {
                (true, _) => "json_build_object('@odata.id', ",
                (false, true) => "json_object('@odata.id', ",
                (false, false) => "jsonb_object('@odata.id', ",
            });
            self.key_url(&mut body, target, &b);
            body.sql(")");
        } else {
            self.entity_json(&mut body, &mut joins, target, &b, &e.shape, !direct);
        }
        self.collections -= usize::from(e.nav.many);
        let mut inner = Sql::<Text>::new();
        self.expand_from(&mut inner, outer, e, &b, joins);
        if !e.nav.many {
            q.sql("(SELECT ");
            q.append(body);
            q.append(inner);
            q.sql(")");
            return;
        }
        let order = order_keys(&e.shape.orderby, target);
        if direct {
            q.sql("(SELECT json_group_array(");
            q.append(body);
            self.order_by(q, &order, &b);
            q.sql(")");
            q.append(inner);
            q.sql(")");
            return;
        }
        if pg {
            q.sql("(SELECT coalesce(json_agg(s.j), '[]'::json) FROM (SELECT ");
        } else {
            if timed {
                q.sql("CASE WHEN odata_alive() THEN odata_counted(");
            }
            q.sql("(SELECT jsonb_group_array(s.j) FROM (SELECT ");
        }
        q.append(body);
        q.sql(" AS j");
        q.append(inner);
        self.page_of_expand(q, e, &b);
        q.sql(") s)");
        if timed {
            q.sql(") ELSE jsonb('[]') END");
        }
    }
}
