//! Outage bookkeeping for the shared store: when to try Redis again, and logging
//! one warning per outage rather than one per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::redis::StoreError;

pub struct Outage {
    epoch: Instant,
    retry_interval: Duration,
    down: AtomicBool,
    /// Milliseconds since `epoch`; before this, nobody calls Redis during an outage.
    next_probe_ms: AtomicU64,
    since_ms: AtomicU64,
}

impl Outage {
    pub fn new(retry_interval: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            retry_interval,
            down: AtomicBool::new(false),
            next_probe_ms: AtomicU64::new(0),
            since_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn interval_ms(&self) -> u64 {
        u64::try_from(self.retry_interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// During an outage, lets exactly one caller per retry interval try Redis.
    pub fn claim_probe(&self) -> bool {
        let now = self.now_ms();
        let next = self.next_probe_ms.load(Ordering::Acquire);
        now >= next
            && self
                .next_probe_ms
                .compare_exchange(
                    next,
                    now.saturating_add(self.interval_ms()),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Time until the next attempt on Redis (what a fail-closed 503 asks clients to wait).
    pub fn until_next_probe(&self) -> Duration {
        let next = self.next_probe_ms.load(Ordering::Acquire);
        Duration::from_millis(next.saturating_sub(self.now_ms()))
    }

    pub fn mark_down(&self, err: &StoreError) {
        let now = self.now_ms();
        // Publish the back-off before the flag so callers that see `down` also see it.
        self.next_probe_ms
            .fetch_max(now.saturating_add(self.interval_ms()), Ordering::AcqRel);
        if !self.down.swap(true, Ordering::AcqRel) {
            self.since_ms.store(now, Ordering::Release);
            tracing::warn!(
                error = %err,
                retry_every = ?self.retry_interval,
                "rate limiter: shared store unavailable, limiting in-process until it is back \
                 (each instance now enforces the limit on its own)"
            );
        } else {
            tracing::debug!(error = %err, "rate limiter: shared store still unavailable");
        }
    }

    pub fn mark_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            let lasted = Duration::from_millis(
                self.now_ms()
                    .saturating_sub(self.since_ms.load(Ordering::Acquire)),
            );
            tracing::info!(outage = ?lasted, "rate limiter: shared store is back, limiting across instances again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_probe_per_interval() {
        let o = Outage::new(Duration::from_millis(200));
        o.mark_down(&StoreError::Timeout(Duration::from_millis(50)));
        assert!(o.is_down());
        assert!(!o.claim_probe(), "must wait one interval after going down");
        assert!(o.until_next_probe() > Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(210));
        assert!(o.claim_probe());
        assert!(!o.claim_probe(), "second caller in the same interval");
        o.mark_up();
        assert!(!o.is_down());
    }
}
