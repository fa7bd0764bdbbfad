//! Rate limiting at the HTTP edge: one check per authenticated request, headers on
//! every authenticated response.

use super::error::ApiError;
use crate::ratelimit::{Decision, Limiter, LimiterUnavailable};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpResponse;

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
static NAMES: [(&str, HeaderName); 6] = [
    (
        "RateLimit-Policy",
        HeaderName::from_static("ratelimit-policy"),
    ),
    ("RateLimit", HeaderName::from_static("ratelimit")),
    (
        "X-RateLimit-Limit",
        HeaderName::from_static("x-ratelimit-limit"),
    ),
    (
        "X-RateLimit-Remaining",
        HeaderName::from_static("x-ratelimit-remaining"),
    ),
    (
        "X-RateLimit-Reset",
        HeaderName::from_static("x-ratelimit-reset"),
    ),
    ("Retry-After", HeaderName::from_static("retry-after")),
];

pub fn add_headers(resp: &mut HttpResponse, d: &Decision) {
    for (name, value) in d.headers() {
        let known = NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, h)| h.clone());
        let Some(n) = known.or_else(|| HeaderName::try_from(name).ok()) else {
            continue;
        };
        if let Ok(v) = HeaderValue::try_from(value) {
            resp.headers_mut().insert(n, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::RateLimitConfig;
    use std::time::Duration;

    fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
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
