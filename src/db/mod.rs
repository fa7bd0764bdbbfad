//! Connections, pools and migrations for both backends behind one `DbConnection`.

mod checked;
pub use checked::DIVISION_BY_ZERO;
pub mod deadline;
pub mod decimal;
pub mod double;
mod exact_text;
pub mod inline;
pub mod integer;
mod letter_case;
mod regexp;
pub mod tls;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

use crate::throttle::{now_ms, Throttle};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which SQL dialect the SQL stage must write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("the database has {0} pending migration(s); run `crm-odata migrate` first")]
    NotMigrated(usize),
    /// Stopped by `deadline`'s limits on collections expanded inside collections.
    #[error("the query's nested expands passed their time or size limit")]
    TooExpensive,
    /// Stopped by `deadline`'s time limit on a `$crossjoin`.
    #[error("the cross join passed its time limit")]
    CrossJoinTooLarge,
}

impl DbError {
    /// Whether the connection the error came from is gone: diesel reports a connection
    /// libpq found closed (a terminated backend, a restarted server) or could not send
    /// on as these kinds. Such a connection fails every later statement too.
    pub fn lost_connection(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            DbError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _
            ))
        )
    }

    /// The database's own message, for an error the database reported.
    pub fn database_message(&self) -> Option<&str> {
        match self {
            DbError::Query(diesel::result::Error::DatabaseError(_, info)) => Some(info.message()),
            _ => None,
        }
    }
}

/// Where the data lives, parsed from `--database-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub dialect: Dialect,
    /// File path for SQLite, the full URL for PostgreSQL.
    pub target: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self {
                dialect: Dialect::Postgres,
                target: url.to_owned(),
            }
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Self {
                dialect: Dialect::Sqlite,
                target: path.to_owned(),
            }
        }
    }

    /// Whether the database runs on this host: SQLite, or PostgreSQL over loopback or a
    /// Unix socket (no host, or a host that is a directory).
    pub fn is_local(&self) -> bool {
        if self.dialect == Dialect::Sqlite {
            return true;
        }
        let Some(url) = url::Url::parse(&self.target)
            .ok()
            .or_else(|| without_user(&self.target))
        else {
            return false;
        };
        if let Some((_, host)) = url.query_pairs().find(|(k, _)| k == "host") {
            return host.starts_with('/');
        }
        match url.host() {
            None => true,
            Some(url::Host::Domain(d)) => {
                d.is_empty()
                    || d == "localhost"
                    || d.starts_with("%2F")
                    || d.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        }
    }
}

/// libpq's `postgres://user@/db?host=/socket/dir` without its user, which the url crate
/// refuses (a user without a host) and which has no bearing on where the database runs.
fn without_user(target: &str) -> Option<url::Url> {
    let (scheme, rest) = target.split_once("://")?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    if !authority.ends_with('@') {
        return None;
    }
    url::Url::parse(&format!("{scheme}://{tail}")).ok()
}

/// SQLite's memory allocator: mimalloc, as for the rest of the process. SQLite builds
/// each row's JSON in buffers it grows by `realloc`; the system allocator made that
/// about a tenth of an expanded page's time.
mod sqlite_alloc {
    use libmimalloc_sys as mi;
    use std::os::raw::{c_int, c_void};

    extern "C" fn malloc(n: c_int) -> *mut c_void {
        // SAFETY: mi_malloc accepts any size; SQLite never asks for a negative one.
        unsafe { mi::mi_malloc(usize::try_from(n).unwrap_or(0)) }
    }
    extern "C" fn free(p: *mut c_void) {
        // SAFETY: SQLite frees only what these functions allocated (or null).
        unsafe { mi::mi_free(p) }
    }
    extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
        // SAFETY: `p` came from these functions; mi_realloc keeps the contents.
        unsafe { mi::mi_realloc(p, usize::try_from(n).unwrap_or(0)) }
    }
    extern "C" fn size(p: *mut c_void) -> c_int {
        // SAFETY: `p` came from these functions.
        c_int::try_from(unsafe { mi::mi_usable_size(p) }).unwrap_or(c_int::MAX)
    }
    extern "C" fn roundup(n: c_int) -> c_int {
        // SAFETY: a pure function of the size.
        let good = unsafe { mi::mi_good_size(usize::try_from(n).unwrap_or(0)) };
        c_int::try_from(good).unwrap_or(n)
    }
    extern "C" fn init(_: *mut c_void) -> c_int {
        libsqlite3_sys::SQLITE_OK
    }
    extern "C" fn shutdown(_: *mut c_void) {}

    /// The methods to hand to `SQLITE_CONFIG_MALLOC` (which copies them).
    pub fn methods() -> libsqlite3_sys::sqlite3_mem_methods {
        libsqlite3_sys::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        }
    }
}

