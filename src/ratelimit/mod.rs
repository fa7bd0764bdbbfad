//! Per-workspace sliding-log rate limiting. One interface (`Limiter`), an in-process
//! implementation for the embedded default and a Redis one shared by every instance.

use std::collections::{HashMap, VecDeque};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `limit` requests per sliding `window`, parsed from e.g. `1200/600s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub limit: u32,
    pub window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limit: 1200,
            window: Duration::from_secs(600),
        }
    }
}

impl FromStr for RateLimitConfig {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, w) = s
            .split_once('/')
            .ok_or_else(|| format!("rate limit `{s}`: expected LIMIT/WINDOW, e.g. 1200/600s"))?;
        let limit: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("rate limit `{s}`: `{n}` is not a whole number"))?;
        let w = w.trim();
        let (digits, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
        let v: u64 = digits
            .parse()
            .map_err(|_| format!("rate limit `{s}`: bad window `{w}`"))?;
        let window = match unit {
            "" | "s" => Duration::from_secs(v),
            "ms" => Duration::from_millis(v),
            "m" => Duration::from_secs(v * 60),
            "h" => Duration::from_secs(v * 3600),
            _ => {
                return Err(format!(
                    "rate limit `{s}`: unknown unit `{unit}` (use ms, s, m or h)"
                ))
            }
        };
        if limit == 0 || window.is_zero() {
            return Err(format!(
                "rate limit `{s}`: limit and window must be positive"
            ));
        }
        Ok(Self { limit, window })
    }
}

/// The outcome of one admission check, enough to write every rate-limit header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub window: Duration,
    /// Until the oldest admitted request leaves the window.
    pub reset_after: Duration,
}

/// Admission failed and the limiter is configured to fail closed.
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable")]
pub struct LimiterUnavailable {
    pub retry_after: Duration,
}

pub struct Limiter {
    config: RateLimitConfig,
    local: InProcess,
}

impl Limiter {
    pub fn in_process(config: RateLimitConfig) -> Self {
        Self {
            config,
            local: InProcess::default(),
        }
    }

    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    /// Checks and, when admitted, records one request of `workspace_id`.
    pub async fn check(&self, workspace_id: i64) -> Result<Decision, LimiterUnavailable> {
        Ok(self.local.check(workspace_id, self.config, Instant::now()))
    }
}

#[derive(Default)]
struct InProcess {
    logs: Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl InProcess {
    fn check(&self, ws: i64, cfg: RateLimitConfig, now: Instant) -> Decision {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = logs.entry(ws).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= cfg.window)
        {
            log.pop_front();
        }
        let allowed = (log.len() as u32) < cfg.limit;
        if allowed {
            log.push_back(now);
        }
        let reset_after = log
            .front()
            .map(|t| cfg.window.saturating_sub(now.duration_since(*t)))
            .unwrap_or_default();
        Decision {
            allowed,
            limit: cfg.limit,
            remaining: cfg.limit.saturating_sub(log.len() as u32),
            window: cfg.window,
            reset_after,
        }
    }
}
