//! The shared limiter: one sorted set per workspace in Redis, updated by one Lua script.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use super::{Decision, RateLimitConfig, RedisOptions};

/// Trim, count and (when under the limit) add, atomically.
///
/// Scores are microseconds from the Redis server's `TIME`, so instances with
/// skewed clocks still agree on the window. Denied requests are not added, so a
/// retrying client gets in as soon as the window slides. The key expires one
/// window after the last admission: an idle workspace costs nothing.
/// Returns {allowed, count in window (after adding), oldest score, now}.
const SCRIPT: &str = r"
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  count = count + 1
  allowed = 1
end
local oldest = now
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if first[2] then oldest = tonumber(first[2]) end
return {allowed, count, oldest, now}
";

/// Why a Redis check did not produce a decision.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("redis returned an unexpected reply: {0}")]
    Reply(String),
    #[error("redis url is invalid: {0}")]
    BadUrl(String),
}

pub struct RedisStore {
    config: RateLimitConfig,
    options: RedisOptions,
    manager: Option<ConnectionManager>,
    bad_url: Option<String>,
    script: Script,
    /// Members must be unique per admission; instance + sequence is, without a round trip.
    instance: u64,
    seq: AtomicU64,
}

impl RedisStore {
    /// Never connects eagerly and never fails: a bad URL is reported on every check.
    pub fn new(config: RateLimitConfig, url: &str, options: RedisOptions) -> Self {
        let (manager, bad_url) = match Self::manager(url, &options) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Self {
            config,
            options,
            manager,
            bad_url,
            script: Script::new(SCRIPT),
            instance: rand::random(),
            seq: AtomicU64::new(0),
        }
    }

    fn manager(url: &str, o: &RedisOptions) -> Result<ConnectionManager, RedisError> {
        let client = Client::open(url)?;
        // No retries inside the manager: during an outage the limiter itself paces
        // the attempts (one per retry interval), and a failed attempt must fail fast.
        let cfg = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(o.connect_timeout))
            .set_response_timeout(Some(o.timeout));
        ConnectionManager::new_lazy_with_config(client, cfg)
    }

    /// 12 bytes: a 48-bit random instance id and a 48-bit sequence. Kept this
    /// short on purpose: Redis then allocates the member in its 16-byte class,
    /// ~12% less memory per saturated workspace than a 20-character text id.
    fn member(&self) -> [u8; 12] {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut m = [0u8; 12];
        m[..6].copy_from_slice(&self.instance.to_be_bytes()[2..]);
        m[6..].copy_from_slice(&seq.to_be_bytes()[2..]);
        m
    }

    pub fn key(&self, ws: i64) -> String {
        format!("{}{ws}", self.options.key_prefix)
    }

    /// One atomic round trip, bounded by the configured timeout.
    pub async fn check(&self, ws: i64) -> Result<Decision, StoreError> {
        let Some(manager) = &self.manager else {
            return Err(StoreError::BadUrl(self.bad_url.clone().unwrap_or_default()));
        };
        let mut con = manager.clone();
        let window_us = u64::try_from(self.config.window.as_micros()).unwrap_or(u64::MAX);
        let member = self.member();
        let mut inv = self.script.key(self.key(ws));
        inv.arg(self.config.limit).arg(window_us).arg(&member[..]);
        let reply: Vec<i64> =
            tokio::time::timeout(self.options.timeout, inv.invoke_async(&mut con))
                .await
                .map_err(|_| StoreError::Timeout(self.options.timeout))??;
        let &[allowed, count, oldest, now] = reply.as_slice() else {
            return Err(StoreError::Reply(format!("{reply:?}")));
        };
        let elapsed_us = u64::try_from(now.saturating_sub(oldest)).unwrap_or(0);
        let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
        Ok(Decision {
            allowed: allowed == 1,
            limit: self.config.limit,
            remaining: self.config.limit.saturating_sub(count),
            window: self.config.window,
            reset_after: self
                .config
                .window
                .saturating_sub(Duration::from_micros(elapsed_us)),
        })
    }

    /// A cheap liveness check (used once at start to log the initial state).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let Some(manager) = &self.manager else {
            return Err(StoreError::BadUrl(self.bad_url.clone().unwrap_or_default()));
        };
        let mut con = manager.clone();
        let cmd = redis::cmd("PING");
        let pong: String = tokio::time::timeout(self.options.timeout, cmd.query_async(&mut con))
            .await
            .map_err(|_| StoreError::Timeout(self.options.timeout))??;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Reply(pong))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn members_are_short_and_unique() {
        let cfg = RateLimitConfig::default();
        let a = RedisStore::new(cfg, "redis://127.0.0.1:1/", RedisOptions::default());
        let b = RedisStore::new(cfg, "redis://127.0.0.1:1/", RedisOptions::default());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.member()));
            assert!(seen.insert(b.member()));
        }
        assert_eq!(a.key(-5), "crm-odata:rl:-5");
    }
}
