//! A database that goes away gives 503 with Retry-After; the service heals by itself.

mod common;

use common::{backends, spawn_with, Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use std::time::{Duration, Instant};

fn admin(sql: &str) {
    common::postgres_admin().batch_execute(sql).expect(sql);
}

/// The app on a fresh PostgreSQL database with 20 contacts in `alpha`, the database's
/// URL and alpha's token, once a read by key has succeeded; `None` without PostgreSQL.
async fn postgres_app(test: &str) -> Option<(common::TestApp, String, String)> {
    if !backends().contains(&Backend::Postgres) {
        eprintln!(
            "PostgreSQL not configured (CRM_TEST_POSTGRES_URL); {test} covers PostgreSQL only"
        );
        return None;
    }
    let db = TestDb::new(Backend::Postgres);
    db.seed("alpha", 20, 1);
    let url = db.url.clone();
    let app = spawn_with(db, |_| {}).await;
    let t = app.db.token("alpha");
    assert_eq!(app.get("Contacts(1)", &t).await.status, 200);
    Some((app, url, t))
}

/// What the service logs at WARN and above, process-wide (the app's workers log it).
static LOGGED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Logged;

impl std::io::Write for Logged {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGGED.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_warnings() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(|| Logged)
        .try_init();
}

/// Lines logged for failed requests and for failed attempts to connect.
fn unavailable_warnings() -> (usize, usize) {
    let logged = LOGGED.lock().unwrap();
    let text = String::from_utf8_lossy(&logged);
    (
        text.matches("WARN crm_odata::http::error: database unavailable")
            .count(),
        text.matches("database unavailable: connection to server")
            .count(),
    )
}

#[actix_web::test]
async fn postgres_outage_is_503_and_recovers() {
    let Some((app, url, t)) = postgres_app("the outage test").await else {
        return;
    };
    let name = url.rsplit('/').next().unwrap();
    let name = name.split('?').next().unwrap().to_owned();
    capture_warnings();

    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let down = app.get("Contacts(1)", &t).await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert!(down.header("retry-after").is_some());
    assert_eq!(down.json()["error"]["code"], "ServiceUnavailable");
    // Many requests at once during the outage: all answered 503 promptly (a request waits
    // at most one connection wait, 3 s, for its turn), none queued behind the others.
    let started = Instant::now();
    let warned = unavailable_warnings();
    let replies = futures_util::future::join_all((0..40).map(|_| app.get("Contacts(1)", &t))).await;
    assert!(
        replies.iter().all(|r| r.status == 503),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "40 requests took {:?}",
        started.elapsed()
    );
    // The outage is logged once per 5 s, not once per request: past that period, one
    // more 503 is logged if none was since these requests began.
    tokio::time::sleep(Duration::from_millis(5100)).await;
    assert_eq!(app.get("Contacts(1)", &t).await.status, 503);
    let (requests, connects) = unavailable_warnings();
    let logged = (requests - warned.0, connects - warned.1);
    assert!(
        (1..=3).contains(&logged.0) && logged.1 <= 3,
        "{logged:?} lines for 41 requests: {}",
        String::from_utf8_lossy(&LOGGED.lock().unwrap())
    );

    admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let start = Instant::now();
    loop {
        let r = app.get("Contacts(1)", &t).await;
        if r.status == 200 {
            break;
        }
        assert!(
            r.status == 503,
            "only 503 while recovering, got {} {}",
            r.status,
            r.text
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "service did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A table another session keeps locked (a migration rewriting it, say) makes reads of it
/// 503 with Retry-After after the lock wait, instead of holding connections and workers
/// until the lock is released; reads of other tables and, after the lock, of that one go on.
#[actix_web::test]
async fn a_table_locked_past_the_lock_wait_is_503_then_served() {
    let Some((app, url, t)) = postgres_app("the lock test").await else {
        return;
    };

    let mut locker = crm_odata::db::establish(&crm_odata::db::DatabaseUrl::parse(&url)).unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = Instant::now();
    let (by_key, page) =
        futures_util::future::join(app.get("Contacts(1)", &t), app.get("Contacts?$top=5", &t))
            .await;
    for r in [&by_key, &page] {
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(r.header("retry-after").is_some());
        assert_eq!(r.json()["error"]["code"], "ServiceUnavailable");
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered after {:?}",
        started.elapsed()
    );
    // Another table is not locked.
    assert_eq!(app.get("Leads(1)", &t).await.status, 200);

    locker.batch_execute("COMMIT").unwrap();
    let r = app.get("Contacts(1)", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["ContactId"], 1);
}

/// Backends terminated while their connections sit idle in the pool (a failover, an
/// administrator's `pg_terminate_backend`): each such connection fails at most the one
/// request that finds it closed, and is discarded, not handed to the next one.
#[actix_web::test]
async fn a_pooled_connection_whose_backend_was_terminated_fails_once() {
    let Some((app, _, t)) = postgres_app("the terminated-backend test").await else {
        return;
    };
    // Every pooled connection opened: pages of the collection at once, each a long read.
    let warm =
        futures_util::future::join_all((0..8).map(|_| app.get("Contacts?$top=20", &t))).await;
    assert!(warm.iter().all(|r| r.status == 200));
    let killed: Vec<bool> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load::<Killed>(&mut app.db.conn())
    .expect("terminate")
    .into_iter()
    .map(|k| k.killed)
    .collect();
    assert!(!killed.is_empty(), "no backend was terminated");
    // Each failure discards one connection: no more failures than the pool held.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(app.get("Contacts(1)", &t).await.status);
    }
    let failed = statuses.iter().filter(|&&s| s != 200).count();
    assert!(
        failed <= killed.len() && statuses.iter().all(|&s| s == 200 || s == 503),
        "{} connections terminated: {statuses:?}",
        killed.len()
    );
    assert!(
        statuses[killed.len()..].iter().all(|&s| s == 200),
        "{statuses:?}"
    );
}

#[derive(diesel::QueryableByName)]
struct Killed {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    killed: bool,
}
