//! Reads to SQL. One statement per request: the rows come back as JSON objects built by
//! the database (`json_object` / `json_build_object`), expanded navigation as correlated
//! JSON aggregates — one statement however deep the `$expand`, never one per row.
//! Every table reference carries the caller's workspace as a bind parameter. What a row
//! is selected as is in `objects.rs`, its order and keyset in `order.rs`.

use super::expand::ExpandPage;
use super::order::order_by_chosen;
use super::trigram_stats::{Misses, TrigramStats};
use super::Sql;
use crate::bind::{Nav, PathStep, Prop, Read, Shape, TExpr, Value};
use crate::db::Dialect;
use crate::format::row::Field;
use crate::model::{Computed, EdmType, EntityType};
use crate::plan::ReadPlan;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

/// Closes `to_char(instant` into OData's text for it: UTC, whole seconds, `Z`.
pub(super) const PG_UTC_TEXT: &str = " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

/// How rows are rendered, decided by content negotiation.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Decimal (and Int64) values as strings (`IEEE754Compatible=true`).
    pub ieee754: bool,
    /// `odata.metadata=full`: add `@odata.id`, `@odata.editLink`, `@odata.type` and
    /// navigation links, relative to this service root (which ends with `/`).
    pub full: Option<String>,
    /// Each row is an entity reference (`.../$ref`): its `@odata.id` only.
    pub refs: bool,
    /// Each entity's `@odata.type` and `@odata.id` under this service root, at every
    /// metadata level but none: rows of `$all`, whose context URL names no entity set.
    pub identify: Option<String>,
    /// Rows per page of an expanded collection (the response's page size); `None`:
    /// expanded collections come whole.
    pub page_size: Option<u64>,
}

/// Rows of (property values as text, JSON array of the order-key values).
pub type ValuesStatement = Sql<(Array<Nullable<Text>>, Text)>;

pub struct Compiler {
    pub dialect: Dialect,
    pub(super) workspace: i64,
    aliases: usize,
    pub output: Output,
    /// Hash of a token that `select` checks in its own `WHERE` (see `auth::live_token`).
    pub(super) guard: Option<String>,
    /// Inside an odd number of `not`s (see expr.rs).
    pub(super) negated: bool,
    /// Compiling a condition whose value is read, not just filtered by (`(A eq 1) eq
    /// null`, `$compute`): comparisons must then be false rather than NULL whatever the
    /// negation (see expr.rs).
    pub(super) as_value: bool,
    /// Unfiltered single-valued expands joined so far: (alias joined from, navigation,
    /// alias of the joined row). A filter or order key through the same navigation
    /// reads the joined row instead of looking it up again in a subquery.
    pub(super) joined: Vec<(String, Nav, String)>,
    /// Collection-valued expands being compiled around the current one.
    pub(super) collections: usize,
    /// Whether the statement expands a collection inside a collection, which runs under
    /// `db::deadline`'s limits (SQLite: `odata_alive()`; PostgreSQL: a statement timeout).
    pub timed: bool,
    /// While an expanded navigation is compiled: the alias of the request's resource
    /// row, which `$it` names there (scope 1; see `bind::ExprBinder::in_expand`), and
    /// its entity type.
    pub(super) it: Option<(String, &'static EntityType)>,
    /// Trigram counts a substring lookup picks its trigrams by (SQLite; see
    /// `trigram_stats`), and the trigrams it found no count for.
    pub(super) trigram_stats: Option<&'static TrigramStats>,
    pub trigram_misses: Misses,
    /// Expanded collections whose pages may end in a marker (see `expand.rs`), by number.
    pub expand_pages: Vec<ExpandPage>,
    /// While an expand's `$apply` is compiled: the alias of the instance whose related
    /// entities it aggregates and the navigation to them, which its input keeps to.
    pub(super) owner: Option<(String, Nav)>,
    /// The collection `$these` names in the level being compiled (see `these.rs`).
    pub(super) these: Option<super::these::TheseSet>,
}

impl Compiler {
    pub fn new(dialect: Dialect, workspace: i64, output: Output) -> Self {
        Self {
            dialect,
            workspace,
            aliases: 0,
            output,
            guard: None,
            negated: false,
            as_value: false,
            joined: Vec::new(),
            collections: 0,
            timed: false,
            it: None,
            trigram_stats: None,
            trigram_misses: Misses::default(),
            expand_pages: Vec::new(),
            owner: None,
            these: None,
        }
    }

