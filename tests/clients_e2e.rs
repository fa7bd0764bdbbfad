//! Real OData client libraries against the running service: python-odata (PyPI) and
//! @odata/client (npm), installed by .ci/run. Each script asserts on real data and exits
//! non-zero on a mismatch. Without the library a local run prints a note; in CI it fails.

mod common;

use common::{backends, spawn_with, TestApp, TestDb};
use std::path::PathBuf;
use std::process::Command;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether to skip because the client is not installed; in CI that is a failure.
fn missing(what: &str, available: bool) -> bool {
    if available {
        return false;
    }
    if std::env::var("CI").is_ok() {
        panic!("{what} is not installed but CI is set: .ci/run must install it");
    }
    eprintln!("note: {what} is not installed; skipping (.ci/run installs it)");
    true
}

async fn seeded_app(b: common::Backend) -> (TestApp, String) {
    let db = TestDb::new(b);
    db.seed("alpha", 130, 11);
    db.seed("beta", 20, 12);
    let app = spawn_with(db, |c| c.max_page_size = 50).await;
    let token = app.db.token("alpha");
    (app, token)
}

/// Runs the script off the runtime thread (the server shares it) and asserts success.
async fn run(app: &TestApp, token: &str, program: &str, script: &str) {
    let mut cmd = Command::new(program);
    cmd.arg(clients_dir().join(script))
        .current_dir(clients_dir())
        .env("CRM_ODATA_URL", format!("{}/", app.base))
        .env("CRM_ODATA_TOKEN", token);
    let out = actix_web::rt::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} on {:?} failed ({}):\n{stdout}\n{stderr}",
        app.backend,
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{script}: {stdout}");
}

#[actix_web::test]
async fn python_odata_client() {
    let available = Command::new("python3")
        .args(["-c", "import odata, requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if missing("python-odata (pip install python-odata)", available) {
        return;
    }
    for b in backends() {
        let (app, token) = seeded_app(b).await;
        run(&app, &token, "python3", "python_odata.py").await;
    }
}

#[actix_web::test]
async fn node_odata_client() {
    let available = clients_dir()
        .join("node_modules/@odata/client/package.json")
        .exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if missing("@odata/client (npm ci in tests/clients)", available) {
        return;
    }
    for b in backends() {
        let (app, token) = seeded_app(b).await;
        run(&app, &token, "node", "odata_client.mjs").await;
    }
}
