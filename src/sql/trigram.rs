//! Substring filters served by a trigram index: a required `contains()` on a property
//! the model gives a trigram index first narrows the rows to those the index lists.

use super::compiler::{single_key, Compiler};
use super::Sql;
use crate::bind::{TExpr, Value};
use crate::db::Dialect;
use crate::model::{EdmType, EntityType};
use odata_parser::Function;

impl Compiler {
    /// Each `contains(P, 'text')` that the filter requires (a top-level conjunct) on a
    /// property with a trigram index also narrows the rows to those the index lists; the
    /// exact comparison in the filter still decides. Without it a substring test reads every row
    /// of the workspace. SQLite looks the value's trigrams up in the FTS5 table; on
    /// PostgreSQL a `LIKE '%text%'` lets the planner use the pg_trgm index.
    pub(super) fn trigram_narrowing(
        &mut self,
        q: &mut Sql,
        entity: &'static EntityType,
        f: &TExpr,
        a: &str,
    ) {
        if entity.trigram.is_empty() {
            return;
        }
        for c in f.conjuncts() {
            let TExpr::Call(Function::Contains, args, _) = c else {
                continue;
            };
            let [p, TExpr::Lit(Value::String(text))] = args.as_slice() else {
                continue;
            };
            // Shorter values hold no trigram to look up.
            let Some(prop) = p.root_prop().filter(|_| text.chars().nth(2).is_some()) else {
                continue;
            };
            let Some(&(_, index)) = entity.trigram.iter().find(|(p, _)| *p == prop.name) else {
                continue;
            };
            match self.dialect {
                Dialect::Sqlite => self.fts_lookup(q, entity, index, text, a),
                Dialect::Postgres => {
                    q.sql(" AND ");
                    self.column(q, a, prop);
                    q.sql(" LIKE ")
                        .bind_text(format!("%{}%", super::expr::escape_like(text)))
                        .sql(" ESCAPE '\\'")
                        .plan_per_execution();
                }
            }
        }
    }

    /// `AND key IN (rows of the FTS5 trigram table `fts` holding `text`'s trigrams)`.
    /// A row's id there is `workspace * 2^32 + key + 2^31`.
    fn fts_lookup(
        &mut self,
        q: &mut Sql,
        entity: &'static EntityType,
        fts: &'static str,
        text: &str,
        a: &str,
    ) {
        const SPAN: i64 = 1 << 32;
        let Some(key) = single_key(entity).filter(|k| k.ty == EdmType::Int32) else {
            return;
        };
        let Some(lo) = self.workspace.checked_mul(SPAN) else {
            return;
        };
        q.sql(" AND ");
        self.column(q, a, key);
        q.sql(" IN (SELECT rowid - ")
            .bind_int(lo + (1 << 31))
            .sql(" FROM ")
            .sql(fts)
            .sql(" WHERE ")
            .sql(fts)
            .sql(" MATCH ")
            .bind_text(trigram_query(text))
            .sql(" AND rowid BETWEEN ")
            .bind_int(lo)
            .sql(" AND ")
            .bind_int(lo + (SPAN - 1))
            .sql(")");
    }
}

/// An FTS5 query that every string containing `text` (three or more characters)
/// matches: the trigrams that tile it, end to end, all required. Rows holding them
/// anywhere are a superset that the exact comparison then trims; testing a few
/// disjoint trigrams costs half as much as a phrase of all overlapping ones.
fn trigram_query(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut starts: Vec<usize> = (0..chars.len().saturating_sub(2)).step_by(3).collect();
    if !chars.len().is_multiple_of(3) {
        starts.push(chars.len() - 3);
    }
    let terms: Vec<String> = starts
        .into_iter()
        .map(|i| {
            let t: String = chars[i..i + 3].iter().collect();
            format!("\"{}\"", t.replace('"', "\"\""))
        })
        .collect();
    terms.join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::trigram_query;

    #[test]
    fn trigram_queries_tile_the_value() {
        assert_eq!(trigram_query("abc"), "\"abc\"");
        assert_eq!(trigram_query("abcd"), "\"abc\" AND \"bcd\"");
        assert_eq!(trigram_query("abcdef"), "\"abc\" AND \"def\"");
        assert_eq!(
            trigram_query("@prospectsoft.com"),
            "\"@pr\" AND \"osp\" AND \"ect\" AND \"sof\" AND \"t.c\" AND \"com\""
        );
        // Characters, not bytes; quotes doubled inside FTS5 strings.
        assert_eq!(trigram_query("éa\"bc"), "\"éa\"\"\" AND \"\"\"bc\"");
    }
}