/// Process-wide SQLite settings, applied before the first connection initialises the
/// library. Each pooled connection is used by one thread at a time, so SQLite's own
/// per-connection mutexes are redundant; and its allocation statistics take a global
/// mutex on every malloc, which serialises all request threads.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let alloc = sqlite_alloc::methods();
        // SAFETY: sqlite3_config is only valid before sqlite3_initialize; Once runs this
        // before this process opens any SQLite connection. A failure (library already
        // initialised) leaves SQLite's safe defaults in place.
        let codes = unsafe {
            [
                libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD),
                libsqlite3_sys::sqlite3_config(
                    libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                    0 as std::os::raw::c_int,
                ),
                // SQLite copies the methods before returning.
                libsqlite3_sys::sqlite3_config(
                    libsqlite3_sys::SQLITE_CONFIG_MALLOC,
                    &alloc as *const libsqlite3_sys::sqlite3_mem_methods,
                ),
            ]
        };
        if codes.iter().any(|c| *c != libsqlite3_sys::SQLITE_OK) {
            tracing::warn!(
                ?codes,
                "SQLite was already initialised; keeping its default threading settings"
            );
        }
    });
}

pub fn establish(url: &DatabaseUrl) -> Result<DbConnection, DbError> {
    match url.dialect {
        Dialect::Postgres => {
            tls::init_without_exit_handler();
            let mut c = PgConnection::establish(&url.target)
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            // Timestamps render the same whatever the server's zone.
            c.batch_execute("SET TIME ZONE 'UTC'")?;
            Ok(DbConnection::Postgresql(c))
        }
        Dialect::Sqlite => {
            configure_sqlite();
            let mut c = SqliteConnection::establish(&url.target)
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            // OData string comparison is case-sensitive; LIKE must be too (and then it
            // can use the column indexes for startswith).
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -4000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
            )?;
            regexp::register(&mut c)?;
            decimal::register(&mut c)?;
            double::register(&mut c)?;
            integer::register(&mut c)?;
            letter_case::register(&mut c)?;
            exact_text::register(&mut c)?;
            deadline::register(&mut c)?;
            Ok(DbConnection::Sqlite(c))
        }
    }
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let applied = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

pub fn pending_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let pending = match conn {
        DbConnection::Postgresql(c) => c.pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    pending.map_err(|e| DbError::Migration(e.to_string()))
}

/// r2d2 manager that builds the right backend and applies per-connection settings.
#[derive(Debug, Clone)]
pub struct Manager(pub DatabaseUrl);

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    /// The server's connections wait at most [`LOCK_WAIT`] for a lock: a table another
    /// session has locked for longer (a migration rewriting it) makes a request a 503
    /// instead of holding a connection, and a worker thread, until the lock is released.
    /// `migrate` connects without this bound.
    /// Nor do they compile statements to machine code (JIT): PostgreSQL does so at every
    /// execution once a plan's estimated cost passes `jit_above_cost`, which an aggregate
    /// over a large workspace does; forced on the seeds' long expand it took 101 ms
    /// instead of 30. Nor do they cache a join's inner rows by key (Memoize): a page's
    /// `LIMIT` sits above its joins, so the planner expects the whole table's repeats of
    /// each key where a page of 100 has almost none, and pays a cache miss per row on top of
    /// the index lookup (PostgreSQL's time for a page of 100 contacts with their division
    /// and company: 0.73 ms with it, 0.58 without; 1,000 leads with status, contact and
    /// division 6.4 against 6.1 ms; no page measured was slower without it).
    fn connect(&self) -> Result<DbConnection, DbError> {
        let mut conn = establish(&self.0)?;
        if let DbConnection::Postgresql(c) = &mut conn {
            c.batch_execute(&format!(
                "SET lock_timeout = {}; SET jit = off; SET enable_memoize = off",
                LOCK_WAIT.as_millis()
            ))?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// A connection the server dropped is discarded on check-in, so the pool heals
    /// by itself once the database is back.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        match conn {
            DbConnection::Postgresql(c) => c.is_broken(),
            DbConnection::Sqlite(c) => c.is_broken(),
        }
    }
}

/// Marks `conn` broken, for [`Manager::has_broken`] to have the pool discard it on
/// check-in: diesel's check looks at the transaction state only, not at whether the
/// server is still there, so a connection whose backend was terminated went back to the
/// pool and failed the next request too.
pub fn mark_broken(conn: &mut DbConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Postgresql(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error()
        }
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error()
        }
    }
}

/// r2d2 logs each failed attempt to open a connection, which it retries several times a
/// second while the database is down: here they are logged once per [`Throttle::EVERY`].
#[derive(Debug)]
struct ConnectErrors;

impl r2d2::HandleError<DbError> for ConnectErrors {
    fn handle_error(&self, error: DbError) {
        static LOG: Throttle = Throttle::new();
        if let Some(suppressed) = LOG.due(now_ms()) {
            tracing::error!(%error, suppressed, "cannot open a database connection");
        }
    }
}

/// How many long reads may run at once ([`Db::long_reads`]); `None`: as many as connections.
fn long_read_turns(url: &DatabaseUrl) -> Option<usize> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (url.dialect == Dialect::Postgres && url.is_local()).then_some(cores + 1)
}

