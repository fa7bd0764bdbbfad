//! In-process sliding log: the embedded default, and the fallback while Redis is down.

use std::collections::VecDeque;

// The per-request maps of the limiter hash with foldhash, not SipHash: their keys are
// workspace ids from the database, which no client chooses.
use foldhash::{HashMap, HashMapExt};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Decision, RateLimitConfig};

/// Independent locks so unrelated workspaces don't contend on one mutex.
const SHARDS: usize = 16;

/// Per-workspace logs of admission instants (oldest first), within one process.
pub struct InProcess {
    config: RateLimitConfig,
    shards: Vec<Mutex<Shard>>,
}

struct Shard {
    logs: HashMap<i64, VecDeque<Instant>>,
    /// Idle workspaces are dropped at most once per window, so memory follows
    /// the active set rather than every workspace ever seen.
    last_sweep: Instant,
}

impl InProcess {
    pub fn new(config: RateLimitConfig) -> Self {
        let now = Instant::now();
        Self {
            config,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        logs: HashMap::new(),
                        last_sweep: now,
                    })
                })
                .collect(),
        }
    }

    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    /// Admits (and records) or denies one request of `ws` at `now`.
    pub fn check_at(&self, ws: i64, now: Instant) -> Decision {
        let cfg = self.config;
        let mut shard = self.shard(ws);
        shard.sweep(now, cfg.window);
        let log = shard.logs.entry(ws).or_default();
        trim(log, now, cfg.window);
        let allowed = (log.len() as u64) < u64::from(cfg.limit);
        if allowed {
            log.push_back(now);
        }
        decision(log, cfg, now, allowed)
    }

    pub fn check(&self, ws: i64) -> Decision {
        self.check_at(ws, Instant::now())
    }

    /// Notes a request the shared store admitted, so that if the store goes away
    /// this instance keeps counting from its own recent traffic instead of zero.
    pub fn record_at(&self, ws: i64, now: Instant) {
        let cfg = self.config;
        let mut shard = self.shard(ws);
        shard.sweep(now, cfg.window);
        let log = shard.logs.entry(ws).or_default();
        trim(log, now, cfg.window);
        if (log.len() as u64) < u64::from(cfg.limit) {
            log.push_back(now);
        }
    }

    /// Drops the newest admission of `ws` (one taken back).
    pub fn forget_latest(&self, ws: i64) {
        let mut shard = self.shard(ws);
        if let Some(log) = shard.logs.get_mut(&ws) {
            log.pop_back();
        }
    }

    /// Number of workspaces currently holding memory (for tests and metrics).
    pub fn tracked_workspaces(&self) -> usize {
        self.shards.iter().map(|s| lock(s).logs.len()).sum()
    }

    fn shard(&self, ws: i64) -> MutexGuard<'_, Shard> {
        // `rem_euclid` keeps negative ids in range; SHARDS is small, so the cast is exact.
        lock(&self.shards[ws.rem_euclid(SHARDS as i64) as usize])
    }
}

/// A panic while holding the lock cannot leave a log half-updated in a way that
/// matters (worst case one timestamp too many), so a poisoned lock is reused.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shard {
    fn sweep(&mut self, now: Instant, window: Duration) {
        if now.saturating_duration_since(self.last_sweep) < window {
            return;
        }
        self.last_sweep = now;
        self.logs.retain(|_, log| {
            log.back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
        // Give back the capacity of a past burst.
        if self.logs.capacity() > 4 * self.logs.len().max(16) {
            self.logs.shrink_to_fit();
        }
    }
}

/// Drops entries that have left the window: a request admitted at `t` counts while `now - t < window`.
fn trim(log: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while log
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        log.pop_front();
    }
}

fn decision(
    log: &VecDeque<Instant>,
    cfg: RateLimitConfig,
    now: Instant,
    allowed: bool,
) -> Decision {
    let reset_after = log
        .front()
        .map(|t| cfg.window.saturating_sub(now.saturating_duration_since(*t)))
        .unwrap_or_default();
    Decision {
        allowed,
        limit: cfg.limit,
        remaining: cfg
            .limit
            .saturating_sub(u32::try_from(log.len()).unwrap_or(u32::MAX)),
        window: cfg.window,
        reset_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(limit: u32, secs: u64) -> RateLimitConfig {
        RateLimitConfig {
            limit,
            window: Duration::from_secs(secs),
        }
    }

    #[test]
    fn exact_at_the_boundary() {
        let l = InProcess::new(cfg(5, 2));
        let t0 = Instant::now();
        for i in 0..5u32 {
            let d = l.check_at(1, t0 + Duration::from_millis(100 * u64::from(i)));
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 4 - i);
        }
        let d = l.check_at(1, t0 + Duration::from_millis(500));
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        // The oldest (t0) leaves at t0+2s: 1.5 s from now.
        assert_eq!(d.reset_after, Duration::from_millis(1500));
        assert_eq!(d.retry_after_secs(), 2);
        // Just before it leaves: still denied; denied requests were not recorded.
        assert!(!l.check_at(1, t0 + Duration::from_millis(1999)).allowed);
        // Exactly when it leaves: one slot, then full again.
        assert!(l.check_at(1, t0 + Duration::from_secs(2)).allowed);
        assert!(!l.check_at(1, t0 + Duration::from_millis(2001)).allowed);
        // The second oldest (t0+100ms) frees the next slot.
        assert!(l.check_at(1, t0 + Duration::from_millis(2100)).allowed);
    }

    #[test]
    fn workspaces_are_independent() {
        let l = InProcess::new(cfg(2, 60));
        let t = Instant::now();
        assert!(l.check_at(1, t).allowed);
        assert!(l.check_at(1, t).allowed);
        assert!(!l.check_at(1, t).allowed);
        assert!(l.check_at(2, t).allowed);
        assert!(l.check_at(-2, t).allowed);
        assert!(l.check_at(17, t).allowed); // same shard as 1
        assert_eq!(l.check_at(17, t).remaining, 0);
    }

    #[test]
    fn idle_workspaces_are_forgotten() {
        let l = InProcess::new(cfg(3, 1));
        let t = Instant::now();
        for ws in 0..100 {
            l.check_at(ws, t);
        }
        assert_eq!(l.tracked_workspaces(), 100);
        // After a window every shard sweeps on its next touch.
        for ws in 0..SHARDS as i64 {
            l.check_at(1000 + ws, t + Duration::from_secs(2));
        }
        assert_eq!(l.tracked_workspaces(), SHARDS);
    }

    #[test]
    fn record_counts_towards_the_limit() {
        let l = InProcess::new(cfg(3, 60));
        let t = Instant::now();
        for _ in 0..10 {
            l.record_at(5, t);
        }
        let d = l.check_at(5, t);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let l = std::sync::Arc::new(InProcess::new(cfg(2, 60)));
        let l2 = l.clone();
        let _ = std::thread::spawn(move || {
            let _g = l2.shard(3);
            panic!("poison");
        })
        .join();
        assert!(l.shards[3].is_poisoned());
        assert!(l.check(3).allowed);
        assert!(l.check(3).allowed);
        assert!(!l.check(3).allowed);
    }
}
