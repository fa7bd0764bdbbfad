//! Who is calling: `Authorization: Bearer <token>`, or Basic with the token as the
//! password (what Excel and Power BI credential dialogs can send).

use super::dbcall::{self, Lease};
use super::error::ApiError;
use super::request::without_params;
use crate::auth::{verify, Principal};
use crate::db::{Db, DbConnection};
use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine;

/// The value of query parameter `name`, percent-decoded (the `OData.Feed` "Web API" key).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (percent_encoding::percent_decode_str(k).decode_utf8_lossy() == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The query without parameter `name`: the token must not reach the parser, next links,
/// skiptoken fingerprints or any URL the service writes.
pub fn strip_param(query: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => without_params(query, |n| n == name),
        None => query.to_owned(),
    }
}

/// The presented token: the Authorization header, else the key parameter when enabled.
fn presented_token(req: &HttpRequest, key_param: Option<&str>) -> Result<String, ApiError> {
    if req.headers().get(header::AUTHORIZATION).is_none() {
        let from_url = key_param.and_then(|name| query_param(req.uri().query()?, name));
        if let Some(token) = from_url.filter(|t| !t.trim().is_empty()) {
            return Ok(token.trim().to_owned());
        }
    }
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing Authorization header; send `Authorization: Bearer <token>`",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').ok_or(ApiError::Unauthorized(
        "malformed Authorization header; expected `Bearer <token>`",
    ))?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() || rest.contains(' ') {
            return Err(ApiError::Unauthorized("malformed bearer token"));
        }
        return Ok(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| ApiError::Unauthorized("malformed Basic credentials"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| ApiError::Unauthorized("malformed Basic credentials"))?;
        let (_, password) = text
            .split_once(':')
            .ok_or(ApiError::Unauthorized("malformed Basic credentials"))?;
        if password.is_empty() {
            return Err(ApiError::Unauthorized(
                "Basic credentials need the token as the password",
            ));
        }
        return Ok(password.to_owned());
    }
    Err(ApiError::Unauthorized(
        "unsupported authorization scheme; use Bearer",
    ))
}

/// The caller's principal, and on SQLite the connection (in its read transaction) that
/// looked the token up, for the request's reads to continue on.
pub async fn authenticate(
    req: &HttpRequest,
    db: &Db,
    key_param: Option<&str>,
) -> Result<(Principal, Option<Lease>), ApiError> {
    let token = presented_token(req, key_param)?;
    let check = move |conn: &mut DbConnection| {
        verify(conn, &token).map_err(|e| match e {
            crate::auth::AuthError::Db(d) => ApiError::Db(d.into()),
            _ => ApiError::Unauthorized("invalid token"),
        })
    };
    let (found, lease) = match Lease::open(db) {
        Some(mut lease) => (check(lease.conn())?, Some(lease)),
        // A unique-index lookup: short enough to run on the worker thread.
        None => (dbcall::run(db, true, check).await?, None),
    };
    let principal = found.ok_or(ApiError::Unauthorized(
        "the token is invalid or has been revoked",
    ))?;
    Ok((principal, lease))
}
