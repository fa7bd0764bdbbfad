//! Who is calling: `Authorization: Bearer <token>`, or Basic with the token as the
//! password (what Excel and Power BI credential dialogs can send).

use super::dbcall::{self, Lease};
use super::error::ApiError;
use super::request::without_params;
use crate::auth::{hash_token, verify_hash, KnownTokens, Principal};
use crate::db::{Db, DbConnection};
use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine;
use std::cell::Cell;
use std::sync::Arc;

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
/// Both at once is a 400: which of two credentials acts would be a guess (the head check
/// refuses a repeated Authorization header for the same reason).
pub fn presented_token(req: &HttpRequest, key_param: Option<&str>) -> Result<String, ApiError> {
    let from_url = key_param
        .and_then(|name| Some((name, query_param(req.uri().query()?, name)?)))
        .filter(|(_, t)| !t.trim().is_empty());
    if let Some((name, token)) = from_url {
        if req.headers().contains_key(header::AUTHORIZATION) {
            return Err(ApiError::BadHeader {
                name: "Authorization",
                message: format!(
                    "credentials are given twice, in the Authorization header and in the \
                     query parameter `{name}`: send one"
                ),
            });
        }
        return Ok(token.trim().to_owned());
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
    known: &KnownTokens,
) -> Result<(Principal, Option<Lease>), ApiError> {
    let hash = hash_token(&presented_token(req, key_param)?);
    let token_hash = hash.clone();
    let check = move |conn: &mut DbConnection| checked(conn, &token_hash);
    let (found, lease) = match Lease::open(db) {
        Some(mut lease) => (check(lease.conn())?, Some(lease)),
        // A unique-index lookup: short enough to run on the worker thread.
        None => (dbcall::run(db, true, check).await?, None),
    };
    let principal = found.ok_or(ApiError::Unauthorized(
        "the token is invalid or has been revoked",
    ))?;
    known.remember(&hash, i64::from(principal.workspace_id));
    Ok((principal, lease))
}

fn checked(conn: &mut DbConnection, hash: &str) -> Result<Option<Principal>, ApiError> {
    verify_hash(conn, hash).map_err(|e| match e {
        crate::auth::AuthError::Db(d) => ApiError::Db(d.into()),
        _ => ApiError::Unauthorized("invalid token"),
    })
}

/// A token this instance accepted before, presented again: the request is served for its
/// workspace and checks the token on its way, on the connection (and usually in the
/// statement) that does its work, instead of in a round trip of its own first.
pub struct Pending {
    pub hash: Arc<str>,
    checked: Cell<bool>,
}

impl Pending {
    /// The token presented with `req`, if this instance knows its workspace.
    pub fn of(
        req: &HttpRequest,
        key_param: Option<&str>,
        known: &KnownTokens,
    ) -> Option<(Pending, i64)> {
        let hash = hash_token(&presented_token(req, key_param).ok()?);
        let ws = known.workspace_of(&hash)?;
        let pending = Pending {
            hash: hash.into(),
            checked: Cell::new(false),
        };
        Some((pending, ws))
    }

    /// Whether something this request ran has found the token live.
    pub fn is_checked(&self) -> bool {
        self.checked.get()
    }

    pub fn mark_checked(&self) {
        self.checked.set(true);
    }
}

/// Fails with 401 unless the token with this hash is live and belongs to `workspace`.
pub fn require_live(conn: &mut DbConnection, hash: &str, workspace: i64) -> Result<(), ApiError> {
    match checked(conn, hash)? {
        Some(p) if i64::from(p.workspace_id) == workspace => Ok(()),
        _ => Err(ApiError::Unauthorized(
            "the token is invalid or has been revoked",
        )),
    }
}
