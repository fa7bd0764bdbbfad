//! Rate limiting at the HTTP edge: one check per authenticated request, headers on
//! every authenticated response.

use super::error::ApiError;
use crate::ratelimit::{Decision, Limiter};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpResponse;

pub async fn admit(limiter: &Limiter, workspace_id: i64) -> Result<Decision, ApiError> {
    match limiter.check(workspace_id).await {
        Ok(d) if d.allowed => Ok(d),
        Ok(d) => Err(ApiError::RateLimited(d)),
        Err(e) => Err(ApiError::LimiterUnavailable(e.retry_after)),
    }
}

pub fn add_headers(resp: &mut HttpResponse, d: &Decision) {
    for (name, value) in d.headers() {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            resp.headers_mut().insert(n, v);
        }
    }
}
