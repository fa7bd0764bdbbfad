//! The Redis limiter against a real Redis: a private `redis-server` per test and,
//! when `CRM_TEST_REDIS_URL` is set, the shared one as well.

mod ratelimit_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_odata::ratelimit::{Limiter, RateLimitConfig, RedisOptions, Source};
use ratelimit_support::{inspect, unique_prefix, RedisServer};

/// Where the shared-store tests run: our own server, plus CI's if configured.
struct Target {
    url: String,
    _server: Option<RedisServer>,
}

fn targets() -> Vec<Target> {
    let mut t = Vec::new();
    if let Some(s) = RedisServer::spawn() {
        t.push(Target {
            url: s.url(),
            _server: Some(s),
        });
    }
    if let Ok(url) = std::env::var("CRM_TEST_REDIS_URL") {
        if !url.trim().is_empty() {
            t.push(Target { url, _server: None });
        }
    }
    t
}

fn cfg(s: &str) -> RateLimitConfig {
    s.parse().expect("config")
}

fn opts(test: &str) -> RedisOptions {
    RedisOptions {
        key_prefix: unique_prefix(test),
        // Outages here are real (server killed); don't let a loaded machine fake one.
        timeout: Duration::from_millis(500),
        ..RedisOptions::default()
    }
}

/// Generous timeout for tests that must not fall back under load (debug build, 2 cores).
fn patient(test: &str) -> RedisOptions {
    RedisOptions {
        timeout: Duration::from_secs(2),
        ..opts(test)
    }
}

