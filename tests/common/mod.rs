//! Black-box test harness: the real app on port 0 with a fresh database, on SQLite and
//! (when `CRM_TEST_POSTGRES_URL` is set) on PostgreSQL.
#![allow(dead_code)]

pub mod raw;

use crm_odata::auth::{self, Role};
use crm_odata::config::Config;
use crm_odata::db::{establish, run_migrations, DatabaseUrl, DbConnection, Dialect};
use crm_odata::http::Application;
use diesel::connection::SimpleConnection;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection to the server at `CRM_TEST_POSTGRES_URL`, opened the way the service opens
/// its own (`db::establish`, which also starts libpq's TLS library without an exit handler
/// that would race with the test threads still exiting).
pub fn postgres_admin() -> DbConnection {
    let url = std::env::var("CRM_TEST_POSTGRES_URL").expect("CRM_TEST_POSTGRES_URL");
    establish(&DatabaseUrl::parse(&url)).expect("connect to CRM_TEST_POSTGRES_URL")
}

/// SQLite always; PostgreSQL when configured. In CI a missing PostgreSQL fails the run.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match std::env::var("CRM_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => v.push(Backend::Postgres),
        _ if std::env::var("CI").is_ok() => panic!(
            "CI is set but CRM_TEST_POSTGRES_URL is not: the PostgreSQL suite must run in CI"
        ),
        _ => {}
    }
    v
}

/// A fresh, migrated database; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub struct TestDb {
    pub url: String,
    pub dialect: Dialect,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let db = Self {
                    url,
                    dialect: Dialect::Sqlite,
                    _dir: Some(dir),
                    pg: None,
                };
                db.migrate();
                db
            }
            Backend::Postgres => {
                let admin = std::env::var("CRM_TEST_POSTGRES_URL").expect("CRM_TEST_POSTGRES_URL");
                let name = format!("crm_test_{}", rand_suffix());
                postgres_admin()
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                // Same server and parameters, the new database's name as the path.
                let (path, params) = admin.split_once('?').unwrap_or((&admin, ""));
                let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
                let url = format!("{base}/{name}?{params}");
                let db = Self {
                    url,
                    dialect: Dialect::Postgres,
                    _dir: None,
                    pg: Some((admin, name)),
                };
                db.migrate();
                db
            }
        }
    }

    pub fn conn(&self) -> DbConnection {
        establish(&DatabaseUrl::parse(&self.url)).expect("connect")
    }

    fn migrate(&self) {
        run_migrations(&mut self.conn()).expect("migrate");
    }

    pub fn seed(&self, workspace: &str, contacts: usize, seed: u64) {
        crm_odata::seed::seed(
            &mut self.conn(),
            self.dialect,
            workspace,
            contacts,
            seed,
            false,
        )
        .expect("seed");
    }

    pub fn token(&self, workspace: &str) -> String {
        auth::create_token(
            &mut self.conn(),
            self.dialect,
            workspace,
            None,
            Some(Role::Read),
            Some("test"),
        )
        .expect("token")
        .1
    }

    /// Runs a scalar count query, e.g. to compare with the API's answer.
    pub fn count(&self, sql_where: &str, table: &str, workspace: &str) -> i64 {
        self.count_rows(table, workspace, |q| {
            q.sql(sql_where);
        })
    }

    /// Like `count`, with `value` bound between two pieces of the condition.
    pub fn count_with_text(
        &self,
        before: &str,
        value: &str,
        after: &str,
        table: &str,
        workspace: &str,
    ) -> i64 {
        self.count_rows(table, workspace, |q| {
            q.sql(before).bind_text(value).sql(after);
        })
    }

    fn count_rows(
        &self,
        table: &str,
        workspace: &str,
        condition: impl FnOnce(&mut crm_odata::sql::Sql<diesel::sql_types::BigInt>),
    ) -> i64 {
        use diesel::RunQueryDsl;
        let ws = auth::find_workspace(&mut self.conn(), workspace)
            .expect("ws")
            .expect("ws exists");
        let mut q = crm_odata::sql::Sql::new();
        q.sql(&format!(
            "SELECT count(*) FROM {table} WHERE workspace_id = "
        ))
        .bind_int(ws.into());
        condition(&mut q);
        q.get_result::<i64>(&mut self.conn()).expect("count")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut c) = establish(&DatabaseUrl::parse(admin)) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Unique per process and call: tests of one process run at once, and two of them
/// once read the same clock value and created the same database name.
fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}_{}_{call}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub client: reqwest::Client,
    pub backend: Backend,
}

/// Two seeded workspaces, `alpha` (200 contacts) and `beta` (60), on a running app.
pub async fn spawn_seeded(backend: Backend) -> TestApp {
    let db = TestDb::new(backend);
    db.seed("alpha", 200, 1);
    db.seed("beta", 60, 2);
    spawn_with(db, |_| {}).await
}

pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_database(db.url.clone());
    tweak(&mut config);
    let app = Application::build(&config, "127.0.0.1:0")
        .await
        .expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let backend = if db.dialect == Dialect::Postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    TestApp {
        base,
        db,
        client: reqwest::Client::new(),
        backend,
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// Status, headers and body of a response.
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Reply {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `value` array of a collection response.
    pub fn values(&self) -> Vec<Value> {
        self.json()["value"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no value array: {}", self.text))
    }
}

impl TestApp {
    /// GET `path` (relative to the service root; spaces are encoded) with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.get_with(path, token, &[]).await
    }

    /// GET `path` and assert it is refused with `status` and an error naming `says`.
    pub async fn refuses(&self, path: &str, token: &str, status: u16, says: &str) -> Reply {
        let r = self.get(path, token).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert!(r.text.contains(says), "{path}: wants {says:?}: {}", r.text);
        r
    }

    /// Each `(path, status, says)` is refused so, with an OData error that names its
    /// code and target.
    pub async fn refuses_each(&self, cases: &[(&str, u16, &str)], token: &str) {
        for (path, status, says) in cases {
            let r = self.refuses(path, token, *status, says).await;
            let e = &r.json()["error"];
            assert!(
                e["code"].is_string() && e["target"].is_string(),
                "{path}: {}",
                r.text
            );
        }
    }

    pub async fn get_with(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        };
        let mut req = self.client.get(url.replace(' ', "%20"));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Reply::read(req.send().await.expect("request")).await
    }
}

/// Every row of the collection at `url`, following nextLinks; each page must be 200.
pub async fn rows(app: &TestApp, url: &str, token: &str) -> Vec<Value> {
    rows_with(app, url, token, &[]).await
}

/// [`rows`] with request headers on every page.
pub async fn rows_with(
    app: &TestApp,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url.to_owned());
    while let Some(u) = next {
        let r = app.get_with(&u, token, headers).await;
        assert_eq!(r.status, 200, "{u}: {}", r.text);
        let doc = r.json();
        out.extend(doc["value"].as_array().cloned().unwrap_or_default());
        next = doc["@odata.nextLink"].as_str().map(str::to_owned);
    }
    out
}

/// A JSON number (or IEEE754Compatible string) as an exact decimal; `None` for null.
pub fn dec(v: &Value) -> Option<rust_decimal::Decimal> {
    use rust_decimal::Decimal;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.parse().unwrap_or_else(|_| panic!("a number: {v}"))),
        other => Some(
            Decimal::from_scientific(&other.to_string())
                .or_else(|_| other.to_string().parse())
                .unwrap_or_else(|_| panic!("a number: {v}")),
        ),
    }
}
