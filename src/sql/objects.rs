//! What each row is selected as: a JSON object built by the database (with its
//! single-valued expands, `$compute` values and, in full metadata, its links), or on
//! PostgreSQL its values as an array of text that `format::row` writes as JSON.

use super::compiler::{Compiler, PG_UTC_TEXT};
use super::navigation::entity_of;
use super::Sql;
use crate::bind::{ComputedProp, Prop, Shape, Ty};
use crate::db::Dialect;
use crate::format::row::Field;
use crate::format::{computed_odata_type, odata_type};
use crate::model::{EdmType, EntityType};
use diesel::sql_types::Text;

impl Compiler {
    /// The JSON object for one row of `entity` at `alias`, shaped by `$select`/`$expand`.
    /// Rows of a page of a collection-valued expand are SQLite JSONB (`nested`), so the
    /// enclosing object embeds them without re-parsing JSON text. Single-valued expands
    /// become `LEFT JOIN`s appended to `joins`, their objects built in the same expression.
    pub(super) fn entity_json(
        &mut self,
        q: &mut Sql,
        joins: &mut Sql,
        entity: &'static EntityType,
        a: &str,
        shape: &Shape,
        nested: bool,
    ) {
        let full = self.output.full.clone();
        let sqlite_opener = if nested {
            "jsonb_object("
        } else {
            "json_object("
        };
        let mut m = Members::new(q, self.dialect, sqlite_opener);
        if let Some(root) = full.as_ref().or(self.output.identify.as_ref()) {
            m.next(1).sql(&format!(
                "'@odata.type', '#{}'",
                crate::model::MODEL.qualified(entity.name)
            ));
            let q = m.next(1).sql("'@odata.id', ");
            q.bind_text(root.clone()).sql(" || ");
            self.key_url(q, entity, a);
        }
        if full.is_some() {
            let q = m.next(1).sql("'@odata.editLink', ");
            self.key_url(q, entity, a);
            for nav in &entity.navigation {
                // An expanded navigation's links are written with its value (below):
                // a property's control information precedes it as one group.
                if !shape.expand.iter().any(|e| e.nav.name == nav.name) {
                    self.nav_links(m.next(2), entity, a, nav.name);
                }
            }
        }
        let full = full.is_some();
        match &shape.select {
            Some(list) => {
                for p in list {
                    if let Some(t) = odata_type(Ty::of(p)).filter(|_| full) {
                        m.next(1)
                            .sql("'")
                            .sql(p.name)
                            .sql("@odata.type', '")
                            .sql(t)
                            .sql("'");
                    }
                    let q = m.next(1).sql("'").sql(p.name).sql("', ");
                    self.json_value(q, a, p);
                }
            }
            None => {
                let annotated = || {
                    let typed = entity.properties.iter().map(|p| odata_type(Ty::of(p)));
                    typed.filter(Option::is_some).count()
                };
                let n = entity.properties.len() + if full { annotated() } else { 0 };
                let text = self.all_properties(entity, a);
                m.next(n).sql(&text);
            }
        }
        for c in shape.compute.iter().filter(|c| c.selected) {
            let ty = c.expr.ty();
            if let Some(t) = computed_odata_type(ty).filter(|_| full) {
                let q = m.next(1);
                self.computed_name(q, format!("{}@odata.type", c.name));
                q.sql(", '").sql(t).sql("'");
            }
            self.computed_json(m.next(1), a, c);
        }
        self.expanding(a, entity, |c| {
            for e in &shape.expand {
                if full {
                    c.nav_links(m.next(2), entity, a, e.nav.name);
                }
                if let Some(ag) = &e.apply {
                    if ag.count {
                        let q = m.next(1);
                        q.sql("'").sql(e.nav.name).sql("@odata.count', ");
                        let text = c.output.ieee754;
                        q.sql(if text { "CAST(" } else { "" });
                        c.expanded_aggregate(q, (a, e.nav), ag, true);
                        q.sql(if text { " AS TEXT)" } else { "" });
                    }
                    let q = m.next(1);
                    q.sql("'").sql(e.nav.name).sql("', ");
                    c.expanded_aggregate(q, (a, e.nav), ag, false);
                    continue;
                }
                if e.is_count || e.shape.count {
                    let q = m.next(1);
                    q.sql("'").sql(e.nav.name).sql("@odata.count', ");
                    // An Edm.Int64: a string with IEEE754Compatible=true.
                    let text = c.output.ieee754;
                    q.sql(if text { "CAST((" } else { "(" });
                    c.expand_count(q, a, e);
                    q.sql(if text { ") AS TEXT)" } else { ")" });
                }
                if e.is_count {
                    continue;
                }
                let q = m.next(1);
                q.sql("'").sql(e.nav.name).sql("', ");
                if e.nav.many || e.is_ref {
                    c.expand_json(q, entity, a, e);
                } else {
                    c.expand_joined(q, joins, a, e);
                }
            }
        });
        m.finish();
    }

