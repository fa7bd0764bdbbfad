//! Which workspace a token verified on this instance belongs to.

// Looked up on every request: a fast seeded hash rather than SipHash (the keys are
// digests of tokens this instance accepted, nothing a client can choose to collide).
use foldhash::HashMap;
use std::sync::Mutex;

/// Entries kept before the map starts over; a forgotten token only costs its next
/// request one more round trip.
const CAPACITY: usize = 10_000;

/// Token hash → workspace, for tokens this instance has accepted.
///
/// An entry grants nothing. It lets a read be compiled for the workspace before its
/// token is checked, so that the check can travel inside the read's own statement
/// ([`super::live_token`]) instead of costing a round trip of its own; whatever the
/// request runs still checks the token, and a revoked token fails on its very next
/// request. A token's workspace never changes, so an entry is never wrong, only stale.
#[derive(Default)]
pub struct KnownTokens {
    map: Mutex<HashMap<String, i64>>,
}

impl KnownTokens {
    pub fn workspace_of(&self, hash: &str) -> Option<i64> {
        self.lock().get(hash).copied()
    }

    pub fn remember(&self, hash: &str, workspace: i64) {
        let mut map = self.lock();
        if map.get(hash) == Some(&workspace) {
            return;
        }
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(hash.to_owned(), workspace);
    }

    pub fn forget(&self, hash: &str) {
        self.lock().remove(hash);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let k = KnownTokens::default();
        assert_eq!(k.workspace_of("a"), None);
        k.remember("a", 7);
        assert_eq!(k.workspace_of("a"), Some(7));
        k.forget("a");
        assert_eq!(k.workspace_of("a"), None);
        for i in 0..(CAPACITY as i64 + 5) {
            k.remember(&i.to_string(), i);
        }
        assert!(k.lock().len() <= CAPACITY);
        assert_eq!(
            k.workspace_of(&(CAPACITY as i64 + 4).to_string()),
            Some(CAPACITY as i64 + 4)
        );
    }
}
