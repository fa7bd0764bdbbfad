//! Criterion timings of one admission check: in-process vs Redis.
//!
//! `cargo bench --bench ratelimit` (Redis from `REDIS_URL`, default
//! `redis://127.0.0.1:6379/`; skipped if unreachable). Percentiles, throughput
//! and memory are in the `ratelimit_latency` bench.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use crm_odata::ratelimit::{Limiter, RateLimitConfig, RedisOptions, Source};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cfg = RateLimitConfig::default();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let local = Limiter::in_process(cfg);
    let shared = rt.block_on(Limiter::connect_with(
        cfg,
        Some(&url),
        false,
        RedisOptions {
            key_prefix: format!("crm-odata-bench:{}:", std::process::id()),
            timeout: Duration::from_secs(1),
            ..RedisOptions::default()
        },
    ));

    let mut g = c.benchmark_group("ratelimit_check");
    g.measurement_time(Duration::from_secs(5));
    let mut i = 0i64;
    g.bench_function("in_process", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(local.check(i % 1000))
        })
    });
    if shared.source() == Source::Redis {
        g.bench_function("redis", |b| {
            b.iter(|| {
                i += 1;
                rt.block_on(shared.check(i % 1000))
            })
        });
    } else {
        eprintln!("redis at {url} unreachable: skipping");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
