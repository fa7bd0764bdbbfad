//! Execute stage: runs the planned statements on a connection.

use crate::bind::{Read, Value};
use crate::db::{deadline, DbConnection, DbError, Dialect};
use crate::format::json::compact;
use crate::format::row::{names_len, object, TextArray};
use crate::plan::{order_keys, value_from_json, Page, ReadPlan, UnionStart};
use crate::sql::trigram_stats::STATS;
use crate::sql::{Compiler, ExpandPage, Output};
use diesel::connection::DefaultLoadingMode;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::{QueryResult, RunQueryDsl};

/// One page of a collection.
#[derive(Debug)]
pub struct Rows {
    pub rows: Vec<String>,
    /// Order-key values of the last row when a further page exists.
    pub next_after: Option<Vec<Value>>,
    pub count: Option<i64>,
    /// The expanded collections whose pages may end in a marker (`format::next_links`).
    pub expand_pages: Vec<ExpandPage>,
}

/// Bytes of row JSON one page may hold. Collection-valued expands can multiply the rows
/// without end (every lead with every lead of its pipeline: 27 MB per lead on the
/// benchmark data); a page that reaches this ends early, with a nextLink to the rest,
/// so one request cannot exhaust the server's memory. A page of 1,000 contacts with all
/// their properties is about 0.6 MB.
pub const PAGE_BUDGET: usize = 16 << 20;

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
    let mut c = compiler(dialect, workspace, output).guarded(guard);
    let (mut loaded, cut) = load_rows(conn, &mut c, plan, PAGE_BUDGET)?;
    let size = plan.page.size as usize;
    let more = if loaded.len() > size {
        loaded.truncate(size);
        plan.page.more_allowed
    } else if cut {
        // Ended by the budget: the rest follows on the next page, whatever was asked
        // (unless the row left out was only the one read to see whether more follow).
        loaded.len() < size || plan.page.more_allowed
    } else {
        false
    };
    let mut next_after = None;
    if more {
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
    let count = if with_count {
        Some(c.count(plan.read).get_result::<i64>(conn)?)
    } else {
        None
    };
    count_trigrams(conn, &mut c);
    Ok(Rows {
        rows: loaded.into_iter().map(|(j, _)| j).collect(),
        next_after,
        count,
        expand_pages: std::mem::take(&mut c.expand_pages),
    })
}

/// One page of an aggregated result (`$apply`; with `concat`, its sequences' rows one
/// after the other): its rows from `offset`, whether more follow, and the number of rows
/// in all when asked.
#[allow(clippy::too_many_arguments)]
pub fn read_aggregate(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    guard: Option<&str>,
    result: &crate::bind::Concatenation,
    output: Output,
    offset: u64,
    size: u64,
) -> Result<(Vec<String>, bool, Option<i64>), DbError> {
    let mut c = compiler(dialect, workspace, output).guarded(guard);
    let (rows, more) = grouped_page(conn, &mut c, dialect, &result.branches, offset, size)?;
    let count = if result.count {
        Some(rows_in_all(conn, &mut c, result)?)
    } else {
        None
    };
    count_trigrams(conn, &mut c);
    Ok((rows, more, count))
}

/// Up to `size` rows of `results` one after the other, from `offset`, and whether more
/// follow.
fn grouped_page(
    conn: &mut DbConnection,
    c: &mut Compiler,
    dialect: Dialect,
    results: &[crate::bind::Aggregation],
    offset: u64,
    size: u64,
) -> Result<(Vec<String>, bool), DbError> {
    let mut rows: Vec<String> = Vec::new();
    // Rows still to pass over: a result that shows none from there may hold fewer.
    let mut skip = offset;
    for (n, ag) in results.iter().enumerate() {
        let want = (size + 1).saturating_sub(rows.len() as u64);
        if want == 0 {
            break;
        }
        let got = c
            .aggregate_rows(ag, skip, want)
            .load::<(String, String)>(conn)?;
        if got.is_empty() && skip > 0 {
            if n + 1 < results.len() {
                let held = c.aggregate_count(ag).get_result::<i64>(conn)?;
                skip = skip.saturating_sub(u64::try_from(held).unwrap_or(0));
            }
            continue;
        }
        skip = 0;
        rows.extend(got.into_iter().map(|row| match dialect {
            Dialect::Postgres => compacted(row).0,
            Dialect::Sqlite => row.0,
        }));
    }
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    Ok((rows, more))
}

