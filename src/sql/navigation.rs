//! Paths through navigation properties: a joined row when an expand already joined it,
//! otherwise a correlated subquery along the chain, every step confined to the workspace.

use super::compiler::Compiler;
use super::Sql;
use crate::bind::{Nav, Prop, Value};
use crate::model::{EntityType, MODEL};

impl Compiler {
    /// `alias.column`, or the computed expression, or a scalar subquery through
    /// single-valued navigation.
    pub fn prop_value(&mut self, q: &mut Sql, alias: &str, navs: &[Nav], prop: Prop) {
        let (alias, navs) = self.through_joins(alias, navs);
        if navs.is_empty() {
            self.column(q, &alias, prop);
            return;
        }
        q.sql("(");
        self.nav_chain_select_prop(q, &alias, navs, prop);
        q.sql(")");
    }

    /// `$root/Set(key)/...`: a scalar subquery on the one entity the key names, in the
    /// caller's workspace like every table reference.
    pub(super) fn root(
        &mut self,
        q: &mut Sql,
        entity: &'static EntityType,
        key: &[(Prop, Value)],
        navs: &[Nav],
        prop: Option<Prop>,
    ) {
        let a = self.alias();
        q.sql("(SELECT ");
        match prop {
            Some(p) if navs.is_empty() => self.column(q, &a, p),
            Some(p) => {
                q.sql("(");
                self.nav_chain_select_prop(q, &a, navs, p);
                q.sql(")");
            }
            None => {
                q.sql("(");
                self.nav_chain_select(q, &a, navs, "count(*)");
                q.sql(")");
            }
        }
        q.sql(" FROM ")
            .sql(entity.table)
            .sql(" ")
            .sql(&a)
            .sql(" WHERE ");
        self.workspace(q, &a);
        for (p, v) in key {
            q.sql(" AND ");
            self.column(q, &a, p);
            q.sql(" = ");
            self.value(q, v);
        }
        q.sql(")");
    }

    /// Follows `navs` from `alias` through the rows already joined for single-valued
    /// expands; returns the alias reached and the navigations left.
    fn through_joins<'n>(&self, alias: &str, navs: &'n [Nav]) -> (String, &'n [Nav]) {
        let mut at = alias.to_owned();
        let mut rest = navs;
        while let Some((nav, tail)) = rest.split_first() {
            let Some((_, _, joined)) = self
                .joined
                .iter()
                .find(|(from, n, _)| *from == at && std::ptr::eq(*n, *nav))
            else {
                break;
            };
            at = joined.clone();
            rest = tail;
        }
        (at, rest)
    }

    fn nav_chain_select_prop(&mut self, q: &mut Sql, alias: &str, navs: &[Nav], prop: Prop) {
        let mut inner = Sql::new();
        let mut last_alias = String::new();
        self.nav_chain_from(&mut inner, alias, navs, &mut last_alias);
        q.sql("SELECT ");
        self.column(q, &last_alias, prop);
        q.append(inner);
    }

    pub(super) fn nav_chain_select(&mut self, q: &mut Sql, alias: &str, navs: &[Nav], what: &str) {
        let mut inner = Sql::new();
        let mut last_alias = String::new();
        self.nav_chain_from(&mut inner, alias, navs, &mut last_alias);
        q.sql("SELECT ").sql(what);
        q.append(inner);
    }

    /// ` FROM t1 JOIN t2 ON ... WHERE ...` following `navs` from `alias`.
    fn nav_chain_from(&mut self, q: &mut Sql, alias: &str, navs: &[Nav], last: &mut String) {
        let mut from_alias = alias.to_owned();
        let mut conds = Sql::new();
        for (i, nav) in navs.iter().enumerate() {
            let target = entity_of(nav);
            let a = self.alias();
            q.sql(if i == 0 { " FROM " } else { " JOIN " })
                .sql(target.table)
                .sql(" ")
                .sql(&a);
            if i > 0 {
                q.sql(" ON ");
                self.workspace(q, &a);
                q.sql(" AND ");
                self.join(q, &from_alias, nav, &a);
            } else {
                self.workspace(&mut conds, &a);
                conds.sql(" AND ");
                self.join(&mut conds, &from_alias, nav, &a);
            }
            from_alias = a;
        }
        q.sql(" WHERE ");
        q.append(conds);
        *last = from_alias;
    }

    /// `EXISTS`-style correlated subquery body: `SELECT 1 FROM ... WHERE <join>` then
    /// `extra` appends conditions on the last alias.
    pub fn nav_chain(
        &mut self,
        q: &mut Sql,
        alias: &str,
        navs: &[Nav],
        extra: &mut dyn FnMut(&mut Compiler, &mut Sql, &str),
    ) {
        self.nav_chain_where(q, alias, navs, "1", extra);
    }

    /// `SELECT what FROM ... WHERE <join>` then `extra`'s conditions on the last alias.
    pub fn nav_chain_where(
        &mut self,
        q: &mut Sql,
        alias: &str,
        navs: &[Nav],
        what: &str,
        extra: &mut dyn FnMut(&mut Compiler, &mut Sql, &str),
    ) {
        let mut last = String::new();
        let mut inner = Sql::new();
        self.nav_chain_from(&mut inner, alias, navs, &mut last);
        q.sql("SELECT ").sql(what);
        q.append(inner);
        extra(self, q, &last);
    }

    /// `SELECT <what> FROM ... WHERE <join>`, `what` written over the last alias.
    pub(super) fn nav_chain_value(
        &mut self,
        q: &mut Sql,
        alias: &str,
        navs: &[Nav],
        what: &mut dyn FnMut(&mut Compiler, &mut Sql, &str),
    ) {
        let mut last = String::new();
        let mut inner = Sql::new();
        self.nav_chain_from(&mut inner, alias, navs, &mut last);
        q.sql("SELECT ");
        what(self, q, &last);
        q.append(inner);
    }

    /// `to.r = from.l AND ...` for the navigation's join pairs.
    pub fn join(&mut self, q: &mut Sql, from_alias: &str, nav: Nav, to_alias: &str) {
        let target = entity_of(nav);
        for (i, (l, r)) in nav.join.iter().enumerate() {
            if i > 0 {
                q.sql(" AND ");
            }
            let (Some(lp), Some(rp)) = (source_prop(nav, l), target.property(r)) else {
                q.sql("1=0");
                continue;
            };
            q.column(to_alias, rp.column)
                .sql(" = ")
                .column(from_alias, lp.column);
        }
    }
}

pub fn entity_of(nav: Nav) -> &'static EntityType {
    MODEL.entity_type(nav.target).unwrap_or(&MODEL.types[0])
}

/// The property on the navigation's source entity named in its join.
fn source_prop(nav: Nav, name: &str) -> Option<Prop> {
    MODEL
        .types
        .iter()
        .find(|t| t.navigation.iter().any(|n| std::ptr::eq(n, nav)))
        .and_then(|t| t.property(name))
}
