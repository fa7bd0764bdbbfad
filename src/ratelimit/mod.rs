//! Per-workspace sliding-log rate limiting (issue #3).
//!
//! A workspace may make at most `limit` requests in any `window` (default
//! 1200 per 600 s), counted across all of its tokens. Each admitted request is
//! logged with its timestamp; a request is admitted when fewer than `limit`
//! logged requests are younger than `window`. Denied requests are not logged, so
//! a client that keeps retrying is admitted as soon as the oldest entry expires.
//!
//! One type, [`Limiter`], with two stores:
//! - **in-process** ([`Limiter::in_process`]): the embedded default, exact for a
//!   single instance;
//! - **Redis** ([`Limiter::connect`] with a URL): one sorted set per workspace
//!   (`crm-odata:rl:<id>`), scored by the Redis server's clock and updated by one
//!   atomic Lua script, so any number of instances enforce one limit together.
//!   Concurrent requests, of all workspaces, share a round trip, and a workspace that is
//!   busy on this instance (with a limit large enough, 512 or more) reserves small
//!   blocks of admissions ahead in the same calls, handed out without a round trip
//!   (`lease`): never more than the limit, at the price of another instance being
//!   denied, briefly, a slot this one reserved and did not use.
//!
//! # When Redis is down or slow
//!
//! Every Redis round trip is bounded (50 ms by default; `RATE_LIMIT_REDIS_TIMEOUT`
//! overrides it). On an error or timeout the limiter logs one warning for the
//! outage and decides in-process; while the outage lasts, at most one request per
//! second tries Redis again, and the first success switches back (logged at
//! info). The in-process log also records the requests Redis admitted, so a
//! fallback starts from this instance's recent traffic rather than from zero.
//! A bound this tight also trips when this process is starved of CPU, not only
//! when Redis is slow: the instance then limits alone until the next probe.
//!
//! The trade-off is chosen with `fail_closed`:
//! - **fail-open** (default): the API keeps serving. During an outage each
//!   instance limits alone, so across N instances a workspace can get up to
//!   N × `limit` requests per window; requests admitted locally are not copied to
//!   Redis afterwards, so the first window after recovery can also exceed the limit.
//!   Availability wins over exactness.
//! - **fail-closed**: [`Limiter::check`] returns [`LimiterUnavailable`] while
//!   Redis is unreachable (the HTTP layer answers 503 with `Retry-After`). The
//!   limit is never exceeded, but a Redis outage becomes an API outage.
//!
//! Without a Redis URL there is nothing to fail, and `check` never errors.

mod config;
mod decision;
mod fallback;
mod lease;
mod local;
mod redis;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use self::config::{parse_duration, RateLimitConfig, RedisOptions, REDIS_TIMEOUT_ENV};
pub use self::decision::{Decision, POLICY_NAME};
pub use self::local::InProcess;
pub use self::redis::StoreError;

pub(crate) use self::decision::ceil_secs;
use self::fallback::Outage;
use self::redis::RedisStore;

/// Admission failed and the limiter is configured to fail closed.
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable")]
pub struct LimiterUnavailable {
    pub retry_after: Duration,
}

impl LimiterUnavailable {
    /// `Retry-After` for the 503: whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after).max(1)
    }
}

/// What it takes to undo one admission ([`Limiter::refund`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Nothing was recorded (a denial).
    None,
    /// The newest entry of the workspace's in-process log.
    Local,
    /// This member of the workspace's log in Redis.
    Redis(redis::Member),
}

impl Receipt {
    /// For a decision of the in-process log: its newest entry, when it admitted.
    fn local(d: &Decision) -> Self {
        if d.allowed {
            Receipt::Local
        } else {
            Receipt::None
        }
    }
}

/// Which store made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// No shared store is configured.
    InProcess = 0,
    /// The shared Redis store.
    Redis = 1,
    /// Redis is configured but unavailable; decided in-process.
    Fallback = 2,
}

/// Decisions counted per store and outcome (for `/metrics`).
#[derive(Debug, Default)]
struct Tally([[AtomicU64; 3]; 3]);

const STORES: [&str; 3] = ["in_process", "redis", "fallback"];
const OUTCOMES: [&str; 3] = ["admitted", "denied", "unavailable"];

impl Tally {
    fn count(&self, decided: &Result<(Decision, Source, Receipt), LimiterUnavailable>) {
        let (store, outcome) = match decided {
            Ok((d, source, _)) => (*source as usize, usize::from(!d.allowed)),
            // Only an unavailable Redis fails closed.
            Err(_) => (Source::Fallback as usize, 2),
        };
        if let Some(n) = self.0.get(store).and_then(|row| row.get(outcome)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> DecisionCounts {
        DecisionCounts(
            self.0
                .each_ref()
                .map(|row| row.each_ref().map(|n| n.load(Ordering::Relaxed))),
        )
    }
}

/// A snapshot of the decisions counted so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCounts([[u64; 3]; 3]);

impl DecisionCounts {
    /// (store, outcome, count) for every store and outcome.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        STORES.iter().zip(&self.0).flat_map(|(store, row)| {
            OUTCOMES
                .iter()
                .zip(row)
                .map(move |(outcome, n)| (*store, *outcome, *n))
        })
    }
}