    /// Substring lookups pick their trigrams by `stats`.
    pub fn with_trigram_stats(mut self, stats: &'static TrigramStats) -> Self {
        self.trigram_stats = Some(stats);
        self
    }

    /// The aliases an expression's scopes name at row alias `a`: the row itself, then
    /// inside an expand the resource's row (`$it`); lambdas add theirs after.
    pub(super) fn scopes(&self, a: &str) -> Vec<String> {
        let mut s = vec![a.to_owned()];
        s.extend(self.it.as_ref().map(|(alias, _)| alias.clone()));
        s
    }

    /// Compiles the expands of the row at `a` with `$it` naming the request's resource
    /// row: `a` itself at the top level, or the one already named.
    pub(super) fn expanding<R>(
        &mut self,
        a: &str,
        entity: &'static EntityType,
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let top = self.it.is_none();
        if top {
            self.it = Some((a.to_owned(), entity));
        }
        let r = f(self);
        if top {
            self.it = None;
        }
        r
    }

    /// Makes `select` return rows only while the token with this hash is live and
    /// belongs to the workspace.
    pub fn guarded(mut self, token_hash: Option<&str>) -> Self {
        self.guard = token_hash.map(str::to_owned);
        self
    }

    pub fn alias(&mut self) -> String {
        let a = format!("t{}", self.aliases);
        self.aliases += 1;
        a
    }

    /// `alias.workspace_id = ?` — added to every table reference.
    pub fn workspace(&self, q: &mut Sql, alias: &str) {
        q.column(alias, "workspace_id")
            .sql(" = ")
            .bind_int(self.workspace);
    }

    pub fn column(&self, q: &mut Sql, alias: &str, prop: Prop) {
        match prop.computed {
            Some(Computed::WeightedValue) => {
                let div = if self.dialect == Dialect::Postgres {
                    " / 100, 6)"
                } else {
                    " / 100.0, 6)"
                };
                q.sql("round(")
                    .column(alias, "value")
                    .sql(" * ")
                    .column(alias, "guttometer")
                    .sql(div);
            }
            None => {
                q.column(alias, prop.column);
            }
        }
    }

    /// The statement for a collection or single-entity read: rows of (entity JSON,
    /// JSON array of the order-key values).
    pub fn select(&mut self, plan: &ReadPlan) -> Sql<(Text, Text)> {
        self.select_rows(plan, None).returning()
    }

    /// On PostgreSQL, a read without full metadata, `$ref` or expand counts as rows of
    /// (the properties' values as text, in order, JSON array of the order-key values),
    /// with the properties; `format::row` writes the objects. `json_build_object` looks up
    /// every value's type output function again for every row: on a page of 1,000
    /// contacts it was 63% of the database's CPU, and the statement ran 3.7 times as
    /// long as with the values as text.
    pub fn select_values(&mut self, plan: &ReadPlan) -> Option<(ValuesStatement, Vec<Field>)> {
        let read = plan.read;
        if self.dialect != Dialect::Postgres
            || !values_only(&read.shape)
            || self.output.full.is_some()
            || self.output.identify.is_some()
            || self.output.refs
        {
            return None;
        }
        let mut fields = Vec::new();
        let q = self.select_rows(plan, Some(&mut fields)).returning();
        Some((q, fields))
    }

    /// `select` with, when `values` is given, the values of those properties as a text
    /// array in place of the JSON object.
    fn select_rows(&mut self, plan: &ReadPlan, values: Option<&mut Vec<Field>>) -> Sql {
        let read = plan.read;
        self.with_these(
            read.entity,
            &read.shape,
            &mut |c, q, a| c.bounds(q, read, a),
            |c| c.select_level(plan, values),
        )
    }

