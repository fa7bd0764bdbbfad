//! The workspace rate limit end to end, through HTTP.

mod common;
mod ratelimit_support;

use std::time::Duration;

use common::{spawn_with, Backend, Reply, TestDb};
use crm_odata::config::Config;
use ratelimit_support::{inspect, RedisServer};

const PATH: &str = "Contacts?$top=1&$select=ContactId";

fn db() -> TestDb {
    let db = TestDb::new(Backend::Sqlite);
    db.seed("alpha", 20, 1);
    db.seed("beta", 10, 2);
    db
}

fn limit(s: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c: &mut Config| c.rate_limit = s.parse().expect("rate limit")
}

/// [`limit`], kept in the Redis at `url`.
fn limit_in_redis<'a>(s: &'a str, url: &'a str) -> impl FnOnce(&mut Config) + 'a {
    move |c: &mut Config| {
        limit(s)(c);
        c.redis_url = Some(url.to_owned());
    }
}

async fn get(client: &reqwest::Client, url: &str, token: &str) -> Reply {
    let mut req = client.get(url);
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    Reply::read(req.send().await.expect("request")).await
}

fn remaining(r: &Reply) -> u32 {
    r.header("x-ratelimit-remaining")
        .unwrap_or_else(|| panic!("no X-RateLimit-Remaining on {}: {}", r.status, r.text))
        .parse()
        .expect("number")
}

fn no_limit_headers(r: &Reply) {
    for h in [
        "ratelimit",
        "ratelimit-policy",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(r.header(h).is_none(), "{h} on a {} response", r.status);
    }
}

