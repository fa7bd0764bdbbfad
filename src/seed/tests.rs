//! Seeds real databases: SQLite always, PostgreSQL when `CRM_TEST_POSTGRES_URL` is set.

use super::tables::ALL_TABLES;
use super::*;
use crate::auth::{ensure_workspace, AuthError};
use crate::db::{establish, run_migrations, DatabaseUrl};
use diesel::sql_types::{BigInt, Text};

fn sqlite(dir: &tempfile::TempDir) -> DbConnection {
    let url = DatabaseUrl {
        dialect: Dialect::Sqlite,
        target: dir.path().join("seed.db").to_string_lossy().into_owned(),
    };
    let mut conn = establish(&url).expect("open sqlite");
    run_migrations(&mut conn).expect("migrate sqlite");
    conn
}

/// `SELECT COUNT(*) FROM table WHERE workspace_id = ws [AND cond]`.
fn count(conn: &mut DbConnection, table: &'static str, ws: i32, cond: &str) -> i64 {
    let mut q = Sql::<BigInt>::new();
    q.sql("SELECT COUNT(*) FROM ")
        .ident(table)
        .sql(" WHERE workspace_id = ")
        .bind_int(i64::from(ws));
    if !cond.is_empty() {
        q.sql(" AND ").sql(cond);
    }
    q.load::<i64>(conn).expect("count")[0]
}

/// Every generated column of every table, as text rows in key order: equal workspaces
/// give equal dumps.
fn dump(conn: &mut DbConnection, ws: i32) -> Vec<Vec<String>> {
    ALL_TABLES
        .iter()
        .map(|t| {
            let mut q = Sql::<Text>::new();
            q.sql("SELECT ");
            for (i, c) in t.columns.iter().enumerate() {
                if i > 0 {
                    q.sql(" || '|' || ");
                }
                q.sql("COALESCE(CAST(").ident(c).sql(" AS TEXT), '~')");
            }
            q.sql(" FROM ")
                .ident(t.name)
                .sql(" WHERE workspace_id = ")
                .bind_int(i64::from(ws))
                .sql(" ORDER BY ");
            for (i, k) in t.key.iter().enumerate() {
                if i > 0 {
                    q.sql(", ");
                }
                q.ident(k);
            }
            q.load::<String>(conn).expect("dump")
        })
        .collect()
}