/// Longest a request waits for a database connection before it is answered 503.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(3);
/// Longest a PostgreSQL statement of the server waits for a lock before it is answered 503.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Db {
    pub pool: r2d2::Pool<Manager>,
    pub dialect: Dialect,
    /// One permit per pooled connection, handed out first come, first served. The pool's
    /// own wait lets a newly arriving caller take a returned connection ahead of one that
    /// has waited, which under sustained load leaves some requests waiting for hundreds of
    /// milliseconds; queueing here first keeps the wait fair.
    pub permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// Whether a short read may run on the calling worker thread.
    pub inline: std::sync::Arc<inline::Inline>,
    /// For a PostgreSQL server on this host: how many long reads (those not run inline)
    /// may run at once, one per core and one more. Its backends share the cores with this
    /// server, where more CPU-bound queries than cores only take turns: with five at once
    /// on two cores the slowest percent of pages of 100 took 3-5 times their median,
    /// with three 1.3-1.6 times, for 0-6% fewer pages per second.
    pub long_reads: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// The pool has no connection and could not open one within [`CONNECTION_WAIT`]:
    /// the database is down. Until a connection is back, [`Db::get`] does not wait.
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Db {
    pub fn connect(url: &DatabaseUrl, size: u32) -> Result<Self, DbError> {
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_WAIT)
            .test_on_check_out(false)
            .error_handler(Box::new(ConnectErrors))
            .build(Manager(url.clone()))
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        Ok(Self {
            pool,
            dialect: url.dialect,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size as usize)),
            inline: std::sync::Arc::new(inline::Inline::new(url.is_local())),
            long_reads: long_read_turns(url)
                .map(|n| std::sync::Arc::new(tokio::sync::Semaphore::new(n))),
            down: Default::default(),
        })
    }

    /// A pooled connection. While the database is down only an idle one, which the pool
    /// opens in the background once the database is back: every request of an outage
    /// would otherwise wait [`CONNECTION_WAIT`] for a connection that cannot be opened,
    /// holding its permit, and those queued behind it would wait as long for theirs.
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.down.load(Relaxed) {
            let conn = self
                .pool
                .try_get()
                .ok_or_else(|| DbError::Unavailable("the database is down; reconnecting".into()))?;
            self.down.store(false, Relaxed);
            return Ok(conn);
        }
        self.pool.get().map_err(|e| {
            // Timed out with no connection at all, rather than with all of them busy.
            if self.pool.state().connections == 0 {
                self.down.store(true, Relaxed);
            }
            DbError::Unavailable(e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    /// Only a PostgreSQL server on this host takes turns for long reads.
    #[test]
    fn long_reads_take_turns_only_on_a_postgresql_server_on_this_host() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        for (url, turns) in [
            ("postgres://postgres@127.0.0.1:1/x", Some(cores + 1)),
            (
                "postgres://postgres@/x?host=/var/run/postgresql",
                Some(cores + 1),
            ),
            ("postgres://postgres@db.example.invalid:5432/x", None),
            ("sqlite::memory:", None),
        ] {
            assert_eq!(
                super::long_read_turns(&DatabaseUrl::parse(url)),
                turns,
                "{url}"
            );
        }
    }

    /// The server's PostgreSQL connections bound lock waits, never compile to machine code
    /// and never memoize joins.
    #[test]
    fn server_connections_bound_lock_waits_and_skip_jit_and_memoize(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use diesel::sql_types::Text;
        use diesel::RunQueryDsl;
        use r2d2::ManageConnection;
        let Ok(url) = std::env::var("CRM_TEST_POSTGRES_URL") else {
            eprintln!("CRM_TEST_POSTGRES_URL is not set: PostgreSQL settings not checked");
            return Ok(());
        };
        let mut conn = super::Manager(DatabaseUrl::parse(&url)).connect()?;
        let setting = |conn: &mut super::DbConnection, name: &str| {
            diesel::select(diesel::dsl::sql::<Text>(&format!(
                "current_setting('{name}')"
            )))
            .get_result::<String>(conn)
        };
        assert_eq!(setting(&mut conn, "jit")?, "off");
        assert_eq!(setting(&mut conn, "enable_memoize")?, "off");
        assert_eq!(setting(&mut conn, "lock_timeout")?, "3s");
        assert_eq!(setting(&mut conn, "TimeZone")?, "UTC");
        Ok(())
    }

    #[test]
    fn a_database_on_this_host_is_local() {
        for (url, local) in [
            ("sqlite://crm.db", true),
            ("postgres://postgres@127.0.0.1:5432/crm", true),
            ("postgres://u:p@localhost/crm?sslmode=disable", true),
            ("postgresql://[::1]:5432/crm", true),
            ("postgresql:///crm", true),
            ("postgresql://%2Fvar%2Frun%2Fpostgresql/crm", true),
            ("postgresql:///crm?host=/var/run/postgresql", true),
            ("postgres://postgres@/crm?host=/var/run/postgresql", true),
            ("postgres://u:p@/crm", true),
            ("postgres://u@/crm?sslmode=disable&host=db.internal", false),
            ("postgres://u@db.internal:5432/crm", false),
            ("postgres://u@10.0.0.5/crm", false),
            ("postgresql://localhost/crm?host=db.internal", false),
        ] {
            assert_eq!(DatabaseUrl::parse(url).is_local(), local, "{url}");
        }
    }
}
