//! How many of a workspace's rows hold each trigram, as last counted: a substring lookup
//! asks the trigram index for the two rarest trigrams of the value instead of all of
//! them. An FTS5 `AND` reads every term's whole list of rows, so one common trigram
//! (`com` in an email: a quarter of the rows) cost more than the rest of the lookup.
//! The counts only steer which trigrams are asked for; the exact comparison decides.

use foldhash::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counts stop here: past it a trigram is common, and counting on costs time.
pub const COUNT_CAP: i64 = 4096;
/// A count older than this is counted again (by the reads that find it stale).
const FRESH_FOR: Duration = Duration::from_secs(600);
/// Entries kept at most (about 100 bytes each); when full, the cache starts over.
const MAX_ENTRIES: usize = 1 << 16;

/// (trigram index table, workspace, trigram)
type Key = (&'static str, i64, String);

/// The process's counts, shared by every connection.
pub static STATS: LazyLock<TrigramStats> = LazyLock::new(TrigramStats::default);

#[derive(Default)]
pub struct TrigramStats {
    counts: Mutex<HashMap<Key, (i64, Instant)>>,
}

/// Trigrams the compiler found no fresh count for: `exec` counts them after the read.
pub type Misses = Vec<Key>;

impl TrigramStats {
    /// The rows of `workspace` holding each of `trigrams` in `fts`, when all are known
    /// and fresh; otherwise `None`, and the unknown ones go to `misses`.
    pub fn lookup(
        &self,
        fts: &'static str,
        workspace: i64,
        trigrams: &[String],
        misses: &mut Misses,
    ) -> Option<Vec<i64>> {
        let now = Instant::now();
        let guard = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut found = Vec::with_capacity(trigrams.len());
        for t in trigrams {
            let key = (fts, workspace, t.clone());
            match guard.get(&key) {
                Some((n, at)) if now.duration_since(*at) < FRESH_FOR => found.push(*n),
                _ => misses.push(key),
            }
        }
        (found.len() == trigrams.len()).then_some(found)
    }

    pub fn record(&self, key: Key, rows: i64) {
        let mut map = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (rows, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_known_per_index_workspace_and_trigram() {
        let stats = TrigramStats::default();
        let trigrams = ["abc".to_owned(), "bcd".to_owned()];
        let mut misses = Misses::default();
        assert_eq!(stats.lookup("fts", 1, &trigrams, &mut misses), None);
        assert_eq!(misses.len(), 2);
        for (key, n) in misses.into_iter().zip([7, 3]) {
            stats.record(key, n);
        }
        let mut misses = Misses::default();
        assert_eq!(
            stats.lookup("fts", 1, &trigrams, &mut misses),
            Some(vec![7, 3])
        );
        assert!(misses.is_empty());
        // Another workspace's counts are its own.
        assert_eq!(stats.lookup("fts", 2, &trigrams, &mut misses), None);
        assert_eq!(misses.len(), 2);
        assert!(misses.iter().all(|(_, ws, _)| *ws == 2));
    }
}
