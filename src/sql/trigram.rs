//! Substring filters served by a trigram index: a required `contains()` on a property
//! the model gives a trigram index first narrows the rows to those the index lists.

use super::compiler::{single_key, Compiler};
use super::trigram_stats::COUNT_CAP;
use super::Sql;
use crate::bind::{TExpr, Value};
use crate::db::Dialect;
use crate::model::{EdmType, EntityType};
use diesel::sql_types::BigInt;
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
        let Some(key) = single_key(entity).filter(|k| k.ty == EdmType::Int32) else {
            return;
        };
        let Some(lo) = self.workspace.checked_mul(SPAN) else {
            return;
        };
        let trigrams = trigrams(text);
        let counts = self
            .trigram_stats
            .and_then(|s| s.lookup(fts, self.workspace, &trigrams, &mut self.trigram_misses));
        let terms = match counts {
            Some(rows) => rarest(&trigrams, &rows),
            None => tiling(&trigrams),
        };
        q.sql(" AND ");
        self.column(q, a, key);
        q.sql(" IN (SELECT rowid - ").bind_int(lo + (1 << 31));
        fts_match(q, fts, fts_query(terms), lo);
        q.sql(")");
    }

    /// How many of the workspace's rows in the trigram table `fts` hold `trigram`, up to
    /// `trigram_stats::COUNT_CAP`.
    pub fn trigram_count(&self, fts: &'static str, trigram: &str) -> Option<Sql<BigInt>> {
        let lo = self.workspace.checked_mul(SPAN)?;
        let mut q = Sql::new();
        q.sql("SELECT count(*) FROM (SELECT 1");
        fts_match(&mut q, fts, fts_query(vec![trigram]), lo);
        q.sql(" LIMIT ").bind_int(COUNT_CAP).sql(")");
        Some(q.returning())
    }
}

/// ` FROM fts WHERE fts MATCH query AND rowid in the workspace's span from lo`.
fn fts_match(q: &mut Sql, fts: &'static str, query: String, lo: i64) {
    q.sql(" FROM ")
        .sql(fts)
        .sql(" WHERE ")
        .sql(fts)
        .sql(" MATCH ")
        .bind_text(query)
        .sql(" AND rowid BETWEEN ")
        .bind_int(lo)
        .sql(" AND ")
        .bind_int(lo + (SPAN - 1));
}

/// Rows of the trigram tables are numbered per workspace in spans of this many.
const SPAN: i64 = 1 << 32;

/// The distinct overlapping trigrams of `text` (three or more characters), in order.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut seen = foldhash::HashSet::default();
    chars
        .windows(3)
        .filter(|w| seen.insert(*w))
        .map(|w| w.iter().collect())
        .collect()
}

/// Without counts: the trigrams that tile the value end to end (every third, and the
/// last). Testing a few disjoint trigrams costs half as much as a phrase of all
/// overlapping ones.
fn tiling(trigrams: &[String]) -> Vec<&str> {
    let n = trigrams.len();
    let mut picked: Vec<&str> = trigrams.iter().step_by(3).map(String::as_str).collect();
    if let Some(last) = trigrams.last().filter(|_| !(n - 1).is_multiple_of(3)) {
        picked.push(last);
    }
    picked
}

/// With counts: the two trigrams the fewest rows hold, in the value's order. Rows
/// holding both are a small superset of the answer; a third trigram would narrow it
/// further only as much as it is rare, and reading its list costs as much as it is not.
fn rarest<'t>(trigrams: &'t [String], rows: &[i64]) -> Vec<&'t str> {
    let mut by_rows: Vec<usize> = (0..trigrams.len()).collect();
    by_rows.sort_by_key(|&i| (rows.get(i).copied().unwrap_or(i64::MAX), i));
    by_rows.truncate(2);
    by_rows.sort_unstable();
    by_rows
        .into_iter()
        .filter_map(|i| trigrams.get(i).map(String::as_str))
        .collect()
}

/// An FTS5 query that every row holding all of `terms` matches: each a string, quotes
/// doubled.
fn fts_query(terms: Vec<&str>) -> String {
    let quoted: Vec<String> = terms
        .into_iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    quoted.join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::{fts_query, rarest, tiling, trigrams};

    fn trigram_query(text: &str) -> String {
        fts_query(tiling(&trigrams(text)))
    }

    #[test]
    fn without_counts_the_trigrams_tile_the_value() {
        assert_eq!(trigram_query("abc"), "\"abc\"");
        assert_eq!(trigram_query("abcd"), "\"abc\" AND \"bcd\"");
        assert_eq!(trigram_query("abcdef"), "\"abc\" AND \"def\"");
        assert_eq!(
            trigram_query("@prospectsoft.com"),
            "\"@pr\" AND \"osp\" AND \"ect\" AND \"sof\" AND \"t.c\" AND \"com\""
        );
        // Characters, not bytes; quotes doubled inside FTS5 strings.
        assert_eq!(trigram_query("éa\"bc"), "\"éa\"\"\" AND \"\"\"bc\"");
        // A trigram that repeats is asked for once.
        assert_eq!(trigrams("aaaa"), ["aaa"]);
        assert_eq!(trigram_query("abcabc"), "\"abc\" AND \"cab\"");
    }

    #[test]
    fn with_counts_the_two_rarest_trigrams_are_asked_for() {
        let t = trigrams("@prospectsoft.com");
        let mut rows = vec![4096; t.len()];
        rows[0] = 1096; // @pr
        rows[3] = 944; // osp
        rows[4] = 2000; // spe
        assert_eq!(fts_query(rarest(&t, &rows)), "\"@pr\" AND \"osp\"");
        // Ties go to the earlier trigram; a value of one trigram asks for it alone.
        assert_eq!(rarest(&t, &vec![5; t.len()]), ["@pr", "pro"]);
        assert_eq!(rarest(&trigrams("abc"), &[0]), ["abc"]);
    }
}
