//! Limiter configuration: the policy (`1200/600s`) and the Redis tuning knobs.

use std::str::FromStr;
use std::time::Duration;

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

impl std::fmt::Display for RateLimitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.window.subsec_millis() == 0 {
            write!(f, "{}/{}s", self.limit, self.window.as_secs())
        } else {
            write!(f, "{}/{}ms", self.limit, self.window.as_millis())
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
        let window = parse_duration(w).map_err(|e| format!("rate limit `{s}`: {e}"))?;
        if limit == 0 || window.is_zero() {
            return Err(format!(
                "rate limit `{s}`: limit and window must be positive"
            ));
        }
        // Scores are microseconds in a Lua double; keep the window far below 2^53 µs.
        if window > Duration::from_secs(366 * 24 * 3600) {
            return Err(format!("rate limit `{s}`: window `{w}` is too large"));
        }
        Ok(Self { limit, window })
    }
}

/// `250ms`, `2s`, `10m`, `1h`; a bare number is seconds.
pub fn parse_duration(w: &str) -> Result<Duration, String> {
    let (digits, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
    let v: u64 = digits.parse().map_err(|_| format!("bad duration `{w}`"))?;
    let overflow = || format!("duration `{w}` is too large");
    match unit {
        "" | "s" => Ok(Duration::from_secs(v)),
        "ms" => Ok(Duration::from_millis(v)),
        "m" => Ok(Duration::from_secs(v.checked_mul(60).ok_or_else(overflow)?)),
        "h" => Ok(Duration::from_secs(
            v.checked_mul(3600).ok_or_else(overflow)?,
        )),
        _ => Err(format!(
            "unknown unit `{unit}` in `{w}` (use ms, s, m or h)"
        )),
    }
}

/// Environment variable bounding each Redis round trip (default `50ms`).
pub const REDIS_TIMEOUT_ENV: &str = "RATE_LIMIT_REDIS_TIMEOUT";

/// Tuning of the shared (Redis) limiter. The defaults suit production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Bound on each Redis round trip; past it the request is decided in-process.
    pub timeout: Duration,
    /// During an outage, how often one request may try Redis again.
    pub retry_interval: Duration,
    /// Bound on establishing a TCP connection (runs in the background of requests).
    pub connect_timeout: Duration,
    /// Key prefix; the workspace id is appended (`crm-odata:rl:42`).
    pub key_prefix: String,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(50),
            retry_interval: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            key_prefix: "crm-odata:rl:".to_owned(),
        }
    }
}

impl RedisOptions {
    /// The defaults, with the round-trip bound from `RATE_LIMIT_REDIS_TIMEOUT`
    /// (e.g. `100ms`) when set; an unusable value is logged and ignored.
    pub fn from_env() -> Self {
        let mut o = Self::default();
        if let Ok(v) = std::env::var(REDIS_TIMEOUT_ENV) {
            match parse_duration(v.trim()) {
                Ok(d) if !d.is_zero() => o.timeout = d,
                Ok(_) => tracing::warn!(
                    "{REDIS_TIMEOUT_ENV} must be positive; using {:?}",
                    o.timeout
                ),
                Err(e) => tracing::warn!("{REDIS_TIMEOUT_ENV}: {e}; using {:?}", o.timeout),
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let c: RateLimitConfig = "1200/600s".parse().unwrap();
        assert_eq!(c, RateLimitConfig::default());
        assert_eq!(
            "5/2".parse::<RateLimitConfig>().unwrap().window,
            Duration::from_secs(2)
        );
        assert_eq!(
            "5/250ms".parse::<RateLimitConfig>().unwrap().window,
            Duration::from_millis(250)
        );
        assert_eq!(
            " 10 / 10m ".parse::<RateLimitConfig>().unwrap(),
            RateLimitConfig {
                limit: 10,
                window: Duration::from_secs(600)
            }
        );
        assert_eq!(
            "1/1h".parse::<RateLimitConfig>().unwrap().window,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "1200",
            "0/600s",
            "10/0s",
            "x/10s",
            "10/10d",
            "10/s",
            "-1/10s",
            "10/99999999999999999h",
            "10/10000h",
        ] {
            assert!(bad.parse::<RateLimitConfig>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("2d").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["1200/600s", "5/250ms"] {
            let c: RateLimitConfig = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
            assert_eq!(c.to_string().parse::<RateLimitConfig>().unwrap(), c);
        }
    }
}
