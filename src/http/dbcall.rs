//! Where database work runs.

use super::error::ApiError;
use crate::db::{Db, DbConnection, DbError, Dialect, CONNECTION_WAIT};
use actix_web::web;

/// Runs `f` with a pooled connection. Short, index-bounded work (a token lookup, a read
/// by key) on the embedded SQLite runs on the worker thread when a connection is idle,
/// because handing it to the blocking pool costs more than the query. Everything else
/// (any PostgreSQL call, which waits on the network; any work while the pool is busy)
/// runs on the blocking pool, so the event loop never waits. At most one call per pooled
/// connection is in flight; the rest wait, in arrival order, for a permit.
pub async fn run<T, F>(db: &Db, short: bool, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    if short && db.dialect == Dialect::Sqlite {
        if let Ok(_permit) = db.permits.try_acquire() {
            if let Some(mut conn) = db.pool.try_get() {
                return f(&mut conn);
            }
        }
    }
    // A permit guarantees an idle connection, so the blocking thread never waits in the
    // pool; callers queue here in arrival order instead, for as long as they would have
    // waited for a connection (while the database is down, the queue must not grow into
    // minutes of waiting for an answer that is 503 anyway).
    let permit = tokio::time::timeout(CONNECTION_WAIT, db.permits.clone().acquire_owned())
        .await
        .map_err(|_| {
            ApiError::Db(DbError::Unavailable(format!(
                "no database connection became free within {CONNECTION_WAIT:?}"
            )))
        })?
        .map_err(|_| ApiError::Blocking)?;
    let db = db.clone();
    web::block(move || {
        let _permit = permit;
        let mut conn = db.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|_| ApiError::Blocking)?
}
