//! Rate limiting at the HTTP edge: one check per authenticated request, headers on
//! every authenticated response.

use super::error::ApiError;
use crate::ratelimit::{ceil_secs, Decision, Limiter, LimiterUnavailable, POLICY_NAME};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpResponse;
use std::cell::RefCell;

pub async fn admit(limiter: &Limiter, workspace_id: i64) -> Result<Decision, ApiError> {
    decided(limiter.check(workspace_id).await)
}

/// A limiter's answer as the request's admission or its refusal.
pub fn decided(checked: Result<Decision, LimiterUnavailable>) -> Result<Decision, ApiError> {
    match checked {
        Ok(d) if d.allowed => Ok(d),
        Ok(d) => Err(ApiError::RateLimited(d)),
        Err(e) => Err(ApiError::LimiterUnavailable(e.retry_after)),
    }
}

/// The answer to a request the limiter did not admit: 429 with the window's headers, or
/// the 503 of an unavailable limiter that fails closed.
pub fn refusal(e: &ApiError, xml: bool) -> HttpResponse {
    let mut resp = e.response(xml);
    if let ApiError::RateLimited(d) = e {
        add_headers(&mut resp, d);
    }
    resp
}

/// The names [`Decision::headers`] gives, prepared once: parsing a mixed-case name
/// lowercases and allocates it, on every response.
static NAMES: [HeaderName; 6] = [
    HeaderName::from_static("ratelimit-policy"),
    HeaderName::from_static("ratelimit"),
    HeaderName::from_static("x-ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-reset"),
    HeaderName::from_static("retry-after"),
];

/// `RateLimit-Policy` and `X-RateLimit-Limit` for one (limit, window).
type Fixed = ((u32, u64), HeaderValue, HeaderValue);

thread_local! {
    /// Those of the last (limit, window) seen: the configuration's, the same on every
    /// response.
    static FIXED: RefCell<Option<Fixed>> = const { RefCell::new(None) };
}

/// Writes the values [`Decision::headers`] describes (a test holds them equal), without
/// formatting the ones that never change.
pub fn add_headers(resp: &mut HttpResponse, d: &Decision) {
    let window = ceil_secs(d.window).max(1);
    let reset = d.reset_secs();
    let (policy, limit) = FIXED.with_borrow_mut(|fixed| match fixed {
        Some((key, p, l)) if *key == (d.limit, window) => (p.clone(), l.clone()),
        _ => {
            let p = header_value(format!("\"{POLICY_NAME}\";q={};w={window}", d.limit));
            let l = HeaderValue::from(d.limit);
            *fixed = Some(((d.limit, window), p.clone(), l.clone()));
            (p, l)
        }
    });
    let mut numbers = itoa::Buffer::new();
    let mut now = String::with_capacity(40);
    now.push('"');
    now.push_str(POLICY_NAME);
    now.push_str("\";r=");
    now.push_str(numbers.format(d.remaining));
    now.push_str(";t=");
    now.push_str(numbers.format(reset));
    let h = resp.headers_mut();
    h.insert(NAMES[0].clone(), policy);
    h.insert(NAMES[1].clone(), header_value(now));
    h.insert(NAMES[2].clone(), limit);
    h.insert(NAMES[3].clone(), HeaderValue::from(d.remaining));
    h.insert(NAMES[4].clone(), HeaderValue::from(reset));
    if !d.allowed {
        h.insert(NAMES[5].clone(), HeaderValue::from(d.retry_after_secs()));
    }
}

/// Text built from a fixed name and numbers, always a valid header value.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::RateLimitConfig;
    use std::time::Duration;

    fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn the_headers_written_are_the_decisions_headers() {
        for (allowed, limit, remaining, window_ms, reset_ms) in [
            (true, 1200, 17, 600_000, 41_200),
            (false, 1200, 0, 600_000, 2_001),
            (true, 5, 4, 250, 0),
            (false, 1, 0, 30_000, 30_000),
            (true, 1200, 1199, 600_000, 600_000),
        ] {
            let d = Decision {
                allowed,
                limit,
                remaining,
                window: Duration::from_millis(window_ms),
                reset_after: Duration::from_millis(reset_ms),
            };
            let mut r = HttpResponse::Ok().finish();
            add_headers(&mut r, &d);
            let want = d.headers();
            assert_eq!(r.headers().len(), want.len());
            for (name, value) in want {
                assert_eq!(header(&r, name), Some(value.as_str()), "{name} of {d:?}");
            }
        }
    }

    #[actix_web::test]
    async fn admits_then_denies_with_headers() {
        let l = Limiter::in_process(RateLimitConfig {
            limit: 1,
            window: Duration::from_secs(30),
        });
        let d = admit(&l, 1).await.expect("first request admitted");
        let mut ok = HttpResponse::Ok().finish();
        add_headers(&mut ok, &d);
        assert_eq!(
            header(&ok, "ratelimit-policy"),
            Some("\"workspace\";q=1;w=30")
        );
        assert_eq!(header(&ok, "ratelimit"), Some("\"workspace\";r=0;t=30"));
        assert_eq!(header(&ok, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(&ok, "retry-after"), None);

        let Err(ApiError::RateLimited(d)) = admit(&l, 1).await else {
            panic!("second request must be rate limited");
        };
        let mut denied = HttpResponse::TooManyRequests().finish();
        add_headers(&mut denied, &d);
        assert_eq!(header(&denied, "retry-after"), Some("30"));
        assert_eq!(header(&denied, "x-ratelimit-reset"), Some("30"));
        // Another workspace is unaffected.
        assert!(admit(&l, 2).await.is_ok());
    }
}