fn check_seeded(conn: &mut DbConnection, dialect: Dialect) {
    let n = 2_000;
    let a = seed(conn, dialect, "alpha", n, 42, false).expect("seed alpha");
    assert_eq!(a.contacts, n);
    assert_eq!(a.leads, 2 * n);
    assert_eq!(a.companies, 80);
    assert_eq!(a.divisions, 200);
    assert_eq!(a.addresses, 200);
    assert_eq!(a.users, 10);
    assert_eq!(a.lead_statuses, 8);
    assert!(a.lead_sizes >= 3 && a.lead_sources >= 3 && a.lead_types >= 3);
    assert!(a.lead_pipelines >= 3);
    let ws = a.workspace_id;
    assert_eq!(ensure_workspace(conn, "alpha").unwrap(), ws);
    for (table, rows) in a.tables() {
        assert_eq!(count(conn, table, ws, "") as usize, rows, "{table}");
    }

    // Realistic values.
    assert!(count(conn, "contacts", ws, "surname LIKE 'Sm%'") >= 20);
    assert!(count(conn, "companies", ws, "name LIKE '% Ltd'") > 0);
    assert!(count(conn, "divisions", ws, "name LIKE '% - %'") > 0);
    let emails = count(conn, "contacts", ws, "email IS NOT NULL");
    let no_email = n as i64 - emails;
    assert!(
        (40..=180).contains(&no_email),
        "{no_email} contacts without email"
    );
    let ps = count(conn, "contacts", ws, "email LIKE '%@prospectsoft.com'");
    let pct = ps as f64 * 100.0 / emails as f64;
    assert!((1.0..=3.5).contains(&pct), "{pct}% prospectsoft emails");
    assert_eq!(
        count(
            conn,
            "contacts",
            ws,
            "email IS NOT NULL AND email <> LOWER(email)"
        ),
        0
    );
    for table in ["companies", "divisions", "contacts", "leads"] {
        let deleted = count(conn, table, ws, "status_flag = 'D'");
        assert!(deleted > 0, "no soft-deleted {table}");
        assert!(
            deleted * 10 < count(conn, table, ws, ""),
            "too many deleted {table}"
        );
    }
    let orphans = count(conn, "leads", ws, "contact_id IS NULL");
    assert!(
        (200..=600).contains(&orphans),
        "{orphans} leads without a contact"
    );
    assert_eq!(
        count(conn, "lead_statuses", ws, "code = 'WON' AND outcome = 1"),
        1
    );
    assert_eq!(count(conn, "lead_statuses", ws, "dead_flag = 1"), 2);
    assert_eq!(count(conn, "crm_users", ws, "role = 'admin'"), 1);
    assert!(count(conn, "leads", ws, "status_id = 'WON'") > 0);
    assert_eq!(count(conn, "leads", ws, "last_updated < created"), 0);
    assert_eq!(count(conn, "contacts", ws, "last_updated < created"), 0);
    assert_eq!(
        count(
            conn,
            "leads",
            ws,
            "value < 500 OR value > 250000 OR guttometer < 0 OR guttometer > 100"
        ),
        0
    );
    assert_eq!(
        count(
            conn,
            "leads",
            ws,
            "status_id IN ('WON','LOST','DEAD') AND close_date IS NULL"
        ),
        0
    );
    // A lead's division is its contact's; every reference resolves.
    assert_eq!(
        count(
            conn,
            "leads",
            ws,
            "contact_id IS NOT NULL AND division_id <> (SELECT c.division_id FROM contacts c \
             WHERE c.workspace_id = leads.workspace_id AND c.contact_id = leads.contact_id)"
        ),
        0
    );
    assert_eq!(
        count(
            conn,
            "contacts",
            ws,
            "NOT EXISTS (SELECT 1 FROM divisions d WHERE d.workspace_id = contacts.workspace_id \
             AND d.division_id = contacts.division_id)"
        ),
        0
    );
    assert_eq!(
        count(
            conn,
            "leads",
            ws,
            "NOT EXISTS (SELECT 1 FROM lead_statuses s WHERE s.workspace_id = leads.workspace_id \
             AND s.code = leads.status_id)"
        ),
        0
    );
    assert_eq!(
        count(
            conn,
            "divisions",
            ws,
            "NOT EXISTS (SELECT 1 FROM addresses a WHERE a.workspace_id = divisions.workspace_id \
             AND a.address_id = divisions.address_id)"
        ),
        0
    );
    assert_eq!(
        count(
            conn,
            "leads",
            ws,
            "NOT EXISTS (SELECT 1 FROM crm_users u WHERE u.workspace_id = leads.workspace_id \
             AND u.user_code = leads.sales_person_id)"
        ),
        0
    );

    // Deterministic: same arguments → same rows; another seed → other rows.
    let b = seed(conn, dialect, "beta", n, 42, false).expect("seed beta");
    let c = seed(conn, dialect, "gamma", n, 43, false).expect("seed gamma");
    assert_ne!(b.workspace_id, ws);
    let (da, db, dc) = (
        dump(conn, ws),
        dump(conn, b.workspace_id),
        dump(conn, c.workspace_id),
    );
    assert!(da == db, "same seed gave different rows");
    for (i, t) in ALL_TABLES.iter().enumerate() {
        if ["companies", "addresses", "divisions", "contacts", "leads"].contains(&t.name) {
            assert_ne!(da[i], dc[i], "{} same for different seeds", t.name);
        }
    }

    // Seeding again continues the ids and keeps the users and lookups.
    let again = seed(conn, dialect, "alpha", 100, 42, false).expect("seed alpha again");
    assert_eq!(again.workspace_id, ws);
    assert_eq!(
        (again.users, again.lead_statuses, again.lead_sizes),
        (0, 0, 0)
    );
    assert_eq!((again.contacts, again.leads), (100, 200));
    assert_eq!(count(conn, "contacts", ws, "") as usize, n + 100);
    assert_eq!(count(conn, "contacts", ws, "contact_id > 2000"), 100);
    assert_eq!(count(conn, "leads", ws, "lead_id > 4000"), 200);
    assert_eq!(count(conn, "companies", ws, "") as usize, 80 + 4);
    assert_eq!(dump(conn, b.workspace_id), db, "another workspace changed");

    let empty = seed(conn, dialect, "empty", 0, 1, false).expect("seed empty");
    assert_eq!((empty.contacts, empty.companies, empty.users), (0, 0, 10));
}

