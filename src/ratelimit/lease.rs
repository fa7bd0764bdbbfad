//! Admissions reserved ahead: blocks of a workspace's log taken from Redis in one
//! round trip and handed out by this instance without one.
//!
//! A workspace that is busy on this instance asks, with the requests it sends anyway,
//! for a block of `k` more admissions. The script adds the block's members to the log
//! at once, scored `hold` ahead of Redis's clock: a member this instance hands out
//! before the block expires (at most `hold` after the round trip began) is then never
//! younger in the log than the request it admits, so the window stays exact, only up to
//! `hold` longer. Members still unused when the block expires are taken back out.
//!
//! So the limit is never exceeded, with any number of instances. What a block costs is
//! the other way: while one instance holds unused members, another may be denied a slot
//! the first would not use. Blocks are therefore small next to the limit (at most
//! 1/64 of it), short-lived (`hold`), and granted only while a quarter of the limit stays
//! free after them; a small limit never gets blocks and every request is decided in Redis.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::redis::Member;
use super::RateLimitConfig;

/// Limits below this never get blocks: every request is decided in Redis.
const MIN_LIMIT: u32 = 512;
/// A block rides along with the script calls the instance makes anyway, so even a small
/// one saves round trips: with many workspaces each has few requests in a hold (32
/// workspaces sharing 16 connections, blocks from 8: one script call per 9 requests and
/// −41% throughput with Redis on a core of its own; from 2: one per 50 and −11%).
const MIN_BLOCK: u32 = 2;
/// Larger blocks save few round trips more and hold more of the limit.
const MAX_BLOCK: u32 = 64;
const MAX_HOLD: Duration = Duration::from_millis(100);

/// How large and how long-lived blocks may be under one configuration.
#[derive(Debug, Clone, Copy)]
pub struct LeasePolicy {
    /// 0 when the limit is too small for blocks.
    pub max_block: u32,
    pub hold: Duration,
}

impl LeasePolicy {
    pub fn new(config: RateLimitConfig) -> Self {
        let max_block = (config.limit / 64).min(MAX_BLOCK);
        Self {
            max_block: if config.limit < MIN_LIMIT {
                0
            } else {
                max_block
            },
            hold: MAX_HOLD.min(config.window / 8),
        }
    }

    /// How far past `window` a key must live for the blocks' members (0 without blocks).
    pub fn extra_ttl(&self) -> Duration {
        if self.max_block == 0 {
            Duration::ZERO
        } else {
            self.hold
        }
    }
}

/// What one round trip left for this instance: its block (possibly empty), the free
/// slots it saw after everything it added, and when the oldest request leaves.
pub struct Grant {
    pub members: Vec<Member>,
    pub asked: bool,
    pub remaining: u32,
    pub reset_at: Instant,
}

struct Block {
    id: u64,
    until: Instant,
    members: Vec<Member>,
}

/// A workspace's blocks on this instance, and how busy it has been.
#[derive(Default)]
pub struct Reserve {
    blocks: VecDeque<Block>,
    /// Free slots in the window at the last round trip, not counting this instance's
    /// unused members (those are added when one is handed out).
    remaining: u32,
    reset_at: Option<Instant>,
    /// No block is asked for until then: the last request for one was refused or failed.
    pause_until: Option<Instant>,
    rate: Rate,
}

impl Reserve {
    /// Counts one request toward the workspace's rate on this instance.
    pub fn note_request(&mut self, now: Instant, policy: &LeasePolicy) {
        self.rate.roll(now, policy.hold);
        self.rate.current = self.rate.current.saturating_add(1);
    }

    /// One member of a live block, with the slots left in the window after it.
    /// Expired blocks are left for their timers, which take their members back.
    pub fn take(&mut self, now: Instant) -> Option<(Member, u32)> {
        let i = self
            .blocks
            .iter()
            .position(|b| b.until > now && !b.members.is_empty())?;
        let member = self.blocks.get_mut(i)?.members.pop()?;
        if self.blocks.get(i).is_some_and(|b| b.members.is_empty()) {
            self.blocks.remove(i);
        }
        let remaining = self.remaining.saturating_add(self.unused(now));
        Some((member, remaining))
    }

