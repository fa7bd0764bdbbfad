//! Batched multi-row INSERTs built with `Sql`, one transaction per table.

use crate::db::{DbConnection, Dialect};
use crate::sql::{Bind, Sql};
use diesel::result::Error as DieselError;
use diesel::{Connection, RunQueryDsl};
use indicatif::ProgressBar;

/// One column value of a generated row; rendered per dialect when inserted.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Str(&'static str),
    /// Seconds since the Unix epoch, stored as `YYYY-MM-DDTHH:MM:SSZ` / timestamptz.
    Ts(i64),
    /// An amount in hundredths (pence), stored as NUMERIC.
    Money(i64),
    Bool(bool),
}

impl Val {
    pub fn opt_text(v: Option<String>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
    pub fn opt_str(v: Option<&'static str>) -> Self {
        v.map_or(Val::Null, Val::Str)
    }
    pub fn opt_ts(v: Option<i64>) -> Self {
        v.map_or(Val::Null, Val::Ts)
    }
    pub fn opt_int(v: Option<i64>) -> Self {
        v.map_or(Val::Null, Val::Int)
    }
}

/// A CRM table: its name and the columns a generated row fills, in order
/// (`workspace_id` comes first and is added by the inserter).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// Key columns, for `ON CONFLICT (...) DO NOTHING` and ordering.
    pub key: &'static [&'static str],
    /// Skip rows whose key exists (code-keyed lookups and users), instead of failing.
    pub skip_existing: bool,
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn format_ts(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn push_value<ST>(q: &mut Sql<ST>, dialect: Dialect, v: &Val) {
    match (v, dialect) {
        (Val::Null, _) => {
            q.sql("NULL");
        }
        (Val::Int(i), _) => {
            q.bind_int(*i);
        }
        (Val::Text(s), _) => {
            q.bind_text(s.as_str());
        }
        (Val::Str(s), _) => {
            q.bind_text(*s);
        }
        (Val::Ts(t), Dialect::Sqlite) => {
            q.bind_text(format_ts(*t));
        }
        (Val::Ts(t), Dialect::Postgres) => {
            q.sql("CAST(")
                .bind_text(format_ts(*t))
                .sql(" AS timestamptz)");
        }
        (Val::Money(c), Dialect::Sqlite) => {
            q.bind(Bind::Double(*c as f64 / 100.0));
        }
        (Val::Money(c), Dialect::Postgres) => {
            q.sql("CAST(").bind_text(money_text(*c)).sql(" AS numeric)");
        }
        (Val::Bool(b), Dialect::Sqlite) => {
            q.bind_int(i64::from(*b));
        }
        (Val::Bool(b), Dialect::Postgres) => {
            q.sql("CAST(")
                .bind_text(if *b { "true" } else { "false" })
                .sql(" AS boolean)");
        }
    }
}

/// Rows per statement: at most 500, and well under SQLite's 32766 and PostgreSQL's
/// 65535 bind parameters.
pub fn rows_per_statement(table: &Table) -> usize {
    (30_000 / (table.columns.len() + 1)).clamp(1, 500)
}

/// One multi-row INSERT; returns the number of rows inserted. SQLite gets
/// `INSERT ... VALUES (...), (...)` with a bind parameter per value; PostgreSQL parses
/// and plans each bound expression separately (about 7 µs a value), so it gets the
/// whole chunk as one JSON parameter expanded by `json_to_recordset`.
pub fn insert_rows(
    conn: &mut DbConnection,
    dialect: Dialect,
    table: &Table,
    workspace_id: i32,
    rows: &[Vec<Val>],
) -> Result<usize, DieselError> {
    match dialect {
        Dialect::Sqlite => insert_values(conn, dialect, table, workspace_id, rows),
        Dialect::Postgres => insert_json(conn, table, workspace_id, rows),
    }
}

/// The PostgreSQL type a JSON value of this kind is read as (`None` for NULL).
fn pg_type(v: &Val) -> Option<&'static str> {
    match v {
        Val::Null => None,
        Val::Int(_) => Some("bigint"),
        Val::Text(_) | Val::Str(_) => Some("text"),
        Val::Ts(_) => Some("timestamptz"),
        Val::Money(_) => Some("numeric"),
        Val::Bool(_) => Some("boolean"),
    }
}

fn money_text(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let a = pence.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

fn json_value(v: &Val) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Val::Null => J::Null,
        Val::Int(i) => J::from(*i),
        Val::Text(s) => J::from(s.as_str()),
        Val::Str(s) => J::from(*s),
        Val::Ts(t) => J::from(format_ts(*t)),
        Val::Money(c) => J::from(money_text(*c)),
        Val::Bool(b) => J::from(*b),
    }
}