/// The integer Redis answers to `command key`.
async fn of_key(url: &str, command: &str, key: &str) -> i64 {
    redis::cmd(command)
        .arg(key)
        .query_async(&mut inspect(url).await)
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

async fn pttl(url: &str, key: &str) -> i64 {
    of_key(url, "PTTL", key).await
}

async fn zcard(url: &str, key: &str) -> i64 {
    of_key(url, "ZCARD", key).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_at_the_boundary() {
    for t in targets() {
        let l = Limiter::connect_with(cfg("5/3s"), Some(&t.url), false, patient("boundary")).await;
        let key = l.redis_key(7).expect("redis key");
        // One request, then four more a second later: the first frees its
        // slot 1 s before the others.
        for i in 0..5u32 {
            if i == 1 {
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
            let (d, src) = l.check_with_source(7).await.expect("check");
            assert_eq!(src, Source::Redis);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 4 - i);
            assert_eq!(d.limit, 5);
        }
        let mut denied = None;
        for _ in 0..3 {
            let d = l.check(7).await.expect("check");
            assert!(!d.allowed, "6th and later must be denied");
            assert_eq!(d.remaining, 0);
            // The oldest leaves about 2 s from now (less if this machine stalled).
            assert!(
                d.reset_after <= Duration::from_millis(2000) && d.reset_after > Duration::ZERO,
                "{:?}",
                d.reset_after
            );
            assert!((1..=2).contains(&d.retry_after_secs()));
            denied = Some(d);
        }
        // Denied requests are not recorded.
        assert_eq!(zcard(&t.url, &key).await, 5);
        // Idle workspaces cost nothing: the key expires within one window and the
        // expiry's refresh interval (1 s at least).
        let pttl = pttl(&t.url, &key).await;
        assert!(pttl > 0 && pttl <= 4000, "pttl {pttl}");

        // Once the oldest leaves the window exactly one more is admitted.
        let wait = denied.expect("denied").reset_after + Duration::from_millis(30);
        tokio::time::sleep(wait).await;
        let d = l.check(7).await.expect("check");
        assert!(d.allowed, "admitted again once the oldest left the window");
        assert_eq!(d.remaining, 0);
        let d = l.check(7).await.expect("check");
        assert!(!d.allowed, "only the oldest has left");
        // The next slot frees when the four later requests leave, ~1 s on.
        assert!(
            d.reset_after <= Duration::from_millis(1000),
            "{:?}",
            d.reset_after
        );
        assert_eq!(zcard(&t.url, &key).await, 5);

        // After a full idle window and the refresh interval the key is gone.
        tokio::time::sleep(Duration::from_millis(4100)).await;
        let exists = of_key(&t.url, "EXISTS", &key).await;
        assert_eq!(exists, 0, "idle workspace key should have expired");
    }
}

/// Two limiters sharing one Redis, as two server instances would.
async fn two_instances(url: &str, config: &str, test: &str) -> (Arc<Limiter>, Arc<Limiter>) {
    let o = patient(test);
    let a = Limiter::connect_with(cfg(config), Some(url), false, o.clone()).await;
    let b = Limiter::connect_with(cfg(config), Some(url), false, o).await;
    (Arc::new(a), Arc::new(b))
}

/// 64 concurrent tasks, alternating between the instances, each checking `each`
/// requests of workspace `ws`; returns how many were admitted.
async fn from_64_tasks(a: &Arc<Limiter>, b: &Arc<Limiter>, ws: i64, each: usize) -> usize {
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let l = Arc::clone(if i % 2 == 0 { a } else { b });
        let admitted = admitted.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..each {
                let (d, src) = l.check_with_source(ws).await.expect("check");
                assert_eq!(src, Source::Redis, "must not fall back in this test");
                admitted.fetch_add(usize::from(d.allowed), Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    admitted.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_64_tasks_admit_exactly_limit() {
    for t in targets() {
        let (a, b) = two_instances(&t.url, "25/60s", "concurrent").await;
        let admitted = from_64_tasks(&a, &b, 42, 3).await;
        assert_eq!(admitted, 25);
        assert_eq!(zcard(&t.url, &a.redis_key(42).expect("key")).await, 25);
        // Both instances see the shared count.
        assert_eq!(a.check(42).await.expect("check").remaining, 0);
        assert_eq!(b.check(42).await.expect("check").remaining, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_do_not_affect_each_other() {
    for t in targets() {
        let l =
            Limiter::connect_with(cfg("3/60s"), Some(&t.url), false, patient("isolation")).await;
        for _ in 0..3 {
            assert!(l.check(1).await.expect("check").allowed);
        }
        assert!(!l.check(1).await.expect("check").allowed);
        let d = l.check(2).await.expect("check");
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
        assert!(l.check(-1).await.expect("check").allowed);
        assert!(!l.check(1).await.expect("check").allowed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_is_reloaded_after_script_flush() {
    // SCRIPT FLUSH is server-wide: only on our own server, never on a shared one.
    let Some(server) = RedisServer::spawn() else {
        return;
    };
    {
        let t = Target {
            url: server.url(),
            _server: None,
        };
        let l =
            Limiter::connect_with(cfg("10/60s"), Some(&t.url), false, patient("noscript")).await;
        assert_eq!(
            l.check_with_source(1).await.expect("check").1,
            Source::Redis
        );
        let mut c = inspect(&t.url).await;
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut c)
            .await
            .expect("flush");
        let (d, src) = l.check_with_source(1).await.expect("check");
        assert_eq!(src, Source::Redis, "NOSCRIPT must be handled by reloading");
        assert_eq!(d.remaining, 8);
    }
}

/// Counts WARN events on this thread (tests below run on a current-thread runtime).
mod warn_counter {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    pub struct Count(pub Arc<AtomicUsize>);
    impl<S: Subscriber> Layer<S> for Count {
        fn on_event(&self, e: &Event<'_>, _: Context<'_, S>) {
            if *e.metadata().level() == Level::WARN {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn install() -> (Arc<AtomicUsize>, tracing::subscriber::DefaultGuard) {
        let n = Arc::new(AtomicUsize::new(0));
        let s = tracing_subscriber::registry().with(Count(n.clone()));
        (n, tracing::subscriber::set_default(s))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn outage_falls_back_then_resumes_on_redis() {
    let Some(mut server) = RedisServer::spawn() else {
        return;
    };
    let (warns, _guard) = warn_counter::install();
    let o = RedisOptions {
        retry_interval: Duration::from_millis(300),
        ..opts("outage")
    };
    let l = Limiter::connect_with(cfg("5/60s"), Some(&server.url()), false, o).await;
    for _ in 0..3 {
        let (d, src) = l.check_with_source(9).await.expect("check");
        assert!(d.allowed);
        assert_eq!(src, Source::Redis);
    }

    server.stop();
    // No error, limiting continues in-process from this instance's 3 admissions.
    let mut allowed = 0;
    for _ in 0..10 {
        let (d, src) = l
            .check_with_source(9)
            .await
            .expect("fail-open never errors");
        assert_eq!(src, Source::Fallback);
        allowed += usize::from(d.allowed);
    }
    assert_eq!(
        allowed, 2,
        "fallback keeps limiting: 3 via Redis + 2 locally = 5"
    );
    assert_eq!(l.source(), Source::Fallback);

    // Many requests during the outage, but only one warning.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(800) {
        let (_, src) = l.check_with_source(9).await.expect("check");
        assert_eq!(src, Source::Fallback);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(warns.load(Ordering::Relaxed), 1, "one warning per outage");

    server.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, src) = l.check_with_source(10).await.expect("check");
        if src == Source::Redis {
            break;
        }
        assert!(Instant::now() < deadline, "did not return to Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Back on the (fresh, empty) Redis: requests are recorded there again.
    let (d, src) = l.check_with_source(11).await.expect("check");
    assert_eq!(src, Source::Redis);
    assert!(d.allowed);
    assert_eq!(d.remaining, 4);
    assert_eq!(
        zcard(&server.url(), &l.redis_key(11).expect("key")).await,
        1
    );
    assert_eq!(warns.load(Ordering::Relaxed), 1);

    // A second outage warns again, once.
    server.stop();
    for _ in 0..5 {
        l.check(11).await.expect("check");
    }
    assert_eq!(warns.load(Ordering::Relaxed), 2);
}

/// After Redis restarts, every worker thread's connection reconnects without a second
/// outage: the first request on a thread whose connection the restart dropped is still
/// decided by Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_thread_returns_to_redis_after_a_restart() {
    let Some(mut server) = RedisServer::spawn() else {
        return;
    };
    let o = RedisOptions {
        retry_interval: Duration::from_millis(200),
        ..patient("restart")
    };
    let l = Arc::new(Limiter::connect_with(cfg("1000/60s"), Some(&server.url()), false, o).await);
    // Connections on both threads, decided by Redis.
    let round = |l: Arc<Limiter>, base: i64| async move {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let l = Arc::clone(&l);
                tokio::spawn(async move { l.check_with_source(base + i).await.expect("check").1 })
            })
            .collect();
        let mut sources = Vec::new();
        for t in tasks {
            sources.push(t.await.expect("task"));
        }
        sources
    };
    assert!(round(Arc::clone(&l), 100)
        .await
        .iter()
        .all(|s| *s == Source::Redis));
    server.stop();
    server.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    while l.check_with_source(99).await.expect("check").1 != Source::Redis {
        assert!(Instant::now() < deadline, "did not return to Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for base in [200, 300, 400] {
        let sources = round(Arc::clone(&l), base).await;
        assert!(
            sources.iter().all(|s| *s == Source::Redis),
            "{base}: {sources:?}"
        );
    }
}

/// Requests admitted in-process while Redis was down are added to the workspace's log
/// when it is back, so they still count against the limit for the rest of the window.
/// One thread: the limiter keeps a connection per thread, and the probe that ends the
/// outage must have reconnected the one the later checks use.
#[tokio::test(flavor = "current_thread")]
async fn outage_admissions_are_carried_to_redis() {
    let Some(mut server) = RedisServer::spawn() else {
        return;
    };
    let o = RedisOptions {
        retry_interval: Duration::from_millis(200),
        ..patient("carry")
    };
    let l = Limiter::connect_with(cfg("6/60s"), Some(&server.url()), false, o).await;
    for _ in 0..2 {
        assert_eq!(
            l.check_with_source(5).await.expect("check").1,
            Source::Redis
        );
    }
    server.stop();
    for _ in 0..2 {
        let (d, src) = l.check_with_source(5).await.expect("fail-open");
        assert_eq!(src, Source::Fallback);
        assert!(d.allowed);
    }
    // Back (empty: the server kept nothing), once a probe from another workspace succeeds.
    server.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    while l.check_with_source(99).await.expect("check").1 != Source::Redis {
        assert!(Instant::now() < deadline, "did not return to Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The two outage admissions are in the log first: Redis admits 4 more, not 6.
    let mut admitted = 0;
    for _ in 0..8 {
        let (d, src) = l.check_with_source(5).await.expect("check");
        assert_eq!(src, Source::Redis);
        admitted += usize::from(d.allowed);
    }
    assert_eq!(admitted, 4);
    assert_eq!(zcard(&server.url(), &l.redis_key(5).expect("key")).await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_during_outage_only() {
    let Some(mut server) = RedisServer::spawn() else {
        return;
    };
    let o = RedisOptions {
        retry_interval: Duration::from_millis(300),
        ..opts("failclosed")
    };
    let l = Limiter::connect_with(cfg("5/60s"), Some(&server.url()), true, o).await;
    assert!(l.check(1).await.expect("up").allowed);
    server.stop();
    for _ in 0..5 {
        let e = l
            .check(1)
            .await
            .expect_err("fail-closed must refuse while Redis is down");
        assert!(e.retry_after >= Duration::from_secs(1));
        assert_eq!(e.retry_after_secs(), 1);
    }
    server.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(d) = l.check(1).await {
            assert!(d.allowed);
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(l.source(), Source::Redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_then_comes_up() {
    let Some(mut server) = RedisServer::unstarted() else {
        return;
    };
    let o = RedisOptions {
        retry_interval: Duration::from_millis(300),
        ..opts("downatstart")
    };
    let started = Instant::now();
    let l = Limiter::connect_with(cfg("2/60s"), Some(&server.url()), false, o).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "connect must not block"
    );
    assert_eq!(l.source(), Source::Fallback);
    let (d, src) = l.check_with_source(1).await.expect("fail-open");
    assert!(d.allowed);
    assert_eq!(src, Source::Fallback);

    server.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    while l.check_with_source(2).await.expect("check").1 != Source::Redis {
        assert!(Instant::now() < deadline, "did not switch to Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_is_bounded_by_the_timeout() {
    let Some(mut server) = RedisServer::spawn() else {
        return;
    };
    let o = RedisOptions {
        timeout: Duration::from_millis(50),
        ..opts("slow")
    };
    let l = Limiter::connect_with(cfg("5/60s"), Some(&server.url()), false, o).await;
    assert_eq!(
        l.check_with_source(1).await.expect("check").1,
        Source::Redis
    );
    // An unresponsive server: connections stay open, nothing answers.
    server.pause();
    let started = Instant::now();
    let (d, src) = l.check_with_source(1).await.expect("fail-open");
    let took = started.elapsed();
    assert_eq!(src, Source::Fallback);
    assert!(d.allowed);
    assert!(
        took < Duration::from_millis(300),
        "check took {took:?} with a 50 ms bound"
    );
    // Within the retry interval nobody waits on Redis again.
    let started = Instant::now();
    assert_eq!(
        l.check_with_source(1).await.expect("check").1,
        Source::Fallback
    );
    assert!(started.elapsed() < Duration::from_millis(20));
    server.resume();
    // Once it answers again, the next probe (at most 1 s on) switches back.
    let deadline = Instant::now() + Duration::from_secs(5);
    while l.check_with_source(2).await.expect("check").1 != Source::Redis {
        assert!(
            Instant::now() < deadline,
            "did not return to Redis after a stall"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_url_falls_back_or_refuses() {
    let l = Limiter::connect(cfg("1/60s"), Some("not a url"), false).await;
    let (d, src) = l.check_with_source(1).await.expect("fail-open");
    assert!(d.allowed);
    assert_eq!(src, Source::Fallback);
    assert!(!l.check(1).await.expect("fail-open").allowed);

    let l = Limiter::connect(cfg("1/60s"), Some("not a url"), true).await;
    assert!(l.check(1).await.is_err());

    // No URL: in-process, never an error even when fail-closed.
    let l = Limiter::connect(cfg("1/60s"), None, true).await;
    assert_eq!(
        l.check_with_source(1).await.expect("ok").1,
        Source::InProcess
    );
}

/// A "Redis" that accepts connections and reads commands but never answers.
struct BlackHole {
    port: u16,
    connections: Arc<AtomicUsize>,
    commands: Arc<AtomicUsize>,
}

impl BlackHole {
    fn start() -> Self {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let commands = Arc::new(AtomicUsize::new(0));
        let (conns, cmds) = (connections.clone(), commands.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                conns.fetch_add(1, Ordering::Relaxed);
                let cmds = cmds.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            return;
                        }
                        // Every RESP command is an array: count the array headers
                        // at line starts (arguments are bulk strings, `$`).
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let arrays = text.split("\r\n").filter(|l| l.starts_with('*')).count();
                        cmds.fetch_add(arrays, Ordering::Relaxed);
                    }
                });
            }
        });
        Self {
            port,
            connections,
            commands,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresponsive_redis_is_not_hammered() {
    let hole = BlackHole::start();
    let o = RedisOptions {
        timeout: Duration::from_millis(50),
        retry_interval: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(300),
        ..opts("blackhole")
    };
    let url = format!("redis://127.0.0.1:{}/", hole.port);
    let l = Limiter::connect_with(cfg("1000/60s"), Some(&url), false, o).await;
    let started = Instant::now();
    let mut checks = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        let (d, src) = l.check_with_source(1).await.expect("fail-open");
        assert!(d.allowed);
        assert_eq!(src, Source::Fallback);
        checks += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (conns, cmds) = (
        hole.connections.load(Ordering::Relaxed),
        hole.commands.load(Ordering::Relaxed),
    );
    eprintln!("{checks} checks -> {conns} connections, {cmds} commands");
    assert!(checks > 200, "checks must stay fast: only {checks}");
    // One attempt at start plus at most one per 500 ms interval.
    assert!(conns <= 7, "{conns} connections in 2.5 s");
    assert!(cmds <= 14, "{cmds} commands in 2.5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_round_trips_and_stay_exact() {
    for t in targets() {
        let l = Arc::new(
            Limiter::connect_with(cfg("7/10s"), Some(&t.url), false, patient("coalesce")).await,
        );
        let key = l.redis_key(11).expect("redis key");
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let l = Arc::clone(&l);
                tokio::spawn(async move { l.check_with_source(11).await.expect("check") })
            })
            .collect();
        let mut allowed_remaining = Vec::new();
        let mut denied = 0;
        for task in tasks {
            let (d, src) = task.await.expect("task");
            assert_eq!(src, Source::Redis, "no fallback under a patient timeout");
            if d.allowed {
                allowed_remaining.push(d.remaining);
            } else {
                assert_eq!(d.remaining, 0);
                denied += 1;
            }
        }
        // Exactly the limit is admitted, each with its own place in the window.
        allowed_remaining.sort_unstable();
        assert_eq!(allowed_remaining, vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(denied, 33);
        assert_eq!(zcard(&t.url, &key).await, 7);
    }
}

/// Reads may overlap the round trip only while Redis last reported plenty of room
/// (more than a quarter of the limit, at least 32), and never during an outage or
/// without Redis.
#[tokio::test]
async fn overlap_is_allowed_only_with_room_in_the_window() {
    let Some(mut server) = RedisServer::spawn() else {
        return;
    };
    let l =
        Limiter::connect_with(cfg("100/60s"), Some(&server.url()), false, opts("overlap")).await;
    assert!(!l.can_overlap(3), "nothing known about the workspace yet");
    let mut overlapped = 0;
    for i in 0..100u32 {
        let may = l.can_overlap(3);
        let d = l.check(3).await.expect("check");
        assert!(d.allowed);
        assert_eq!(d.remaining, 99 - i);
        // Allowed exactly while the previous decision left more than 32.
        assert_eq!(may, i > 0 && 100 - i > 32, "request {i}");
        overlapped += usize::from(may);
    }
    assert_eq!(overlapped, 67);
    assert!(!l.can_overlap(4), "another workspace has its own headroom");
    server.stop();
    let l2 =
        Limiter::connect_with(cfg("100/60s"), Some(&server.url()), false, opts("overlap2")).await;
    let _ = l2.check(5).await;
    assert!(!l2.can_overlap(5), "no overlap while Redis is down");
    assert!(!Limiter::in_process(cfg("100/60s")).can_overlap(5));
}

async fn script_calls(url: &str) -> u64 {
    command_calls(url, "evalsha").await + command_calls(url, "eval").await
}

/// How many times Redis ran `command` (0 if never).
async fn command_calls(url: &str, command: &str) -> u64 {
    let mut c = inspect(url).await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .expect("INFO");
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// A key's expiry is set when its log was empty and then every half refresh interval,
/// not with every request; a key that disappears (a flushed or restarted Redis) gets
/// one again with its first new entry, so no log is left without an expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_keeps_an_expiry_without_one_pexpire_per_request() {
    for t in targets() {
        // A limit too small for blocks: every check is a script call.
        let l = Limiter::connect_with(cfg("300/60s"), Some(&t.url), false, patient("expiry")).await;
        let key = l.redis_key(23).expect("redis key");
        let before = command_calls(&t.url, "pexpire").await;
        for i in 0..100 {
            assert!(l.check(23).await.expect("check").allowed, "request {i}");
        }
        // 60 s window, refreshed every 7.5 s at most: lives at most 67.5 s.
        let ms = pttl(&t.url, &key).await;
        assert!(ms > 59_000 && ms <= 67_500, "pttl {ms}");
        if t._server.is_some() {
            let pexpires = command_calls(&t.url, "pexpire").await - before;
            assert!(pexpires <= 2, "{pexpires} PEXPIRE for 100 requests");
        }
        of_key(&t.url, "DEL", &key).await;
        let d = l.check(23).await.expect("check");
        assert!(d.allowed);
        assert_eq!(d.remaining, 299, "the log starts again");
        let ms = pttl(&t.url, &key).await;
        assert!(
            ms > 59_000 && ms <= 67_500,
            "a new key gets an expiry: pttl {ms}"
        );
    }
}

/// A busy workspace reserves blocks of admissions ahead and is then admitted without a
/// round trip per request; what it reserved but did not use goes back to the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_workspace_is_admitted_from_reserved_blocks() {
    for t in targets() {
        let l = Arc::new(
            Limiter::connect_with(cfg("1000000/60s"), Some(&t.url), false, patient("blocks")).await,
        );
        let key = l.redis_key(21).expect("redis key");
        let calls_before = script_calls(&t.url).await;
        let mut last_remaining = u32::MAX;
        for i in 0..2000u32 {
            let (d, src) = l.check_with_source(21).await.expect("check");
            assert_eq!(src, Source::Redis);
            assert!(d.allowed, "request {i}");
            assert!(d.remaining < last_remaining, "request {i}: {d:?}");
            last_remaining = d.remaining;
        }
        if t._server.is_some() {
            let calls = script_calls(&t.url).await - calls_before;
            assert!(
                calls < 200,
                "{calls} script calls for 2,000 requests, one at a time"
            );
        }
        // Reserved and unused: at most half a block of 64 (the next one is asked for
        // with 32 left) and the next one; they go back once their blocks expire.
        let logged = zcard(&t.url, &key).await;
        assert!((2000..=2096).contains(&logged), "{logged}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(zcard(&t.url, &key).await, 2000);
    }
}

/// Two instances sharing a workspace with a limit large enough for blocks: together
/// they never admit more than the limit, and once the unused reservations are back,
/// exactly the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_never_exceed_the_limit_across_instances() {
    for t in targets() {
        let (a, b) = two_instances(&t.url, "2000/60s", "blocks2").await;
        let key = a.redis_key(22).expect("redis key");
        let first = from_64_tasks(&a, &b, 22, 40).await;
        assert!(first <= 2000, "{first} admitted");
        assert!(zcard(&t.url, &key).await <= 2000);
        // Unused reservations leave with their blocks (100 ms); then the rest of the
        // limit, and no more, is admitted to either instance.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(zcard(&t.url, &key).await as usize, first);
        let mut more = 0;
        for i in 0..200 {
            let l = if i % 2 == 0 { &a } else { &b };
            more += usize::from(l.check(22).await.expect("check").allowed);
        }
        assert_eq!(first + more, 2000, "{first} + {more}");
        assert_eq!(zcard(&t.url, &key).await, 2000);
    }
}

/// Requests of different workspaces waiting at the same time share one script call, and
/// each workspace is still limited on its own, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_of_many_workspaces_share_round_trips() {
    for t in targets() {
        let l = Arc::new(
            Limiter::connect_with(cfg("5/10s"), Some(&t.url), false, patient("many")).await,
        );
        let calls_before = script_calls(&t.url).await;
        let tasks: Vec<_> = (0..160)
            .map(|i| {
                let l = Arc::clone(&l);
                tokio::spawn(async move {
                    let ws = 100 + i % 16;
                    (ws, l.check(ws).await.expect("check").allowed)
                })
            })
            .collect();
        let mut admitted = std::collections::HashMap::new();
        for task in tasks {
            let (ws, allowed) = task.await.expect("task");
            *admitted.entry(ws).or_insert(0) += usize::from(allowed);
        }
        assert_eq!(admitted.len(), 16);
        assert!(admitted.values().all(|n| *n == 5), "{admitted:?}");
        for ws in 100..116 {
            assert_eq!(zcard(&t.url, &l.redis_key(ws).expect("key")).await, 5);
        }
        if t._server.is_some() {
            let calls = script_calls(&t.url).await - calls_before;
            assert!(
                calls < 16,
                "{calls} script calls for 160 requests of 16 workspaces: fewer than one each"
            );
        }
    }
}
