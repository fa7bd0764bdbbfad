//! At most one event per period: for log lines an outage would repeat per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Milliseconds since the first call, from 1 (0 is "never" to [`Throttle`]).
pub fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let ms = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX).saturating_add(1)
}

/// At most one event per [`Throttle::EVERY`] passes; the others are counted.
#[derive(Debug, Default)]
pub struct Throttle {
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttle {
    pub const EVERY: Duration = Duration::from_secs(5);

    pub const fn new() -> Self {
        Self {
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// At `now_ms`: `Some(events left out since the last one that passed)` if this one
    /// passes.
    pub fn due(&self, now_ms: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Relaxed);
        let every = u64::try_from(Self::EVERY.as_millis()).unwrap_or(u64::MAX);
        let passes = (last == 0 || now_ms.saturating_sub(last) >= every)
            && self
                .last_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if passes {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn the_unavailable_warning_passes_once_per_period_and_counts_the_rest() {
        let t = Throttle::new();
        let every = Throttle::EVERY.as_millis() as u64;
        assert_eq!(t.due(1), Some(0));
        for ms in 2..100 {
            assert_eq!(t.due(ms), None);
        }
        assert_eq!(t.due(every), None);
        assert_eq!(t.due(every + 1), Some(99));
        assert_eq!(t.due(every + 2), None);
        assert_eq!(t.due(3 * every), Some(1));
    }
}