    /// Free slots in the window at the last round trip, if there was one.
    pub fn last_remaining(&self) -> Option<u32> {
        self.reset_at.map(|_| self.remaining)
    }

    /// Until the oldest request leaves the window, as of the last round trip.
    pub fn reset_after(&self, now: Instant) -> Duration {
        self.reset_at
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    fn unused(&self, now: Instant) -> u32 {
        self.blocks
            .iter()
            .filter(|b| b.until > now)
            .map(|b| u32::try_from(b.members.len()).unwrap_or(u32::MAX))
            .fold(0, u32::saturating_add)
    }

    /// The block to ask for with the next round trip: half as many as the workspace
    /// used in one `hold` lately, once no more than half of that is left (so a block of 2
    /// is asked for with one left, and the workspace's next request need not wait for
    /// it: with 32 workspaces a page of 50 lost 17% with Redis on a core of its own when
    /// blocks were asked for only with none left, 12% so); 0 for none.
    /// A block that lasts half its hold is used up before it expires even when it is
    /// handed out only after the one before it, so no entries need taking back.
    pub fn wanted(&mut self, now: Instant, policy: &LeasePolicy) -> u32 {
        if policy.max_block == 0 {
            return 0;
        }
        if self.pause_until.is_some_and(|t| now < t) {
            return 0;
        }
        self.rate.roll(now, policy.hold);
        let k = (self.rate.per_period() / 2).min(policy.max_block);
        if k < MIN_BLOCK || self.unused(now) > k / 2 {
            0
        } else {
            k
        }
    }

    /// What a round trip reported, and the block it granted (`members` may be empty:
    /// none was asked for, or Redis refused one, and then none is asked for until `until`).
    pub fn granted(&mut self, id: u64, until: Instant, grant: Grant) {
        self.remaining = grant.remaining;
        self.reset_at = Some(grant.reset_at);
        if !grant.members.is_empty() {
            self.blocks.push_back(Block {
                id,
                until,
                members: grant.members,
            });
        } else if grant.asked {
            self.pause(until);
        }
    }

    /// Asks for no block until `until` (the round trip for one failed).
    pub fn pause(&mut self, until: Instant) {
        self.pause_until = Some(until);
    }

    /// Removes an expired block, returning its unused members.
    pub fn expire(&mut self, id: u64) -> Vec<Member> {
        match self.blocks.iter().position(|b| b.id == id) {
            Some(i) => self.blocks.remove(i).map(|b| b.members).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Nothing here is worth keeping: no blocks, and no request in this period or the
    /// one before (a workspace's rate must build up across requests to earn a block).
    pub fn is_idle(&mut self, now: Instant, policy: &LeasePolicy) -> bool {
        self.rate.roll(now, policy.hold);
        self.blocks.is_empty() && self.rate.per_period() == 0
    }
}

/// Requests per period: the one running and the one before it.
#[derive(Default)]
struct Rate {
    start: Option<Instant>,
    current: u32,
    previous: u32,
}

impl Rate {
    fn roll(&mut self, now: Instant, period: Duration) {
        match self.start {
            Some(s) if now.saturating_duration_since(s) < period => {}
            Some(s) => {
                let gap = now.saturating_duration_since(s);
                self.previous = if gap < period * 2 { self.current } else { 0 };
                self.current = 0;
                self.start = Some(now);
            }
            None => self.start = Some(now),
        }
    }

    fn per_period(&self) -> u32 {
        self.previous.max(self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(limit: u32, window_ms: u64) -> RateLimitConfig {
        RateLimitConfig {
            limit,
            window: Duration::from_millis(window_ms),
        }
    }

    fn members(n: u8) -> Vec<Member> {
        (0..n).map(|i| [i; 12]).collect()
    }

    #[test]
    fn small_limits_get_no_blocks() {
        assert_eq!(LeasePolicy::new(cfg(100, 60_000)).max_block, 0);
        assert_eq!(
            LeasePolicy::new(cfg(100, 60_000)).extra_ttl(),
            Duration::ZERO
        );
        assert_eq!(LeasePolicy::new(cfg(511, 60_000)).max_block, 0);
        assert_eq!(LeasePolicy::new(cfg(512, 60_000)).max_block, 8);
        let p = LeasePolicy::new(cfg(1200, 600_000));
        assert_eq!((p.max_block, p.hold), (18, Duration::from_millis(100)));
        let p = LeasePolicy::new(cfg(1_000_000, 40));
        assert_eq!((p.max_block, p.hold), (64, Duration::from_millis(5)));
    }

    #[test]
    fn the_next_block_is_asked_for_before_this_one_runs_out() {
        let p = LeasePolicy::new(cfg(100_000, 60_000));
        let t = Instant::now();
        let mut r = busy(4, t, &p);
        assert_eq!(r.wanted(t, &p), 2);
        r.granted(1, t + p.hold, grant(members(2), 900, t + p.hold));
        assert_eq!(r.wanted(t, &p), 0, "a whole block is left");
        assert!(r.take(t).is_some());
        assert_eq!(r.wanted(t, &p), 2, "one of two left: the next is asked for");
    }

    #[test]
    fn blocks_are_wanted_only_by_busy_workspaces() {
        let p = LeasePolicy::new(cfg(100_000, 60_000));
        let t = Instant::now();
        let mut r = busy(3, t, &p);
        assert_eq!(r.wanted(t, &p), 0, "3 requests a period are too few");
        r.note_request(t, &p);
        assert_eq!(r.wanted(t, &p), 2);
        // The rate carries into the next period, then fades.
        assert_eq!(r.wanted(t + p.hold, &p), 2);
        assert!(!r.is_idle(t + p.hold, &p));
        assert_eq!(r.wanted(t + p.hold * 4, &p), 0);
        assert!(r.is_idle(t + p.hold * 4, &p));
    }

    #[test]
    fn members_are_handed_out_until_the_block_expires() {
        let p = LeasePolicy::new(cfg(100_000, 60_000));
        let t = Instant::now();
        let mut r = busy(20, t, &p);
        r.granted(
            1,
            t + p.hold,
            grant(members(3), 500, t + Duration::from_secs(9)),
        );
        assert_eq!(r.take(t).map(|(_, rem)| rem), Some(502));
        assert_eq!(r.reset_after(t), Duration::from_secs(9));
        // Two left of a block of 3: another is wanted (less than half of 10 left).
        assert_eq!(r.wanted(t, &p), 10);
        assert_eq!(
            r.take(t + p.hold),
            None,
            "an expired block hands out nothing"
        );
        assert_eq!(r.expire(1).len(), 2, "its unused members go back");
        assert!(r.expire(1).is_empty());
        r.granted(2, t + p.hold, grant(members(1), 7, t));
        assert_eq!(r.take(t).map(|(_, rem)| rem), Some(7));
        assert!(r.expire(2).is_empty(), "a used-up block is gone at once");
    }

    #[test]
    fn a_refused_block_is_not_asked_for_again_at_once() {
        let p = LeasePolicy::new(cfg(100_000, 60_000));
        let t = Instant::now();
        let mut r = busy(20, t, &p);
        r.granted(1, t + p.hold, grant(Vec::new(), 10, t));
        assert_eq!(r.wanted(t, &p), 0);
        assert_eq!(r.wanted(t + p.hold, &p), 10);
    }

    /// A workspace's reserve after `n` requests at `t`.
    fn busy(n: u32, t: Instant, p: &LeasePolicy) -> Reserve {
        let mut r = Reserve::default();
        for _ in 0..n {
            r.note_request(t, p);
        }
        r
    }

    fn grant(members: Vec<Member>, remaining: u32, reset_at: Instant) -> Grant {
        Grant {
            members,
            asked: true,
            remaining,
            reset_at,
        }
    }
}