#[actix_web::test]
async fn tokens_of_one_workspace_share_the_count() {
    let app = spawn_with(db(), limit("5/60s")).await;
    let (t1, t2, tb) = (
        app.db.token("alpha"),
        app.db.token("alpha"),
        app.db.token("beta"),
    );
    for i in 0..5u32 {
        let r = app.get(PATH, if i % 2 == 0 { &t1 } else { &t2 }).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(remaining(&r), 4 - i);
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(r.header("ratelimit-policy"), Some("\"workspace\";q=5;w=60"));
        let rl = r.header("ratelimit").expect("RateLimit");
        assert!(
            rl.starts_with(&format!("\"workspace\";r={};t=", 4 - i)),
            "{rl}"
        );
        let reset: u64 = r
            .header("x-ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("n");
        assert!((59..=60).contains(&reset), "reset {reset}");
        assert!(r.header("retry-after").is_none());
    }

    let r = app.get(PATH, &t2).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("n");
    assert!((59..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(remaining(&r), 0);
    assert!(r.header("ratelimit").is_some() && r.header("ratelimit-policy").is_some());
    let body = r.json();
    assert_eq!(body["error"]["code"], "RateLimitExceeded");
    let msg = body["error"]["message"].as_str().expect("message");
    assert!(
        msg.contains(&format!("retry in {retry} seconds")),
        "message {msg:?} vs Retry-After {retry}"
    );
    // A different token of the same workspace is limited too.
    assert_eq!(app.get(PATH, &t1).await.status, 429);

    // Other workspaces are unaffected.
    let r = app.get(PATH, &tb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(remaining(&r), 4);
}

#[actix_web::test]
async fn unauthenticated_requests_do_not_count() {
    let app = spawn_with(db(), limit("3/60s")).await;
    let t = app.db.token("alpha");
    for _ in 0..5 {
        let r = app.get(PATH, "").await;
        assert_eq!(r.status, 401);
        no_limit_headers(&r);
        let r = app.get(PATH, "not-a-token").await;
        assert_eq!(r.status, 401);
        no_limit_headers(&r);
        let r = app.get("healthz", "").await;
        assert_eq!(r.status, 200);
        no_limit_headers(&r);
    }
    for i in 0..3u32 {
        let r = app.get(PATH, &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(remaining(&r), 2 - i);
    }
    assert_eq!(app.get(PATH, &t).await.status, 429);
    // Health is never limited, even for a workspace over its limit.
    assert_eq!(app.get("healthz", &t).await.status, 200);
}

/// The value of the series `name` (with its labels, as written) in a `/metrics` page.
fn series(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// How many decisions of `store` had `outcome`, in a `/metrics` page.
fn decisions(page: &str, store: &str, outcome: &str) -> Option<f64> {
    series(
        page,
        &format!("crm_odata_rate_limit_decisions_total{{store=\"{store}\",outcome=\"{outcome}\"}}"),
    )
}

/// `/metrics` needs no token and is never limited, even while a workspace is over its
/// limit; it counts what the limiter decided and how responses ended, and names no
/// workspace.
#[actix_web::test]
async fn metrics_count_decisions_and_responses_and_are_never_limited() {
    let app = spawn_with(db(), limit("3/60s")).await;
    let t = app.db.token("alpha");
    for status in [200, 200, 200, 429] {
        assert_eq!(app.get(PATH, &t).await.status, status);
    }
    assert_eq!(app.get(PATH, "").await.status, 401);
    let first = app.get("metrics", "").await;
    assert_eq!(first.status, 200, "{}", first.text);
    no_limit_headers(&first);
    assert!(first
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/openmetrics-text")));
    let page = &first.text;
    assert!(page.ends_with("# EOF\n"), "{page}");
    assert_eq!(
        decisions(page, "in_process", "admitted"),
        Some(3.0),
        "{page}"
    );
    assert_eq!(decisions(page, "in_process", "denied"), Some(1.0), "{page}");
    let responses = |status: u16| {
        series(
            page,
            &format!("crm_odata_http_responses_total{{status=\"{status}\"}}"),
        )
    };
    assert_eq!(responses(200), Some(3.0), "{page}");
    assert_eq!(responses(429), Some(1.0), "{page}");
    assert_eq!(responses(401), Some(1.0), "{page}");
    assert_eq!(
        series(page, "crm_odata_http_response_seconds_count"),
        Some(5.0)
    );
    assert!(series(page, "crm_odata_db_pool_connections").is_some_and(|n| n >= 1.0));
    assert_eq!(
        series(page, "crm_odata_rate_limit_redis_down"),
        None,
        "no Redis"
    );
    assert!(
        !page.contains("alpha") && !page.contains("workspace"),
        "{page}"
    );
    // Scraping again is not limited and does not count against anyone.
    for _ in 0..5 {
        let again = app.get("metrics", &t).await;
        assert_eq!(again.status, 200);
        no_limit_headers(&again);
    }
    let last = app.get("metrics", "").await.text;
    assert_eq!(decisions(&last, "in_process", "admitted"), Some(3.0));
    assert_eq!(
        series(&last, "crm_odata_http_responses_total{status=\"200\"}"),
        Some(9.0),
        "three reads and six scrapes"
    );
}

/// Load balancers probe with HEAD as well as GET; other methods get the 405 the OData
/// resources give, with `Allow`. None of it needs a token.
#[actix_web::test]
async fn health_and_metrics_answer_get_and_head_and_refuse_other_methods() {
    let app = spawn_with(db(), limit("3/60s")).await;
    for path in ["healthz", "metrics"] {
        let url = format!("{}/{path}", app.base);
        let get = app.client.get(&url).send().await.expect("GET");
        assert_eq!(get.status().as_u16(), 200, "{path}");
        let head = app.client.head(&url).send().await.expect("HEAD");
        assert_eq!(head.status().as_u16(), 200, "HEAD {path}");
        assert_eq!(head.bytes().await.expect("no body").len(), 0);
        let post = Reply::read(app.client.post(&url).send().await.expect("POST")).await;
        assert_eq!(post.status, 405, "POST {path}: {}", post.text);
        assert_eq!(post.header("allow"), Some("GET, HEAD"));
        assert_eq!(post.json()["error"]["code"], "MethodNotAllowed");
        no_limit_headers(&post);
    }
}

/// With Redis, the decisions are counted as Redis's, and the outage gauge reads 0.
#[actix_web::test]
async fn metrics_name_redis_as_the_deciding_store() {
    let Some(redis) = RedisServer::spawn() else {
        return;
    };
    let url = redis.url();
    let app = spawn_with(db(), limit_in_redis("2/60s", &url)).await;
    let t = app.db.token("alpha");
    for status in [200, 200, 429] {
        assert_eq!(app.get(PATH, &t).await.status, status);
    }
    let page = app.get("metrics", "").await.text;
    assert_eq!(decisions(&page, "redis", "admitted"), Some(2.0), "{page}");
    assert_eq!(decisions(&page, "redis", "denied"), Some(1.0), "{page}");
    assert_eq!(
        decisions(&page, "in_process", "admitted"),
        Some(0.0),
        "{page}"
    );
    assert_eq!(series(&page, "crm_odata_rate_limit_redis_down"), Some(0.0));
}

#[actix_web::test]
async fn a_client_honouring_retry_after_gets_in() {
    let app = spawn_with(db(), limit("3/2s")).await;
    let t = app.db.token("alpha");
    for _ in 0..3 {
        assert_eq!(app.get(PATH, &t).await.status, 200);
    }
    let r = app.get(PATH, &t).await;
    assert_eq!(r.status, 429);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("n");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    actix_web::rt::time::sleep(Duration::from_secs(retry)).await;
    let r = app.get(PATH, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The size of the only workspace log in the Redis at `url` (there must be exactly one).
async fn the_one_log_size(url: &str) -> i64 {
    let mut c = inspect(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("crm-odata:rl:*")
        .query_async(&mut c)
        .await
        .expect("KEYS");
    assert_eq!(keys.len(), 1, "{keys:?}");
    redis::cmd("ZCARD")
        .arg(&keys[0])
        .query_async(&mut c)
        .await
        .expect("ZCARD")
}

/// `crm-odata serve` as a child process, killed on drop.
struct ServeProcess {
    child: std::process::Child,
    base: String,
}

impl ServeProcess {
    fn spawn(db_url: &str, redis_url: &str, rate_limit: &str) -> Self {
        Self::spawn_env(db_url, redis_url, rate_limit, &[])
    }

    fn spawn_env(db_url: &str, redis_url: &str, rate_limit: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_crm-odata"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", db_url)
            .env("REDIS_URL", redis_url)
            .env("RATE_LIMIT", rate_limit)
            .env_remove("RATE_LIMIT_FAIL_CLOSED")
            // Exactness is the point here: on a loaded test machine a 50 ms bound
            // could trip and make an instance limit alone (by design).
            .env("RATE_LIMIT_REDIS_TIMEOUT", "2s")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn crm-odata serve");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "crm-odata serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 64 concurrent clients, `each` requests apiece, alternating between the servers and
/// cycling through the tokens; the statuses of all of them.
async fn from_64_clients(
    client: &reqwest::Client,
    servers: &[ServeProcess; 2],
    tokens: &[String],
    each: usize,
) -> Vec<u16> {
    let requests = (0..64).map(|i| async move {
        let mut statuses = Vec::new();
        for j in 0..each {
            let base = &servers[(i + j) % 2].base;
            let token = &tokens[i % tokens.len()];
            statuses.push(get(client, &format!("{base}/{PATH}"), token).await.status);
        }
        statuses
    });
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Two `serve` processes on one database and one Redis, both limited to `limit`.
fn two_servers(db: &str, redis: &str, limit: &str) -> [ServeProcess; 2] {
    [
        ServeProcess::spawn(db, redis, limit),
        ServeProcess::spawn(db, redis, limit),
    ]
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[actix_web::test]
async fn two_server_processes_sharing_redis_admit_exactly_limit_for_64_clients() {
    let Some(redis) = RedisServer::spawn() else {
        return;
    };
    let url = redis.url();
    let db = db();
    let tokens: Vec<String> = (0..4).map(|_| db.token("alpha")).collect();
    let servers = two_servers(&db.url, &url, "40/60s");
    let client = reqwest::Client::new();
    let statuses = from_64_clients(&client, &servers, &tokens, 2).await;
    let ok = count(&statuses, 200);
    let limited = count(&statuses, 429);
    assert_eq!(ok, 40, "statuses: {statuses:?}");
    assert_eq!(limited, 128 - 40, "statuses: {statuses:?}");

    // One sorted set, holding exactly the admitted requests.
    assert_eq!(the_one_log_size(&url).await, 40);

    // Both servers now deny the workspace, whichever token is used.
    for s in &servers {
        let r = get(&client, &format!("{}/{PATH}", s.base), &tokens[0]).await;
        assert_eq!(r.status, 429);
        assert_eq!(remaining(&r), 0);
    }
}

/// The same with a limit large enough for reserved blocks (`ratelimit::lease`): the two
/// servers never admit more than the limit together, and once the blocks' unused entries
/// are back (100 ms), exactly the limit.
#[actix_web::test]
async fn two_server_processes_with_reserved_blocks_never_exceed_the_limit() {
    let Some(redis) = RedisServer::spawn() else {
        return;
    };
    let url = redis.url();
    let db = db();
    let token = db.token("alpha");
    let servers = two_servers(&db.url, &url, "1024/60s");
    let client = reqwest::Client::new();
    let tokens = [token];
    let statuses = from_64_clients(&client, &servers, &tokens, 20).await;
    let ok = count(&statuses, 200);
    assert!(ok <= 1024, "{ok} admitted");
    assert_eq!(ok + count(&statuses, 429), 1280, "statuses: {statuses:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(the_one_log_size(&url).await as usize, ok);
    let more = from_64_clients(&client, &servers, &tokens, 2).await;
    assert_eq!(ok + count(&more, 200), 1024, "{ok} and then {more:?}");
    assert_eq!(the_one_log_size(&url).await, 1024);
}

#[actix_web::test]
async fn redis_outage_keeps_serving_and_limiting() {
    let Some(mut redis) = RedisServer::spawn() else {
        return;
    };
    let url = redis.url();
    let app = spawn_with(db(), limit_in_redis("5/60s", &url)).await;
    let t = app.db.token("alpha");
    for _ in 0..2 {
        assert_eq!(app.get(PATH, &t).await.status, 200);
    }
    redis.stop();
    // Fail-open: served and still limited (this instance counted its 2).
    for i in 0..3u32 {
        let r = app.get(PATH, &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(remaining(&r), 2 - i);
    }
    let r = app.get(PATH, &t).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // The outage shows in /metrics: the gauge, and decisions made in-process meanwhile.
    let page = app.get("metrics", "").await.text;
    assert_eq!(
        series(&page, "crm_odata_rate_limit_redis_down"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(decisions(&page, "redis", "admitted"), Some(2.0), "{page}");
    assert_eq!(
        decisions(&page, "fallback", "admitted"),
        Some(3.0),
        "{page}"
    );
    assert_eq!(decisions(&page, "fallback", "denied"), Some(1.0), "{page}");
}

#[actix_web::test]
async fn fail_closed_answers_503_while_redis_is_unreachable() {
    let Some(dead) = RedisServer::unstarted() else {
        return;
    };
    let url = dead.url();
    let app = spawn_with(db(), |c| {
        c.redis_url = Some(url.clone());
        c.rate_limit_fail_closed = true;
    })
    .await;
    let t = app.db.token("alpha");
    let r = app.get(PATH, &t).await;
    assert_eq!(r.status, 503, "{}", r.text);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("n");
    assert!(retry >= 1);
    assert_eq!(r.json()["error"]["code"], "ServiceUnavailable");
    // Authentication still comes first.
    assert_eq!(app.get(PATH, "").await.status, 401);
    let page = app.get("metrics", "").await.text;
    assert_eq!(
        decisions(&page, "fallback", "unavailable"),
        Some(1.0),
        "{page}"
    );

    // The same outage fail-open: served, with rate-limit headers.
    let app = spawn_with(db(), |c| c.redis_url = Some(url.clone())).await;
    let t = app.db.token("alpha");
    let r = app.get(PATH, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(remaining(&r), 1199);
}

#[actix_web::test]
async fn a_batch_counts_once() {
    let app = spawn_with(db(), limit("10/60s")).await;
    let t = app.db.token("alpha");
    assert_eq!(remaining(&app.get(PATH, &t).await), 9);
    // Three requests in one $batch (JSON format): all answered, and the batch is one
    // request against the workspace's limit.
    let body = serde_json::json!({"requests": [
        {"id": "1", "method": "get", "url": PATH},
        {"id": "2", "method": "get", "url": PATH},
        {"id": "3", "method": "get", "url": PATH},
    ]});
    let resp = app
        .client
        .post(format!("{}/$batch", app.base))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .expect("batch");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("8")
    );
    let answers: serde_json::Value = resp.json().await.expect("batch body");
    let statuses: Vec<&serde_json::Value> = answers["responses"]
        .as_array()
        .map(|a| a.iter().map(|r| &r["status"]).collect())
        .unwrap_or_default();
    assert_eq!(statuses, [200, 200, 200], "{answers}");
    assert_eq!(remaining(&app.get(PATH, &t).await), 7);
}

/// With room in the window, a read's work overlaps its Redis round trip; the decision
/// must still be Redis's, exactly: `limit` admitted among concurrent readers, each with
/// its own `remaining`, and every other read denied with the rate-limit error, not data.
#[actix_web::test]
async fn reads_overlapping_the_redis_round_trip_are_still_limited_exactly() {
    let Some(redis) = RedisServer::spawn() else {
        return;
    };
    let url = redis.url();
    let app = spawn_with(db(), limit_in_redis("200/60s", &url)).await;
    let t = app.db.token("alpha");
    // The first read waits for its decision; later ones overlap while over 50 remain.
    let first = app.get(PATH, &t).await;
    assert_eq!((first.status, remaining(&first)), (200, 199));
    let clients = (0..16).map(|_| {
        let (app, t) = (&app, &t);
        async move {
            let mut replies = Vec::new();
            for _ in 0..20 {
                replies.push(app.get(PATH, t).await);
            }
            replies
        }
    });
    let replies: Vec<Reply> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut left: Vec<u32> = replies
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| {
            assert!(r.json()["value"].is_array(), "{}", r.text);
            remaining(r)
        })
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        (0..199).collect::<Vec<u32>>(),
        "one admission per slot"
    );
    let denied: Vec<&Reply> = replies.iter().filter(|r| r.status != 200).collect();
    assert_eq!(denied.len(), 320 - 199);
    for r in denied {
        assert_eq!(r.status, 429, "{}", r.text);
        assert_eq!(r.json()["error"]["code"], "RateLimitExceeded", "{}", r.text);
        assert!(r.header("retry-after").is_some());
    }
    let mut c = inspect(&url).await;
    let n: i64 = redis::cmd("ZCARD")
        .arg("crm-odata:rl:1")
        .query_async(&mut c)
        .await
        .expect("ZCARD");
    assert_eq!(n, 200);
}

/// A token this instance accepted before is served with its check inside the read, and
/// with room in the window the read overlaps the limiter's round trip; when the token
/// has been revoked meanwhile, the admission made for it is taken back: a request that
/// fails authentication never counts, on PostgreSQL's and SQLite's way alike.
#[actix_web::test]
async fn a_revoked_token_whose_read_overlapped_the_limiter_is_not_counted() {
    let Some(redis) = RedisServer::spawn() else {
        return;
    };
    let url = redis.url();
    for backend in common::backends() {
        let db = TestDb::new(backend);
        db.seed("alpha", 20, 1);
        let app = spawn_with(db, limit_in_redis("200/60s", &url)).await;
        let mut conn = app.db.conn();
        let (id, token) = crm_odata::auth::create_token(
            &mut conn,
            app.db.dialect,
            "alpha",
            None,
            None,
            Some("x"),
        )
        .expect("token");
        let other = app.db.token("alpha");
        // The previous backend's log goes, so the one left is this one's.
        let mut c = inspect(&url).await;
        let _: () = redis::cmd("DEL")
            .arg("crm-odata:rl:1")
            .query_async(&mut c)
            .await
            .expect("DEL");
        for _ in 0..3 {
            let r = app.get(PATH, &token).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        crm_odata::auth::revoke_token(&mut conn, app.db.dialect, id).expect("revoke");
        for _ in 0..3 {
            let r = app.get(PATH, &token).await;
            assert_eq!(r.status, 401, "{}", r.text);
            no_limit_headers(&r);
        }
        let n = the_one_log_size(&url).await;
        assert_eq!(
            n, 3,
            "{backend:?}: only the requests whose token held count"
        );
        // A request that reads nothing checks its token after the fact: the same.
        let (id2, second) = crm_odata::auth::create_token(
            &mut conn,
            app.db.dialect,
            "alpha",
            None,
            None,
            Some("y"),
        )
        .expect("token");
        for _ in 0..2 {
            assert_eq!(app.get("$metadata", &second).await.status, 200);
        }
        crm_odata::auth::revoke_token(&mut conn, app.db.dialect, id2).expect("revoke");
        let r = app.get("$metadata", &second).await;
        assert_eq!(r.status, 401, "{}", r.text);
        let n = the_one_log_size(&url).await;
        assert_eq!(
            n, 5,
            "{backend:?}: the revoked token's $metadata is not counted"
        );
        let r = app.get(PATH, &other).await;
        assert_eq!((r.status, remaining(&r)), (200, 194), "{backend:?}");
    }
}

/// Managed Redis services require TLS: with a `rediss://` URL the limiter speaks TLS and
/// verifies the server's certificate against the CAs the machine trusts (here the test's
/// own CA, through OpenSSL's `SSL_CERT_FILE`).
#[actix_web::test]
async fn redis_over_tls_verifies_the_certificate() {
    let Some(redis) = RedisServer::spawn_tls() else {
        return;
    };
    let db = db();
    let token = db.token("alpha");
    let ca = redis.ca_file().expect("ca");
    let trusting = ServeProcess::spawn_env(
        &db.url,
        &redis.url(),
        "3/60s",
        &[("SSL_CERT_FILE", ca.to_str().expect("path"))],
    );
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            get(&client, &format!("{}/{PATH}", trusting.base), &token)
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // The decisions were Redis's: its sorted set holds the three admissions.
    let inspect_url = format!("{}#insecure", redis.url());
    assert_eq!(the_one_log_size(&inspect_url).await, 3);
    // A server that does not trust that CA gets no TLS session: it limits on its own
    // (fail-open), and Redis sees nothing of it.
    let untrusting = ServeProcess::spawn_env(
        &db.url,
        &redis.url(),
        "3/60s",
        &[("SSL_CERT_FILE", "/nonexistent")],
    );
    let r = get(&client, &format!("{}/{PATH}", untrusting.base), &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(remaining(&r), 2);
    assert_eq!(the_one_log_size(&inspect_url).await, 3);
}
