//! Cross-origin reads from browsers (CORS), for the origins configured with
//! `--cors-origins`; none by default. actix-cors does the work: it answers preflights
//! itself, before authentication (a preflight carries no token, so it never counts
//! against a workspace), and adds the headers that let a page read every answer, errors
//! and 429s included. A preflight it refuses gets an OData error here rather than its
//! plain-text one.
//!
//! A token is sent as an `Authorization` header, which CORS does not count as a
//! credential: `*` opens reading to every page whose user holds a token, and no cookie
//! or browser-held login is ever honoured.

use std::str::FromStr;

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;

use super::error::ApiError;

/// Response headers a page may read besides the CORS-safelisted ones.
const EXPOSED: [&str; 11] = [
    "OData-Version",
    "Preference-Applied",
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "WWW-Authenticate",
];

/// The origins whose pages may read the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    These(Vec<String>),
}

impl FromStr for CorsOrigins {
    type Err = String;

    /// `*`, or origins separated by commas: `https://app.example,http://localhost:3000`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "*" {
            return Ok(CorsOrigins::Any);
        }
        let origins: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let uri = Uri::from_str(o).map_err(|e| format!("`{o}` is not an origin: {e}"))?;
                let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
                match (uri.scheme_str(), uri.authority()) {
                    (Some("http" | "https"), Some(_)) if bare => {
                        Ok(o.trim_end_matches('/').to_owned())
                    }
                    _ => Err(format!(
                        "`{o}` is not an origin: expected scheme://host[:port], e.g. https://app.example"
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        if origins.is_empty() {
            return Err("no origin given: name origins, or `*` for any".into());
        }
        Ok(CorsOrigins::These(origins))
    }
}

/// The CORS middleware for `origins`.
pub fn layer(origins: &CorsOrigins) -> Cors {
    let cors = Cors::default()
        .allowed_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_any_header()
        .expose_headers(EXPOSED)
        .max_age(600)
        // Clients that are not browsers send what `Origin` they like; they are served,
        // and only a browser, reading the headers, holds a page to its origin.
        .block_on_origin_mismatch(false);
    match origins {
        CorsOrigins::Any => cors.allow_any_origin().send_wildcard(),
        CorsOrigins::These(list) => list.iter().fold(cors, |c, o| c.allowed_origin(o)),
    }
}

/// A refused preflight (an origin, method or header not allowed) as an OData error.
pub async fn odata_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let res = next.call(req).await?;
    let plain = !res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if preflight && res.status() == StatusCode::BAD_REQUEST && plain {
        let error = ApiError::BadRequest(
            "cross-origin request refused: this origin, method or header may not read the \
             service from a browser (CORS)"
                .into(),
        );
        let (req, _) = res.into_parts();
        return Ok(ServiceResponse::new(req, error.response(false)).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_a_wildcard_or_a_list_of_scheme_host_and_port() {
        assert_eq!("*".parse(), Ok(CorsOrigins::Any));
        assert_eq!(
            " https://app.example , http://localhost:3000/ ".parse(),
            Ok(CorsOrigins::These(vec![
                "https://app.example".into(),
                "http://localhost:3000".into()
            ]))
        );
        for bad in [
            "",
            " , ",
            "app.example",
            "ftp://a.example",
            "https://a.example/path",
        ] {
            assert!(bad.parse::<CorsOrigins>().is_err(), "{bad:?}");
        }
    }
}
