//! Limits for SQLite statements that expand collections inside collections: their work
//! and size grow with the product of the collections' sizes (every pipeline's leads,
//! each with every lead of its own pipeline), and SQLite has neither a statement timeout
//! that Diesel reaches nor a size limit on an aggregate while it grows. The compiler
//! builds each such inner collection as
//! `CASE WHEN odata_alive() THEN odata_counted(<array>) ELSE <empty> END`: once the
//! time is up or the inner arrays built so far pass the size limit, the rest are
//! skipped, the statement runs out quickly, and the read is refused instead of answered
//! with what was cut short.

use diesel::sql_types::{Binary, Nullable};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long such a statement may run.
pub const LIMIT: Duration = Duration::from_secs(10);

/// How many bytes of inner collections such a statement may build.
pub const BYTES: usize = 64 << 20;

thread_local! {
    /// When the statement running on this thread must stop, and whether it was stopped.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static EXPIRED: Cell<bool> = const { Cell::new(false) };
    /// Bytes of inner collections built by the statement so far.
    static BUILT: Cell<usize> = const { Cell::new(0) };
}

diesel::define_sql_function! {
    /// True while the statement on this thread is within its limits.
    fn odata_alive() -> Bool;
}

diesel::define_sql_function! {
    /// Its argument, counted against the statement's size limit.
    fn odata_counted(array: Nullable<Binary>) -> Nullable<Binary>;
}

/// Registers `odata_alive` on `conn` (not deterministic: SQLite must ask every time).
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    odata_alive_utils::register_nondeterministic_impl(conn, || {
        let alive = DEADLINE.with(|d| d.get().is_none_or(|t| Instant::now() < t))
            && BUILT.with(Cell::get) <= BYTES;
        if !alive {
            EXPIRED.with(|e| e.set(true));
        }
        alive
    })?;
    odata_counted_utils::register_nondeterministic_impl(conn, |array: Option<Vec<u8>>| {
        let n = array.as_ref().map_or(0, Vec::len);
        BUILT.with(|b| b.set(b.get().saturating_add(n)));
        array
    })
}

/// The time limit for statements run on this thread while the guard lives.
pub struct Guard(());

pub fn start(limit: Duration) -> Guard {
    DEADLINE.with(|d| d.set(Some(Instant::now() + limit)));
    EXPIRED.with(|e| e.set(false));
    BUILT.with(|b| b.set(0));
    Guard(())
}

impl Guard {
    /// Whether a statement was stopped by a limit (its rows are incomplete).
    pub fn expired(&self) -> bool {
        EXPIRED.with(Cell::get)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
        BUILT.with(|b| b.set(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::BigInt;
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[test]
    fn a_statement_past_its_time_runs_out_and_says_so() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = SqliteConnection::establish(":memory:")?;
        register(&mut conn)?;
        // A billion rows, each asking whether time is left: done within the limit only
        // because the answer turns to no.
        let endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r \
                       WHERE i < 1000000000 AND odata_alive()) SELECT count(*) AS n FROM r";
        let guard = start(Duration::from_millis(50));
        let began = Instant::now();
        let counted = diesel::sql_query(endless).get_result::<Count>(&mut conn)?;
        assert!(guard.expired());
        assert!(counted.n < 1_000_000_000);
        assert!(began.elapsed() < Duration::from_secs(5));
        drop(guard);
        // Without a limit the function is always true.
        let short = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r \
                     WHERE i < 1000 AND odata_alive()) SELECT count(*) AS n FROM r";
        assert_eq!(
            diesel::sql_query(short).get_result::<Count>(&mut conn)?.n,
            1000
        );
        let guard = start(LIMIT);
        assert_eq!(
            diesel::sql_query(short).get_result::<Count>(&mut conn)?.n,
            1000
        );
        assert!(!guard.expired());
        drop(guard);
        // Inner arrays past the size limit: the rest are skipped, and that is known.
        let guard = start(LIMIT);
        let big = format!(
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100) \
             SELECT count(*) AS n FROM r WHERE CASE WHEN odata_alive() \
             THEN length(odata_counted(zeroblob({}))) > 0 ELSE 0 END",
            BYTES / 10
        );
        let counted = diesel::sql_query(big).get_result::<Count>(&mut conn)?;
        assert!(guard.expired());
        assert!((10..=12).contains(&counted.n), "{}", counted.n);
        Ok(())
    }
}