    /// `'Name', value, ...` for every property (in full metadata with their types): the
    /// same text for every request of this shape, so it is built once per thread.
    fn all_properties(&mut self, entity: &'static EntityType, a: &str) -> std::rc::Rc<str> {
        /// (entity, dialect, IEEE754 strings, full metadata, table alias)
        type Key = (&'static str, Dialect, bool, bool, String);
        thread_local! {
            static CACHE: std::cell::RefCell<std::collections::HashMap<Key, std::rc::Rc<str>>> = Default::default();
        }
        let full = self.output.full.is_some();
        let key = (
            entity.name,
            self.dialect,
            self.output.ieee754,
            full,
            a.to_owned(),
        );
        if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
            return hit;
        }
        let mut q = Sql::<Text>::new();
        for (i, p) in entity.properties.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            if let Some(t) = odata_type(Ty::of(p)).filter(|_| full) {
                q.sql("'")
                    .sql(p.name)
                    .sql("@odata.type', '")
                    .sql(t)
                    .sql("', ");
            }
            q.sql("'").sql(p.name).sql("', ");
            self.json_value(&mut q, a, p);
        }
        let text: std::rc::Rc<str> = q.debug_text().0.into();
        CACHE.with(|c| c.borrow_mut().insert(key, text.clone()));
        text
    }

    /// `'Nav@odata.associationLink', ..., 'Nav@odata.navigationLink', ...`: the URLs of
    /// the row's references to its related entities and of those entities.
    fn nav_links(&mut self, q: &mut Sql, entity: &'static EntityType, a: &str, nav: &str) {
        q.sql("'").sql(nav).sql("@odata.associationLink', ");
        self.key_url(q, entity, a);
        q.sql(" || '/").sql(nav).sql("/$ref', '");
        q.sql(nav).sql("@odata.navigationLink', ");
        self.key_url(q, entity, a);
        q.sql(" || '/").sql(nav).sql("'");
    }

    /// `Contacts(12)` / `LeadStatus('WON')` for the row, as SQL text.
    pub(super) fn key_url(&mut self, q: &mut Sql, entity: &'static EntityType, a: &str) {
        q.sql("'").sql(entity.set).sql("(' || ");
        for (i, p) in entity.key_properties().enumerate() {
            if i > 0 {
                q.sql(" || ',' || ");
            }
            if entity.key.len() > 1 {
                q.sql("'").sql(p.name).sql("=' || ");
            }
            if p.ty == EdmType::String {
                q.sql("'''' || replace(")
                    .column(a, p.column)
                    .sql(", '''', '''''') || ''''");
            } else {
                q.column(a, p.column);
            }
        }
        q.sql(" || ')'");
    }

    /// A member name the client chose (a `$compute` alias): a bound value, not SQL text.
    fn computed_name(&self, q: &mut Sql, name: String) {
        if self.dialect == Dialect::Postgres {
            q.sql("CAST(").bind_text(name).sql(" AS text)");
        } else {
            q.bind_text(name);
        }
    }

    /// `name, value` of a `$compute` property.
    fn computed_json(&mut self, q: &mut Sql, a: &str, c: &ComputedProp) {
        let ty = c.expr.ty();
        self.computed_name(q, c.name.clone());
        q.sql(", ");
        let scopes = self.scopes(a);
        self.computed_typed_json(q, ty, &mut |me, q| me.expr(q, &c.expr, &scopes));
    }

    /// A computed value as `typed_json` writes it; its numbers may be infinite or NaN
    /// (`1e308 mul 10`), which a stored one is not.
    pub(super) fn computed_typed_json(
        &mut self,
        q: &mut Sql,
        ty: Ty,
        value: &mut dyn FnMut(&mut Compiler, &mut Sql),
    ) {
        match ty {
            Ty::Edm(EdmType::Double | EdmType::Decimal(..)) => self.special_numbers(q, ty, value),
            _ => self.typed_json(q, ty, value),
        }
    }

    /// A value of static type `ty` as the JSON value OData writes for it: Booleans as
    /// true/false on SQLite, instants in UTC with `Z` on PostgreSQL, Int64 and Decimal as
    /// strings under `IEEE754Compatible=true`.
    pub(super) fn typed_json(
        &mut self,
        q: &mut Sql,
        ty: Ty,
        value: &mut dyn FnMut(&mut Compiler, &mut Sql),
    ) {
        let pg = self.dialect == Dialect::Postgres;
        match ty {
            Ty::Edm(EdmType::Decimal(..)) if self.output.ieee754 => {
                q.sql("CAST(");
                self.plain_number(q, value);
                q.sql(if pg { " AS text)" } else { " AS TEXT)" });
            }
            Ty::Edm(EdmType::Decimal(..)) => self.plain_number(q, value),
            Ty::Bool if !pg => {
                q.sql("json(CASE WHEN ");
                value(self, q);
                q.sql(" IS NULL THEN 'null' WHEN ");
                value(self, q);
                q.sql(" THEN 'true' ELSE 'false' END)");
            }
            Ty::Edm(EdmType::DateTimeOffset) if pg => {
                q.sql("to_char(");
                value(self, q);
                q.sql(PG_UTC_TEXT);
            }
            Ty::Duration => self.duration_text(q, value),
            Ty::Edm(EdmType::Int64) if self.output.ieee754 => {
                q.sql("CAST(");
                value(self, q);
                q.sql(if pg { " AS text)" } else { " AS TEXT)" });
            }
            _ => value(self, q),
        }
    }

    /// A Double or Decimal, with infinities and NaN as the strings OData's JSON format
    /// gives them (`"INF"`, `"-INF"`, `"NaN"`): SQLite would write `9.0e+999`, which no
    /// JSON parser reads, and PostgreSQL `"Infinity"`. SQLite has no NaN (it is null).
    fn special_numbers(
        &mut self,
        q: &mut Sql,
        ty: Ty,
        value: &mut dyn FnMut(&mut Compiler, &mut Sql),
    ) {
        if self.dialect == Dialect::Postgres {
            q.sql("(CASE WHEN ");
            value(self, q);
            q.sql(" = 'Infinity' THEN to_json(text 'INF') WHEN ");
            value(self, q);
            q.sql(" = '-Infinity' THEN to_json(text '-INF') WHEN ");
            value(self, q);
            q.sql(" = 'NaN' THEN to_json(text 'NaN') ELSE to_json(");
            self.typed_json(q, ty, value);
            q.sql(") END)");
        } else {
            q.sql("(CASE WHEN ");
            self.finite(q, value);
            q.sql(" OR ");
            value(self, q);
            q.sql(" IS NULL THEN ");
            if matches!(ty, Ty::Edm(EdmType::Decimal(..))) {
                // The digits PostgreSQL writes for the same decimal (db::decimal).
                q.sql(if self.output.ieee754 { "" } else { "json(" });
                q.sql(crate::db::decimal::TEXT).sql("(");
                value(self, q);
                q.sql(if self.output.ieee754 { ")" } else { "))" });
            } else {
                self.typed_json(q, ty, value);
            }
            q.sql(" WHEN ");
            value(self, q);
            q.sql(" > 0 THEN 'INF' ELSE '-INF' END)");
        }
    }

    /// A property as a JSON value of the right type.
    fn json_value(&mut self, q: &mut Sql, a: &str, p: Prop) {
        self.typed_json(q, Ty::of(p), &mut |c, q| c.column(q, a, p));
    }

    /// The values of `shape`'s properties at `a`, each as text, then per expand: for a
    /// single-valued one whether a row joined and its values, likewise; for a collection
    /// its rows (see `collection_values`). `fields` gets their layout, `n` counts the
    /// values written.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn values(
        &mut self,
        q: &mut Sql,
        joins: &mut Sql,
        entity: &'static EntityType,
        a: &str,
        shape: &Shape,
        fields: &mut Vec<Field>,
        n: &mut usize,
    ) {
        let props: Vec<Prop> = match &shape.select {
            Some(list) => list.clone(),
            None => entity.properties.iter().collect(),
        };
        let next = |q: &mut Sql, n: &mut usize| {
            if *n > 0 {
                q.sql(", ");
            }
            *n += 1;
        };
        for p in props {
            next(q, n);
            // Each value in the type's own text, which format::row writes as JSON (an
            // instant "2024-03-05 10:11:12+00" in the session's UTC, a third of the cost
            // of to_char; a decimal without the zeros of its scale).
            q.sql("(");
            self.column(q, a, p);
            q.sql(")::text");
            fields.push(Field::Prop(p));
        }
        self.expanding(a, entity, |c| {
            for e in &shape.expand {
                next(q, n);
                if e.nav.many {
                    let inner = c.collection_values(q, entity, a, e);
                    fields.push(Field::Collection {
                        name: e.nav.name,
                        fields: inner,
                    });
                    continue;
                }
                let b = c.join_single(joins, a, e);
                // Every table's `workspace_id` is NOT NULL, so NULL here means no row joined.
                q.sql("(")
                    .column(&b, "workspace_id")
                    .sql(" IS NOT NULL)::text");
                let mut inner = Vec::new();
                c.values(q, joins, entity_of(e.nav), &b, &e.shape, &mut inner, n);
                fields.push(Field::Object {
                    name: e.nav.name,
                    fields: inner,
                });
            }
        });
    }
}

