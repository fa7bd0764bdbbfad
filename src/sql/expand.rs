//! `$expand` in SQL: a single-valued navigation as a LEFT JOIN (or a correlated
//! subquery when it is filtered), a collection as a correlated JSON aggregate, ordered
//! and paged with its own options; in PostgreSQL's values form, as arrays of text.

use super::compiler::Compiler;
use super::navigation::entity_of;
use super::Sql;
use crate::bind::next_query::NextQuery;
use crate::bind::{Expand, Ty};
use crate::db::Dialect;
use crate::format::row::Field;
use crate::model::EntityType;
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
        self.with_expand_these(outer, e, |c| {
            q.sql("SELECT count(*)");
            let b = c.alias();
            c.expand_from(q, outer, e, &b, Sql::new());
        })
    }

    /// Runs `f` with `$these` naming the entities related to `outer` through `e`.
    fn with_expand_these<R>(
        &mut self,
        outer: &str,
        e: &Expand,
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        self.with_these(
            e.target,
            &e.shape,
            &mut |c, q, a| {
                c.workspace(q, a);
                q.sql(" AND ");
                c.join(q, outer, e.nav, a);
            },
            f,
        )
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
    pub(super) fn collection_values(
        &mut self,
        q: &mut Sql,
        source: &'static EntityType,
        outer: &str,
        e: &Expand,
    ) -> Vec<Field> {
        let mut fields = Vec::new();
        self.with_expand_these(outer, e, |c| {
            c.collection_rows(q, source, outer, e, RowForm::Values(&mut fields), false)
        });
        fields
    }

    /// A collection-valued expand as an aggregate over a subquery that orders and pages
    /// its rows, written in `form`. `marked`: in the form that ends a full page with its
    /// marker (see `page_end`), which the plain form turns to only when more rows than a
    /// page came: the window functions it needs cost every row. Only the outermost
    /// collection has both forms: each holds the collections inside it, which doubled
    /// at every level would grow the statement exponentially with the depth of `$expand`.
    fn collection_rows(
        &mut self,
        q: &mut Sql,
        source: &'static EntityType,
        outer: &str,
        e: &Expand,
        form: RowForm<'_>,
        marked: bool,
    ) {
        let b = self.alias();
        self.timed |= self.collections > 0;
        q.sql("(SELECT ");
        let size = self
            .page_size(e)
            .filter(|_| !marked && self.collections == 0);
        let marked = marked || self.collections > 0;
        if let Some(size) = size {
            q.sql("CASE WHEN count(*) > ")
                .bind_int(size.min(i64::MAX as u64) as i64)
                .sql(" THEN ");
            let mut layout = Vec::new();
            let again = match form {
                RowForm::Values(_) => RowForm::Values(&mut layout),
                RowForm::Json => RowForm::Json,
            };
            self.collection_rows(q, source, outer, e, again, true);
            q.sql(" ELSE ");
        }
        q.sql(match (&form, self.dialect) {
            (RowForm::Values(_), _) => "coalesce(json_agg(s.j), '[]'::json)::text",
            (RowForm::Json, Dialect::Postgres) => "coalesce(json_agg(s.j), '[]'::json)",
            (RowForm::Json, Dialect::Sqlite) => "jsonb_group_array(s.j)",
        });
        if size.is_some() {
            q.sql(" END");
        }
        q.sql(" FROM (SELECT ");
        let cut = marked && self.page_end(q, source, outer, e, &b);
        let joins = match form {
            RowForm::Values(fields) => {
                let mut joins = Sql::new();
                self.collections += 1;
                q.sql("to_json(ARRAY[");
                self.values(
                    q,
                    &mut joins,
                    entity_of(e.nav),
                    &b,
                    &e.shape,
                    fields,
                    &mut 0,
                );
                q.sql("]::text[])");
                self.collections -= 1;
                joins
            }
            RowForm::Json => {
                let (body, joins) = self.row_json(e, &b, true);
                q.append(body);
                joins
            }
        };
        if cut {
            q.sql(" END");
        }
        q.sql(" AS j");
        self.expand_from(q, outer, e, &b, joins);
        self.page_of_expand(q, e, &b);
        q.sql(") s)");
    }

    /// The rows a page of collection `e` holds, when more may follow than a page holds:
    /// the response's page size, unless its own `$top` is smaller.
    fn page_size(&self, e: &Expand) -> Option<u64> {
        let size = self.output.page_size?;
        e.next_query.as_ref()?;
        e.shape.top.is_none_or(|t| t > size).then_some(size)
    }

    /// Opens `CASE WHEN <the row after a full page> THEN <marker> ELSE ` (the caller
    /// closes it after the row's own value), when collection `e` is paged. The row read
    /// to see whether more follow stands in for the rest: a marker object with the
    /// page's number in `expand_pages`, the URL of the entity the collection belongs to,
    /// the order values of the page's last row and, where the options name `$it`, the
    /// URL of the request's resource row, which `format::next_links` turns into
    /// `Nav@odata.nextLink`.
    fn page_end(
        &mut self,
        q: &mut Sql,
        source: &'static EntityType,
        outer: &str,
        e: &Expand,
        b: &str,
    ) -> bool {
        let (Some(size), Some(query)) = (self.page_size(e), e.next_query.clone()) else {
            return false;
        };
        let it = self.it.as_ref().filter(|_| query.names_it).cloned();
        let order = order_keys(&e.shape.orderby, entity_of(e.nav));
        let page = self.expand_pages.len();
        self.expand_pages.push(ExpandPage {
            nav: e.nav.name,
            is_ref: e.is_ref,
            query,
            keys: order.iter().map(|k| k.expr.ty()).collect(),
            served: size,
        });
        let (object, array) = match self.dialect {
            Dialect::Postgres => ("json_build_object('", "json_build_array("),
            Dialect::Sqlite => ("jsonb_object('", "jsonb_array("),
        };
        q.sql("CASE WHEN row_number() OVER (");
        self.order_by(q, &order, b);
        q.sql(") > ")
            .bind_int(
                e.shape
                    .skip
                    .unwrap_or(0)
                    .saturating_add(size)
                    .min(i64::MAX as u64) as i64,
            )
            .sql(" THEN ")
            .sql(object)
            .sql(PAGE_MARKER)
            .sql("', ")
            .sql(array)
            .sql(&page.to_string())
            .sql(", ");
        self.key_url(q, source, outer);
        q.sql(", ");
        self.previous_order_values(q, &order, b);
        if let Some((it, entity)) = it {
            q.sql(", ");
            self.key_url(q, entity, &it);
        }
        q.sql(")) ELSE ");
        true
    }

    /// Order, `$top` and `$skip` of a collection-valued expand over alias `b`; a paged
    /// one reads the row after its page too (see `page_end`).
    fn page_of_expand(&mut self, q: &mut Sql, e: &Expand, b: &str) {
        let order = order_keys(&e.shape.orderby, entity_of(e.nav));
        self.order_by(q, &order, b);
        let limit = match self.page_size(e) {
            Some(size) => Some(size.saturating_add(1)),
            None => e.shape.top,
        };
        if let Some(limit) = limit {
            q.sql(" LIMIT ").bind_int(limit.min(i64::MAX as u64) as i64);
        } else if e.shape.skip.is_some() && self.dialect == Dialect::Sqlite {
            q.sql(" LIMIT -1");
        }
        if let Some(skip) = e.shape.skip {
            q.sql(" OFFSET ").bind_int(skip.min(i64::MAX as u64) as i64);
        }
    }

    /// The JSON object of each related row of `e` (or its reference) at alias `b`, and
    /// the joins it reads. `nested`: SQLite JSONB (see `entity_json`).
    fn row_json(&mut self, e: &Expand, b: &str, nested: bool) -> (Sql<Text>, Sql) {
        let pg = self.dialect == Dialect::Postgres;
        let target = entity_of(e.nav);
        let mut body = Sql::<Text>::new();
        let mut joins = Sql::new();
        self.collections += usize::from(e.nav.many);
        if e.is_ref {
            body.sql(match (pg, nested) {
                (true, _) => "json_build_object('@odata.id', ",
                (false, false) => "json_object('@odata.id', ",
                (false, true) => "jsonb_object('@odata.id', ",
            });
            self.key_url(&mut body, target, b);
            body.sql(")");
        } else {
            self.entity_json(&mut body, &mut joins, target, b, &e.shape, nested);
        }
        self.collections -= usize::from(e.nav.many);
        (body, joins)
    }

    /// A collection-valued or `$ref` expand of the row of `source` at `outer`.
    pub(super) fn expand_json(
        &mut self,
        q: &mut Sql,
        source: &'static EntityType,
        outer: &str,
        e: &Expand,
    ) {
        self.with_expand_these(outer, e, |c| c.expand_level_json(q, source, outer, e))
    }

    fn expand_level_json(
        &mut self,
        q: &mut Sql,
        source: &'static EntityType,
        outer: &str,
        e: &Expand,
    ) {
        let pg = self.dialect == Dialect::Postgres;
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
        if e.nav.many && !direct {
            self.collection_json(q, source, outer, e, timed);
            return;
        }
        let b = self.alias();
        let (body, joins) = self.row_json(e, &b, !direct);
        let mut inner = Sql::<Text>::new();
        self.expand_from(&mut inner, outer, e, &b, joins);
        q.sql("(SELECT ");
        if !e.nav.many {
            q.append(body);
            q.append(inner);
            q.sql(")");
            return;
        }
        // A collection longer than a page is built again as a page (a rare case: the
        // count costs next to nothing beside the objects).
        let size = self.page_size(e);
        if let Some(size) = size {
            q.sql("CASE WHEN count(*) > ")
                .bind_int(size.min(i64::MAX as u64) as i64)
                .sql(" THEN json(");
            self.collection_rows(q, source, outer, e, RowForm::Json, true);
            q.sql(") ELSE ");
        }
        q.sql("json_group_array(");
        q.append(body);
        let order = order_keys(&e.shape.orderby, entity_of(e.nav));
        self.order_by(q, &order, &b);
        q.sql(")");
        if size.is_some() {
            q.sql(" END");
        }
        q.append(inner);
        q.sql(")");
    }

    /// A collection-valued expand as JSON objects (SQLite: JSONB); one inside another
    /// collection on SQLite runs under `db::deadline`'s limits (`timed`).
    fn collection_json(
        &mut self,
        q: &mut Sql,
        source: &'static EntityType,
        outer: &str,
        e: &Expand,
        timed: bool,
    ) {
        if timed {
            q.sql("CASE WHEN odata_alive() THEN odata_counted(");
        }
        self.collection_rows(q, source, outer, e, RowForm::Json, false);
        if timed {
            q.sql(") ELSE jsonb('[]') END");
        }
    }
}

/// How a collection's rows are written: PostgreSQL's values form (a text array each,
/// whose layout goes to the fields) or JSON objects (SQLite: JSONB).
enum RowForm<'f> {
    Values(&'f mut Vec<Field>),
    Json,
}

/// The member that marks the end of a page of an expanded collection (see
/// `Compiler::page_end`). No member the model or OData names starts so.
pub const PAGE_MARKER: &str = "@crm.page";

/// A collection expand that a page may cut short: what its `nextLink` is made of.
#[derive(Debug, Clone)]
pub struct ExpandPage {
    /// The navigation property, named as the response names it.
    pub nav: &'static str,
    /// `Nav/$ref`: the link reads `.../Nav/$ref`.
    pub is_ref: bool,
    /// The expand's options as the next page's query (see `bind::Expand::next_query`).
    pub query: NextQuery,
    /// The types of its order keys, whose values the marker carries.
    pub keys: Vec<Ty>,
    /// Rows on a page.
    pub served: u64,
}