pub struct Limiter {
    tally: Tally,
    config: RateLimitConfig,
    local: InProcess,
    shared: Option<Shared>,
    fail_closed: bool,
}

struct Shared {
    store: std::sync::Arc<RedisStore>,
    outage: Outage,
    /// Requests admitted in-process during an outage, per workspace, to be added to the
    /// workspace's log in Redis once it is back: otherwise a workspace that used its
    /// limit during the outage would get a whole new one when Redis returns.
    pending: std::sync::Mutex<foldhash::HashMap<i64, Vec<Instant>>>,
    has_pending: std::sync::atomic::AtomicBool,
}

/// Workspaces whose outage admissions are kept for Redis; beyond this, new ones are not.
const PENDING_ENTRIES: usize = 100_000;

impl Limiter {
    pub fn in_process(config: RateLimitConfig) -> Self {
        Self {
            tally: Tally::default(),
            config,
            local: InProcess::new(config),
            shared: None,
            fail_closed: false,
        }
    }

    /// A Redis-backed limiter when `redis_url` is given, else in-process.
    /// Each Redis round trip is bounded by `RATE_LIMIT_REDIS_TIMEOUT` (default 50 ms).
    ///
    /// Never fails: if Redis cannot be reached now, the limiter starts in
    /// fallback (or, with `fail_closed`, refusing) and keeps retrying.
    pub async fn connect(
        config: RateLimitConfig,
        redis_url: Option<&str>,
        fail_closed: bool,
    ) -> Self {
        Self::connect_with(config, redis_url, fail_closed, RedisOptions::from_env()).await
    }