/// Pairs per object PostgreSQL builds at once: a function takes at most 100 arguments
/// there, which a full-metadata object of a lead, with its types and links, passes, as
/// does an object with many `$compute` values or aggregates.
const PG_PAIRS: usize = 50;

/// The members of a JSON object being written: straight into the statement, or (on
/// PostgreSQL) as objects of at most [`PG_PAIRS`] pairs, whose texts are joined into
/// one object when there is more than one.
pub(super) struct Members<'q> {
    out: &'q mut Sql,
    /// Finished objects' members, and the one being written.
    chunks: Option<Vec<Sql>>,
    /// Pairs written so far (into the current chunk).
    pairs: usize,
}

impl<'q> Members<'q> {
    /// On SQLite the object opens with `sqlite_opener` (`json_object(` or
    /// `jsonb_object(`); PostgreSQL's chunks are `json_build_object`s.
    pub(super) fn new(out: &'q mut Sql, dialect: Dialect, sqlite_opener: &str) -> Self {
        let chunks = if dialect == Dialect::Postgres {
            Some(vec![Sql::new()])
        } else {
            out.sql(sqlite_opener);
            None
        };
        Members {
            out,
            chunks,
            pairs: 0,
        }
    }

    /// Where the next `n` name/value pairs go.
    pub(super) fn next(&mut self, n: usize) -> &mut Sql {
        let fresh = match &mut self.chunks {
            Some(chunks) if self.pairs > 0 && self.pairs + n > PG_PAIRS => {
                chunks.push(Sql::new());
                self.pairs = 0;
                true
            }
            _ => self.pairs == 0,
        };
        self.pairs += n;
        let q = match &mut self.chunks {
            Some(chunks) => match chunks.last_mut() {
                Some(q) => q,
                None => &mut *self.out,
            },
            None => &mut *self.out,
        };
        if !fresh {
            q.sql(", ");
        }
        q
    }

    /// Closes the object: `json_build_object(...)` for a single chunk, otherwise the
    /// chunks' objects as text without their braces, joined, read back as one object.
    pub(super) fn finish(self) {
        let Some(chunks) = self.chunks else {
            self.out.sql(")");
            return;
        };
        let q = self.out;
        let joined = chunks.len() > 1;
        if joined {
            q.sql("('{' || ");
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            if i > 0 {
                q.sql(" || ', ' || ");
            }
            q.sql(if joined {
                "substr(left(json_build_object("
            } else {
                "json_build_object("
            });
            q.append(chunk);
            q.sql(if joined { ")::text, -1), 2)" } else { ")" });
        }
        if joined {
            q.sql(" || '}')::json");
        }
    }
}