#[test]
fn seeds_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = sqlite(&dir);
    check_seeded(&mut conn, Dialect::Sqlite);
    // Timestamps are stored as `YYYY-MM-DDTHH:MM:SSZ` text.
    let mut q = Sql::<Text>::new();
    q.sql("SELECT MIN(created) FROM contacts");
    let first = q.load::<String>(&mut conn).unwrap().remove(0);
    assert!(first.len() == 20 && first.ends_with('Z') && first.as_str() >= "2021-01-01");
}

#[test]
fn rejects_bad_workspace_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = sqlite(&dir);
    assert!(matches!(
        ensure_workspace(&mut conn, " "),
        Err(AuthError::InvalidWorkspace(_))
    ));
    assert!(matches!(
        seed(&mut conn, Dialect::Sqlite, " ", 10, 1, false),
        Err(SeedError::Invalid(_))
    ));
    let a = ensure_workspace(&mut conn, "one").unwrap();
    let b = ensure_workspace(&mut conn, "two").unwrap();
    assert_ne!(a, b);
    assert_eq!(ensure_workspace(&mut conn, "one").unwrap(), a);
}

/// Drops the scratch PostgreSQL database even when a check fails.
struct PgScratch {
    admin_url: String,
    name: String,
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        let url = DatabaseUrl::parse(&self.admin_url);
        if let Ok(mut admin) = establish(&url) {
            let mut q = Sql::<Text>::new();
            q.sql("DROP DATABASE IF EXISTS ")
                .sql(&self.name)
                .sql(" WITH (FORCE)");
            let _ = q.execute(&mut admin);
        }
    }
}

/// A fresh, migrated database on the server at `CRM_TEST_POSTGRES_URL` (None when unset),
/// dropped with the returned guard.
fn pg_scratch() -> Option<(PgScratch, DbConnection)> {
    let Ok(admin_url) = std::env::var("CRM_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL seed test: set CRM_TEST_POSTGRES_URL"
        );
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("crm_seed_test_{}_{nanos}", std::process::id());
    let mut admin = establish(&DatabaseUrl::parse(&admin_url)).expect("connect to postgres");
    let mut q = Sql::<Text>::new();
    q.sql("CREATE DATABASE ").sql(&name);
    q.execute(&mut admin).expect("create database");
    drop(admin);
    let guard = PgScratch {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let host = match base.rsplit_once('/') {
        Some((h, _)) if h.contains("://") && !h.ends_with('/') => h,
        _ => base.trim_end_matches('/'),
    };
    let url = DatabaseUrl::parse(&format!("{host}/{name}{query}"));
    let mut conn = establish(&url).expect("connect to scratch database");
    run_migrations(&mut conn).expect("migrate postgres");
    Some((guard, conn))
}

#[test]
fn seeds_postgres_when_configured() {
    let Some((_guard, mut conn)) = pg_scratch() else {
        eprintln!("CRM_TEST_POSTGRES_URL not set; skipping the PostgreSQL seed test");
        return;
    };
    check_seeded(&mut conn, Dialect::Postgres);
}
