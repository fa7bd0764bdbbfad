//! `$search` over an entity's text properties.

use super::compiler::Compiler;
use super::Sql;
use crate::db::Dialect;
use crate::model::EntityType;
use odata_parser::SearchExpr;

impl Compiler {
    pub fn search(
        &mut self,
        q: &mut Sql,
        entity: &'static EntityType,
        s: &SearchExpr,
        alias: &str,
    ) {
        match s {
            SearchExpr::Term(t) | SearchExpr::Phrase(t) => {
                q.sql("(");
                for (i, name) in entity.search.iter().enumerate() {
                    if i > 0 {
                        q.sql(" OR ");
                    }
                    let Some(p) = entity.property(name) else {
                        continue;
                    };
                    q.sql(if self.dialect == Dialect::Postgres {
                        "strpos(lower("
                    } else {
                        "instr(lower("
                    });
                    q.column(alias, p.column)
                        .sql("), lower(")
                        .bind_text(t.clone())
                        .sql(")) > 0");
                }
                if entity.search.is_empty() {
                    q.sql("1=0");
                }
                q.sql(")");
            }
            SearchExpr::Not(a) => {
                q.sql("NOT ");
                self.search_coalesced(q, entity, a, alias);
            }
            SearchExpr::And(a, b) | SearchExpr::Or(a, b) => {
                q.sql("(");
                self.search_coalesced(q, entity, a, alias);
                q.sql(if matches!(s, SearchExpr::And(..)) {
                    " AND "
                } else {
                    " OR "
                });
                self.search_coalesced(q, entity, b, alias);
                q.sql(")");
            }
        }
    }

    /// Search over nullable columns: a missing value never matches, also under NOT.
    fn search_coalesced(
        &mut self,
        q: &mut Sql,
        entity: &'static EntityType,
        s: &SearchExpr,
        alias: &str,
    ) {
        q.sql("COALESCE(");
        self.search(q, entity, s, alias);
        q.sql(if self.dialect == Dialect::Postgres {
            ", FALSE)"
        } else {
            ", 0)"
        });
    }
}
