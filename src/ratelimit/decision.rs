//! The outcome of one admission check and the response headers derived from it.

use std::time::Duration;

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

/// Name of the single quota policy in `RateLimit-Policy` / `RateLimit`.
pub const POLICY_NAME: &str = "workspace";

/// Whole seconds, rounded up: a client waiting this long is never early.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Decision {
    /// Seconds until the oldest admitted request leaves the window (rounded up).
    pub fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset_after)
    }

    /// Value of `Retry-After` for a denied request: whole seconds until a slot
    /// frees up, at least 1 (0 would invite an immediate, pointless retry).
    pub fn retry_after_secs(&self) -> u64 {
        self.reset_secs().max(1)
    }

    /// Every rate-limit response header for this decision.
    ///
    /// `RateLimit-Policy` and `RateLimit` follow draft-ietf-httpapi-ratelimit-headers-11
    /// (structured-field lists of named policies: `"workspace";q=1200;w=600` and
    /// `"workspace";r=17;t=42`); the `X-RateLimit-*` trio is the de-facto form
    /// older clients read. `Retry-After` is added only when the request was denied.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        // The draft allows only whole, non-zero seconds for the window.
        let window = ceil_secs(self.window).max(1);
        let reset = self.reset_secs();
        let mut h = vec![
            (
                "RateLimit-Policy",
                format!("\"{POLICY_NAME}\";q={};w={window}", self.limit),
            ),
            (
                "RateLimit",
                format!("\"{POLICY_NAME}\";r={};t={reset}", self.remaining),
            ),
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", reset.to_string()),
        ];
        if !self.allowed {
            h.push(("Retry-After", self.retry_after_secs().to_string()));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(allowed: bool, remaining: u32, reset_ms: u64) -> Decision {
        Decision {
            allowed,
            limit: 1200,
            remaining,
            window: Duration::from_secs(600),
            reset_after: Duration::from_millis(reset_ms),
        }
    }

    #[test]
    fn allowed_headers() {
        let h = d(true, 17, 41_200).headers();
        assert_eq!(
            h,
            vec![
                ("RateLimit-Policy", "\"workspace\";q=1200;w=600".to_owned()),
                ("RateLimit", "\"workspace\";r=17;t=42".to_owned()),
                ("X-RateLimit-Limit", "1200".to_owned()),
                ("X-RateLimit-Remaining", "17".to_owned()),
                ("X-RateLimit-Reset", "42".to_owned()),
            ]
        );
    }

    #[test]
    fn denied_headers_carry_retry_after() {
        let h = d(false, 0, 2_001).headers();
        assert!(h.contains(&("Retry-After", "3".to_owned())));
        assert!(h.contains(&("RateLimit", "\"workspace\";r=0;t=3".to_owned())));
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(d(false, 0, 0).retry_after_secs(), 1);
        assert_eq!(d(false, 0, 1).retry_after_secs(), 1);
        assert_eq!(d(false, 0, 1000).retry_after_secs(), 1);
        assert_eq!(d(false, 0, 1001).retry_after_secs(), 2);
    }

    #[test]
    fn sub_second_window_reports_one_second() {
        let mut x = d(true, 1, 100);
        x.window = Duration::from_millis(250);
        assert_eq!(x.headers()[0].1, "\"workspace\";q=1200;w=1");
    }
}