/// `INSERT INTO t (workspace_id, cols) SELECT ?, x.cols FROM json_to_recordset(?) AS
/// x(col type, ...)`. Columns that are NULL in every row of the chunk are left out
/// (they default to NULL), so every listed column has a known type.
fn insert_json(
    conn: &mut DbConnection,
    table: &Table,
    workspace_id: i32,
    rows: &[Vec<Val>],
) -> Result<usize, DieselError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let typed: Vec<(usize, &'static str)> = (0..table.columns.len())
        .filter_map(|c| rows.iter().find_map(|r| pg_type(&r[c])).map(|t| (c, t)))
        .collect();
    let doc: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            debug_assert_eq!(r.len(), table.columns.len(), "{}", table.name);
            serde_json::Value::Object(
                typed
                    .iter()
                    .map(|&(c, _)| (table.columns[c].to_owned(), json_value(&r[c])))
                    .collect(),
            )
        })
        .collect();
    let mut q = Sql::<diesel::sql_types::Integer>::new();
    q.sql("INSERT INTO ")
        .ident(table.name)
        .sql(" (")
        .ident("workspace_id");
    for &(c, _) in &typed {
        q.sql(", ").ident(table.columns[c]);
    }
    q.sql(") SELECT ").bind_int(i64::from(workspace_id));
    for &(c, _) in &typed {
        q.sql(", x.").ident(table.columns[c]);
    }
    q.sql(" FROM json_to_recordset(CAST(")
        .bind_text(serde_json::Value::Array(doc).to_string())
        .sql(" AS json)) AS x(");
    for (i, &(c, ty)) in typed.iter().enumerate() {
        q.sql(if i == 0 { "" } else { ", " })
            .ident(table.columns[c])
            .sql(" ")
            .sql(ty);
    }
    q.sql(")");
    on_conflict(&mut q, table);
    q.execute(conn)
}

fn on_conflict<ST>(q: &mut Sql<ST>, table: &Table) {
    if table.skip_existing {
        q.sql(" ON CONFLICT (workspace_id");
        for k in table.key {
            q.sql(", ").ident(k);
        }
        q.sql(") DO NOTHING");
    }
}

fn insert_values(
    conn: &mut DbConnection,
    dialect: Dialect,
    table: &Table,
    workspace_id: i32,
    rows: &[Vec<Val>],
) -> Result<usize, DieselError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut q = Sql::<diesel::sql_types::Integer>::new();
    q.sql("INSERT INTO ")
        .ident(table.name)
        .sql(" (")
        .ident("workspace_id");
    for c in table.columns {
        q.sql(", ").ident(c);
    }
    q.sql(") VALUES ");
    for (i, row) in rows.iter().enumerate() {
        debug_assert_eq!(row.len(), table.columns.len(), "{}", table.name);
        q.sql(if i == 0 { "(" } else { ", (" });
        q.bind_int(i64::from(workspace_id));
        for v in row {
            q.sql(", ");
            push_value(&mut q, dialect, v);
        }
        q.sql(")");
    }
    on_conflict(&mut q, table);
    q.execute(conn)
}

/// Inserts every row of `rows` into `table` in one transaction, in statements of
/// `rows_per_statement` rows, advancing `progress` as it goes. Returns rows inserted.
pub fn fill(
    conn: &mut DbConnection,
    dialect: Dialect,
    table: &Table,
    workspace_id: i32,
    rows: impl Iterator<Item = Vec<Val>>,
    progress: &ProgressBar,
) -> Result<usize, DieselError> {
    let per = rows_per_statement(table);
    progress.set_message(table.name);
    conn.transaction::<_, DieselError, _>(|conn| {
        let mut inserted = 0;
        let mut chunk = Vec::with_capacity(per);
        for row in rows {
            chunk.push(row);
            if chunk.len() == per {
                inserted += insert_rows(conn, dialect, table, workspace_id, &chunk)?;
                progress.inc(chunk.len() as u64);
                chunk.clear();
            }
        }
        inserted += insert_rows(conn, dialect, table, workspace_id, &chunk)?;
        progress.inc(chunk.len() as u64);
        Ok(inserted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_utc_text() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_ts(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(format_ts(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(format_ts(951_782_399), "2000-02-28T23:59:59Z");
    }

    #[test]
    fn statements_stay_under_the_bind_limits() {
        let t = Table {
            name: "x",
            columns: &["a"; 100],
            key: &["a"],
            skip_existing: false,
        };
        assert_eq!(rows_per_statement(&t), 297);
    }
}
