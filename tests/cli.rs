//! The command-line contract: subcommands, help, tokens, serve's migration guard, explain.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crm-odata"));
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "BIND",
        "RATE_LIMIT",
        "MAX_PAGE_SIZE",
    ] {
        c.env_remove(var);
    }
    c
}

fn run(args: &[&str], db: &str) -> (bool, String, String) {
    let out = bin()
        .args(args)
        .arg("--database-url")
        .arg(db)
        .output()
        .expect("run binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        vec![],
        vec!["demo"],
        vec!["serve"],
        vec!["migrate"],
        vec!["seed"],
        vec!["token"],
        vec!["token", "create"],
        vec!["token", "list"],
        vec!["token", "revoke"],
        vec!["explain"],
    ] {
        let out = bin().args(&sub).arg("--help").output().unwrap();
        assert!(out.status.success(), "{sub:?} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{sub:?}"
        );
    }
}

#[test]
fn serve_refuses_an_unmigrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("empty.db").display());
    let (ok, _, err) = run(&["serve", "--bind", "127.0.0.1:0"], &db);
    assert!(!ok);
    assert!(err.contains("crm-odata migrate"), "{err}");
}

#[test]
fn tokens_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let (ok, out, err) = run(
        &[
            "token",
            "create",
            "--workspace",
            "acme",
            "--user",
            "ann@acme.test",
            "--role",
            "write",
            "--name",
            "excel",
        ],
        &db,
    );
    assert!(ok, "{err}");
    let token = out.lines().last().unwrap().trim().to_owned();
    assert!(token.starts_with("crm_") && token.len() >= 40, "{token}");
    // 32 random bytes: two tokens never repeat.
    let (_, out2, _) = run(&["token", "create", "--workspace", "acme"], &db);
    assert_ne!(out2.lines().last().unwrap(), token);
    let (ok, list, _) = run(&["token", "list", "--workspace", "acme"], &db);
    assert!(ok);
    assert!(list.contains("excel") && list.contains("ANN"), "{list}");
    assert!(!list.contains(&token), "tokens are never shown again");
    let id = list
        .lines()
        .find(|l| l.contains("excel"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (ok, out, _) = run(&["token", "revoke", &id], &db);
    assert!(ok && out.contains("revoked"));
    let (_, list, _) = run(&["token", "list", "--workspace", "acme"], &db);
    let line = list.lines().find(|l| l.contains("excel")).unwrap();
    assert!(
        !line.trim_end().ends_with('-'),
        "revoked time shown: {line}"
    );
    let (ok, _, err) = run(&["token", "revoke", "9999"], &db);
    assert!(!ok && err.contains("9999"));
    let (ok, _, err) = run(&["token", "list", "--workspace", "nope"], &db);
    assert!(!ok && err.contains("nope"));
}

#[test]
fn explain_prints_the_tree_and_bound_sql() {
    let out = bin()
        .args([
            "explain",
            "Contacts?$filter=startswith(Surname,'Sm')&$select=Surname&$top=5",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("StartsWith"), "{text}");
    assert!(
        text.contains("t0.\"surname\" >= ? AND t0.\"surname\" < ?"),
        "{text}"
    );
    assert!(text.contains("\"workspace_id\" = ?"), "{text}");
    assert!(
        text.contains("Text(\"Sm\"), Text(\"Sn\")")
            && !text.split("SQL (").nth(1).unwrap_or("").contains("'Sm'"),
        "values are bound, never inlined: {text}"
    );
    let pg = |url: &str| {
        let out = bin()
            .args(["explain", "--dialect", "postgres", url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // What the server runs: the values as text where it can, JSON objects otherwise.
    let values = pg("Leads?$expand=Status");
    assert!(
        values.contains("]::text[]") && !values.contains("json_build_object("),
        "{values}"
    );
    let refs = pg("Leads?$expand=Status/$ref");
    assert!(refs.contains("json_build_object('@odata.id'"), "{refs}");
    let bad = bin()
        .args(["explain", "Contacts?$filter=Surname eq"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("position"));
}

#[test]
fn seed_is_deterministic_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let a = format!("sqlite://{}", dir.path().join("a.db").display());
    let b = format!("sqlite://{}", dir.path().join("b.db").display());
    for db in [&a, &b] {
        let (ok, _, err) = run(
            &[
                "seed",
                "--workspace",
                "w",
                "--contacts",
                "100",
                "--seed",
                "5",
            ],
            db,
        );
        assert!(ok, "{err}");
    }
    let dump = |db: &str| -> Vec<String> {
        use diesel::RunQueryDsl;
        let mut conn = crm_odata::db::establish(&crm_odata::db::DatabaseUrl::parse(db)).unwrap();
        let mut q = crm_odata::sql::Sql::<diesel::sql_types::Text>::new();
        q.sql("SELECT surname || '|' || coalesce(email, '') FROM contacts ORDER BY contact_id");
        q.load::<String>(&mut conn).unwrap()
    };
    assert_eq!(dump(&a).len(), 100);
    assert_eq!(dump(&a), dump(&b));
}

#[test]
fn explain_plan_asks_the_database_how_it_runs_the_statements() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let (ok, _, err) = run(
        &[
            "seed",
            "--workspace",
            "w",
            "--contacts",
            "50",
            "--seed",
            "1",
        ],
        &db,
    );
    assert!(ok, "{err}");
    // The surname prefix is served by the surname index, and $count gets its own plan.
    let (ok, out, err) = run(
        &[
            "explain",
            "--plan",
            "w",
            "http://localhost/Contacts?$filter=startswith(Surname,'Sm')&$count=true",
        ],
        &db,
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("select:\n"), "{out}");
    assert!(out.contains("\ncount:\n"), "{out}");
    assert!(
        out.contains("contacts_surname_idx (workspace_id=? AND surname>? AND surname<?)"),
        "{out}"
    );
    // A required contains() on Email is served by its trigram index.
    let (ok, out, err) = run(
        &[
            "explain",
            "--plan",
            "w",
            "Contacts?$filter=contains(Email,'@example') and StatusFlag eq 'A'",
        ],
        &db,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("contacts_email_trigram VIRTUAL TABLE"),
        "{out}"
    );
    let (ok, _, err) = run(&["explain", "--plan", "nobody", "Contacts"], &db);
    assert!(!ok);
    assert!(err.contains("no workspace named \"nobody\""), "{err}");
}

/// SIGTERM stops the server at once even while a client holds a connection idle between
/// requests (clients keep them for a minute or more); such a connection must not keep
/// its worker alive until the 30 s shutdown timeout.
#[test]
fn serve_stops_promptly_on_sigterm_with_an_idle_connection_open() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("stop.db").display());
    assert!(run(&["migrate"], &db).0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = bin()
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &db,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let started = Instant::now();
    let mut conn = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("server did not start: {e}"),
        }
    };
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut head = [0; 15];
    conn.read_exact(&mut head).expect("an answer");
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if stopping.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still running 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The idle connection was closed by the server, not left hanging.
    let mut rest = Vec::new();
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    conn.read_to_end(&mut rest)
        .expect("the rest of the answer, then the end of the connection");
    assert!(
        !rest.windows(8).any(|w| w == b"HTTP/1.1"),
        "one answer only"
    );
}