    /// [`Limiter::connect`] with explicit timeouts and key prefix.
    pub async fn connect_with(
        config: RateLimitConfig,
        redis_url: Option<&str>,
        fail_closed: bool,
        options: RedisOptions,
    ) -> Self {
        let Some(url) = redis_url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Self::in_process(config);
        };
        let shared = Shared {
            pending: Default::default(),
            has_pending: Default::default(),
            outage: Outage::new(options.retry_interval),
            store: std::sync::Arc::new(RedisStore::new(config, url, options)),
        };
        match shared.store.ping().await {
            Ok(()) => tracing::info!(limit = %config, "rate limiter: using Redis"),
            Err(e) => shared.outage.mark_down(&e),
        }
        Self {
            tally: Tally::default(),
            config,
            local: InProcess::new(config),
            shared: Some(shared),
            fail_closed,
        }
    }

    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    /// Whether decisions are currently meant to come from Redis.
    pub fn source(&self) -> Source {
        match &self.shared {
            None => Source::InProcess,
            Some(s) if s.outage.is_down() => Source::Fallback,
            Some(_) => Source::Redis,
        }
    }

    /// The Redis key holding `workspace_id`'s log, if Redis is configured.
    pub fn redis_key(&self, workspace_id: i64) -> Option<String> {
        self.shared.as_ref().map(|s| s.store.key(workspace_id))
    }

    /// Whether decisions come from Redis (a network round trip), not from this process.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Whether a read of `workspace_id` may start its work while its Redis round trip is
    /// in flight. The decision is Redis's either way, and a denied read is answered 429
    /// with its work discarded; overlapping only hides the round trip. It is allowed
    /// while this instance last saw plenty of room in the window (more than a quarter
    /// of the limit, at least 32), so reads are almost never done for nothing.
    pub fn can_overlap(&self, workspace_id: i64) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        if shared.outage.is_down() {
            return false;
        }
        let margin = (self.config.limit / 4).max(32);
        shared
            .store
            .last_remaining(workspace_id)
            .is_some_and(|r| r > margin)
    }

    /// Checks and, when admitted, records one request of `workspace_id`.
    pub async fn check(&self, workspace_id: i64) -> Result<Decision, LimiterUnavailable> {
        self.check_with_source(workspace_id).await.map(|(d, _)| d)
    }

    /// [`Limiter::check`], also telling which store decided.
    pub async fn check_with_source(
        &self,
        workspace_id: i64,
    ) -> Result<(Decision, Source), LimiterUnavailable> {
        self.check_with_receipt(workspace_id)
            .await
            .map(|(d, s, _)| (d, s))
    }

    /// [`Limiter::check_with_source`], with what [`Limiter::refund`] needs to take the
    /// admission back (for a request whose token turns out not to hold).
    pub async fn check_with_receipt(
        &self,
        workspace_id: i64,
    ) -> Result<(Decision, Source, Receipt), LimiterUnavailable> {
        let decided = self.decide(workspace_id).await;
        self.tally.count(&decided);
        decided
    }

    /// How many decisions each store has made, by outcome, since the start.
    pub fn decision_counts(&self) -> DecisionCounts {
        self.tally.snapshot()
    }

    async fn decide(
        &self,
        workspace_id: i64,
    ) -> Result<(Decision, Source, Receipt), LimiterUnavailable> {
        let Some(shared) = &self.shared else {
            let d = self.local.check(workspace_id);
            return Ok((d, Source::InProcess, Receipt::local(&d)));
        };
        // During an outage only the probe may switch back: a slow call that began
        // before the outage and then succeeds must not end it, or an intermittently
        // slow Redis would log a warning per request instead of per outage.
        let probing = shared.outage.is_down();
        if probing && !shared.outage.claim_probe() {
            return self.fallback(shared, workspace_id);
        }
        if !probing {
            self.replay_pending(shared, workspace_id).await;
        }
        let mut result = shared.store.check(workspace_id).await;
        // Each worker thread has its own connection. After Redis restarts, the first
        // request on a thread whose connection the restart dropped fails while the
        // connection is re-established; one retry keeps that from starting a new outage.
        if !probing
            && result
                .as_ref()
                .is_err_and(StoreError::is_dropped_connection)
        {
            result = shared.store.check(workspace_id).await;
        }
        match result {
            Ok((d, member)) => {
                if probing {
                    shared.outage.mark_up();
                }
                if d.allowed {
                    self.local.record_at(workspace_id, Instant::now());
                }
                Ok((
                    d,
                    Source::Redis,
                    member.map_or(Receipt::None, Receipt::Redis),
                ))
            }
            Err(e) => {
                shared.outage.mark_down(&e);
                self.fallback(shared, workspace_id)
            }
        }
    }

    fn fallback(
        &self,
        shared: &Shared,
        workspace_id: i64,
    ) -> Result<(Decision, Source, Receipt), LimiterUnavailable> {
        if self.fail_closed {
            // Whole seconds, so a `Retry-After` written from it is never early.
            let wait = ceil_secs(shared.outage.until_next_probe()).max(1);
            return Err(LimiterUnavailable {
                retry_after: Duration::from_secs(wait),
            });
        }
        let d = self.local.check(workspace_id);
        if d.allowed {
            self.note_pending(shared, workspace_id, Instant::now());
        }
        Ok((d, Source::Fallback, Receipt::local(&d)))
    }

    /// Takes back the admission `receipt` stands for: the request it admitted turned out
    /// not to be authenticated, and such a request never counts. Best effort against
    /// Redis (bounded by its timeout; a failure leaves the one entry to age out).
    pub async fn refund(&self, workspace_id: i64, receipt: Receipt) {
        match receipt {
            Receipt::None => {}
            Receipt::Local => {
                self.local.forget_latest(workspace_id);
                if let Some(shared) = &self.shared {
                    let mut pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(log) = pending.get_mut(&workspace_id) {
                        log.pop();
                    }
                }
            }
            Receipt::Redis(member) => {
                self.local.forget_latest(workspace_id);
                if let Some(shared) = &self.shared {
                    if let Err(e) = shared.store.remove(workspace_id, member).await {
                        tracing::debug!(error = %e, "rate limiter: an admission was not taken back");
                    }
                }
            }
        }
    }

    /// Remembers an in-process admission for Redis (within bounds: as many workspaces
    /// as `PENDING_ENTRIES`, and per workspace only what is still in the window).
    fn note_pending(&self, shared: &Shared, workspace_id: i64, at: Instant) {
        let mut pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= PENDING_ENTRIES && !pending.contains_key(&workspace_id) {
            return;
        }
        let log = pending.entry(workspace_id).or_default();
        log.retain(|t| at.saturating_duration_since(*t) < self.config.window);
        log.push(at);
        shared
            .has_pending
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Adds this workspace's outage admissions to its log in Redis, dated by their age,
    /// before Redis decides again. Kept for a later attempt if Redis fails meanwhile.
    async fn replay_pending(&self, shared: &Shared, workspace_id: i64) {
        use std::sync::atomic::Ordering;
        if !shared.has_pending.load(Ordering::Acquire) {
            return;
        }
        let taken = {
            let mut pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
            let taken = pending.remove(&workspace_id);
            if pending.is_empty() {
                shared.has_pending.store(false, Ordering::Release);
            }
            taken
        };
        let Some(admitted) = taken else {
            return;
        };
        let now = Instant::now();
        let ages: Vec<Duration> = admitted
            .iter()
            .map(|t| now.saturating_duration_since(*t))
            .filter(|age| *age < self.config.window)
            .collect();
        if ages.is_empty() {
            return;
        }
        if let Err(e) = shared.store.replay(workspace_id, &ages).await {
            tracing::debug!(error = %e, "rate limiter: outage admissions not yet copied to Redis");
            for t in admitted {
                self.note_pending(shared, workspace_id, t);
            }
        }
    }
}