/// One page of `$all`: its reads one after the other, each in key order.
#[derive(Debug)]
pub struct UnionPage {
    pub rows: Vec<String>,
    /// Where the next page starts.
    pub next: Option<UnionStart>,
    pub count: Option<i64>,
}

/// Up to `size` entities of `reads` one after the other, from read `start.0` after the
/// key values `start.1`, passing over `offset` entities first; `more_allowed`: whether
/// a further page may follow (the request's `$top` allows it).
#[allow(clippy::too_many_arguments)]
pub fn read_union_page(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    guard: Option<&str>,
    reads: &[Read],
    start: UnionStart,
    offset: u64,
    (size, more_allowed): (u64, bool),
    output: Output,
    with_count: bool,
) -> Result<UnionPage, DbError> {
    let (first, mut after) = start;
    let mut rows: Vec<String> = Vec::new();
    let mut next = None;
    let mut skip = offset;
    for (i, read) in reads.iter().enumerate().skip(first) {
        let room = size.saturating_sub(rows.len() as u64);
        if room == 0 && !more_allowed {
            break;
        }
        let plan = ReadPlan {
            read,
            order: order_keys(&[], read.entity),
            page: Page {
                // A full page only looks for one more entity, to link the next page.
                size: room.max(1),
                more_allowed: true,
                offset: skip,
                after: after.take(),
                served: 0,
            },
        };
        let page = read_page(
            conn,
            dialect,
            workspace,
            guard,
            &plan,
            output.clone(),
            false,
        )?;
        if room == 0 {
            if !page.rows.is_empty() {
                next = Some((i, None));
                break;
            }
            continue;
        }
        if page.rows.is_empty() && skip > 0 {
            let held = count(conn, dialect, workspace, read)?;
            skip = skip.saturating_sub(u64::try_from(held).unwrap_or(0));
            continue;
        }
        skip = 0;
        rows.extend(page.rows);
        if let Some(last) = page.next_after {
            next = Some((i, Some(last)));
            break;
        }
    }
    let mut total = None;
    if with_count {
        let mut n = 0i64;
        for read in reads {
            n = n.saturating_add(count(conn, dialect, workspace, read)?);
        }
        total = Some(n);
    }
    Ok(UnionPage {
        rows,
        next,
        count: total,
    })
}

/// One page of a `$crossjoin`: its rows from `offset`, whether more follow, and the
/// number of rows in all when asked. Its statements keep to `db::deadline`'s limits:
/// past them the read is refused as too expensive rather than left running.
#[allow(clippy::too_many_arguments)]
pub fn read_crossjoin(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    guard: Option<&str>,
    cj: &crate::bind::CrossJoin,
    output: Output,
    offset: u64,
    size: u64,
) -> Result<(Vec<String>, bool, Option<i64>), DbError> {
    let mut c = compiler(dialect, workspace, output).guarded(guard);
    let mut run = |conn: &mut DbConnection| -> Result<_, DbError> {
        let rows = c
            .crossjoin_rows(cj, offset, size.saturating_add(1))
            .load::<(String, String)>(conn)?;
        let count = if cj.count {
            Some(c.crossjoin_count(cj).get_result::<i64>(conn)?)
        } else {
            None
        };
        Ok((rows, count))
    };
    let (rows, count) = match conn {
        DbConnection::Postgresql(pg) => {
            start_pg_timeout(pg)?;
            let result = run(conn);
            end_pg_timeout(conn)?;
            result.map_err(|e| match e.database_message() {
                Some(m) if m.contains("statement timeout") => DbError::CrossJoinTooLarge,
                _ => e,
            })?
        }
        conn => {
            let timer = deadline::start(deadline::LIMIT);
            let result = run(conn)?;
            if timer.expired() {
                return Err(DbError::CrossJoinTooLarge);
            }
            result
        }
    };
    let more = rows.len() as u64 > size;
    let rows = rows
        .into_iter()
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|row| match dialect {
            Dialect::Postgres => compacted(row).0,
            Dialect::Sqlite => row.0,
        })
        .collect();
    Ok((rows, more, count))
}

