//! The in-process limiter through the public `Limiter` API, in real time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_odata::ratelimit::{InProcess, Limiter, RateLimitConfig, Source};

fn cfg(s: &str) -> RateLimitConfig {
    s.parse().expect("config")
}

#[tokio::test]
async fn exact_at_the_boundary() {
    let l = Limiter::in_process(cfg("5/3s"));
    let (d, src) = l
        .check_with_source(7)
        .await
        .expect("in-process never errors");
    assert_eq!(src, Source::InProcess);
    assert!(d.allowed);
    assert_eq!(d.remaining, 4);
    // A 1 s gap: the first request frees its slot well before the other four.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for i in 1..5u32 {
        let d = l.check(7).await.expect("check");
        assert!(d.allowed, "request {i}");
        assert_eq!(d.remaining, 4 - i);
    }
    let d = l.check(7).await.expect("check");
    assert!(!d.allowed, "6th denied");
    assert_eq!(d.remaining, 0);
    // The oldest leaves about 2 s from now (less if this machine stalled).
    assert!(
        d.reset_after <= Duration::from_millis(2000) && d.reset_after > Duration::ZERO,
        "{:?}",
        d.reset_after
    );
    let retry = d.retry_after_secs();
    assert!((1..=2).contains(&retry));
    assert!(d.headers().contains(&("Retry-After", retry.to_string())));

    tokio::time::sleep(d.reset_after + Duration::from_millis(20)).await;
    let d = l.check(7).await.expect("check");
    assert!(d.allowed, "admitted once the oldest left the window");
    assert_eq!(d.remaining, 0);
    assert!(
        !l.check(7).await.expect("check").allowed,
        "only one slot freed"
    );
}

#[tokio::test]
async fn workspaces_do_not_affect_each_other() {
    let l = Limiter::in_process(cfg("3/60s"));
    for _ in 0..3 {
        assert!(l.check(1).await.expect("check").allowed);
    }
    assert!(!l.check(1).await.expect("check").allowed);
    let d = l.check(2).await.expect("check");
    assert!(d.allowed);
    assert_eq!(d.remaining, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_admit_exactly_limit() {
    let l = Arc::new(Limiter::in_process(cfg("25/60s")));
    let admitted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (l, admitted) = (l.clone(), admitted.clone());
            tokio::spawn(async move {
                for _ in 0..3 {
                    if l.check(42).await.expect("check").allowed {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 25);
}

#[test]
fn sliding_not_fixed_window() {
    // 4/10s: a burst at t=0 and t=9 must not allow 8 within 10 s.
    let l = InProcess::new(cfg("4/10s"));
    let t0 = Instant::now();
    for _ in 0..2 {
        assert!(l.check_at(1, t0).allowed);
    }
    for _ in 0..2 {
        assert!(l.check_at(1, t0 + Duration::from_secs(9)).allowed);
    }
    assert!(!l.check_at(1, t0 + Duration::from_millis(9999)).allowed);
    // At t=10 the two from t=0 leave: exactly two more.
    assert!(l.check_at(1, t0 + Duration::from_secs(10)).allowed);
    assert!(l.check_at(1, t0 + Duration::from_secs(10)).allowed);
    let d = l.check_at(1, t0 + Duration::from_secs(10));
    assert!(!d.allowed);
    assert_eq!(d.reset_after, Duration::from_secs(9));
}
