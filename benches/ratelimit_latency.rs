//! Figures for issue #3: per-check latency percentiles, concurrent throughput and
//! Redis memory per saturated workspace, in-process vs Redis.
//!
//! `cargo bench --bench ratelimit_latency` (Redis from `REDIS_URL`, default
//! `redis://127.0.0.1:6379/`; the Redis part is skipped if it is unreachable).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_odata::ratelimit::{Limiter, RateLimitConfig, RedisOptions, Source};

const SEQUENTIAL: usize = 20_000;
const TASKS: usize = 64;
const RUN_FOR: Duration = Duration::from_secs(3);
const WORKSPACES: i64 = 1_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let prefix = format!("crm-odata-bench:{}:", std::process::id());
    let cfg = RateLimitConfig::default();
    let local = Arc::new(Limiter::in_process(cfg));
    let shared = Arc::new(
        Limiter::connect_with(
            cfg,
            Some(&url),
            false,
            // A generous bound: the figures are for Redis itself, not for the
            // fallback a busy benchmark machine would trigger with 50 ms.
            RedisOptions {
                key_prefix: prefix.clone(),
                timeout: Duration::from_secs(1),
                ..RedisOptions::default()
            },
        )
        .await,
    );
    let redis_up = shared.source() == Source::Redis;
    println!("config {cfg}, {SEQUENTIAL} sequential checks over {WORKSPACES} workspaces");

    let l = latencies(&local).await;
    report("in-process", &l);
    if redis_up {
        let r = latencies(&shared).await;
        report("redis", &r);
        println!(
            "  added by redis: p50 {:.1} µs, p99 {:.1} µs",
            us(pct(&r, 50.0).saturating_sub(pct(&l, 50.0))),
            us(pct(&r, 99.0).saturating_sub(pct(&l, 99.0)))
        );
    } else {
        println!("redis at {url} unreachable: skipping the Redis figures");
    }

    println!("throughput, {TASKS} concurrent tasks on 2 worker threads, {RUN_FOR:?}:");
    let (n, _) = throughput(&local).await;
    println!("  in-process: {n:>9.0} checks/s");
    if redis_up {
        let (n, fallbacks) = throughput(&shared).await;
        println!("  redis:      {n:>9.0} checks/s ({fallbacks} decided by fallback)");
        memory(&url, &shared, cfg).await;
        cleanup(&url, &prefix).await;
    }
}

async fn latencies(l: &Limiter) -> Vec<Duration> {
    let fallbacks = AtomicU64::new(0);
    // Warm up connections, script cache and allocations.
    for i in 0..1_000 {
        let _ = l.check(i % WORKSPACES).await;
    }
    let mut out = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        let t = Instant::now();
        let r = std::hint::black_box(l.check_with_source(i as i64 % WORKSPACES).await);
        out.push(t.elapsed());
        if let Ok((_, Source::Fallback)) = r {
            fallbacks.fetch_add(1, Ordering::Relaxed);
        }
    }
    let n = fallbacks.load(Ordering::Relaxed);
    if n > 0 {
        println!("  ({n} of {SEQUENTIAL} decided by the fallback)");
    }
    out.sort();
    out
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(name: &str, s: &[Duration]) {
    println!(
        "  {name:<10} p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs",
        us(pct(s, 50.0)),
        us(pct(s, 90.0)),
        us(pct(s, 99.0)),
        us(s[s.len() - 1])
    );
}

async fn throughput(l: &Arc<Limiter>) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let fallbacks = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    // An OS thread ends the run: busy tasks could starve the runtime's timer.
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(RUN_FOR);
            stop.store(true, Ordering::Relaxed);
        })
    };
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (l, stop, count, fallbacks) =
                (l.clone(), stop.clone(), count.clone(), fallbacks.clone());
            tokio::spawn(async move {
                let mut i = t as i64;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((_, Source::Fallback)) = l.check_with_source(i % WORKSPACES).await {
                        fallbacks.fetch_add(1, Ordering::Relaxed);
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    i += TASKS as i64;
                    // The in-process check never awaits; let the other tasks run.
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let _ = stopper.join();
    let n = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    (n, fallbacks.load(Ordering::Relaxed))
}

async fn memory(url: &str, l: &Limiter, cfg: RateLimitConfig) {
    let ws = 987_654_321;
    for _ in 0..cfg.limit {
        let _ = l.check(ws).await;
    }
    let key = l.redis_key(ws).unwrap_or_default();
    let Ok(mut c) = conn(url).await else { return };
    let card: i64 = redis::cmd("ZCARD")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap_or(-1);
    let bytes: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut c)
        .await
        .unwrap_or(-1);
    println!(
        "redis memory, one saturated workspace ({card} entries): {bytes} bytes ({:.1} KiB, {:.0} bytes/entry)",
        bytes as f64 / 1024.0,
        bytes as f64 / card.max(1) as f64
    );
}

async fn conn(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

async fn cleanup(url: &str, prefix: &str) {
    let Ok(mut c) = conn(url).await else { return };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .unwrap_or_default();
    for k in keys {
        let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(k).query_async(&mut c).await;
    }
}