/// The number of rows of an aggregated result: its sequences' together.
fn rows_in_all(
    conn: &mut DbConnection,
    c: &mut Compiler,
    result: &crate::bind::Concatenation,
) -> Result<i64, DbError> {
    let mut n = 0i64;
    for ag in &result.branches {
        n = n.saturating_add(c.aggregate_count(ag).get_result::<i64>(conn)?);
    }
    Ok(n)
}

pub fn read_single(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    guard: Option<&str>,
    plan: &ReadPlan,
    output: Output,
) -> Result<Option<(String, Vec<ExpandPage>)>, DbError> {
    let mut c = compiler(dialect, workspace, output).guarded(guard);
    let (rows, _) = load_rows(conn, &mut c, plan, PAGE_BUDGET)?;
    count_trigrams(conn, &mut c);
    let pages = std::mem::take(&mut c.expand_pages);
    Ok(rows.into_iter().next().map(|(j, _)| (j, pages)))
}

/// Rows of (entity JSON, order-key values), read one at a time until their JSON would
/// pass `budget` bytes (the first row always comes); `true` when rows were left unread.
/// PostgreSQL returns a flat read's values as text, written out here (see
/// `Compiler::select_values`).
fn load_rows(
    conn: &mut DbConnection,
    c: &mut Compiler,
    plan: &ReadPlan,
    budget: usize,
) -> Result<(Vec<(String, String)>, bool), DbError> {
    let mut pg_timed = false;
    let loaded = load_limited(conn, c, plan, budget, &mut pg_timed);
    if !pg_timed {
        return loaded;
    }
    end_pg_timeout(conn)?;
    loaded.map_err(|e| match e.database_message() {
        Some(m) if m.contains("statement timeout") => DbError::TooExpensive,
        _ => e,
    })
}

/// `load_rows` without lifting a PostgreSQL statement timeout it set (`pg_timed`).
fn load_limited(
    conn: &mut DbConnection,
    c: &mut Compiler,
    plan: &ReadPlan,
    budget: usize,
    pg_timed: &mut bool,
) -> Result<(Vec<(String, String)>, bool), DbError> {
    // Only collection-valued expands make a row's size unbounded: then PostgreSQL hands
    // the rows over one at a time too, rather than the whole result at once.
    let unbounded = has_collections(&plan.read.shape);
    let mut timer = None;
    let mut rows: Box<dyn Iterator<Item = Result<(String, String), DbError>> + '_> = match conn {
        DbConnection::Postgresql(pg) => match c.select_values(plan) {
            Some((q, fields)) => {
                if c.timed {
                    start_pg_timeout(pg)?;
                    *pg_timed = true;
                }
                let ieee754 = c.output.ieee754;
                let names = names_len(&fields);
                let write = move |r: QueryResult<(TextArray, String)>| {
                    let (values, keys) = r?;
                    let size = values.byte_len() + names;
                    let json = object(&fields, values.values(), ieee754, size).map_err(|e| {
                        DbError::Query(diesel::result::Error::DeserializationError(Box::new(e)))
                    })?;
                    Ok((json, keys))
                };
                if unbounded {
                    Box::new(q.load_iter::<_, PgRowByRowLoadingMode>(pg)?.map(write))
                } else {
                    let all: Vec<(TextArray, String)> = q.load(pg)?;
                    Box::new(all.into_iter().map(Ok).map(write))
                }
            }
            None if unbounded => {
                let q = c.select(plan);
                if c.timed {
                    start_pg_timeout(pg)?;
                    *pg_timed = true;
                }
                Box::new(
                    q.load_iter::<(String, String), PgRowByRowLoadingMode>(pg)?
                        .map(|r| r.map(compacted).map_err(DbError::from)),
                )
            }
            None => Box::new(
                c.select(plan)
                    .load::<(String, String)>(pg)?
                    .into_iter()
                    .map(compacted)
                    .map(Ok),
            ),
        },
        // SQLite steps through the rows as they are read.
        conn => {
            let q = c.select(plan);
            if c.timed {
                timer = Some(deadline::start(deadline::LIMIT));
            }
            Box::new(
                q.load_iter::<(String, String), DefaultLoadingMode>(conn)?
                    .map(|r| r.map_err(DbError::from)),
            )
        }
    };
    let (mut out, mut bytes, mut cut) = (Vec::new(), 0, false);
    for row in rows.by_ref() {
        let row = row?;
        if !out.is_empty() && bytes + row.0.len() > budget {
            cut = true;
            break;
        }
        bytes += row.0.len();
        out.push(row);
    }
    drop(rows);
    if timer.as_ref().is_some_and(deadline::Guard::expired) {
        return Err(DbError::TooExpensive);
    }
    Ok((out, cut))
}

