//! Execute stage: runs the planned statements on a connection.

use crate::bind::{Read, Value};
use crate::db::{DbConnection, DbError, Dialect};
use crate::format::row::{object, TextArray};
use crate::plan::{value_from_json, ReadPlan};
use crate::sql::{Compiler, Output};
use diesel::RunQueryDsl;

/// One page of a collection.
#[derive(Debug)]
pub struct Rows {
    pub rows: Vec<String>,
    /// Order-key values of the last row when a further page exists.
    pub next_after: Option<Vec<Value>>,
    pub count: Option<i64>,
}

/// `guard`: a token hash the page's statement checks itself (see `auth::live_token`);
/// with it, no rows may also mean the token is no longer valid.
pub fn read_page(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    guard: Option<&str>,
    plan: &ReadPlan,
    output: Output,
    with_count: bool,
) -> Result<Rows, DbError> {
    let mut c = Compiler::new(dialect, workspace, output).guarded(guard);
    let mut loaded = load_rows(conn, &mut c, plan)?;
    let size = plan.page.size as usize;
    let mut next_after = None;
    if loaded.len() > size {
        loaded.truncate(size);
        if plan.page.more_allowed {
            if let Some((_, keys)) = loaded.last() {
                let vals: Vec<serde_json::Value> = serde_json::from_str(keys).unwrap_or_default();
                let after = vals
                    .iter()
                    .zip(&plan.order)
                    .map(|(v, k)| value_from_json(v, k.expr.ty()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| DbError::Unavailable(format!("paging keys: {e}")))?;
                next_after = Some(after);
            }
        }
    }
    let count = if with_count {
        Some(c.count(plan.read).get_result::<i64>(conn)?)
    } else {
        None
    };
    Ok(Rows {
        rows: loaded.into_iter().map(|(j, _)| j).collect(),
        next_after,
        count,
    })
}

pub fn read_single(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    guard: Option<&str>,
    plan: &ReadPlan,
    output: Output,
) -> Result<Option<String>, DbError> {
    let mut c = Compiler::new(dialect, workspace, output).guarded(guard);
    let rows = load_rows(conn, &mut c, plan)?;
    Ok(rows.into_iter().next().map(|(j, _)| j))
}

/// Rows of (entity JSON, order-key values). PostgreSQL returns a flat read's values as
/// text, written out here (see `Compiler::select_values`).
fn load_rows(
    conn: &mut DbConnection,
    c: &mut Compiler,
    plan: &ReadPlan,
) -> Result<Vec<(String, String)>, DbError> {
    if let DbConnection::Postgresql(pg) = conn {
        if let Some((q, fields)) = c.select_values(plan) {
            let rows: Vec<(TextArray, String)> = q.load(pg)?;
            let ieee754 = c.output.ieee754;
            return rows
                .into_iter()
                .map(|(values, keys)| {
                    let json = object(&fields, values.values(), ieee754).map_err(|e| {
                        DbError::Query(diesel::result::Error::DeserializationError(Box::new(e)))
                    })?;
                    Ok((json, keys))
                })
                .collect();
        }
    }
    Ok(c.select(plan).load(conn)?)
}

pub fn count(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    read: &Read,
) -> Result<i64, DbError> {
    let mut c = Compiler::new(dialect, workspace, Output::default());
    Ok(c.count(read).get_result::<i64>(conn)?)
}
