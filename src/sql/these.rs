//! `$these/aggregate(...)` and `$these/$count`: an aggregate of the collection a level's
//! option applies to, as a scalar subquery over that collection's rows. Each option sees
//! the collection as OData evaluates it by then (`bind::TheseInput`), so the level's
//! conditions are compiled once per input, each over an alias of its own: a `$filter`
//! whose `$these` sits inside the `$orderby`'s collection still names its own rows. A
//! `compute` or filter over an aggregated result reads the rows it takes a second time.

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{Shape, TExpr, TheseInput};
use crate::model::EntityType;

/// The collection `$these` names while one level compiles: for each input, the alias
/// of its rows and where they come from (`FROM ... WHERE ...`).
#[derive(Clone, Default)]
pub(super) struct TheseSet {
    inputs: Vec<(TheseInput, String, Sql)>,
}

impl Compiler {
    /// Runs `f` (the compilation of a level of `entity` with options `shape`) with
    /// `$these` naming the level's collection: the rows `bound` admits at an alias
    /// (workspace, key, path, or the join to the instance an expand belongs to), then
    /// what `$apply` kept, `$search` and `$filter` as each input includes them.
    pub(super) fn with_these<R>(
        &mut self,
        entity: &'static EntityType,
        shape: &Shape,
        bound: &mut dyn FnMut(&mut Self, &mut Sql, &str),
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        if !shape.uses_these() {
            return f(self);
        }
        let saved = self.these.take();
        let mut set = TheseSet::default();
        for input in [TheseInput::Compute, TheseInput::Filter, TheseInput::Order] {
            let a = self.alias();
            let mut w = Sql::new();
            w.sql(" FROM ")
                .sql(entity.table)
                .sql(" ")
                .sql(&a)
                .sql(" WHERE ");
            bound(self, &mut w, &a);
            if let Some(k) = &shape.kept {
                w.sql(" AND ");
                self.kept(&mut w, k, &a);
            }
            if let (Some(s), true) = (&shape.search, input >= TheseInput::Filter) {
                w.sql(" AND ");
                self.search(&mut w, entity, s, &a);
            }
            if let (Some(f), TheseInput::Order) = (&shape.filter, input) {
                // The filter may itself name `$these` (its own input, compiled above).
                self.these = Some(set.clone());
                w.sql(" AND ");
                let scopes = self.scopes(&a);
                self.predicate(&mut w, f, &scopes);
                self.trigram_narrowing(&mut w, entity, f, &a);
            }
            set.inputs.push((input, a, w));
        }
        self.these = Some(set);
        let r = f(self);
        self.these = saved;
        r
    }

    /// Runs `f` (the compilation of a `compute`, filter or `$orderby` over an aggregated
    /// result) with `$these` naming the rows it takes, when it `uses` it: `rows` writes
    /// the statement that reads them again.
    pub(super) fn with_result_these<R>(
        &mut self,
        uses: bool,
        rows: impl FnOnce(&mut Self, &mut Sql),
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        if !uses {
            return f(self);
        }
        let a = self.alias();
        let mut w = Sql::new();
        w.sql(" FROM (");
        rows(self, &mut w);
        w.sql(") ").sql(&a);
        let saved = self.these.replace(TheseSet {
            inputs: vec![(TheseInput::Result, a, w)],
        });
        let r = f(self);
        self.these = saved;
        r
    }

    /// `(SELECT <aggregate> FROM ... WHERE <the input's conditions>)` for `TExpr::These`;
    /// `it` is the alias `$it` names inside the value.
    pub(super) fn these_aggregate(&mut self, q: &mut Sql, e: &TExpr, it: &str) {
        let TExpr::These {
            input,
            method,
            value,
            ty,
            from,
            ..
        } = e
        else {
            return;
        };
        let found = self.these.as_ref().and_then(|s| {
            s.inputs
                .iter()
                .find(|(i, ..)| i == input)
                .map(|(_, a, w)| (a.clone(), w.clone()))
        });
        let Some((a, rows_from)) = found else {
            // The binder admits `$these` only where a level sets its collection.
            q.sql("NULL");
            return;
        };
        q.sql("(");
        let rows = |c: &mut Self, q: &mut Sql, what: &mut dyn FnMut(&mut Self, &mut Sql, &str)| {
            q.sql("SELECT ");
            what(c, q, &a);
            q.append(rows_from);
        };
        self.collection_aggregate(q, *method, value.as_deref(), *ty, from, it, rows);
        q.sql(")");
    }
}