    fn select_level(&mut self, plan: &ReadPlan, values: Option<&mut Vec<Field>>) -> Sql {
        let read = plan.read;
        let mut q = Sql::new();
        let a = self.alias();
        let mut joins = Sql::new();
        q.sql("SELECT ");
        match values {
            Some(fields) => {
                q.sql("ARRAY[");
                let mut n = 0;
                self.values(
                    &mut q,
                    &mut joins,
                    read.entity,
                    &a,
                    &read.shape,
                    fields,
                    &mut n,
                );
                q.sql("]::text[]");
            }
            None if self.output.refs => {
                q.sql(if self.dialect == Dialect::Postgres {
                    "json_build_object('@odata.id', "
                } else {
                    "json_object('@odata.id', "
                });
                self.key_url(&mut q, read.entity, &a);
                q.sql(")");
            }
            None => self.entity_json(&mut q, &mut joins, read.entity, &a, &read.shape, false),
        }
        // A page not ordered by its key takes its rows' order values from the subquery
        // that chose them (below), rather than working them out again per row.
        let chosen = (!read.single && !ordered_by_key(plan) && single_key(read.entity).is_some())
            .then(|| self.alias());
        q.sql(", ");
        self.order_values(&mut q, &plan.order, &a, chosen.as_deref());
        let has_joins = !joins.is_empty();
        // Ordered by something other than the key, the database would build every
        // candidate's JSON before sorting: the page's keys and order values are chosen
        // first, and the rows joined to them. The outer order names the chosen values,
        // which come in that order, so the database need not sort the rows again.
        // Ordered by the key, SQLite goes the same way with joined rows (single-valued
        // expands): planned against the whole table, it would build a Bloom filter over
        // every related row before returning the first of a short page. PostgreSQL walks
        // the key index and joins row by row up to the limit.
        let keys_first = !ordered_by_key(plan) || (has_joins && self.dialect == Dialect::Sqlite);
        if let Some(key) = single_key(read.entity).filter(|_| !read.single && keys_first) {
            let p = chosen.unwrap_or_else(|| self.alias());
            let b = self.alias();
            q.sql(" FROM (SELECT ");
            self.column(&mut q, &b, key);
            q.sql(" AS k");
            let scopes = self.scopes(&b);
            for (i, k) in plan.order.iter().enumerate() {
                q.sql(", ");
                self.expr(&mut q, &k.expr, &scopes);
                q.sql(&format!(" AS o{i}"));
            }
            q.sql(" FROM ")
                .sql(read.entity.table)
                .sql(" ")
                .sql(&b)
                .sql(" WHERE ");
            self.page_rows(&mut q, plan, &b, true);
            q.sql(") ").sql(&p).sql(" JOIN ");
            q.sql(read.entity.table).sql(" ").sql(&a).sql(" ON ");
            self.workspace(&mut q, &a);
            q.sql(" AND ");
            self.column(&mut q, &a, key);
            q.sql(" = ").sql(&p).sql(".k");
            q.append(joins);
            if let Some(hash) = &self.guard {
                q.sql(" WHERE ");
                crate::auth::live_token(&mut q, hash, self.workspace);
            }
            order_by_chosen(&mut q, &plan.order, &format!("{p}."));
            return q;
        }
        q.sql(" FROM ").sql(read.entity.table).sql(" ").sql(&a);
        q.append(joins);
        q.sql(" WHERE ");
        if let Some(hash) = &self.guard {
            crate::auth::live_token(&mut q, hash, self.workspace);
            q.sql(" AND ");
        }
        if read.single {
            self.filters(&mut q, read, &a);
            q.sql(" LIMIT 2");
            return q;
        }
        self.page_rows(&mut q, plan, &a, false);
        q
    }

    /// Filters, keyset, order and limit of one page of `plan`, over alias `a`.
    /// `chosen`: ordered by the order values the statement selects as `o0`, `o1`, ...
    /// (the keys-first subquery), so that none is worked out twice per row.
    fn page_rows(&mut self, q: &mut Sql, plan: &ReadPlan, a: &str, chosen: bool) {
        self.filters(q, plan.read, a);
        if let Some(after) = &plan.page.after {
            q.sql(" AND ");
            self.keyset(q, &plan.order, after, a);
        }
        if chosen {
            order_by_chosen(q, &plan.order, "");
        } else {
            self.order_by(q, &plan.order, a);
        }
        let fetch = plan.page.size.saturating_add(1);
        match page_limit(self.dialect, fetch) {
            Some(literal) => q.sql(" LIMIT ").sql(literal),
            None => q.sql(" LIMIT ").bind_int(fetch.min(i64::MAX as u64) as i64),
        };
        if plan.page.offset > 0 {
            q.sql(" OFFSET ")
                .bind_int(plan.page.offset.min(i64::MAX as u64) as i64);
        }
    }

