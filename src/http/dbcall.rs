//! Where database work runs.

use super::error::ApiError;
use crate::db::{Db, DbConnection, DbError, Dialect, Manager, CONNECTION_WAIT};
use actix_web::web;
use std::cell::RefCell;

/// An embedded-SQLite connection a request holds from its token lookup to its last read,
/// inside one read transaction. Each SQLite transaction takes and releases the file's
/// locks (system calls, and a mutex all connections share); a by-key read that looked up
/// its token in a transaction of its own paid that twice. The transaction also gives the
/// token check and the read one snapshot. Rolled back when dropped; a connection whose
/// rollback failed is marked broken, and the pool discards it.
pub struct Lease {
    conn: r2d2::PooledConnection<Manager>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Lease {
    /// An idle SQLite connection with its read transaction begun, if one is free now.
    pub fn open(db: &Db) -> Option<Lease> {
        if db.dialect != Dialect::Sqlite {
            return None;
        }
        let permit = db.permits.clone().try_acquire_owned().ok()?;
        let mut conn = db.pool.try_get()?;
        cached(&mut conn, "BEGIN").ok()?;
        Some(Lease {
            conn,
            _permit: permit,
        })
    }

    pub fn conn(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if cached(&mut self.conn, "ROLLBACK").is_err() {
            // Still in the transaction: marked broken, the pool discards the connection.
            crate::db::mark_broken(&mut self.conn);
        }
    }
}

/// Runs `BEGIN` or `ROLLBACK` as a statement that stays prepared. Diesel's transaction
/// manager sends them through `sqlite3_exec`, which parses them again each time: with
/// the lock calls they were 8% of a read by key.
fn cached(conn: &mut DbConnection, sql: &'static str) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl;
    let mut q = crate::sql::Sql::<diesel::sql_types::Text>::new();
    q.sql(sql);
    q.execute(conn)
}

/// Like [`run`], on the request's leased connection while it has one: inline when the
/// work is short, otherwise on the blocking pool, which then ends the lease.
pub async fn run_leased<T, F>(
    lease: &RefCell<Option<Lease>>,
    db: &Db,
    short: bool,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let Some(mut held) = lease.borrow_mut().take() else {
        return run(db, short, f).await;
    };
    if short {
        let r = checked(held.conn(), f);
        *lease.borrow_mut() = Some(held);
        return r;
    }
    web::block(move || checked(held.conn(), f))
        .await
        .map_err(|_| ApiError::Blocking)?
}

/// HTTP worker threads: one per core, whose inline reads never wait on SQLite; two per
/// core where inline reads wait for a PostgreSQL round trip, so that others serve meanwhile.
pub fn workers(db: &Db) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if db.dialect == Dialect::Postgres && db.inline.enabled() {
        2 * cores
    } else {
        cores
    }
}

/// Runs `f` with a pooled connection. Short, index-bounded work (a token lookup, a read
/// by key, a small page an index bounds) runs on the worker thread when a connection is
/// idle and [`crate::db::inline`] allows it (a database on this host that answers
/// promptly), because handing it to the blocking pool costs more than the query; on
/// PostgreSQL the server runs twice as many workers then ([`workers`]), since the worker
/// waits for the database's answer. Everything else runs on the blocking pool, so the
/// event loop never waits for long. At most one call per pooled connection is in flight;
/// the rest wait, in arrival order, for a permit.
pub async fn run<T, F>(db: &Db, short: bool, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    // The slot is held until `f` returns: its duration decides whether inline reads go on.
    if let Some(_slot) = short.then(|| db.inline.enter()).flatten() {
        if let Ok(_permit) = db.permits.try_acquire() {
            if let Some(mut conn) = db.pool.try_get() {
                return checked(&mut conn, f);
            }
        }
    }
    // A permit guarantees an idle connection, so the blocking thread never waits in the
    // pool; callers queue here in arrival order instead, for as long as they would have
    // waited for a connection (while the database is down, the queue must not grow into
    // minutes of waiting for an answer that is 503 anyway).
    let deadline = tokio::time::Instant::now() + CONNECTION_WAIT;
    let long = match (&db.long_reads, short) {
        (Some(turns), false) => Some(queue(deadline, turns).await?),
        _ => None,
    };
    let permit = queue(deadline, &db.permits).await?;
    let db = db.clone();
    web::block(move || {
        let _permits = (permit, long);
        let mut conn = db.get()?;
        checked(&mut conn, f)
    })
    .await
    .map_err(|_| ApiError::Blocking)?
}

/// Runs `f` on `conn`, which is marked broken if `f` found it lost, so that the pool
/// discards it instead of handing it to the next request.
fn checked<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let r = f(conn);
    if let Err(ApiError::Db(e)) = &r {
        if e.lost_connection() {
            crate::db::mark_broken(conn);
        }
    }
    r
}

/// A permit of `sem`, taken in arrival order, or 503 once `deadline` has passed.
async fn queue(
    deadline: tokio::time::Instant,
    sem: &std::sync::Arc<tokio::sync::Semaphore>,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    tokio::time::timeout_at(deadline, sem.clone().acquire_owned())
        .await
        .map_err(|_| {
            ApiError::Db(DbError::Unavailable(format!(
                "no database connection became free within {CONNECTION_WAIT:?}"
            )))
        })?
        .map_err(|_| ApiError::Blocking)
}
