//! `crm-odata explain URL`: the syntax tree, the bound request and the SQL, without a database.

use crate::bind::{self, Target};
use crate::db::{DbConnection, Dialect};
use crate::plan::plan_read;
use crate::sql::{Compiler, Output, Sql};
use diesel::sql_types::{Integer, Text};
use diesel::RunQueryDsl;

/// The statements a request target compiles to, named `select` or `count`; `None` when
/// it needs no SQL.
type Statements = Vec<(&'static str, Sql<Text>)>;

fn statements(bound: &Target, c: &mut Compiler) -> Result<Option<Statements>, String> {
    Ok(Some(match bound {
        Target::Entities(read) | Target::References(read) => {
            let plan = plan_read(read, 1000, None).map_err(|e| e.to_string())?;
            let mut v = vec![("select", select(c, &plan))];
            if read.shape.count {
                v.push(("count", c.count(read).returning()));
            }
            v
        }
        Target::Aggregated(ag) => {
            let mut v = vec![("select", c.aggregate_rows(ag, 0, 1000).returning())];
            if ag.count {
                v.push(("count", c.aggregate_count(ag).returning()));
            }
            v
        }
        Target::AggregatedCount(ag) => vec![("count", c.aggregate_count(ag).returning())],
        // Each sequence a statement of its own, read one after the other.
        Target::Concatenated(cc) => cc
            .branches
            .iter()
            .map(|ag| ("select", c.aggregate_rows(ag, 0, 1000).returning()))
            .collect(),
        Target::ConcatenatedCount(cc) => cc
            .branches
            .iter()
            .map(|ag| ("count", c.aggregate_count(ag).returning()))
            .collect(),
        // Each entity set a statement of its own, read one after the other.
        Target::All(all) => {
            let mut v = Vec::new();
            for read in &all.reads {
                let plan = plan_read(read, 1000, None).map_err(|e| e.to_string())?;
                v.push(("select", select(c, &plan)));
            }
            v
        }
        Target::CrossJoin(cj) => {
            let mut v = vec![("select", c.crossjoin_rows(cj, 0, 1000).returning())];
            if cj.count {
                v.push(("count", c.crossjoin_count(cj).returning()));
            }
            v
        }
        Target::Count(read) => vec![("count", c.count(read).returning())],
        Target::Property { read, .. } => {
            let plan = plan_read(read, 1, None).map_err(|e| e.to_string())?;
            vec![("select", select(c, &plan))]
        }
        _ => return Ok(None),
    }))
}

/// The statement the server runs for `plan`: on PostgreSQL, where it can, the form
/// that returns the values as text (`Compiler::select_values`).
fn select(c: &mut Compiler, plan: &crate::plan::ReadPlan) -> Sql<Text> {
    match c.select_values(plan) {
        Some((q, _)) => q.returning(),
        None => c.select(plan).returning(),
    }
}

/// How the rows are written: references for `.../$ref`, entities otherwise.
fn output(bound: &Target) -> Output {
    Output {
        refs: matches!(bound, Target::References(_)),
        // The server's default page size, as `plan_read` below.
        page_size: Some(1000),
        ..Output::default()
    }
}

pub fn explain(target: &str, dialect: Dialect) -> Result<String, String> {
    let url = odata_parser::parse_target(target).map_err(|e| e.to_string())?;
    let mut out = format!("Parsed:\n  {url}\n\nTree:\n{url:#?}\n");
    let bound = bind::bind(&url).map_err(|e| e.to_string())?;
    let mut c = Compiler::new(dialect, 1, output(&bound));
    let Some(statements) = statements(&bound, &mut c)? else {
        return Ok(format!("{out}\n{bound:?} (no SQL)"));
    };
    for (name, stmt) in statements {
        let (sql, binds) = stmt.debug_text();
        let title = if name == "count" { "Count SQL" } else { "SQL" };
        out.push_str(&format!(
            "\n{title} ({dialect:?}, workspace bound as 1):\n  {sql}\n  binds: {binds:?}\n"
        ));
    }
    Ok(out)
}

/// The database's own plan for the statements a read compiles to, in workspace `workspace`
/// (by name): `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL. Nothing is executed.
pub fn query_plan(
    conn: &mut DbConnection,
    dialect: Dialect,
    target: &str,
    workspace: &str,
) -> Result<String, String> {
    let ws = crate::auth::find_workspace(conn, workspace)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no workspace named {workspace:?}"))?;
    let url = odata_parser::parse_target(target).map_err(|e| e.to_string())?;
    let bound = bind::bind(&url).map_err(|e| e.to_string())?;
    let mut c = Compiler::new(dialect, i64::from(ws), output(&bound));
    let Some(statements) = statements(&bound, &mut c)? else {
        return Ok(format!("{bound:?} (no SQL)"));
    };
    let mut out = String::new();
    for (name, stmt) in statements {
        out.push_str(&format!("{name}:\n"));
        let mut q = Sql::<Text>::new();
        let lines: Vec<String> = match dialect {
            Dialect::Sqlite => {
                q.sql("EXPLAIN QUERY PLAN ").append(stmt);
                let rows: Vec<(i32, i32, i32, String)> = q
                    .returning::<(Integer, Integer, Integer, Text)>()
                    .load(conn)
                    .map_err(|e| e.to_string())?;
                rows.into_iter().map(|r| r.3).collect()
            }
            Dialect::Postgres => {
                q.sql("EXPLAIN ").append(stmt);
                q.load(conn).map_err(|e| e.to_string())?
            }
        };
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL text of `Contacts` expanded `levels` collections deep (each lead's
    /// contact's leads ...).
    fn sql_len(levels: usize, dialect: Dialect) -> usize {
        let mut expand = "Leads($select=LeadId)".to_owned();
        for _ in 1..levels {
            expand = format!(
                "Leads($select=LeadId;$expand=Contact($select=ContactId;$expand={expand}))"
            );
        }
        let text = explain(
            &format!("Contacts?$select=ContactId&$expand={expand}"),
            dialect,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let sql = text.split("\nSQL (").nth(1).unwrap_or_default();
        sql.lines().nth(1).map_or(0, str::len)
    }

    #[test]
    fn a_deeper_expand_grows_its_statement_in_proportion() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let (three, six) = (sql_len(3, dialect), sql_len(6, dialect));
            assert!(three > 0, "{dialect:?}");
            // Twice the levels, about twice the text (8 times if each level doubled it).
            assert!(six < three * 3, "{dialect:?}: {three} then {six}");
        }
    }
}