    /// `SELECT count(*)` over the read's filters (for `$count` and `/$count`).
    pub fn count(&mut self, read: &Read) -> Sql<BigInt> {
        self.with_these(
            read.entity,
            &read.shape,
            &mut |c, q, a| c.bounds(q, read, a),
            |c| c.count_level(read),
        )
    }

    fn count_level(&mut self, read: &Read) -> Sql<BigInt> {
        let mut q = Sql::new();
        let a = self.alias();
        q.sql("SELECT count(*) FROM ")
            .sql(read.entity.table)
            .sql(" ")
            .sql(&a)
            .sql(" WHERE ");
        self.filters(&mut q, read, &a);
        // SQLite prices one pass over a workspace's clustered rows about the same as a
        // pass over a narrow secondary index plus a lookup per row, and picks the index:
        // a filter on a column no index holds then costs a lookup for every row (5x
        // slower on 50,000 contacts). A key range that every row satisfies tips it to the
        // clustered pass; a filter an index serves (a surname prefix) still uses its index.
        if let (Dialect::Sqlite, Some(key)) = (self.dialect, single_key(read.entity)) {
            if matches!(key.ty, EdmType::Int32 | EdmType::Int64) && !index_covers(read) {
                q.sql(" AND ");
                self.column(&mut q, &a, key);
                q.sql(" >= ").bind_int(i64::MIN);
            }
        }
        q.returning()
    }

    /// Workspace, key, navigation path, `$filter` and `$search`.
    pub(super) fn filters(&mut self, q: &mut Sql, read: &Read, a: &str) {
        self.bounds(q, read, a);
        self.shape_filters(q, read.entity, &read.shape, a);
    }

    /// Workspace, key, navigation path and the instance an expand's `$apply` keeps to:
    /// the read's collection before its options.
    fn bounds(&mut self, q: &mut Sql, read: &Read, a: &str) {
        self.workspace(q, a);
        if let Some(key) = &read.key {
            self.key_match(q, a, key);
        }
        if let Some(step) = read.path.last() {
            q.sql(" AND ");
            self.path_exists(q, &read.path, step, a);
        }
        if let Some((outer, nav)) = self.owner.clone() {
            q.sql(" AND ");
            self.join(q, &outer, nav, a);
        }
    }

    pub(super) fn shape_filters(
        &mut self,
        q: &mut Sql,
        entity: &'static EntityType,
        shape: &Shape,
        a: &str,
    ) {
        if let Some(f) = &shape.filter {
            q.sql(" AND ");
            let scopes = self.scopes(a);
            self.predicate(q, f, &scopes);
            self.trigram_narrowing(q, entity, f, a);
        }
        if let Some(s) = &shape.search {
            q.sql(" AND ");
            self.search(q, entity, s, a);
        }
        if let Some(k) = &shape.kept {
            q.sql(" AND ");
            self.kept(q, k, a);
        }
    }

    fn key_match(&mut self, q: &mut Sql, a: &str, key: &[(Prop, Value)]) {
        for (p, v) in key {
            q.sql(" AND ");
            self.column(q, a, p);
            q.sql(" = ");
            self.value(q, v);
        }
    }