/// A row of PostgreSQL's `json_build_object`, without its spaces (see `compact`).
fn compacted((mut json, keys): (String, String)) -> (String, String) {
    compact(&mut json);
    (json, keys)
}

/// PostgreSQL's own limit for a statement that expands a collection inside a collection
/// (see `db::deadline`), set for it alone and lifted by `end_pg_timeout`.
fn start_pg_timeout(pg: &mut diesel::PgConnection) -> Result<(), DbError> {
    use diesel::connection::SimpleConnection;
    Ok(pg.batch_execute(&format!(
        "SET statement_timeout = {}",
        deadline::LIMIT.as_millis()
    ))?)
}

fn end_pg_timeout(conn: &mut DbConnection) -> Result<(), DbError> {
    use diesel::connection::SimpleConnection;
    Ok(conn.batch_execute("RESET statement_timeout")?)
}

/// Whether `shape` expands a collection-valued navigation property at any depth.
fn has_collections(shape: &crate::bind::Shape) -> bool {
    shape
        .expand
        .iter()
        .any(|e| (e.nav.many && !e.is_count) || has_collections(&e.shape))
}

/// The number of rows of an aggregated result (`/$count` after `$apply`).
pub fn aggregate_count(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    result: &crate::bind::Concatenation,
) -> Result<i64, DbError> {
    let mut c = compiler(dialect, workspace, Output::default());
    let n = rows_in_all(conn, &mut c, result)?;
    count_trigrams(conn, &mut c);
    Ok(n)
}

pub fn count(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: i64,
    read: &Read,
) -> Result<i64, DbError> {
    let mut c = compiler(dialect, workspace, Output::default());
    let n = c.count(read).get_result::<i64>(conn)?;
    count_trigrams(conn, &mut c);
    Ok(n)
}

/// A compiler whose substring lookups pick their trigrams by the process's counts.
fn compiler(dialect: Dialect, workspace: i64, output: Output) -> Compiler {
    Compiler::new(dialect, workspace, output).with_trigram_stats(&STATS)
}

/// Counts the trigrams the statements found no count for (see `sql::trigram_stats`),
/// for the reads that follow; this one has its answer already. At most
/// `COUNTS_PER_READ` of them, each up to `COUNT_CAP` rows, so that no read waits long
/// for counts: a value's first lookups keep asking for the trigrams that tile it.
fn count_trigrams(conn: &mut DbConnection, c: &mut Compiler) {
    const COUNTS_PER_READ: usize = 4;
    let mut misses = std::mem::take(&mut c.trigram_misses);
    misses.sort_unstable();
    misses.dedup();
    misses.truncate(COUNTS_PER_READ);
    for key in misses {
        let Some(q) = c.trigram_count(key.0, &key.2) else {
            continue;
        };
        // A count that fails leaves the trigram unknown: a later read counts it again.
        if let Ok(n) = q.get_result::<i64>(conn) {
            STATS.record(key, n);
        }
    }
}
