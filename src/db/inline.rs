//! When a short read (by key, a small page an index bounds) may run on the HTTP worker
//! thread instead of the blocking pool. The hand-off costs two thread switches (20-40 µs
//! of CPU per request, measured), more than such a read takes on SQLite or on a
//! PostgreSQL on the same host; but a worker that waits on the database cannot serve its
//! other connections meanwhile. So reads run inline only on a database on this host
//! (SQLite, or PostgreSQL over loopback or a Unix socket), and not while it answers
//! slowly: a read that took longer than [`PROMPT`] (the database is overloaded, or waits
//! for a lock) sends the next ones to the blocking pool for [`PAUSE`], after which one
//! more inline read tells whether it has recovered.
//!
//! Measured on two cores with PostgreSQL beside the server: capping inline reads at half
//! the workers, or pausing after reads as short as 5 ms (a busy machine's scheduling
//! alone delays some that long), gave the hand-off's cost back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Longest an inline read may take without pausing inline reads.
pub const PROMPT: Duration = Duration::from_millis(250);
/// How long inline reads pause after a slow one.
pub const PAUSE: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Inline {
    enabled: bool,
    /// Milliseconds since `epoch` until which reads go to the blocking pool.
    paused_until: AtomicU64,
    epoch: Instant,
}

impl Inline {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            paused_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A slot to run one read inline, unless inline reads are off or paused.
    pub fn enter(&self) -> Option<Slot<'_>> {
        (self.enabled && self.now_ms() >= self.paused_until.load(Ordering::Relaxed)).then(|| Slot {
            inline: self,
            started: Instant::now(),
        })
    }

    fn finished(&self, took: Duration) {
        if took > PROMPT {
            let now = self.now_ms();
            let was = self.paused_until.fetch_max(
                now.saturating_add(PAUSE.as_millis() as u64),
                Ordering::Relaxed,
            );
            if was <= now {
                tracing::warn!(
                    took_ms = took.as_millis() as u64,
                    "a short database read was slow; reads wait on the blocking pool for {PAUSE:?}"
                );
            }
        }
    }
}

/// One inline read in progress; its duration is recorded when it is dropped.
pub struct Slot<'a> {
    inline: &'a Inline,
    started: Instant,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.inline.finished(self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_read_pauses_inline_reads() {
        let inline = Inline::new(true);
        drop(inline.enter());
        assert!(inline.enter().is_some(), "a prompt read does not pause");
        inline.finished(PROMPT * 2);
        assert!(inline.enter().is_none(), "paused after a slow read");
    }

    #[test]
    fn off_means_never() {
        assert!(Inline::new(false).enter().is_none());
    }
}