    /// `EXISTS (SELECT 1 FROM parent p WHERE p joins child AND p's key [AND its parent ...])`
    fn path_exists(&mut self, q: &mut Sql, path: &[PathStep], step: &PathStep, child: &str) {
        let p = self.alias();
        q.sql("EXISTS (SELECT 1 FROM ")
            .sql(step.entity.table)
            .sql(" ")
            .sql(&p)
            .sql(" WHERE ");
        self.workspace(q, &p);
        q.sql(" AND ");
        // The navigation joins parent (source) to child (target).
        self.join(q, &p, step.nav, child);
        if let Some(key) = &step.key {
            self.key_match(q, &p, key);
        }
        let rest = &path[..path.len() - 1];
        if let Some(prev) = rest.last() {
            q.sql(" AND ");
            self.path_exists(q, rest, prev, &p);
        }
        q.sql(")");
    }
}

/// Whether every expand of `shape`, at any depth, gives values (not `$ref` or a count):
/// such reads can return their values as text arrays.
fn values_only(shape: &Shape) -> bool {
    if shape.compute.iter().any(|c| c.selected) {
        return false;
    }
    shape.expand.iter().all(|e| {
        !e.is_ref && !e.is_count && !e.shape.count && e.apply.is_none() && values_only(&e.shape)
    })
}

/// The row limit a PostgreSQL page is planned with, as a constant from a fixed list: the
/// smallest at least `fetch` (the page and one row more, to see whether another page
/// follows), which is never more than half as many again; the executor drops the rows
/// beyond the page. With the limit as a bound
/// parameter the planner cannot know a page is short: a reusable (generic) plan then
/// assumes a tenth of the table, which for an expand means hash joins over whole
/// tables (26 ms instead of 3.7 ms for 100 contacts with their divisions), so
/// PostgreSQL plans such statements again on every execution instead. The common
/// sizes (`$top` of 10, 20, 25, 50, 100, ..., the default page of 1,000) are listed
/// exactly. `None` (bind it) on SQLite, whose plans never depend on bound values, and
/// beyond the list.
fn page_limit(dialect: Dialect, fetch: u64) -> Option<&'static str> {
    /// Each limit with its SQL text, written once.
    macro_rules! limits {
        ($($n:literal),*) => { [$(($n, stringify!($n))),*] };
    }
    const LIMITS: [(u64, &str); 29] = limits!(
        2, 3, 4, 6, 11, 16, 21, 26, 31, 41, 51, 76, 101, 151, 201, 251, 301, 401, 501, 751, 1001,
        1501, 2001, 2501, 3001, 4001, 5001, 7501, 10001
    );
    if dialect != Dialect::Postgres {
        return None;
    }
    LIMITS
        .iter()
        .find(|(n, _)| *n >= fetch)
        .map(|(_, text)| *text)
}

/// Whether some secondary index holds every column a count's filter and search read
/// (or the count has no filter, or reaches beyond the entity, where the planner's own
/// choice stands).
fn index_covers(read: &Read) -> bool {
    if read.key.is_some() || !read.path.is_empty() {
        return true;
    }
    let mut cols: Vec<&'static str> = Vec::new();
    if let Some(f) = &read.shape.filter {
        if !root_columns(f, &mut cols) {
            return true;
        }
    }
    if read.shape.search.is_some() {
        cols.extend(read.entity.search);
    }
    let e = read.entity;
    cols.is_empty()
        || e.indexes
            .iter()
            .any(|ix| cols.iter().all(|c| ix.contains(c) || e.key.contains(c)))
}

/// Adds the entity's own properties `e` reads; false if it reads through navigation.
fn root_columns(e: &TExpr, out: &mut Vec<&'static str>) -> bool {
    match e {
        TExpr::Prop {
            scope: 0,
            navs,
            prop,
        } if navs.is_empty() => {
            out.push(prop.name);
            true
        }
        TExpr::Prop { .. }
        | TExpr::Lambda { .. }
        | TExpr::Count { .. }
        | TExpr::Aggregate { .. }
        | TExpr::These { .. }
        | TExpr::Root { .. }
        | TExpr::Column { .. } => false,
        other => other.operands().into_iter().all(|a| root_columns(a, out)),
    }
}

/// The entity's key property when the key is a single column.
pub(super) fn single_key(entity: &'static EntityType) -> Option<Prop> {
    match entity.key {
        [k] => entity.property(k),
        _ => None,
    }
}

/// Whether the order is just the entity key (rows then come straight from the key index).
fn ordered_by_key(plan: &ReadPlan) -> bool {
    plan.order.iter().all(|k| {
        !k.desc
            && matches!(&k.expr, TExpr::Prop { scope: 0, navs, prop }
                if navs.is_empty() && plan.read.entity.key.contains(&prop.name))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn postgres_pages_are_planned_for_a_listed_limit_at_least_the_fetch(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use super::page_limit;
        use crate::db::Dialect;
        for fetch in 1..=10_001u64 {
            let text = page_limit(Dialect::Postgres, fetch).ok_or(format!("{fetch} not listed"))?;
            let n: u64 = text.parse()?;
            assert!(
                n >= fetch && n <= fetch.max(2) * 3 / 2 + 1,
                "{fetch} -> {n}"
            );
        }
        for exact in [11, 21, 26, 51, 101, 501, 1001] {
            assert_eq!(
                page_limit(Dialect::Postgres, exact),
                Some(exact.to_string().as_str())
            );
        }
        assert_eq!(page_limit(Dialect::Postgres, 10_002), None);
        assert_eq!(page_limit(Dialect::Sqlite, 51), None);
        Ok(())
    }
}
